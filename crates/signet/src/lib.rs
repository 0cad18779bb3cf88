//! Signet: text-to-speech that only speaks with voices it can verify.
//!
//! A [`Synthesizer`] loads one voice from the local store — only after the
//! registry has verified the manifest's signatures against the store's trust
//! store, then the manifest and the digest of every file —
//! and turns text into audio: text → sentences → phonemes (espeak-ng, out of
//! process) → phoneme ids → VITS on libtorch → samples → the audio chain.
//!
//! There is one path from text to audio, a [`SpeechStream`] of one
//! [`Utterance`] per sentence; [`Synthesizer::speak`] collects it, and the
//! CLI and the HTTP server drive it too. Per-request settings (speed,
//! scales, speaker, [`AudioOptions`]) are a [`SpeakOptions`]. This crate
//! composes: the text work (segments, phonemes, word alignment) is
//! `signet-text`'s, the audio work (trim, resample, volume, WAV with
//! provenance) is `signet-audio`'s.
//!
//! ```no_run
//! # fn main() -> Result<(), signet::Error> {
//! let synth = signet::Synthesizer::builder()
//!     .voice("en_US-joe-medium")
//!     .build()?;
//! let speech = synth.speak("Hello from Signet.")?;
//! // The WAV file says it is synthetic speech, and which voice made it.
//! std::fs::write("hello.wav", speech.to_wav(signet::SampleFormat::S16)?)
//!     .map_err(|source| signet::Error::Io { path: "hello.wav".into(), source })?;
//! for d in &speech.diagnostics {
//!     eprintln!("note: {d}");
//! }
//!
//! // One request at twice the pace, sentence by sentence.
//! let faster = signet::SpeakOptions::default().with_speed(2.0);
//! for utterance in synth.speak_stream_with("One sentence. Then another.", &faster)? {
//!     let utterance = utterance?;
//!     println!("{} samples", utterance.audio.samples().len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! **API boundary:** this crate is what applications use; the crates it
//! composes are implementation details whose errors it wraps in [`Error`].
#![forbid(unsafe_code)]

mod error;
mod model;
mod options;
#[doc = include_str!("../../../docs/security-guide.md")]
pub mod security_guide {}
pub mod credentials;
pub mod store;
mod stream;
mod synthesizer;
pub mod watermark;

pub use error::Error;
pub use options::{Language, SpeakOptions, Speaker, MAX_SPEED, MIN_SPEED};
/// Seeds the model's noise (libtorch's global generator): the same seed and
/// input give the same samples with noise on. See [`signet_acoustic::manual_seed`].
pub use signet_acoustic::{
    default_threads, manual_seed, Effective, Precision, DISABLE_BF16_ENV, OMP_WAIT_POLICY_ENV,
};
pub use signet_audio::{
    write_wav_stream, Audio, AudioOptions, Provenance, SampleFormat, VolumeChange, WavInfo,
    WavLimits, WavWriter, MAX_VOLUME, TRIM_KEEP_MS, TRIM_THRESHOLD,
};
pub use signet_text::{
    looks_like_ssml, Diagnostic, EspeakConfig, HelperSandbox, LandlockState, Lexicon, LexiconIssue,
    Limits, MarkTiming, PhonemeTiming, PreparedSsml, SandboxReport, TextError, Timings, WordTiming,
};
pub use store::Store;
pub use stream::{SpeechStream, Utterance, ESTIMATE_FRAMES_PER_ID};
pub use synthesizer::{
    list_voices, probe_espeak_sandbox, Scales, Speech, Synthesizer, SynthesizerBuilder,
    VoiceSummary, DEFAULT_VOICE,
};
pub use watermark::{Payload, Watermark, WatermarkKey};
