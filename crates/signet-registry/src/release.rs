//! Signed releases: `SHA256SUMS` and a signature envelope over it.
//!
//! A release folder holds the artefacts (binaries, SBOMs), a `SHA256SUMS` file
//! listing the SHA-256 and name of every artefact (the format `sha256sum -c`
//! reads: 64 lower-case hex digits, two spaces, a plain file name), and
//! `SHA256SUMS.dsse.json`, an [`Envelope`] whose payload is exactly the bytes
//! of `SHA256SUMS`, with payload type [`RELEASE_PAYLOAD_TYPE`], signed by keys
//! of the [`Role::ReleaseSigner`] role.
//!
//! [`verify_release`] is the one verification function, used by both
//! `cargo xtask verify-release` and `signet verify-release`: the envelope must
//! meet the trust store's threshold through [`Envelope::verify`]; the
//! `SHA256SUMS` file must be byte for byte the signed payload; the folder must
//! hold exactly the listed artefacts (no missing, extra, linked or non-regular
//! files); and each artefact's SHA-256 must be the listed one. Each failure is
//! its own [`RegistryError`] variant naming the file.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use signet_registry::release::{sign_release, verify_release};
//! use signet_sign::{Role, SecretKey, TrustStore};
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("tool"), b"binary bytes")?;
//! let key = SecretKey::generate()?;
//! sign_release(dir.path(), &["tool"], &key)?;
//! let trust = TrustStore::with_key(key.public(), Role::ReleaseSigner);
//! let verified = verify_release(dir.path(), &trust)?;
//! assert_eq!(verified.files()[0].0, "tool");
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use signet_io::{Cap, FileError};
use signet_sign::envelope::MAX_ENVELOPE_LEN;
use signet_sign::{Envelope, KeyId, Role, SecretKey, TrustStore};

use crate::error::RegistryError;

/// The envelope's payload type for a release's `SHA256SUMS`.
pub const RELEASE_PAYLOAD_TYPE: &str = "application/vnd.signet.release.sha256sums";
/// The checksum list.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// The signature envelope over [`SUMS_FILE`].
pub const ENVELOPE_FILE: &str = "SHA256SUMS.dsse.json";
/// Largest `SHA256SUMS` accepted.
pub const MAX_SUMS_LEN: u64 = 1024 * 1024;
/// Most artefacts in one release.
pub const MAX_ARTEFACTS: usize = 1024;

/// A release whose signature, file list and digests all verified.
#[derive(Debug)]
pub struct VerifiedRelease {
    files: Vec<(String, String)>,
    signers: Vec<KeyId>,
}

impl VerifiedRelease {
    /// `(name, sha256)` of every artefact, in `SHA256SUMS` order.
    pub fn files(&self) -> &[(String, String)] {
        &self.files
    }

    /// The distinct keys whose signatures counted.
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }
}

/// Writes `SHA256SUMS` over the artefacts `names` (plain file names in
/// `dir`) and the envelope signed by `key`. Existing files of those two names
/// are replaced.
pub fn sign_release(dir: &Path, names: &[&str], key: &SecretKey) -> Result<(), RegistryError> {
    let mut seen = BTreeSet::new();
    let mut sums = String::new();
    for name in names {
        check_name(name)?;
        if !seen.insert(*name) {
            return Err(RegistryError::ReleaseSumsInvalid {
                line: seen.len() + 1,
                reason: format!("{name:?} is listed twice"),
            });
        }
        let digest = sha256_regular_file(dir, name)?;
        sums.push_str(&format!("{digest}  {name}\n"));
    }
    let envelope = Envelope::sign(RELEASE_PAYLOAD_TYPE, sums.clone().into_bytes(), key)?;
    write_file(&dir.join(SUMS_FILE), sums.as_bytes())?;
    write_file(&dir.join(ENVELOPE_FILE), &envelope.to_json()?)?;
    Ok(())
}

/// Verifies the release in `dir` against `trust` (see the module docs).
pub fn verify_release(dir: &Path, trust: &TrustStore) -> Result<VerifiedRelease, RegistryError> {
    let envelope_bytes = read_capped(dir, ENVELOPE_FILE, MAX_ENVELOPE_LEN)?;
    let envelope = Envelope::from_json(&envelope_bytes)?;
    let verified = envelope.verify(RELEASE_PAYLOAD_TYPE, trust, Role::ReleaseSigner)?;
    let signed = verified.payload();
    let sums = read_capped(dir, SUMS_FILE, MAX_SUMS_LEN)?;
    if sums != signed {
        return Err(RegistryError::ReleaseNotSigned {
            sums_file: SUMS_FILE,
            envelope_file: ENVELOPE_FILE,
        });
    }
    let listed = parse_sums(signed)?;

    let names: BTreeMap<&str, &str> = listed
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    let entries = fs::read_dir(dir).map_err(|source| io_error(dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| io_error(dir, source))?;
        // Exact names only, as the bundle verifier reads them: a name that is not UTF-8 is
        // never taken for a listed one through a lossy conversion (`a\xff` is not `a\u{fffd}`).
        let name = entry.file_name();
        match name.to_str() {
            Some(SUMS_FILE | ENVELOPE_FILE) => {}
            Some(n) if names.contains_key(n) => {}
            _ => {
                return Err(RegistryError::ReleaseUnlistedFile {
                    name: name.to_string_lossy().into_owned(),
                })
            }
        }
    }
    for (name, expected) in &listed {
        let found = sha256_regular_file(dir, name)?;
        if &found != expected {
            return Err(RegistryError::ReleaseDigestMismatch {
                file: name.clone(),
                expected: expected.clone(),
                found,
            });
        }
    }
    Ok(VerifiedRelease {
        files: listed,
        signers: verified.signers().to_vec(),
    })
}

/// Parses `SHA256SUMS`: `<64 lower-case hex>  <plain name>` per line, every
/// line ending in `\n`, names unique, at least one and at most
/// [`MAX_ARTEFACTS`] entries.
pub fn parse_sums(bytes: &[u8]) -> Result<Vec<(String, String)>, RegistryError> {
    let invalid = |line: usize, reason: String| RegistryError::ReleaseSumsInvalid { line, reason };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid(0, "not UTF-8".into()))?;
    let Some(body) = text.strip_suffix('\n') else {
        return Err(invalid(
            0,
            "empty, or the last line does not end in a newline".into(),
        ));
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, line) in body.split('\n').enumerate() {
        let n = i + 1;
        if n > MAX_ARTEFACTS {
            return Err(invalid(n, format!("more than {MAX_ARTEFACTS} entries")));
        }
        let Some((digest, name)) = line.split_once("  ") else {
            return Err(invalid(n, "expected `<sha256>  <name>`".into()));
        };
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid(
                n,
                "the digest is not 64 lower-case hex digits".into(),
            ));
        }
        check_name(name).map_err(|e| invalid(n, e.to_string()))?;
        if name == SUMS_FILE || name == ENVELOPE_FILE {
            return Err(invalid(n, format!("{name} cannot list itself")));
        }
        if !seen.insert(name) {
            return Err(invalid(n, format!("{name:?} is listed twice")));
        }
        out.push((name.to_owned(), digest.to_owned()));
    }
    Ok(out)
}

/// A release artefact's name: a plain, visible file name.
fn check_name(name: &str) -> Result<(), RegistryError> {
    let bad = |reason: &'static str| RegistryError::BadFileName {
        name: name.chars().take(128).collect(),
        reason,
    };
    if name.is_empty() || name.len() > 255 {
        return Err(bad("empty or longer than 255 bytes"));
    }
    if name.starts_with('.') {
        return Err(bad("hidden names, `.` and `..` are refused"));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control() || c.is_whitespace())
    {
        return Err(bad(
            "separators, white space and control characters are refused",
        ));
    }
    Ok(())
}

fn io_error(path: &Path, source: io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens `dir/name` through the one no-follow opener: a regular file, not a link, FIFO or
/// device (checked on the open handle).
fn open_regular(dir: &Path, name: &str) -> Result<(File, PathBuf), RegistryError> {
    let path = dir.join(name);
    match signet_io::open_regular(&path) {
        Ok((file, _)) => Ok((file, path)),
        Err(FileError::NotFound { .. }) => Err(RegistryError::ReleaseMissingFile {
            name: name.to_owned(),
        }),
        Err(FileError::NotARegularFile { .. }) => Err(RegistryError::NotARegularFile {
            name: name.to_owned(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Reads `SHA256SUMS` or its envelope (`name`), capped.
fn read_capped(dir: &Path, name: &'static str, cap: u64) -> Result<Vec<u8>, RegistryError> {
    let (file, path) = match open_regular(dir, name) {
        Err(RegistryError::ReleaseMissingFile { .. }) => {
            return Err(RegistryError::ReleaseMissingSignedList { name })
        }
        other => other?,
    };
    const HOW: &str = "a fixed limit of the release format";
    match signet_io::read_stream_capped(file, &path, 0, Cap::new(cap, HOW)) {
        Ok(bytes) => Ok(bytes),
        Err(FileError::TooLarge { .. }) => Err(RegistryError::TooLarge {
            what: name.to_owned(),
            limit: cap,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Streams the SHA-256 of a regular file, as lower-case hex.
fn sha256_regular_file(dir: &Path, name: &str) -> Result<String, RegistryError> {
    let (mut file, path) = open_regular(dir, name)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(io_error(&path, source)),
        };
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes `path` anew: a file or link already there is replaced, never written through.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => {
            return Err(RegistryError::AlreadyExists {
                path: path.to_owned(),
            })
        }
        Ok(_) => fs::remove_file(path).map_err(|source| io_error(path, source))?,
        Err(_) => {}
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| io_error(path, source))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|source| io_error(path, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_sign::SignError;

    const ARTEFACTS: &[(&str, &[u8])] = &[
        ("signet", b"\x7fELF pretend signet binary"),
        ("signet-espeak", b"\x7fELF pretend helper binary"),
        (
            "signet.cdx.json",
            b"{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\"}\n",
        ),
        ("signet-espeak.cdx.json", b"{\"bomFormat\":\"CycloneDX\"}\n"),
    ];

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_seed(&[seed; 32])
    }

    fn release() -> Result<(tempfile::TempDir, TrustStore), RegistryError> {
        let dir = tempfile::tempdir().map_err(|source| io_error(Path::new("tmp"), source))?;
        for (name, bytes) in ARTEFACTS {
            write_file(&dir.path().join(name), bytes)?;
        }
        let names: Vec<&str> = ARTEFACTS.iter().map(|(n, _)| *n).collect();
        let k = key(7);
        sign_release(dir.path(), &names, &k)?;
        Ok((dir, TrustStore::with_key(k.public(), Role::ReleaseSigner)))
    }

    fn flip_byte(path: &Path, at: usize) -> Result<(), RegistryError> {
        let mut bytes = fs::read(path).map_err(|source| io_error(path, source))?;
        let i = at.min(bytes.len().saturating_sub(1));
        if let Some(b) = bytes.get_mut(i) {
            *b ^= 0x01;
        }
        fs::write(path, bytes).map_err(|source| io_error(path, source))
    }

    /// Signs a release, verifies it, then flips one byte of each file in turn
    /// (every artefact, the checksum list and the envelope) and checks that
    /// each is rejected with its own error.
    #[test]
    fn round_trip_then_every_flipped_byte_is_rejected() -> Result<(), RegistryError> {
        let (dir, trust) = release()?;
        let ok = verify_release(dir.path(), &trust)?;
        assert_eq!(ok.files().len(), ARTEFACTS.len());
        assert_eq!(ok.signers(), &[key(7).key_id()]);

        for (name, _) in ARTEFACTS {
            let (dir, trust) = release()?;
            flip_byte(&dir.path().join(name), 3)?;
            let r = verify_release(dir.path(), &trust);
            assert!(
                matches!(&r, Err(RegistryError::ReleaseDigestMismatch { file, .. }) if file == name),
                "{name}: expected a digest mismatch, got {r:?}"
            );
        }

        let (dir, trust) = release()?;
        flip_byte(&dir.path().join(SUMS_FILE), 5)?;
        assert!(matches!(
            verify_release(dir.path(), &trust),
            Err(RegistryError::ReleaseNotSigned { .. })
        ));

        // Inside the signed payload (base64), in a signature, and in the JSON syntax.
        for at in [30usize, 200, 0] {
            let (dir, trust) = release()?;
            let env = dir.path().join(ENVELOPE_FILE);
            let text = fs::read_to_string(&env).map_err(|source| io_error(&env, source))?;
            let target = match at {
                30 => text.find("\"payload\"").map(|p| p + 14),
                200 => text.find("\"sig\"").map(|p| p + 12),
                _ => Some(0),
            };
            flip_byte(&env, target.unwrap_or(0))?;
            let r = verify_release(dir.path(), &trust);
            assert!(
                matches!(
                    &r,
                    Err(RegistryError::Sign(
                        SignError::SignatureThreshold { .. } | SignError::EnvelopeInvalid { .. }
                    ))
                ),
                "envelope byte {at}: expected a signature error, got {r:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn wrong_key_missing_extra_and_linked_files_are_rejected() -> Result<(), RegistryError> {
        let (dir, _) = release()?;
        let stranger = TrustStore::with_key(key(8).public(), Role::ReleaseSigner);
        assert!(matches!(
            verify_release(dir.path(), &stranger),
            Err(RegistryError::Sign(SignError::SignatureThreshold { .. }))
        ));
        let wrong_role = TrustStore::with_key(key(7).public(), Role::BundleSigner);
        assert!(verify_release(dir.path(), &wrong_role).is_err());

        let (dir, trust) = release()?;
        fs::remove_file(dir.path().join("signet-espeak")).map_err(|s| io_error(dir.path(), s))?;
        assert!(matches!(
            verify_release(dir.path(), &trust),
            Err(RegistryError::ReleaseMissingFile { name }) if name == "signet-espeak"
        ));

        // Without the signed list or its signature, the message names that file.
        for signed in [SUMS_FILE, ENVELOPE_FILE] {
            let (dir, trust) = release()?;
            fs::remove_file(dir.path().join(signed)).map_err(|s| io_error(dir.path(), s))?;
            let r = verify_release(dir.path(), &trust);
            assert!(
                matches!(&r, Err(RegistryError::ReleaseMissingSignedList { name }) if *name == signed),
                "{signed}: {r:?}"
            );
            let text = r.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains(&format!("has no {signed}")), "{text}");
        }

        let (dir, trust) = release()?;
        write_file(&dir.path().join("install.sh"), b"curl | sh")?;
        assert!(matches!(
            verify_release(dir.path(), &trust),
            Err(RegistryError::ReleaseUnlistedFile { name }) if name == "install.sh"
        ));

        #[cfg(unix)]
        {
            let (dir, trust) = release()?;
            let real = dir.path().join("signet");
            let moved = dir.path().join("elsewhere");
            fs::rename(&real, &moved).map_err(|s| io_error(&real, s))?;
            std::os::unix::fs::symlink("/bin/sh", &real).map_err(|s| io_error(&real, s))?;
            fs::remove_file(&moved).map_err(|s| io_error(&moved, s))?;
            assert!(matches!(
                verify_release(dir.path(), &trust),
                Err(RegistryError::NotARegularFile { name }) if name == "signet"
            ));

            // The signed list and its envelope are opened without following links too.
            for signed in [SUMS_FILE, ENVELOPE_FILE] {
                let (dir, trust) = release()?;
                let real = dir.path().join(signed);
                let outside = tempfile::tempdir().map_err(|s| io_error(Path::new("tmp"), s))?;
                let moved = outside.path().join(signed);
                fs::rename(&real, &moved).map_err(|s| io_error(&real, s))?;
                std::os::unix::fs::symlink(&moved, &real).map_err(|s| io_error(&real, s))?;
                assert!(
                    matches!(
                        verify_release(dir.path(), &trust),
                        Err(RegistryError::NotARegularFile { ref name }) if name == signed
                    ),
                    "{signed}"
                );
            }
        }
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_name_is_not_taken_for_a_listed_one() -> Result<(), RegistryError> {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().map_err(|source| io_error(Path::new("tmp"), source))?;
        // `tool\u{fffd}` is listed and present; `tool\xff` is not listed, but its lossy
        // name is the listed one.
        write_file(&dir.path().join("tool\u{fffd}"), b"listed")?;
        sign_release(dir.path(), &["tool\u{fffd}"], &key(7))?;
        let trust = TrustStore::with_key(key(7).public(), Role::ReleaseSigner);
        assert!(verify_release(dir.path(), &trust).is_ok());
        let sneaky = dir.path().join(std::ffi::OsStr::from_bytes(b"tool\xff"));
        write_file(&sneaky, b"payload")?;
        assert!(matches!(
            verify_release(dir.path(), &trust),
            Err(RegistryError::ReleaseUnlistedFile { .. })
        ));
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn signing_replaces_a_planted_link_instead_of_writing_through_it() -> Result<(), RegistryError>
    {
        let dir = tempfile::tempdir().map_err(|source| io_error(Path::new("tmp"), source))?;
        let outside = tempfile::tempdir().map_err(|source| io_error(Path::new("tmp"), source))?;
        let victim = outside.path().join("victim");
        write_file(&victim, b"keep")?;
        write_file(&dir.path().join("tool"), b"bytes")?;
        std::os::unix::fs::symlink(&victim, dir.path().join(SUMS_FILE))
            .map_err(|s| io_error(&victim, s))?;
        sign_release(dir.path(), &["tool"], &key(7))?;
        assert_eq!(
            fs::read(&victim).map_err(|s| io_error(&victim, s))?,
            b"keep"
        );
        let trust = TrustStore::with_key(key(7).public(), Role::ReleaseSigner);
        assert!(verify_release(dir.path(), &trust).is_ok());
        Ok(())
    }

    #[test]
    fn checksum_lists_are_parsed_strictly() {
        let d = "a".repeat(64);
        assert!(parse_sums(format!("{d}  signet\n").as_bytes()).is_ok());
        for bad in [
            String::new(),
            format!("{d}  signet"),
            format!("{d} signet\n"),
            format!("{}  signet\n", "A".repeat(64)),
            format!("{}  signet\n", "a".repeat(63)),
            format!("{d}  ../etc/passwd\n"),
            format!("{d}  .hidden\n"),
            format!("{d}  sub/dir\n"),
            format!("{d}  signet\n{d}  signet\n"),
            format!("{d}  {SUMS_FILE}\n"),
            format!("{d}  signet\n\n"),
        ] {
            assert!(
                matches!(
                    parse_sums(bad.as_bytes()),
                    Err(RegistryError::ReleaseSumsInvalid { .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }
}
