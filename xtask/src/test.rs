//! `cargo xtask test`: provision, then run every test in the workspace.
//!
//! Unit, integration and doc tests of every crate run through `cargo test`
//! (one integration-test binary per crate), after the binaries the tests
//! drive (`signet`, `signet-espeak`) are built; then each cargo-fuzz target
//! runs for a short while on its committed seeds.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{devnull, fuzz, setup, util};

/// Seconds each fuzz target runs in the test command.
const FUZZ_SECONDS: u64 = 10;

/// Runs the whole suite.
pub fn run(root: &Path) -> Result<()> {
    let provisioned = setup::run(root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    util::run(
        Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--workspace", "--bins"]),
    )?;
    fuzz::build(root, None)?;
    // Build every test first, then repair `/dev/null` before they run:
    // several tests call cargo themselves, and on a sandbox where
    // `/dev/null` is a plain file a build script's `cc` probe leaves text
    // there that cargo's rustc probe would then try to compile.
    util::run(
        Command::new(&cargo)
            .current_dir(root)
            .args(["test", "--workspace", "--no-run"]),
    )?;
    devnull::repair();
    util::run(
        Command::new(&cargo)
            .current_dir(root)
            .args(["test", "--workspace", "--no-fail-fast"])
            .env("SIGNET_TEST_VOICE_DIR", &provisioned.voice_dir),
    )
    .with_context(devnull::hint)?;
    fuzz::run(root, FUZZ_SECONDS, None, None)
}
