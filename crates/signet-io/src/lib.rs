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
//! mix ([`write_atomic_private`]: mode 0600 in folders created 0700); [`write_new_synced`],
//! [`sibling`] and [`sync_dir`] are its pieces, used by writers of whole folders. Sibling names
//! are unpredictable and carry a separator ([`SIBLING_SEPARATOR`]) that voice and bundle file
//! names cannot contain, so [`sibling_kind`] matches exactly one target's leftovers.
//!
//! [`check_private`] refuses, as ssh does, a file that grants trust (trust store, private key)
//! or its folder when another user could change it (writable by group or others, or owned by
//! someone else), naming the path and the `chmod`/`chown` that fixes it.
//! [`escape_controls`] shows control characters escaped in messages that quote foreign text.
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
    /// A file or folder that grants trust (trust store, key, key folder) could be changed by
    /// someone else: writable by group or others, or owned by another user.
    #[error("{0}")]
    NotPrivate(Box<NotPrivate>),
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
            Self::NotPrivate(p) => &p.path,
        }
    }
}

/// What [`check_private`] found wrong (boxed in [`FileError::NotPrivate`]).
#[derive(Debug, thiserror::Error)]
#[error("{what} {path} {problem}; someone else could change what Signet trusts (fix: {fix})")]
pub struct NotPrivate {
    /// The path.
    pub path: PathBuf,
    /// What it is ("trust store", "the folder of private key", ...).
    pub what: String,
    /// What is wrong ("is writable by its group (mode 664)").
    pub problem: String,
    /// The command that fixes it (`chmod go-w ...`).
    pub fix: String,
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

/// The separator between a target's name and the kind of a [`sibling`] name. Voice names and
/// bundle file names cannot contain it, so a sibling of `x` can never be mistaken for a sibling
/// of another name that merely starts with `x` (`x.tmp-a`).
pub const SIBLING_SEPARATOR: char = '+';

/// A fresh, unpredictable hidden name next to a target:
/// `<parent>/.<leaf>+<kind>-<16 random hex digits>` (see [`SIBLING_SEPARATOR`]). The name is
/// only a name: create it exclusively (`create_new`, `create_dir`), never by opening what may
/// already be there.
pub fn sibling(parent: &Path, leaf: &str, kind: &str) -> PathBuf {
    parent.join(format!(".{leaf}{SIBLING_SEPARATOR}{kind}-{}", random_hex()))
}

/// If `file_name` is a [`sibling`] name of exactly `leaf`, its kind (`tmp`, `old`, ...).
pub fn sibling_kind<'a>(file_name: &'a str, leaf: &str) -> Option<&'a str> {
    let rest = file_name
        .strip_prefix('.')?
        .strip_prefix(leaf)?
        .strip_prefix(SIBLING_SEPARATOR)?;
    let (kind, _) = rest.split_once('-')?;
    Some(kind)
}

/// 16 hex digits from the operating system's random source; should it fail, the process id,
/// a counter and the clock, which are still unique within this process (names are always
/// created exclusively, so uniqueness, not secrecy, is what correctness rests on).
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_ok() {
        return bytes.iter().map(|b| format!("{b:02x}")).collect();
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{:06x}{:04x}{:06x}",
        std::process::id() & 0xff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff,
        nanos & 0xff_ffff
    )
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs the file.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_new_with(path, bytes, Privacy::Default)
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
    write_atomic_with(path, bytes, Privacy::Default)
}

/// [`write_atomic`] for a file that grants trust or holds state an attacker would like to
/// change (trust store, rollback records): on Unix the file is created with mode 0600 and
/// missing parent folders with mode 0700, whatever the umask.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_atomic_with(path, bytes, Privacy::OwnerOnly)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Privacy {
    Default,
    OwnerOnly,
}

fn write_atomic_with(path: &Path, bytes: &[u8], privacy: Privacy) -> Result<(), FileError> {
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
    match privacy {
        Privacy::Default => fs::create_dir_all(&dir).map_err(|e| FileError::io(&dir, e))?,
        Privacy::OwnerOnly => create_private_dir(&dir)?,
    }
    let tmp = sibling(&dir, name, "tmp");
    let result = write_new_with(&tmp, bytes, privacy)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| FileError::io(path, e)))
        .and_then(|()| sync_dir(&dir));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_new_with(path: &Path, bytes: &[u8], privacy: Privacy) -> Result<(), FileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if privacy == Privacy::OwnerOnly {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = privacy;
    let mut f = options.open(path).map_err(|e| FileError::io(path, e))?;
    f.write_all(bytes).map_err(|e| FileError::io(path, e))?;
    f.sync_all().map_err(|e| FileError::io(path, e))
}

/// Creates `dir` and its missing parents; on Unix each folder this call creates gets mode 0700
/// (folders that already exist are left as they are: [`check_private`] judges them).
pub fn create_private_dir(dir: &Path) -> Result<(), FileError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| FileError::io(dir, e))
}

/// Refuses, as ssh does, a file or folder that grants trust (`what`: "trust store", "private
/// key", "private key folder") if someone other than its user could change it:
///
/// - `path` itself must be owned by the current user (or root) and not writable by its group
///   or others;
/// - its parent folder likewise, unless the folder is sticky (`/tmp`): there others cannot
///   rename or delete what they do not own.
///
/// A missing `path` is [`FileError::NotFound`]. The error names the path and the command that
/// fixes it. A no-op where Unix permissions do not exist.
pub fn check_private(path: &Path, what: &str) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let euid = rustix::process::geteuid().as_raw();
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FileError::NotFound {
                    path: path.to_owned(),
                })
            }
            Err(e) => return Err(FileError::io(path, e)),
        };
        if let Some((problem, fix)) = judge_private(meta.uid(), meta.mode(), euid, false, path) {
            return Err(FileError::NotPrivate(Box::new(NotPrivate {
                path: path.to_owned(),
                what: what.to_owned(),
                problem,
                fix,
            })));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let pmeta = fs::metadata(&parent).map_err(|e| FileError::io(&parent, e))?;
        if let Some((problem, fix)) = judge_private(pmeta.uid(), pmeta.mode(), euid, true, &parent)
        {
            return Err(FileError::NotPrivate(Box::new(NotPrivate {
                path: parent,
                what: format!("the folder of {what}"),
                problem,
                fix,
            })));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// The rule of [`check_private`] for one node: `None` if it is private enough, else what is
/// wrong and the fix.
#[cfg(unix)]
fn judge_private(
    uid: u32,
    mode: u32,
    euid: u32,
    is_parent: bool,
    path: &Path,
) -> Option<(String, String)> {
    const STICKY: u32 = 0o1000;
    if uid != euid && uid != 0 {
        return Some((
            format!("is owned by user id {uid}, not by this user (id {euid}) or root"),
            format!("chown {euid} {}", path.display()),
        ));
    }
    let writable = mode & 0o022;
    if writable == 0 || (is_parent && mode & STICKY != 0) {
        return None;
    }
    let who = match writable {
        0o020 => "its group",
        0o002 => "everyone",
        _ => "its group and everyone",
    };
    Some((
        format!("is writable by {who} (mode {:o})", mode & 0o7777),
        format!("chmod go-w {}", path.display()),
    ))
}

/// `text` with every control character (C0, DEL, C1) and every bidirectional override shown
/// escaped (`\u{1b}`), so a message that quotes foreign text (an unknown field name from a
/// manifest, a URL, a file's metadata) cannot move the cursor, retitle or clear a terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    fn dangerous(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(dangerous) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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

    #[cfg(unix)]
    #[test]
    fn check_private_refuses_group_or_world_writable_files_and_folders() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("trust.toml");
        write_atomic_private(&path, b"x").unwrap();
        check_private(&path, "trust store").unwrap();
        for (mode, who) in [
            (0o620, "its group"),
            (0o602, "everyone"),
            (0o666, "its group and everyone"),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = check_private(&path, "trust store").unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, FileError::NotPrivate(_)), "{err:?}");
            assert!(text.contains(who), "{text}");
            assert!(
                text.contains(&format!("chmod go-w {}", path.display())),
                "{text}"
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        check_private(&path, "trust store").unwrap();
        // A group-writable folder lets the group swap the file: refused too...
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o770)).unwrap();
        let err = check_private(&path, "trust store").unwrap_err();
        assert_eq!(err.path(), tmp.path());
        // ...unless it is sticky, as /tmp is.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o1777)).unwrap();
        check_private(&path, "trust store").unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(
            check_private(&tmp.path().join("none"), "trust store"),
            Err(FileError::NotFound { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn check_private_refuses_another_users_file() {
        let p = Path::new("/x/trust.toml");
        let (problem, fix) = judge_private(1234, 0o100600, 1000, false, p).unwrap();
        assert!(problem.contains("owned by user id 1234"), "{problem}");
        assert_eq!(fix, "chown 1000 /x/trust.toml");
        assert!(judge_private(1000, 0o100600, 1000, false, p).is_none());
        assert!(judge_private(0, 0o100644, 1000, false, p).is_none());
        // Sticky only excuses a folder, not the file itself.
        assert!(judge_private(1000, 0o101666, 1000, false, p).is_some());
        assert!(judge_private(0, 0o41777, 1000, true, p).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn private_writes_get_owner_only_modes_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("home/state/x.toml");
        write_atomic_private(&path, b"1").unwrap();
        write_atomic_private(&path, b"2").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&tmp.path().join("home")), 0o700);
        create_private_dir(&tmp.path().join("keys")).unwrap();
        assert_eq!(mode(&tmp.path().join("keys")), 0o700);
    }

    #[test]
    fn sibling_names_match_exactly_one_leaf() {
        let dir = Path::new("/v");
        let a = sibling(dir, "x", "tmp");
        let b = sibling(dir, "x", "tmp");
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert_eq!(sibling_kind(name, "x"), Some("tmp"));
        // A sibling of `x.tmp-a` (a valid voice name) is not a sibling of `x`, and back.
        let other = sibling(dir, "x.tmp-a", "tmp");
        let other = other.file_name().unwrap().to_str().unwrap();
        assert_eq!(sibling_kind(other, "x"), None);
        assert_eq!(sibling_kind(other, "x.tmp-a"), Some("tmp"));
        assert_eq!(sibling_kind(name, "x.tmp-a"), None);
        assert_eq!(sibling_kind(".x.tmp-a", "x"), None);
    }

    #[test]
    fn escape_controls_shows_escapes_and_leaves_text_alone() {
        assert_eq!(escape_controls("plain é ✓"), "plain é ✓");
        assert_eq!(
            escape_controls("a\u{1b}]0;owned\u{7}b\nc\u{202e}"),
            "a\\u{1b}]0;owned\\u{7}b\\u{a}c\\u{202e}"
        );
        assert!(!escape_controls("\u{9b}31m").chars().any(char::is_control));
    }
}
