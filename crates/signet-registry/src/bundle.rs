//! Bundle directories: the one verification function, the proof-carrying [`VerifiedBundle`], and
//! the atomic writer.
//!
//! A bundle is a directory holding `manifest.toml`, its signature envelope `manifest.dsse.json`
//! and exactly the files the manifest lists (`weights.safetensors`, and the voice's pronunciation
//! lexicon when its `[lexicon]` names one).
//! Verification first checks the signature threshold over the exact manifest bytes against a
//! [`TrustStore`], then parses that same manifest strictly, then reads every file through size
//! caps and checks sizes and SHA-256 digests of the in-memory bytes, and keeps those same bytes:
//! later parsing never re-opens a file. There is no second path and no way to skip a step.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use signet_io::{sibling, sync_dir, write_atomic, write_new_synced, Cap, FileError};
use signet_sign::{Envelope, KeyId, Role, SecretKey, TrustStore};

use crate::error::RegistryError;
use crate::manifest::{
    lexicon_language_fits, parse_manifest, serialize_manifest, FileEntry, LexiconFormat,
    LexiconRef, Manifest, MANIFEST_FILE, MANIFEST_PAYLOAD_TYPE, MAX_LEXICON_LEN, SIGNATURE_FILE,
    WEIGHTS_FILE,
};
use crate::name::check_plain_name;
use crate::safetensors::SafeTensors;

/// Largest accepted `manifest.toml`, in bytes.
pub const MAX_MANIFEST_LEN: u64 = 1024 * 1024;

/// Largest accepted `manifest.dsse.json`, in bytes: the manifest in base64 plus signatures.
pub const MAX_SIGNATURE_FILE_LEN: u64 = MAX_MANIFEST_LEN * 4 / 3 + 64 * 1024;

/// Largest accepted bundle file, in bytes.
pub const MAX_FILE_LEN: u64 = 4 * 1024 * 1024 * 1024;

/// Size caps used by verification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) manifest: u64,
    pub(crate) file: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            manifest: MAX_MANIFEST_LEN,
            file: MAX_FILE_LEN,
        }
    }
}

/// Zero-sized proof that every check of [`verify_bundle_dir`] passed. Its field is private, so
/// no code outside this module can make one.
#[derive(Debug, Clone, Copy)]
struct ChecksPassed(());

/// A bundle whose manifest carries enough trusted signatures, parsed strictly, and whose every
/// file matched its declared size and SHA-256. Only [`verify_bundle_dir`] can build one; model
/// constructors take nothing else.
pub struct VerifiedBundle {
    manifest: Manifest,
    manifest_sha256: String,
    signers: Vec<KeyId>,
    manifest_bytes: Vec<u8>,
    envelope_bytes: Vec<u8>,
    files: BTreeMap<String, Vec<u8>>,
    _proof: ChecksPassed,
}

impl std::fmt::Debug for VerifiedBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // File contents are left out: they can be gigabytes.
        let sizes: BTreeMap<&str, usize> = self
            .files
            .iter()
            .map(|(n, b)| (n.as_str(), b.len()))
            .collect();
        f.debug_struct("VerifiedBundle")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("manifest_sha256", &self.manifest_sha256)
            .field("signers", &self.signers)
            .field("file_sizes", &sizes)
            .finish_non_exhaustive()
    }
}

impl VerifiedBundle {
    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// SHA-256 (lower-case hex) of the exact `manifest.toml` bytes that were verified.
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// Distinct key ids whose signatures counted, sorted.
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }

    /// The exact `manifest.toml` bytes that were verified.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// The exact `manifest.dsse.json` bytes that were verified.
    pub fn envelope_bytes(&self) -> &[u8] {
        &self.envelope_bytes
    }

    /// Names and verified bytes of the listed files, sorted by name.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(n, b)| (n.as_str(), b.as_slice()))
    }

    /// Strictly parses the verified `weights.safetensors` bytes.
    pub fn weights(&self) -> Result<SafeTensors<'_>, RegistryError> {
        let bytes = self
            .file(WEIGHTS_FILE)
            .ok_or_else(|| RegistryError::MissingFile {
                name: WEIGHTS_FILE.to_owned(),
            })?;
        SafeTensors::parse(bytes)
    }

    /// The verified bytes of a listed file.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// The voice's own pronunciation lexicon, when the manifest names one: its entry and its
    /// verified bytes (listed, size and SHA-256 checked like the weights). Parsing them is the
    /// text frontend's job, by the declared [`LexiconRef::format`].
    pub fn lexicon(&self) -> Option<(&LexiconRef, &[u8])> {
        let entry = self.manifest.lexicon.as_ref()?;
        self.file(&entry.file).map(|bytes| (entry, bytes))
    }
}

/// Whether an unlisted bundle entry is, by its name, a pronunciation lexicon (for the more
/// precise [`RegistryError::UnlistedLexicon`]).
fn looks_like_lexicon(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("lexicon") || lower.ends_with(".pls")
}

/// Verifies the bundle in `dir` against `trust`, in this order: size caps on `manifest.toml` and
/// `manifest.dsse.json`; the envelope's [`Role::BundleSigner`] threshold (distinct trusted,
/// unrevoked, unexpired keys) over the signed manifest; `manifest.toml` byte for byte equal to
/// the signed payload; strict parse of those bytes; plain and unique file names; no entries
/// beyond the manifest, its envelope and the listed files; no symlinks or special files; each
/// file read with a bound of its declared size and checked for size and SHA-256.
///
/// This is the only way to obtain a [`VerifiedBundle`].
pub fn verify_bundle_dir(dir: &Path, trust: &TrustStore) -> Result<VerifiedBundle, RegistryError> {
    verify_with(dir, trust, Limits::default())
}

pub(crate) fn verify_with(
    dir: &Path,
    trust: &TrustStore,
    limits: Limits,
) -> Result<VerifiedBundle, RegistryError> {
    let meta = fs::metadata(dir).map_err(|e| RegistryError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(RegistryError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }

    let manifest_bytes = read_regular(dir, MANIFEST_FILE, limits.manifest, None)?;
    let envelope_cap = limits.manifest.saturating_mul(4) / 3 + 64 * 1024;
    let envelope_bytes = read_regular(dir, SIGNATURE_FILE, envelope_cap, None)?;
    let envelope = Envelope::from_json(&envelope_bytes)?;
    let signed = envelope.verify(MANIFEST_PAYLOAD_TYPE, trust, Role::BundleSigner)?;
    if signed.payload() != manifest_bytes.as_slice() {
        return Err(RegistryError::ManifestNotSigned {
            signature_file: SIGNATURE_FILE,
        });
    }
    let signers = signed.signers().to_vec();
    let manifest = parse_manifest(signed.payload())?;
    let manifest_sha256 = hex::encode(Sha256::digest(&manifest_bytes));

    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    if !listed.contains(WEIGHTS_FILE) {
        return Err(RegistryError::ManifestInvalid {
            field: "files",
            reason: format!("{WEIGHTS_FILE} is not listed"),
        });
    }

    // Cheap checks first: no stray entries, then sizes from metadata, then the bounded reads.
    for entry in fs::read_dir(dir).map_err(|e| RegistryError::io(dir, e))? {
        let entry = entry.map_err(|e| RegistryError::io(dir, e))?;
        let name = entry.file_name();
        match name.to_str() {
            Some(MANIFEST_FILE | SIGNATURE_FILE) => {}
            Some(n) if listed.contains(n) => {}
            Some(n) if looks_like_lexicon(n) => {
                return Err(RegistryError::UnlistedLexicon { name: n.to_owned() })
            }
            _ => {
                return Err(RegistryError::UnlistedFile {
                    name: name.to_string_lossy().into_owned(),
                })
            }
        }
    }
    for f in &manifest.files {
        if f.size > limits.file {
            return Err(RegistryError::TooLarge {
                what: format!("file {:?} ({} bytes declared)", f.name, f.size),
                limit: limits.file,
            });
        }
        let meta = regular_metadata(dir, &f.name)?;
        if meta.len() != f.size {
            return Err(RegistryError::SizeMismatch {
                file: f.name.clone(),
                expected: f.size,
                found: meta.len(),
            });
        }
    }

    let mut files = BTreeMap::new();
    for f in &manifest.files {
        let bytes = read_regular(dir, &f.name, f.size, Some(f.size))?;
        let found = hex::encode(Sha256::digest(&bytes));
        if found != f.sha256 {
            return Err(RegistryError::DigestMismatch {
                file: f.name.clone(),
                expected: f.sha256.clone(),
                found,
            });
        }
        files.insert(f.name.clone(), bytes);
    }

    Ok(VerifiedBundle {
        manifest,
        manifest_sha256,
        signers,
        manifest_bytes,
        envelope_bytes,
        files,
        _proof: ChecksPassed(()),
    })
}

/// `symlink_metadata` of `dir/name`, refusing anything but a regular file.
fn regular_metadata(dir: &Path, name: &str) -> Result<fs::Metadata, RegistryError> {
    let path = dir.join(name);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RegistryError::MissingFile {
                name: name.to_owned(),
            })
        }
        Err(e) => return Err(RegistryError::io(path, e)),
    };
    if !meta.file_type().is_file() {
        return Err(RegistryError::NotARegularFile {
            name: name.to_owned(),
        });
    }
    Ok(meta)
}

/// Reads `dir/name` through the one capped, no-follow reader ([`signet_io::read_capped`]),
/// with at most `limit + 1` bytes ever read. With `exact`, a length other than `exact` is a
/// [`RegistryError::SizeMismatch`]; otherwise exceeding `limit` is [`RegistryError::TooLarge`].
/// A missing file is [`RegistryError::MissingFile`], a link or special file
/// [`RegistryError::NotARegularFile`].
pub(crate) fn read_regular(
    dir: &Path,
    name: &str,
    limit: u64,
    exact: Option<u64>,
) -> Result<Vec<u8>, RegistryError> {
    let path = dir.join(name);
    match signet_io::read_capped(&path, Cap::new(limit, "a fixed limit of the bundle format")) {
        Ok(bytes) => match exact {
            Some(expected) if bytes.len() as u64 != expected => Err(RegistryError::SizeMismatch {
                file: name.to_owned(),
                expected,
                found: bytes.len() as u64,
            }),
            _ => Ok(bytes),
        },
        Err(FileError::NotFound { .. }) => Err(RegistryError::MissingFile {
            name: name.to_owned(),
        }),
        Err(FileError::NotARegularFile { .. }) => Err(RegistryError::NotARegularFile {
            name: name.to_owned(),
        }),
        Err(FileError::TooLarge { .. }) => match exact {
            // The file grew past its declared size after the metadata check.
            Some(expected) => Err(RegistryError::SizeMismatch {
                file: name.to_owned(),
                expected,
                found: expected.saturating_add(1),
            }),
            None => Err(RegistryError::TooLarge {
                what: format!("file {name:?}"),
                limit,
            }),
        },
        Err(e) => Err(e.into()),
    }
}

/// Writes a bundle to `dir`, which must not exist yet, signed by `signer`.
///
/// `manifest_without_files.files` is ignored and replaced by one entry per given file (sorted by
/// name) with its size and SHA-256. `files` must include `weights.safetensors`, use plain names
/// and not include `manifest.toml`. The bundle is written into a fresh temporary directory next
/// to `dir`, every file is fsynced, and the directory is renamed into place, so `dir` either does
/// not exist or holds a complete bundle.
pub fn write_bundle(
    dir: &Path,
    manifest_without_files: Manifest,
    files: &[(&str, &[u8])],
    signer: &SecretKey,
) -> Result<(), RegistryError> {
    write_impl(dir, manifest_without_files, files, signer, Existing::Refuse)
}

/// Like [`write_bundle`], but an existing bundle at `dir` is replaced. Only a directory (not a
/// symlink) holding a regular `manifest.toml` counts as a bundle; anything else at `dir` is
/// refused with [`RegistryError::AlreadyExists`]. The new bundle is complete on disk before the
/// old one is renamed away and the new one renamed into place; the old one is then removed.
pub fn replace_bundle(
    dir: &Path,
    manifest_without_files: Manifest,
    files: &[(&str, &[u8])],
    signer: &SecretKey,
) -> Result<(), RegistryError> {
    write_impl(
        dir,
        manifest_without_files,
        files,
        signer,
        Existing::ReplaceBundle,
    )
}

/// What to do when an importer's output directory already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExistingBundle {
    /// Refuse with [`RegistryError::AlreadyExists`] (the default).
    #[default]
    Refuse,
    /// Replace it if it is a bundle (a directory holding `manifest.toml`); anything else is
    /// still refused. The new bundle is complete on disk before the old one is moved away.
    Replace,
}

/// A pronunciation lexicon an importer puts into the bundle it writes.
///
/// The importer's caller reads and checks the file with the text frontend's reader first
/// (`signet_text::Lexicon::parse`); the registry stores the bytes as a listed, signed file
/// and records the format, and the loader parses them again, by that format, when the
/// voice is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleLexicon {
    /// How the file is written.
    pub format: LexiconFormat,
    /// The file's bytes (at most [`MAX_LEXICON_LEN`]).
    pub bytes: Vec<u8>,
    /// The language the lexicon declares (a PLS file's `xml:lang`), if any; it must fit the
    /// voice's ([`lexicon_language_fits`]).
    pub language: Option<String>,
}

impl BundleLexicon {
    /// A lexicon of this format, these bytes and declared language.
    #[must_use]
    pub fn new(format: LexiconFormat, bytes: Vec<u8>, language: Option<String>) -> Self {
        Self {
            format,
            bytes,
            language,
        }
    }
}

/// What [`write_imported_bundle`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedBundle {
    /// Size of `weights.safetensors`, in bytes.
    pub weights_bytes: u64,
    /// SHA-256 of the written `manifest.toml`, as a loader sees it.
    pub manifest_sha256: String,
}

/// The one way importers (Piper ONNX, Coqui checkpoints) write a bundle: `tensors` (name,
/// shape, little-endian F32 bytes) become `weights.safetensors`, a `lexicon` becomes
/// `lexicon.toml` or `lexicon.pls` named by the manifest's `[lexicon]`, the manifest is
/// completed with every file's size and digest and signed by `signer` ([`write_bundle`] or
/// [`replace_bundle`] as `existing` says), and the result is read back with
/// [`verify_bundle_dir`] against a trust store holding the signer's key alone, exactly as a
/// loader trusting that key would.
///
/// # Errors
/// Besides the writers' errors: [`RegistryError::TooLarge`] for a lexicon over
/// [`MAX_LEXICON_LEN`], [`RegistryError::LexiconLanguage`] for one declared for another
/// language than the voice's.
pub fn write_imported_bundle(
    dir: &Path,
    manifest_without_files: Manifest,
    tensors: &[(&str, &[usize], &[u8])],
    lexicon: Option<&BundleLexicon>,
    signer: &SecretKey,
    existing: ExistingBundle,
) -> Result<ImportedBundle, RegistryError> {
    let mut manifest = manifest_without_files;
    manifest.lexicon = None;
    if let Some(lexicon) = lexicon {
        if lexicon.bytes.len() as u64 > MAX_LEXICON_LEN {
            return Err(RegistryError::TooLarge {
                what: format!("lexicon ({} bytes)", lexicon.bytes.len()),
                limit: MAX_LEXICON_LEN,
            });
        }
        if let Some(language) = &lexicon.language {
            if !lexicon_language_fits(language, &manifest.voice.language) {
                return Err(RegistryError::LexiconLanguage {
                    lexicon_language: language.clone(),
                    voice_language: manifest.voice.language.clone(),
                });
            }
        }
        manifest.lexicon = Some(LexiconRef {
            file: lexicon.format.file_name().to_owned(),
            format: lexicon.format,
        });
    }
    let typed: Vec<_> = tensors
        .iter()
        .map(|&(name, shape, data)| (name, crate::safetensors::Dtype::F32, shape, data))
        .collect();
    let weights = crate::safetensors::write_safetensors(&typed)?;
    drop(typed);
    let mut files = vec![(WEIGHTS_FILE, weights.as_slice())];
    if let (Some(entry), Some(lexicon)) = (&manifest.lexicon, lexicon) {
        files.push((entry.format.file_name(), lexicon.bytes.as_slice()));
    }
    match existing {
        ExistingBundle::Refuse => write_bundle(dir, manifest, &files, signer)?,
        ExistingBundle::Replace => replace_bundle(dir, manifest, &files, signer)?,
    }
    let own = TrustStore::with_key(signer.public(), Role::BundleSigner);
    let verified = verify_bundle_dir(dir, &own)?;
    Ok(ImportedBundle {
        weights_bytes: weights.len() as u64,
        manifest_sha256: verified.manifest_sha256().to_owned(),
    })
}

/// Adds `signer`'s signature to the bundle in `dir` (for bundles that need several signers).
/// The manifest is not changed; the envelope file is replaced atomically. A key that already
/// signed is refused. The bundle's files are not checked here; verification does that.
pub fn add_bundle_signature(dir: &Path, signer: &SecretKey) -> Result<(), RegistryError> {
    let manifest_bytes = read_regular(dir, MANIFEST_FILE, MAX_MANIFEST_LEN, None)?;
    let envelope_bytes = read_regular(dir, SIGNATURE_FILE, MAX_SIGNATURE_FILE_LEN, None)?;
    let mut envelope = Envelope::from_json(&envelope_bytes)?;
    if envelope.payload_type() != MANIFEST_PAYLOAD_TYPE
        || envelope.unverified_payload() != manifest_bytes.as_slice()
    {
        return Err(RegistryError::ManifestNotSigned {
            signature_file: SIGNATURE_FILE,
        });
    }
    envelope.add_signature(signer)?;
    Ok(write_atomic(
        &dir.join(SIGNATURE_FILE),
        &envelope.to_json()?,
    )?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Refuse,
    ReplaceBundle,
}

fn write_impl(
    dir: &Path,
    manifest_without_files: Manifest,
    files: &[(&str, &[u8])],
    signer: &SecretKey,
    existing: Existing,
) -> Result<(), RegistryError> {
    let mut manifest = manifest_without_files;
    let mut sorted: Vec<&(&str, &[u8])> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    manifest.files.clear();
    for (name, bytes) in &sorted {
        check_plain_name(name)?;
        if *name == MANIFEST_FILE || *name == SIGNATURE_FILE {
            return Err(RegistryError::BadFileName {
                name: (*name).to_owned(),
                reason: "the manifest and its signature are written by write_bundle itself",
            });
        }
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(RegistryError::TooLarge {
                what: format!("file {name:?}"),
                limit: MAX_FILE_LEN,
            });
        }
        manifest.files.push(FileEntry {
            name: (*name).to_owned(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        });
    }
    if !manifest.files.iter().any(|f| f.name == WEIGHTS_FILE) {
        return Err(RegistryError::MissingFile {
            name: WEIGHTS_FILE.to_owned(),
        });
    }
    // Validates (names, duplicates, values) and serializes; then make sure the reader accepts it.
    let text = serialize_manifest(&manifest)?;
    if text.len() as u64 > MAX_MANIFEST_LEN {
        return Err(RegistryError::TooLarge {
            what: MANIFEST_FILE.to_owned(),
            limit: MAX_MANIFEST_LEN,
        });
    }
    parse_manifest(text.as_bytes())?;
    let envelope = Envelope::sign(MANIFEST_PAYLOAD_TYPE, text.as_bytes().to_vec(), signer)?;
    let envelope = envelope.to_json()?;

    check_target(dir, existing)?;
    let leaf =
        dir.file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| RegistryError::BadFileName {
                name: dir.display().to_string(),
                reason: "the target directory needs a UTF-8 final component",
            })?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| RegistryError::io(&parent, e))?;

    let tmp = sibling(&parent, leaf, "tmp");
    fs::create_dir(&tmp).map_err(|e| RegistryError::io(&tmp, e))?;
    let result = fill(&tmp, &sorted, text.as_bytes(), &envelope)
        .and_then(|()| move_into_place(&tmp, dir, &parent, leaf, existing));
    if result.is_err() {
        // Only our own, freshly created temporary directory is removed.
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// Refuses a target that exists, unless replacing is asked for and the target is a bundle.
fn check_target(dir: &Path, existing: Existing) -> Result<(), RegistryError> {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return Ok(());
    };
    let is_bundle = meta.file_type().is_dir()
        && fs::symlink_metadata(dir.join(MANIFEST_FILE)).is_ok_and(|m| m.file_type().is_file());
    if existing == Existing::ReplaceBundle && is_bundle {
        return Ok(());
    }
    Err(RegistryError::AlreadyExists {
        path: dir.to_owned(),
    })
}

fn fill(
    tmp: &Path,
    files: &[&(&str, &[u8])],
    manifest: &[u8],
    envelope: &[u8],
) -> Result<(), RegistryError> {
    for (name, bytes) in files {
        write_new_synced(&tmp.join(name), bytes)?;
    }
    write_new_synced(&tmp.join(MANIFEST_FILE), manifest)?;
    write_new_synced(&tmp.join(SIGNATURE_FILE), envelope)?;
    Ok(sync_dir(tmp)?)
}

fn move_into_place(
    tmp: &Path,
    dir: &Path,
    parent: &Path,
    leaf: &str,
    existing: Existing,
) -> Result<(), RegistryError> {
    // Checked again: the target may have appeared while the files were written.
    check_target(dir, existing)?;
    let old = if fs::symlink_metadata(dir).is_ok() {
        let old = sibling(parent, leaf, "old");
        fs::rename(dir, &old).map_err(|e| RegistryError::io(dir, e))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = fs::rename(tmp, dir) {
        if let Some(old) = &old {
            let _ = fs::rename(old, dir);
        }
        return Err(RegistryError::io(dir, e));
    }
    sync_dir(parent)?;
    if let Some(old) = old {
        // The new bundle is in place; failing to delete the old copy must not report failure.
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{sample_manifest, sample_weights};

    #[test]
    fn lowered_caps_are_enforced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        let key = SecretKey::from_seed(&[9; 32]);
        let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
        write_bundle(
            &dir,
            sample_manifest(),
            &[(WEIGHTS_FILE, &sample_weights())],
            &key,
        )
        .unwrap();
        assert!(verify_with(&dir, &trust, Limits::default()).is_ok());
        let small_manifest = Limits {
            manifest: 64,
            ..Limits::default()
        };
        assert!(matches!(
            verify_with(&dir, &trust, small_manifest),
            Err(RegistryError::TooLarge { limit: 64, .. })
        ));
        let small_file = Limits {
            file: 16,
            ..Limits::default()
        };
        assert!(matches!(
            verify_with(&dir, &trust, small_file),
            Err(RegistryError::TooLarge { limit: 16, .. })
        ));
    }

    #[test]
    fn bounded_read_stops_after_limit() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("f"), vec![7u8; 1000]).unwrap();
        match read_regular(tmp.path(), "f", 10, Some(10)) {
            Err(RegistryError::SizeMismatch { found, .. }) => assert_eq!(found, 11),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_regular(tmp.path(), "f", 10, None),
            Err(RegistryError::TooLarge { .. })
        ));
        assert_eq!(
            read_regular(tmp.path(), "f", 1000, Some(1000))
                .unwrap()
                .len(),
            1000
        );
    }
}
