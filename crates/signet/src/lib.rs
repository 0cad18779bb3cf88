//! Signet: text-to-speech that only speaks with voices it can verify.
//!
//! A [`Synthesizer`] loads one voice from the local store — only after the
//! registry has verified the manifest's signatures against the store's trust
//! store, then the manifest and the digest of every file —
//! and turns text into audio: text → sentences → phonemes (espeak-ng, out of
//! process) → phoneme ids → VITS on libtorch → samples.
//!
//! ```no_run
//! # fn main() -> Result<(), signet::Error> {
//! let synth = signet::Synthesizer::builder()
//!     .voice("en_US-joe-medium")
//!     .build()?;
//! let speech = synth.speak("Hello from Signet.")?;
//! std::fs::write("hello.wav", speech.audio.to_wav(signet::SampleFormat::S16)?)
//!     .map_err(|source| signet::Error::Io { path: "hello.wav".into(), source })?;
//! for d in &speech.diagnostics {
//!     eprintln!("note: {d}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! **API boundary:** this crate is what applications use; the crates it
//! composes are implementation details whose errors it wraps in [`Error`].
#![forbid(unsafe_code)]

mod error;
#[doc = include_str!("../../../docs/security-guide.md")]
pub mod security_guide {}
pub mod store;
mod stream;
mod synthesizer;
mod timing;

pub use error::Error;
/// Seeds the model's noise (libtorch's global generator): the same seed and
/// input give the same samples with noise on. See [`signet_acoustic::manual_seed`].
pub use signet_acoustic::manual_seed;
pub use signet_audio::{
    write_wav_stream, Audio, Provenance, SampleFormat, VolumeChange, WavInfo, WavLimits,
};
pub use signet_text::{Diagnostic, EspeakConfig, Limits, TextError};
pub use store::Store;
pub use stream::{
    AudioOptions, SpeechChunk, SpeechStream, MAX_VOLUME, TRIM_KEEP_MS, TRIM_THRESHOLD,
};
pub use synthesizer::{
    list_voices, Scales, Speech, Synthesizer, SynthesizerBuilder, VoiceSummary, DEFAULT_VOICE,
};
pub use timing::{PhonemeTiming, Timings, WordTiming};
