//! The facade's error type: one enum wrapping every crate's errors.

use std::path::PathBuf;

/// Everything that can go wrong between text and audio.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text frontend refused the input or the phonemizer failed.
    #[error(transparent)]
    Text(#[from] signet_text::TextError),
    /// The voice bundle failed verification or could not be read.
    #[error(transparent)]
    Registry(#[from] signet_registry::RegistryError),
    /// The model could not be built or run.
    #[error(transparent)]
    Acoustic(#[from] signet_acoustic::AcousticError),
    /// The vocoder of a two-stage voice could not be built or run.
    #[error(transparent)]
    Vocoder(#[from] signet_vocoder::VocoderError),
    /// A two-stage voice's vocoder is not installed.
    #[error(
        "voice {voice:?} needs the vocoder {vocoder:?}, which is not installed in {store}; \
         import it with `signet vocoders import coqui` (the one the voice was imported with: \
         the voice pins its manifest digest)"
    )]
    VocoderNotFound {
        /// The voice.
        voice: String,
        /// The vocoder its manifest pins.
        vocoder: String,
        /// The store's vocoders folder.
        store: PathBuf,
    },
    /// A two-stage voice's vocoder does not verify (a file changed, a signature from a key
    /// the trust store does not hold...): the voice is refused with it.
    #[error("voice {voice:?} is refused: its vocoder {vocoder:?} failed verification: {source}")]
    VocoderUnverified {
        /// The voice.
        voice: String,
        /// The vocoder.
        vocoder: String,
        /// Why verification failed.
        #[source]
        source: Box<signet_registry::RegistryError>,
    },
    /// The installed vocoder of that name is not the one the voice pins (its manifest digest
    /// differs: re-imported, replaced, another vocoder under the same name).
    #[error(
        "voice {voice:?} is refused: the installed vocoder {vocoder:?} is not the one it was \
         imported with (manifest sha256 {found}, the voice pins {pinned}); re-import the voice \
         against this vocoder, or install the pinned one"
    )]
    VocoderMismatch {
        /// The voice.
        voice: String,
        /// The vocoder.
        vocoder: String,
        /// The manifest SHA-256 the voice pins.
        pinned: String,
        /// The installed vocoder's manifest SHA-256.
        found: String,
    },
    /// A two-stage voice's bundles do not form a voice (no vocoder pinned, no or unreadable
    /// spectrogram settings, a vocoder whose spectrograms do not fit the model's).
    #[error("voice {voice:?} is refused: {reason}")]
    VoiceStages {
        /// The voice.
        voice: String,
        /// What is wrong.
        reason: String,
    },
    /// The audio could not be encoded.
    #[error(transparent)]
    Audio(#[from] signet_audio::AudioError),
    /// No bundle of that name in the store.
    #[error("voice {name:?} is not installed in {store}; `signet voices list` shows what is")]
    VoiceNotFound {
        /// The voice asked for.
        name: String,
        /// The store's voices folder.
        store: PathBuf,
    },
    /// The voice's bundle carries a lexicon (listed and signed) that cannot be used: it does
    /// not read as its declared format, or it is written for another language. The voice is
    /// refused rather than spoken without the pronunciations its publisher signed.
    #[error(
        "voice {voice:?} is refused: its lexicon {file:?} {reason}; the bundle's publisher \
         must fix and re-sign it (or re-import the voice without --lexicon)"
    )]
    VoiceLexicon {
        /// The voice.
        voice: String,
        /// The lexicon's file name in the bundle.
        file: String,
        /// What is wrong, with the line for a file that does not read.
        reason: String,
    },
    /// The voice was imported from Coqui TTS with text settings Signet's Coqui tokenizer
    /// cannot reproduce (a bundle written by another tool or version: the importer refuses
    /// them); speaking it would give the model token ids it was not trained on.
    #[error(
        "voice {voice:?} was imported from Coqui TTS with text settings Signet cannot \
         reproduce: {reason}; re-import the model with a supported config.json"
    )]
    CoquiTextUnsupported {
        /// The voice.
        voice: String,
        /// Which setting, and why.
        reason: String,
    },
    /// A speaker name the voice does not have.
    #[error("voice has no speaker named {name:?}")]
    UnknownSpeaker {
        /// The speaker asked for.
        name: String,
    },
    /// A language name the voice does not have.
    #[error("voice has no language named {name:?} (its languages: {known})")]
    UnknownLanguage {
        /// The language asked for.
        name: String,
        /// The voice's language names, comma-separated (`none` for a voice that is not
        /// multilingual).
        known: String,
    },
    /// A setting is out of range.
    #[error("invalid setting {setting} = {value}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// The text produced nothing to speak.
    #[error("nothing to speak: the text has no words the voice can pronounce")]
    NothingToSpeak,
    /// The watermark key does not hold a key, or the mark could not be made.
    #[error(transparent)]
    Watermark(#[from] signet_watermark::WatermarkError),
    /// The watermark key file could not be read, made, or is not private.
    #[error("watermark key {path}: {reason}")]
    WatermarkKeyFile {
        /// The key file.
        path: PathBuf,
        /// What went wrong, and what to do about it.
        reason: String,
    },
    /// The content-credentials signing key file could not be read, made,
    /// or is not private.
    #[error("content-credentials key {path}: {reason}")]
    CredentialsKeyFile {
        /// The key file.
        path: PathBuf,
        /// What went wrong, and what to do about it.
        reason: String,
    },
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
