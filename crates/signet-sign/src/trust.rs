//! The trust store: which public keys may sign what, until when, and how many must agree.
//!
//! It is a TOML file (`trust.toml` in the Signet home):
//!
//! ```toml
//! revoked = ["<key id>"]          # refused whatever else is said about them
//!
//! [policy]                        # signatures needed per role (default 1 each)
//! bundle-signer = 1
//! index-root = 1
//!
//! [[key]]
//! id = "<hex SHA-256 of the raw public key>"
//! public_key = "ed25519:<base64>"
//! role = "bundle-signer"          # or "index-root", "release-signer"
//! name = "local-importer"         # optional label
//! expires = 2027-01-31T00:00:00Z  # optional
//! ```
//!
//! Parsing is strict (unknown keys refused, ids must match their public keys, one entry per key
//! and role, thresholds at least 1). A key may hold several roles through several entries.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SignError;
use crate::keys::PublicKey;
use crate::types::{KeyId, Role};

/// Largest accepted trust store file, in bytes.
pub const MAX_TRUST_STORE_LEN: u64 = 1024 * 1024;

const TRUST_STORE_CAP: signet_io::Cap = signet_io::Cap::new(
    MAX_TRUST_STORE_LEN,
    "a fixed limit of the trust store format",
);

/// One trusted key in one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The key.
    pub public_key: PublicKey,
    /// What it may sign.
    pub role: Role,
    /// A label for people (`local-importer`).
    pub name: Option<String>,
    /// Unix seconds after which its signatures no longer count.
    pub expires: Option<i64>,
}

impl TrustedKey {
    /// A key trusted for `role`, without label or expiry.
    pub fn new(public_key: PublicKey, role: Role) -> Self {
        Self {
            public_key,
            role,
            name: None,
            expires: None,
        }
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.public_key.key_id()
    }

    /// The expiry as RFC 3339 text, if any.
    pub fn expires_text(&self) -> Option<String> {
        self.expires.map(crate::time::format_rfc3339)
    }
}

/// Parses an RFC 3339 timestamp with an offset (`2027-01-31T00:00:00Z`) into Unix seconds, the
/// form of [`TrustedKey::expires`].
pub fn parse_timestamp(text: &str) -> Result<i64, SignError> {
    crate::time::parse_rfc3339(text).map_err(|reason| SignError::TrustStoreInvalid { reason })
}

/// Signatures required per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Policy {
    #[serde(default = "one")]
    bundle_signer: u32,
    #[serde(default = "one")]
    index_root: u32,
    #[serde(default = "one")]
    release_signer: u32,
}

fn one() -> u32 {
    1
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            bundle_signer: 1,
            index_root: 1,
            release_signer: 1,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    revoked: Vec<String>,
    #[serde(default)]
    policy: Policy,
    #[serde(default, rename = "key")]
    keys: Vec<KeyEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    public_key: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<toml::value::Datetime>,
}

/// Trusted keys, revoked key ids and per-role thresholds. See the module docs for the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    keys: Vec<TrustedKey>,
    revoked: BTreeSet<KeyId>,
    policy: Policy,
}

/// Largest threshold accepted (an envelope carries at most [`crate::envelope::MAX_SIGNATURES`]).
const MAX_THRESHOLD: u32 = crate::envelope::MAX_SIGNATURES as u32;

impl TrustStore {
    /// An empty store (trusts nothing; every threshold 1).
    pub fn new() -> Self {
        Self::default()
    }

    /// A store trusting exactly `key` for `role`.
    pub fn with_key(key: PublicKey, role: Role) -> Self {
        let mut store = Self::new();
        store.keys.push(TrustedKey::new(key, role));
        store
    }

    /// Reads and strictly parses the file at `path`. A file or folder that someone else could
    /// change is refused first ([`signet_io::check_private`]: writable by group or others, or
    /// owned by another user), with the path and the `chmod` that fixes it.
    pub fn load(path: &Path) -> Result<Self, SignError> {
        signet_io::check_private(path, "trust store")?;
        let bytes = signet_io::read_capped(path, TRUST_STORE_CAP)?;
        Self::parse(&bytes)
    }

    /// Like [`load`](Self::load), but a missing file is an empty store.
    pub fn load_or_empty(path: &Path) -> Result<Self, SignError> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new()),
            _ => Self::load(path),
        }
    }

    /// Parses trust store TOML.
    pub fn parse(bytes: &[u8]) -> Result<Self, SignError> {
        let invalid = |reason: String| SignError::TrustStoreInvalid { reason };
        if bytes.len() as u64 > MAX_TRUST_STORE_LEN {
            return Err(SignError::TooLarge {
                what: "trust store".to_owned(),
                limit: MAX_TRUST_STORE_LEN,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| invalid(format!("not UTF-8: {e}")))?;
        let file: TrustFile =
            toml::from_str(text).map_err(|e| invalid(crate::envelope::escaped(&e)))?;
        let mut store = Self {
            keys: Vec::new(),
            revoked: BTreeSet::new(),
            policy: file.policy,
        };
        for role in Role::ALL {
            store.set_threshold(role, store.threshold(role))?;
        }
        for id in &file.revoked {
            store.revoked.insert(KeyId::parse(id)?);
        }
        for entry in file.keys {
            let public_key = PublicKey::from_text(&entry.public_key)?;
            let id = public_key.key_id();
            if id.as_str() != entry.id {
                return Err(invalid(format!(
                    "key {:?}: the id does not match the public key (its id is {id})",
                    entry.id
                )));
            }
            let expires = entry
                .expires
                .as_ref()
                .map(crate::time::datetime_to_unix)
                .transpose()
                .map_err(|e| invalid(format!("key {id}: expires: {e}")))?;
            store.add(TrustedKey {
                public_key,
                role: entry.role,
                name: entry.name,
                expires,
            })?;
        }
        Ok(store)
    }

    /// The store as TOML, the form [`parse`](Self::parse) reads.
    pub fn to_toml(&self) -> Result<String, SignError> {
        let mut keys = Vec::new();
        for k in &self.keys {
            keys.push(KeyEntry {
                id: k.key_id().to_string(),
                public_key: k.public_key.to_text(),
                role: k.role,
                name: k.name.clone(),
                expires: k
                    .expires
                    .map(crate::time::unix_to_datetime)
                    .transpose()
                    .map_err(|reason| SignError::Serialize { reason })?,
            });
        }
        let file = TrustFile {
            revoked: self.revoked.iter().map(ToString::to_string).collect(),
            policy: self.policy,
            keys,
        };
        let body = toml::to_string(&file).map_err(|e| SignError::Serialize {
            reason: e.to_string(),
        })?;
        Ok(format!(
            "# Signet trust store: keys trusted to sign bundles and indexes.\n\
             # Edit with `signet trust add|remove|revoke|unrevoke|list`.\n{body}"
        ))
    }

    /// Writes the store to `path` atomically (temporary file, fsync, rename), mode 0600 in a
    /// folder created 0700.
    pub fn save(&self, path: &Path) -> Result<(), SignError> {
        Ok(signet_io::write_atomic_private(
            path,
            self.to_toml()?.as_bytes(),
        )?)
    }

    /// Adds a key for a role; the same key twice in the same role is refused.
    pub fn add(&mut self, key: TrustedKey) -> Result<(), SignError> {
        if self
            .keys
            .iter()
            .any(|k| k.public_key == key.public_key && k.role == key.role)
        {
            return Err(SignError::TrustStoreInvalid {
                reason: format!("key {} is already trusted as {}", key.key_id(), key.role),
            });
        }
        if let Some(name) = &key.name {
            if name.len() > 128 || name.chars().any(char::is_control) {
                return Err(SignError::TrustStoreInvalid {
                    reason: "a key name is at most 128 printable characters".to_owned(),
                });
            }
        }
        self.keys.push(key);
        Ok(())
    }

    /// Removes every entry of the key `id`; returns how many were removed.
    pub fn remove(&mut self, id: &KeyId) -> usize {
        let before = self.keys.len();
        self.keys.retain(|k| &k.key_id() != id);
        before - self.keys.len()
    }

    /// Revokes `id`: its signatures never count again, whatever the key entries say.
    pub fn revoke(&mut self, id: KeyId) {
        self.revoked.insert(id);
    }

    /// Lifts the revocation of `id` (a revocation made by mistake); returns whether it was
    /// revoked. The key's entries, if any, count again.
    pub fn unrevoke(&mut self, id: &KeyId) -> bool {
        self.revoked.remove(id)
    }

    /// Whether `id` is revoked.
    pub fn is_revoked(&self, id: &KeyId) -> bool {
        self.revoked.contains(id)
    }

    /// Revoked key ids.
    pub fn revoked(&self) -> impl Iterator<Item = &KeyId> {
        self.revoked.iter()
    }

    /// The trusted keys, in file order.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Entries for key `id` (one per role).
    pub fn entries(&self, id: &KeyId) -> impl Iterator<Item = &TrustedKey> {
        let id = id.clone();
        self.keys.iter().filter(move |k| k.key_id() == id)
    }

    /// Distinct valid signatures required for `role`.
    pub fn threshold(&self, role: Role) -> u32 {
        match role {
            Role::BundleSigner => self.policy.bundle_signer,
            Role::IndexRoot => self.policy.index_root,
            Role::ReleaseSigner => self.policy.release_signer,
        }
    }

    /// Sets the threshold for `role`; 0 and values above the signature cap are refused.
    pub fn set_threshold(&mut self, role: Role, threshold: u32) -> Result<(), SignError> {
        if threshold == 0 || threshold > MAX_THRESHOLD {
            return Err(SignError::TrustStoreInvalid {
                reason: format!(
                    "the {role} threshold must be between 1 and {MAX_THRESHOLD}, not {threshold}"
                ),
            });
        }
        match role {
            Role::BundleSigner => self.policy.bundle_signer = threshold,
            Role::IndexRoot => self.policy.index_root = threshold,
            Role::ReleaseSigner => self.policy.release_signer = threshold,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn round_trip_and_strictness() {
        let a = SecretKey::from_seed(&[1; 32]).public();
        let b = SecretKey::from_seed(&[2; 32]).public();
        let mut store = TrustStore::with_key(a, Role::BundleSigner);
        let mut tk = TrustedKey::new(b, Role::IndexRoot);
        tk.name = Some("root one".to_owned());
        tk.expires = Some(1_900_000_000);
        store.add(tk).unwrap();
        store.revoke(KeyId::of(&b));
        assert!(store.unrevoke(&KeyId::of(&b)));
        assert!(!store.unrevoke(&KeyId::of(&b)));
        assert!(!store.is_revoked(&KeyId::of(&b)));
        store.revoke(KeyId::of(&b));
        store.set_threshold(Role::IndexRoot, 2).unwrap();
        let text = store.to_toml().unwrap();
        let back = TrustStore::parse(text.as_bytes()).unwrap();
        assert_eq!(back, store);
        assert_eq!(back.threshold(Role::IndexRoot), 2);
        assert_eq!(back.threshold(Role::BundleSigner), 1);

        // Unknown keys, mismatched ids, duplicate entries, zero thresholds are refused.
        let bad = [
            text.replace("[policy]", "surprise = 1\n[policy]"),
            text.replacen(&KeyId::of(&a).to_string()[..8], "00000000", 1),
            format!(
                "{text}\n{}",
                text.split("[[key]]")
                    .nth(1)
                    .map(|k| format!("[[key]]{k}"))
                    .unwrap()
            ),
            text.replace("index-root = 2", "index-root = 0"),
            text.replace("role = \"bundle-signer\"", "role = \"god\""),
        ];
        for (i, t) in bad.iter().enumerate() {
            assert!(
                matches!(
                    TrustStore::parse(t.as_bytes()),
                    Err(SignError::TrustStoreInvalid { .. } | SignError::BadKey { .. })
                ),
                "case {i} accepted:\n{t}"
            );
        }
    }

    #[test]
    fn missing_file_is_empty_store() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("trust.toml");
        assert_eq!(TrustStore::load_or_empty(&path).unwrap(), TrustStore::new());
        assert!(TrustStore::load(&path).is_err());
        let store = TrustStore::with_key(SecretKey::from_seed(&[3; 32]).public(), Role::IndexRoot);
        store.save(&path).unwrap();
        assert_eq!(TrustStore::load(&path).unwrap(), store);
    }

    #[cfg(unix)]
    #[test]
    fn group_writable_trust_store_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("trust.toml");
        TrustStore::new().save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        let err = TrustStore::load_or_empty(&path).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, SignError::File(signet_io::FileError::NotPrivate(_))),
            "{err:?}"
        );
        assert!(
            text.contains("trust store") && text.contains("its group"),
            "{text}"
        );
        assert!(
            text.contains(&format!("chmod go-w {}", path.display())),
            "{text}"
        );
    }
}
