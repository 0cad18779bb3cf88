//! `cargo xtask fuzz [--seconds N] [--runs R] [TARGET]`: run the cargo-fuzz targets.
//!
//! The targets live in `fuzz/`, a cargo-fuzz workspace of its own, one file
//! per target in `fuzz/fuzz_targets/`, seeds in `fuzz/corpus/<target>/`.
//! Each target runs for N seconds (default 60, see [`crate::flags::Fuzz`]),
//! or until it has made R executions when `--runs` is given, under libFuzzer
//! with AddressSanitizer, except the targets in [`UNSANITIZED`] (see there
//! why); the stable toolchain is allowed the nightly flags this
//! needs through `RUSTC_BOOTSTRAP=1`. A run works on a copy of the seeds in
//! `target/fuzz/corpus/<target>/`, which keeps what earlier runs found, so the
//! repository stays clean. libFuzzer's output goes to
//! `target/fuzz/logs/<target>.log`; xtask prints executions per second and
//! corpus size per target, and for a crash, a hang or an out-of-memory the
//! one command that reproduces it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::tool::{cargo, Tool};
use crate::{devnull, util};

/// cargo-fuzz; builds with any recent stable toolchain.
const CARGO_FUZZ: Tool = Tool {
    krate: "cargo-fuzz",
    version: "0.13.2",
    subcommand: "fuzz",
};

/// libFuzzer's limit for one input, in seconds: longer counts as a hang.
const INPUT_TIMEOUT_S: u64 = 10;

/// libFuzzer's memory limit in MiB (also the limit for one allocation).
const RSS_LIMIT_MB: u64 = 2048;

/// Targets built without AddressSanitizer, in their own target folder
/// (`fuzz/target-unsanitized`, so the two builds never evict each other's
/// artefacts).
///
/// AddressSanitizer finds memory errors, which only `unsafe` code can make.
/// These targets run code without any: signet-checkpoint and signet-text
/// forbid `unsafe`, and the parsers they use here (quick-xml, regex-syntax)
/// forbid it too. For them the sanitizer's allocator bookkeeping was most of
/// the time, measured side by side from the committed seeds: `checkpoint` 344
/// against 2,109 executions per second, `ssml` 2,150 against 5,237,
/// `text_frontend` 50 against 388. What they look for (panics, broken
/// invariants, hangs, memory growth) libFuzzer catches without it: `-timeout`
/// and `-rss_limit_mb` still apply.
const UNSANITIZED: &[&str] = &["checkpoint", "ssml", "text_frontend"];

/// cargo-fuzz's `--target-dir` for the targets in [`UNSANITIZED`], relative to
/// the repository root.
const UNSANITIZED_TARGET_DIR: &str = "fuzz/target-unsanitized";

/// One target's result.
struct Outcome {
    target: String,
    runs: Option<u64>,
    execs_per_sec: Option<u64>,
    peak_rss_mb: Option<u64>,
    corpus_before: usize,
    corpus_after: usize,
    /// Wall-clock seconds the run took (less than asked for on a failure).
    elapsed_s: f64,
    /// The command that reproduces a failure, if there was one.
    failure: Option<String>,
}

/// Builds every target (or only `target`) with the sanitizer flags, compiler
/// errors on the terminal. `cargo xtask test` calls this before the test
/// suite as well, so the build does not depend on what the tests leave behind.
pub fn build(repo_root: &Path, target: Option<&str>) -> Result<()> {
    CARGO_FUZZ.ensure_installed()?;
    let all = targets(&repo_root.join("fuzz"))?;
    let chosen: Vec<&str> = match target {
        Some(t) => vec![t],
        None => all.iter().map(String::as_str).collect(),
    };
    let (plain, sanitized): (Vec<&str>, Vec<&str>) =
        chosen.into_iter().partition(|t| UNSANITIZED.contains(t));
    // One `cargo fuzz build` builds every target; with a subset named it
    // builds one, so the sanitized set is built whole unless one was asked.
    if !sanitized.is_empty() {
        let mut build = fuzz_command(repo_root);
        build.arg("build");
        if target.is_some() {
            build.args(&sanitized);
        }
        run_build(&mut build)?;
    }
    for t in plain {
        let mut build = fuzz_command(repo_root);
        build
            .args(["build", "--sanitizer", "none", "--target-dir"])
            .arg(repo_root.join(UNSANITIZED_TARGET_DIR))
            .arg(t);
        run_build(&mut build)?;
    }
    Ok(())
}

fn run_build(build: &mut Command) -> Result<()> {
    build.stdin(std::process::Stdio::null());
    devnull::repair();
    util::run(build)
        .with_context(devnull::hint)
        .context("the fuzz targets do not build")
}

/// Runs every target (or only `target`) for `seconds` seconds each.
pub fn run(repo_root: &Path, seconds: u64, runs: Option<u64>, target: Option<&str>) -> Result<()> {
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    if runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    let fuzz_dir = repo_root.join("fuzz");
    let all = targets(&fuzz_dir)?;
    let chosen: Vec<String> = match target {
        Some(t) if all.iter().any(|a| a == t) => vec![t.to_owned()],
        Some(t) => bail!("no fuzz target `{t}`; targets: {}", all.join(", ")),
        None => all,
    };
    build(repo_root, target)?;

    let mut outcomes = Vec::new();
    for t in &chosen {
        let o = run_target(repo_root, t, seconds, runs)?;
        eprintln!("xtask: fuzz {}", summary(&o));
        outcomes.push(o);
    }

    match runs {
        Some(r) => eprintln!("xtask: fuzz summary ({seconds} s or {r} runs per target):"),
        None => eprintln!("xtask: fuzz summary ({seconds} s per target):"),
    }
    for o in &outcomes {
        eprintln!("  {}", summary(o));
    }
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    if failures.is_empty() {
        return Ok(());
    }
    let repro: Vec<String> = failures
        .iter()
        .map(|o| {
            format!(
                "  {}: {}",
                o.target,
                o.failure.as_deref().unwrap_or_default()
            )
        })
        .collect();
    bail!(
        "{} fuzz target(s) failed; reproduce with (from {}):\n{}",
        failures.len(),
        repo_root.display(),
        repro.join("\n")
    )
}

fn summary(o: &Outcome) -> String {
    let show = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
    format!(
        "{}: {} runs in {:.0} s ({} exec/s, peak RSS {} MB), corpus {} -> {} inputs, {}",
        o.target,
        show(o.runs),
        o.elapsed_s,
        show(o.execs_per_sec),
        show(o.peak_rss_mb),
        o.corpus_before,
        o.corpus_after,
        if o.failure.is_some() {
            "FAILED"
        } else {
            "clean"
        }
    )
}

/// The target names: the `.rs` files in `fuzz/fuzz_targets/`, sorted.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "rs") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    if names.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    Ok(names)
}

/// `cargo fuzz` in the repository root, allowed the nightly flags it needs.
fn fuzz_command(repo_root: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(repo_root)
        .env("RUSTC_BOOTSTRAP", "1")
        // The fuzz workspace never links libtorch; the LIBTORCH that the
        // main workspace's `.cargo/config.toml` hands to xtask breaks the
        // sanitizer build's toolchain probe, so it is not passed on.
        .env_remove("LIBTORCH")
        .arg("fuzz");
    cmd
}

fn run_target(repo_root: &Path, target: &str, seconds: u64, runs: Option<u64>) -> Result<Outcome> {
    let seeds = repo_root.join("fuzz/corpus").join(target);
    let work = repo_root.join("target/fuzz");
    let corpus = work.join("corpus").join(target);
    let logs = work.join("logs");
    for d in [&corpus, &logs] {
        fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let seed_count = copy_seeds(&seeds, &corpus)?;
    let corpus_before = count_files(&corpus)?;
    if seed_count == 0 {
        eprintln!(
            "xtask: warning: no seeds in {}; the target starts from nothing",
            seeds.display()
        );
    }

    let log_path = logs.join(format!("{target}.log"));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .with_context(|| format!("cannot reopen {}", log_path.display()))?;
    let mut cmd = fuzz_command(repo_root);
    cmd.arg("run");
    let flags = if UNSANITIZED.contains(&target) {
        cmd.args(["--sanitizer", "none", "--target-dir"])
            .arg(repo_root.join(UNSANITIZED_TARGET_DIR));
        format!(" --sanitizer none --target-dir {UNSANITIZED_TARGET_DIR}")
    } else {
        String::new()
    };
    cmd.arg(target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"));
    if let Some(r) = runs {
        cmd.arg(format!("-runs={r}"));
    }
    cmd.arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg("-print_final_stats=1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    let shown = util::show(&cmd);
    eprintln!(
        "xtask: fuzzing {target} for {seconds} s (log: {})",
        log_path.display()
    );
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let stats = Stats::parse(&text);
    let corpus_after = count_files(&corpus)?;

    let failure = if status.success() {
        None
    } else {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        eprintln!(
            "xtask: fuzz target {target} failed ({status}) after {elapsed_s:.0} s; end of its log:\n{}",
            tail.join("\n")
        );
        Some(match stats.artifact {
            Some(artifact) => {
                let artifact = PathBuf::from(artifact);
                let rel = artifact.strip_prefix(repo_root).unwrap_or(&artifact);
                format!(
                    "RUSTC_BOOTSTRAP=1 cargo fuzz run{flags} {target} {}",
                    rel.display()
                )
            }
            None => format!(
                "RUSTC_BOOTSTRAP=1 cargo fuzz run{flags} {target} {} -- -max_total_time={seconds} \
                 (no crash input was written; see {})",
                corpus.strip_prefix(repo_root).unwrap_or(&corpus).display(),
                log_path.display()
            ),
        })
    };
    Ok(Outcome {
        target: target.to_owned(),
        runs: stats.runs,
        execs_per_sec: stats.execs_per_sec,
        peak_rss_mb: stats.peak_rss_mb,
        corpus_before,
        corpus_after,
        elapsed_s,
        failure,
    })
}

/// What libFuzzer printed at the end of a run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    runs: Option<u64>,
    execs_per_sec: Option<u64>,
    peak_rss_mb: Option<u64>,
    /// Where libFuzzer wrote the input that failed.
    artifact: Option<String>,
}

impl Stats {
    fn parse(log: &str) -> Self {
        let mut s = Self::default();
        for line in log.lines() {
            let stat = |key: &str| -> Option<u64> { line.strip_prefix(key)?.trim().parse().ok() };
            if let Some(v) = stat("stat::number_of_executed_units:") {
                s.runs = Some(v);
            } else if let Some(v) = stat("stat::average_exec_per_sec:") {
                s.execs_per_sec = Some(v);
            } else if let Some(v) = stat("stat::peak_rss_mb:") {
                s.peak_rss_mb = Some(v);
            } else if let Some((_, rest)) = line.split_once("Test unit written to ") {
                s.artifact = Some(rest.trim().to_owned());
            }
        }
        s
    }
}

/// Copies the committed seeds into the working corpus; returns how many.
fn copy_seeds(seeds: &Path, corpus: &Path) -> Result<usize> {
    if !seeds.is_dir() {
        return Ok(0);
    }
    let mut n = 0;
    for entry in fs::read_dir(seeds).with_context(|| format!("cannot list {}", seeds.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", seeds.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let to = corpus.join(entry.file_name());
            fs::copy(entry.path(), &to)
                .with_context(|| format!("cannot copy a seed to {}", to.display()))?;
            n += 1;
        }
    }
    Ok(n)
}

fn count_files(dir: &Path) -> Result<usize> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_stats_and_the_crash_input_are_read_from_the_log() {
        let log = "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   ==1== ERROR: libFuzzer: deadly signal\n\
                   artifact_prefix='/r/fuzz/artifacts/manifest/'; Test unit written to /r/fuzz/artifacts/manifest/crash-da39a3ee\n\
                   stat::number_of_executed_units: 1234\n\
                   stat::average_exec_per_sec:     617\n\
                   stat::new_units_added:          5\n\
                   stat::peak_rss_mb:              42\n";
        assert_eq!(
            Stats::parse(log),
            Stats {
                runs: Some(1234),
                execs_per_sec: Some(617),
                peak_rss_mb: Some(42),
                artifact: Some("/r/fuzz/artifacts/manifest/crash-da39a3ee".to_owned()),
            }
        );
    }

    #[test]
    fn every_target_file_has_a_bin_entry_and_committed_seeds() -> Result<()> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let fuzz = root.parent().unwrap_or(&root).join("fuzz");
        let manifest = fs::read_to_string(fuzz.join("Cargo.toml"))?;
        for t in targets(&fuzz)? {
            assert!(
                manifest.contains(&format!("name = \"{t}\"")),
                "fuzz/Cargo.toml has no [[bin]] for {t}"
            );
            assert!(
                count_files(&fuzz.join("corpus").join(&t))? > 0,
                "fuzz/corpus/{t}/ has no seeds"
            );
        }
        Ok(())
    }

    /// A target runs without AddressSanitizer only when every Signet crate it
    /// calls forbids `unsafe`: the sanitizer has nothing to find there.
    #[test]
    fn unsanitized_targets_only_call_crates_that_forbid_unsafe() -> Result<()> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let repo = root.parent().unwrap_or(&root);
        let all = targets(&repo.join("fuzz"))?;
        for t in UNSANITIZED {
            assert!(all.iter().any(|a| a == t), "no fuzz target `{t}`");
            let source = fs::read_to_string(repo.join(format!("fuzz/fuzz_targets/{t}.rs")))?;
            let crates: Vec<&str> = source
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("signet_"))
                .collect();
            assert!(!crates.is_empty(), "{t} calls no Signet crate");
            for c in crates {
                let lib = repo
                    .join("crates")
                    .join(c.replace('_', "-"))
                    .join("src/lib.rs");
                let text = fs::read_to_string(&lib)?;
                assert!(
                    text.contains("#![forbid(unsafe_code)]"),
                    "{t} runs unsanitized but {} does not forbid unsafe",
                    lib.display()
                );
            }
        }
        Ok(())
    }
}
