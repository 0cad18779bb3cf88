//! cargo-audit: the same lockfiles against the RustSec database a second
//! time, with its own reading of it; its JSON report read into [`Finding`]s.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::db::Db;
use super::finding::{at, Finding};
use super::policy::ignored_advisories;
use crate::tool::{cargo, Tool};
use crate::util;

/// cargo-audit; 0.22.2 needs rustc 1.88 or later.
pub(super) const CARGO_AUDIT: Tool = Tool {
    krate: "cargo-audit",
    version: "0.22.2",
    subcommand: "audit",
};

/// Runs `cargo audit` on `lockfile` and returns its findings.
pub(super) fn run_audit(
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

#[cfg(test)]
mod tests {
    use anyhow::Result;

    use super::*;

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
}
