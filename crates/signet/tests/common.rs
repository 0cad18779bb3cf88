//! One deterministic synthesizer shared by every test of this binary, on a
//! private Signet home: the default voice imported from `.cache/` (where
//! `cargo xtask setup` puts it), signed by a key the home trusts, and the
//! espeak-ng runtime linked in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use signet::{EspeakConfig, Synthesizer};

const VOICE: &str = "en_US-joe-medium";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The default voice with noise scales 0: synthesis is deterministic.
pub fn synth() -> &'static Arc<Synthesizer> {
    &shared().1
}

/// Another synthesizer of the same voice and home, with its own `limits`.
pub fn synth_with_limits(limits: signet::Limits) -> Synthesizer {
    let (home, _, espeak) = shared();
    Synthesizer::builder()
        .home(home.path())
        .espeak(espeak.clone())
        .noise_scale(0.0)
        .noise_w(0.0)
        .limits(limits)
        .build()
        .expect("load the default voice")
}

/// The same voice and home with the watermark off: the model's audio
/// through the audio chain alone, as before the watermark.
pub fn unmarked() -> &'static Synthesizer {
    static UNMARKED: OnceLock<Synthesizer> = OnceLock::new();
    UNMARKED.get_or_init(|| {
        let (home, _, espeak) = shared();
        Synthesizer::builder()
            .home(home.path())
            .espeak(espeak.clone())
            .noise_scale(0.0)
            .noise_w(0.0)
            .watermark(signet::Watermark::Off)
            .build()
            .expect("load the default voice")
    })
}

/// The shared home folder.
pub fn home() -> &'static Path {
    shared().0.path()
}

/// The espeak-ng settings of the shared home.
pub fn espeak() -> EspeakConfig {
    shared().2.clone()
}

/// The home's watermark key, which [`synth`] marks with.
pub fn home_key() -> signet::WatermarkKey {
    let (home, _, _) = shared();
    signet::watermark::read_key_file(&signet::Store::new(home.path()).watermark_key_path())
        .expect("the home's watermark key")
}

fn shared() -> &'static (tempfile::TempDir, Arc<Synthesizer>, EspeakConfig) {
    static SYNTH: OnceLock<(tempfile::TempDir, Arc<Synthesizer>, EspeakConfig)> = OnceLock::new();
    SYNTH.get_or_init(|| {
        let helper = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent()?.parent().map(|d| d.join("signet-espeak")))
            .filter(|h| h.is_file())
            .expect(
                "the signet-espeak helper is missing next to the test binary: run \
                     `cargo build -p signet-espeak` (cargo xtask test does)",
            );
        let espeak = repo_root().join(".cache/espeak-ng");
        assert!(
            espeak.join("espeakbridge.so").is_file(),
            "{} has no espeak-ng runtime: run `cargo xtask setup`",
            espeak.display()
        );
        let onnx = repo_root()
            .join(".cache/voices")
            .join(VOICE)
            .join(format!("{VOICE}.onnx"));
        assert!(
            onnx.is_file(),
            "{} is missing: run `cargo xtask setup`",
            onnx.display()
        );
        let home = tempfile::tempdir().expect("temp dir");
        let dest = home.path().join("voices").join(VOICE);
        std::fs::create_dir_all(home.path().join("voices")).expect("voices dir");
        // Signed by a key of this home, which the home's trust store trusts.
        let key = signet_registry::SecretKey::generate().expect("importer key");
        signet_registry::TrustStore::with_key(key.public(), signet_registry::Role::BundleSigner)
            .save(&home.path().join(signet::store::TRUST_FILE))
            .expect("trust store");
        signet_piper::import_piper(&onnx, None, &dest, Some(VOICE), &key)
            .expect("import the voice");
        let espeak = EspeakConfig::from_espeak_dir(helper, &espeak);
        let synth = Synthesizer::builder()
            .home(home.path())
            .espeak(espeak.clone())
            .noise_scale(0.0)
            .noise_w(0.0)
            .build()
            .expect("load the default voice");
        (home, Arc::new(synth), espeak)
    })
}

/// Sum of squares of `samples`.
pub fn energy(samples: &[f32]) -> f64 {
    samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
}
