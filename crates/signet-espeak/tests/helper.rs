//! The real helper: protocol behaviour, bad requests, resource limits, retirement.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use signet_text::protocol::{
    read_frame, write_frame, ErrorCode, Hello, Request, Response, ResponseBody, MAX_RESPONSE_BYTES,
    MAX_TEXT_BYTES, PROTOCOL_VERSION,
};
use signet_text::{text_to_sentences, EspeakConfig, EspeakPhonemizer, HelperLimits, TextError};

use crate::common::{config, espeak_dir, phonemizer, voice_id_map, HELPER};

/// Starts the helper directly, without the client.
fn raw_helper() -> Result<std::process::Child> {
    let dir = espeak_dir()?;
    Ok(Command::new(HELPER)
        .arg("--library")
        .arg(dir.join("espeakbridge.so"))
        .arg("--data")
        .arg(dir.join("espeak-ng-data"))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// Reads the helper's hello frame: its first.
fn hello(stdout: &mut impl Read) -> Result<Hello> {
    let frame = read_frame(stdout, MAX_RESPONSE_BYTES)?.context("helper closed stdout")?;
    Ok(Hello::decode(&frame)?)
}

fn exchange(stdin: &mut impl Write, stdout: &mut impl Read, payload: &[u8]) -> Result<Response> {
    write_frame(stdin, payload)?;
    let frame = read_frame(stdout, MAX_RESPONSE_BYTES)?.context("helper closed stdout")?;
    Ok(Response::decode(&frame)?)
}

fn error_code(r: &Response) -> Option<ErrorCode> {
    match &r.body {
        ResponseBody::Error { code, .. } => Some(*code),
        _ => None,
    }
}

#[test]
fn bad_requests_get_error_responses_and_the_helper_survives() -> Result<()> {
    let mut child = raw_helper()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut stdout = child.stdout.take().context("stdout")?;
    ensure!(hello(&mut stdout)?.sandbox.is_required_set());
    let good = Request {
        voice: "en-us",
        text: "Hello.",
    }
    .encode()?;

    let mut bad_payloads: Vec<Vec<u8>> = vec![
        vec![],                                      // empty payload
        vec![PROTOCOL_VERSION + 1, 5],               // wrong version
        vec![PROTOCOL_VERSION, 200, b'e'],           // voice length beyond the payload
        vec![PROTOCOL_VERSION, 3, b'.', b'.', b'/'], // path characters in the voice
        vec![
            PROTOCOL_VERSION,
            5,
            b'e',
            b'n',
            b'-',
            b'u',
            b's',
            b'a',
            0,
            b'b',
        ], // NUL in text
        vec![
            PROTOCOL_VERSION,
            5,
            b'e',
            b'n',
            b'-',
            b'u',
            b's',
            0xff,
            0xfe,
        ], // invalid UTF-8
    ];
    let mut long = vec![PROTOCOL_VERSION, 5];
    long.extend_from_slice(b"en-us");
    long.extend(std::iter::repeat_n(b'a', MAX_TEXT_BYTES + 1));
    bad_payloads.push(long);
    for payload in &bad_payloads {
        let r = exchange(&mut stdin, &mut stdout, payload)?;
        ensure!(
            error_code(&r) == Some(ErrorCode::MalformedRequest),
            "payload {:?}… got {r:?}",
            payload.get(..payload.len().min(12))
        );
        // Still serving.
        let ok = exchange(&mut stdin, &mut stdout, &good)?;
        ensure!(matches!(ok.body, ResponseBody::Clauses(_)), "{ok:?}");
    }

    let unknown = Request {
        voice: "xx-nonexistent",
        text: "Hello.",
    }
    .encode()?;
    let r = exchange(&mut stdin, &mut stdout, &unknown)?;
    ensure!(error_code(&r) == Some(ErrorCode::VoiceNotFound), "{r:?}");
    let ok = exchange(&mut stdin, &mut stdout, &good)?;
    ensure!(matches!(ok.body, ResponseBody::Clauses(_)), "{ok:?}");

    drop(stdin);
    let status = child.wait()?;
    ensure!(
        status.success(),
        "helper exited with {status} after stdin closed"
    );
    Ok(())
}

#[test]
fn oversized_frame_is_refused_and_the_helper_exits() -> Result<()> {
    let mut child = raw_helper()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut stdout = child.stdout.take().context("stdout")?;
    hello(&mut stdout)?;
    stdin.write_all(&u32::MAX.to_le_bytes())?;
    stdin.flush()?;
    let frame = read_frame(&mut stdout, MAX_RESPONSE_BYTES)?.context("no response")?;
    let r = Response::decode(&frame)?;
    ensure!(
        error_code(&r) == Some(ErrorCode::MalformedRequest) && r.retiring,
        "{r:?}"
    );
    let status = child.wait()?;
    ensure!(
        !status.success(),
        "helper should exit with an error, got {status}"
    );
    Ok(())
}

#[test]
fn resource_limits_are_applied() -> Result<()> {
    let mut espeak = phonemizer()?;
    espeak.phonemize("en-us", "Start.")?;
    let pid = espeak.helper_pid().context("helper not running")?;
    let helper = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    // The helper never asks above the hard limits it inherits from this process.
    let ours = std::fs::read_to_string("/proc/self/limits")?;
    let row = |table: &str, name: &str| -> Vec<u64> {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| {
                l[name.len()..]
                    .split_whitespace()
                    .take(2)
                    .map(|v| v.parse().unwrap_or(u64::MAX)) // "unlimited"
                    .collect()
            })
            .unwrap_or_default()
    };
    let expect = |name: &str, wanted: u64| -> Result<()> {
        let value = wanted.min(row(&ours, name)[1]);
        ensure!(
            row(&helper, name) == [value, value],
            "{name}: wanted {value}\n{helper}"
        );
        Ok(())
    };
    let defaults = HelperLimits::default();
    expect("Max file size", 0)?;
    expect("Max core file size", 0)?;
    expect("Max open files", defaults.open_files)?;
    expect("Max address space", defaults.address_space_bytes)?;
    expect("Max processes", 0)?;
    let cpu = row(&helper, "Max cpu time");
    let total = defaults
        .cpu_seconds_total
        .min(row(&ours, "Max cpu time")[1]);
    ensure!(cpu[1] == total, "{helper}");
    ensure!(cpu[0] <= defaults.cpu_seconds_per_request + 2, "{helper}");
    // Only stdin, stdout, stderr and the protocol descriptor are open.
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    ensure!(fds <= 4, "helper has {fds} open descriptors");
    Ok(())
}

#[test]
fn spent_cpu_budget_retires_the_helper_and_the_client_restarts_it() -> Result<()> {
    let mut limits = HelperLimits::default();
    limits.cpu_seconds_per_request = 1;
    limits.cpu_seconds_total = 1;
    let mut espeak = EspeakPhonemizer::new(config()?.with_limits(limits))?;
    let first = espeak.phonemize("en-us", "One.")?;
    ensure!(
        espeak.helper_pid().is_none(),
        "a retiring helper must not be kept"
    );
    let second = espeak.phonemize("en-us", "One.")?;
    ensure!(first == second);
    Ok(())
}

#[test]
fn long_text_is_phonemized_in_pieces() -> Result<()> {
    let (map, _) = voice_id_map()?;
    let mut espeak = phonemizer()?;
    let sentence = "The quick brown fox jumps over the lazy dog. ";
    let text = sentence.repeat(150_000 / sentence.len());
    ensure!(text.len() > 2 * MAX_TEXT_BYTES);
    let started = std::time::Instant::now();
    let (sentences, diagnostics) = text_to_sentences(&mut espeak, "en-us", &map, &text)?;
    eprintln!(
        "{} bytes -> {} sentences in {:?}",
        text.len(),
        sentences.len(),
        started.elapsed()
    );
    ensure!(
        sentences.len() == text.len() / sentence.len(),
        "{} sentences",
        sentences.len()
    );
    ensure!(diagnostics.is_empty(), "{diagnostics:?}");
    let first = &sentences[0];
    ensure!(sentences.iter().all(|s| s.ids == first.ids));
    // Spans cover each sentence of the input.
    for s in &sentences {
        let span = &text[s.text.clone()];
        ensure!(
            span.starts_with("The quick") && span.ends_with("dog."),
            "span {span:?}"
        );
    }
    Ok(())
}

#[test]
fn sentence_spans_point_into_the_input() -> Result<()> {
    let (map, _) = voice_id_map()?;
    let mut espeak = phonemizer()?;
    let text = "Hello, world! How are you?\u{7} I'm fine…  Thanks.";
    let (sentences, diagnostics) = text_to_sentences(&mut espeak, "en-us", &map, text)?;
    let spans: Vec<&str> = sentences.iter().map(|s| &text[s.text.clone()]).collect();
    ensure!(
        spans == ["Hello, world!", "How are you?", "I'm fine…  Thanks."],
        "{spans:?}"
    );
    ensure!(
        diagnostics == [signet_text::Diagnostic::ControlCharactersStripped { count: 1 }],
        "{diagnostics:?}"
    );
    Ok(())
}

#[test]
fn unspeakable_inputs_are_clear_errors() -> Result<()> {
    let (map, _) = voice_id_map()?;
    let mut espeak = phonemizer()?;
    for text in ["", "   ", "...", "?!", "\u{1}\u{2}"] {
        match text_to_sentences(&mut espeak, "en-us", &map, text) {
            Err(TextError::NothingToSpeak { .. }) => {}
            other => anyhow::bail!("{text:?}: expected NothingToSpeak, got {other:?}"),
        }
    }
    let huge = "a ".repeat(600_000);
    ensure!(matches!(
        text_to_sentences(&mut espeak, "en-us", &map, &huge),
        Err(TextError::LimitExceeded {
            limit: "max_input_bytes",
            ..
        })
    ));
    Ok(())
}

#[test]
fn unknown_voice_is_refused_and_the_next_call_works() -> Result<()> {
    let mut espeak = phonemizer()?;
    let err = espeak.phonemize("xx-nonexistent", "Hello.").unwrap_err();
    ensure!(
        matches!(
            err,
            TextError::HelperRefused {
                code: ErrorCode::VoiceNotFound,
                ..
            }
        ),
        "{err}"
    );
    ensure!(matches!(
        espeak.phonemize("../etc", "Hello."),
        Err(TextError::InvalidVoice { .. })
    ));
    espeak.phonemize("en-us", "Hello.")?;
    Ok(())
}

#[test]
fn missing_library_is_named_with_the_fix() -> Result<()> {
    let cfg = EspeakConfig::new(
        HELPER,
        "/nonexistent/espeakbridge.so",
        espeak_dir()?.join("espeak-ng-data"),
    );
    let err = EspeakPhonemizer::new(cfg).unwrap_err().to_string();
    ensure!(
        err.contains("/nonexistent/espeakbridge.so") && err.contains("cargo xtask setup"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_library_that_is_not_espeak_fails_with_its_stderr() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = dir.path().join("espeakbridge.so");
    std::fs::write(&fake, b"not an ELF file")?;
    let cfg = EspeakConfig::new(HELPER, &fake, espeak_dir()?.join("espeak-ng-data"))
        .with_timeout(Duration::from_secs(5));
    let mut espeak = EspeakPhonemizer::new(cfg)?;
    let err = espeak.phonemize("en-us", "Hello.").unwrap_err();
    let msg = err.to_string();
    ensure!(matches!(err, TextError::HelperDied { .. }), "{msg}");
    ensure!(msg.contains("cannot load espeak-ng"), "{msg}");
    Ok(())
}

/// A copy of the real library with one byte appended: still a loadable ELF file, but not
/// the pinned build. Returns the folder (kept alive by the caller) and the copy's path.
fn modified_library() -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("espeakbridge.so");
    let mut bytes = std::fs::read(espeak_dir()?.join("espeakbridge.so"))?;
    bytes.push(0);
    std::fs::write(&copy, &bytes)?;
    Ok((dir, copy))
}

#[test]
fn a_modified_library_is_refused_before_it_is_loaded() -> Result<()> {
    let (_dir, copy) = modified_library()?;
    let cfg = EspeakConfig::new(HELPER, &copy, espeak_dir()?.join("espeak-ng-data"))
        .with_timeout(Duration::from_secs(5));
    let err = EspeakPhonemizer::new(cfg)?
        .phonemize("en-us", "Hello.")
        .unwrap_err();
    let msg = err.to_string();
    ensure!(matches!(err, TextError::HelperDied { .. }), "{msg}");
    ensure!(
        msg.contains(signet_text::ESPEAK_LIBRARY_SHA256) && msg.contains("not the pinned"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn the_library_is_checked_against_the_configured_pin() -> Result<()> {
    use sha2::Digest;
    let (_dir, copy) = modified_library()?;
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(&copy)?));
    let cfg = EspeakConfig::new(HELPER, &copy, espeak_dir()?.join("espeak-ng-data"))
        .with_library_sha256(digest);
    let phonemes = EspeakPhonemizer::new(cfg)?.phonemize("en-us", "Hello.")?;
    ensure!(!phonemes.is_empty());
    // The real library under a pin that is not its own is refused.
    let cfg = config()?.with_library_sha256("00".repeat(32));
    ensure!(EspeakPhonemizer::new(cfg)?
        .phonemize("en-us", "Hello.")
        .is_err());
    Ok(())
}

/// Runs the helper's `--sandbox-selftest ATTEMPT` with the client's default limits and
/// the given sandbox mode: `(exit code, signal, its one line of output)`.
pub fn selftest(attempt: &str, sandbox: &str) -> Result<(Option<i32>, Option<i32>, String)> {
    use std::os::unix::process::ExitStatusExt;
    let dir = espeak_dir()?;
    let limits = HelperLimits::default();
    let out = Command::new(HELPER)
        .arg("--library")
        .arg(dir.join("espeakbridge.so"))
        .arg("--data")
        .arg(dir.join("espeak-ng-data"))
        .args([
            "--address-space-bytes",
            &limits.address_space_bytes.to_string(),
            "--open-files",
            &limits.open_files.to_string(),
            "--sandbox",
            sandbox,
            "--sandbox-selftest",
            attempt,
        ])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    Ok((
        out.status.code(),
        out.status.signal(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    ))
}

#[test]
fn address_space_limit_is_enforced() -> Result<()> {
    // espeak-ng loaded and initialised, the sandbox on, the default 128 MiB limit: an
    // allocation of twice the limit is refused, while 16 MiB still fits.
    let limit = HelperLimits::default().address_space_bytes;
    let past = selftest(&format!("allocate:{}", 2 * limit), "required")?;
    ensure!(
        past.0 == Some(0) && past.2.starts_with("refused:"),
        "allocation past the limit: {past:?}"
    );
    let within = selftest(&format!("allocate:{}", 16 << 20), "required")?;
    ensure!(
        within.0 == Some(1) && within.2 == "allowed",
        "allocation within the limit: {within:?}"
    );
    // And the helper phonemizes under that limit.
    phonemizer()?.phonemize("en-us", "Still within the limit.")?;
    Ok(())
}

mod robustness {
    use proptest::prelude::*;
    use signet_text::{text_to_sentences, TextError};

    use crate::common::{phonemizer, voice_id_map};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Arbitrary Unicode gives sentences whose spans point into the text, or a clear
        /// "nothing to speak"; never a protocol error, a crash or a hang of the helper.
        #[test]
        fn arbitrary_text_never_breaks_the_helper(text in "\\PC{0,200}|[\\x00-\\x7f]{0,200}") {
            let (map, _) = voice_id_map().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut espeak = phonemizer().map_err(|e| TestCaseError::fail(e.to_string()))?;
            match text_to_sentences(&mut espeak, "en-us", &map, &text) {
                Ok((sentences, _)) => {
                    for s in sentences {
                        prop_assert!(text.get(s.text.clone()).is_some());
                        prop_assert!(s.ids.len() >= 3);
                    }
                }
                Err(TextError::NothingToSpeak { .. }) => {}
                // A helper that crashes or hangs is a failure: espeak-ng must not be
                // made to fail by text (the crash-input tests list what still does).
                Err(e) => return Err(TestCaseError::fail(format!("{text:?}: {e}"))),
            }
        }
    }
}
