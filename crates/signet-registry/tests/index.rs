//! The signed index without a network: publishing, strict parsing, threshold, expiry (freeze)
//! and version (rollback) checks. The HTTPS client's attacks are in signet-fetch's tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signet_registry::index::{
    accept_index, open_index, open_index_with_states, publish_index, Index, IndexState,
    IndexStates, INDEX_PAYLOAD_TYPE,
};
use signet_registry::{RegistryError, Role, SecretKey, TrustedKey, VoiceName};
use signet_sign::{Envelope, SignError};

use crate::common::{fixture, trust};

fn root() -> SecretKey {
    SecretKey::from_seed(&[77; 32])
}

fn trust_with_root() -> signet_registry::TrustStore {
    let mut t = trust();
    t.add(TrustedKey::new(root().public(), Role::IndexRoot))
        .unwrap();
    t
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const NOW: u64 = 1_800_000_000;

/// A published index over the fixture's bundle folder.
fn published(version: u64) -> (Vec<u8>, crate::common::Fixture) {
    let fx = fixture();
    let bytes = publish_index(
        &fx.outside,
        &trust_with_root(),
        version,
        NOW as i64 + 3600,
        &[&root()],
    )
    .unwrap();
    (bytes, fx)
}

#[test]
fn published_index_opens_and_lists_every_file() {
    let (bytes, _fx) = published(3);
    let v = open_index(&bytes, &trust_with_root(), &IndexState::default(), at(NOW)).unwrap();
    let entry = v.index().entry(&vn("en_US-test-medium")).unwrap();
    let names: Vec<&str> = entry.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["manifest.toml", "manifest.dsse.json", "weights.safetensors"]
    );
    assert_eq!(entry.url, "bundle/");
    assert_eq!(accept_index(&v).version, 3);
}

#[test]
fn rollback_of_the_index_version() {
    let (v3, _a) = published(3);
    let (v2, _b) = published(2);
    let state = accept_index(
        &open_index(&v3, &trust_with_root(), &IndexState::default(), at(NOW)).unwrap(),
    );
    assert!(matches!(
        open_index(&v2, &trust_with_root(), &state, at(NOW)),
        Err(RegistryError::IndexRollback {
            seen: 3,
            offered: 2
        })
    ));
    // Same version, other content: equivocation, refused the same way.
    let mut other = state.clone();
    other.digest = "0".repeat(64);
    assert!(matches!(
        open_index(&v3, &trust_with_root(), &other, at(NOW)),
        Err(RegistryError::IndexRollback {
            seen: 3,
            offered: 3
        })
    ));
}

#[test]
fn expired_index_freeze() {
    let (bytes, _fx) = published(1);
    assert!(matches!(
        open_index(
            &bytes,
            &trust_with_root(),
            &IndexState::default(),
            at(NOW + 3600)
        ),
        Err(RegistryError::IndexExpired { version: 1, .. })
    ));
}

#[test]
fn index_threshold_counts_index_root_keys_only() {
    let (bytes, _fx) = published(1);
    let mut t = trust_with_root();
    t.set_threshold(Role::IndexRoot, 2).unwrap();
    assert!(matches!(
        open_index(&bytes, &t, &IndexState::default(), at(NOW)),
        Err(RegistryError::Sign(SignError::SignatureThreshold {
            role: Role::IndexRoot,
            valid: 1,
            threshold: 2,
            ..
        }))
    ));
}

/// Re-signs a modified payload with the trusted root, so only the payload checks can refuse it.
fn resigned(bytes: &[u8], edit: impl Fn(String) -> String) -> Vec<u8> {
    let env = Envelope::from_json(bytes).unwrap();
    let payload = edit(String::from_utf8(env.unverified_payload().to_vec()).unwrap());
    Envelope::sign(INDEX_PAYLOAD_TYPE, payload.into_bytes(), &root())
        .unwrap()
        .to_json()
        .unwrap()
}

#[test]
fn strict_index_payload() {
    let (bytes, _fx) = published(1);
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "unknown field",
            Box::new(|s: String| s.replacen("\"version\"", "\"hook\": 1, \"version\"", 1)),
        ),
        (
            "absolute url",
            Box::new(|s: String| s.replace("\"bundle/\"", "\"https://evil.example/\"")),
        ),
        (
            "traversal url",
            Box::new(|s: String| s.replace("\"bundle/\"", "\"../bundle/\"")),
        ),
        (
            "traversal file",
            Box::new(|s: String| s.replace("\"weights.safetensors\"", "\"../w\"")),
        ),
        (
            "format",
            Box::new(|s: String| s.replace("signet-index/1", "signet-index/2")),
        ),
        (
            "size sum",
            Box::new(|s: String| s.replacen("\"size\": ", "\"size\": 1", 1)),
        ),
        ("trailing data", Box::new(|s: String| format!("{s} {{}}"))),
        (
            "traversal name",
            Box::new(|s: String| s.replace("\"en_US-test-medium\"", "\"../x\"")),
        ),
        (
            "empty name",
            Box::new(|s: String| s.replace("\"en_US-test-medium\"", "\"\"")),
        ),
        (
            "name of 129 characters",
            Box::new(|s: String| {
                s.replace("\"en_US-test-medium\"", &format!("\"{}\"", "x".repeat(129)))
            }),
        ),
        (
            "control character in name",
            Box::new(|s: String| s.replace("\"en_US-test-medium\"", "\"en_US\\u0007\"")),
        ),
    ];
    for (what, edit) in cases {
        let before = String::from_utf8(
            Envelope::from_json(&bytes)
                .unwrap()
                .unverified_payload()
                .to_vec(),
        )
        .unwrap();
        assert_ne!(
            edit(before.clone()),
            before,
            "{what}: the edit changed nothing"
        );
        let forged = resigned(&bytes, edit);
        match open_index(&forged, &trust_with_root(), &IndexState::default(), at(NOW)) {
            Err(RegistryError::IndexInvalid { .. } | RegistryError::BadFileName { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    // Every truncation of the payload, signed, is refused without a panic.
    let env = Envelope::from_json(&bytes).unwrap();
    let payload = env.unverified_payload();
    for n in 0..payload.len() {
        assert!(Index::parse(&payload[..n]).is_err(), "{n}");
    }
}

/// Writes the index fuzz target's seeds when `SIGNET_WRITE_FUZZ_SEEDS` names a folder (the
/// committed ones are in `fuzz/corpus/index/`); always checks that the seed parses.
#[test]
fn index_fuzz_seed_parses() {
    let (bytes, _fx) = published(1);
    assert!(Envelope::from_json(&bytes).is_ok());
    if let Some(dir) = std::env::var_os("SIGNET_WRITE_FUZZ_SEEDS") {
        std::fs::write(std::path::Path::new(&dir).join("one_bundle"), &bytes).unwrap();
    }
}

fn vn(name: &str) -> VoiceName {
    VoiceName::new(name).unwrap()
}

#[test]
fn index_states_are_raised_never_lowered_by_concurrent_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let states = IndexStates::new(tmp.path().join("index-state"));
    let fixtures: Vec<_> = (1..=8).map(published).collect();
    // Every install opened its index before any finished: all pass the rollback check.
    let opened: Vec<_> = fixtures
        .iter()
        .map(|(bytes, _)| {
            open_index_with_states(bytes, &trust_with_root(), &states, at(NOW)).unwrap()
        })
        .collect();
    assert_eq!(opened[0].signers(), &[root().key_id()]);
    std::thread::scope(|s| {
        for v in opened.iter().rev() {
            let states = &states;
            s.spawn(move || states.record(v).unwrap());
        }
    });
    assert_eq!(states.highest(&[root().key_id()]).unwrap().version, 8);
    // Now an older index is refused, whatever URL it came from: the state is the key's.
    match open_index_with_states(&fixtures[6].0, &trust_with_root(), &states, at(NOW)) {
        Err(RegistryError::IndexRollback {
            seen: 8,
            offered: 7,
        }) => {}
        other => panic!("{other:?}"),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(states.path(&root().key_id()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
