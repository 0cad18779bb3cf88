//! The watermark in the library's output: on by default with the home's key,
//! the same in every form of the stream, carried with the request's payload,
//! found only with the right key, and absent (the audio as before) when off.

use signet::watermark::detect;
use signet::{AudioOptions, Payload, SpeakOptions, Utterance, Watermark, WatermarkKey};

use crate::common::{home_key, synth, unmarked};

const TEXT: &str = "The committee met on a grey morning in early spring. Nobody spoke for a \
    while. Then the chair read the letter aloud, slowly, and asked what the town should do.";

fn joined(chunks: &[Utterance]) -> Vec<f32> {
    chunks
        .iter()
        .flat_map(|c| c.audio.samples().iter().copied())
        .collect()
}

#[test]
fn speech_carries_the_home_key_mark_by_default() {
    let s = synth();
    assert_eq!(s.watermark_key_id(), Some(home_key().id()));
    let speech = s.speak(TEXT).unwrap();
    let found = detect(
        speech.audio.samples(),
        speech.audio.sample_rate(),
        &home_key(),
    )
    .unwrap();
    assert!(found.present, "score {} < {}", found.score, found.threshold);
    assert_eq!(found.payload, Some(Payload(0)));
    assert!(found.false_positive < 1e-6);
    // Unmarked speech of the same text scores under the threshold.
    let plain = unmarked().speak(TEXT).unwrap();
    let none = detect(
        plain.audio.samples(),
        plain.audio.sample_rate(),
        &home_key(),
    )
    .unwrap();
    assert!(!none.present, "unmarked speech scored {}", none.score);
    assert_ne!(plain.audio.samples(), speech.audio.samples());
    assert_eq!(plain.audio.samples().len(), speech.audio.samples().len());
}

#[test]
fn marked_stream_joined_equals_batch_in_every_form() {
    let s = synth();
    for audio in [
        AudioOptions::default(),
        AudioOptions::default().with_sentence_silence_ms(250),
        AudioOptions::default()
            .with_sample_rate(16_000)
            .with_volume(0.5)
            .with_trim_silence(true)
            .with_sentence_silence_ms(100),
    ] {
        let options = SpeakOptions::default()
            .with_audio(audio.clone())
            .with_watermark_payload(0x1234);
        let batch = s.speak_with(TEXT, &options).unwrap();
        for by_window in [false, true] {
            let parts: Vec<Utterance> = s
                .speak_stream_with(TEXT, &options)
                .unwrap()
                .by_window(by_window)
                .collect::<Result<_, _>>()
                .unwrap();
            let streamed = joined(&parts);
            assert_eq!(streamed.len(), batch.audio.samples().len(), "{audio:?}");
            assert!(
                streamed
                    .iter()
                    .zip(batch.audio.samples())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{audio:?}, by window {by_window}"
            );
            let mut start = 0;
            for p in &parts {
                assert_eq!(p.start, start);
                start += p.audio.samples().len() as u64;
            }
        }
        let found = detect(
            batch.audio.samples(),
            batch.audio.sample_rate(),
            &home_key(),
        )
        .unwrap();
        assert!(found.present, "{audio:?}: score {}", found.score);
        assert_eq!(found.payload, Some(Payload(0x1234)), "{audio:?}");
    }
}

#[test]
fn a_long_sentence_by_window_is_marked_as_when_whole() {
    // One sentence longer than a decoding window: its parts are marked on
    // the speech's grid with the embedder's delay, and join into the batch.
    let text = "The council, having heard the long and careful report of the engineers, who had \
        walked the whole length of the old harbour wall twice in the rain and measured every crack, \
        decided after a long silence to rebuild it stone by stone before the autumn storms came in";
    let s = synth();
    let parts: Vec<Utterance> = s
        .speak_stream(text)
        .unwrap()
        .by_window(true)
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(parts.len() > 2, "{} parts", parts.len());
    assert!(parts.last().unwrap().last);
    let batch = s.speak(text).unwrap();
    assert_eq!(joined(&parts), batch.audio.samples());
    let found = detect(
        batch.audio.samples(),
        batch.audio.sample_rate(),
        &home_key(),
    )
    .unwrap();
    assert!(found.present);
}

#[test]
fn the_off_setting_gives_the_unmarked_audio_and_no_key() {
    let off = unmarked();
    assert_eq!(off.watermark_key_id(), None);
    // Unmarked: the model's output through the chain, sentence by sentence.
    let speech = off.speak(TEXT).unwrap();
    let mut raw = Vec::new();
    for sentence in off.phonemize(TEXT).unwrap().0 {
        raw.extend(off.speak_ids(&sentence.ids).unwrap().audio.into_samples());
    }
    assert_eq!(speech.audio.samples(), raw.as_slice());
}

#[test]
fn detection_needs_the_key_that_marked() {
    let key = WatermarkKey::from_bytes([42; 32]);
    let s = signet::Synthesizer::builder()
        .home(crate::common::home())
        .espeak(crate::common::espeak())
        .noise_scale(0.0)
        .noise_w(0.0)
        .watermark(Watermark::Key(key.clone()))
        .watermark_payload(0xBEEF)
        .build()
        .unwrap();
    assert_eq!(s.watermark_key_id(), Some(key.id()));
    let speech = s.speak(TEXT).unwrap();
    let (samples, rate) = (speech.audio.samples(), speech.audio.sample_rate());
    let found = detect(samples, rate, &key).unwrap();
    assert!(found.present);
    assert_eq!(found.payload, Some(Payload(0xBEEF)));
    for other in [home_key(), WatermarkKey::from_bytes([43; 32])] {
        let d = detect(samples, rate, &other).unwrap();
        assert!(!d.present, "wrong key {:?} scored {}", other.id(), d.score);
        assert_eq!(d.payload, None);
    }
}
