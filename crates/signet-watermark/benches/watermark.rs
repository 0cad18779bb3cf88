//! Cost of embedding and detecting the watermark, per second of audio
//! (10 s of speech-like audio at 22.05 kHz; divide the times by 10).

// A benchmark may stop on a failed setup.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use signet_watermark::{detect, embed, Key, Payload};

const RATE: u32 = 22_050;

fn speech_like(seconds: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_u32;
    (0..RATE as usize * seconds)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let f0 = 120.0 + 30.0 * (t * 2.1).sin();
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = state as f32 / u32::MAX as f32 - 0.5;
            let env = (t * 4.0 * std::f32::consts::TAU).sin().max(0.0);
            let voiced: f32 = (1..60)
                .map(|h| (t * f0 * h as f32 * std::f32::consts::TAU).sin() / h as f32)
                .sum();
            0.1 * env * voiced + 0.01 * noise
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let audio = speech_like(10);
    let key = Key::from_bytes([3; 32]);
    let marked = embed(&audio, RATE, &key, Payload(1)).unwrap();
    let mut group = c.benchmark_group("watermark_10s_22050hz");
    group.sample_size(10);
    group.bench_function("embed", |b| {
        b.iter(|| embed(&audio, RATE, &key, Payload(1)).unwrap())
    });
    group.bench_function("detect", |b| {
        b.iter(|| detect(&marked, RATE, &key).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
