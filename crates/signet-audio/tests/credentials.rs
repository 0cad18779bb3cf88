//! Content credentials: the signed `sgcr` chunk a signed WAV file ends with,
//! checked by `WavInfo::read` against the file's own samples; a changed
//! sample, a changed claim, another signer and malformed chunks.

use std::io::Cursor;
use std::process::Command;

use signet_audio::{
    write_signed_wav_stream, Audio, AudioError, CredentialSigner, CredentialStatus, Provenance,
    SampleFormat, WavInfo, WavLimits, TRAINED_ALGORITHMIC_MEDIA,
};
use signet_sign::SecretKey;

use crate::common::sine;

fn provenance() -> Provenance {
    Provenance::new(
        "Signet",
        "0.1.0",
        "en_US-joe-medium",
        "0123456789abcdef".repeat(4),
    )
    .unwrap()
}

fn key() -> SecretKey {
    SecretKey::from_seed(&[42; 32])
}

fn audio() -> Audio {
    Audio::new(sine(440.0, 0.5, 22_050, 0.3), 22_050).unwrap()
}

fn signed(format: SampleFormat) -> Vec<u8> {
    let k = key();
    audio()
        .to_signed_wav(format, &provenance(), &CredentialSigner::new(&k))
        .unwrap()
}

fn info(bytes: &[u8]) -> Result<WavInfo, AudioError> {
    WavInfo::read(bytes, &WavLimits::default())
}

/// Offset of the `sgcr` chunk header in a file Signet signed.
fn sgcr_at(wav: &[u8]) -> usize {
    wav.windows(4).rposition(|w| w == b"sgcr").unwrap()
}

#[test]
fn signed_wav_carries_valid_credentials_and_decodes_bit_exact() {
    for format in [SampleFormat::S16, SampleFormat::F32] {
        let wav = signed(format);
        let i = info(&wav).unwrap();
        let c = i.credentials.expect("a signed file has credentials");
        assert_eq!(c.status, CredentialStatus::Valid);
        assert_eq!(c.claim.key_id(), key().key_id());
        assert_eq!(c.claim.provenance, provenance());
        assert_eq!(c.claim.digital_source_type, TRAINED_ALGORITHMIC_MEDIA);
        assert!(c.claim.created.is_some());
        // The label stays, and the credentials follow the samples.
        assert_eq!(i.provenance, Some(provenance()));
        let data_at = wav.windows(4).position(|w| w == b"data").unwrap();
        assert!(sgcr_at(&wav) > data_at);
        // The samples are those of the unsigned file, bit for bit.
        let plain = audio().to_wav(format, &provenance()).unwrap();
        let limits = WavLimits::default();
        assert_eq!(
            Audio::from_wav(&wav, &limits).unwrap(),
            Audio::from_wav(&plain, &limits).unwrap()
        );
        assert_eq!(wav.get(8..sgcr_at(&wav)), plain.get(8..));
        // An unsigned file has none.
        assert_eq!(info(&plain).unwrap().credentials, None);
        // hound, an independent reader, reads it.
        let r = hound::WavReader::new(Cursor::new(&wav)).unwrap();
        assert_eq!(r.len() as usize, audio().samples().len());
    }
}

#[test]
fn signed_stream_writer_equals_the_signed_file_written_at_once() {
    let k = key();
    let signer = CredentialSigner::new(&k).with_created(Some(1_800_000_000));
    let whole = audio();
    let (a, b) = whole.samples().split_at(1000);
    let mut out = Cursor::new(Vec::new());
    write_signed_wav_stream::<_, _, AudioError>(
        &mut out,
        22_050,
        SampleFormat::S16,
        &provenance(),
        &signer,
        [
            Audio::new(a.to_vec(), 22_050),
            Audio::new(b.to_vec(), 22_050),
        ],
    )
    .unwrap();
    let at_once = whole
        .to_signed_wav(SampleFormat::S16, &provenance(), &signer)
        .unwrap();
    assert_eq!(out.into_inner(), at_once);
}

#[test]
fn a_one_byte_edit_of_the_audio_is_reported_as_changed() {
    let mut wav = signed(SampleFormat::S16);
    let data_at = wav.windows(4).position(|w| w == b"data").unwrap();
    wav[data_at + 8 + 1000] ^= 0x01;
    let c = info(&wav).unwrap().credentials.unwrap();
    assert_eq!(c.status, CredentialStatus::AudioChanged);
    // So is a change of format (the rate) that leaves the samples alone.
    let mut wav = signed(SampleFormat::S16);
    let fmt_at = wav.windows(4).position(|w| w == b"fmt ").unwrap();
    wav[fmt_at + 12..fmt_at + 16].copy_from_slice(&16_000u32.to_le_bytes());
    let c = info(&wav).unwrap().credentials.unwrap();
    assert_eq!(c.status, CredentialStatus::AudioChanged);
}

#[test]
fn an_edit_of_the_claim_is_a_bad_signature() {
    let wav = signed(SampleFormat::S16);
    let at = sgcr_at(&wav);
    // The voice name in the claim: `joe` becomes `jon`, still a valid claim.
    let voice_at = at + wav[at..].windows(7).position(|w| w == b"voice=e").unwrap();
    let joe_at = voice_at
        + wav[voice_at..]
            .windows(3)
            .position(|w| w == b"joe")
            .unwrap();
    let mut edited = wav.clone();
    edited[joe_at + 2] = b'n';
    let c = info(&edited).unwrap().credentials.unwrap();
    assert_eq!(c.claim.provenance.voice, "en_US-jon-medium");
    assert_eq!(c.status, CredentialStatus::BadSignature);
    // And a flipped bit of the signature itself.
    let mut edited = wav.clone();
    let last = edited.len() - 1;
    edited[last] ^= 0x80;
    let c = info(&edited).unwrap().credentials.unwrap();
    assert_eq!(c.status, CredentialStatus::BadSignature);
}

#[test]
fn a_file_signed_by_another_key_names_that_key() {
    let other = SecretKey::from_seed(&[7; 32]);
    let wav = audio()
        .to_signed_wav(
            SampleFormat::S16,
            &provenance(),
            &CredentialSigner::new(&other),
        )
        .unwrap();
    let c = info(&wav).unwrap().credentials.unwrap();
    // The signature is valid: by the key the claim names, not this home's.
    assert_eq!(c.status, CredentialStatus::Valid);
    assert_eq!(c.claim.signer, other.public());
    assert_ne!(c.claim.key_id(), key().key_id());
}

/// A signed file whose `sgcr` body is replaced by `body`, sizes fixed.
fn with_credentials_body(body: &[u8]) -> Vec<u8> {
    let wav = signed(SampleFormat::S16);
    let at = sgcr_at(&wav);
    let mut out = wav[..at].to_vec();
    out.extend_from_slice(b"sgcr");
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    crate::common::fix_riff_size(&mut out);
    out
}

#[test]
fn garbage_or_oversized_credentials_are_clear_errors() {
    let wav = signed(SampleFormat::S16);
    let at = sgcr_at(&wav);
    let good_body = &wav[at + 8..];
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        vec![0xFF; 5000],
        // A claim length far beyond the chunk, and beyond the cap.
        [&b"SGC1"[..], &u32::MAX.to_le_bytes(), &[0u8; 64]].concat(),
        // Bytes after the signature.
        [good_body, &[0u8; 2]].concat(),
    ];
    // Every truncation of the good body.
    for n in 0..good_body.len() {
        cases.push(good_body[..n].to_vec());
    }
    for body in &cases {
        let e = info(&with_credentials_body(body)).unwrap_err();
        assert!(
            matches!(e, AudioError::BadCredentials { .. }),
            "{} bytes: {e}",
            body.len()
        );
        assert!(e.to_string().contains("sgcr"), "{e}");
    }
    // A chunk that declares more than the file holds is refused before it is read.
    let mut lying = wav.clone();
    lying[at + 4..at + 8].copy_from_slice(&(1u32 << 30).to_le_bytes());
    assert!(matches!(info(&lying), Err(AudioError::ChunkOverrun { .. })));
    // Two credentials chunks.
    let mut twice = wav.clone();
    twice.extend_from_slice(&wav[at..]);
    crate::common::fix_riff_size(&mut twice);
    assert!(matches!(
        info(&twice),
        Err(AudioError::DuplicateChunk { .. })
    ));
}

/// ffmpeg's decoding of a WAV file on disk (a seekable input, so ffmpeg
/// also looks at the chunks after `data`), as raw little-endian samples.
fn ffmpeg_decode(wav: &[u8], codec: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.wav");
    std::fs::write(&path, wav).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&path)
        .args(["-f", codec, "-"])
        .output()
        .expect("ffmpeg (Debian package `ffmpeg`; `cargo xtask setup` installs it)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "ffmpeg warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn ffmpeg_decodes_a_signed_wav_bit_exact() {
    for (format, codec) in [(SampleFormat::S16, "s16le"), (SampleFormat::F32, "f32le")] {
        let wav = signed(format);
        let data_at = wav.windows(4).position(|w| w == b"data").unwrap();
        let len = u32::from_le_bytes(wav[data_at + 4..data_at + 8].try_into().unwrap()) as usize;
        let data = &wav[data_at + 8..data_at + 8 + len];
        assert_eq!(ffmpeg_decode(&wav, codec), data, "{codec}");
    }
}
