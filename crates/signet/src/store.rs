//! Where voices, keys and trust live on disk: the registry's local store.
//!
//! The home folder and its layout belong to `signet_registry::store` (one lookup: `$SIGNET_HOME`,
//! else `$XDG_DATA_HOME/signet`, else `$HOME/.local/share/signet`, or `--home`); the facade
//! uses that [`Store`] as it is. Voices are addressed by [`VoiceName`] only, never by a path.

use std::path::PathBuf;

pub use signet_registry::store::{Store, IMPORTER_KEY_NAME, TRUST_FILE};
pub use signet_registry::VoiceName;

use crate::Error;

/// The default home folder (see the module docs).
pub fn default_home() -> Result<PathBuf, Error> {
    Ok(signet_registry::store::default_home()?)
}

/// Test support for the home keys (watermark, credentials): the key file at `path` is
/// private (mode 600 on Unix) and is the only file left in the keys folder (no temporary
/// file survives the atomic write).
#[cfg(test)]
pub(crate) fn assert_lone_private_key(store: &Store, path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    let leftovers: Vec<_> = std::fs::read_dir(store.keys_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the key file remains: {leftovers:?}"
    );
}
