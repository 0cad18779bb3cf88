//! Coqui TTS's text processing (coqui-tts 0.28), reproduced for voices imported from Coqui:
//! its cleaners, its espeak-ng phonemizer's punctuation handling, and its tokenizer.
//!
//! A Coqui model was trained on token ids its own pipeline made, so a Coqui voice must be
//! fed the same ids. [`CoquiTokenizer::text_to_ids`] does what coqui-tts's
//! `TTSTokenizer.text_to_ids` does at inference:
//!
//! 1. **Cleaner** ([`CoquiCleaner`]): NFC, then per cleaner lower-casing, English times
//!    (`10:45` → `ten forty-five a m`, `english_cleaners` only), English numbers (the
//!    `inflect` wording Coqui uses: `1,234` → `twelve thirty-four`, `$25.99` → `twenty five
//!    dollars ninety nine cents`, `3rd` → `third`), symbol replacement (`;` and `:` → `,`,
//!    `-` → space), removal of `<>()[]"`, white space collapsed. Coqui calls the cleaner
//!    with no language for a single-language model, so the English abbreviation table and
//!    `&` → `and` do not apply; this module does the same.
//! 2. **Phonemes** (when `use_phonemes`): the cleaned text is cut at runs of Coqui's
//!    punctuation (`;:,.!?¡¿—…"«»“”` with the white space around them); each piece is
//!    phonemized on its own by espeak-ng (through the sandboxed helper, [`Phonemize`]),
//!    each clause's IPA trimmed and stripped of `(lang)` flags and the clauses concatenated
//!    without a separator; the punctuation runs are put back between the pieces as they
//!    were written.
//! 3. **Encoding**: one token per code point, looked up in the voice's symbol table;
//!    a code point the table lacks is dropped (as Coqui drops it) and reported as a
//!    [`Diagnostic::UnknownPhoneme`]. With `add_blank`, the blank id goes between every two
//!    tokens and at both ends; with `enable_eos_bos`, bos first and eos last.
//!
//! Settings whose Coqui behaviour would feed the model an id outside its table (`add_blank`
//! without a blank symbol, bos/eos without those symbols) are refused when the tokenizer is
//! built ([`TextError::CoquiSettingUnsupported`]). Everything is linear in the text, with no
//! recursion and no panic.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Diagnostic, TextError};
use crate::frontend::{Segment, SegmentPart, SegmentSentences};
use crate::ids::{strip_language_flags, Sentence};
use crate::limits::Limits;
use crate::normalize::numbers::{ONES as UNITS, TENS};
use crate::phonemize::Phonemize;
use crate::protocol::MAX_TEXT_BYTES;

/// The punctuation coqui-tts's espeak phonemizer keeps around the phonemized pieces.
pub const PHONEMIZER_PUNCTUATION: &str = ";:,.!?¡¿—…\"«»“”";

/// A Coqui text cleaner (`text_cleaner` in config.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoquiCleaner {
    /// `english_cleaners`: lower case, times, numbers, symbols.
    English,
    /// `phoneme_cleaners`: numbers and symbols, case kept.
    Phoneme,
    /// `basic_cleaners`: lower case, white space.
    Basic,
    /// `transliteration_cleaners`: as `basic_cleaners` in coqui-tts 0.28 (its ASCII
    /// transliteration is commented out there).
    Transliteration,
    /// `multilingual_cleaners`: lower case, symbols, white space.
    Multilingual,
    /// `multilingual_phoneme_cleaners`: symbols, white space, case kept.
    MultilingualPhoneme,
}

impl CoquiCleaner {
    /// The cleaner Coqui names `name`; `None` for one Signet does not reproduce.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "english_cleaners" => Self::English,
            "phoneme_cleaners" => Self::Phoneme,
            "basic_cleaners" => Self::Basic,
            "transliteration_cleaners" => Self::Transliteration,
            "multilingual_cleaners" => Self::Multilingual,
            "multilingual_phoneme_cleaners" => Self::MultilingualPhoneme,
            _ => return None,
        })
    }

    /// Cleans `text` as Coqui's cleaner of this name does when called with no language.
    #[must_use]
    pub fn clean(self, text: &str) -> String {
        let mut t: String = text.nfc().collect();
        match self {
            Self::English => {
                t = t.to_lowercase();
                t = expand_times(&t);
                t = normalize_numbers(&t);
                t = replace_symbols(&t);
                t = remove_aux_symbols(&t);
            }
            Self::Phoneme => {
                t = normalize_numbers(&t);
                t = replace_symbols(&t);
                t = remove_aux_symbols(&t);
            }
            Self::Basic | Self::Transliteration => t = t.to_lowercase(),
            Self::Multilingual => {
                t = t.to_lowercase();
                t = replace_symbols(&t);
                t = remove_aux_symbols(&t);
            }
            Self::MultilingualPhoneme => {
                t = replace_symbols(&t);
                t = remove_aux_symbols(&t);
            }
        }
        collapse_whitespace(&t)
    }
}

/// The text settings of a Coqui voice, as recorded at import.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoquiTextSettings {
    /// Phonemize with espeak-ng first (`use_phonemes`).
    pub use_phonemes: bool,
    /// `phoneme_language` (espeak-ng voice), when `use_phonemes`.
    pub phoneme_language: Option<String>,
    /// `text_cleaner`, if any.
    pub text_cleaner: Option<String>,
    /// `add_blank`.
    pub add_blank: bool,
    /// `enable_eos_bos_chars`.
    pub enable_eos_bos: bool,
    /// The blank symbol.
    pub blank: Option<String>,
    /// The beginning-of-sentence symbol.
    pub bos: Option<String>,
    /// The end-of-sentence symbol.
    pub eos: Option<String>,
    /// Every symbol in id order (a symbol may repeat; its last position is its id).
    pub symbols: Vec<String>,
}

impl CoquiTextSettings {
    /// Settings with the symbol table `symbols` and everything else off.
    #[must_use]
    pub fn new(symbols: Vec<String>) -> Self {
        Self {
            use_phonemes: false,
            phoneme_language: None,
            text_cleaner: None,
            add_blank: false,
            enable_eos_bos: false,
            blank: None,
            bos: None,
            eos: None,
            symbols,
        }
    }
}

/// Coqui's tokenizer for one voice: text to the token ids its model was trained on.
#[derive(Debug, Clone)]
pub struct CoquiTokenizer {
    ids: HashMap<char, i64>,
    cleaner: Option<CoquiCleaner>,
    /// espeak-ng voice, when phonemizing.
    espeak_voice: Option<String>,
    blank: Option<i64>,
    bos_eos: Option<(i64, i64)>,
}

/// One sentence's tokens before blanks and bos/eos: each id with the code point it encodes.
type Tokens = Vec<(i64, char)>;

impl CoquiTokenizer {
    /// Builds the tokenizer, refusing settings Signet does not reproduce.
    ///
    /// # Errors
    /// [`TextError::CoquiSettingUnsupported`] for a cleaner Signet lacks, `add_blank`
    /// without a blank symbol in the table, `enable_eos_bos` without bos and eos symbols,
    /// `use_phonemes` without a language, or a symbol table over 100,000 entries.
    pub fn new(settings: &CoquiTextSettings) -> Result<Self, TextError> {
        let refuse = |setting: &'static str, value: String, reason: &str| {
            TextError::CoquiSettingUnsupported {
                setting,
                value,
                reason: reason.to_owned(),
            }
        };
        if settings.symbols.len() > 100_000 {
            return Err(refuse(
                "characters",
                format!("{} symbols", settings.symbols.len()),
                "a symbol table holds at most 100000 symbols",
            ));
        }
        let mut ids = HashMap::new();
        let mut specials = HashMap::new();
        for (i, symbol) in settings.symbols.iter().enumerate() {
            let id = i64::try_from(i).unwrap_or(i64::MAX);
            let mut chars = symbol.chars();
            match (chars.next(), chars.next()) {
                // The last position wins, as in Coqui's lookup.
                (Some(c), None) => {
                    ids.insert(c, id);
                }
                _ => {
                    specials.insert(symbol.as_str(), id);
                }
            }
        }
        let special = |s: &Option<String>| -> Option<i64> {
            let s = s.as_deref().filter(|s| !s.is_empty())?;
            specials.get(s).copied().or_else(|| {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => ids.get(&c).copied(),
                    _ => None,
                }
            })
        };
        let cleaner = match settings.text_cleaner.as_deref() {
            None | Some("" | "no_cleaners") => None,
            Some(name) => Some(CoquiCleaner::from_name(name).ok_or_else(|| {
                refuse(
                    "text_cleaner",
                    name.to_owned(),
                    "Signet reproduces english_cleaners, phoneme_cleaners, basic_cleaners, \
                     transliteration_cleaners, multilingual_cleaners and \
                     multilingual_phoneme_cleaners",
                )
            })?),
        };
        let blank = if settings.add_blank {
            Some(special(&settings.blank).ok_or_else(|| {
                refuse(
                    "add_blank",
                    "true".to_owned(),
                    "the symbol table has no blank symbol (coqui-tts would use an id past \
                     the end of the table)",
                )
            })?)
        } else {
            None
        };
        let bos_eos = if settings.enable_eos_bos {
            match (special(&settings.bos), special(&settings.eos)) {
                (Some(b), Some(e)) => Some((b, e)),
                _ => {
                    return Err(refuse(
                        "enable_eos_bos_chars",
                        "true".to_owned(),
                        "the symbol table lacks the bos or eos symbol (coqui-tts would use \
                         an id past the end of the table)",
                    ))
                }
            }
        } else {
            None
        };
        let espeak_voice = if settings.use_phonemes {
            let lang = settings
                .phoneme_language
                .as_deref()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    refuse(
                        "phoneme_language",
                        "null".to_owned(),
                        "use_phonemes needs the language espeak-ng reads the text in",
                    )
                })?;
            // coqui-tts's own renames for espeak-ng.
            Some(match lang {
                "en" => "en-us".to_owned(),
                "zh-cn" => "cmn".to_owned(),
                other => other.to_owned(),
            })
        } else {
            None
        };
        Ok(Self {
            ids,
            cleaner,
            espeak_voice,
            blank,
            bos_eos,
        })
    }

    /// The espeak-ng voice the text is phonemized with, when the voice uses phonemes.
    #[must_use]
    pub fn espeak_voice(&self) -> Option<&str> {
        self.espeak_voice.as_deref()
    }

    /// Whether text goes through espeak-ng.
    #[must_use]
    pub fn uses_phonemes(&self) -> bool {
        self.espeak_voice.is_some()
    }

    /// Cleans `text` with the voice's cleaner (unchanged without one).
    #[must_use]
    pub fn clean(&self, text: &str) -> String {
        match self.cleaner {
            Some(c) => c.clean(text),
            None => text.to_owned(),
        }
    }

    /// What Coqui encodes for `text`: the cleaned text, or its phonemes with the
    /// punctuation put back.
    ///
    /// # Errors
    /// The phonemizer's errors.
    pub fn symbols_of(
        &self,
        phonemizer: Option<&mut (dyn Phonemize + '_)>,
        text: &str,
    ) -> Result<String, TextError> {
        let cleaned = self.clean(text);
        match (&self.espeak_voice, phonemizer) {
            (Some(voice), Some(ph)) => phonemize_keeping_punctuation(ph, voice, &cleaned),
            (Some(_), None) => Err(TextError::CoquiSettingUnsupported {
                setting: "use_phonemes",
                value: "true".to_owned(),
                reason: "no phonemizer was given for a voice that needs one".to_owned(),
            }),
            (None, _) => Ok(cleaned),
        }
    }

    /// The token ids Coqui's tokenizer gives `text`, and the code points it dropped.
    ///
    /// # Errors
    /// The phonemizer's errors.
    pub fn text_to_ids(
        &self,
        phonemizer: Option<&mut (dyn Phonemize + '_)>,
        text: &str,
    ) -> Result<(Vec<i64>, BTreeMap<String, usize>), TextError> {
        let symbols = self.symbols_of(phonemizer, text)?;
        let mut dropped = BTreeMap::new();
        let tokens = self.encode(&symbols, &mut dropped);
        Ok((self.frame(&tokens).0, dropped))
    }

    fn encode(&self, symbols: &str, dropped: &mut BTreeMap<String, usize>) -> Tokens {
        let mut out = Vec::with_capacity(symbols.len());
        for c in symbols.chars() {
            match self.ids.get(&c) {
                Some(&id) => out.push((id, c)),
                None => *dropped.entry(c.to_string()).or_insert(0) += 1,
            }
        }
        out
    }

    /// Blanks and bos/eos around `tokens`: the ids, and the label of each id for timings
    /// (`_` for a blank, `^`/`$` for bos/eos, the symbol otherwise).
    fn frame(&self, tokens: &[(i64, char)]) -> (Vec<i64>, Vec<String>) {
        let mut ids = Vec::with_capacity(tokens.len() * 2 + 3);
        let mut labels = Vec::with_capacity(tokens.len() * 2 + 3);
        for &(id, c) in tokens {
            if let Some(b) = self.blank {
                ids.push(b);
                labels.push("_".to_owned());
            }
            ids.push(id);
            labels.push(c.to_string());
        }
        if let Some(b) = self.blank {
            ids.push(b);
            labels.push("_".to_owned());
        }
        if let Some((bos, eos)) = self.bos_eos {
            ids.insert(0, bos);
            labels.insert(0, "^".to_owned());
            ids.push(eos);
            labels.push("$".to_owned());
        }
        (ids, labels)
    }
}

/// Stage 2 of the frontend for a Coqui voice: one segment of [`crate::prepare_with`] to
/// sentences of Coqui token ids (the [`crate::phonemize_segment`] of Coqui voices).
///
/// Text parts go through the tokenizer; phonemes given inline (`[[...]]`, lexicon entries)
/// are encoded as they are for a phoneme voice and dropped (reported) for a character
/// voice. A sentence over [`Limits::max_phonemes_per_sentence`] tokens is cut after a space
/// ([`Diagnostic::SentenceSplit`]); each piece gets its own blanks and bos/eos.
///
/// # Errors
/// The phonemizer's errors.
pub fn phonemize_segment(
    mut phonemizer: Option<&mut (dyn Phonemize + '_)>,
    tokenizer: &CoquiTokenizer,
    segment: &Segment,
    limits: &Limits,
) -> Result<SegmentSentences, TextError> {
    let mut symbols = String::new();
    let mut dropped = BTreeMap::new();
    for part in &segment.parts {
        let piece = match part {
            SegmentPart::Text(text) => {
                let mut rest = text.as_str();
                let mut out = String::new();
                while !rest.is_empty() {
                    let mut cut = rest.len().min(MAX_TEXT_BYTES);
                    while !rest.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    let (head, tail) = rest.split_at(cut);
                    let symbols = match phonemizer {
                        Some(ref mut p) => tokenizer.symbols_of(Some(&mut **p), head)?,
                        None => tokenizer.symbols_of(None, head)?,
                    };
                    out.push_str(&symbols);
                    rest = tail;
                }
                out
            }
            SegmentPart::Phonemes(p) if tokenizer.uses_phonemes() => p.clone(),
            SegmentPart::Phonemes(p) => {
                for c in p.chars().filter(|c| !c.is_whitespace()) {
                    *dropped.entry(c.to_string()).or_insert(0) += 1;
                }
                continue;
            }
        };
        if !piece.is_empty() {
            if !symbols.is_empty() {
                symbols.push(' ');
            }
            symbols.push_str(&piece);
        }
    }
    let tokens = tokenizer.encode(&symbols, &mut dropped);
    let max = limits.max_phonemes_per_sentence.max(1);
    let pieces = split_tokens(&tokens, max);
    let mut diagnostics = Vec::new();
    if pieces.len() > 1 {
        diagnostics.push(Diagnostic::SentenceSplit {
            text: segment.source.clone(),
            pieces: pieces.len(),
            max_phonemes: max,
        });
    }
    let mut sentences = Vec::new();
    for piece in pieces {
        if piece.is_empty() {
            continue;
        }
        let (ids, labels) = tokenizer.frame(piece);
        sentences.push(Sentence {
            text: segment.source.clone(),
            phonemes: piece.iter().map(|&(_, c)| c).collect(),
            ids,
            symbols: labels,
        });
    }
    diagnostics.extend(unknown_diagnostics(dropped, &segment.source));
    Ok(SegmentSentences {
        sentences,
        diagnostics,
    })
}

fn unknown_diagnostics(
    dropped: BTreeMap<String, usize>,
    text: &Range<usize>,
) -> impl Iterator<Item = Diagnostic> + '_ {
    dropped
        .into_iter()
        .map(move |(symbol, count)| Diagnostic::UnknownPhoneme {
            symbol,
            text: text.clone(),
            count,
        })
}

/// Cuts tokens into pieces of at most `max`, after a space in the second half of each
/// window when there is one, else at the window's end.
fn split_tokens(tokens: &[(i64, char)], max: usize) -> Vec<&[(i64, char)]> {
    let mut out = Vec::new();
    let mut rest = tokens;
    while rest.len() > max {
        let window = rest.get(..max).unwrap_or(rest);
        let cut = window
            .iter()
            .rposition(|&(_, c)| c == ' ')
            .map(|i| i + 1)
            .filter(|&c| c > max / 2)
            .unwrap_or(max);
        let (piece, tail) = rest.split_at(cut.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out.push(rest);
    out
}

// ---------------------------------------------------------------------------------------
// The phonemizer's punctuation handling.

fn is_coqui_punctuation(c: char) -> bool {
    PHONEMIZER_PUNCTUATION.contains(c)
}

/// Where a run of punctuation stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Begin,
    Middle,
    End,
}

/// The text cut at runs of punctuation (with their white space): the pieces between them
/// (empty ones left out) and each run with its position.
fn strip_to_restore(text: &str) -> (Vec<&str>, Vec<(&str, Position)>) {
    // Runs: maximal stretches of white space and punctuation holding punctuation.
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut start: Option<usize> = None;
    let mut has_punct = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || is_coqui_punctuation(c) {
            if start.is_none() {
                start = Some(i);
                has_punct = false;
            }
            has_punct |= is_coqui_punctuation(c);
        } else if let Some(s) = start.take() {
            if has_punct {
                runs.push(s..i);
            }
        }
    }
    if let Some(s) = start {
        if has_punct {
            runs.push(s..text.len());
        }
    }
    if runs.is_empty() {
        return (vec![text], Vec::new());
    }
    if runs.len() == 1
        && runs
            .first()
            .is_some_and(|r| r.start == 0 && r.end == text.len())
    {
        return (Vec::new(), vec![(text, Position::Begin)]);
    }
    let last = runs.len() - 1;
    let mut pieces = Vec::new();
    let mut puncts = Vec::new();
    let mut prev = 0;
    for (k, run) in runs.iter().enumerate() {
        let position = if k == 0 && run.start == 0 {
            Position::Begin
        } else if k == last && run.end == text.len() {
            Position::End
        } else {
            Position::Middle
        };
        puncts.push((text.get(run.clone()).unwrap_or_default(), position));
        let prefix = text.get(prev..run.start).unwrap_or_default();
        if !prefix.is_empty() {
            pieces.push(prefix);
        }
        if k == last && run.end < text.len() {
            pieces.push(text.get(run.end..).unwrap_or_default());
        }
        prev = run.end;
    }
    (pieces, puncts)
}

/// Puts the punctuation runs back between the phonemized pieces, as Coqui does (its
/// first result).
fn restore(pieces: Vec<String>, puncts: &[(&str, Position)]) -> String {
    let mut done: Vec<String> = Vec::new();
    let mut text: std::collections::VecDeque<String> = pieces.into();
    for (k, &(punct, position)) in puncts.iter().enumerate() {
        if text.is_empty() {
            let rest: String = puncts.iter().skip(k).map(|(p, _)| *p).collect();
            done.push(rest);
            break;
        }
        match position {
            Position::Begin => {
                if let Some(first) = text.front_mut() {
                    first.insert_str(0, punct);
                }
            }
            Position::End => {
                if let Some(mut first) = text.pop_front() {
                    first.push_str(punct);
                    done.push(first);
                }
            }
            Position::Middle => {
                if text.len() == 1 {
                    if let Some(first) = text.front_mut() {
                        first.push_str(punct);
                    }
                } else if let (Some(mut a), Some(b)) = (text.pop_front(), text.pop_front()) {
                    a.push_str(punct);
                    a.push_str(&b);
                    text.push_front(a);
                }
            }
        }
    }
    done.extend(text);
    done.into_iter().next().unwrap_or_default()
}

/// Coqui's espeak backend on cleaned text: pieces between punctuation phonemized one by
/// one, clauses trimmed and joined without a separator, punctuation put back.
fn phonemize_keeping_punctuation(
    phonemizer: &mut dyn Phonemize,
    voice: &str,
    text: &str,
) -> Result<String, TextError> {
    let (pieces, puncts) = strip_to_restore(text.trim());
    let mut phonemized = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let mut out = String::new();
        if !piece.trim().is_empty() {
            for clause in phonemizer.phonemize(voice, piece)? {
                out.push_str(strip_language_flags(&clause.phonemes).trim());
            }
        }
        phonemized.push(out.replace('_', ""));
    }
    Ok(restore(phonemized, &puncts))
}

// ---------------------------------------------------------------------------------------
// Cleaners.

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `;` and `:` become `,`, `-` a space (Coqui's symbol replacement with no language).
fn replace_symbols(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ';' | ':' => ',',
            '-' => ' ',
            other => other,
        })
        .collect()
}

fn remove_aux_symbols(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | '"'))
        .collect()
}

/// A word character as Python's `\b` sees one.
fn is_word(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

fn digits_at(chars: &[char], i: usize) -> usize {
    chars
        .get(i..)
        .map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count())
}

fn number_of(chars: &[char]) -> u32 {
    chars
        .iter()
        .filter_map(|c| c.to_digit(10))
        .fold(0_u32, |n, d| n.saturating_mul(10).saturating_add(d))
}

/// English times (`h:mm` with an optional `am`/`pm`), as `english_cleaners` reads them.
fn expand_times(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some((end, words)) = time_at(&chars, i) {
            out.push_str(&words);
            i = end;
        } else {
            if let Some(&c) = chars.get(i) {
                out.push(c);
            }
            i += 1;
        }
    }
    out
}

/// A time starting at `i`: where it ends and its words.
fn time_at(chars: &[char], i: usize) -> Option<(usize, String)> {
    if !chars.get(i)?.is_ascii_digit() || (i > 0 && is_word(chars.get(i - 1))) {
        return None;
    }
    let run = digits_at(chars, i);
    let hour_len = match run {
        1 => 1,
        2 => {
            let h = number_of(chars.get(i..i + 2)?);
            if h <= 23 {
                2
            } else {
                return None;
            }
        }
        _ => return None,
    };
    let colon = i + hour_len;
    if chars.get(colon) != Some(&':') {
        return None;
    }
    let m = chars.get(colon + 1..colon + 3)?;
    if !matches!(m.first(), Some('0'..='5')) || !m.get(1).is_some_and(char::is_ascii_digit) {
        return None;
    }
    let after = colon + 3;
    let spaces = chars
        .get(after..)
        .map_or(0, |s| s.iter().take_while(|c| c.is_whitespace()).count());
    let boundary = |p: usize| is_word(chars.get(p.wrapping_sub(1))) != is_word(chars.get(p));
    let mut found = None;
    for ws in (0..=spaces).rev() {
        let p = after + ws;
        let ampm = chars.get(p..p + 2).and_then(|s| match s {
            ['a', 'm'] => Some("am"),
            ['p', 'm'] => Some("pm"),
            _ => None,
        });
        if let Some(ap) = ampm {
            if boundary(p + 2) {
                found = Some((p + 2, Some(ap)));
                break;
            }
        }
        if boundary(p) {
            found = Some((p, None));
            break;
        }
    }
    let (end, ampm) = found?;
    let mut hour = number_of(chars.get(i..i + hour_len)?);
    let mut past_noon = hour >= 12;
    if hour > 12 {
        hour -= 12;
    } else if hour == 0 {
        hour = 12;
        past_noon = true;
    }
    let minute = number_of(m);
    let mut words = vec![cardinal(&hour.to_string(), true)];
    if minute > 0 {
        if minute < 10 {
            words.push("oh".to_owned());
        }
        words.push(cardinal(&minute.to_string(), true));
    }
    match ampm {
        None => words.push(if past_noon { "p m" } else { "a m" }.to_owned()),
        Some(ap) => words.extend(ap.chars().map(String::from)),
    }
    Some((end, words.join(" ")))
}

/// Coqui's English number normalization, pass by pass as it runs its regexes.
fn normalize_numbers(text: &str) -> String {
    let t = remove_number_commas(text);
    let t = expand_currency(&t);
    let t = expand_decimal_points(&t);
    let t = expand_ordinals(&t);
    expand_cardinals(&t)
}

/// `1,234,567` → `1234567`: a digit, digits and commas, a digit.
fn remove_number_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_ascii_digit() {
            let run = chars.get(i..).map_or(0, |s| {
                s.iter()
                    .take_while(|c| c.is_ascii_digit() || **c == ',')
                    .count()
            });
            let span = chars.get(i..i + run).unwrap_or_default();
            let last_digit = span.iter().rposition(char::is_ascii_digit).unwrap_or(0);
            if last_digit >= 2 {
                out.extend(span.iter().take(last_digit + 1).filter(|c| **c != ','));
                i += last_digit + 1;
            } else {
                out.extend(span);
                i += run.max(1);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `$25.99` → `25 dollars 99 cents` (and `£`, `¥`), digits left for the later passes.
fn expand_currency(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let units: Option<[&str; 4]> = match c {
            '$' => Some(["cent", "cents", "dollar", "dollars"]),
            '£' => Some(["penny", "pence", "pound sterling", "pounds sterling"]),
            '¥' => Some(["sen", "sen", "yen", "yen"]),
            _ => None,
        };
        if let Some(units) = units {
            let rest = chars.get(i + 1..).unwrap_or_default();
            let run = rest
                .iter()
                .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | '.'))
                .count();
            if let Some(last) = rest
                .get(..run)
                .and_then(|s| s.iter().rposition(char::is_ascii_digit))
            {
                let value: String = rest.get(..=last).unwrap_or_default().iter().collect();
                out.push_str(&currency_words(&value, units));
                i += last + 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn currency_words(value: &str, [cent, cents, one, many]: [&str; 4]) -> String {
    let plain = value.replace(',', "");
    let parts: Vec<&str> = plain.split('.').collect();
    if parts.len() > 2 {
        return format!("{value} {many}");
    }
    let int = |s: &str| -> String {
        let t = s.trim_start_matches('0');
        if t.is_empty() {
            "0".to_owned()
        } else {
            t.to_owned()
        }
    };
    let mut words = Vec::new();
    let integer = parts.first().map_or_else(|| "0".to_owned(), |s| int(s));
    if integer != "0" {
        words.push(format!(
            "{integer} {}",
            if integer == "1" { one } else { many }
        ));
    }
    let fraction = parts.get(1).map_or_else(|| "0".to_owned(), |s| int(s));
    if fraction != "0" {
        words.push(format!(
            "{fraction} {}",
            if fraction == "1" { cent } else { cents }
        ));
    }
    if words.is_empty() {
        return format!("zero {many}");
    }
    words.join(" ")
}

/// `text` with each digit run rewritten: `at(chars, start, run)` gets the text's characters,
/// where a run of `run` ASCII digits starts (`run >= 1`, or 0 at a `-` for `signed`) and
/// returns its replacement and the characters it covers (at least the run).
fn rewrite_numbers(
    text: &str,
    signed: bool,
    at: impl Fn(&[char], usize, usize) -> (String, usize),
) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let negative = signed && c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || negative {
            let (words, covered) = at(&chars, i, digits_at(&chars, i));
            out.push_str(&words);
            i += covered.max(1);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The characters `from..to` of `chars`, as a string.
fn span(chars: &[char], from: usize, to: usize) -> String {
    chars.get(from..to).unwrap_or_default().iter().collect()
}

/// `3.14` → `3 point 14`.
fn expand_decimal_points(text: &str) -> String {
    rewrite_numbers(text, false, |chars, i, run| {
        let frac = digits_at(chars, i + run + 1);
        if chars.get(i + run) == Some(&'.') && frac > 0 {
            let point = span(chars, i + run + 1, i + run + 1 + frac);
            (
                format!("{} point {point}", span(chars, i, i + run)),
                run + 1 + frac,
            )
        } else {
            (span(chars, i, i + run), run)
        }
    })
}

/// `21st` → `twenty-first`.
fn expand_ordinals(text: &str) -> String {
    rewrite_numbers(text, false, |chars, i, run| {
        let digits = span(chars, i, i + run);
        let suffix = chars.get(i + run..i + run + 2);
        if matches!(
            suffix,
            Some(['s', 't'] | ['n', 'd'] | ['r', 'd'] | ['t', 'h'])
        ) {
            (ordinal(&digits), run + 2)
        } else {
            (digits, run)
        }
    })
}

/// `-15` → `minus fifteen`, `1976` → `nineteen seventy-six`.
fn expand_cardinals(text: &str) -> String {
    rewrite_numbers(text, true, |chars, i, run| {
        if run == 0 {
            // A `-` before digits.
            let run = digits_at(chars, i + 1);
            (
                expand_number(&span(chars, i + 1, i + 1 + run), true),
                1 + run,
            )
        } else {
            (expand_number(&span(chars, i, i + run), false), run)
        }
    })
}

const MILLS: [&str; 12] = [
    "",
    " thousand",
    " million",
    " billion",
    " trillion",
    " quadrillion",
    " quintillion",
    " sextillion",
    " septillion",
    " octillion",
    " nonillion",
    " decillion",
];

/// 0..=99 in words.
fn tens_words(n: usize) -> String {
    if let Some(w) = UNITS.get(n) {
        return (*w).to_owned();
    }
    let (t, u) = (n / 10, n % 10);
    let tens = TENS.get(t).copied().unwrap_or_default();
    if u == 0 {
        tens.to_owned()
    } else {
        format!("{tens}-{}", UNITS.get(u).copied().unwrap_or_default())
    }
}

/// A number (ASCII digits) in words as `inflect` writes it with `group=0`: three-digit
/// groups with their scale joined by `, `, the last group after ` and ` (or a space,
/// without `and`) when it is below a hundred; `and` inside a group before its tens.
/// `None` past the decillions.
fn cardinal_groups(digits: &str, and: bool) -> Option<String> {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some("zero".to_owned());
    }
    let bytes = digits.as_bytes();
    let n_groups = bytes.len().div_ceil(3);
    if n_groups > MILLS.len() {
        return None;
    }
    let mut parts: Vec<(usize, String)> = Vec::new();
    for g in (0..n_groups).rev() {
        let end = bytes.len() - 3 * g;
        let start = end.saturating_sub(3);
        let value = bytes
            .get(start..end)?
            .iter()
            .fold(0_usize, |n, b| n * 10 + usize::from(b - b'0'));
        if value == 0 {
            continue;
        }
        let (h, r) = (value / 100, value % 100);
        let mut words = String::new();
        if h > 0 {
            words.push_str(UNITS.get(h).copied().unwrap_or_default());
            words.push_str(" hundred");
            if r > 0 {
                words.push_str(if and { " and " } else { " " });
                words.push_str(&tens_words(r));
            }
        } else {
            words.push_str(&tens_words(r));
        }
        words.push_str(MILLS.get(g).copied().unwrap_or_default());
        parts.push((g, words));
    }
    let mut out = String::new();
    let count = parts.len();
    for (k, (g, words)) in parts.iter().enumerate() {
        if k > 0 {
            let short_last = k + 1 == count && *g == 0 && !words.contains(" hundred");
            out.push_str(match (short_last, and) {
                (true, true) => " and ",
                (true, false) => " ",
                _ => ", ",
            });
        }
        out.push_str(words);
    }
    Some(out)
}

/// `inflect`'s `group=1` reading: each digit, `zero` for 0.
fn digit_by_digit(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| UNITS.get(d as usize).copied().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A cardinal in words (`inflect`'s `number_to_words` with or without `and`).
fn cardinal(digits: &str, and: bool) -> String {
    cardinal_groups(digits, and).unwrap_or_else(|| digit_by_digit(digits))
}

/// Coqui's `_expand_number`: years between 1000 and 3000 in pairs, everything else as a
/// cardinal without `and`.
fn expand_number(digits: &str, negative: bool) -> String {
    let trimmed = digits.trim_start_matches('0');
    let value: Option<u32> = if trimmed.len() <= 4 {
        trimmed.parse().ok().or(Some(0))
    } else {
        None
    };
    if let (Some(n), false) = (value, negative) {
        if n > 1000 && n < 3000 {
            if n == 2000 {
                return "two thousand".to_owned();
            }
            if n > 2000 && n < 2010 {
                return format!("two thousand {}", cardinal(&(n % 100).to_string(), true));
            }
            if n % 100 == 0 {
                return format!("{} hundred", cardinal(&(n / 100).to_string(), true));
            }
            let (hi, lo) = (n / 100, n % 100);
            let lo_words = if lo < 10 {
                format!("oh {}", tens_words(lo as usize))
            } else {
                tens_words(lo as usize)
            };
            return format!("{} {lo_words}", tens_words(hi as usize));
        }
    }
    let words = match cardinal_groups(digits, false) {
        Some(w) => w,
        None => digit_by_digit(digits),
    };
    if negative && trimmed.is_empty() {
        // int("-0") is 0.
        words
    } else if negative {
        format!("minus {words}")
    } else {
        words
    }
}

/// An ordinal in words (`inflect`, with `and`): `101` → `one hundred and first`.
fn ordinal(digits: &str) -> String {
    crate::normalize::numbers::ordinal_words(&cardinal(digits, true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_inflect_writes_them() {
        // Expected words from inflect 7 (as coqui-tts 0.28 calls it).
        let cases = [
            ("0", "zero"),
            ("21", "twenty-one"),
            ("101", "one hundred one"),
            ("1000", "one thousand"),
            ("1001", "ten oh one"),
            ("1100", "eleven hundred"),
            ("1234", "twelve thirty-four"),
            ("1905", "nineteen oh five"),
            ("1976", "nineteen seventy-six"),
            ("2000", "two thousand"),
            ("2005", "two thousand five"),
            ("2024", "twenty twenty-four"),
            ("3000", "three thousand"),
            ("10005", "ten thousand five"),
            ("12345", "twelve thousand, three hundred forty-five"),
            ("1000001", "one million one"),
            (
                "1234567",
                "one million, two hundred thirty-four thousand, five hundred sixty-seven",
            ),
            ("1002003", "one million, two thousand three"),
            ("1050000", "one million, fifty thousand"),
            ("00417", "four hundred seventeen"),
        ];
        for (digits, words) in cases {
            assert_eq!(expand_number(digits, false), words, "{digits}");
        }
        assert_eq!(expand_number("15", true), "minus fifteen");
        for (digits, words) in [
            ("1", "first"),
            ("2", "second"),
            ("3", "third"),
            ("5", "fifth"),
            ("12", "twelfth"),
            ("20", "twentieth"),
            ("21", "twenty-first"),
            ("100", "one hundredth"),
            ("101", "one hundred and first"),
            ("1234", "one thousand, two hundred and thirty-fourth"),
        ] {
            assert_eq!(ordinal(digits), words, "{digits}");
        }
    }

    #[test]
    fn english_cleaners_match_coqui_on_numbers_money_and_times() {
        let c = CoquiCleaner::English;
        assert_eq!(
            c.clean("Mr. Smith paid $25.99 at 10:45; it's 1,234 & more (really)!"),
            "mr. smith paid twenty five dollars ninety nine cents at ten forty five a m, \
             it's twelve thirty four & more really!"
        );
        // Coqui's time pattern swallows the space after the time.
        assert_eq!(
            c.clean("at 10:45 and 13:20."),
            "at ten forty five a mand one twenty p m."
        );
        assert_eq!(
            c.clean("Pi is 3.14159."),
            "pi is three point fourteen thousand, one hundred fifty nine."
        );
        // A hyphen before digits is a minus sign to Coqui's number pattern.
        assert_eq!(
            c.clean("555-1234"),
            "five hundred fifty fiveminus one thousand, two hundred thirty four"
        );
        assert_eq!(
            c.clean("Call 0:05 pm ok, 12:00am. 7:30 PM"),
            "call twelve oh five p m ok, twelve a m. seven thirty p m"
        );
        assert_eq!(
            c.clean("£12 and €15"),
            "twelve pounds sterling and €fifteen"
        );
    }

    #[test]
    fn punctuation_is_cut_out_and_put_back_as_coqui_does() {
        let (pieces, puncts) = strip_to_restore("hello world, this is. a test!");
        assert_eq!(pieces, ["hello world", "this is", "a test"]);
        assert_eq!(
            puncts,
            [
                (", ", Position::Middle),
                (". ", Position::Middle),
                ("!", Position::End)
            ]
        );
        let back = restore(pieces.iter().map(|s| s.to_uppercase()).collect(), &puncts);
        assert_eq!(back, "HELLO WORLD, THIS IS. A TEST!");
        let (pieces, puncts) = strip_to_restore("\"quoted\" text");
        assert_eq!(pieces, ["quoted", "text"]);
        assert_eq!(restore(vec!["Q".into(), "T".into()], &puncts), "\"Q\" T");
        assert_eq!(
            strip_to_restore("..."),
            (vec![], vec![("...", Position::Begin)])
        );
        assert_eq!(restore(vec![], &[("...", Position::Begin)]), "...");
    }

    /// A phonemizer that spells each word in capitals, one clause per piece.
    struct Spell;

    impl Phonemize for Spell {
        fn phonemize(&mut self, _voice: &str, text: &str) -> Result<Vec<crate::Clause>, TextError> {
            Ok(vec![crate::Clause::new(
                format!(" {} ", text.to_uppercase()),
                None,
                true,
                text.len(),
            )])
        }
    }

    #[test]
    fn segments_become_sentences_of_coqui_ids_with_diagnostics() {
        let symbols = ["<PAD>", ",", ".", " ", "A", "B", "C", "ə", "<BLNK>"];
        let mut s = CoquiTextSettings::new(symbols.map(String::from).to_vec());
        s.use_phonemes = true;
        s.phoneme_language = Some("en".into());
        s.text_cleaner = Some("phoneme_cleaners".into());
        s.add_blank = true;
        s.blank = Some("<BLNK>".into());
        let t = CoquiTokenizer::new(&s).unwrap();
        assert_eq!(t.espeak_voice(), Some("en-us"));
        let segment = Segment {
            source: 0..12,
            parts: vec![
                SegmentPart::Text("ab, cd.".into()),
                SegmentPart::Phonemes("ə".into()),
            ],
        };
        let out = phonemize_segment(Some(&mut Spell), &t, &segment, &Limits::default()).unwrap();
        assert_eq!(out.sentences.len(), 1);
        let sentence = &out.sentences[0];
        // Pieces phonemized apart, punctuation put back, `D` unknown and dropped.
        assert_eq!(sentence.phonemes, "AB, C. ə");
        assert_eq!(
            sentence.ids,
            [8, 4, 8, 5, 8, 1, 8, 3, 8, 6, 8, 2, 8, 3, 8, 7, 8]
        );
        assert_eq!(sentence.symbols.len(), sentence.ids.len());
        assert_eq!(sentence.symbols[0], "_");
        assert!(out.diagnostics.iter().any(|d| matches!(
            d,
            Diagnostic::UnknownPhoneme { symbol, count: 1, .. } if symbol == "D"
        )));
        // The per-sentence phoneme limit cuts after a space; each piece is framed.
        let limits = Limits::default().with_max_phonemes_per_sentence(4);
        let out = phonemize_segment(Some(&mut Spell), &t, &segment, &limits).unwrap();
        assert!(out.sentences.len() > 1);
        assert!(out
            .sentences
            .iter()
            .all(|s| s.phoneme_count() <= 4 && s.ids.first() == Some(&8)));
        assert!(out
            .diagnostics
            .iter()
            .any(|d| matches!(d, Diagnostic::SentenceSplit { .. })));
    }

    #[test]
    fn blanks_and_bos_eos_frame_the_tokens() {
        let mut s = CoquiTextSettings::new(
            ["_", "<BOS>", "<EOS>", "<BLNK>", "a", "b", " "]
                .map(String::from)
                .to_vec(),
        );
        s.add_blank = true;
        s.blank = Some("<BLNK>".into());
        s.enable_eos_bos = true;
        s.bos = Some("<BOS>".into());
        s.eos = Some("<EOS>".into());
        let t = CoquiTokenizer::new(&s).unwrap();
        let (ids, dropped) = t.text_to_ids(None, "ab c").unwrap();
        assert_eq!(ids, [1, 3, 4, 3, 5, 3, 6, 3, 2]);
        assert_eq!(dropped.get("c"), Some(&1));
        s.blank = None;
        assert!(matches!(
            CoquiTokenizer::new(&s),
            Err(TextError::CoquiSettingUnsupported {
                setting: "add_blank",
                ..
            })
        ));
        s.add_blank = false;
        s.text_cleaner = Some("gruut_cleaners".into());
        let err = CoquiTokenizer::new(&s).unwrap_err().to_string();
        assert!(err.contains("gruut_cleaners"), "{err}");
    }
}
