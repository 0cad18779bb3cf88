//! The crate's one error type.

use thiserror::Error;

/// Why a checkpoint was refused. Every variant names what was found and, where a limit was hit,
/// the limit; nothing in a refused file has been executed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file is neither a zip archive nor a pickle stream.
    #[error("not a PyTorch checkpoint: {reason}")]
    NotACheckpoint {
        /// What the first bytes looked like.
        reason: String,
    },
    /// A format Signet recognizes but does not read (TorchScript, the pre-0.4 tar format,
    /// big-endian data, an unknown serialization version).
    #[error("unsupported checkpoint: {what}")]
    Unsupported {
        /// What was found.
        what: String,
    },
    /// The pickle names a global that is not on the allow-list: loading the file with pickle
    /// would import it, and possibly call it.
    #[error(
        "the checkpoint imports {module}.{name} (pickle offset {offset}), which is not plain data: \
         loading it with pickle could run code; Signet refuses it (run `signet scan` for a full report)"
    )]
    ForbiddenGlobal {
        /// The module as written in the file (escaped for display).
        module: String,
        /// The attribute as written in the file (escaped for display).
        name: String,
        /// Byte offset of the opcode in the pickle.
        offset: usize,
    },
    /// An opcode that runs or looks up code (`INST`, `OBJ`, `NEWOBJ`, `EXT*`, `REDUCE` or
    /// `BUILD` on something not allowed), refused.
    #[error("the checkpoint's pickle would call {callable} with {opcode} (offset {offset}); Signet refuses it")]
    ForbiddenCall {
        /// The opcode.
        opcode: &'static str,
        /// What it would call.
        callable: String,
        /// Byte offset of the opcode in the pickle.
        offset: usize,
    },
    /// The pickle is malformed (unknown opcode, stack underflow, bad argument, truncated).
    #[error("malformed pickle at offset {offset}: {reason}")]
    MalformedPickle {
        /// Byte offset of the opcode in the pickle.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A bound was exceeded.
    #[error("checkpoint over a limit: {what} is {found}, the limit is {limit} (`signet_checkpoint::Limits::{field}`)")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The limit's field in [`crate::Limits`].
        field: &'static str,
        /// The value found (or declared).
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// The zip archive is malformed or uses something Signet refuses (compression, encryption,
    /// path tricks, duplicate or overlapping entries).
    #[error("malformed checkpoint archive: {reason}")]
    BadArchive {
        /// What was wrong.
        reason: String,
    },
    /// A tensor or storage is inconsistent with the bytes the file holds.
    #[error("tensor {tensor} is inconsistent: {reason}")]
    BadTensor {
        /// The tensor's name where known, else its storage key.
        tensor: String,
        /// What was wrong.
        reason: String,
    },
    /// The checkpoint's structure is not what a model checkpoint holds.
    #[error("unexpected checkpoint layout: {reason}")]
    BadLayout {
        /// What was wrong.
        reason: String,
    },
}

impl CheckpointError {
    pub(crate) fn malformed(offset: usize, reason: impl Into<String>) -> Self {
        Self::MalformedPickle {
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn archive(reason: impl Into<String>) -> Self {
        Self::BadArchive {
            reason: reason.into(),
        }
    }

    pub(crate) fn limit(what: &'static str, field: &'static str, found: u64, limit: u64) -> Self {
        Self::LimitExceeded {
            what,
            field,
            found,
            limit,
        }
    }
}
