//! Watermark keys, their ids, and the payload a mark carries.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::WatermarkError;

/// Domain tag of the key id hash.
const KEY_ID_DOMAIN: &[u8] = b"signet-watermark/key-id/v1\0";

/// A secret watermark key: 32 bytes. Whoever holds it can detect the mark,
/// and, with enough marked audio, estimate and remove it; keep it private.
///
/// `Debug` shows the key id only, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: [u8; 32],
}

impl Key {
    /// The key made of these 32 bytes (for example as read from a key file).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// A new key drawn from the operating system's random source.
    pub fn generate() -> Result<Self, WatermarkError> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| WatermarkError::Random {
            reason: e.to_string(),
        })?;
        Ok(Self { bytes })
    }

    /// The key as a key file holds it: 64 lowercase hexadecimal digits and a
    /// newline.
    pub fn to_file_text(&self) -> String {
        let mut text: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        text.push('\n');
        text
    }

    /// Reads a key file's text: 64 hexadecimal digits, surrounding white
    /// space allowed, nothing else.
    pub fn from_file_text(text: &str) -> Result<Self, WatermarkError> {
        let digits = text.trim();
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WatermarkError::KeyFormat {
                found: digits.chars().count(),
            });
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).unwrap_or("00");
            *byte = u8::from_str_radix(pair, 16).unwrap_or(0);
        }
        Ok(Self { bytes })
    }

    /// The key's 32 bytes, to store it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The key's public id: the first 8 bytes of SHA-256 over a domain tag
    /// and the key. It names the key (in logs, in detection reports) without
    /// revealing it.
    pub fn id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(KEY_ID_DOMAIN)
            .chain_update(self.bytes)
            .finalize();
        let mut id = [0u8; 8];
        for (dst, src) in id.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
        KeyId(id)
    }

    /// A 32-byte seed for one keyed use, `HMAC-SHA256(key, label)`.
    pub(crate) fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut seed = [0u8; 32];
        // HMAC accepts keys of any length; this cannot fail for 32 bytes.
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) {
            mac.update(label);
            seed.copy_from_slice(&mac.finalize().into_bytes());
        }
        seed
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("id", &self.id()).finish()
    }
}

/// The public id of a [`Key`], shown as 16 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The caller-chosen data a mark carries: 16 bits (a tenant, a request tag).
///
/// The key id is not in these bits: the mark's whole pattern is derived from
/// the key, so a detection with a key names that key by itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Payload(pub u16);

impl Payload {
    /// Whether the payload flips a payload cell of label `label`.
    pub(crate) fn flips(self, label: u16) -> bool {
        (self.0 & label).count_ones() % 2 == 1
    }
}
