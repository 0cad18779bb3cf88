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
