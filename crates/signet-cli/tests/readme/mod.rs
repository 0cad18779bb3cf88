//! The README names only commands that exist: every `signet ...` command line in
//! README.md (in code blocks and inline code) is walked down its subcommands, and
//! `signet <subcommand path> --help` must succeed for each. A name the binary does
//! not know fails the test with the README line that shows it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// A `signet ...` command shown in the README, as written.
#[derive(Debug)]
struct Shown {
    /// 1-based line of the README where it starts.
    line: usize,
    /// The words after `signet`, up to the end of the code line or span.
    words: Vec<String>,
}

/// Words before `signet` after which it starts a command: the start of the
/// code, or a shell operator.
const COMMAND_STARTS: &[&str] = &["|", "||", "&&", ";", "$(", "sudo", "exec"];

/// Every `signet ...` command in `readme`: fenced code blocks (except Rust
/// ones, whose `signet::` paths are library code) line by line, and inline
/// code spans, which may run over a line break.
fn shown_commands(readme: &str) -> Vec<Shown> {
    // (line, code, whether it is an inline span)
    let mut snippets: Vec<(usize, String, bool)> = Vec::new();
    let mut fence: Option<bool> = None; // Some(is_rust) inside a fenced block
    let mut inline: Option<(usize, String)> = None;
    for (i, line) in readme.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim().starts_with("rust")),
            };
            continue;
        }
        match fence {
            Some(true) => continue,
            Some(false) => {
                snippets.push((n, line.to_owned(), false));
                continue;
            }
            None => {}
        }
        for (j, piece) in line.split('`').enumerate() {
            if j > 0 {
                // A backtick between the pieces opens or closes a span.
                inline = match inline.take() {
                    Some((at, text)) => {
                        snippets.push((at, text, true));
                        None
                    }
                    None => Some((n, String::new())),
                };
            }
            if let Some((_, text)) = inline.as_mut() {
                if !text.is_empty() && j == 0 {
                    text.push(' ');
                }
                text.push_str(piece);
            }
        }
        if line.trim().is_empty() {
            // A paragraph break ends a span that never closed.
            inline = None;
        }
    }
    let mut out = Vec::new();
    for (line, text, inline) in snippets {
        let code = text.split(" #").next().unwrap_or("");
        let words: Vec<&str> = code.split_whitespace().collect();
        for (k, w) in words.iter().enumerate() {
            let starts = match k.checked_sub(1).and_then(|p| words.get(p)) {
                None => true,
                Some(prev) => COMMAND_STARTS.contains(prev),
            };
            if *w == "signet" && starts {
                let rest = words.get(k + 1..).unwrap_or_default();
                let end = rest
                    .iter()
                    .position(|w| COMMAND_STARTS.contains(w) || *w == "&" || w.starts_with('>'))
                    .unwrap_or(rest.len());
                if end == 0 && inline {
                    // Inline `signet` alone names the binary; it runs nothing.
                    continue;
                }
                out.push(Shown {
                    line,
                    words: rest
                        .get(..end)
                        .unwrap_or_default()
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                });
            }
        }
    }
    out
}

/// The subcommands a clap `--help` text lists under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Runs `signet <path> --help` (cached); `Err` holds why it failed.
fn help<'a>(
    signet: &Path,
    path: &[String],
    cache: &'a mut BTreeMap<Vec<String>, Result<String, String>>,
) -> &'a Result<String, String> {
    cache.entry(path.to_vec()).or_insert_with(|| {
        let out = Command::new(signet)
            .args(path)
            .arg("--help")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", signet.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "`signet {} --help` failed ({}): {}",
                path.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
}

/// Walks each command shown in `readme` down the subcommands that `signet`
/// lists and checks that `--help` works at the end. Returns the subcommand
/// paths checked, or one line per README command that names no command.
fn check(readme: &str, signet: &Path) -> Result<Vec<String>, String> {
    let mut cache = BTreeMap::new();
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for shown in shown_commands(readme) {
        let mut path: Vec<String> = Vec::new();
        let problem = loop {
            let known = match help(signet, &path, &mut cache) {
                Ok(text) => subcommands(text),
                Err(e) => break Some(e.clone()),
            };
            let next = shown.words.get(path.len());
            match next {
                Some(word) if !known.is_empty() && !word.starts_with('-') => {
                    if known.contains(word) {
                        path.push(word.clone());
                    } else {
                        let parent: Vec<&str> = std::iter::once("signet")
                            .chain(path.iter().map(String::as_str))
                            .collect();
                        break Some(format!(
                            "`{word}` is not a command of `{}` (it has: {})",
                            parent.join(" "),
                            known.join(", ")
                        ));
                    }
                }
                _ if path.is_empty() => {
                    break Some("names no subcommand".to_owned());
                }
                _ => break None,
            }
        };
        match problem {
            Some(p) => {
                let command: Vec<&str> = std::iter::once("signet")
                    .chain(shown.words.iter().map(String::as_str))
                    .collect();
                problems.push(format!(
                    "README.md:{}: `{}`: {p}",
                    shown.line,
                    command.join(" ")
                ));
            }
            None => checked.push(path.join(" ")),
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems.join("\n"))
    }
}

fn signet() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_signet"))
}

#[test]
fn every_command_the_readme_shows_exists() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("read README.md");
    let checked = match check(&readme, signet()) {
        Ok(c) => c,
        Err(problems) => panic!("the README shows commands that do not exist:\n{problems}"),
    };
    // The README's command-line section alone shows over twenty commands.
    assert!(
        checked.len() >= 20,
        "only {} found: {checked:?}",
        checked.len()
    );
    for expected in [
        "speak",
        "voices import piper",
        "voices install",
        "trust revoke",
        "serve",
        "keys generate",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "`signet {expected}` was not found in the README: {checked:?}"
        );
    }
}

#[test]
fn a_command_that_does_not_exist_fails_with_its_readme_line() {
    let readme =
        "# Title\n\n```sh\nsignet voices list\nsignet voices frobnicate x   # no such thing\n```\n\
                  \nProse with `signet speak \"Hi.\"` and `signet\nfly --high` inline.\n";
    let shown = shown_commands(readme);
    let lines: Vec<(usize, String)> = shown.iter().map(|s| (s.line, s.words.join(" "))).collect();
    assert_eq!(
        lines,
        [
            (4, "voices list".to_owned()),
            (5, "voices frobnicate x".to_owned()),
            (8, "speak \"Hi.\"".to_owned()),
            (8, "fly --high".to_owned()),
        ]
    );
    let err = check(readme, signet()).expect_err("two commands do not exist");
    let problems: Vec<&str> = err.lines().collect();
    assert_eq!(problems.len(), 2, "{err}");
    assert!(
        problems[0].starts_with("README.md:5: `signet voices frobnicate x`")
            && problems[0].contains("`frobnicate` is not a command of `signet voices`"),
        "{err}"
    );
    assert!(
        problems[1].starts_with("README.md:8: `signet fly --high`"),
        "{err}"
    );
}

#[test]
fn code_that_only_mentions_signet_is_not_a_command() {
    let readme = "```rust\nlet s = signet::Synthesizer::builder();\nsignet speak\n```\n\
                  `<signet home>/config.toml`, `signet-espeak`, `cargo xtask test`, the `signet` binary\n";
    assert!(shown_commands(readme).is_empty());
}
