//! Imports a Coqui VITS checkpoint and compares Signet's output with coqui-tts's reference
//! audio, timing both at one thread: the manual real-size check of a Coqui import (the
//! committed parity test uses a small model).
//!
//! ```sh
//! coqui-venv/bin/python scripts/coqui_vits_fixtures.py /tmp/tiny --ljspeech /tmp/lj
//! cargo run -p signet-acoustic --example coqui_check -- /tmp/lj/ljspeech_vits
//! ```
//!
//! `STEM.pth`, `STEM.json`, `STEM.expected.json` (token ids, coqui-tts's best time at one
//! thread) and `STEM.ref.f32` (coqui-tts's samples at noise 0) are read; the SNR, the lengths
//! and both real-time factors are printed. `--threads N` times Signet at N threads and reads
//! coqui-tts's time at N threads (`scripts/coqui_rtf.py` writes one at its thread count).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Instant;

use signet_acoustic::{Scales, Vits};
use signet_registry::{Role, SecretKey, TrustStore};

fn main() -> anyhow::Result<()> {
    let stem = std::env::args().nth(1).ok_or_else(|| {
        anyhow::anyhow!("usage: coqui_check STEM [--threads N] (STEM.pth, STEM.json, ...)")
    })?;
    let args: Vec<String> = std::env::args().skip(2).collect();
    let threads: usize = match args.iter().position(|a| a == "--threads") {
        Some(i) => args
            .get(i + 1)
            .ok_or_else(|| anyhow::anyhow!("--threads N"))?
            .parse()?,
        None => 1,
    };
    let path = |ext: &str| PathBuf::from(format!("{stem}{ext}"));
    let tmp = tempfile::tempdir()?;
    let key = SecretKey::generate()?;
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some("coqui-check".into());
    let out = tmp.path().join("coqui-check");
    let t0 = Instant::now();
    let report = signet_coqui::import_coqui(&path(".pth"), &path(".json"), &out, &options, &key)?;
    println!("import: {report} in {:.2} s", t0.elapsed().as_secs_f64());
    let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
    let bundle = signet_registry::verify_bundle_dir(&out, &trust)?;
    let vits = Vits::from_bundle(&bundle)?;

    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path(".expected.json"))?)?;
    let ids: Vec<i64> = expected["sentences"][0]["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_i64().expect("id"))
        .collect();
    let reference: Vec<f32> = std::fs::read(path(".ref.f32"))?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();

    signet_acoustic::set_num_threads(threads);
    let got = vits.infer(&ids, None, &Scales::DETERMINISTIC)?;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        vits.infer(&ids, None, &Scales::DETERMINISTIC)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let signal: f64 = reference.iter().map(|&r| f64::from(r).powi(2)).sum();
    let noise: f64 = reference
        .iter()
        .zip(&got.samples)
        .map(|(&r, &g)| (f64::from(r) - f64::from(g)).powi(2))
        .sum();
    let snr = 10.0 * (signal / noise).log10();
    let seconds = reference.len() as f64 / f64::from(vits.sample_rate());
    println!(
        "{} ids; samples: signet {}, coqui-tts {}; SNR {snr:.1} dB",
        ids.len(),
        got.samples.len(),
        reference.len()
    );
    let coqui = expected["coqui_timings"][threads.to_string()]["seconds"].as_f64();
    println!(
        "{threads} thread(s): signet {best:.3} s (RTF {:.3}); coqui-tts {} (RTF {})",
        best / seconds,
        coqui.map_or("-".into(), |c| format!("{c:.3} s")),
        coqui.map_or("-".into(), |c| format!("{:.3}", c / seconds)),
    );
    // The lines `cargo xtask bench --coqui` reads.
    println!("rtf\tvits\tsignet\t{:.6}", best / seconds);
    if got.samples.len() == reference.len() {
        println!("snr\tvits\t{snr:.2}");
    }
    Ok(())
}
