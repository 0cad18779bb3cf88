//! The Wyoming door: driven by the `wyoming` package's own async TCP client
//! (`wyoming_client.py`, run with the venv's Python, as Home Assistant
//! drives it), and by raw events for the abusive clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use signet_server::{Config, RemoteAccess, Server, WyomingConfig, WyomingUri};

use crate::common::*;

/// Three sentences of about the same length.
const THREE: &str = "The kitchen lights are on now. The front door is locked for the night. \
                     Tomorrow will be sunny and warm.";

fn wy_config() -> Config {
    let mut c = config();
    let mut w = WyomingConfig::default();
    w.uri = "tcp://127.0.0.1:0".parse().unwrap();
    c.wyoming = Some(w);
    c
}

fn wy_addr(srv: &TestServer) -> SocketAddr {
    match srv.wyoming.as_ref().expect("the Wyoming door is open") {
        WyomingUri::Tcp(a) => *a,
        WyomingUri::Unix(_) => unreachable!("a TCP door"),
    }
}

fn python() -> PathBuf {
    let p = std::env::var_os("SIGNET_TEST_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask setup` (it installs the wyoming client)",
        p.display()
    );
    p
}

fn client_command(addr: SocketAddr, command: &str, args: &Value) -> Command {
    let mut c = Command::new(python());
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wyoming_client.py"))
        .args([
            command,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &args.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the wyoming client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs the real client once.
fn client(addr: SocketAddr, command: &str, args: &Value) -> Value {
    finish(client_command(addr, command, args).spawn().unwrap())
}

/// The library's own audio for `text`, in samples.
fn library_samples(text: &str) -> usize {
    let synth = signet::Synthesizer::builder()
        .home(home())
        .voice(VOICE)
        .limits(signet_server::default_limits())
        .build()
        .unwrap();
    synth.speak(text).unwrap().audio.samples().len()
}

fn assert_near(got: f64, want: f64, what: &str) {
    // Voices speak with random noise on (as the server does): durations vary
    // a little, a missing or repeated sentence is a third off.
    assert!(
        (got - want).abs() <= 0.15 * want,
        "{what}: {got} samples, the library made {want}"
    );
}

/// A raw Wyoming connection for the abusive cases.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Self { s, buf: Vec::new() }
    }

    fn send(&mut self, kind: &str, data: Value) {
        let data = match data {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        self.write(&signet_wyoming::encode(kind, &data, &[]));
    }

    fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// The next event, or `None` once the server has closed the connection.
    fn read(&mut self) -> Option<signet_wyoming::Event> {
        let caps = signet_wyoming::Caps {
            max_payload_bytes: 1 << 20,
            ..signet_wyoming::Caps::default()
        };
        loop {
            if let Some((e, used)) = signet_wyoming::decode(&self.buf, &caps).unwrap() {
                self.buf.drain(..used);
                return Some(e);
            }
            let mut chunk = [0u8; 8192];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads until an `error` event; returns its code, and checks the
    /// connection is closed after it.
    fn error_code(&mut self) -> String {
        loop {
            let e = self.read().expect("an error event before the close");
            if e.kind == "error" {
                let code = e.data["code"].as_str().unwrap().to_owned();
                assert!(
                    self.read().is_none(),
                    "the connection stays open after {code}"
                );
                return code;
            }
        }
    }
}

#[test]
fn wyoming_describe_lists_signet_its_voices_and_streaming() {
    let srv = start(wy_config());
    let info = client(wy_addr(&srv), "describe", &json!({}));
    let tts = &info["tts"][0];
    assert_eq!(tts["name"], "signet");
    assert_eq!(tts["installed"], true);
    assert_eq!(tts["supports_synthesize_streaming"], true);
    assert_eq!(tts["version"], env!("CARGO_PKG_VERSION"));
    let voice = &tts["voices"][0];
    assert_eq!(voice["name"], VOICE);
    assert_eq!(voice["languages"][0], "en_US");
    assert_eq!(info["asr"], json!([]));
}

#[test]
fn wyoming_plain_and_streaming_audio_has_the_length_the_library_makes() {
    let srv = start(wy_config());
    let addr = wy_addr(&srv);
    let want = library_samples(THREE) as f64;

    let plain = client(
        addr,
        "synthesize",
        &json!({"text": THREE, "voice": {"name": VOICE}}),
    );
    assert_eq!(plain["error"], Value::Null, "{plain}");
    assert_eq!(plain["rate"], 22_050);
    assert_eq!(plain["width"], 2);
    assert_eq!(plain["channels"], 1);
    let events: Vec<&str> = plain["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"audio-start"));
    assert_eq!(events.last(), Some(&"audio-stop"));
    assert!(events.iter().filter(|e| **e == "audio-chunk").count() >= 3);
    assert_near(plain["samples"].as_f64().unwrap(), want, "synthesize");

    // The same text streamed in pieces that cut words and sentences, with a
    // language instead of a voice name.
    let chunks = [
        "The kitchen lights are ",
        "on now. The front do",
        "or is locked for the night. ",
        "Tomorrow will be sunny and warm.",
    ];
    let streamed = client(
        addr,
        "stream",
        &json!({"chunks": chunks, "voice": {"language": "en-US"}}),
    );
    assert_eq!(streamed["error"], Value::Null, "{streamed}");
    let events: Vec<&str> = streamed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    // One audio stream, then the stream's end; the compatibility
    // `synthesize` inside the stream is not spoken a second time.
    assert_eq!(events.first(), Some(&"audio-start"));
    assert_eq!(
        &events[events.len() - 2..],
        &["audio-stop", "synthesize-stopped"]
    );
    assert_eq!(events.iter().filter(|e| **e == "audio-start").count(), 1);
    assert_near(streamed["samples"].as_f64().unwrap(), want, "stream");
}

#[test]
fn wyoming_streaming_speaks_the_first_sentence_while_text_still_arrives() {
    let srv = start(wy_config());
    let r = client(
        wy_addr(&srv),
        "stream",
        &json!({
            "chunks": ["Hello there. ", "How", " are you", " today?"],
            "chunk_delay_s": 2.0,
        }),
    );
    assert_eq!(r["error"], Value::Null, "{r}");
    let first = r["first_audio_s"].as_f64().unwrap();
    let all_sent = r["all_sent_s"].as_f64().unwrap();
    assert!(
        first < all_sent,
        "first audio after {first} s, but the text was complete only after {all_sent} s"
    );
}

#[test]
fn wyoming_second_client_is_served_while_the_first_streams() {
    let mut c = wy_config();
    c.workers = Some(2);
    let srv = start(c);
    let addr = wy_addr(&srv);
    let mut first = client_command(
        addr,
        "stream",
        &json!({
            "chunks": ["The first client speaks slowly. ", "It sends its text ", "in pieces, ",
                       "one every two seconds."],
            "chunk_delay_s": 2.0,
        }),
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    let info = client(addr, "describe", &json!({}));
    assert_eq!(info["tts"][0]["name"], "signet");
    let second = client(addr, "synthesize", &json!({"text": "Hi."}));
    assert_eq!(second["error"], Value::Null, "{second}");
    assert!(second["samples"].as_u64().unwrap() > 0);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first client finished before the second was served ({:?})",
        t.elapsed()
    );
    let first = finish(first);
    assert_eq!(first["error"], Value::Null, "{first}");
    assert_eq!(
        first["events"].as_array().unwrap().last().unwrap(),
        "synthesize-stopped"
    );
}

#[test]
fn wyoming_malformed_and_oversized_events_are_refused_without_harming_others() {
    let srv = start(wy_config());
    let addr = wy_addr(&srv);
    // A client that stays connected through all of it.
    let mut bystander = Raw::connect(addr);
    bystander.send("ping", json!({"text": "before"}));
    assert_eq!(bystander.read().unwrap().kind, "pong");

    // A header with no line end, longer than the cap.
    let mut c = Raw::connect(addr);
    c.write(&vec![b'{'; 20 * 1024]);
    assert_eq!(c.error_code(), "header_too_long");
    // Lengths over the caps are refused before their bytes are sent.
    let mut c = Raw::connect(addr);
    c.write(b"{\"type\":\"synthesize\",\"data_length\":1000000000000}\n");
    assert_eq!(c.error_code(), "data_too_long");
    let mut c = Raw::connect(addr);
    c.write(b"{\"type\":\"audio-chunk\",\"payload_length\":18446744073709551615}\n");
    assert_eq!(c.error_code(), "payload_too_long");
    // Garbage and wrong types.
    let mut c = Raw::connect(addr);
    c.write(b"\x00\xff garbage }{\n");
    assert_eq!(c.error_code(), "invalid_header");
    let mut c = Raw::connect(addr);
    c.write(b"{\"type\":\"synthesize\",\"data_length\":9}\n{\"text\":1");
    assert_eq!(c.error_code(), "invalid_data");
    let mut c = Raw::connect(addr);
    c.send("synthesize", json!({"text": ["not", "a", "string"]}));
    assert_eq!(c.error_code(), "invalid_field");
    // Out of sequence, unknown voices and speakers.
    let mut c = Raw::connect(addr);
    c.send("synthesize-chunk", json!({"text": "Hi."}));
    assert_eq!(c.error_code(), "invalid_sequence");
    let mut c = Raw::connect(addr);
    c.send(
        "synthesize",
        json!({"text": "Hi.", "voice": {"name": "../../etc/passwd"}}),
    );
    assert_eq!(c.error_code(), "unknown_voice");
    let mut c = Raw::connect(addr);
    c.send(
        "synthesize",
        json!({"text": "Hi.", "voice": {"name": VOICE, "speaker": "x"}}),
    );
    assert_eq!(c.error_code(), "unknown_speaker");
    // Text over the server's limit: the library's check, as over HTTP.
    let mut c = Raw::connect(addr);
    c.send("synthesize", json!({"text": "word ".repeat(2000)}));
    assert_eq!(c.error_code(), "limit_exceeded");
    // Unknown events are dropped, as the protocol expects; the connection
    // goes on.
    let mut c = Raw::connect(addr);
    c.send("select-program", json!({"name": "signet"}));
    c.send("frobnicate", json!({"anything": [1, 2, 3]}));
    c.send("describe", json!({}));
    assert_eq!(c.read().unwrap().kind, "info");

    bystander.send("ping", json!({"text": "after"}));
    let pong = bystander.read().unwrap();
    assert_eq!(
        (pong.kind.as_str(), &pong.data["text"]),
        ("pong", &json!("after"))
    );
    let m = srv.metrics();
    assert!(metric_value(&m, "signet_rejections_total{reason=\"header_too_long\"}") >= 1.0);
    assert!(metric_value(&m, "signet_rejections_total{reason=\"payload_too_long\"}") >= 1.0);
}

#[test]
fn wyoming_client_that_never_reads_is_dropped_and_others_are_served() {
    let mut c = wy_config();
    c.send_timeout_secs = 1;
    c.socket_send_buffer_bytes = 4096;
    c.workers = Some(2);
    // The others' requests wait while the stuck one holds the Wyoming door's worker.
    c.queue_timeout_ms = 120_000;
    let srv = start(c);
    let addr = wy_addr(&srv);
    // A small receive buffer, and never a read.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut stuck: TcpStream = sock.into();
    let text = format!("{THREE} {THREE} {THREE}");
    let data = json!({ "text": text });
    stuck
        .write_all(&signet_wyoming::encode(
            "synthesize",
            data.as_object().unwrap(),
            &[],
        ))
        .unwrap();
    // Others are served meanwhile.
    let r = client(addr, "synthesize", &json!({"text": "Still here."}));
    assert_eq!(r["error"], Value::Null, "{r}");
    assert!(
        wait_until(120, || srv
            .metric("signet_rejections_total{reason=\"slow_client\"}")
            >= 1.0),
        "the client that never reads was not dropped"
    );
    let r = client(addr, "synthesize", &json!({"text": "And after."}));
    assert_eq!(r["error"], Value::Null, "{r}");
    drop(stuck);
}

#[test]
fn wyoming_door_never_logs_the_text() {
    let srv = start(wy_config());
    let addr = wy_addr(&srv);
    let secret = "Quokkas whisper marzipan";
    let r = client(addr, "synthesize", &json!({"text": format!("{secret}.")}));
    assert_eq!(r["error"], Value::Null, "{r}");
    let r = client(
        addr,
        "stream",
        &json!({"chunks": [format!("{secret} twice. "), "Done."]}),
    );
    assert_eq!(r["error"], Value::Null, "{r}");
    // Refusals must not quote what they refuse either.
    let mut c = Raw::connect(addr);
    c.write(format!("{{\"type\":\"synthesize\",\"{secret}\":1}}\n").as_bytes());
    assert_eq!(c.error_code(), "invalid_header");
    let mut c = Raw::connect(addr);
    c.send("synthesize", json!({"text": secret, "voice": {"name": 5}}));
    assert_eq!(c.error_code(), "invalid_field");
    let mut c = Raw::connect(addr);
    c.send(
        "synthesize",
        json!({"text": format!("{secret} ").repeat(300)}),
    );
    assert_eq!(c.error_code(), "limit_exceeded");
    drop(srv);
    let logs = logs();
    assert!(
        logs.contains("wyoming connection closed"),
        "no Wyoming log lines"
    );
    assert!(!logs.contains("Quokkas"), "the text reached the log");
    assert!(!logs.contains("marzipan"), "the text reached the log");
}

#[test]
fn wyoming_refuses_a_remote_bind_without_the_flag() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut c = wy_config();
    if let Some(w) = c.wyoming.as_mut() {
        w.uri = "tcp://0.0.0.0:0".parse().unwrap();
    }
    let e = rt
        .block_on(Server::bind(c.clone()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("wyoming.uri"), "{e}");
    assert!(e.contains("no authentication"), "{e}");
    assert!(e.contains("--allow-remote"), "{e}");
    // Allowed explicitly, it binds.
    if let Some(w) = c.wyoming.as_mut() {
        w.remote = RemoteAccess::Allowed;
    }
    c.voices = vec![VOICE.to_owned()];
    let srv = start(c);
    assert!(matches!(srv.wyoming, Some(WyomingUri::Tcp(a)) if a.ip().is_unspecified()));
}

#[test]
fn wyoming_door_alone_needs_no_keys_and_listens_on_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.sock");
    let mut c = config();
    c.http = signet_server::HttpDoor::Off;
    let mut w = WyomingConfig::default();
    w.uri = WyomingUri::Unix(path.clone());
    c.wyoming = Some(w);
    // An empty key file, which HTTP would refuse to start with: Wyoming has
    // no keys, and HTTP is off.
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "").unwrap();
    c.auth.keys_file = Some(keys);
    let srv = start(c);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is owner-only");
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&signet_wyoming::encode(
        "describe",
        &serde_json::Map::new(),
        &[],
    ))
    .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let event = loop {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before info");
        buf.extend_from_slice(&chunk[..n]);
        if let Some((e, _)) =
            signet_wyoming::decode(&buf, &signet_wyoming::Caps::default()).unwrap()
        {
            break e;
        }
    };
    assert_eq!(event.kind, "info");
    drop(srv);
    assert!(!path.exists(), "the socket file is removed on shutdown");
}

/// The library's samples for `text` in `voice` of `home`, with a speaker and language.
fn coqui_library_samples(
    home: &Path,
    voice: &str,
    speaker: Option<&str>,
    language: Option<&str>,
    text: &str,
) -> usize {
    let mut b = signet::Synthesizer::builder().home(home).voice(voice);
    if let Some(s) = speaker {
        b = b.speaker_name(s);
    }
    if let Some(l) = language {
        b = b.language_name(l);
    }
    b.build()
        .unwrap()
        .speak(text)
        .unwrap()
        .audio
        .samples()
        .len()
}

/// A multi-speaker voice lists its speakers in `describe`, and `voice.speaker` picks one, as
/// Home Assistant sends it: the audio is that speaker's (its length, with the noise off, is
/// the library's for the same speaker); a speaker the voice lacks is refused by code. A
/// multilingual voice lists its languages, and a request by language alone gets it, speaking
/// that language.
#[test]
fn wyoming_lists_a_voices_speakers_and_speaks_the_one_chosen() {
    let home = coqui_home(&[("vctk", "vits_vctk_tiny"), ("yourtts", "vits_yourtts_tiny")]);
    let mut c = wy_config();
    c.home = Some(home.path().to_owned());
    c.voices = vec!["vctk".into(), "yourtts".into()];
    let srv = start(c);
    let addr = wy_addr(&srv);
    let info = client(addr, "describe", &json!({}));
    let voice = &info["tts"][0]["voices"][0];
    assert_eq!(voice["name"], "vctk");
    let yourtts = &info["tts"][0]["voices"][1];
    assert_eq!(yourtts["languages"], json!(["en", "fr-fr", "pt-br"]));
    let speakers: Vec<&str> = voice["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(speakers, ["VCTK_p225", "VCTK_p226", "VCTK_p227"]);
    let text = "Hello there, my friend.";
    let mut lengths = Vec::new();
    for speaker in ["VCTK_p225", "VCTK_p227"] {
        let got = client(
            addr,
            "synthesize",
            &json!({"text": text, "voice": {"name": "vctk", "speaker": speaker}}),
        );
        assert_eq!(got["error"], Value::Null, "{speaker}: {got}");
        let library = coqui_library_samples(home.path(), "vctk", Some(speaker), None, text);
        assert_eq!(got["samples"].as_u64(), Some(library as u64), "{speaker}");
        lengths.push(library);
    }
    assert_ne!(lengths[0], lengths[1], "the two speakers' durations differ");
    let got = client(
        addr,
        "synthesize",
        &json!({"text": text, "voice": {"name": "vctk", "speaker": "VCTK_p999"}}),
    );
    assert_eq!(got["error"], "unknown_speaker");
    // By language alone, as the client sends it: the voice that speaks it, in that language
    // (the region ignored where the voice's tag has none).
    let mut lengths = Vec::new();
    for (asked, language) in [("fr_FR", "fr-fr"), ("pt-BR", "pt-br")] {
        let got = client(
            addr,
            "synthesize",
            &json!({"text": text, "voice": {"language": asked}}),
        );
        let library = coqui_library_samples(home.path(), "yourtts", None, Some(language), text);
        assert_eq!(
            got["samples"].as_u64(),
            Some(library as u64),
            "{asked}: {got}"
        );
        lengths.push(library);
    }
    let english = coqui_library_samples(home.path(), "yourtts", None, Some("en"), text);
    assert!(
        lengths.iter().all(|&l| l != english),
        "each language's durations differ from English's: {lengths:?} vs {english}"
    );
    srv.stop();
}
