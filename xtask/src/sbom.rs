//! `cargo xtask sbom [--out DIR]`: a CycloneDX 1.5 SBOM of each release binary.
//!
//! One JSON document per binary (`<bin>.cdx.json`, default folder
//! `target/sbom/`), generated from `cargo metadata` for the host platform: the
//! binary's package is the document's subject, and every crate linked into it
//! (normal dependencies, transitively) is a component with its SPDX licence
//! expression, its package URL (`pkg:cargo/<name>@<version>`), the SHA-256 of
//! its `.crate` file from `Cargo.lock` where crates.io has one, and the
//! dependency graph between them. Native code the binary needs at run time but
//! that Signet does not redistribute (libtorch for `signet`, espeak-ng for
//! `signet-espeak`; `cargo xtask setup` fetches both by pinned digest) is
//! listed too, marked with the property `signet:redistributed = false`.
//!
//! The output is deterministic: no timestamp, and the serial number is a
//! UUID (version 8) derived from the document's content, so the same tree
//! gives the same bytes, which a signed release relies on.
#![allow(
    clippy::indexing_slicing,
    reason = "indexing a serde_json Value by key never panics on reads (a missing key is \
              Null); the only writes go to objects this module has just built"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::flags::Sbom;
use crate::metadata::{Graph, Package, ReleaseBinary, RELEASE_BINARIES};
use crate::{espeak, pins};

/// The CycloneDX version written.
pub const SPEC_VERSION: &str = "1.5";

/// `cargo xtask sbom [--out DIR]`.
pub fn run(root: &Path, args: Sbom) -> Result<()> {
    let out = args.out.unwrap_or_else(|| root.join("target/sbom"));
    for path in write(root, &out)? {
        eprintln!("xtask: wrote {}", path.display());
    }
    Ok(())
}

/// Writes one SBOM per release binary into `out`; returns the files written.
pub fn write(root: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let graph = Graph::load(root)?;
    let checksums = lock_checksums(&root.join("Cargo.lock"))?;
    let commit = git_commit(root);
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for bin in RELEASE_BINARIES {
        let doc = document(&graph, bin, &checksums, commit.as_deref())?;
        check_shape(&doc).with_context(|| format!("the SBOM of {} is malformed", bin.bin))?;
        let path = out.join(file_name(bin));
        let mut text = serde_json::to_string_pretty(&doc)?;
        text.push('\n');
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `<bin>.cdx.json`.
pub fn file_name(bin: &ReleaseBinary) -> String {
    format!("{}.cdx.json", bin.bin)
}

/// `(name, version)` → SHA-256 of the `.crate` file, from a lockfile.
pub fn lock_checksums(lockfile: &Path) -> Result<BTreeMap<(String, String), String>> {
    let text = fs::read_to_string(lockfile)
        .with_context(|| format!("cannot read {}", lockfile.display()))?;
    let lock: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", lockfile.display()))?;
    let mut out = BTreeMap::new();
    for p in lock
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let get = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        if let (Some(n), Some(v), Some(c)) = (get("name"), get("version"), get("checksum")) {
            out.insert((n, v), c);
        }
    }
    Ok(out)
}

fn git_commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The package URL of a crate.
pub fn purl(p: &Package) -> String {
    format!("pkg:cargo/{}@{}", p.name, p.version)
}

/// A CycloneDX `licenses` array for a crate: its SPDX expression (legacy
/// `A/B` spelled `A OR B`), else the file it names.
fn licenses(p: &Package) -> Value {
    if let Some(l) = &p.license {
        let expr = l.split('/').map(str::trim).collect::<Vec<_>>().join(" OR ");
        return json!([{ "expression": expr }]);
    }
    let name = match &p.license_file {
        Some(f) => format!("see {f} in the crate"),
        None => "NOASSERTION".to_owned(),
    };
    json!([{ "license": { "name": name } }])
}

fn component(p: &Package, checksums: &BTreeMap<(String, String), String>, kind: &str) -> Value {
    let mut c = json!({
        "type": kind,
        "bom-ref": purl(p),
        "name": p.name,
        "version": p.version,
        "scope": "required",
        "licenses": licenses(p),
        "purl": purl(p),
    });
    if let Some(d) = p
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        c["description"] = json!(d);
    }
    if let Some(sum) = checksums.get(&(p.name.clone(), p.version.clone())) {
        c["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
    }
    let mut refs = Vec::new();
    if p.is_from_crates_io() {
        refs.push(json!({
            "type": "distribution",
            "url": format!("https://crates.io/crates/{}/{}", p.name, p.version),
        }));
    }
    if let Some(r) = &p.repository {
        refs.push(json!({ "type": "vcs", "url": r }));
    }
    if !refs.is_empty() {
        c["externalReferences"] = Value::Array(refs);
    }
    c
}

/// Native libraries a binary needs at run time, which setup fetches by pinned
/// digest and Signet does not redistribute.
fn native_components(bin: &ReleaseBinary) -> Vec<Value> {
    let not_shipped = json!([
        { "name": "signet:redistributed", "value": "false" },
        { "name": "signet:provisioned-by", "value": "cargo xtask setup" },
    ]);
    match bin.bin {
        "signet" => vec![json!({
            "type": "library",
            "bom-ref": format!("pkg:pypi/torch@{}", pins::TORCH_VERSION),
            "name": "libtorch",
            "version": pins::TORCH_VERSION,
            "description": "PyTorch's C++ library, from PyPI's torch wheel; linked dynamically",
            "scope": "required",
            "licenses": [{ "expression": "BSD-3-Clause" }],
            "purl": format!("pkg:pypi/torch@{}", pins::TORCH_VERSION),
            "hashes": pins::torch_wheel_sha256()
                .into_iter()
                .map(|h| json!({ "alg": "SHA-256", "content": h }))
                .collect::<Vec<_>>(),
            "properties": not_shipped,
        })],
        "signet-espeak" => {
            let (name, version) = espeak::PIPER_PACKAGE
                .split_once("==")
                .unwrap_or((espeak::PIPER_PACKAGE, ""));
            vec![json!({
                "type": "library",
                "bom-ref": format!("pkg:pypi/{name}@{version}"),
                "name": "espeak-ng",
                "version": "1.52.0.1",
                "description": format!(
                    "espeak-ng as built into {name} {version}'s wheel; loaded at run time"
                ),
                "scope": "required",
                "licenses": [{ "expression": "GPL-3.0-or-later" }],
                "purl": format!("pkg:pypi/{name}@{version}"),
                "hashes": [{ "alg": "SHA-256", "content": espeak::PIPER_WHEEL_SHA256 }],
                "properties": not_shipped,
            })]
        }
        _ => Vec::new(),
    }
}

/// The SBOM of one release binary.
pub fn document(
    graph: &Graph,
    bin: &ReleaseBinary,
    checksums: &BTreeMap<(String, String), String>,
    commit: Option<&str>,
) -> Result<Value> {
    let root = graph.member(bin.package)?;
    let ids = graph.closure(&root.id);
    let mut subject = component(root, checksums, "application");
    subject["name"] = json!(bin.bin);
    let mut properties = vec![
        json!({ "name": "signet:package", "value": bin.package }),
        json!({ "name": "signet:target", "value": graph.target }),
    ];
    if let Some(c) = commit {
        properties.push(json!({ "name": "signet:git-commit", "value": c }));
    }
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let natives = native_components(bin);
    for id in &ids {
        let Some(p) = graph.packages.get(id) else {
            bail!("cargo metadata names package {id} in the graph but does not describe it");
        };
        if id != &root.id {
            components.push(component(p, checksums, "library"));
        }
        let mut depends: BTreeSet<String> = graph
            .normal_deps
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|d| graph.packages.get(d).map(purl))
            .collect();
        if id == &root.id {
            depends.extend(
                natives
                    .iter()
                    .filter_map(|n| n["bom-ref"].as_str().map(str::to_owned)),
            );
        }
        dependencies.push(json!({ "ref": purl(p), "dependsOn": depends }));
    }
    for n in natives {
        dependencies.push(json!({ "ref": n["bom-ref"], "dependsOn": [] }));
        components.push(n);
    }
    components.sort_by(|a, b| a["bom-ref"].as_str().cmp(&b["bom-ref"].as_str()));
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "tools": { "components": [{
                "type": "application",
                "name": "xtask sbom",
                "description": "Signet's SBOM generator (cargo xtask sbom), from cargo metadata",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": subject,
            "properties": properties,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let digest = Sha256::digest(serde_json::to_vec(&doc)?);
    doc["serialNumber"] = json!(format!("urn:uuid:{}", uuid_v8(&digest)));
    Ok(doc)
}

/// An RFC 9562 version-8 UUID from the first 16 bytes of a digest.
fn uuid_v8(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    for (i, (dst, src)) in b.iter_mut().zip(digest).enumerate() {
        *dst = match i {
            6 => (src & 0x0f) | 0x80,
            8 => (src & 0x3f) | 0x80,
            _ => *src,
        };
    }
    let h = hex::encode(b);
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// Checks the shape of a CycloneDX 1.5 document as this generator promises
/// it: format and version, a UUID serial number, a subject, and for every
/// component a unique bom-ref, a name, a version, a licence and a purl; every
/// dependency reference resolves. Returns the first problem found.
pub fn check_shape(doc: &Value) -> Result<()> {
    if doc["bomFormat"] != "CycloneDX" || doc["specVersion"] != SPEC_VERSION {
        bail!("not a CycloneDX {SPEC_VERSION} document");
    }
    if doc["version"].as_u64() != Some(1) {
        bail!("`version` must be 1");
    }
    let serial = doc["serialNumber"].as_str().unwrap_or("");
    let uuid = serial.strip_prefix("urn:uuid:").unwrap_or("");
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    if groups != [8, 4, 4, 4, 12] || !uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        bail!("serialNumber {serial:?} is not a urn:uuid");
    }
    let subject = &doc["metadata"]["component"];
    let mut refs = BTreeSet::new();
    let components = doc["components"]
        .as_array()
        .context("no components array")?;
    for c in std::iter::once(subject).chain(components) {
        let r = c["bom-ref"]
            .as_str()
            .context("a component has no bom-ref")?;
        if !refs.insert(r.to_owned()) {
            bail!("bom-ref {r} is not unique");
        }
        for key in ["name", "version", "purl"] {
            if c[key].as_str().is_none_or(str::is_empty) {
                bail!("component {r} has no {key}");
            }
        }
        if !matches!(c["type"].as_str(), Some("application" | "library")) {
            bail!("component {r} has type {}", c["type"]);
        }
        let purl = c["purl"].as_str().unwrap_or("");
        if !(purl.starts_with("pkg:cargo/") || purl.starts_with("pkg:pypi/")) {
            bail!("component {r} has purl {purl:?}");
        }
        let lic = c["licenses"]
            .as_array()
            .context("a component has no licenses")?;
        let ok = !lic.is_empty()
            && lic.iter().all(|l| {
                l["expression"].as_str().is_some_and(|e| !e.is_empty())
                    || l["license"]["id"].as_str().is_some()
                    || l["license"]["name"].as_str().is_some()
            });
        if !ok {
            bail!("component {r} has no usable licence");
        }
        for h in c["hashes"].as_array().into_iter().flatten() {
            let content = h["content"].as_str().unwrap_or("");
            if h["alg"] != "SHA-256"
                || content.len() != 64
                || !content.chars().all(|c| c.is_ascii_hexdigit())
            {
                bail!("component {r} has a malformed hash {h}");
            }
        }
    }
    for d in doc["dependencies"]
        .as_array()
        .context("no dependencies array")?
    {
        let r = d["ref"].as_str().context("a dependency has no ref")?;
        if !refs.contains(r) {
            bail!("dependency ref {r} names no component");
        }
        for on in d["dependsOn"]
            .as_array()
            .context("dependsOn is not an array")?
        {
            let on = on.as_str().unwrap_or("");
            if !refs.contains(on) {
                bail!("{r} depends on {on}, which is no component");
            }
        }
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

    fn licences_of(doc: &Value) -> Vec<String> {
        doc["components"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["licenses"].as_array().cloned().unwrap_or_default())
            .filter_map(|l| l["expression"].as_str().map(str::to_owned))
            .collect()
    }

    fn names_of(doc: &Value) -> BTreeSet<String> {
        doc["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The SBOMs of this tree are well-formed, complete and deterministic, and
    /// they tell the two binaries apart: the GPL helper carries espeak-ng and
    /// no libtorch; `signet` carries libtorch and nothing under the GPL.
    #[test]
    fn sboms_of_the_release_binaries_have_the_promised_shape() -> Result<()> {
        let root = repo_root();
        let graph = Graph::load(&root)?;
        let sums = lock_checksums(&root.join("Cargo.lock"))?;
        let find = |b: &str| {
            RELEASE_BINARIES
                .iter()
                .find(|r| r.bin == b)
                .context("no such bin")
        };

        let signet = document(&graph, find("signet")?, &sums, Some("abc"))?;
        check_shape(&signet)?;
        assert_eq!(signet["metadata"]["component"]["name"], "signet");
        let names = names_of(&signet);
        for needed in ["tch", "signet-registry", "signet-text", "libtorch", "hound"] {
            assert!(names.contains(needed), "signet's SBOM lacks {needed}");
        }
        assert!(!names.contains("signet-espeak") && !names.contains("espeak-ng"));
        assert!(!names.contains("proptest"), "a dev-dependency is listed");
        assert!(
            licences_of(&signet).iter().all(|l| !l.contains("GPL")),
            "a GPL component in signet's SBOM"
        );
        let hashed = signet["components"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == "tch")
            .map(|c| c["hashes"][0]["content"].clone());
        assert!(matches!(hashed, Some(Value::String(s)) if s.len() == 64));

        let helper = document(&graph, find("signet-espeak")?, &sums, Some("abc"))?;
        check_shape(&helper)?;
        let names = names_of(&helper);
        assert!(names.contains("espeak-ng") && names.contains("libc"));
        assert!(!names.contains("tch") && !names.contains("libtorch"));
        assert_eq!(
            helper["metadata"]["component"]["licenses"][0]["expression"],
            "GPL-3.0-or-later"
        );

        let again = document(&graph, find("signet")?, &sums, Some("abc"))?;
        assert_eq!(signet, again, "the SBOM is not deterministic");
        assert_ne!(signet["serialNumber"], helper["serialNumber"]);
        Ok(())
    }

    #[test]
    fn shape_check_rejects_broken_documents() -> Result<()> {
        let good = json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "serialNumber": "urn:uuid:01234567-89ab-8def-8123-456789abcdef",
            "metadata": { "component": { "type": "application", "bom-ref": "pkg:cargo/a@1",
                "name": "a", "version": "1", "purl": "pkg:cargo/a@1",
                "licenses": [{ "expression": "MIT" }] } },
            "components": [{ "type": "library", "bom-ref": "pkg:cargo/b@2", "name": "b",
                "version": "2", "purl": "pkg:cargo/b@2", "licenses": [{ "expression": "MIT" }] }],
            "dependencies": [{ "ref": "pkg:cargo/a@1", "dependsOn": ["pkg:cargo/b@2"] }],
        });
        check_shape(&good)?;
        let mut no_licence = good.clone();
        no_licence["components"][0]["licenses"] = json!([]);
        let mut dangling = good.clone();
        dangling["dependencies"][0]["dependsOn"] = json!(["pkg:cargo/c@3"]);
        let mut old = good.clone();
        old["specVersion"] = json!("1.4");
        let mut no_purl = good.clone();
        no_purl["components"][0]["purl"] = json!("");
        let mut dup = good.clone();
        dup["components"][0]["bom-ref"] = json!("pkg:cargo/a@1");
        for (what, doc) in [
            ("no licence", no_licence),
            ("dangling dependency", dangling),
            ("old spec", old),
            ("no purl", no_purl),
            ("duplicate ref", dup),
        ] {
            assert!(check_shape(&doc).is_err(), "{what} was accepted");
        }
        Ok(())
    }

    #[test]
    fn uuid_v8_sets_version_and_variant() {
        let u = uuid_v8(&[0xff; 32]);
        assert_eq!(u, "ffffffff-ffff-8fff-bfff-ffffffffffff");
    }
}
