//! The edges a newcomer and an attacker found (issue 19): closed pipes,
//! endless inputs, hostile metadata, two outputs on one path, and the words
//! the CLI speaks. Each test is named after the behaviour it holds.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::e2e::{assert_clean_failure, home, run, signet};

/// `signet` with a fresh, empty home (no voice needed).
fn in_empty_home(home: &Path, args: &[&str]) -> Output {
    signet()
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run signet")
}

/// Runs `signet ARGS` with a stdout whose reader has already gone, as in
/// `signet voices list | head -0`: every write fails with a broken pipe.
fn with_closed_stdout(home: &Path, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("stdout.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // Opening a FIFO's write end waits for a reader: open one, then close it.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || drop(std::fs::File::open(fifo).expect("open read end")))
    };
    let writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open write end");
    reader.join().expect("reader thread");
    signet()
        .arg("--home")
        .arg(home)
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run signet")
}

#[test]
fn a_closed_stdout_ends_list_commands_quietly() {
    let empty = tempfile::tempdir().expect("temp dir");
    let made = in_empty_home(empty.path(), &["keys", "generate", "--name", "k"]);
    assert!(made.status.success());
    for (home, args) in [
        (home(), &["voices", "list"][..]),
        (empty.path(), &["trust", "list"][..]),
        (empty.path(), &["keys", "list"][..]),
    ] {
        let out = with_closed_stdout(home, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{args:?}: {:?}, stderr: {stderr}",
            out.status
        );
        assert!(stderr.is_empty(), "{args:?} printed: {stderr}");
    }
}

#[test]
fn endless_inputs_are_refused_before_reading() {
    let empty = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let out = in_empty_home(
        empty.path(),
        &["trust", "add", "/dev/zero", "--role", "bundle-signer"],
    );
    assert_clean_failure(&out, "/dev/zero");
    assert_clean_failure(&out, "not a regular file");
    let out = in_empty_home(empty.path(), &["inspect", "/dev/zero"]);
    assert_clean_failure(&out, "not a regular file");
    let out = run(&["speak", "--phoneme-ids", "/dev/zero", "-o", "unused.wav"]);
    assert_clean_failure(&out, "not a regular file");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refusing took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_too_large_wav_is_refused_in_the_cli_s_words() {
    // A sparse file over the 1 GiB cap: the refusal names the cap, not a
    // library setting the user cannot change.
    let dir = tempfile::tempdir().expect("temp dir");
    let big = dir.path().join("big.wav");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len((1 << 30) + 1).expect("sparse file");
    let empty = tempfile::tempdir().expect("temp dir");
    let out = in_empty_home(empty.path(), &["inspect", big.to_str().expect("utf8")]);
    assert_clean_failure(&out, "1073741824");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("WavLimits") && !stderr.contains("with_"),
        "{stderr}"
    );
}

/// A 16-bit mono WAV of `samples` with a `LIST`/`INFO` chunk holding `isft`;
/// with `streamed`, the RIFF and data sizes are 0xFFFFFFFF, as a writer that
/// streams leaves them.
fn wav_bytes(samples: &[i16], isft: Option<&[u8]>, streamed: bool) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut list = Vec::new();
    if let Some(text) = isft {
        list.extend_from_slice(b"LIST");
        let mut body = b"INFO".to_vec();
        body.extend_from_slice(b"ISFT");
        body.extend_from_slice(&u32::try_from(text.len()).unwrap().to_le_bytes());
        body.extend_from_slice(text);
        if text.len() % 2 == 1 {
            body.push(0);
        }
        list.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        list.extend_from_slice(&body);
    }
    let mut out = b"RIFF".to_vec();
    let riff_size = if streamed {
        u32::MAX
    } else {
        u32::try_from(4 + 24 + list.len() + 8 + data.len()).unwrap()
    };
    out.extend_from_slice(&riff_size.to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&22_050u32.to_le_bytes());
    out.extend_from_slice(&44_100u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(&list);
    out.extend_from_slice(b"data");
    let data_size = if streamed {
        u32::MAX
    } else {
        u32::try_from(data.len()).unwrap()
    };
    out.extend_from_slice(&data_size.to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[test]
fn inspect_escapes_control_characters_from_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("hostile.wav");
    let title = b"\x1b]0;owned\x07\x1b[2J\rSignet \xe2\x80\xae1.0";
    std::fs::write(&wav, wav_bytes(&[0, 1, -1, 0], Some(title), false)).expect("write");
    let empty = tempfile::tempdir().expect("temp dir");
    let out = in_empty_home(empty.path(), &["inspect", wav.to_str().expect("utf8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.chars().any(|c| c.is_control() && c != '\n') && !stdout.contains('\u{202e}'),
        "raw control characters reached stdout: {stdout:?}"
    );
    assert!(
        stdout.contains(r"software:    \u{1b}]0;owned\u{7}\u{1b}[2J\u{d}Signet \u{202e}1.0"),
        "{stdout}"
    );
}

#[test]
fn inspect_reads_a_streamed_wav_with_unknown_sizes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("streamed.wav");
    let samples: Vec<i16> = (0..22_050).map(|i| ((i % 100) * 100) as i16).collect();
    std::fs::write(&wav, wav_bytes(&samples, None, true)).expect("write");
    let empty = tempfile::tempdir().expect("temp dir");
    let out = in_empty_home(empty.path(), &["inspect", wav.to_str().expect("utf8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1.000 s (22050 frames)"), "{stdout}");
}

#[test]
fn inspect_names_a_foreign_file_s_four_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"It was a dark and stormy night.").expect("write");
    let empty = tempfile::tempdir().expect("temp dir");
    let out = in_empty_home(empty.path(), &["inspect", text.to_str().expect("utf8")]);
    assert_clean_failure(&out, "not a RIFF file: starts with \"It w\"");
}

#[test]
fn trust_unrevoke_lifts_a_revocation() {
    let home = tempfile::tempdir().expect("temp dir");
    let key = in_empty_home(home.path(), &["keys", "generate", "--name", "root"]);
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let stdout = String::from_utf8_lossy(&key.stdout);
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("key id:"))
        .expect("key id line")
        .trim()
        .to_owned();
    let public = stdout
        .lines()
        .find_map(|l| l.strip_prefix("public key:"))
        .expect("public key line")
        .trim()
        .to_owned();
    let ok = |args: &[&str]| {
        let out = in_empty_home(home.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&["trust", "add", &public, "--role", "index-root"]);
    ok(&["trust", "revoke", &id]);
    let refused = in_empty_home(
        home.path(),
        &["trust", "add", &public, "--role", "index-root"],
    );
    assert_clean_failure(&refused, "signet trust unrevoke");
    assert!(ok(&["trust", "list"]).contains(&format!("{id} index-root")));
    assert!(ok(&["trust", "list"]).contains("revoked"));
    ok(&["trust", "unrevoke", &id]);
    let list = ok(&["trust", "list"]);
    assert!(!list.contains("revoked"), "{list}");
    let again = in_empty_home(home.path(), &["trust", "unrevoke", &id]);
    assert_clean_failure(&again, "is not revoked");
}

#[test]
fn expired_trust_and_indexes_that_expire_at_once_are_refused() {
    let home = tempfile::tempdir().expect("temp dir");
    let key = in_empty_home(home.path(), &["keys", "generate", "--name", "root"]);
    assert!(key.status.success());
    let stdout = String::from_utf8_lossy(&key.stdout);
    let public = stdout
        .lines()
        .find_map(|l| l.strip_prefix("public key:"))
        .expect("public key line")
        .trim()
        .to_owned();
    let past = in_empty_home(
        home.path(),
        &[
            "trust",
            "add",
            &public,
            "--role",
            "index-root",
            "--expires",
            "2020-01-01T00:00:00Z",
        ],
    );
    assert_clean_failure(&past, "in the past");
    assert!(!home.path().join("trust.toml").exists());
    let future = in_empty_home(
        home.path(),
        &[
            "trust",
            "add",
            &public,
            "--role",
            "index-root",
            "--expires",
            "2999-01-01T00:00:00Z",
        ],
    );
    assert!(future.status.success());
    let dir = tempfile::tempdir().expect("temp dir");
    let zero = in_empty_home(
        home.path(),
        &[
            "registry",
            "publish",
            dir.path().to_str().expect("utf8"),
            "--key",
            "root",
            "--expires-in-days",
            "0",
        ],
    );
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--expires-in-days"));
    assert!(!dir.path().join("index.json").exists());
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf8 temp path")
}

#[test]
fn two_outputs_on_one_path_are_refused_before_writing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let same = dir.path().join("same.wav");
    let other_spelling = dir.path().join(".").join("same.wav");
    for (flag, second) in [("--timings", &same), ("--subtitles", &other_spelling)] {
        let out = run(&[
            "speak",
            "Hi.",
            flag,
            path_str(second),
            "-o",
            path_str(&same),
        ]);
        assert_clean_failure(&out, "give each output its own file");
        assert!(!same.exists(), "{flag}: something was written");
    }
    let srt = dir.path().join("same.srt");
    let out = run(&[
        "speak",
        "Hi.",
        "--timings",
        path_str(&srt),
        "--subtitles",
        path_str(&srt),
        "-o",
        path_str(&same),
    ]);
    assert_clean_failure(&out, "--timings and --subtitles both name");
    assert!(!same.exists() && !srt.exists());
}

#[test]
fn output_dir_refuses_to_overwrite_unless_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    std::fs::write(out_dir.join("0002.wav"), b"keep me").expect("write");
    let input = dir.path().join("lines.txt");
    std::fs::write(&input, "Hello.\nBye.\n").expect("write");
    let args = [
        "speak",
        "--file",
        path_str(&input),
        "--output-dir",
        path_str(&out_dir),
    ];
    let out = run(&args);
    assert_clean_failure(&out, "--overwrite");
    assert_eq!(std::fs::read(out_dir.join("0002.wav")).unwrap(), b"keep me");
    assert!(
        !out_dir.join("0001.wav").exists(),
        "written before refusing"
    );
    let mut with_flag = args.to_vec();
    with_flag.push("--overwrite");
    let out = run(&with_flag);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(out_dir.join("0002.wav"))
        .unwrap()
        .starts_with(b"RIFF"));
}

#[test]
fn output_dir_notes_lines_of_only_invisible_or_control_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("lines.txt");
    std::fs::write(&input, "Hello.\n\u{200b}\u{200b}\n\u{7}\nBye.\n").expect("write");
    let out_dir = dir.path().join("out");
    let out = run(&[
        "speak",
        "--file",
        path_str(&input),
        "--output-dir",
        path_str(&out_dir),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("line 2 has nothing to speak"), "{stderr}");
    assert!(stderr.contains("line 3 has nothing to speak"), "{stderr}");
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["0001.wav", "0004.wav"]);
}

#[test]
fn a_raw_format_into_a_wav_name_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    for format in ["f32", "s16"] {
        let wav = dir.path().join("f.WAV");
        let out = run(&["speak", "Hi.", "--format", format, "-o", path_str(&wav)]);
        assert_clean_failure(&out, &format!("--format {format} writes raw samples"));
        assert!(!wav.exists());
    }
    let raw = dir.path().join("f.f32");
    let out = run(&["speak", "Hi.", "--format", "f32", "-o", path_str(&raw)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!std::fs::read(&raw).unwrap().starts_with(b"RIFF"));
}

#[test]
fn seed_makes_noisy_output_reproducible() {
    let dir = tempfile::tempdir().expect("temp dir");
    let speak = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        let out = run(&[
            "speak",
            "Seeds make noise repeatable.",
            "--noise-scale",
            "0.8",
            "--seed",
            seed,
            "--format",
            "f32",
            "-o",
            path_str(&path),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(path).expect("read")
    };
    let a = speak("a.f32", "7");
    let b = speak("b.f32", "7");
    let c = speak("c.f32", "8");
    assert!(!a.is_empty());
    assert_eq!(a, b, "the same seed gave different samples");
    assert_ne!(a, c, "different seeds gave the same samples");
}

#[test]
fn phonemize_prints_phonemes_and_ids_that_speak_accepts() {
    let out = run(&["phonemize", "Hello world. Bye."]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("həlˈoʊ"), "{stdout}");
    let out = run(&["phonemize", "--ids", "Hello world."]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<i64> = serde_json::from_slice(&out.stdout).expect("a JSON array of ids");
    assert!(ids.len() > 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ids.json");
    std::fs::write(&file, &out.stdout).expect("write");
    let wav = dir.path().join("ids.wav");
    let out = run(&[
        "speak",
        "--phoneme-ids",
        path_str(&file),
        "-o",
        path_str(&wav),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(crate::e2e::read_wav(&wav).samples.len() > 10_000);
}

#[test]
fn voices_list_shows_the_licence() {
    let out = run(&["voices", "list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let header = stdout.lines().next().expect("header");
    assert!(header.contains("LICENCE"), "{header}");
    let voice = stdout
        .lines()
        .find(|l| l.starts_with("en_US-joe-medium"))
        .expect("voice line");
    assert!(voice.contains("CC0"), "{voice}");
}

#[test]
fn serve_speaks_the_cli_s_language() {
    let empty = tempfile::tempdir().expect("temp dir");
    let check = signet()
        .arg("--home")
        .arg(empty.path())
        .args(["serve", "--check", "--anonymous", "--bind", "127.0.0.1:0"])
        .env_remove("SIGNET_API_KEYS")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("bind                       = 127.0.0.1:0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mode                       = anonymous"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Config {") && !stdout.contains("Some("),
        "{stdout}"
    );
    let no_keys = signet()
        .arg("--home")
        .arg(home())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("SIGNET_API_KEYS")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&no_keys.stderr);
    assert!(!no_keys.status.success());
    for needle in ["--keys-file", "SIGNET_API_KEYS", "--anonymous"] {
        assert!(stderr.contains(needle), "{needle} missing: {stderr}");
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {stderr:?}"
    );
}

#[test]
fn verify_release_without_a_signature_names_the_missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("signet"), b"binary").expect("write");
    std::fs::write(
        dir.path().join("SHA256SUMS"),
        format!("{}  signet\n", "0".repeat(64)),
    )
    .expect("write");
    let out = run(&[
        "verify-release",
        path_str(dir.path()),
        "--pubkey",
        "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ]);
    assert_clean_failure(&out, "has no SHA256SUMS.dsse.json");
}

/// The text of a README shell line before its ` # comment`, quotes respected.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        prev = c;
    }
    line.trim_end()
}

/// Why a README example cannot run here, or `None` when it can.
fn skip_reason(cmd: &str) -> Option<&'static str> {
    if cmd.contains("https://") {
        Some("needs a URL (remote installs are tested against nginx in signet-fetch)")
    } else if cmd.contains("aplay") || cmd.contains("| mpv") {
        Some("needs a player")
    } else if cmd.contains("signet serve")
        || (cmd.contains("signet wyoming") && !cmd.contains("--check"))
    {
        Some("runs a server until stopped (signet-server's tests cover it)")
    } else if cmd.contains("ed25519:...") || cmd.contains("KEY_ID") || cmd.contains(" DIR ") {
        Some("a placeholder the reader fills in")
    } else if cmd.contains("./some-bundle") || cmd.contains("./site") {
        Some("needs a bundle folder from elsewhere")
    } else {
        None
    }
}

/// Walks README.md top to bottom and runs every `signet ...` example of its
/// shell blocks, in order, in a scratch folder with a fresh home, so the
/// README cannot drift from the CLI. Local stand-ins: the default voice's
/// files stand in for `en_US-lessac-medium.onnx`, signet-coqui's tiny VITS
/// for `model_file.pth` and `config.json`, coqui-tts's HiFi-GAN and Glow-TTS fixtures for
/// the two-stage example, short texts for
/// `book.txt` and `prompts.txt`. Skipped, with the reason printed: examples
/// that need a URL, a player, a running server, a placeholder or a bundle
/// folder from elsewhere (`skip_reason`).
#[test]
fn readme_examples_run_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let work = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir");
    // The fresh home: espeak-ng linked in, the default voice imported.
    let espeak = std::fs::read_link(crate::e2e::home().join("espeak-ng")).expect("espeak link");
    std::os::unix::fs::symlink(espeak, home.path().join("espeak-ng")).expect("link espeak-ng");
    let voice_dir = std::env::var_os("SIGNET_TEST_VOICE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/voices/en_US-joe-medium")
        });
    let onnx = voice_dir.join("en_US-joe-medium.onnx");
    let imported = in_empty_home(
        home.path(),
        &[
            "voices",
            "import",
            "piper",
            "--name",
            "en_US-joe-medium",
            path_str(&onnx),
        ],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    for ext in ["onnx", "onnx.json"] {
        // Copies: the importer refuses symbolic links.
        std::fs::copy(
            voice_dir.join(format!("en_US-joe-medium.{ext}")),
            work.path().join(format!("en_US-lessac-medium.{ext}")),
        )
        .expect("stand-in voice");
    }
    // `signet scan model.pth`: a Coqui checkpoint torch wrote (a committed fixture).
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../signet-checkpoint/tests/data/fixtures/hifigan_tiny_zip.pth"),
        work.path().join("model.pth"),
    )
    .expect("stand-in checkpoint");
    // `signet voices import coqui model_file.pth --config config.json`: a Coqui VITS that
    // coqui-tts wrote (signet-coqui's committed fixture).
    let coqui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signet-coqui/tests/data");
    for (from, to) in [
        ("vits_tiny.pth", "model_file.pth"),
        ("vits_tiny.json", "config.json"),
    ] {
        std::fs::copy(coqui.join(from), work.path().join(to)).expect("stand-in Coqui model");
    }
    // The two-stage example: coqui-tts's HiFi-GAN and Glow-TTS fixtures.
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (from, to) in [
        (
            "signet-vocoder/tests/data/coqui/hifigan_gan.pth",
            "vocoder.pth",
        ),
        (
            "signet-vocoder/tests/data/coqui/hifigan_config.json",
            "vocoder_config.json",
        ),
        (
            "signet-acoustic/tests/data/coqui/glow_tts.pth",
            "glow_tts.pth",
        ),
    ] {
        std::fs::copy(crates.join(from), work.path().join(to)).expect("stand-in Coqui model");
    }
    write_glow_config(&work.path().join("glow_config.json"));
    std::fs::write(
        work.path().join("book.txt"),
        "A short book. It ends here.\n",
    )
    .expect("write");
    std::fs::write(
        work.path().join("prompts.txt"),
        "First prompt.\nSecond one.\n",
    )
    .expect("write");
    // The SSML and lexicon examples' files.
    std::fs::write(
        work.path().join("page.ssml"),
        "<speak>A page.<break time=\"200ms\"/><mark name=\"end\"/>Done.</speak>",
    )
    .expect("write");
    std::fs::write(
        work.path().join("names.toml"),
        "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\n",
    )
    .expect("write");
    let bin = Path::new(env!("CARGO_BIN_EXE_signet"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut in_shell_block = false;
    let (mut ran, mut skipped) = (0, 0);
    for (number, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_shell_block = matches!(line.trim(), "```sh" | "```bash" | "```shell");
            continue;
        }
        let cmd = strip_comment(line.trim());
        if !in_shell_block || !(cmd.starts_with("signet ") || cmd.contains("| signet ")) {
            continue;
        }
        if let Some(why) = skip_reason(cmd) {
            eprintln!("README line {}: skipped ({why}): {cmd}", number + 1);
            skipped += 1;
            continue;
        }
        let out = Command::new("sh")
            .args(["-c", cmd])
            .current_dir(work.path())
            .env("PATH", &path)
            .env("SIGNET_HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "README line {}: `{cmd}` failed: {}",
            number + 1,
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    eprintln!("README: {ran} examples ran, {skipped} skipped");
    assert!(ran >= 20, "only {ran} README examples ran");
}

#[test]
fn max_output_seconds_takes_decimals() {
    let out = run(&[
        "speak",
        "Hello there, this sentence takes more than a tenth of a second.",
        "--max-output-seconds",
        "0.1",
        "-o",
        crate::e2e::SINK,
    ]);
    assert_clean_failure(&out, "more than max_output_seconds = 0.1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("invalid digit"), "{stderr}");
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("hi.wav");
    let ok = run(&[
        "speak",
        "Hi.",
        "--max-output-seconds",
        "30.5",
        "-o",
        path_str(&wav),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = run(&[
        "speak",
        "Hi.",
        "--max-output-seconds",
        "-1",
        "-o",
        path_str(&wav),
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn write_errors_name_the_users_path() {
    // A special file that refuses every write: the error names it.
    let out = run(&["speak", "Hi.", "-o", "/dev/full"]);
    assert_clean_failure(&out, "cannot write /dev/full");
    // A regular file that cannot be created: the user's path, not a temporary name.
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("missing-folder").join("out.wav");
    let out = run(&["speak", "Hi.", "-o", path_str(&target)]);
    assert_clean_failure(&out, &format!("cannot write {}", target.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("signet-part"), "{stderr}");
}

#[test]
fn escape_sequences_from_a_bundle_reach_the_terminal_escaped() {
    // A bundle whose envelope carries an unknown field named with terminal escapes (retitle,
    // clear screen): the parser's message quotes it, and the CLI must show it escaped.
    let empty = tempfile::tempdir().expect("temp dir");
    let bundle = empty.path().join("evil-bundle");
    std::fs::create_dir(&bundle).expect("bundle dir");
    std::fs::write(bundle.join("manifest.toml"), "format = \"x\"\n").expect("manifest");
    std::fs::write(
        bundle.join("manifest.dsse.json"),
        "{\"\\u001b]0;owned\\u0007\\u001b[2J\": 1}",
    )
    .expect("envelope");
    let home = empty.path().join("home");
    let out = in_empty_home(&home, &["voices", "install", path_str(&bundle)]);
    assert_clean_failure(&out, "\\u{1b}]0;owned\\u{7}\\u{1b}[2J");
    assert!(
        !out.stderr.iter().any(|b| *b == 0x1b || *b == 0x07),
        "raw control bytes on stderr: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn a_trust_store_others_can_change_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let empty = tempfile::tempdir().expect("temp dir");
    let home = empty.path().join("home");
    let made = in_empty_home(&home, &["keys", "generate", "--name", "k"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let printed = String::from_utf8_lossy(&made.stdout).into_owned();
    let public = printed
        .split_whitespace()
        .find(|w| w.starts_with("ed25519:"))
        .expect("the public key is printed");
    let added = in_empty_home(&home, &["trust", "add", public, "--role", "bundle-signer"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let trust = home.join("trust.toml");
    let keys = home.join("keys");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&trust), 0o600);
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("k.key")), 0o600);
    // A group member could add a key of theirs: refused, with the fix.
    std::fs::set_permissions(&trust, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    let out = in_empty_home(&home, &["trust", "list"]);
    assert_clean_failure(&out, &format!("chmod go-w {}", trust.display()));
    std::fs::set_permissions(&trust, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // A key folder anyone can write to: anyone could swap the key.
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = in_empty_home(&home, &["keys", "export-public", "--name", "k"]);
    assert_clean_failure(&out, &format!("chmod go-w {}", keys.display()));
}

#[test]
fn wyoming_binds_loopback_unless_remote_is_allowed() {
    let empty = tempfile::tempdir().expect("temp dir");
    let run_check = |args: &[&str]| {
        signet()
            .arg("--home")
            .arg(empty.path())
            .arg("wyoming")
            .args(args)
            .arg("--check")
            .env_remove("SIGNET_API_KEYS")
            .output()
            .expect("run")
    };
    let local = run_check(&[]);
    let stdout = String::from_utf8_lossy(&local.stdout);
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    assert!(
        stdout.contains("uri                        = tcp://127.0.0.1:10200"),
        "{stdout}"
    );
    assert!(
        stdout.contains("http                       = off"),
        "{stdout}"
    );
    let remote = run_check(&["--uri", "tcp://0.0.0.0:10200"]);
    let stderr = String::from_utf8_lossy(&remote.stderr);
    assert!(!remote.status.success());
    assert!(stderr.contains("no authentication"), "{stderr}");
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    let allowed = run_check(&["--uri", "tcp://0.0.0.0:10200", "--allow-remote"]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(
        String::from_utf8_lossy(&allowed.stdout).contains("remote                     = allowed")
    );
    // `serve --wyoming` opens both doors.
    let both = signet()
        .arg("--home")
        .arg(empty.path())
        .args([
            "serve",
            "--check",
            "--anonymous",
            "--wyoming",
            "unix:///tmp/x.sock",
        ])
        .env_remove("SIGNET_API_KEYS")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&both.stdout);
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    assert!(
        stdout.contains("http                       = on"),
        "{stdout}"
    );
    assert!(
        stdout.contains("uri                        = unix:///tmp/x.sock"),
        "{stdout}"
    );
}

/// Runs `signet ARGS` with `home` as its home.
fn signet_in(home: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signet"))
        .env("SIGNET_HOME", home)
        .args(args)
        .output()
        .expect("run signet")
}

/// Fails with the command's stderr unless it succeeded.
fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A voice imported from Coqui TTS speaks from text: `signet speak --voice NAME TEXT` runs
/// Coqui's cleaners and tokenizer (the fixture: characters, english_cleaners, add_blank)
/// and writes a real WAV whose length follows the text.
#[test]
fn a_coqui_voice_speaks_from_text() {
    let home = tempfile::tempdir().expect("temp home");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signet-coqui/tests/data");
    let signet = |args: &[&std::ffi::OsStr]| signet_in(home.path(), args);
    let import = signet(&[
        "voices".as_ref(),
        "import".as_ref(),
        "coqui".as_ref(),
        data.join("vits_tiny.pth").as_os_str(),
        "--config".as_ref(),
        data.join("vits_tiny.json").as_os_str(),
    ]);
    assert_succeeded(&import);
    let speak = |text: &str, name: &str| {
        let out = home.path().join(name);
        let run = signet(&[
            "speak".as_ref(),
            "--voice".as_ref(),
            "vits_tiny".as_ref(),
            // The same take each run: the random test model's durations vary with the noise.
            "--seed".as_ref(),
            "7".as_ref(),
            text.as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let bytes = std::fs::read(&out).expect("the WAV is written");
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        // Samples in the `data` chunk (16-bit mono).
        let at = bytes
            .windows(4)
            .position(|w| w == b"data")
            .expect("a data chunk");
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        size as usize / 2
    };
    let short = speak("Hello there.", "short.wav");
    let long = speak(
        "Hello there. The meeting is at 10:45, and 3 people will come.",
        "long.wav",
    );
    // VITS gives every token at least one frame (16 samples in this model): "hello there."
    // is 12 characters, 25 ids with the blanks. The longer text speaks for longer.
    assert!(short >= 25 * 16, "{short} samples");
    assert!(long > short * 2, "{long} samples against {short}");
    // The model's durations give word timings, as for any voice.
    let timings = home.path().join("timings.json");
    let run = signet(&[
        "speak".as_ref(),
        "--voice".as_ref(),
        "vits_tiny".as_ref(),
        "Hello there, friend.".as_ref(),
        "-o".as_ref(),
        home.path().join("t.wav").as_os_str(),
        "--timings".as_ref(),
        timings.as_os_str(),
    ]);
    assert_succeeded(&run);
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&timings).expect("timings written")).expect("JSON");
    let words: Vec<String> = value["sentences"]
        .as_array()
        .expect("a sentences array")
        .iter()
        .flat_map(|s| s["words"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w["word"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(words, ["Hello", "there", "friend"], "{value}");
}

/// Coqui text settings Signet cannot reproduce are refused when the model is imported,
/// naming the setting, so no bundle exists that would speak with the wrong token ids.
#[test]
fn a_coqui_voice_with_unreproducible_text_settings_is_refused_at_import() {
    let home = tempfile::tempdir().expect("temp home");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signet-coqui/tests/data");
    // Coqui writes `Infinity` into its configs: edit the text, not a JSON value.
    let config = std::fs::read_to_string(data.join("vits_tiny.json")).expect("read the config");
    let edited = config.replace(
        "\"text_cleaner\": \"english_cleaners\"",
        "\"text_cleaner\": \"chinese_mandarin_cleaners\"",
    );
    assert_ne!(edited, config, "the fixture names english_cleaners");
    let path = home.path().join("config.json");
    std::fs::write(&path, edited).expect("write");
    let import = Command::new(env!("CARGO_BIN_EXE_signet"))
        .env("SIGNET_HOME", home.path())
        .args(["voices", "import", "coqui"])
        .arg(data.join("vits_tiny.pth"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run signet");
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(!import.status.success(), "{stderr}");
    assert!(stderr.contains("chinese_mandarin_cleaners"), "{stderr}");
    assert!(!home.path().join("voices/vits_tiny").exists());
}

/// A YourTTS-style Coqui model imports with the files beside its config (its d-vector and
/// language-ids files, found by the names config.json records), and `voices verify` lists
/// the names `--speaker` and `--language` take; an explicit side file that is not there is
/// an error naming it.
#[test]
fn a_coqui_yourtts_import_lists_its_speakers_and_languages() {
    let home = tempfile::tempdir().expect("temp home");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signet-coqui/tests/data");
    let signet = |args: &[&std::ffi::OsStr]| signet_in(home.path(), args);
    let missing = home.path().join("no-such-dvectors.pth");
    let refused = signet(&[
        "voices".as_ref(),
        "import".as_ref(),
        "coqui".as_ref(),
        data.join("vits_yourtts_tiny.pth").as_os_str(),
        "--config".as_ref(),
        data.join("vits_yourtts_tiny.json").as_os_str(),
        "--d-vector-file".as_ref(),
        missing.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("no-such-dvectors.pth"), "{stderr}");
    let import = signet(&[
        "voices".as_ref(),
        "import".as_ref(),
        "coqui".as_ref(),
        data.join("vits_yourtts_tiny.pth").as_os_str(),
        "--config".as_ref(),
        data.join("vits_yourtts_tiny.json").as_os_str(),
        "--name".as_ref(),
        "yourtts".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(import.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 speakers, 3 of them named; 3 languages"),
        "{stderr}"
    );
    let verify = signet(&["voices".as_ref(), "verify".as_ref(), "yourtts".as_ref()]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert_succeeded(&verify);
    assert!(
        stdout.contains("speakers: female-en-5 (0), female-pt-4 (1), male-en-2 (2)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("languages: en (0), fr-fr (1), pt-br (2)"),
        "{stdout}"
    );
}

/// A Coqui two-stage voice from the command line: the vocoder imported into
/// `<home>/vocoders/` and listed as verified, the Glow-TTS voice imported pinning it (and
/// refused without it), and the voice speaking token ids into a WAV file of coqui-tts's
/// length for those ids.
#[test]
fn a_two_stage_coqui_voice_imports_with_its_vocoder_and_speaks_ids() {
    let home = tempfile::tempdir().expect("temp home");
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let vocoder = crates.join("signet-vocoder/tests/data/coqui");
    let glow = crates.join("signet-acoustic/tests/data/coqui");
    let signet = |args: &[&std::ffi::OsStr]| signet_in(home.path(), args);
    let ok = |out: &Output| assert_succeeded(out);
    ok(&signet(&[
        "vocoders".as_ref(),
        "import".as_ref(),
        "coqui".as_ref(),
        vocoder.join("hifigan_gan.pth").as_os_str(),
        "--config".as_ref(),
        vocoder.join("hifigan_config.json").as_os_str(),
        "--name".as_ref(),
        "hifigan".as_ref(),
    ]));
    let list = signet(&["vocoders".as_ref(), "list".as_ref()]);
    ok(&list);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("hifigan") && listed.contains("yes (manifest sha256"),
        "{listed}"
    );
    let config = home.path().join("glow_config.json");
    write_glow_config(&config);
    let model = glow.join("glow_tts.pth");
    let import = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "voices".as_ref(),
            "import".as_ref(),
            "coqui".as_ref(),
            model.as_os_str(),
            "--config".as_ref(),
            config.as_os_str(),
            "--name".as_ref(),
            "glow".as_ref(),
        ];
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        signet(&args)
    };
    let without = import(&[]);
    assert_eq!(without.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("--vocoder NAME"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    let missing = import(&["--vocoder", "nonesuch"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not installed"));
    ok(&import(&["--vocoder", "hifigan"]));
    let ids = home.path().join("ids.json");
    std::fs::write(&ids, "[3, 7, 1, 19, 4, 4, 12, 0, 8]").expect("write");
    let wav = home.path().join("out.wav");
    ok(&signet(&[
        "speak".as_ref(),
        "--voice".as_ref(),
        "glow".as_ref(),
        "--phoneme-ids".as_ref(),
        ids.as_os_str(),
        "-o".as_ref(),
        wav.as_os_str(),
    ]));
    // (9 ids: 28 mel frames + 2 x 5 padding frames) x 16 samples, as coqui-tts gives.
    assert_eq!(crate::e2e::read_wav(&wav).samples.len(), 608);
}

/// The Glow-TTS fixture's config at `dest`, with its symbol table written out: coqui-tts
/// trained the fixture with `characters: null`, its default Graphemes (these 67 symbols), and
/// Signet wants the table in the config.
fn write_glow_config(dest: &Path) {
    let glow = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signet-acoustic/tests/data/coqui/glow_tts_config.json");
    let text = std::fs::read_to_string(glow)
        .expect("config")
        .replace("-Infinity", "null")
        .replace("Infinity", "null");
    let mut cfg: serde_json::Value = serde_json::from_str(&text).expect("json");
    cfg["characters"] = serde_json::json!({
        "characters_class": "TTS.tts.utils.text.characters.Graphemes",
        "pad": "<PAD>", "eos": "<EOS>", "bos": "<BOS>", "blank": "<BLNK>",
        "characters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "punctuations": "!'(),-.:;? ", "is_unique": false, "is_sorted": true
    });
    std::fs::write(dest, serde_json::to_vec(&cfg).expect("json")).expect("write");
}
