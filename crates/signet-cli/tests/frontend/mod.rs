//! The text frontend through the library (`signet::Synthesizer`, the path
//! `signet speak` takes) with the real default voice and espeak-ng helper: one
//! synthesizer for the whole module.

use std::sync::OnceLock;

use signet::{Diagnostic, Limits, Synthesizer};

use crate::e2e::home;

/// The shared synthesizer, with default limits.
fn synth() -> &'static Synthesizer {
    static SYNTH: OnceLock<Synthesizer> = OnceLock::new();
    SYNTH.get_or_init(|| build(Limits::default()))
}

fn build(limits: Limits) -> Synthesizer {
    builder(limits)
        .build()
        .expect("build the default voice's synthesizer")
}

/// A builder for the default voice in the test home, deterministic, with `limits`.
fn builder(limits: Limits) -> signet::SynthesizerBuilder {
    let helper = std::path::Path::new(env!("CARGO_BIN_EXE_signet")).with_file_name("signet-espeak");
    let dir = home().join("espeak-ng");
    let espeak = signet::EspeakConfig::new(
        helper,
        dir.join("espeakbridge.so"),
        dir.join("espeak-ng-data"),
    );
    Synthesizer::builder()
        .home(home())
        .espeak(espeak)
        .noise_scale(0.0)
        .noise_w(0.0)
        .limits(limits)
}

fn phonemes(text: &str) -> String {
    let (sentences, _) = synth().phonemize(text).expect("phonemize");
    sentences.iter().map(|s| s.phonemes.as_str()).collect()
}

#[test]
fn numbers_and_abbreviations_are_read_as_words() {
    assert_eq!(phonemes("I have 3 cats."), phonemes("I have three cats."));
    assert_eq!(
        phonemes("Dr. Smith paid $5.50 on 2024-03-05."),
        phonemes(
            "Doctor Smith paid five dollars and fifty cents on March fifth, twenty twenty-four."
        )
    );
}

#[test]
fn odd_characters_are_removed_and_reported() {
    let speech = synth()
        .speak("Hello\u{202E} wor\u{200B}ld\u{7}.")
        .expect("speak");
    assert!(speech.audio.samples().len() > 1000);
    for want in [
        Diagnostic::BidiControlsStripped { count: 1 },
        Diagnostic::ZeroWidthStripped { count: 1 },
        Diagnostic::ControlCharactersStripped { count: 1 },
    ] {
        assert!(
            speech.diagnostics.contains(&want),
            "{want:?} not in {:?}",
            speech.diagnostics
        );
    }
    assert_eq!(
        phonemes("Hello\u{202E} wor\u{200B}ld."),
        phonemes("Hello world.")
    );
}

#[test]
fn inline_phonemes_are_spoken_and_unknown_symbols_reported() {
    let (sentences, diagnostics) = synth()
        .phonemize("Say [[ həlˈoʊ ]] now.")
        .expect("phonemize");
    assert_eq!(sentences.len(), 1);
    assert!(
        sentences[0].phonemes.contains("həlˈoʊ"),
        "{:?}",
        sentences[0].phonemes
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    // A symbol the voice lacks (U+263A) is left out with a diagnostic naming it.
    let (_, diagnostics) = synth().phonemize("Say [[ hə☺ ]] now.").expect("phonemize");
    assert!(
        diagnostics
            .iter()
            .any(|d| matches!(d, Diagnostic::UnknownPhoneme { symbol, .. } if symbol == "☺")),
        "{diagnostics:?}"
    );
}

#[test]
fn every_limit_names_itself_and_its_fix() {
    let cases: [(Limits, &str, &str); 4] = [
        (
            Limits::default().with_max_input_bytes(10),
            "max_input_bytes",
            "--max-input-bytes",
        ),
        (
            Limits::default().with_max_chars(10),
            "max_chars",
            "--max-chars",
        ),
        (
            Limits::default().with_max_phonemes_per_request(20),
            "max_phonemes_per_request",
            "--max-phonemes-per-request",
        ),
        (
            Limits::default().with_max_output_seconds(1.0),
            "max_output_seconds",
            "--max-output-seconds",
        ),
    ];
    for (limits, name, flag) in cases {
        let err = build(limits)
            .speak("This sentence is long enough to break every one of these limits.")
            .expect_err(name)
            .to_string();
        assert!(err.contains(name) && err.contains(flag), "{name}: {err}");
    }
}

#[test]
fn long_sentences_are_cut_to_the_phoneme_limit() {
    let synth = build(Limits::default().with_max_phonemes_per_sentence(40));
    let text = "this is a rather long sentence without any punctuation that goes on and on";
    let (sentences, _) = synth.phonemize(text).expect("phonemize");
    assert!(sentences.len() >= 2, "{sentences:?}");
    assert!(sentences.iter().all(|s| s.phoneme_count() <= 40));
    let speech = synth.speak(text).expect("speak");
    assert!(speech.audio.samples().len() > 22_050);
}

mod corpus;

#[test]
fn a_hundred_thousand_characters_without_a_full_stop_are_spoken_completely() {
    // The only long test of the frontend: the whole text through the real helper.
    let text = "and the rain kept falling on the roofs of the town ".repeat(2_000);
    assert!(text.chars().count() >= 100_000 && !text.contains('.'));
    let synth = synth();
    let started = std::time::Instant::now();
    let prepared = synth.prepare_text(&text).expect("prepare");
    let first_segment = started.elapsed();
    // The segments cover the text: consecutive, from the first byte to the last.
    let mut at = 0;
    for segment in &prepared.segments {
        assert_eq!(segment.source.start, at);
        at = segment.source.end;
    }
    assert_eq!(at, text.len());
    let mut sentences = 0;
    let mut phonemes = 0;
    let mut first = None;
    let mut last = None;
    for segment in &prepared.segments {
        let out = synth
            .phonemize_segment(segment)
            .expect("phonemize a segment");
        for s in out.sentences {
            assert!(s.phoneme_count() <= synth.limits().max_phonemes_per_sentence);
            sentences += 1;
            phonemes += s.phoneme_count();
            if first.is_none() {
                first = Some(s.ids.clone());
            }
            last = Some(s.ids);
        }
    }
    eprintln!(
        "{} characters: {} segments, {sentences} sentences, {phonemes} phonemes; prepared in {first_segment:?}, all phonemized in {:?}",
        text.chars().count(),
        prepared.segments.len(),
        started.elapsed()
    );
    // Roughly one phoneme per character: nothing was dropped.
    assert!(phonemes > 80_000, "{phonemes} phonemes");
    // The model takes the first and the last sentence like any other (synthesizing
    // all two hours of audio is the streaming benchmark's job, not a test's).
    for ids in [first, last] {
        let speech = synth
            .speak_ids(&ids.expect("a sentence"))
            .expect("synthesize");
        assert!(speech.audio.samples().len() > 22_050);
    }
}

/// A Signet home of its own (sharing the voice store, trust store and
/// espeak-ng of [`home`]) with `config` as its `config.toml`.
fn home_with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    // Everything of the shared home (voices, trust store, keys, espeak-ng) but its config.
    for entry in std::fs::read_dir(home()).expect("shared home") {
        let entry = entry.expect("shared home entry");
        if entry.file_name() == "config.toml" {
            continue;
        }
        let target = std::fs::canonicalize(entry.path()).expect("shared home entry");
        let copy = dir.path().join(entry.file_name());
        if target.is_file() {
            // Signet refuses a trust store that is a symbolic link.
            std::fs::copy(&target, &copy).expect("copy");
        } else {
            std::os::unix::fs::symlink(target, copy).expect("link");
        }
    }
    std::fs::write(dir.path().join("config.toml"), config).expect("write config");
    dir
}

fn speak_in(home: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let scratch = tempfile::tempdir().expect("temp dir");
    std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
        .arg("--home")
        .arg(home)
        .args(["speak", "Hello there, how are you?", "-o"])
        .arg(scratch.path().join("out.wav"))
        .args(extra)
        .output()
        .expect("run signet")
}

#[test]
fn limits_come_from_the_config_file_and_flags_win() {
    let home = home_with_config("[limits]\nmax_chars = 5\n\n[server]\nport = 1\n");
    let out = speak_in(home.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("this input needs 25 characters, more than max_chars = 5")
            && stderr.contains("config.toml"),
        "{stderr}"
    );
    let out = speak_in(home.path(), &["--max-chars", "100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_limits_table_is_a_clear_error() {
    for config in [
        "[limits]\nmax_charz = 5\n",
        "[limits]\nmax_chars = -1\n",
        "[limits\n",
    ] {
        let home = home_with_config(config);
        let out = speak_in(home.path(), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{config:?}: {stderr}");
        assert!(stderr.contains("config.toml"), "{config:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn verbose_lists_what_the_frontend_changed() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
        .arg("--home")
        .arg(home())
        .args(["speak", "Pay \u{202E}$5\u{200B} now.", "--verbose", "-o"])
        .arg(scratch.path().join("out.wav"))
        .output()
        .expect("run signet");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("bidirectional control"), "{stderr}");
    assert!(stderr.contains("zero-width"), "{stderr}");
    assert!(stderr.contains("rewrote numbers"), "{stderr}");
    // Which sandbox espeak-ng ran in.
    assert!(
        stderr.contains(
            "espeak-ng helper sandbox: seccomp-bpf allow-list, no_new_privs, not dumpable"
        ),
        "{stderr}"
    );
    // Notes describe, they never repeat the text.
    assert!(
        !stderr.contains("Pay") && !stderr.contains("now"),
        "{stderr}"
    );
}

#[test]
fn serve_reports_the_espeak_sandbox_at_start() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
        .arg("--home")
        .arg(home())
        .args([
            "serve",
            "--anonymous",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run signet serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("espeak-ng helper sandbox") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let line = found.unwrap_or_else(|| panic!("no sandbox line; stderr: {seen:?}"));
    assert!(
        line.contains("seccomp-bpf allow-list") && line.contains("no_new_privs"),
        "{line}"
    );
}

#[test]
fn precision_falls_back_to_fp32_without_native_bf16_and_says_so() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let run = |precision: &str, out: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
            .arg("--home")
            .arg(home())
            .env(signet::DISABLE_BF16_ENV, "1")
            .args([
                "speak",
                "Precision test.",
                "--verbose",
                "--noise-scale",
                "0",
            ])
            .args(["--noise-w", "0", "--precision", precision, "-o"])
            .arg(scratch.path().join(out))
            .output()
            .expect("run signet")
    };
    let bf16 = run("bf16", "bf16.wav");
    let stderr = String::from_utf8_lossy(&bf16.stderr);
    assert!(bf16.status.success(), "{stderr}");
    assert!(stderr.contains("decoder precision fp32"), "{stderr}");
    assert!(stderr.contains("falling back to fp32"), "{stderr}");
    let fp32 = run("fp32", "fp32.wav");
    let stderr = String::from_utf8_lossy(&fp32.stderr);
    assert!(fp32.status.success(), "{stderr}");
    assert!(stderr.contains("decoder precision fp32"), "{stderr}");
    assert!(!stderr.contains("falling back"), "{stderr}");
    // The samples, not the files: each file's signed credentials carry the
    // time it was written.
    let read = |name: &str| -> Vec<i16> {
        hound::WavReader::open(scratch.path().join(name))
            .expect("output")
            .into_samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("samples")
    };
    let fallback = read("bf16.wav");
    assert!(!fallback.is_empty());
    assert_eq!(fallback, read("fp32.wav"), "the fallback is fp32 exactly");
    let bad = run("fp16", "bad.wav");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("auto, fp32 or bf16"));
}
