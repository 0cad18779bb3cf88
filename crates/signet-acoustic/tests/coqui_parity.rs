//! Signet's VITS on a Coqui checkpoint imported by signet-coqui, against coqui-tts 0.28 on the
//! same weights and token ids with all noise off (`inference_noise_scale` and
//! `inference_noise_scale_dp` 0). The fixture, written by `scripts/coqui_vits_fixtures.py`,
//! lives with the importer in `crates/signet-coqui/tests/data`.

use std::path::{Path, PathBuf};

use signet_acoustic::{Conditioning, Scales, Vits};
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

    let (expected, ids) = expected_and_first_ids("vits_tiny");
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

/// Imports the fixture `stem` (its side files found beside its config, as in a Coqui model
/// folder) and loads it.
fn import_and_load(stem: &str) -> (tempfile::TempDir, signet_registry::VerifiedBundle, Vits) {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some(stem.replace('_', "-"));
    let out = tmp.path().join(stem);
    signet_coqui::import_coqui(
        &data(&format!("{stem}.pth")),
        &data(&format!("{stem}.json")),
        &out,
        &options,
        &key,
    )
    .unwrap();
    let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
    let bundle = signet_registry::verify_bundle_dir(&out, &trust).unwrap();
    let vits = Vits::from_bundle(&bundle).unwrap();
    (tmp, bundle, vits)
}

/// `stem.expected.json`, and the token ids of its first sentence.
fn expected_and_first_ids(stem: &str) -> (serde_json::Value, Vec<i64>) {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data(&format!("{stem}.expected.json"))).unwrap())
            .unwrap();
    let ids = expected["sentences"][0]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    (expected, ids)
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Runs every reference of `stem.expected.json`: the speaker and language picked by name
/// through the bundle's maps, as `signet speak --speaker/--language` would, and the output
/// compared with coqui-tts's. Returns the SNR of each.
fn speaker_parity(stem: &str) -> Vec<(String, f64)> {
    let (_tmp, bundle, vits) = import_and_load(stem);
    let voice = &bundle.manifest().voice;
    let (expected, ids) = expected_and_first_ids(stem);
    let mut out = Vec::new();
    let mut lengths = std::collections::BTreeSet::new();
    for r in expected["references"].as_array().unwrap() {
        let label = r["label"].as_str().unwrap();
        let speaker = voice.speaker_id_map[r["speaker"].as_str().unwrap()];
        if let Some(id) = r["speaker_id"].as_i64() {
            assert_eq!(speaker, id, "{label}: the speakers file's id");
        }
        let language = r["language"].as_str().map(|l| voice.language_id_map[l]);
        // (coqui-tts reports language 0 for a voice of one language, which the model ignores.)
        if let (Some(id), Some(_)) = (r["language_id"].as_i64(), language) {
            assert_eq!(language, Some(id), "{label}: the language-ids file's id");
        }
        let reference = read_f32(&data(&format!("{stem}.ref.{label}.f32")));
        assert_eq!(reference.len() as u64, r["samples"].as_u64().unwrap());
        let who = Conditioning {
            speaker: Some(speaker),
            language,
        };
        let got = vits.infer_with(&ids, who, &Scales::DETERMINISTIC).unwrap();
        assert_eq!(
            got.samples.len(),
            reference.len(),
            "{label}: length differs"
        );
        let snr = snr_db(&reference, &got.samples);
        eprintln!(
            "{stem} {label}: {} samples, SNR {snr:.1} dB",
            reference.len()
        );
        assert!(snr >= 40.0, "{label}: SNR {snr:.1} dB is below 40 dB");
        lengths.insert(reference.len());
        out.push((label.to_owned(), snr));
    }
    // The conditions change the durations: a model that ignored them could not match.
    assert!(lengths.len() > 1, "every reference has the same length");
    out
}

#[test]
fn coqui_multi_speaker_vits_matches_coqui_tts_per_speaker() {
    let snrs = speaker_parity("vits_vctk_tiny");
    assert_eq!(snrs.len(), 3);
}

#[test]
fn coqui_yourtts_vits_matches_coqui_tts_per_speaker_and_language() {
    let snrs = speaker_parity("vits_yourtts_tiny");
    assert_eq!(snrs.len(), 5);
}

#[test]
fn coqui_multilingual_voice_refuses_a_language_it_lacks() {
    let (_tmp, _bundle, vits) = import_and_load("vits_yourtts_tiny");
    assert_eq!(vits.num_languages(), 3);
    assert_eq!(vits.num_speakers(), 3);
    let who = Conditioning {
        speaker: Some(0),
        language: Some(3),
    };
    let err = vits
        .infer_with(&[1, 2, 3], who, &Scales::DETERMINISTIC)
        .unwrap_err();
    assert!(
        matches!(
            err,
            signet_acoustic::AcousticError::LanguageOutOfRange {
                language: 3,
                num_languages: 3
            }
        ),
        "{err}"
    );
    // No language: the first (id 0), as documented.
    let default = vits
        .infer(&[1, 2, 3], Some(1), &Scales::DETERMINISTIC)
        .unwrap();
    let first = vits
        .infer_with(
            &[1, 2, 3],
            Conditioning {
                speaker: Some(1),
                language: Some(0),
            },
            &Scales::DETERMINISTIC,
        )
        .unwrap();
    assert_eq!(default, first);
}

/// A signed manifest that names a language outside the model's language table is refused at
/// load, before any weight is used.
#[test]
fn a_manifest_language_outside_the_table_is_refused_at_load() {
    let (tmp, bundle, _) = import_and_load("vits_yourtts_tiny");
    let mut manifest = bundle.manifest().clone();
    manifest.voice.language_id_map.insert("xx".into(), 3);
    manifest.files.clear();
    let weights = std::fs::read(tmp.path().join("vits_yourtts_tiny/weights.safetensors")).unwrap();
    let out = tmp.path().join("tampered");
    signet_registry::write_bundle(
        &out,
        manifest,
        &[(signet_registry::WEIGHTS_FILE, &weights)],
        &crate::support::key(),
    )
    .unwrap();
    let verified = signet_registry::verify_bundle_dir(&out, &crate::support::trust()).unwrap();
    let err = Vits::from_bundle(&verified).unwrap_err();
    assert!(
        matches!(
            err,
            signet_acoustic::AcousticError::ConfigMismatch {
                key: "language_id_map",
                manifest: 3,
                config: 3
            }
        ),
        "{err}"
    );
}

/// A Coqui VITS whose encoder ran at half the output rate (`encoder_sample_rate` 8000 under
/// 16 kHz, `interpolate_z`): the latent is stretched twice before the decoder. At natural
/// speed, and slowed down eight times so that the decoder runs in several windows, each
/// stretched on its own.
#[test]
fn coqui_vits_with_a_lower_encoder_rate_matches_coqui_tts() {
    let stem = "vits_upsampled_tiny";
    let (_tmp, _bundle, vits) = import_and_load(stem);
    assert_eq!(vits.config().latent_upsampling, Some(2));
    // 16 samples per decoder frame, two decoder frames per latent frame.
    assert_eq!(vits.hop_length(), 32);
    let (expected, ids) = expected_and_first_ids(stem);
    let cases = [
        ("ref.f32", 1.0f32, &expected["samples"]),
        ("ref.slow.f32", 8.0, &expected["slow"]["samples"]),
    ];
    for (file, length_scale, samples) in cases {
        let reference = read_f32(&data(&format!("{stem}.{file}")));
        assert_eq!(reference.len() as u64, samples.as_u64().unwrap());
        let scales = Scales {
            length_scale,
            ..Scales::DETERMINISTIC
        };
        let synthesis = vits.start(&ids, None, &scales).unwrap();
        let windows = synthesis.windows_left();
        assert_eq!(synthesis.samples_total(), reference.len());
        drop(synthesis);
        let got = vits.infer(&ids, None, &scales).unwrap();
        assert_eq!(got.samples.len(), reference.len(), "{file}: length differs");
        let frames: i64 = got.durations.iter().sum();
        assert_eq!(frames as usize * vits.hop_length(), reference.len());
        let snr = snr_db(&reference, &got.samples);
        let worst = reference
            .iter()
            .zip(&got.samples)
            .map(|(r, g)| (r - g).abs())
            .fold(0.0f32, f32::max);
        eprintln!(
            "{stem} at length scale {length_scale}: {} samples in {windows} decoder window(s), \
             SNR {snr:.1} dB, largest difference {worst:e}",
            reference.len()
        );
        assert!(snr >= 40.0, "{file}: SNR {snr:.1} dB is below 40 dB");
        if length_scale > 1.0 {
            assert!(windows > 2, "the slow case must span several windows");
        }
    }
}
