//! Shared fixtures: a Signet home with the default voice, a server on a
//! free loopback port, a raw HTTP client and a log capture.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use signet_server::{Config, Server};

pub const VOICE: &str = "en_US-joe-medium";
/// The key every test server accepts, as `alice`.
pub const KEY: &str = "test-key-alice-0123456789";
/// A second key every test server accepts, as `bob`.
pub const KEY_BOB: &str = "test-key-bob-9876543210";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Signet home with the default voice imported (through the same importer
/// `signet voices import piper` uses), signed by a key the home trusts, and
/// the espeak-ng runtime linked in.
pub fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let voice_dir = std::env::var_os("SIGNET_TEST_VOICE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".cache/voices").join(VOICE));
        let onnx = voice_dir.join(format!("{VOICE}.onnx"));
        assert!(
            onnx.is_file(),
            "{} is missing: run `cargo xtask setup`",
            onnx.display()
        );
        let espeak = std::env::var_os("SIGNET_ESPEAK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".cache/espeak-ng"));
        assert!(
            espeak.join("espeakbridge.so").is_file(),
            "{} has no espeak-ng runtime: run `cargo xtask setup`",
            espeak.display()
        );
        let home = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::symlink(&espeak, home.path().join("espeak-ng")).expect("link");
        let store = signet::Store::new(home.path());
        std::fs::create_dir_all(store.voices_dir()).expect("voices dir");
        // Signed by a key of this home, which the home's trust store trusts.
        let key = signet_registry::SecretKey::generate().expect("importer key");
        signet_registry::TrustStore::with_key(key.public(), signet_registry::Role::BundleSigner)
            .save(&home.path().join(signet::store::TRUST_FILE))
            .expect("trust store");
        signet_piper::import_piper(
            &onnx,
            None,
            &store.voice_dir(&signet::store::VoiceName::new(VOICE).unwrap()),
            Some(VOICE),
            &key,
        )
        .expect("import the default voice");
        home
    })
    .path()
}

/// Log lines written by the server during the whole test run.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .try_init();
    });
}

/// A running server; stopped (gracefully) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The Wyoming door's address, when it is open.
    pub wyoming: Option<signet_server::WyomingUri>,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    _keys: tempfile::TempDir,
}

/// A config for tests: loopback, port 0, one worker, one key, short texts.
pub fn config() -> Config {
    let mut c = Config::default();
    c.bind = "127.0.0.1:0".parse().unwrap();
    c.home = Some(home().to_owned());
    c.voices = vec![VOICE.to_owned()];
    c.workers = Some(1);
    c.auth.keys_env = String::new();
    c
}

pub fn start(config: Config) -> TestServer {
    capture_logs();
    let keys = tempfile::tempdir().unwrap();
    let mut config = config;
    if config.auth.keys_file.is_none() {
        let f = keys.path().join("keys");
        std::fs::write(
            &f,
            format!(
                "# test keys\nalice:{}\nbob:{}\n",
                signet_server::hash_key(KEY),
                signet_server::hash_key(KEY_BOB)
            ),
        )
        .unwrap();
        config.auth.keys_file = Some(f);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(Server::bind(config))
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    // With the HTTP door off there is no HTTP address.
    let addr = server
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let wyoming = server.wyoming_uri().cloned();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = rt.spawn(async move {
        server
            .serve(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    TestServer {
        addr,
        wyoming,
        rt: Some(rt),
        stop: Some(tx),
        done: Some(done),
        _keys: keys,
    }
}

impl TestServer {
    /// Graceful stop; returns once in-flight requests are done.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let (Some(rt), Some(stop), Some(done)) =
            (self.rt.take(), self.stop.take(), self.done.take())
        {
            let _ = stop.send(());
            rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(60), done).await;
            });
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }

    pub fn metrics(&self) -> String {
        let auth = bearer();
        let r = get(self.addr, "/metrics", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200);
        r.text()
    }

    /// Value of one metric line (exact name with labels), 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        metric_value(&self.metrics(), name)
    }
}

pub fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// A response, body de-chunked.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// False when a chunked body was cut short (the server stopped it).
    pub complete: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s
}

/// A connection from another loopback address (`127.0.0.2`...), so that
/// tests can play several clients.
pub fn connect_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&local.into())?;
    sock.connect(&addr.into())?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    Ok(s)
}

/// One request from `from`, answered in full.
pub fn send_from(
    from: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = connect_from(from, addr).unwrap();
    s.write_all(&request_bytes(method, path, headers, body))
        .unwrap();
    read_response(&mut s)
}

/// Raw request bytes.
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut out = r.into_bytes();
    out.extend_from_slice(body);
    out
}

pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = connect(addr);
    s.write_all(&request_bytes(method, path, headers, body))
        .unwrap();
    read_response(&mut s)
}

pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    send(addr, "GET", path, headers, b"")
}

pub fn bearer() -> String {
    format!("Bearer {KEY}")
}

/// `POST /v1/audio/speech` with the test key.
pub fn speak(addr: SocketAddr, body: &serde_json::Value) -> Resp {
    speak_as(addr, KEY, body)
}

/// `POST /v1/audio/speech` with `key`.
///
/// A body without `response_format` asks for WAV here: these tests were
/// written when WAV was the endpoint's default and read the answers as WAV.
/// OpenAI's default (MP3, when the field is absent) is tested with raw
/// bodies and the `openai` client (`formats.rs`).
pub fn speak_as(addr: SocketAddr, key: &str, body: &serde_json::Value) -> Resp {
    let auth = format!("Bearer {key}");
    let mut body = body.clone();
    if let Some(fields) = body.as_object_mut() {
        fields
            .entry("response_format")
            .or_insert_with(|| serde_json::json!("wav"));
    }
    send(
        addr,
        "POST",
        "/v1/audio/speech",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

/// Reads status line and headers, leaving the body in the stream.
pub fn read_head(s: &mut TcpStream) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let rest = buf[end + 4..].to_vec();
            let mut lines = head.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("bad status line in {head:?}"));
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            return (status, headers, rest);
        }
        let n = s.read(&mut byte).unwrap();
        assert!(n > 0, "connection closed before the response headers");
        buf.extend_from_slice(&byte[..n]);
    }
}

pub fn read_response(s: &mut TcpStream) -> Resp {
    let (status, headers, mut rest) = read_head(s);
    let _ = s.read_to_end(&mut rest);
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let (body, complete) = if chunked {
        match try_dechunk(&rest) {
            Some(b) => (b, true),
            None => (Vec::new(), false),
        }
    } else {
        (rest, true)
    };
    Resp {
        status,
        complete,
        headers,
        body,
    }
}

/// Decodes a chunked body; panics if it is cut short (a stream that ended
/// with an error).
pub fn dechunk(b: &[u8]) -> Vec<u8> {
    try_dechunk(b).expect("chunked body cut short")
}

/// Decodes a chunked body; `None` if it is cut short.
pub fn try_dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&b[..line_end]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Polls until `f` is true or `secs` pass.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A text of `n` short sentences.
pub fn sentences(n: usize) -> String {
    (1..=n)
        .map(|i| format!("This is sentence number {i}. "))
        .collect()
}

/// Frames of a WAV response (a stream of unknown size), read as
/// `signet inspect` reads it.
pub fn wav_frames(body: &[u8]) -> usize {
    let info = signet::WavInfo::read(body, &signet::WavLimits::default())
        .unwrap_or_else(|e| panic!("the WAV response is refused: {e}"));
    usize::try_from(info.frames).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `signet` binary next to this test's own folder
/// (`target/<profile>/deps/…` → `target/<profile>/signet`).
pub fn signet_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("signet"));
    match bin {
        Some(bin) if bin.is_file() => bin,
        _ => panic!(
            "the `signet` binary is not built next to {}: run `cargo build -p signet-cli` \
             first (`cargo xtask test` does)",
            exe.display()
        ),
    }
}

/// The project's venv Python (setup installs the pinned fixture tools and
/// API clients there).
pub fn python() -> PathBuf {
    let p = repo_root().join(".venv/bin/python");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo xtask setup`",
        p.display()
    );
    p
}

/// Runs a Python script with arguments; its stdout as JSON.
pub fn run_python(script: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Decodes audio bytes with ffmpeg (Debian package, installed by setup) to
/// 16-bit mono at `rate`; returns the samples.
pub fn ffmpeg_samples(bytes: &[u8], rate: u32) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, bytes).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&input)
        .args(["-f", "s16le", "-ac", "1", "-ar", &rate.to_string(), "-"])
        .output()
        .expect("ffmpeg: run `cargo xtask setup`");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() / 2
}

/// The format ffprobe finds in audio bytes, and its tags, as JSON text.
pub fn ffprobe(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=format_name:format_tags:stream_tags",
            "-of",
            "json",
        ])
        .arg(&input)
        .output()
        .expect("ffprobe: run `cargo xtask setup`");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Signet home serving signet-coqui's VITS fixtures, each `(voice name, fixture stem)`,
/// imported through the same importer `signet voices import coqui` uses, with the config's
/// inference noise set to 0 so that the voices speak repeatably, their side files (speakers,
/// d-vectors, language ids) given beside them, and the espeak-ng runtime linked in.
pub fn coqui_home(voices: &[(&str, &str)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let espeak = std::env::var_os("SIGNET_ESPEAK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/espeak-ng"));
    std::os::unix::fs::symlink(&espeak, home.path().join("espeak-ng")).unwrap();
    let store = signet::Store::new(home.path());
    std::fs::create_dir_all(store.voices_dir()).unwrap();
    let key = signet_registry::SecretKey::generate().unwrap();
    signet_registry::TrustStore::with_key(key.public(), signet_registry::Role::BundleSigner)
        .save(&home.path().join(signet::store::TRUST_FILE))
        .unwrap();
    let data = repo_root().join("crates/signet-coqui/tests/data");
    let side = |name: String| Some(data.join(name)).filter(|p| p.is_file());
    for (name, stem) in voices {
        // Coqui writes Python's `Infinity` for two unbounded lengths.
        let text = std::fs::read_to_string(data.join(format!("{stem}.json")))
            .unwrap()
            .replace("Infinity", "null");
        let mut cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
        cfg["model_args"]["inference_noise_scale"] = 0.0.into();
        cfg["model_args"]["inference_noise_scale_dp"] = 0.0.into();
        let config = home.path().join(format!("{stem}.json"));
        std::fs::write(&config, serde_json::to_vec(&cfg).unwrap()).unwrap();
        let mut options = signet_coqui::ImportOptions::default();
        options.name = Some((*name).to_owned());
        options.speakers_file = side(format!("{stem}.speakers.pth"));
        options.d_vector_file = side(format!("{stem}.dvectors.pth"));
        options.language_ids_file = side(format!("{stem}.language_ids.json"));
        signet_coqui::import_coqui(
            &data.join(format!("{stem}.pth")),
            &config,
            &store.voice_dir(&signet::store::VoiceName::new(name).unwrap()),
            &options,
            &key,
        )
        .unwrap_or_else(|e| panic!("import the Coqui fixture {stem}: {e}"));
    }
    home
}
