//! A voice's own pronunciation lexicon: a listed, signed file named by `[lexicon]`, written by
//! the importers' one write path, and refused when stray, tampered, unlisted or too large.

use std::fs;

use signet_registry::{
    write_imported_bundle, BundleLexicon, ExistingBundle, LexiconFormat, Manifest, RegistryError,
    MAX_LEXICON_LEN, WEIGHTS_FILE,
};

use crate::common::{edit_manifest, fixture, key, manifest, verify};

const LEXICON: &str = "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\n";

/// A bundle written by the importers' path, carrying `lexicon`, at `<tmp>/bundle`.
fn imported(tmp: &tempfile::TempDir, lexicon: &BundleLexicon) -> std::path::PathBuf {
    let dir = tmp.path().join("bundle");
    let data: Vec<u8> = (0..8).flat_map(|i| (i as f32).to_le_bytes()).collect();
    write_imported_bundle(
        &dir,
        manifest(),
        &[("dec.conv_pre.bias", &[8], &data)],
        Some(lexicon),
        &key(),
        ExistingBundle::Refuse,
    )
    .unwrap();
    dir
}

fn toml_lexicon() -> BundleLexicon {
    BundleLexicon::new(LexiconFormat::Toml, LEXICON.as_bytes().to_vec(), None)
}

#[test]
fn imported_lexicon_is_listed_signed_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = imported(&tmp, &toml_lexicon());
    let bundle = verify(&dir).unwrap();
    let (entry, bytes) = bundle.lexicon().expect("the bundle's lexicon");
    assert_eq!(entry.file, "lexicon.toml");
    assert_eq!(entry.format, LexiconFormat::Toml);
    assert_eq!(bytes, LEXICON.as_bytes());
    assert!(bundle
        .manifest()
        .files
        .iter()
        .any(|f| f.name == "lexicon.toml"));
    let text = fs::read_to_string(dir.join("manifest.toml")).unwrap();
    assert!(
        text.contains("[lexicon]") && text.contains("format = \"toml\""),
        "{text}"
    );
}

#[test]
fn bundle_without_lexicon_keeps_its_manifest_bytes() {
    // A manifest with no `[lexicon]` serializes without one: bundles signed before the
    // field existed verify unchanged, and a reader sees no lexicon.
    let fx = fixture();
    let bundle = verify(&fx.dir).unwrap();
    assert!(bundle.lexicon().is_none());
    let text = fs::read_to_string(fx.dir.join("manifest.toml")).unwrap();
    assert!(!text.contains("lexicon"), "{text}");
    assert_eq!(Manifest::parse(text.as_bytes()).unwrap().lexicon, None);
}

#[test]
fn stray_lexicon_in_the_bundle_refuses_the_voice() {
    for name in ["lexicon.toml", "lexicon.pls", "names.pls"] {
        let fx = fixture();
        fs::write(fx.dir.join(name), LEXICON).unwrap();
        match verify(&fx.dir).expect_err("a stray lexicon was accepted") {
            RegistryError::UnlistedLexicon { name: found } => assert_eq!(found, name),
            e => panic!("{name}: {e}"),
        }
    }
    // Next to a listed lexicon, a second, unlisted one is refused the same way.
    let tmp = tempfile::tempdir().unwrap();
    let dir = imported(&tmp, &toml_lexicon());
    fs::write(dir.join("lexicon.pls"), "<lexicon/>").unwrap();
    assert!(matches!(
        verify(&dir),
        Err(RegistryError::UnlistedLexicon { .. })
    ));
}

#[test]
fn tampered_lexicon_refuses_the_voice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = imported(&tmp, &toml_lexicon());
    // Same length, other pronunciation: only the digest can tell.
    let tampered = LEXICON.replace("nˈjoʊki", "nˈjoʊko");
    assert_eq!(tampered.len(), LEXICON.len());
    fs::write(dir.join("lexicon.toml"), tampered).unwrap();
    match verify(&dir).expect_err("a tampered lexicon was accepted") {
        RegistryError::DigestMismatch { file, .. } => assert_eq!(file, "lexicon.toml"),
        e => panic!("{e}"),
    }
}

#[test]
fn manifest_lexicon_must_name_a_listed_file() {
    // A trusted signer's manifest naming a lexicon it does not list (so no digest covers
    // it) is invalid, whether or not the file is there.
    let fx = fixture();
    fs::write(fx.dir.join("lexicon.toml"), LEXICON).unwrap();
    edit_manifest(
        &fx.dir,
        "[[files]]",
        "[lexicon]\nfile = \"lexicon.toml\"\nformat = \"toml\"\n\n[[files]]",
    );
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::ManifestInvalid {
            field: "lexicon.file",
            ..
        })
    ));
    // The weights are not a lexicon, and an unknown format or key does not parse.
    let fx = fixture();
    edit_manifest(
        &fx.dir,
        "[[files]]",
        &format!("[lexicon]\nfile = \"{WEIGHTS_FILE}\"\nformat = \"toml\"\n\n[[files]]"),
    );
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::ManifestInvalid {
            field: "lexicon.file",
            ..
        })
    ));
    for bad in [
        "[lexicon]\nfile = \"lexicon.toml\"\nformat = \"xml\"\n",
        "[lexicon]\nfile = \"lexicon.toml\"\nformat = \"toml\"\nurl = \"https://x\"\n",
        "[lexicon]\nfile = \"../lexicon.toml\"\nformat = \"toml\"\n",
    ] {
        let fx = fixture();
        edit_manifest(&fx.dir, "[[files]]", &format!("{bad}\n[[files]]"));
        assert!(
            matches!(
                verify(&fx.dir),
                Err(RegistryError::ManifestSyntax { .. } | RegistryError::BadFileName { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn importer_refuses_a_lexicon_for_another_language_or_over_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let german = BundleLexicon::new(
        LexiconFormat::Pls,
        b"<lexicon xml:lang=\"de-DE\"/>".to_vec(),
        Some("de-DE".into()),
    );
    let data = 1f32.to_le_bytes();
    let write = |lexicon: &BundleLexicon| {
        write_imported_bundle(
            &tmp.path().join("bundle"),
            manifest(),
            &[("dec.conv_pre.bias", &[1], &data)],
            Some(lexicon),
            &key(),
            ExistingBundle::Refuse,
        )
    };
    match write(&german) {
        Err(RegistryError::LexiconLanguage {
            lexicon_language,
            voice_language,
        }) => assert_eq!(
            (lexicon_language.as_str(), voice_language.as_str()),
            ("de-DE", "en_US")
        ),
        other => panic!("{other:?}"),
    }
    let huge = BundleLexicon::new(
        LexiconFormat::Toml,
        vec![b' '; MAX_LEXICON_LEN as usize + 1],
        None,
    );
    assert!(matches!(
        write(&huge),
        Err(RegistryError::TooLarge {
            limit: MAX_LEXICON_LEN,
            ..
        })
    ));
    assert!(!tmp.path().join("bundle").exists(), "nothing is written");
    // "en" serves an en_US voice.
    let english = BundleLexicon::new(
        LexiconFormat::Pls,
        b"<lexicon xml:lang=\"en\"/>".to_vec(),
        Some("en".into()),
    );
    write(&english).unwrap();
    assert_eq!(
        verify(&tmp.path().join("bundle"))
            .unwrap()
            .lexicon()
            .map(|(e, _)| e.file.as_str()),
        Some("lexicon.pls")
    );
}
