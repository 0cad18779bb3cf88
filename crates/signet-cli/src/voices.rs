//! `signet voices ...`: install, verify, remove, import and list voices. Every bundle is
//! verified against the trust store (`<home>/trust.toml`) before anything is written or shown
//! as verified.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use signet::store::VoiceName;
use signet::Store;

#[derive(Debug, Subcommand)]
pub enum VoicesCommand {
    /// List installed voices, verifying each bundle.
    List,
    /// Install a signed bundle: a local bundle folder, or the URL of a signed index with
    /// --name (verified against the trust store before anything is installed).
    Install {
        /// The bundle folder (manifest.toml, manifest.dsse.json and the files it lists), or an
        /// https:// URL of a signed index (index.json).
        source: String,
        /// With an index URL: the voice to install.
        #[arg(long)]
        name: Option<VoiceName>,
        /// With an index URL: trust only this CA (PEM) for the server's certificate.
        #[arg(long, value_name = "PEM")]
        ca: Option<PathBuf>,
        /// With an index URL: the most the whole download may take, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600.0, value_parser = positive_seconds)]
        download_timeout: f64,
        /// With an index URL: the slowest transfer accepted, in bytes per second averaged over
        /// 30 s (0: no minimum).
        #[arg(long, value_name = "BYTES_PER_SECOND", default_value_t = signet_fetch::DEFAULT_MIN_BYTES_PER_SECOND)]
        min_download_rate: u64,
        /// Tests only: allow plain http:// to a loopback host.
        #[arg(long, hide = true)]
        allow_loopback_http_for_tests: bool,
    },
    /// Verify an installed voice against the trust store and report who signed it.
    Verify {
        /// The voice name.
        name: VoiceName,
    },
    /// Remove an installed voice.
    Remove {
        /// The voice name.
        name: VoiceName,
    },
    /// Import a voice from another format into the store, signed by the local importer key
    /// (created and trusted on first use).
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a Piper voice (ONNX model + JSON config), parsed as data.
    Piper {
        /// The voice's `.onnx` file.
        model: PathBuf,
        /// Its JSON config (default: MODEL.json).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Name in the store (default: the model's file stem).
        #[arg(long)]
        name: Option<String>,
        /// SPDX licence of the voice (default: the config's `license` key, else `unknown`).
        #[arg(long, value_name = "SPDX")]
        license: Option<String>,
        /// A pronunciation lexicon (TOML or W3C PLS) the voice carries: checked, then
        /// stored in the bundle as a listed, signed file and used whenever the voice speaks,
        /// below the user's lexicons.
        #[arg(long, value_name = "FILE")]
        lexicon: Option<PathBuf>,
        /// Replace an installed voice of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Import a Coqui TTS model (checkpoint + config.json), read as data: nothing in the
    /// checkpoint or its side files is unpickled or run. VITS: single-speaker (LJSpeech),
    /// multi-speaker (VCTK: the speakers file's names become `--speaker` names) and YourTTS
    /// (d-vectors and languages: `--speaker` and `--language`); Glow-TTS with --vocoder; XTTS,
    /// Bark, Tortoise and other
    /// models Signet does not run are refused by name.
    Coqui {
        /// The model's checkpoint (`model_file.pth`, `best_model.pth`...).
        model: PathBuf,
        /// Its Coqui `config.json`.
        #[arg(long)]
        config: PathBuf,
        /// Name in the store (default: the checkpoint's file stem).
        #[arg(long)]
        name: Option<String>,
        /// SPDX licence of the voice (default `unknown`: Coqui configs carry none).
        #[arg(long, value_name = "SPDX")]
        license: Option<String>,
        /// A pronunciation lexicon (TOML or W3C PLS) the voice carries, as for `import piper`.
        #[arg(long, value_name = "FILE")]
        lexicon: Option<PathBuf>,
        /// For a spectrogram model (Glow-TTS): the installed vocoder that speaks it
        /// (`signet vocoders import coqui`), verified and checked to take the model's
        /// spectrograms; the voice pins it by name and manifest SHA-256.
        #[arg(long, value_name = "NAME")]
        vocoder: Option<String>,
        /// Replace an installed voice of the same name.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        side: CoquiSideFiles,
    },
}

/// The files a multi-speaker or multilingual Coqui model ships beside its config. Each
/// defaults to the file of the name config.json records, beside config.json.
#[derive(Debug, clap::Args)]
pub struct CoquiSideFiles {
    /// The speakers file (`speakers.pth` or `.json`: speaker name → id) of a multi-speaker
    /// model; without it, speakers are chosen by id only.
    #[arg(long, value_name = "FILE")]
    speakers_file: Option<PathBuf>,
    /// The d-vector file (clip → speaker name and embedding) of a YourTTS-style model.
    #[arg(long, value_name = "FILE")]
    d_vector_file: Option<PathBuf>,
    /// The language-ids file (`language_ids.json`: language name → id) of a multilingual
    /// model (default: the languages config.json lists).
    #[arg(long, value_name = "FILE")]
    language_ids_file: Option<PathBuf>,
}

pub fn run(home: &Path, cmd: VoicesCommand) -> Result<()> {
    let store = Store::new(home);
    match cmd {
        VoicesCommand::List => list(&store),
        VoicesCommand::Install {
            source,
            name,
            ca,
            download_timeout,
            min_download_rate,
            allow_loopback_http_for_tests,
        } => {
            if source.contains("://") {
                let name = name.context("installing from an index URL needs --name VOICE")?;
                let limits = crate::registry::DownloadLimits {
                    deadline: std::time::Duration::from_secs_f64(download_timeout),
                    min_bytes_per_second: min_download_rate,
                };
                crate::registry::install_remote(
                    &store,
                    &source,
                    &name,
                    ca.as_deref(),
                    limits,
                    allow_loopback_http_for_tests,
                )
            } else {
                install(&store, &source)
            }
        }
        VoicesCommand::Verify { name } => verify(&store, &name),
        VoicesCommand::Remove { name } => {
            signet_registry::remove_bundle(&store.voices_dir(), &name)?;
            eprintln!("removed {name}");
            Ok(())
        }
        VoicesCommand::Import(ImportCommand::Piper {
            model,
            config,
            name,
            license,
            lexicon,
            force,
        }) => import_piper(
            &store,
            &model,
            config.as_deref(),
            name,
            license,
            lexicon.as_deref(),
            force,
        ),
        VoicesCommand::Import(ImportCommand::Coqui {
            model,
            config,
            name,
            license,
            lexicon,
            vocoder,
            force,
            side,
        }) => {
            let mut options = signet_coqui::ImportOptions::default();
            options.license = license;
            options.speakers_file = side.speakers_file;
            options.d_vector_file = side.d_vector_file;
            options.language_ids_file = side.language_ids_file;
            if force {
                options.existing = signet_coqui::ExistingBundle::Replace;
            }
            import_coqui(
                &store,
                &model,
                &config,
                name,
                lexicon.as_deref(),
                vocoder.as_deref(),
                options,
            )
        }
    }
}

fn list(store: &Store) -> Result<()> {
    let voices = signet::list_voices(store)?;
    if voices.is_empty() {
        eprintln!(
            "no voices in {}; `cargo xtask setup` installs the default voice, \
             `signet voices import piper MODEL.onnx` imports one",
            store.voices_dir().display()
        );
        return Ok(());
    }
    outln!(
        "{:<28} {:<8} {:<8} {:>6} {:>8} {:>9}  {:<12} VERIFIED",
        "NAME",
        "LANGUAGE",
        "QUALITY",
        "RATE",
        "SPEAKERS",
        "SIZE",
        "LICENCE"
    )?;
    for v in voices {
        let verified = match &v.verified {
            Ok(()) => "yes".to_owned(),
            Err(why) => format!("NO ({why})"),
        };
        outln!(
            "{:<28} {:<8} {:<8} {:>6} {:>8} {:>9}  {:<12} {}",
            v.name,
            v.language,
            v.quality.as_deref().unwrap_or("-"),
            v.sample_rate,
            v.num_speakers,
            human_size(v.size),
            licence_label(&v.license),
            verified
        )?;
    }
    Ok(())
}

/// The licence as one terminal-safe word: a manifest's licence is signed but
/// still text from a file, so control characters are escaped and white space
/// becomes `_` to keep the columns.
fn licence_label(license: &str) -> String {
    if license.is_empty() {
        return "-".to_owned();
    }
    crate::inspect::escape(license).replace(char::is_whitespace, "_")
}

fn install(store: &Store, source: &str) -> Result<()> {
    let trust = store.trust_store()?;
    let done = signet_registry::install_bundle(Path::new(source), &store.voices_dir(), &trust)
        .with_context(|| format!("cannot install {source}"))?;
    if done.unchanged {
        eprintln!(
            "{} version {} is already installed",
            done.name, done.version
        );
    } else if let Some(prev) = done.previous {
        eprintln!(
            "updated {} from version {prev} to {} in {}",
            done.name,
            done.version,
            done.dir.display()
        );
    } else {
        eprintln!(
            "installed {} version {} in {}",
            done.name,
            done.version,
            done.dir.display()
        );
    }
    Ok(())
}

/// Verifies the installed voice or vocoder `name` against the home's trust store and prints
/// the line that says so: version, manifest digest, signers.
pub(crate) fn verify_installed(
    store: &Store,
    name: &VoiceName,
    what: Installed,
) -> Result<signet_registry::VerifiedBundle> {
    let trust = store.trust_store()?;
    let bundle = signet_registry::verify_installed(&what.folder(store), name, &trust)
        .with_context(|| format!("{} {name} failed verification", what.noun()))?;
    let m = bundle.manifest();
    outln!(
        "{} version {}: verified; manifest sha256 {}; signed by {}",
        m.name,
        m.version,
        bundle.manifest_sha256(),
        bundle
            .signers()
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(bundle)
}

fn verify(store: &Store, name: &VoiceName) -> Result<()> {
    let bundle = verify_installed(store, name, Installed::Voice)?;
    let m = bundle.manifest();
    // Names for `signet speak --speaker` and `--language`, by id.
    for (what, map) in [
        ("speakers", &m.voice.speaker_id_map),
        ("languages", &m.voice.language_id_map),
    ] {
        if !map.is_empty() {
            let mut by_id: Vec<(&i64, &String)> = map.iter().map(|(n, i)| (i, n)).collect();
            by_id.sort();
            let list: Vec<String> = by_id.iter().map(|(i, n)| format!("{n} ({i})")).collect();
            outln!("{what}: {}", list.join(", "))?;
        }
    }
    if let Some((entry, bytes)) = bundle.lexicon() {
        outln!(
            "lexicon: {} ({}, {} bytes, listed and signed; used below the user's lexicons)",
            entry.file,
            entry.format.as_str(),
            bytes.len()
        )?;
    }
    Ok(())
}

/// What an import installs: a voice into `<home>/voices/` or a vocoder into
/// `<home>/vocoders/`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Installed {
    Voice,
    Vocoder,
}

impl Installed {
    fn noun(self) -> &'static str {
        match self {
            Installed::Voice => "voice",
            Installed::Vocoder => "vocoder",
        }
    }

    fn folder(self, store: &Store) -> std::path::PathBuf {
        match self {
            Installed::Voice => store.voices_dir(),
            Installed::Vocoder => store.vocoders_dir(),
        }
    }

    fn dir(self, store: &Store, name: &VoiceName) -> std::path::PathBuf {
        match self {
            Installed::Voice => store.voice_dir(name),
            Installed::Vocoder => store.vocoder_dir(name),
        }
    }
}

/// The store folder a new voice or vocoder goes to: `--name`, else the model's file stem; an
/// installed one of that name is refused unless `force`. Makes the store's folder.
pub(crate) fn import_destination(
    store: &Store,
    model: &Path,
    name: Option<String>,
    force: bool,
    what: Installed,
) -> Result<(String, std::path::PathBuf)> {
    let noun = what.noun();
    let name = match name {
        Some(n) => n,
        None => model
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "cannot derive a {noun} name from {}; pass --name",
                    model.display()
                )
            })?,
    };
    let dest = what.dir(store, &VoiceName::new(&name)?);
    if dest.exists() && !force {
        anyhow::bail!(
            "{noun} {name:?} is already installed in {}; pass --force to replace it",
            what.folder(store).display()
        );
    }
    signet_io::create_private_dir(&what.folder(store))?;
    Ok((name, dest))
}

fn import_coqui(
    store: &Store,
    model: &Path,
    config: &Path,
    name: Option<String>,
    lexicon: Option<&Path>,
    vocoder: Option<&str>,
    mut options: signet_coqui::ImportOptions,
) -> Result<()> {
    let lexicon = lexicon.map(crate::lexicon::read_for_bundle).transpose()?;
    // The vocoder is verified before anything is written.
    let vocoder = vocoder
        .map(|name| signet_coqui::installed_vocoder(store, name))
        .transpose()?;
    let force = options.existing == signet_coqui::ExistingBundle::Replace;
    let (name, dest) = import_destination(store, model, name, force, Installed::Voice)?;
    options.name = Some(name);
    options.lexicon = lexicon;
    let (key, _) = crate::keys::importer_key(store)?;
    let report = signet_coqui::import_coqui_with_vocoder(
        model,
        config,
        &dest,
        &options,
        &key,
        vocoder.as_ref(),
    )?;
    eprintln!("imported {report}");
    Ok(())
}

fn import_piper(
    store: &Store,
    model: &Path,
    config: Option<&Path>,
    name: Option<String>,
    license: Option<String>,
    lexicon: Option<&Path>,
    force: bool,
) -> Result<()> {
    let lexicon = lexicon.map(crate::lexicon::read_for_bundle).transpose()?;
    let (name, dest) = import_destination(store, model, name, force, Installed::Voice)?;
    let mut options = signet_piper::ImportOptions::default();
    options.name = Some(name);
    options.license = license;
    options.lexicon = lexicon;
    if force {
        options.existing = signet_piper::ExistingBundle::Replace;
    }
    let (key, _) = crate::keys::importer_key(store)?;
    let report = signet_piper::import_piper_with(model, config, &dest, &options, &key)?;
    eprintln!("imported {report}");
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// A duration in seconds: a finite number above 0 and at most a year (decimals allowed).
fn positive_seconds(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds (e.g. 600 or 0.5)"))?;
    if v.is_finite() && v > 0.0 && v <= 366.0 * 86_400.0 {
        Ok(v)
    } else {
        Err(format!("{text} is not between 0 and a year of seconds"))
    }
}
