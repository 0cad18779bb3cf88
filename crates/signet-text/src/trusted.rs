//! Files that decide what code runs must not be replaceable by another user.
//!
//! The espeak helper executable, the espeak-ng library it loads and the data espeak-ng
//! parses run with the current user's rights. As ssh does for its keys, the client refuses
//! to use one that another user could replace: the file (after following symbolic links),
//! each folder above it, and the folder that holds the path as given, must be owned by the
//! current user or by root and must not be writable by group or others. A folder with the
//! sticky bit (such as `/tmp`) may be writable by others: they cannot rename or remove
//! what they do not own in it.
//!
//! The current user is the effective user id of this process, read from
//! `/proc/self/status` (this crate has no `unsafe` code to ask the C library); where it
//! cannot be read, only the write bits are checked.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::TextError;

/// Group- and world-writable bits.
const GROUP_OR_OTHER_WRITE: u32 = 0o022;
/// The sticky bit.
const STICKY: u32 = 0o1000;

/// What is wrong with one path, judged from its owner and mode.
fn judge(owner: u32, mode: u32, is_dir: bool, me: Option<u32>) -> Option<String> {
    if let Some(me) = me {
        if owner != me && owner != 0 {
            return Some(format!(
                "is owned by user id {owner}, neither you (user id {me}) nor root"
            ));
        }
    }
    let sticky_dir = is_dir && mode & STICKY != 0;
    if mode & GROUP_OR_OTHER_WRITE != 0 && !sticky_dir {
        return Some(format!(
            "is writable by {} (mode {:04o})",
            if mode & 0o002 != 0 {
                "every user"
            } else {
                "its group"
            },
            mode & 0o7777
        ));
    }
    None
}

/// The effective user id, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn refuse(what: &'static str, file: &Path, path: &Path, reason: String, is_dir: bool) -> TextError {
    let shown = path.display();
    let fix = if reason.contains("owned by") {
        format!(
            "install it where only you or root can write (or run `chown \"$(id -u)\" '{shown}'` if it is yours)"
        )
    } else if is_dir {
        format!("run `chmod go-w '{shown}'`, or install it in a folder only you or root can write")
    } else {
        format!("run `chmod go-w '{shown}'`")
    };
    TextError::UntrustedFile {
        what,
        file: file.to_owned(),
        problem: format!("{} {reason}; {fix}", path.display()),
    }
}

/// Checks `path` (`what` names it in the error) and every folder above it.
///
/// # Errors
/// [`TextError::UntrustedFile`] naming the first path that another user could replace,
/// why, and the fix. A path that cannot be resolved is left to the caller's own
/// existence checks.
pub fn check_trusted(path: &Path, what: &'static str) -> Result<(), TextError> {
    check_as(path, what, effective_uid())
}

fn check_as(path: &Path, what: &'static str, me: Option<u32>) -> Result<(), TextError> {
    let Ok(real) = std::fs::canonicalize(path) else {
        return Ok(());
    };
    let mut chain: Vec<PathBuf> = real.ancestors().map(Path::to_path_buf).collect();
    // The folder holding the path as given (a symbolic link may sit in another one).
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .and_then(|p| std::fs::canonicalize(p).ok())
    {
        chain.extend(parent.ancestors().map(Path::to_path_buf));
    }
    for p in &chain {
        let Ok(meta) = std::fs::metadata(p) else {
            continue;
        };
        if let Some(reason) = judge(meta.uid(), meta.mode(), meta.is_dir(), me) {
            return Err(refuse(what, path, p, reason, meta.is_dir()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn owners_other_than_the_user_and_root_are_refused() {
        assert_eq!(judge(1000, 0o755, false, Some(1000)), None);
        assert_eq!(judge(0, 0o755, false, Some(1000)), None);
        let other = judge(1001, 0o755, false, Some(1000)).unwrap_or_default();
        assert!(other.contains("user id 1001"), "{other}");
        // Unknown user: the write bits still count.
        assert_eq!(judge(1001, 0o755, false, None), None);
        assert!(judge(1001, 0o775, false, None).is_some());
    }

    #[test]
    fn group_or_world_writable_is_refused_unless_a_sticky_folder() {
        assert!(judge(0, 0o775, false, Some(0)).is_some_and(|r| r.contains("its group")));
        assert!(judge(0, 0o757, false, Some(0)).is_some_and(|r| r.contains("every user")));
        assert!(judge(0, 0o777, true, Some(0)).is_some());
        assert_eq!(judge(0, 0o1777, true, Some(0)), None);
        // The sticky bit does not excuse a file.
        assert!(judge(0, 0o1777, false, Some(0)).is_some());
    }

    #[test]
    fn a_group_writable_file_or_folder_is_named_with_the_fix() -> Result<(), std::io::Error> {
        let base = std::env::temp_dir().join(format!("signet-trusted-{}", std::process::id()));
        let dir = base.join("bin");
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        let file = dir.join("signet-espeak");
        std::fs::write(&file, b"#!/bin/sh\n")?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        let me = effective_uid();
        let ok = check_as(&file, "espeak helper", me).map_err(|e| e.to_string());

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o775))?;
        let file_err = check_as(&file, "espeak helper", me).map_err(|e| e.to_string());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
        let dir_err = check_as(&file, "espeak helper", me).map_err(|e| e.to_string());
        // A link in a writable folder to a file in a safe one.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        let open = base.join("open");
        std::fs::create_dir_all(&open)?;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777))?;
        let link = open.join("signet-espeak");
        std::os::unix::fs::symlink(&file, &link)?;
        let link_err = check_as(&link, "espeak helper", me).map_err(|e| e.to_string());
        std::fs::remove_dir_all(&base)?;

        assert_eq!(ok, Ok(()));
        let msg = file_err.err().unwrap_or_default();
        assert!(
            msg.contains(&file.display().to_string())
                && msg.contains("its group")
                && msg.contains("chmod go-w"),
            "{msg}"
        );
        let msg = dir_err.err().unwrap_or_default();
        assert!(
            msg.contains(&format!(": {} is writable", dir.display())) && msg.contains("every user"),
            "{msg}"
        );
        let msg = link_err.err().unwrap_or_default();
        assert!(
            msg.contains(&format!(": {} is writable", open.display())),
            "{msg}"
        );
        Ok(())
    }
}
