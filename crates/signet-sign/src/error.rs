//! The signing layer's error type: every rejection names its cause and carries the data needed
//! to act on it.

use std::path::PathBuf;

use crate::types::{RejectedSignature, Role};

/// Why a key, envelope or trust store was refused, or a signature check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// An operating-system call on `path` failed (writing a key file, creating its folder).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key, trust store or public key file could not be read (missing, a link or special
    /// file, over its cap).
    #[error(transparent)]
    File(#[from] signet_io::FileError),
    /// Bytes handed in are larger than the cap enforced before parsing.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large ("signature envelope", "trust store").
        what: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A key (public key text, key id, private key file) is malformed or unusable.
    #[error("bad key: {reason}")]
    BadKey {
        /// What is wrong.
        reason: String,
    },
    /// The trust store file is malformed or an edit would make it so.
    #[error("trust store: {reason}")]
    TrustStoreInvalid {
        /// What is wrong.
        reason: String,
    },
    /// A signature envelope is malformed (JSON, base64, lengths, counts).
    #[error("signature envelope is malformed: {reason}")]
    EnvelopeInvalid {
        /// What is wrong.
        reason: String,
    },
    /// An envelope carries another payload type than the one expected here.
    #[error("signature envelope has payload type {found:?}, expected {expected:?}")]
    PayloadTypeMismatch {
        /// The type this check wants.
        expected: String,
        /// The type the envelope carries.
        found: String,
    },
    /// Fewer distinct trusted, unrevoked, unexpired keys of the role signed than the threshold.
    #[error("{role} signatures: {valid} valid of {threshold} required{}", rejected_text(.rejected))]
    SignatureThreshold {
        /// The role whose keys were counted.
        role: Role,
        /// Signatures required.
        threshold: u32,
        /// Distinct key ids whose signatures counted.
        valid: usize,
        /// Every signature that did not count, with its key id and the reason.
        rejected: Vec<RejectedSignature>,
    },
    /// A trust store or envelope could not be serialized.
    #[error("cannot serialize: {reason}")]
    Serialize {
        /// The serializer's description of the problem.
        reason: String,
    },
}

fn rejected_text(rejected: &[RejectedSignature]) -> String {
    let mut out = String::new();
    for r in rejected {
        out.push_str(&format!("; key {}: {}", r.key_id, r.reason));
    }
    out
}

impl SignError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
