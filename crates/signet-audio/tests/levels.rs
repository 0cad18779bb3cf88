//! Level processing: measurements, normalization, volume that never clips,
//! silence trimming and pauses.

use proptest::prelude::*;
use signet_audio::{Audio, AudioError, MAX_SILENCE_MS};

use crate::common::sine;

fn audio(samples: Vec<f32>) -> Audio {
    Audio::new(samples, 16_000).unwrap()
}

#[test]
fn peak_and_rms() {
    let a = audio(sine(500.0, 0.5, 16_000, 1.0));
    assert!((a.peak() - 0.5).abs() < 1e-3);
    assert!((a.rms() - 0.5 / 2f32.sqrt()).abs() < 1e-3);
    let a = audio(vec![0.0, -0.8, 0.6]);
    assert_eq!(a.peak(), 0.8);
    assert!((a.rms() - (1.0f32 / 3.0).sqrt() * 1.0).abs() < 1e-6);
    let empty = audio(vec![]);
    assert_eq!((empty.peak(), empty.rms()), (0.0, 0.0));
}

#[test]
fn normalize_reaches_the_target() {
    let a = audio(vec![0.1, -0.2, 0.05]);
    let n = a.normalize_peak(0.9).unwrap();
    assert_eq!(n.peak(), 0.9);
    assert!((n.samples()[0] - 0.45).abs() < 1e-6);
    // Loud input is turned down.
    let n = audio(vec![3.0, -1.5]).normalize_peak(1.0).unwrap();
    assert_eq!(n.samples(), &[1.0, -0.5]);
    // Silence stays silence.
    let z = audio(vec![0.0; 10]);
    assert_eq!(z.normalize_peak(0.5).unwrap(), z);
    for target in [0.0, -0.5, 1.01, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(a.normalize_peak(target), Err(AudioError::PeakTarget { .. })),
            "{target}"
        );
    }
}

#[test]
fn volume_never_clips_and_says_what_it_did() {
    let a = audio(vec![0.25, -0.5]);
    let (out, change) = a.with_volume(0.5).unwrap();
    assert_eq!(out.samples(), &[0.125, -0.25]);
    assert!(!change.limited);
    assert_eq!((change.requested, change.applied), (0.5, 0.5));

    let (out, change) = a.with_volume(10.0).unwrap();
    assert!(change.limited);
    assert_eq!(change.requested, 10.0);
    assert_eq!(change.applied, 2.0);
    assert_eq!(out.samples(), &[0.5, -1.0]);

    // Input above full scale is turned down even at unity gain.
    let (out, change) = audio(vec![2.0]).with_volume(1.0).unwrap();
    assert!(change.limited);
    assert_eq!(out.samples(), &[1.0]);

    let (out, change) = a.with_volume(0.0).unwrap();
    assert_eq!(out.peak(), 0.0);
    assert!(!change.limited);
    for gain in [-1.0, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(a.with_volume(gain), Err(AudioError::Gain { .. })),
            "{gain}"
        );
    }
}

#[test]
fn trims_leading_and_trailing_silence_with_margin() {
    // 100 ms silence, 10 ms sound, 200 ms near-silence at 16 kHz.
    let mut s = vec![0.0f32; 1_600];
    s.extend(vec![0.5f32; 160]);
    s.extend(vec![0.001f32; 3_200]);
    let a = audio(s);
    let t = a.trim_silence(0.01, 0).unwrap();
    assert_eq!(t.samples(), &[0.5; 160][..]);
    let t = a.trim_silence(0.01, 20).unwrap();
    assert_eq!(t.samples().len(), 320 + 160 + 320);
    assert_eq!(t.samples()[320], 0.5);
    // The margin is bounded by the audio itself.
    let t = a.trim_silence(0.01, 10_000).unwrap();
    assert_eq!(t, a);
    // All silence trims to nothing; nothing is sound above a high threshold.
    assert!(a.trim_silence(0.9, 50).unwrap().samples().is_empty());
    for threshold in [-0.1, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            a.trim_silence(threshold, 0),
            Err(AudioError::SilenceThreshold { .. })
        ));
    }
}

#[test]
fn silence_for_pauses() {
    let p = Audio::silence(22_050, 250).unwrap();
    assert_eq!(p.sample_rate(), 22_050);
    assert_eq!(p.samples().len(), 5_512);
    assert!(p.samples().iter().all(|&s| s == 0.0));
    assert!(Audio::silence(22_050, 0).unwrap().samples().is_empty());
    assert_eq!(
        Audio::silence(48_000, MAX_SILENCE_MS)
            .unwrap()
            .samples()
            .len(),
        2_880_000
    );
    assert!(matches!(
        Audio::silence(48_000, MAX_SILENCE_MS + 1),
        Err(AudioError::SilenceTooLong {
            max_ms: MAX_SILENCE_MS,
            ..
        })
    ));
    assert!(matches!(
        Audio::silence(100, 10),
        Err(AudioError::SampleRate { rate: 100, .. })
    ));
    let mut speech = audio(vec![0.5; 4]);
    speech.append(&Audio::silence(16_000, 1).unwrap()).unwrap();
    assert_eq!(speech.samples().len(), 20);
}

fn finite_samples() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(
        prop_oneof![
            -1.0f32..1.0,
            prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
            Just(f32::MAX),
            Just(-f32::MAX),
        ],
        0..500,
    )
}

proptest! {
    #[test]
    fn processing_keeps_audio_finite(
        samples in finite_samples(),
        target in 1e-6f32..=1.0,
        gain in prop_oneof![0.0f32..4.0, prop::num::f32::POSITIVE | prop::num::f32::ZERO],
        threshold in 0.0f32..1.0,
        keep_ms in 0u32..100,
    ) {
        let a = audio(samples);
        let finite = |x: &Audio| x.samples().iter().all(|s| s.is_finite());
        prop_assert!(a.peak().is_finite());
        prop_assert!(a.rms().is_finite());
        prop_assert!(a.rms() <= a.peak() * (1.0 + 1e-5));
        let n = a.normalize_peak(target).unwrap();
        prop_assert!(finite(&n));
        prop_assert!(n.peak() <= target);
        let (v, change) = a.with_volume(gain).unwrap();
        prop_assert!(finite(&v));
        prop_assert!(v.peak() <= 1.0);
        prop_assert!(change.applied <= change.requested);
        prop_assert!(finite(&a.trim_silence(threshold, keep_ms).unwrap()));
    }

    #[test]
    fn normalize_is_idempotent(samples in finite_samples(), target in 1e-6f32..=1.0) {
        let once = audio(samples).normalize_peak(target).unwrap();
        let twice = once.normalize_peak(target).unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn trim_never_lengthens(samples in finite_samples(), threshold in 0.0f32..2.0, keep_ms in any::<u32>()) {
        let a = audio(samples);
        let t = a.trim_silence(threshold, keep_ms).unwrap();
        prop_assert!(t.samples().len() <= a.samples().len());
        prop_assert_eq!(t.sample_rate(), a.sample_rate());
        // What is kept is a contiguous run of the input.
        let found = t.samples().is_empty()
            || a.samples().windows(t.samples().len()).any(|w| w == t.samples());
        prop_assert!(found);
    }
}
