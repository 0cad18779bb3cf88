//! Imports Piper voices (ONNX parsed as data) into Signet bundles.
//!
//! A Piper voice is an ONNX export of a VITS model plus a JSON config. The importer never runs
//! the ONNX graph: it decodes the protobuf with a small strict reader ([`onnx`]), names every
//! initializer after the module parameter it is (by the graph's node names, not by file order),
//! infers the architecture's hyper-parameters from tensor shapes and node attributes, validates
//! them and checks the complete parameter set against the VITS schema of `signet-schema` (the
//! same tensor list the model code loads by), reads the JSON config with types, and writes
//! a bundle (`weights.safetensors`, all F32, `manifest.toml` and its signature by the importer's
//! key) with [`signet_registry::write_bundle`], which it then verifies with
//! [`signet_registry::verify_bundle_dir`] against a trust store holding that key alone.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! let importer_key = signet_registry::SecretKey::load(Path::new("keys/local-importer.key"))?;
//! let report = signet_piper::import_piper(
//!     Path::new("en_US-joe-medium.onnx"),
//!     None, // en_US-joe-medium.onnx.json
//!     Path::new("voices/en_US-joe-medium"),
//!     None, // name: the file stem
//!     &importer_key,
//! )?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
mod infer;
mod mapping;
pub mod onnx;
mod proto;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use signet_registry::{
    write_imported_bundle, Architecture, InferenceDefaults, Manifest, PhonemeSpec, RegistryError,
    SecretKey, Source, VoiceInfo, VoiceName, BUNDLE_FORMAT,
};
use signet_schema::ArchitectureSchema;

pub use error::PiperError;
/// What to do when the output directory already exists (shared by every importer).
pub use signet_registry::ExistingBundle;
/// A lexicon for the bundle, and its format (shared by every importer).
pub use signet_registry::{BundleLexicon, LexiconFormat};
pub use signet_schema::VitsConfig;

/// Default cap on the ONNX file size (2 GiB).
pub const DEFAULT_MAX_ONNX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Default cap on the JSON config size (8 MiB).
pub const DEFAULT_MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// Options of [`import_piper_with`]. Start from [`ImportOptions::default`] and set fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Voice name; defaults to the ONNX file stem (`en_US-joe-medium`).
    pub name: Option<String>,
    /// SPDX licence of the voice; defaults to the config's `license` key, else the licence of a
    /// known voice recognised by its SHA-256 (see [`KNOWN_VOICES`]), else `unknown`.
    pub license: Option<String>,
    /// Bundle version written to the manifest (default 1).
    pub version: u64,
    /// Largest ONNX file read, in bytes.
    pub max_onnx_bytes: u64,
    /// Largest JSON config read, in bytes.
    pub max_config_bytes: u64,
    /// Whether an existing bundle at the output directory may be replaced.
    pub existing: ExistingBundle,
    /// A pronunciation lexicon to carry in the bundle as a listed, signed file (checked by
    /// the caller with the text frontend's reader; see [`BundleLexicon`]).
    pub lexicon: Option<BundleLexicon>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            name: None,
            license: None,
            version: 1,
            max_onnx_bytes: DEFAULT_MAX_ONNX_BYTES,
            max_config_bytes: DEFAULT_MAX_CONFIG_BYTES,
            existing: ExistingBundle::Refuse,
            lexicon: None,
        }
    }
}

/// What an import produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportReport {
    /// Voice name written to the manifest.
    pub name: String,
    /// The bundle directory.
    pub bundle_dir: PathBuf,
    /// Tensors in `weights.safetensors`.
    pub tensors: usize,
    /// Scalar parameters in those tensors.
    pub parameters: u64,
    /// Size of `weights.safetensors`, in bytes.
    pub bytes: u64,
    /// Training-only tensors that were present in the ONNX file and left out.
    pub dropped_tensors: usize,
    /// Graph constants (shapes, axes, scalars) that were skipped.
    pub skipped_constants: usize,
    /// The inferred architecture.
    pub config: VitsConfig,
    /// SHA-256 of the written `manifest.toml`.
    pub manifest_sha256: String,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} tensors, {} parameters, {} bytes of weights in {}",
            self.name,
            self.tensors,
            self.parameters,
            self.bytes,
            self.bundle_dir.display()
        )
    }
}

/// Imports the Piper voice `onnx` (with its JSON `config`, by default `<onnx>.json`) into a new
/// bundle directory `out_dir` (the bundle itself, not its parent), which must not exist yet.
/// `name` defaults to the ONNX file stem. The manifest is signed by `signer` (the local
/// importer's key; a loader trusts the bundle only if its trust store trusts that key). Use
/// [`import_piper_with`] to replace an existing bundle, set the licence or change the size caps.
pub fn import_piper(
    onnx: &Path,
    config: Option<&Path>,
    out_dir: &Path,
    name: Option<&str>,
    signer: &SecretKey,
) -> Result<ImportReport, PiperError> {
    let options = ImportOptions {
        name: name.map(str::to_owned),
        ..ImportOptions::default()
    };
    import_piper_with(onnx, config, out_dir, &options, signer)
}

/// [`import_piper`] with explicit [`ImportOptions`].
pub fn import_piper_with(
    onnx: &Path,
    config: Option<&Path>,
    out_dir: &Path,
    options: &ImportOptions,
    signer: &SecretKey,
) -> Result<ImportReport, PiperError> {
    let config_path = match config {
        Some(p) => p.to_owned(),
        None => {
            let mut p = onnx.as_os_str().to_owned();
            p.push(".json");
            PathBuf::from(p)
        }
    };
    let name = match &options.name {
        Some(n) => n.clone(),
        None => onnx
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| PiperError::BadName {
                name: onnx.display().to_string(),
                reason: "cannot derive a name from the file name; pass one",
            })?,
    };
    let name = check_name(&name)?;

    let config_bytes = read_capped(&config_path, options.max_config_bytes)?;
    let piper = config::parse_config(&config_bytes)?;
    let onnx_bytes = read_capped(onnx, options.max_onnx_bytes)?;

    let model = onnx::parse_model(&onnx_bytes)?;
    let extracted = mapping::extract(&model.graph)?;
    let vits = extracted.config.get().clone();
    cross_check(&piper, &vits)?;

    let parameters = extracted
        .params
        .values()
        .map(|p| p.data.len() as u64 / 4)
        .sum();

    let onnx_sha256 = hex::encode(Sha256::digest(&onnx_bytes));
    let license = options
        .license
        .clone()
        .or(piper.license.clone())
        .or_else(|| known_license(&onnx_sha256).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let language = piper
        .language
        .clone()
        .or_else(|| language_from_name(name.as_str()))
        .unwrap_or_else(|| "und".to_owned());
    let file = onnx
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: name.clone(),
        version: options.version,
        license,
        voice: VoiceInfo {
            language,
            quality: piper.quality.clone(),
            sample_rate: piper.sample_rate,
            num_speakers: piper.num_speakers,
            speaker_id_map: piper.speaker_id_map.clone(),
            language_id_map: Default::default(),
        },
        phonemes: PhonemeSpec {
            kind: piper.phoneme_type.clone(),
            espeak_voice: piper.espeak_voice.clone(),
            id_map: piper.phoneme_id_map.clone(),
            coqui: None,
        },
        inference: InferenceDefaults {
            noise_scale: piper.noise_scale,
            length_scale: piper.length_scale,
            noise_w: piper.noise_w,
        },
        architecture: Architecture {
            kind: extracted.config.kind().to_owned(),
            config: toml::Table::try_from(&vits)
                .map_err(|e| PiperError::arch(format!("config does not serialize: {e}")))?,
        },
        source: Some(Source {
            kind: "piper-onnx".to_owned(),
            file,
            model_sha256: onnx_sha256,
            config_sha256: hex::encode(Sha256::digest(&config_bytes)),
        }),
        lexicon: None,
        vocoder: None,
        mel: None,
        files: Vec::new(),
    };
    let tensor_count = extracted.params.len();
    let tensors: Vec<(&str, &[usize], &[u8])> = extracted
        .params
        .iter()
        .map(|(n, p)| (n.as_str(), p.shape.as_slice(), p.data.as_ref()))
        .collect();
    let written = write_imported_bundle(
        out_dir,
        manifest,
        &tensors,
        options.lexicon.as_ref(),
        signer,
        options.existing,
    )?;

    Ok(ImportReport {
        name: name.to_string(),
        bundle_dir: out_dir.to_owned(),
        tensors: tensor_count,
        parameters,
        bytes: written.weights_bytes,
        dropped_tensors: extracted.dropped,
        skipped_constants: extracted.constants,
        config: vits,
        manifest_sha256: written.manifest_sha256,
    })
}

/// Reads a Piper ONNX model as data, as [`import_piper`] does, and returns the VITS
/// configuration it holds, without writing anything: the protobuf is decoded, every initializer
/// named, the hyper-parameters inferred and validated, and the parameters checked against the
/// VITS schema for them.
pub fn inspect_onnx(bytes: &[u8]) -> Result<VitsConfig, PiperError> {
    let model = onnx::parse_model(bytes)?;
    let extracted = mapping::extract(&model.graph)?;
    Ok(extracted.config.get().clone())
}

/// Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing`); not an API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes `bytes` as an ONNX model and runs the parameter mapping on it: it must never
    /// panic, hang or allocate beyond a small multiple of the input.
    pub fn parse_onnx(bytes: &[u8]) {
        let _ = crate::inspect_onnx(bytes);
    }

    /// Decodes `bytes` as a Piper JSON config.
    pub fn parse_config(bytes: &[u8]) {
        let _ = crate::config::parse_config(bytes);
    }
}

/// Published Piper voices whose licence is known, by SHA-256 of the `.onnx` file: `(digest,
/// voice, SPDX licence)`. Piper configs carry no licence, so this fills it in for voices the
/// project pins.
pub const KNOWN_VOICES: &[(&str, &str, &str)] = &[(
    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "en_US-joe-medium",
    "CC0-1.0",
)];

fn known_license(onnx_sha256: &str) -> Option<&'static str> {
    KNOWN_VOICES
        .iter()
        .find(|(digest, _, _)| *digest == onnx_sha256)
        .map(|(_, _, license)| *license)
}

/// The voice name the bundle gets: a [`VoiceName`], the registry's one name rule.
fn check_name(name: &str) -> Result<VoiceName, PiperError> {
    VoiceName::new(name).map_err(|e| PiperError::BadName {
        name: name.to_owned(),
        reason: match e {
            RegistryError::BadVoiceName { reason, .. } => reason,
            _ => "not a voice name",
        },
    })
}

/// `en_US-joe-medium` → `en_US`.
fn language_from_name(name: &str) -> Option<String> {
    let (lang, _) = name.split_once('-')?;
    let b = lang.as_bytes();
    let ok = b.len() == 5
        && b.iter().take(2).all(u8::is_ascii_lowercase)
        && b.get(2) == Some(&b'_')
        && b.iter().skip(3).all(u8::is_ascii_uppercase);
    ok.then(|| lang.to_owned())
}

/// Checks that the JSON config and the model agree.
fn cross_check(piper: &config::PiperConfig, vits: &VitsConfig) -> Result<(), PiperError> {
    if let Some(n) = piper.num_symbols {
        if n != vits.n_vocab as u64 {
            return Err(PiperError::ConfigMismatch {
                key: "num_symbols",
                config: n.to_string(),
                model: vits.n_vocab.to_string(),
            });
        }
    }
    if piper.num_speakers as usize != vits.n_speakers {
        return Err(PiperError::ConfigMismatch {
            key: "num_speakers",
            config: piper.num_speakers.to_string(),
            model: vits.n_speakers.to_string(),
        });
    }
    for (symbol, ids) in &piper.phoneme_id_map {
        if let Some(id) = ids.iter().find(|id| **id as u64 >= vits.n_vocab as u64) {
            return Err(PiperError::ConfigMismatch {
                key: "phoneme_id_map",
                config: format!("id {id} for {symbol:?}"),
                model: format!("ids below n_vocab = {}", vits.n_vocab),
            });
        }
    }
    Ok(())
}

/// Reads at most `limit` bytes of `path`; a longer file is [`PiperError::TooLarge`].
fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, PiperError> {
    let cap = signet_io::Cap::new(limit, "a fixed limit of the Piper importer");
    signet_io::read_capped(path, cap).map_err(|e| match e {
        signet_io::FileError::TooLarge { .. } => PiperError::TooLarge {
            what: path.display().to_string(),
            limit,
        },
        other => PiperError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(other),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn language_from_names() {
        assert_eq!(
            language_from_name("en_US-joe-medium").as_deref(),
            Some("en_US")
        );
        assert_eq!(language_from_name("joe"), None);
        assert_eq!(language_from_name("english-joe"), None);
    }

    #[test]
    fn names() {
        assert!(check_name("en_US-joe-medium").is_ok());
        for bad in ["", ".x", "a/b", "../x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn capped_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, [0u8; 100]).unwrap();
        assert_eq!(read_capped(&p, 100).unwrap().len(), 100);
        assert!(matches!(
            read_capped(&p, 99),
            Err(PiperError::TooLarge { limit: 99, .. })
        ));
        assert!(matches!(
            read_capped(dir.path(), 99),
            Err(PiperError::Io { .. })
        ));
    }
}
