//! Two-stage imports: coqui-tts 0.28's HiFi-GAN vocoder fixture (signet-vocoder's
//! `tests/data/coqui`) into a vocoder bundle, and its Glow-TTS fixture (signet-acoustic's) into
//! a voice that pins the vocoder; each refusal. Parity of the result with coqui-tts runs in the
//! facade's tests, which load both bundles.

use std::path::{Path, PathBuf};

use serde_json::Value;
use signet_coqui::{CoquiError, ImportOptions, ImportReport};
use signet_registry::store::Store;
use signet_registry::{Role, SecretKey, TrustStore, VerifiedBundle, VoiceName};

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vocoder_data(name: &str) -> PathBuf {
    crates().join("signet-vocoder/tests/data/coqui").join(name)
}

fn glow_data(name: &str) -> PathBuf {
    crates().join("signet-acoustic/tests/data/coqui").join(name)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("-Infinity", "null")
        .replace("Infinity", "null");
    serde_json::from_str(&text).unwrap()
}

/// The Glow-TTS fixture's config with `edit` applied and its symbol table written out
/// (coqui-tts trained it with `characters: null`, its default `Graphemes`: these 67 symbols).
fn glow_config(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut cfg = json(&glow_data("glow_tts_config.json"));
    cfg["characters"] = serde_json::json!({
        "characters_class": "TTS.tts.utils.text.characters.Graphemes",
        "pad": "<PAD>", "eos": "<EOS>", "bos": "<BOS>", "blank": "<BLNK>",
        "characters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "punctuations": "!'(),-.:;? ",
        "is_unique": false, "is_sorted": true
    });
    edit(&mut cfg);
    let path = dir.join("glow_tts_config.json");
    std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    path
}

struct Home {
    dir: tempfile::TempDir,
    key: SecretKey,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate().unwrap();
        TrustStore::with_key(key.public(), Role::BundleSigner)
            .save(&Store::new(dir.path()).trust_path())
            .unwrap();
        Home { dir, key }
    }

    fn store(&self) -> Store {
        Store::new(self.dir.path())
    }

    fn import_vocoder(&self, name: &str, key: &SecretKey) -> Result<ImportReport, CoquiError> {
        let mut options = ImportOptions::default();
        options.name = Some(name.to_owned());
        options.existing = signet_coqui::ExistingBundle::Replace;
        std::fs::create_dir_all(self.store().vocoders_dir()).unwrap();
        signet_coqui::import_coqui_vocoder(
            &vocoder_data("hifigan_gan.pth"),
            &vocoder_data("hifigan_config.json"),
            &self.store().vocoder_dir(&VoiceName::new(name).unwrap()),
            &options,
            key,
        )
    }

    fn import_voice(
        &self,
        config: &Path,
        vocoder: Option<&VerifiedBundle>,
    ) -> Result<ImportReport, CoquiError> {
        let mut options = ImportOptions::default();
        options.name = Some("glow".to_owned());
        options.existing = signet_coqui::ExistingBundle::Replace;
        signet_coqui::import_coqui_with_vocoder(
            &glow_data("glow_tts.pth"),
            config,
            &self.dir.path().join("glow"),
            &options,
            &self.key,
            vocoder,
        )
    }

    fn trust(&self) -> TrustStore {
        TrustStore::with_key(self.key.public(), Role::BundleSigner)
    }
}

#[test]
fn a_coqui_vocoder_imports_into_a_signed_hifigan_bundle_with_its_mel_settings() {
    let home = Home::new();
    let report = home.import_vocoder("hifigan", &home.key).unwrap();
    assert_eq!(report.kind, "hifigan");
    assert!(report.dropped_tensors > 0, "the discriminator is left out");
    let bundle = signet_coqui::installed_vocoder(&home.store(), "hifigan").unwrap();
    assert_eq!(bundle.manifest_sha256(), report.manifest_sha256);
    let m = bundle.manifest();
    assert_eq!(m.architecture.kind, "hifigan");
    assert_eq!(m.voice.sample_rate, 16000);
    let cfg: signet_vocoder::MelVocoderConfig = toml::Value::Table(m.architecture.config.clone())
        .try_into()
        .unwrap();
    assert_eq!(cfg.inference_padding, 5);
    assert_eq!(cfg.generator.in_channels, 10);
    let mel = m.mel.as_ref().unwrap();
    assert_eq!(mel.hop_length, 16);
    let norm: signet_audio::MelNormalization = toml::Value::Table(mel.normalization.clone())
        .try_into()
        .unwrap();
    let config = json(&vocoder_data("hifigan_config.json"));
    assert_eq!(
        norm,
        signet_audio::MelNormalization::from_coqui_audio(&config["audio"], None).unwrap()
    );
    let src = m.source.as_ref().unwrap();
    use sha2::Digest;
    assert_eq!(
        src.model_sha256,
        hex::encode(sha2::Sha256::digest(
            std::fs::read(vocoder_data("hifigan_gan.pth")).unwrap()
        ))
    );
    assert!(m.vocoder.is_none() && m.phonemes.coqui.is_none());
}

#[test]
fn a_glow_tts_voice_pins_its_vocoder_by_name_and_manifest_digest() {
    let home = Home::new();
    let vocoder = home.import_vocoder("hifigan", &home.key).unwrap();
    let bundle = signet_coqui::installed_vocoder(&home.store(), "hifigan").unwrap();
    let config = glow_config(home.dir.path(), |_| {});
    let report = home.import_voice(&config, Some(&bundle)).unwrap();
    assert_eq!(report.kind, "glow_tts");
    let voice =
        signet_registry::verify_bundle_dir(&home.dir.path().join("glow"), &home.trust()).unwrap();
    let m = voice.manifest();
    assert_eq!(m.architecture.kind, "glow_tts");
    let pin = m.vocoder.as_ref().unwrap();
    assert_eq!(pin.name.as_str(), "hifigan");
    assert_eq!(pin.manifest_sha256, vocoder.manifest_sha256);
    let mel = m.mel.as_ref().unwrap();
    assert_eq!(mel.hop_length, 16);
    assert_eq!(
        mel.normalization
            .get("ref_level_db")
            .and_then(toml::Value::as_float),
        Some(15.0),
        "the acoustic model's own normalization, not the vocoder's"
    );
    assert_eq!(m.inference.noise_scale, 0.0);
    assert_eq!(m.phonemes.coqui.as_ref().unwrap().symbols.len(), 67);
}

#[test]
fn a_glow_tts_voice_without_a_vocoder_is_refused() {
    let home = Home::new();
    let config = glow_config(home.dir.path(), |_| {});
    match home.import_voice(&config, None) {
        Err(CoquiError::VocoderRequired { model }) => assert_eq!(model, "glow_tts"),
        other => panic!("{other:?}"),
    }
    assert!(!home.dir.path().join("glow").exists());
}

#[test]
fn a_vits_voice_refuses_a_vocoder() {
    let home = Home::new();
    home.import_vocoder("hifigan", &home.key).unwrap();
    let bundle = signet_coqui::installed_vocoder(&home.store(), "hifigan").unwrap();
    let data = crates().join("signet-coqui/tests/data");
    let result = signet_coqui::import_coqui_with_vocoder(
        &data.join("vits_tiny.pth"),
        &data.join("vits_tiny.json"),
        &home.dir.path().join("vits"),
        &ImportOptions::default(),
        &home.key,
        Some(&bundle),
    );
    assert!(
        matches!(result, Err(CoquiError::VocoderNotUsed { .. })),
        "{result:?}"
    );
}

#[test]
fn a_vocoder_whose_spectrograms_do_not_fit_the_model_is_refused_at_import() {
    let home = Home::new();
    home.import_vocoder("hifigan", &home.key).unwrap();
    let bundle = signet_coqui::installed_vocoder(&home.store(), "hifigan").unwrap();
    for (key, value, what) in [
        ("sample_rate", 22050, "sample rate"),
        ("hop_length", 32, "hop length"),
    ] {
        let config = glow_config(home.dir.path(), |c| c["audio"][key] = Value::from(value));
        match home.import_voice(&config, Some(&bundle)) {
            Err(CoquiError::VocoderMismatch { what: w, .. }) => assert_eq!(w, what),
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[test]
fn a_missing_or_unverified_vocoder_cannot_be_pinned() {
    let home = Home::new();
    match signet_coqui::installed_vocoder(&home.store(), "hifigan") {
        Err(CoquiError::VocoderNotInstalled { name, .. }) => assert_eq!(name, "hifigan"),
        other => panic!("{other:?}"),
    }
    // Signed by a key the home does not trust.
    home.import_vocoder("hifigan", &SecretKey::generate().unwrap())
        .unwrap();
    match signet_coqui::installed_vocoder(&home.store(), "hifigan") {
        Err(CoquiError::VocoderUnverified { name, .. }) => assert_eq!(name, "hifigan"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tacotron_v1_and_non_hifigan_vocoders_are_refused_by_name() {
    let home = Home::new();
    let config = glow_config(home.dir.path(), |c| c["model"] = Value::from("tacotron"));
    match home.import_voice(&config, None) {
        Err(CoquiError::UnsupportedModel { model, reason }) => {
            assert_eq!(model, "tacotron");
            assert!(reason.contains("Tacotron (version 1)"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A Glow-TTS checkpoint under a Tacotron2 config: the mapping names what does not fit.
    let config = glow_config(home.dir.path(), |c| c["model"] = Value::from("tacotron2"));
    assert!(
        matches!(
            home.import_voice(&config, None),
            Err(CoquiError::Acoustic(_))
        ),
        "a Glow-TTS checkpoint is not a Tacotron2"
    );
    // A text-to-speech config given to the vocoder importer.
    let result = signet_coqui::import_coqui_vocoder(
        &glow_data("glow_tts.pth"),
        &glow_config(home.dir.path(), |_| {}),
        &home.dir.path().join("v"),
        &ImportOptions::default(),
        &home.key,
    );
    assert!(
        matches!(&result, Err(CoquiError::UnsupportedModel { model, .. }) if model == "glow_tts"),
        "{result:?}"
    );
}
