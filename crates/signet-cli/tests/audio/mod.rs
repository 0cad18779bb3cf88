//! The output side of `signet speak` (streaming, rates, levels, timings,
//! subtitles, provenance) and `signet inspect`, through the real binary.

use std::path::Path;
use std::process::Stdio;

use crate::e2e::{assert_clean_failure, home, read_wav, run, signet};

const TEXT: &str = "Streaming starts early. Each sentence comes out when it is ready.";
const DETERMINISTIC: [&str; 4] = ["--noise-scale", "0", "--noise-w", "0"];

fn speak_to(dir: &Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut args = vec!["speak", TEXT, "-o", path.to_str().unwrap()];
    args.extend_from_slice(&DETERMINISTIC);
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{:?}: {}",
        extra,
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn stream_writes_the_same_samples_as_a_wav_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = read_wav(&speak_to(dir.path(), "whole.wav", &[]));
    let mut args = vec!["speak", TEXT, "--stream"];
    args.extend_from_slice(&DETERMINISTIC);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No progress bar or anything else when stderr is not a terminal.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let streamed: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(streamed, wav.samples);
}

#[test]
fn stream_sends_the_first_sentence_before_the_rest_is_done() {
    // Read the first bytes of stdout while the process still runs: they
    // arrive before the process ends, i.e. before the last sentence.
    use std::io::Read;
    let text =
        "First. ".to_owned() + &"This sentence keeps the synthesizer busy for a while. ".repeat(6);
    let mut child = signet()
        .arg("--home")
        .arg(home())
        .args(["speak", &text, "--stream"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4096];
    stdout.read_exact(&mut first).unwrap();
    let still_running = child.try_wait().unwrap().is_none();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        still_running,
        "the first audio came only when everything was done"
    );
    assert!(rest.len() > 10 * first.len());
}

#[test]
fn rate_volume_trim_and_pause_flags() {
    let dir = tempfile::tempdir().unwrap();
    let base = read_wav(&speak_to(dir.path(), "base.wav", &[]));
    let low = read_wav(&speak_to(dir.path(), "low.wav", &["--sample-rate", "8000"]));
    assert_eq!((base.rate, low.rate), (22_050, 8_000));
    let ratio = low.samples.len() as f64 / base.samples.len() as f64;
    assert!((ratio - 8_000.0 / 22_050.0).abs() < 0.001, "{ratio}");

    let quiet = read_wav(&speak_to(dir.path(), "quiet.wav", &["--volume", "0.25"]));
    assert_eq!(quiet.samples.len(), base.samples.len());
    let peak = |s: &[i16]| s.iter().map(|x| i32::from(*x).abs()).max().unwrap();
    let r = f64::from(peak(&quiet.samples)) / f64::from(peak(&base.samples));
    assert!((r - 0.25).abs() < 0.01, "{r}");

    let norm = read_wav(&speak_to(dir.path(), "norm.wav", &["--normalize"]));
    assert!((f64::from(peak(&norm.samples)) / 32767.0 - 0.944).abs() < 0.002);

    let trimmed = read_wav(&speak_to(dir.path(), "trim.wav", &["--trim-silence"]));
    assert!(trimmed.samples.len() < base.samples.len());
    let paused = read_wav(&speak_to(
        dir.path(),
        "pause.wav",
        &["--sentence-silence", "0.5"],
    ));
    assert_eq!(paused.samples.len(), base.samples.len() + 11_025);

    for (flag, value, needle) in [
        ("--sample-rate", "96000", "sample_rate"),
        ("--volume", "-2", "volume"),
        ("--sentence-silence", "61", "sentence-silence"),
    ] {
        let out = run(&["speak", "Hi.", flag, value, "-o", "x.wav"]);
        assert_clean_failure(&out, needle);
    }
    assert_clean_failure(
        &run(&["speak", "Hi.", "--stream", "--format", "wav"]),
        "raw PCM",
    );
    let out = run(&["speak", "Hi.", "--stream", "--normalize"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses the combination");
}

#[test]
fn timings_json_and_subtitles_follow_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    let srt = dir.path().join("s.srt");
    let vtt = dir.path().join("s.vtt");
    let wav = read_wav(&speak_to(
        dir.path(),
        "t.wav",
        &[
            "--sample-rate",
            "16000",
            "--timings",
            json.to_str().unwrap(),
            "--subtitles",
            srt.to_str().unwrap(),
        ],
    ));
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(t["sample_rate"], 16_000);
    let sentences = t["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 2);
    let mut words = Vec::new();
    let mut last_end = 0;
    for s in sentences {
        for w in s["words"].as_array().unwrap() {
            let (a, b) = (w["start"].as_u64().unwrap(), w["end"].as_u64().unwrap());
            assert!(
                last_end <= a && a < b && b <= wav.samples.len() as u64,
                "{w}"
            );
            last_end = b;
            words.push(w["word"].as_str().unwrap().to_owned());
        }
        assert!(!s["phonemes"].as_array().unwrap().is_empty());
    }
    assert_eq!(words.first().map(String::as_str), Some("Streaming"));
    assert_eq!(words.last().map(String::as_str), Some("ready"));

    let srt = std::fs::read_to_string(&srt).unwrap();
    assert!(srt.starts_with("1\n00:00:00,"), "{srt}");
    assert!(
        srt.contains("\n2\n") && srt.contains("Each sentence comes out when it is ready."),
        "{srt}"
    );

    speak_to(dir.path(), "v.wav", &["--subtitles", vtt.to_str().unwrap()]);
    let vtt = std::fs::read_to_string(&vtt).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n00:00:00."), "{vtt}");
    assert_clean_failure(
        &run(&["speak", "Hi.", "--subtitles", "x.txt", "-o", "x.wav"]),
        ".srt",
    );
}

#[test]
fn text_file_input() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book.txt");
    std::fs::write(&book, TEXT).unwrap();
    let out_file = dir.path().join("book.wav");
    let out = run(&[
        "speak",
        "--file",
        book.to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
        "--noise-scale",
        "0",
        "--noise-w",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_file = read_wav(&out_file);
    let from_arg = read_wav(&speak_to(dir.path(), "arg.wav", &[]));
    assert_eq!(from_file.samples, from_arg.samples);
    std::fs::write(&book, b"\xff\xfe").unwrap();
    assert_clean_failure(
        &run(&["speak", "--file", book.to_str().unwrap(), "-o", "x.wav"]),
        "not valid UTF-8",
    );
}

#[test]
fn inspect_shows_provenance_and_refuses_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speak_to(dir.path(), "p.wav", &[]);
    let out = run(&["inspect", wav.to_str().unwrap()]);
    assert!(out.status.success());
    let report = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "provenance:  synthetic speech",
        "voice:       en_US-joe-medium",
        "generator:   Signet ",
        "manifest:    sha256:",
        "22050 Hz",
    ] {
        assert!(report.contains(needle), "{needle} not in {report}");
    }

    // Metadata stripped: the file is fine, the provenance is gone.
    let bytes = std::fs::read(&wav).unwrap();
    let list = bytes.windows(4).position(|w| w == b"LIST").unwrap();
    let list_size = u32::from_le_bytes(bytes[list + 4..list + 8].try_into().unwrap()) as usize;
    let mut stripped = bytes[..list].to_vec();
    stripped.extend_from_slice(&bytes[list + 8 + list_size + (list_size & 1)..]);
    let size = (stripped.len() - 8) as u32;
    stripped[4..8].copy_from_slice(&size.to_le_bytes());
    let plain = dir.path().join("plain.wav");
    std::fs::write(&plain, &stripped).unwrap();
    let out = run(&["inspect", plain.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("provenance:  none"));

    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, &bytes[..bytes.len() - 3]).unwrap();
    assert_clean_failure(&run(&["inspect", bad.to_str().unwrap()]), "truncated");
    std::fs::write(&bad, b"not a wav file at all").unwrap();
    assert_clean_failure(&run(&["inspect", bad.to_str().unwrap()]), "not a RIFF file");
    assert_clean_failure(&run(&["inspect", "/nonexistent/x.wav"]), "cannot open");
}

#[test]
fn ssml_breaks_and_marks_reach_the_audio_and_the_timings_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    let wav_path = dir.path().join("s.wav");
    let doc = "<speak>Hello <mark name=\"w\"/>there.<break time=\"700ms\"/><mark name=\"after\"/>Goodbye.</speak>";
    let mut args = vec![
        "speak",
        doc,
        "-o",
        wav_path.to_str().unwrap(),
        "--timings",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(&DETERMINISTIC);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wav = read_wav(&wav_path);
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rate = t["sample_rate"].as_u64().unwrap();
    let sentences = t["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 3, "{t}");
    let pause = &sentences[1];
    let (start, end) = (
        pause["start"].as_u64().unwrap(),
        pause["end"].as_u64().unwrap(),
    );
    assert_eq!(end - start, rate * 700 / 1000);
    assert!(pause["words"].as_array().unwrap().is_empty());
    assert!(wav.samples[start as usize..end as usize]
        .iter()
        .all(|&s| s == 0));
    let mark = |s: &serde_json::Value, name: &str| {
        s["marks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["sample"]
            .as_u64()
            .unwrap()
    };
    let there = &sentences[0]["words"].as_array().unwrap()[1];
    assert_eq!(there["word"], "there");
    assert_eq!(mark(&sentences[0], "w"), there["start"].as_u64().unwrap());
    // A mark after the break stands at the next word.
    let goodbye = &sentences[2]["words"].as_array().unwrap()[0];
    assert_eq!(goodbye["word"], "Goodbye");
    assert_eq!(
        mark(&sentences[2], "after"),
        goodbye["start"].as_u64().unwrap()
    );
    assert!(goodbye["start"].as_u64().unwrap() >= end);
}

#[test]
fn lexicon_entries_change_the_phonemes_and_check_finds_problems() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("l.toml");
    std::fs::write(
        &toml,
        "[words]\ntomato = { ipa = \"təmˈɑːtoʊ\" }\nSQL = { say = \"sequel\" }\n",
    )
    .unwrap();
    let pls = dir.path().join("l.pls");
    std::fs::write(
        &pls,
        "<lexicon alphabet=\"ipa\"><lexeme><grapheme>tomato</grapheme><phoneme>təmˈɑːtoʊ</phoneme></lexeme><lexeme><grapheme>SQL</grapheme><alias>sequel</alias></lexeme></lexicon>",
    )
    .unwrap();
    let phonemes = |extra: &[&str]| {
        let mut args = vec!["phonemize", "A tomato and SQL."];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = phonemes(&[]);
    let with_toml = phonemes(&["--lexicon", toml.to_str().unwrap()]);
    let with_pls = phonemes(&["--lexicon", pls.to_str().unwrap()]);
    assert_ne!(plain, with_toml);
    assert_eq!(with_toml, with_pls);
    assert!(with_toml.contains("təmˈɑːtoʊ"), "{with_toml}");
    let out = run(&["lexicon", "check", toml.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.pls");
    std::fs::write(
        &bad,
        "<lexicon><lexeme><grapheme>a</grapheme><phoneme>\u{e000}</phoneme></lexeme><lexeme><grapheme>a</grapheme><alias>b</alias></lexeme></lexicon>",
    )
    .unwrap();
    let out = run(&[
        "lexicon",
        "check",
        bad.to_str().unwrap(),
        "--voice",
        "en_US-joe-medium",
    ]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("more than one entry") && stdout.contains("\\u{e000}"),
        "{stdout}"
    );
    assert_clean_failure(
        &run(&["speak", "Hi.", "--lexicon", "/etc/passwd", "-o", "x.wav"]),
        "/etc/passwd",
    );
}

/// The README's example: a word the default voice says wrong, fixed by one entry.
#[test]
fn readme_lexicon_entry_fixes_gnocchi() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("names.toml");
    std::fs::write(&toml, "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\n").unwrap();
    let say = |extra: &[&str]| {
        let mut args = vec!["phonemize", "gnocchi"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(say(&[]), "nˈɑːkaɪ");
    assert_eq!(say(&["--lexicon", toml.to_str().unwrap()]), "nˈjoʊki");
}

/// `voices import piper --lexicon`: the lexicon goes into the signed bundle,
/// `voices verify` lists it, the voice speaks it (the same ids and samples as
/// the same entry given with `--lexicon`), and a user's lexicon still wins.
#[test]
fn imported_voice_lexicon_is_spoken_and_user_lexicon_beats_it() {
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names.toml");
    std::fs::write(&names, "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\n").unwrap();
    let mine = dir.path().join("mine.toml");
    std::fs::write(&mine, "[words]\ngnocchi = { ipa = \"nˈɔki\" }\n").unwrap();
    let lexicon_home = dir.path().join("home");
    std::fs::create_dir(&lexicon_home).unwrap();
    std::os::unix::fs::symlink(
        std::fs::read_link(home().join("espeak-ng")).unwrap(),
        lexicon_home.join("espeak-ng"),
    )
    .unwrap();
    let in_home = |args: &[&str]| {
        signet()
            .arg("--home")
            .arg(&lexicon_home)
            .args(args)
            .output()
            .unwrap()
    };
    let onnx = voice_onnx();
    let out = in_home(&[
        "voices",
        "import",
        "piper",
        "--name",
        "en_US-joe-medium",
        "--lexicon",
        names.to_str().unwrap(),
        onnx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = in_home(&["voices", "verify", "en_US-joe-medium"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("lexicon: lexicon.toml (toml"),
        "{stdout}"
    );
    let bundle_ids = in_home(&["phonemize", "--ids", "The gnocchi, please."]);
    let user_ids = run(&[
        "phonemize",
        "--ids",
        "The gnocchi, please.",
        "--lexicon",
        names.to_str().unwrap(),
    ]);
    let plain_ids = run(&["phonemize", "--ids", "The gnocchi, please."]);
    assert!(bundle_ids.status.success() && user_ids.status.success());
    assert_eq!(bundle_ids.stdout, user_ids.stdout);
    assert_ne!(bundle_ids.stdout, plain_ids.stdout);
    let said = in_home(&["phonemize", "gnocchi"]);
    assert_eq!(String::from_utf8_lossy(&said.stdout).trim(), "nˈjoʊki");
    let said = in_home(&["phonemize", "gnocchi", "--lexicon", mine.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&said.stdout).trim(), "nˈɔki");
    // The same samples either way (watermark off: the two homes' keys differ).
    let speak = |home_args: &[&str], wav: &Path, extra: &[&str]| {
        let mut args: Vec<&str> = home_args.to_vec();
        args.extend_from_slice(&["speak", "The gnocchi, please.", "--no-watermark", "-o"]);
        args.push(wav.to_str().unwrap());
        args.extend_from_slice(&DETERMINISTIC);
        args.extend_from_slice(extra);
        let out = signet().args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        read_wav(wav).samples
    };
    let from_bundle = speak(
        &["--home", lexicon_home.to_str().unwrap()],
        &dir.path().join("bundle.wav"),
        &[],
    );
    let from_user = speak(
        &["--home", home().to_str().unwrap()],
        &dir.path().join("user.wav"),
        &["--lexicon", names.to_str().unwrap()],
    );
    assert_eq!(from_bundle, from_user);
}

/// A lexicon that does not read, or that is written for another language, is
/// refused at import, before anything is written.
#[test]
fn import_refuses_an_unreadable_or_foreign_lexicon() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\ntomato = 3\n",
    )
    .unwrap();
    let german = dir.path().join("de.pls");
    std::fs::write(
        &german,
        "<lexicon alphabet=\"ipa\" xml:lang=\"de-DE\"><lexeme><grapheme>Gnocchi</grapheme><phoneme>nˈjɔki</phoneme></lexeme></lexicon>",
    )
    .unwrap();
    let onnx = voice_onnx();
    for (file, needle) in [(&bad, "line 3"), (&german, "written for \"de-DE\"")] {
        let out = run(&[
            "voices",
            "import",
            "piper",
            "--name",
            "joe-refused",
            "--lexicon",
            file.to_str().unwrap(),
            onnx.to_str().unwrap(),
        ]);
        assert_clean_failure(&out, needle);
        assert!(!home().join("voices/joe-refused").exists());
    }
}

fn voice_onnx() -> std::path::PathBuf {
    std::env::var_os("SIGNET_TEST_VOICE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/voices/en_US-joe-medium")
        })
        .join("en_US-joe-medium.onnx")
}

/// ffmpeg's decoding of a file to 16-bit mono at `rate` (ffmpeg is the
/// Debian package setup installs).
fn ffmpeg_decode(path: &Path, rate: u32) -> Vec<i16> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "1", "-ar", &rate.to_string(), "-"])
        .output()
        .expect("ffmpeg: run `cargo xtask setup`");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// ffprobe's format name and tags of a file, as JSON text.
fn ffprobe(path: &Path) -> String {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=format_name:format_tags:stream_tags",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe: run `cargo xtask setup`");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mp3_opus_and_flac_by_flag_or_extension_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let wav = read_wav(&speak_to(dir.path(), "ref.wav", &[]));
    let n = wav.samples.len();
    for (name, extra, probe) in [
        ("a.mp3", &[][..], "mp3"),
        ("b.opus", &[][..], "ogg"),
        ("c.ogg", &[][..], "ogg"),
        ("d.flac", &[][..], "flac"),
        ("e.audio", &["--format", "flac"][..], "flac"),
        ("f.MP3", &["--format", "mp3"][..], "mp3"),
    ] {
        let path = speak_to(dir.path(), name, extra);
        let probed = ffprobe(&path);
        assert!(probed.contains(&format!("\"{probe}\"")), "{name}: {probed}");
        assert!(
            probed.contains("synthetic speech; generator=Signet")
                && probed.contains("voice=en_US-joe-medium"),
            "{name} carries no provenance: {probed}"
        );
        let decoded = ffmpeg_decode(&path, 22_050);
        match probe {
            // Lossless: exactly the WAV's samples.
            "flac" => assert!(decoded == wav.samples, "{name} differs from the WAV"),
            // LAME's delay and last-frame padding, no more.
            "mp3" => assert!(
                (n..=n + 2_400).contains(&decoded.len()),
                "{name}: {} samples for {n}",
                decoded.len()
            ),
            // Opus runs at 48 kHz; back at the voice's rate, within rounding.
            _ => assert!(
                decoded.len().abs_diff(n) <= 30,
                "{name}: {} samples for {n}",
                decoded.len()
            ),
        }
    }
    // To stdout as it is encoded.
    let mut args = vec!["speak", TEXT, "--format", "mp3"];
    args.extend_from_slice(&DETERMINISTIC);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"ID3"));
}

#[test]
fn a_format_that_contradicts_the_file_name_is_refused() {
    assert_clean_failure(
        &run(&["speak", "Hi.", "--format", "mp3", "-o", "x.wav"]),
        "does not match",
    );
    assert_clean_failure(
        &run(&["speak", "Hi.", "--format", "s16", "-o", "x.flac"]),
        "does not match",
    );
    assert_clean_failure(
        &run(&["speak", "Hi.", "--stream", "--format", "opus"]),
        "raw PCM",
    );
    assert!(!Path::new("x.wav").exists() && !Path::new("x.flac").exists());
}
