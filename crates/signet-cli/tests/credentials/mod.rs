//! Content credentials on the WAV files `signet speak` writes, and `signet
//! inspect`'s check of them: valid with the home's key, invalid after a
//! one-byte edit of the audio or an edit of the claim, valid but unknown
//! for another signer, and a clear error for a garbage chunk.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use signet::credentials::CredentialStatus;
use signet::{Audio, WavInfo, WavLimits};

use crate::e2e::{assert_clean_failure, home, read_wav, run};

const TEXT: &str = "Signed speech.";

/// One WAV file spoken with the home's key, shared by the tests here.
fn signed_file() -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signed.wav");
        let out = run(&["speak", TEXT, "-o", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, path)
    });
    path
}

fn inspect(path: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["inspect", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The id of the home's credentials key, as `signet keys export-public` would show it.
fn home_key_id() -> String {
    let key = signet_sign::SecretKey::load(&home().join("keys/credentials.key")).unwrap();
    key.key_id().as_str().to_owned()
}

fn data_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let at = bytes.windows(4).position(|w| w == b"data").unwrap();
    let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    at + 8..at + 8 + len
}

#[test]
fn spoken_wav_files_carry_valid_credentials_of_the_home_key() {
    let path = signed_file();
    let bytes = std::fs::read(path).unwrap();
    let info = WavInfo::read(&bytes, &WavLimits::default()).unwrap();
    let c = info.credentials.expect("credentials");
    assert_eq!(c.status, CredentialStatus::Valid);
    assert_eq!(c.claim.key_id().as_str(), home_key_id());
    assert_eq!(c.claim.provenance.voice, "en_US-joe-medium");
    let out = inspect(path, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = stdout(&out);
    let expected = format!(
        "credentials: valid, signed by key {} (this home's key)",
        home_key_id()
    );
    assert!(report.contains(&expected), "{report}");
    assert!(report.contains("trainedAlgorithmicMedia"), "{report}");

    // Every file of --output-dir, and a WAV file written to stdout, are signed too.
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("lines");
    let text = dir.path().join("lines.txt");
    std::fs::write(&text, "One.\nTwo.\n").unwrap();
    let out = run(&[
        "speak",
        "--file",
        text.to_str().unwrap(),
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let piped = run(&["speak", TEXT, "-o", "-"]);
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    for bytes in [
        std::fs::read(out_dir.join("0001.wav")).unwrap(),
        std::fs::read(out_dir.join("0002.wav")).unwrap(),
        piped.stdout,
    ] {
        let c = WavInfo::read(&bytes, &WavLimits::default())
            .unwrap()
            .credentials
            .expect("credentials");
        assert_eq!(c.status, CredentialStatus::Valid);
    }
}

#[test]
fn a_one_byte_edit_of_the_audio_is_reported_invalid() {
    let mut bytes = std::fs::read(signed_file()).unwrap();
    let data = data_range(&bytes);
    bytes[data.start + data.len() / 2] ^= 0x01;
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.wav");
    std::fs::write(&edited, &bytes).unwrap();
    let out = inspect(&edited, &[]);
    assert!(
        stdout(&out).contains("credentials: INVALID: audio changed after signing"),
        "{}",
        stdout(&out)
    );
    assert_clean_failure(&out, "audio changed after signing");
}

#[test]
fn an_edit_of_the_claim_is_reported_as_an_invalid_signature() {
    let mut bytes = std::fs::read(signed_file()).unwrap();
    let sgcr = bytes.windows(4).rposition(|w| w == b"sgcr").unwrap();
    let voice = sgcr
        + bytes[sgcr..]
            .windows(10)
            .position(|w| w == b"voice=en_U")
            .unwrap();
    bytes[voice + 6] = b'E';
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.wav");
    std::fs::write(&edited, &bytes).unwrap();
    let out = inspect(&edited, &[]);
    assert!(
        stdout(&out).contains("credentials: INVALID: signature"),
        "{}",
        stdout(&out)
    );
    assert_clean_failure(&out, "signature does not verify");
}

#[test]
fn a_file_signed_by_another_key_is_valid_but_its_signer_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("keys/operator.key");
    let key = signet_sign::SecretKey::generate().unwrap();
    key.write_new(&key_path).unwrap();
    let wav = dir.path().join("operator.wav");
    let out = run(&[
        "speak",
        TEXT,
        "-o",
        wav.to_str().unwrap(),
        "--credentials-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = key.key_id();
    let out = inspect(&wav, &[]);
    assert!(out.status.success());
    let expected = format!("credentials: valid, signed by key {id} (unknown key)");
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
    // Given that key, the reader knows the signer.
    let public = key.public().to_text();
    let out = inspect(&wav, &["--key", &public]);
    assert!(out.status.success());
    let expected = format!("credentials: valid, signed by key {id} (the key given with --key)");
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
    // The home's file, checked against that key, is by an unknown key.
    let out = inspect(signed_file(), &["--key", &public]);
    assert!(stdout(&out).contains("(unknown key)"), "{}", stdout(&out));
}

#[test]
fn garbage_credentials_are_a_clear_error() {
    let bytes = std::fs::read(signed_file()).unwrap();
    let sgcr = bytes.windows(4).rposition(|w| w == b"sgcr").unwrap();
    let mut garbage = bytes[..sgcr + 8].to_vec();
    let size = (bytes.len() - sgcr - 8) as u32;
    garbage.extend(vec![0xA5u8; size as usize]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.wav");
    std::fs::write(&path, &garbage).unwrap();
    assert_clean_failure(
        &inspect(&path, &[]),
        "malformed content credentials (sgcr chunk)",
    );
    // A file without credentials says so.
    let plain = dir.path().join("plain.wav");
    std::fs::write(&plain, &bytes[..sgcr]).unwrap();
    let mut plain_bytes = std::fs::read(&plain).unwrap();
    let riff = (plain_bytes.len() - 8) as u32;
    plain_bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(&plain, &plain_bytes).unwrap();
    let out = inspect(&plain, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("credentials: none"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn signed_wav_decodes_bit_exact_in_ffmpeg_and_signets_reader() {
    let path = signed_file();
    let bytes = std::fs::read(path).unwrap();
    let expected: Vec<i16> = bytes[data_range(&bytes)]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(expected.len() > 1000);
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-"])
        .output()
        .expect("ffmpeg: run `cargo xtask setup`");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(decoded, expected);
    // hound and Signet's own reader.
    assert_eq!(read_wav(path).samples, expected);
    let audio = Audio::from_wav(&bytes, &WavLimits::default()).unwrap();
    let scaled: Vec<f32> = expected.iter().map(|&s| f32::from(s) / 32_768.0).collect();
    assert_eq!(audio.samples(), scaled.as_slice());
}
