//! Synthetic voices with random weights: multi-speaker conditioning, the deterministic duration
//! predictor, and determinism with the noise off.

use anyhow::Result;
use signet_acoustic::{AcousticError, Scales, Vits};

use crate::support;

const IDS: [i64; 9] = [1, 0, 5, 0, 7, 0, 11, 0, 2];

#[test]
fn each_speaker_has_its_own_deterministic_voice() -> Result<()> {
    let cfg = support::tiny_config(3, true, "1");
    let bundle = support::tiny_bundle(&cfg, 7)?;
    let vits = Vits::from_bundle(&bundle.verified()?)?;
    assert_eq!(vits.num_speakers(), 3);
    assert_eq!(vits.hop_length(), 8);
    let mut outputs = Vec::new();
    for speaker in 0..3 {
        let a = vits.infer(&IDS, Some(speaker), &Scales::DETERMINISTIC)?;
        let b = vits.infer(&IDS, Some(speaker), &Scales::DETERMINISTIC)?;
        assert_eq!(a, b, "speaker {speaker} is not deterministic");
        assert!(!a.samples.is_empty());
        assert!(a.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        assert_eq!(a.samples.len() as i64, a.durations.iter().sum::<i64>() * 8);
        outputs.push(a.samples);
    }
    for i in 0..3 {
        for j in i + 1..3 {
            assert_ne!(
                outputs[i], outputs[j],
                "speakers {i} and {j} sound the same"
            );
        }
    }
    // No speaker given: speaker 0, as Piper does.
    assert_eq!(
        vits.infer(&IDS, None, &Scales::DETERMINISTIC)?.samples,
        outputs[0]
    );
    Ok(())
}

#[test]
fn out_of_range_speakers_are_refused() -> Result<()> {
    let cfg = support::tiny_config(3, true, "2");
    let bundle = support::tiny_bundle(&cfg, 8)?;
    let vits = Vits::from_bundle(&bundle.verified()?)?;
    for speaker in [3, 4, -1, i64::MAX, i64::MIN] {
        match vits.infer(&IDS, Some(speaker), &Scales::DETERMINISTIC) {
            Err(AcousticError::SpeakerOutOfRange {
                speaker: s,
                num_speakers: 3,
            }) => assert_eq!(s, speaker),
            other => panic!("speaker {speaker}: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn a_speaker_for_a_single_speaker_voice_is_refused() -> Result<()> {
    let cfg = support::tiny_config(1, true, "2");
    let bundle = support::tiny_bundle(&cfg, 9)?;
    let vits = Vits::from_bundle(&bundle.verified()?)?;
    assert!(matches!(
        vits.infer(&IDS, Some(0), &Scales::DETERMINISTIC),
        Err(AcousticError::SingleSpeakerVoice { speaker: 0 })
    ));
    assert!(vits.infer(&IDS, None, &Scales::DETERMINISTIC).is_ok());
    Ok(())
}

#[test]
fn deterministic_duration_predictor_voices_load_and_run() -> Result<()> {
    for speakers in [1, 2] {
        let cfg = support::tiny_config(speakers, false, "2");
        let bundle = support::tiny_bundle(&cfg, 10)?;
        let vits = Vits::from_bundle(&bundle.verified()?)?;
        let speaker = (speakers > 1).then_some(1);
        let a = vits.infer(&IDS, speaker, &Scales::DETERMINISTIC)?;
        // noise_w has no effect on the deterministic predictor.
        let noisy_w = Scales {
            noise_w: 1.0,
            ..Scales::DETERMINISTIC
        };
        let b = vits.infer(&IDS, speaker, &noisy_w)?;
        assert_eq!(a, b);
        assert_eq!(a.durations.len(), IDS.len());
    }
    Ok(())
}

#[test]
fn noise_follows_the_seed_and_length_scale_stretches() -> Result<()> {
    let cfg = support::tiny_config(1, true, "2");
    let bundle = support::tiny_bundle(&cfg, 11)?;
    let vits = Vits::from_bundle(&bundle.verified()?)?;
    let noisy = Scales {
        noise_scale: 0.667,
        length_scale: 1.0,
        noise_w: 0.8,
    };
    signet_acoustic::manual_seed(42);
    let a = vits.infer(&IDS, None, &noisy)?;
    signet_acoustic::manual_seed(42);
    let b = vits.infer(&IDS, None, &noisy)?;
    assert_eq!(a, b, "same seed, same output");
    let plain = vits.infer(&IDS, None, &Scales::DETERMINISTIC)?;
    let slow = vits.infer(
        &IDS,
        None,
        &Scales {
            length_scale: 3.0,
            ..Scales::DETERMINISTIC
        },
    )?;
    let frames = |d: &[i64]| d.iter().sum::<i64>();
    assert!(frames(&slow.durations) > frames(&plain.durations));
    Ok(())
}
