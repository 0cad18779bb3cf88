//! SSML requests: OpenAI's `input` with `input_type: "ssml"`, Coqui's
//! `/api/tts` with `ssml=true`.

use serde_json::json;

use crate::common::*;

#[test]
fn ssml_requests_speak_breaks_and_refuse_doctypes() {
    let srv = start(config());
    let r = speak(
        srv.addr,
        &json!({"input": "<speak>Hi.<break time=\"1s\"/></speak>", "input_type": "ssml",
                "response_format": "pcm"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rate: usize = r.header("X-Sample-Rate").unwrap().parse().unwrap();
    // The break is the last second: exactly `rate` zero samples of s16.
    assert!(r.body.len() > 2 * rate, "{}", r.body.len());
    let tail = &r.body[r.body.len() - 2 * rate..];
    assert!(tail.iter().all(|&b| b == 0));
    // The same document as text is spoken as text (no silence at the end).
    let r = speak(
        srv.addr,
        &json!({"input": "<speak>Hi.<break time=\"1s\"/></speak>", "response_format": "pcm"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An unknown input_type is refused.
    let r = speak(srv.addr, &json!({"input": "Hi.", "input_type": "html"}));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("input_type"), "{}", r.text());
    // A DOCTYPE is a 400 that says why, before any audio.
    let r = speak(
        srv.addr,
        &json!({"input": "<!DOCTYPE speak [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><speak>&x;</speak>",
                "input_type": "ssml"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("DOCTYPE"), "{}", r.text());
    assert!(!r.text().contains("root:"), "{}", r.text());
    // Coqui's endpoint with ssml=true.
    let auth = bearer();
    let r = send(
        srv.addr,
        "GET",
        "/api/tts?ssml=true&text=%3Cspeak%3EHi.%3Cbreak%20time%3D%22500ms%22%2F%3E%3C%2Fspeak%3E",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..4], b"RIFF");
    let r = send(
        srv.addr,
        "GET",
        "/api/tts?ssml=yes&text=Hi.",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
}
