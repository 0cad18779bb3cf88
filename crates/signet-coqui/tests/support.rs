//! Fixtures and helpers shared by the test modules.

use std::path::{Path, PathBuf};

use serde_json::Value;
use signet_registry::{Role, SecretKey, TrustStore, VerifiedBundle};

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

/// `vits_tiny.expected.json`: what coqui-tts produced.
pub fn expected() -> Value {
    serde_json::from_slice(&read("vits_tiny.expected.json")).unwrap()
}

pub fn key() -> SecretKey {
    SecretKey::generate().unwrap()
}

/// Imports the tiny fixture into `dir/name` and verifies it with the signer's key.
pub fn import_tiny(dir: &Path, name: &str) -> (signet_coqui::ImportReport, VerifiedBundle) {
    let key = key();
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some(name.to_owned());
    let out = dir.join(name);
    let report = signet_coqui::import_coqui(
        &data("vits_tiny.pth"),
        &data("vits_tiny.json"),
        &out,
        &options,
        &key,
    )
    .unwrap();
    let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
    let bundle = signet_registry::verify_bundle_dir(&out, &trust).unwrap();
    (report, bundle)
}

/// The tiny fixture's config with `value` set at a dotted path.
pub fn config_with(path: &str, value: Value) -> Vec<u8> {
    // Coqui writes Python's `Infinity` for two unbounded lengths; strict JSON here.
    let text = String::from_utf8(read("vits_tiny.json"))
        .unwrap()
        .replace("Infinity", "null");
    let mut cfg: Value = serde_json::from_str(&text).unwrap();
    let mut cur = &mut cfg;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cur = &mut cur[*part];
    }
    cur[parts[parts.len() - 1]] = value;
    serde_json::to_vec(&cfg).unwrap()
}
