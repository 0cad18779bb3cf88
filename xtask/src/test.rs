//! `cargo xtask test`: provision, then run every test in the workspace.
//!
//! Unit, integration and doc tests of every crate run through `cargo test`
//! (one integration-test binary per crate), after the binaries the tests
//! drive (`signet`, `signet-espeak`) are built; then each cargo-fuzz target
//! runs for a short while on its committed seeds.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{fuzz, setup, util};

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
    // The fuzz targets are built first: cargo's toolchain probe reads
    // `/dev/null`, which some sandboxes make a plain file that any process
    // may fill with binary data while the suite runs.
    fuzz::build(root, None)?;
    util::run(
        Command::new(&cargo)
            .current_dir(root)
            .args(["test", "--workspace", "--no-fail-fast"])
            .env("SIGNET_TEST_VOICE_DIR", &provisioned.voice_dir),
    )?;
    fuzz::run(root, FUZZ_SECONDS, None)
}
