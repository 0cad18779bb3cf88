//! The helper's sandbox. Each attempt runs in a fresh helper (`--sandbox-selftest`) that
//! went through the very start-up it serves with: limits, espeak-ng loaded and
//! initialised, sandbox applied. Every attempt must fail, killed by the seccomp filter
//! (`SIGSYS`) or refused by Landlock; each has a control run with `--sandbox off` that
//! shows the attempt itself works, so the test would fail without the sandbox.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use signet_text::{EspeakConfig, EspeakPhonemizer, HelperSandbox, LandlockState, TextError};

use crate::common::{config, espeak_dir, HELPER};
use crate::helper::selftest;

const SIGSYS: i32 = 31;

/// A Signet home with a private key, as an attacker would look for it.
fn home_with_key() -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let home = tempfile::tempdir()?;
    let keys = home.path().join("keys");
    std::fs::create_dir(&keys)?;
    let key = keys.join("importer.key");
    std::fs::write(&key, "test key material, not a real key\n")?;
    Ok((home, key))
}

fn killed_by_seccomp(outcome: &(Option<i32>, Option<i32>, String)) -> bool {
    outcome.1 == Some(SIGSYS) && outcome.2.is_empty()
}

#[test]
fn sandboxed_helper_cannot_read_a_key_file() -> Result<()> {
    let (_home, key) = home_with_key()?;
    let attempt = format!("read-file:{}", key.display());
    let sandboxed = selftest(&attempt, "required")?;
    ensure!(
        sandboxed.0 == Some(0) && sandboxed.2.contains("Permission denied"),
        "reading {} from the sandbox: {sandboxed:?}",
        key.display()
    );
    // espeak-ng's own data stays readable.
    let data = espeak_dir()?.join("espeak-ng-data/phontab");
    let own = selftest(&format!("read-file:{}", data.display()), "required")?;
    ensure!(own.2 == "allowed", "espeak-ng data: {own:?}");
    let control = selftest(&attempt, "off")?;
    ensure!(control.2 == "allowed", "control run: {control:?}");
    Ok(())
}

#[test]
fn sandboxed_helper_is_killed_when_it_opens_a_socket() -> Result<()> {
    let sandboxed = selftest("socket", "required")?;
    ensure!(killed_by_seccomp(&sandboxed), "{sandboxed:?}");
    let control = selftest("socket", "off")?;
    ensure!(control.2 == "allowed", "control run: {control:?}");
    Ok(())
}

#[test]
fn sandboxed_helper_is_killed_when_it_runs_a_program() -> Result<()> {
    let sandboxed = selftest("exec:/bin/true", "required")?;
    ensure!(killed_by_seccomp(&sandboxed), "{sandboxed:?}");
    // Without the sandbox, /bin/true replaces the helper and exits 0 silently.
    let control = selftest("exec:/bin/true", "off")?;
    ensure!(
        control == (Some(0), None, String::new()),
        "control run: {control:?}"
    );
    Ok(())
}

#[test]
fn sandboxed_helper_is_killed_when_it_creates_a_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("planted");
    let sandboxed = selftest(&format!("write-file:{}", target.display()), "required")?;
    ensure!(killed_by_seccomp(&sandboxed), "{sandboxed:?}");
    ensure!(
        !target.exists(),
        "the sandboxed helper created {}",
        target.display()
    );
    // Without the sandbox the file is created (its content is then stopped by the
    // file-size limit of 0).
    let _ = selftest(&format!("write-file:{}", target.display()), "off")?;
    ensure!(target.exists(), "control run created nothing");
    Ok(())
}

#[test]
fn sandboxed_helper_is_killed_when_it_deletes_a_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let victim = dir.path().join("trust.toml");
    std::fs::write(&victim, "keys = []\n")?;
    let attempt = format!("unlink:{}", victim.display());
    let sandboxed = selftest(&attempt, "required")?;
    ensure!(killed_by_seccomp(&sandboxed), "{sandboxed:?}");
    ensure!(victim.exists(), "the sandboxed helper deleted it");
    let control = selftest(&attempt, "off")?;
    ensure!(
        control.2 == "allowed" && !victim.exists(),
        "control run: {control:?}"
    );
    Ok(())
}

#[test]
fn sandboxed_helper_is_killed_when_it_renames_a_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let victim = dir.path().join("trust.toml");
    std::fs::write(&victim, "keys = []\n")?;
    let attempt = format!("rename:{}", victim.display());
    let sandboxed = selftest(&attempt, "required")?;
    ensure!(killed_by_seccomp(&sandboxed), "{sandboxed:?}");
    ensure!(victim.exists(), "the sandboxed helper renamed it");
    let control = selftest(&attempt, "off")?;
    ensure!(
        control.2 == "allowed" && !victim.exists(),
        "control run: {control:?}"
    );
    Ok(())
}

#[test]
fn helper_reports_its_sandbox_and_the_kernel_agrees() -> Result<()> {
    let mut espeak = EspeakPhonemizer::new(config()?)?;
    let report = espeak.sandbox()?;
    ensure!(
        report.no_new_privs && report.not_dumpable && report.seccomp,
        "{report}"
    );
    // This machine's kernel offers Landlock (5.13 and later); SECURITY.md says what
    // holds without it.
    ensure!(report.landlock == LandlockState::Full, "{report}");
    let pid = espeak.helper_pid().context("no helper")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    ensure!(field("NoNewPrivs:") == "1", "{status}");
    ensure!(field("Seccomp:") == "2", "{status}");
    // The sandboxed helper still phonemizes.
    let clauses = espeak.phonemize("en-us", "Hello there.")?;
    ensure!(clauses.len() == 1, "{clauses:?}");
    Ok(())
}

#[test]
fn helper_without_its_sandbox_is_refused_before_any_text() -> Result<()> {
    // A helper that runs with `--sandbox off` whatever the client asks (the last
    // argument wins).
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("unsandboxed-helper");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec '{HELPER}' \"$@\" --sandbox off\n"),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    let cfg = EspeakConfig::from_espeak_dir(&script, &espeak_dir()?);
    let mut espeak = EspeakPhonemizer::new(cfg.clone())?;
    let err = espeak.phonemize("en-us", "Secret text.").unwrap_err();
    ensure!(matches!(err, TextError::HelperUnsandboxed { .. }), "{err}");
    ensure!(err.to_string().contains("off: seccomp"), "{err}");
    ensure!(
        espeak.helper_pid().is_none(),
        "the unsandboxed helper was kept"
    );
    // Asked for explicitly, the same helper serves, and says so.
    let mut off = EspeakPhonemizer::new(cfg.with_sandbox(HelperSandbox::Off))?;
    ensure!(!off.sandbox()?.seccomp);
    off.phonemize("en-us", "Hello.")?;
    Ok(())
}

fn copy_with_mode(from: &Path, to: &Path, mode: u32) -> Result<()> {
    std::fs::copy(from, to)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[test]
fn writable_helper_or_library_is_refused_with_the_fix() -> Result<()> {
    let espeak = espeak_dir()?;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    // A group-writable library.
    let library = dir.path().join("espeakbridge.so");
    copy_with_mode(&espeak.join("espeakbridge.so"), &library, 0o664)?;
    let cfg = EspeakConfig::new(HELPER, &library, espeak.join("espeak-ng-data"));
    let err = EspeakPhonemizer::new(cfg.clone()).unwrap_err();
    let msg = err.to_string();
    ensure!(matches!(err, TextError::UntrustedFile { .. }), "{msg}");
    ensure!(
        msg.contains(&library.display().to_string()) && msg.contains("chmod go-w"),
        "{msg}"
    );
    std::fs::set_permissions(&library, std::fs::Permissions::from_mode(0o644))?;
    let mut phonemizer = EspeakPhonemizer::new(cfg)?;
    phonemizer.phonemize("en-us", "Hello.")?;
    // Checked again whenever a helper starts: a restart after the library became
    // writable is refused.
    std::fs::set_permissions(&library, std::fs::Permissions::from_mode(0o666))?;
    let pid = phonemizer.helper_pid().context("no helper")?;
    ensure!(std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = phonemizer.phonemize("en-us", "Hello.").unwrap_err();
    ensure!(matches!(err, TextError::UntrustedFile { .. }), "{err}");

    // A world-writable helper.
    let helper = dir.path().join("signet-espeak");
    copy_with_mode(Path::new(HELPER), &helper, 0o777)?;
    let cfg = EspeakConfig::from_espeak_dir(&helper, &espeak);
    let msg = EspeakPhonemizer::new(cfg).unwrap_err().to_string();
    ensure!(
        msg.contains(&helper.display().to_string()) && msg.contains("every user"),
        "{msg}"
    );
    Ok(())
}
