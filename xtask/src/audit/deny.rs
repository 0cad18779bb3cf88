//! cargo-deny: advisories, bans, licences and sources of one lockfile,
//! its JSON diagnostics read into [`Finding`]s.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::db::{url_rewrite_env, Db};
use super::finding::{at, Finding};
use crate::tool::{cargo, Tool};
use crate::util;

/// cargo-deny; 0.20 needs rustc 1.88 or later.
pub(super) const CARGO_DENY: Tool = Tool {
    krate: "cargo-deny",
    version: "0.20.2",
    subcommand: "deny",
};

/// Which checks to run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Checks {
    /// Advisories, bans, licences, sources (cargo-deny) and cargo-audit.
    All,
    /// Only the advisory checks of both tools.
    Advisories,
}

/// Runs `cargo deny check` in `ws` and returns its error diagnostics.
pub(super) fn run_deny(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
