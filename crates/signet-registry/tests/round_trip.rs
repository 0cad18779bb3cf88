//! A written bundle verifies and reads back exactly.

use sha2::Digest;
use signet_registry::{replace_bundle, write_bundle, Dtype, RegistryError, WEIGHTS_FILE};

use crate::common::{fixture, key, manifest, verify, weights};

#[test]
fn written_bundle_verifies() {
    let fx = fixture();
    let bundle = verify(&fx.dir).unwrap();
    let mut expected = manifest();
    let m = bundle.manifest();
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].name, WEIGHTS_FILE);
    assert_eq!(m.files[0].size, weights().len() as u64);
    expected.files = m.files.clone();
    assert_eq!(*m, expected);

    let text = std::fs::read(fx.dir.join("manifest.toml")).unwrap();
    let s = std::str::from_utf8(&text).unwrap();
    assert!(s.contains("noise_scale = 0.667\n"), "{s}");
    assert!(s.contains("noise_w = 0.8\n"), "{s}");
    assert_eq!(
        bundle.manifest_sha256(),
        hex::encode(sha2::Sha256::digest(&text))
    );

    let st = bundle.weights().unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(
        st.names().collect::<Vec<_>>(),
        ["dec.conv_pre.bias", "dec.conv_pre.weight"]
    );
    let w = st.get("dec.conv_pre.weight").unwrap();
    assert_eq!(w.dtype, Dtype::F32);
    assert_eq!(w.shape, [4, 2, 3]);
    assert_eq!(w.to_f32_vec().unwrap()[3], 1.5);
    assert_eq!(bundle.file(WEIGHTS_FILE).unwrap(), weights().as_slice());
    assert!(bundle.file("other").is_none());
}

#[test]
fn writer_refuses_existing_target_and_leaves_nothing_behind() {
    let fx = fixture();
    let err = write_bundle(&fx.dir, manifest(), &[(WEIGHTS_FILE, &weights())], &key()).unwrap_err();
    assert!(matches!(err, RegistryError::AlreadyExists { .. }), "{err}");
    let entries: Vec<_> = std::fs::read_dir(&fx.outside).unwrap().collect();
    assert_eq!(entries.len(), 1, "temporary directories left behind");
}

#[test]
fn writer_refuses_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let w = weights();
    for (files, check) in [
        (
            vec![("../x", &w[..]), (WEIGHTS_FILE, &w[..])],
            (|e: &RegistryError| matches!(e, RegistryError::BadFileName { .. }))
                as fn(&RegistryError) -> bool,
        ),
        (
            vec![("manifest.toml", &w[..]), (WEIGHTS_FILE, &w[..])],
            |e| matches!(e, RegistryError::BadFileName { .. }),
        ),
        (vec![(WEIGHTS_FILE, &w[..]), (WEIGHTS_FILE, &w[..])], |e| {
            matches!(e, RegistryError::DuplicateFile { .. })
        }),
        (vec![("other.bin", &w[..])], |e| {
            matches!(e, RegistryError::MissingFile { .. })
        }),
    ] {
        let err = write_bundle(&dir, manifest(), &files, &key()).unwrap_err();
        assert!(check(&err), "{err}");
        assert!(!dir.exists());
    }
    let mut bad = manifest();
    bad.inference.noise_w = f32::NAN;
    let err = write_bundle(&dir, bad, &[(WEIGHTS_FILE, &w)], &key()).unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::ManifestInvalid {
                field: "inference.noise_w",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn extra_listed_files_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("b");
    write_bundle(
        &dir,
        manifest(),
        &[(WEIGHTS_FILE, &weights()), ("LICENSE", b"CC0")],
        &key(),
    )
    .unwrap();
    let bundle = verify(&dir).unwrap();
    assert_eq!(bundle.file("LICENSE").unwrap(), b"CC0");
    let names: Vec<_> = bundle
        .manifest()
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["LICENSE", WEIGHTS_FILE]);
}

#[test]
fn replace_swaps_an_existing_bundle() {
    let fx = fixture();
    let mut newer = manifest();
    newer.version = 4;
    replace_bundle(
        &fx.dir,
        newer.clone(),
        &[(WEIGHTS_FILE, &weights())],
        &key(),
    )
    .unwrap();
    assert_eq!(verify(&fx.dir).unwrap().manifest().version, 4);
    // Also works when nothing is there yet.
    let fresh = fx.outside.join("fresh");
    replace_bundle(&fresh, newer, &[(WEIGHTS_FILE, &weights())], &key()).unwrap();
    assert!(verify(&fresh).is_ok());
    let mut names: Vec<_> = std::fs::read_dir(&fx.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["bundle", "fresh"],
        "leftover temporary or old directories"
    );
}

#[test]
fn replace_refuses_what_is_not_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("notes.txt"), b"keep me").unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"keep me").unwrap();
    for target in [&plain, &file] {
        let err =
            replace_bundle(target, manifest(), &[(WEIGHTS_FILE, &weights())], &key()).unwrap_err();
        assert!(matches!(err, RegistryError::AlreadyExists { .. }), "{err}");
    }
    assert_eq!(std::fs::read(plain.join("notes.txt")).unwrap(), b"keep me");
    #[cfg(unix)]
    {
        let fx = fixture();
        let link = fx.outside.join("link");
        std::os::unix::fs::symlink(&fx.dir, &link).unwrap();
        let err =
            replace_bundle(&link, manifest(), &[(WEIGHTS_FILE, &weights())], &key()).unwrap_err();
        assert!(matches!(err, RegistryError::AlreadyExists { .. }), "{err}");
    }
}
