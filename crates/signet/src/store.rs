//! Where voices, keys and trust live on disk.
//!
//! Everything lives under one home folder: `$SIGNET_HOME`, else
//! `$XDG_DATA_HOME/signet`, else `$HOME/.local/share/signet` (or `--home`):
//!
//! - `voices/<name>/`: one signed bundle per voice;
//! - `trust.toml`: the trust store every load verifies against (a missing file
//!   trusts nothing);
//! - `keys/`: private keys made by `signet keys generate` and setup's
//!   `local-importer.key` (mode 0600, folder 0700).
//!
//! Voices are addressed by name only: a name is a short run of ASCII letters,
//! digits, `_`, `-` and `.`, never a path.

use std::path::{Path, PathBuf};

use signet_registry::TrustStore;

use crate::Error;

/// The trust store's file name in the home folder.
pub const TRUST_FILE: &str = "trust.toml";

/// Name of the key that signs locally imported voices.
pub const IMPORTER_KEY_NAME: &str = "local-importer";

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

    /// The trust store file, `<home>/trust.toml`.
    pub fn trust_path(&self) -> PathBuf {
        self.home.join(TRUST_FILE)
    }

    /// Loads the trust store (a missing file is an empty store, which trusts nothing).
    pub fn trust_store(&self) -> Result<TrustStore, Error> {
        Ok(TrustStore::load_or_empty(&self.trust_path())?)
    }

    /// The folder of private keys, `<home>/keys`.
    pub fn keys_dir(&self) -> PathBuf {
        self.home.join("keys")
    }

    /// The private key file of the key named `name` (`<home>/keys/<name>.key`).
    pub fn key_path(&self, name: &str) -> Result<PathBuf, Error> {
        check_voice_name(name).map_err(|_| Error::InvalidSetting {
            setting: "key name",
            value: name.chars().take(MAX_VOICE_NAME_LEN).collect(),
            reason: "use letters, digits, `_`, `-` and `.` (at most 128)",
        })?;
        Ok(self.keys_dir().join(format!("{name}.key")))
    }

    /// The local importer's private key file (`<home>/keys/local-importer.key`).
    pub fn importer_key_path(&self) -> PathBuf {
        self.keys_dir().join(format!("{IMPORTER_KEY_NAME}.key"))
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
