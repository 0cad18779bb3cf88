//! The watermark in the server's answers: WAV and PCM both carry the home's
//! mark with the API key's tag as payload; `watermark.mode = "off"` gives
//! unmarked audio and says so in the log.

use serde_json::json;
use signet::watermark::detect;
use signet::{Audio, Payload, WavLimits};

use crate::common::*;

const TEXT: &str = "The committee met on a grey morning in early spring. Nobody spoke for a \
    while. Then the chair read the letter aloud.";

fn home_key() -> signet::WatermarkKey {
    // Made by whichever comes first, this or a server start; both agree.
    signet::watermark::home_key(&signet::Store::new(home())).unwrap()
}

fn pcm_samples(body: &[u8]) -> Vec<f32> {
    body.chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

#[test]
fn wav_and_pcm_answers_carry_the_mark_with_the_key_tag() {
    let srv = start(config());
    let wav = speak(srv.addr, &json!({"input": TEXT, "voice": VOICE}));
    assert_eq!(wav.status, 200, "{}", wav.text());
    let audio = Audio::from_wav(&wav.body, &WavLimits::default()).unwrap();
    let key = home_key();
    let found = detect(audio.samples(), audio.sample_rate(), &key).unwrap();
    assert!(found.present, "WAV answer: score {}", found.score);
    assert_eq!(
        found.payload,
        Some(Payload(signet_server::watermark_tag("alice")))
    );

    let pcm = speak_as(
        srv.addr,
        KEY_BOB,
        &json!({"input": TEXT, "voice": VOICE, "response_format": "pcm"}),
    );
    assert_eq!(pcm.status, 200, "{}", pcm.text());
    let found = detect(&pcm_samples(&pcm.body), 22_050, &key).unwrap();
    assert!(found.present, "PCM answer: score {}", found.score);
    assert_eq!(
        found.payload,
        Some(Payload(signet_server::watermark_tag("bob")))
    );
    assert_ne!(
        signet_server::watermark_tag("alice"),
        signet_server::watermark_tag("bob")
    );
    assert!(logs().contains("watermark on"));
    srv.stop();
}

#[test]
fn watermark_off_in_the_config_gives_unmarked_audio_and_is_logged() {
    let mut c = config();
    c.watermark.mode = signet_server::WatermarkMode::Off;
    let srv = start(c);
    let pcm = speak(
        srv.addr,
        &json!({"input": TEXT, "voice": VOICE, "response_format": "pcm"}),
    );
    assert_eq!(pcm.status, 200, "{}", pcm.text());
    let found = detect(&pcm_samples(&pcm.body), 22_050, &home_key()).unwrap();
    assert!(!found.present, "score {}", found.score);
    assert!(logs().contains("watermark off"));
    srv.stop();
}

#[test]
fn a_configured_key_file_marks_instead_of_the_home_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server-watermark.key");
    let key = signet::WatermarkKey::from_bytes([77; 32]);
    std::fs::write(&path, key.to_file_text()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = config();
    c.watermark.key_file = Some(path);
    let srv = start(c);
    let pcm = speak(
        srv.addr,
        &json!({"input": TEXT, "voice": VOICE, "response_format": "pcm"}),
    );
    assert_eq!(pcm.status, 200, "{}", pcm.text());
    let samples = pcm_samples(&pcm.body);
    assert!(detect(&samples, 22_050, &key).unwrap().present);
    assert!(!detect(&samples, 22_050, &home_key()).unwrap().present);
    srv.stop();
}
