//! The crate's error type.

use signet_nn::NnError;
use thiserror::Error;

/// Errors from building or running the vocoder.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VocoderError {
    /// A hyper-parameter is out of its allowed range or inconsistent with another.
    #[error("invalid vocoder config `{key}`: {reason}")]
    InvalidConfig {
        /// The config key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
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
}

impl From<tch::TchError> for VocoderError {
    fn from(e: tch::TchError) -> Self {
        VocoderError::Nn(NnError::from(e))
    }
}
