//! Word and phoneme timestamps: in order, inside the audio, at the output
//! rate, and over the sound of their word.

use signet::{AudioOptions, SpeakOptions, Timings, Utterance};

use crate::common::{energy, synth};

fn check_order_and_bounds(t: &Timings, len: u64) {
    let mut last = 0;
    for w in &t.words {
        assert!(
            w.start >= last && w.start < w.end && w.end <= len,
            "{w:?} (audio {len})"
        );
        last = w.end;
    }
    let mut last = 0;
    for p in &t.phonemes {
        assert!(
            p.start >= last && p.start <= p.end && p.end <= len,
            "{p:?} (audio {len})"
        );
        last = p.end;
    }
}

#[test]
fn timings_are_ordered_inside_the_audio_and_name_the_words() {
    let s = synth();
    let text = "Hello, world! The quick brown fox jumps over the lazy dog.";
    for options in [
        AudioOptions::default(),
        AudioOptions::default()
            .with_sample_rate(48_000)
            .with_trim_silence(true),
        AudioOptions::default()
            .with_sample_rate(8_000)
            .with_sentence_silence_ms(300),
    ] {
        let speech = s
            .speak_with(text, &SpeakOptions::default().with_audio(options.clone()))
            .unwrap();
        let len = speech.audio.samples().len() as u64;
        check_order_and_bounds(&speech.timings, len);
        let words: Vec<&str> = speech
            .timings
            .words
            .iter()
            .map(|w| w.word.as_str())
            .collect();
        // espeak-ng speaks these as they are written, one phoneme word each.
        assert_eq!(
            words,
            [
                "Hello", "world", "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy",
                "dog"
            ],
            "{options:?}"
        );
        for w in &speech.timings.words {
            assert_eq!(&text[w.text.clone()], w.word);
        }
        assert!(speech.timings.phonemes.len() > 30);
    }
}

#[test]
fn timings_scale_with_the_output_rate() {
    let s = synth();
    let text = "Timing at two rates.";
    let at = |rate| {
        s.speak_with(
            text,
            &SpeakOptions::default().with_audio(AudioOptions::default().with_sample_rate(rate)),
        )
        .unwrap()
        .timings
    };
    let (low, high) = (at(11_025), at(44_100));
    assert_eq!(low.words.len(), high.words.len());
    for (a, b) in low.words.iter().zip(&high.words) {
        // 44.1 kHz is exactly four times 11.025 kHz: within rounding.
        assert!(b.start.abs_diff(4 * a.start) <= 4 && b.end.abs_diff(4 * a.end) <= 4);
    }
}

#[test]
fn merged_and_expanded_words_stay_covered() {
    let s = synth();
    // espeak-ng merges "of the" and reads the number as several words.
    let text = "About 75% of the students passed in 1945.";
    let speech = s.speak(text).unwrap();
    check_order_and_bounds(&speech.timings, speech.audio.samples().len() as u64);
    let words: Vec<&str> = speech
        .timings
        .words
        .iter()
        .map(|w| w.word.as_str())
        .collect();
    assert_eq!(words.first(), Some(&"About"));
    assert_eq!(words.last(), Some(&"1945"));
    // Punctuation is trimmed from words; merged words come as one entry.
    assert!(
        words.contains(&"75") && words.contains(&"students"),
        "{words:?}"
    );
    assert!(words.contains(&"of the"), "{words:?}");
}

#[test]
fn each_word_interval_holds_its_words_energy() {
    let s = synth();
    // One word per sentence, half a second of silence between them.
    let text = "Apple. Banana. Cherry. Elephant.";
    let options = AudioOptions::default()
        .with_sentence_silence_ms(500)
        .with_sample_rate(16_000);
    let chunks: Vec<Utterance> = s
        .speak_stream_with(text, &SpeakOptions::default().with_audio(options.clone()))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(chunks.len(), 4);
    for (i, c) in chunks.iter().enumerate() {
        let [word] = c.timings.words.as_slice() else {
            panic!("one word per sentence: {:?}", c.timings.words);
        };
        // The chunk is the word's sound, its pauses and the silence after it.
        let samples = c.audio.samples();
        let total = energy(samples);
        let (a, b) = (
            (word.start - c.start) as usize,
            (word.end - c.start) as usize,
        );
        let inside = energy(&samples[a..b]);
        assert!(
            inside >= 0.97 * total,
            "{}: {:.1} % of the energy inside {}..{} of {}",
            word.word,
            100.0 * inside / total,
            a,
            b,
            samples.len()
        );
        // And it is not the whole chunk: the half-second pause before each
        // sentence but the first lies outside it.
        if i > 0 {
            assert!(a >= 8_000, "{a}..{b} of {}", samples.len());
        }
    }
}

#[test]
fn ids_have_phoneme_timings_but_no_words() {
    let s = synth();
    let (sentences, _) = s.phonemize("Just ids.").unwrap();
    let speech = s.speak_ids(&sentences[0].ids).unwrap();
    assert!(speech.timings.words.is_empty());
    check_order_and_bounds(&speech.timings, speech.audio.samples().len() as u64);
    let phonemes: String = speech
        .timings
        .phonemes
        .iter()
        .map(|p| p.phoneme.as_str())
        .collect();
    assert_eq!(phonemes, sentences[0].phonemes);
}
