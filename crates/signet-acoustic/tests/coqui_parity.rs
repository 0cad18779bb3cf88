//! Signet's VITS on a Coqui checkpoint imported by signet-coqui, against coqui-tts 0.28 on the
//! same weights and token ids with all noise off (`inference_noise_scale` and
//! `inference_noise_scale_dp` 0). The fixture, written by `scripts/coqui_vits_fixtures.py`,
//! lives with the importer in `crates/signet-coqui/tests/data`.

use std::path::{Path, PathBuf};

use signet_acoustic::{Scales, Vits};
use signet_registry::{Role, SecretKey, TrustStore};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signet-coqui/tests/data")
        .join(name)
}

fn snr_db(reference: &[f32], got: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&r| f64::from(r).powi(2)).sum();
    let noise: f64 = reference
        .iter()
        .zip(got)
        .map(|(&r, &g)| (f64::from(r) - f64::from(g)).powi(2))
        .sum();
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (signal / noise).log10()
}

#[test]
fn coqui_vits_matches_coqui_tts_at_noise_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some("coqui-tiny".into());
    let out = tmp.path().join("coqui-tiny");
    signet_coqui::import_coqui(
        &data("vits_tiny.pth"),
        &data("vits_tiny.json"),
        &out,
        &options,
        &key,
    )
    .unwrap();
    let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
    let bundle = signet_registry::verify_bundle_dir(&out, &trust).unwrap();
    let vits = Vits::from_bundle(&bundle).unwrap();

    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("vits_tiny.expected.json")).unwrap()).unwrap();
    let ids: Vec<i64> = expected["sentences"][0]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let reference: Vec<f32> = std::fs::read(data("vits_tiny.ref.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(
        reference.len() as u64,
        expected["samples"].as_u64().unwrap()
    );

    let got = vits.infer(&ids, None, &Scales::DETERMINISTIC).unwrap();
    assert_eq!(got.samples.len(), reference.len(), "length differs");
    let snr = snr_db(&reference, &got.samples);
    eprintln!(
        "Coqui VITS parity: {} samples, SNR {snr:.1} dB",
        reference.len()
    );
    assert!(snr >= 40.0, "SNR {snr:.1} dB is below 40 dB");
    let frames: i64 = got.durations.iter().sum();
    assert_eq!(frames as usize * vits.hop_length(), reference.len());
}
