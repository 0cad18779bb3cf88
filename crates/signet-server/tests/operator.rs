//! The server as the `signet` tool runs and reads it: the WAV it streams
//! carries the provenance `signet speak` writes (read back by
//! `signet inspect`), `speed` is per request, and `signet serve` takes its
//! limits from the `[limits]` table of `<home>/config.toml`, under its own
//! config and flags.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::json;

use crate::common::*;

fn signet(args: &[&str]) -> Output {
    let out = Command::new(signet_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run signet");
    assert!(
        out.status.success(),
        "signet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What `signet inspect` says about a file's provenance: its lines from
/// `provenance:` on (format and length differ between files).
fn inspected_provenance(file: &Path) -> Vec<String> {
    let out = signet(&["inspect", file.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("provenance:"))
        .map(str::to_owned)
        .collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.contains("synthetic speech")),
        "{text}"
    );
    lines
}

#[test]
fn wav_responses_carry_the_provenance_signet_speak_writes() {
    let srv = start(config());
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served.wav");
    let r = speak(srv.addr, &json!({"input": "Hello there.", "voice": VOICE}));
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(&served, &r.body).unwrap();
    let coqui = dir.path().join("coqui.wav");
    let auth = bearer();
    let r = get(
        srv.addr,
        "/api/tts?text=Hello%20there.",
        &[("Authorization", &auth)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(&coqui, &r.body).unwrap();

    let spoken = dir.path().join("spoken.wav");
    signet(&[
        "--home",
        home().to_str().unwrap(),
        "speak",
        "Hello there.",
        "-o",
        spoken.to_str().unwrap(),
    ]);
    // The label is the same; the signed credentials are only on files
    // `signet speak` writes whole (a server streams WAV and holds no signing
    // key), as SECURITY.md says.
    let label = |lines: Vec<String>| -> (Vec<String>, String) {
        let at = lines
            .iter()
            .position(|l| l.starts_with("credentials:"))
            .unwrap_or(lines.len());
        let credentials = lines.get(at).cloned().unwrap_or_default();
        (lines.into_iter().take(at).collect(), credentials)
    };
    let (expected, signed) = label(inspected_provenance(&spoken));
    assert!(expected.iter().any(|l| l.contains(VOICE)), "{expected:?}");
    assert!(signed.contains("valid, signed by key"), "{signed}");
    for file in [&served, &coqui] {
        let (provenance, credentials) = label(inspected_provenance(file));
        assert_eq!(provenance, expected);
        assert!(
            credentials.starts_with("credentials: none"),
            "{credentials}"
        );
    }

    // `pcm` is raw samples, documented as such: no header, no metadata.
    let pcm = speak(
        srv.addr,
        &json!({"input": "Hello there.", "voice": VOICE, "response_format": "pcm"}),
    );
    assert_eq!(pcm.status, 200);
    assert_eq!(pcm.header("content-type"), Some("audio/pcm"));
    assert_ne!(pcm.body.get(..4), Some(&b"RIFF"[..]));
}

#[test]
fn speed_changes_its_own_request_only() {
    let srv = start(config());
    let text = "Each request has its own pace. This one has two sentences.";
    let frames = |speed: Option<f32>| {
        let mut body = json!({"input": text, "voice": VOICE, "response_format": "pcm"});
        if let Some(s) = speed {
            body["speed"] = json!(s);
        }
        let r = speak(srv.addr, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.body.len() / 2
    };
    let before = frames(None);
    let fast = frames(Some(2.0));
    let after = frames(None);
    // Durations are sampled (the voice's noise), so compare with margins.
    assert!(fast * 10 < before * 7, "fast {fast} vs {before}");
    let ratio = after as f64 / before as f64;
    assert!((0.85..1.15).contains(&ratio), "{after} vs {before}");
}

/// A Signet home holding the test home's voices and trust store (hard
/// links, so reads that refuse symbolic links still work), with its own
/// `config.toml`.
fn home_with_config(config: &str) -> tempfile::TempDir {
    fn link_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                link_tree(&entry.path(), &target);
            } else if kind.is_symlink() {
                let dest = std::fs::read_link(entry.path()).unwrap();
                std::os::unix::fs::symlink(dest, &target).unwrap();
            } else if std::fs::hard_link(entry.path(), &target).is_err() {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    link_tree(home(), dir.path());
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    dir
}

/// `signet serve` on a free port with the test key; killed when dropped.
struct Served {
    addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Path, extra: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, format!("alice:{}\n", signet_server::hash_key(KEY))).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(signet_binary())
        .arg("--home")
        .arg(home)
        .args(["serve", "--bind", &addr.to_string(), "--voice", VOICE])
        .args(["--workers", "1", "--keys-file"])
        .arg(&keys)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start signet serve");
    let served = Served {
        addr,
        child,
        _dir: dir,
    };
    assert!(
        wait_until(60, || TcpStream::connect(addr).is_ok()
            && get(addr, "/readyz", &[]).status == 200),
        "signet serve on {addr} did not get ready"
    );
    served
}

/// The error of a refused request: (status, type, message).
fn refusal(addr: SocketAddr, text: &str) -> (u16, String, String) {
    let r = speak(addr, &json!({"input": text, "voice": VOICE}));
    if r.status == 200 {
        return (200, String::new(), String::new());
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    (
        r.status,
        v["error"]["type"].as_str().unwrap_or_default().to_owned(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn serve_reads_the_home_limits_and_its_own_config_and_flags_win() {
    let home = home_with_config("[limits]\nmax_chars = 10\n\n[other]\nkey = 1\n");
    // 44 characters; 16 characters.
    let long = "This sentence is longer than ten characters.";
    let medium = "Sixteen letters.";

    let srv = serve(home.path(), &[]);
    let (status, kind, message) = refusal(srv.addr, long);
    assert_eq!(
        (status, kind.as_str()),
        (400, "limit_exceeded"),
        "{message}"
    );
    assert!(message.contains("limits.max_chars"), "{message}");
    assert_eq!(refusal(srv.addr, "Hi.").0, 200);
    drop(srv);

    // The server's config file raises max_chars; a flag lowers the bytes.
    let config = home.path().join("server.toml");
    std::fs::write(&config, "[limits]\nmax_chars = 1000\n").unwrap();
    let srv = serve(
        home.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--max-input-bytes",
            "30",
        ],
    );
    assert_eq!(refusal(srv.addr, medium).0, 200);
    let (status, kind, message) = refusal(srv.addr, long);
    assert_eq!(
        (status, kind.as_str()),
        (400, "limit_exceeded"),
        "{message}"
    );
    assert!(message.contains("limits.max_input_bytes"), "{message}");

    // A bad table in the home is a clear error before the server starts.
    let bad = home_with_config("[limits]\nmax_charz = 5\n");
    let out = Command::new(signet_binary())
        .arg("--home")
        .arg(bad.path())
        .args(["serve", "--check", "--anonymous"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[limits]") && err.contains("max_charz"),
        "{err}"
    );
}

#[test]
fn serve_metrics_flag_sets_who_reads_metrics() {
    let home = home_with_config("");
    let auth = bearer();
    let key = [("Authorization", auth.as_str())];
    // Default: a valid key.
    let srv = serve(home.path(), &[]);
    assert_eq!(get(srv.addr, "/metrics", &[]).status, 401);
    assert_eq!(get(srv.addr, "/metrics", &key).status, 200);
    drop(srv);
    let srv = serve(home.path(), &["--metrics", "open"]);
    assert_eq!(get(srv.addr, "/metrics", &[]).status, 200);
    drop(srv);
    let srv = serve(home.path(), &["--metrics", "off"]);
    assert_eq!(get(srv.addr, "/metrics", &key).status, 404);
    assert_eq!(get(srv.addr, "/healthz", &[]).status, 200);
    drop(srv);
    // `--check` shows the resolved setting; a wrong value names the right ones.
    let h = home.path().to_str().unwrap();
    let out = signet(&[
        "--home",
        h,
        "serve",
        "--check",
        "--anonymous",
        "--metrics",
        "off",
        "--trusted-proxy",
        "10.0.0.1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("metrics                    = off"), "{text}");
    assert!(
        text.contains("trusted_proxies            = 10.0.0.1"),
        "{text}"
    );
    let out = Command::new(signet_binary())
        .args(["--home", h, "serve", "--check", "--metrics", "public"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`open`, `key`, `off`"), "{err}");
}
