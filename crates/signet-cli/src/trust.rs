//! `signet trust ...`: edit and show the trust store (`<home>/trust.toml`).

use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use clap::Subcommand;
use signet::Store;
use signet_sign::keys::public_key_from_arg;
use signet_sign::time::unix_seconds;
use signet_sign::trust::parse_timestamp;
use signet_sign::{KeyId, Role, TrustedKey};

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a public key for a role.
    Add {
        /// The public key (`ed25519:<base64>`), or a file holding it.
        key: String,
        /// What the key may sign: bundle-signer, index-root or release-signer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A label shown by `signet trust list`.
        #[arg(long)]
        name: Option<String>,
        /// When the trust ends (RFC 3339, e.g. 2027-01-31T00:00:00Z); a time
        /// in the past is refused.
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
    },
    /// Remove every entry of a key id (its signatures stop counting).
    Remove {
        /// The key id (64 hex digits, see `signet trust list`).
        id: String,
    },
    /// Revoke a key id: its signatures never count again, whatever else trusts it.
    Revoke {
        /// The key id (64 hex digits).
        id: String,
    },
    /// Lift a revocation made by mistake: the key's entries count again.
    Unrevoke {
        /// The key id (64 hex digits, see `signet trust list`).
        id: String,
    },
    /// Set how many distinct keys of a role must sign.
    Threshold {
        /// The role.
        #[arg(value_parser = parse_role)]
        role: Role,
        /// Signatures required (at least 1).
        count: u32,
    },
    /// List trusted keys, thresholds and revocations.
    List,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!("unknown role {s:?} (expected bundle-signer, index-root or release-signer)")
    })
}

pub fn run(home: &Path, cmd: TrustCommand) -> Result<()> {
    let store = Store::new(home);
    let path = store.trust_path();
    let mut trust = store.trust_store()?;
    match cmd {
        TrustCommand::Add {
            key,
            role,
            name,
            expires,
        } => {
            let public = public_key_from_arg(&key)?;
            let mut entry = TrustedKey::new(public, role);
            entry.name = name;
            entry.expires = expires.as_deref().map(parse_timestamp).transpose()?;
            if let (Some(at), Some(text)) = (entry.expires, &expires) {
                if at <= unix_seconds(SystemTime::now()) {
                    anyhow::bail!(
                        "--expires {text} is in the past: the key would never count; \
                         give a future time, or leave --expires out for no expiry"
                    );
                }
            }
            let id = entry.key_id();
            if trust.is_revoked(&id) {
                anyhow::bail!(
                    "key {id} is revoked; `signet trust unrevoke {id}` lifts the revocation"
                );
            }
            trust.add(entry)?;
            trust.save(&path)?;
            eprintln!("trusted {id} as {role} in {}", path.display());
        }
        TrustCommand::Remove { id } => {
            let id = KeyId::parse(&id)?;
            if trust.remove(&id) == 0 {
                anyhow::bail!("key {id} is not in {}", path.display());
            }
            trust.save(&path)?;
            eprintln!("removed {id} from {}", path.display());
        }
        TrustCommand::Revoke { id } => {
            let id = KeyId::parse(&id)?;
            trust.revoke(id.clone());
            trust.save(&path)?;
            eprintln!("revoked {id} in {}", path.display());
        }
        TrustCommand::Unrevoke { id } => {
            let id = KeyId::parse(&id)?;
            if !trust.unrevoke(&id) {
                anyhow::bail!("key {id} is not revoked in {}", path.display());
            }
            trust.save(&path)?;
            eprintln!("lifted the revocation of {id} in {}", path.display());
        }
        TrustCommand::Threshold { role, count } => {
            trust.set_threshold(role, count)?;
            trust.save(&path)?;
            eprintln!("{role} threshold is now {count}");
        }
        TrustCommand::List => {
            for role in Role::ALL {
                outln!("threshold {role}: {}", trust.threshold(role))?;
            }
            outln!(
                "{:<64} {:<15} {:<21} {:<8} NAME",
                "KEY ID",
                "ROLE",
                "EXPIRES",
                "STATUS"
            )?;
            for k in trust.keys() {
                let id = k.key_id();
                let status = if trust.is_revoked(&id) {
                    "revoked"
                } else {
                    "trusted"
                };
                outln!(
                    "{id} {:<15} {:<21} {status:<8} {}",
                    k.role.as_str(),
                    k.expires_text().unwrap_or_else(|| "never".to_owned()),
                    k.name.as_deref().unwrap_or("-")
                )?;
            }
            for id in trust.revoked() {
                if trust.entries(id).next().is_none() {
                    outln!("{id} {:<15} {:<21} revoked  -", "-", "-")?;
                }
            }
        }
    }
    Ok(())
}
