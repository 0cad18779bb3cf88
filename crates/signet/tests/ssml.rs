//! SSML through the one speak path: breaks are exact silence in the output and
//! the timings, prosody changes the length scale and the gain, marks stand at
//! the right sample, phonemes speak like inline `[[ ]]`.

use signet::{Error, SpeakOptions, TextError, Utterance};

// The watermark is off here: a sentence's mark depends on where it stands in
// the speech, and these tests compare sentences spoken at different places.
use crate::common::unmarked as synth;

fn utterances(doc: &str) -> Vec<Utterance> {
    synth()
        .speak_ssml_stream(doc)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn ssml_break_is_exact_silence_and_replaces_the_sentence_pause() {
    let s = synth();
    let rate = s.sample_rate();
    let u = utterances("<speak>Hello there.<break time=\"700ms\"/>Goodbye now.</speak>");
    assert_eq!(u.len(), 3);
    let pause = &u[1];
    assert_eq!(
        pause.audio.samples().len() as u64,
        u64::from(rate) * 700 / 1000
    );
    assert!(pause.audio.samples().iter().all(|&x| x == 0.0));
    assert_eq!(pause.start, u[0].start + u[0].audio.samples().len() as u64);
    // The sentence after the break starts right after it, with no sentence
    // pause of its own: it is the sentence spoken alone.
    let alone = s.speak("Goodbye now.").unwrap();
    assert_eq!(u[2].audio.samples(), alone.audio.samples());
    assert_eq!(u[2].start, pause.start + pause.audio.samples().len() as u64);
    // Timings: the second sentence's words lie after the break.
    let first_word = u[2].timings.words.first().unwrap();
    assert!(first_word.start >= u[2].start, "{first_word:?}");
    assert_eq!(first_word.word, "Goodbye");
    // speak_ssml joins the same utterances.
    let whole = s
        .speak_ssml("<speak>Hello there.<break time=\"700ms\"/>Goodbye now.</speak>")
        .unwrap();
    let joined: Vec<f32> = u
        .iter()
        .flat_map(|x| x.audio.samples().iter().copied())
        .collect();
    assert_eq!(whole.audio.samples(), joined.as_slice());
}

#[test]
fn ssml_marks_stand_at_the_next_word_and_at_breaks() {
    let s = synth();
    let speech = s
        .speak_ssml(
            "<speak><mark name=\"start\"/>One two <mark name=\"three\"/>three four.<mark name=\"end\"/><break time=\"200ms\"/><mark name=\"after\"/>Five.</speak>",
        )
        .unwrap();
    let t = &speech.timings;
    let names: Vec<&str> = t.marks.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["start", "three", "end", "after"]);
    let word = |w: &str| t.words.iter().find(|x| x.word == w).unwrap();
    assert_eq!(t.marks[0].sample, word("One").start);
    assert_eq!(t.marks[1].sample, word("three").start);
    // "end" stands where the first sentence's audio ends, which is where the
    // break starts; "after" at the next word, past the break.
    let break_len = u64::from(s.sample_rate()) * 200 / 1000;
    assert!(t.marks[2].sample > word("four").start);
    assert_eq!(t.marks[3].sample, word("Five").start);
    assert!(t.marks[3].sample >= t.marks[2].sample + break_len);
}

#[test]
fn ssml_prosody_rate_is_the_length_scale_and_volume_a_gain() {
    let s = synth();
    let slow = s
        .speak_ssml("<speak><prosody rate=\"50%\">Hello there.</prosody></speak>")
        .unwrap();
    let half_speed = s
        .speak_with("Hello there.", &SpeakOptions::default().with_speed(0.5))
        .unwrap();
    assert_eq!(slow.audio.samples(), half_speed.audio.samples());
    let plain = s.speak("Hello there.").unwrap();
    assert!(slow.audio.samples().len() > plain.audio.samples().len() * 3 / 2);
    let soft = s
        .speak_ssml("<speak><prosody volume=\"-6dB\">Hello there.</prosody></speak>")
        .unwrap();
    assert_eq!(soft.audio.samples().len(), plain.audio.samples().len());
    let gain = 10f32.powf(-6.0 / 20.0);
    for (a, b) in soft.audio.samples().iter().zip(plain.audio.samples()) {
        assert!((a - b * gain).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn ssml_phoneme_speaks_like_inline_phonemes() {
    let s = synth();
    let a = s
        .speak_ssml(
            "<speak>Say <phoneme alphabet=\"ipa\" ph=\"təmˈɑːtoʊ\">tomato</phoneme> now.</speak>",
        )
        .unwrap();
    let b = s.speak("Say [[ təmˈɑːtoʊ ]] now.").unwrap();
    assert_eq!(a.audio.samples(), b.audio.samples());
    // A symbol the voice lacks is reported as for inline phonemes.
    let c = s
        .speak_ssml("<speak>Say <phoneme alphabet=\"ipa\" ph=\"t\u{e000}ə\">x</phoneme>.</speak>")
        .unwrap();
    assert!(c
        .diagnostics
        .iter()
        .any(|d| matches!(d, signet::Diagnostic::UnknownPhoneme { .. })));
}

#[test]
fn ssml_voice_language_and_refusals_come_back_as_errors() {
    let s = synth();
    let e = s
        .speak_ssml("<speak xml:lang=\"de-DE\">Hallo.</speak>")
        .unwrap_err();
    assert!(
        matches!(e, Error::Text(TextError::SsmlLanguageMismatch { .. })),
        "{e}"
    );
    let e = s
        .speak_ssml(
            "<!DOCTYPE speak [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><speak>&x;</speak>",
        )
        .unwrap_err();
    assert!(e.to_string().contains("DOCTYPE"), "{e}");
    let other = s
        .speak_ssml("<speak><voice name=\"en_GB-alan-low\">Hello.</voice></speak>")
        .unwrap();
    assert!(other
        .diagnostics
        .iter()
        .any(|d| matches!(d, signet::Diagnostic::SsmlVoiceUnavailable { .. })));
    // A document of breaks alone is silence.
    let quiet = s
        .speak_ssml("<speak><break time=\"300ms\"/></speak>")
        .unwrap();
    assert_eq!(
        quiet.audio.samples().len() as u64,
        u64::from(s.sample_rate()) * 300 / 1000
    );
}
