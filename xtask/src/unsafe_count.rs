//! Counts `unsafe` code per crate, as part of `cargo xtask audit`.
//!
//! Every `.rs` file of a crate (its folder, less `tests/`, `benches/`,
//! `examples/`, `target/` and build scripts) is parsed with `syn`, and each
//! `unsafe` block, `unsafe fn`, `unsafe impl`, `unsafe trait` and `extern`
//! block is counted; code inside macro invocations is not parsed, as with
//! cargo-geiger.
//!
//! **Policy, enforced:** every workspace crate forbids unsafe code
//! (`[lints] workspace = true` with the workspace's `unsafe_code = "forbid"`,
//! its own `unsafe_code = "forbid"`, or `#![forbid(unsafe_code)]` in a crate
//! root) and contains none, except the crates in [`UNSAFE_ALLOWED`], whose
//! unsafe code must stay in the files listed there. A crate that forbids
//! unsafe code and gains some (in a file the compiler does not see yet, say),
//! or a new crate that does not forbid it, fails the audit.
//!
//! **Report:** the counts of the workspace crates, and of every crate linked
//! into the release binaries (`target/unsafe-report.json` holds them all; the
//! largest are printed).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use syn::visit::{self, Visit};

use crate::metadata::{Graph, Package, RELEASE_BINARIES};

/// Workspace crates allowed to contain unsafe code, and the only files
/// (relative to the crate's folder) where it may live.
pub const UNSAFE_ALLOWED: &[(&str, &[&str])] = &[
    ("signet-espeak", &["src/ffi.rs"]),
    ("signet-encode", &["src/ffi.rs"]),
];

/// How many dependency crates the report prints.
const SHOWN_DEPENDENCIES: usize = 15;

/// `unsafe` occurrences in some code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Counts {
    pub blocks: usize,
    pub fns: usize,
    pub impls: usize,
    pub traits: usize,
    pub externs: usize,
}

impl Counts {
    /// All occurrences together.
    pub fn total(&self) -> usize {
        self.blocks + self.fns + self.impls + self.traits + self.externs
    }

    fn add(&mut self, o: &Counts) {
        self.blocks += o.blocks;
        self.fns += o.fns;
        self.impls += o.impls;
        self.traits += o.traits;
        self.externs += o.externs;
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} blocks, {} fns, {} impls, {} traits, {} extern blocks",
            self.blocks, self.fns, self.impls, self.traits, self.externs
        )
    }
}

impl<'ast> Visit<'ast> for Counts {
    fn visit_expr_unsafe(&mut self, e: &'ast syn::ExprUnsafe) {
        self.blocks += 1;
        visit::visit_expr_unsafe(self, e);
    }
    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        self.fns += usize::from(i.sig.unsafety.is_some());
        visit::visit_item_fn(self, i);
    }
    fn visit_impl_item_fn(&mut self, i: &'ast syn::ImplItemFn) {
        self.fns += usize::from(i.sig.unsafety.is_some());
        visit::visit_impl_item_fn(self, i);
    }
    fn visit_trait_item_fn(&mut self, i: &'ast syn::TraitItemFn) {
        self.fns += usize::from(i.sig.unsafety.is_some());
        visit::visit_trait_item_fn(self, i);
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        self.impls += usize::from(i.unsafety.is_some());
        visit::visit_item_impl(self, i);
    }
    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        self.traits += usize::from(i.unsafety.is_some());
        visit::visit_item_trait(self, i);
    }
    fn visit_item_foreign_mod(&mut self, i: &'ast syn::ItemForeignMod) {
        self.externs += 1;
        visit::visit_item_foreign_mod(self, i);
    }
}

/// What one crate contains.
#[derive(Debug, Default)]
pub struct CrateReport {
    pub name: String,
    pub version: String,
    /// Per file (relative to the crate folder) with any unsafe code.
    pub files: BTreeMap<String, Counts>,
    pub total: Counts,
    /// Files `syn` could not parse (relative), with the reason.
    pub unparsed: Vec<(String, String)>,
    /// Whether the crate forbids unsafe code.
    pub forbids: bool,
}

/// Counts the unsafe code in one source text.
pub fn count_source(text: &str) -> std::result::Result<(Counts, bool), syn::Error> {
    let file = syn::parse_file(text)?;
    let mut c = Counts::default();
    c.visit_file(&file);
    Ok((c, forbids_in_attrs(&file.attrs)))
}

/// Whether inner attributes hold `#![forbid(unsafe_code)]`.
fn forbids_in_attrs(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("forbid")
            && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string().split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|t| t == "unsafe_code"))
    })
}

/// Counts every source file of the crate in `dir`, whose crate roots are
/// `roots`. `workspace_forbids`: whether `[lints] workspace = true` means
/// forbidding unsafe code.
pub fn crate_report(
    name: &str,
    version: &str,
    dir: &Path,
    roots: &[PathBuf],
    workspace_forbids: bool,
) -> Result<CrateReport> {
    let mut report = CrateReport {
        name: name.to_owned(),
        version: version.to_owned(),
        forbids: manifest_forbids(&dir.join("Cargo.toml"), workspace_forbids),
        ..CrateReport::default()
    };
    for rel in source_files(dir)? {
        let path = dir.join(&rel);
        let text = match fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                report.unparsed.push((rel, e.to_string()));
                continue;
            }
        };
        match count_source(&text) {
            Ok((counts, forbids)) => {
                if forbids && roots.iter().any(|r| r == &path) {
                    report.forbids = true;
                }
                if counts.total() > 0 {
                    report.total.add(&counts);
                    report.files.insert(rel, counts);
                }
            }
            Err(e) => report.unparsed.push((rel, e.to_string())),
        }
    }
    Ok(report)
}

/// Whether a crate's manifest forbids unsafe code.
fn manifest_forbids(manifest: &Path, workspace_forbids: bool) -> bool {
    let Ok(text) = fs::read_to_string(manifest) else {
        return false;
    };
    let Ok(t) = text.parse::<toml::Table>() else {
        return false;
    };
    let lints = t.get("lints");
    let inherits = lints
        .and_then(|l| l.get("workspace"))
        .and_then(toml::Value::as_bool)
        == Some(true);
    let own = lints
        .and_then(|l| l.get("rust"))
        .and_then(|r| r.get("unsafe_code"))
        .map(lint_level);
    (inherits && workspace_forbids) || own.as_deref() == Some("forbid")
}

/// A lint's level, written `"forbid"` or `{ level = "forbid", ... }`.
fn lint_level(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other
            .get("level")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
            .to_owned(),
    }
}

/// Whether the workspace's `[workspace.lints.rust]` forbids unsafe code.
fn workspace_forbids(root: &Path) -> Result<bool> {
    let path = root.join("Cargo.toml");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let t: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    Ok(t.get("workspace")
        .and_then(|w| w.get("lints"))
        .and_then(|l| l.get("rust"))
        .and_then(|r| r.get("unsafe_code"))
        .map(lint_level)
        .as_deref()
        == Some("forbid"))
}

/// Every `.rs` file under `dir` (relative, sorted), leaving out tests,
/// benches, examples, build output, hidden folders and `build.rs`.
fn source_files(dir: &Path) -> Result<Vec<String>> {
    const SKIP: &[&str] = &["tests", "benches", "examples", "target", "fuzz"];
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let entries = fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", d.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ty = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            let rel = format!("{prefix}{name}");
            if ty.is_dir() {
                if !(name.starts_with('.') || prefix.is_empty() && SKIP.contains(&name.as_str())) {
                    stack.push((entry.path(), format!("{rel}/")));
                }
            } else if ty.is_file() && name.ends_with(".rs") && rel != "build.rs" {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Policy violations among workspace crate reports (empty when clean).
pub fn violations(reports: &[CrateReport]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        let allowed = UNSAFE_ALLOWED
            .iter()
            .find(|(n, _)| *n == r.name)
            .map(|(_, files)| *files);
        for (file, why) in &r.unparsed {
            out.push(format!(
                "{}: {file} cannot be parsed, so its unsafe code cannot be counted: {why}",
                r.name
            ));
        }
        match allowed {
            None if !r.forbids => out.push(format!(
                "{} does not forbid unsafe code: add `[lints] workspace = true` to its \
                 Cargo.toml (or `#![forbid(unsafe_code)]`), or list it in UNSAFE_ALLOWED in \
                 xtask/src/unsafe_count.rs with the files that may hold unsafe code",
                r.name
            )),
            None => {
                for (file, c) in &r.files {
                    out.push(format!(
                        "{} forbids unsafe code but {file} has {c}: remove it",
                        r.name
                    ));
                }
            }
            Some(files) => {
                for (file, c) in &r.files {
                    if !files.contains(&file.as_str()) {
                        out.push(format!(
                            "{}: unsafe code is allowed only in {} but {file} has {c}",
                            r.name,
                            files.join(", ")
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Counts, reports, and fails on a policy violation.
pub fn run(root: &Path) -> Result<()> {
    let graph = Graph::load(root)?;
    let ws_forbids = workspace_forbids(root)?;
    let report_of = |p: &Package| {
        crate_report(
            &p.name,
            &p.version,
            &p.dir,
            &p.roots,
            ws_forbids && p.workspace_member,
        )
    };

    let mut members = Vec::new();
    for p in graph.packages.values().filter(|p| p.workspace_member) {
        members.push(report_of(p)?);
    }
    eprintln!("xtask: unsafe code in the workspace crates:");
    for r in &members {
        let policy = if r.forbids {
            "forbids unsafe"
        } else {
            "allows unsafe"
        };
        eprintln!("  {:<16} {policy:<14} {}", r.name, r.total);
    }

    let mut ids = std::collections::BTreeSet::new();
    for bin in RELEASE_BINARIES {
        ids.extend(graph.closure(&graph.member(bin.package)?.id));
    }
    let mut deps = Vec::new();
    for p in ids
        .iter()
        .filter_map(|id| graph.packages.get(id))
        .filter(|p| !p.workspace_member)
    {
        deps.push(report_of(p)?);
    }
    deps.sort_by(|a, b| {
        b.total
            .total()
            .cmp(&a.total.total())
            .then(a.name.cmp(&b.name))
    });
    let with_unsafe = deps.iter().filter(|r| r.total.total() > 0).count();
    let unparsed: usize = deps.iter().map(|r| r.unparsed.len()).sum();
    let mut all = Counts::default();
    for r in &deps {
        all.add(&r.total);
    }
    eprintln!(
        "xtask: unsafe code in the {} crates the release binaries link: {with_unsafe} have some \
         ({all}); {unparsed} file(s) could not be parsed; the largest:",
        deps.len()
    );
    for r in deps
        .iter()
        .take(SHOWN_DEPENDENCIES)
        .filter(|r| r.total.total() > 0)
    {
        eprintln!(
            "  {:<24} {:>5}  ({})",
            format!("{} {}", r.name, r.version),
            r.total.total(),
            r.total
        );
    }
    let out = root.join("target/unsafe-report.json");
    let json_of = |r: &CrateReport| {
        json!({
            "name": r.name, "version": r.version, "forbids_unsafe": r.forbids,
            "total": r.total.total(),
            "counts": { "blocks": r.total.blocks, "fns": r.total.fns, "impls": r.total.impls,
                        "traits": r.total.traits, "extern_blocks": r.total.externs },
            "files": r.files.iter().map(|(f, c)| (f.clone(), json!(c.total()))).collect::<serde_json::Map<_, _>>(),
            "unparsed": r.unparsed.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
        })
    };
    let doc = json!({
        "workspace": members.iter().map(json_of).collect::<Vec<_>>(),
        "dependencies": deps.iter().map(json_of).collect::<Vec<_>>(),
    });
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(&out, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("xtask: full unsafe report: {}", out.display());

    let bad = violations(&members);
    if !bad.is_empty() {
        bail!("unsafe-code policy violated:\n  {}", bad.join("\n  "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    }

    #[test]
    fn counts_each_kind_of_unsafe() -> Result<()> {
        let src = r#"
            #![forbid(unsafe_code)]
            unsafe fn a() {}
            unsafe trait T { unsafe fn m(&self); }
            struct S;
            unsafe impl Send for S {}
            impl S { unsafe fn b(&self) { unsafe { a() } } }
            extern "C" { fn c(); }
            fn d() { let _ = unsafe { 1 }; let _ = "unsafe { in a string }"; }
            // unsafe { in a comment }
        "#;
        let (c, forbids) = count_source(src)?;
        assert!(forbids);
        assert_eq!(
            c,
            Counts {
                blocks: 2,
                fns: 3,
                impls: 1,
                traits: 1,
                externs: 1
            }
        );
        let (_, forbids) = count_source("#![deny(unsafe_code)] fn x() {}")?;
        assert!(!forbids);
        Ok(())
    }

    /// The tree as it is meets the policy.
    #[test]
    fn workspace_crates_meet_the_unsafe_policy() -> Result<()> {
        let root = repo_root();
        let graph = Graph::load(&root)?;
        let ws = workspace_forbids(&root)?;
        assert!(ws, "the workspace no longer forbids unsafe code");
        let mut reports = Vec::new();
        for p in graph.packages.values().filter(|p| p.workspace_member) {
            reports.push(crate_report(&p.name, &p.version, &p.dir, &p.roots, ws)?);
        }
        assert!(reports
            .iter()
            .any(|r| r.name == "signet-espeak" && r.total.total() > 0));
        assert!(reports
            .iter()
            .any(|r| r.name == "signet-registry" && r.forbids));
        let bad = violations(&reports);
        assert!(bad.is_empty(), "{bad:#?}");
        Ok(())
    }

    /// A crate that forbids unsafe code and gains some, unsafe code outside
    /// the allowed file of an allowed crate, and a crate that stops forbidding
    /// unsafe code all fail, naming the crate and the file.
    #[test]
    fn planted_unsafe_code_violates_the_policy() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-unsafe-{}", std::process::id()));
        let make = |name: &str, lints: &str, files: &[(&str, &str)]| -> Result<PathBuf> {
            let d = dir.join(name);
            fs::create_dir_all(d.join("src"))?;
            fs::write(
                d.join("Cargo.toml"),
                format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n{lints}\n"),
            )?;
            for (f, text) in files {
                fs::write(d.join(f), text)?;
            }
            Ok(d)
        };
        let gained = make(
            "gains-unsafe",
            "[lints]\nworkspace = true",
            &[
                ("src/lib.rs", "//! x\nmod inner;\n"),
                (
                    "src/inner.rs",
                    "pub fn f(p: *const u8) -> u8 { unsafe { *p } }\n",
                ),
            ],
        )?;
        let attr = make(
            "attr-forbids",
            "",
            &[(
                "src/lib.rs",
                "#![forbid(unsafe_code)]\nunsafe impl Send for X {}\n",
            )],
        )?;
        let lax = make("lax", "", &[("src/lib.rs", "pub fn f() {}\n")])?;
        let espeak = make(
            "signet-espeak",
            "[lints.rust]\nunsafe_code = \"deny\"",
            &[
                ("src/ffi.rs", "pub fn f() { unsafe { g() } }\n"),
                ("src/main.rs", "fn main() { unsafe { h() } }\n"),
            ],
        )?;
        let reports = vec![
            crate_report(
                "gains-unsafe",
                "0.1.0",
                &gained,
                &[gained.join("src/lib.rs")],
                true,
            )?,
            crate_report(
                "attr-forbids",
                "0.1.0",
                &attr,
                &[attr.join("src/lib.rs")],
                true,
            )?,
            crate_report("lax", "0.1.0", &lax, &[lax.join("src/lib.rs")], true)?,
            crate_report(
                "signet-espeak",
                "0.1.0",
                &espeak,
                &[espeak.join("src/main.rs")],
                true,
            )?,
        ];
        fs::remove_dir_all(&dir)?;
        let bad = violations(&reports);
        assert_eq!(bad.len(), 4, "{bad:#?}");
        let has = |a: &str, b: &str| bad.iter().any(|m| m.contains(a) && m.contains(b));
        assert!(
            has(
                "gains-unsafe forbids unsafe code",
                "src/inner.rs has 1 blocks"
            ),
            "{bad:#?}"
        );
        assert!(
            has("attr-forbids forbids unsafe code", "src/lib.rs"),
            "{bad:#?}"
        );
        assert!(
            has("lax does not forbid unsafe code", "UNSAFE_ALLOWED"),
            "{bad:#?}"
        );
        assert!(has("signet-espeak", "src/main.rs has 1 blocks"), "{bad:#?}");
        Ok(())
    }
}
