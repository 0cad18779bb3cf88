//! Imports Coqui TTS models into Signet bundles, reading the checkpoint as data.
//!
//! A Coqui model is a PyTorch checkpoint (`model.pth`, a pickle Coqui loads with `torch.load`)
//! and its `config.json`. The importer never unpickles anything: `signet-checkpoint` reads the
//! file with an allow-listed interpreter into plain data and tensors. Then, per architecture:
//!
//! 1. the config's `model` key picks a mapping function (`map_<architecture>`); a model Coqui
//!    ships and Signet does not run (XTTS, Bark, Tortoise...) is refused by name;
//! 2. the state dict's tensors are widened to F32 and weight norm is folded
//!    ([`weights::collect`], both PyTorch forms);
//! 3. the mapping function reads the hyper-parameters from `config.json`, refuses settings
//!    Signet's definition does not implement, renames every parameter to Signet's name, drops
//!    training-only ones, and checks the set against the architecture's schema in
//!    `signet-schema` (nothing extra, nothing missing, shapes exact);
//! 4. the text settings (symbol table, cleaners, phonemizer, blanks) and audio settings go to
//!    the manifest, the source file's SHA-256 with them, and the bundle is written, signed and
//!    verified by the registry's one importer path ([`signet_registry::write_imported_bundle`]).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! let importer_key = signet_registry::SecretKey::load(Path::new("keys/local-importer.key"))?;
//! let mut options = signet_coqui::ImportOptions::default();
//! options.name = Some("ljspeech-vits".into());
//! let report = signet_coqui::import_coqui(
//!     Path::new("model_file.pth"),
//!     Path::new("config.json"),
//!     Path::new("voices/ljspeech-vits"),
//!     &options,
//!     &importer_key,
//! )?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
//!
//! Adding an architecture: its schema in `signet-schema`, a `map_<architecture>` module here
//! returning [`Mapped`], and one arm in [`map_checkpoint`].
#![forbid(unsafe_code)]

pub mod config;
mod error;
pub mod vits;
pub mod weights;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use signet_registry::{
    write_imported_bundle, Architecture, CoquiText, InferenceDefaults, Manifest, PhonemeSpec,
    SecretKey, Source, VoiceInfo, VoiceName, BUNDLE_FORMAT,
};

pub use config::CoquiConfig;
pub use error::CoquiError;
pub use signet_registry::ExistingBundle;
/// A lexicon for the bundle, and its format (shared by every importer).
pub use signet_registry::{BundleLexicon, LexiconFormat};
pub use weights::Param;

/// Default cap on the checkpoint size (4 GiB).
pub const DEFAULT_MAX_CHECKPOINT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Default cap on `config.json` (8 MiB).
pub const DEFAULT_MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// `phonemes.kind` of a bundle imported from Coqui.
pub const PHONEMES_KIND: &str = "coqui";

/// `source.kind` of a bundle imported from a Coqui checkpoint.
pub const SOURCE_KIND: &str = "coqui-checkpoint";

/// What an architecture's mapping function gives: the bundle's architecture and its tensors.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Mapped {
    /// `architecture.kind` (`vits`).
    pub kind: &'static str,
    /// `architecture.config`: the checked configuration, in the schema's keys.
    pub config: toml::Table,
    /// Every tensor under Signet's name, in the schema's order.
    pub tensors: Vec<(String, Param)>,
    /// Training-only tensors left out.
    pub dropped: usize,
}

/// A checkpoint and config mapped, before anything is written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Converted {
    /// The architecture and its tensors.
    pub mapped: Mapped,
    /// How text becomes ids.
    pub text: CoquiText,
    /// `audio.sample_rate`.
    pub sample_rate: u32,
    /// Inference defaults from the config.
    pub inference: InferenceDefaults,
}

/// Reads a checkpoint (its bytes) and `config.json` (its bytes) as data and maps them onto
/// Signet's definition of the architecture the config names, without writing anything.
pub fn map_checkpoint(
    checkpoint: &[u8],
    config_json: &[u8],
    limits: &signet_checkpoint::Limits,
) -> Result<Converted, CoquiError> {
    let cfg = CoquiConfig::parse(config_json)?;
    if let Some(reason) = config::refused_model(&cfg.model) {
        return Err(CoquiError::UnsupportedModel {
            model: cfg.model.clone(),
            reason,
        });
    }
    // Refuse an unsupported model before reading a large file.
    match cfg.model.as_str() {
        "vits" => {}
        "glow_tts" | "tacotron2" => {
            return Err(CoquiError::UnsupportedModel {
                model: cfg.model.clone(),
                reason: "this importer maps VITS; Glow-TTS and Tacotron2 plug in here",
            })
        }
        _ => {
            return Err(CoquiError::UnsupportedModel {
                model: cfg.model.clone(),
                reason: "not a Coqui model Signet knows",
            })
        }
    }
    let text = cfg.text()?;
    let sample_rate = cfg.sample_rate()?;
    let ckpt = signet_checkpoint::read(checkpoint, limits)?;
    let params = weights::collect(&ckpt.state_dict()?)?;
    drop(ckpt);
    let mapped = vits::map_vits(params, &cfg, text.symbols.len())?;
    let inference = InferenceDefaults {
        noise_scale: cfg.f32_or("model_args.inference_noise_scale", 0.667)?,
        length_scale: cfg.f32_or("model_args.length_scale", 1.0)?,
        noise_w: cfg.f32_or("model_args.inference_noise_scale_dp", 1.0)?,
    };
    Ok(Converted {
        mapped,
        text,
        sample_rate,
        inference,
    })
}

/// Options of [`import_coqui`]. Start from [`ImportOptions::default`] and set fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Voice name; defaults to the checkpoint's file stem.
    pub name: Option<String>,
    /// SPDX licence of the voice; defaults to `unknown` (Coqui configs do not carry one).
    pub license: Option<String>,
    /// Bundle version written to the manifest (default 1).
    pub version: u64,
    /// Largest checkpoint read, in bytes.
    pub max_checkpoint_bytes: u64,
    /// Largest `config.json` read, in bytes.
    pub max_config_bytes: u64,
    /// Bounds of the checkpoint reader.
    pub limits: signet_checkpoint::Limits,
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
            max_checkpoint_bytes: DEFAULT_MAX_CHECKPOINT_BYTES,
            max_config_bytes: DEFAULT_MAX_CONFIG_BYTES,
            limits: signet_checkpoint::Limits::default(),
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
    /// The architecture (`vits`).
    pub kind: &'static str,
    /// The bundle directory.
    pub bundle_dir: PathBuf,
    /// Tensors in `weights.safetensors`.
    pub tensors: usize,
    /// Scalar parameters in those tensors.
    pub parameters: u64,
    /// Size of `weights.safetensors`, in bytes.
    pub bytes: u64,
    /// Training-only tensors left out.
    pub dropped_tensors: usize,
    /// SHA-256 of the written `manifest.toml`.
    pub manifest_sha256: String,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (Coqui {}): {} tensors, {} parameters, {} bytes of weights in {} \
             ({} training-only tensors left out)",
            self.name,
            self.kind,
            self.tensors,
            self.parameters,
            self.bytes,
            self.bundle_dir.display(),
            self.dropped_tensors
        )
    }
}

/// Imports the Coqui checkpoint `checkpoint` with its `config` into a new bundle directory
/// `out_dir` (the bundle itself, not its parent), signed by `signer` (the local importer's
/// key), and verifies what it wrote.
pub fn import_coqui(
    checkpoint: &Path,
    config: &Path,
    out_dir: &Path,
    options: &ImportOptions,
    signer: &SecretKey,
) -> Result<ImportReport, CoquiError> {
    let name = match &options.name {
        Some(n) => n.clone(),
        None => checkpoint
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| CoquiError::BadName {
                name: checkpoint.display().to_string(),
                reason: "cannot derive a name from the file name; pass one",
            })?,
    };
    let name = VoiceName::new(&name).map_err(|_| CoquiError::BadName {
        name: name.clone(),
        reason: "a voice name is 1 to 128 of A-Z a-z 0-9 . _ - and does not start with '.'",
    })?;
    let config_bytes = read_capped(config, options.max_config_bytes)?;
    let checkpoint_bytes = read_capped(checkpoint, options.max_checkpoint_bytes)?;
    let converted = map_checkpoint(&checkpoint_bytes, &config_bytes, &options.limits)?;
    let model_sha256 = hex::encode(Sha256::digest(&checkpoint_bytes));
    drop(checkpoint_bytes);
    let Converted {
        mapped,
        text,
        sample_rate,
        inference,
    } = converted;

    let mut id_map = std::collections::BTreeMap::new();
    for (id, symbol) in text.symbols.iter().enumerate() {
        // Coqui's lookup keeps a repeated symbol's last position.
        id_map.insert(symbol.clone(), vec![id as i64]);
    }
    let language = text
        .phoneme_language
        .clone()
        .unwrap_or_else(|| "und".to_owned());
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: name.clone(),
        version: options.version,
        license: options
            .license
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
        voice: VoiceInfo {
            language,
            quality: None,
            sample_rate,
            num_speakers: 1,
            speaker_id_map: Default::default(),
        },
        phonemes: PhonemeSpec {
            kind: PHONEMES_KIND.to_owned(),
            espeak_voice: text.phoneme_language.clone().filter(|_| text.use_phonemes),
            id_map,
            coqui: Some(text),
        },
        inference,
        architecture: Architecture {
            kind: mapped.kind.to_owned(),
            config: mapped.config,
        },
        source: Some(Source {
            kind: SOURCE_KIND.to_owned(),
            file: checkpoint
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            model_sha256,
            config_sha256: hex::encode(Sha256::digest(&config_bytes)),
        }),
        lexicon: None,
        files: Vec::new(),
    };
    let parameters = mapped
        .tensors
        .iter()
        .map(|(_, p)| p.values.len() as u64)
        .sum();
    let bytes: Vec<Vec<u8>> = mapped
        .tensors
        .iter()
        .map(|(_, p)| p.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let tensors: Vec<(&str, &[usize], &[u8])> = mapped
        .tensors
        .iter()
        .zip(&bytes)
        .map(|((n, p), b)| (n.as_str(), p.shape.as_slice(), b.as_slice()))
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
        kind: mapped.kind,
        bundle_dir: out_dir.to_owned(),
        tensors: tensors.len(),
        parameters,
        bytes: written.weights_bytes,
        dropped_tensors: mapped.dropped,
        manifest_sha256: written.manifest_sha256,
    })
}

fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, CoquiError> {
    let cap = signet_io::Cap::new(limit, "a limit of the Coqui importer");
    signet_io::read_capped(path, cap).map_err(|e| match e {
        signet_io::FileError::TooLarge { .. } => CoquiError::TooLarge {
            what: path.display().to_string(),
            limit,
        },
        other => CoquiError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(other),
        },
    })
}
