//! Locating the real voice and caching its bytes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const VOICE: &str = "en_US-joe-medium";

/// The folder holding the real voice: `SIGNET_TEST_VOICE_DIR` or `<repo>/.cache/voices/<voice>`.
/// Panics with instructions if the files are missing: these tests never pass by skipping.
pub fn voice_dir() -> PathBuf {
    let dir = std::env::var_os("SIGNET_TEST_VOICE_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../.cache/voices")
                .join(VOICE)
        },
        PathBuf::from,
    );
    for ext in ["onnx", "onnx.json"] {
        let f = dir.join(format!("{VOICE}.{ext}"));
        assert!(
            f.is_file(),
            "the test voice is missing: {} does not exist. Run `cargo xtask setup` (which \
             provisions .cache/voices/{VOICE}/) or point SIGNET_TEST_VOICE_DIR at a folder \
             holding {VOICE}.onnx and {VOICE}.onnx.json",
            f.display()
        );
    }
    dir
}

pub fn onnx_path() -> PathBuf {
    voice_dir().join(format!("{VOICE}.onnx"))
}

pub fn json_path() -> PathBuf {
    voice_dir().join(format!("{VOICE}.onnx.json"))
}

/// The real ONNX file's bytes, read once per test binary.
pub fn onnx_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(onnx_path()).unwrap())
}

pub fn json_text() -> String {
    std::fs::read_to_string(json_path()).unwrap()
}

/// The tests' importer key.
pub fn key() -> signet_registry::SecretKey {
    signet_registry::SecretKey::from_seed(&[5; 32])
}

/// A trust store trusting [`key`] for bundles.
pub fn trust() -> signet_registry::TrustStore {
    signet_registry::TrustStore::with_key(key().public(), signet_registry::Role::BundleSigner)
}
