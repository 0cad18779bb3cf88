//! The watermark setting of a [`Synthesizer`](crate::Synthesizer), and the
//! home's watermark key.
//!
//! Every utterance a synthesizer makes is marked with a keyed, inaudible
//! watermark ([`signet_watermark`]) unless the builder was told
//! [`Watermark::Off`]. The key is, by default, the Signet home's
//! (`<home>/keys/watermark.key`, 64 hexadecimal digits, mode 0600, made on
//! first use); the payload is 16 bits of the caller's choosing
//! ([`SpeakOptions::watermark_payload`](crate::SpeakOptions::watermark_payload),
//! 0 by default). The key itself is the rest of the payload: a detection
//! with a key says that this key marked the audio.
//!
//! The mark goes on in the audio chain after trimming and resampling and
//! before the volume, at the output rate, on a grid counted from the first
//! sample of the whole speech
//! ([`AudioOptions::apply_marked`](signet_audio::AudioOptions::apply_marked)):
//! the mark of a sample depends on its position in the speech, the key and
//! the payload only, so the utterances joined are the batch output, and a
//! stream that gives a long sentence window by window gives the same samples.

use std::io::ErrorKind;
use std::path::Path;

pub use signet_watermark::{
    detect, Detection, Key as WatermarkKey, KeyId, Payload, WatermarkError, FALSE_POSITIVE_RATE,
    MIN_DETECT_SECONDS,
};

use crate::{Error, Store};

/// Whether a synthesizer watermarks its speech, and with which key. The
/// default is the safe side: the home's key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Watermark {
    /// The Signet home's key (`<home>/keys/watermark.key`), made on first use.
    #[default]
    HomeKey,
    /// This key (a server's own, for example).
    Key(WatermarkKey),
    /// No watermark: the speech is the model's output through the audio
    /// chain alone. Only ever chosen explicitly; the CLI and the server say
    /// so in their logs.
    Off,
}

/// Largest watermark key file read: the key is 65 bytes.
const KEY_FILE_CAP: signet_io::Cap = signet_io::Cap::new(
    4096,
    "a watermark key file holds 64 hexadecimal digits; this is not one",
);

/// Reads the watermark key file at `path`; it must be private to its owner
/// (not readable or writable by group or others, in a folder only its owner
/// can change).
///
/// # Errors
/// [`Error::WatermarkKeyFile`] for a missing, unreadable or shared file,
/// [`Error::Watermark`] for one that does not hold a key.
pub fn read_key_file(path: &Path) -> Result<WatermarkKey, Error> {
    let file_error = |source: signet_io::FileError| Error::WatermarkKeyFile {
        path: path.to_owned(),
        reason: source.to_string(),
    };
    signet_io::check_private(path, "watermark key").map_err(file_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::symlink_metadata(path)
            .map_err(|e| file_error(signet_io::FileError::io(path, e)))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::WatermarkKeyFile {
                path: path.to_owned(),
                reason: format!(
                    "the key is readable by other users (mode {:o}); anyone who reads it can \
                     find and remove the mark: run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            });
        }
    }
    let text = signet_io::read_capped_string(path, KEY_FILE_CAP).map_err(file_error)?;
    Ok(WatermarkKey::from_file_text(&text)?)
}

/// The home's watermark key: read from `<home>/keys/watermark.key`, or, when
/// there is none yet, drawn from the system's random source and written
/// there (mode 0600, folder 0700). Two processes making it at once agree on
/// one key: the file is created exclusively and the loser reads the winner's.
///
/// # Errors
/// As [`read_key_file`], and a failure to draw or write the key.
pub fn home_key(store: &Store) -> Result<WatermarkKey, Error> {
    let path = store.watermark_key_path();
    match std::fs::symlink_metadata(&path) {
        Ok(_) => return read_key_file(&path),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::WatermarkKeyFile {
                path,
                reason: e.to_string(),
            })
        }
    }
    let key = WatermarkKey::generate()?;
    let keys = store.keys_dir();
    let write_error = |source: signet_io::FileError| Error::WatermarkKeyFile {
        path: store.watermark_key_path(),
        reason: source.to_string(),
    };
    signet_io::create_private_dir(&keys).map_err(write_error)?;
    let tmp = signet_io::sibling(&keys, "watermark.key", "new");
    signet_io::write_atomic_private(&tmp, key.to_file_text().as_bytes()).map_err(write_error)?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            signet_io::sync_dir(&keys).map_err(write_error)?;
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key_file(&path),
        Err(e) => Err(Error::WatermarkKeyFile {
            path,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_key_is_made_once_private_and_then_read_back() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(home.path());
        let first = home_key(&store).unwrap();
        let path = store.watermark_key_path();
        crate::store::assert_lone_private_key(&store, &path);
        assert_eq!(home_key(&store).unwrap(), first);
        assert_eq!(read_key_file(&path).unwrap(), first);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_or_not_a_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(home.path());
        home_key(&store).unwrap();
        let path = store.watermark_key_path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(
            read_key_file(&path),
            Err(Error::Watermark(WatermarkError::KeyFormat { .. }))
        ));
    }
}
