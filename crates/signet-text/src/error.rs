//! The crate's error type and the diagnostics it reports alongside successful results.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::{ErrorCode, ProtocolError};

/// Everything that can make a text-frontend call fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A Coqui TTS text setting that Signet cannot reproduce faithfully.
    #[error(
        "Coqui text setting {setting} = {value} is not supported: {reason}; re-export the \
         model's config.json with a supported setting, or use another voice"
    )]
    CoquiSettingUnsupported {
        /// The config key (`text_cleaner`, `add_blank`, ...).
        setting: &'static str,
        /// Its value, as written.
        value: String,
        /// Why Signet refuses it.
        reason: String,
    },
    /// One request to the phonemizer is larger than the helper protocol allows (the
    /// frontend cuts text into much smaller segments; direct callers of the phonemizer must).
    #[error("phonemizer request of {bytes} bytes exceeds the helper's cap of {limit} bytes; split the text")]
    InputTooLarge {
        /// Size of the request's text.
        bytes: usize,
        /// Largest size accepted.
        limit: usize,
    },
    /// The input bytes are not valid UTF-8.
    #[error("input is not valid UTF-8: invalid byte at offset {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A configured limit of [`Limits`](crate::Limits) was exceeded.
    #[error(
        "this input needs {} {}, more than {limit} = {}; {hint}",
        limit_value_text(.limit, *.value),
        unit_of(.limit),
        limit_value_text(.limit, *.max)
    )]
    LimitExceeded {
        /// Which limit (`max_input_bytes`, `max_chars`, ...).
        limit: &'static str,
        /// The measured value, in the limit's unit; for `max_output_seconds`, milliseconds
        /// (see [`limit_value_text`]).
        value: u64,
        /// The largest value allowed, in the same unit as `value`.
        max: u64,
        /// How to change the limit (CLI flag and config key; library users set the
        /// [`Limits`](crate::Limits) field of the same name).
        hint: &'static str,
    },
    /// An SSML document is not well-formed XML, or breaks a rule of the SSML that Signet
    /// reads (root not `<speak>`, text outside it, an undeclared entity).
    #[error("SSML line {line}, column {column}: {message}")]
    SsmlMalformed {
        /// Line of the problem, from 1.
        line: u64,
        /// Column (in characters), from 1.
        column: u64,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An SSML document holds a construct that Signet refuses on principle: a DTD, an
    /// entity declaration or reference beyond the five predefined ones, a processing
    /// instruction. Nothing it names is ever read or fetched.
    #[error("SSML line {line}, column {column}: {what} is refused: {reason}")]
    SsmlRefused {
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
        /// The construct (`a DOCTYPE`, `an entity reference`, ...).
        what: &'static str,
        /// Why, and what to write instead.
        reason: &'static str,
    },
    /// An SSML document passes a structural limit of [`Limits`](crate::Limits).
    #[error("SSML line {line}, column {column}: the document passes {limit} = {max}; {hint}")]
    SsmlLimitExceeded {
        /// Which limit (`max_ssml_depth`, `max_ssml_elements`, `max_ssml_attribute_bytes`).
        limit: &'static str,
        /// The limit's value.
        max: u64,
        /// Line where it was passed, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
        /// How to change the limit.
        hint: &'static str,
    },
    /// An SSML document's `xml:lang` names a language other than the voice's.
    #[error("the SSML document is in {document:?} but the voice speaks {voice:?}; choose a voice for that language or change the document's xml:lang")]
    SsmlLanguageMismatch {
        /// The document's `xml:lang`.
        document: String,
        /// The voice's language.
        voice: String,
    },
    /// A lexicon file could not be read as a lexicon.
    #[error("lexicon {source_name}: {message}")]
    LexiconInvalid {
        /// The file's name, or what it came from.
        source_name: String,
        /// What is wrong, with a line where known.
        message: String,
    },
    /// The text holds nothing the voice can speak (empty, only punctuation or white space,
    /// or only symbols missing from the voice's phoneme map).
    #[error("nothing to speak: {reason}")]
    NothingToSpeak {
        /// Which case applied.
        reason: &'static str,
    },
    /// A voice's phoneme id map lacks a symbol that every sentence needs.
    #[error("phoneme id map has no entry for the required symbol {symbol:?}")]
    MissingRequiredSymbol {
        /// The missing symbol (`^`, `_` or `$`).
        symbol: &'static str,
    },
    /// A phoneme id map entry maps to no ids.
    #[error("phoneme id map entry {symbol:?} has no ids")]
    EmptyIdList {
        /// The symbol.
        symbol: String,
    },
    /// A vowel cluster is unusable (fewer than two symbols, or its merged form is not in the map).
    #[error("vowel cluster {cluster:?} is invalid: {reason}")]
    InvalidVowelCluster {
        /// The cluster's symbols, joined.
        cluster: String,
        /// Why.
        reason: &'static str,
    },
    /// The espeak voice name cannot be sent to the helper.
    #[error("invalid espeak voice name {voice:?}: {source}")]
    InvalidVoice {
        /// The name given.
        voice: String,
        /// Why it was refused.
        #[source]
        source: ProtocolError,
    },
    /// No place to look for the espeak files: neither `$SIGNET_HOME`, `$XDG_DATA_HOME` nor `$HOME` is set.
    #[error("cannot locate Signet's data folder: set SIGNET_HOME (or HOME), then run `cargo xtask setup`")]
    NoSignetHome,
    /// The helper executable is missing.
    #[error("espeak helper not found at {path}: build it (`cargo build -p signet-espeak`), run `cargo xtask setup`, or set SIGNET_ESPEAK_HELPER")]
    HelperNotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// espeak-ng's library (piper-tts's `espeakbridge.so`) is missing.
    #[error("espeak-ng library not found at {path}: run `cargo xtask setup`, which provisions it from the piper-tts wheel")]
    LibraryNotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// espeak-ng's data folder is missing.
    #[error("espeak-ng data folder not found at {path}: run `cargo xtask setup`, which provisions it from the piper-tts wheel")]
    DataNotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A file or folder that decides what code runs (the helper, espeak-ng's library or
    /// data) could be replaced by another user: it, or a folder above it, is group- or
    /// world-writable, or owned by someone other than the current user or root.
    #[error("refusing the {what} {file}: {problem}")]
    UntrustedFile {
        /// What the file is for.
        what: &'static str,
        /// The file as configured.
        file: PathBuf,
        /// The path found wanting (the file itself or a folder above it), what is wrong
        /// with it, and how to fix it.
        problem: String,
    },
    /// The helper reported that it runs without its sandbox; it was stopped before it
    /// received any text.
    #[error("the espeak helper {path} runs without its sandbox ({report}); it was stopped before receiving text: use the signet-espeak built with this Signet, on a Linux kernel with seccomp")]
    HelperUnsandboxed {
        /// The helper executable.
        path: PathBuf,
        /// The layers it reported.
        report: String,
    },
    /// The helper process could not be started.
    #[error("cannot start the espeak helper {path}: {source}")]
    HelperSpawn {
        /// The executable.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The helper did not answer in time; it was killed and is restarted on the next call.
    #[error(
        "espeak helper did not answer within {timeout:?}; it was stopped and will be restarted"
    )]
    HelperTimeout {
        /// The per-call timeout.
        timeout: Duration,
    },
    /// The helper exited or closed its pipes during a request; it is restarted on the next call.
    #[error("espeak helper stopped during the request ({status}); stderr: {stderr}")]
    HelperDied {
        /// Exit status, as text.
        status: String,
        /// The end of what it wrote on stderr (bounded, control characters escaped).
        stderr: String,
    },
    /// The helper answered bytes that are not a valid response; it was killed and is restarted.
    #[error("espeak helper answered an invalid response ({source}); it was stopped and will be restarted")]
    HelperProtocol {
        /// What was wrong.
        #[source]
        source: ProtocolError,
    },
    /// The helper's answer is well-formed but inconsistent with the request.
    #[error("espeak helper answered an inconsistent response: {reason}; it was stopped and will be restarted")]
    HelperInconsistent {
        /// What was wrong.
        reason: String,
    },
    /// The helper refused the request.
    #[error("espeak helper refused the request ({code}): {message}")]
    HelperRefused {
        /// Reason.
        code: ErrorCode,
        /// Detail from the helper.
        message: String,
    },
}

/// Something the frontend did to the input or its phonemes that the caller may want to know.
/// Diagnostics never hold the input text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnostic {
    /// Control characters other than white space were removed from the input.
    ControlCharactersStripped {
        /// How many.
        count: usize,
    },
    /// Bidirectional formatting controls (embeddings, overrides, isolates) were removed.
    BidiControlsStripped {
        /// How many.
        count: usize,
    },
    /// Zero-width characters (spaces, joiners, word joiner, byte-order mark) were removed.
    ZeroWidthStripped {
        /// How many.
        count: usize,
    },
    /// Code points unassigned in the Unicode version the crate knows (or noncharacters) were removed.
    UnassignedStripped {
        /// How many.
        count: usize,
    },
    /// Private-use code points were removed.
    PrivateUseStripped {
        /// How many.
        count: usize,
    },
    /// Compatibility characters (full-width forms, ligatures, super- and subscript digits)
    /// were replaced by their plain equivalents.
    CompatibilityFolded {
        /// How many characters were replaced.
        count: usize,
    },
    /// Combining marks beyond the per-character bound were dropped.
    CombiningMarksDropped {
        /// How many.
        count: usize,
        /// The bound: marks kept per base character.
        max_per_base: usize,
    },
    /// Numbers, abbreviations or symbols were rewritten as words (English normalization).
    Normalized {
        /// How many segments of text were changed.
        segments: usize,
    },
    /// Runs of characters without white space longer than the word bound were cut.
    LongWordsCut {
        /// How many cuts.
        count: usize,
        /// The bound, in characters.
        max_chars: usize,
    },
    /// A sentence longer than the phoneme limit was cut at word boundaries.
    SentenceSplit {
        /// Byte range, in the caller's text, of the segment it came from.
        text: std::ops::Range<usize>,
        /// Into how many pieces.
        pieces: usize,
        /// The limit (`max_phonemes_per_sentence`).
        max_phonemes: usize,
    },
    /// A phoneme symbol is missing from the voice's id map and was left out.
    UnknownPhoneme {
        /// The symbol.
        symbol: String,
        /// Byte range, in the caller's text, of the sentence where it was dropped.
        text: std::ops::Range<usize>,
        /// How many times in that sentence.
        count: usize,
    },
    /// An SSML element Signet does not read (or one where only text belongs); its text
    /// was spoken.
    SsmlUnknownElement {
        /// Its name, escaped and shortened.
        name: String,
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
    },
    /// An attribute Signet does not read; ignored.
    SsmlUnknownAttribute {
        /// The element's name.
        element: String,
        /// The attribute's name, escaped and shortened.
        attribute: String,
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
    },
    /// An attribute value Signet could not read, or had to bound.
    SsmlBadValue {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
        /// What is wrong and what was done instead.
        reason: &'static str,
    },
    /// An SSML feature Signet accepts but cannot carry out (pitch, another phoneme
    /// alphabet, `<audio>`, a change of language).
    SsmlUnsupported {
        /// The feature.
        what: &'static str,
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
        /// What was done instead.
        reason: &'static str,
    },
    /// `<voice name>` names a voice other than the one speaking; the text was spoken by
    /// the voice speaking.
    SsmlVoiceUnavailable {
        /// The name, escaped and shortened.
        name: String,
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: u64,
    },
    /// More SSML diagnostics than are reported one by one
    /// ([`MAX_SSML_DIAGNOSTICS`](crate::ssml::MAX_SSML_DIAGNOSTICS)).
    SsmlDiagnosticsCapped {
        /// How many were left out.
        count: usize,
    },
    /// A lexicon entry replaced words before phonemization.
    LexiconApplied {
        /// How many words were replaced.
        count: usize,
    },
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlCharactersStripped { count } => {
                write!(f, "removed {count} control character(s) from the input")
            }
            Self::BidiControlsStripped { count } => {
                write!(f, "removed {count} bidirectional control character(s)")
            }
            Self::ZeroWidthStripped { count } => {
                write!(f, "removed {count} zero-width character(s)")
            }
            Self::UnassignedStripped { count } => {
                write!(f, "removed {count} unassigned code point(s)")
            }
            Self::PrivateUseStripped { count } => {
                write!(f, "removed {count} private-use code point(s)")
            }
            Self::CompatibilityFolded { count } => {
                write!(
                    f,
                    "replaced {count} compatibility character(s) by their plain form"
                )
            }
            Self::CombiningMarksDropped {
                count,
                max_per_base,
            } => write!(
                f,
                "dropped {count} combining mark(s) beyond {max_per_base} per character"
            ),
            Self::Normalized { segments } => write!(
                f,
                "rewrote numbers, abbreviations or symbols as words in {segments} split_segments(s)"
            ),
            Self::LongWordsCut { count, max_chars } => write!(
                f,
                "cut {count} time(s) inside words longer than {max_chars} characters"
            ),
            Self::SentenceSplit {
                text,
                pieces,
                max_phonemes,
            } => write!(
                f,
                "cut the sentence at bytes {}..{} into {pieces} pieces of at most {max_phonemes} phonemes (max_phonemes_per_sentence)",
                text.start, text.end
            ),
            Self::UnknownPhoneme {
                symbol,
                text,
                count,
            } => {
                let escaped: String = symbol.chars().flat_map(char::escape_unicode).collect();
                write!(
                    f,
                    "phoneme {escaped} is not in the voice's id map; dropped {count} time(s) in the sentence at bytes {}..{}",
                    text.start, text.end
                )
            }
            Self::SsmlUnknownElement { name, line, column } => write!(
                f,
                "SSML line {line}, column {column}: element <{name}> is not read; its text is spoken"
            ),
            Self::SsmlUnknownAttribute {
                element,
                attribute,
                line,
                column,
            } => write!(
                f,
                "SSML line {line}, column {column}: attribute {attribute} of <{element}> is not read; ignored"
            ),
            Self::SsmlBadValue {
                element,
                attribute,
                line,
                column,
                reason,
            } => write!(
                f,
                "SSML line {line}, column {column}: {attribute} of <{element}>: {reason}"
            ),
            Self::SsmlUnsupported {
                what,
                line,
                column,
                reason,
            } => write!(f, "SSML line {line}, column {column}: {what}: {reason}"),
            Self::SsmlVoiceUnavailable { name, line, column } => write!(
                f,
                "SSML line {line}, column {column}: voice {name:?} is not the voice speaking; the text is spoken by the voice speaking (choose the voice with --voice or the request's voice)"
            ),
            Self::SsmlDiagnosticsCapped { count } => {
                write!(f, "{count} more SSML diagnostic(s) not listed")
            }
            Self::LexiconApplied { count } => {
                write!(f, "the lexicon gave the pronunciation of {count} word(s)")
            }
        }
    }
}

/// A value of [`TextError::LimitExceeded`] as a person reads it: the number itself, except
/// for `max_output_seconds`, whose values are milliseconds and are shown as seconds with
/// decimals (`100` → `0.1`, `2000` → `2`).
pub fn limit_value_text(limit: &str, value: u64) -> String {
    if limit != "max_output_seconds" {
        return value.to_string();
    }
    let (whole, ms) = (value / 1000, value % 1000);
    if ms == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{ms:03}").trim_end_matches('0').to_owned()
    }
}

/// What a limit of [`Limits`](crate::Limits) counts, for messages.
fn unit_of(limit: &str) -> &'static str {
    match limit {
        "max_input_bytes" => "bytes",
        "max_chars" => "characters",
        "max_phonemes_per_sentence" => "phonemes in one sentence",
        "max_phonemes_per_request" => "phonemes",
        "max_output_seconds" => "seconds of audio",
        "max_ssml_depth" => "levels of nesting",
        "max_ssml_elements" => "elements",
        "max_ssml_attribute_bytes" => "bytes in one attribute",
        _ => "units",
    }
}
