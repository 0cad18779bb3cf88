//! The espeak-ng library is loaded only if it is the pinned build.
//!
//! The file is opened once (never through a symbolic link), read, and hashed; the loader
//! then maps that same open file (`/proc/self/fd/N`), so a file swapped in after the check
//! is never the one that runs.
#![deny(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Largest library the helper reads (the pinned one is about 0.5 MiB).
pub const MAX_LIBRARY_BYTES: u64 = 64 * 1024 * 1024;

/// Opens `path` without following a link, checks that it is a regular file whose SHA-256
/// is `expected` (lowercase hex), and returns the open file.
///
/// # Errors
/// A message naming the path and, on a mismatch, both digests.
pub fn open_pinned(path: &Path, expected: &str) -> Result<File, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot open the espeak-ng library {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat the espeak-ng library {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "the espeak-ng library {} is not a regular file",
            path.display()
        ));
    }
    if meta.len() > MAX_LIBRARY_BYTES {
        return Err(format!(
            "the espeak-ng library {} is {} bytes, more than the {MAX_LIBRARY_BYTES} allowed",
            path.display(),
            meta.len()
        ));
    }
    let mut hasher = Sha256::new();
    let mut reader = (&file).take(MAX_LIBRARY_BYTES + 1);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("cannot read the espeak-ng library {}: {e}", path.display()))?;
        let Some(chunk) = buf.get(..n) else { break };
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
    }
    let found = hex_lower(&hasher.finalize());
    if found != expected {
        return Err(format!(
            "the espeak-ng library {} has SHA-256 {found}, not the pinned {expected}: it is not \
             the build Signet was tested with, or it was modified; provision it again \
             (`cargo xtask setup`)",
            path.display()
        ));
    }
    Ok(file)
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn digest(bytes: &[u8]) -> String {
        hex_lower(&Sha256::digest(bytes))
    }

    #[test]
    fn matching_digest_opens_and_mismatch_names_both() {
        let dir = std::env::temp_dir().join(format!("signet-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lib.so");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(b"library bytes")
            .unwrap();
        assert!(open_pinned(&path, &digest(b"library bytes")).is_ok());
        let wrong = digest(b"other bytes");
        let err = open_pinned(&path, &wrong).unwrap_err();
        assert!(
            err.contains(&wrong) && err.contains(&digest(b"library bytes")),
            "{err}"
        );
        let link = dir.join("link.so");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(open_pinned(&link, &digest(b"library bytes")).is_err());
        assert!(open_pinned(&dir, &digest(b"")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
