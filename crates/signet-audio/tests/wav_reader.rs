//! The hardened WAV reader: valid files of each supported layout, and one
//! malformed file per attack, each with the error it must give.

use proptest::prelude::*;
use signet_audio::{Audio, AudioError, FourCc, SampleFormat, WavLimits};

use crate::common::{fix_riff_size, fmt, fmt_extensible, fmt_raw, pcm16, riff, small_wav};

fn read(bytes: &[u8]) -> Result<Audio, AudioError> {
    Audio::from_wav(bytes, &WavLimits::default())
}

fn err(bytes: &[u8]) -> AudioError {
    match read(bytes) {
        Ok(a) => panic!("malformed file accepted: {} samples", a.samples().len()),
        Err(e) => e,
    }
}

// ---- valid files -------------------------------------------------------

#[test]
fn round_trips_what_to_wav_writes() {
    let samples: Vec<f32> = (0..999).map(|i| ((i as f32) * 0.03).sin() * 0.7).collect();
    let audio = Audio::new(samples.clone(), 22_050).unwrap();
    let p = signet_audio::Provenance::new("Signet", "0.1.0", "v", "ab".repeat(32)).unwrap();

    let back = read(&audio.to_wav(SampleFormat::F32, &p).unwrap()).unwrap();
    assert_eq!(back, audio);

    let back = read(&audio.to_wav(SampleFormat::S16, &p).unwrap()).unwrap();
    assert_eq!(back.sample_rate(), 22_050);
    assert_eq!(back.samples().len(), samples.len());
    for (a, b) in back.samples().iter().zip(&samples) {
        assert!((a - b).abs() <= 2.0 / 32_767.0, "{a} vs {b}");
    }
}

#[test]
fn scales_every_integer_width() {
    // Half of full scale, negative, in each width.
    let cases: [(u16, Vec<u8>); 4] = [
        (8, vec![64u8]), // unsigned: 64 - 128 = -64 = -0.5
        (16, (-16_384i16).to_le_bytes().to_vec()),
        (24, vec![0x00, 0x00, 0xC0]), // -0x400000
        (32, (-0x4000_0000i32).to_le_bytes().to_vec()),
    ];
    for (bits, data) in cases {
        let a = read(&riff(&[
            (b"fmt ", &fmt(1, 1, 8_000, bits)),
            (b"data", &data),
        ]))
        .unwrap();
        assert_eq!(a.samples(), &[-0.5], "{bits} bits");
    }
}

#[test]
fn reads_float_and_extensible() {
    let data: Vec<u8> = [0.25f32, -0.75]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let a = read(&riff(&[
        (b"fmt ", &fmt(3, 1, 48_000, 32)),
        (b"data", &data),
    ]))
    .unwrap();
    assert_eq!(a.samples(), &[0.25, -0.75]);

    let a = read(&riff(&[
        (b"fmt ", &fmt_extensible(3, 1, 48_000, 32, 32)),
        (b"data", &data),
    ]))
    .unwrap();
    assert_eq!(a.samples(), &[0.25, -0.75]);

    let data = [0x00, 0x00, 0x40, 0x00, 0x00, 0xC0];
    let a = read(&riff(&[
        (b"fmt ", &fmt_extensible(1, 1, 44_100, 24, 24)),
        (b"data", &data),
    ]))
    .unwrap();
    assert_eq!(a.samples(), &[0.5, -0.5]);
}

#[test]
fn downmixes_channels_by_averaging() {
    let data = pcm16(&[16_384, -16_384, 16_384, 16_384, 0, -32_768]);
    let a = read(&riff(&[
        (b"fmt ", &fmt(1, 2, 16_000, 16)),
        (b"data", &data),
    ]))
    .unwrap();
    assert_eq!(a.samples(), &[0.0, 0.5, -0.5]);

    let eight: Vec<i16> = (0..8).map(|c| c * 1024).collect();
    let data = pcm16(&eight);
    let a = read(&riff(&[
        (b"fmt ", &fmt(1, 8, 16_000, 16)),
        (b"data", &data),
    ]))
    .unwrap();
    assert_eq!(a.samples().len(), 1);
    assert!((a.samples()[0] - 3.5 * 1024.0 / 32_768.0).abs() < 1e-6);
}

#[test]
fn skips_unknown_chunks_with_odd_padding() {
    let data = pcm16(&[100, -100]);
    // Odd-sized LIST before fmt, odd-sized junk between fmt and data, fact after data.
    let file = riff(&[
        (b"LIST", b"abc"),
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"junk", b"x"),
        (b"data", &data),
        (b"fact", &[2, 0, 0, 0]),
    ]);
    assert_eq!(read(&file).unwrap().samples().len(), 2);

    // An odd last chunk whose pad byte the writer left out.
    let mut file = riff(&[
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"data", &data),
        (b"note", b"x"),
    ]);
    file.pop();
    fix_riff_size(&mut file);
    assert_eq!(read(&file).unwrap().samples().len(), 2);

    // An 8-bit data chunk of odd length, padded.
    let file = riff(&[(b"fmt ", &fmt(1, 1, 8_000, 8)), (b"data", &[128, 128, 128])]);
    assert_eq!(read(&file).unwrap().samples(), &[0.0, 0.0, 0.0]);
}

#[test]
fn empty_data_is_empty_audio() {
    let a = read(&small_wav(&[])).unwrap();
    assert!(a.samples().is_empty());
    assert_eq!(a.sample_rate(), 16_000);
}

// ---- malformed files ---------------------------------------------------

#[test]
fn truncated_at_every_length() {
    let file = small_wav(&[1, -2, 3, -4, 5]);
    for n in 0..file.len() {
        match err(&file[..n]) {
            AudioError::WavTooShort { len } => assert!(n < 12 && len == n, "length {n}"),
            AudioError::WavTruncated {
                declared,
                available,
            } => {
                assert!(n >= 12, "length {n}");
                assert_eq!((declared, available), (file.len() as u64, n as u64));
            }
            e => panic!("length {n}: unexpected {e}"),
        }
    }
    assert!(read(&file).is_ok());
}

#[test]
fn lying_data_size() {
    // The data chunk claims 1000 bytes; the RIFF size matches the real file.
    let mut file = small_wav(&[1, 2, 3]);
    let at = file.len() - 6 - 4;
    file[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
    match err(&file) {
        AudioError::ChunkOverrun {
            id,
            declared,
            available,
            ..
        } => {
            assert_eq!((id, declared, available), (FourCc(*b"data"), 1000, 6));
        }
        e => panic!("unexpected {e}"),
    }
    // Both the data size and the RIFF size lie: a truncated file.
    let declared_total = file.len() as u64 - 6 + 1000;
    file[4..8].copy_from_slice(&((declared_total - 8) as u32).to_le_bytes());
    assert!(matches!(
        err(&file),
        AudioError::WavTruncated { declared, .. } if declared == declared_total
    ));
}

#[test]
fn huge_chunk_and_riff_sizes_allocate_nothing() {
    let mut file = riff(&[
        (b"LIST", &[0; 4]),
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"data", &[]),
    ]);
    file[16..20].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    assert!(matches!(
        err(&file),
        AudioError::ChunkOverrun { id, offset: 12, declared: 0xFFFF_FFF0, .. } if id == FourCc(*b"LIST")
    ));

    // The largest size short of "unknown" (0xFFFFFFFF, a stream: see
    // `streams_of_unknown_size_run_to_the_end`).
    let mut file = small_wav(&[0; 4]);
    file[4..8].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    assert!(matches!(
        err(&file),
        AudioError::WavTruncated { declared, .. } if declared == u64::from(u32::MAX - 1) + 8
    ));
    // 0xFFFFFFFF is a streaming writer's "unknown": the form ends with the input.
    file[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Audio::from_wav(&file, &WavLimits::default()).is_ok());
}

#[test]
fn streams_of_unknown_size_run_to_the_end() {
    let provenance =
        signet_audio::Provenance::new("Signet", "0.1.0", "v", "ab".repeat(32)).unwrap();
    let audio = Audio::new(vec![0.5, -0.25, 0.125, 0.0], 16_000).unwrap();
    let mut w =
        signet_audio::WavWriter::unsized_stream(Vec::new(), 16_000, SampleFormat::S16, &provenance)
            .unwrap();
    w.write(&audio).unwrap();
    w.write(&audio).unwrap();
    let stream = w.end_stream().unwrap();
    assert_eq!(stream[4..8], u32::MAX.to_le_bytes());
    let back = read(&stream).unwrap();
    assert_eq!(back.samples().len(), 8);
    let info = signet_audio::WavInfo::read(&stream, &WavLimits::default()).unwrap();
    assert_eq!(info.frames, 8);
    assert_eq!(info.provenance.as_ref(), Some(&provenance));
    // A stream cut inside a sample is refused; cut between samples, it is
    // the audio so far.
    assert!(matches!(
        err(&stream[..stream.len() - 1]),
        AudioError::PartialFrame { .. }
    ));
    assert_eq!(
        read(&stream[..stream.len() - 2]).unwrap().samples().len(),
        7
    );
    // Unknown data size in a file of known size is still an overrun.
    let mut sized = audio.to_wav(SampleFormat::S16, &provenance).unwrap();
    let at = sized.len() - 8 - 4;
    sized[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(err(&sized), AudioError::ChunkOverrun { .. }));
}

#[test]
fn trailing_bytes_and_size_cap() {
    let mut file = small_wav(&[1, 2]);
    let len = file.len() as u64;
    file.extend_from_slice(b"tail");
    assert!(matches!(
        err(&file),
        AudioError::TrailingBytes { riff_end, extra: 4 } if riff_end == len
    ));

    let file = small_wav(&[1, 2]);
    let limits = WavLimits::default().with_max_bytes(16);
    assert!(matches!(
        Audio::from_wav(&file, &limits),
        Err(AudioError::WavTooLarge { size, max: 16 }) if size == file.len() as u64
    ));
}

#[test]
fn wrong_magic() {
    let mut file = small_wav(&[1]);
    file[..4].copy_from_slice(b"RIFX");
    assert!(matches!(err(&file), AudioError::NotRiff { found } if found == FourCc(*b"RIFX")));
    file[..4].copy_from_slice(b"RF64");
    assert!(matches!(err(&file), AudioError::NotRiff { .. }));
    file[..4].copy_from_slice(b"RIFF");
    file[8..12].copy_from_slice(b"AVI ");
    assert!(matches!(err(&file), AudioError::NotWave { found } if found == FourCc(*b"AVI ")));
}

#[test]
fn truncated_chunk_header() {
    let mut file = small_wav(&[1]);
    file.extend_from_slice(b"LIS");
    fix_riff_size(&mut file);
    let offset = file.len() as u64 - 3;
    assert!(matches!(
        err(&file),
        AudioError::ChunkHeaderTruncated { offset: o, available: 3 } if o == offset
    ));
}

/// Whether an error is the one expected.
type Check = fn(&AudioError) -> bool;

#[test]
fn missing_duplicate_and_misordered_chunks() {
    let data = pcm16(&[1, 2]);
    let f = fmt(1, 1, 16_000, 16);
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (
            riff(&[(b"data", &data)]),
            |e| matches!(e, AudioError::MissingChunk { id } if *id == FourCc(*b"fmt ")),
        ),
        (
            riff(&[(b"fmt ", &f)]),
            |e| matches!(e, AudioError::MissingChunk { id } if *id == FourCc(*b"data")),
        ),
        (riff(&[]), |e| matches!(e, AudioError::MissingChunk { .. })),
        (riff(&[(b"data", &data), (b"fmt ", &f)]), |e| {
            matches!(
                e,
                AudioError::FmtAfterData {
                    fmt_offset: 24,
                    data_offset: 12
                }
            )
        }),
        (
            riff(&[(b"fmt ", &f), (b"fmt ", &f), (b"data", &data)]),
            |e| matches!(e, AudioError::DuplicateChunk { id, offset: 36 } if *id == FourCc(*b"fmt ")),
        ),
        (
            riff(&[(b"fmt ", &f), (b"data", &data), (b"data", &data)]),
            |e| matches!(e, AudioError::DuplicateChunk { id, .. } if *id == FourCc(*b"data")),
        ),
    ];
    for (i, (file, check)) in cases.iter().enumerate() {
        let e = err(file);
        assert!(check(&e), "case {i}: unexpected {e}");
    }
}

/// A mono-sized data chunk for a format; `align` bytes of silence.
fn file_with(fmt_body: &[u8], align: usize) -> Vec<u8> {
    riff(&[(b"fmt ", fmt_body), (b"data", &vec![0u8; align.max(1) * 2])])
}

#[test]
fn bad_channel_counts() {
    assert!(matches!(
        err(&file_with(&fmt(1, 0, 16_000, 16), 2)),
        AudioError::ChannelCount {
            channels: 0,
            max: 8
        }
    ));
    assert!(matches!(
        err(&file_with(&fmt(1, 9, 16_000, 16), 18)),
        AudioError::ChannelCount {
            channels: 9,
            max: 8
        }
    ));
    assert!(matches!(
        err(&file_with(&fmt(1, u16::MAX, 16_000, 16), 2)),
        AudioError::ChannelCount {
            channels: u16::MAX,
            ..
        }
    ));
    let limits = WavLimits::default().with_max_channels(2);
    assert!(matches!(
        Audio::from_wav(&file_with(&fmt(1, 3, 16_000, 16), 6), &limits),
        Err(AudioError::ChannelCount {
            channels: 3,
            max: 2
        })
    ));
    // The ceiling cannot be raised.
    let limits = WavLimits::default().with_max_channels(100);
    assert!(matches!(
        Audio::from_wav(&file_with(&fmt(1, 9, 16_000, 16), 18), &limits),
        Err(AudioError::ChannelCount {
            channels: 9,
            max: 8
        })
    ));
}

#[test]
fn bad_sample_rates() {
    for rate in [0, 1, 7_999, 192_001, u32::MAX] {
        let e = err(&file_with(&fmt(1, 1, rate, 16), 2));
        assert!(
            matches!(e, AudioError::SampleRate { rate: r, .. } if r == rate),
            "{rate}: {e}"
        );
    }
    for rate in [8_000, 192_000] {
        assert!(read(&file_with(&fmt(1, 1, rate, 16), 2)).is_ok());
    }
}

#[test]
fn unsupported_formats_and_widths() {
    for tag in [0, 2, 0x55, 0x11, 0xFFFF] {
        assert!(
            matches!(err(&file_with(&fmt(tag, 1, 16_000, 16), 2)), AudioError::UnsupportedFormat { tag: t } if t == tag),
            "tag {tag}"
        );
    }
    for (tag, bits) in [
        (1, 0),
        (1, 4),
        (1, 12),
        (1, 40),
        (1, 64),
        (3, 16),
        (3, 64),
        (3, 8),
    ] {
        let align = usize::from(bits / 8);
        let e = err(&file_with(&fmt(tag, 1, 16_000, bits), align));
        assert!(
            matches!(e, AudioError::UnsupportedBits { tag: t, bits: b } if t == tag && b == bits),
            "{tag}/{bits}: {e}"
        );
    }
    // Extensible: foreign sub-format, 20 valid bits in a 24-bit container.
    let mut ext = fmt_extensible(1, 1, 16_000, 16, 16);
    ext[24] = 0x02;
    assert!(
        matches!(err(&file_with(&ext, 2)), AudioError::UnsupportedSubFormat { guid } if guid[0] == 2)
    );
    let mut ext = fmt_extensible(1, 1, 16_000, 16, 16);
    ext[39] = 0;
    assert!(matches!(
        err(&file_with(&ext, 2)),
        AudioError::UnsupportedSubFormat { .. }
    ));
    let ext = fmt_extensible(1, 1, 16_000, 24, 20);
    assert!(matches!(
        err(&file_with(&ext, 3)),
        AudioError::UnsupportedBits { tag: 1, bits: 20 }
    ));
}

#[test]
fn short_fmt_chunks() {
    let f = fmt(1, 1, 16_000, 16);
    assert!(matches!(
        err(&file_with(&f[..14], 2)),
        AudioError::FmtTooShort {
            size: 14,
            min: 16,
            tag: 1
        }
    ));
    assert!(matches!(
        err(&file_with(&[], 2)),
        AudioError::FmtTooShort {
            size: 0,
            min: 16,
            tag: 0
        }
    ));
    let ext = fmt_extensible(1, 1, 16_000, 16, 16);
    assert!(matches!(
        err(&file_with(&ext[..18], 2)),
        AudioError::FmtTooShort {
            size: 18,
            min: 40,
            ..
        }
    ));
    let mut ext = fmt_extensible(1, 1, 16_000, 16, 16);
    ext[16..18].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(
        err(&file_with(&ext, 2)),
        AudioError::FmtTooShort { min: 40, .. }
    ));
}

#[test]
fn bad_block_alignment_and_partial_frames() {
    let e = err(&file_with(&fmt_raw(1, 2, 16_000, 2, 16), 4));
    assert!(
        matches!(
            e,
            AudioError::BlockAlign {
                declared: 2,
                expected: 4
            }
        ),
        "{e}"
    );
    let e = err(&file_with(&fmt_raw(1, 1, 16_000, 0, 16), 2));
    assert!(
        matches!(
            e,
            AudioError::BlockAlign {
                declared: 0,
                expected: 2
            }
        ),
        "{e}"
    );

    let file = riff(&[(b"fmt ", &fmt(1, 2, 16_000, 16)), (b"data", &[0u8; 6])]);
    assert!(matches!(
        err(&file),
        AudioError::PartialFrame {
            data_len: 6,
            block_align: 4
        }
    ));
    let file = riff(&[(b"fmt ", &fmt(1, 1, 16_000, 24)), (b"data", &[0u8; 5])]);
    assert!(matches!(
        err(&file),
        AudioError::PartialFrame {
            data_len: 5,
            block_align: 3
        }
    ));
}

#[test]
fn non_finite_float_samples() {
    let data: Vec<u8> = [0.0f32, f32::NAN]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let file = riff(&[(b"fmt ", &fmt(3, 1, 16_000, 32)), (b"data", &data)]);
    assert!(matches!(
        err(&file),
        AudioError::NonFiniteSample { index: 1, .. }
    ));
    let data: Vec<u8> = [f32::INFINITY]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let file = riff(&[(b"fmt ", &fmt(3, 1, 16_000, 32)), (b"data", &data)]);
    assert!(matches!(
        err(&file),
        AudioError::NonFiniteSample { index: 0, .. }
    ));
}

#[test]
fn huge_float_channels_downmix_finitely() {
    let data: Vec<u8> = [f32::MAX, f32::MAX]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let file = riff(&[(b"fmt ", &fmt(3, 2, 16_000, 32)), (b"data", &data)]);
    let a = read(&file).unwrap();
    assert!(a.samples()[0].is_finite());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = read(&bytes);
    }

    #[test]
    fn corrupted_valid_files_never_panic(
        edits in prop::collection::vec((0usize..80, any::<u8>()), 1..6),
        cut in 0usize..184,
    ) {
        let mut file = riff(&[
            (b"fmt ", &fmt_extensible(1, 2, 16_000, 16, 16)),
            (b"LIST", b"odd"),
            (b"data", &pcm16(&[1, 2, 3, 4, 5, 6])),
        ]);
        for (at, byte) in edits {
            if let Some(b) = file.get_mut(at) {
                *b = byte;
            }
        }
        // About half the cases are also truncated.
        file.truncate(cut);
        if let Ok(a) = read(&file) {
            prop_assert!(a.samples().iter().all(|s| s.is_finite()));
        }
    }
}

/// Interleaved integer samples of `bits` bits and their expected mono mix.
fn int_frames(bits: u16, channels: u16, raw: &[i32]) -> (Vec<i32>, Vec<f32>) {
    let max = 1i64 << (bits - 1);
    let samples: Vec<i32> = raw.iter().map(|&r| (i64::from(r) % max) as i32).collect();
    let ch = usize::from(channels);
    let frames = samples.len() / ch;
    let samples = samples[..frames * ch].to_vec();
    let mono = samples
        .chunks(ch)
        .map(|f| f.iter().map(|&s| s as f32 / max as f32 / ch as f32).sum())
        .collect();
    (samples, mono)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever hound writes within the limits reads back, downmixed.
    #[test]
    fn reads_what_hound_writes(
        channels in 1u16..=8,
        bits in prop::sample::select(vec![8u16, 16, 24, 32]),
        float in any::<bool>(),
        rate in signet_audio::MIN_SAMPLE_RATE..=signet_audio::MAX_SAMPLE_RATE,
        raw in prop::collection::vec(any::<i32>(), 0..200),
    ) {
        let (bits, format) = if float { (32, hound::SampleFormat::Float) } else { (bits, hound::SampleFormat::Int) };
        let spec = hound::WavSpec { channels, sample_rate: rate, bits_per_sample: bits, sample_format: format };
        let mut file = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut file, spec).unwrap();
        let expected: Vec<f32> = if float {
            let (samples, mono) = int_frames(16, channels, &raw);
            for s in samples {
                w.write_sample(s as f32 / 32_768.0).unwrap();
            }
            mono
        } else {
            let (samples, mono) = int_frames(bits, channels, &raw);
            for s in samples {
                match bits {
                    8 => w.write_sample(s as i8).unwrap(),
                    16 => w.write_sample(s as i16).unwrap(),
                    _ => w.write_sample(s).unwrap(),
                }
            }
            mono
        };
        w.finalize().unwrap();
        let a = read(file.get_ref()).unwrap();
        prop_assert_eq!(a.sample_rate(), rate);
        prop_assert_eq!(a.samples().len(), expected.len());
        for (got, want) in a.samples().iter().zip(&expected) {
            prop_assert!((got - want).abs() <= 1e-6, "{} vs {}", got, want);
        }
    }
}
