//! Resampling: frequency, length, level and timing are kept for every pair of
//! the common rates; the output is always finite.

use proptest::prelude::*;
use signet_audio::{Audio, AudioError, MAX_RESAMPLE_RATE, MIN_RESAMPLE_RATE};

use crate::common::sine;

/// Every standard rate from 8 to 48 kHz; the pairs cover up- and down-sampling
/// by integer, simple and awkward (44.1 kHz family against 48 kHz family) ratios.
const RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// Frequency from the interpolated times of rising zero crossings, over the
/// middle 80 % of the signal (away from the edges' transients).
fn frequency(samples: &[f32], rate: u32) -> f64 {
    let n = samples.len();
    let (lo, hi) = (n / 10, n - n / 10);
    let mut crossings = Vec::new();
    for i in lo..hi - 1 {
        let (a, b) = (f64::from(samples[i]), f64::from(samples[i + 1]));
        if a < 0.0 && b >= 0.0 {
            crossings.push(i as f64 + a / (a - b));
        }
    }
    assert!(
        crossings.len() > 10,
        "too few crossings: {}",
        crossings.len()
    );
    let periods = (crossings.len() - 1) as f64;
    let span = crossings[crossings.len() - 1] - crossings[0];
    periods * f64::from(rate) / span
}

fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn every_rate_pair_keeps_frequency_length_and_level() {
    for &from in &RATES {
        let input = sine(440.0, 0.5, from, 0.5);
        let audio = Audio::new(input.clone(), from).unwrap();
        for &to in &RATES {
            let out = audio.resample(to).unwrap();
            assert_eq!(out.sample_rate(), to);
            let ideal = input.len() as f64 * f64::from(to) / f64::from(from);
            let len = out.samples().len() as f64;
            assert!(
                (len - ideal).abs() <= 1.0,
                "{from}->{to}: {len} samples, ideal {ideal}"
            );

            let f = frequency(out.samples(), to);
            assert!((f - 440.0).abs() / 440.0 < 0.005, "{from}->{to}: {f} Hz");

            let n = out.samples().len();
            let middle = &out.samples()[n / 10..n - n / 10];
            let level = rms(middle);
            let expected = 0.5 / 2f64.sqrt();
            assert!(
                (level - expected).abs() / expected < 0.02,
                "{from}->{to}: rms {level}"
            );
            assert!(out.samples().iter().all(|s| s.is_finite()));
        }
    }
}

#[test]
fn high_tones_inside_the_band_survive_downsampling() {
    // 3 kHz is inside the 8 kHz output's passband.
    let audio = Audio::new(sine(3_000.0, 0.5, 48_000, 0.3), 48_000).unwrap();
    let out = audio.resample(8_000).unwrap();
    let f = frequency(out.samples(), 8_000);
    assert!((f - 3_000.0).abs() / 3_000.0 < 0.005, "{f} Hz");
}

#[test]
fn tones_above_the_new_nyquist_are_removed() {
    // 6 kHz cannot exist at 8 kHz; it must not fold back as a 2 kHz alias.
    let audio = Audio::new(sine(6_000.0, 0.5, 48_000, 0.3), 48_000).unwrap();
    let out = audio.resample(8_000).unwrap();
    let n = out.samples().len();
    let level = rms(&out.samples()[n / 10..n - n / 10]);
    assert!(level < 0.5 / 2f64.sqrt() * 1e-3, "alias at rms {level}");
}

#[test]
fn timing_is_kept() {
    // A click near 0.25 s stays where it was, within half an output sample
    // (its position measured by parabolic interpolation around the peak).
    for &from in &RATES {
        for &to in &RATES {
            let mut samples = vec![0.0f32; from as usize / 2];
            samples[from as usize / 4] = 1.0;
            let out = Audio::new(samples, from).unwrap().resample(to).unwrap();
            let (at, _) = out
                .samples()
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap();
            let ideal = (from / 4) as f64 * f64::from(to) / f64::from(from);
            let o = out.samples();
            let (a, b, c) = (f64::from(o[at - 1]), f64::from(o[at]), f64::from(o[at + 1]));
            let frac = at as f64 + 0.5 * (a - c) / (a - 2.0 * b + c);
            assert!(
                (frac - ideal).abs() <= 0.55,
                "{from}->{to}: click at {frac:.3}, ideal {ideal:.3}"
            );
        }
    }
}

#[test]
fn odd_sizes_and_extreme_rates() {
    for len in [0usize, 1, 2, 3, 1023, 1024, 1025, 4097] {
        let audio = Audio::new(vec![0.25; len], 44_100).unwrap();
        let out = audio.resample(16_000).unwrap();
        let ideal = len as f64 * 16_000.0 / 44_100.0;
        assert!(
            (out.samples().len() as f64 - ideal).abs() <= 1.0,
            "len {len}"
        );
    }
    let audio = Audio::new(sine(200.0, 0.5, 192_000, 0.2), 192_000).unwrap();
    let out = audio.resample(MIN_RESAMPLE_RATE).unwrap();
    assert_eq!(out.samples().len(), 1_600);
    let f = frequency(out.samples(), MIN_RESAMPLE_RATE);
    assert!((f - 200.0).abs() / 200.0 < 0.005, "{f} Hz");
}

#[test]
fn same_rate_is_a_copy_and_targets_are_bounded() {
    let audio = Audio::new(vec![0.1, -0.2, 0.3], 24_000).unwrap();
    assert_eq!(audio.resample(24_000).unwrap(), audio);
    for rate in [
        0,
        MIN_RESAMPLE_RATE - 1,
        MAX_RESAMPLE_RATE + 1,
        96_000,
        u32::MAX,
    ] {
        assert!(matches!(
            audio.resample(rate),
            Err(AudioError::SampleRate { rate: r, min: MIN_RESAMPLE_RATE, max: MAX_RESAMPLE_RATE }) if r == rate
        ));
    }
}

fn finite_sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        -1.0f32..1.0,
        prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
        Just(f32::MAX),
        Just(-f32::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn output_is_finite_and_sized(
        samples in prop::collection::vec(finite_sample(), 0..3000),
        from in prop::sample::select(vec![8_000u32, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000, 192_000]),
        to in MIN_RESAMPLE_RATE..=MAX_RESAMPLE_RATE,
    ) {
        let len = samples.len();
        let out = Audio::new(samples, from).unwrap().resample(to).unwrap();
        prop_assert!(out.samples().iter().all(|s| s.is_finite()));
        let ideal = len as f64 * f64::from(to) / f64::from(from);
        prop_assert!((out.samples().len() as f64 - ideal).abs() <= 1.0);
    }
}
