//! VITS on libtorch: the acoustic model (text encoder, duration predictor, flow) composed with
//! the HiFi-GAN decoder from `signet-vocoder` into one synthesizer, [`Vits`].
//!
//! Follows Kim et al. (2021), "Conditional Variational Autoencoder with Adversarial Learning for
//! End-to-End Text-to-Speech"; reference implementation jaywalnut310/vits and Piper's training
//! code, whose tensor names the bundles keep. The configuration, its validation, the constants
//! upstream hard-codes and the list of tensors a bundle holds are the VITS schema of
//! `signet-schema` ([`VitsConfig`], [`CheckedVits`]), shared with the Piper importer; this crate
//! builds and runs the layers. One file per module family: [`text_encoder`], [`duration`] (with
//! the spline in `spline`), [`flow`], and `vits` (the composition).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use signet_acoustic::{Scales, Vits};
//! use std::path::Path;
//! let trust = signet_registry::TrustStore::load(Path::new("trust.toml"))?;
//! let bundle = signet_registry::verify_bundle_dir(Path::new("voices/en_US-joe-medium"), &trust)?;
//! let vits = Vits::from_bundle(&bundle)?;
//! let out = vits.infer(&[1, 0, 20, 0, 2], None, &Scales::DETERMINISTIC)?;
//! assert_eq!(out.samples.len(), out.durations.iter().sum::<i64>() as usize * vits.hop_length());
//! # Ok(()) }
//! ```
//!
//! ## Speed
//!
//! Inference is batch-1 and unpadded from the caller's side; inside, ids are padded to a
//! multiple of 16 and latent frames to a multiple of 32, with upstream's masking making the
//! padding exact, so that oneDNN reuses the convolution kernels it compiled for earlier
//! sentences (building them again for every new length costs more than synthesizing a short
//! sentence). The decoder runs channels-last and in fixed-size overlapping windows; see
//! `signet-vocoder`. Most of the time goes to oneDNN's convolutions, close to the CPU's peak.
//! libtorch parallelizes each operation with OpenMP threads ([`set_num_threads`];
//! [`default_threads`] is one per physical core when idle OpenMP threads sleep, else 1). Concurrent [`Vits::infer`] calls run at
//! the same time on replicas sharing the weights, so on a busy machine several syntheses
//! with one thread each use the cores better than one synthesis with several.
//!
//! **Architecture invariant:** this crate depends on `signet-vocoder` (the decoder is part of
//! the VITS model, so composing it here keeps one `from_bundle`), never the other way round.
//! It knows no text, no CLI and no audio files: ids in, samples out.
//!
//! **API boundary:** models are built only from a
//! [`VerifiedBundle`](signet_registry::VerifiedBundle); the file's tensors are compared with the
//! schema's declared ones by name, dtype and shape before any is read, and a tensor no module
//! takes is an error.
#![forbid(unsafe_code)]

pub mod duration;
mod error;
pub mod flow;
pub mod glow_tts;
mod spline;
pub mod tacotron2;
pub mod text_encoder;
mod vits;

pub use error::AcousticError;
pub use signet_nn::{
    default_threads, omp_wait_is_passive, resolve_precision, set_num_threads, CpuFeatures,
    Effective, Precision, DISABLE_BF16_ENV, OMP_WAIT_POLICY_ENV,
};
pub use signet_schema::{CheckedVits, VitsConfig};
pub use vits::{Conditioning, Inference, Scales, Synthesis, Vits, FIRST_WINDOW_FRAMES};

/// Most phoneme ids one [`Vits::infer`] call accepts. Attention memory grows with the square of
/// the length (about 1.6 GB of scores at this limit); callers split text into sentences.
pub const MAX_IDS: usize = 10_000;

/// Most latent frames one [`Vits::infer`] call produces (about 20 minutes of audio at 22050 Hz
/// with a hop of 256). The decoder works in bounded windows; this caps the flow's memory and the
/// returned buffer.
pub const MAX_FRAMES: usize = 100_000;

/// Seeds libtorch's global random generator, the source of the noise scaled by `noise_scale`
/// and `noise_w`. It is process-wide: concurrent noisy synthesis in one process shares it.
pub fn manual_seed(seed: i64) {
    tch::manual_seed(seed);
}

/// The `architecture.config` of a verified bundle of kind `kind`, read strictly into a
/// spectrogram model's config (Glow-TTS, Tacotron2); the caller validates it.
pub(crate) fn bundle_config<C: serde::de::DeserializeOwned>(
    bundle: &signet_registry::VerifiedBundle,
    kind: &'static str,
) -> Result<C, AcousticError> {
    let manifest = bundle.manifest();
    if manifest.architecture.kind != kind {
        return Err(AcousticError::WrongArchitecture {
            kind: manifest.architecture.kind.clone(),
        });
    }
    toml::Value::Table(manifest.architecture.config.clone())
        .try_into()
        .map_err(|e: toml::de::Error| AcousticError::InvalidConfig {
            architecture: kind,
            key: "architecture.config",
            reason: e.message().to_owned(),
        })
}
