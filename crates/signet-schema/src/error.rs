//! The crate's error type.

use thiserror::Error;

/// Why a configuration or a set of tensors does not fit an architecture's schema.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A hyper-parameter is out of its range or inconsistent with another.
    #[error("invalid {architecture} config `{key}`: {reason}")]
    InvalidConfig {
        /// The architecture (`vits`, `hifigan`).
        architecture: &'static str,
        /// The config key, as upstream names it.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor the architecture declares is absent.
    #[error("missing tensor `{tensor}`")]
    MissingTensor {
        /// The tensor name.
        tensor: String,
    },
    /// A tensor the architecture does not declare is present.
    #[error("unexpected tensor `{tensor}`: not a parameter of this architecture")]
    UnexpectedTensor {
        /// The tensor name.
        tensor: String,
    },
    /// A tensor's shape differs from the declared one.
    #[error("tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The tensor name.
        tensor: String,
        /// The declared shape.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
}
