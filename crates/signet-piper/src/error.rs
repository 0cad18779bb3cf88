//! The importer's single error type.

use std::path::PathBuf;

/// Why a Piper voice could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PiperError {
    /// An operating-system call on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An input file is larger than the importer's cap.
    #[error("{what} exceeds the limit of {limit} bytes (raise it with ImportOptions)")]
    TooLarge {
        /// Which file.
        what: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The ONNX file is not a well-formed protobuf `ModelProto`.
    #[error("malformed ONNX ({context}): {reason}")]
    MalformedOnnx {
        /// The message being decoded when the problem was found.
        context: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The ONNX file uses a feature the importer refuses to handle.
    #[error("unsupported ONNX feature: {reason}")]
    UnsupportedOnnx {
        /// The feature.
        reason: String,
    },
    /// A tensor that looks like a parameter maps to no parameter the architecture has.
    #[error("unexpected tensor {tensor:?}: {reason}")]
    UnexpectedTensor {
        /// The tensor (initializer or mapped parameter name).
        tensor: String,
        /// Why it was refused.
        reason: String,
    },
    /// A parameter the architecture needs is absent.
    #[error("missing tensor {tensor:?}")]
    MissingTensor {
        /// The parameter name.
        tensor: String,
    },
    /// A parameter is stored with a data type other than 32-bit float.
    #[error("parameter {tensor:?} has ONNX data type {data_type}, expected FLOAT (1)")]
    NonFloatParameter {
        /// The parameter name.
        tensor: String,
        /// The ONNX `TensorProto.DataType` number found.
        data_type: i32,
    },
    /// A parameter's shape disagrees with the configuration inferred from the model.
    #[error("tensor {tensor:?} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The parameter name.
        tensor: String,
        /// Shape implied by the inferred configuration.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A parameter's data is inconsistent with its declared shape, or not finite.
    #[error("tensor {tensor:?} has bad data: {reason}")]
    BadTensorData {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// The architecture hyper-parameters cannot be inferred consistently from the graph.
    #[error("cannot infer the architecture: {reason}")]
    Architecture {
        /// What is inconsistent.
        reason: String,
    },
    /// The JSON config is not valid JSON (or not an object).
    #[error("voice config is not valid JSON: {reason}")]
    ConfigSyntax {
        /// The parser's message.
        reason: String,
    },
    /// A key of the JSON config is missing, mistyped or out of range.
    #[error("voice config key `{key}`: {reason}")]
    Config {
        /// Dotted path of the key, e.g. `audio.sample_rate`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The JSON config and the model disagree.
    #[error("voice config key `{key}` is {config} but the model implies {model}")]
    ConfigMismatch {
        /// Dotted path of the key.
        key: &'static str,
        /// Value in the JSON config.
        config: String,
        /// Value implied by the model.
        model: String,
    },
    /// No usable voice name was given or derivable.
    #[error("bad voice name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Writing or checking the bundle failed.
    #[error(transparent)]
    Registry(#[from] signet_registry::RegistryError),
}

impl PiperError {
    pub(crate) fn arch(reason: impl Into<String>) -> Self {
        Self::Architecture {
            reason: reason.into(),
        }
    }
}
