//! The audit policy, `deny.toml`: reading it, checking that every ignored
//! advisory has a reason and an expiry date, and deriving each tool's view
//! of it (cargo-deny's configuration per lockfile, cargo-audit's ignores).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::dates::civil_days;
use super::db::{path_str, Db, LOCAL_DB_URL};

/// Reads `deny.toml`.
pub(super) fn read_policy(repo_root: &Path) -> Result<toml::Table> {
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
pub(super) fn check_ignores(policy: &toml::Table, today: i64) -> Result<()> {
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

/// The advisory ids `deny.toml` ignores, for cargo-audit.
pub(super) fn ignored_advisories(policy: &toml::Table) -> Vec<String> {
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
pub(super) fn deny_config(
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
pub(super) fn excepted_crates(policy: &toml::Table) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use anyhow::Result;

    use super::super::dates::civil_days;
    use super::super::db::LocalDb;
    use super::*;
    use std::path::PathBuf;

    fn repo_root() -> Result<PathBuf> {
        crate::repo_root()
    }

    #[test]
    fn ignored_advisories_need_a_reason_and_a_future_expiry() -> Result<()> {
        let today = civil_days("2026-06-01").unwrap_or(0);
        let policy = |ignore: &str| -> Result<toml::Table> {
            Ok(format!("[advisories]\nignore = [{ignore}]\n").parse()?)
        };
        check_ignores(&read_policy(&repo_root()?)?, today)?;
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
    fn generated_config_points_cargo_deny_at_the_local_copy() -> Result<()> {
        let policy = read_policy(&repo_root()?)?;
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
}
