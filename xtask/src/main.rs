//! Signet's project tasks, run as `cargo xtask <task>`.
//!
//! Each task lives in its own module. Processes are spawned with argument
//! vectors, never through a shell, and every precondition is checked with a
//! message that says how to fix it.

mod audit;
mod bench;
mod demo;
mod devnull;
mod espeak;
mod fixtures;
mod fuzz;
mod loadtest;
mod metadata;
mod pins;
mod release;
mod sbom;
mod security_docs;
mod setup;
mod test;
mod unsafe_count;
mod util;

use std::path::PathBuf;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  setup              provision what the build and tests need (idempotent)
  test               setup, then run every test in the workspace
  demo [-o FILE]     setup, build, and speak a sentence with the default voice
  audit              cargo-deny and cargo-audit against the RustSec database
  fuzz [--seconds N] [TARGET]
                     run the cargo-fuzz targets
  sbom [--out DIR]   CycloneDX 1.5 SBOM of each release binary (default target/sbom)
  release [--key FILE] [--out DIR] [--profile NAME] [--dry-run]
                     build the release binaries, write SHA256SUMS and SBOMs, sign, verify
  verify-release DIR --pubkey KEY
                     check a release folder's signature and digests
  fixtures           regenerate test fixtures from the reference implementations
  bench              real-time factor of Signet against Piper (onnxruntime)
  loadtest [--seconds S] [--concurrency C] [--requests N]
                     the release server on loopback under load: throughput,
                     latency, time to first byte, memory over N requests
";

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let root = repo_root()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        bail!("no task given");
    };
    match task.as_str() {
        "setup" => setup::run(&root).map(|_| ()),
        "test" => test::run(&root),
        "audit" => audit::run(&root),
        "fuzz" => fuzz::cli(&root, rest),
        "sbom" => sbom::cli(&root, rest),
        "release" => release::cli(&root, rest),
        "verify-release" => release::verify_cli(rest),
        "demo" => demo::run(&root, rest),
        "bench" => bench::run(&root, rest),
        "loadtest" => loadtest::run(&root, rest),
        "fixtures" => fixtures::run(&root),
        "espeak" => espeak::provision(&root, &util::signet_home()?).map(|_| ()),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown task `{other}` (arguments: {rest:?})")
        }
    }
}

/// The workspace root: xtask's manifest lives one level below it.
fn repo_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match manifest_dir.parent() {
        Some(p) => Ok(p.to_path_buf()),
        None => bail!(
            "cannot find the repository root above {}",
            manifest_dir.display()
        ),
    }
}
