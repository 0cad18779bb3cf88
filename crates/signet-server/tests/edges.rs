//! The edges an attacker or an odd client finds: one key flooding the
//! workers, refusals made before any endpoint, half-closed clients, browser
//! form posts, `/metrics` access, OpenAI's voice names, one address holding
//! every connection, guessed keys, and forwarded addresses.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// The JSON error of a refusal: (type, message); panics on any other body.
fn json_error(r: &Resp) -> (String, String) {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "status {}: {:?}",
        r.status,
        r.text()
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("status {}: not JSON ({e}): {:?}", r.status, r.text()));
    assert_eq!(v["error"]["code"], r.status, "{v}");
    (
        v["error"]["type"].as_str().unwrap().to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

/// Sends raw bytes on a fresh connection and reads the whole answer.
fn raw(srv: &TestServer, bytes: &[u8]) -> Resp {
    let mut s = connect(srv.addr);
    s.write_all(bytes).unwrap();
    read_response(&mut s)
}

#[test]
fn one_key_flooding_the_workers_does_not_starve_another_key() {
    // Two workers: the flooding key may hold one of them at most, and the
    // queue serves keys in turn, so the other key's small requests start as
    // soon as its own turn comes. The bound documented for the second key:
    // each small request is answered within SMALL_BOUND, however heavy the
    // flood (before, the flood held both workers and its queued requests
    // came first: the small requests waited for whole flood requests, or
    // got 503 after `queue_timeout_ms`).
    const SMALL_BOUND: Duration = Duration::from_secs(6);
    let mut c = config();
    c.workers = Some(2);
    c.auth.max_concurrent = 4;
    c.auth.requests_per_minute = 10_000;
    c.auth.audio_seconds_per_minute = 1_000_000;
    c.limits.max_output_seconds = 120.0;
    c.request_timeout_secs = 600;
    let srv = start(c);
    let addr = srv.addr;
    // The heaviest request the server accepts: at a quarter speed, text up
    // to the output cap's estimate.
    // (About 80 s of audio each; a worker takes many seconds over one.)
    let heavy =
        json!({"input": sentences(12), "voice": VOICE, "speed": 0.25, "response_format": "pcm"});

    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..6)
        .map(|_| {
            let (stop, heavy) = (Arc::clone(&stop), heavy.clone());
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let auth = bearer();
                    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                        break;
                    };
                    s.set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    let bytes = request_bytes(
                        "POST",
                        "/v1/audio/speech",
                        &[
                            ("Authorization", &auth),
                            ("Content-Type", "application/json"),
                        ],
                        heavy.to_string().as_bytes(),
                    );
                    if s.write_all(&bytes).is_err() {
                        break;
                    }
                    // Read until the flood is called off, then hang up.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 65536];
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match s.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                if head.len() < 16 {
                                    head.extend_from_slice(&buf[..n.min(16)]);
                                }
                            }
                            Err(_) => {}
                        }
                    }
                    outcomes
                        .push(String::from_utf8_lossy(&head[..head.len().min(12)]).into_owned());
                    if outcomes.last().is_some_and(|o| o.contains("429")) {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
                outcomes
            })
        })
        .collect();
    // The flood holds its worker.
    assert!(
        wait_until(30, || srv.metric("signet_workers_busy") >= 1.0),
        "{}",
        srv.metrics()
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut latencies = Vec::new();
    for _ in 0..8 {
        let t0 = Instant::now();
        let r = speak_as(
            addr,
            KEY_BOB,
            &json!({"input": "Hi there.", "voice": VOICE}),
        );
        let took = t0.elapsed();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.complete);
        latencies.push(took);
        std::thread::sleep(Duration::from_millis(300));
    }
    let busy = srv.metric("signet_workers_busy");
    stop.store(true, Ordering::Relaxed);
    let outcomes: Vec<String> = flooders
        .into_iter()
        .flat_map(|f| f.join().unwrap())
        .collect();
    let ms: Vec<u128> = latencies.iter().map(Duration::as_millis).collect();
    let (ok, limited) = (
        outcomes.iter().filter(|o| o.contains("200")).count(),
        outcomes.iter().filter(|o| o.contains("429")).count(),
    );
    println!(
        "second key's latencies while the first floods (ms): {ms:?}; flood answers: {ok} x 200 \
         (synthesizing), {limited} x 429 (over the key's in-flight cap)"
    );
    assert!(
        ok >= 1,
        "the flood's requests were not accepted: {outcomes:?}"
    );
    assert!(
        busy >= 1.0,
        "the flood stopped before the small requests ended"
    );
    assert!(
        latencies.iter().all(|l| *l < SMALL_BOUND),
        "small requests waited for the flood: {ms:?} ms"
    );
}

#[test]
fn a_request_over_the_output_cap_is_refused_before_synthesis() {
    let mut c = config();
    c.limits.max_output_seconds = 5.0;
    let srv = start(c);
    let r = speak(srv.addr, &json!({"input": sentences(8), "voice": VOICE}));
    assert_eq!(r.status, 400, "{}", r.text());
    let (kind, message) = json_error(&r);
    assert_eq!(kind, "limit_exceeded");
    assert!(
        message.contains("limits.max_output_seconds") && message.contains("about"),
        "{message}"
    );
    // Nothing was synthesized for it.
    assert_eq!(srv.metric("signet_sentences_total"), 0.0);
    // At a faster speed the same text fits.
    let r = speak(
        srv.addr,
        &json!({"input": sentences(2), "voice": VOICE, "speed": 2.0}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn the_audio_allowance_is_weighed_before_synthesis() {
    let mut c = config();
    c.auth.audio_seconds_per_minute = 12;
    let srv = start(c);
    // About 7 s of audio: fits the allowance once, not twice.
    let text = sentences(4);
    let r = speak(srv.addr, &json!({"input": text, "voice": VOICE}));
    assert_eq!(r.status, 200, "{}", r.text());
    let made = srv.metric("signet_sentences_total");
    let r = speak(srv.addr, &json!({"input": text, "voice": VOICE}));
    assert_eq!(r.status, 429, "{}", r.text());
    let (kind, message) = json_error(&r);
    assert_eq!(kind, "rate_limit_audio");
    assert!(message.contains("audio_seconds_per_minute"), "{message}");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Refused before any sentence was made (before, it was synthesized in
    // full and charged afterwards).
    assert_eq!(srv.metric("signet_sentences_total"), made);
    // Another key has its own allowance.
    let r = speak_as(srv.addr, KEY_BOB, &json!({"input": "Hi.", "voice": VOICE}));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn every_refusal_is_the_json_error_shape() {
    let srv = start(config());
    let auth = bearer();
    // Malformed request lines and headers: hyper's own 400.
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    ] {
        let r = raw(&srv, bad);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert_eq!(json_error(&r).0, "bad_request");
    }
    // Methods an endpoint does not take.
    for (method, path) in [
        ("DELETE", "/v1/audio/speech"),
        ("GET", "/v1/audio/speech"),
        ("PUT", "/api/tts"),
        ("POST", "/v1/voices"),
        ("POST", "/healthz"),
        ("DELETE", "/metrics"),
    ] {
        let r = send(srv.addr, method, path, &[("Authorization", &auth)], b"");
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
        assert_eq!(json_error(&r).0, "method_not_allowed");
    }
    // A URI past the cap.
    let long = format!("/api/tts?text={}", "a".repeat(10_000));
    let r = raw(&srv, &request_bytes("GET", &long, &[], b""));
    assert_eq!(r.status, 414);
    assert_eq!(json_error(&r).0, "uri_too_long");
    // A header section past hyper's buffer of 64 KiB (exactly filling it, so
    // that the server has read every byte and closes without a reset).
    let mut big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.resize(64 * 1024, b'x');
    let r = raw(&srv, &big);
    assert_eq!(r.status, 431);
    assert_eq!(json_error(&r).0, "headers_too_large");
    // And the ones the endpoints make, as before.
    let r = get(srv.addr, "/nope", &[]);
    assert_eq!((r.status, json_error(&r).0.as_str()), (404, "not_found"));
    let r = get(srv.addr, "/v1/voices", &[]);
    assert_eq!((r.status, json_error(&r).0.as_str()), (401, "unauthorized"));
    // The server still serves after all of that.
    assert_eq!(get(srv.addr, "/healthz", &[]).status, 200);
}

#[test]
fn a_half_closed_client_gets_its_whole_answer() {
    let srv = start(config());
    let auth = bearer();
    let body = json!({"input": sentences(3), "voice": VOICE, "response_format": "wav"});
    let mut s = connect(srv.addr);
    s.write_all(&request_bytes(
        "POST",
        "/v1/audio/speech",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    ))
    .unwrap();
    // As `nc -N` does: nothing more to send.
    s.shutdown(Shutdown::Write).unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.complete, "the answer was cut short");
    let frames = wav_frames(&r.body);
    assert!(frames > 22_050 * 3, "only {frames} frames");
}

#[test]
fn the_openai_endpoint_takes_json_only() {
    let mut c = config();
    c.auth.mode = signet_server::AuthMode::Anonymous;
    let srv = start(c);
    let body = json!({"input": "Hi.", "voice": VOICE}).to_string();
    // What a web page's form or fetch without a preflight can send.
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let headers: Vec<(&str, &str)> =
            content_type.iter().map(|t| ("Content-Type", *t)).collect();
        let r = send(
            srv.addr,
            "POST",
            "/v1/audio/speech",
            &headers,
            body.as_bytes(),
        );
        assert_eq!(r.status, 415, "{content_type:?}: {}", r.text());
        let (kind, message) = json_error(&r);
        assert_eq!(kind, "unsupported_media_type");
        assert!(message.contains("application/json"), "{message}");
    }
    let r = send(
        srv.addr,
        "POST",
        "/v1/audio/speech",
        &[("Content-Type", "application/json; charset=utf-8")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn metrics_access_is_open_key_or_off() {
    let auth = bearer();
    // Default: a valid key, also when speech needs none.
    let mut c = config();
    c.auth.mode = signet_server::AuthMode::Anonymous;
    let srv = start(c);
    assert_eq!(
        signet_server::Config::default().metrics,
        signet_server::MetricsAccess::Key
    );
    let r = get(srv.addr, "/metrics", &[]);
    assert_eq!((r.status, json_error(&r).0.as_str()), (401, "unauthorized"));
    let r = get(srv.addr, "/metrics", &[("Authorization", "Bearer wrong")]);
    assert_eq!(r.status, 401);
    let r = get(srv.addr, "/metrics", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("signet_workers "), "{}", r.text());
    drop(srv);

    let mut c = config();
    c.metrics = signet_server::MetricsAccess::Open;
    let srv = start(c);
    let r = get(srv.addr, "/metrics", &[]);
    assert_eq!(r.status, 200);
    drop(srv);

    let c = signet_server::Config::from_toml("metrics = \"off\"").unwrap();
    assert_eq!(c.metrics, signet_server::MetricsAccess::Off);
    assert!(signet_server::Config::from_toml("metrics = \"public\"").is_err());
    let mut c = config();
    c.metrics = signet_server::MetricsAccess::Off;
    let srv = start(c);
    let r = get(srv.addr, "/metrics", &[("Authorization", &auth)]);
    assert_eq!((r.status, json_error(&r).0.as_str()), (404, "not_found"));
    // Health and readiness stay open for probes.
    assert_eq!(get(srv.addr, "/healthz", &[]).status, 200);
    assert_eq!(get(srv.addr, "/readyz", &[]).status, 200);
}

#[test]
fn openai_voice_names_map_to_configured_voices() {
    let c = signet_server::Config::from_toml(&format!(
        "[voice_aliases]\nalloy = \"{VOICE}\"\nnova = \"{VOICE}\"\n"
    ))
    .unwrap();
    let mut cfg = config();
    cfg.voice_aliases = c.voice_aliases;
    let srv = start(cfg);
    for name in ["alloy", "nova"] {
        let r = speak(
            srv.addr,
            &json!({"model": "tts-1", "input": "Hi.", "voice": name}),
        );
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(&r.body[..4], b"RIFF");
    }
    // A name nobody configured is still unknown.
    let r = speak(srv.addr, &json!({"input": "Hi.", "voice": "shimmer"}));
    assert_eq!(r.status, 404, "{}", r.text());
    // The voices list shows the aliases.
    let auth = bearer();
    let v: serde_json::Value =
        serde_json::from_slice(&get(srv.addr, "/v1/voices", &[("Authorization", &auth)]).body)
            .unwrap();
    assert_eq!(v["aliases"]["alloy"], VOICE);
    drop(srv);
    // An alias of a voice not served, or one that hides a voice: refused at start.
    let mut bad = config();
    bad.voice_aliases
        .insert("alloy".into(), "no-such-voice".into());
    let e = bad.validate().unwrap_err().to_string();
    assert!(
        e.contains("voice_aliases") && e.contains("no-such-voice"),
        "{e}"
    );
    let mut bad = config();
    bad.voice_aliases.insert(VOICE.into(), VOICE.into());
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("voice_aliases"), "{e}");
    let mut bad = config();
    bad.voice_aliases.insert("../x".into(), VOICE.into());
    assert!(bad.validate().is_err());
}

#[test]
fn one_address_cannot_hold_every_connection() {
    let mut c = config();
    c.max_connections = 64;
    c.max_connections_per_peer = 8;
    c.header_read_timeout_secs = 30;
    let srv = start(c);
    let addr = srv.addr;
    // 127.0.0.2 opens hundreds of connections and sends nothing.
    let mut held = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = connect_from("127.0.0.2", addr) {
            held.push(s);
        }
    }
    // ...and keeps reconnecting.
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut refused = None;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                if let Ok(mut s) = connect_from("127.0.0.2", addr) {
                    n += 1;
                    if refused.is_none() {
                        s.set_read_timeout(Some(Duration::from_millis(500)))
                            .unwrap();
                        let mut buf = Vec::new();
                        let _ = s.read_to_end(&mut buf);
                        if buf.starts_with(b"HTTP/1.1 503") {
                            refused = Some(String::from_utf8_lossy(&buf).into_owned());
                        }
                    }
                }
            }
            (n, refused)
        })
    };
    // A well-behaved client from another address is served at once.
    let auth = bearer();
    for _ in 0..5 {
        let t0 = Instant::now();
        let r = get(addr, "/v1/voices", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "served after {:?}",
            t0.elapsed()
        );
    }
    let r = speak(addr, &json!({"input": "Hi.", "voice": VOICE}));
    assert_eq!(r.status, 200, "{}", r.text());
    stop.store(true, Ordering::Relaxed);
    let (reconnects, refused) = churn.join().unwrap();
    assert!(reconnects > 0);
    let refused = refused.expect("the address over its cap was never told why");
    assert!(refused.contains("max_connections_per_peer"), "{refused}");
    assert!(srv.metric("signet_rejections_total{reason=\"peer_connections\"}") >= 1.0);
    assert!(
        srv.metric("signet_connections") <= 8.0 + 2.0,
        "{}",
        srv.metrics()
    );
    drop(held);
}

#[test]
fn guessing_keys_is_limited_per_address_and_the_address_is_logged() {
    let mut c = config();
    c.auth.failed_auth_per_minute = 3;
    let srv = start(c);
    let guess = [("Authorization", "Bearer guess")];
    for _ in 0..3 {
        let r = send_from("127.0.0.3", srv.addr, "GET", "/v1/voices", &guess, b"");
        assert_eq!(r.status, 401);
    }
    let r = send_from("127.0.0.3", srv.addr, "GET", "/v1/voices", &guess, b"");
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(json_error(&r).0, "auth_failures");
    assert!(r.header("retry-after").is_some());
    // Before the key is looked at: a right key from there waits too.
    let auth = bearer();
    let right = [("Authorization", auth.as_str())];
    let r = send_from("127.0.0.3", srv.addr, "GET", "/v1/voices", &right, b"");
    assert_eq!(r.status, 429);
    // Other addresses are not affected.
    let r = send_from("127.0.0.4", srv.addr, "GET", "/v1/voices", &right, b"");
    assert_eq!(r.status, 200);
    // Each request's log line names its client.
    let logs = logs();
    assert!(logs.contains("peer=127.0.0.3"), "{logs}");
    assert!(logs.contains("peer=127.0.0.4"), "{logs}");
}

#[test]
fn a_trusted_proxy_forwards_the_client_address_and_no_one_else_can() {
    let mut c = config();
    c.auth.failed_auth_per_minute = 2;
    c.trusted_proxies = vec!["127.0.0.5".parse().unwrap()];
    let srv = start(c);
    let guess = |xff: &'static str| [("Authorization", "Bearer guess"), ("X-Forwarded-For", xff)];
    // Through the proxy, clients are told apart by the forwarded address
    // (the right-most one: the left part is whatever the client wrote).
    for _ in 0..2 {
        let r = send_from(
            "127.0.0.5",
            srv.addr,
            "GET",
            "/v1/voices",
            &guess("10.9.9.9, 198.51.100.7"),
            b"",
        );
        assert_eq!(r.status, 401);
    }
    let r = send_from(
        "127.0.0.5",
        srv.addr,
        "GET",
        "/v1/voices",
        &guess("198.51.100.7"),
        b"",
    );
    assert_eq!(r.status, 429, "{}", r.text());
    let r = send_from(
        "127.0.0.5",
        srv.addr,
        "GET",
        "/v1/voices",
        &guess("198.51.100.8"),
        b"",
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // A client that is not a trusted proxy cannot choose its address.
    let r = send_from(
        "127.0.0.6",
        srv.addr,
        "GET",
        "/v1/voices",
        &guess("203.0.113.9"),
        b"",
    );
    assert_eq!(r.status, 401);
    let logs = logs();
    assert!(logs.contains("peer=198.51.100.7"), "{logs}");
    assert!(logs.contains("peer=127.0.0.6"), "{logs}");
    assert!(!logs.contains("peer=203.0.113.9"), "{logs}");
    assert!(!logs.contains("peer=10.9.9.9"), "{logs}");
}
