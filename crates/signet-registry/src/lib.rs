//! Signet's voice bundles: the bundle format, verified loading, the local store, the signed
//! remote index and signed releases.
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
//! The crate stands on two lower layers: `signet-sign` (keys, DSSE envelopes, the trust store
//! and the one threshold check) and `signet-io` (the one capped, no-follow file reader). Its own
//! modules are layered too, each importing only from the ones before it:
//!
//! 1. [`VoiceName`] and the plain-name rule, and [`RegistryError`];
//! 2. the format: the manifest ([`Manifest`]) and the safetensors codec ([`SafeTensors`]);
//! 3. bundles: [`verify_bundle_dir`], [`write_bundle`];
//! 4. the local [`store`]: the home folder's layout ([`store::Store`], [`store::default_home`]),
//!    install, verify and remove;
//! 5. the signed remote [`index`] (fetching it over the network is `signet-fetch`'s job) and
//!    signed [`release`] folders.
//!
//! The signing types that appear in this crate's own signatures ([`TrustStore`], [`SecretKey`],
//! [`Role`], [`KeyId`], [`TrustedKey`], [`SignError`]) are re-exported; everything else about
//! signing is used from `signet-sign` directly.
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

mod bundle;
mod error;
pub mod index;
mod manifest;
mod name;
pub mod release;
mod safetensors;
pub mod store;

pub use bundle::{
    add_bundle_signature, replace_bundle, verify_bundle_dir, write_bundle, write_imported_bundle,
    BundleLexicon, ExistingBundle, ImportedBundle, VerifiedBundle, MAX_FILE_LEN, MAX_MANIFEST_LEN,
    MAX_SIGNATURE_FILE_LEN,
};
pub use error::RegistryError;
pub use manifest::{
    lexicon_language_fits, Architecture, CoquiText, FileEntry, InferenceDefaults, LexiconFormat,
    LexiconRef, Manifest, MelSpec, PhonemeSpec, Source, VocoderRef, VoiceInfo, BUNDLE_FORMAT,
    MANIFEST_FILE, MANIFEST_PAYLOAD_TYPE, MAX_HOP_LENGTH, MAX_LEXICON_LEN, SIGNATURE_FILE,
    WEIGHTS_FILE,
};
pub use name::{VoiceName, MAX_NAME_LEN};
pub use safetensors::{write_safetensors, Dtype, SafeTensors, TensorView, MAX_HEADER_LEN};
pub use signet_sign::{KeyId, Role, SecretKey, SignError, TrustStore, TrustedKey};
pub use store::{install_bundle, install_verified, remove_bundle, verify_installed, Installed};

/// Harness entry points for `cargo fuzz` (built with `--cfg fuzzing` only).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::SystemTime;

    use crate::index::{open_index, Index, IndexState};
    use crate::{RegistryError, SafeTensors, TrustStore};

    /// Parses manifest bytes the way [`crate::verify_bundle_dir`] does: it must never panic.
    pub fn fuzz_parse_manifest(bytes: &[u8]) -> Result<(), RegistryError> {
        crate::manifest::parse_manifest(bytes).map(drop)
    }

    /// Parses a safetensors file the way the registry does: it must never panic, hang or
    /// allocate beyond the input's size. Returns the number of tensors on success.
    pub fn fuzz_parse_safetensors(bytes: &[u8]) -> Result<usize, RegistryError> {
        let st = SafeTensors::parse(bytes)?;
        for name in st.names() {
            let _ = st.get(name);
        }
        Ok(st.len())
    }

    /// Parses an index envelope and payload the way a client does: it must never panic.
    pub fn fuzz_parse_index(bytes: &[u8]) {
        let _ = Index::parse(bytes);
        let _ = open_index(
            bytes,
            &TrustStore::new(),
            &IndexState::default(),
            SystemTime::now(),
        );
    }
}

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
            name: VoiceName::new("test-voice").unwrap(),
            version: 1,
            license: "CC0-1.0".to_owned(),
            voice: VoiceInfo {
                language: "en_US".to_owned(),
                quality: Some("medium".to_owned()),
                sample_rate: 22050,
                num_speakers: 1,
                speaker_id_map: BTreeMap::new(),
                language_id_map: Default::default(),
            },
            phonemes: PhonemeSpec {
                kind: "espeak".to_owned(),
                espeak_voice: Some("en-us".to_owned()),
                id_map: BTreeMap::from([("a".to_owned(), vec![1])]),
                coqui: None,
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
            lexicon: None,
            vocoder: None,
            mel: None,
            files: Vec::new(),
        }
    }
}
