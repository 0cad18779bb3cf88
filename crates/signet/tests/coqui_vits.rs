//! Coqui VITS voices from text through the facade, against coqui-tts 0.28 on the same text:
//! signet-coqui's fixtures (`scripts/coqui_vits_fixtures.py`) imported into a home, spoken
//! with the noise off, and compared sample by sample with coqui-tts's own synthesis of that
//! text (its tokenizer, its model).
//!
//! - `vits_phonemes_tiny`: the LJSpeech recipe's text settings (espeak-ng phonemes, en-us,
//!   `phoneme_cleaners`, blanks). coqui-tts phonemized with the espeak-ng build Signet's
//!   helper loads, so the ids must agree exactly.
//! - `vits_upsampled_tiny`: an encoder at half the output rate (`encoder_sample_rate`), whose
//!   durations count two decoder frames each: timings must still cover the audio.

use std::path::Path;

use serde_json::Value;
use signet::{Synthesizer, Watermark};

use crate::two_stage::{snr_db, Home};

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signet-coqui/tests/data")
        .join(name)
}

fn read_f32(name: &str) -> Vec<f32> {
    std::fs::read(data(name))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn expected(stem: &str) -> Value {
    serde_json::from_slice(&std::fs::read(data(&format!("{stem}.expected.json"))).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// The voice imported from `stem`, with the real espeak-ng helper, the noise off and no mark.
fn voice(stem: &str) -> (Home, Synthesizer) {
    let home = Home::new();
    home.import_vits("coqui", stem);
    let synth = build(&home, 1.0);
    (home, synth)
}

fn build(home: &Home, length_scale: f32) -> Synthesizer {
    Synthesizer::builder()
        .home(home.path())
        .voice("coqui")
        .espeak(crate::common::espeak())
        .threads(1)
        .noise_scale(0.0)
        .noise_w(0.0)
        .length_scale(length_scale)
        .watermark(Watermark::Off)
        .build()
        .unwrap()
}

/// Speaks `text` and checks it against coqui-tts's ids and samples; returns the SNR.
fn speak_like_coqui(synth: &Synthesizer, text: &str, want_ids: &[i64], reference: &[f32]) -> f64 {
    let (sentences, _) = synth.phonemize(text).unwrap();
    assert_eq!(sentences.len(), 1, "{text:?} is one sentence");
    assert_eq!(
        sentences[0].ids, want_ids,
        "{text:?}: coqui-tts's token ids"
    );
    let speech = synth.speak(text).unwrap();
    let got = speech.audio.samples();
    assert_eq!(got.len(), reference.len(), "{text:?}: equal length");
    let snr = snr_db(reference, got);
    assert!(snr >= 40.0, "{text:?}: SNR {snr:.1} dB");
    // VITS gives durations: timed words in order, the last phoneme ending with the audio.
    let words = &speech.timings.words;
    assert!(!words.is_empty(), "{text:?}: word timings");
    assert!(words.windows(2).all(|w| w[0].end <= w[1].start));
    assert_eq!(
        speech.timings.phonemes.last().map(|p| p.end),
        Some(got.len() as u64),
        "{text:?}: durations cover the audio"
    );
    snr
}

#[test]
fn a_phoneme_coqui_vits_speaks_text_as_coqui_tts_does() {
    let (_home, synth) = voice("vits_phonemes_tiny");
    let expected = expected("vits_phonemes_tiny");
    for (n, case) in expected["sentences"].as_array().unwrap().iter().enumerate() {
        let text = case["text"].as_str().unwrap();
        let reference = read_f32(&format!("vits_phonemes_tiny.ref.{n}.f32"));
        let snr = speak_like_coqui(&synth, text, &ids(&case["ids"]), &reference);
        eprintln!(
            "Coqui phoneme VITS from text {text:?}: {} samples, SNR {snr:.1} dB against coqui-tts",
            reference.len()
        );
    }
}

#[test]
fn a_coqui_vits_with_a_lower_encoder_rate_speaks_and_times_text() {
    let (home, synth) = voice("vits_upsampled_tiny");
    assert_eq!(synth.sample_rate(), 16000);
    let expected = expected("vits_upsampled_tiny");
    let case = &expected["sentences"][0];
    let text = case["text"].as_str().unwrap();
    let reference = read_f32("vits_upsampled_tiny.ref.f32");
    let snr = speak_like_coqui(&synth, text, &ids(&case["ids"]), &reference);
    eprintln!("Coqui VITS at half the encoder rate from text: SNR {snr:.1} dB against coqui-tts");
    // Eight times slower, streamed: the decoder runs window by window, each stretching its
    // own part of the latent, and the parts join into coqui-tts's samples.
    let slow = build(&home, 8.0);
    let reference = read_f32("vits_upsampled_tiny.ref.slow.f32");
    let mut streamed = Vec::new();
    let mut parts = 0;
    for utterance in slow.speak_stream(text).unwrap().by_window(true) {
        streamed.extend_from_slice(utterance.unwrap().audio.samples());
        parts += 1;
    }
    assert!(parts > 1, "the slow sentence streams in several parts");
    assert_eq!(streamed.len(), reference.len());
    let snr = snr_db(&reference, &streamed);
    eprintln!("the same, eight times slower, in {parts} streamed parts: SNR {snr:.1} dB");
    assert!(snr >= 40.0, "SNR {snr:.1} dB");
    assert_eq!(streamed, slow.speak(text).unwrap().audio.samples());
}
