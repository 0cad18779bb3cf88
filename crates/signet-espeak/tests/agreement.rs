//! Agreement with piper-tts 1.8.0: raw clauses, sentences, phonemes and ids.
//!
//! The fixtures come from `scripts/phoneme_fixtures.py`, which runs piper-tts's own
//! `PiperVoice.phonemize` / `phonemes_to_ids` and its espeak bridge.

use anyhow::{ensure, Result};
use signet_text::{text_to_sentences, Phonemize, TextError};

use crate::common::{fixture, phonemizer, voice_id_map, Case, Expected};

/// Outcome of one case.
#[derive(Default)]
struct Tally {
    texts: usize,
    texts_exact: usize,
    sentences: usize,
    sentences_exact: usize,
    clauses: usize,
    clauses_exact: usize,
    symbols: usize,
    symbol_errors: usize,
    failures: Vec<String>,
}

/// Levenshtein distance between two symbol sequences.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn run_case(
    tally: &mut Tally,
    case: &Case,
    espeak: &mut signet_text::EspeakPhonemizer,
    voice: &str,
    map: &signet_text::PhonemeIdMap,
) -> Result<()> {
    tally.texts += 1;
    let mut exact = true;

    // Raw clauses, as piper's bridge returned them.
    let clauses = Phonemize::phonemize(espeak, voice, &case.text)?;
    let got: Vec<(String, String, bool)> = clauses
        .iter()
        .map(|c| {
            (
                c.phonemes.clone(),
                c.terminator
                    .map(|t| t.as_char().to_string())
                    .unwrap_or_default(),
                c.end_of_sentence,
            )
        })
        .collect();
    tally.clauses += case.clauses.len();
    tally.clauses_exact += case
        .clauses
        .iter()
        .zip(&got)
        .filter(|(a, b)| a == b)
        .count();
    if got != case.clauses {
        exact = false;
        tally.failures.push(format!(
            "{:?}: clauses differ\n  expected {:?}\n  got      {:?}",
            case.text, case.clauses, got
        ));
    }

    // Sentences, phonemes and ids.
    let got: Vec<Expected> = match text_to_sentences(espeak, voice, map, &case.text) {
        Ok((sentences, _diagnostics)) => sentences
            .into_iter()
            .map(|s| Expected {
                phonemes: s.phonemes,
                ids: s.ids,
            })
            .collect(),
        Err(TextError::NothingToSpeak { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    tally.sentences += case.sentences.len();
    tally.sentences_exact += case
        .sentences
        .iter()
        .zip(&got)
        .filter(|(a, b)| a == b)
        .count();
    let join = |s: &[Expected]| -> Vec<char> {
        s.iter()
            .flat_map(|e| e.phonemes.chars().chain(std::iter::once('\n')))
            .collect()
    };
    let (want_symbols, got_symbols) = (join(&case.sentences), join(&got));
    tally.symbols += want_symbols.len();
    tally.symbol_errors += edit_distance(&want_symbols, &got_symbols).min(want_symbols.len());
    if got != case.sentences {
        exact = false;
        tally.failures.push(format!(
            "{:?}: sentences differ\n  expected {:?}\n  got      {:?}",
            case.text, case.sentences, got
        ));
    }
    tally.texts_exact += usize::from(exact);
    Ok(())
}

fn measure(name: &str) -> Result<Tally> {
    let fixture = fixture(name)?;
    let (map, digest) = voice_id_map()?;
    ensure!(
        digest == fixture.voice_config_sha256,
        "{name} was generated for a voice config with sha256 {}, but the test voice has {digest}",
        fixture.voice_config_sha256
    );
    let mut espeak = phonemizer()?;
    let mut tally = Tally::default();
    for case in &fixture.cases {
        run_case(&mut tally, case, &mut espeak, &fixture.espeak_voice, &map)?;
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    eprintln!(
        "{name}: texts {}/{} exact ({:.2} %), sentences {}/{} exact ({:.2} %), \
         clauses {}/{} exact ({:.2} %), phoneme symbols {}/{} correct ({:.3} %)",
        tally.texts_exact,
        tally.texts,
        pct(tally.texts_exact, tally.texts),
        tally.sentences_exact,
        tally.sentences,
        pct(tally.sentences_exact, tally.sentences),
        tally.clauses_exact,
        tally.clauses,
        pct(tally.clauses_exact, tally.clauses),
        tally.symbols - tally.symbol_errors,
        tally.symbols,
        pct(tally.symbols - tally.symbol_errors, tally.symbols),
    );
    Ok(tally)
}

#[test]
fn regression_fixture_matches_piper_exactly() -> Result<()> {
    let tally = measure("phonemes.json")?;
    ensure!(
        tally.texts >= 30,
        "the regression fixture has only {} texts",
        tally.texts
    );
    ensure!(
        tally.failures.is_empty(),
        "{} mismatches:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    Ok(())
}

#[test]
fn large_set_agreement_is_total() -> Result<()> {
    let tally = measure("phonemes_large.json")?;
    ensure!(
        tally.texts >= 300,
        "the large fixture has only {} texts",
        tally.texts
    );
    ensure!(
        tally.failures.is_empty(),
        "{} of {} texts differ from piper-tts:\n{}",
        tally.texts - tally.texts_exact,
        tally.texts,
        tally.failures.join("\n")
    );
    Ok(())
}

#[test]
fn edit_distance_counts_symbol_errors() {
    let a: Vec<char> = "kitten".chars().collect();
    let b: Vec<char> = "sitting".chars().collect();
    assert_eq!(edit_distance(&a, &b), 3);
    assert_eq!(edit_distance(&a, &a), 0);
}
