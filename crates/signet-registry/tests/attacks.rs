//! Each test damages a valid bundle in one way and expects the specific error.

use std::fs;

use proptest::prelude::*;
use signet_registry::{Manifest, RegistryError, WEIGHTS_FILE};

use crate::common::{edit_manifest, fixture, key, sign_manifest, verify};

fn err(dir: &std::path::Path) -> RegistryError {
    verify(dir).expect_err("damaged bundle was accepted")
}

#[test]
fn tampered_weight_byte() {
    let fx = fixture();
    let path = fx.dir.join(WEIGHTS_FILE);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();
    match err(&fx.dir) {
        RegistryError::DigestMismatch {
            file,
            expected,
            found,
        } => {
            assert_eq!(file, WEIGHTS_FILE);
            assert_ne!(expected, found);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn truncated_and_extended_weights() {
    let fx = fixture();
    let path = fx.dir.join(WEIGHTS_FILE);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::SizeMismatch { .. }));
    let mut longer = bytes.clone();
    longer.push(0);
    fs::write(&path, &longer).unwrap();
    match err(&fx.dir) {
        RegistryError::SizeMismatch {
            expected, found, ..
        } => assert_eq!(found, expected + 1),
        e => panic!("{e}"),
    }
}

#[test]
fn extra_file() {
    let fx = fixture();
    fs::write(fx.dir.join("payload.pkl"), b"x").unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::UnlistedFile { name } if name == "payload.pkl"));
}

#[test]
fn extra_directory_and_hidden_file() {
    let fx = fixture();
    fs::create_dir(fx.dir.join("sub")).unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::UnlistedFile { name } if name == "sub"));
    fs::remove_dir(fx.dir.join("sub")).unwrap();
    fs::write(fx.dir.join(".hidden"), b"").unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::UnlistedFile { name } if name == ".hidden"));
}

#[test]
fn renamed_file() {
    let fx = fixture();
    fs::rename(
        fx.dir.join(WEIGHTS_FILE),
        fx.dir.join("weights2.safetensors"),
    )
    .unwrap();
    assert!(
        matches!(err(&fx.dir), RegistryError::UnlistedFile { name } if name == "weights2.safetensors")
    );
}

#[test]
fn missing_file() {
    let fx = fixture();
    fs::remove_file(fx.dir.join(WEIGHTS_FILE)).unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::MissingFile { name } if name == WEIGHTS_FILE));
    fs::remove_file(fx.dir.join("manifest.toml")).unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::MissingFile { name } if name == "manifest.toml"));
}

#[test]
fn path_traversal_names() {
    for bad in [
        "../x",
        "/etc/passwd",
        "a/b",
        "..",
        ".",
        "",
        "a\\\\b",
        "x\\u0000",
    ] {
        let fx = fixture();
        edit_manifest(
            &fx.dir,
            "name = \"weights.safetensors\"",
            &format!("name = \"{bad}\""),
        );
        let e = err(&fx.dir);
        assert!(
            matches!(e, RegistryError::BadFileName { .. }),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn manifest_listing_itself_or_a_file_twice() {
    let fx = fixture();
    edit_manifest(
        &fx.dir,
        "name = \"weights.safetensors\"",
        "name = \"manifest.toml\"",
    );
    assert!(matches!(err(&fx.dir), RegistryError::BadFileName { .. }));

    let fx = fixture();
    let text = fs::read_to_string(fx.dir.join("manifest.toml")).unwrap();
    let start = text.find("[[files]]").unwrap();
    let entry = text[start..].to_owned();
    fs::write(fx.dir.join("manifest.toml"), format!("{text}\n{entry}")).unwrap();
    sign_manifest(&fx.dir, &key());
    assert!(matches!(err(&fx.dir), RegistryError::DuplicateFile { .. }));
}

#[cfg(unix)]
#[test]
fn symlinked_weights() {
    let fx = fixture();
    let real = fx.outside.join("elsewhere.safetensors");
    fs::rename(fx.dir.join(WEIGHTS_FILE), &real).unwrap();
    std::os::unix::fs::symlink(&real, fx.dir.join(WEIGHTS_FILE)).unwrap();
    assert!(
        matches!(err(&fx.dir), RegistryError::NotARegularFile { name } if name == WEIGHTS_FILE)
    );
}

#[cfg(unix)]
#[test]
fn symlinked_manifest() {
    let fx = fixture();
    let real = fx.outside.join("manifest-elsewhere.toml");
    fs::rename(fx.dir.join("manifest.toml"), &real).unwrap();
    std::os::unix::fs::symlink(&real, fx.dir.join("manifest.toml")).unwrap();
    assert!(matches!(
        err(&fx.dir),
        RegistryError::NotARegularFile { .. }
    ));
}

#[test]
fn manifest_over_cap() {
    let fx = fixture();
    let path = fx.dir.join("manifest.toml");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push('#');
    text.push_str(&"x".repeat(1024 * 1024));
    fs::write(&path, text).unwrap();
    assert!(matches!(err(&fx.dir), RegistryError::TooLarge { limit, .. } if limit == 1024 * 1024));
}

#[test]
fn declared_size_over_cap() {
    let fx = fixture();
    let text = fs::read_to_string(fx.dir.join("manifest.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("size = "))
        .unwrap()
        .to_owned();
    edit_manifest(&fx.dir, &line, "size = 5000000000");
    assert!(matches!(err(&fx.dir), RegistryError::TooLarge { .. }));
}

#[test]
fn unknown_manifest_key() {
    let fx = fixture();
    edit_manifest(&fx.dir, "[voice]", "[voice]\nexecute = \"rm -rf /\"");
    assert!(
        matches!(err(&fx.dir), RegistryError::ManifestSyntax { reason } if reason.contains("execute"))
    );
    let fx = fixture();
    edit_manifest(&fx.dir, "format = ", "hooks = 1\nformat = ");
    assert!(matches!(err(&fx.dir), RegistryError::ManifestSyntax { .. }));
}

#[test]
fn wrong_format_and_values() {
    let fx = fixture();
    edit_manifest(&fx.dir, "signet-bundle/1", "signet-bundle/2");
    assert!(
        matches!(err(&fx.dir), RegistryError::UnsupportedFormat { found, .. } if found == "signet-bundle/2")
    );
    let fx = fixture();
    edit_manifest(&fx.dir, "sample_rate = 22050", "sample_rate = \"22050\"");
    assert!(matches!(err(&fx.dir), RegistryError::ManifestSyntax { .. }));
    let fx = fixture();
    edit_manifest(&fx.dir, "sample_rate = 22050", "sample_rate = 0");
    assert!(matches!(
        err(&fx.dir),
        RegistryError::ManifestInvalid {
            field: "voice.sample_rate",
            ..
        }
    ));
    let fx = fixture();
    edit_manifest(&fx.dir, "bob = 1", "bob = 7");
    assert!(matches!(
        err(&fx.dir),
        RegistryError::ManifestInvalid {
            field: "voice.speaker_id_map",
            ..
        }
    ));
}

#[test]
fn uppercase_or_short_digest() {
    let fx = fixture();
    let text = fs::read_to_string(fx.dir.join("manifest.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("sha256 = "))
        .unwrap()
        .to_owned();
    edit_manifest(
        &fx.dir,
        &line,
        &line.to_uppercase().replace("SHA256", "sha256"),
    );
    assert!(matches!(
        err(&fx.dir),
        RegistryError::ManifestInvalid {
            field: "files.sha256",
            ..
        }
    ));
}

#[test]
fn weights_not_listed() {
    let fx = fixture();
    fs::rename(fx.dir.join(WEIGHTS_FILE), fx.dir.join("other.bin")).unwrap();
    edit_manifest(
        &fx.dir,
        "name = \"weights.safetensors\"",
        "name = \"other.bin\"",
    );
    assert!(matches!(
        err(&fx.dir),
        RegistryError::ManifestInvalid { field: "files", .. }
    ));
}

#[test]
fn not_a_directory() {
    let fx = fixture();
    assert!(matches!(
        verify(&fx.dir.join(WEIGHTS_FILE)),
        Err(RegistryError::Io { .. })
    ));
    assert!(matches!(
        verify(&fx.dir.join("nope")),
        Err(RegistryError::Io { .. })
    ));
}

#[test]
fn malformed_weights_with_matching_digest_fail_at_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    signet_registry::write_bundle(
        &dir,
        crate::common::manifest(),
        &[(WEIGHTS_FILE, b"\x02\0\0\0\0\0\0\0{}trailing")],
        &key(),
    )
    .unwrap();
    let bundle = verify(&dir).unwrap();
    assert!(matches!(
        bundle.weights(),
        Err(RegistryError::SafeTensors { .. })
    ));
}

#[test]
fn every_manifest_truncation_is_refused() {
    let fx = fixture();
    let path = fx.dir.join("manifest.toml");
    let text = fs::read(&path).unwrap();
    assert_eq!(text.last(), Some(&b'\n'));
    // Only dropping the final newline leaves the same document.
    // Each truncation is signed by the trusted key, so the parser itself must refuse it.
    for len in 0..text.len() - 1 {
        fs::write(&path, &text[..len]).unwrap();
        sign_manifest(&fx.dir, &key());
        assert!(
            verify(&fx.dir).is_err(),
            "truncation to {len} bytes accepted"
        );
    }
    fs::write(&path, &text).unwrap();
    sign_manifest(&fx.dir, &key());
    assert!(verify(&fx.dir).is_ok());
    assert!(Manifest::parse(&text).is_ok());
}

proptest! {
    #[test]
    fn arbitrary_manifest_text_never_panics(s in "\\PC{0,400}") {
        let _ = Manifest::parse(s.as_bytes());
    }

    #[test]
    fn arbitrary_manifest_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Manifest::parse(&b);
    }
}

#[test]
fn escape_sequence_in_an_envelope_field_name_is_shown_escaped() {
    let fx = fixture();
    let path = fx.dir.join(signet_registry::SIGNATURE_FILE);
    let json = fs::read_to_string(&path).unwrap();
    // An unknown field whose name retitles and clears a terminal if printed raw.
    let evil = json.replacen('{', "{\"\\u001b]0;owned\\u0007\\u001b[2J\": 1,", 1);
    fs::write(&path, evil).unwrap();
    let e = err(&fx.dir);
    let text = e.to_string();
    assert!(text.contains("unknown field"), "{text}");
    assert!(
        !text.chars().any(char::is_control),
        "raw control in {text:?}"
    );
    assert!(text.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{text}");
}

#[test]
fn escape_sequence_in_a_manifest_field_name_is_shown_escaped() {
    let fx = fixture();
    let path = fx.dir.join("manifest.toml");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("\"\\u001b[2J\" = 1\n{text}")).unwrap();
    sign_manifest(&fx.dir, &key());
    let text = err(&fx.dir).to_string();
    assert!(
        !text.chars().any(char::is_control),
        "raw control in {text:?}"
    );
    assert!(text.contains("\\u{1b}[2J"), "{text}");
}
