//! Repairs `/dev/null` where a sandbox made it a plain file.
//!
//! Cargo probes rustc with its source read from `/dev/null`. On some
//! sandboxed machines `/dev/null` is a plain file, so everything any process
//! sends "to /dev/null" piles up there: a C compiler's complaint written by a
//! build script is enough to make every later `cargo build`, `cargo
//! metadata` or `cargo fuzz` fail with "failed to run `rustc` to learn about
//! target-specific information". Emptying the file only helps until the
//! next write, so the repair puts the character device (1, 3) back in its
//! place when the machine allows it (root, `mknod`), and otherwise empties
//! the file. A real device is never touched.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};

const DEV_NULL: &str = "/dev/null";

/// What `/dev/null` is on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The character device: nothing to do.
    Device,
    /// A plain file holding this many bytes.
    PlainFile(u64),
    /// Missing or something else (a directory, a link to nowhere).
    Other,
}

/// Looks at `path` without following a final symlink.
fn state_of(path: &Path) -> State {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_char_device() => State::Device,
        Ok(m) if m.file_type().is_file() => State::PlainFile(m.len()),
        _ => State::Other,
    }
}

/// The state of this machine's `/dev/null`.
pub fn state() -> State {
    state_of(Path::new(DEV_NULL))
}

/// Makes `/dev/null` safe for cargo: a device again if possible, else an
/// empty file. Says what it did on stderr; never fails, since a machine
/// where neither works still gets the explanation from [`hint`].
pub fn repair() {
    let State::PlainFile(len) = state() else {
        return;
    };
    if replace_with_device(Path::new(DEV_NULL)) {
        eprintln!("xtask: /dev/null was a plain file ({len} bytes); made it the null device again");
        return;
    }
    if len == 0 {
        return;
    }
    eprintln!("xtask: /dev/null is a plain file here and cannot be made a device; emptying it");
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(DEV_NULL)
    {
        eprintln!("xtask: cannot empty /dev/null: {e}");
    }
}

/// Creates the null device next to `target` and renames it over `target`,
/// so there is no moment without a `/dev/null`. False where `mknod` is
/// missing or not permitted.
fn replace_with_device(target: &Path) -> bool {
    let Some(dir) = target.parent() else {
        return false;
    };
    let temp = dir.join(format!(".signet-null-{}", std::process::id()));
    let made = Command::new("mknod")
        .args(["-m", "666"])
        .arg(&temp)
        .args(["c", "1", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .is_ok_and(|out| out.status.success());
    if !made || state_of(&temp) != State::Device {
        let _ = std::fs::remove_file(&temp);
        return false;
    }
    if std::fs::rename(&temp, target).is_err() {
        let _ = std::fs::remove_file(&temp);
        return false;
    }
    state_of(target) == State::Device
}

/// Context for a failed cargo call: names `/dev/null` when it is the cause.
pub fn hint() -> String {
    match state() {
        State::PlainFile(len) if len > 0 => format!(
            "/dev/null on this machine is a plain file of {len} bytes, not a device; \
             cargo's rustc probe reads it as source; run `cargo xtask setup` as root \
             to make it a device again, or empty it (`: > /dev/null`)"
        ),
        _ => "a compile error or a missing toolchain component".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_files_and_missing_paths_are_told_apart_from_devices() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("null");
        std::fs::write(&plain, b"cc: error").unwrap();
        assert_eq!(state_of(&plain), State::PlainFile(9));
        assert_eq!(state_of(&dir.path().join("absent")), State::Other);
        assert_eq!(state_of(dir.path()), State::Other);
    }

    #[test]
    fn a_plain_file_is_replaced_by_a_device_where_mknod_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("null");
        std::fs::write(&plain, b"leftover output").unwrap();
        if replace_with_device(&plain) {
            assert_eq!(state_of(&plain), State::Device);
            std::fs::write(&plain, b"discarded").unwrap();
            assert_eq!(std::fs::read(&plain).unwrap(), b"");
        } else {
            // Without the privilege the file is left exactly as it was and
            // no temporary device is left behind.
            assert_eq!(std::fs::read(&plain).unwrap(), b"leftover output");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("null")]);
    }
}
