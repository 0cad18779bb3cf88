//! Where voices live on disk.
//!
//! The store is a folder of bundles, `<home>/voices/<name>/`, where home is
//! `$SIGNET_HOME`, else `$XDG_DATA_HOME/signet`, else `$HOME/.local/share/signet`.
//! Voices are addressed by name only: a name is a short run of ASCII letters,
//! digits, `_`, `-` and `.`, never a path.

use std::path::{Path, PathBuf};

use crate::Error;

/// Longest voice name accepted.
pub const MAX_VOICE_NAME_LEN: usize = 128;

/// The local voice store.
#[derive(Debug, Clone)]
pub struct Store {
    home: PathBuf,
}

impl Store {
    /// The store under an explicit home folder.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    /// The store under the default home (see the module docs).
    pub fn from_env() -> Result<Self, Error> {
        default_home().map(Self::new)
    }

    /// The home folder.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The folder holding one bundle per voice.
    pub fn voices_dir(&self) -> PathBuf {
        self.home.join("voices")
    }

    /// The bundle folder for `name`, after checking the name.
    pub fn voice_dir(&self, name: &str) -> Result<PathBuf, Error> {
        check_voice_name(name)?;
        Ok(self.voices_dir().join(name))
    }

    /// Names of the bundles present (not verified), sorted.
    pub fn voice_names(&self) -> Result<Vec<String>, Error> {
        let dir = self.voices_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Io { path: dir, source }),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            if let Some(name) = entry.file_name().to_str() {
                if check_voice_name(name).is_ok() && entry.path().is_dir() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

/// `$SIGNET_HOME`, else `$XDG_DATA_HOME/signet`, else `$HOME/.local/share/signet`.
pub fn default_home() -> Result<PathBuf, Error> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("SIGNET_HOME") {
        return Ok(p);
    }
    if let Some(p) = var("XDG_DATA_HOME") {
        return Ok(p.join("signet"));
    }
    if let Some(p) = var("HOME") {
        return Ok(p.join(".local/share/signet"));
    }
    Err(Error::NoHome)
}

/// Accepts `[A-Za-z0-9_.-]{1,128}` not starting with `.`.
pub fn check_voice_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_VOICE_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadVoiceName {
            name: name.chars().take(MAX_VOICE_NAME_LEN).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_names_are_names_not_paths() {
        for good in ["en_US-joe-medium", "a", "voice.v2"] {
            assert!(check_voice_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            "../etc",
            "/abs",
            "a/b",
            ".hidden",
            "a\\b",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(check_voice_name(bad), Err(Error::BadVoiceName { .. })),
                "{bad:?}"
            );
        }
    }
}
