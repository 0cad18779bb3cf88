//! Shared helpers: where the helper, espeak and the voice are; fixture loading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use signet_text::{EspeakConfig, EspeakPhonemizer, PhonemeIdMap};

/// The helper binary Cargo built for these tests.
pub const HELPER: &str = env!("CARGO_BIN_EXE_signet-espeak");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Folder with `espeakbridge.so` and `espeak-ng-data/`.
pub fn espeak_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("SIGNET_ESPEAK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/espeak-ng"));
    if !dir.join("espeakbridge.so").is_file() || !dir.join("espeak-ng-data").is_dir() {
        bail!(
            "espeak-ng is not provisioned in {} (expected espeakbridge.so and espeak-ng-data/): \
             run `cargo xtask setup` or set SIGNET_ESPEAK_DIR",
            dir.display()
        );
    }
    Ok(dir)
}

/// A client configuration for the real helper.
pub fn config() -> Result<EspeakConfig> {
    Ok(EspeakConfig::from_espeak_dir(HELPER, &espeak_dir()?).with_timeout(Duration::from_secs(10)))
}

pub fn phonemizer() -> Result<EspeakPhonemizer> {
    Ok(EspeakPhonemizer::new(config()?)?)
}

/// The default voice's `.onnx.json`.
pub fn voice_config_path() -> Result<PathBuf> {
    let dir = std::env::var_os("SIGNET_TEST_VOICE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/voices/en_US-joe-medium"));
    let path = dir.join("en_US-joe-medium.onnx.json");
    if !path.is_file() {
        bail!(
            "voice config {} is missing: run `cargo xtask setup` or set SIGNET_TEST_VOICE_DIR",
            path.display()
        );
    }
    Ok(path)
}

#[derive(Deserialize)]
struct VoiceConfig {
    phoneme_id_map: BTreeMap<String, Vec<i64>>,
}

/// The voice's id map, and the SHA-256 of its config file.
pub fn voice_id_map() -> Result<(PhonemeIdMap, String)> {
    let path = voice_config_path()?;
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let cfg: VoiceConfig = serde_json::from_slice(&bytes)?;
    Ok((PhonemeIdMap::new(cfg.phoneme_id_map)?, digest))
}

#[derive(Deserialize)]
pub struct Fixture {
    pub voice_config_sha256: String,
    pub espeak_voice: String,
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub text: String,
    pub clauses: Vec<(String, String, bool)>,
    pub sentences: Vec<Expected>,
}

#[derive(Deserialize, Debug, PartialEq)]
pub struct Expected {
    pub phonemes: String,
    pub ids: Vec<i64>,
}

pub fn fixture(name: &str) -> Result<Fixture> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}
