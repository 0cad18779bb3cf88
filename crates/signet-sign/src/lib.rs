//! Signet's signing layer: who may sign what, and the one check of signatures.
//!
//! Everything Signet verifies (voice bundles, the remote index, release folders) is a payload
//! under a DSSE-style [`Envelope`] signed by ed25519 keys and checked against a [`TrustStore`].
//! This crate holds those three pieces and nothing about what is signed:
//!
//! - [`keys`]: ed25519 [`SecretKey`] (zeroized, a 0600 PKCS#8 file), [`PublicKey`] as one line
//!   of text, and [`KeyId`] (SHA-256 of the raw public key);
//! - [`envelope`]: [`Envelope::sign`] and [`Envelope::verify`], the only place where signatures
//!   are counted: distinct trusted, unrevoked, unexpired key ids of one [`Role`], at least the
//!   role's threshold, duplicates counting once;
//! - [`trust`]: the [`TrustStore`] file with roles, expiry, revocation and thresholds;
//! - [`time`]: RFC 3339 timestamps as Unix seconds, for expiries.
//!
//! Modules import one way: `time`, `b64` → `types` → `error` → `keys` → `trust` → `envelope`.
//!
//! **Architecture invariant:** signet-sign knows nothing of bundles, manifests, indexes or
//! releases; those live above it (signet-registry) and hand it opaque payload bytes and a
//! payload type.
//!
//! ```
//! # fn main() -> Result<(), signet_sign::SignError> {
//! use signet_sign::{Envelope, Role, SecretKey, TrustStore};
//! let key = SecretKey::generate()?;
//! let trust = TrustStore::with_key(key.public(), Role::ReleaseSigner);
//! let envelope = Envelope::sign("application/vnd.example+json", b"{}".to_vec(), &key)?;
//! let received = Envelope::from_json(&envelope.to_json()?)?;
//! let verified = received.verify("application/vnd.example+json", &trust, Role::ReleaseSigner)?;
//! assert_eq!(verified.payload(), b"{}");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod b64;
pub mod envelope;
mod error;
pub mod keys;
pub mod time;
pub mod trust;
mod types;

pub use envelope::{pae, sign_detached, verify_detached, Envelope, VerifiedPayload};
pub use error::SignError;
pub use keys::{PublicKey, SecretKey};
pub use trust::{TrustStore, TrustedKey};
pub use types::KeyId;
pub use types::{RejectedSignature, Rejection, Role};

/// Harness entry points for `cargo fuzz` (built with `--cfg fuzzing` only).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Parses an envelope the way verification does: it must never panic.
    pub fn fuzz_parse_envelope(bytes: &[u8]) {
        if let Ok(env) = crate::Envelope::from_json(bytes) {
            let _ = env.to_json();
            let trust = crate::TrustStore::new();
            let _ = env.verify(env.payload_type(), &trust, crate::Role::BundleSigner);
        }
    }
}
