//! Resource limits for one synthesis request.
//!
//! A [`Limits`] value bounds every dimension of work that text can ask for: its size in
//! bytes and characters, the phonemes of one sentence (the acoustic model's attention is
//! quadratic in this length), the phonemes of the whole request, and the seconds of audio
//! produced. The defaults are safe for an untrusted caller on a small machine; every
//! limit can be raised with a builder method (and, in the CLI, a flag of the same name),
//! and a breach fails with [`TextError::LimitExceeded`], whose message says which limit,
//! the measured value and how to change it.
//!
//! ```
//! use signet_text::Limits;
//!
//! let limits = Limits::default().with_max_chars(10);
//! assert!(limits.check_text("short").is_ok());
//! let err = limits.check_text("far too long for ten").unwrap_err();
//! assert!(err.to_string().contains("--max-chars"));
//! ```

use crate::error::TextError;

pub use crate::guard::DEFAULT_MAX_INPUT_BYTES;
/// Default [`Limits::max_chars`].
pub const DEFAULT_MAX_CHARS: usize = 500_000;
/// Default [`Limits::max_phonemes_per_sentence`].
pub const DEFAULT_MAX_PHONEMES_PER_SENTENCE: usize = 2_000;
/// Default [`Limits::max_phonemes_per_request`].
pub const DEFAULT_MAX_PHONEMES_PER_REQUEST: usize = 200_000;
/// Default [`Limits::max_output_seconds`]: one hour.
pub const DEFAULT_MAX_OUTPUT_SECONDS: f64 = 3_600.0;
/// Default [`Limits::max_ssml_depth`].
pub const DEFAULT_MAX_SSML_DEPTH: usize = 32;
/// Default [`Limits::max_ssml_elements`].
pub const DEFAULT_MAX_SSML_ELEMENTS: usize = 10_000;
/// Default [`Limits::max_ssml_attribute_bytes`].
pub const DEFAULT_MAX_SSML_ATTRIBUTE_BYTES: usize = 4_096;

/// Upper bounds on the work one request may cause. Build with [`Limits::default`] and the
/// `with_*` methods.
///
/// | limit | default | CLI flag |
/// |---|---|---|
/// | `max_input_bytes` | 1 MiB | `--max-input-bytes` |
/// | `max_chars` | 500,000 | `--max-chars` |
/// | `max_phonemes_per_sentence` | 2,000 | `--max-phonemes-per-sentence` |
/// | `max_phonemes_per_request` | 200,000 | `--max-phonemes-per-request` |
/// | `max_output_seconds` | 3,600 | `--max-output-seconds` |
/// | `max_ssml_depth` | 32 | config only |
/// | `max_ssml_elements` | 10,000 | config only |
/// | `max_ssml_attribute_bytes` | 4,096 | config only |
///
/// A `Limits` deserializes from a TOML table (or any serde format) whose keys are the
/// field names; missing keys keep their defaults and unknown keys are an error, so a
/// `[limits]` table can sit in a larger configuration file:
///
/// ```
/// let limits: signet_text::Limits = toml::from_str("max_chars = 1000").unwrap();
/// assert_eq!(limits.max_chars, 1000);
/// assert!(toml::from_str::<signet_text::Limits>("max_char = 1").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input, in bytes of UTF-8 (CLI `--max-input-bytes`).
    pub max_input_bytes: usize,
    /// Largest input, in Unicode scalar values (CLI `--max-chars`).
    pub max_chars: usize,
    /// Most phonemes in one sentence sent to the acoustic model
    /// (CLI `--max-phonemes-per-sentence`).
    pub max_phonemes_per_sentence: usize,
    /// Most phonemes in a whole request (CLI `--max-phonemes-per-request`).
    pub max_phonemes_per_request: usize,
    /// Most seconds of audio one request may produce (CLI `--max-output-seconds`); decimals
    /// are allowed (`0.5`). A config value must be a finite number, at least 0.
    #[serde(deserialize_with = "seconds")]
    pub max_output_seconds: f64,
    /// Deepest nesting of elements in an SSML document (`<speak>` is depth 1).
    pub max_ssml_depth: usize,
    /// Most elements (start and empty tags) in an SSML document.
    pub max_ssml_elements: usize,
    /// Largest attribute value of an SSML element, in bytes as written.
    pub max_ssml_attribute_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_chars: DEFAULT_MAX_CHARS,
            max_phonemes_per_sentence: DEFAULT_MAX_PHONEMES_PER_SENTENCE,
            max_phonemes_per_request: DEFAULT_MAX_PHONEMES_PER_REQUEST,
            max_output_seconds: DEFAULT_MAX_OUTPUT_SECONDS,
            max_ssml_depth: DEFAULT_MAX_SSML_DEPTH,
            max_ssml_elements: DEFAULT_MAX_SSML_ELEMENTS,
            max_ssml_attribute_bytes: DEFAULT_MAX_SSML_ATTRIBUTE_BYTES,
        }
    }
}

/// A number of seconds from a config: an integer or a decimal, finite and not negative.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = <f64 as serde::Deserialize>::deserialize(d)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is not a number of seconds (a finite number, at least 0)"
        )))
    }
}

const HINT_INPUT_BYTES: &str = "raise it with `--max-input-bytes` or `max_input_bytes` in the `[limits]` table of config.toml, or split the text";
const HINT_CHARS: &str = "raise it with `--max-chars` or `max_chars` in the `[limits]` table of config.toml, or split the text";
const HINT_SENTENCE: &str = "raise it with `--max-phonemes-per-sentence` or `max_phonemes_per_sentence` in the `[limits]` table of config.toml, or add punctuation";
const HINT_REQUEST: &str = "raise it with `--max-phonemes-per-request` or `max_phonemes_per_request` in the `[limits]` table of config.toml, or split the text";
const HINT_SECONDS: &str = "raise it with `--max-output-seconds` or `max_output_seconds` in the `[limits]` table of config.toml, or split the text";

fn exceeded(limit: &'static str, value: usize, max: usize, hint: &'static str) -> TextError {
    TextError::LimitExceeded {
        limit,
        value: u64::try_from(value).unwrap_or(u64::MAX),
        max: u64::try_from(max).unwrap_or(u64::MAX),
        hint,
    }
}

impl Limits {
    /// Sets [`Limits::max_input_bytes`].
    #[must_use]
    pub fn with_max_input_bytes(mut self, max: usize) -> Self {
        self.max_input_bytes = max;
        self
    }

    /// Sets [`Limits::max_chars`].
    #[must_use]
    pub fn with_max_chars(mut self, max: usize) -> Self {
        self.max_chars = max;
        self
    }

    /// Sets [`Limits::max_phonemes_per_sentence`].
    #[must_use]
    pub fn with_max_phonemes_per_sentence(mut self, max: usize) -> Self {
        self.max_phonemes_per_sentence = max;
        self
    }

    /// Sets [`Limits::max_phonemes_per_request`].
    #[must_use]
    pub fn with_max_phonemes_per_request(mut self, max: usize) -> Self {
        self.max_phonemes_per_request = max;
        self
    }

    /// Sets [`Limits::max_ssml_depth`].
    #[must_use]
    pub fn with_max_ssml_depth(mut self, max: usize) -> Self {
        self.max_ssml_depth = max;
        self
    }

    /// Sets [`Limits::max_ssml_elements`].
    #[must_use]
    pub fn with_max_ssml_elements(mut self, max: usize) -> Self {
        self.max_ssml_elements = max;
        self
    }

    /// Sets [`Limits::max_ssml_attribute_bytes`].
    #[must_use]
    pub fn with_max_ssml_attribute_bytes(mut self, max: usize) -> Self {
        self.max_ssml_attribute_bytes = max;
        self
    }

    /// Sets [`Limits::max_output_seconds`] (a negative or non-finite value counts as 0).
    #[must_use]
    pub fn with_max_output_seconds(mut self, max: f64) -> Self {
        self.max_output_seconds = if max.is_finite() { max.max(0.0) } else { 0.0 };
        self
    }

    /// Checks an input's size in bytes (before it is decoded).
    ///
    /// # Errors
    /// [`TextError::LimitExceeded`] naming `max_input_bytes`.
    pub fn check_input_bytes(&self, bytes: usize) -> Result<(), TextError> {
        if bytes > self.max_input_bytes {
            return Err(exceeded(
                "max_input_bytes",
                bytes,
                self.max_input_bytes,
                HINT_INPUT_BYTES,
            ));
        }
        Ok(())
    }

    /// Checks the input text's size in bytes, then in characters. The character count stops
    /// as soon as the limit is passed, so a huge text costs no more than the limit.
    ///
    /// # Errors
    /// [`TextError::LimitExceeded`] naming `max_input_bytes` or `max_chars`.
    pub fn check_text(&self, text: &str) -> Result<(), TextError> {
        self.check_input_bytes(text.len())?;
        // A char is at least one byte: no need to count when the bytes fit.
        if text.len() > self.max_chars {
            let chars = text.chars().count();
            if chars > self.max_chars {
                return Err(exceeded("max_chars", chars, self.max_chars, HINT_CHARS));
            }
        }
        Ok(())
    }

    /// Checks the phoneme count of one sentence.
    ///
    /// # Errors
    /// [`TextError::LimitExceeded`] naming `max_phonemes_per_sentence`.
    pub fn check_sentence_phonemes(&self, phonemes: usize) -> Result<(), TextError> {
        if phonemes > self.max_phonemes_per_sentence {
            return Err(exceeded(
                "max_phonemes_per_sentence",
                phonemes,
                self.max_phonemes_per_sentence,
                HINT_SENTENCE,
            ));
        }
        Ok(())
    }

    /// Checks the phoneme count of a whole request.
    ///
    /// # Errors
    /// [`TextError::LimitExceeded`] naming `max_phonemes_per_request`.
    pub fn check_request_phonemes(&self, phonemes: usize) -> Result<(), TextError> {
        if phonemes > self.max_phonemes_per_request {
            return Err(exceeded(
                "max_phonemes_per_request",
                phonemes,
                self.max_phonemes_per_request,
                HINT_REQUEST,
            ));
        }
        Ok(())
    }

    /// Checks the length of the audio produced so far, in samples at `sample_rate` Hz.
    /// The refusal carries milliseconds (the audio's, rounded up, and the limit's), which its
    /// message shows as seconds with decimals.
    ///
    /// # Errors
    /// [`TextError::LimitExceeded`] naming `max_output_seconds`.
    pub fn check_output_samples(&self, samples: u64, sample_rate: u32) -> Result<(), TextError> {
        // Exact in u128: max_ms × rate / 1000, with the limit taken to the millisecond.
        let max_ms = seconds_to_ms(self.max_output_seconds);
        let max_samples = u128::from(max_ms) * u128::from(sample_rate) / 1000;
        if u128::from(samples) > max_samples {
            let ms = u128::from(samples) * 1000;
            let ms = ms.div_ceil(u128::from(sample_rate.max(1)));
            return Err(TextError::LimitExceeded {
                limit: "max_output_seconds",
                value: u64::try_from(ms).unwrap_or(u64::MAX),
                max: max_ms,
                hint: HINT_SECONDS,
            });
        }
        Ok(())
    }
}

/// Whole milliseconds of `seconds` (rounded down; 0 for anything not finite and positive).
fn seconds_to_ms(seconds: f64) -> u64 {
    if !(seconds.is_finite() && seconds > 0.0) {
        return 0;
    }
    let ms = (seconds * 1000.0).floor();
    if ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        // In range and not negative: the conversion is exact for the integer part.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = ms as u64;
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limit named by a refusal and its message, or `("accepted", "")`.
    fn refusal(result: Result<(), TextError>) -> (&'static str, String) {
        match result {
            Err(err @ TextError::LimitExceeded { limit, .. }) => (limit, err.to_string()),
            Err(other) => ("other error", other.to_string()),
            Ok(()) => ("accepted", String::new()),
        }
    }

    #[test]
    fn defaults_accept_ordinary_text() {
        let limits = Limits::default();
        assert_eq!(limits.max_input_bytes, DEFAULT_MAX_INPUT_BYTES);
        assert!(limits.check_text("Hello, world.").is_ok());
        assert!(limits.check_sentence_phonemes(100).is_ok());
        assert!(limits.check_request_phonemes(10_000).is_ok());
        assert!(limits.check_output_samples(22_050 * 60, 22_050).is_ok());
    }

    #[test]
    fn output_seconds_refusal_reads_right_and_speaks_of_flags_not_methods() {
        let limits = Limits::default().with_max_output_seconds(0.0);
        let (limit, msg) = refusal(limits.check_output_samples(22_050, 22_050));
        assert_eq!(limit, "max_output_seconds");
        assert!(
            msg.starts_with(
                "this input needs 1 seconds of audio, more than max_output_seconds = 0; \
                 raise it with `--max-output-seconds`"
            ),
            "{msg}"
        );
        assert!(!msg.contains("Limits::"), "{msg}");
    }

    #[test]
    fn byte_limit_is_checked_first_and_named() {
        let limits = Limits::default().with_max_input_bytes(4).with_max_chars(2);
        let (limit, msg) = refusal(limits.check_text("hello"));
        assert_eq!(limit, "max_input_bytes");
        assert!(
            msg.contains("this input needs 5 bytes, more than max_input_bytes = 4"),
            "{msg}"
        );
        assert!(msg.contains("--max-input-bytes"), "{msg}");
    }

    #[test]
    fn char_limit_counts_characters_not_bytes() {
        let limits = Limits::default().with_max_chars(3);
        assert!(limits.check_text("äöü").is_ok());
        let (limit, msg) = refusal(limits.check_text("äöüß"));
        assert_eq!(limit, "max_chars");
        assert!(msg.contains("--max-chars"), "{msg}");
    }

    #[test]
    fn phoneme_and_output_limits() {
        let limits = Limits::default()
            .with_max_phonemes_per_sentence(10)
            .with_max_phonemes_per_request(20)
            .with_max_output_seconds(2.0);
        assert!(limits.check_sentence_phonemes(10).is_ok());
        let (limit, msg) = refusal(limits.check_sentence_phonemes(11));
        assert_eq!(limit, "max_phonemes_per_sentence");
        assert!(msg.contains("--max-phonemes-per-sentence"), "{msg}");
        let (limit, _) = refusal(limits.check_request_phonemes(21));
        assert_eq!(limit, "max_phonemes_per_request");
        assert!(limits.check_output_samples(44_100, 22_050).is_ok());
        let (limit, msg) = refusal(limits.check_output_samples(44_101, 22_050));
        assert_eq!(limit, "max_output_seconds");
        assert!(
            msg.contains("needs 2.001 seconds of audio, more than max_output_seconds = 2"),
            "{msg}"
        );
        assert!(msg.contains("--max-output-seconds"), "{msg}");
        // A zero sample rate never divides by zero.
        assert!(limits.check_output_samples(1, 0).is_err());
    }

    #[test]
    fn output_seconds_take_decimals_in_code_and_config() {
        let limits = Limits::default().with_max_output_seconds(0.1);
        assert!(limits.check_output_samples(2_205, 22_050).is_ok());
        let (limit, msg) = refusal(limits.check_output_samples(2_206, 22_050));
        assert_eq!(limit, "max_output_seconds");
        assert!(
            msg.contains("needs 0.101 seconds of audio, more than max_output_seconds = 0.1"),
            "{msg}"
        );
        let from_config: Limits = toml::from_str("max_output_seconds = 0.5").unwrap();
        assert_eq!(from_config.max_output_seconds, 0.5);
        let whole: Limits = toml::from_str("max_output_seconds = 600").unwrap();
        assert_eq!(whole.max_output_seconds, 600.0);
        assert!(toml::from_str::<Limits>("max_output_seconds = -1").is_err());
        assert!(toml::from_str::<Limits>("max_output_seconds = nan").is_err());
    }
}
