//! Signet's text frontend: limits, Unicode policy, sentences, phonemes, ids.
//!
//! [`Limits`] bound a request; [`sanitize`] applies the [Unicode policy](unicode);
//! [`normalize_en`] rewrites English numbers, dates, money, abbreviations and symbols as
//! words ([`normalize`](mod@normalize)); [`split_segments`] splits text into sentences and
//! bounded segments. The [two-stage frontend](frontend) composes them: [`prepare`] (pure
//! Rust, the whole text) and [`phonemize_segment`] (one segment at a time, for streaming).
//! [`align`] turns the durations a model gives each phoneme id into word and phoneme
//! timestamps, using the symbols each [`Sentence`] carries.
//!
//! Text is phonemized by espeak-ng running in a separate, resource-limited helper
//! process ([`phonemize`], speaking the wire format in [`protocol`]), and mapped to a
//! voice's phoneme ids with Piper's conventions ([`ids`]). [`text_to_sentences`] is the
//! Piper-compatible path (its own [input guard](guard), espeak's sentence splitting, no
//! normalization), kept for agreement with piper-tts.
//!
//! **Architecture invariant:** this crate never links espeak-ng (GPL-3.0, memory-unsafe C)
//! or libtorch; it only talks to the `signet-espeak` helper through pipes, and treats what
//! the helper says as untrusted input.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use signet_text::{text_to_sentences, EspeakPhonemizer, PhonemeIdMap};
//!
//! # fn main() -> Result<(), signet_text::TextError> {
//! let mut map = BTreeMap::new();
//! for (i, s) in ["_", "^", "$", " ", "h", "ə", "l", "ˈ", "o", "ʊ", "."].iter().enumerate() {
//!     map.insert((*s).to_owned(), vec![i as i64]);
//! }
//! let ids = PhonemeIdMap::new(map)?;
//! let mut espeak = EspeakPhonemizer::from_env(std::path::Path::new("signet-home/espeak-ng"))?;
//! let (sentences, diagnostics) = text_to_sentences(&mut espeak, "en-us", &ids, "Hello.")?;
//! for s in &sentences {
//!     println!("{:?} {} {:?}", s.text, s.phonemes, s.ids);
//! }
//! # let _ = diagnostics;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod align;
pub mod coqui;
mod error;
pub mod frontend;
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod ids;
pub mod lexicon;
pub mod limits;
pub mod normalize;
pub mod phonemize;
pub mod protocol;
pub mod segment;
pub mod ssml;
pub mod trusted;
pub mod unicode;

pub use align::{MarkTiming, PhonemeTiming, Timings, WordPlan, WordTiming};
pub use coqui::{CoquiCleaner, CoquiTextSettings, CoquiTokenizer};
pub use error::{limit_value_text, Diagnostic, TextError};
pub use frontend::{
    phonemize_segment, prepare, prepare_bytes, prepare_with, Normalization, PhonemeBudget,
    PreparedText, Segment, SegmentPart, SegmentSentences,
};
pub use guard::DEFAULT_MAX_INPUT_BYTES;
pub use ids::{text_to_sentences, text_to_sentences_with_limits, PhonemeIdMap, Sentence};
pub use lexicon::{Lexicon, LexiconEntry, LexiconIssue, Lexicons, Pronunciation};
pub use limits::Limits;
pub use normalize::normalize_en;
pub use phonemize::{
    EspeakConfig, EspeakPhonemizer, HelperLimits, HelperSandbox, Phonemize, ESPEAK_LIBRARY_SHA256,
};
pub use protocol::{Clause, LandlockState, SandboxReport, Terminator};
pub use segment::{split_segments, split_sentences};
pub use ssml::{
    looks_like_ssml, prepare_ssml, prepare_ssml_bytes, PreparedSsml, SsmlVoice, Step, Style,
};
pub use unicode::sanitize;
