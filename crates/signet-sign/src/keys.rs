//! ed25519 keys: generation, the private key file (PKCS#8 PEM, mode 0600, never printed), public
//! keys as one line of text, and key ids.
//!
//! A key id is the lower-case hex SHA-256 of the raw 32-byte public key, so it names the key
//! itself and two different keys can never share an id. Private key bytes live in
//! [`SecretKey`], which zeroizes them when dropped and whose `Debug` shows only the key id.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::SignError;
use crate::types::KeyId;

/// Prefix of a public key written as text: `ed25519:<base64 of the 32 raw bytes>`.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// Largest private key file read, in bytes (a PKCS#8 PEM ed25519 key is about 120).
pub const MAX_SECRET_KEY_FILE_LEN: u64 = 4096;

const SECRET_KEY_FILE_CAP: signet_io::Cap = signet_io::Cap::new(
    MAX_SECRET_KEY_FILE_LEN,
    "a fixed limit: an ed25519 PKCS#8 PEM key is about 120 bytes",
);

/// Largest public key file read, in bytes (the key itself is one line of about 52).
pub const MAX_PUBLIC_KEY_FILE_LEN: u64 = 4096;

const PUBLIC_KEY_FILE_CAP: signet_io::Cap = signet_io::Cap::new(
    MAX_PUBLIC_KEY_FILE_LEN,
    "a fixed limit: a public key file holds one line `ed25519:<base64>`",
);

impl KeyId {
    /// The id of a raw public key.
    pub fn of(public: &PublicKey) -> Self {
        Self(hex::encode(Sha256::digest(public.0.as_bytes())))
    }

    /// Parses a key id written as 64 lower-case hex digits.
    pub fn parse(text: &str) -> Result<Self, SignError> {
        let ok = text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(SignError::BadKey {
                reason: format!(
                    "key id {:?} is not 64 lower-case hex digits",
                    text.chars().take(80).collect::<String>()
                ),
            })
        }
    }
}

/// An ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(crate) VerifyingKey);

impl PublicKey {
    /// A public key from its 32 raw bytes; weak (small-order) points are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SignError::BadKey {
            reason: format!("a public key is 32 bytes, got {}", bytes.len()),
        })?;
        let key = VerifyingKey::from_bytes(&arr).map_err(|_| SignError::BadKey {
            reason: "not a valid ed25519 public key".to_owned(),
        })?;
        if key.is_weak() {
            return Err(SignError::BadKey {
                reason: "weak (small-order) ed25519 public key".to_owned(),
            });
        }
        Ok(Self(key))
    }

    /// Parses `ed25519:<base64>` (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, SignError> {
        let text = text.trim();
        let b64 = text
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or_else(|| SignError::BadKey {
                reason: format!("a public key is written `{PUBLIC_KEY_PREFIX}<base64>`"),
            })?;
        if b64.len() > 64 {
            return Err(SignError::BadKey {
                reason: "public key text too long".to_owned(),
            });
        }
        let bytes = crate::b64::decode(b64).map_err(|reason| SignError::BadKey { reason })?;
        Self::from_bytes(&bytes)
    }

    /// `ed25519:<base64>`, the form [`from_text`](Self::from_text) reads.
    pub fn to_text(&self) -> String {
        format!(
            "{PUBLIC_KEY_PREFIX}{}",
            crate::b64::encode(self.0.as_bytes())
        )
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(self)
    }
}

/// A public key given on a command line: the key itself (`ed25519:<base64>`) or the path of a
/// file holding it (one line, at most [`MAX_PUBLIC_KEY_FILE_LEN`] bytes, read without following
/// a symbolic link).
pub fn public_key_from_arg(arg: &str) -> Result<PublicKey, SignError> {
    if arg.trim().starts_with(PUBLIC_KEY_PREFIX) {
        return PublicKey::from_text(arg);
    }
    let text = signet_io::read_capped_string(Path::new(arg), PUBLIC_KEY_FILE_CAP)?;
    PublicKey::from_text(&text)
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_text())
    }
}

/// An ed25519 private key. The bytes are zeroized on drop; `Debug` shows the key id only.
pub struct SecretKey {
    key: SigningKey,
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, SignError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| SignError::BadKey {
            reason: format!("the operating system's random source failed: {e}"),
        })?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A key from a 32-byte seed (for tests and deterministic fixtures).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// The key id of the matching public key.
    pub fn key_id(&self) -> KeyId {
        self.public().key_id()
    }

    /// Signs `message` as is (callers sign a pre-authentication encoding, see
    /// [`crate::envelope`]).
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Writes the key as PKCS#8 PEM to `path`, which must not exist. On Unix the file is created
    /// with mode 0600 (never wider, not even for an instant); parent folders are created 0700.
    pub fn write_new(&self, path: &Path) -> Result<(), SignError> {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SignError::BadKey {
                reason: format!("cannot encode the private key: {e}"),
            })?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(path).map_err(|e| SignError::io(path, e))?;
        f.write_all(pem.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| SignError::io(path, e))
    }

    /// Reads a key written by [`write_new`](Self::write_new). On Unix a key file readable by
    /// group or others is refused, and so are a key file or key folder that another user could
    /// change ([`signet_io::check_private`]: writable by group or others, owned by another
    /// user), with the path and the `chmod` that fixes it.
    pub fn load(path: &Path) -> Result<Self, SignError> {
        signet_io::check_private(path, "private key")?;
        let (f, _) = signet_io::open_regular(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = f.metadata().map_err(|e| SignError::io(path, e))?;
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(SignError::BadKey {
                    reason: format!(
                        "private key file {} has mode {:o}; it must be readable by its owner \
                         only (chmod 600 {})",
                        path.display(),
                        mode & 0o777,
                        path.display()
                    ),
                });
            }
        }
        let bytes = read_secret(f, path)?;
        let not_a_key = || SignError::BadKey {
            reason: format!("{} is not a PKCS#8 PEM ed25519 private key", path.display()),
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| not_a_key())?;
        let key = SigningKey::from_pkcs8_pem(text).map_err(|_| not_a_key())?;
        Ok(Self { key })
    }
}

/// Reads a private key file into one zeroizing buffer of the cap + 1 bytes, reserved before the
/// first read: the buffer never grows, so no copy of key bytes is left behind in a freed,
/// unzeroed allocation.
fn read_secret(mut f: std::fs::File, path: &Path) -> Result<Zeroizing<Vec<u8>>, SignError> {
    use std::io::Read;
    let cap = usize::try_from(MAX_SECRET_KEY_FILE_LEN).unwrap_or(usize::MAX);
    let mut buf = Zeroizing::new(vec![0u8; cap.saturating_add(1)]);
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match f.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SignError::io(path, e)),
        }
    }
    if filled > cap {
        return Err(signet_io::FileError::TooLarge {
            path: path.to_owned(),
            cap: MAX_SECRET_KEY_FILE_LEN,
            how_to_change: SECRET_KEY_FILE_CAP.how_to_change(),
        }
        .into());
    }
    buf.truncate(filled);
    Ok(buf)
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// Creates `dir` (and parents); on Unix a folder this call creates gets mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), SignError> {
    Ok(signet_io::create_private_dir(dir)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn key_id_is_sha256_of_the_raw_public_key() {
        let k = SecretKey::from_seed(&[7; 32]);
        let id = k.key_id();
        assert_eq!(
            id.as_str(),
            hex::encode(Sha256::digest(k.public().as_bytes()))
        );
        assert_eq!(KeyId::parse(id.as_str()).unwrap(), id);
        assert!(KeyId::parse("ABC").is_err());
        assert!(KeyId::parse(&id.as_str().to_uppercase()).is_err());
    }

    #[test]
    fn public_key_text_round_trip() {
        let k = SecretKey::generate().unwrap();
        let text = k.public().to_text();
        assert_eq!(PublicKey::from_text(&text).unwrap(), k.public());
        assert!(PublicKey::from_text("ed25519:AAAA").is_err());
        assert!(PublicKey::from_text(&text.replace("ed25519:", "rsa:")).is_err());
        // The identity point is a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_bytes(&identity).is_err());
    }

    #[test]
    fn secret_key_file_is_private_and_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("keys/me.key");
        let k = SecretKey::generate().unwrap();
        k.write_new(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        assert_eq!(SecretKey::load(&path).unwrap().public(), k.public());
        // Never overwritten.
        assert!(matches!(k.write_new(&path), Err(SignError::Io { .. })));
        // Debug output carries no key material.
        let dbg = format!("{k:?}");
        assert!(dbg.contains(k.key_id().as_str()));
        let pem = std::fs::read_to_string(&path).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!dbg.contains(&body));
    }

    #[test]
    fn public_keys_come_as_text_or_from_a_file() {
        let public = SecretKey::from_seed(&[7; 32]).public();
        assert_eq!(public_key_from_arg(&public.to_text()).unwrap(), public);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("release.pub");
        std::fs::write(&file, format!("{}\n", public.to_text())).unwrap();
        assert_eq!(
            public_key_from_arg(&file.to_string_lossy()).unwrap(),
            public
        );
        assert!(public_key_from_arg("ed25519:!!!").is_err());
        assert!(matches!(
            public_key_from_arg(&dir.path().join("absent.pub").to_string_lossy()),
            Err(SignError::File(signet_io::FileError::NotFound { .. }))
        ));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.pub");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert!(matches!(
                public_key_from_arg(&link.to_string_lossy()),
                Err(SignError::File(
                    signet_io::FileError::NotARegularFile { .. }
                ))
            ));
        }
        std::fs::write(&file, vec![b'a'; 5000]).unwrap();
        assert!(matches!(
            public_key_from_arg(&file.to_string_lossy()),
            Err(SignError::File(signet_io::FileError::TooLarge { .. }))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k");
        SecretKey::generate().unwrap().write_new(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            SecretKey::load(&path),
            Err(SignError::BadKey { .. })
        ));
    }

    #[test]
    fn key_file_is_read_into_a_buffer_reserved_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k.key");
        SecretKey::from_seed(&[9; 32]).write_new(&path).unwrap();
        let (f, _) = signet_io::open_regular(&path).unwrap();
        let bytes = read_secret(f, &path).unwrap();
        // The whole cap was reserved before reading, and the buffer never grew past it.
        assert_eq!(bytes.capacity(), MAX_SECRET_KEY_FILE_LEN as usize + 1);
        assert_eq!(&bytes[..], std::fs::read(&path).unwrap().as_slice());
        let big = tmp.path().join("big.key");
        std::fs::write(&big, vec![b'A'; MAX_SECRET_KEY_FILE_LEN as usize + 1]).unwrap();
        let (f, _) = signet_io::open_regular(&big).unwrap();
        assert!(matches!(
            read_secret(f, &big),
            Err(SignError::File(signet_io::FileError::TooLarge { .. }))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn key_in_a_group_writable_folder_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let path = dir.join("k.key");
        SecretKey::generate().unwrap().write_new(&path).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = SecretKey::load(&path).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, SignError::File(signet_io::FileError::NotPrivate(_))),
            "{err:?}"
        );
        assert!(
            text.contains(&format!("chmod go-w {}", dir.display())),
            "{text}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(SecretKey::load(&path).is_ok());
    }
}
