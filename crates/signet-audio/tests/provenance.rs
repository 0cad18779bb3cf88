//! Provenance metadata: written into every WAV Signet makes, read back by
//! `WavInfo::read`, ignored by decoders, and malformed metadata refused.

use std::io::Cursor;

use signet_audio::{
    write_wav_stream, Audio, AudioError, Provenance, SampleFormat, WavInfo, WavLimits,
};

use crate::common::{fix_riff_size, fmt, pcm16, riff, sine};

fn provenance() -> Provenance {
    Provenance::new(
        "Signet",
        "0.1.0",
        "en_US-joe-medium",
        "0123456789abcdef".repeat(4),
    )
    .unwrap()
}

fn info(bytes: &[u8]) -> Result<WavInfo, AudioError> {
    WavInfo::read(bytes, &WavLimits::default())
}

#[test]
fn written_wav_carries_provenance_and_decodes_bit_exact() {
    let audio = Audio::new(sine(440.0, 0.5, 22_050, 0.2), 22_050).unwrap();
    for format in [SampleFormat::S16, SampleFormat::F32] {
        let wav = audio.to_wav(format, &provenance()).unwrap();
        let i = info(&wav).unwrap();
        assert_eq!(i.provenance, Some(provenance()));
        let fields = i.info.unwrap();
        assert_eq!(fields.software.as_deref(), Some("Signet 0.1.0"));
        assert!(fields.comment.unwrap().starts_with("synthetic speech; "));
        assert_eq!(i.frames, audio.samples().len() as u64);
        assert_eq!(i.sample_rate, 22_050);

        // The samples are exactly those written (16-bit: as quantized).
        let back = Audio::from_wav(&wav, &WavLimits::default()).unwrap();
        if format == SampleFormat::F32 {
            assert_eq!(back, audio);
        } else {
            let quantized: Vec<f32> = audio
                .samples()
                .iter()
                .map(|&s| f32::from(signet_audio::to_s16(s)) / 32_768.0)
                .collect();
            assert_eq!(back.samples(), quantized.as_slice());
        }

        // hound, an independent reader, reads it too.
        let r = hound::WavReader::new(Cursor::new(&wav)).unwrap();
        assert_eq!(r.len() as usize, audio.samples().len());
    }
}

#[test]
fn streamed_file_equals_the_file_written_at_once() {
    let whole = Audio::new(sine(300.0, 0.4, 16_000, 0.5), 16_000).unwrap();
    let pieces: Vec<Audio> = whole
        .samples()
        .chunks(1_234)
        .map(|c| Audio::new(c.to_vec(), 16_000).unwrap())
        .collect();
    for format in [SampleFormat::S16, SampleFormat::F32] {
        let mut out = Cursor::new(Vec::new());
        write_wav_stream::<_, _, AudioError>(
            &mut out,
            16_000,
            format,
            &provenance(),
            pieces.iter().cloned().map(Ok),
        )
        .unwrap();
        assert_eq!(
            out.into_inner(),
            whole.to_wav(format, &provenance()).unwrap()
        );
    }
}

#[test]
fn stream_errors_stop_the_writer() {
    let mut out = Cursor::new(Vec::new());
    let wrong_rate = Audio::new(vec![0.0; 10], 8_000).unwrap();
    let e = write_wav_stream::<_, _, AudioError>(
        &mut out,
        16_000,
        SampleFormat::S16,
        &provenance(),
        [Ok(wrong_rate)],
    )
    .unwrap_err();
    assert!(
        matches!(e, AudioError::SampleRate { rate: 8_000, .. }),
        "{e}"
    );

    let mut out = Cursor::new(Vec::new());
    let e = write_wav_stream::<_, _, AudioError>(
        &mut out,
        16_000,
        SampleFormat::S16,
        &provenance(),
        [Err(AudioError::Gain { gain: -1.0 })],
    )
    .unwrap_err();
    assert!(matches!(e, AudioError::Gain { .. }), "{e}");

    let mut out = Cursor::new(vec![1, 2, 3]);
    out.set_position(3);
    let e = write_wav_stream::<_, _, AudioError>(
        &mut out,
        16_000,
        SampleFormat::S16,
        &provenance(),
        std::iter::empty(),
    )
    .unwrap_err();
    assert!(matches!(e, AudioError::Io(_)), "{e}");
}

/// A LIST chunk of form INFO with the given sub-chunks (already encoded).
fn list_info(fields: &[u8]) -> Vec<u8> {
    let mut body = b"INFO".to_vec();
    body.extend_from_slice(fields);
    body
}

fn field(id: &[u8; 4], text: &[u8]) -> Vec<u8> {
    let mut f = id.to_vec();
    f.extend_from_slice(&(text.len() as u32).to_le_bytes());
    f.extend_from_slice(text);
    if text.len() % 2 == 1 {
        f.push(0);
    }
    f
}

fn file_with_list(list: &[u8]) -> Vec<u8> {
    riff(&[
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"data", &pcm16(&[1, 2, 3, 4])),
        (b"LIST", list),
    ])
}

#[test]
fn files_without_metadata_or_from_other_tools_have_no_provenance() {
    let plain = riff(&[
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"data", &pcm16(&[1, 2])),
    ]);
    let i = info(&plain).unwrap();
    assert_eq!((i.info, i.provenance), (None, None));

    let other = file_with_list(&list_info(
        &[
            field(b"ISFT", b"Lavf60\0"),
            field(b"ICMT", b"recorded live\0"),
        ]
        .concat(),
    ));
    let i = info(&other).unwrap();
    assert_eq!(i.info.unwrap().software.as_deref(), Some("Lavf60"));
    assert_eq!(i.provenance, None);

    // A LIST of another form (adtl) is not metadata we read.
    let adtl = file_with_list(b"adtlxxxx");
    assert_eq!(info(&adtl).unwrap().info, None);
}

#[test]
fn malformed_metadata_is_refused_with_its_reason() {
    let d = "ab".repeat(32);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "field longer than the chunk",
            list_info(&[b"ICMT".as_slice(), &1000u32.to_le_bytes(), b"abc\0"].concat()),
            "a field is longer than the chunk",
        ),
        (
            "truncated field header",
            list_info(b"ICMT\x04\0"),
            "a field header is truncated",
        ),
        (
            "non-UTF-8 text",
            list_info(&field(b"ICMT", b"\xff\xfe\0")),
            "a text field is not UTF-8",
        ),
        (
            "duplicate comment",
            list_info(&[field(b"ICMT", b"a\0"), field(b"ICMT", b"b\0")].concat()),
            "a field occurs twice",
        ),
    ];
    for (name, list, reason) in cases {
        match info(&file_with_list(&list)) {
            Err(AudioError::BadInfoChunk { reason: r, .. }) => assert_eq!(r, reason, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }

    let forged = format!(
        "synthetic speech; generator=Signet; version=1; voice=v; manifest-sha256={d}; voice=w\0"
    );
    let e = info(&file_with_list(&list_info(&field(
        b"ICMT",
        forged.as_bytes(),
    ))))
    .unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::BadProvenance {
                reason: "a key occurs twice",
                ..
            }
        ),
        "{e}"
    );

    let mut two = riff(&[
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"data", &pcm16(&[1, 2])),
        (b"LIST", &list_info(&field(b"ISFT", b"a\0"))),
        (b"LIST", &list_info(&field(b"ISFT", b"b\0"))),
    ]);
    fix_riff_size(&mut two);
    assert!(matches!(info(&two), Err(AudioError::DuplicateChunk { .. })));
}

#[test]
fn every_truncation_of_a_signed_file_is_refused() {
    let audio = Audio::new(sine(440.0, 0.5, 8_000, 0.01), 8_000).unwrap();
    let wav = audio.to_wav(SampleFormat::S16, &provenance()).unwrap();
    for len in 0..wav.len() {
        assert!(info(&wav[..len]).is_err(), "truncated to {len} bytes");
    }
}
