//! The signed remote index: which bundles a server offers, TUF-style.
//!
//! An index is a DSSE [`Envelope`] of type [`INDEX_PAYLOAD_TYPE`] whose payload is JSON:
//!
//! ```json
//! { "format": "signet-index/1", "version": 7, "expires": "2026-12-26T00:00:00Z",
//!   "bundles": [ { "name": "en_US-joe-medium", "version": 1, "url": "en_US-joe-medium/",
//!                  "manifest_sha256": "<hex>", "size": 63201234,
//!                  "files": [ { "name": "manifest.toml", "size": 9000, "sha256": "<hex>" } ] } ] }
//! ```
//!
//! It is signed by `index-root` keys (threshold from the trust store). Each bundle lists every
//! file of its folder (manifest, signature envelope, weights) with size and SHA-256, so a client
//! fetches the files one by one, each capped at its declared size, into a temporary folder, and
//! then verifies that folder as a bundle like any other. A client keeps the last index version
//! it accepted ([`IndexState`]) and refuses an older one (rollback), a different index with the
//! same version, and an expired one (freeze). [`IndexStates`] keeps that state per index-root
//! key rather than per URL, raised monotonically under a lock. A bundle is taken only under the name the index
//! lists, and its signed manifest must carry that name and version (mix-and-match).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use signet_io::Cap;
use signet_sign::time::{format_rfc3339, parse_rfc3339, unix_seconds};
use signet_sign::{Envelope, KeyId, Role, SecretKey, TrustStore};

use crate::bundle::{verify_bundle_dir, VerifiedBundle, MAX_FILE_LEN};
use crate::error::RegistryError;
use crate::manifest::{MANIFEST_FILE, SIGNATURE_FILE};
use crate::name::{check_plain_name, VoiceName};

/// Payload type of a signed index.
pub const INDEX_PAYLOAD_TYPE: &str = "application/vnd.signet.index+json";

/// Format tag of the index payload.
pub const INDEX_FORMAT: &str = "signet-index/1";

/// Largest accepted index envelope, in bytes.
pub const MAX_INDEX_LEN: u64 = 8 * 1024 * 1024;

/// Most bundles one index may list.
pub const MAX_INDEX_BUNDLES: usize = 10_000;

/// Most files one bundle entry may list.
pub const MAX_BUNDLE_FILES: usize = 64;

/// The index payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Must be [`INDEX_FORMAT`].
    pub format: String,
    /// Increases with every publication; clients refuse a lower one.
    pub version: u64,
    /// RFC 3339 time after which clients refuse the index.
    pub expires: String,
    /// The bundles offered.
    pub bundles: Vec<IndexEntry>,
}

/// One bundle in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// Voice name (checked when parsed); the bundle's signed manifest must carry the same.
    pub name: VoiceName,
    /// Bundle version; the bundle's signed manifest must carry the same.
    pub version: u64,
    /// Folder of the bundle's files, relative to the index URL, ending in `/`.
    pub url: String,
    /// SHA-256 of the bundle's `manifest.toml`.
    pub manifest_sha256: String,
    /// Total size of the files, in bytes.
    pub size: u64,
    /// Every file of the bundle folder.
    pub files: Vec<IndexFile>,
}

/// One file of a bundle in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexFile {
    /// Plain file name.
    pub name: String,
    /// Size in bytes; downloads stop after it.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

fn invalid(reason: impl Into<String>) -> RegistryError {
    RegistryError::IndexInvalid {
        reason: reason.into(),
    }
}

/// A parser's message with control characters escaped (serde quotes unknown field names).
fn escaped(e: &impl std::fmt::Display) -> String {
    signet_io::escape_controls(&e.to_string()).into_owned()
}

fn is_hex_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Index {
    /// Strictly parses and checks an index payload (not its signature; see [`open_index`]).
    pub fn parse(payload: &[u8]) -> Result<Self, RegistryError> {
        if payload.len() as u64 > MAX_INDEX_LEN {
            return Err(RegistryError::TooLarge {
                what: "index".to_owned(),
                limit: MAX_INDEX_LEN,
            });
        }
        let index: Index = serde_json::from_slice(payload).map_err(|e| invalid(escaped(&e)))?;
        index.validate()?;
        Ok(index)
    }

    fn validate(&self) -> Result<(), RegistryError> {
        if self.format != INDEX_FORMAT {
            return Err(invalid(format!(
                "format {:?}, expected {INDEX_FORMAT:?}",
                self.format
            )));
        }
        parse_rfc3339(&self.expires).map_err(invalid)?;
        if self.bundles.len() > MAX_INDEX_BUNDLES {
            return Err(invalid(format!("more than {MAX_INDEX_BUNDLES} bundles")));
        }
        let mut names = BTreeSet::new();
        for b in &self.bundles {
            if !names.insert(b.name.as_str()) {
                return Err(invalid(format!("bundle {:?} is listed twice", b.name)));
            }
            check_relative_url(&b.url)?;
            if !is_hex_digest(&b.manifest_sha256) {
                return Err(invalid(format!("bundle {:?}: bad manifest_sha256", b.name)));
            }
            if b.files.len() > MAX_BUNDLE_FILES {
                return Err(invalid(format!("bundle {:?}: too many files", b.name)));
            }
            let mut files = BTreeSet::new();
            let mut total: u64 = 0;
            for f in &b.files {
                check_plain_name(&f.name)?;
                if !files.insert(f.name.as_str()) {
                    return Err(invalid(format!(
                        "bundle {:?}: file {:?} listed twice",
                        b.name, f.name
                    )));
                }
                if !is_hex_digest(&f.sha256) {
                    return Err(invalid(format!(
                        "bundle {:?}: bad digest of {:?}",
                        b.name, f.name
                    )));
                }
                if f.size > MAX_FILE_LEN {
                    return Err(RegistryError::TooLarge {
                        what: format!("index entry {:?} file {:?}", b.name, f.name),
                        limit: MAX_FILE_LEN,
                    });
                }
                total = total.saturating_add(f.size);
            }
            for required in [MANIFEST_FILE, SIGNATURE_FILE] {
                if !files.contains(required) {
                    return Err(invalid(format!(
                        "bundle {:?} does not list {required}",
                        b.name
                    )));
                }
            }
            if total != b.size {
                return Err(invalid(format!(
                    "bundle {:?}: size {} is not the sum of its files ({total})",
                    b.name, b.size
                )));
            }
        }
        Ok(())
    }

    /// Unix seconds of [`expires`](Self::expires).
    pub fn expires_unix(&self) -> Result<i64, RegistryError> {
        parse_rfc3339(&self.expires).map_err(invalid)
    }

    /// The entry listed under `name`.
    pub fn entry(&self, name: &VoiceName) -> Result<&IndexEntry, RegistryError> {
        self.bundles
            .iter()
            .find(|b| b.name == *name)
            .ok_or_else(|| RegistryError::NotInIndex {
                name: name.to_string(),
            })
    }

    /// The payload as JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, RegistryError> {
        serde_json::to_vec_pretty(self).map_err(|e| RegistryError::Serialize {
            reason: e.to_string(),
        })
    }
}

/// URLs in the index are plain relative folder names: `name/`, no scheme, no `..`, no query.
fn check_relative_url(url: &str) -> Result<(), RegistryError> {
    let Some(folder) = url.strip_suffix('/') else {
        return Err(invalid(format!("bundle url {url:?} must end in `/`")));
    };
    check_plain_name(folder).map_err(|_| {
        invalid(format!(
            "bundle url {url:?} must be one plain relative folder name followed by `/`"
        ))
    })?;
    if !folder
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(invalid(format!(
            "bundle url {url:?} has characters outside [A-Za-z0-9_.-]"
        )));
    }
    Ok(())
}

/// A verified, unexpired, non-rolled-back index.
#[derive(Debug, Clone)]
pub struct VerifiedIndex {
    index: Index,
    digest: String,
    signers: Vec<KeyId>,
}

impl VerifiedIndex {
    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// SHA-256 of the signed payload.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The index-root keys whose signatures counted (empty when opened with [`open_index`]).
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }
}

/// The rollback state of every index this client has accepted, one file per index-root key:
/// `<dir>/<key id>.toml` holds the highest index version that key signed and was accepted, with
/// its digest. Keyed by the signing key, not by the URL, so another spelling of the URL or a
/// mirror starts from the same state. Records are written 0600 in a 0700 folder, and only ever
/// raised, under an exclusive lock on `<dir>/.lock`, so two installs finishing in either order
/// leave the higher version.
#[derive(Debug, Clone)]
pub struct IndexStates {
    dir: std::path::PathBuf,
}

impl IndexStates {
    /// The states kept in `dir` (created when first written).
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The record of `key`.
    pub fn path(&self, key: &KeyId) -> std::path::PathBuf {
        self.dir.join(format!("{key}.toml"))
    }

    /// The state of the highest version any of `signers` accepted before (version 0 if none).
    pub fn highest(&self, signers: &[KeyId]) -> Result<IndexState, RegistryError> {
        let mut best = IndexState::default();
        for key in signers {
            let state = IndexState::load(&self.path(key))?;
            if state.version > best.version {
                best = state;
            }
        }
        Ok(best)
    }

    /// Remembers `index` for each key that signed it, raising each record and never lowering
    /// one (a record already at a higher version is kept).
    pub fn record(&self, index: &VerifiedIndex) -> Result<(), RegistryError> {
        signet_io::create_private_dir(&self.dir)?;
        let _lock = crate::store::lock_file(&self.dir.join(".lock"))?;
        for key in &index.signers {
            let path = self.path(key);
            if IndexState::load(&path)?.version < index.index.version {
                accept_index(index).save(&path)?;
            }
        }
        Ok(())
    }
}

/// What a client remembers between runs: the last index version it accepted and its digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexState {
    /// Last accepted index version.
    pub version: u64,
    /// SHA-256 of that index's payload.
    pub digest: String,
}

impl IndexState {
    /// Reads the state file; a missing file is the initial state (version 0).
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            _ => {}
        }
        const CAP: Cap = Cap::new(64 * 1024, "a fixed limit of the index state file");
        let bytes = signet_io::read_capped(path, CAP)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| invalid(format!("index state: {e}")))?;
        toml::from_str(text)
            .map_err(|e| invalid(format!("index state {}: {}", path.display(), escaped(&e))))
    }

    /// Writes the state file atomically (mode 0600, in a folder created 0700).
    pub fn save(&self, path: &Path) -> Result<(), RegistryError> {
        let text = toml::to_string(self).map_err(|e| RegistryError::Serialize {
            reason: e.to_string(),
        })?;
        Ok(signet_io::write_atomic_private(path, text.as_bytes())?)
    }
}

/// Verifies a fetched index envelope: size cap, strict parse, `index-root` threshold, payload
/// format, expiry (freeze) and version against `state` (rollback). Does not update `state`; call
/// [`accept_index`] once the index is used.
pub fn open_index(
    envelope_bytes: &[u8],
    trust: &TrustStore,
    state: &IndexState,
    now: SystemTime,
) -> Result<VerifiedIndex, RegistryError> {
    let (index, digest, _) = verify_index(envelope_bytes, trust, now)?;
    check_fresh(index, digest, state, now)
}

/// [`open_index`] with the rollback state kept per index-root key in `states`: the index is
/// compared with the highest version any of its signing keys has vouched for before, however
/// its URL was spelled (`…/index.json?`, `:443`, a mirror). Call [`IndexStates::record`] once
/// the index is used.
pub fn open_index_with_states(
    envelope_bytes: &[u8],
    trust: &TrustStore,
    states: &IndexStates,
    now: SystemTime,
) -> Result<VerifiedIndex, RegistryError> {
    let (index, digest, signers) = verify_index(envelope_bytes, trust, now)?;
    let state = states.highest(&signers)?;
    let mut verified = check_fresh(index, digest, &state, now)?;
    verified.signers = signers;
    Ok(verified)
}

/// Size cap, strict parse and `index-root` threshold; the payload and the keys that signed it.
fn verify_index(
    envelope_bytes: &[u8],
    trust: &TrustStore,
    now: SystemTime,
) -> Result<(Index, String, Vec<KeyId>), RegistryError> {
    if envelope_bytes.len() as u64 > MAX_INDEX_LEN {
        return Err(RegistryError::TooLarge {
            what: "index".to_owned(),
            limit: MAX_INDEX_LEN,
        });
    }
    let envelope = Envelope::from_json(envelope_bytes)?;
    let verified = envelope.verify_at(INDEX_PAYLOAD_TYPE, trust, Role::IndexRoot, now)?;
    let payload = verified.payload();
    let index = Index::parse(payload)?;
    let digest = hex::encode(Sha256::digest(payload));
    Ok((index, digest, verified.signers().to_vec()))
}

/// Expiry (freeze) and version against `state` (rollback).
fn check_fresh(
    index: Index,
    digest: String,
    state: &IndexState,
    now: SystemTime,
) -> Result<VerifiedIndex, RegistryError> {
    let expires = index.expires_unix()?;
    if expires <= unix_seconds(now) {
        return Err(RegistryError::IndexExpired {
            version: index.version,
            expired: index.expires.clone(),
        });
    }
    if index.version < state.version {
        return Err(RegistryError::IndexRollback {
            seen: state.version,
            offered: index.version,
        });
    }
    if index.version == state.version && !state.digest.is_empty() && digest != state.digest {
        return Err(RegistryError::IndexRollback {
            seen: state.version,
            offered: index.version,
        });
    }
    Ok(VerifiedIndex {
        index,
        digest,
        signers: Vec::new(),
    })
}

/// The state to remember after accepting `index`.
pub fn accept_index(index: &VerifiedIndex) -> IndexState {
    IndexState {
        version: index.index.version,
        digest: index.digest.clone(),
    }
}

/// Checks a verified bundle against the index entry it was fetched for: same name, same
/// version, same manifest digest (a bundle listed under another name is refused).
pub fn check_bundle_matches(
    entry: &IndexEntry,
    bundle: &VerifiedBundle,
) -> Result<(), RegistryError> {
    let m = bundle.manifest();
    if m.name != entry.name {
        return Err(RegistryError::NameMismatch {
            expected: entry.name.to_string(),
            found: m.name.to_string(),
        });
    }
    if m.version != entry.version || bundle.manifest_sha256() != entry.manifest_sha256 {
        return Err(RegistryError::IndexMismatch {
            name: entry.name.to_string(),
            reason: format!(
                "the index lists version {} with manifest {}, the bundle is version {} with \
                 manifest {}",
                entry.version,
                entry.manifest_sha256,
                m.version,
                bundle.manifest_sha256()
            ),
        });
    }
    Ok(())
}

/// Builds an index of the bundle folders directly under `dir` (each verified against `trust`
/// first), with the given version and expiry (Unix seconds), signed by every key in `keys`.
/// Returns the envelope JSON.
pub fn publish_index(
    dir: &Path,
    trust: &TrustStore,
    version: u64,
    expires: i64,
    keys: &[&SecretKey],
) -> Result<Vec<u8>, RegistryError> {
    let (first, rest) = keys
        .split_first()
        .ok_or_else(|| invalid("publishing needs at least one index-root key"))?;
    let mut bundles = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| RegistryError::io(dir, e))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let Some(folder) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if folder.starts_with('.') {
            continue;
        }
        let bundle = verify_bundle_dir(&e.path(), trust)?;
        let mut files = vec![
            IndexFile {
                name: MANIFEST_FILE.to_owned(),
                size: bundle.manifest_bytes().len() as u64,
                sha256: hex::encode(Sha256::digest(bundle.manifest_bytes())),
            },
            IndexFile {
                name: SIGNATURE_FILE.to_owned(),
                size: bundle.envelope_bytes().len() as u64,
                sha256: hex::encode(Sha256::digest(bundle.envelope_bytes())),
            },
        ];
        for f in &bundle.manifest().files {
            files.push(IndexFile {
                name: f.name.clone(),
                size: f.size,
                sha256: f.sha256.clone(),
            });
        }
        bundles.push(IndexEntry {
            name: bundle.manifest().name.clone(),
            version: bundle.manifest().version,
            url: format!("{folder}/"),
            manifest_sha256: bundle.manifest_sha256().to_owned(),
            size: files.iter().map(|f| f.size).sum(),
            files,
        });
    }
    let index = Index {
        format: INDEX_FORMAT.to_owned(),
        version,
        expires: format_rfc3339(expires),
        bundles,
    };
    index.validate()?;
    let mut envelope = Envelope::sign(INDEX_PAYLOAD_TYPE, index.to_json()?, first)?;
    for k in rest {
        envelope.add_signature(k)?;
    }
    Ok(envelope.to_json()?)
}
