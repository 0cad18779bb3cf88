//! Signet's voice bundles: manifests, digests, signatures, trust store, verified loading.
//!
//! A voice bundle is a directory holding `manifest.toml`, its signature envelope
//! `manifest.dsse.json` and the files the manifest lists (today `weights.safetensors`).
//! [`verify_bundle_dir`] is the single verification function: it checks the signature threshold
//! of the [`TrustStore`] over the exact manifest bytes first, enforces size caps before reading,
//! parses the manifest strictly, refuses unlisted, renamed, symlinked or oddly named files, and
//! checks each file's size and SHA-256 on the very bytes it keeps. Only it can produce a
//! [`VerifiedBundle`], whose [`weights`](VerifiedBundle::weights) are then parsed by a strict
//! safetensors reader. [`write_bundle`] and [`write_safetensors`] produce signed bundles.
//!
//! The signing primitives are public for other signed artefacts (releases, indexes): [`keys`]
//! (ed25519 [`SecretKey`], [`PublicKey`], [`KeyId`]), [`envelope`] ([`Envelope::sign`],
//! [`Envelope::verify`]: DSSE pre-authentication encoding, threshold over distinct trusted keys)
//! and [`trust`] ([`TrustStore`] with roles, expiry, revocation and thresholds). [`release`]
//! signs and verifies release folders (`SHA256SUMS` under an envelope) with them.
//! [`index`] is the signed remote index (TUF-style version, expiry and threshold); fetching it
//! over the network is `signet-fetch`'s job.
//!
//! ```no_run
//! # fn main() -> Result<(), signet_registry::RegistryError> {
//! use std::path::Path;
//! let trust = signet_registry::TrustStore::load(Path::new("trust.toml"))?;
//! let bundle = signet_registry::verify_bundle_dir(Path::new("voices/en_US-joe-medium"), &trust)?;
//! let weights = bundle.weights()?;
//! println!("{} v{}: {} tensors", bundle.manifest().name, bundle.manifest().version, weights.len());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod b64;
mod bundle;
pub mod envelope;
mod error;
pub mod index;
mod install;
pub mod keys;
mod manifest;
pub mod release;
mod safetensors;
mod time;
pub mod trust;

pub use bundle::{
    add_bundle_signature, fuzz_parse_manifest, replace_bundle, verify_bundle_dir, write_bundle,
    VerifiedBundle, MAX_FILE_LEN, MAX_MANIFEST_LEN, MAX_SIGNATURE_FILE_LEN,
};
pub use envelope::{
    fuzz_parse_envelope, pae, Envelope, RejectedSignature, Rejection, VerifiedPayload,
};
pub use error::RegistryError;
pub use install::{install_bundle, install_verified, remove_bundle, verify_installed, Installed};
pub use keys::{KeyId, PublicKey, SecretKey};
pub use manifest::{
    Architecture, FileEntry, InferenceDefaults, Manifest, PhonemeSpec, Source, VoiceInfo,
    BUNDLE_FORMAT, MANIFEST_FILE, MANIFEST_PAYLOAD_TYPE, SIGNATURE_FILE, WEIGHTS_FILE,
};
pub use safetensors::{
    fuzz_parse_safetensors, write_safetensors, Dtype, SafeTensors, TensorView, MAX_HEADER_LEN,
};
pub use trust::{Role, TrustStore, TrustedKey};

#[cfg(test)]
mod test_support {
    //! Small valid inputs shared by the unit tests.
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    pub(crate) fn sample_weights() -> Vec<u8> {
        let data: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect();
        write_safetensors(&[("enc_p.emb.weight", Dtype::F32, &[3, 4], &data)]).unwrap()
    }

    pub(crate) fn sample_manifest() -> Manifest {
        Manifest {
            format: BUNDLE_FORMAT.to_owned(),
            name: "test-voice".to_owned(),
            version: 1,
            license: "CC0-1.0".to_owned(),
            voice: VoiceInfo {
                language: "en_US".to_owned(),
                quality: Some("medium".to_owned()),
                sample_rate: 22050,
                num_speakers: 1,
                speaker_id_map: BTreeMap::new(),
            },
            phonemes: PhonemeSpec {
                kind: "espeak".to_owned(),
                espeak_voice: Some("en-us".to_owned()),
                id_map: BTreeMap::from([("a".to_owned(), vec![1])]),
            },
            inference: InferenceDefaults {
                noise_scale: 0.667,
                length_scale: 1.0,
                noise_w: 0.8,
            },
            architecture: Architecture {
                kind: "vits".to_owned(),
                config: toml::Table::new(),
            },
            source: None,
            files: Vec::new(),
        }
    }
}
