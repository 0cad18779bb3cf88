//! The crate's error type.

use signet_registry::RegistryError;
use thiserror::Error;

/// Errors from loading tensors or running a layer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NnError {
    /// A module asked for a tensor the weights file does not have.
    #[error("missing tensor `{name}`")]
    MissingTensor {
        /// Full tensor name.
        name: String,
    },
    /// The weights file holds a tensor no module claimed.
    #[error("unexpected tensor `{name}`: no module of this architecture uses it")]
    UnexpectedTensor {
        /// Full tensor name.
        name: String,
    },
    /// A tensor's shape differs from the one the architecture requires.
    #[error("tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Full tensor name.
        tensor: String,
        /// Shape the module requires.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is not stored as 32-bit floats.
    #[error("tensor `{tensor}` has dtype {found}, expected F32")]
    WrongDtype {
        /// Full tensor name.
        tensor: String,
        /// The dtype in the file.
        found: String,
    },
    /// Two modules asked for the same tensor: a bug in the model code.
    #[error("tensor `{name}` was requested twice")]
    TensorTakenTwice {
        /// Full tensor name.
        name: String,
    },
    /// The verified bundle's weights could not be parsed.
    #[error("weights file: {0}")]
    Registry(#[from] RegistryError),
    /// The file does not fit the architecture's schema in another way.
    #[error(transparent)]
    Schema(signet_schema::SchemaError),
    /// A libtorch operation failed. The message is libtorch's first line, capped in length.
    #[error("libtorch operation failed: {message}")]
    Torch {
        /// libtorch's message, first line only, at most 300 characters.
        message: String,
    },
}

impl NnError {
    /// A schema comparison's error in this crate's terms.
    pub(crate) fn from_schema(e: signet_schema::SchemaError) -> Self {
        use signet_schema::SchemaError;
        match e {
            SchemaError::MissingTensor { tensor } => NnError::MissingTensor { name: tensor },
            SchemaError::UnexpectedTensor { tensor } => NnError::UnexpectedTensor { name: tensor },
            SchemaError::ShapeMismatch {
                tensor,
                expected,
                found,
            } => NnError::ShapeMismatch {
                tensor,
                expected,
                found,
            },
            other => NnError::Schema(other),
        }
    }
}

impl From<tch::TchError> for NnError {
    fn from(e: tch::TchError) -> Self {
        NnError::Torch {
            message: torch_message(&e),
        }
    }
}

/// The first line of a libtorch error, at most 300 characters: libtorch messages can carry
/// multi-kilobyte C++ backtraces that belong in no user-facing error.
pub fn torch_message(e: &tch::TchError) -> String {
    let full = match e {
        tch::TchError::Torch(message) => message.clone(),
        other => other.to_string(),
    };
    let first = full.lines().next().unwrap_or("").trim();
    let mut out: String = first.chars().take(300).collect();
    if out.len() < first.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_messages_keep_their_first_line_only() {
        let long = format!("shape mismatch{}\nframe #0: c10::Error", "x".repeat(400));
        let msg = torch_message(&tch::TchError::Torch(long));
        assert!(!msg.contains('\n'));
        assert!(msg.chars().count() <= 301);
        assert!(msg.ends_with('…'));
        let short = torch_message(&tch::TchError::Torch("bad\nframe #0".into()));
        assert_eq!(short, "bad");
    }
}
