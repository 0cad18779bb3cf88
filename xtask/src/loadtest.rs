//! `cargo xtask loadtest [--seconds S] [--concurrency C] [--requests N]`:
//! the release server on loopback under bounded load.
//!
//! Two phases against one `signet serve` process:
//! 1. **Throughput**: C client threads send real speech requests (one short
//!    sentence each, raw PCM) for S seconds; reported are requests per second,
//!    audio seconds per second, latency and time to first audio byte
//!    (p50/p95/p99), and the status counts.
//! 2. **Memory**: N more requests, of which every tenth is a real synthesis
//!    ("Hi.") and the other nine come from a key allowed one request per
//!    minute, so they are refused with 429 after passing auth and the
//!    limiter. The server's RSS is read from `/proc` before and after; growth
//!    must stay under 10 %.
//!
//! 3. **Wyoming**: time to first audio over Wyoming streaming for a
//!    three-sentence text, next to the time to synthesize its first sentence
//!    alone (see the `wyoming` module); missing the goal fails the run.
//!
//! Before phases 1 and 2, with the server idle, **first audio over OpenAI streaming**:
//! the time from sending a three-sentence text (OpenAI's default, MP3,
//! streamed as encoded) to the first MP3 frame past the ID3 tag, against the
//! time to synthesize its first sentence alone (the whole request, raw PCM);
//! the goal is at most that plus 50 ms. Medians of five runs each, reported
//! (not asserted: timings on a shared machine are noisy).
//!
//! Any status other than 200, 429 or 503 fails the run.

mod wyoming;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::flags::Loadtest;
use crate::setup;

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog.";

/// One request's outcome.
#[derive(Debug, Clone, Copy)]
struct Sample {
    status: u16,
    latency: Duration,
    first_byte: Option<Duration>,
    body_bytes: usize,
}

struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs both phases with `args`' duration, concurrency and request count.
pub fn run(root: &Path, args: Loadtest) -> Result<()> {
    let Loadtest {
        seconds,
        concurrency,
        requests,
    } = args;
    if concurrency == 0 || seconds == 0 {
        bail!("--seconds and --concurrency must be at least 1");
    }
    let p = setup::run(root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    crate::util::run(Command::new(&cargo).current_dir(root).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "signet-cli",
        "-p",
        "signet-espeak",
    ]))?;
    let signet = root.join("target/release/signet");

    let dir = root.join("target/loadtest");
    std::fs::create_dir_all(&dir)?;
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let bench_key = |i: usize| format!("loadtest-bench-{i}-{nonce}");
    let flood_key = format!("loadtest-flood-{nonce}");
    let hash = |k: &str| hex::encode(Sha256::digest(k.as_bytes()));
    let mut keys = String::new();
    for i in 0..concurrency {
        keys.push_str(&format!(
            "[[key]]\nid = \"bench-{i}\"\nsha256 = \"{}\"\nrequests_per_minute = 1000000\n\
             audio_seconds_per_minute = 100000000\nmax_concurrent = 1000\n\n",
            hash(&bench_key(i))
        ));
    }
    keys.push_str(&format!(
        "[[key]]\nid = \"flood\"\nsha256 = \"{}\"\nrequests_per_minute = 1\n",
        hash(&flood_key)
    ));
    std::fs::write(dir.join("keys.toml"), keys)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let config = format!(
        "bind = \"{addr}\"\nhome = {home:?}\nvoices = [\"{voice}\"]\nqueue_timeout_ms = 10000\n\
         [auth]\nkeys_file = {keys:?}\nkeys_env = \"\"\n",
        home = p.home.display().to_string(),
        voice = setup::DEFAULT_VOICE,
        keys = dir.join("keys.toml").display().to_string(),
    );
    let cfg_path = dir.join("server.toml");
    std::fs::write(&cfg_path, config)?;
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = Command::new(&signet)
        .arg("serve")
        .arg("--config")
        .arg(&cfg_path)
        .env("SIGNET_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", signet.display()))?;
    let mut server = ServerProcess(child);
    let pid = server.0.id();
    let t0 = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if t0.elapsed() > Duration::from_secs(120) || server.0.try_wait()?.is_some() {
            bail!(
                "the server did not start; see {}",
                dir.join("server.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "loadtest: server pid {pid} on {addr}, ready in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let first_audio = first_audio(addr, &bench_key(0));

    // Phase 1: throughput for a fixed time.
    let rss_start = rss_kib(pid)?;
    let body = serde_json::json!({"input": SENTENCE, "response_format": "pcm"}).to_string();
    let end = Instant::now() + Duration::from_secs(seconds);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    std::thread::scope(|s| {
        for i in 0..concurrency {
            let key = bench_key(i);
            let body = body.clone();
            let samples = Arc::clone(&samples);
            s.spawn(move || {
                while Instant::now() < end {
                    let r = speech(addr, &key, &body);
                    if let Ok(mut v) = samples.lock() {
                        v.push(r);
                    }
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let phase1 = samples.lock().map(|v| v.clone()).unwrap_or_default();

    // Phase 2: N requests, one in ten a synthesis, nine rate-limited.
    let rss_before = rss_kib(pid)?;
    let next = AtomicUsize::new(0);
    let phase2 = Mutex::new(Vec::with_capacity(requests));
    let started2 = Instant::now();
    let tiny = serde_json::json!({"input": "Hi.", "response_format": "pcm"}).to_string();
    std::thread::scope(|s| {
        for i in 0..concurrency {
            let (key, flood) = (bench_key(i), flood_key.clone());
            let (next, phase2, tiny) = (&next, &phase2, &tiny);
            s.spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let k = if n % 10 == 0 { &key } else { &flood };
                let r = speech(addr, k, tiny);
                if let Ok(mut v) = phase2.lock() {
                    v.push(r);
                }
            });
        }
    });
    let wall2 = started2.elapsed().as_secs_f64();
    let rss_after = rss_kib(pid)?;
    let phase2 = phase2.into_inner().unwrap_or_default();

    // Graceful stop: SIGTERM, then the exit status.
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()?;
    let exit = if term.success() {
        let t = Instant::now();
        loop {
            if let Some(st) = server.0.try_wait()? {
                break Some(st);
            }
            if t.elapsed() > Duration::from_secs(40) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    } else {
        None
    };

    let wyoming_lines = wyoming::run(
        &signet,
        &p.home,
        setup::DEFAULT_VOICE,
        &dir.join("wyoming.log"),
    )?;

    let mut report = String::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    line(format!(
        "loadtest: release `signet serve` on {addr}, {} workers, {concurrency} client threads, \
         one connection per request",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    match &first_audio {
        Ok((streamed, alone)) => {
            let (a, b) = (streamed.as_secs_f64() * 1e3, alone.as_secs_f64() * 1e3);
            line(format!(
                "first audio, OpenAI streaming (MP3, 3 sentences): {a:.0} ms; first sentence \
                 synthesized alone: {b:.0} ms; goal <= {:.0} ms: {}",
                b + 50.0,
                if a <= b + 50.0 { "met" } else { "missed" }
            ));
        }
        Err(e) => line(format!("first audio: not measured: {e:#}")),
    }
    line(format!("phase 1: {seconds} s of \"{SENTENCE}\" as raw PCM"));
    summarize(&mut line, &phase1, wall);
    line(format!(
        "phase 2: {requests} requests in {wall2:.1} s: every 10th \"Hi.\" from a key without \
         limits (synthesized), 9 in 10 from a key allowed 1 request/minute (429)"
    ));
    line(format!("  statuses: {}", status_counts(&phase2)));
    let growth = (rss_after as f64 - rss_before as f64) / rss_before.max(1) as f64 * 100.0;
    line(format!(
        "memory: RSS {rss_start} KiB at start, {rss_before} KiB after phase 1, {rss_after} KiB \
         after {requests} more requests: {growth:+.2} %"
    ));
    line(format!(
        "shutdown: SIGTERM -> {}",
        exit.map_or("no exit within 40 s".to_owned(), |s| s.to_string())
    ));
    for l in wyoming_lines {
        line(l);
    }
    std::fs::write(dir.join("report.txt"), &report)?;
    eprintln!("loadtest: report in {}", dir.join("report.txt").display());

    let bad: Vec<u16> = phase1
        .iter()
        .chain(phase2.iter())
        .map(|s| s.status)
        .filter(|s| !matches!(s, 200 | 429 | 503))
        .collect();
    if !bad.is_empty() {
        bail!(
            "{} responses other than 200/429/503: {:?}",
            bad.len(),
            bad.iter().take(20).collect::<Vec<_>>()
        );
    }
    if growth >= 10.0 {
        bail!("RSS grew by {growth:.1} % over {requests} requests (limit 10 %)");
    }
    if !exit.is_some_and(|s| s.success()) {
        bail!("the server did not shut down cleanly on SIGTERM");
    }
    Ok(())
}

fn summarize(line: &mut impl FnMut(String), samples: &[Sample], wall: f64) {
    let ok: Vec<&Sample> = samples.iter().filter(|s| s.status == 200).collect();
    let audio_secs: f64 = ok
        .iter()
        .map(|s| s.body_bytes as f64 / 2.0 / 22_050.0)
        .sum();
    line(format!(
        "  {} requests, {} OK: {:.2} req/s, {:.2} audio s/s (real-time x{:.1}); statuses: {}",
        samples.len(),
        ok.len(),
        ok.len() as f64 / wall,
        audio_secs / wall,
        audio_secs / wall,
        status_counts(samples)
    ));
    let mut lat: Vec<f64> = ok.iter().map(|s| s.latency.as_secs_f64() * 1e3).collect();
    let mut ttfb: Vec<f64> = ok
        .iter()
        .filter_map(|s| s.first_byte.map(|d| d.as_secs_f64() * 1e3))
        .collect();
    line(format!("  latency ms (200s): {}", percentiles(&mut lat)));
    line(format!(
        "  time to first audio byte ms: {}",
        percentiles(&mut ttfb)
    ));
}

fn percentiles(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "n/a".to_owned();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v.get(i).copied().unwrap_or(f64::NAN)
    };
    format!(
        "p50 {:.0}, p95 {:.0}, p99 {:.0}, max {:.0}",
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
    )
}

fn status_counts(samples: &[Sample]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for s in samples {
        *counts.entry(s.status).or_insert(0usize) += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One request on a fresh connection; status 0 means a transport error.
fn speech(addr: SocketAddr, key: &str, body: &str) -> Sample {
    let t0 = Instant::now();
    let fail = |t0: Instant| Sample {
        status: 0,
        latency: t0.elapsed(),
        first_byte: None,
        body_bytes: 0,
    };
    let Ok(mut s) = TcpStream::connect(addr) else {
        return fail(t0);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let req = format!(
        "POST /v1/audio/speech HTTP/1.1\r\nHost: loadtest\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return fail(t0);
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut head_end = None;
    let mut first_byte = None;
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if head_end.is_none() {
                    head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
                }
                if first_byte.is_none() {
                    if let Some(h) = head_end {
                        // Past the first chunk-size line: audio has arrived.
                        let body = buf.get(h..).unwrap_or_default();
                        if body
                            .windows(2)
                            .position(|w| w == b"\r\n")
                            .is_some_and(|p| body.len() > p + 2)
                        {
                            first_byte = Some(t0.elapsed());
                        }
                    }
                }
            }
            Err(_) => return fail(t0),
        }
    }
    let latency = t0.elapsed();
    let Some(h) = head_end else {
        return fail(t0);
    };
    let head = String::from_utf8_lossy(buf.get(..h).unwrap_or_default()).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body_bytes = dechunked_len(buf.get(h..).unwrap_or_default());
    Sample {
        status,
        latency,
        first_byte: if status == 200 { first_byte } else { None },
        body_bytes,
    }
}

/// The three-sentence text of the first-audio measurement, and its first sentence.
const THREE: [&str; 3] = [
    "The first sentence is a short one.",
    "The second sentence is a little longer than the first one was.",
    "And the third sentence brings this small paragraph to its end.",
];

/// Medians of five runs: (time to the first MP3 frame of the streamed
/// three-sentence text, time to the whole first sentence alone).
fn first_audio(addr: SocketAddr, key: &str) -> Result<(Duration, Duration)> {
    let streamed = serde_json::json!({"input": THREE.join(" ")}).to_string();
    let alone = serde_json::json!({"input": THREE[0], "response_format": "pcm"}).to_string();
    // One of each first, unmeasured: the first request of a server pays for
    // kernel selection and page faults.
    let _ = timed(addr, key, &streamed, false)?;
    let _ = timed(addr, key, &alone, true)?;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..5 {
        a.push(timed(addr, key, &streamed, false)?);
        b.push(timed(addr, key, &alone, true)?);
    }
    a.sort();
    b.sort();
    let median = |v: &[Duration]| v.get(v.len() / 2).copied().unwrap_or_default();
    Ok((median(&a), median(&b)))
}

/// Sends one request; the time to the first MP3 frame past the ID3 tag
/// (`whole == false`) or to the end of the response (`whole == true`).
fn timed(addr: SocketAddr, key: &str, body: &str, whole: bool) -> Result<Duration> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let req = format!(
        "POST /v1/audio/speech HTTP/1.1\r\nHost: loadtest\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    // Read to the end either way: the worker is then free for the next
    // request (a client that stops reading is noticed only when its socket
    // buffer fills).
    let mut first = None;
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if whole || first.is_some() {
            continue;
        }
        let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        if !buf.starts_with(b"HTTP/1.1 200") {
            bail!(
                "the streaming request was refused: {}",
                String::from_utf8_lossy(&buf)
            );
        }
        let payload = dechunk_partial(buf.get(h + 4..).unwrap_or_default());
        // ID3v2: 10-byte header, then a 28-bit syncsafe size.
        if let Some(size) = payload.get(6..10) {
            let tag = size
                .iter()
                .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7f));
            if payload.len() > 10 + tag {
                first = Some(t0.elapsed());
            }
        }
    }
    if let Some(t) = first {
        return Ok(t);
    }
    if whole && buf.starts_with(b"HTTP/1.1 200") {
        return Ok(t0.elapsed());
    }
    bail!(
        "the response ended before any audio: {}",
        String::from_utf8_lossy(&buf)
    )
}

/// The payload of a chunked body received so far (the last chunk possibly partial).
fn dechunk_partial(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(b.get(..p).unwrap_or_default())
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let data = b.get(p + 2..).unwrap_or_default();
        out.extend_from_slice(data.get(..size.min(data.len())).unwrap_or_default());
        b = b.get(p + 2 + size + 2..).unwrap_or_default();
    }
    out
}

/// Payload length of a chunked body.
fn dechunked_len(mut b: &[u8]) -> usize {
    let mut total = 0;
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(b.get(..p).unwrap_or_default())
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        total += size;
        b = b.get(p + 2 + size + 2..).unwrap_or_default();
    }
    total
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}
