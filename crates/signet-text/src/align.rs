//! Word alignment and phoneme timestamps from the durations an acoustic model
//! predicts for each phoneme id.
//!
//! # Phonemes
//!
//! VITS gives every input id a whole number of latent frames, and every
//! frame becomes `hop_length` samples (256 for Piper's medium voices). A
//! sentence's ids are `^ _ (id _)* $` (BOS, then each phoneme followed by
//! the pad id, then EOS), so a phoneme's interval runs from its first frame
//! to the end of the pad that follows it; BOS and its pad lead the sentence,
//! EOS ends it. Each phoneme is labelled with the symbol the frontend mapped
//! to its ids ([`Sentence::symbols`](crate::Sentence::symbols)), so nothing
//! here reads the voice's id map back.
//!
//! # Words
//!
//! espeak-ng separates words with a space symbol, but its words are not
//! always the text's: it merges short words (`of the` is one phoneme word,
//! `ʌvðə`), expands numbers and symbols into several (`1,234` is five), and
//! reads abbreviations its own way. Words are therefore *aligned*, not
//! counted: the text's words (white-space separated tokens, trimmed of
//! punctuation; tokens without a letter or digit are skipped) and the
//! phoneme words are matched by a monotonic dynamic-programming alignment
//! whose steps pair one text word with one to 16 phoneme words (an expanded
//! number), or two or three text words with one phoneme word (a merge). A
//! step costs three times the absolute log ratio of the text words'
//! estimated phoneme count (a letter counts one, a digit six, one of
//! `$€£%&+@#` five, other punctuation nothing) to the phoneme words' real
//! count, plus a penalty for every word beyond one to one: 0.5 per merged
//! text word, 1 per extra phoneme word of a word without digits, 0.05 per
//! extra phoneme word of a word with digits (numbers expand; words rarely
//! do).
//!
//! Each step of the best alignment becomes one [`WordTiming`]: one text word
//! in the common case, or several (`"of the"`) where espeak merged them; its
//! interval spans its phoneme words, from the first sounding phoneme to the
//! end of the last one, punctuation pauses excluded. Where no alignment
//! exists (a sentence whose counts are too far apart for the steps above),
//! the whole sentence is one entry. Entries are in order, never overlap and
//! lie inside the sentence's audio.

use std::ops::Range;

use crate::ids::{BOS, EOS, PAD};

/// When a word was spoken, in samples of the output audio.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WordTiming {
    /// The word as written, or several words where the phonemizer merged
    /// them (see the module docs).
    pub word: String,
    /// Its byte range in the text given to `speak`.
    pub text: Range<usize>,
    /// First sample.
    pub start: u64,
    /// One past the last sample.
    pub end: u64,
}

/// When a phoneme was spoken, in samples of the output audio.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PhonemeTiming {
    /// The phoneme symbol (IPA, or punctuation and the word-separating
    /// space, which carry pauses).
    pub phoneme: String,
    /// First sample.
    pub start: u64,
    /// One past the last sample.
    pub end: u64,
}

/// Where an SSML `<mark>` fell, in samples of the output audio.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MarkTiming {
    /// The mark's name.
    pub name: String,
    /// The sample it stands at: the start of the first word after it, or the end of
    /// the speech before it when no word follows in its sentence.
    pub sample: u64,
}

impl MarkTiming {
    /// A mark at a sample.
    #[must_use]
    pub fn new(name: String, sample: u64) -> Self {
        Self { name, sample }
    }
}

/// Word and phoneme timestamps of a piece of speech.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Words, in order.
    pub words: Vec<WordTiming>,
    /// Phonemes, in order, covering the speech from its first phoneme to its
    /// last.
    pub phonemes: Vec<PhonemeTiming>,
    /// SSML marks, in order (empty for plain text).
    pub marks: Vec<MarkTiming>,
}

impl Timings {
    /// Appends another piece's timings (already in the same time base).
    pub fn extend(&mut self, other: Timings) {
        self.words.extend(other.words);
        self.phonemes.extend(other.phonemes);
        self.marks.extend(other.marks);
    }
}

/// A phoneme of one sentence, in the sentence's own samples.
#[derive(Debug, Clone)]
struct Phone {
    symbol: String,
    start: u64,
    end: u64,
}

/// Phoneme intervals of one sentence (voice-rate samples from its start), from
/// the symbol of each id and each id's duration in frames. The ids of one
/// phoneme (a symbol may map to several) make one interval.
fn phones<S: AsRef<str>>(labels: &[S], durations: &[i64], hop: u64) -> Vec<Phone> {
    let mut out: Vec<Phone> = Vec::new();
    let mut frame: u64 = 0;
    let mut in_phoneme = false;
    for (label, &d) in labels.iter().zip(durations) {
        let label = label.as_ref();
        let d = u64::try_from(d).unwrap_or(0);
        let start = frame.saturating_mul(hop);
        frame = frame.saturating_add(d);
        let end = frame.saturating_mul(hop);
        if label == BOS || label == EOS {
            in_phoneme = false;
            continue;
        }
        let same_phoneme = in_phoneme && out.last().is_some_and(|p| p.symbol == label);
        if label == PAD || same_phoneme {
            if let Some(last) = out.last_mut() {
                last.end = end;
            }
            in_phoneme = label != PAD;
            continue;
        }
        in_phoneme = true;
        out.push(Phone {
            symbol: label.to_owned(),
            start,
            end,
        });
    }
    out
}

/// Symbols that mark a pause, not a sound.
fn is_punctuation(symbol: &str) -> bool {
    symbol.chars().all(|c| {
        matches!(
            c,
            '.' | ',' | '?' | '!' | ':' | ';' | '—' | '…' | '"' | '(' | ')' | '-'
        )
    })
}

/// Symbols that modify the phoneme before or after them (stress, length).
fn is_modifier(symbol: &str) -> bool {
    symbol
        .chars()
        .all(|c| matches!(c, 'ˈ' | 'ˌ' | 'ː' | 'ˑ' | '\u{0329}' | '\u{032f}'))
}

/// A phoneme word: its sounding phonemes' span and how many there are.
#[derive(Debug, Clone, Copy)]
struct PhoneWord {
    start: u64,
    end: u64,
    count: usize,
}

fn phone_words(phones: &[Phone]) -> Vec<PhoneWord> {
    let mut words = Vec::new();
    let mut current: Option<PhoneWord> = None;
    for p in phones {
        if p.symbol == " " {
            words.extend(current.take());
            continue;
        }
        if is_punctuation(&p.symbol) {
            continue;
        }
        let counts = usize::from(!is_modifier(&p.symbol));
        match current.as_mut() {
            Some(w) => {
                w.end = p.end;
                w.count += counts;
            }
            None => {
                current = Some(PhoneWord {
                    start: p.start,
                    end: p.end,
                    count: counts,
                })
            }
        }
    }
    words.extend(current);
    words.retain(|w| w.count > 0);
    words
}

/// A word of the text: its byte range in the whole text and its estimated
/// phoneme count.
#[derive(Debug, Clone)]
struct TextWord {
    range: Range<usize>,
    estimate: usize,
    has_digit: bool,
}

fn text_words(text: &str, span: Range<usize>) -> Vec<TextWord> {
    let Some(sentence) = text.get(span.clone()) else {
        return Vec::new();
    };
    let mut words = Vec::new();
    let mut offset = 0;
    for token in sentence.split_whitespace() {
        // `split_whitespace` yields sub-slices: find this one after the last.
        let at = sentence
            .get(offset..)
            .and_then(|rest| rest.find(token))
            .map_or(offset, |i| offset + i);
        offset = at + token.len();
        let trimmed = token.trim_matches(|c: char| !c.is_alphanumeric());
        if trimmed.is_empty() {
            continue;
        }
        let lead = token.len()
            - token
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        let start = span.start + at + lead;
        let estimate = trimmed
            .chars()
            .map(|c| {
                if c.is_alphabetic() {
                    1
                } else if c.is_numeric() {
                    6
                } else if matches!(c, '$' | '€' | '£' | '%' | '&' | '+' | '@' | '#') {
                    5
                } else {
                    0
                }
            })
            .sum();
        words.push(TextWord {
            range: start..start + trimmed.len(),
            estimate,
            has_digit: trimmed.chars().any(char::is_numeric),
        });
    }
    words
}

/// Most phoneme words one text word may expand to.
const MAX_EXPANSION: usize = 16;
/// Most text words one phoneme word may merge.
const MAX_MERGE: usize = 3;
/// Weight of the log ratio of estimated to real phoneme counts.
const RATIO_WEIGHT: f64 = 3.0;
/// Cost of each text word merged beyond the first.
const MERGE_PENALTY: f64 = 0.5;
/// Cost of each extra phoneme word of a text word without digits.
const EXPAND_PENALTY: f64 = 1.0;
/// Cost of each extra phoneme word of a text word with digits.
const EXPAND_NUMBER_PENALTY: f64 = 0.05;
/// Largest alignment table built; beyond it, the sentence is one entry.
const MAX_CELLS: usize = 4_000_000;

/// Best monotonic alignment: steps of (text words, phoneme words).
fn align(text: &[TextWord], phone: &[PhoneWord]) -> Option<Vec<(usize, usize)>> {
    let (n, m) = (text.len(), phone.len());
    if n == 0 || m == 0 || (n + 1).saturating_mul(m + 1) > MAX_CELLS {
        return None;
    }
    let idx = |i: usize, j: usize| i * (m + 1) + j;
    let mut cost = vec![f64::INFINITY; (n + 1) * (m + 1)];
    let mut step = vec![(0usize, 0usize); (n + 1) * (m + 1)];
    *cost.get_mut(0)? = 0.0;
    for i in 0..=n {
        for j in 0..=m {
            let here = *cost.get(idx(i, j))?;
            if !here.is_finite() {
                continue;
            }
            let mut try_step = |a: usize, b: usize| {
                if i + a > n || j + b > m {
                    return;
                }
                let est: usize = text
                    .get(i..i + a)
                    .map_or(0, |t| t.iter().map(|w| w.estimate).sum());
                let real: usize = phone
                    .get(j..j + b)
                    .map_or(0, |p| p.iter().map(|w| w.count).sum());
                let ratio = ((est as f64 + 1.0) / (real as f64 + 1.0)).ln().abs();
                let expand = if text.get(i).is_some_and(|w| w.has_digit) {
                    EXPAND_NUMBER_PENALTY
                } else {
                    EXPAND_PENALTY
                };
                let c = here
                    + RATIO_WEIGHT * ratio
                    + MERGE_PENALTY * (a - 1) as f64
                    + expand * (b - 1) as f64;
                if let (Some(slot), Some(s)) = (
                    cost.get_mut(idx(i + a, j + b)),
                    step.get_mut(idx(i + a, j + b)),
                ) {
                    if c < *slot {
                        *slot = c;
                        *s = (a, b);
                    }
                }
            };
            for b in 1..=MAX_EXPANSION {
                try_step(1, b);
            }
            for a in 2..=MAX_MERGE {
                try_step(a, 1);
            }
        }
    }
    if !cost.get(idx(n, m))?.is_finite() {
        return None;
    }
    let (mut i, mut j) = (n, m);
    let mut steps = Vec::new();
    while i > 0 || j > 0 {
        let (a, b) = *step.get(idx(i, j))?;
        if a == 0 || b == 0 {
            return None;
        }
        steps.push((a, b));
        i -= a;
        j -= b;
    }
    steps.reverse();
    Some(steps)
}

/// A word of the text and the phoneme words of one sentence that speak it,
/// planned before synthesis by [`plan_words`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPlan {
    /// Byte range in the text.
    text: Range<usize>,
    /// First and last phoneme word (inclusive), counted in the sentence.
    first: usize,
    last: usize,
}

/// Plans the words of the text `span` over the sentences it was
/// phonemized into (one list of plans per sentence, each sentence given by
/// the symbols of its ids), before synthesis: where a word is, in phoneme
/// words, depends on the symbols only.
#[must_use]
pub fn plan_words<S: AsRef<str>>(
    text: &str,
    span: Range<usize>,
    sentences: &[&[S]],
) -> Vec<Vec<WordPlan>> {
    let mut plans: Vec<Vec<WordPlan>> = vec![Vec::new(); sentences.len()];
    // Phoneme words of every sentence, as (sentence, index in it, word).
    let mut owners = Vec::new();
    let mut pwords = Vec::new();
    for (s, labels) in sentences.iter().enumerate() {
        let ones = vec![1i64; labels.len()];
        for (k, w) in phone_words(&phones(labels, &ones, 1))
            .into_iter()
            .enumerate()
        {
            owners.push((s, k));
            pwords.push(w);
        }
    }
    let twords = text_words(text, span);
    let mut push = |t: &[TextWord], j: usize, b: usize| {
        let (Some(t0), Some(t1), Some(&(s, k))) = (t.first(), t.last(), owners.get(j)) else {
            return;
        };
        // A step never reaches into the next sentence.
        let same = owners
            .get(j..j + b)
            .map_or(1, |o| o.iter().take_while(|(os, _)| *os == s).count());
        if let Some(list) = plans.get_mut(s) {
            list.push(WordPlan {
                text: t0.range.start..t1.range.end,
                first: k,
                last: k + same.max(1) - 1,
            });
        }
    };
    match align(&twords, &pwords) {
        Some(steps) => {
            let (mut i, mut j) = (0, 0);
            for (a, b) in steps {
                if let Some(t) = twords.get(i..i + a) {
                    push(t, j, b);
                }
                i += a;
                j += b;
            }
        }
        None => push(&twords, 0, pwords.len()),
    }
    plans
}

/// Timings of one sentence, in voice-rate samples from the sentence's start:
/// `labels` are the symbols of its ids, `durations` the frames the model gave
/// each id, `hop` the samples per frame, `plan` its words from [`plan_words`].
#[must_use]
pub fn sentence_timings<S: AsRef<str>>(
    text: &str,
    labels: &[S],
    durations: &[i64],
    hop: usize,
    plan: &[WordPlan],
) -> Timings {
    let hop = u64::try_from(hop).unwrap_or(u64::MAX);
    let phones = phones(labels, durations, hop);
    let pwords = phone_words(&phones);
    let words = plan
        .iter()
        .filter_map(|p| {
            let (first, last) = (pwords.get(p.first)?, pwords.get(p.last)?);
            Some(WordTiming {
                word: text.get(p.text.clone()).unwrap_or_default().to_owned(),
                text: p.text.clone(),
                start: first.start,
                end: last.end,
            })
        })
        .collect();
    Timings {
        words,
        phonemes: phones
            .into_iter()
            .map(|p| PhonemeTiming {
                phoneme: p.symbol,
                start: p.start,
                end: p.end,
            })
            .collect(),
        marks: Vec::new(),
    }
}

/// Maps sentence timings from raw voice-rate samples to the output: the
/// first `cut` samples were trimmed, the rest kept up to `kept` samples,
/// resampled from `from` to `to` Hz into `len` samples, and placed at
/// `offset` in the whole output. Every position lands in
/// `offset..=offset + len`, and order is kept.
#[must_use]
pub fn place(
    t: Timings,
    cut: u64,
    kept: u64,
    from: u32,
    to: u32,
    len: u64,
    offset: u64,
) -> Timings {
    let map = |x: u64| -> u64 {
        let x = x.saturating_sub(cut).min(kept);
        let scaled =
            (u128::from(x) * u128::from(to) + u128::from(from) / 2) / u128::from(from.max(1));
        offset.saturating_add(u64::try_from(scaled).unwrap_or(u64::MAX).min(len))
    };
    Timings {
        words: t
            .words
            .into_iter()
            .map(|w| WordTiming {
                start: map(w.start),
                end: map(w.end),
                ..w
            })
            .collect(),
        phonemes: t
            .phonemes
            .into_iter()
            .map(|p| PhonemeTiming {
                start: map(p.start),
                end: map(p.end),
                ..p
            })
            .collect(),
        marks: t.marks,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The symbols of ids given as indices of this table.
    fn labels(ids: &[i64]) -> Vec<&'static str> {
        let table = ["_", "^", "$", " ", "a", "b", "c", ",", ".", "ˈ"];
        ids.iter().map(|&i| table[i as usize]).collect()
    }

    /// Plans and times the words of the whole `text`, one sentence.
    fn timings(text: &str, ids: &[i64], durations: &[i64], hop: usize) -> Timings {
        let l = labels(ids);
        let plan = plan_words(text, 0..text.len(), &[&l]);
        sentence_timings(text, &l, durations, hop, &plan[0])
    }

    #[test]
    fn words_stay_in_their_sentence() {
        // "ab c. ab" phonemized as two sentences: "ab c." and "ab".
        let text = "ab c. ab";
        let (one, two) = (labels(&ids(&[4, 5, 3, 6, 8])), labels(&ids(&[4, 5])));
        let plans = plan_words(text, 0..text.len(), &[&one, &two]);
        let texts: Vec<Vec<&str>> = plans
            .iter()
            .map(|p| p.iter().map(|w| &text[w.text.clone()]).collect())
            .collect();
        assert_eq!(texts, [vec!["ab", "c"], vec!["ab"]]);
        assert_eq!((plans[1][0].first, plans[1][0].last), (0, 0));
    }

    /// Ids `^ _ (s _)* $` for symbols given as indices of `symbols()`.
    fn ids(seq: &[i64]) -> Vec<i64> {
        let mut v = vec![1, 0];
        for &s in seq {
            v.extend([s, 0]);
        }
        v.push(2);
        v
    }

    #[test]
    fn phonemes_take_their_pad_and_skip_bos_eos() {
        // ^ _ a _ b _ $ with durations 1 2 3 1 2 1 5 frames of 10 samples
        let t = timings("ab", &ids(&[4, 5]), &[1, 2, 3, 1, 2, 1, 5], 10);
        let got: Vec<(&str, u64, u64)> = t
            .phonemes
            .iter()
            .map(|p| (p.phoneme.as_str(), p.start, p.end))
            .collect();
        assert_eq!(got, [("a", 30, 70), ("b", 70, 100)]);
        assert_eq!(t.words.len(), 1);
        assert_eq!((t.words[0].start, t.words[0].end), (30, 100));
    }

    #[test]
    fn words_align_one_to_one_and_skip_punctuation_pauses() {
        // "ab, c." -> a b , ␠ c .
        let seq = [4, 5, 7, 3, 6, 8];
        let ids = ids(&seq);
        let durations = vec![1i64; ids.len()];
        let t = timings("ab, c.", &ids, &durations, 1);
        let words: Vec<(&str, u64, u64)> = t
            .words
            .iter()
            .map(|w| (w.word.as_str(), w.start, w.end))
            .collect();
        // a at frame 2..4, b 4..6, ',' 6..8, ' ' 8..10, c 10..12, '.' 12..14
        assert_eq!(words, [("ab", 2, 6), ("c", 10, 12)]);
        assert_eq!(t.words[1].text, 4..5);
    }

    #[test]
    fn merged_and_expanded_words_are_grouped() {
        let twords = text_words("of the 1234 dogs", 0..16);
        assert_eq!(twords.len(), 4);
        let p = |count| PhoneWord {
            start: 0,
            end: 0,
            count,
        };
        // ʌvðə | wʌn | θaʊzənd | tuː | hʌndɹɪd | θɜːɾi | fɔːɹ | dɑːɡz
        let pwords = [p(4), p(3), p(6), p(2), p(7), p(5), p(3), p(4)];
        let steps = align(&twords, &pwords).unwrap();
        assert_eq!(steps, [(2, 1), (1, 6), (1, 1)]);

        // espeak-ng on "The population is 1,234,567.", counted by hand.
        let twords = text_words("The population is 1,234,567.", 0..28);
        let pwords = [2, 10, 2, 3, 5, 8, 4, 3, 6, 9, 5, 4].map(p);
        let steps = align(&twords, &pwords).unwrap();
        assert_eq!(steps, [(1, 1), (1, 1), (1, 1), (1, 9)]);
    }

    #[test]
    fn hopeless_alignment_gives_one_entry() {
        let ids = ids(&[4, 3, 5]);
        let durations = vec![2i64; ids.len()];
        let text = "one two three four five six seven";
        let t = timings(text, &ids, &durations, 1);
        assert_eq!(t.words.len(), 1);
        assert_eq!(t.words[0].word, text);
    }

    #[test]
    fn placing_scales_trims_and_clamps() {
        let t = Timings {
            words: vec![WordTiming {
                word: "w".into(),
                text: 0..1,
                start: 100,
                end: 2_000,
            }],
            phonemes: vec![PhonemeTiming {
                phoneme: "a".into(),
                start: 0,
                end: 50,
            }],
            marks: Vec::new(),
        };
        // 40 samples cut, 1000 kept, 22050 -> 44100 into 2000 samples, at 7.
        let p = place(t, 40, 1_000, 22_050, 44_100, 2_000, 7);
        assert_eq!((p.words[0].start, p.words[0].end), (7 + 120, 7 + 2_000));
        assert_eq!((p.phonemes[0].start, p.phonemes[0].end), (7, 7 + 20));
    }
}
