//! Cargo subcommands that xtask installs at pinned versions, and the cargo
//! that runs them.
//!
//! The lowest layer of the tasks that drive cargo tools: `audit` (cargo-deny,
//! cargo-audit), `fuzz` (cargo-fuzz), `metadata` and `release` import it, and
//! it imports only [`crate::util`].

use std::ffi::OsString;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// A cargo subcommand that xtask installs at a pinned version.
pub(crate) struct Tool {
    /// The crate `cargo install` builds.
    pub krate: &'static str,
    /// The pinned version; it builds with the toolchain this repository uses.
    pub version: &'static str,
    /// How cargo calls it: `cargo <subcommand>`.
    pub subcommand: &'static str,
}

impl Tool {
    /// Installs the pinned version unless `cargo <subcommand> --version`
    /// already reports it.
    pub(crate) fn ensure_installed(&self) -> Result<()> {
        let found = self.installed_version();
        if found.as_deref() == Some(self.version) {
            return Ok(());
        }
        match &found {
            Some(v) => eprintln!(
                "xtask: {} {v} found, installing the pinned {}",
                self.krate, self.version
            ),
            None => eprintln!("xtask: installing {} {}", self.krate, self.version),
        }
        let spec = format!("{}@{}", self.krate, self.version);
        util::run(Command::new(cargo()).args(["install", "--locked", &spec])).with_context(
            || {
                format!(
                    "cannot install {spec} (it needs crates.io); install it by hand with \
                     `cargo install --locked {spec}`"
                )
            },
        )?;
        match self.installed_version() {
            Some(v) if v == self.version => Ok(()),
            other => bail!(
                "installed {spec}, but `cargo {} --version` reports {other:?}: is another \
                 {} earlier on PATH than cargo's bin folder?",
                self.subcommand,
                self.krate
            ),
        }
    }

    /// The version `cargo <subcommand> --version` prints (its last word).
    fn installed_version(&self) -> Option<String> {
        let out = Command::new(cargo())
            .args([self.subcommand, "--version"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .last()
            .map(str::to_owned)
    }
}

/// The cargo that runs xtask, so that tools run under the same toolchain.
pub(crate) fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}
