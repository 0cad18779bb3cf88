//! The importer's single error type.

use std::path::PathBuf;

/// Why a Coqui checkpoint could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoquiError {
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
    /// The checkpoint is not plain data or breaks a reader bound (the reader's reason).
    #[error("checkpoint refused: {0}")]
    Checkpoint(#[from] signet_checkpoint::CheckpointError),
    /// `config.json` is not valid JSON or a key has the wrong type.
    #[error("config.json: {reason}")]
    BadConfig {
        /// What is wrong, with the key.
        reason: String,
    },
    /// The config names a model Signet does not run.
    #[error("Coqui model {model:?} is not supported: {reason}")]
    UnsupportedModel {
        /// The config's `model` key.
        model: String,
        /// Why, and what works instead.
        reason: &'static str,
    },
    /// A config setting Signet's definition of the architecture does not implement.
    #[error("config key `{key}` = {value} is not supported: {reason}")]
    UnsupportedSetting {
        /// The key, dotted (`model_args.kernel_size_flow`).
        key: &'static str,
        /// Its value, as JSON.
        value: String,
        /// Why, and what is supported.
        reason: &'static str,
    },
    /// The text settings are ones Signet's Coqui tokenizer cannot reproduce (a cleaner it
    /// lacks, `add_blank` without a blank symbol...).
    #[error("the text settings cannot be reproduced: {source}")]
    UnsupportedText {
        /// What the tokenizer refused.
        #[from]
        source: signet_text::TextError,
    },
    /// The text settings name a phonemizer Signet does not have.
    #[error(
        "phonemizer {name:?} is not supported: Signet phonemizes with its espeak-ng helper only \
         (`phonemizer: \"espeak\"`)"
    )]
    UnsupportedPhonemizer {
        /// The config's `phonemizer`.
        name: String,
    },
    /// A tensor maps to no parameter of the architecture.
    #[error("unexpected tensor {tensor:?}: {reason}")]
    UnexpectedTensor {
        /// The checkpoint's name for it.
        tensor: String,
        /// Why it was refused.
        reason: String,
    },
    /// A parameter the architecture needs is absent (Signet's name).
    #[error("missing tensor {tensor:?}")]
    MissingTensor {
        /// The parameter name.
        tensor: String,
    },
    /// A parameter's shape disagrees with the configuration (Signet's name).
    #[error("tensor {tensor:?} has shape {found:?}, expected {expected:?} from config.json")]
    ShapeMismatch {
        /// The parameter name.
        tensor: String,
        /// Shape the configuration implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A parameter is not a floating-point tensor, or its values are not finite.
    #[error("tensor {tensor:?}: {reason}")]
    BadTensor {
        /// The checkpoint's name for it.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// The hyper-parameters read from the config do not form a valid architecture.
    #[error(transparent)]
    Schema(signet_schema::SchemaError),
    /// The voice name is not usable.
    #[error("bad voice name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The model crate's mapping refused the checkpoint (a Glow-TTS or Tacotron2 tensor or
    /// setting; the reason names it).
    #[error(transparent)]
    Acoustic(#[from] signet_acoustic::AcousticError),
    /// The vocoder mapping refused the checkpoint (a HiFi-GAN tensor or setting; the reason
    /// names it).
    #[error(transparent)]
    Vocoder(#[from] signet_vocoder::VocoderError),
    /// The spectrogram settings (`audio` in config.json) are not usable.
    #[error(transparent)]
    Audio(#[from] signet_audio::AudioError),
    /// A spectrogram model was imported without the vocoder that speaks it.
    #[error(
        "Coqui model {model:?} makes mel spectrograms, not audio: import its vocoder first \
         (`signet vocoders import coqui VOCODER.pth --config config.json --name NAME`) and \
         name it with --vocoder NAME"
    )]
    VocoderRequired {
        /// The config's `model` key.
        model: String,
    },
    /// A vocoder was named for a model that makes audio itself.
    #[error("Coqui model {model:?} makes audio itself and takes no vocoder; leave out --vocoder")]
    VocoderNotUsed {
        /// The config's `model` key.
        model: String,
    },
    /// The named vocoder is not in the store.
    #[error(
        "vocoder {name:?} is not installed in {dir}; import it with `signet vocoders import \
         coqui` (`signet vocoders list` shows what is installed)"
    )]
    VocoderNotInstalled {
        /// The vocoder asked for.
        name: String,
        /// The store's vocoders folder.
        dir: PathBuf,
    },
    /// The named vocoder's bundle does not verify against the trust store.
    #[error("vocoder {name:?} failed verification, so no voice may pin it: {source}")]
    VocoderUnverified {
        /// The vocoder.
        name: String,
        /// Why verification failed.
        #[source]
        source: signet_registry::RegistryError,
    },
    /// The vocoder does not take the spectrograms the model makes.
    #[error(
        "vocoder {vocoder:?} does not fit this model: its {what} is {vocoder_value}, the \
         model's is {model_value}; import a vocoder trained for the model's audio settings"
    )]
    VocoderMismatch {
        /// The vocoder.
        vocoder: String,
        /// Which setting differs (`architecture`, `mel bins`, `sample rate`, `hop length`).
        what: &'static str,
        /// The vocoder's value.
        vocoder_value: String,
        /// The model's value.
        model_value: String,
    },
    /// Writing or verifying the bundle failed.
    #[error(transparent)]
    Registry(#[from] signet_registry::RegistryError),
    /// A file Coqui ships beside the model (speakers, d-vectors, language ids) is malformed or
    /// disagrees with the model.
    #[error("the file config.json's `{key}` names: {reason}")]
    BadSideFile {
        /// The config key naming the file (`speakers_file`, `d_vector_file`,
        /// `language_ids_file`).
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The model needs a file Coqui ships beside it, and it was neither given nor found.
    #[error(
        "config.json's `{key}` is needed ({why}) but {file} was not found beside config.json; \
         put it there or pass its path"
    )]
    MissingSideFile {
        /// The config key naming the file.
        key: &'static str,
        /// The file looked for.
        file: String,
        /// What the model needs it for.
        why: &'static str,
    },
}

impl From<signet_schema::SchemaError> for CoquiError {
    fn from(e: signet_schema::SchemaError) -> Self {
        use signet_schema::SchemaError as S;
        match e {
            S::MissingTensor { tensor } => CoquiError::MissingTensor { tensor },
            S::UnexpectedTensor { tensor } => CoquiError::UnexpectedTensor {
                tensor,
                reason: "not a parameter of this architecture as config.json describes it".into(),
            },
            S::ShapeMismatch {
                tensor,
                expected,
                found,
            } => CoquiError::ShapeMismatch {
                tensor,
                expected,
                found,
            },
            other => CoquiError::Schema(other),
        }
    }
}

impl CoquiError {
    pub(crate) fn config(reason: impl Into<String>) -> Self {
        CoquiError::BadConfig {
            reason: reason.into(),
        }
    }
}
