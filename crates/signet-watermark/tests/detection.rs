//! Detection: marked audio is found with its payload, unmarked audio and
//! other keys are not, and the mark survives common transforms.

use signet_watermark::{detect, embed, Detection, Key, Payload, WatermarkError};

use crate::common::{power, resample, speech, Rng, RATE};

const PAYLOAD: Payload = Payload(0xC0DE);

fn key() -> Key {
    Key::from_bytes(*b"signet watermark test key 000001")
}

fn marked(seconds: f64, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let clean = speech(seconds, RATE, seed);
    let marked = embed(&clean, RATE, &key(), PAYLOAD).unwrap();
    (clean, marked)
}

/// Detects in `audio` at `rate` and asserts the mark and payload are found.
fn assert_found(audio: &[f32], rate: u32, what: &str) -> Detection {
    let d = detect(audio, rate, &key()).unwrap();
    eprintln!(
        "{what}: score {:.2} / {:.2}, speed {:.3}, offset {:.3}, payload {:.2}",
        d.score, d.threshold, d.speed, d.offset_seconds, d.payload_score
    );
    assert!(d.present, "{what}: not detected: {d:?}");
    // The payload, when given, is right; it is withheld when unclear.
    assert!(
        d.payload.is_none() || d.payload == Some(PAYLOAD),
        "{what}: wrong payload: {d:?}"
    );
    assert!(d.false_positive < 1e-6, "{what}: {d:?}");
    d
}

#[test]
fn marked_speech_is_detected_with_its_payload_speed_and_offset() {
    for seed in 100..103 {
        let (_, audio) = marked(6.0, seed);
        let d = assert_found(&audio, RATE, "plain");
        assert!((d.speed - 1.0).abs() < 0.003, "{d:?}");
        let phase = d.offset_seconds.min(1.5 - d.offset_seconds);
        assert!(phase < 0.05, "offset {d:?}");
        assert_eq!(d.key_id, key().id());
    }
}

#[test]
fn payload_is_read_from_ten_seconds_of_marked_speech() {
    for (seed, payload) in [
        (180u64, Payload(0xC0DE)),
        (181, Payload(0)),
        (182, Payload(0xFFFF)),
    ] {
        let clean = speech(10.0, RATE, seed);
        let audio = embed(&clean, RATE, &key(), payload).unwrap();
        let d = detect(&audio, RATE, &key()).unwrap();
        eprintln!(
            "payload {payload:?}: score {:.2}, payload {:.2}",
            d.score, d.payload_score
        );
        assert!(d.present, "{d:?}");
        assert_eq!(d.payload, Some(payload), "{d:?}");
    }
}

#[test]
fn unmarked_windows_and_wrong_keys_are_never_detected() {
    // 500 windows of 2 to 6 s cut from unmarked speech-like audio.
    let mut rng = Rng::new(4242);
    let mut worst = f64::NEG_INFINITY;
    let long: Vec<Vec<f32>> = (0..10).map(|s| speech(30.0, RATE, 1000 + s)).collect();
    for i in 0..500 {
        let source = &long[i % long.len()];
        let len = (rng.range(2.0, 6.0) * f64::from(RATE)) as usize;
        let start = (rng.uniform() * (source.len() - len) as f64) as usize;
        let d = detect(&source[start..start + len], RATE, &key()).unwrap();
        assert!(!d.present, "false positive on unmarked window {i}: {d:?}");
        assert!(d.payload.is_none());
        worst = worst.max(d.score);
    }
    // Marked audio, searched with 50 other keys.
    let (_, audio) = marked(6.0, 7);
    for k in 0..50u8 {
        let other = Key::from_bytes([k; 32]);
        let d = detect(&audio, RATE, &other).unwrap();
        assert!(!d.present, "wrong key {k} detected: {d:?}");
        worst = worst.max(d.score);
    }
    eprintln!("highest score without the mark: {worst:.2}");
}

#[test]
fn mark_survives_resampling_to_16_khz_and_back() {
    for seed in 110..112 {
        let (_, audio) = marked(5.0, seed);
        let down = resample(&audio, 16_000.0 / f64::from(RATE));
        assert_found(&down, 16_000, "at 16 kHz");
        let back = resample(&down, f64::from(RATE) / 16_000.0);
        assert_found(&back, RATE, "16 kHz and back");
    }
}

#[test]
fn mark_survives_volume_changes_of_6_db() {
    let (_, audio) = marked(5.0, 120);
    for db in [-6.0f32, 6.0] {
        let g = 10f32.powf(db / 20.0);
        let scaled: Vec<f32> = audio.iter().map(|s| s * g).collect();
        assert_found(&scaled, RATE, &format!("volume {db} dB"));
    }
}

#[test]
fn mark_survives_8_bit_quantization() {
    for seed in 130..132 {
        let (_, audio) = marked(5.0, seed);
        let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let q: Vec<f32> = audio
            .iter()
            .map(|s| (s / peak * 127.0).round() / 127.0 * peak)
            .collect();
        assert_found(&q, RATE, "8-bit");
    }
}

#[test]
fn mark_survives_white_noise_at_20_db_snr_over_8_seconds() {
    let (_, audio) = marked(8.0, 140);
    let mut rng = Rng::new(9);
    let sigma = (power(&audio) / 100.0).sqrt();
    let noisy: Vec<f32> = audio
        .iter()
        .map(|&s| s + (sigma * rng.normal()) as f32)
        .collect();
    assert_found(&noisy, RATE, "noise 20 dB SNR");
}

#[test]
fn mark_survives_speed_changes_of_4_percent() {
    let (_, audio) = marked(6.0, 150);
    for speed in [0.96, 1.04] {
        // Played `speed` times faster at the same rate.
        let changed = resample(&audio, 1.0 / speed);
        let d = assert_found(&changed, RATE, &format!("speed {speed}"));
        assert!((d.speed - speed).abs() <= 0.006, "speed {speed}: {d:?}");
    }
}

#[test]
fn mark_survives_a_3_second_crop_from_the_middle() {
    for seed in 160..165 {
        let (_, audio) = marked(8.0, seed);
        let start = (3.3 * f64::from(RATE)) as usize;
        let crop = &audio[start..start + 3 * RATE as usize];
        let d = assert_found(crop, RATE, "3 s crop");
        // 3.3 s into the mark is 0.3 s into its 1.5 s period.
        let diff = (d.offset_seconds - 0.3).abs();
        assert!(diff.min(1.5 - diff) < 0.05, "offset {d:?}");
    }
}

#[test]
fn mark_survives_concatenation_with_unmarked_speech() {
    let (_, audio) = marked(4.0, 170);
    let mut joined = speech(5.0, RATE, 171);
    joined.extend(&audio);
    joined.extend(speech(3.0, RATE, 172));
    assert_found(&joined, RATE, "between unmarked speech");
    // A long recording: the marked part found by the windowed search.
    let mut long = speech(25.0, RATE, 173);
    long.extend(&audio);
    long.extend(speech(20.0, RATE, 174));
    let d = assert_found(&long, RATE, "inside 49 s");
    assert!(d.hypotheses > 21 * 36, "{d:?}");
}

#[test]
fn garbage_input_gives_clear_errors() {
    let k = key();
    match detect(&[], RATE, &k) {
        Err(WatermarkError::TooShort { seconds, .. }) => assert_eq!(seconds, 0.0),
        other => panic!("{other:?}"),
    }
    let short = speech(0.9, RATE, 1);
    let err = detect(&short, RATE, &k).unwrap_err();
    assert!(matches!(err, WatermarkError::TooShort { .. }));
    assert!(err.to_string().contains("at least 1 s"), "{err}");
    let mut nan = speech(2.0, RATE, 1);
    nan[5] = f32::NAN;
    assert!(matches!(
        detect(&nan, RATE, &k),
        Err(WatermarkError::NonFiniteSample { index: 5, .. })
    ));
    assert!(matches!(
        detect(&speech(2.0, RATE, 1), 1_000_000, &k),
        Err(WatermarkError::UnsupportedRate { .. })
    ));
    // Silence, a constant, full-scale noise and huge values: an answer, no panic.
    let mut rng = Rng::new(3);
    let inputs: Vec<Vec<f32>> = vec![
        vec![0.0; 2 * RATE as usize],
        vec![0.5; 2 * RATE as usize],
        (0..2 * RATE).map(|_| rng.range(-1.0, 1.0) as f32).collect(),
        (0..2 * RATE)
            .map(|i| if i % 2 == 0 { f32::MAX } else { f32::MIN })
            .collect(),
        (0..2 * RATE)
            .map(|i| if i % 997 == 0 { 1e-38 } else { 0.0 })
            .collect(),
    ];
    for (i, x) in inputs.iter().enumerate() {
        let d = detect(x, RATE, &k).unwrap();
        assert!(!d.present, "input {i}: {d:?}");
        assert!(
            d.score.is_finite() || d.score == f64::NEG_INFINITY,
            "input {i}: {d:?}"
        );
    }
    // Embedding extreme finite values gives finite samples.
    for x in &inputs {
        let marked = embed(x, RATE, &k, PAYLOAD).unwrap();
        assert_eq!(marked.len(), x.len());
        assert!(marked.iter().all(|s| s.is_finite()));
    }
}

#[test]
fn mark_is_found_at_8_16_and_48_khz() {
    for (rate, seed) in [(8_000u32, 190u64), (16_000, 191), (48_000, 192)] {
        let clean = speech(6.0, rate, seed);
        let audio = embed(&clean, rate, &key(), PAYLOAD).unwrap();
        assert_found(&audio, rate, &format!("{rate} Hz"));
        assert!(
            !detect(&clean, rate, &key()).unwrap().present,
            "{rate} Hz unmarked"
        );
    }
}

#[test]
fn shortest_and_extreme_rate_inputs_are_answered() {
    for rate in [8_000u32, 192_000] {
        let x = speech(1.0, rate, 5);
        let d = detect(&x, rate, &key()).unwrap();
        assert!(!d.present, "{rate} Hz: {d:?}");
    }
}
