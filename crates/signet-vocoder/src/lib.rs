//! HiFi-GAN on libtorch: the VITS decoder `dec` and the standalone mel vocoder.
//!
//! [`Generator`] turns a latent `[1, channels, frames]` into audio samples, `hop_length()`
//! samples per frame. It is usable on its own: build it from a [`signet_nn::Path`] that points at
//! the generator's tensors (`dec` in a VITS bundle) and a checked
//! [`HifiGanConfig`], whose schema (`signet_schema::hifigan`)
//! also lists the tensors a bundle must hold.
//!
//! Long latents are decoded in overlapping windows whose overlap covers the generator's
//! receptive field, so memory stays flat in the output length while each output sample sees
//! exactly the context it would in one pass; after each upsampling stage the activations are
//! cropped to the context the remaining layers still need, so little work is repeated. The
//! upsampling stages run in a channels-last layout, where oneDNN's convolutions with few
//! channels are several times faster than in the plain one.
//!
//! [`MelVocoder`] is the same generator as the second stage of a two-stage voice, in its own
//! bundle: a mel spectrogram in, audio out, with coqui-tts's inference padding. [`coqui`] maps a
//! Coqui HiFi-GAN checkpoint (read as data by `signet-checkpoint`) onto it.
//!
//! **Architecture invariant:** this crate knows no text, no acoustic model, no audio files; it
//! depends only on `signet-nn` (and the registry types that crate takes), on
//! `signet-schema` for its configuration and on `signet-checkpoint` (no libtorch) for the Coqui
//! mapping. Spectrogram normalization between two stages is `signet-audio`'s, applied by the
//! caller: the vocoder takes a mel already in its own normalization.
#![forbid(unsafe_code)]

pub mod coqui;
mod error;
pub mod hifigan;
mod mel;

pub use error::VocoderError;
pub use hifigan::{DecodeWindow, Generator, BUCKET_FRAMES, DEFAULT_WINDOW_FRAMES};
pub use mel::{MelVocoder, MelVocoderConfig, Vocoding, MAX_INFERENCE_PADDING};
pub use signet_schema::hifigan::{CheckedHifiGan, HifiGanConfig, ResBlockKind};
