//! Builders for valid bundles that the attack tests then damage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use signet_registry::{
    write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults, Manifest, PhonemeSpec,
    RegistryError, Role, SecretKey, Source, TrustStore, VerifiedBundle, VoiceInfo, VoiceName,
    BUNDLE_FORMAT, MANIFEST_PAYLOAD_TYPE, SIGNATURE_FILE, WEIGHTS_FILE,
};
use signet_sign::Envelope;

/// The fixtures' bundle signer.
pub fn key() -> SecretKey {
    SecretKey::from_seed(&[42; 32])
}

/// A trust store trusting [`key`] as bundle signer.
pub fn trust() -> TrustStore {
    TrustStore::with_key(key().public(), Role::BundleSigner)
}

/// Verifies `dir` against [`trust`].
pub fn verify(dir: &Path) -> Result<VerifiedBundle, RegistryError> {
    signet_registry::verify_bundle_dir(dir, &trust())
}

/// Replaces the bundle's envelope by one over the current `manifest.toml`, signed by `signer`.
pub fn sign_manifest(dir: &Path, signer: &SecretKey) {
    let bytes = std::fs::read(dir.join("manifest.toml")).unwrap();
    let env = Envelope::sign(MANIFEST_PAYLOAD_TYPE, bytes, signer).unwrap();
    std::fs::write(dir.join(SIGNATURE_FILE), env.to_json().unwrap()).unwrap();
}

pub fn weights() -> Vec<u8> {
    let w: Vec<u8> = (0..24)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    let b: Vec<u8> = (0..4).flat_map(|i| (i as f32).to_le_bytes()).collect();
    write_safetensors(&[
        ("dec.conv_pre.weight", Dtype::F32, &[4, 2, 3], &w),
        ("dec.conv_pre.bias", Dtype::F32, &[4], &b),
    ])
    .unwrap()
}

pub fn manifest() -> Manifest {
    let mut config = toml::Table::new();
    config.insert("hidden_channels".into(), toml::Value::Integer(192));
    config.insert("resblock".into(), toml::Value::String("2".into()));
    config.insert(
        "resblock_dilation_sizes".into(),
        toml::Value::try_from(vec![vec![1, 2], vec![2, 6]]).unwrap(),
    );
    Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: VoiceName::new("en_US-test-medium").unwrap(),
        version: 3,
        license: "CC0-1.0".to_owned(),
        voice: VoiceInfo {
            language: "en_US".to_owned(),
            quality: Some("medium".to_owned()),
            sample_rate: 22050,
            num_speakers: 2,
            speaker_id_map: BTreeMap::from([("alice".to_owned(), 0), ("bob".to_owned(), 1)]),
            language_id_map: Default::default(),
        },
        phonemes: PhonemeSpec {
            kind: "espeak".to_owned(),
            espeak_voice: Some("en-us".to_owned()),
            id_map: BTreeMap::from([
                (" ".to_owned(), vec![3]),
                ("^".to_owned(), vec![1]),
                ("ˈ".to_owned(), vec![120]),
                ("\"".to_owned(), vec![150, 151]),
            ]),
            coqui: None,
        },
        inference: InferenceDefaults {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        },
        architecture: Architecture {
            kind: "vits".to_owned(),
            config,
        },
        source: Some(Source {
            kind: "piper-onnx".to_owned(),
            file: "en_US-test-medium.onnx".to_owned(),
            model_sha256: "a".repeat(64),
            config_sha256: "b".repeat(64),
        }),
        lexicon: None,
        vocoder: None,
        mel: None,
        files: Vec::new(),
    }
}

/// A temp dir holding a valid bundle at `<tmp>/bundle`.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub outside: PathBuf,
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    write_bundle(&dir, manifest(), &[(WEIGHTS_FILE, &weights())], &key()).unwrap();
    let outside = tmp.path().to_owned();
    Fixture {
        _tmp: tmp,
        dir,
        outside,
    }
}

/// Rewrites `manifest.toml` in place by a text substitution that must apply, WITHOUT signing
/// the result (an attacker without the key).
pub fn tamper_manifest(dir: &Path, from: &str, to: &str) {
    let path = dir.join("manifest.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in manifest:\n{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Like [`tamper_manifest`], then re-signs with the trusted [`key`]: the checks after the
/// signature must catch what a trusted but careless signer signed.
pub fn edit_manifest(dir: &Path, from: &str, to: &str) {
    tamper_manifest(dir, from, to);
    sign_manifest(dir, &key());
}
