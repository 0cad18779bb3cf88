//! `cargo xtask release` and `cargo xtask verify-release`: signed releases.
//!
//! `release [--key FILE] [--out DIR] [--profile NAME] [--dry-run]` builds the
//! release binaries (`signet`, `signet-espeak`) with `--locked`, copies them
//! into a fresh folder (default `target/dist/signet-<version>-<target>/`),
//! writes their CycloneDX SBOMs there, then `SHA256SUMS` over all of them and
//! `SHA256SUMS.dsse.json`, an ed25519 signature envelope in the registry's
//! format ([`signet_registry::release`]). Last, it verifies the folder with the
//! project's own verifier, as users will.
//!
//! **The key** is a PKCS#8 PEM file as `signet_registry::SecretKey` writes it
//! (mode 0600): `--key FILE`, else `$SIGNET_RELEASE_KEY_FILE`, else the PEM text
//! itself in `$SIGNET_RELEASE_KEY` (what CI secret stores provide), written to
//! a private temporary file only for as long as it takes to load it. A key
//! inside the repository is refused. `--dry-run` without a key signs with a
//! throw-away key, so that CI can rehearse the whole release.
//!
//! `verify-release DIR --pubkey K` runs the same verification for a key given
//! as `ed25519:<base64>` or as a file holding it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use signet_registry::release::{sign_release, verify_release, VerifiedRelease};
use signet_sign::keys::public_key_from_arg;
use signet_sign::{Role, SecretKey, TrustStore};

use crate::flags::{Release, VerifyRelease};
use crate::metadata::{self, RELEASE_BINARIES};
use crate::tool::cargo;
use crate::{sbom, util};

/// Environment variable naming the key file.
pub const KEY_FILE_ENV: &str = "SIGNET_RELEASE_KEY_FILE";
/// Environment variable holding the key's PEM text.
pub const KEY_PEM_ENV: &str = "SIGNET_RELEASE_KEY";

/// `cargo xtask release ...`.
pub fn release(root: &Path, args: Release) -> Result<()> {
    let key = load_key(root, args.key.as_deref(), args.dry_run)?;
    let profile = args.profile.as_str();
    let target = metadata::host_triple()?;
    let version = env!("CARGO_PKG_VERSION");
    let out = match args.out {
        Some(o) => o,
        None => root
            .join("target/dist")
            .join(format!("signet-{version}-{target}")),
    };
    prepare_out(root, &out)?;

    let mut build = Command::new(cargo());
    build
        .current_dir(root)
        .args(["build", "--locked", "--profile", profile]);
    for bin in RELEASE_BINARIES {
        build.args(["-p", bin.package, "--bin", bin.bin]);
    }
    util::run(&mut build)?;
    let bin_dir = root.join("target").join(match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    });
    let artefacts: Vec<(String, PathBuf)> = RELEASE_BINARIES
        .iter()
        .map(|b| (b.bin.to_owned(), bin_dir.join(b.bin)))
        .collect();
    let verified = assemble(root, &out, &artefacts, &key)?;
    report(&out, &verified, &key);
    if args.dry_run {
        eprintln!("xtask: dry run: signed with a throw-away key unless --key was given; nothing published");
    }
    Ok(())
}

/// Copies `artefacts` into `out`, writes the SBOMs, signs, and verifies.
fn assemble(
    root: &Path,
    out: &Path,
    artefacts: &[(String, PathBuf)],
    key: &SecretKey,
) -> Result<VerifiedRelease> {
    let mut names = Vec::new();
    for (name, from) in artefacts {
        if !from.is_file() {
            bail!("{} was not built", from.display());
        }
        fs::copy(from, out.join(name))
            .with_context(|| format!("cannot copy {} into {}", from.display(), out.display()))?;
        names.push(name.clone());
    }
    for path in sbom::write(root, out)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("an SBOM has a non-UTF-8 name")?;
        names.push(name.to_owned());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    sign_release(out, &refs, key).context("cannot sign the release")?;
    let trust = TrustStore::with_key(key.public(), Role::ReleaseSigner);
    verify_release(out, &trust).context("the release just signed does not verify")
}

fn report(out: &Path, verified: &VerifiedRelease, key: &SecretKey) {
    eprintln!("xtask: release in {}:", out.display());
    for (name, digest) in verified.files() {
        eprintln!("  {digest}  {name}");
    }
    eprintln!(
        "xtask: signed by key {} and verified; users check it with\n  signet verify-release {} --pubkey {}",
        key.key_id(),
        out.display(),
        key.public().to_text()
    );
}

/// Creates `out` empty. A folder under `target/dist` is replaced; any other
/// existing, non-empty folder is refused.
fn prepare_out(root: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        let ours = out.starts_with(root.join("target/dist"));
        let empty = fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if ours {
            fs::remove_dir_all(out).with_context(|| format!("cannot remove {}", out.display()))?;
        } else if !empty {
            bail!(
                "{} exists and is not empty; give --out a new folder",
                out.display()
            );
        }
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

/// Loads the signing key (see the module docs).
fn load_key(root: &Path, flag: Option<&Path>, dry_run: bool) -> Result<SecretKey> {
    let from_env_file = std::env::var_os(KEY_FILE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(path) = flag.map(Path::to_path_buf).or(from_env_file) {
        refuse_key_in_repo(root, &path)?;
        return SecretKey::load(&path)
            .with_context(|| format!("cannot load the release key {}", path.display()));
    }
    if let Some(pem) = std::env::var_os(KEY_PEM_ENV).filter(|v| !v.is_empty()) {
        return key_from_pem(pem.to_string_lossy().as_bytes());
    }
    if dry_run {
        eprintln!("xtask: dry run without a key: signing with a throw-away key");
        return SecretKey::generate().context("cannot generate a throw-away key");
    }
    bail!(
        "no release key: pass --key FILE (a file outside the repository), or set {KEY_FILE_ENV} \
         or {KEY_PEM_ENV}; --dry-run signs with a throw-away key"
    )
}

/// Refuses a key file inside the repository (where it could be committed).
fn refuse_key_in_repo(root: &Path, key: &Path) -> Result<()> {
    let key = fs::canonicalize(key)
        .with_context(|| format!("cannot find the release key {}", key.display()))?;
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if key.starts_with(&root) {
        bail!(
            "the release key {} is inside the repository; keep signing keys outside it",
            key.display()
        );
    }
    Ok(())
}

/// Loads a key from PEM text through a private temporary file (mode 0600 in
/// a 0700 folder), removed at once.
fn key_from_pem(pem: &[u8]) -> Result<SecretKey> {
    let dir = std::env::temp_dir().join(format!("signet-release-key-{}", std::process::id()));
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("release.pem");
    let written = (|| -> std::io::Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        std::io::Write::write_all(&mut opts.open(&path)?, pem)
    })();
    let key = written
        .context("cannot write the key to a private temporary file")
        .and_then(|()| {
            SecretKey::load(&path).context(format!("{KEY_PEM_ENV} is not a usable key"))
        });
    let _ = fs::remove_dir_all(&dir);
    key
}

/// `cargo xtask verify-release DIR --pubkey K`.
pub fn verify(args: &VerifyRelease) -> Result<()> {
    let dir = &args.dir;
    let key = &args.pubkey;
    let public = public_key_from_arg(key).context("cannot read the public key")?;
    let trust = TrustStore::with_key(public, Role::ReleaseSigner);
    let verified = verify_release(dir, &trust)
        .with_context(|| format!("the release in {} does NOT verify", dir.display()))?;
    for (name, digest) in verified.files() {
        eprintln!("  {digest}  {name}");
    }
    eprintln!(
        "xtask: release verified: {} artefacts, signed by {}",
        verified.files().len(),
        public.key_id()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    }

    /// The release flow over small synthetic binaries (no release build in
    /// tests): copy, SBOMs, sign, verify; then `verify-release` accepts it with
    /// the right key and refuses it with another or after a change.
    #[test]
    fn assembles_signs_and_verifies_a_release_of_synthetic_binaries() -> Result<()> {
        let root = repo_root();
        let tmp = tempfile::tempdir()?;
        let build = tmp.path().join("build");
        fs::create_dir_all(&build)?;
        let mut artefacts = Vec::new();
        for bin in RELEASE_BINARIES {
            let p = build.join(bin.bin);
            fs::write(&p, format!("pretend {} binary", bin.bin))?;
            artefacts.push((bin.bin.to_owned(), p));
        }
        let out = tmp.path().join("dist");
        prepare_out(&root, &out)?;
        let key = SecretKey::from_seed(&[3; 32]);
        let verified = assemble(&root, &out, &artefacts, &key)?;
        let names: Vec<&str> = verified.files().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "signet",
                "signet-espeak",
                "signet.cdx.json",
                "signet-espeak.cdx.json"
            ]
        );
        let sums = fs::read_to_string(out.join("SHA256SUMS"))?;
        assert_eq!(sums.lines().count(), 4, "{sums}");

        let verify_with = |pubkey: String| {
            verify(&VerifyRelease {
                dir: out.clone(),
                pubkey,
            })
        };
        verify_with(key.public().to_text())?;
        let other = SecretKey::from_seed(&[4; 32]).public().to_text();
        assert!(verify_with(other).is_err());
        fs::write(out.join("signet-espeak"), "pretend signet-espeak binarY")?;
        let err = verify_with(key.public().to_text())
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            err.contains("signet-espeak") && err.contains("SHA-256"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn keys_inside_the_repository_are_refused() -> Result<()> {
        let root = repo_root();
        let err = load_key(&root, Some(&root.join("Cargo.toml")), false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("inside the repository"), "{err}");
        Ok(())
    }

    #[test]
    fn a_key_file_and_pem_text_load_the_same_key() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("release.pem");
        let key = SecretKey::from_seed(&[5; 32]);
        key.write_new(&path)?;
        let loaded = load_key(&repo_root(), Some(&path), false)?;
        assert_eq!(loaded.key_id(), key.key_id());
        let from_pem = key_from_pem(&fs::read(&path)?)?;
        assert_eq!(from_pem.key_id(), key.key_id());
        assert!(key_from_pem(b"not a key").is_err());
        Ok(())
    }
}
