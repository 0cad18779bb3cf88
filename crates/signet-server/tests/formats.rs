//! OpenAI's `/v1/audio/speech` as the official `openai` client uses it:
//! MP3 by default, every format through a real decoder (ffmpeg), streamed
//! bytes and server-sent events; and the MaryTTS door (`speak2mary` and
//! MaryTTS's documented request forms).

use serde_json::json;

use crate::common::*;

const TEXT: &str = "Hello there. This is a test of the speech endpoint.";

/// The `openai` client against the server: what it got, per call.
const OPENAI_SCRIPT: &str = r#"
import base64, json, sys
import openai
addr, key, voice, outdir, text = sys.argv[1:6]
client = openai.OpenAI(base_url=f"http://{addr}/v1", api_key=key, max_retries=0)
res = {}
r = client.audio.speech.create(model="tts-1", voice=voice, input=text)
open(f"{outdir}/default", "wb").write(r.content)
res["default_type"] = r.response.headers.get("content-type")
for f in ["mp3", "opus", "flac", "wav", "pcm"]:
    r = client.audio.speech.create(model="gpt-4o-mini-tts", voice=voice, input=text,
                                   response_format=f, speed=1.0,
                                   instructions="Speak in a cheerful tone.")
    open(f"{outdir}/{f}", "wb").write(r.content)
    res[f + "_type"] = r.response.headers.get("content-type")
try:
    client.audio.speech.create(model="tts-1", voice=voice, input=text, response_format="aac")
    res["aac"] = "accepted"
except openai.BadRequestError as e:
    res["aac"] = str(e)
chunks, total = 0, 0
with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice=voice, input=text, response_format="mp3") as s:
    res["stream_type"] = s.headers.get("content-type")
    with open(f"{outdir}/streamed", "wb") as out:
        for c in s.iter_bytes():
            chunks += 1
            total += len(c)
            out.write(c)
res["stream_chunks"], res["stream_bytes"] = chunks, total
events, audio = [], b""
with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice=voice, input=text, response_format="pcm",
        stream_format="sse") as s:
    res["sse_type"] = s.headers.get("content-type")
    for line in s.iter_lines():
        if not line:
            continue
        assert line.startswith("data: "), line
        ev = json.loads(line[len("data: "):])
        events.append(ev["type"])
        if ev["type"] == "speech.audio.delta":
            audio += base64.b64decode(ev["audio"])
        else:
            res["usage"] = ev["usage"]
res["sse_events"], res["sse_audio_bytes"] = events, len(audio)
print(json.dumps(res))
"#;

#[test]
fn the_openai_client_gets_mp3_by_default_and_every_format_decodes() {
    let srv = start(config());
    let dir = tempfile::tempdir().unwrap();
    let res = run_python(
        OPENAI_SCRIPT,
        &[
            &srv.addr.to_string(),
            KEY,
            VOICE,
            dir.path().to_str().unwrap(),
            TEXT,
        ],
    );
    // The reference length: the same text as WAV. The voice's noise makes
    // each synthesis a little different, so lengths agree within a margin.
    let wav = std::fs::read(dir.path().join("wav")).unwrap();
    let frames = wav_frames(&wav);
    assert!(frames > 22_050 * 2, "only {frames} frames");
    let close = |name: &str, n: usize| {
        let (lo, hi) = (frames * 3 / 4, frames * 5 / 4 + 2_400);
        assert!(
            (lo..=hi).contains(&n),
            "{name}: {n} samples, the WAV has {frames}"
        );
    };
    // No response_format: MP3, as OpenAI's API answers.
    assert_eq!(res["default_type"], "audio/mpeg");
    let default = std::fs::read(dir.path().join("default")).unwrap();
    assert!(default.starts_with(b"ID3"), "no ID3 tag first");
    assert!(ffprobe(&default).contains("\"mp3\""));
    close("default mp3", ffmpeg_samples(&default, 22_050));
    for (format, content_type, probe) in [
        ("mp3", "audio/mpeg", "mp3"),
        ("opus", "audio/ogg", "ogg"),
        ("flac", "audio/flac", "flac"),
        ("wav", "audio/wav", "wav"),
    ] {
        assert_eq!(res[format!("{format}_type")], content_type, "{format}");
        let bytes = std::fs::read(dir.path().join(format)).unwrap();
        let probed = ffprobe(&bytes);
        assert!(
            probed.contains(&format!("\"{probe}\"")),
            "{format}: {probed}"
        );
        // Provenance travels in each format's own tags.
        assert!(
            probed.contains("synthetic speech; generator=Signet") && probed.contains(VOICE),
            "{format}: {probed}"
        );
        close(format, ffmpeg_samples(&bytes, 22_050));
    }
    assert_eq!(res["pcm_type"], "audio/pcm");
    let pcm = std::fs::read(dir.path().join("pcm")).unwrap();
    close("pcm", pcm.len() / 2);
    // AAC: a clear 400 naming what there is.
    let aac = res["aac"].as_str().unwrap();
    assert!(
        aac.contains("400") && aac.contains("mp3, opus, flac, wav, pcm"),
        "{aac}"
    );
    // Streamed: MP3 bytes in several pieces, one decodable file.
    assert_eq!(res["stream_type"], "audio/mpeg");
    assert!(res["stream_chunks"].as_u64().unwrap() >= 2, "{res}");
    let streamed = std::fs::read(dir.path().join("streamed")).unwrap();
    close("streamed mp3", ffmpeg_samples(&streamed, 22_050));
    // SSE: deltas, then one done event with usage.
    assert_eq!(res["sse_type"], "text/event-stream");
    let events: Vec<&str> = res["sse_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(events.last(), Some(&"speech.audio.done"));
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| *e == "speech.audio.delta"));
    assert!(res["usage"]["total_tokens"].is_number(), "{res}");
    close(
        "sse pcm",
        res["sse_audio_bytes"].as_u64().unwrap() as usize / 2,
    );
}

#[test]
fn the_first_audio_leaves_before_the_last_sentence_is_made() {
    // Raw HTTP: OpenAI's default format streams as it is encoded. The ID3
    // tag leaves first, then MP3 frames sentence by sentence (chunked).
    let srv = start(config());
    let body = json!({"input": sentences(6), "voice": VOICE}).to_string();
    let r = send(
        srv.addr,
        "POST",
        "/v1/audio/speech",
        &[
            ("Authorization", &bearer()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("audio/mpeg"));
    assert!(r.body.starts_with(b"ID3"));
    let n = ffmpeg_samples(&r.body, 22_050);
    assert!(n > 22_050 * 6, "{n} samples for six sentences");
}

#[test]
fn unknown_stream_formats_and_voice_objects() {
    let srv = start(config());
    let r = speak(
        srv.addr,
        &json!({"input": "Hi.", "voice": VOICE, "stream_format": "websocket"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("stream_format"), "{}", r.text());
    // A custom voice object names the voice by id.
    let r = speak(
        srv.addr,
        &json!({"input": "Hi.", "voice": {"id": VOICE}, "response_format": "flac"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("audio/flac"));
    assert!(r.body.starts_with(b"fLaC"));
}

/// `speak2mary`, the client Home Assistant's MaryTTS integration uses: it
/// POSTs a form without a `Content-Type`.
const MARY_SCRIPT: &str = r#"
import json, sys
from speak2mary import MaryTTS
host, port, voice, out = sys.argv[1:5]
tts = MaryTTS(host=host, port=int(port), codec="WAVE_FILE", locale="en_US", voice=voice)
wav = tts.speak("Hello from the Mary door.", effects={"Volume": "amount:2.0;"})
open(out, "wb").write(wav)
try:
    MaryTTS(host=host, port=int(port), codec="AU_FILE", locale="en_US", voice=voice).speak("Hi.")
    err = "accepted"
except Exception as e:
    err = str(e)
print(json.dumps({"au": err}))
"#;

fn mary_config() -> signet_server::Config {
    let mut c = config();
    c.marytts = signet_server::MaryTtsAccess::Anonymous;
    c.voice_aliases
        .insert("cmu-slt-hsmm".to_owned(), VOICE.to_owned());
    c
}

#[test]
fn speak2mary_gets_wav_from_process() {
    let srv = start(mary_config());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mary.wav");
    // The client's fixed default voice, aliased by the operator.
    let res = run_python(
        MARY_SCRIPT,
        &[
            "127.0.0.1",
            &srv.addr.port().to_string(),
            "cmu-slt-hsmm",
            out.to_str().unwrap(),
        ],
    );
    let wav = std::fs::read(&out).unwrap();
    assert!(wav_frames(&wav) > 22_050, "short WAV");
    assert!(ffprobe(&wav).contains("synthetic speech"));
    let au = res["au"].as_str().unwrap();
    assert!(au.contains("400") && au.contains("WAVE_FILE"), "{au}");
    assert!(srv.metrics().contains("endpoint=\"marytts\""));
}

#[test]
fn marytts_documented_forms_and_listings() {
    let srv = start(mary_config());
    // GET with the query string, as MaryTTS documents it.
    let r = get(
        srv.addr,
        "/process?INPUT_TEXT=Hello+world.&INPUT_TYPE=TEXT&OUTPUT_TYPE=AUDIO&AUDIO=WAVE_FILE&LOCALE=en_US",
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("audio/wav"));
    assert!(wav_frames(&r.body) > 0);
    // POST form with VOICE.
    let r = send(
        srv.addr,
        "POST",
        "/process",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("INPUT_TEXT=Hi.&INPUT_TYPE=TEXT&OUTPUT_TYPE=AUDIO&AUDIO=WAVE_FILE&VOICE={VOICE}")
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Refusals are plain text, as MaryTTS answers.
    for (query, status, says) in [
        (
            "INPUT_TEXT=Hi.&INPUT_TYPE=RAWMARYXML",
            400,
            "INPUT_TYPE must be TEXT",
        ),
        (
            "INPUT_TEXT=Hi.&OUTPUT_TYPE=PHONEMES",
            400,
            "OUTPUT_TYPE must be AUDIO",
        ),
        ("INPUT_TEXT=Hi.&LOCALE=de_DE", 404, "LOCALE"),
        ("INPUT_TEXT=Hi.&VOICE=../etc", 400, "never a path"),
        ("INPUT_TYPE=TEXT", 400, "INPUT_TEXT"),
        ("INPUT_TEXT=Hi.&FILE=/etc/passwd", 400, "unknown parameter"),
    ] {
        let r = get(srv.addr, &format!("/process?{query}"), &[]);
        assert_eq!(r.status, status, "{query}: {}", r.text());
        assert!(
            r.header("content-type").unwrap().starts_with("text/plain"),
            "{query}"
        );
        assert!(r.text().contains(says), "{query}: {}", r.text());
    }
    let r = get(srv.addr, "/voices", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("{VOICE} en_US unknown neural\n"));
    assert_eq!(get(srv.addr, "/locales", &[]).text(), "en_US\n");
    assert!(get(srv.addr, "/version", &[])
        .text()
        .starts_with("Mary TTS server 5.2"));
    // The door is anonymous: a wrong key is still refused (plain text).
    let r = get(
        srv.addr,
        "/process?INPUT_TEXT=Hi.",
        &[("Authorization", "Bearer wrong")],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "invalid API key\n");
}

#[test]
fn marytts_is_off_unless_configured() {
    let srv = start(config());
    for path in ["/process?INPUT_TEXT=Hi.", "/voices", "/locales", "/version"] {
        assert_eq!(get(srv.addr, path, &[]).status, 404, "{path}");
    }
}

#[test]
fn marytts_callers_share_the_anonymous_limits() {
    let mut c = mary_config();
    c.auth.requests_per_minute = 2;
    let srv = start(c);
    let q = "/process?INPUT_TEXT=Hi.";
    assert_eq!(get(srv.addr, q, &[]).status, 200);
    assert_eq!(get(srv.addr, q, &[]).status, 200);
    let r = get(srv.addr, q, &[]);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert!(r.text().contains("\"anonymous\""), "{}", r.text());
    // Keyed callers of the other endpoints are not charged for it.
    assert_eq!(
        speak(srv.addr, &json!({"input": "Hi.", "voice": VOICE})).status,
        200
    );
}

#[test]
fn no_door_logs_the_input_text() {
    let srv = start(mary_config());
    let secret = "Zanzibar quokka marmalade";
    let texts = [
        format!("{secret}."),
        format!("{secret} {}", "word ".repeat(2000)),
    ];
    for text in &texts {
        for body in [
            json!({"input": text, "voice": VOICE}),
            json!({"input": text, "voice": VOICE, "response_format": "opus", "stream_format": "sse"}),
            json!({"input": text, "voice": VOICE, "response_format": "flac"}),
        ] {
            let _ = send(
                srv.addr,
                "POST",
                "/v1/audio/speech",
                &[
                    ("Authorization", &bearer()),
                    ("Content-Type", "application/json"),
                ],
                body.to_string().as_bytes(),
            );
        }
        let form = serde_urlencoded::to_string([("text", text.as_str())]).unwrap();
        let _ = get(
            srv.addr,
            &format!("/api/tts?{form}"),
            &[("Authorization", &bearer())],
        );
        let form = serde_urlencoded::to_string([("INPUT_TEXT", text.as_str())]).unwrap();
        let _ = get(srv.addr, &format!("/process?{form}"), &[]);
        let _ = send(srv.addr, "POST", "/process", &[], form.as_bytes());
    }
    let logs = logs();
    assert!(logs.contains("marytts"), "the MaryTTS door logged nothing");
    for word in ["Zanzibar", "quokka", "marmalade"] {
        assert!(!logs.contains(word), "a log line holds the text");
    }
}
