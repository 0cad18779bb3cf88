//! The dependency graph of the release binaries, read from `cargo metadata`.
//!
//! `cargo xtask sbom` lists what each release binary is made of, and the
//! unsafe-code count of `cargo xtask audit` looks at the same crates, so both
//! read the graph here: `cargo metadata --locked --filter-platform <host>`,
//! then the packages reachable from a binary's package through normal (not
//! dev, not build) dependencies, i.e. the crates linked into the binary built
//! on this host.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::tool::cargo;
use crate::util;

/// The binaries a release ships, with the workspace package that builds each.
pub const RELEASE_BINARIES: &[ReleaseBinary] = &[
    ReleaseBinary {
        bin: "signet",
        package: "signet-cli",
    },
    ReleaseBinary {
        bin: "signet-espeak",
        package: "signet-espeak",
    },
];

/// One binary of a release.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseBinary {
    /// The executable's name.
    pub bin: &'static str,
    /// The workspace package whose `[[bin]]` it is.
    pub package: &'static str,
}

/// One package of the graph.
#[derive(Debug, Clone)]
pub struct Package {
    /// cargo's package id (opaque).
    pub id: String,
    pub name: String,
    pub version: String,
    /// SPDX expression from the manifest, if any.
    pub license: Option<String>,
    /// `license-file` from the manifest, if any.
    pub license_file: Option<String>,
    pub description: Option<String>,
    pub repository: Option<String>,
    /// `registry+https://...`, `git+...`, or `None` for path (workspace) packages.
    pub source: Option<String>,
    /// Folder holding the package's `Cargo.toml`.
    pub dir: PathBuf,
    /// Whether it is one of this workspace's members.
    pub workspace_member: bool,
    /// `src_path` of its lib, proc-macro and bin targets (the code that ships).
    pub roots: Vec<PathBuf>,
}

impl Package {
    /// Whether the package comes from crates.io.
    pub fn is_from_crates_io(&self) -> bool {
        self.source.as_deref().is_some_and(|s| {
            s.contains("github.com/rust-lang/crates.io-index")
                || s.starts_with("sparse+https://index.crates.io")
        })
    }
}

/// The resolved graph for one platform.
#[derive(Debug)]
pub struct Graph {
    /// Packages by id.
    pub packages: BTreeMap<String, Package>,
    /// Normal (linked) dependencies of each package, by id.
    pub normal_deps: BTreeMap<String, BTreeSet<String>>,
    /// The platform the graph was filtered for.
    pub target: String,
}

impl Graph {
    /// Reads the graph of the workspace at `root` for the host platform.
    pub fn load(root: &Path) -> Result<Self> {
        let target = host_triple()?;
        let mut cmd = Command::new(cargo());
        cmd.current_dir(root).args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
            &target,
        ]);
        let out = util::run_quiet(&mut cmd)?;
        let v: Value = serde_json::from_str(&out).context("cargo metadata printed no JSON")?;
        Self::from_json(&v, target)
    }

    /// Builds the graph from `cargo metadata`'s JSON.
    pub fn from_json(v: &Value, target: String) -> Result<Self> {
        let members: BTreeSet<&str> = v
            .get("workspace_members")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut packages = BTreeMap::new();
        for p in v
            .get("packages")
            .and_then(Value::as_array)
            .context("cargo metadata: no packages")?
        {
            let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(id), Some(name), Some(version), Some(manifest)) =
                (s("id"), s("name"), s("version"), s("manifest_path"))
            else {
                bail!("cargo metadata: a package lacks id, name, version or manifest_path");
            };
            let roots = p
                .get("targets")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .filter(|t| {
                            t.get("kind").and_then(Value::as_array).is_some_and(|k| {
                                k.iter()
                                    .filter_map(Value::as_str)
                                    .any(|k| matches!(k, "lib" | "rlib" | "proc-macro" | "bin"))
                            })
                        })
                        .filter_map(|t| t.get("src_path").and_then(Value::as_str))
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default();
            let dir = Path::new(&manifest)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            packages.insert(
                id.clone(),
                Package {
                    workspace_member: members.contains(id.as_str()),
                    id,
                    name,
                    version,
                    license: s("license").filter(|l| !l.trim().is_empty()),
                    license_file: s("license_file"),
                    description: s("description"),
                    repository: s("repository"),
                    source: s("source"),
                    dir,
                    roots,
                },
            );
        }
        let mut normal_deps = BTreeMap::new();
        for node in v
            .pointer("/resolve/nodes")
            .and_then(Value::as_array)
            .context("cargo metadata: no resolve graph")?
        {
            let Some(id) = node.get("id").and_then(Value::as_str) else {
                continue;
            };
            let deps: BTreeSet<String> = node
                .get("deps")
                .and_then(Value::as_array)
                .map(|deps| {
                    deps.iter()
                        .filter(|d| {
                            d.get("dep_kinds")
                                .and_then(Value::as_array)
                                .is_some_and(|ks| {
                                    ks.iter().any(|k| k.get("kind").is_some_and(Value::is_null))
                                })
                        })
                        .filter_map(|d| d.get("pkg").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            normal_deps.insert(id.to_owned(), deps);
        }
        Ok(Graph {
            packages,
            normal_deps,
            target,
        })
    }

    /// The workspace package named `name`.
    pub fn member(&self, name: &str) -> Result<&Package> {
        self.packages
            .values()
            .find(|p| p.workspace_member && p.name == name)
            .with_context(|| format!("no workspace package named `{name}`"))
    }

    /// Ids of `root` and every package it links, directly or not.
    pub fn closure(&self, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![root.to_owned()];
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(deps) = self.normal_deps.get(&id) {
                stack.extend(deps.iter().filter(|d| !seen.contains(*d)).cloned());
            }
        }
        seen
    }
}

/// The host's target triple, from `rustc -vV`.
pub fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = util::run_quiet(Command::new(rustc).arg("-vV"))?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .context("`rustc -vV` printed no host triple")
}
