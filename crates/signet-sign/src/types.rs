//! The small types the other modules share: a key's id ([`KeyId`]), what a key may sign
//! ([`Role`]) and why a signature did not count ([`Rejection`]). They sit below the error type,
//! which carries them; what can fail to build them (parsing a key id) lives above it, in
//! [`crate::keys`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// A key id: lower-case hex SHA-256 of the raw 32-byte ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub(crate) String);

impl KeyId {
    /// The id as hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits, for messages and listings.
    pub fn short(&self) -> &str {
        self.0.get(..16).unwrap_or(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a trusted key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// Signs voice bundle manifests.
    BundleSigner,
    /// Signs the remote index of bundles.
    IndexRoot,
    /// Signs release artefacts.
    ReleaseSigner,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 3] = [Role::BundleSigner, Role::IndexRoot, Role::ReleaseSigner];

    /// The role as written in the trust store (`bundle-signer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::BundleSigner => "bundle-signer",
            Role::IndexRoot => "index-root",
            Role::ReleaseSigner => "release-signer",
        }
    }

    /// Parses the form [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one signature did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No trust store entry for the key id.
    UntrustedKey,
    /// The key is trusted, but not for the role being checked.
    WrongRole,
    /// The key id is revoked.
    Revoked,
    /// The key's trust expired (Unix seconds).
    Expired {
        /// Unix seconds of the expiry.
        at: i64,
    },
    /// The signature bytes do not verify for this key and payload.
    BadSignature,
    /// The key id already signed this envelope; it counts once.
    Duplicate,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::UntrustedKey => f.write_str("key is not in the trust store"),
            Rejection::WrongRole => f.write_str("key is trusted, but not for this role"),
            Rejection::Revoked => f.write_str("key is revoked"),
            Rejection::Expired { at } => write!(
                f,
                "key's trust expired at {}",
                crate::time::format_rfc3339(*at)
            ),
            Rejection::BadSignature => f.write_str("signature does not verify"),
            Rejection::Duplicate => f.write_str("duplicate signature by the same key"),
        }
    }
}

/// A signature that did not count, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedSignature {
    /// The key id the signature claims.
    pub key_id: KeyId,
    /// Why it did not count.
    pub reason: Rejection,
}
