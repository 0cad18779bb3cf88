//! The advisory database: a local snapshot made into a git repository that
//! both tools read offline, or, without one, the public database the tools
//! fetch themselves.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use super::dates::{civil_days, days_since};
use crate::util;

/// The URL cargo-deny is told its database lives at. It never resolves
/// (`.invalid`); git rewrites it to the local repository.
pub(super) const LOCAL_DB_URL: &str = "https://advisory-db.signet.invalid/snapshot";

/// Advisory databases older than this (by their newest advisory) are reported.
const STALE_AFTER_DAYS: i64 = 90;

/// Where the advisories come from.
pub(super) enum Db {
    /// A git repository made from a local snapshot; the tools run offline.
    Local(LocalDb),
    /// No snapshot: the tools fetch the public database themselves.
    Fetch,
}

/// A local advisory database repository and what it holds.
pub(super) struct LocalDb {
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

/// Where a snapshot is looked for when `$SIGNET_ADVISORY_DB` is not set.
pub(super) fn default_snapshot(repo_root: &Path) -> PathBuf {
    repo_root.join("../shared/advisory-db")
}

/// The local snapshot to use: `$SIGNET_ADVISORY_DB` (which must exist when
/// set), else `<repo>/../shared/advisory-db` if it exists.
pub(super) fn snapshot_source(repo_root: &Path) -> Result<Option<PathBuf>> {
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

/// Prints what the snapshot holds, and a warning when it is stale.
pub(super) fn describe_snapshot(src: &Path, db: &LocalDb) {
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

/// `p` as UTF-8, which the tools' configuration files need.
pub(super) fn path_str(p: &Path) -> Result<&str> {
    match p.to_str() {
        Some(s) => Ok(s),
        None => bail!("path {} is not UTF-8", p.display()),
    }
}

/// git settings that make `LOCAL_DB_URL` mean the local repository, passed
/// through the environment so that no git configuration file is touched.
pub(super) fn url_rewrite_env(local: &LocalDb) -> Result<Vec<(&'static str, String)>> {
    let target = format!("file://{}", path_str(&local.repo)?);
    Ok(vec![
        ("GIT_CONFIG_COUNT", "1".into()),
        ("GIT_CONFIG_KEY_0", format!("url.{target}.insteadOf")),
        ("GIT_CONFIG_VALUE_0", LOCAL_DB_URL.into()),
    ])
}

/// Makes `<scratch>/snapshot` a git repository holding a copy of `source`
/// (reused while `source`'s content digest is unchanged).
pub(super) fn prepare_local_db(source: &Path, scratch: &Path) -> Result<LocalDb> {
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
pub(super) fn list_files(root: &Path) -> Result<Vec<String>> {
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
