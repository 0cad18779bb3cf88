//! The text frontend in two stages, as `signet`'s `Synthesizer::speak` runs it.
//!
//! 1. [`prepare`] is pure Rust, cheap and linear in the input: it checks the input
//!    [`Limits`], splits the text into sentences and bounded segments at natural boundaries
//!    ([`split_segments`](crate::segment::split_segments)), cuts out inline phonemes written `[[ ... ]]`, and
//!    applies the [Unicode policy](crate::unicode) and, for English voices, the
//!    [normalization](crate::normalize) to each piece, and cuts "words" longer than
//!    [`MAX_WORD_CHARS`]. It returns the list of
//!    [`Segment`]s, each with the byte range of the caller's text it came from; the
//!    ranges of consecutive segments cover the input (pieces that hold nothing to say, such
//!    as white space, produce no segment, so gaps are only ever such pieces).
//! 2. [`phonemize_segment`] phonemizes ONE segment with espeak-ng (out of process) and maps it
//!    to the voice's ids, giving [`Sentence`]s of at most
//!    [`Limits::max_phonemes_per_sentence`] phonemes each (a longer one is cut at a word
//!    boundary).
//!
//! A streaming caller runs stage 2 segment by segment and synthesizes as it goes, so memory
//! stays bounded by one segment's work however long the text is; a [`PhonemeBudget`]
//! enforces [`Limits::max_phonemes_per_request`] across segments.
//!
//! Sentences are split before normalization, so each segment's range is exact; the
//! splitter knows titles and initials ("Dr. Smith") so that normalization sees them in
//! context. Text that is split inside a sentence (only sentences longer than
//! [`MAX_SEGMENT_CHARS`] characters are) loses one word of normalization context at the cut.
//!
//! The guarantees hold for the text espeak-ng receives, after every transformation: the
//! Unicode policy (which folds fullwidth stops to `.`, strips control and zero-width
//! characters) and normalization run on each piece, long words are cut, and the result is
//! split into sentences and bounded segments *again*, each its own segment. So every text
//! part of a [`Segment`] is at most one sentence of [`split_sentences`](crate::split_sentences),
//! at most [`MAX_SEGMENT_CHARS`] characters, with no word over [`MAX_WORD_CHARS`]: text
//! such as `é ． ` or `é .\u{1} ` repeated reaches espeak-ng as one short sentence per
//! request, never as the repeated `é . ` that crashes espeak-ng 1.52 (SECURITY.md).

use std::collections::BTreeMap;
use std::ops::Range;

use crate::error::{Diagnostic, TextError};
use crate::ids::{group_sentences, labelled_ids, PhonemeIdMap, Sentence};
use crate::lexicon::{Lexicons, Piece};
use crate::limits::Limits;
use crate::normalize::normalize_en;
use crate::phonemize::Phonemize;
use crate::protocol::{Clause, MAX_TEXT_BYTES};
use crate::segment::split_segments;
use crate::unicode::sanitize;

/// Most characters in one segment of text sent to the phonemizer. A sentence longer than
/// this is cut at a clause boundary, a conjunction or a space.
pub const MAX_SEGMENT_CHARS: usize = 400;

/// Longest run of characters without white space sent to the phonemizer; longer "words"
/// are cut with a space. Real words are far shorter (normalization reads long digit
/// strings, URLs and addresses piece by piece), and espeak-ng 1.52 overflows a buffer on
/// some long words (`s'` repeated 80 times: see SECURITY.md).
pub const MAX_WORD_CHARS: usize = 64;

/// Cuts runs of more than [`MAX_WORD_CHARS`] non-white-space characters with a space;
/// returns the text and how many cuts were made.
fn cut_long_words(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut run = 0usize;
    let mut cuts = 0usize;
    for c in text.chars() {
        if c.is_whitespace() {
            run = 0;
        } else {
            if run == MAX_WORD_CHARS {
                out.push(' ');
                cuts += 1;
                run = 0;
            }
            run += 1;
        }
        out.push(c);
    }
    (out, cuts)
}

/// How text is rewritten into words before phonemization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Normalization {
    /// English rules ([`normalize_en`]): numbers, dates, money, abbreviations, symbols.
    English,
    /// None: espeak-ng's own rules for the voice's language read the text.
    None,
}

impl Normalization {
    /// English normalization for an English language code (`en`, `en_US`, `en-gb`, ...),
    /// none for any other.
    #[must_use]
    pub fn for_language(language: &str) -> Self {
        let lower = language.to_ascii_lowercase();
        if lower == "en" || lower.starts_with("en_") || lower.starts_with("en-") {
            Self::English
        } else {
            Self::None
        }
    }
}

/// One piece of a segment: text for espeak-ng, or phonemes given inline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentPart {
    /// Sanitized (and, for English, normalized) text.
    Text(String),
    /// Phonemes written `[[ ... ]]` in the input, spoken as given (validated against the
    /// voice's symbols in [`phonemize_segment`]).
    Phonemes(String),
}

/// One segment of the input, ready for [`phonemize_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Segment {
    /// Byte range of the caller's text this segment came from.
    pub source: Range<usize>,
    /// What to phonemize, in order.
    pub parts: Vec<SegmentPart>,
}

impl Segment {
    /// The segment's text parts, concatenated (for tests and tools; never logged).
    #[must_use]
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                SegmentPart::Text(t) => t.as_str(),
                SegmentPart::Phonemes(_) => "",
            })
            .collect()
    }
}

/// The result of [`prepare`]: the segments and what was changed to get them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedText {
    /// Segments in input order.
    pub segments: Vec<Segment>,
    /// What the Unicode policy and normalization changed (counts per kind, over the
    /// whole text; never the text itself).
    pub diagnostics: Vec<Diagnostic>,
}

/// Stage 1: limits, sentence and segment splitting, inline phonemes, Unicode policy and
/// normalization. Pure Rust, linear in the input's length.
///
/// # Errors
/// [`TextError::LimitExceeded`] when the text is over [`Limits::max_input_bytes`] or
/// [`Limits::max_chars`]; [`TextError::NothingToSpeak`] when nothing but white space,
/// control characters and the like is left.
pub fn prepare(
    text: &str,
    normalization: Normalization,
    limits: &Limits,
) -> Result<PreparedText, TextError> {
    prepare_with(text, normalization, limits, &Lexicons::new())
}

/// [`prepare`] with pronunciation [`Lexicons`]: after the Unicode policy and
/// normalization, each word an entry names is replaced by its respelling or becomes
/// inline phonemes ([module docs of `lexicon`](crate::lexicon)).
///
/// # Errors
/// As [`prepare`].
pub fn prepare_with(
    text: &str,
    normalization: Normalization,
    limits: &Limits,
    lexicons: &Lexicons,
) -> Result<PreparedText, TextError> {
    limits.check_text(text)?;
    let max_chars = MAX_SEGMENT_CHARS.min(limits.max_phonemes_per_sentence.max(2) / 2);
    let mut segments = Vec::new();
    let mut totals = Totals::default();
    for (range, segment, is_phonemes) in split_inline_phonemes(text) {
        if is_phonemes {
            let phonemes = segment.trim();
            if !phonemes.is_empty() {
                push_part(
                    &mut segments,
                    range,
                    SegmentPart::Phonemes(phonemes.to_owned()),
                );
            }
            continue;
        }
        let mut at = range.start;
        for piece in split_segments(segment, max_chars) {
            let source = at..at + piece.len();
            at = source.end;
            let (clean, diags) = sanitize(piece);
            totals.add(&diags);
            if clean.trim().is_empty() {
                continue;
            }
            let spoken = match normalization {
                Normalization::English => {
                    let n = normalize_en(&clean);
                    if n != clean {
                        totals.normalized += 1;
                    }
                    n
                }
                Normalization::None => clean,
            };
            let (spoken, cuts) = cut_long_words(&spoken);
            totals.words_cut += cuts;
            // Normalization may lengthen the piece ("1234567" becomes words): cut again.
            for sub in split_segments(&spoken, max_chars) {
                if !sub.trim().is_empty() {
                    if lexicons.is_empty() {
                        push_part(
                            &mut segments,
                            source.clone(),
                            SegmentPart::Text(sub.to_owned()),
                        );
                    } else {
                        let (pieces, count) = lexicons.apply(sub);
                        totals.lexicon += count;
                        for piece in pieces {
                            let part = match piece {
                                Piece::Text(t) => SegmentPart::Text(t),
                                Piece::Phonemes(p) => SegmentPart::Phonemes(p),
                            };
                            push_part(&mut segments, source.clone(), part);
                        }
                    }
                    // Each cut of a normalized piece is its own segment.
                    seal(&mut segments);
                }
            }
        }
    }
    if segments.is_empty() {
        return Err(TextError::NothingToSpeak {
            reason: "the text is empty or only white space, control or invisible characters",
        });
    }
    Ok(PreparedText {
        segments: segments.into_iter().map(|(c, _)| c).collect(),
        diagnostics: totals.into_diagnostics(),
    })
}

/// [`prepare`] for bytes: checks the byte limit, then that they are UTF-8.
///
/// # Errors
/// [`TextError::InvalidUtf8`] with the offset of the first invalid byte (a lone
/// surrogate's encoding, a truncated sequence, ...); otherwise as [`prepare`].
pub fn prepare_bytes(
    bytes: &[u8],
    normalization: Normalization,
    limits: &Limits,
) -> Result<PreparedText, TextError> {
    limits.check_input_bytes(bytes.len())?;
    let text = std::str::from_utf8(bytes).map_err(|e| TextError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    prepare(text, normalization, limits)
}

/// Segments under construction: `(segment, sealed)`. Inline phonemes join the segment before
/// them (the same sentence) unless it is sealed by a sentence end; text after inline
/// phonemes joins their segment.
fn push_part(segments: &mut Vec<(Segment, bool)>, source: Range<usize>, part: SegmentPart) {
    let phonemes = matches!(part, SegmentPart::Phonemes(_));
    if let Some((last, sealed)) = segments.last_mut() {
        let last_is_phonemes = matches!(last.parts.last(), Some(SegmentPart::Phonemes(_)));
        if (phonemes && !*sealed) || last_is_phonemes {
            last.source.end = source.end.max(last.source.end);
            last.parts.push(part);
            *sealed = false;
            return;
        }
    }
    segments.push((
        Segment {
            source,
            parts: vec![part],
        },
        false,
    ));
}

/// Marks the last segment as ended, unless its text does not end a sentence (then inline
/// phonemes that follow belong to it).
fn seal(segments: &mut [(Segment, bool)]) {
    if let Some((last, sealed)) = segments.last_mut() {
        if let Some(SegmentPart::Text(t)) = last.parts.last() {
            let end = t.trim_end();
            *sealed = end.ends_with(['.', '!', '?', '…', '\n']) || t.ends_with('\n');
        }
    }
}

/// Splits text into `(range, content, is_phonemes)` at inline phoneme markup
/// `[[ ... ]]`; the range of a phoneme segment includes its brackets. An opening `[[`
/// without a closing `]]` is plain text.
fn split_inline_phonemes(text: &str) -> Vec<(Range<usize>, &str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(open) = text.get(start..).and_then(|s| s.find("[[")) {
        let open = start + open;
        let inner_start = open + 2;
        let Some(close) = text.get(inner_start..).and_then(|s| s.find("]]")) else {
            break;
        };
        let inner_end = inner_start + close;
        if let Some(before) = text.get(start..open).filter(|b| !b.is_empty()) {
            out.push((start..open, before, false));
        }
        if let Some(inner) = text.get(inner_start..inner_end) {
            out.push((open..inner_end + 2, inner, true));
        }
        start = inner_end + 2;
    }
    if let Some(rest) = text.get(start..).filter(|r| !r.is_empty()) {
        out.push((start..text.len(), rest, false));
    }
    out
}

/// Builds a diagnostic from a count.
type MakeDiagnostic = fn(usize) -> Diagnostic;

#[derive(Default)]
struct Totals {
    counts: BTreeMap<&'static str, usize>,
    marks_max: usize,
    normalized: usize,
    words_cut: usize,
    lexicon: usize,
}

impl Totals {
    fn add(&mut self, diags: &[Diagnostic]) {
        for d in diags {
            let (key, n) = match d {
                Diagnostic::ControlCharactersStripped { count } => ("control", *count),
                Diagnostic::BidiControlsStripped { count } => ("bidi", *count),
                Diagnostic::ZeroWidthStripped { count } => ("zero_width", *count),
                Diagnostic::UnassignedStripped { count } => ("unassigned", *count),
                Diagnostic::PrivateUseStripped { count } => ("private_use", *count),
                Diagnostic::CompatibilityFolded { count } => ("folded", *count),
                Diagnostic::CombiningMarksDropped {
                    count,
                    max_per_base,
                } => {
                    self.marks_max = *max_per_base;
                    ("marks", *count)
                }
                _ => continue,
            };
            *self.counts.entry(key).or_insert(0) += n;
        }
    }

    fn into_diagnostics(self) -> Vec<Diagnostic> {
        let get = |k: &str| self.counts.get(k).copied().unwrap_or(0);
        let mut out = Vec::new();
        let kinds: [(&str, MakeDiagnostic); 6] = [
            ("control", |count| Diagnostic::ControlCharactersStripped {
                count,
            }),
            ("bidi", |count| Diagnostic::BidiControlsStripped { count }),
            ("zero_width", |count| Diagnostic::ZeroWidthStripped {
                count,
            }),
            ("unassigned", |count| Diagnostic::UnassignedStripped {
                count,
            }),
            ("private_use", |count| Diagnostic::PrivateUseStripped {
                count,
            }),
            ("folded", |count| Diagnostic::CompatibilityFolded { count }),
        ];
        for (key, make) in kinds {
            if get(key) > 0 {
                out.push(make(get(key)));
            }
        }
        if get("marks") > 0 {
            out.push(Diagnostic::CombiningMarksDropped {
                count: get("marks"),
                max_per_base: self.marks_max,
            });
        }
        if self.normalized > 0 {
            out.push(Diagnostic::Normalized {
                segments: self.normalized,
            });
        }
        if self.lexicon > 0 {
            out.push(Diagnostic::LexiconApplied {
                count: self.lexicon,
            });
        }
        if self.words_cut > 0 {
            out.push(Diagnostic::LongWordsCut {
                count: self.words_cut,
                max_chars: MAX_WORD_CHARS,
            });
        }
        out
    }
}

/// Counts phonemes across the segments of one request against
/// [`Limits::max_phonemes_per_request`].
#[derive(Debug, Clone, Default)]
pub struct PhonemeBudget {
    spent: usize,
}

impl PhonemeBudget {
    /// A budget with nothing spent.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Phonemes counted so far.
    #[must_use]
    pub fn spent(&self) -> usize {
        self.spent
    }

    /// Adds the phonemes of `sentences`.
    ///
    /// # Errors
    /// [`TextError::LimitExceeded`] naming `max_phonemes_per_request` once the total
    /// passes the limit.
    pub fn spend(&mut self, sentences: &[Sentence], limits: &Limits) -> Result<(), TextError> {
        for s in sentences {
            self.spent = self.spent.saturating_add(s.phoneme_count());
        }
        limits.check_request_phonemes(self.spent)
    }
}

/// What [`phonemize_segment`] made of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentSentences {
    /// Sentences, in order; none when the segment holds nothing the voice can say.
    pub sentences: Vec<Sentence>,
    /// Symbols the voice does not know, and sentences cut to fit the limit.
    pub diagnostics: Vec<Diagnostic>,
}

/// Stage 2: phonemizes one segment with the espeak voice `voice` and maps it to ids.
///
/// Every sentence's [`Sentence::text`] is the segment's source range. A sentence over
/// [`Limits::max_phonemes_per_sentence`] is cut at word boundaries into several
/// (reported as [`Diagnostic::SentenceSplit`]). Symbols missing from the voice's map,
/// in text or inline phonemes, are left out and reported
/// ([`Diagnostic::UnknownPhoneme`]).
///
/// # Errors
/// Any error of the phonemizer (the helper's failures included: it is restarted on the
/// next call).
pub fn phonemize_segment(
    phonemizer: &mut dyn Phonemize,
    voice: &str,
    id_map: &PhonemeIdMap,
    segment: &Segment,
    limits: &Limits,
) -> Result<SegmentSentences, TextError> {
    let mut clauses: Vec<Clause> = Vec::new();
    for (n, part) in segment.parts.iter().enumerate() {
        if n > 0 {
            // espeak ends a sentence where its text ends; the segment goes on.
            if let Some(last) = clauses.last_mut() {
                if last.terminator.is_none() {
                    last.end_of_sentence = false;
                }
            }
        }
        match part {
            SegmentPart::Text(text) => {
                // Segments are far below the helper's cap; cut anyway rather than fail.
                let mut rest = text.as_str();
                while !rest.is_empty() {
                    let mut cut = rest.len().min(MAX_TEXT_BYTES);
                    while !rest.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    let (piece, tail) = rest.split_at(cut);
                    clauses.extend(phonemizer.phonemize(voice, piece)?);
                    rest = tail;
                }
            }
            SegmentPart::Phonemes(p) => {
                // A trailing space keeps the words of the text after it apart.
                clauses.push(Clause::new(format!("{p} "), None, false, 0));
            }
        }
    }
    let mut sentences = Vec::new();
    let mut diagnostics = Vec::new();
    let mut unknown = BTreeMap::new();
    let max = limits.max_phonemes_per_sentence.max(1);
    for group in group_sentences(&clauses, id_map) {
        let pieces = split_symbols(&group.symbols, max);
        if pieces.len() > 1 {
            diagnostics.push(Diagnostic::SentenceSplit {
                text: segment.source.clone(),
                pieces: pieces.len(),
                max_phonemes: max,
            });
        }
        for symbols in pieces {
            let (ids, labels) = labelled_ids(symbols, id_map, &mut unknown);
            if !symbols.iter().any(|s| id_map.get(s).is_some()) {
                // Nothing in it the voice knows.
                continue;
            }
            sentences.push(Sentence {
                text: segment.source.clone(),
                phonemes: symbols.concat(),
                ids,
                symbols: labels,
            });
        }
    }
    for (symbol, count) in unknown {
        diagnostics.push(Diagnostic::UnknownPhoneme {
            symbol,
            text: segment.source.clone(),
            count,
        });
    }
    Ok(SegmentSentences {
        sentences,
        diagnostics,
    })
}

/// Cuts a sentence's symbols into pieces of at most `max`, after a space in the second
/// half of each window when there is one, else at the window's end.
fn split_symbols(symbols: &[String], max: usize) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut rest = symbols;
    while rest.len() > max {
        let window = rest.get(..max).unwrap_or(rest);
        let cut = window
            .iter()
            .rposition(|s| s == " ")
            .map(|i| i + 1)
            .filter(|&c| c > max / 2)
            .unwrap_or(max);
        let (piece, tail) = rest.split_at(cut.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Terminator;

    /// A phonemizer that answers each text with its own letters, one clause per call.
    struct Echo;

    impl Phonemize for Echo {
        fn phonemize(&mut self, _voice: &str, text: &str) -> Result<Vec<Clause>, TextError> {
            let trimmed = text.trim_end();
            let (body, term) = match trimmed.strip_suffix('.') {
                Some(b) => (b, Some(Terminator::Period)),
                None => (trimmed, None),
            };
            Ok(vec![Clause::new(
                body.to_lowercase(),
                term,
                term.is_some(),
                text.len(),
            )])
        }
    }

    fn map() -> PhonemeIdMap {
        let mut m = BTreeMap::new();
        for (i, s) in ["_", "^", "$", " ", ".", ","]
            .into_iter()
            .chain(["a", "b", "c", "d", "e", "h", "l", "o", "r", "w", "ə", "ˈ"])
            .enumerate()
        {
            m.insert(s.to_owned(), vec![i64::try_from(i).unwrap_or(0)]);
        }
        PhonemeIdMap::new(m).unwrap_or_else(|_| unreachable!())
    }

    fn texts(p: &PreparedText) -> Vec<String> {
        p.segments.iter().map(Segment::text).collect()
    }

    #[test]
    fn sentences_become_segments_with_exact_ranges() -> Result<(), TextError> {
        let text = "Hello there.  Dr. Smith is\u{7} here!\nBye";
        let p = prepare(text, Normalization::English, &Limits::default())?;
        assert_eq!(
            texts(&p),
            vec!["Hello there.  ", "Doctor Smith is here!\n", "Bye"]
        );
        let ranges: Vec<&str> = p.segments.iter().map(|c| &text[c.source.clone()]).collect();
        assert_eq!(ranges.concat(), text);
        assert_eq!(
            p.diagnostics,
            vec![
                Diagnostic::ControlCharactersStripped { count: 1 },
                Diagnostic::Normalized { segments: 1 }
            ]
        );
        Ok(())
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        // "ab" then an encoded lone surrogate (U+D800).
        let bytes = b"ab\xED\xA0\x80c";
        assert!(matches!(
            prepare_bytes(bytes, Normalization::English, &Limits::default()),
            Err(TextError::InvalidUtf8 { offset: 2 })
        ));
        assert!(prepare_bytes(b"ok.", Normalization::English, &Limits::default()).is_ok());
    }

    #[test]
    fn other_languages_are_not_normalized() -> Result<(), TextError> {
        let p = prepare("Dr. 5", Normalization::None, &Limits::default())?;
        assert_eq!(texts(&p), vec!["Dr. 5"]);
        assert_eq!(Normalization::for_language("en_US"), Normalization::English);
        assert_eq!(Normalization::for_language("en-gb"), Normalization::English);
        assert_eq!(Normalization::for_language("de"), Normalization::None);
        assert_eq!(Normalization::for_language("eng"), Normalization::None);
        Ok(())
    }

    #[test]
    fn input_limits_are_checked_first() {
        let limits = Limits::default().with_max_chars(3);
        assert!(matches!(
            prepare("abcd", Normalization::English, &limits),
            Err(TextError::LimitExceeded {
                limit: "max_chars",
                ..
            })
        ));
        assert!(matches!(
            prepare(
                " \u{200B}\u{7} ",
                Normalization::English,
                &Limits::default()
            ),
            Err(TextError::NothingToSpeak { .. })
        ));
    }

    #[test]
    fn long_text_without_full_stop_is_segmented_and_covered() -> Result<(), TextError> {
        let text = "word ".repeat(20_000);
        let p = prepare(&text, Normalization::English, &Limits::default())?;
        assert!(p.segments.len() >= 250, "{}", p.segments.len());
        let mut next = 0;
        for c in &p.segments {
            assert_eq!(c.source.start, next);
            next = c.source.end;
            assert!(c.text().chars().count() <= MAX_SEGMENT_CHARS);
        }
        assert_eq!(next, text.len());
        Ok(())
    }

    #[test]
    fn normalized_expansion_is_segmented_again() -> Result<(), TextError> {
        let text = "1234567 ".repeat(40);
        let p = prepare(&text, Normalization::English, &Limits::default())?;
        assert!(p.segments.len() > 1);
        assert!(p
            .segments
            .iter()
            .all(|c| c.text().chars().count() <= MAX_SEGMENT_CHARS));
        Ok(())
    }

    #[test]
    fn inline_phonemes_join_their_sentence() -> Result<(), TextError> {
        let text = "Say [[ həˈloʊ ]] now. Next.";
        let p = prepare(text, Normalization::English, &Limits::default())?;
        assert_eq!(p.segments.len(), 2);
        let first = p
            .segments
            .first()
            .cloned()
            .unwrap_or_else(|| unreachable!());
        assert_eq!(
            first.parts,
            vec![
                SegmentPart::Text("Say ".to_owned()),
                SegmentPart::Phonemes("həˈloʊ".to_owned()),
                SegmentPart::Text(" now. ".to_owned()),
            ]
        );
        assert_eq!(&text[first.source.clone()], "Say [[ həˈloʊ ]] now. ");
        let p = prepare("One. [[ ab ]]", Normalization::None, &Limits::default())?;
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments.get(1).map(|c| c.source.clone()), Some(5..13));
        // An unclosed opening is text.
        let p = prepare("a [[ b", Normalization::None, &Limits::default())?;
        assert_eq!(texts(&p), vec!["a [[ b"]);
        Ok(())
    }

    #[test]
    fn segments_phonemize_to_sentences_within_the_limit() -> Result<(), TextError> {
        let limits = Limits::default().with_max_phonemes_per_sentence(8);
        let segment = Segment {
            source: 3..9,
            parts: vec![SegmentPart::Text("abc abc abc abc.".to_owned())],
        };
        let out = phonemize_segment(&mut Echo, "en-us", &map(), &segment, &limits)?;
        assert!(out.sentences.len() >= 2);
        for s in &out.sentences {
            assert!(s.phoneme_count() <= 8, "{:?}", s.phonemes);
            assert_eq!(s.text, 3..9);
        }
        let all: String = out.sentences.iter().map(|s| s.phonemes.as_str()).collect();
        assert_eq!(all, "abc abc abc abc.");
        assert!(matches!(
            out.diagnostics.first(),
            Some(Diagnostic::SentenceSplit { .. })
        ));
        Ok(())
    }

    #[test]
    fn inline_phonemes_are_checked_against_the_voice() -> Result<(), TextError> {
        let segment = Segment {
            source: 0..10,
            parts: vec![
                SegmentPart::Text("a".to_owned()),
                SegmentPart::Phonemes("həˈloʊ".to_owned()),
            ],
        };
        let out = phonemize_segment(&mut Echo, "en-us", &map(), &segment, &Limits::default())?;
        assert_eq!(out.sentences.len(), 1);
        // "ʊ" is not in the test map: reported, left out.
        assert_eq!(
            out.diagnostics,
            vec![Diagnostic::UnknownPhoneme {
                symbol: "ʊ".to_owned(),
                text: 0..10,
                count: 1
            }]
        );
        Ok(())
    }

    #[test]
    fn the_budget_counts_across_segments() -> Result<(), TextError> {
        let limits = Limits::default().with_max_phonemes_per_request(10);
        let segment = Segment {
            source: 0..4,
            parts: vec![SegmentPart::Text("abcd.".to_owned())],
        };
        let mut budget = PhonemeBudget::new();
        let out = phonemize_segment(&mut Echo, "en-us", &map(), &segment, &limits)?;
        budget.spend(&out.sentences, &limits)?;
        budget.spend(&out.sentences, &limits)?;
        let err = budget.spend(&out.sentences, &limits);
        assert!(matches!(
            err,
            Err(TextError::LimitExceeded {
                limit: "max_phonemes_per_request",
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn long_words_are_cut() -> Result<(), TextError> {
        let (out, cuts) = cut_long_words(&format!("ok {} ok", "x".repeat(130)));
        assert_eq!(cuts, 2);
        assert!(out.split(' ').all(|w| w.chars().count() <= MAX_WORD_CHARS));
        let p = prepare(
            &"s'".repeat(220),
            Normalization::English,
            &Limits::default(),
        )?;
        assert!(p.diagnostics.contains(&Diagnostic::LongWordsCut {
            count: 6,
            max_chars: MAX_WORD_CHARS
        }));
        Ok(())
    }

    #[test]
    fn symbol_split_prefers_spaces() {
        let s: Vec<String> = "ab cd efgh".chars().map(String::from).collect();
        let pieces = split_symbols(&s, 6);
        let joined: Vec<String> = pieces.iter().map(|p| p.concat()).collect();
        assert_eq!(joined, vec!["ab cd ", "efgh"]);
        assert_eq!(split_symbols(&[], 3).len(), 1);
    }
}
