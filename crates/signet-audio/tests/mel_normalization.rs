//! Spectrogram normalization against coqui-tts's `AudioProcessor` on the same values
//! (tests/data/coqui/mel_normalization.json, written by scripts/coqui_fixtures.py --stages).

use serde_json::Value;
use signet_audio::{MelNormalization, MelStats};

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/coqui/mel_normalization.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The settings of one case, as an importer copies them from Coqui's `audio` config.
fn settings(case: &Value) -> MelNormalization {
    let s = &case["settings"];
    MelNormalization {
        num_mels: case["audio"]["num_mels"].as_u64().unwrap() as usize,
        signal_norm: s["signal_norm"].as_bool().unwrap(),
        symmetric_norm: s["symmetric_norm"].as_bool().unwrap(),
        max_norm: s["max_norm"].as_f64().unwrap(),
        clip_norm: s["clip_norm"].as_bool().unwrap(),
        min_level_db: s["min_level_db"].as_f64().unwrap(),
        ref_level_db: s["ref_level_db"].as_f64().unwrap(),
        mel_stats: case.get("mel_mean").map(|m| MelStats {
            mel_mean: floats(m),
            mel_std: floats(&case["mel_std"]),
        }),
    }
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * w.abs().max(1.0);
        assert!((f64::from(g) - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn mel_normalization_matches_coqui_in_every_mode() {
    let f = fixture();
    let db: Vec<f32> = floats(&f["db"]).into_iter().map(|x| x as f32).collect();
    let cases = f["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 6);
    for (name, case) in cases {
        let s = settings(case);
        let mut mel = db.clone();
        s.normalize(&mut mel).unwrap();
        assert_close(
            &mel,
            &floats(&case["normalized"]),
            &format!("{name} normalize"),
        );
        let mut back: Vec<f32> = floats(&case["normalized"])
            .into_iter()
            .map(|x| x as f32)
            .collect();
        s.denormalize(&mut back).unwrap();
        assert_close(
            &back,
            &floats(&case["denormalized"]),
            &format!("{name} denormalize"),
        );
    }
}

#[test]
fn renormalizing_between_stages_equals_normalizing_for_the_vocoder() {
    let f = fixture();
    let cases = f["cases"].as_object().unwrap();
    // The acoustic model's settings do not clip, so its denormalization recovers the dB values.
    let from = settings(&cases["symmetric_noclip"]);
    let acoustic_out: Vec<f32> = floats(&cases["symmetric_noclip"]["normalized"])
        .into_iter()
        .map(|x| x as f32)
        .collect();
    for (name, case) in cases {
        let to = settings(case);
        let mut mel = acoustic_out.clone();
        to.renormalize(&from, &mut mel).unwrap();
        assert_close(&mel, &floats(&case["normalized"]), &format!("to {name}"));
    }
}

#[test]
fn mel_settings_deserialize_with_coquis_defaults() {
    let s: MelNormalization = serde_json::from_str(r#"{"num_mels": 80}"#).unwrap();
    assert_eq!(s, MelNormalization::coqui_default(80));
    assert!(serde_json::from_str::<MelNormalization>(r#"{"num_mels": 80, "mystery": 1}"#).is_err());
}

#[test]
fn coqui_audio_settings_are_read_from_config_json() {
    let f = fixture();
    for (name, case) in f["cases"].as_object().unwrap() {
        let mut audio = case["audio"].clone();
        // Keys of feature extraction are ignored.
        audio["fft_size"] = 1024.into();
        audio["mel_fmax"] = serde_json::Value::Null;
        let stats = case.get("mel_mean").map(|m| MelStats {
            mel_mean: floats(m),
            mel_std: floats(&case["mel_std"]),
        });
        if stats.is_some() {
            audio["stats_path"] = "scale_stats.npy".into();
            // The statistics file is needed.
            assert!(MelNormalization::from_coqui_audio(&audio, None).is_err());
        }
        let read = MelNormalization::from_coqui_audio(&audio, stats).unwrap();
        assert_eq!(read, settings(case), "{name}");
    }
    let mut audio = f["cases"]["off"]["audio"].clone();
    assert!(MelNormalization::from_coqui_audio(
        &audio,
        Some(MelStats {
            mel_mean: vec![0.0; 10],
            mel_std: vec![1.0; 10]
        })
    )
    .is_err());
    audio["max_norm"] = "four".into();
    assert!(MelNormalization::from_coqui_audio(&audio, None).is_err());
    audio["max_norm"] = (-4.0).into();
    assert!(MelNormalization::from_coqui_audio(&audio, None).is_err());
}
