//! Synthesis benchmarks, driven by `cargo xtask bench`.
//!
//! Inputs come from the environment so that xtask can give the peer
//! (onnxruntime / piper-tts, measured in the same run) exactly the same work:
//! - `SIGNET_BENCH_IDS`: JSON array of phoneme-id sequences;
//! - `SIGNET_BENCH_TEXTS`: JSON array of sentences, for the end-to-end case;
//! - `SIGNET_BENCH_THREADS`: libtorch threads (per synthesis);
//! - `SIGNET_BENCH_CONCURRENT`: syntheses at once in the throughput case;
//! - `SIGNET_BENCH_OUT`: where to write the audio seconds and load time;
//! - `SIGNET_BENCH_LONG_TEXT`: a long text file (20,000 words from
//!   `cargo xtask bench`) for the time to the first streamed chunk.
//!
//! Noise scales are 0 (length scale 1), so both sides produce audio of the
//! same length and the real-time factors are comparable.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use signet::Synthesizer;

/// One sentence of about 400 characters (longer than one decoding window).
const LONG_SENTENCE: &str = "When the committee finally gathered in the old library on the \
    hill, with rain drumming on the tall windows and the fire burning low in the grate, the \
    chair opened the folder of letters that had arrived over the winter, read each of them \
    aloud in a steady voice, and asked every member in turn, slowly and without hurry, what the \
    town should do about the bridge, the school and the harbour wall.";

/// Concurrent syntheses in the throughput case (`SIGNET_BENCH_CONCURRENT`, default 2).
static CONCURRENT: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("SIGNET_BENCH_CONCURRENT")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
});

fn env_json<T: serde::de::DeserializeOwned>(key: &str) -> T {
    let path =
        std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run `cargo xtask bench`"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn build() -> Synthesizer {
    let threads: usize = std::env::var("SIGNET_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    Synthesizer::builder()
        .threads(threads)
        .noise_scale(0.0)
        .length_scale(1.0)
        .noise_w(0.0)
        .build()
        .expect("default voice (run `cargo xtask setup`)")
}

fn benches(c: &mut Criterion) {
    let ids: Vec<Vec<i64>> = env_json("SIGNET_BENCH_IDS");
    let texts: Vec<String> = env_json("SIGNET_BENCH_TEXTS");

    let t = Instant::now();
    let synth = build();
    let load_s = t.elapsed().as_secs_f64();

    // Audio seconds per pass, and the text frontend's share of an end-to-end pass.
    let rate = f64::from(synth.sample_rate());
    let ids_audio_s: f64 = ids
        .iter()
        .map(|s| synth.speak_ids(s).expect("speak ids").audio.samples().len() as f64 / rate)
        .sum();
    let text_audio_s: f64 = texts
        .iter()
        .map(|s| synth.speak(s).expect("speak text").audio.samples().len() as f64 / rate)
        .sum();
    let t = Instant::now();
    for s in &texts {
        synth.phonemize(s).expect("phonemize");
    }
    let frontend_s = t.elapsed().as_secs_f64();

    if let Ok(out) = std::env::var("SIGNET_BENCH_OUT") {
        let report = serde_json::json!({
            "load_s": load_s,
            "ids_audio_s": ids_audio_s,
            "text_audio_s": text_audio_s,
            "frontend_s_per_pass": frontend_s,
        });
        std::fs::write(out, report.to_string()).expect("write bench report");
    }

    let mut g = c.benchmark_group("signet");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    g.bench_function("ids", |b| {
        b.iter(|| {
            for s in &ids {
                std::hint::black_box(synth.speak_ids(s).expect("speak ids"));
            }
        })
    });
    g.bench_function("text", |b| {
        b.iter(|| {
            for s in &texts {
                std::hint::black_box(synth.speak(s).expect("speak text"));
            }
        })
    });
    // A sentence of about 400 characters: the time to its first audio when
    // given by window, against its whole synthesis.
    g.bench_function("first_audio_400", |b| {
        b.iter(|| {
            let mut stream = synth
                .speak_stream(LONG_SENTENCE)
                .expect("stream")
                .by_window(true);
            std::hint::black_box(stream.next().expect("audio").expect("audio"));
        })
    });
    g.bench_function("whole_400", |b| {
        b.iter(|| std::hint::black_box(synth.speak(LONG_SENTENCE).expect("speak")))
    });
    // Throughput of concurrent syntheses: each of `CONCURRENT` threads
    // synthesizes every id sequence, on the one shared synthesizer.
    g.bench_function("ids_concurrent", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for _ in 0..*CONCURRENT {
                    s.spawn(|| {
                        for ids in &ids {
                            std::hint::black_box(synth.speak_ids(ids).expect("speak ids"));
                        }
                    });
                }
            })
        })
    });
    if let Ok(path) = std::env::var("SIGNET_BENCH_LONG_TEXT") {
        let long = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // The whole first stage over the long text, then one chunk
        // phonemized and one sentence synthesized: what a listener waits.
        g.bench_function("first_chunk", |b| {
            b.iter(|| {
                let mut stream = synth.speak_stream(&long).expect("stream");
                std::hint::black_box(stream.next().expect("a chunk").expect("audio"));
            })
        });
    }
    g.finish();
}

criterion_group!(synthesis, benches);
criterion_main!(synthesis);
