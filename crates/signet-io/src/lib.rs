//! Signet's one way to read a file whose size it does not control, and its atomic writes.
//!
//! Every read of a file of untrusted size in the workspace (bundle files, manifests, envelopes,
//! trust stores, key files, release artefacts, user-named files of the CLI, Piper's ONNX and JSON)
//! goes through [`read_capped`] or, for a file streamed in pieces, [`open_regular`]:
//!
//! - the final path component is opened without following a symbolic link (`O_NOFOLLOW` on
//!   Unix) and without blocking on a FIFO (`O_NONBLOCK`);
//! - what was actually opened must be a regular file (checked on the open handle, so a swap
//!   between a check and the open cannot slip a device, FIFO or socket through: `/dev/zero`
//!   is refused, not read until memory runs out);
//! - at most `cap + 1` bytes are ever read, whatever the file claims its size is, and the
//!   buffer is reserved up front only up to the cap;
//! - every error names the path, and a size error names the cap and how to change it
//!   ([`Cap::how_to_change`]).
//!
//! [`write_atomic`] replaces a file so that it holds either the old or the new bytes, never a
//! mix; [`write_new_synced`], [`sibling`] and [`sync_dir`] are its pieces, used by writers of
//! whole folders.
//!
//! **Architecture invariant:** this crate depends on nothing of Signet; it knows files, not
//! what is in them.
//!
//! ```
//! # fn main() -> Result<(), signet_io::FileError> {
//! use signet_io::{read_capped, Cap};
//! let dir = tempfile::tempdir().map_err(|e| signet_io::FileError::io(".", e))?;
//! let path = dir.path().join("small.txt");
//! signet_io::write_atomic(&path, b"hello")?;
//! const CAP: Cap = Cap::new(1024, "a fixed limit of the example");
//! assert_eq!(read_capped(&path, CAP)?, b"hello");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A size cap: the most bytes a read accepts, and how a user can change it (for the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    bytes: u64,
    how_to_change: &'static str,
}

impl Cap {
    /// A cap of `bytes`; `how_to_change` says how to change it, e.g. "raise it with
    /// --max-input-bytes" or "a fixed limit of the bundle format".
    pub const fn new(bytes: u64, how_to_change: &'static str) -> Self {
        Self {
            bytes,
            how_to_change,
        }
    }

    /// The cap in bytes.
    pub const fn bytes(&self) -> u64 {
        self.bytes
    }

    /// How to change it.
    pub const fn how_to_change(&self) -> &'static str {
        self.how_to_change
    }
}

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Nothing exists at the path.
    #[error("{path}: no such file")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The path names a symbolic link, directory, FIFO, device or socket.
    #[error("{path} is {kind}, not a regular file (symbolic links and special files are refused)")]
    NotARegularFile {
        /// The path.
        path: PathBuf,
        /// What it is ("a symbolic link", "a FIFO", ...).
        kind: &'static str,
    },
    /// The file is larger than the cap.
    #[error("{path} is larger than the limit of {cap} bytes ({how_to_change})")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The cap, in bytes.
        cap: u64,
        /// How to change the cap.
        how_to_change: &'static str,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The path.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// An operating-system call on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl FileError {
    /// An [`Io`](Self::Io) error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotFound { path }
            | Self::NotARegularFile { path, .. }
            | Self::TooLarge { path, .. }
            | Self::NotUtf8 { path, .. }
            | Self::Io { path, .. } => path,
        }
    }
}

fn kind_of(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    // No O_NOFOLLOW here: refuse a link seen just before the open; the handle is checked after.
    if fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "symbolic link",
        ));
    }
    File::open(path)
}

/// Opens `path` for reading without following a final symbolic link, and checks on the open
/// handle that it is a regular file. Returns the file and its length at open time.
///
/// Use it to stream a file (hashing a large artefact); to read one whole, use [`read_capped`].
pub fn open_regular(path: &Path) -> Result<(File, u64), FileError> {
    let file = match open_no_follow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::NotFound {
                path: path.to_owned(),
            })
        }
        Err(e) => {
            // O_NOFOLLOW on a link fails with ELOOP; name the cause rather than the errno.
            return match fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_file() => Err(FileError::NotARegularFile {
                    path: path.to_owned(),
                    kind: kind_of(m.file_type()),
                }),
                _ => Err(FileError::io(path, e)),
            };
        }
    };
    let meta = file.metadata().map_err(|e| FileError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotARegularFile {
            path: path.to_owned(),
            kind: kind_of(meta.file_type()),
        });
    }
    Ok((file, meta.len()))
}

/// Reads the regular file at `path` whole, refusing it if it holds more than `cap` bytes (see
/// the crate docs: no symbolic link, no special file, at most `cap + 1` bytes ever read).
pub fn read_capped(path: &Path, cap: Cap) -> Result<Vec<u8>, FileError> {
    let (file, len) = open_regular(path)?;
    if len > cap.bytes {
        return Err(too_large(path, cap));
    }
    read_stream_capped(file, path, len, cap)
}

/// [`read_capped`], then UTF-8 decoding.
pub fn read_capped_string(path: &Path, cap: Cap) -> Result<String, FileError> {
    let bytes = read_capped(path, cap)?;
    String::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Reads `reader` to its end, refusing more than `cap` bytes (at most `cap + 1` are read).
/// `name` labels errors (a path, a URL, "standard input"); `expected` is a size hint used to
/// reserve the buffer (never more than the cap).
pub fn read_stream_capped(
    reader: impl Read,
    name: &Path,
    expected: u64,
    cap: Cap,
) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    let want = usize::try_from(expected.min(cap.bytes)).map_err(|_| too_large(name, cap))?;
    bytes.try_reserve_exact(want).map_err(|e| {
        FileError::io(
            name,
            std::io::Error::new(std::io::ErrorKind::OutOfMemory, e.to_string()),
        )
    })?;
    reader
        .take(cap.bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io(name, e))?;
    if bytes.len() as u64 > cap.bytes {
        return Err(too_large(name, cap));
    }
    Ok(bytes)
}

fn too_large(path: &Path, cap: Cap) -> FileError {
    FileError::TooLarge {
        path: path.to_owned(),
        cap: cap.bytes,
        how_to_change: cap.how_to_change,
    }
}

/// A fresh hidden name next to a target: `<parent>/.<leaf>.<kind>-<pid>-<n>`.
pub fn sibling(parent: &Path, leaf: &str, kind: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    parent.join(format!(
        ".{leaf}.{kind}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs the file.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| FileError::io(path, e))?;
    f.write_all(bytes).map_err(|e| FileError::io(path, e))?;
    f.sync_all().map_err(|e| FileError::io(path, e))
}

/// Fsyncs a folder, so renames inside it are durable (a no-op where folders cannot be opened).
pub fn sync_dir(path: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        File::open(path)
            .and_then(|d| d.sync_all())
            .map_err(|e| FileError::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to `path` through a fresh temporary file next to it (fsync, rename, fsync of
/// the folder), so `path` holds either the old or the new content. Missing parent folders are
/// created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        FileError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path needs a UTF-8 final component",
            ),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| FileError::io(&dir, e))?;
    let tmp = sibling(&dir, name, "tmp");
    let result = write_new_synced(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| FileError::io(path, e)))
        .and_then(|()| sync_dir(&dir));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const CAP: Cap = Cap::new(16, "a test limit");

    #[test]
    fn reads_exactly_the_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        for len in [0usize, 1, 15, 16] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            write_atomic(&path, &data).unwrap();
            assert_eq!(read_capped(&path, CAP).unwrap(), data);
        }
        write_atomic(&path, "héllo".as_bytes()).unwrap();
        assert_eq!(read_capped_string(&path, CAP).unwrap(), "héllo");
        write_atomic(&path, b"\xffx").unwrap();
        assert!(matches!(
            read_capped_string(&path, CAP),
            Err(FileError::NotUtf8 { offset: 0, .. })
        ));
    }

    #[test]
    fn refuses_a_file_over_the_cap_and_says_how_to_change_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("big");
        write_atomic(&path, &[7u8; 17]).unwrap();
        let err = read_capped(&path, CAP).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, FileError::TooLarge { cap: 16, .. }),
            "{err:?}"
        );
        assert!(text.contains("big") && text.contains("16") && text.contains("a test limit"));
        // A stream is cut at cap + 1 bytes, whatever it would still give.
        let endless = std::io::repeat(1);
        assert!(matches!(
            read_stream_capped(endless, Path::new("endless"), 0, CAP),
            Err(FileError::TooLarge { .. })
        ));
    }

    #[test]
    fn missing_file_is_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("none");
        assert!(matches!(
            read_capped(&path, CAP),
            Err(FileError::NotFound { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_symlink_even_to_a_good_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        write_atomic(&target, b"ok").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        match read_capped(&link, CAP) {
            Err(FileError::NotARegularFile { kind, path }) => {
                assert_eq!(kind, "a symbolic link");
                assert_eq!(path, link);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_regular(&link),
            Err(FileError::NotARegularFile { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_device_and_a_directory() {
        // /dev/zero never ends: it must be refused before any read, not read to the cap.
        match read_capped(Path::new("/dev/zero"), Cap::new(u64::MAX, "unbounded")) {
            Err(FileError::NotARegularFile { kind, .. }) => assert_eq!(kind, "a device"),
            other => panic!("{other:?}"),
        }
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_capped(tmp.path(), CAP),
            Err(FileError::NotARegularFile { .. })
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn refuses_a_fifo_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // No writer is ever attached: a blocking open would hang this test.
        match read_capped(&fifo, CAP) {
            Err(FileError::NotARegularFile { kind, .. }) => assert_eq!(kind, "a FIFO"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/state.toml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read_capped(&path, CAP).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.toml")]);
    }
}
