//! Signet's voice bundles: manifests, digests, signatures, trust store, verified loading.
//!
//! A voice bundle is a directory holding `manifest.toml` and the files it lists (today
//! `weights.safetensors`). [`verify_bundle_dir`] is the single verification function: it enforces
//! size caps before reading, parses the manifest strictly, refuses unlisted, renamed, symlinked or
//! oddly named files, and checks each file's size and SHA-256 on the very bytes it keeps. Only it
//! can produce a [`VerifiedBundle`], whose [`weights`](VerifiedBundle::weights) are then parsed by
//! a strict safetensors reader. [`write_bundle`] and [`write_safetensors`] produce bundles.
//!
//! ```no_run
//! # fn main() -> Result<(), signet_registry::RegistryError> {
//! let bundle = signet_registry::verify_bundle_dir(std::path::Path::new("voices/en_US-joe-medium"))?;
//! let weights = bundle.weights()?;
//! println!("{} v{}: {} tensors", bundle.manifest().name, bundle.manifest().version, weights.len());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod bundle;
mod error;
mod manifest;
mod safetensors;

pub use bundle::{
    fuzz_parse_manifest, replace_bundle, verify_bundle_dir, write_bundle, VerifiedBundle,
    MAX_FILE_LEN, MAX_MANIFEST_LEN,
};
pub use error::RegistryError;
pub use manifest::{
    Architecture, FileEntry, InferenceDefaults, Manifest, PhonemeSpec, Source, VoiceInfo,
    BUNDLE_FORMAT, MANIFEST_FILE, WEIGHTS_FILE,
};
pub use safetensors::{
    fuzz_parse_safetensors, write_safetensors, Dtype, SafeTensors, TensorView, MAX_HEADER_LEN,
};

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
