//! From espeak clauses to the phoneme ids a Piper-trained VITS voice expects.
//!
//! The conventions are Piper's (piper-tts 1.8), which its voices were trained with:
//!
//! 1. Per clause, `(lang)` switch flags are removed, the clause's terminator is appended
//!    (followed by a space after `,` `:` `;`), and the result is NFD-decomposed into code
//!    points, one symbol each.
//! 2. Clauses are grouped into sentences at each clause that ends a sentence; clauses left
//!    over at the end form a last sentence. Empty sentences are skipped.
//! 3. If the voice declares vowel clusters, adjacent symbols forming a known cluster are
//!    merged into one symbol (longest first). Without declared clusters nothing is merged,
//!    even when the map has multi-code-point keys: this is what Piper does.
//! 4. Per sentence the ids are `^`, `_`, then each symbol's ids followed by `_`, then `$`:
//!    `2n + 3` ids for `n` symbols that map to one id each. A symbol missing from the map
//!    is left out and reported as a [`Diagnostic::UnknownPhoneme`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Diagnostic, TextError};
use crate::guard::guard_input;
use crate::limits::Limits;
use crate::phonemize::Phonemize;
use crate::protocol::{Clause, Terminator, MAX_TEXT_BYTES};

/// Beginning-of-sentence symbol.
pub const BOS: &str = "^";
/// End-of-sentence symbol.
pub const EOS: &str = "$";
/// Padding symbol, placed after every phoneme.
pub const PAD: &str = "_";

/// A voice's map from phoneme symbols to ids, with its optional vowel clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeIdMap {
    map: HashMap<String, Vec<i64>>,
    clusters: HashSet<Vec<String>>,
    max_cluster_len: usize,
}

impl PhonemeIdMap {
    /// Builds a map from a voice's `phoneme_id_map`.
    ///
    /// # Errors
    /// [`TextError::MissingRequiredSymbol`] if `^`, `_` or `$` is absent,
    /// [`TextError::EmptyIdList`] for a symbol with no ids.
    pub fn new(map: BTreeMap<String, Vec<i64>>) -> Result<Self, TextError> {
        for symbol in [BOS, EOS, PAD] {
            if !map.contains_key(symbol) {
                return Err(TextError::MissingRequiredSymbol { symbol });
            }
        }
        if let Some((symbol, _)) = map.iter().find(|(_, ids)| ids.is_empty()) {
            return Err(TextError::EmptyIdList {
                symbol: symbol.clone(),
            });
        }
        Ok(Self {
            map: map.into_iter().collect(),
            clusters: HashSet::new(),
            max_cluster_len: 0,
        })
    }

    /// Declares vowel clusters (Piper's `vowel_clusters` config key): sequences of symbols
    /// to merge into one symbol, which must be a key of the map.
    ///
    /// # Errors
    /// [`TextError::InvalidVowelCluster`] for a cluster of fewer than two symbols or whose
    /// merged form is not in the map.
    pub fn with_vowel_clusters(
        mut self,
        clusters: impl IntoIterator<Item = Vec<String>>,
    ) -> Result<Self, TextError> {
        for cluster in clusters {
            let joined = cluster.concat();
            if cluster.len() < 2 {
                return Err(TextError::InvalidVowelCluster {
                    cluster: joined,
                    reason: "a cluster needs at least two symbols",
                });
            }
            if !self.map.contains_key(&joined) {
                return Err(TextError::InvalidVowelCluster {
                    cluster: joined,
                    reason: "the merged symbol is not in the phoneme id map",
                });
            }
            self.max_cluster_len = self.max_cluster_len.max(cluster.len());
            self.clusters.insert(cluster);
        }
        Ok(self)
    }

    /// The ids of a symbol.
    #[must_use]
    pub fn get(&self, symbol: &str) -> Option<&[i64]> {
        self.map.get(symbol).map(Vec::as_slice)
    }

    /// The largest id in the map (models check it against their vocabulary size).
    #[must_use]
    pub fn max_id(&self) -> Option<i64> {
        self.map.values().flatten().copied().max()
    }

    /// Labels bare ids (given without the symbols they came from) with the symbol the map
    /// gives each one, for timings: `^`, `_` and `$` for the frame ids; `#<id>` for an id
    /// no symbol maps to alone. Text spoken through the frontend never needs this: its
    /// [`Sentence::symbols`] carry the symbols themselves.
    #[must_use]
    pub fn label_ids(&self, ids: &[i64]) -> Vec<String> {
        let mut by_id: HashMap<i64, &str> = HashMap::new();
        for (symbol, found) in &self.map {
            if let [id] = found.as_slice() {
                let slot = by_id.entry(*id).or_insert(symbol.as_str());
                if symbol.as_str() < *slot {
                    *slot = symbol.as_str();
                }
            }
        }
        ids.iter()
            .map(|id| match by_id.get(id) {
                Some(symbol) => (*symbol).to_owned(),
                None => format!("#{id}"),
            })
            .collect()
    }

    fn required(&self, symbol: &'static str) -> &[i64] {
        // `new` guarantees the required symbols are present.
        self.get(symbol).unwrap_or_default()
    }
}

/// One sentence, ready for the acoustic model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sentence {
    /// Byte range of the sentence in the caller's text (as far as espeak reports clause
    /// ends; leading white space is excluded).
    pub text: Range<usize>,
    /// The sentence's phoneme symbols, concatenated (NFD, flags removed, terminators kept).
    pub phonemes: String,
    /// Phoneme ids: `^ _ (id _)* $`.
    pub ids: Vec<i64>,
    /// The symbol each id of `ids` speaks, one per id: `^`, `_` and `$` for the frame
    /// ids, the phoneme's symbol for each of its ids. Timings label phonemes with these
    /// ([`crate::align`]).
    pub symbols: Vec<String>,
}

impl Sentence {
    /// How many phoneme symbols the sentence has (what
    /// [`Limits::max_phonemes_per_sentence`] bounds).
    #[must_use]
    pub fn phoneme_count(&self) -> usize {
        self.phonemes.chars().count()
    }

    /// Whether the sentence holds a voiced phoneme, not only pauses and punctuation.
    #[must_use]
    pub fn is_voiced(&self) -> bool {
        self.phonemes
            .chars()
            .any(|c| !matches!(c, ' ' | '.' | ',' | '?' | '!' | ':' | ';'))
    }
}

/// The symbols of one sentence before id mapping, with the text offset where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceSymbols {
    /// Symbols (code points, or merged vowel clusters).
    pub symbols: Vec<String>,
    /// Offset in the phonemized text where the sentence's last clause ended.
    pub text_end: usize,
}

/// Removes `(lang)` switch flags: every `(` followed by at least one character other
/// than `)` and then `)`.
#[must_use]
pub fn strip_language_flags(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        let (before, from_open) = rest.split_at(open);
        out.push_str(before);
        let after_open = from_open.get(1..).unwrap_or_default();
        match after_open.find(')') {
            Some(close) if close > 0 => {
                rest = after_open.get(close + 1..).unwrap_or_default();
            }
            _ => {
                out.push('(');
                rest = after_open;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Piper's per-clause text: flags removed, terminator (and a space after `,` `:` `;`) appended.
fn clause_text(clause: &Clause) -> String {
    let mut s = strip_language_flags(&clause.phonemes);
    if let Some(t) = clause.terminator {
        s.push(t.as_char());
        if matches!(
            t,
            Terminator::Comma | Terminator::Colon | Terminator::Semicolon
        ) {
            s.push(' ');
        }
    }
    s
}

/// Groups clauses into sentences of symbols, Piper's way; empty sentences are skipped.
#[must_use]
pub fn group_sentences(clauses: &[Clause], id_map: &PhonemeIdMap) -> Vec<SentenceSymbols> {
    let mut sentences = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut finish = |symbols: Vec<String>, text_end: usize| {
        if !symbols.is_empty() {
            sentences.push(SentenceSymbols {
                symbols: merge_vowel_clusters(symbols, id_map),
                text_end,
            });
        }
    };
    let mut last_end = 0;
    for clause in clauses {
        current.extend(clause_text(clause).nfd().map(String::from));
        last_end = clause.text_end;
        if clause.end_of_sentence {
            finish(std::mem::take(&mut current), last_end);
        }
    }
    finish(current, last_end);
    sentences
}

/// Merges adjacent known vowel clusters, longest first (Piper's `_merge_known_vowel_clusters`).
fn merge_vowel_clusters(symbols: Vec<String>, id_map: &PhonemeIdMap) -> Vec<String> {
    if id_map.clusters.is_empty() {
        return symbols;
    }
    let mut out = Vec::with_capacity(symbols.len());
    let mut i = 0;
    while i < symbols.len() {
        let longest = id_map.max_cluster_len.min(symbols.len() - i);
        let matched = (2..=longest).rev().find(|&n| {
            symbols
                .get(i..i + n)
                .is_some_and(|window| id_map.clusters.contains(window))
        });
        match matched {
            Some(n) => {
                out.push(symbols.get(i..i + n).unwrap_or_default().concat());
                i += n;
            }
            None => {
                if let Some(s) = symbols.get(i) {
                    out.push(s.clone());
                }
                i += 1;
            }
        }
    }
    out
}

/// Maps one sentence's symbols to ids: `^ _ (ids _)* $`. Unknown symbols are left out and
/// counted into `unknown` (symbol → count).
#[must_use]
pub fn symbols_to_ids(
    symbols: &[String],
    id_map: &PhonemeIdMap,
    unknown: &mut BTreeMap<String, usize>,
) -> Vec<i64> {
    labelled_ids(symbols, id_map, unknown).0
}

/// [`symbols_to_ids`], with the symbol each id speaks (see [`Sentence::symbols`]).
pub(crate) fn labelled_ids(
    symbols: &[String],
    id_map: &PhonemeIdMap,
    unknown: &mut BTreeMap<String, usize>,
) -> (Vec<i64>, Vec<String>) {
    let pad = id_map.required(PAD);
    let mut ids = Vec::with_capacity(2 * symbols.len() + 3);
    let mut labels = Vec::with_capacity(2 * symbols.len() + 3);
    let mut push = |found: &[i64], label: &str| {
        ids.extend_from_slice(found);
        labels.extend(found.iter().map(|_| label.to_owned()));
    };
    push(id_map.required(BOS), BOS);
    push(pad, PAD);
    for symbol in symbols {
        match id_map.get(symbol) {
            Some(found) => {
                push(found, symbol);
                push(pad, PAD);
            }
            None => *unknown.entry(symbol.clone()).or_insert(0) += 1,
        }
    }
    push(id_map.required(EOS), EOS);
    (ids, labels)
}

/// Symbols that carry no sound of their own: a sentence of only these is silent.
fn is_pause_symbol(symbol: &str) -> bool {
    matches!(symbol, " " | "." | "," | "?" | "!" | ":" | ";")
}

/// The byte span of a sentence that starts at or after `start` and whose last clause
/// espeak reported as ending at `reported_end`. espeak reads one character past the end of
/// a clause (the text's end excepted), so that character is given back; white space is
/// trimmed from both ends.
fn sentence_span(text: &str, start: usize, reported_end: usize) -> (usize, usize) {
    let mut end = reported_end.clamp(start, text.len());
    if end < text.len() {
        if let Some(c) = text.get(start..end).and_then(|s| s.chars().next_back()) {
            end -= c.len_utf8();
        }
    }
    let slice = text.get(start..end).unwrap_or_default();
    let trimmed_start = start + (slice.len() - slice.trim_start().len());
    let trimmed_end = start + slice.trim_end().len();
    if trimmed_start >= trimmed_end {
        (end, end)
    } else {
        (trimmed_start, trimmed_end)
    }
}

/// Splits `text` into pieces of at most `max` bytes for the helper, preferring to cut
/// after a line break, then after sentence punctuation followed by white space, then at
/// white space, then at any character boundary. Returns `(offset, piece)` pairs.
#[must_use]
pub fn split_for_helper(text: &str, max: usize) -> Vec<(usize, &str)> {
    let max = max.max(4);
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let rest = text.get(start..).unwrap_or_default();
        if rest.len() <= max {
            pieces.push((start, rest));
            break;
        }
        let mut limit = max;
        while !rest.is_char_boundary(limit) {
            limit -= 1;
        }
        let window = rest.get(..limit).unwrap_or_default();
        let cut = window
            .rfind('\n')
            .map(|i| i + 1)
            .or_else(|| {
                window
                    .char_indices()
                    .zip(window.char_indices().skip(1))
                    .filter(|((_, c), (_, next))| {
                        matches!(c, '.' | '!' | '?') && next.is_whitespace()
                    })
                    .map(|(_, (j, next))| j + next.len_utf8())
                    .last()
            })
            .or_else(|| {
                window
                    .char_indices()
                    .rev()
                    .find(|(_, c)| c.is_whitespace())
                    .map(|(i, c)| i + c.len_utf8())
            })
            .filter(|&cut| cut > 0 && cut <= limit)
            .unwrap_or(limit);
        pieces.push((start, rest.get(..cut).unwrap_or_default()));
        start += cut;
    }
    pieces
}

/// Turns text into sentences of phoneme ids for a voice, with the default [`Limits`].
///
/// See [`text_to_sentences_with_limits`].
///
/// # Errors
/// As [`text_to_sentences_with_limits`].
pub fn text_to_sentences(
    phonemizer: &mut dyn Phonemize,
    voice: &str,
    id_map: &PhonemeIdMap,
    text: &str,
) -> Result<(Vec<Sentence>, Vec<Diagnostic>), TextError> {
    text_to_sentences_with_limits(phonemizer, voice, id_map, text, &Limits::default())
}

/// Turns text into sentences of phoneme ids for a voice, exactly as Piper does.
///
/// This is the Piper-compatible path (the agreement tests hold it to piper-tts's output):
/// no normalization, no Unicode policy beyond removing control characters, espeak-ng's
/// own sentence splitting. `Synthesizer::speak` uses the two-stage
/// [frontend](crate::frontend) instead. Only the input limits of `limits` apply.
///
/// The text passes the input guard, is phonemized by `phonemizer` with the espeak voice
/// `voice` (in pieces of at most 64 KiB, cut at line or sentence breaks), grouped into
/// sentences and mapped with `id_map`, all following Piper's conventions (see the module
/// documentation). Sentences whose symbols are all missing from the map are dropped.
///
/// # Errors
/// [`TextError::LimitExceeded`] over an input limit; [`TextError::NothingToSpeak`] when the text
/// is empty, only white space or punctuation, or nothing in it maps to a voiced phoneme;
/// any error of the phonemizer.
pub fn text_to_sentences_with_limits(
    phonemizer: &mut dyn Phonemize,
    voice: &str,
    id_map: &PhonemeIdMap,
    text: &str,
    limits: &Limits,
) -> Result<(Vec<Sentence>, Vec<Diagnostic>), TextError> {
    let mut diagnostics = Vec::new();
    let guarded = guard_input(text, limits, &mut diagnostics)?;
    let clean = guarded.as_str();
    if clean.trim().is_empty() {
        return Err(TextError::NothingToSpeak {
            reason: "the text is empty or only white space",
        });
    }
    let mut clauses = Vec::new();
    for (offset, piece) in split_for_helper(clean, MAX_TEXT_BYTES) {
        for mut clause in phonemizer.phonemize(voice, piece)? {
            clause.text_end = clause.text_end.saturating_add(offset);
            clauses.push(clause);
        }
    }
    let mut sentences = Vec::new();
    let mut voiced = false;
    let mut start = 0;
    for group in group_sentences(&clauses, id_map) {
        let mut unknown = BTreeMap::new();
        let (ids, labels) = labelled_ids(&group.symbols, id_map, &mut unknown);
        let (span_start, span_end) = sentence_span(clean, start, group.text_end);
        start = span_end.max(start);
        let span = guarded.original_range(span_start..span_end);
        for (symbol, count) in unknown {
            diagnostics.push(Diagnostic::UnknownPhoneme {
                symbol,
                text: span.clone(),
                count,
            });
        }
        let mapped: Vec<&String> = group
            .symbols
            .iter()
            .filter(|s| id_map.get(s).is_some())
            .collect();
        if mapped.is_empty() {
            continue;
        }
        voiced |= mapped.iter().any(|s| !is_pause_symbol(s));
        sentences.push(Sentence {
            text: span,
            phonemes: group.symbols.concat(),
            ids,
            symbols: labels,
        });
    }
    if !voiced {
        return Err(TextError::NothingToSpeak {
            reason: "nothing in the text maps to a voiced phoneme of this voice",
        });
    }
    Ok((sentences, diagnostics))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joe_like_map() -> Result<PhonemeIdMap, TextError> {
        let mut m = BTreeMap::new();
        for (s, id) in [
            ("_", 0),
            ("^", 1),
            ("$", 2),
            (" ", 3),
            ("!", 4),
            (",", 8),
            (".", 10),
            ("?", 13),
            ("a", 14),
            ("b", 15),
            ("h", 20),
            ("l", 24),
            ("o", 27),
            ("w", 35),
            ("ə", 59),
            ("ɜ", 62),
            ("ʊ", 100),
            ("ˈ", 120),
            ("ː", 122),
            ("d", 17),
            ("\u{303}", 141),
        ] {
            m.insert(s.to_owned(), vec![id]);
        }
        PhonemeIdMap::new(m)
    }

    struct Fake(Vec<Clause>);

    impl Phonemize for Fake {
        fn phonemize(&mut self, _voice: &str, text: &str) -> Result<Vec<Clause>, TextError> {
            Ok(self
                .0
                .iter()
                .map(|c| Clause {
                    text_end: c.text_end.min(text.len()),
                    ..c.clone()
                })
                .collect())
        }
    }

    #[test]
    fn ids_follow_piper_layout_two_n_plus_three() -> Result<(), TextError> {
        let map = joe_like_map()?;
        let clauses = [Clause::new("həlˈoʊ", Some(Terminator::Period), true, 6)];
        let groups = group_sentences(&clauses, &map);
        assert_eq!(groups.len(), 1);
        let symbols = &groups
            .first()
            .ok_or(TextError::NothingToSpeak { reason: "" })?
            .symbols;
        assert_eq!(symbols.concat(), "həlˈoʊ.");
        let mut unknown = BTreeMap::new();
        let ids = symbols_to_ids(symbols, &map, &mut unknown);
        assert!(unknown.is_empty());
        assert_eq!(ids.len(), 2 * symbols.len() + 3);
        assert_eq!(
            ids,
            vec![1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 10, 0, 2]
        );
        Ok(())
    }

    #[test]
    fn unknown_symbol_is_dropped_with_diagnostic() -> Result<(), TextError> {
        let map = joe_like_map()?;
        let mut fake = Fake(vec![Clause::new("hæl", Some(Terminator::Period), true, 5)]);
        let (sentences, diags) = text_to_sentences(&mut fake, "en-us", &map, "Hal.")?;
        let s = sentences
            .first()
            .ok_or(TextError::NothingToSpeak { reason: "" })?;
        assert_eq!(s.phonemes, "hæl.");
        // ^ _ h _ l _ . _ $ : the unknown æ is left out.
        assert_eq!(s.ids, vec![1, 0, 20, 0, 24, 0, 10, 0, 2]);
        assert_eq!(
            diags,
            vec![Diagnostic::UnknownPhoneme {
                symbol: "æ".into(),
                text: 0..4,
                count: 1
            }]
        );
        Ok(())
    }

    #[test]
    fn clauses_group_into_sentences_at_end_of_sentence() -> Result<(), TextError> {
        let map = joe_like_map()?;
        let clauses = [
            Clause::new("həlˈoʊ", Some(Terminator::Comma), false, 6),
            Clause::new("wˈɜːld", Some(Terminator::Exclamation), true, 13),
            Clause::new("hˈa", Some(Terminator::Question), true, 17),
            Clause::new("bˈa", None, false, 21),
        ];
        let groups = group_sentences(&clauses, &map);
        let texts: Vec<String> = groups.iter().map(|g| g.symbols.concat()).collect();
        assert_eq!(texts, vec!["həlˈoʊ, wˈɜːld!", "hˈa?", "bˈa"]);
        let ends: Vec<usize> = groups.iter().map(|g| g.text_end).collect();
        assert_eq!(ends, vec![13, 17, 21]);
        Ok(())
    }

    #[test]
    fn empty_sentences_are_skipped_and_spans_map_to_input() -> Result<(), TextError> {
        let map = joe_like_map()?;
        let text = "Hal. \u{7}Bob.";
        let mut fake = Fake(vec![
            // Like espeak, each clause end includes one character of look-ahead.
            Clause::new("hal", Some(Terminator::Period), true, 6),
            Clause::new("", None, true, 6),
            Clause::new("bob", Some(Terminator::Period), true, 9),
        ]);
        let (sentences, diags) = text_to_sentences(&mut fake, "en-us", &map, text)?;
        assert_eq!(sentences.len(), 2);
        let spans: Vec<&str> = sentences
            .iter()
            .map(|s| text.get(s.text.clone()).unwrap_or("?"))
            .collect();
        assert_eq!(spans, vec!["Hal.", "Bob."]);
        assert!(diags.contains(&Diagnostic::ControlCharactersStripped { count: 1 }));
        Ok(())
    }

    #[test]
    fn language_flags_are_removed() {
        assert_eq!(strip_language_flags("(en)hˈɛloʊ(fr)"), "hˈɛloʊ");
        assert_eq!(strip_language_flags("a()b"), "a()b");
        assert_eq!(strip_language_flags("a((en)b"), "ab");
        assert_eq!(strip_language_flags("a(b"), "a(b");
        assert_eq!(strip_language_flags("a)b(c)"), "a)b");
    }

    #[test]
    fn terminators_append_space_after_clause_marks() -> Result<(), TextError> {
        let map = joe_like_map()?;
        let clauses = [
            Clause::new("a", Some(Terminator::Colon), false, 1),
            Clause::new("b", Some(Terminator::Semicolon), false, 2),
            Clause::new("a", Some(Terminator::Question), true, 3),
        ];
        let groups = group_sentences(&clauses, &map);
        let texts: Vec<String> = groups.iter().map(|g| g.symbols.concat()).collect();
        assert_eq!(texts, vec!["a: b; a?"]);
        Ok(())
    }

    #[test]
    fn nfd_splits_precomposed_symbols() -> Result<(), TextError> {
        let map = joe_like_map()?;
        // U+00E3 (a with tilde) decomposes into "a" + U+0303.
        let groups = group_sentences(&[Clause::new("\u{e3}", None, true, 1)], &map);
        let symbols = groups
            .first()
            .map(|g| g.symbols.clone())
            .unwrap_or_default();
        assert_eq!(symbols, vec!["a".to_owned(), "\u{303}".to_owned()]);
        Ok(())
    }

    #[test]
    fn vowel_clusters_merge_only_when_declared() -> Result<(), TextError> {
        let mut m = BTreeMap::new();
        for (s, id) in [
            ("_", 0),
            ("^", 1),
            ("$", 2),
            ("a", 14),
            ("ɪ", 74),
            ("aɪ", 161),
        ] {
            m.insert(s.to_owned(), vec![id]);
        }
        let plain = PhonemeIdMap::new(m)?;
        let clauses = [Clause::new("aɪa", None, true, 3)];
        let groups = group_sentences(&clauses, &plain);
        assert_eq!(groups.first().map(|g| g.symbols.len()), Some(3));
        let merged = plain.with_vowel_clusters([vec!["a".to_owned(), "ɪ".to_owned()]])?;
        let groups = group_sentences(&clauses, &merged);
        let symbols = groups
            .first()
            .map(|g| g.symbols.clone())
            .unwrap_or_default();
        assert_eq!(symbols, vec!["aɪ".to_owned(), "a".to_owned()]);
        let mut unknown = BTreeMap::new();
        assert_eq!(
            symbols_to_ids(&symbols, &merged, &mut unknown),
            vec![1, 0, 161, 0, 14, 0, 2]
        );
        Ok(())
    }

    #[test]
    fn invalid_maps_and_clusters_are_rejected() -> Result<(), TextError> {
        let mut m = BTreeMap::new();
        m.insert("_".to_owned(), vec![0]);
        m.insert("^".to_owned(), vec![1]);
        assert!(matches!(
            PhonemeIdMap::new(m.clone()),
            Err(TextError::MissingRequiredSymbol { symbol: "$" })
        ));
        m.insert("$".to_owned(), vec![2]);
        let map = PhonemeIdMap::new(m)?;
        assert!(map
            .clone()
            .with_vowel_clusters([vec!["a".to_owned(), "b".to_owned()]])
            .is_err());
        assert!(map.with_vowel_clusters([vec!["a".to_owned()]]).is_err());
        Ok(())
    }

    #[test]
    fn nothing_to_speak_is_an_error() -> Result<(), TextError> {
        let map = joe_like_map()?;
        let mut fake = Fake(vec![Clause::new("", None, true, 3)]);
        for text in ["", "   \n", "..."] {
            assert!(matches!(
                text_to_sentences(&mut fake, "en-us", &map, text),
                Err(TextError::NothingToSpeak { .. })
            ));
        }
        // Every symbol unknown to the map: nothing voiced.
        let mut fake = Fake(vec![Clause::new("ʃʃ", None, true, 3)]);
        assert!(matches!(
            text_to_sentences(&mut fake, "en-us", &map, "abc"),
            Err(TextError::NothingToSpeak { .. })
        ));
        Ok(())
    }

    #[test]
    fn long_text_is_split_at_line_then_sentence_then_space() {
        let text = "aaa bbb.\nccc ddd. eee fff";
        let pieces = split_for_helper(text, 12);
        assert_eq!(
            pieces,
            vec![(0, "aaa bbb.\n"), (9, "ccc ddd. "), (18, "eee fff")]
        );
        let pieces = split_for_helper("abcdefghij", 4);
        assert_eq!(pieces, vec![(0, "abcd"), (4, "efgh"), (8, "ij")]);
        // Never cuts inside a character.
        let text = "ééééé";
        for (_, piece) in split_for_helper(text, 5) {
            assert!(piece.len() <= 5 && !piece.is_empty());
        }
        let total: usize = split_for_helper(text, 5).iter().map(|(_, p)| p.len()).sum();
        assert_eq!(total, text.len());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn helper_pieces_cover_the_text_within_the_cap(text in "\\PC{0,300}", max in 4_usize..64) {
            let pieces = split_for_helper(&text, max);
            let mut next = 0;
            for (offset, piece) in &pieces {
                prop_assert_eq!(*offset, next);
                prop_assert!(!piece.is_empty() && piece.len() <= max);
                next += piece.len();
            }
            prop_assert_eq!(next, text.len());
            let joined: String = pieces.iter().map(|(_, p)| *p).collect();
            prop_assert_eq!(joined, text);
        }

        #[test]
        fn flag_stripping_never_grows_and_leaves_no_flag(s in "[()a-z]{0,40}") {
            let out = strip_language_flags(&s);
            prop_assert!(out.len() <= s.len());
            prop_assert_eq!(strip_language_flags(&out), out.clone());
        }

        #[test]
        fn arbitrary_clauses_give_well_formed_ids(
            clauses in proptest::collection::vec(("\\PC{0,12}", any::<bool>(), 0_usize..40), 0..8)
        ) {
            let mut m = BTreeMap::new();
            for (s, id) in [("_", 0), ("^", 1), ("$", 2), ("a", 3), (".", 4)] {
                m.insert(s.to_owned(), vec![id]);
            }
            let map = PhonemeIdMap::new(m).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let clauses: Vec<Clause> = clauses
                .into_iter()
                .map(|(p, eos, end)| Clause::new(p, Some(Terminator::Period), eos, end))
                .collect();
            for group in group_sentences(&clauses, &map) {
                let mut unknown = BTreeMap::new();
                let ids = symbols_to_ids(&group.symbols, &map, &mut unknown);
                let dropped: usize = unknown.values().sum();
                prop_assert_eq!(ids.len(), 2 * (group.symbols.len() - dropped) + 3);
                prop_assert_eq!(ids.first(), Some(&1));
                prop_assert_eq!(ids.last(), Some(&2));
            }
        }
    }
}
