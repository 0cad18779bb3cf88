//! Checks that keep the security documentation honest, run as tests of xtask.
//!
//! - every row of `docs/threat-model.md` names at least one test or command,
//!   every test it names exists as a function in the repository, and every
//!   command is one this repository has;
//! - every code block of `docs/security-guide.md` is a Rust block that runs as
//!   a doc test (no `ignore`, `no_run` or other languages), and the `signet`
//!   crate includes the guide;
//! - third-party GitHub Actions are pinned by a full commit id.

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::{Path, PathBuf};

    use anyhow::{bail, Context, Result};

    fn repo_root() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    }

    /// Every `fn <name>` in the Rust files under `dirs`.
    fn function_names(root: &Path, dirs: &[&str]) -> Result<BTreeSet<String>> {
        let mut names = BTreeSet::new();
        let mut stack: Vec<PathBuf> = dirs.iter().map(|d| root.join(d)).collect();
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let path = entry?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if path.is_dir() {
                    if name != "target" && !name.starts_with('.') {
                        stack.push(path);
                    }
                } else if name.ends_with(".rs") {
                    let text = fs::read_to_string(&path)?;
                    for rest in text.split("fn ").skip(1) {
                        let ident: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if !ident.is_empty() {
                            names.insert(ident);
                        }
                    }
                }
            }
        }
        Ok(names)
    }

    /// The backticked items of a Markdown table cell.
    fn backticked(cell: &str) -> Vec<&str> {
        cell.split('`').skip(1).step_by(2).collect()
    }

    /// Whether `cmd` is a command this repository provides.
    fn command_exists(root: &Path, cmd: &str) -> Result<bool> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["cargo", "xtask", task, ..] => {
                <crate::flags::Xtask as clap::CommandFactory>::command()
                    .find_subcommand(task)
                    .is_some()
            }
            ["cargo", "test", "-p", krate, ..] => root.join("crates").join(krate).is_dir(),
            ["signet", sub, ..] => fs::read_to_string(root.join("crates/signet-cli/src/main.rs"))?
                .to_lowercase()
                .contains(&sub.replace('-', "").to_lowercase()),
            _ => false,
        })
    }

    #[test]
    fn threat_model_rows_are_backed() -> Result<()> {
        let root = repo_root();
        let text = fs::read_to_string(root.join("docs/threat-model.md"))?;
        let fns = function_names(&root, &["crates", "xtask/src", "fuzz/fuzz_targets"])?;
        let mut rows = 0;
        let mut problems = Vec::new();
        for line in text.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            // The header, its rule, and the section rows (`| **Input manipulation** | | | |`).
            let [num, threat, _control, proof] = cells.as_slice() else {
                bail!("a threat-model row does not have four cells: {line}");
            };
            if num.parse::<u32>().is_err() {
                continue;
            }
            rows += 1;
            let items = backticked(proof);
            if items.is_empty() {
                problems.push(format!("row {num} ({threat}) names no test or command"));
            }
            for item in items {
                let ok = if item.contains(' ') {
                    command_exists(&root, item)?
                } else {
                    fns.contains(item)
                };
                if !ok {
                    problems.push(format!(
                        "row {num}: `{item}` is no test or command of this repository"
                    ));
                }
            }
        }
        assert!(
            rows >= 20,
            "only {rows} threat rows found: has the table's shape changed?"
        );
        assert!(problems.is_empty(), "{problems:#?}");
        Ok(())
    }

    #[test]
    fn security_guide_blocks_are_all_doc_tested() -> Result<()> {
        let root = repo_root();
        let guide = fs::read_to_string(root.join("docs/security-guide.md"))?;
        let fences: Vec<&str> = guide
            .lines()
            .filter(|l| l.trim_start().starts_with("```"))
            .collect();
        assert!(fences.len() >= 8 && fences.len() % 2 == 0, "{fences:?}");
        for (i, f) in fences.iter().enumerate() {
            let expected = if i % 2 == 0 { "```rust" } else { "```" };
            assert_eq!(
                f.trim(),
                expected,
                "block {} of the guide would not run as a doc test",
                i / 2 + 1
            );
        }
        let lib = fs::read_to_string(root.join("crates/signet/src/lib.rs"))?;
        assert!(lib.contains("include_str!(\"../../../docs/security-guide.md\")"));
        Ok(())
    }

    #[test]
    fn workflow_actions_are_pinned_by_commit() -> Result<()> {
        let dir = repo_root().join(".github/workflows");
        let mut seen = 0;
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let text = fs::read_to_string(&path)?;
            for line in text.lines() {
                let Some(action) = line.trim().trim_start_matches("- ").strip_prefix("uses:")
                else {
                    continue;
                };
                let action = action.split('#').next().unwrap_or("").trim();
                seen += 1;
                if action.starts_with("./") {
                    continue;
                }
                let pin = action.rsplit_once('@').map(|(_, p)| p).unwrap_or("");
                assert!(
                    pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
                    "{}: `{action}` is not pinned by a full commit id",
                    path.display()
                );
            }
        }
        assert!(
            seen > 0,
            "no workflow uses any action: is {} empty?",
            dir.display()
        );
        Ok(())
    }
}
