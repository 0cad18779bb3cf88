//! Benchmarks of the text frontend (run by `cargo xtask bench`):
//!
//! - `frontend/prepare_100k`: throughput of the pure-Rust stage (`prepare`: limits,
//!   sentences and segments, Unicode policy, English normalization) on a 100,000-character
//!   English text with numbers, dates, money and abbreviations;
//! - `frontend/first_sentence_100k`: time to the first sentence of ids for a
//!   100,000-character text without a full stop: `prepare` of the whole text, then the
//!   first segment through the espeak-ng helper (started beforehand, as a synthesizer
//!   keeps it) and the id map.
//!
//! The second needs the helper and espeak-ng's data: `SIGNET_ESPEAK_HELPER` (default
//! `target/release/signet-espeak`) and `SIGNET_HOME` (default `.cache`, holding
//! `espeak-ng/`); a benchmark harness may panic when they are missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use signet_text::{
    phonemize_segment, prepare, EspeakConfig, EspeakPhonemizer, Limits, Normalization, PhonemeIdMap,
};

const SENTENCES: &[&str] = &[
    "Dr. Smith paid $5.50 for 3 apples on 2024-03-05 at 3:45 pm.",
    "The population grew by 12.5% to 1,234,567 people in the 1990s.",
    "Henry VIII ruled England; NASA launched 22nd missions, e.g. this one.",
    "Write to jo@example.org or visit www.example.com/docs for more.",
    "It was a quiet evening, and the rain kept falling on the roofs of the town.",
];

fn english_text(chars: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.chars().count() < chars {
        text.push_str(SENTENCES[i % SENTENCES.len()]);
        text.push(' ');
        i += 1;
    }
    text.chars().take(chars).collect()
}

fn no_full_stop(chars: usize) -> String {
    "and the rain kept falling on the roofs of the town "
        .repeat(chars / 50 + 1)
        .chars()
        .take(chars)
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn espeak() -> EspeakPhonemizer {
    let helper = std::env::var_os("SIGNET_ESPEAK_HELPER")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/signet-espeak"));
    let home = std::env::var_os("SIGNET_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"));
    let cfg = EspeakConfig::from_espeak_dir(helper, &home.join("espeak-ng"));
    EspeakPhonemizer::new(cfg).expect("espeak helper (build signet-espeak, run cargo xtask setup)")
}

fn id_map() -> PhonemeIdMap {
    // Every code point espeak-ng's English output uses maps to some id; which id does
    // not matter for timing.
    let mut m = BTreeMap::new();
    let symbols = "_^$ !'(),-.:;?abcdefhijklmnopqrstuvwxyzæçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ\u{303}\u{329}\u{30a}";
    for (i, c) in symbols.chars().enumerate() {
        m.insert(c.to_string(), vec![i as i64]);
    }
    PhonemeIdMap::new(m).unwrap()
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("frontend");
    group.sample_size(10);

    let text = english_text(100_000);
    group.throughput(Throughput::Elements(text.chars().count() as u64));
    group.bench_function("prepare_100k", |b| {
        b.iter(|| prepare(black_box(&text), Normalization::English, &limits).unwrap())
    });

    let long = no_full_stop(100_000);
    let mut espeak = espeak();
    let map = id_map();
    // Start the helper outside the measurement, as a synthesizer keeps it running.
    espeak.phonemize("en-us", "Warm up.").unwrap();
    group.throughput(Throughput::Elements(long.chars().count() as u64));
    group.bench_function("first_sentence_100k", |b| {
        b.iter(|| {
            let prepared = prepare(black_box(&long), Normalization::English, &limits).unwrap();
            let first = prepared.segments.first().unwrap();
            let out = phonemize_segment(&mut espeak, "en-us", &map, first, &limits).unwrap();
            assert!(!out.sentences.is_empty());
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
