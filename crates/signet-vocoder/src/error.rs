//! The crate's error type.

use signet_checkpoint::CheckpointError;
use signet_nn::NnError;
use signet_schema::SchemaError;
use thiserror::Error;

/// Errors from building or running the vocoder, or mapping a foreign checkpoint onto it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VocoderError {
    /// The latent handed to the generator has the wrong shape.
    #[error("latent has shape {found:?}, expected [1, {channels}, frames >= 1]")]
    BadLatent {
        /// Channels the generator takes.
        channels: usize,
        /// Shape received.
        found: Vec<i64>,
    },
    /// Loading a tensor or running a layer failed.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The generator configuration is invalid.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A vocoder bundle's `architecture.config` is malformed or out of range.
    #[error("invalid vocoder configuration: {reason}")]
    BadConfig {
        /// What is wrong.
        reason: String,
    },
    /// The bundle holds another architecture.
    #[error("bundle architecture is {kind:?}, not a HiFi-GAN vocoder (\"hifigan\")")]
    WrongArchitecture {
        /// The manifest's `architecture.kind`.
        kind: String,
    },
    /// A Coqui vocoder config asks for something Signet does not run.
    #[error(
        "Coqui vocoder config `{key}`: {reason}; Signet runs Coqui's HiFi-GAN generator without it"
    )]
    UnsupportedCoqui {
        /// The config key.
        key: String,
        /// What was found.
        reason: String,
    },
    /// A checkpoint tensor does not map onto the generator.
    #[error("checkpoint tensor {tensor} {reason}; the checkpoint does not match its config.json")]
    Mapping {
        /// The tensor (generator-relative name).
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint's state dict could not be read as parameters.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl From<tch::TchError> for VocoderError {
    fn from(e: tch::TchError) -> Self {
        VocoderError::Nn(NnError::from(e))
    }
}
