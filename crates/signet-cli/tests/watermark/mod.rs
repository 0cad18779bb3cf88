//! The watermark through the binary: `signet speak` marks files and streams
//! by default (`--no-watermark` says it does not), and `signet detect` finds
//! the mark with the right key only, and refuses bad files with one clear
//! line and bounded memory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::e2e::{assert_clean_failure, home, read_wav, run};

const TEXT: &str = "The committee met on a grey morning in early spring. Nobody spoke for a \
    while. Then the chair read the letter aloud.";
const DETERMINISTIC: [&str; 4] = ["--noise-scale", "0", "--noise-w", "0"];

fn speak(out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["speak", TEXT, "-o", out.to_str().unwrap()];
    args.extend_from_slice(&DETERMINISTIC);
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn detect_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["detect", "--json"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn private_key_file(dir: &Path, byte: u8) -> std::path::PathBuf {
    let path = dir.join(format!("key-{byte}"));
    let text = format!("{byte:02x}").repeat(32);
    std::fs::write(&path, format!("{text}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn speak_marks_files_and_streams_and_detect_finds_the_payload() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("marked.wav");
    speak(&wav, &["--watermark-payload", "4242"]);
    let o = run(&["detect", wav.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("watermark PRESENT"), "{text}");
    assert!(text.contains("payload 4242"), "{text}");
    let key = home().join("keys/watermark.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the home's key is private");

    // Raw PCM on stdout, read back with --rate.
    let mut args = vec!["speak", TEXT, "--stream"];
    args.extend_from_slice(&DETERMINISTIC);
    let streamed = run(&args);
    assert!(streamed.status.success());
    let raw = dir.path().join("marked.s16");
    std::fs::write(&raw, &streamed.stdout).unwrap();
    let found = detect_json(&["--rate", "22050", raw.to_str().unwrap()]);
    assert_eq!(found[0]["present"], true, "{found}");
    assert_eq!(found[0]["payload"], 0, "{found}");
    assert!(found[0]["false_positive"].as_f64().unwrap() < 1e-6);
    assert!(found[0]["score"].as_f64().unwrap() >= found[0]["threshold"].as_f64().unwrap());
}

#[test]
fn no_watermark_is_said_and_leaves_the_audio_unmarked() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, marked) = (dir.path().join("plain.wav"), dir.path().join("marked.wav"));
    let said = speak(&plain, &["--no-watermark"]);
    assert!(said.contains("watermark off"), "{said}");
    assert!(speak(&marked, &[]).is_empty());
    let found = detect_json(&[plain.to_str().unwrap(), marked.to_str().unwrap()]);
    assert_eq!(found[0]["present"], false, "{found}");
    assert_eq!(found[1]["present"], true, "{found}");
    // Same length; the mark is a small change (segmental level well below the speech).
    let (a, b) = (read_wav(&plain).samples, read_wav(&marked).samples);
    assert_eq!(a.len(), b.len());
    let diff: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let power: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
    assert!(
        diff > 0.0 && 10.0 * (power / diff).log10() > 10.0,
        "SNR too low"
    );
}

#[test]
fn detect_needs_the_key_that_marked() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("own-key.wav");
    let key = private_key_file(dir.path(), 0x3c);
    speak(&wav, &["--watermark-key", key.to_str().unwrap()]);
    let own = detect_json(&["--key", key.to_str().unwrap(), wav.to_str().unwrap()]);
    assert_eq!(own[0]["present"], true, "{own}");
    let wrong = private_key_file(dir.path(), 0x3d);
    let other = detect_json(&["--key", wrong.to_str().unwrap(), wav.to_str().unwrap()]);
    assert_eq!(other[0]["present"], false, "{other}");
    assert_eq!(other[0]["payload"], serde_json::Value::Null);
    let home_key = detect_json(&[wav.to_str().unwrap()]);
    assert_eq!(home_key[0]["present"], false, "{home_key}");
}

#[test]
fn detect_refuses_garbage_empty_truncated_short_and_huge_files_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    speak(&good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, data: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let empty = write("empty.wav", b"");
    let garbage = write("garbage.wav", &[0x5a; 5000]);
    let truncated = write("truncated.wav", &bytes[..bytes.len() / 2]);
    let header_only = write("header.wav", &bytes[..30]);
    // 0.5 s of the speech: a valid WAV too short to decide.
    let short = {
        let wav = read_wav(&good);
        let p = dir.path().join("short.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: wav.rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for s in &wav.samples[..wav.rate as usize / 2] {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
        p.to_str().unwrap().to_owned()
    };
    let odd_raw = write("odd.s16", &[1, 2, 3]);
    // A sparse file over the cap: refused before any read.
    let huge = dir.path().join("huge.wav");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 31)
        .unwrap();
    let huge = huge.to_str().unwrap().to_owned();
    let missing = dir.path().join("missing.wav").to_str().unwrap().to_owned();

    for (args, needle) in [
        (vec!["detect", empty.as_str()], "empty.wav"),
        (vec!["detect", garbage.as_str()], "not a WAV file"),
        (vec!["detect", truncated.as_str()], "truncated.wav"),
        (vec!["detect", header_only.as_str()], "header.wav"),
        (vec!["detect", short.as_str()], "too short"),
        (
            vec!["detect", "--rate", "22050", odd_raw.as_str()],
            "whole number",
        ),
        (
            vec!["detect", "--rate", "4000", garbage.as_str()],
            "sample rate",
        ),
        (vec!["detect", huge.as_str()], "--max-bytes"),
        (vec!["detect", "/dev/zero"], "/dev/zero"),
        (vec!["detect", missing.as_str()], "missing.wav"),
    ] {
        let out = run(&args);
        assert_clean_failure(&out, needle);
    }
    // Several files: each bad one is named, the good one is still searched.
    let out = run(&["detect", garbage.as_str(), good.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("watermark PRESENT"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("garbage.wav") && err.contains("1 of 2 file(s)"),
        "{err}"
    );
}
