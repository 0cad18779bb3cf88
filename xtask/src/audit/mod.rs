//! `cargo xtask audit`: cargo-deny and cargo-audit over every lockfile.
//!
//! cargo-deny checks advisories, bans, licences and sources against the policy
//! in `deny.toml`; cargo-audit checks the same lockfiles against the RustSec
//! database a second time, with its own reading of it. Both tools are
//! installed at pinned versions with `cargo install --locked` when missing.
//!
//! **Advisory database.** When a local snapshot exists (`$SIGNET_ADVISORY_DB`,
//! else `<repo>/../shared/advisory-db`), both tools run offline against it.
//! A snapshot is a folder of advisories without git history, and both tools
//! want a git repository, so it is copied to `target/advisory-db/snapshot`
//! and committed there; the copy is reused while the snapshot's content digest
//! stays the same. cargo-deny names its database folder after a URL, so xtask
//! gives it one under `.invalid` and lets git rewrite that URL to the local
//! repository (`url.<local>.insteadOf`): the clone cargo-deny makes of it
//! never touches the network. Without a snapshot, both tools fetch the public
//! database as they normally do; when that fails too, so does the audit.
//!
//! **Findings.** Any error from either tool fails the audit; the message lists
//! each finding with its advisory id (or the check that failed), the crate,
//! its version and the fix.
//!
//! Modules, each importing only those listed before it: [`dates`] (calendar
//! maths), [`finding`] (what is reported), [`db`] (the advisory database),
//! [`policy`] (`deny.toml`), [`deny`] and [`cargo_audit`] (running each tool
//! and reading its output); this file runs them over every lockfile. The
//! pinned tool installs are [`crate::tool`]'s.

mod cargo_audit;
mod dates;
mod db;
mod deny;
mod finding;
mod policy;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use self::cargo_audit::{run_audit, CARGO_AUDIT};
use self::dates::today;
use self::db::{default_snapshot, describe_snapshot, prepare_local_db, snapshot_source, Db};
use self::deny::{run_deny, Checks, CARGO_DENY};
use self::policy::{check_ignores, deny_config, excepted_crates, read_policy};
use crate::tool::cargo;

/// Runs `cargo xtask audit`.
pub fn run(repo_root: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    // Local and fast: counted first, so that its report shows whatever the tools find.
    let unsafe_policy = crate::unsafe_count::run(repo_root);
    CARGO_DENY.ensure_installed()?;
    CARGO_AUDIT.ensure_installed()?;
    let db = match snapshot_source(repo_root)? {
        Some(src) => {
            let local = prepare_local_db(&src, &repo_root.join("target/advisory-db"))?;
            describe_snapshot(&src, &local);
            Db::Local(local)
        }
        None => {
            eprintln!(
                "xtask: no local advisory database snapshot (set SIGNET_ADVISORY_DB, or \
                 provide {}); the tools fetch the public one",
                default_snapshot(repo_root).display()
            );
            Db::Fetch
        }
    };
    let workspaces: Vec<PathBuf> = [repo_root.to_path_buf(), repo_root.join("fuzz")]
        .into_iter()
        .filter(|w| w.join("Cargo.lock").is_file())
        .collect();
    audit(repo_root, &db, &workspaces, Checks::All)?;
    unsafe_policy?;
    eprintln!(
        "xtask: audit passed ({} lockfile(s), {:.1} s)",
        workspaces.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the tools over `workspaces` and fails with every finding.
fn audit(repo_root: &Path, db: &Db, workspaces: &[PathBuf], checks: Checks) -> Result<()> {
    let policy = read_policy(repo_root)?;
    check_ignores(&policy, today())?;
    let scratch = match db {
        Db::Local(local) => local.scratch.clone(),
        Db::Fetch => repo_root.join("target/advisory-db"),
    };
    fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;

    let mut findings = Vec::new();
    let mut all_locked = BTreeSet::new();
    for (i, ws) in workspaces.iter().enumerate() {
        let lockfile = ws.join("Cargo.lock");
        let shown = lockfile
            .strip_prefix(repo_root)
            .unwrap_or(&lockfile)
            .display()
            .to_string();
        let locked = locked_crates(&lockfile)?;
        prefetch(ws);
        let config = scratch.join(format!("deny-{i}.toml"));
        fs::write(&config, deny_config(&policy, db, i == 0, &locked)?)
            .with_context(|| format!("cannot write {}", config.display()))?;
        findings.extend(run_deny(ws, &config, db, checks, &shown)?);
        findings.extend(run_audit(ws, &lockfile, db, &policy, &shown)?);
        all_locked.extend(locked);
    }
    if checks == Checks::All {
        for krate in excepted_crates(&policy) {
            if !all_locked.contains(&krate) {
                eprintln!(
                    "xtask: warning: deny.toml has a licence exception for `{krate}`, which no \
                     audited lockfile contains; remove it"
                );
            }
        }
    }
    if findings.is_empty() {
        return Ok(());
    }
    findings.sort();
    findings.dedup();
    let list: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
    bail!(
        "the audit found {} problem(s):\n{}\n(policy: deny.toml; an advisory may be ignored \
         there only with a reason and an expiry date)",
        findings.len(),
        list.join("\n")
    )
}

/// Makes sure the crates of `ws` are in cargo's cache, so that the offline
/// tools can read their manifests. A failure here (no network) is not fatal:
/// the tools say precisely what they miss.
fn prefetch(ws: &Path) {
    let out = Command::new(cargo())
        .current_dir(ws)
        .args(["fetch", "--locked", "--quiet"])
        .output();
    if !matches!(&out, Ok(o) if o.status.success()) {
        eprintln!(
            "xtask: warning: `cargo fetch --locked` failed in {}; continuing with the cache",
            ws.display()
        );
    }
}

/// Crate names in `lockfile`.
fn locked_crates(lockfile: &Path) -> Result<BTreeSet<String>> {
    let text = fs::read_to_string(lockfile)
        .with_context(|| format!("cannot read {}", lockfile.display()))?;
    let lock: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", lockfile.display()))?;
    Ok(lock
        .get("package")
        .and_then(|p| p.as_array())
        .map(|pkgs| {
            pkgs.iter()
                .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::db::list_files;
    use super::*;

    fn repo_root() -> Result<PathBuf> {
        crate::repo_root()
    }

    /// Plants a fake advisory against a crate of our lockfile into a copy of
    /// the advisory database (or, without a local snapshot, into an otherwise
    /// empty one) and checks that both tools turn it into a failed audit.
    #[test]
    fn a_planted_advisory_fails_the_audit() -> Result<()> {
        const ID: &str = "RUSTSEC-2026-9901";
        const KRATE: &str = "hex";
        let root = repo_root()?;
        assert!(
            locked_crates(&root.join("Cargo.lock"))?.contains(KRATE),
            "the planted advisory targets `{KRATE}`, which must be in Cargo.lock"
        );
        CARGO_DENY.ensure_installed()?;
        CARGO_AUDIT.ensure_installed()?;

        let scratch = root
            .join("target/advisory-db-test")
            .join(std::process::id().to_string());
        if scratch.exists() {
            fs::remove_dir_all(&scratch)?;
        }
        let source = scratch.join("source");
        fs::create_dir_all(source.join("crates"))?;
        if let Some(snapshot) = snapshot_source(&root)? {
            for rel in list_files(&snapshot)? {
                let to = source.join(&rel);
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::copy(snapshot.join(&rel), to)?;
            }
        }
        let dir = source.join("crates").join(KRATE);
        fs::create_dir_all(&dir)?;
        fs::write(
            dir.join(format!("{ID}.md")),
            format!(
                "```toml\n[advisory]\nid = \"{ID}\"\npackage = \"{KRATE}\"\ndate = \"2026-01-01\"\n\
                 url = \"https://example.invalid/signet-audit-self-test\"\n\
                 categories = [\"memory-corruption\"]\n\n[versions]\npatched = [\">= 99.0.0\"]\n```\n\n\
                 # Planted by Signet's audit self-test\n\nNot a real advisory.\n"
            ),
        )?;

        let db = prepare_local_db(&source, &scratch.join("db"))?;
        let result = audit(
            &root,
            &Db::Local(db),
            std::slice::from_ref(&root),
            Checks::Advisories,
        );
        fs::remove_dir_all(&scratch)?;
        let Err(err) = result else {
            bail!("the audit passed although {ID} was planted against {KRATE}");
        };
        let msg = format!("{err:#}");
        for tool in ["cargo-deny", "cargo-audit"] {
            let line = msg.lines().find(|l| l.contains(tool) && l.contains(ID));
            let Some(line) = line else {
                bail!("{tool} did not report {ID}:\n{msg}");
            };
            assert!(line.contains(&format!("in {KRATE} ")), "{line}");
            assert!(line.contains("99.0.0"), "the fix is missing: {line}");
        }
        Ok(())
    }
}
