//! The local store: atomic installs, rollback refusal, concurrency, removal. Every refused
//! install must leave the store exactly as it was.

use std::fs;
use std::path::{Path, PathBuf};

use signet_registry::{
    install_bundle, remove_bundle, verify_installed, write_bundle, RegistryError, SecretKey,
    VoiceName, WEIGHTS_FILE,
};
use signet_sign::SignError;

use crate::common::{fixture, key, manifest, trust, weights};

/// Every entry under `dir`, recursively, with file contents: a snapshot to compare.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.push((p.clone(), Vec::new()));
            out.extend(snapshot(&p));
        } else {
            out.push((p.clone(), fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

fn bundle_with_version(root: &Path, dir: &str, version: u64, weights_fill: f32) -> PathBuf {
    let mut m = manifest();
    m.version = version;
    let data: Vec<u8> = (0..4).flat_map(|_| weights_fill.to_le_bytes()).collect();
    let w = signet_registry::write_safetensors(&[("x", signet_registry::Dtype::F32, &[4], &data)])
        .unwrap();
    let path = root.join(dir);
    write_bundle(&path, m, &[(WEIGHTS_FILE, &w)], &key()).unwrap();
    path
}

#[test]
fn install_verify_remove() {
    let fx = fixture();
    let voices = fx.outside.join("voices");
    let done = install_bundle(&fx.dir, &voices, &trust()).unwrap();
    assert_eq!((done.name.as_str(), done.version), ("en_US-test-medium", 3));
    assert!(!done.unchanged);
    let b = verify_installed(&voices, &vn("en_US-test-medium"), &trust()).unwrap();
    assert_eq!(b.file(WEIGHTS_FILE).unwrap(), weights().as_slice());
    // Installing the identical bundle again changes nothing.
    let again = install_bundle(&fx.dir, &voices, &trust()).unwrap();
    assert!(again.unchanged);
    remove_bundle(&voices, &vn("en_US-test-medium")).unwrap();
    assert!(matches!(
        verify_installed(&voices, &vn("en_US-test-medium"), &trust()),
        Err(RegistryError::NotInstalled { .. })
    ));
    assert!(matches!(
        remove_bundle(&voices, &vn("en_US-test-medium")),
        Err(RegistryError::NotInstalled { .. })
    ));
    // A path cannot even be named: the store takes voice names only.
    assert!(matches!(
        "../etc".parse::<VoiceName>(),
        Err(RegistryError::BadVoiceName { .. })
    ));
}

#[test]
fn rollback_of_bundle_version() {
    let tmp = tempfile::tempdir().unwrap();
    let voices = tmp.path().join("voices");
    let v3 = bundle_with_version(tmp.path(), "v3", 3, 1.0);
    let v2 = bundle_with_version(tmp.path(), "v2", 2, 2.0);
    let v3b = bundle_with_version(tmp.path(), "v3b", 3, 3.0);
    let v4 = bundle_with_version(tmp.path(), "v4", 4, 4.0);
    install_bundle(&v3, &voices, &trust()).unwrap();
    let before = snapshot(&voices);
    assert!(matches!(
        install_bundle(&v2, &voices, &trust()),
        Err(RegistryError::Rollback {
            installed: 3,
            offered: 2,
            ..
        })
    ));
    // Same version, different content: also refused.
    assert!(matches!(
        install_bundle(&v3b, &voices, &trust()),
        Err(RegistryError::Rollback {
            installed: 3,
            offered: 3,
            ..
        })
    ));
    assert_eq!(
        snapshot(&voices),
        before,
        "a refused install changed the store"
    );
    let done = install_bundle(&v4, &voices, &trust()).unwrap();
    assert_eq!((done.previous, done.version), (Some(3), 4));
    assert_eq!(
        verify_installed(&voices, &vn("en_US-test-medium"), &trust())
            .unwrap()
            .manifest()
            .version,
        4
    );
}

#[test]
fn untrusted_bundle_is_not_installed() {
    let fx = fixture();
    let voices = fx.outside.join("voices");
    let stranger = SecretKey::from_seed(&[99; 32]);
    let other = signet_registry::TrustStore::with_key(
        stranger.public(),
        signet_registry::Role::BundleSigner,
    );
    assert!(matches!(
        install_bundle(&fx.dir, &voices, &other),
        Err(RegistryError::Sign(SignError::SignatureThreshold { .. }))
    ));
    assert!(snapshot(&voices).is_empty(), "{:?}", snapshot(&voices));
}

#[test]
fn bundle_moved_under_another_name() {
    let fx = fixture();
    let voices = fx.outside.join("voices");
    install_bundle(&fx.dir, &voices, &trust()).unwrap();
    fs::rename(voices.join("en_US-test-medium"), voices.join("en_US-other")).unwrap();
    assert!(matches!(
        verify_installed(&voices, &vn("en_US-other"), &trust()),
        Err(RegistryError::NameMismatch { expected, found })
            if expected == "en_US-other" && found == "en_US-test-medium"
    ));
}

#[test]
fn concurrent_installs_of_the_same_voice() {
    let tmp = tempfile::tempdir().unwrap();
    let voices = tmp.path().join("voices");
    let sources: Vec<PathBuf> = (1..=6)
        .map(|v| bundle_with_version(tmp.path(), &format!("v{v}"), v, v as f32))
        .collect();
    std::thread::scope(|s| {
        for src in &sources {
            let voices = voices.clone();
            s.spawn(move || {
                // Older versions may lose the race and be refused as rollbacks; nothing else.
                match install_bundle(src, &voices, &trust()) {
                    Ok(_)
                    | Err(RegistryError::Rollback { .. })
                    | Err(RegistryError::RollbackBelowRecord { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            });
        }
    });
    let b = verify_installed(&voices, &vn("en_US-test-medium"), &trust()).unwrap();
    assert_eq!(b.manifest().version, 6);
    let names: Vec<String> = fs::read_dir(&voices)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "leftovers: {names:?}");
    // The record is the highest version, whatever order the installs finished in.
    let record = signet_registry::store::high_water_path(&voices, &vn("en_US-test-medium"));
    assert_eq!(fs::read_to_string(record).unwrap().trim(), "6");
}

#[test]
fn older_signed_bundle_copied_over_the_installed_one_is_refused_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let voices = tmp.path().join("voices");
    let v3 = bundle_with_version(tmp.path(), "v3", 3, 1.0);
    let v4 = bundle_with_version(tmp.path(), "v4", 4, 4.0);
    install_bundle(&v3, &voices, &trust()).unwrap();
    install_bundle(&v4, &voices, &trust()).unwrap();
    // Someone swaps the older, validly signed bundle in by hand.
    let dest = voices.join("en_US-test-medium");
    fs::remove_dir_all(&dest).unwrap();
    fs::create_dir(&dest).unwrap();
    for e in fs::read_dir(&v3).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dest.join(e.file_name())).unwrap();
    }
    let err = verify_installed(&voices, &vn("en_US-test-medium"), &trust()).unwrap_err();
    match &err {
        RegistryError::RollbackBelowRecord {
            highest: 4,
            offered: 3,
            record,
            ..
        } => assert!(err.to_string().contains(&record.display().to_string())),
        other => panic!("{other:?}"),
    }
    // Removing the voice does not forget the record: reinstalling v3 is refused too.
    remove_bundle(&voices, &vn("en_US-test-medium")).unwrap();
    assert!(matches!(
        install_bundle(&v3, &voices, &trust()),
        Err(RegistryError::RollbackBelowRecord { highest: 4, .. })
    ));
    install_bundle(&v4, &voices, &trust()).unwrap();
}

#[test]
fn voice_installed_before_records_were_kept_gets_one_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let voices = tmp.path().join("voices");
    let v4 = bundle_with_version(tmp.path(), "v4", 4, 4.0);
    install_bundle(&v4, &voices, &trust()).unwrap();
    let record = signet_registry::store::high_water_path(&voices, &vn("en_US-test-medium"));
    fs::remove_file(&record).unwrap();
    verify_installed(&voices, &vn("en_US-test-medium"), &trust()).unwrap();
    assert_eq!(fs::read_to_string(&record).unwrap().trim(), "4");
    fs::write(&record, "four").unwrap();
    assert!(matches!(
        verify_installed(&voices, &vn("en_US-test-medium"), &trust()),
        Err(RegistryError::VersionRecordInvalid { .. })
    ));
}

#[cfg(unix)]
#[test]
fn store_folder_and_records_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let voices = tmp.path().join("home/voices");
    let v3 = bundle_with_version(tmp.path(), "v3", 3, 1.0);
    install_bundle(&v3, &voices, &trust()).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&voices), 0o700);
    assert_eq!(mode(&tmp.path().join("home")), 0o700);
    let record = signet_registry::store::high_water_path(&voices, &vn("en_US-test-medium"));
    assert_eq!(mode(&record), 0o600);
}

fn vn(name: &str) -> VoiceName {
    VoiceName::new(name).unwrap()
}
