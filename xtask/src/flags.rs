//! Every task of `cargo xtask` and every flag it takes, declared once.
//!
//! `main` parses the command line into [`Xtask`] and hands each task its own
//! typed arguments; no task reads `std::env::args` itself. clap derives the
//! usage and each task's `--help` from the doc comments here, so this file is
//! also the reference for what a task accepts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Signet's project tasks: setup, test, demo, audit, fuzz, sbom, release, bench.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", max_term_width = 100)]
pub struct Xtask {
    #[command(subcommand)]
    pub task: Task,
}

/// One task.
#[derive(Debug, Subcommand)]
pub enum Task {
    /// Provision what the build and the tests need (idempotent).
    Setup,
    /// Setup, then run every test in the workspace (what CI runs).
    Test,
    /// Setup, build, and speak a sentence with the default voice.
    Demo(Demo),
    /// cargo-deny and cargo-audit against the RustSec database; unsafe code per crate.
    Audit,
    /// Run the cargo-fuzz targets.
    Fuzz(Fuzz),
    /// CycloneDX 1.5 SBOM of each release binary.
    Sbom(Sbom),
    /// Build the release binaries, write SHA256SUMS and SBOMs, sign, verify.
    Release(Release),
    /// Check a release folder's signature and digests.
    VerifyRelease(VerifyRelease),
    /// Regenerate the test fixtures from the reference implementations.
    Fixtures(Fixtures),
    /// Real-time factor of Signet against Piper (onnxruntime, piper-tts).
    Bench(Bench),
    /// The release server on loopback under load: throughput, latency, time
    /// to first byte, memory over N requests.
    Loadtest(Loadtest),
    /// Provision espeak-ng (Piper's build) into the Signet home.
    Espeak,
    /// The watermark's robustness, false positives, quality (PESQ-WB) and cost
    /// on clips of the default voice.
    Watermark(Watermark),
}

/// `cargo xtask watermark [--clips N] [--seed S]`.
#[derive(Debug, Args)]
pub struct Watermark {
    /// Texts to speak; clips outside 2-10 s are left out.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub clips: usize,
    /// Seed of the texts, the synthesis noise, crops and added noise.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

/// `cargo xtask demo [-o FILE] [TEXT]`.
#[derive(Debug, Args)]
pub struct Demo {
    /// The WAV file to write (default: demo.wav at the repository root).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The text to speak (default: a sentence about Signet).
    #[arg(value_name = "TEXT")]
    pub text: Option<String>,
}

/// `cargo xtask fuzz [--seconds N] [TARGET]`.
#[derive(Debug, Args)]
pub struct Fuzz {
    /// Seconds each target runs.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub seconds: u64,
    /// Stop each target after this many executions, if that comes before
    /// `--seconds` (libFuzzer's `-runs`).
    #[arg(long, value_name = "R")]
    pub runs: Option<u64>,
    /// Run only this target (a file name in fuzz/fuzz_targets/, without `.rs`).
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
}

/// `cargo xtask sbom [--out DIR]`.
#[derive(Debug, Args)]
pub struct Sbom {
    /// Folder for the `<bin>.cdx.json` documents (default: target/sbom).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `cargo xtask release [--key FILE] [--out DIR] [--profile NAME] [--dry-run]`.
#[derive(Debug, Args)]
pub struct Release {
    /// The signing key, a PKCS#8 PEM file outside the repository (else
    /// $SIGNET_RELEASE_KEY_FILE, else the PEM text in $SIGNET_RELEASE_KEY).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The release folder (default: target/dist/signet-<version>-<target>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The cargo profile to build with.
    #[arg(long, value_name = "NAME", default_value = "release")]
    pub profile: String,
    /// Rehearse: without a key, sign with a throw-away one; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `cargo xtask verify-release DIR --pubkey KEY`.
#[derive(Debug, Args)]
pub struct VerifyRelease {
    /// The release folder.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The release signer's public key: `ed25519:<base64>`, or a file holding it.
    #[arg(long, value_name = "KEY")]
    pub pubkey: String,
}

/// `cargo xtask fixtures [--coqui VENV]`.
#[derive(Debug, Args)]
pub struct Fixtures {
    /// Also regenerate the Coqui fixtures with coqui-tts 0.28 in the throw-away venv VENV
    /// (`scripts/coqui_fixtures.sh`, which makes the venv, about 5.6 GB, when it is missing;
    /// never a run-time or CI dependency).
    #[arg(long, value_name = "VENV")]
    pub coqui: Option<PathBuf>,
}

/// `cargo xtask bench [--threads N] [--seconds S] [--stream-words N]`.
#[derive(Debug, Args)]
pub struct Bench {
    /// libtorch and onnxruntime threads, the same on both sides.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// Measurement seconds per case.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub seconds: u32,
    /// Words of the long streaming text (2,000 or less compares with N/10
    /// words and does not enforce the memory goal).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub stream_words: usize,
    /// Run only the quality comparison of bf16 against fp32 (log-spectral
    /// distance, mel-cepstral distortion, word error rate); bf16 is emulated
    /// where the CPU has no native bf16.
    #[arg(long)]
    pub quality: bool,
    /// Clips of the watermark harness run at the end (`cargo xtask watermark --clips`).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub watermark_clips: usize,
    /// Run only the Coqui rows: each architecture Signet imports from Coqui TTS against
    /// coqui-tts itself, in the throw-away venv VENV (`scripts/coqui_fixtures.sh` makes it;
    /// never a run-time or CI dependency), at `--threads`.
    #[arg(long, value_name = "VENV")]
    pub coqui: Option<PathBuf>,
}

/// `cargo xtask loadtest [--seconds S] [--concurrency C] [--requests N]`.
#[derive(Debug, Args)]
pub struct Loadtest {
    /// Seconds of the throughput phase (at least 1).
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub seconds: u64,
    /// Client threads of the throughput phase (at least 1).
    #[arg(long, value_name = "C", default_value_t = 8)]
    pub concurrency: usize,
    /// Requests of the memory phase.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub requests: usize,
}

#[cfg(test)]
mod tests {
    use anyhow::{bail, Result};
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse(args: &[&str]) -> Result<Task, clap::Error> {
        Xtask::try_parse_from(std::iter::once("xtask").chain(args.iter().copied())).map(|x| x.task)
    }

    #[test]
    fn the_declaration_is_consistent() {
        Xtask::command().debug_assert();
    }

    #[test]
    fn every_task_has_help() {
        let cmd = Xtask::command();
        let tasks: Vec<String> = cmd
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        assert_eq!(tasks.len(), 13, "{tasks:?}");
        for task in tasks {
            let kind = parse(&[&task, "--help"]).err().map(|e| e.kind());
            assert_eq!(kind, Some(ErrorKind::DisplayHelp), "{task} --help");
        }
    }

    #[test]
    fn flags_parse_into_typed_arguments() -> Result<()> {
        let Task::Fuzz(f) = parse(&["fuzz", "--seconds", "5", "frontend"])? else {
            bail!("fuzz parsed as another task");
        };
        assert_eq!((f.seconds, f.target.as_deref()), (5, Some("frontend")));
        assert_eq!(f.runs, None);
        let Task::Fuzz(f) = parse(&["fuzz", "--seconds", "600", "--runs", "1000000"])? else {
            bail!("fuzz parsed as another task");
        };
        assert_eq!((f.seconds, f.runs, f.target), (600, Some(1_000_000), None));
        let Task::Fuzz(f) = parse(&["fuzz"])? else {
            bail!("fuzz parsed as another task");
        };
        assert_eq!((f.seconds, f.target), (60, None));

        let Task::Release(r) = parse(&["release", "--dry-run", "--profile", "dev"])? else {
            bail!("release parsed as another task");
        };
        assert!(r.dry_run && r.key.is_none() && r.out.is_none());
        assert_eq!(r.profile, "dev");
        let Task::Release(r) = parse(&["release", "--key", "k.pem", "--out", "d"])? else {
            bail!("release parsed as another task");
        };
        assert!(!r.dry_run);
        assert_eq!(r.profile, "release");
        assert_eq!(r.key, Some(PathBuf::from("k.pem")));
        assert_eq!(r.out, Some(PathBuf::from("d")));

        // The key may come before or after the folder.
        for args in [
            ["verify-release", "dist", "--pubkey", "ed25519:x"],
            ["verify-release", "--pubkey", "ed25519:x", "dist"],
        ] {
            let Task::VerifyRelease(v) = parse(&args)? else {
                bail!("{args:?} parsed as another task");
            };
            assert_eq!(
                (v.dir, v.pubkey.as_str()),
                (PathBuf::from("dist"), "ed25519:x")
            );
        }

        let Task::Demo(d) = parse(&["demo", "-o", "x.wav", "Hi there."])? else {
            bail!("demo parsed as another task");
        };
        assert_eq!(d.output, Some(PathBuf::from("x.wav")));
        assert_eq!(d.text.as_deref(), Some("Hi there."));

        let Task::Sbom(s) = parse(&["sbom", "--out", "boms"])? else {
            bail!("sbom parsed as another task");
        };
        assert_eq!(s.out, Some(PathBuf::from("boms")));

        let Task::Fixtures(f) = parse(&["fixtures", "--coqui", "/tmp/venv"])? else {
            bail!("fixtures parsed as another task");
        };
        assert_eq!(f.coqui, Some(PathBuf::from("/tmp/venv")));

        let Task::Bench(b) = parse(&["bench", "--threads", "2", "--stream-words", "200"])? else {
            bail!("bench parsed as another task");
        };
        assert_eq!((b.threads, b.seconds, b.stream_words), (2, 10, 200));
        assert_eq!(b.coqui, None);
        let Task::Bench(b) = parse(&["bench", "--coqui", "../coqui-venv"])? else {
            bail!("bench parsed as another task");
        };
        assert_eq!(b.coqui, Some(PathBuf::from("../coqui-venv")));

        let Task::Loadtest(l) = parse(&["loadtest", "--requests", "50"])? else {
            bail!("loadtest parsed as another task");
        };
        assert_eq!((l.seconds, l.concurrency, l.requests), (30, 8, 50));
        Ok(())
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        for (args, kind) in [
            (&["frobnicate"][..], ErrorKind::InvalidSubcommand),
            (&["fuzz", "--seconds", "soon"], ErrorKind::ValueValidation),
            (&["fuzz", "a", "b"], ErrorKind::UnknownArgument),
            (&["sbom", "--out"], ErrorKind::InvalidValue),
            (
                &["verify-release", "dist"],
                ErrorKind::MissingRequiredArgument,
            ),
            (&["setup", "--force"], ErrorKind::UnknownArgument),
        ] {
            let got = parse(args).err().map(|e| e.kind());
            assert_eq!(got, Some(kind), "{args:?}");
        }
    }

    /// Every `cargo xtask ...` the README shows (in code blocks and inline
    /// code) names a declared task, and every `--flag` after it is one of that
    /// task's flags, so the README cannot document a task or flag that is gone.
    #[test]
    fn the_readme_documents_only_declared_tasks_and_flags() -> Result<()> {
        let root = crate::repo_root()?;
        let readme = std::fs::read_to_string(root.join("README.md"))?;
        let cmd = Xtask::command();
        let mut seen = std::collections::BTreeSet::new();
        let mut problems = Vec::new();
        for (i, line) in readme.lines().enumerate() {
            for (_, rest) in line.match_indices("cargo xtask ").map(|(at, m)| {
                let rest = line.get(at + m.len()..).unwrap_or("");
                (at, rest)
            }) {
                // Up to the end of the inline code span or the shell comment.
                let code = rest.split(['`', '#']).next().unwrap_or("");
                let mut words = code.split_whitespace();
                let Some(task) = words.next() else { continue };
                let Some(sub) = cmd.find_subcommand(task) else {
                    problems.push(format!("README.md:{}: no task `{task}`", i + 1));
                    continue;
                };
                seen.insert(task.to_owned());
                for flag in words.filter_map(|w| w.trim_matches(['[', ']']).strip_prefix("--")) {
                    if !sub.get_arguments().any(|a| a.get_long() == Some(flag)) {
                        problems.push(format!(
                            "README.md:{}: `cargo xtask {task}` has no flag `--{flag}`",
                            i + 1
                        ));
                    }
                }
                let help = parse(&[task, "--help"]).err().map(|e| e.kind());
                if help != Some(ErrorKind::DisplayHelp) {
                    problems.push(format!("`cargo xtask {task} --help` does not print help"));
                }
            }
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("\n"));
        }
        // The quick start and the task table.
        for task in [
            "demo",
            "test",
            "setup",
            "audit",
            "sbom",
            "release",
            "verify-release",
            "fuzz",
            "bench",
            "loadtest",
            "fixtures",
        ] {
            assert!(
                seen.contains(task),
                "the README no longer shows `cargo xtask {task}`"
            );
        }
        Ok(())
    }
}
