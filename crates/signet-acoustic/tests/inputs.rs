//! Input validation: every unusable input is a specific error, never a panic.

use anyhow::Result;
use signet_acoustic::{AcousticError, Scales, Vits, MAX_IDS};

use crate::support;

fn tiny() -> Result<Vits> {
    let cfg = support::tiny_config(1, true, "2");
    let bundle = support::tiny_bundle(&cfg, 3)?;
    Ok(Vits::from_bundle(&bundle.verified()?)?)
}

#[test]
fn bad_ids_are_refused() -> Result<()> {
    let vits = tiny()?;
    let s = Scales::DETERMINISTIC;
    assert!(matches!(
        vits.infer(&[], None, &s),
        Err(AcousticError::EmptyInput)
    ));
    assert!(matches!(
        vits.infer(&[1, 0, 12, 2], None, &s),
        Err(AcousticError::IdOutOfRange {
            index: 2,
            id: 12,
            n_vocab: 12
        })
    ));
    assert!(matches!(
        vits.infer(&[1, -1], None, &s),
        Err(AcousticError::IdOutOfRange {
            index: 1,
            id: -1,
            ..
        })
    ));
    assert!(matches!(
        vits.infer(&[i64::MIN], None, &s),
        Err(AcousticError::IdOutOfRange { index: 0, .. })
    ));
    let long = vec![0i64; MAX_IDS + 1];
    assert!(matches!(
        vits.infer(&long, None, &s),
        Err(AcousticError::TooManyIds { len, limit: MAX_IDS }) if len == MAX_IDS + 1
    ));
    // One id is enough.
    assert!(!vits.infer(&[0], None, &s)?.samples.is_empty());
    Ok(())
}

#[test]
fn bad_scales_are_refused() -> Result<()> {
    let vits = tiny()?;
    let d = Scales::DETERMINISTIC;
    let cases = [
        (
            "noise_scale",
            Scales {
                noise_scale: f32::NAN,
                ..d
            },
        ),
        (
            "noise_scale",
            Scales {
                noise_scale: -0.1,
                ..d
            },
        ),
        (
            "noise_scale",
            Scales {
                noise_scale: f32::INFINITY,
                ..d
            },
        ),
        (
            "length_scale",
            Scales {
                length_scale: 0.0,
                ..d
            },
        ),
        (
            "length_scale",
            Scales {
                length_scale: -1.0,
                ..d
            },
        ),
        (
            "length_scale",
            Scales {
                length_scale: f32::NAN,
                ..d
            },
        ),
        (
            "noise_w",
            Scales {
                noise_w: f32::NEG_INFINITY,
                ..d
            },
        ),
        ("noise_w", Scales { noise_w: -2.0, ..d }),
    ];
    for (field, scales) in cases {
        match vits.infer(&[1, 0, 2], None, &scales) {
            Err(AcousticError::InvalidScale { name, .. }) => assert_eq!(name, field),
            other => panic!("{scales:?}: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn a_huge_length_scale_hits_the_frame_cap() -> Result<()> {
    let vits = tiny()?;
    let s = Scales {
        length_scale: 1e30,
        ..Scales::DETERMINISTIC
    };
    assert!(matches!(
        vits.infer(&[1, 0, 2], None, &s),
        Err(AcousticError::OutputTooLong { .. })
    ));
    // A tiny one still yields at least one frame per id (ceil of a positive number).
    let s = Scales {
        length_scale: 1e-30,
        ..Scales::DETERMINISTIC
    };
    let out = vits.infer(&[1, 0, 2], None, &s)?;
    assert!(out.durations.iter().all(|&d| d <= 1));
    Ok(())
}

#[test]
fn vits_is_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Vits>();
}

#[test]
fn concurrent_calls_agree_with_sequential_ones() -> Result<()> {
    let vits = tiny()?;
    let inputs: Vec<Vec<i64>> = (1..=4)
        .map(|n| (0..n * 37).map(|i| (i * 7 + n) % 12).collect())
        .collect();
    let want = inputs
        .iter()
        .map(|ids| Ok(vits.infer(ids, None, &Scales::DETERMINISTIC)?.samples))
        .collect::<Result<Vec<_>>>()?;
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|t| {
                let (vits, inputs, want, barrier) = (&vits, &inputs, &want, &barrier);
                s.spawn(move || -> Result<()> {
                    barrier.wait();
                    for round in 0..3 {
                        let k = (t + round) % inputs.len();
                        let got = vits.infer(&inputs[k], None, &Scales::DETERMINISTIC)?;
                        assert_eq!(got.samples, want[k], "thread {t}, input {k}");
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| anyhow::anyhow!("a thread panicked"))?)
    })?;
    // One replica per call that ever ran at once, and no more.
    assert!((1..=3).contains(&vits.replicas()), "{}", vits.replicas());
    Ok(())
}

#[test]
fn the_longest_accepted_input_runs() -> Result<()> {
    let vits = tiny()?;
    let ids: Vec<i64> = (0..MAX_IDS as i64).map(|i| i % 12).collect();
    let out = vits.infer(&ids, None, &Scales::DETERMINISTIC)?;
    assert_eq!(out.durations.len(), MAX_IDS);
    assert_eq!(
        out.samples.len() as i64,
        out.durations.iter().sum::<i64>() * vits.hop_length() as i64
    );
    Ok(())
}

#[test]
fn a_long_sentence_comes_in_windows_that_join_into_the_whole() -> Result<()> {
    let vits = tiny()?;
    // A long input: several decoding windows, the first a short one.
    let ids: Vec<i64> = (0..1_500).map(|i| (i * 5 + 1) % 12).collect();
    let whole = vits.infer(&ids, None, &Scales::DETERMINISTIC)?;
    let mut synthesis = vits.start(&ids, None, &Scales::DETERMINISTIC)?;
    assert_eq!(synthesis.durations(), whole.durations.as_slice());
    assert_eq!(synthesis.samples_total(), whole.samples.len());
    let windows: Vec<Vec<f32>> = synthesis.by_ref().collect::<Result<_, _>>()?;
    assert!(windows.len() > 2, "{} windows", windows.len());
    let first = windows[0].len();
    assert_eq!(
        first,
        signet_acoustic::FIRST_WINDOW_FRAMES * vits.hop_length()
    );
    assert!(windows[1].len() > first);
    assert_eq!(windows.concat(), whole.samples);
    // A window in progress holds a replica; dropping it mid-way gives it back.
    let mut partial = vits.start(&ids, None, &Scales::DETERMINISTIC)?;
    assert!(partial.next().is_some());
    drop(partial);
    assert_eq!(vits.replicas(), 1);
    Ok(())
}
