//! The local store: the home folder's layout, and installing, verifying and removing voices.
//!
//! Everything lives under one home folder ([`default_home`]): `$SIGNET_HOME`, else
//! `$XDG_DATA_HOME/signet`, else `$HOME/.local/share/signet` (or one given explicitly):
//!
//! - `voices/<name>/`: one signed bundle per voice, named by a [`VoiceName`];
//! - `vocoders/<name>/`: one signed bundle per mel vocoder (the second stage of two-stage
//!   voices, which pin it by name and manifest digest), laid out, installed and verified as
//!   voices are;
//! - `trust.toml`: the trust store every load verifies against (a missing file trusts nothing);
//! - `keys/`: private keys made by `signet keys generate`, setup's `local-importer.key` and
//!   the watermark key `watermark.key` and the content-credentials signing key
//!   `credentials.key` (mode 0600, folder 0700);
//! - `espeak-ng/`: the espeak-ng library and data the phonemizer helper loads;
//! - `config.toml`, `index-state/`, `tmp/`: the CLI's settings and the remote index's state.
//!
//! [`Store`] names these paths; this module is the only code that knows the layout.
//!
//! Installing: `<voices>/<name>/` holds one bundle; next to it live hidden helpers
//! `.<name>.lock` (an advisory lock held for the whole install or removal, so concurrent
//! installs of the same voice run one after the other) and, only while an install runs,
//! `.<name>+tmp-*` (the new copy being written). The `+` is a character voice names cannot
//! contain, so clean-up matches exactly one voice's leftovers, never those of a voice whose
//! name merely starts with this one's (`x` and `x.tmp-a`). An install writes the exact verified bytes
//! into the temporary folder, fsyncs every file and the folder, verifies the copy again against
//! the trust store, and then swaps it in: on Linux with one atomic exchange of the two folders
//! (`renameat2(RENAME_EXCHANGE)`), elsewhere with two renames. A crash before the swap leaves
//! the old bundle untouched (the stray temporary folder is removed by the next install); on
//! systems without the exchange, a crash between the two renames leaves the old bundle at
//! `.<name>+old-*`, which the next install or removal of that voice moves back first.
//!
//! A bundle whose version is lower than the installed one is refused
//! ([`RegistryError::Rollback`]), and so is a different bundle with the same version;
//! reinstalling the identical bundle changes nothing.
//!
//! Rollback at rest: next to each voice, `.<name>+highest` records the highest version of it
//! ever installed, raised (never lowered) under the voice's lock after each install. Installs
//! and loads ([`verify_installed`]) refuse a bundle below it
//! ([`RegistryError::RollbackBelowRecord`]), so an older signed bundle copied into
//! `voices/<name>/`, or offered by an index after the index state was deleted, is refused. The
//! record outlives a removal (`signet voices remove` then installing an older version is a
//! downgrade: delete the record to allow it). A voice installed before records were kept gets
//! one when first loaded.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use signet_io::{sibling, sync_dir, write_new_synced};
use signet_sign::TrustStore;

use crate::bundle::{read_regular, verify_bundle_dir, VerifiedBundle, MAX_MANIFEST_LEN};
use crate::error::RegistryError;
use crate::manifest::{parse_manifest, MANIFEST_FILE, SIGNATURE_FILE};
use crate::name::VoiceName;

/// The trust store's file name in the home folder.
pub const TRUST_FILE: &str = "trust.toml";

/// Name of the key that signs locally imported voices.
pub const IMPORTER_KEY_NAME: &str = "local-importer";

/// Name of the key that watermarks the home's speech.
pub const WATERMARK_KEY_NAME: &str = "watermark";

/// Name of the home's content-credentials signing key (`<home>/keys/credentials.key`).
pub const CREDENTIALS_KEY_NAME: &str = "credentials";

/// `$SIGNET_HOME`, else `$XDG_DATA_HOME/signet`, else `$HOME/.local/share/signet` (a variable
/// set to the empty string counts as unset). The one place that computes the home folder.
pub fn default_home() -> Result<PathBuf, RegistryError> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("SIGNET_HOME") {
        return Ok(p);
    }
    if let Some(p) = var("XDG_DATA_HOME") {
        return Ok(p.join("signet"));
    }
    if let Some(p) = var("HOME") {
        return Ok(p.join(".local").join("share").join("signet"));
    }
    Err(RegistryError::NoHome)
}

/// The local voice store under one home folder (see the module docs for the layout).
#[derive(Debug, Clone)]
pub struct Store {
    home: PathBuf,
}

impl Store {
    /// The store under an explicit home folder.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    /// The store under [`default_home`].
    pub fn from_env() -> Result<Self, RegistryError> {
        default_home().map(Self::new)
    }

    /// The home folder.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The trust store file, `<home>/trust.toml`.
    pub fn trust_path(&self) -> PathBuf {
        self.home.join(TRUST_FILE)
    }

    /// Loads the trust store (a missing file is an empty store, which trusts nothing).
    pub fn trust_store(&self) -> Result<TrustStore, RegistryError> {
        Ok(TrustStore::load_or_empty(&self.trust_path())?)
    }

    /// The folder of private keys, `<home>/keys`.
    pub fn keys_dir(&self) -> PathBuf {
        self.home.join("keys")
    }

    /// The private key file of the key named `name` (`<home>/keys/<name>.key`); key names
    /// follow the voice-name rule.
    pub fn key_path(&self, name: &str) -> Result<PathBuf, RegistryError> {
        let name = VoiceName::new(name)?;
        Ok(self.keys_dir().join(format!("{name}.key")))
    }

    /// The local importer's private key file (`<home>/keys/local-importer.key`).
    pub fn importer_key_path(&self) -> PathBuf {
        self.keys_dir().join(format!("{IMPORTER_KEY_NAME}.key"))
    }

    /// The home's watermark key file (`<home>/keys/watermark.key`): the
    /// secret that marks this home's speech and detects the mark.
    pub fn watermark_key_path(&self) -> PathBuf {
        self.keys_dir().join(format!("{WATERMARK_KEY_NAME}.key"))
    }

    /// The home's content-credentials signing key file (`<home>/keys/credentials.key`): the
    /// ed25519 key that signs the WAV files Signet writes (see `signet_audio::Credentials`).
    pub fn credentials_key_path(&self) -> PathBuf {
        self.keys_dir().join(format!("{CREDENTIALS_KEY_NAME}.key"))
    }

    /// The folder holding one bundle per voice, `<home>/voices`.
    pub fn voices_dir(&self) -> PathBuf {
        self.home.join("voices")
    }

    /// The bundle folder of `name`.
    pub fn voice_dir(&self, name: &VoiceName) -> PathBuf {
        self.voices_dir().join(name)
    }

    /// The folder holding one bundle per mel vocoder, `<home>/vocoders` (the second stage of
    /// two-stage voices; verified with the same trust store as voices).
    pub fn vocoders_dir(&self) -> PathBuf {
        self.home.join("vocoders")
    }

    /// The bundle folder of the vocoder `name`.
    pub fn vocoder_dir(&self, name: &VoiceName) -> PathBuf {
        self.vocoders_dir().join(name)
    }

    /// The espeak-ng folder (`espeakbridge.so` and `espeak-ng-data/`), `<home>/espeak-ng`.
    pub fn espeak_dir(&self) -> PathBuf {
        self.home.join("espeak-ng")
    }

    /// The settings file, `<home>/config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.home.join("config.toml")
    }

    /// Names of the bundle folders present (not verified), sorted; entries whose names are not
    /// voice names are skipped.
    pub fn voice_names(&self) -> Result<Vec<VoiceName>, RegistryError> {
        bundle_names(&self.voices_dir())
    }

    /// Names of the vocoder bundle folders present (not verified), sorted, as
    /// [`voice_names`](Self::voice_names) lists voices.
    pub fn vocoder_names(&self) -> Result<Vec<VoiceName>, RegistryError> {
        bundle_names(&self.vocoders_dir())
    }
}

/// Names of the bundle folders in `dir`, sorted; entries that are not bundle names are skipped.
fn bundle_names(dir: &Path) -> Result<Vec<VoiceName>, RegistryError> {
    let dir = dir.to_path_buf();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RegistryError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RegistryError::io(&dir, e))?;
        let Some(name) = entry
            .file_name()
            .to_str()
            .and_then(|n| VoiceName::new(n).ok())
        else {
            continue;
        };
        if entry.path().is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What [`install_bundle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Installed {
    /// The voice name (the bundle's manifest name).
    pub name: VoiceName,
    /// The installed version.
    pub version: u64,
    /// The version that was installed before, if any.
    pub previous: Option<u64>,
    /// The bundle folder.
    pub dir: PathBuf,
    /// True when the identical bundle was already installed and nothing was written.
    pub unchanged: bool,
}

/// Installs the bundle in `src` into `<voices_dir>/<name>/`, where `name` is the manifest's. The
/// bundle is verified against `trust` first; nothing is written unless it passes.
pub fn install_bundle(
    src: &Path,
    voices_dir: &Path,
    trust: &TrustStore,
) -> Result<Installed, RegistryError> {
    let bundle = verify_bundle_dir(src, trust)?;
    install_verified(&bundle, voices_dir, trust)
}

/// Installs an already verified bundle (see [`install_bundle`]).
pub fn install_verified(
    bundle: &VerifiedBundle,
    voices_dir: &Path,
    trust: &TrustStore,
) -> Result<Installed, RegistryError> {
    let name = bundle.manifest().name.clone();
    let version = bundle.manifest().version;
    signet_io::create_private_dir(voices_dir)?;
    let leaf = name.as_str();
    let _lock = lock(voices_dir, leaf)?;
    recover(voices_dir, leaf)?;
    let dest = voices_dir.join(leaf);

    let previous = installed_manifest(&dest)?;
    if let Some((installed, bytes)) = &previous {
        if *installed == version && bytes.as_slice() == bundle.manifest_bytes() {
            check_high_water(voices_dir, &name, version)?;
            raise_high_water(voices_dir, leaf, version)?;
            return Ok(Installed {
                name,
                version,
                previous: Some(*installed),
                dir: dest,
                unchanged: true,
            });
        }
        if *installed >= version {
            return Err(RegistryError::Rollback {
                name: name.to_string(),
                installed: *installed,
                offered: version,
            });
        }
    }
    check_high_water(voices_dir, &name, version)?;

    let tmp = sibling(voices_dir, leaf, "tmp");
    fs::create_dir(&tmp).map_err(|e| RegistryError::io(&tmp, e))?;
    let result = write_copy(&tmp, bundle)
        .and_then(|()| {
            // Read back what is on disk now, with the same checks a load makes.
            verify_bundle_dir(&tmp, trust).map(drop)
        })
        .and_then(|()| swap_in(&tmp, &dest, voices_dir, leaf));
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result?;
    raise_high_water(voices_dir, leaf, version)?;
    Ok(Installed {
        name,
        version,
        previous: previous.map(|(v, _)| v),
        dir: dest,
        unchanged: false,
    })
}

/// Verifies the installed voice `name` in `voices_dir` against `trust`, including that its signed
/// manifest carries that name (a bundle moved under another voice's name is refused).
pub fn verify_installed(
    voices_dir: &Path,
    name: &VoiceName,
    trust: &TrustStore,
) -> Result<VerifiedBundle, RegistryError> {
    let dir = voices_dir.join(name);
    if fs::symlink_metadata(&dir).is_err() {
        return Err(RegistryError::NotInstalled {
            name: name.to_string(),
        });
    }
    let bundle = verify_bundle_dir(&dir, trust)?;
    if bundle.manifest().name != *name {
        return Err(RegistryError::NameMismatch {
            expected: name.to_string(),
            found: bundle.manifest().name.to_string(),
        });
    }
    let version = bundle.manifest().version;
    check_high_water(voices_dir, name, version)?;
    if read_high_water(voices_dir, name.as_str())?.is_none() {
        // A voice installed before marks were kept: remember it now (best effort; a store this
        // process cannot write is still loaded).
        if let Ok(_lock) = lock(voices_dir, name.as_str()) {
            let _ = raise_high_water(voices_dir, name.as_str(), version);
        }
    }
    Ok(bundle)
}

/// The file recording the highest version of `name` ever installed: `.<name>+highest` in the
/// voices folder (the separator keeps it apart from every voice's name and leftovers).
pub fn high_water_path(voices_dir: &Path, name: &VoiceName) -> PathBuf {
    high_water_file(voices_dir, name.as_str())
}

fn high_water_file(voices_dir: &Path, name: &str) -> PathBuf {
    voices_dir.join(format!(".{name}{}highest", signet_io::SIBLING_SEPARATOR))
}

/// The recorded high-water mark of `name`, if any.
fn read_high_water(voices_dir: &Path, name: &str) -> Result<Option<u64>, RegistryError> {
    const CAP: signet_io::Cap = signet_io::Cap::new(64, "a fixed limit of a version record");
    let path = high_water_file(voices_dir, name);
    let text = match signet_io::read_capped_string(&path, CAP) {
        Ok(t) => t,
        Err(signet_io::FileError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    text.trim()
        .parse::<u64>()
        .map(Some)
        .map_err(|_| RegistryError::VersionRecordInvalid {
            path,
            reason: "it does not hold one decimal version number".to_owned(),
        })
}

/// Refuses `version` of `name` if a higher version was installed before.
fn check_high_water(
    voices_dir: &Path,
    name: &VoiceName,
    version: u64,
) -> Result<(), RegistryError> {
    match read_high_water(voices_dir, name.as_str())? {
        Some(highest) if version < highest => Err(RegistryError::RollbackBelowRecord {
            name: name.to_string(),
            highest,
            offered: version,
            record: high_water_file(voices_dir, name.as_str()),
        }),
        _ => Ok(()),
    }
}

/// Raises the high-water mark of `name` to `version`; never lowers it. The caller holds the
/// voice's lock, so two installs cannot interleave their read and write.
fn raise_high_water(voices_dir: &Path, name: &str, version: u64) -> Result<(), RegistryError> {
    if read_high_water(voices_dir, name)?.is_some_and(|h| h >= version) {
        return Ok(());
    }
    Ok(signet_io::write_atomic_private(
        &high_water_file(voices_dir, name),
        format!("{version}\n").as_bytes(),
    )?)
}

/// Removes the installed voice `name`; [`RegistryError::NotInstalled`] if there is none.
pub fn remove_bundle(voices_dir: &Path, name: &VoiceName) -> Result<(), RegistryError> {
    let name = name.as_str();
    let dest = voices_dir.join(name);
    if fs::symlink_metadata(voices_dir).is_err() {
        return Err(RegistryError::NotInstalled {
            name: name.to_owned(),
        });
    }
    let _lock = lock(voices_dir, name)?;
    recover(voices_dir, name)?;
    match fs::symlink_metadata(&dest) {
        Ok(m) if m.file_type().is_dir() => {}
        _ => {
            return Err(RegistryError::NotInstalled {
                name: name.to_owned(),
            })
        }
    }
    // Renamed away first, so the voice disappears at once even if deleting takes a while.
    let old = sibling(voices_dir, name, "removed");
    fs::rename(&dest, &old).map_err(|e| RegistryError::io(&dest, e))?;
    sync_dir(voices_dir)?;
    fs::remove_dir_all(&old).map_err(|e| RegistryError::io(&old, e))
}

/// An exclusive advisory lock on `.<name>.lock`, released when the file is dropped.
fn lock(voices_dir: &Path, name: &str) -> Result<File, RegistryError> {
    lock_file(&voices_dir.join(format!(".{name}.lock")))
}

/// An exclusive advisory lock on the file `path` (created if missing), released on drop.
pub(crate) fn lock_file(path: &Path) -> Result<File, RegistryError> {
    let path = path.to_owned();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| RegistryError::io(&path, e))?;
    lock_exclusive(&file).map_err(|e| RegistryError::io(&path, e))?;
    Ok(file)
}

#[cfg(unix)]
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive).map_err(Into::into)
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &File) -> std::io::Result<()> {
    // No advisory lock here; installs still write to a fresh temporary folder and swap it in.
    Ok(())
}

/// Undoes what a crashed install left: stray temporary copies are removed; if the bundle is
/// missing but an old copy was set aside, it is moved back.
fn recover(voices_dir: &Path, name: &str) -> Result<(), RegistryError> {
    let dest = voices_dir.join(name);
    let mut old = Vec::new();
    for entry in fs::read_dir(voices_dir).map_err(|e| RegistryError::io(voices_dir, e))? {
        let entry = entry.map_err(|e| RegistryError::io(voices_dir, e))?;
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        // Exactly this voice's leftovers: voice names cannot contain the separator, so
        // `.x+tmp-...` is never another voice's (`x.tmp-a`'s are `.x.tmp-a+tmp-...`).
        match signet_io::sibling_kind(n, name) {
            Some("tmp" | "removed") => {
                let _ = fs::remove_dir_all(entry.path());
            }
            Some("old") => old.push(entry.path()),
            _ => {}
        }
    }
    old.sort();
    let mut old = old.into_iter();
    if fs::symlink_metadata(&dest).is_err() {
        if let Some(back) = old.next() {
            fs::rename(&back, &dest).map_err(|e| RegistryError::io(&back, e))?;
        }
    }
    for stale in old {
        let _ = fs::remove_dir_all(stale);
    }
    Ok(())
}

/// Version and exact manifest bytes of the installed bundle, if one is there and its manifest
/// parses. (It is not trusted for anything but the rollback check.)
fn installed_manifest(dest: &Path) -> Result<Option<(u64, Vec<u8>)>, RegistryError> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RegistryError::io(dest, e)),
        Ok(m) if !m.file_type().is_dir() => {
            return Err(RegistryError::AlreadyExists {
                path: dest.to_owned(),
            })
        }
        Ok(_) => {}
    }
    let Ok(bytes) = read_regular(dest, MANIFEST_FILE, MAX_MANIFEST_LEN, None) else {
        return Ok(None);
    };
    Ok(parse_manifest(&bytes).ok().map(|m| (m.version, bytes)))
}

fn write_copy(tmp: &Path, bundle: &VerifiedBundle) -> Result<(), RegistryError> {
    for (name, bytes) in bundle.files() {
        write_new_synced(&tmp.join(name), bytes)?;
    }
    write_new_synced(&tmp.join(MANIFEST_FILE), bundle.manifest_bytes())?;
    write_new_synced(&tmp.join(SIGNATURE_FILE), bundle.envelope_bytes())?;
    Ok(sync_dir(tmp)?)
}

/// Puts `tmp` at `dest`: an atomic exchange where the system has one, else two renames.
fn swap_in(tmp: &Path, dest: &Path, voices_dir: &Path, name: &str) -> Result<(), RegistryError> {
    if fs::symlink_metadata(dest).is_err() {
        fs::rename(tmp, dest).map_err(|e| RegistryError::io(dest, e))?;
        return Ok(sync_dir(voices_dir)?);
    }
    if exchange(tmp, dest) {
        sync_dir(voices_dir)?;
        // `tmp` now holds the old bundle.
        let _ = fs::remove_dir_all(tmp);
        return Ok(());
    }
    let old = sibling(voices_dir, name, "old");
    fs::rename(dest, &old).map_err(|e| RegistryError::io(dest, e))?;
    if let Err(e) = fs::rename(tmp, dest) {
        let _ = fs::rename(&old, dest);
        return Err(RegistryError::io(dest, e));
    }
    sync_dir(voices_dir)?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Atomically exchanges two directory entries; false where the system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::test_support::{sample_manifest, sample_weights};
    use crate::{write_bundle, WEIGHTS_FILE};
    use signet_sign::{Role, SecretKey};

    #[test]
    fn crashed_install_leftovers_are_recovered() {
        let tmp = tempfile::tempdir().unwrap();
        let key = SecretKey::from_seed(&[4; 32]);
        let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
        let voices = tmp.path().join("voices");
        let src = tmp.path().join("src");
        write_bundle(
            &src,
            sample_manifest(),
            &[(WEIGHTS_FILE, &sample_weights())],
            &key,
        )
        .unwrap();
        install_bundle(&src, &voices, &trust).unwrap();
        // Simulate a crash between the two renames of the fallback path, plus a stray copy.
        let dest = voices.join("test-voice");
        fs::rename(&dest, voices.join(".test-voice+old-0001")).unwrap();
        fs::create_dir(voices.join(".test-voice+tmp-0002")).unwrap();
        let _lock = lock(&voices, "test-voice").unwrap();
        recover(&voices, "test-voice").unwrap();
        assert!(verify_bundle_dir(&dest, &trust).is_ok());
        let mut names: Vec<_> = fs::read_dir(&voices)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".test-voice+highest", ".test-voice.lock", "test-voice"]
        );
    }

    #[test]
    fn cleanup_leaves_other_voices_temporary_folders_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let voices = tmp.path().join("voices");
        fs::create_dir_all(&voices).unwrap();
        // Leftovers of voices whose valid names start with `x.`; under the old naming
        // (`.<name>.tmp-*`) each of them matched the prefix `.x.tmp-` or `.x.old-`.
        let theirs = [
            sibling(&voices, "x.tmp-a", "tmp"),
            sibling(&voices, "x.old-a", "old"),
            sibling(&voices, "x.removed-a", "removed"),
            voices.join(".x.tmp-a"),
            voices.join(".x.old-a"),
        ];
        for d in &theirs {
            fs::create_dir(d).unwrap();
        }
        let mine = sibling(&voices, "x", "tmp");
        fs::create_dir(&mine).unwrap();
        let _lock = lock(&voices, "x").unwrap();
        recover(&voices, "x").unwrap();
        assert!(!mine.exists());
        for d in &theirs {
            assert!(d.exists(), "{} was removed", d.display());
        }
        assert!(
            !voices.join("x").exists(),
            "another voice's old copy was moved in"
        );
    }
}
