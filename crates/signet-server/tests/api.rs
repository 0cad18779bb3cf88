//! The API's answers: auth, limits, refusals with reasons, streaming audio,
//! voices, health, metrics, and logs without text.

use serde_json::json;

use crate::common::*;

#[test]
fn auth_missing_wrong_and_right() {
    let srv = start(config());
    let body = json!({"model": "tts-1", "input": "Hello there.", "voice": VOICE});
    let missing = send(
        srv.addr,
        "POST",
        "/v1/audio/speech",
        &[],
        body.to_string().as_bytes(),
    );
    assert_eq!(missing.status, 401, "{}", missing.text());
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    assert!(
        missing.text().contains("missing API key"),
        "{}",
        missing.text()
    );
    let wrong = send(
        srv.addr,
        "POST",
        "/v1/audio/speech",
        &[("Authorization", "Bearer not-the-key")],
        body.to_string().as_bytes(),
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("invalid API key"), "{}", wrong.text());
    assert_eq!(get(srv.addr, "/v1/voices", &[]).status, 401);

    let ok = speak(srv.addr, &body);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.complete);
    assert_eq!(ok.header("content-type"), Some("audio/wav"));
    assert_eq!(ok.header("transfer-encoding"), Some("chunked"));
    assert_eq!(ok.header("x-sample-rate"), Some("22050"));
    assert!(ok.header("x-request-id").is_some());
    assert_eq!(&ok.body[..4], b"RIFF");
    let samples = wav_frames(&ok.body);
    assert!(samples > 22050 / 4, "only {samples} samples");

    let pcm = speak(
        srv.addr,
        &json!({"input": "Hello there.", "voice": VOICE, "response_format": "pcm", "speed": 2.0}),
    );
    assert_eq!(pcm.status, 200, "{}", pcm.text());
    assert_eq!(pcm.header("content-type"), Some("audio/pcm"));
    // Twice as fast: clearly shorter than the WAV at normal speed.
    assert!(
        pcm.body.len() / 2 < samples * 3 / 4,
        "{} vs {samples}",
        pcm.body.len() / 2
    );

    let auth = bearer();
    let voices = get(srv.addr, "/v1/voices", &[("Authorization", &auth)]);
    assert_eq!(voices.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&voices.body).unwrap();
    assert_eq!(v["voices"][0]["name"], VOICE);
    assert_eq!(v["default"], VOICE);

    assert_eq!(get(srv.addr, "/healthz", &[]).status, 200);
    assert_eq!(get(srv.addr, "/readyz", &[]).status, 200);
    assert_eq!(get(srv.addr, "/nope", &[]).status, 404);
    let m = srv.metrics();
    assert_eq!(
        metric_value(
            &m,
            "signet_requests_total{endpoint=\"speech\",status=\"200\"}"
        ),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "signet_requests_total{endpoint=\"speech\",status=\"401\"}"
        ),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "signet_rejections_total{reason=\"unauthorized\"}"),
        3.0,
        "{m}"
    );
    assert!(metric_value(&m, "signet_audio_seconds_total") > 0.5, "{m}");
    assert!(
        metric_value(&m, "signet_synthesis_seconds_total") > 0.0,
        "{m}"
    );
    assert!(m.contains("signet_queue_depth 0"), "{m}");
}

#[test]
fn anonymous_only_when_configured() {
    let mut c = config();
    c.auth.mode = signet_server::AuthMode::Anonymous;
    let srv = start(c);
    let r = send(srv.addr, "GET", "/api/tts?text=Hi%20there.", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..4], b"RIFF");
    // A key that is presented must still be valid.
    let r = send(
        srv.addr,
        "GET",
        "/api/tts?text=Hi.",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    // Coqui's style_wav named a file on the server: refused.
    let r = send(
        srv.addr,
        "GET",
        "/api/tts?text=Hi.&style_wav=/etc/passwd",
        &[],
        b"",
    );
    assert_eq!(r.status, 400);
    assert!(!r.text().contains("/etc/passwd"), "{}", r.text());
    // Form body on POST.
    let r = send(
        srv.addr,
        "POST",
        "/api/tts",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"text=Good+morning.",
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn rate_limit_gives_429_with_retry_after() {
    let mut c = config();
    c.auth.requests_per_minute = 2;
    let srv = start(c);
    let body = json!({"input": "Hi.", "voice": VOICE});
    assert_eq!(speak(srv.addr, &body).status, 200);
    assert_eq!(speak(srv.addr, &body).status, 200);
    let r = speak(srv.addr, &body);
    assert_eq!(r.status, 429, "{}", r.text());
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(r.text().contains("rate limit"), "{}", r.text());
}

#[test]
fn body_cap_text_limit_voice_names_and_fields() {
    let mut c = config();
    c.max_body_bytes = 1024;
    c.limits.max_input_bytes = 100;
    let srv = start(c);
    let auth = bearer();

    let big = vec![b'x'; 2000];
    let r = send(
        srv.addr,
        "POST",
        "/v1/audio/speech",
        &[("Authorization", &auth)],
        &big,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("max_body_bytes"), "{}", r.text());

    let r = speak(
        srv.addr,
        &json!({"input": "word ".repeat(40), "voice": VOICE}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("limits.max_input_bytes"), "{}", r.text());
    assert!(r.text().contains("100 bytes"), "{}", r.text());

    let r = speak(srv.addr, &json!({"input": "Hi.", "voice": "no-such-voice"}));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(!r.text().contains("no-such-voice"), "{}", r.text());
    assert!(!r.text().contains(home().to_str().unwrap()), "{}", r.text());
    assert!(!r.text().contains("voices/"), "{}", r.text());

    for bad in [
        "../../etc/passwd",
        "/etc/passwd",
        "a/b",
        "..",
        ".hidden",
        "x\\y",
        "~root",
    ] {
        let r = speak(srv.addr, &json!({"input": "Hi.", "voice": bad}));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains("never a path"), "{}", r.text());
        assert!(!r.text().contains("passwd"), "{}", r.text());
    }

    let r = speak(srv.addr, &json!({"input": "Hi.", "response_format": "aac"}));
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("mp3, opus, flac, wav, pcm"),
        "{}",
        r.text()
    );
    let r = speak(srv.addr, &json!({"input": "Hi.", "speed": 100}));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("speed"), "{}", r.text());
    let r = speak(srv.addr, &json!({"input": "Hi.", "file": "/etc/passwd"}));
    assert_eq!(r.status, 400);
    for unspeakable in ["?!...,;", "\u{1}\u{2}\u{7f}"] {
        let r = speak(srv.addr, &json!({"input": unspeakable, "voice": VOICE}));
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("nothing to speak"), "{}", r.text());
    }
}

#[test]
fn logs_never_hold_the_text() {
    let srv = start(config());
    let secret = "Quixotic zebras whisper marmalade";
    let r = speak(
        srv.addr,
        &json!({"input": format!("{secret}."), "voice": VOICE}),
    );
    assert_eq!(r.status, 200);
    let rid = r.header("x-request-id").unwrap().to_owned();
    // A refused request with the same text in it.
    let r = speak(
        srv.addr,
        &json!({"input": format!("{secret}."), "voice": "bad/voice"}),
    );
    assert_eq!(r.status, 400);
    let auth = bearer();
    let r = send(
        srv.addr,
        "GET",
        "/api/tts?text=Quixotic%20zebras%20whisper%20marmalade",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200);
    drop(srv);
    let logs = logs();
    assert!(logs.contains(&rid), "request id {rid} not logged");
    assert!(logs.contains("synthesis finished"), "no synthesis line");
    assert!(
        logs.contains("key_id=\"alice\"") || logs.contains("key_id=alice"),
        "no key id"
    );
    for word in ["Quixotic", "zebras", "marmalade", "Quixotic%20"] {
        assert!(
            !logs.contains(word),
            "the text leaked into the logs: {word}"
        );
    }
}

#[test]
fn config_errors_are_clear() {
    let mut c = config();
    c.auth.keys_file = None;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt
        .block_on(signet_server::Server::bind(c))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no API keys configured") && e.contains("anonymous"),
        "{e}"
    );
    let mut c = config();
    c.voices = vec!["missing-voice".into()];
    c.auth.mode = signet_server::AuthMode::Anonymous;
    let e = rt
        .block_on(signet_server::Server::bind(c))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing-voice"), "{e}");
}

/// A voice imported from Coqui TTS (signet-coqui's tiny VITS fixture: characters,
/// `english_cleaners`, a blank between tokens) is served like any other: the server loads it
/// through the facade's one `build`, and text goes through Coqui's tokenizer to a WAV at the
/// voice's rate.
#[test]
fn a_coqui_voice_is_served_from_text() {
    let home = coqui_home(&[("coqui-tiny", "vits_tiny")]);
    let mut c = config();
    c.home = Some(home.path().to_owned());
    c.voices = vec!["coqui-tiny".to_owned()];
    let srv = start(c);
    let short = speak(
        srv.addr,
        &json!({"input": "Hi.", "voice": "coqui-tiny", "response_format": "wav"}),
    );
    let long = speak(
        srv.addr,
        &json!({"input": "Hello there, my friend, how are you today?", "voice": "coqui-tiny", "response_format": "wav"}),
    );
    for r in [&short, &long] {
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.complete);
        assert_eq!(r.header("x-sample-rate"), Some("16000"));
        assert_eq!(&r.body[..4], b"RIFF");
    }
    // Every token gets frames: the longer text gives the longer audio.
    let (a, b) = (wav_frames(&short.body), wav_frames(&long.body));
    assert!(a > 0 && b > 2 * a, "{a} vs {b} samples");
    srv.stop();
}

/// Coqui's server API chooses a speaker and a language of a multi-speaker or multilingual
/// voice with `speaker_id` and `language_id`; Signet's `/api/tts` takes them (by name, as
/// coqui-tts's server does, or by id), lists them in `/v1/voices`, and refuses what a voice
/// does not have. The fixtures speak with the noise off: each speaker and language gives
/// its own repeatable audio.
#[test]
fn coqui_speaker_id_and_language_id_choose_among_a_voices_speakers_and_languages() {
    let home = coqui_home(&[
        ("vctk", "vits_vctk_tiny"),
        ("yourtts", "vits_yourtts_tiny"),
        ("coqui-tiny", "vits_tiny"),
    ]);
    let mut c = config();
    c.home = Some(home.path().to_owned());
    c.voices = vec!["vctk".into(), "yourtts".into(), "coqui-tiny".into()];
    c.watermark.mode = signet_server::WatermarkMode::Off;
    let srv = start(c);
    let auth = bearer();
    let list: serde_json::Value =
        serde_json::from_slice(&get(srv.addr, "/v1/voices", &[("Authorization", &auth)]).body)
            .unwrap();
    let entry = |name: &str| {
        list["voices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        entry("vctk")["speakers"],
        json!(["VCTK_p225", "VCTK_p226", "VCTK_p227"])
    );
    assert_eq!(entry("vctk")["num_speakers"], 3);
    assert_eq!(
        entry("yourtts")["languages"],
        json!(["en", "fr-fr", "pt-br"])
    );
    assert!(entry("coqui-tiny").get("speakers").is_none());

    let tts = |query: &str| {
        get(
            srv.addr,
            &format!("/api/tts?text=Hello+there+friend.&{query}"),
            &[("Authorization", &auth)],
        )
    };
    let ok = |query: &str| {
        let r = tts(query);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        r.body
    };
    // A speaker by name and by id is the same speaker; the three differ.
    let p225 = ok("voice=vctk&speaker_id=VCTK_p225");
    assert_eq!(p225, ok("voice=vctk&speaker_id=0"));
    assert_eq!(p225, ok("voice=vctk&speaker_id=VCTK_p225"), "repeatable");
    let p226 = ok("voice=vctk&speaker_id=VCTK_p226");
    let p227 = ok("voice=vctk&speaker_id=2");
    assert!(p225 != p226 && p226 != p227 && p225 != p227);
    // No speaker: speaker 0, as `signet speak` without `--speaker`.
    assert_eq!(p225, ok("voice=vctk"));
    // Languages likewise, with a speaker.
    let en = ok("voice=yourtts&speaker_id=male-en-2&language_id=en");
    let fr = ok("voice=yourtts&speaker_id=male-en-2&language_id=fr-fr");
    assert_ne!(en, fr);
    assert_eq!(en, ok("voice=yourtts&speaker_id=male-en-2&language_id=0"));
    // Empty parameters are none, as coqui-tts's web page sends them.
    assert_eq!(p225, ok("voice=vctk&speaker_id=&language_id="));
    // What a voice does not have is a 400 naming the voice.
    for (query, code) in [
        ("voice=vctk&speaker_id=VCTK_p999", "unknown_speaker"),
        ("voice=vctk&speaker_id=3", "unknown_speaker"),
        ("voice=vctk&speaker_id=-1", "unknown_speaker"),
        ("voice=coqui-tiny&speaker_id=0", "unknown_speaker"),
        ("voice=yourtts&language_id=de", "unknown_language"),
        ("voice=vctk&language_id=en", "unknown_language"),
    ] {
        let r = tts(query);
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"]["type"], code, "{query}: {body}");
        assert!(r.text().contains(
            query
                .split('&')
                .next()
                .unwrap()
                .trim_start_matches("voice=")
        ));
    }
    srv.stop();
}
