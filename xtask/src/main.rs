//! Signet's project tasks, run as `cargo xtask <task>`.
//!
//! Every task and flag is declared once, in [`flags`], which gives each task
//! its `--help`; each task lives in its own module and takes its typed
//! arguments from there. Processes are spawned with argument
//! vectors, never through a shell, and every precondition is checked with a
//! message that says how to fix it.

mod audit;
mod bench;
mod bench_coqui;
mod demo;
mod devnull;
mod espeak;
mod fixtures;
mod flags;
mod fuzz;
mod loadtest;
mod metadata;
mod pins;
mod release;
mod sbom;
mod security_docs;
mod setup;
mod test;
mod tidy;
mod tool;
mod unsafe_count;
mod util;
mod watermark;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;

use crate::flags::{Task, Xtask};

fn main() {
    // clap prints usage, `--help` and argument errors itself, and exits.
    let flags = Xtask::parse();
    if let Err(err) = run(flags.task) {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run(task: Task) -> Result<()> {
    let root = repo_root()?;
    match task {
        Task::Setup => setup::run(&root).map(|_| ()),
        Task::Test => test::run(&root),
        Task::Demo(args) => demo::run(&root, args),
        Task::Audit => audit::run(&root),
        Task::Fuzz(args) => fuzz::run(&root, args.seconds, args.runs, args.target.as_deref()),
        Task::Sbom(args) => sbom::run(&root, args),
        Task::Release(args) => release::release(&root, args),
        Task::VerifyRelease(args) => release::verify(&args),
        Task::Fixtures(args) => fixtures::run(&root, args.coqui.as_deref()),
        Task::Bench(args) => bench::run(&root, args),
        Task::Loadtest(args) => loadtest::run(&root, args),
        Task::Watermark(args) => watermark::run(&root, args.clips, args.seed).map(|_| ()),
        Task::Espeak => espeak::provision(&root, &util::signet_home()?).map(|_| ()),
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
