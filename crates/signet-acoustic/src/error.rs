//! The crate's error type.

use signet_nn::NnError;
use signet_schema::SchemaError;
use signet_vocoder::VocoderError;
use thiserror::Error;

/// Errors from loading a VITS voice or synthesizing with it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AcousticError {
    /// The bundle describes another architecture.
    #[error(
        "architecture `{kind}` is not supported here (expected `vits`, `glow_tts` or `tacotron2` by loader)"
    )]
    WrongArchitecture {
        /// The manifest's `architecture.kind`.
        kind: String,
    },
    /// `architecture.config` does not parse as a VITS config (unknown, missing or mistyped key).
    #[error("architecture.config is not a valid VITS config: {reason}")]
    BadConfig {
        /// The parser's message.
        reason: String,
    },
    /// A config value is out of range or inconsistent with another (the VITS schema's
    /// validation), or the weights do not fit the schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The manifest and the architecture config disagree.
    #[error("manifest says {key} = {manifest} but architecture.config says {config}")]
    ConfigMismatch {
        /// The disagreeing quantity.
        key: &'static str,
        /// Value in the manifest.
        manifest: u64,
        /// Value in the architecture config.
        config: u64,
    },
    /// No phoneme ids were given.
    #[error("no phoneme ids to synthesize")]
    EmptyInput,
    /// More ids than one call accepts.
    #[error("{len} phoneme ids exceed the limit of {limit} per call; split the text into shorter sentences")]
    TooManyIds {
        /// Ids given.
        len: usize,
        /// The limit ([`MAX_IDS`](crate::MAX_IDS)).
        limit: usize,
    },
    /// An id is outside the voice's vocabulary.
    #[error("phoneme id {id} at position {index} is outside the vocabulary 0..{n_vocab}")]
    IdOutOfRange {
        /// Position in the input.
        index: usize,
        /// The id.
        id: i64,
        /// Vocabulary size.
        n_vocab: usize,
    },
    /// The speaker id is outside `0..num_speakers`.
    #[error("speaker {speaker} is outside 0..{num_speakers}")]
    SpeakerOutOfRange {
        /// The speaker id given.
        speaker: i64,
        /// Speakers of the voice.
        num_speakers: usize,
    },
    /// A speaker id was given for a single-speaker voice.
    #[error("speaker {speaker} was given but this voice has a single speaker")]
    SingleSpeakerVoice {
        /// The speaker id given.
        speaker: i64,
    },
    /// The language id is outside `0..num_languages`.
    #[error("language {language} is outside 0..{num_languages}")]
    LanguageOutOfRange {
        /// The language id given.
        language: i64,
        /// Languages of the voice.
        num_languages: usize,
    },
    /// A language id was given for a voice without a language embedding.
    #[error("language {language} was given but this voice is not multilingual")]
    NotMultilingual {
        /// The language id given.
        language: i64,
    },
    /// A synthesis scale is unusable.
    #[error("{name} = {value} is invalid: {reason}")]
    InvalidScale {
        /// `noise_scale`, `length_scale` or `noise_w`.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The predicted durations add up to more frames than one call may produce.
    #[error("predicted output of {frames} frames exceeds the limit of {limit}; use a smaller length_scale or shorter input")]
    OutputTooLong {
        /// Frames predicted.
        frames: u64,
        /// The limit ([`MAX_FRAMES`](crate::MAX_FRAMES)).
        limit: u64,
    },
    /// The duration predictor produced a non-finite value (corrupt weights).
    #[error("the duration predictor produced a non-finite duration at position {index}")]
    NonFiniteDuration {
        /// Position in the input.
        index: usize,
    },
    /// An autoregressive decoder (Tacotron2) reached its step cap without emitting stop.
    #[error("the decoder did not emit stop within {steps} steps for {ids} ids; the model's stop token does not fire on this input (an untrained or damaged model, or input unlike its training data)")]
    DecoderDidNotStop {
        /// The cap it reached.
        steps: usize,
        /// Ids given.
        ids: usize,
    },
    /// Loading a tensor or running a layer failed.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The vocoder failed.
    #[error(transparent)]
    Vocoder(#[from] VocoderError),
    /// A config value of a non-VITS architecture is out of range or inconsistent.
    #[error("{architecture} config `{key}` is invalid: {reason}")]
    InvalidConfig {
        /// The architecture (`glow_tts`, `tacotron2`).
        architecture: &'static str,
        /// The key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A Coqui config asks for something Signet does not run.
    #[error("Coqui config `{key}`: {reason}; Signet does not run this variant")]
    UnsupportedCoqui {
        /// The config key.
        key: String,
        /// What was found.
        reason: String,
    },
    /// A checkpoint tensor does not map onto the model.
    #[error("checkpoint tensor {tensor} {reason}; the checkpoint does not match its config.json")]
    Mapping {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint's state dict could not be read as parameters.
    #[error(transparent)]
    Checkpoint(#[from] signet_checkpoint::CheckpointError),
}

impl From<tch::TchError> for AcousticError {
    fn from(e: tch::TchError) -> Self {
        AcousticError::Nn(NnError::from(e))
    }
}
