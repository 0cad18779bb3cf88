//! Fault injection: helpers that die, hang or answer garbage. Each time the call must
//! fail with a clear error within the timeout, and the next call must succeed on a fresh
//! helper.
//!
//! The faulty helpers are small shell scripts: on their first run they misbehave, and on
//! every later run they hand over to the real helper. The shipped helper has no fault
//! switch.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use signet_text::protocol::{Hello, LandlockState, SandboxReport, PROTOCOL_VERSION};
use signet_text::{EspeakConfig, EspeakPhonemizer, TextError};

use crate::common::{config, espeak_dir, phonemizer, HELPER};

const TIMEOUT: Duration = Duration::from_secs(2);
/// Slack for process start and teardown on a loaded machine.
const SLACK: Duration = Duration::from_secs(3);

/// Writes a helper script that runs `misbehave` (sh code) on its first run only.
fn faulty_helper(dir: &Path, misbehave: &str) -> Result<PathBuf> {
    let marker = dir.join("ran-once");
    let script = dir.join("faulty-helper");
    let text = format!(
        "#!/bin/sh\nif [ ! -e '{marker}' ]; then\n  : > '{marker}'\n  {misbehave}\nfi\nexec '{helper}' \"$@\"\n",
        marker = marker.display(),
        helper = HELPER,
    );
    std::fs::write(&script, text)?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

/// Runs one faulty first call and one good second call; returns the first call's error.
fn fail_then_recover(misbehave: &str) -> Result<TextError> {
    let dir = tempfile::tempdir()?;
    let script = faulty_helper(dir.path(), misbehave)?;
    let cfg = EspeakConfig::from_espeak_dir(&script, &espeak_dir()?).with_timeout(TIMEOUT);
    let mut espeak = EspeakPhonemizer::new(cfg)?;
    let started = Instant::now();
    let err = match espeak.phonemize("en-us", "Hello there.") {
        Ok(c) => bail!("faulty helper ({misbehave}) gave an answer: {c:?}"),
        Err(e) => e,
    };
    let took = started.elapsed();
    ensure!(took <= TIMEOUT + SLACK, "failure took {took:?}: {err}");
    ensure!(espeak.helper_pid().is_none(), "the failed helper was kept");
    // Next call: a fresh helper (the script now execs the real one).
    let clauses = espeak
        .phonemize("en-us", "Hello there.")
        .with_context(|| format!("call after the fault ({err})"))?;
    ensure!(
        clauses.len() == 1 && clauses[0].phonemes.contains("ðˈɛɹ"),
        "{clauses:?}"
    );
    Ok(err)
}

#[test]
fn helper_that_hangs_times_out() -> Result<()> {
    let err = fail_then_recover("exec sleep 60")?;
    ensure!(matches!(err, TextError::HelperTimeout { .. }), "{err}");
    Ok(())
}

#[test]
fn helper_that_exits_reports_status_and_stderr() -> Result<()> {
    let err = fail_then_recover("echo 'simulated crash' >&2; exit 7")?;
    let msg = err.to_string();
    ensure!(matches!(err, TextError::HelperDied { .. }), "{msg}");
    ensure!(
        msg.contains("simulated crash") && msg.contains('7'),
        "{msg}"
    );
    Ok(())
}

#[test]
fn helper_that_answers_random_bytes_is_dropped() -> Result<()> {
    // Random bytes: either an impossible length prefix, or a frame cut short, or a payload
    // that does not decode; never an answer.
    let err = fail_then_recover("head -c 4096 /dev/urandom; exec sleep 60")?;
    ensure!(
        matches!(
            err,
            TextError::HelperProtocol { .. }
                | TextError::HelperTimeout { .. }
                | TextError::HelperDied { .. }
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn helper_that_announces_a_huge_frame_is_dropped_at_once() -> Result<()> {
    let started = Instant::now();
    let err = fail_then_recover(r"printf '\377\377\377\177'; exec sleep 60")?;
    ensure!(matches!(err, TextError::HelperProtocol { .. }), "{err}");
    ensure!(err.to_string().contains("exceeds the limit"), "{err}");
    ensure!(started.elapsed() < TIMEOUT + SLACK);
    Ok(())
}

/// A well-framed response with one clause: `text_end`, then raw phoneme bytes.
fn one_clause_frame(text_end: u32, phonemes: &[u8]) -> Vec<u8> {
    let mut payload = vec![PROTOCOL_VERSION, 0, 0];
    payload.extend_from_slice(&1_u32.to_le_bytes());
    payload.extend_from_slice(&text_end.to_le_bytes());
    payload.extend_from_slice(&[1, b'.']);
    payload.extend_from_slice(&u32::try_from(phonemes.len()).unwrap().to_le_bytes());
    payload.extend_from_slice(phonemes);
    let mut frame = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
    frame.extend(payload);
    frame
}

/// The hello frame of a helper with every sandbox layer on.
fn hello_frame() -> Vec<u8> {
    let mut sandbox = SandboxReport::none();
    sandbox.no_new_privs = true;
    sandbox.not_dumpable = true;
    sandbox.seccomp = true;
    sandbox.landlock = LandlockState::Full;
    sandbox.landlock_abi = 6;
    let payload = Hello::new(sandbox).encode();
    let mut frame = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
    frame.extend(payload);
    frame
}

/// A first run that says hello, answers `frame` and then hangs.
fn answer_then_hang(dir: &Path, frame: &[u8]) -> Result<String> {
    let file = dir.join("answer.bin");
    let mut bytes = hello_frame();
    bytes.extend_from_slice(frame);
    std::fs::write(&file, bytes)?;
    Ok(format!("cat '{}'; exec sleep 60", file.display()))
}

#[test]
fn helper_that_answers_invalid_utf8_is_dropped() -> Result<()> {
    let data = tempfile::tempdir()?;
    let misbehave = answer_then_hang(data.path(), &one_clause_frame(12, &[0xff, 0xfe]))?;
    let err = fail_then_recover(&misbehave)?;
    ensure!(matches!(err, TextError::HelperProtocol { .. }), "{err}");
    ensure!(err.to_string().contains("UTF-8"), "{err}");
    Ok(())
}

#[test]
fn helper_that_answers_an_inconsistent_offset_is_dropped() -> Result<()> {
    // The clause claims to end at byte 1000 of a 12-byte text.
    let data = tempfile::tempdir()?;
    let misbehave = answer_then_hang(data.path(), &one_clause_frame(1000, b"a"))?;
    let err = fail_then_recover(&misbehave)?;
    ensure!(matches!(err, TextError::HelperInconsistent { .. }), "{err}");
    Ok(())
}

#[test]
fn helper_that_answers_then_trails_garbage_is_dropped_next_time() -> Result<()> {
    // A truncated frame, then the helper closes stdout: the client sees a cut frame.
    let err = fail_then_recover(r"printf '\100\000\000\000\001\000'; exit 0")?;
    ensure!(
        matches!(
            err,
            TextError::HelperProtocol { .. } | TextError::HelperDied { .. }
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn helper_killed_mid_request_is_restarted() -> Result<()> {
    let mut espeak = phonemizer()?;
    espeak.phonemize("en-us", "Warm up.")?;
    let pid = espeak.helper_pid().context("no helper")?;
    // Freeze the helper so that the next request is certainly in flight, then kill it.
    ensure!(Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()?
        .success());
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
    });
    let started = Instant::now();
    let err = espeak
        .phonemize("en-us", "This request is in flight.")
        .unwrap_err();
    ensure!(killer
        .join()
        .map_err(|_| anyhow::anyhow!("killer thread"))??
        .success());
    ensure!(matches!(err, TextError::HelperDied { .. }), "{err}");
    ensure!(err.to_string().contains("signal"), "{err}");
    ensure!(started.elapsed() < Duration::from_secs(10));
    let clauses = espeak.phonemize("en-us", "Back again.")?;
    ensure!(espeak.helper_pid() != Some(pid), "helper not restarted");
    ensure!(clauses.len() == 1, "{clauses:?}");
    Ok(())
}

#[test]
fn helper_that_stalls_mid_frame_times_out() -> Result<()> {
    // Half a length prefix, then silence: the read must not wait past the deadline.
    let err = fail_then_recover(r"printf '\020\000'; exec sleep 60")?;
    ensure!(matches!(err, TextError::HelperTimeout { .. }), "{err}");
    Ok(())
}

#[test]
fn helper_frozen_by_sigstop_times_out_and_is_replaced() -> Result<()> {
    let mut espeak = EspeakPhonemizer::new(config()?.with_timeout(TIMEOUT))?;
    espeak.phonemize("en-us", "Warm up.")?;
    let pid = espeak.helper_pid().context("no helper")?;
    ensure!(Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()?
        .success());
    let started = Instant::now();
    let err = espeak.phonemize("en-us", "Nobody answers.").unwrap_err();
    ensure!(matches!(err, TextError::HelperTimeout { .. }), "{err}");
    ensure!(
        started.elapsed() <= TIMEOUT + SLACK,
        "{:?}",
        started.elapsed()
    );
    let clauses = espeak.phonemize("en-us", "Back again.")?;
    ensure!(
        espeak.helper_pid() != Some(pid),
        "the frozen helper was kept"
    );
    ensure!(clauses.len() == 1, "{clauses:?}");
    // The frozen helper was killed, not left behind.
    let alive = Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()?;
    ensure!(!alive.success(), "helper {pid} still exists");
    Ok(())
}

#[test]
fn missing_helper_is_named_with_the_fix() -> Result<()> {
    let cfg = EspeakConfig::from_espeak_dir("/nonexistent/signet-espeak", &espeak_dir()?);
    let err = EspeakPhonemizer::new(cfg).unwrap_err().to_string();
    ensure!(
        err.contains("/nonexistent/signet-espeak") && err.contains("cargo xtask setup"),
        "{err}"
    );
    // The default configuration finds the helper Cargo built next to the test binary.
    let _ = config()?;
    Ok(())
}

#[test]
fn helper_that_died_while_idle_is_replaced_without_an_error() -> Result<()> {
    let mut espeak = phonemizer()?;
    espeak.phonemize("en-us", "Warm up.")?;
    let pid = espeak.helper_pid().context("no helper")?;
    ensure!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?
        .success());
    // Give the kernel a moment to mark it exited.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let clauses = espeak.phonemize("en-us", "Still here.")?;
    ensure!(clauses.len() == 1 && espeak.helper_pid() != Some(pid));
    Ok(())
}
