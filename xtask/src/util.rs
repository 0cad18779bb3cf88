//! Small helpers shared by the tasks: running processes, digests, stamps.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// Runs `cmd`, inheriting stdio, and fails with the command line if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` with its output captured; on failure the output is printed.
pub fn run_quiet(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        bail!("`{shown}` failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The command line as a person would type it, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}

/// Fails unless `path` has the pinned SHA-256 digest; the error names the file
/// and both digests.
pub fn check_pinned(path: &Path, expected: &str) -> Result<()> {
    let found = sha256_file(path)?;
    if found != expected {
        bail!(
            "digest mismatch for {}: expected sha256 {expected}, found {found}; \
             the file is not the one this repository pins (delete it to fetch it again, \
             or investigate: it may have been tampered with)",
            path.display()
        );
    }
    Ok(())
}

/// A stamp file records that a step finished with a given key (e.g. a digest),
/// so that running setup again is quiet and fast.
pub fn stamp_matches(stamp: &Path, key: &str) -> bool {
    std::fs::read_to_string(stamp)
        .map(|s| s.trim() == key)
        .unwrap_or(false)
}

/// Writes a stamp; see [`stamp_matches`].
pub fn write_stamp(stamp: &Path, key: &str) -> Result<()> {
    std::fs::write(stamp, format!("{key}\n"))
        .with_context(|| format!("cannot write {}", stamp.display()))
}

/// Signet's home folder: the registry's one lookup (`signet_registry::store::default_home`).
pub fn signet_home() -> Result<PathBuf> {
    Ok(signet_registry::store::default_home()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_digest_check_rejects_a_modified_file() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("voice.onnx");
        std::fs::write(&file, b"original voice bytes")?;
        let pin = sha256_file(&file)?;
        check_pinned(&file, &pin)?;

        std::fs::write(&file, b"original voice bytez")?;
        let err = check_pinned(&file, &pin).expect_err("a modified file must be rejected");
        let msg = err.to_string();
        assert!(msg.contains("digest mismatch"), "{msg}");
        assert!(msg.contains("voice.onnx"), "{msg}");
        assert!(msg.contains(&pin), "expected digest missing: {msg}");
        assert!(
            msg.contains(&sha256_file(&file)?),
            "found digest missing: {msg}"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
