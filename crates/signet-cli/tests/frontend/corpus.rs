//! The adversarial corpus (`tests/data/adversarial.jsonl`, written by
//! `tests/data/make_adversarial.py`), in one process with one synthesizer:
//! every entry through the whole text frontend of `signet speak`
//! (`Synthesizer::phonemize`: limits, Unicode policy, normalization, chunks,
//! the espeak-ng helper, ids), every eighth entry on through synthesis
//! (`Synthesizer::speak`), and a sample of about 20 through the real binary.
//! Each yields sentences or audio, or a clear error; nothing panics.
//!
//! Synthesizing all 620 entries takes over ten minutes on a shared two-core
//! machine, hence the sample. Limits are tightened (1,000 characters, 10
//! seconds of audio) and speech is fast (length scale 0.5) so that huge
//! entries fail fast on a limit; the long-text test in the parent module
//! covers long inputs that succeed.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use signet::{Error, Limits, TextError};

use crate::e2e::home;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    kind: String,
    text: Option<String>,
    repeat: Option<usize>,
    bytes_hex: Option<String>,
}

impl Entry {
    /// The entry's bytes (valid UTF-8 unless it is a `bytes_hex` entry).
    fn bytes(&self) -> Vec<u8> {
        if let Some(hex) = &self.bytes_hex {
            return (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
        }
        let text = self.text.as_deref().expect("entry without text");
        text.repeat(self.repeat.unwrap_or(1)).into_bytes()
    }
}

fn corpus() -> Vec<Entry> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/adversarial.jsonl");
    let text = std::fs::read_to_string(&path).expect("read the adversarial corpus");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn limits() -> Limits {
    Limits::default()
        .with_max_chars(1_000)
        .with_max_output_seconds(10.0)
}

/// `Some(kind)` for an error that is a clear refusal, `None` for anything else.
fn refusal(e: &Error) -> Option<String> {
    match e {
        Error::NothingToSpeak | Error::Text(TextError::NothingToSpeak { .. }) => {
            Some("nothing to speak".to_owned())
        }
        Error::Text(TextError::LimitExceeded { limit, .. }) => Some((*limit).to_owned()),
        _ => None,
    }
}

#[test]
fn every_corpus_entry_gives_audio_or_a_clear_error() {
    let entries = corpus();
    assert!(entries.len() >= 500, "only {} entries", entries.len());
    let synth = super::builder(limits())
        .length_scale(0.5)
        .build()
        .expect("synthesizer");
    let started = Instant::now();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut slowest = (Duration::ZERO, 0);
    for (i, entry) in entries.iter().enumerate() {
        let bytes = entry.bytes();
        // Bytes that are not UTF-8 are refused where they enter (the CLI reads
        // stdin this way); the library then gets the replacement-character text.
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                assert_eq!(entry.kind, "invalid-utf8", "entry {i}");
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        let t0 = Instant::now();
        let synthesize = i % 8 == 0;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if synthesize {
                synth.speak(&text).map(|s| s.audio.samples().to_vec())
            } else {
                synth.phonemize(&text).map(|(sentences, _)| {
                    // Stand-in "audio" so both paths check the same way.
                    if sentences.iter().all(|s| s.ids.len() >= 3) {
                        vec![0.0]
                    } else {
                        Vec::new()
                    }
                })
            }
        }));
        let took = t0.elapsed();
        if took > slowest.0 {
            slowest = (took, i);
        }
        let outcome = match result {
            Err(_) => {
                problems.push(format!("entry {i} ({}): panicked", entry.kind));
                continue;
            }
            Ok(Ok(samples)) => {
                if samples.is_empty() || !samples.iter().all(|s| s.is_finite()) {
                    problems.push(format!(
                        "entry {i} ({}): empty or non-finite output",
                        entry.kind
                    ));
                }
                if synthesize { "audio" } else { "sentences" }.to_owned()
            }
            Ok(Err(e)) => match refusal(&e) {
                Some(kind) => kind,
                None => {
                    problems.push(format!("entry {i} ({}): unexpected error: {e}", entry.kind));
                    continue;
                }
            },
        };
        if took > Duration::from_secs(20) {
            problems.push(format!("entry {i} ({}): took {took:?}", entry.kind));
        }
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    eprintln!(
        "{} entries in {:?} (slowest: entry {} in {:?}): {outcomes:?}",
        entries.len(),
        started.elapsed(),
        slowest.1,
        slowest.0
    );
    assert!(problems.is_empty(), "{problems:#?}");
    let spoken = outcomes.get("audio").copied().unwrap_or(0)
        + outcomes.get("sentences").copied().unwrap_or(0);
    assert!(spoken >= entries.len() / 2, "{outcomes:?}");
}

#[test]
fn a_sample_of_the_corpus_through_the_binary() {
    let entries = corpus();
    let exe = env!("CARGO_BIN_EXE_signet");
    let scratch = tempfile::tempdir().expect("temp dir");
    let out_path = scratch.path().join("out.wav");
    // Every 31st entry: about 20, spread over every kind.
    for (i, entry) in entries.iter().enumerate().step_by(31) {
        let mut child = Command::new(exe)
            .arg("--home")
            .arg(home())
            .args(["speak", "--max-chars", "1000", "--max-output-seconds", "10"])
            .args(["--length-scale", "0.5", "-o"])
            .arg(&out_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run signet");
        let bytes = entry.bytes();
        let mut stdin = child.stdin.take().expect("stdin");
        // The CLI may refuse before reading everything: a broken pipe is fine.
        let _ = stdin.write_all(&bytes);
        drop(stdin);
        let out = child.wait_with_output().expect("wait for signet");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("internal error"),
            "entry {i}: {stderr}"
        );
        if out.status.success() {
            let wav = std::fs::read(&out_path).expect("read the output");
            assert!(wav.starts_with(b"RIFF") && wav.len() > 44, "entry {i}");
        } else {
            assert_eq!(out.status.code(), Some(1), "entry {i}: {stderr}");
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("signet: error: "))
                .collect();
            assert_eq!(errors.len(), 1, "entry {i}: {stderr}");
            if std::str::from_utf8(&bytes).is_err() {
                assert!(
                    stderr.contains("UTF-8") && stderr.contains("offset"),
                    "entry {i}: {stderr}"
                );
            }
        }
    }
}
