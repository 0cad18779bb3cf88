//! `signet keys ...`: make and show signing keys. Private keys are written once, mode 0600,
//! and never printed; only key ids and public keys are shown.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use signet::store::IMPORTER_KEY_NAME;
use signet::Store;
use signet_sign::{Role, SecretKey, TrustedKey};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate an ed25519 key pair; prints the key id and the public key.
    Generate {
        /// Key name; the private key goes to <home>/keys/NAME.key.
        #[arg(long, default_value = "signing")]
        name: String,
        /// Write the private key here instead (must not exist).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// List the private keys in <home>/keys with their ids.
    List,
    /// Print a key's public key (`ed25519:<base64>`), the form `signet trust add` reads.
    ExportPublic {
        /// Key name in <home>/keys.
        #[arg(long, default_value = "signing", conflicts_with = "key")]
        name: String,
        /// Private key file (instead of a name).
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Create the local importer key if it is missing and trust it for bundles.
    Importer,
}

pub fn run(home: &Path, cmd: KeysCommand) -> Result<()> {
    let store = Store::new(home);
    match cmd {
        KeysCommand::Generate { name, out } => {
            let path = match out {
                Some(p) => p,
                None => store.key_path(&name)?,
            };
            let key = SecretKey::generate()?;
            key.write_new(&path)
                .with_context(|| format!("cannot write the private key to {}", path.display()))?;
            eprintln!("wrote private key {} (mode 0600)", path.display());
            outln!("key id:     {}", key.key_id())?;
            outln!("public key: {}", key.public().to_text())?;
            Ok(())
        }
        KeysCommand::List => list(&store),
        KeysCommand::ExportPublic { name, key } => {
            let path = match key {
                Some(p) => p,
                None => store.key_path(&name)?,
            };
            let key = SecretKey::load(&path)?;
            outln!("{}", key.public().to_text())?;
            Ok(())
        }
        KeysCommand::Importer => {
            let (key, created) = importer_key(&store)?;
            if !created {
                eprintln!(
                    "local importer key {} is present and trusted for bundles",
                    key.key_id().short()
                );
            }
            Ok(())
        }
    }
}

fn list(store: &Store) -> Result<()> {
    let dir = store.keys_dir();
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "key"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    paths.sort();
    if paths.is_empty() {
        eprintln!(
            "no keys in {}; `signet keys generate` makes one",
            dir.display()
        );
        return Ok(());
    }
    outln!("{:<24} {:<64} PUBLIC KEY", "NAME", "KEY ID")?;
    for p in paths {
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p == store.watermark_key_path() {
            match signet::watermark::read_key_file(&p) {
                Ok(k) => outln!(
                    "{name:<24} {:<64} (watermark key: secret, no public part)",
                    k.id()
                )?,
                Err(e) => outln!("{name:<24} unreadable: {e}")?,
            }
            continue;
        }
        match SecretKey::load(&p) {
            Ok(k) => outln!("{name:<24} {} {}", k.key_id(), k.public().to_text())?,
            Err(e) => outln!("{name:<24} unreadable: {e}")?,
        }
    }
    Ok(())
}

/// Loads the local importer key, or creates it and trusts it for bundles (saying so in one line).
/// Returns the key and whether it was created now.
pub fn importer_key(store: &Store) -> Result<(SecretKey, bool)> {
    let path = store.importer_key_path();
    if path.exists() {
        let key = SecretKey::load(&path)?;
        ensure_trusted(store, &key)?;
        return Ok((key, false));
    }
    let key = SecretKey::generate()?;
    key.write_new(&path)
        .with_context(|| format!("cannot write the importer key to {}", path.display()))?;
    ensure_trusted(store, &key)?;
    eprintln!(
        "created the local importer key {} ({}) and trusted it for bundles in {}",
        key.key_id().short(),
        path.display(),
        store.trust_path().display()
    );
    Ok((key, true))
}

/// Adds the importer key to the trust store as a bundle signer unless it is there already. A
/// revoked importer key stays revoked: trusting it again is an explicit `signet trust` step.
fn ensure_trusted(store: &Store, key: &SecretKey) -> Result<()> {
    let mut trust = store.trust_store()?;
    let id = key.key_id();
    if trust.is_revoked(&id) {
        anyhow::bail!(
            "the local importer key {id} is revoked in {}; generate a new one (remove {}) \
             or remove the revocation",
            store.trust_path().display(),
            store.importer_key_path().display()
        );
    }
    if trust.entries(&id).any(|k| k.role == Role::BundleSigner) {
        return Ok(());
    }
    let mut entry = TrustedKey::new(key.public(), Role::BundleSigner);
    entry.name = Some(IMPORTER_KEY_NAME.to_owned());
    trust.add(entry)?;
    trust.save(&store.trust_path())?;
    Ok(())
}
