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

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

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

/// cargo-deny; 0.20 needs rustc 1.88 or later.
pub(crate) const CARGO_DENY: Tool = Tool {
    krate: "cargo-deny",
    version: "0.20.2",
    subcommand: "deny",
};

/// cargo-audit; 0.22.2 needs rustc 1.88 or later.
pub(crate) const CARGO_AUDIT: Tool = Tool {
    krate: "cargo-audit",
    version: "0.22.2",
    subcommand: "audit",
};

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

/// `v` at JSON pointer `path`, or null: reading a report never panics.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path).unwrap_or(&Value::Null)
}

/// The cargo that runs xtask, so that tools run under the same toolchain.
pub(crate) fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The URL cargo-deny is told its database lives at. It never resolves
/// (`.invalid`); git rewrites it to the local repository.
const LOCAL_DB_URL: &str = "https://advisory-db.signet.invalid/snapshot";

/// Advisory databases older than this (by their newest advisory) are reported.
const STALE_AFTER_DAYS: i64 = 90;

/// Where the advisories come from.
pub(crate) enum Db {
    /// A git repository made from a local snapshot; the tools run offline.
    Local(LocalDb),
    /// No snapshot: the tools fetch the public database themselves.
    Fetch,
}

/// A local advisory database repository and what it holds.
pub(crate) struct LocalDb {
    /// Scratch folder of this database: the repository, cargo-deny's copy and
    /// the generated cargo-deny configurations.
    pub scratch: PathBuf,
    /// The git repository (work tree) both tools read.
    pub repo: PathBuf,
    /// Folder under which cargo-deny keeps its clone of `repo`.
    pub deny_db_path: PathBuf,
    /// Number of advisories in it.
    pub advisories: usize,
    /// Date of the newest advisory, `YYYY-MM-DD`.
    pub newest: Option<String>,
}

/// Which checks to run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checks {
    /// Advisories, bans, licences, sources (cargo-deny) and cargo-audit.
    All,
    /// Only the advisory checks of both tools.
    Advisories,
}

/// One thing the tools found wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Finding {
    /// Which tool found it and in which lockfile.
    pub origin: String,
    /// The advisory id, or the name of the check (`rejected`, `banned`, ...).
    pub id: String,
    /// Crate name and version, if the finding is about one crate.
    pub krate: Option<String>,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.id)?;
        if let Some(k) = &self.krate {
            write!(f, " in {k}")?;
        }
        write!(f, ": {}; fix: {}", self.what, self.fix)
    }
}

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

fn default_snapshot(repo_root: &Path) -> PathBuf {
    repo_root.join("../shared/advisory-db")
}

/// The local snapshot to use: `$SIGNET_ADVISORY_DB` (which must exist when
/// set), else `<repo>/../shared/advisory-db` if it exists.
pub(crate) fn snapshot_source(repo_root: &Path) -> Result<Option<PathBuf>> {
    if let Some(p) = std::env::var_os("SIGNET_ADVISORY_DB").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !p.join("crates").is_dir() {
            bail!(
                "SIGNET_ADVISORY_DB={} is not a RustSec advisory database (no `crates` folder)",
                p.display()
            );
        }
        return Ok(Some(p));
    }
    let p = default_snapshot(repo_root);
    if !p.join("crates").is_dir() {
        return Ok(None);
    }
    Ok(Some(fs::canonicalize(&p).unwrap_or(p)))
}

fn describe_snapshot(src: &Path, db: &LocalDb) {
    let newest = db.newest.as_deref().unwrap_or("unknown");
    eprintln!(
        "xtask: advisory database: {} ({} advisories, newest dated {newest})",
        src.display(),
        db.advisories
    );
    if let Some(age) = db.newest.as_deref().and_then(days_since) {
        if age > STALE_AFTER_DAYS {
            eprintln!(
                "xtask: warning: the newest advisory is {age} days old; refresh the snapshot \
                 (advisories published since then are not checked)"
            );
        }
    }
}

/// Runs the tools over `workspaces` and fails with every finding.
pub(crate) fn audit(
    repo_root: &Path,
    db: &Db,
    workspaces: &[PathBuf],
    checks: Checks,
) -> Result<()> {
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

/// Reads `deny.toml`.
fn read_policy(repo_root: &Path) -> Result<toml::Table> {
    let path = repo_root.join("deny.toml");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

/// Checks that every advisory `deny.toml` ignores is written
/// `{ id = "...", reason = "...; expires YYYY-MM-DD" }` with a reason and an
/// expiry date after `today` (days since 1970-01-01): an ignore never outlives
/// the look it was given.
fn check_ignores(policy: &toml::Table, today: i64) -> Result<()> {
    let list = policy
        .get("advisories")
        .and_then(|a| a.get("ignore"))
        .and_then(|i| i.as_array())
        .cloned()
        .unwrap_or_default();
    let mut bad = Vec::new();
    for entry in &list {
        let Some(t) = entry.as_table() else {
            bad.push(format!(
                "{entry}: write it as {{ id = \"...\", reason = \"why; expires YYYY-MM-DD\" }}"
            ));
            continue;
        };
        let id = t.get("id").and_then(|i| i.as_str()).unwrap_or("(no id)");
        let reason = t.get("reason").and_then(|r| r.as_str()).unwrap_or("");
        let expiry = reason.split("expires").nth(1).and_then(|rest| {
            let d = rest.trim_start().get(..10)?;
            civil_days(d).map(|days| (d.to_owned(), days))
        });
        let why = reason.split("expires").next().unwrap_or("").trim();
        match expiry {
            _ if why.trim_end_matches([';', ',']).trim().is_empty() => {
                bad.push(format!("{id}: no reason given"))
            }
            None => bad.push(format!("{id}: the reason has no `expires YYYY-MM-DD`")),
            Some((d, days)) if days <= today => bad.push(format!(
                "{id}: the ignore expired on {d}; look at the advisory again, then fix the \
                 dependency or renew the ignore with a new reason and date"
            )),
            Some(_) => {}
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    bail!(
        "deny.toml ignores advisories without a valid reason and expiry date:\n  {}",
        bad.join("\n  ")
    )
}

fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(secs / 86_400).unwrap_or(0)
}

/// The advisory ids `deny.toml` ignores, for cargo-audit.
fn ignored_advisories(policy: &toml::Table) -> Vec<String> {
    let Some(list) = policy
        .get("advisories")
        .and_then(|a| a.get("ignore"))
        .and_then(|i| i.as_array())
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Table(t) => t.get("id").and_then(|i| i.as_str()).map(str::to_owned),
            _ => None,
        })
        .filter(|id| !id.contains('@'))
        .collect()
}

/// The cargo-deny configuration for one run: the policy, plus where the
/// database is. Licence exceptions for crates that are not in this tree's
/// lockfile (`locked`) are left out, so that the fuzz tree's exception does
/// not show up as unused in the main tree; for trees other than the main one,
/// licences the policy allows but the tree does not use are not reported.
fn deny_config(
    policy: &toml::Table,
    db: &Db,
    main_tree: bool,
    locked: &BTreeSet<String>,
) -> Result<String> {
    let mut cfg = policy.clone();
    if let Db::Local(local) = db {
        let adv = table_mut(&mut cfg, "advisories")?;
        adv.insert(
            "db-path".into(),
            toml::Value::String(path_str(&local.deny_db_path)?.to_owned()),
        );
        adv.insert(
            "db-urls".into(),
            toml::Value::Array(vec![toml::Value::String(LOCAL_DB_URL.into())]),
        );
    }
    let lic = table_mut(&mut cfg, "licenses")?;
    if let Some(toml::Value::Array(exceptions)) = lic.get_mut("exceptions") {
        exceptions.retain(|e| exception_crate(e).is_none_or(|c| locked.contains(c)));
    }
    if !main_tree {
        lic.insert("unused-allowed-license".into(), "allow".into());
    }
    toml::to_string(&cfg).context("cannot serialize the cargo-deny configuration")
}

/// The crate a `[[licenses.exceptions]]` entry is for.
fn exception_crate(e: &toml::Value) -> Option<&str> {
    e.get("crate")
        .or_else(|| e.get("name"))
        .and_then(|c| c.as_str())
        .map(|c| c.split('@').next().unwrap_or(c))
}

/// Crates whose licence exception is in the policy, for a stale-entry check.
fn excepted_crates(policy: &toml::Table) -> Vec<String> {
    policy
        .get("licenses")
        .and_then(|l| l.get("exceptions"))
        .and_then(|e| e.as_array())
        .map(|list| {
            list.iter()
                .filter_map(exception_crate)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn table_mut<'a>(cfg: &'a mut toml::Table, key: &str) -> Result<&'a mut toml::Table> {
    match cfg
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        toml::Value::Table(t) => Ok(t),
        _ => bail!("deny.toml: `{key}` must be a table"),
    }
}

fn path_str(p: &Path) -> Result<&str> {
    match p.to_str() {
        Some(s) => Ok(s),
        None => bail!("path {} is not UTF-8", p.display()),
    }
}

/// git settings that make `LOCAL_DB_URL` mean the local repository, passed
/// through the environment so that no git configuration file is touched.
fn url_rewrite_env(local: &LocalDb) -> Result<Vec<(&'static str, String)>> {
    let target = format!("file://{}", path_str(&local.repo)?);
    Ok(vec![
        ("GIT_CONFIG_COUNT", "1".into()),
        ("GIT_CONFIG_KEY_0", format!("url.{target}.insteadOf")),
        ("GIT_CONFIG_VALUE_0", LOCAL_DB_URL.into()),
    ])
}

/// Runs `cargo deny check` in `ws` and returns its error diagnostics.
fn run_deny(
    ws: &Path,
    config: &Path,
    db: &Db,
    checks: Checks,
    shown: &str,
) -> Result<Vec<Finding>> {
    let mut check = Command::new(cargo());
    check.current_dir(ws).arg("deny");
    if let Db::Local(local) = db {
        // cargo-deny clones (or updates) its copy of the local repository.
        let mut fetch = Command::new(cargo());
        fetch
            .current_dir(ws)
            .args(["deny", "--config"])
            .arg(config)
            .args(["fetch", "db"])
            .envs(url_rewrite_env(local)?);
        util::run_quiet(&mut fetch)
            .context("cargo-deny could not copy the local advisory database")?;
        check.arg("--offline");
    }
    check
        .args(["--format", "json", "--color", "never", "--config"])
        .arg(config)
        .arg("check");
    if checks == Checks::Advisories {
        check.arg("advisories");
    }
    let shown_cmd = util::show(&check);
    let out = check
        .output()
        .with_context(|| format!("cannot start `{shown_cmd}`"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let parsed = parse_deny_output(&stderr, &format!("cargo-deny ({shown})"));
    for w in &parsed.warnings {
        eprintln!("xtask: cargo-deny ({shown}): warning: {w}");
    }
    if !out.status.success() && parsed.findings.is_empty() {
        let hint = if matches!(db, Db::Fetch) {
            "\n(no local advisory snapshot was found, and fetching the public database may \
             have failed: set SIGNET_ADVISORY_DB to a RustSec advisory-db folder)"
        } else {
            ""
        };
        bail!(
            "`{shown_cmd}` failed ({}) without reporting a finding:\n{}{hint}",
            out.status,
            parsed.log.join("\n")
        );
    }
    if parsed.findings.is_empty() {
        eprintln!("xtask: cargo-deny ({shown}): {}", parsed.summary);
    }
    Ok(parsed.findings)
}

/// What one cargo-deny run reported.
#[derive(Debug, Default)]
struct DenyOutput {
    findings: Vec<Finding>,
    warnings: Vec<String>,
    /// Error and warning log lines, and lines that were not JSON.
    log: Vec<String>,
    /// e.g. "advisories ok, bans ok, licenses ok, sources ok".
    summary: String,
}

/// Reads cargo-deny's `--format json` output (one JSON object per line).
fn parse_deny_output(stderr: &str, origin: &str) -> DenyOutput {
    let mut out = DenyOutput::default();
    let mut summary = Vec::new();
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            out.log.push(line.to_owned());
            continue;
        };
        let fields = at(&v, "/fields");
        match at(&v, "/type").as_str() {
            Some("diagnostic") => {
                let severity = at(fields, "/severity").as_str().unwrap_or("");
                if severity == "error" {
                    out.findings.push(deny_finding(fields, origin));
                } else if severity == "warning" {
                    out.warnings.push(deny_warning(fields));
                }
            }
            Some("summary") => {
                if let Some(map) = fields.as_object() {
                    for (check, counts) in map {
                        let errors = at(counts, "/errors").as_u64().unwrap_or(0);
                        summary.push(if errors == 0 {
                            format!("{check} ok")
                        } else {
                            format!("{check} FAILED")
                        });
                    }
                }
            }
            Some("log") => {
                let level = at(fields, "/level").as_str().unwrap_or("");
                if matches!(level, "ERROR" | "WARN") {
                    let msg = at(fields, "/message").as_str().unwrap_or("");
                    out.log.push(format!("[{level}] {msg}"));
                }
            }
            _ => out.log.push(line.to_owned()),
        }
    }
    out.summary = summary.join(", ");
    out
}

/// The crate a cargo-deny diagnostic is about: the root of its first graph.
fn deny_krate(fields: &Value) -> Option<String> {
    let k = at(fields, "/graphs/0/Krate");
    let name = at(k, "/name").as_str()?;
    Some(match at(k, "/version").as_str() {
        Some(v) => format!("{name} {v}"),
        None => name.to_owned(),
    })
}

fn deny_finding(fields: &Value, origin: &str) -> Finding {
    let code = at(fields, "/code").as_str().unwrap_or("error");
    let message = at(fields, "/message").as_str().unwrap_or("").to_owned();
    let notes: Vec<&str> = at(fields, "/notes")
        .as_array()
        .map(|n| n.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let advisory = at(fields, "/advisory");
    let id = at(advisory, "/id").as_str().unwrap_or(code).to_owned();
    let solution = notes
        .iter()
        .find_map(|n| n.strip_prefix("Solution: "))
        .map(str::to_owned);
    let fix = solution.unwrap_or_else(|| match code {
        "vulnerability" | "unmaintained" | "unsound" | "notice" => {
            "no fixed version: replace the crate, or ignore the advisory in deny.toml with \
             a reason and an expiry date"
                .into()
        }
        "yanked" => "update to a version that was not yanked (`cargo update -p <crate>`)".into(),
        "rejected" | "unlicensed" => {
            "replace the crate, or allow its licence in deny.toml with a reason".into()
        }
        _ => "see `cargo deny check` and the policy in deny.toml".into(),
    });
    let mut what = message;
    if advisory.is_null() {
        // Licence and source diagnostics put the specifics in labels and notes.
        let labels: Vec<&str> = at(fields, "/labels")
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| at(x, "/message").as_str())
                    .collect()
            })
            .unwrap_or_default();
        for extra in labels.iter().chain(notes.iter()).filter(|s| !s.is_empty()) {
            what.push_str("; ");
            what.push_str(extra);
        }
    }
    Finding {
        origin: origin.to_owned(),
        id,
        krate: deny_krate(fields),
        what,
        fix,
    }
}

fn deny_warning(fields: &Value) -> String {
    let code = at(fields, "/code").as_str().unwrap_or("warning");
    let message = at(fields, "/message").as_str().unwrap_or("");
    format!("[{code}] {message}")
}

/// Runs `cargo audit` on `lockfile` and returns its findings.
fn run_audit(
    ws: &Path,
    lockfile: &Path,
    db: &Db,
    policy: &toml::Table,
    shown: &str,
) -> Result<Vec<Finding>> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(ws)
        .args(["audit", "--json", "--deny", "warnings", "--file"])
        .arg(lockfile);
    if let Db::Local(local) = db {
        cmd.args(["--no-fetch", "--db"]).arg(&local.repo);
    }
    for id in ignored_advisories(policy) {
        cmd.args(["--ignore", &id]);
    }
    let shown_cmd = util::show(&cmd);
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{shown_cmd}`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let origin = format!("cargo-audit ({shown})");
    let report = match serde_json::from_str::<Value>(stdout.trim()) {
        Ok(v) => v,
        Err(_) => bail!(
            "`{shown_cmd}` failed ({}) without a report:\n{}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ),
    };
    let findings = audit_findings(&report, &origin);
    if !out.status.success() && findings.is_empty() {
        bail!(
            "`{shown_cmd}` failed ({}) without reporting a finding:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if findings.is_empty() {
        let crates = at(&report, "/lockfile/dependency-count")
            .as_u64()
            .unwrap_or(0);
        eprintln!("xtask: {origin}: no advisories apply to its {crates} crates");
    }
    Ok(findings)
}

/// Reads cargo-audit's `--json` report: vulnerabilities and warnings
/// (unmaintained, unsound, yanked), all of which fail the audit.
fn audit_findings(report: &Value, origin: &str) -> Vec<Finding> {
    let mut entries: Vec<&Value> = at(report, "/vulnerabilities/list")
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    if let Some(kinds) = at(report, "/warnings").as_object() {
        for list in kinds.values().filter_map(Value::as_array) {
            entries.extend(list.iter());
        }
    }
    entries
        .into_iter()
        .map(|e| {
            let advisory = at(e, "/advisory");
            let package = at(e, "/package");
            let kind = at(e, "/kind").as_str().unwrap_or("vulnerability");
            let name = at(package, "/name").as_str().unwrap_or("?");
            let patched: Vec<&str> = at(e, "/versions/patched")
                .as_array()
                .map(|p| p.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fix = if kind == "yanked" {
                format!("update to a version that was not yanked (`cargo update -p {name}`)")
            } else if patched.is_empty() {
                "no fixed version: replace the crate, or ignore the advisory in deny.toml \
                 with a reason and an expiry date"
                    .to_owned()
            } else {
                format!(
                    "upgrade to {} (`cargo update -p {name}`)",
                    patched.join(" or ")
                )
            };
            Finding {
                origin: origin.to_owned(),
                id: at(advisory, "/id").as_str().unwrap_or(kind).to_owned(),
                krate: Some(format!(
                    "{name} {}",
                    at(package, "/version").as_str().unwrap_or("?")
                )),
                what: at(advisory, "/title").as_str().unwrap_or(kind).to_owned(),
                fix,
            }
        })
        .collect()
}

/// Makes `<scratch>/snapshot` a git repository holding a copy of `source`
/// (reused while `source`'s content digest is unchanged).
pub(crate) fn prepare_local_db(source: &Path, scratch: &Path) -> Result<LocalDb> {
    let files = list_files(source)?;
    let mut h = Sha256::new();
    let mut advisories = 0usize;
    let mut newest: Option<String> = None;
    for rel in &files {
        let bytes = fs::read(source.join(rel))
            .with_context(|| format!("cannot read {}", source.join(rel).display()))?;
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
        if rel.ends_with(".md") && (rel.starts_with("crates/") || rel.starts_with("rust/")) {
            advisories += 1;
            if let Some(d) = advisory_date(&bytes) {
                if newest.as_deref().is_none_or(|n| d.as_str() > n) {
                    newest = Some(d);
                }
            }
        }
    }
    if advisories == 0 && !source.join("crates").is_dir() {
        bail!("{} is not a RustSec advisory database", source.display());
    }
    let digest = hex::encode(h.finalize());

    fs::create_dir_all(scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let repo = scratch.join("snapshot");
    let stamp = scratch.join("snapshot.sha256");
    if !(util::stamp_matches(&stamp, &digest) && repo.join(".git").is_dir()) {
        if repo.exists() {
            fs::remove_dir_all(&repo)
                .with_context(|| format!("cannot remove the old copy {}", repo.display()))?;
        }
        for rel in &files {
            let to = repo.join(rel);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            fs::copy(source.join(rel), &to)
                .with_context(|| format!("cannot copy to {}", to.display()))?;
        }
        git(&repo, &["init", "--quiet", "--initial-branch=main"])?;
        git(&repo, &["add", "--all"])?;
        git(
            &repo,
            &[
                "commit",
                "--quiet",
                "--no-verify",
                "--message",
                &format!("advisory database snapshot, content sha256 {digest}"),
            ],
        )?;
        util::write_stamp(&stamp, &digest)?;
    }
    Ok(LocalDb {
        scratch: scratch.to_path_buf(),
        repo,
        deny_db_path: scratch.join("deny-dbs"),
        advisories,
        newest,
    })
}

/// Runs git in `repo` with a fixed identity, no hooks and no signing, ignoring
/// any git environment of the caller (xtask may run inside a git hook).
fn git(repo: &Path, args: &[&str]) -> Result<()> {
    fs::create_dir_all(repo).with_context(|| format!("cannot create {}", repo.display()))?;
    let mut cmd = Command::new("git");
    cmd.current_dir(repo)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .args([
            "-c",
            "user.name=signet xtask",
            "-c",
            "user.email=xtask@signet.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args);
    util::run_quiet(&mut cmd)
        .map(drop)
        .context("git is needed to prepare the advisory database")
}

/// Every regular file under `root` (relative, `/`-separated, sorted), leaving
/// out any `.git` folder. Symbolic links are refused.
fn list_files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                bail!("non-UTF-8 file name in {}", dir.display());
            };
            if name == ".git" {
                continue;
            }
            let rel = format!("{prefix}{name}");
            let ty = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            if ty.is_dir() {
                stack.push((entry.path(), format!("{rel}/")));
            } else if ty.is_file() {
                out.push(rel);
            } else {
                bail!("{} is neither a file nor a folder", entry.path().display());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The `date = "YYYY-MM-DD"` of an advisory file.
fn advisory_date(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines().find_map(|l| {
        let v = l
            .trim()
            .strip_prefix("date")?
            .trim_start()
            .strip_prefix('=')?;
        let d = v.trim().trim_matches('"');
        (d.len() == 10 && civil_days(d).is_some()).then(|| d.to_owned())
    })
}

/// Days from `date` (`YYYY-MM-DD`) to today, if both are known.
fn days_since(date: &str) -> Option<i64> {
    let then = civil_days(date)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(i64::try_from(now / 86_400).ok()? - then)
}

/// Days since 1970-01-01 of a proleptic Gregorian `YYYY-MM-DD` date.
fn civil_days(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
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
    use super::*;

    fn repo_root() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    }

    #[test]
    fn civil_days_matches_known_dates() {
        assert_eq!(civil_days("1970-01-01"), Some(0));
        assert_eq!(civil_days("2000-03-01"), Some(11_017));
        assert_eq!(civil_days("2026-08-21"), Some(20_686));
        assert_eq!(civil_days("2026-13-01"), None);
        assert_eq!(civil_days("not-a-date"), None);
    }

    #[test]
    fn ignored_advisories_need_a_reason_and_a_future_expiry() -> Result<()> {
        let today = civil_days("2026-06-01").unwrap_or(0);
        let policy = |ignore: &str| -> Result<toml::Table> {
            Ok(format!("[advisories]\nignore = [{ignore}]\n").parse()?)
        };
        check_ignores(&read_policy(&repo_root())?, today)?;
        check_ignores(
            &policy(
                r#"{ id = "RUSTSEC-2026-0001", reason = "not reachable: we never call it; expires 2026-09-01" }"#,
            )?,
            today,
        )?;
        for (ignore, expected) in [
            (r#""RUSTSEC-2026-0001""#, "write it as"),
            (r#"{ id = "RUSTSEC-2026-0001" }"#, "no reason"),
            (
                r#"{ id = "RUSTSEC-2026-0001", reason = "expires 2026-09-01" }"#,
                "no reason",
            ),
            (
                r#"{ id = "RUSTSEC-2026-0001", reason = "not reachable" }"#,
                "no `expires",
            ),
            (
                r#"{ id = "RUSTSEC-2026-0001", reason = "not reachable; expires 2026-05-31" }"#,
                "expired on 2026-05-31",
            ),
        ] {
            let err = check_ignores(&policy(ignore)?, today)
                .err()
                .map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(expected)),
                "{ignore}: {err:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn deny_json_errors_become_findings_with_id_crate_and_fix() {
        let stderr = r#"{"fields":{"advisory":{"id":"RUSTSEC-2099-0001","package":"hex"},"code":"vulnerability","graphs":[{"Krate":{"name":"hex","version":"0.4.3"}}],"message":"Bad thing","notes":["ID: RUSTSEC-2099-0001","Solution: Upgrade to >=99.0.0 (try `cargo update -p hex`)"],"severity":"error"},"type":"diagnostic"}
{"fields":{"code":"duplicate","message":"found 2 duplicate entries for crate 'syn'","severity":"warning"},"type":"diagnostic"}
{"fields":{"advisories":{"errors":1,"helps":0,"notes":0,"warnings":0}},"type":"summary"}
not json at all"#;
        let out = parse_deny_output(stderr, "cargo-deny (Cargo.lock)");
        assert_eq!(out.findings.len(), 1);
        let shown = out
            .findings
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(shown.contains("RUSTSEC-2099-0001 in hex 0.4.3"), "{shown}");
        assert!(shown.contains("fix: Upgrade to >=99.0.0"), "{shown}");
        assert_eq!(out.warnings.len(), 1);
        assert_eq!(out.summary, "advisories FAILED");
        assert_eq!(out.log, vec!["not json at all".to_owned()]);
    }

    #[test]
    fn audit_json_vulnerabilities_and_warnings_become_findings() -> Result<()> {
        let report: Value = serde_json::from_str(
            r#"{"vulnerabilities":{"found":true,"count":1,"list":[{"advisory":{"id":"RUSTSEC-2099-0001","title":"Bad thing"},"versions":{"patched":[">=99.0.0"]},"package":{"name":"hex","version":"0.4.3"}}]},
                "warnings":{"yanked":[{"kind":"yanked","advisory":null,"versions":null,"package":{"name":"foo","version":"1.0.0"}}]}}"#,
        )?;
        let f = audit_findings(&report, "cargo-audit (Cargo.lock)");
        let shown: Vec<String> = f.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown.iter().any(|s| s
                .contains("RUSTSEC-2099-0001 in hex 0.4.3: Bad thing; fix: upgrade to >=99.0.0")),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|s| s.contains("yanked in foo 1.0.0")),
            "{shown:?}"
        );
        Ok(())
    }

    #[test]
    fn generated_config_points_cargo_deny_at_the_local_copy() -> Result<()> {
        let policy = read_policy(&repo_root())?;
        let local = LocalDb {
            scratch: PathBuf::from("/x"),
            repo: PathBuf::from("/x/snapshot"),
            deny_db_path: PathBuf::from("/x/deny-dbs"),
            advisories: 0,
            newest: None,
        };
        let cfg: toml::Table =
            deny_config(&policy, &Db::Local(local), false, &BTreeSet::new())?.parse()?;
        let adv = cfg.get("advisories").and_then(|a| a.as_table());
        assert_eq!(
            adv.and_then(|a| a.get("db-path")).and_then(|p| p.as_str()),
            Some("/x/deny-dbs")
        );
        assert_eq!(
            adv.and_then(|a| a.get("yanked")).and_then(|p| p.as_str()),
            Some("deny"),
            "the policy must survive the rewrite"
        );
        Ok(())
    }

    /// Plants a fake advisory against a crate of our lockfile into a copy of
    /// the advisory database (or, without a local snapshot, into an otherwise
    /// empty one) and checks that both tools turn it into a failed audit.
    #[test]
    fn a_planted_advisory_fails_the_audit() -> Result<()> {
        const ID: &str = "RUSTSEC-2026-9901";
        const KRATE: &str = "hex";
        let root = repo_root();
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
