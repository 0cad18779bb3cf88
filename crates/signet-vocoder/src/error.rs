//! The crate's error type.

use signet_nn::NnError;
use thiserror::Error;

/// Errors from building or running the vocoder.
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
}

impl From<tch::TchError> for VocoderError {
    fn from(e: tch::TchError) -> Self {
        VocoderError::Nn(NnError::from(e))
    }
}
