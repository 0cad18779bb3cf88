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
pub mod speakers;
pub mod stages;
pub mod vits;
pub mod weights;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use signet_registry::{
    write_imported_bundle, Architecture, CoquiText, InferenceDefaults, Manifest, MelSpec,
    PhonemeSpec, SecretKey, Source, VerifiedBundle, VoiceInfo, VoiceName, BUNDLE_FORMAT,
};

pub use config::{tokenizer_settings, CoquiConfig};
pub use error::CoquiError;
pub use signet_registry::ExistingBundle;
/// A lexicon for the bundle, and its format (shared by every importer).
pub use signet_registry::{BundleLexicon, LexiconFormat};
pub use stages::{installed_vocoder, pin_vocoder};
pub use weights::Param;

/// Default cap on the checkpoint size (4 GiB).
pub const DEFAULT_MAX_CHECKPOINT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Default cap on `config.json` (8 MiB).
pub const DEFAULT_MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// Default cap on each file beside the model (speakers, d-vectors, language ids): 256 MiB.
pub const DEFAULT_MAX_SIDE_FILE_BYTES: u64 = 256 * 1024 * 1024;

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
    /// Speakers of the model (1: single-speaker).
    pub num_speakers: u32,
    /// Speaker name → id, from the speakers file, the config's `speakers` or the d-vector
    /// file; empty for a single-speaker model, or a multi-speaker one shipped without names.
    pub speaker_id_map: std::collections::BTreeMap<String, i64>,
    /// Language name → id of a multilingual model; empty otherwise.
    pub language_id_map: std::collections::BTreeMap<String, i64>,
    /// For a spectrogram model (the first stage of a two-stage voice): the mel spectrograms
    /// it makes. `None` for a model that makes audio.
    pub mel: Option<MelSpec>,
}

/// The contents of the files Coqui ships beside a multi-speaker or multilingual model (see
/// [`speakers`]); each is read as data. Start from [`SideFiles::default`] (none).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SideFiles {
    /// The speakers file (`speakers_file`: name → id), JSON or `torch.save` pickle.
    pub speakers: Option<Vec<u8>>,
    /// The d-vector file (`d_vector_file`: clip → name and embedding), JSON or pickle.
    pub d_vectors: Option<Vec<u8>>,
    /// The language-ids file (`language_ids_file`: name → id), JSON or pickle.
    pub language_ids: Option<Vec<u8>>,
}

/// Reads a checkpoint (its bytes) and `config.json` (its bytes) as data and maps them onto
/// Signet's definition of the architecture the config names, without writing anything. A
/// multi-speaker or multilingual model's side files are not given: see
/// [`map_checkpoint_with`].
pub fn map_checkpoint(
    checkpoint: &[u8],
    config_json: &[u8],
    limits: &signet_checkpoint::Limits,
) -> Result<Converted, CoquiError> {
    map_checkpoint_with(checkpoint, config_json, &SideFiles::default(), limits)
}

/// The side files a config names and needs: which, and the file name (its last path
/// component: Coqui records the trainer's absolute path, and a model folder holds the file
/// under that name beside `config.json`).
pub fn side_file_names(
    config_json: &[u8],
) -> Result<Vec<(speakers::SideFile, String)>, CoquiError> {
    let cfg = CoquiConfig::parse(config_json)?;
    let mut out = Vec::new();
    // Coqui reads a key from `model_args` first, then from the top level.
    let either = |key: &str| -> Result<Option<String>, CoquiError> {
        let inner = format!("model_args.{key}");
        Ok(match cfg.get(&inner) {
            Some(v) if !v.is_null() => cfg.str_opt(&inner)?.map(str::to_owned),
            _ => cfg.str_opt(key)?.map(str::to_owned),
        })
    };
    let by_dvec = cfg.bool_or("model_args.use_d_vector_file", false)?;
    if cfg.bool_or("model_args.use_speaker_embedding", false)? && !by_dvec {
        let listed = cfg
            .get("speakers")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|l| !l.is_empty());
        if !listed {
            if let Some(f) = either("speaker_file")?.or(either("speakers_file")?) {
                out.push((speakers::SideFile::Speakers, f));
            }
        }
    }
    if by_dvec {
        let key = "d_vector_file";
        let value = cfg
            .get(&format!("model_args.{key}"))
            .filter(|v| !v.is_null())
            .or_else(|| cfg.get(key))
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let file = match &value {
            serde_json::Value::String(f) => Some(f.clone()),
            serde_json::Value::Array(l) if l.len() == 1 => {
                l.first().and_then(|f| f.as_str()).map(str::to_owned)
            }
            serde_json::Value::Null => None,
            _ => {
                return Err(CoquiError::UnsupportedSetting {
                    key: "model_args.d_vector_file",
                    value: value.to_string(),
                    reason: "Signet reads one d-vector file",
                })
            }
        };
        if let Some(f) = file {
            out.push((speakers::SideFile::DVectors, f));
        }
    }
    if cfg.bool_or("model_args.use_language_embedding", false)? {
        if let Some(f) = cfg.str_opt("model_args.language_ids_file")? {
            out.push((speakers::SideFile::LanguageIds, f.to_owned()));
        }
    }
    let mut named = Vec::with_capacity(out.len());
    for (which, path) in out {
        let base = path
            .rsplit(['/', '\\'])
            .next()
            .filter(|b| !b.is_empty() && *b != "." && *b != "..")
            .ok_or_else(|| {
                CoquiError::config(format!("`{}` is {path:?}, not a file", which.key()))
            })?;
        named.push((which, base.to_owned()));
    }
    Ok(named)
}

/// [`map_checkpoint`] with the model's side files: the speakers file of a VCTK-style model
/// (its names become the speaker map; without it speakers are chosen by id), the d-vector file
/// of a YourTTS-style model (required: it becomes the speaker table) and the language-ids file
/// of a multilingual one (else the config's `languages` list).
pub fn map_checkpoint_with(
    checkpoint: &[u8],
    config_json: &[u8],
    side: &SideFiles,
    limits: &signet_checkpoint::Limits,
) -> Result<Converted, CoquiError> {
    let cfg = CoquiConfig::parse(config_json)?;
    if let Some(reason) = config::refused_model(&cfg.model) {
        return Err(CoquiError::UnsupportedModel {
            model: cfg.model.clone(),
            reason,
        });
    }
    // Refuse an unsupported model before reading a large file. One arm per architecture
    // Signet runs; a spectrogram model's arm also gives its mel settings.
    match cfg.model.as_str() {
        "vits" => {}
        "glow_tts" | "tacotron2" => return map_spectrogram_model(&cfg, checkpoint, limits),
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
    let mut params = weights::collect(&ckpt.state_dict()?)?;
    drop(ckpt);
    let mut speaker_id_map = std::collections::BTreeMap::new();
    if cfg.bool_or("model_args.use_d_vector_file", false)? {
        let Some(bytes) = &side.d_vectors else {
            return Err(CoquiError::MissingSideFile {
                key: "d_vector_file",
                file: "the d-vector file".into(),
                why: "its embeddings are the model's speakers",
            });
        };
        if params.contains_key("emb_g.weight") {
            return Err(CoquiError::UnexpectedTensor {
                tensor: "emb_g.weight".into(),
                reason: "a model conditioned on d-vectors has no speaker table".into(),
            });
        }
        let dim = cfg.usize("model_args.d_vector_dim")?;
        let d = speakers::read_d_vectors(bytes, dim, limits)?;
        for (id, name) in d.names.iter().enumerate() {
            speaker_id_map.insert(name.clone(), id as i64);
        }
        params.insert(
            "emb_g.weight".into(),
            Param {
                shape: vec![d.names.len(), d.dim],
                values: d.table,
            },
        );
    }
    let rows = |name: &str| params.get(name).and_then(|p| p.shape.first().copied());
    let (speaker_rows, language_rows) = (rows("emb_g.weight"), rows("emb_l.weight"));
    let mapped = vits::map_vits(params, &cfg, text.symbols.len())?;
    let num_speakers = speaker_rows.unwrap_or(1);
    if num_speakers > 1 && speaker_id_map.is_empty() {
        let listed: Option<Vec<(String, Option<i64>)>> = cfg
            .get("speakers")
            .and_then(serde_json::Value::as_array)
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.iter()
                    .enumerate()
                    .map(|(i, n)| (n.as_str().unwrap_or_default().to_owned(), Some(i as i64)))
                    .collect()
            });
        speaker_id_map = match (listed, &side.speakers) {
            (Some(pairs), _) => {
                speakers::id_map(speakers::SideFile::Speakers, pairs, num_speakers)?
            }
            (None, Some(bytes)) => {
                speakers::read_id_map(bytes, speakers::SideFile::Speakers, num_speakers, limits)?
            }
            (None, None) => Default::default(),
        };
    }
    let mut language_id_map = std::collections::BTreeMap::new();
    if let Some(n) = language_rows.filter(|_| mapped.config.contains_key("n_languages")) {
        language_id_map = match &side.language_ids {
            Some(bytes) => {
                speakers::read_id_map(bytes, speakers::SideFile::LanguageIds, n, limits)?
            }
            None => {
                let listed: Vec<(String, Option<i64>)> = cfg
                    .get("languages")
                    .and_then(serde_json::Value::as_array)
                    .map(|l| {
                        l.iter()
                            .enumerate()
                            .map(|(i, v)| {
                                (v.as_str().unwrap_or_default().to_owned(), Some(i as i64))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if listed.is_empty() {
                    return Err(CoquiError::MissingSideFile {
                        key: "language_ids_file",
                        file: "the language-ids file".into(),
                        why: "it names the model's languages, and config.json lists none",
                    });
                }
                speakers::id_map(speakers::SideFile::LanguageIds, listed, n)?
            }
        };
    }
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
        num_speakers: u32::try_from(num_speakers).unwrap_or(u32::MAX),
        speaker_id_map,
        language_id_map,
        mel: None,
    })
}

/// A spectrogram model (the first stage of a two-stage voice: Glow-TTS or Tacotron2):
/// single-speaker, its own mel settings in [`Converted::mel`].
fn map_spectrogram_model(
    cfg: &CoquiConfig,
    checkpoint: &[u8],
    limits: &signet_checkpoint::Limits,
) -> Result<Converted, CoquiError> {
    let text = cfg.text()?;
    let sample_rate = cfg.sample_rate()?;
    let ckpt = signet_checkpoint::read(checkpoint, limits)?;
    let state = ckpt.state_dict()?;
    let (mapped, mel) = if cfg.model == "tacotron2" {
        stages::map_tacotron2(&state, cfg, text.symbols.len())?
    } else {
        stages::map_glow_tts(&state, cfg, text.symbols.len())?
    };
    // Glow-TTS runs with its noise off (the mapping refuses any other setting) and has no
    // stochastic duration predictor; Tacotron2 has neither noise nor a length scale (its
    // decoder decides when to stop), so its scales are recorded as 0 and 1.
    let inference = InferenceDefaults {
        noise_scale: 0.0,
        length_scale: cfg.f32_or("length_scale", 1.0)?,
        noise_w: 0.0,
    };
    Ok(Converted {
        mapped,
        text,
        sample_rate,
        inference,
        num_speakers: 1,
        speaker_id_map: Default::default(),
        language_id_map: Default::default(),
        mel: Some(mel),
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
    /// The speakers file; default: the file `speakers_file` names, beside `config.json`.
    pub speakers_file: Option<PathBuf>,
    /// The d-vector file; default: the file `d_vector_file` names, beside `config.json`.
    pub d_vector_file: Option<PathBuf>,
    /// The language-ids file; default: the file `language_ids_file` names, beside
    /// `config.json`.
    pub language_ids_file: Option<PathBuf>,
    /// Largest side file (speakers, d-vectors, language ids) read, in bytes.
    pub max_side_file_bytes: u64,
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
            speakers_file: None,
            d_vector_file: None,
            language_ids_file: None,
            max_side_file_bytes: DEFAULT_MAX_SIDE_FILE_BYTES,
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
    /// Speakers of the voice (1: single-speaker).
    pub speakers: u32,
    /// Speakers with a name in the bundle's speaker map.
    pub named_speakers: usize,
    /// Languages of a multilingual voice (0: none).
    pub languages: usize,
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
        )?;
        if self.speakers > 1 {
            write!(
                f,
                "; {} speakers, {} of them named",
                self.speakers, self.named_speakers
            )?;
        }
        if self.languages > 0 {
            write!(f, "; {} languages", self.languages)?;
        }
        Ok(())
    }
}

/// Imports the Coqui checkpoint `checkpoint` with its `config` into a new bundle directory
/// `out_dir` (the bundle itself, not its parent), signed by `signer` (the local importer's
/// key), and verifies what it wrote. A model that makes audio (VITS); a spectrogram model
/// needs its vocoder, [`import_coqui_with_vocoder`].
pub fn import_coqui(
    checkpoint: &Path,
    config: &Path,
    out_dir: &Path,
    options: &ImportOptions,
    signer: &SecretKey,
) -> Result<ImportReport, CoquiError> {
    import_coqui_with_vocoder(checkpoint, config, out_dir, options, signer, None)
}

/// [`import_coqui`] for either kind of model: a spectrogram model (Glow-TTS) needs
/// `vocoder`, the installed, verified mel vocoder bundle that speaks it
/// ([`installed_vocoder`]); the voice's manifest pins it by name and manifest SHA-256
/// (`[vocoder]`) after [`pin_vocoder`] checked that it takes the model's spectrograms (mel
/// bins, sample rate, frame hop). A model that makes audio refuses a vocoder.
pub fn import_coqui_with_vocoder(
    checkpoint: &Path,
    config: &Path,
    out_dir: &Path,
    options: &ImportOptions,
    signer: &SecretKey,
    vocoder: Option<&VerifiedBundle>,
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
    let side = read_side_files(config, &config_bytes, options)?;
    let checkpoint_bytes = read_capped(checkpoint, options.max_checkpoint_bytes)?;
    let converted = map_checkpoint_with(&checkpoint_bytes, &config_bytes, &side, &options.limits)?;
    let pin = match (&converted.mel, vocoder) {
        (Some(mel), Some(v)) => Some(pin_vocoder(v, mel, converted.sample_rate)?),
        (Some(_), None) => {
            return Err(CoquiError::VocoderRequired {
                model: converted.mapped.kind.to_owned(),
            })
        }
        (None, Some(_)) => {
            return Err(CoquiError::VocoderNotUsed {
                model: converted.mapped.kind.to_owned(),
            })
        }
        (None, None) => None,
    };
    let model_sha256 = hex::encode(Sha256::digest(&checkpoint_bytes));
    drop(checkpoint_bytes);
    let Converted {
        mapped,
        text,
        sample_rate,
        inference,
        num_speakers,
        speaker_id_map,
        language_id_map,
        mel,
    } = converted;
    let (named_speakers, languages) = (speaker_id_map.len(), language_id_map.len());

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
            num_speakers,
            speaker_id_map,
            language_id_map,
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
        vocoder: pin,
        mel,
        files: Vec::new(),
    };
    let mut report = write(
        out_dir,
        manifest,
        mapped.kind,
        &mapped.tensors,
        mapped.dropped,
        options,
        signer,
    )?;
    report.speakers = num_speakers;
    report.named_speakers = named_speakers;
    report.languages = languages;
    Ok(report)
}

/// Imports a Coqui mel vocoder (a HiFi-GAN trainer checkpoint or bare generator state dict,
/// with its `config.json`) into a new bundle directory `out_dir`, signed by `signer`, and
/// verifies what it wrote: architecture `hifigan` (the generator and its inference padding),
/// `[mel]` with the frame hop and the spectrogram normalization the vocoder was trained on
/// (which the voices that pin it renormalize into), the audio sample rate, and the source
/// file's SHA-256. The discriminator is dropped. `options.lexicon` is refused (a vocoder
/// speaks no text).
pub fn import_coqui_vocoder(
    checkpoint: &Path,
    config: &Path,
    out_dir: &Path,
    options: &ImportOptions,
    signer: &SecretKey,
) -> Result<ImportReport, CoquiError> {
    if options.lexicon.is_some() {
        return Err(CoquiError::UnsupportedSetting {
            key: "lexicon",
            value: "a lexicon".into(),
            reason: "a vocoder turns spectrograms into audio and reads no text",
        });
    }
    let name = bundle_name(options, checkpoint)?;
    let config_bytes = read_capped(config, options.max_config_bytes)?;
    let cfg = CoquiConfig::parse(&config_bytes)?;
    if cfg.model != "hifigan" {
        return Err(CoquiError::UnsupportedModel {
            model: cfg.model.clone(),
            reason: "not a vocoder Signet runs: `signet vocoders import coqui` takes Coqui's \
                     \"hifigan\"; import text-to-speech models with `signet voices import coqui`",
        });
    }
    let json = cfg.to_json();
    let (mel, _) = stages::mel_spec(&json)?;
    let checkpoint_bytes = read_capped(checkpoint, options.max_checkpoint_bytes)?;
    let ckpt = signet_checkpoint::read(&checkpoint_bytes, &options.limits)?;
    let state = ckpt.state_dict()?;
    let dropped = state
        .iter()
        .filter(|(n, _)| n.starts_with("model_d."))
        .count();
    let mapped = signet_vocoder::coqui::map_hifigan(&state, &json)?;
    drop(state);
    drop(ckpt);
    let hop: usize = mapped.config.generator.upsample_rates.iter().product();
    if u32::try_from(hop).ok() != Some(mel.hop_length) {
        return Err(CoquiError::config(format!(
            "`audio.hop_length` {} differs from the generator's upsampling ({hop} samples per \
             frame)",
            mel.hop_length
        )));
    }
    let model_sha256 = hex::encode(Sha256::digest(&checkpoint_bytes));
    drop(checkpoint_bytes);
    let architecture =
        toml::Table::try_from(&mapped.config).map_err(|e| CoquiError::BadConfig {
            reason: format!("vocoder settings: {e}"),
        })?;
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name,
        version: options.version,
        license: options
            .license
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
        voice: VoiceInfo {
            language: "und".to_owned(),
            quality: None,
            sample_rate: mapped.sample_rate,
            num_speakers: 1,
            speaker_id_map: Default::default(),
            language_id_map: Default::default(),
        },
        phonemes: PhonemeSpec {
            kind: VOCODER_PHONEMES_KIND.to_owned(),
            espeak_voice: None,
            id_map: Default::default(),
            coqui: None,
        },
        // A vocoder is deterministic; the scales are those of the voices that pin it.
        inference: InferenceDefaults {
            noise_scale: 0.0,
            length_scale: 1.0,
            noise_w: 0.0,
        },
        architecture: Architecture {
            kind: stages::VOCODER_KIND.to_owned(),
            config: architecture,
        },
        source: Some(source(checkpoint, model_sha256, &config_bytes)),
        lexicon: None,
        vocoder: None,
        mel: Some(mel),
        files: Vec::new(),
    };
    let tensors: Vec<(String, Param)> = mapped
        .tensors
        .into_iter()
        .map(|(n, p)| {
            (
                n,
                Param {
                    shape: p.shape,
                    values: p.data,
                },
            )
        })
        .collect();
    let mut options = options.clone();
    options.lexicon = None;
    write(
        out_dir,
        manifest,
        stages::VOCODER_KIND,
        &tensors,
        dropped,
        &options,
        signer,
    )
}

/// `phonemes.kind` of a vocoder bundle: it takes spectrograms, not phonemes.
pub const VOCODER_PHONEMES_KIND: &str = "none";

fn source(checkpoint: &Path, model_sha256: String, config_bytes: &[u8]) -> Source {
    Source {
        kind: SOURCE_KIND.to_owned(),
        file: checkpoint
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        model_sha256,
        config_sha256: hex::encode(Sha256::digest(config_bytes)),
    }
}

/// The bundle's name: `options.name`, else the checkpoint's file stem.
fn bundle_name(options: &ImportOptions, checkpoint: &Path) -> Result<VoiceName, CoquiError> {
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
    VoiceName::new(&name).map_err(|_| CoquiError::BadName {
        name: name.clone(),
        reason: "a name is 1 to 128 of A-Z a-z 0-9 . _ - and does not start with '.'",
    })
}

/// Writes, signs and verifies the bundle of `manifest` and `tensors`.
fn write(
    out_dir: &Path,
    manifest: Manifest,
    kind: &'static str,
    tensors: &[(String, Param)],
    dropped: usize,
    options: &ImportOptions,
    signer: &SecretKey,
) -> Result<ImportReport, CoquiError> {
    let name = manifest.name.clone();
    let parameters = tensors.iter().map(|(_, p)| p.values.len() as u64).sum();
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, p)| p.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let tensors: Vec<(&str, &[usize], &[u8])> = tensors
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
        kind,
        bundle_dir: out_dir.to_owned(),
        tensors: tensors.len(),
        parameters,
        bytes: written.weights_bytes,
        dropped_tensors: dropped,
        manifest_sha256: written.manifest_sha256,
        speakers: 1,
        named_speakers: 0,
        languages: 0,
    })
}

/// Reads the side files the config needs: each from its option, else the file the config
/// names, beside `config.json` (a speakers file that is not there is left out: the speakers
/// are then chosen by id; a d-vector or language-ids file that is not there is an error when
/// the model needs it, from [`map_checkpoint_with`]).
fn read_side_files(
    config: &Path,
    config_bytes: &[u8],
    options: &ImportOptions,
) -> Result<SideFiles, CoquiError> {
    let dir = config.parent().unwrap_or_else(|| Path::new("."));
    let mut side = SideFiles::default();
    let explicit = [
        (speakers::SideFile::Speakers, &options.speakers_file),
        (speakers::SideFile::DVectors, &options.d_vector_file),
        (speakers::SideFile::LanguageIds, &options.language_ids_file),
    ];
    let named = side_file_names(config_bytes)?;
    for (which, given) in explicit {
        let path = match given {
            Some(p) => p.clone(),
            None => match named.iter().find(|(w, _)| *w == which) {
                Some((_, base)) => {
                    let p = dir.join(base);
                    if !p.exists() {
                        continue;
                    }
                    p
                }
                None => continue,
            },
        };
        let bytes = read_capped(&path, options.max_side_file_bytes)?;
        match which {
            speakers::SideFile::Speakers => side.speakers = Some(bytes),
            speakers::SideFile::DVectors => side.d_vectors = Some(bytes),
            _ => side.language_ids = Some(bytes),
        }
    }
    Ok(side)
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
