//! Fuzz hooks of the text path, outside the documented API: compiled only for
//! cargo-fuzz (`--cfg fuzzing`) and this crate's own tests.

use std::collections::BTreeMap;

use crate::frontend::{phonemize_segment, prepare_bytes, Normalization, PhonemeBudget, Segment};
use crate::ids::PhonemeIdMap;
use crate::lexicon::{Lexicon, Lexicons, MAX_LEXICON_ENTRIES};
use crate::limits::Limits;
use crate::phonemize::Phonemize;
use crate::protocol::{Clause, Terminator};
use crate::ssml::{
    prepare_ssml_bytes, SsmlVoice, Step, MAX_BREAK_MS, MAX_GAIN_DB, MAX_RATE, MIN_RATE,
};
use crate::TextError;

/// A phonemizer that answers fuzzer-chosen phoneme strings, for [`fuzz_frontend`].
///
/// Answers are reused in turn, but their total length is capped at a few times the
/// fuzzer's input: a real helper's answers grow with the text, and without the cap one
/// long answer repeated for every piece of a long text makes a single input cost
/// quadratic time, which starves the fuzzer of executions.
struct Untrusted<'a> {
    answers: Vec<&'a str>,
    next: usize,
    /// Bytes of answers still to give; once spent, every answer is empty.
    budget: usize,
}

impl Phonemize for Untrusted<'_> {
    fn phonemize(&mut self, _voice: &str, text: &str) -> Result<Vec<Clause>, TextError> {
        let answer = self
            .answers
            .get(self.next % self.answers.len().max(1))
            .copied()
            .unwrap_or_default();
        self.next += 1;
        let answer = if answer.len() <= self.budget {
            self.budget -= answer.len();
            answer
        } else {
            self.budget = 0;
            ""
        };
        // Each `|`-separated part is a clause; a part ending in a terminator ends there.
        Ok(answer
            .split('|')
            .map(|part| {
                let terminator = part.chars().last().and_then(|c| match c {
                    '.' => Some(Terminator::Period),
                    '?' => Some(Terminator::Question),
                    '!' => Some(Terminator::Exclamation),
                    ',' => Some(Terminator::Comma),
                    _ => None,
                });
                let body = if terminator.is_some() {
                    part.get(..part.len().saturating_sub(1)).unwrap_or_default()
                } else {
                    part
                };
                let ends = matches!(
                    terminator,
                    Some(Terminator::Period | Terminator::Question | Terminator::Exclamation)
                );
                Clause::new(body, terminator, ends, text.len())
            })
            .collect())
    }
}

/// Bytes of stand-in answers per byte of fuzzer input (see [`Untrusted`]).
const ANSWER_BUDGET_PER_INPUT_BYTE: usize = 4;

/// The fuzz harness of the text path (`fuzz/fuzz_targets/text_frontend.rs`): bytes →
/// [`prepare_bytes`](crate::prepare_bytes) → [`phonemize_segment`](crate::phonemize_segment) → ids, with a stand-in phonemizer whose
/// answers the fuzzer chooses too, so that the code reading the helper's untrusted
/// answers is fuzzed along with the frontend (the real helper's framing is fuzzed by
/// the protocol tests).
///
/// Layout of `data`: one byte choosing `max_phonemes_per_sentence` (1 to 64), then the
/// text, then after a `0xFF` byte the answers, separated by `0xFE` bytes (read as UTF-8
/// with replacement). The voice's map knows a handful of symbols, so unknown symbols
/// are exercised.
///
/// # Errors
/// A description of a broken invariant (a sentence over the limit, ids not framed by
/// `^ _ ... $`, a segment outside the input): the fuzz target panics on it. Errors of the
/// frontend itself (limits, nothing to speak) are not failures.
pub fn fuzz_frontend(data: &[u8]) -> Result<(), String> {
    run(data).map(|_| ())
}

/// What the stand-in phonemizer was asked and answered during one [`run`].
#[derive(Debug, Default, PartialEq, Eq)]
struct Answered {
    calls: usize,
    bytes: usize,
}

/// [`fuzz_frontend`], reporting what the stand-in answered.
fn run(data: &[u8]) -> Result<Answered, String> {
    let Some((&first, rest)) = data.split_first() else {
        return Ok(Answered::default());
    };
    let max = usize::from(first % 64) + 1;
    let (text, answers) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i + 1..).unwrap_or_default(),
        ),
        None => (rest, &[][..]),
    };
    let answers: Vec<String> = answers
        .split(|&b| b == 0xFE)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut phonemizer = Untrusted {
        answers: answers.iter().map(String::as_str).collect(),
        next: 0,
        budget: data.len().saturating_mul(ANSWER_BUDGET_PER_INPUT_BYTE),
    };
    let mut map = BTreeMap::new();
    for (i, s) in [
        "_", "^", "$", " ", ".", ",", "?", "a", "b", "ə", "ˈ", "ɪ", "t",
    ]
    .into_iter()
    .enumerate()
    {
        map.insert(s.to_owned(), vec![i64::try_from(i).unwrap_or(0)]);
    }
    let map = PhonemeIdMap::new(map).map_err(|e| e.to_string())?;
    let budget = phonemizer.budget;
    let limits = Limits::default()
        .with_max_phonemes_per_sentence(max)
        .with_max_chars(10_000);
    if let Ok(prepared) = prepare_bytes(text, Normalization::English, &limits) {
        check_segments(
            &prepared.segments,
            text.len(),
            &mut phonemizer,
            &map,
            &limits,
            max,
        )?;
    }
    // The same bytes through a Coqui voice's tokenizer (cleaners, punctuation, encoding).
    if let Ok(prepared) = prepare_bytes(text, Normalization::None, &limits) {
        check_coqui_segments(&prepared.segments, &mut phonemizer, &limits, max)?;
    }
    // The same bytes as an SSML document (the text path's other door).
    let voice = SsmlVoice {
        name: "fuzz",
        language: "en_US",
        normalization: Normalization::English,
        lexicons: &Lexicons::EMPTY,
    };
    if let Ok(prepared) = prepare_ssml_bytes(text, voice, &limits) {
        let segments: Vec<Segment> = prepared
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Speak { segment, .. } => Some(segment.clone()),
                _ => None,
            })
            .collect();
        check_segments(
            &segments,
            prepared.text.len(),
            &mut phonemizer,
            &map,
            &limits,
            max,
        )?;
    }
    Ok(Answered {
        calls: phonemizer.next,
        bytes: budget - phonemizer.budget,
    })
}

/// Tokenizes prepared segments as a Coqui phoneme voice with the stand-in phonemizer and
/// checks the sentences: within the phoneme limit, one label per id, ids in the table.
fn check_coqui_segments(
    segments: &[Segment],
    phonemizer: &mut Untrusted<'_>,
    limits: &Limits,
    max: usize,
) -> Result<(), String> {
    let symbols = [
        "_", " ", ".", ",", "?", "a", "b", "ə", "ˈ", "ɪ", "t", "<BLNK>",
    ];
    let mut settings =
        crate::coqui::CoquiTextSettings::new(symbols.iter().map(|s| (*s).to_owned()).collect());
    settings.use_phonemes = true;
    settings.phoneme_language = Some("en-us".to_owned());
    settings.text_cleaner = Some("english_cleaners".to_owned());
    settings.add_blank = true;
    settings.blank = Some("<BLNK>".to_owned());
    let tokenizer = crate::coqui::CoquiTokenizer::new(&settings).map_err(|e| e.to_string())?;
    for segment in segments {
        let Ok(out) =
            crate::coqui::phonemize_segment(Some(phonemizer), &tokenizer, segment, limits)
        else {
            // The stand-in ran out of answers: an error, not a panic.
            continue;
        };
        for s in &out.sentences {
            if s.phoneme_count() > max || s.ids.len() != s.symbols.len() {
                return Err(format!(
                    "Coqui sentence of {} tokens (max {max}), {} ids, {} labels",
                    s.phoneme_count(),
                    s.ids.len(),
                    s.symbols.len()
                ));
            }
            if s.ids.iter().any(|&i| !(0..12).contains(&i)) {
                return Err(format!("Coqui id outside the table: {:?}", s.ids));
            }
        }
    }
    Ok(())
}

/// Phonemizes prepared segments with the stand-in and checks the frontend's invariants.
fn check_segments(
    segments: &[Segment],
    text_len: usize,
    phonemizer: &mut Untrusted<'_>,
    map: &PhonemeIdMap,
    limits: &Limits,
    max: usize,
) -> Result<(), String> {
    let mut spent = PhonemeBudget::new();
    for segment in segments {
        if segment.source.end > text_len || segment.source.start >= segment.source.end {
            return Err(format!(
                "segment range {:?} outside the input",
                segment.source
            ));
        }
        let out = phonemize_segment(phonemizer, "en-us", map, segment, limits)
            .map_err(|e| format!("phonemize_segment failed: {e}"))?;
        for s in &out.sentences {
            if s.phoneme_count() > max {
                return Err(format!(
                    "sentence of {} phonemes over {max}",
                    s.phoneme_count()
                ));
            }
            if s.ids.first() != Some(&1) || s.ids.get(1) != Some(&0) || s.ids.last() != Some(&2) {
                return Err(format!("ids not framed: {:?}", s.ids));
            }
        }
        if spent.spend(&out.sentences, limits).is_err() {
            break;
        }
    }
    Ok(())
}

/// The fuzz harness of the SSML reader (`fuzz/fuzz_targets/ssml.rs`): bytes →
/// [`prepare_ssml_bytes`]. Invariants: every segment and mark lies inside the spoken
/// text, breaks are at most [`MAX_BREAK_MS`], rates and gains within their bounds.
///
/// # Errors
/// A description of the broken invariant.
pub fn fuzz_ssml(data: &[u8]) -> Result<(), String> {
    let limits = Limits::default().with_max_chars(20_000);
    let voice = SsmlVoice {
        name: "fuzz",
        language: "en_US",
        normalization: Normalization::English,
        lexicons: &Lexicons::EMPTY,
    };
    let Ok(p) = prepare_ssml_bytes(data, voice, &limits) else {
        return Ok(());
    };
    for step in &p.steps {
        match step {
            Step::Speak {
                segment,
                style,
                marks,
            } => {
                if segment.source.end > p.text.len() || segment.source.start > segment.source.end {
                    return Err(format!("segment {:?} outside the text", segment.source));
                }
                if !(MIN_RATE..=MAX_RATE).contains(&style.rate)
                    || !(0.0..=crate::ssml::db_to_gain(MAX_GAIN_DB) * 1.0001).contains(&style.gain)
                {
                    return Err(format!("style out of bounds: {style:?}"));
                }
                if marks.iter().any(|m| m.offset > p.text.len()) {
                    return Err("mark outside the text".into());
                }
            }
            Step::Pause { ms, .. } => {
                if *ms > MAX_BREAK_MS {
                    return Err(format!("break of {ms} ms"));
                }
            }
        }
    }
    Ok(())
}

/// The fuzz harness of the lexicon reader (`fuzz/fuzz_targets/lexicon.rs`): bytes →
/// [`Lexicon::parse`], then the lexicon applied to a text and to the bytes themselves.
///
/// # Errors
/// A description of the broken invariant.
pub fn fuzz_lexicon(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let Ok(lexicon) = Lexicon::parse("fuzz", &text) else {
        return Ok(());
    };
    if lexicon.entries().len() > MAX_LEXICON_ENTRIES {
        return Err(format!("{} entries", lexicon.entries().len()));
    }
    let _ = lexicon.check(None);
    let mut lexicons = Lexicons::new();
    lexicons.push(lexicon);
    let (pieces, _) = lexicons.apply("Nguyen said SQL's tomato-soup isn't 'GIF'.");
    let _ = pieces;
    let (pieces, _) = lexicons.apply(&text);
    let _ = pieces;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fuzz_frontend;

    #[test]
    fn the_fuzz_harness_holds_on_its_seeds() {
        let seeds: [&[u8]; 5] = [
            b"",
            b"\x10Hello there. Dr. Smith paid $5.50.\xffh\xc9\x99l.\xfeb|a,|t.",
            b"\x00Say [[ h\xc9\x99 ]] now!\xffa|b?\xfe(en)ab(fr)t",
            b"\x3f\xe2\x80\xaex\xcc\x81 ok\xed\xa0\x80\xff.",
            b"\x02word word word word word\xffaaaa aaaa aaaa.",
        ];
        for seed in seeds {
            assert_eq!(fuzz_frontend(seed), Ok(()));
        }
    }

    #[test]
    fn one_long_answer_is_not_repeated_for_every_piece_of_a_long_text() {
        // 200 sentences and one answer of 600 unknown symbols: without the answer budget
        // each of the many helper calls would get all 600 symbols again.
        let mut input = vec![2u8];
        input.extend(b"Word. ".repeat(200));
        input.push(0xFF);
        input.extend(b"a".repeat(600));
        let answered = super::run(&input).unwrap();
        let budget = input.len() * super::ANSWER_BUDGET_PER_INPUT_BYTE;
        assert!(answered.calls > 20, "{answered:?}");
        assert!(answered.calls * 600 > 2 * budget, "{answered:?}");
        assert!(answered.bytes <= budget, "{answered:?} over {budget}");
    }

    #[test]
    fn the_ssml_and_lexicon_harnesses_hold_on_their_seeds() {
        use super::{fuzz_lexicon, fuzz_ssml};
        let ssml: [&[u8]; 3] = [
            b"<speak>Hi <break time=\"1s\"/><mark name=\"m\"/><prosody rate=\"400%\">x</prosody></speak>",
            b"<!DOCTYPE x><speak/>",
            b"<speak><say-as interpret-as=\"date\" format=\"dmy\">1/2/2000</say-as></speak>",
        ];
        for seed in ssml {
            assert_eq!(fuzz_ssml(seed), Ok(()));
            assert_eq!(super::fuzz_frontend(seed), Ok(()));
        }
        let lexicons: [&[u8]; 2] = [
            b"[words]\nNguyen = { ipa = \"w\" }\nSQL = { say = \"sequel\" }",
            b"<lexicon alphabet=\"ipa\"><lexeme><grapheme>tomato</grapheme><phoneme>t</phoneme></lexeme></lexicon>",
        ];
        for seed in lexicons {
            assert_eq!(fuzz_lexicon(seed), Ok(()));
        }
    }
}
