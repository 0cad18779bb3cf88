//! signet-encode's integration tests: every format decoded by ffmpeg (the
//! Debian package setup installs), to the right length, with its tags.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::process::{Command, Stdio};

use signet_audio::{Audio, Provenance};
use signet_encode::{AudioFormat, EncodeError, Encoder};

fn provenance() -> Provenance {
    Provenance::new("Signet", "0.1.0", "test-voice", "ab".repeat(32)).unwrap()
}

/// 1.3 s of a gliding tone at `rate`, in uneven pieces (as windows come).
fn pieces(rate: u32) -> Vec<Audio> {
    let n = rate as usize * 13 / 10;
    let all: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.4 * (2.0 * std::f32::consts::PI * (200.0 + 100.0 * t) * t).sin()
        })
        .collect();
    let cuts = [0, 100, 5_000, 5_001, n / 2, n];
    cuts.windows(2)
        .map(|w| Audio::new(all[w[0]..w[1]].to_vec(), rate).unwrap())
        .collect()
}

/// Decodes with ffmpeg to 16-bit mono at `rate`; returns the sample count.
fn decoded_samples(bytes: &[u8], rate: u32) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&input)
        .args(["-f", "s16le", "-ac", "1", "-ar", &rate.to_string(), "-"])
        .stderr(Stdio::piped())
        .output()
        .expect("ffmpeg (Debian package `ffmpeg`; `cargo xtask setup` installs it)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() / 2
}

/// The tags ffprobe reads from the container or stream.
fn probe_tags(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags:stream_tags",
            "-of",
            "json",
        ])
        .arg(&input)
        .output()
        .expect("ffprobe");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn encode(format: AudioFormat, rate: u32) -> (Vec<u8>, usize) {
    let mut enc = Encoder::new(format, rate, &provenance()).unwrap();
    let mut bytes = Vec::new();
    let mut n = 0;
    for p in pieces(rate) {
        n += p.samples().len();
        bytes.extend(enc.encode(&p).unwrap());
    }
    bytes.extend(enc.finish().unwrap());
    (bytes, n)
}

#[test]
fn flac_decodes_to_exactly_the_samples_given() {
    for rate in [22_050, 16_000, 44_100] {
        let (bytes, n) = encode(AudioFormat::Flac, rate);
        assert_eq!(decoded_samples(&bytes, rate), n, "at {rate} Hz");
        // Lossless: the decoded samples are the 16-bit input.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.flac");
        std::fs::write(&path, &bytes).unwrap();
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "s16le", "-"])
            .output()
            .unwrap();
        let expected: Vec<u8> = pieces(rate)
            .iter()
            .flat_map(|p| p.samples().iter().map(|&s| signet_audio::to_s16(s)))
            .flat_map(i16::to_le_bytes)
            .collect();
        assert!(out.stdout == expected, "FLAC at {rate} Hz is not lossless");
    }
}

#[test]
fn opus_decodes_to_the_input_length_at_48k() {
    let (bytes, n) = encode(AudioFormat::Opus, 22_050);
    let expected = (n as u64 * 48_000).div_ceil(22_050) as usize;
    let got = decoded_samples(&bytes, 48_000);
    assert!(
        got.abs_diff(expected) <= 2,
        "{got} samples, expected {expected}"
    );
}

#[test]
fn mp3_decodes_to_about_the_input_length() {
    let (bytes, n) = encode(AudioFormat::Mp3, 22_050);
    let got = decoded_samples(&bytes, 22_050);
    // No info frame: the decoder keeps LAME's delay and last-frame padding
    // (under two frames of 576 samples at MPEG-2 rates, plus 1105 of delay).
    assert!(got >= n && got <= n + 2_400, "{got} samples for {n}");
}

#[test]
fn every_tagged_format_carries_the_provenance_comment() {
    for format in [
        AudioFormat::Mp3,
        AudioFormat::Opus,
        AudioFormat::Flac,
        AudioFormat::Wav,
    ] {
        let (bytes, _) = encode(format, 22_050);
        let tags = probe_tags(&bytes);
        assert!(
            tags.contains("synthetic speech; generator=Signet; version=0.1.0; voice=test-voice"),
            "{format:?}: {tags}"
        );
    }
}

#[test]
fn pcm_and_wav_stream_as_before() {
    let (pcm, n) = encode(AudioFormat::Pcm, 22_050);
    assert_eq!(pcm.len(), 2 * n);
    let (wav, n) = encode(AudioFormat::Wav, 22_050);
    assert!(wav.starts_with(b"RIFF"));
    assert_eq!(decoded_samples(&wav, 22_050), n);
}

#[test]
fn aac_and_unknown_names_are_refused_with_the_list() {
    for name in ["aac", "ogg", ""] {
        let e = AudioFormat::parse(name).unwrap_err();
        assert!(matches!(e, EncodeError::Unsupported { .. }));
        assert!(e.to_string().contains("mp3, opus, flac, wav, pcm"), "{e}");
    }
    assert_eq!(AudioFormat::parse("MP3").unwrap(), AudioFormat::Mp3);
    assert_eq!(
        AudioFormat::parse("opus").unwrap().content_type(),
        "audio/ogg"
    );
}

#[test]
fn a_piece_at_another_rate_is_refused() {
    let mut enc = Encoder::new(AudioFormat::Mp3, 22_050, &provenance()).unwrap();
    let e = enc
        .encode(&Audio::silence(16_000, 10).unwrap())
        .unwrap_err();
    assert!(matches!(
        e,
        EncodeError::RateChanged {
            expected: 22_050,
            found: 16_000
        }
    ));
}

#[test]
fn empty_streams_are_valid_files() {
    for format in [AudioFormat::Mp3, AudioFormat::Opus, AudioFormat::Flac] {
        let enc = Encoder::new(format, 22_050, &provenance()).unwrap();
        let bytes = enc.finish().unwrap();
        assert!(!bytes.is_empty(), "{format:?}");
    }
}
