//! Embedding: streaming equals batch, quality bounds, refused input.

use signet_watermark::{embed, Embedder, Key, Payload, WatermarkError};

use crate::common::{band_energy, segmental_snr, speech, Rng, RATE};

#[test]
fn streaming_in_random_pieces_equals_batch_exactly() {
    let key = Key::from_bytes([5; 32]);
    for (seed, rate) in [(1u64, RATE), (2, 16_000), (3, 48_000), (4, 8_000)] {
        let audio = speech(3.3, rate, seed);
        let batch = embed(&audio, rate, &key, Payload(0x1234)).unwrap();
        assert_eq!(batch.len(), audio.len());
        let mut rng = Rng::new(seed * 77);
        for split in 0..4 {
            let mut embedder = Embedder::new(rate, &key, Payload(0x1234)).unwrap();
            let mut streamed = Vec::new();
            let mut rest = &audio[..];
            while !rest.is_empty() {
                // Pieces from 0 samples to a few frames, some of one sample.
                let max = if split == 0 { 3 } else { 9000 };
                let take = ((rng.uniform() * max as f64) as usize).min(rest.len());
                let (piece, tail) = rest.split_at(take);
                streamed.extend(embedder.push(piece).unwrap());
                rest = tail;
            }
            streamed.extend(embedder.finish());
            assert_eq!(streamed.len(), batch.len(), "rate {rate}, split {split}");
            assert!(
                streamed
                    .iter()
                    .zip(&batch)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "streamed output differs from batch at rate {rate}, split {split}"
            );
        }
    }
}

#[test]
fn marked_speech_keeps_segmental_snr_above_15_db() {
    let key = Key::from_bytes([6; 32]);
    for seed in 10..13 {
        let audio = speech(6.0, RATE, seed);
        let marked = embed(&audio, RATE, &key, Payload(seed as u16)).unwrap();
        let snr = segmental_snr(&audio, &marked, RATE);
        eprintln!("seed {seed}: segmental SNR {snr:.1} dB");
        assert!(snr >= 15.0, "segmental SNR {snr:.1} dB for seed {seed}");
    }
}

#[test]
fn mark_changes_each_band_by_at_most_its_peak_gain_and_leaves_outside_bands_alone() {
    let key = Key::from_bytes([8; 32]);
    let audio = speech(4.0, RATE, 21);
    let marked = embed(&audio, RATE, &key, Payload(0xA5A5)).unwrap();
    // A few bands across the range, 1/24 octave or 40 Hz wide, with their
    // peak gains: 0.5 dB up to 500 Hz, 2 dB from 1 kHz.
    for (lo, hi, peak) in [
        (400.0, 440.0, 0.5),
        (1000.0, 1040.0, 2.0),
        (2000.0, 2058.0, 2.0),
        (5000.0, 5146.0, 2.0),
    ] {
        let a = band_energy(&audio, RATE, lo, hi);
        let b = band_energy(&marked, RATE, lo, hi);
        let db = 10.0 * (b / a).log10();
        assert!(db.abs() <= peak, "{lo}-{hi} Hz changed by {db:.2} dB");
    }
    // Below 300 Hz and above 8 kHz nothing is marked.
    for (lo, hi) in [(100.0, 250.0), (8500.0, 10000.0)] {
        let a = band_energy(&audio, RATE, lo, hi);
        let b = band_energy(&marked, RATE, lo, hi);
        let db = 10.0 * (b / a).log10();
        assert!(
            db.abs() < 0.1,
            "unmarked band {lo}-{hi} Hz changed by {db:.2} dB"
        );
    }
}

#[test]
fn silence_stays_silent_and_empty_input_gives_empty_output() {
    let key = Key::from_bytes([9; 32]);
    let silent = vec![0.0f32; 30_000];
    let marked = embed(&silent, RATE, &key, Payload(1)).unwrap();
    assert!(marked.iter().all(|&s| s == 0.0));
    assert!(embed(&[], RATE, &key, Payload(1)).unwrap().is_empty());
    let mut stream = Embedder::new(RATE, &key, Payload(1)).unwrap();
    assert!(stream.push(&[]).unwrap().is_empty());
    assert!(stream.finish().is_empty());
}

#[test]
fn non_finite_samples_and_bad_rates_are_refused_with_their_cause() {
    let key = Key::from_bytes([9; 32]);
    let mut audio = speech(1.0, RATE, 3);
    audio[777] = f32::NAN;
    match embed(&audio, RATE, &key, Payload(0)) {
        Err(WatermarkError::NonFiniteSample { index: 777, .. }) => {}
        other => panic!("expected NonFiniteSample at 777, got {other:?}"),
    }
    // The streaming embedder counts from the start of the stream and keeps
    // its state when it refuses a piece.
    let clean = speech(1.0, RATE, 3);
    let mut stream = Embedder::new(RATE, &key, Payload(0)).unwrap();
    let mut out = stream.push(&clean[..1000]).unwrap();
    match stream.push(&[0.0, f32::INFINITY]) {
        Err(WatermarkError::NonFiniteSample { index: 1001, .. }) => {}
        other => panic!("expected NonFiniteSample at 1001, got {other:?}"),
    }
    out.extend(stream.push(&clean[1000..]).unwrap());
    out.extend(stream.finish());
    assert_eq!(out, embed(&clean, RATE, &key, Payload(0)).unwrap());
    for rate in [0, 7_999, 192_001, u32::MAX] {
        assert!(matches!(
            embed(&clean, rate, &key, Payload(0)),
            Err(WatermarkError::UnsupportedRate { .. })
        ));
        assert!(Embedder::new(rate, &key, Payload(0)).is_err());
    }
    let msg = embed(&clean, 4_000, &key, Payload(0))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("4000 Hz") && msg.contains("resample"), "{msg}");
}

#[test]
fn key_id_is_stable_and_debug_hides_the_key() {
    let key = Key::from_bytes([0xAB; 32]);
    assert_eq!(key.id(), Key::from_bytes([0xAB; 32]).id());
    assert_ne!(key.id(), Key::from_bytes([0xAC; 32]).id());
    assert_eq!(key.id().to_string().len(), 16);
    let shown = format!("{key:?}");
    assert!(
        shown.contains(&key.id().to_string()) && !shown.contains("171, 171"),
        "{shown}"
    );
    let a = Key::generate().unwrap();
    let b = Key::generate().unwrap();
    assert_ne!(a.as_bytes(), b.as_bytes());
}

#[test]
fn drain_gives_every_sample_and_equals_batch_when_silence_follows() {
    let key = Key::from_bytes([9; 32]);
    let rate = 16_000;
    let first = speech(2.1, rate, 11);
    let second = speech(1.7, rate, 12);
    // A pause longer than a frame and a half between the two: draining
    // after the first piece is then exact.
    let pause = vec![0.0f32; rate as usize / 2];
    let whole: Vec<f32> = first.iter().chain(&pause).chain(&second).copied().collect();
    let batch = embed(&whole, rate, &key, Payload(7)).unwrap();

    let mut embedder = Embedder::new(rate, &key, Payload(7)).unwrap();
    let mut out = embedder.push(&first).unwrap();
    out.extend(embedder.drain());
    assert_eq!(
        out.len(),
        first.len(),
        "a drain returns every sample received"
    );
    assert_eq!(embedder.position(), first.len() as u64);
    let mut rest = embedder.push(&pause).unwrap();
    rest.extend(embedder.push(&second).unwrap());
    rest.extend(embedder.drain());
    assert_eq!(rest.len(), pause.len() + second.len());
    out.extend(rest);
    assert!(embedder.drain().is_empty(), "nothing is returned twice");
    assert_eq!(out.len(), batch.len());
    assert!(out
        .iter()
        .zip(&batch)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn drain_without_pause_differs_only_before_the_drain_point() {
    let key = Key::from_bytes([9; 32]);
    let rate = 16_000;
    let first = speech(2.0, rate, 21);
    let second = speech(2.0, rate, 22);
    let whole: Vec<f32> = first.iter().chain(&second).copied().collect();
    let batch = embed(&whole, rate, &key, Payload(7)).unwrap();
    let mut embedder = Embedder::new(rate, &key, Payload(7)).unwrap();
    let mut out = embedder.push(&first).unwrap();
    out.extend(embedder.drain());
    out.extend(embedder.push(&second).unwrap());
    out.extend(embedder.drain());
    assert_eq!(out.len(), batch.len());
    // A frame at 16 kHz is 1024 samples: only the frame and a half before
    // the drain point may differ.
    let differ: Vec<usize> = (0..out.len()).filter(|&i| out[i] != batch[i]).collect();
    assert!(
        !differ.is_empty(),
        "the look-ahead drain must assume silence"
    );
    assert!(differ
        .iter()
        .all(|&i| i + 1536 >= first.len() && i < first.len()));
}

#[test]
fn key_file_text_round_trips_and_refuses_anything_else() {
    let key = Key::from_bytes([0xA5; 32]);
    let text = key.to_file_text();
    assert_eq!(text.len(), 65);
    assert_eq!(Key::from_file_text(&text).unwrap(), key);
    assert_eq!(
        Key::from_file_text(&format!("  {}\n\n", text.trim())).unwrap(),
        key
    );
    for bad in [
        "",
        "abc",
        &text[..63],
        &format!("{}0", text.trim()),
        &text.replace('a', "g"),
    ] {
        assert!(matches!(
            Key::from_file_text(bad),
            Err(WatermarkError::KeyFormat { .. })
        ));
    }
}

#[test]
fn a_marked_click_stays_within_20_ms() {
    // The gain curve has no step between bands, so the filter each frame
    // applies is short: a click comes out as a click. A gain stepping from
    // band to band rings across the frame and leaves only 33-36 dB between
    // the click and what follows it 20 ms away.
    let key = Key::from_bytes([9; 32]);
    let reach = (0.020 * f64::from(RATE)) as usize;
    for at in [13_267usize, 24_921, 30_000] {
        let mut audio = vec![0.0f32; 2 * RATE as usize];
        audio[at] = 0.5;
        let marked = embed(&audio, RATE, &key, Payload(0x0F0F)).unwrap();
        let energy = |x: &[f32]| x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
        let total = energy(&marked);
        let far = energy(&marked[..at - reach]) + energy(&marked[at + reach + 1..]);
        let db = 10.0 * (far / total).log10();
        assert!(db < -45.0, "click at {at}: {db:.1} dB beyond 20 ms");
    }
}
