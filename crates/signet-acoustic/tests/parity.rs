//! Parity with the original ONNX voice: for each fixture in `tests/data/parity/`, Signet's
//! output with deterministic scales must have the reference's length and an SNR of at least
//! 40 dB against it. The references come from onnxruntime (`scripts/make_parity_fixtures.py`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use signet_acoustic::{Scales, Vits};

use crate::support;

const MIN_SNR_DB: f64 = 40.0;

struct Case {
    name: String,
    ids: Vec<i64>,
    reference: Vec<f32>,
}

fn cases() -> Result<Vec<Case>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity");
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    for json in names {
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
        let ids: Vec<i64> = serde_json::from_value(meta["ids"].clone())?;
        let scales: Vec<f32> = serde_json::from_value(meta["scales"].clone())?;
        if scales != [0.0, 1.0, 0.0] {
            bail!(
                "{}: fixtures must use deterministic scales [0, 1, 0]",
                json.display()
            );
        }
        let bytes = std::fs::read(json.with_extension("f32"))?;
        let reference: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if reference.len() as u64 != meta["samples"].as_u64().unwrap_or(0) {
            bail!(
                "{}: sample count disagrees with its .f32 file",
                json.display()
            );
        }
        let name = json
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.push(Case {
            name,
            ids,
            reference,
        });
    }
    if out.len() < 5 {
        bail!(
            "expected at least 5 parity fixtures in {}, found {}",
            dir.display(),
            out.len()
        );
    }
    Ok(out)
}

fn snr_db(reference: &[f32], got: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&r| f64::from(r) * f64::from(r)).sum();
    let noise: f64 = reference
        .iter()
        .zip(got)
        .map(|(&r, &g)| {
            let d = f64::from(r) - f64::from(g);
            d * d
        })
        .sum();
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (signal / noise).log10()
}

#[test]
fn joe_matches_onnxruntime_on_every_fixture() -> Result<()> {
    let bundle = support::joe_bundle()?;
    let vits = Vits::from_bundle(&bundle.verified()?)?;
    assert_eq!(vits.sample_rate(), 22050);
    assert_eq!(vits.num_speakers(), 1);
    assert_eq!(vits.hop_length(), 256);
    let mut failures = Vec::new();
    for case in cases()? {
        let start = Instant::now();
        let out = vits.infer(&case.ids, None, &Scales::DETERMINISTIC)?;
        let took = start.elapsed().as_secs_f64();
        let audio_s = out.samples.len() as f64 / f64::from(vits.sample_rate());
        let frames: i64 = out.durations.iter().sum();
        assert_eq!(out.durations.len(), case.ids.len());
        assert_eq!(out.samples.len(), frames as usize * vits.hop_length());
        if out.samples.len() != case.reference.len() {
            failures.push(format!(
                "{}: {} samples, reference has {}",
                case.name,
                out.samples.len(),
                case.reference.len()
            ));
            continue;
        }
        let snr = snr_db(&case.reference, &out.samples);
        println!(
            "parity {:<12} ids {:>5}  samples {:>7}  SNR {:>6.1} dB  ({:.2} s for {:.2} s of audio, RTF {:.3}, {} threads)",
            case.name,
            case.ids.len(),
            out.samples.len(),
            snr,
            took,
            audio_s,
            took / audio_s,
            signet_nn::num_threads(),
        );
        if snr.is_nan() || snr < MIN_SNR_DB {
            failures.push(format!("{}: SNR {snr:.1} dB < {MIN_SNR_DB} dB", case.name));
        }
    }
    if !failures.is_empty() {
        bail!("parity failures:\n{}", failures.join("\n"));
    }
    Ok(())
}
