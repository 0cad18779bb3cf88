//! Streaming: one utterance per sentence, lazily; joined utterances equal
//! `speak`; per-request settings.

use signet::{AudioOptions, SampleFormat, SpeakOptions, Utterance, WavInfo, WavLimits};

use crate::common::{synth, synth_with_limits};

const TEXT: &str = "The first sentence is short. Here is the second one! And a third?";

fn joined(chunks: &[Utterance]) -> Vec<f32> {
    chunks
        .iter()
        .flat_map(|c| c.audio.samples().iter().copied())
        .collect()
}

#[test]
fn streamed_chunks_joined_equal_speak_sample_for_sample() {
    let s = synth();
    for options in [
        AudioOptions::default(),
        AudioOptions::default()
            .with_sample_rate(16_000)
            .with_volume(0.5)
            .with_trim_silence(true)
            .with_sentence_silence_ms(250),
        AudioOptions::default().with_sample_rate(44_100),
    ] {
        let chunks: Vec<Utterance> = s
            .speak_stream_with(TEXT, &SpeakOptions::default().with_audio(options.clone()))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(chunks.len(), 3, "{options:?}");
        let whole = s
            .speak_with(TEXT, &SpeakOptions::default().with_audio(options.clone()))
            .unwrap();
        assert_eq!(joined(&chunks), whole.audio.samples(), "{options:?}");
        assert_eq!(
            whole.audio.sample_rate(),
            options.sample_rate.unwrap_or(s.sample_rate())
        );

        let mut start = 0u64;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!((c.index, c.start), (i, start));
            assert!(TEXT.get(c.text.clone()).is_some_and(|t| !t.is_empty()));
            start += c.audio.samples().len() as u64;
        }
        let words: Vec<_> = chunks
            .iter()
            .flat_map(|c| c.timings.words.clone())
            .collect();
        assert_eq!(words, whole.timings.words);
    }
}

#[test]
fn default_options_leave_the_model_output_untouched() {
    // Without the watermark (which marks each call on its own grid), the
    // default chain is the model's output.
    let s = crate::common::unmarked();
    let whole = s.speak(TEXT).unwrap();
    let mut raw = Vec::new();
    for sentence in s.phonemize(TEXT).unwrap().0 {
        raw.extend(s.speak_ids(&sentence.ids).unwrap().audio.into_samples());
    }
    assert_eq!(whole.audio.samples(), raw.as_slice());
}

#[test]
fn sentences_are_synthesized_one_per_call() {
    let s = synth();
    let mut stream = s.speak_stream(TEXT).unwrap();
    // Nothing is phonemized or synthesized before it is asked for.
    assert_eq!(
        (
            stream.segments_total(),
            stream.segments_left(),
            stream.sentences_waiting()
        ),
        (3, 3, 0)
    );
    let first = stream.next().unwrap().unwrap();
    assert!(!first.audio.samples().is_empty());
    assert_eq!((stream.segments_left(), stream.sentences_waiting()), (2, 0));
    assert_eq!(stream.samples_done(), first.audio.samples().len() as u64);
    assert_eq!(stream.by_ref().count(), 2);
    assert!(stream.next().is_none());
}

#[test]
fn pause_goes_between_sentences_only() {
    let s = synth();
    let plain = s.speak(TEXT).unwrap().audio.samples().len();
    let options = AudioOptions::default().with_sentence_silence_ms(100);
    let paused = s
        .speak_with(TEXT, &SpeakOptions::default().with_audio(options.clone()))
        .unwrap()
        .audio
        .samples()
        .len();
    assert_eq!(paused - plain, 2 * 2_205);
}

#[test]
fn volume_and_rate_apply_and_never_clip() {
    let s = synth();
    let loud = AudioOptions::default()
        .with_volume(50.0)
        .with_sample_rate(8_000);
    for chunk in s
        .speak_stream_with(TEXT, &SpeakOptions::default().with_audio(loud.clone()))
        .unwrap()
    {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.audio.sample_rate(), 8_000);
        let v = chunk.volume.unwrap();
        assert!(v.limited && v.applied < 50.0);
        assert!(chunk.audio.peak() <= 1.0);
    }
    let bad = AudioOptions::default().with_sample_rate(96_000);
    assert!(s
        .speak_stream_with(TEXT, &SpeakOptions::default().with_audio(bad.clone()))
        .is_err());
}

#[test]
fn bad_text_fails_before_any_audio() {
    let s = synth();
    let nothing = |e: &signet::Error| {
        matches!(
            e,
            signet::Error::NothingToSpeak
                | signet::Error::Text(signet_text::TextError::NothingToSpeak { .. })
        )
    };
    // White space fails in the first stage, before any stream exists.
    assert!(s.speak_stream(" \n ").is_err_and(|e| nothing(&e)));
    // So does text over a limit, however long.
    let big = "word ".repeat(300_000);
    assert!(matches!(
        s.speak_stream(&big),
        Err(signet::Error::Text(
            signet_text::TextError::LimitExceeded { .. }
        ))
    ));
}

#[test]
fn a_shared_stream_runs_in_another_thread() {
    let s = synth();
    let stream = s
        .speak_stream_shared(
            "Hello from a worker thread.".to_owned(),
            &SpeakOptions::default(),
        )
        .unwrap();
    let handle = std::thread::spawn(move || {
        stream
            .map(|c| c.unwrap().audio.samples().len())
            .sum::<usize>()
    });
    assert!(handle.join().unwrap() > 0);
}

#[test]
fn callback_form_sees_every_chunk_and_can_stop() {
    let s = synth();
    let mut seen = Vec::new();
    s.speak_each::<signet::Error, _>(TEXT, |c| {
        seen.push(c.index);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [0, 1, 2]);

    let mut calls = 0;
    let r: anyhow::Result<()> = s.speak_each(TEXT, |_| {
        calls += 1;
        anyhow::bail!("stop")
    });
    assert_eq!((r.unwrap_err().to_string(), calls), ("stop".to_owned(), 1));
}

#[test]
fn wav_output_carries_provenance() {
    let s = synth();
    let speech = s.speak("Provenance test.").unwrap();
    let wav = speech.to_wav(SampleFormat::S16).unwrap();
    let info = WavInfo::read(&wav, &WavLimits::default()).unwrap();
    let p = info.provenance.unwrap();
    assert_eq!(p.voice, s.voice());
    assert_eq!(p.manifest_sha256, s.manifest_sha256());
    assert_eq!(p.generator, "Signet");
    assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn speed_applies_to_its_request_only() {
    let s = synth();
    let text = "Speed is set per request.";
    let len = |o: &SpeakOptions| s.speak_with(text, o).unwrap().audio.samples().len();
    let normal = len(&SpeakOptions::default());
    let fast = len(&SpeakOptions::default().with_speed(2.0));
    let slow = len(&SpeakOptions::default().with_speed(0.5));
    assert!(fast * 10 < normal * 7, "{fast} vs {normal}");
    assert!(slow * 10 > normal * 15, "{slow} vs {normal}");
    // The synthesizer's own settings are untouched.
    assert_eq!(len(&SpeakOptions::default()), normal);
    assert_eq!(s.speak(text).unwrap().audio.samples().len(), normal);
    // Settings are checked before any work, naming the setting.
    for bad in [0.0, 5.0, f32::NAN] {
        let e = s
            .speak_stream_with(text, &SpeakOptions::default().with_speed(bad))
            .unwrap_err();
        assert!(e.to_string().contains("speed"), "{e}");
    }
}

#[test]
fn check_first_refuses_what_has_nothing_to_say_before_any_audio() {
    let s = synth();
    for unspeakable in ["?!...,;", "... ?", "\u{1}\u{2}\u{7f}"] {
        let refused = match s.speak_stream(unspeakable) {
            Err(e) => e,
            Ok(mut stream) => {
                let e = stream.check_first().unwrap_err();
                assert!(stream.next().is_none(), "the stream ends after an error");
                e
            }
        };
        assert!(
            refused.to_string().contains("nothing to speak"),
            "{unspeakable:?}: {refused}"
        );
    }

    let mut stream = s.speak_stream(TEXT).unwrap();
    stream.check_first().unwrap();
    // The first segment is phonemized, nothing is synthesized yet.
    assert_eq!((stream.segments_left(), stream.samples_done()), (2, 0));
    assert_eq!(stream.count(), 3);
}

/// A sentence of about twenty seconds of speech.
const LONG_SENTENCE: &str = "This one sentence goes on for a good while, naming the rivers, the \
    hills, the towns and the roads of a country that nobody in this room has ever seen, and it \
    only stops when the speaker has quite run out of breath and of things to say about it.";

#[test]
fn estimate_of_the_audio_is_close_to_the_audio_made() {
    let s = synth();
    let text = format!("{TEXT} {LONG_SENTENCE} Short again. {TEXT}");
    for speed in [1.0, 0.5, 2.0] {
        let options = SpeakOptions::default().with_speed(speed);
        let mut stream = s.speak_stream_with(&text, &options).unwrap();
        let estimate = stream.estimate_seconds().unwrap();
        // Every segment is phonemized, nothing is synthesized yet.
        assert_eq!((stream.segments_left(), stream.samples_done()), (0, 0));
        let made: u64 = stream
            .map(|u| u.unwrap().audio.samples().len() as u64)
            .sum();
        let made = made as f64 / f64::from(s.sample_rate());
        let ratio = made / estimate;
        assert!(
            (0.6..=1.4).contains(&ratio),
            "speed {speed}: estimated {estimate:.1} s, made {made:.1} s"
        );
    }
}

/// One sentence of about 400 characters: longer than one decoding window.
const LONG: &str = "When the committee finally gathered in the old library on the hill, with \
    rain drumming on the tall windows and the fire burning low in the grate, the chair opened \
    the folder of letters that had arrived over the winter, read each of them aloud in a \
    steady voice, and asked every member in turn, slowly and without hurry, what the town \
    should do about the bridge, the school and the harbour wall";

#[test]
fn by_window_parts_join_into_what_speak_returns() {
    let s = synth();
    let text = format!("Short one first. {LONG}. And a short one last.");
    for options in [
        AudioOptions::default(),
        AudioOptions::default().with_sentence_silence_ms(200),
    ] {
        let opts = SpeakOptions::default().with_audio(options.clone());
        let parts: Vec<Utterance> = s
            .speak_stream_with(&text, &opts)
            .unwrap()
            .by_window(true)
            .collect::<Result<_, _>>()
            .unwrap();
        let whole = s.speak_with(&text, &opts).unwrap();
        assert_eq!(joined(&parts), whole.audio.samples(), "{options:?}");
        // The long sentence comes in several parts, numbered, the first one short.
        let long: Vec<&Utterance> = parts.iter().filter(|p| p.index == 1).collect();
        assert!(long.len() > 2, "{} parts", long.len());
        for (k, p) in long.iter().enumerate() {
            assert_eq!(p.part, k);
            assert_eq!(p.last, k + 1 == long.len());
            assert_eq!(p.timings.words.is_empty(), k > 0);
        }
        assert!(long[0].audio.samples().len() < long[1].audio.samples().len());
        // Each part starts where the one before ended; timings are those of `speak`.
        let mut start = 0u64;
        for p in &parts {
            assert_eq!(p.start, start);
            start += p.audio.samples().len() as u64;
        }
        let words: Vec<_> = parts.iter().flat_map(|p| p.timings.words.clone()).collect();
        assert_eq!(words, whole.timings.words);
        assert_eq!(
            parts.iter().map(|p| p.index).max(),
            Some(2),
            "three sentences"
        );
    }
}

#[test]
fn a_sentence_that_would_pass_the_output_limit_is_not_synthesized() {
    let full = synth();
    let t0 = std::time::Instant::now();
    let whole = full.speak(LONG_SENTENCE).unwrap();
    let synthesis = t0.elapsed();
    let secs = whole.audio.duration_secs();
    assert!(secs > 8.0, "{secs} s");

    let capped = synth_with_limits(signet::Limits::default().with_max_output_seconds(4.0));
    let mut stream = capped.speak_stream(LONG_SENTENCE).unwrap();
    stream.check_first().unwrap();
    let t0 = std::time::Instant::now();
    let e = stream.next().unwrap().unwrap_err();
    let refused_after = t0.elapsed();
    assert!(e.to_string().contains("max_output_seconds"), "{e}");
    assert_eq!(stream.samples_done(), 0);
    // Refused from the estimate, before the model ran: a small part of the
    // time the sentence takes to synthesize (before, it was made in full,
    // then thrown away).
    assert!(
        refused_after * 5 < synthesis,
        "refused after {refused_after:?}; synthesizing it takes {synthesis:?}"
    );
}

#[test]
fn by_window_keeps_sentences_whole_when_the_audio_chain_needs_them() {
    let s = synth();
    for options in [
        AudioOptions::default().with_trim_silence(true),
        AudioOptions::default().with_volume(0.5),
        AudioOptions::default().with_sample_rate(16_000),
    ] {
        let opts = SpeakOptions::default().with_audio(options.clone());
        let parts: Vec<Utterance> = s
            .speak_stream_with(LONG, &opts)
            .unwrap()
            .by_window(true)
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(parts.iter().all(|p| p.part == 0 && p.last), "{options:?}");
        assert_eq!(
            joined(&parts),
            s.speak_with(LONG, &opts).unwrap().audio.samples()
        );
    }
}

/// A language for a voice without a language embedding (every Piper voice) is refused, by
/// name with the voice's languages, by id with the reason; nothing is spoken.
#[test]
fn a_language_for_a_voice_that_is_not_multilingual_is_refused() {
    let s = synth();
    let by_name = SpeakOptions::default().with_language(signet::Language::Name("fr".into()));
    let err = s.speak_with("Hello.", &by_name).unwrap_err();
    assert!(
        matches!(&err, signet::Error::UnknownLanguage { name, .. } if name == "fr"),
        "{err}"
    );
    assert!(err.to_string().contains("its languages: none"), "{err}");
    let by_id = SpeakOptions::default().with_language(signet::Language::Id(1));
    let err = s.speak_with("Hello.", &by_id).unwrap_err();
    assert!(err.to_string().contains("not multilingual"), "{err}");
}
