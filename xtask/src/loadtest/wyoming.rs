//! The Wyoming phase of `cargo xtask loadtest`: time to first audio over
//! Wyoming streaming (what Home Assistant does with an LLM's answer) for a
//! three-sentence text, next to the time to synthesize its first sentence
//! alone. The goal: streaming's first audio no later than that plus 50 ms.
//!
//! A `signet wyoming` process with one worker; after a warm-up, each
//! measurement is repeated and the median reported:
//! - **first sentence alone**: `synthesize` of the first sentence, from the
//!   request to `audio-stop` (the whole sentence synthesized), and to its
//!   first `audio-chunk`;
//! - **streaming**: `synthesize-start`, the three sentences as one
//!   `synthesize-chunk` per word, sent at once, the compatibility
//!   `synthesize`, `synthesize-stop`; from `synthesize-start` to the first
//!   `audio-chunk`, and to `synthesize-stopped`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

/// The text Home Assistant would stream.
pub const TEXT: &str = "The living room lights are now on. The front door is locked. \
                        Tomorrow will be sunny with a high of twenty degrees.";

/// Its first sentence.
const FIRST: &str = "The living room lights are now on. ";

/// Repeats of each measurement.
const RUNS: usize = 7;

/// The goal's margin over the first sentence alone.
const MARGIN: Duration = Duration::from_millis(50);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Self { s, buf: Vec::new() })
    }

    fn send(&mut self, kind: &str, data: Value) -> Result<()> {
        let data = match data {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.s
            .write_all(&signet_wyoming::encode(kind, &data, &[]))?;
        Ok(())
    }

    fn next(&mut self) -> Result<signet_wyoming::Event> {
        let caps = signet_wyoming::Caps {
            max_payload_bytes: 1 << 20,
            ..signet_wyoming::Caps::default()
        };
        loop {
            if let Some((e, used)) = signet_wyoming::decode(&self.buf, &caps)? {
                self.buf.drain(..used);
                if e.kind == "error" {
                    bail!("the server answered an error: {:?}", e.data);
                }
                return Ok(e);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    /// Times from `t0` to the first `audio-chunk` and to the event `end`.
    fn time_until(&mut self, t0: Instant, end: &str) -> Result<(Duration, Duration)> {
        let mut first = None;
        loop {
            let e = self.next()?;
            if e.kind == "audio-chunk" && first.is_none() {
                first = Some(t0.elapsed());
            }
            if e.kind == end {
                let done = t0.elapsed();
                return Ok((first.unwrap_or(done), done));
            }
        }
    }
}

fn first_sentence_alone(addr: SocketAddr) -> Result<(Duration, Duration)> {
    let mut c = Conn::open(addr)?;
    let t0 = Instant::now();
    c.send("synthesize", json!({ "text": FIRST }))?;
    c.time_until(t0, "audio-stop")
}

fn streamed(addr: SocketAddr) -> Result<(Duration, Duration)> {
    let mut c = Conn::open(addr)?;
    let t0 = Instant::now();
    c.send("synthesize-start", json!({}))?;
    for word in TEXT.split_inclusive(' ') {
        c.send("synthesize-chunk", json!({ "text": word }))?;
    }
    c.send("synthesize", json!({ "text": TEXT }))?;
    c.send("synthesize-stop", json!({}))?;
    c.time_until(t0, "synthesize-stopped")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the phase against `signet` (the binary) with the voice store in
/// `home`; returns the report's lines, or an error when the goal is missed.
pub fn run(signet: &Path, home: &Path, voice: &str, log: &Path) -> Result<Vec<String>> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let child = Command::new(signet)
        .arg("--home")
        .arg(home)
        .args([
            "wyoming",
            "--uri",
            &format!("tcp://{addr}"),
            "--voice",
            voice,
        ])
        .args(["--workers", "1", "--requests-per-minute", "100000"])
        .env("SIGNET_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("cannot start {}", signet.display()))?;
    let mut server = Process(child);
    let t0 = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if t0.elapsed() > Duration::from_secs(120) || server.0.try_wait()?.is_some() {
            bail!("`signet wyoming` did not start; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Warm-up: the espeak-ng helper and libtorch's first runs.
    first_sentence_alone(addr)?;
    streamed(addr)?;
    let (mut alone_first, mut alone_done, mut stream_first, mut stream_done) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (f, d) = first_sentence_alone(addr)?;
        alone_first.push(f);
        alone_done.push(d);
        let (f, d) = streamed(addr)?;
        stream_first.push(f);
        stream_done.push(d);
    }
    let (alone_first, alone_done) = (median(alone_first), median(alone_done));
    let (stream_first, stream_done) = (median(stream_first), median(stream_done));
    let goal = alone_done + MARGIN;
    let lines = vec![
        format!("wyoming: `signet wyoming`, 1 worker, medians of {RUNS} runs after a warm-up"),
        format!(
            "  first sentence alone (synthesize): first audio {:.0} ms, whole sentence {:.0} ms",
            ms(alone_first),
            ms(alone_done)
        ),
        format!(
            "  three sentences streamed (a synthesize-chunk per word): first audio {:.0} ms, \
             synthesize-stopped {:.0} ms",
            ms(stream_first),
            ms(stream_done)
        ),
        format!(
            "  goal: streaming's first audio <= first sentence alone + 50 ms = {:.0} ms: {}",
            ms(goal),
            if stream_first <= goal {
                "met"
            } else {
                "MISSED"
            }
        ),
    ];
    drop(server);
    if stream_first > goal {
        bail!("{}", lines.join("\n"));
    }
    Ok(lines)
}
