//! Signature attacks on bundles: each test names the attack, expects the specific error, and
//! checks that no `VerifiedBundle` came out (verification returns it or an error, nothing else).

use std::fs;

use proptest::prelude::*;
use signet_registry::{
    add_bundle_signature, verify_bundle_dir, write_bundle, RegistryError, Role, SecretKey,
    TrustStore, TrustedKey, VoiceName, SIGNATURE_FILE, WEIGHTS_FILE,
};
use signet_sign::{Envelope, RejectedSignature, Rejection, SignError};

use crate::common::{fixture, key, manifest, tamper_manifest, trust, verify, weights};

fn rejected(e: RegistryError) -> (usize, Vec<RejectedSignature>) {
    match e {
        RegistryError::Sign(SignError::SignatureThreshold {
            role: Role::BundleSigner,
            valid,
            rejected,
            ..
        }) => (valid, rejected),
        e => panic!("expected SignatureThreshold, got: {e}"),
    }
}

#[test]
fn tampered_manifest() {
    let fx = fixture();
    tamper_manifest(&fx.dir, "noise_w = 0.8", "noise_w = 0.9");
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::ManifestNotSigned { signature_file }) if signature_file == SIGNATURE_FILE
    ));
}

/// Rewrites the envelope's payload (base64) to `payload`, keeping its signatures.
fn swap_payload(dir: &std::path::Path, payload: &[u8]) {
    let path = dir.join(SIGNATURE_FILE);
    let json = fs::read_to_string(&path).unwrap();
    let old = json
        .split("\"payload\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    fs::write(&path, json.replace(old, &base64_encode(payload))).unwrap();
}

#[test]
fn tampered_manifest_and_envelope_payload() {
    // The attacker rewrites the signed payload too: the signature no longer verifies.
    let fx = fixture();
    tamper_manifest(&fx.dir, "noise_w = 0.8", "noise_w = 0.9");
    swap_payload(&fx.dir, &fs::read(fx.dir.join("manifest.toml")).unwrap());
    let (valid, rej) = rejected(verify(&fx.dir).unwrap_err());
    assert_eq!(valid, 0);
    assert_eq!(rej[0].key_id, key().key_id());
    assert_eq!(rej[0].reason, Rejection::BadSignature);
}

#[test]
fn signature_by_untrusted_key() {
    let fx = fixture();
    let stranger = SecretKey::from_seed(&[7; 32]);
    crate::common::sign_manifest(&fx.dir, &stranger);
    let (valid, rej) = rejected(verify(&fx.dir).unwrap_err());
    assert_eq!(valid, 0);
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].key_id, stranger.key_id());
    assert_eq!(rej[0].reason, Rejection::UntrustedKey);
}

#[test]
fn signature_by_key_trusted_for_another_role() {
    let fx = fixture();
    let trust = TrustStore::with_key(key().public(), Role::IndexRoot);
    let (_, rej) = rejected(verify_bundle_dir(&fx.dir, &trust).unwrap_err());
    assert_eq!(rej[0].reason, Rejection::WrongRole);
}

#[test]
fn signature_by_revoked_key() {
    let fx = fixture();
    let mut trust = trust();
    trust.revoke(key().key_id());
    let (_, rej) = rejected(verify_bundle_dir(&fx.dir, &trust).unwrap_err());
    assert_eq!(rej[0].key_id, key().key_id());
    assert_eq!(rej[0].reason, Rejection::Revoked);
}

#[test]
fn signature_by_expired_key() {
    let fx = fixture();
    let mut trust = TrustStore::new();
    let mut entry = TrustedKey::new(key().public(), Role::BundleSigner);
    entry.expires = Some(1_600_000_000);
    trust.add(entry).unwrap();
    let (_, rej) = rejected(verify_bundle_dir(&fx.dir, &trust).unwrap_err());
    assert_eq!(rej[0].reason, Rejection::Expired { at: 1_600_000_000 });
    // The message names the check, the key id and the expiry.
    let msg = verify_bundle_dir(&fx.dir, &trust).unwrap_err().to_string();
    assert!(
        msg.contains(key().key_id().as_str()) && msg.contains("2020-09-13"),
        "{msg}"
    );
}

#[test]
fn duplicate_signatures_below_threshold() {
    let fx = fixture();
    let mut trust = trust();
    trust.set_threshold(Role::BundleSigner, 2).unwrap();
    // The same key's signature twice is still one key.
    let path = fx.dir.join(SIGNATURE_FILE);
    let mut env = Envelope::from_json(&fs::read(&path).unwrap()).unwrap();
    let again = env.signatures()[0].clone();
    env.push_signature(again).unwrap();
    fs::write(&path, env.to_json().unwrap()).unwrap();
    let (valid, rej) = rejected(verify_bundle_dir(&fx.dir, &trust).unwrap_err());
    assert_eq!(valid, 1);
    assert_eq!(rej[0].reason, Rejection::Duplicate);
    // The writer refuses to add the same key again.
    assert!(matches!(
        add_bundle_signature(&fx.dir, &key()),
        Err(RegistryError::Sign(SignError::EnvelopeInvalid { .. }))
    ));
}

#[test]
fn threshold_of_two_distinct_keys_is_met() {
    let fx = fixture();
    let second = SecretKey::from_seed(&[8; 32]);
    let mut trust = trust();
    trust
        .add(TrustedKey::new(second.public(), Role::BundleSigner))
        .unwrap();
    trust.set_threshold(Role::BundleSigner, 2).unwrap();
    assert!(matches!(
        verify_bundle_dir(&fx.dir, &trust),
        Err(RegistryError::Sign(SignError::SignatureThreshold {
            valid: 1,
            threshold: 2,
            ..
        }))
    ));
    add_bundle_signature(&fx.dir, &second).unwrap();
    let bundle = verify_bundle_dir(&fx.dir, &trust).unwrap();
    assert_eq!(bundle.signers().len(), 2);
}

#[test]
fn truncated_signature() {
    let fx = fixture();
    let path = fx.dir.join(SIGNATURE_FILE);
    let json = fs::read_to_string(&path).unwrap();
    let sig = json
        .split("\"sig\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    // 63 bytes instead of 64, still valid base64.
    let raw = base64_decode(sig);
    let short = base64_encode(&raw[..63]);
    fs::write(&path, json.replace(sig, &short)).unwrap();
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::Sign(SignError::EnvelopeInvalid { reason })) if reason.contains("64")
    ));
    // Every truncation of the envelope file is refused.
    let bytes = json.as_bytes();
    for n in 0..bytes.len() - 1 {
        fs::write(&path, &bytes[..n]).unwrap();
        assert!(verify(&fx.dir).is_err(), "{n}");
    }
}

#[test]
fn missing_signature_file() {
    let fx = fixture();
    fs::remove_file(fx.dir.join(SIGNATURE_FILE)).unwrap();
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::MissingFile { name }) if name == SIGNATURE_FILE
    ));
}

#[cfg(unix)]
#[test]
fn symlinked_signature_file() {
    let fx = fixture();
    let real = fx.outside.join("sig.json");
    fs::rename(fx.dir.join(SIGNATURE_FILE), &real).unwrap();
    std::os::unix::fs::symlink(&real, fx.dir.join(SIGNATURE_FILE)).unwrap();
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::NotARegularFile { name }) if name == SIGNATURE_FILE
    ));
}

#[test]
fn envelope_of_another_payload_type() {
    let fx = fixture();
    let text = fs::read(fx.dir.join("manifest.toml")).unwrap();
    let env = Envelope::sign("application/vnd.signet.index+json", text, &key()).unwrap();
    fs::write(fx.dir.join(SIGNATURE_FILE), env.to_json().unwrap()).unwrap();
    assert!(matches!(
        verify(&fx.dir),
        Err(RegistryError::Sign(SignError::PayloadTypeMismatch { .. }))
    ));
}

#[test]
fn empty_trust_store_refuses_everything() {
    let fx = fixture();
    let (valid, rej) = rejected(verify_bundle_dir(&fx.dir, &TrustStore::new()).unwrap_err());
    assert_eq!((valid, rej[0].reason.clone()), (0, Rejection::UntrustedKey));
}

fn base64_decode(s: &str) -> Vec<u8> {
    // Minimal decoder for the test (standard alphabet, padded).
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

fn base64_encode(b: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Sign → verify round-trips for arbitrary manifests (name, version, licence, speakers).
    #[test]
    fn sign_verify_round_trip(
        name in "[a-z][a-z0-9_-]{0,30}",
        version in 1u64..u64::MAX / 2,
        license in "[A-Za-z0-9.+-]{1,20}",
        rate in 8000u32..48000,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        let mut m = manifest();
        m.name = VoiceName::new(&name).unwrap();
        m.version = version;
        m.license = license;
        m.voice.sample_rate = rate;
        write_bundle(&dir, m.clone(), &[(WEIGHTS_FILE, &weights())], &key()).unwrap();
        let bundle = verify(&dir).unwrap();
        m.files = bundle.manifest().files.clone();
        prop_assert_eq!(bundle.manifest(), &m);
        prop_assert_eq!(bundle.signers(), &[key().key_id()][..]);
    }

    /// Changing any single signed byte (of the manifest, consistently in `manifest.toml` and the
    /// envelope, or of the signature itself) is detected.
    #[test]
    fn any_single_byte_change_is_detected(
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        in_signature in any::<bool>(),
    ) {
        let fx = fixture();
        if in_signature {
            let path = fx.dir.join(SIGNATURE_FILE);
            let json = fs::read_to_string(&path).unwrap();
            let sig = json.split("\"sig\": \"").nth(1).unwrap().split('"').next().unwrap();
            let mut raw = base64_decode(sig);
            let i = pos.index(raw.len());
            raw[i] ^= flip;
            fs::write(&path, json.replace(sig, &base64_encode(&raw))).unwrap();
        } else {
            let path = fx.dir.join("manifest.toml");
            let mut bytes = fs::read(&path).unwrap();
            let i = pos.index(bytes.len());
            bytes[i] ^= flip;
            fs::write(&path, &bytes).unwrap();
            // Without the matching envelope change it is a plain mismatch ...
            prop_assert!(
                matches!(verify(&fx.dir), Err(RegistryError::ManifestNotSigned { .. })),
                "manifest byte {} changed by {:#x}", i, flip
            );
            // ... and with it, the signature fails.
            swap_payload(&fx.dir, &bytes);
        }
        let (valid, rej) = rejected(verify(&fx.dir).unwrap_err());
        prop_assert_eq!(valid, 0);
        prop_assert_eq!(rej[0].reason.clone(), Rejection::BadSignature);
    }
}

/// Writes the fuzz seeds for the envelope target when `SIGNET_WRITE_FUZZ_SEEDS` names a folder
/// (a developer step; the committed seeds are in `fuzz/corpus/envelope/`). Always checks that
/// the seeds parse.
#[test]
fn envelope_fuzz_seeds_parse() {
    let fx = fixture();
    let mut two = Envelope::from_json(&fs::read(fx.dir.join(SIGNATURE_FILE)).unwrap()).unwrap();
    two.add_signature(&SecretKey::from_seed(&[3; 32])).unwrap();
    let seeds = [
        (
            "bundle_one_signature",
            fs::read(fx.dir.join(SIGNATURE_FILE)).unwrap(),
        ),
        ("two_signatures", two.to_json().unwrap()),
    ];
    for (_, bytes) in &seeds {
        assert!(Envelope::from_json(bytes).is_ok());
    }
    if let Some(dir) = std::env::var_os("SIGNET_WRITE_FUZZ_SEEDS") {
        for (name, bytes) in &seeds {
            fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
        }
    }
}
