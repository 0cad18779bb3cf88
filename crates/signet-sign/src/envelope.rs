//! Signed envelopes (DSSE-style) and the one threshold check.
//!
//! An [`Envelope`] carries a payload type, the exact payload bytes and one or more signatures,
//! each `{keyid, sig}`. A signature is ed25519 over the pre-authentication encoding
//! ([`pae`]) `DSSEv1 <len(type)> <type> <len(body)> <body>`, so the signed bytes are the payload
//! as stored, with no canonicalization step and no way to move a signature to another payload
//! type. The JSON form is DSSE's: `{"payloadType", "payload" (base64), "signatures": [{"keyid",
//! "sig" (base64)}]}`, parsed strictly (size cap, unknown or repeated fields refused, trailing
//! data refused, at most [`MAX_SIGNATURES`] signatures, each exactly 64 bytes).
//!
//! [`Envelope::verify`] is the only place where signatures are counted, for bundles, indexes and
//! releases alike. It counts **distinct** key ids that the trust store lists for the wanted
//! role, that are neither revoked nor expired, and whose signature verifies (strict ed25519);
//! a second signature by a key id that already counted counts nothing, and a signature that
//! does not verify never takes a key's place (junk placed first under a trusted key id cannot
//! hide that key's real signature). Fewer than the role's threshold is
//! [`SignError::SignatureThreshold`], which lists every signature that did not count and
//! why.
//!
//! ```
//! # fn main() -> Result<(), signet_sign::SignError> {
//! use signet_sign::{Envelope, Role, SecretKey, TrustStore};
//! let key = SecretKey::generate()?;
//! let trust = TrustStore::with_key(key.public(), Role::ReleaseSigner);
//! let envelope = Envelope::sign("application/vnd.example+json", b"{}".to_vec(), &key)?;
//! let json = envelope.to_json()?;
//! let received = Envelope::from_json(&json)?;
//! let verified = received.verify("application/vnd.example+json", &trust, Role::ReleaseSigner)?;
//! assert_eq!(verified.payload(), b"{}");
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;

use ed25519_dalek::Signature as DalekSignature;
use serde::{Deserialize, Serialize};

use crate::error::SignError;
use crate::keys::{PublicKey, SecretKey};
use crate::trust::TrustStore;
use crate::types::{KeyId, RejectedSignature, Rejection, Role};

/// Largest accepted envelope JSON, in bytes.
pub const MAX_ENVELOPE_LEN: u64 = 16 * 1024 * 1024;

/// Most signatures an envelope may carry.
pub const MAX_SIGNATURES: usize = 32;

/// Longest accepted payload type, in bytes.
pub const MAX_PAYLOAD_TYPE_LEN: usize = 128;

/// The DSSE pre-authentication encoding: `DSSEv1 <len(type)> <type> <len(body)> <body>`, lengths
/// as ASCII decimal, separated by single spaces.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// A detached signature by `key` over `payload` of type `payload_type`: ed25519 over the same
/// pre-authentication encoding ([`pae`]) an envelope's signatures cover, for artefacts that
/// carry one signature next to their payload in their own format (the content credentials of a
/// WAV file). No trust store is involved: the caller decides what the signer's key is worth.
pub fn sign_detached(payload_type: &str, payload: &[u8], key: &SecretKey) -> [u8; 64] {
    key.sign_raw(&pae(payload_type, payload))
}

/// Whether `signature` is `public`'s signature over `payload` of type `payload_type`
/// ([`sign_detached`]; strict ed25519 verification). This checks one signature against one
/// key and counts nothing; signatures that must meet a trust store's threshold go through
/// [`Envelope::verify`].
pub fn verify_detached(
    payload_type: &str,
    payload: &[u8],
    public: &PublicKey,
    signature: &[u8; 64],
) -> bool {
    let sig = DalekSignature::from_bytes(signature);
    public
        .0
        .verify_strict(&pae(payload_type, payload), &sig)
        .is_ok()
}

/// One signature: who (key id) and the 64 signature bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    /// Id of the key that made it.
    pub key_id: KeyId,
    /// The ed25519 signature over [`pae`] of the envelope's type and payload.
    pub sig: [u8; 64],
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A payload, its type and its signatures. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<Signature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeJson {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<SignatureJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureJson {
    keyid: String,
    sig: String,
}

/// Proof that an envelope met its role's threshold: the payload and the keys that counted.
#[derive(Debug)]
pub struct VerifiedPayload<'a> {
    payload: &'a [u8],
    signers: Vec<KeyId>,
}

impl<'a> VerifiedPayload<'a> {
    /// The verified payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Distinct key ids whose signatures counted, sorted.
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }
}

impl Envelope {
    /// An envelope over `payload`, signed by `key`.
    pub fn sign(payload_type: &str, payload: Vec<u8>, key: &SecretKey) -> Result<Self, SignError> {
        check_payload_type(payload_type)?;
        let mut env = Self {
            payload_type: payload_type.to_owned(),
            payload,
            signatures: Vec::new(),
        };
        env.add_signature(key)?;
        Ok(env)
    }

    /// Adds a signature by `key` (a key that already signed is refused; it would count once).
    pub fn add_signature(&mut self, key: &SecretKey) -> Result<(), SignError> {
        let key_id = key.key_id();
        if self.signatures.iter().any(|s| s.key_id == key_id) {
            return Err(SignError::EnvelopeInvalid {
                reason: format!("key {key_id} already signed this envelope"),
            });
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(SignError::EnvelopeInvalid {
                reason: format!("more than {MAX_SIGNATURES} signatures"),
            });
        }
        let sig = key.sign_raw(&pae(&self.payload_type, &self.payload));
        self.signatures.push(Signature { key_id, sig });
        Ok(())
    }

    /// The payload type.
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The payload bytes, NOT verified: use [`verify`](Self::verify) to get bytes to act on.
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Appends a signature as is, without checking it (for building test fixtures; verification
    /// decides what counts).
    pub fn push_signature(&mut self, signature: Signature) -> Result<(), SignError> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(SignError::EnvelopeInvalid {
                reason: format!("more than {MAX_SIGNATURES} signatures"),
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Strictly parses DSSE JSON (see the module docs).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SignError> {
        let invalid = |reason: String| SignError::EnvelopeInvalid { reason };
        if bytes.len() as u64 > MAX_ENVELOPE_LEN {
            return Err(SignError::TooLarge {
                what: "signature envelope".to_owned(),
                limit: MAX_ENVELOPE_LEN,
            });
        }
        let json: EnvelopeJson = serde_json::from_slice(bytes).map_err(|e| invalid(escaped(&e)))?;
        check_payload_type(&json.payload_type)?;
        if json.signatures.is_empty() {
            return Err(invalid("no signatures".to_owned()));
        }
        if json.signatures.len() > MAX_SIGNATURES {
            return Err(invalid(format!(
                "{} signatures, at most {MAX_SIGNATURES} are accepted",
                json.signatures.len()
            )));
        }
        let payload =
            crate::b64::decode(&json.payload).map_err(|e| invalid(format!("payload: {e}")))?;
        let mut signatures = Vec::with_capacity(json.signatures.len());
        for (i, s) in json.signatures.iter().enumerate() {
            let key_id =
                KeyId::parse(&s.keyid).map_err(|e| invalid(format!("signature {i}: {e}")))?;
            let raw =
                crate::b64::decode(&s.sig).map_err(|e| invalid(format!("signature {i}: {e}")))?;
            let sig: [u8; 64] = raw.as_slice().try_into().map_err(|_| {
                invalid(format!(
                    "signature {i} (key {key_id}) is {} bytes, an ed25519 signature is 64",
                    raw.len()
                ))
            })?;
            signatures.push(Signature { key_id, sig });
        }
        Ok(Self {
            payload_type: json.payload_type,
            payload,
            signatures,
        })
    }

    /// The DSSE JSON form (pretty-printed, newline-terminated).
    pub fn to_json(&self) -> Result<Vec<u8>, SignError> {
        let json = EnvelopeJson {
            payload_type: self.payload_type.clone(),
            payload: crate::b64::encode(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| SignatureJson {
                    keyid: s.key_id.to_string(),
                    sig: crate::b64::encode(&s.sig),
                })
                .collect(),
        };
        let mut out = serde_json::to_vec_pretty(&json).map_err(|e| SignError::Serialize {
            reason: e.to_string(),
        })?;
        out.push(b'\n');
        Ok(out)
    }

    /// Checks the payload type and that at least the trust store's threshold for `role` of
    /// distinct trusted, unrevoked, unexpired keys signed this payload. Uses the current time.
    pub fn verify(
        &self,
        payload_type: &str,
        trust: &TrustStore,
        role: Role,
    ) -> Result<VerifiedPayload<'_>, SignError> {
        self.verify_at(payload_type, trust, role, SystemTime::now())
    }

    /// [`verify`](Self::verify) as of `now` (expiry is judged at that instant).
    pub fn verify_at(
        &self,
        payload_type: &str,
        trust: &TrustStore,
        role: Role,
        now: SystemTime,
    ) -> Result<VerifiedPayload<'_>, SignError> {
        if self.payload_type != payload_type {
            return Err(SignError::PayloadTypeMismatch {
                expected: payload_type.to_owned(),
                found: self.payload_type.clone(),
            });
        }
        let now = crate::time::unix_seconds(now);
        let threshold = trust.threshold(role);
        let message = pae(&self.payload_type, &self.payload);
        // Only keys whose signature verified are remembered: a junk signature that claims a
        // trusted key id must not make that key's real signature, later in the list, a
        // "duplicate" (it would hide a valid signature and fail the threshold).
        let mut valid = BTreeSet::new();
        let mut rejected = Vec::new();
        for s in &self.signatures {
            let reject = |reason| RejectedSignature {
                key_id: s.key_id.clone(),
                reason,
            };
            if valid.contains(&s.key_id) {
                rejected.push(reject(Rejection::Duplicate));
                continue;
            }
            if trust.is_revoked(&s.key_id) {
                rejected.push(reject(Rejection::Revoked));
                continue;
            }
            let mut entries = trust.entries(&s.key_id).peekable();
            if entries.peek().is_none() {
                rejected.push(reject(Rejection::UntrustedKey));
                continue;
            }
            let Some(entry) = entries.find(|k| k.role == role) else {
                rejected.push(reject(Rejection::WrongRole));
                continue;
            };
            if let Some(at) = entry.expires.filter(|&at| at <= now) {
                rejected.push(reject(Rejection::Expired { at }));
                continue;
            }
            let sig = DalekSignature::from_bytes(&s.sig);
            if entry.public_key.0.verify_strict(&message, &sig).is_err() {
                rejected.push(reject(Rejection::BadSignature));
                continue;
            }
            valid.insert(s.key_id.clone());
        }
        if valid.len() < threshold as usize {
            return Err(SignError::SignatureThreshold {
                role,
                threshold,
                valid: valid.len(),
                rejected,
            });
        }
        Ok(VerifiedPayload {
            payload: &self.payload,
            signers: valid.into_iter().collect(),
        })
    }
}

/// A parser's message with control characters escaped: serde quotes unknown field names, which
/// come from the (not yet verified) file.
pub(crate) fn escaped(e: &impl fmt::Display) -> String {
    signet_io::escape_controls(&e.to_string()).into_owned()
}

fn check_payload_type(t: &str) -> Result<(), SignError> {
    if t.is_empty() || t.len() > MAX_PAYLOAD_TYPE_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SignError::EnvelopeInvalid {
            reason: format!(
                "payload type must be 1 to {MAX_PAYLOAD_TYPE_LEN} printable ASCII characters"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;
    use crate::trust::TrustedKey;

    const T: &str = "application/vnd.signet.test";

    #[test]
    fn detached_signature_verifies_only_for_its_key_type_and_payload() {
        let a = SecretKey::from_seed(&[1; 32]);
        let b = SecretKey::from_seed(&[2; 32]);
        let sig = sign_detached(T, b"claim", &a);
        assert!(verify_detached(T, b"claim", &a.public(), &sig));
        assert!(!verify_detached(T, b"claim", &b.public(), &sig));
        assert!(!verify_detached(T, b"claim!", &a.public(), &sig));
        assert!(!verify_detached(
            "application/other",
            b"claim",
            &a.public(),
            &sig
        ));
        let mut bent = sig;
        bent[0] ^= 1;
        assert!(!verify_detached(T, b"claim", &a.public(), &bent));
    }

    #[test]
    fn pae_matches_the_dsse_definition() {
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab");
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    fn threshold_err(r: Result<VerifiedPayload<'_>, SignError>) -> (usize, Vec<RejectedSignature>) {
        match r {
            Err(SignError::SignatureThreshold {
                valid, rejected, ..
            }) => (valid, rejected),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counts_distinct_trusted_keys_only() {
        let a = SecretKey::from_seed(&[1; 32]);
        let b = SecretKey::from_seed(&[2; 32]);
        let c = SecretKey::from_seed(&[3; 32]);
        let mut trust = TrustStore::with_key(a.public(), Role::BundleSigner);
        trust
            .add(TrustedKey::new(b.public(), Role::BundleSigner))
            .unwrap();
        trust
            .add(TrustedKey::new(c.public(), Role::IndexRoot))
            .unwrap();
        trust.set_threshold(Role::BundleSigner, 2).unwrap();

        let mut env = Envelope::sign(T, b"payload".to_vec(), &a).unwrap();
        // a twice: one distinct key, below 2.
        let dup = env.signatures()[0].clone();
        env.push_signature(dup).unwrap();
        let (valid, rej) = threshold_err(env.verify(T, &trust, Role::BundleSigner));
        assert_eq!(valid, 1);
        assert_eq!(rej[0].reason, Rejection::Duplicate);
        // c is trusted, but for another role.
        env.add_signature(&c).unwrap();
        let (_, rej) = threshold_err(env.verify(T, &trust, Role::BundleSigner));
        assert_eq!(rej[1].reason, Rejection::WrongRole);
        env.add_signature(&b).unwrap();
        let ok = env.verify(T, &trust, Role::BundleSigner).unwrap();
        assert_eq!(ok.signers().len(), 2);
        // Round trip through JSON keeps everything.
        let back = Envelope::from_json(&env.to_json().unwrap()).unwrap();
        assert_eq!(back, env);
        // The type is bound: same bytes under another type do not verify.
        assert!(matches!(
            env.verify("other", &trust, Role::BundleSigner),
            Err(SignError::PayloadTypeMismatch { .. })
        ));
    }

    #[test]
    fn junk_signature_first_does_not_hide_the_real_one() {
        let a = SecretKey::from_seed(&[1; 32]);
        let b = SecretKey::from_seed(&[2; 32]);
        let mut trust = TrustStore::with_key(a.public(), Role::BundleSigner);
        trust
            .add(TrustedKey::new(b.public(), Role::BundleSigner))
            .unwrap();
        trust.set_threshold(Role::BundleSigner, 2).unwrap();
        let real = Envelope::sign(T, b"payload".to_vec(), &a).unwrap();
        // Junk under a's key id first, then a's real signature, then b's.
        let mut env = Envelope {
            payload_type: T.to_owned(),
            payload: b"payload".to_vec(),
            signatures: vec![Signature {
                key_id: a.key_id(),
                sig: [0x55; 64],
            }],
        };
        env.push_signature(real.signatures()[0].clone()).unwrap();
        env.add_signature(&b).unwrap();
        let ok = env.verify(T, &trust, Role::BundleSigner).unwrap();
        assert_eq!(ok.signers().len(), 2);
        // A second valid signature by a still counts once.
        env.push_signature(real.signatures()[0].clone()).unwrap();
        let mut one = trust.clone();
        one.set_threshold(Role::BundleSigner, 3).unwrap();
        let (valid, rej) = threshold_err(env.verify(T, &one, Role::BundleSigner));
        assert_eq!(valid, 2);
        assert_eq!(rej[0].reason, Rejection::BadSignature);
        assert_eq!(rej[1].reason, Rejection::Duplicate);
    }

    #[test]
    fn revoked_expired_and_bad_signatures_do_not_count() {
        let a = SecretKey::from_seed(&[1; 32]);
        let mut trust = TrustStore::new();
        let mut entry = TrustedKey::new(a.public(), Role::BundleSigner);
        entry.expires = Some(1_000);
        trust.add(entry).unwrap();
        let env = Envelope::sign(T, b"x".to_vec(), &a).unwrap();
        let at = |s| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert!(env
            .verify_at(T, &trust, Role::BundleSigner, at(999))
            .is_ok());
        let (_, rej) = threshold_err(env.verify_at(T, &trust, Role::BundleSigner, at(1_000)));
        assert_eq!(rej[0].reason, Rejection::Expired { at: 1_000 });

        let mut fresh = TrustStore::with_key(a.public(), Role::BundleSigner);
        assert!(env.verify(T, &fresh, Role::BundleSigner).is_ok());
        fresh.revoke(a.key_id());
        let (_, rej) = threshold_err(env.verify(T, &fresh, Role::BundleSigner));
        assert_eq!(rej[0].reason, Rejection::Revoked);

        let trust = TrustStore::with_key(a.public(), Role::BundleSigner);
        let mut forged = env.clone();
        forged.payload = b"y".to_vec();
        let (_, rej) = threshold_err(forged.verify(T, &trust, Role::BundleSigner));
        assert_eq!(rej[0].reason, Rejection::BadSignature);
        let (_, rej) = threshold_err(env.verify(T, &TrustStore::new(), Role::BundleSigner));
        assert_eq!(rej[0].reason, Rejection::UntrustedKey);
    }

    #[test]
    fn strict_json() {
        let a = SecretKey::from_seed(&[1; 32]);
        let env = Envelope::sign(T, b"x".to_vec(), &a).unwrap();
        let json = String::from_utf8(env.to_json().unwrap()).unwrap();
        let bad = [
            json.replace("\"payload\":", "\"extra\": 1, \"payload\":"),
            format!("{json} {{}}"),
            json.replace(&a.key_id().to_string(), "abc"),
            json.replace("\"signatures\": [", "\"signatures\": [], \"x\": ["),
        ];
        for b in bad {
            assert!(
                matches!(
                    Envelope::from_json(b.as_bytes()),
                    Err(SignError::EnvelopeInvalid { .. })
                ),
                "{b}"
            );
        }
        // Every truncation of a valid envelope is refused without a panic.
        let bytes = json.as_bytes();
        for n in 0..bytes.len() - 1 {
            assert!(Envelope::from_json(&bytes[..n]).is_err(), "{n}");
        }
    }
}
