//! `signet verify-release DIR --pubkey KEY`: check a downloaded release.
//!
//! Runs the project's one release verifier
//! ([`signet_registry::release::verify_release`]): the signature envelope over
//! `SHA256SUMS` must be valid for the given release key, `SHA256SUMS` must be
//! the signed list, the folder must hold exactly the listed files, and every
//! file's SHA-256 must match. Any failure is an error naming the file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use signet_registry::release::verify_release;
use signet_sign::keys::public_key_from_arg;
use signet_sign::{Role, TrustStore};

/// Arguments of `signet verify-release`.
#[derive(Debug, Args)]
pub struct VerifyReleaseArgs {
    /// The release folder (binaries, SBOMs, SHA256SUMS, SHA256SUMS.dsse.json).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The release signing key: `ed25519:<base64>`, or a file holding it.
    #[arg(long, value_name = "KEY")]
    pubkey: String,
}

/// Verifies the release and lists what it holds.
pub fn run(args: VerifyReleaseArgs) -> Result<()> {
    let public = public_key_from_arg(&args.pubkey).context("cannot read the release key")?;
    let trust = TrustStore::with_key(public, Role::ReleaseSigner);
    let verified = verify_release(&args.dir, &trust)
        .with_context(|| format!("the release in {} does NOT verify", args.dir.display()))?;
    for (name, digest) in verified.files() {
        outln!("{digest}  {name}")?;
    }
    eprintln!(
        "signet: release verified: {} files, signed by key {}",
        verified.files().len(),
        public.key_id()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_registry::release::sign_release;
    use signet_registry::SecretKey;

    #[test]
    fn verify_release_accepts_a_signed_folder_and_refuses_a_changed_one() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("signet"), b"pretend binary")?;
        let key = SecretKey::from_seed(&[9; 32]);
        sign_release(dir.path(), &["signet"], &key)?;
        let args = |pubkey: String| VerifyReleaseArgs {
            dir: dir.path().to_path_buf(),
            pubkey,
        };
        run(args(key.public().to_text()))?;
        let stranger = SecretKey::from_seed(&[10; 32]).public().to_text();
        assert!(run(args(stranger)).is_err());
        std::fs::write(dir.path().join("signet"), b"pretend binarY")?;
        let err = run(args(key.public().to_text()))
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            err.contains("does NOT verify") && err.contains("\"signet\""),
            "{err}"
        );
        Ok(())
    }
}
