//! `signet vocoders ...`: import, list and verify mel vocoders, the second stage of two-stage
//! voices. Vocoder bundles live in `<home>/vocoders/<name>/`, are signed by the local importer
//! key and verified against the same trust store as voices; a two-stage voice pins its
//! vocoder by name and manifest SHA-256.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use signet::store::VoiceName;
use signet::Store;

#[derive(Debug, Subcommand)]
pub enum VocodersCommand {
    /// List installed vocoders, verifying each bundle.
    List,
    /// Verify an installed vocoder against the trust store and report its manifest digest
    /// (the one voices pin) and who signed it.
    Verify {
        /// The vocoder name.
        name: VoiceName,
    },
    /// Import a vocoder from another format into the store, signed by the local importer key
    /// (created and trusted on first use).
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a Coqui TTS HiFi-GAN vocoder (checkpoint + config.json), read as data: nothing
    /// in the checkpoint is unpickled or run. Voices name it with
    /// `signet voices import coqui MODEL.pth --config config.json --vocoder NAME`.
    Coqui {
        /// The vocoder's checkpoint (`model_file.pth`, `best_model.pth`...).
        model: PathBuf,
        /// Its Coqui `config.json`.
        #[arg(long)]
        config: PathBuf,
        /// Name in the store (default: the checkpoint's file stem).
        #[arg(long)]
        name: Option<String>,
        /// SPDX licence of the vocoder (default `unknown`: Coqui configs carry none).
        #[arg(long, value_name = "SPDX")]
        license: Option<String>,
        /// Replace an installed vocoder of the same name (voices that pinned the old one are
        /// then refused until re-imported against the new one).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(home: &Path, cmd: VocodersCommand) -> Result<()> {
    let store = Store::new(home);
    match cmd {
        VocodersCommand::List => list(&store),
        VocodersCommand::Verify { name } => verify(&store, &name),
        VocodersCommand::Import(ImportCommand::Coqui {
            model,
            config,
            name,
            license,
            force,
        }) => import_coqui(&store, &model, &config, name, license, force),
    }
}

fn list(store: &Store) -> Result<()> {
    let names = store.vocoder_names()?;
    if names.is_empty() {
        eprintln!(
            "no vocoders in {}; `signet vocoders import coqui VOCODER.pth --config config.json` \
             imports one",
            store.vocoders_dir().display()
        );
        return Ok(());
    }
    let trust = store.trust_store()?;
    outln!("{:<28} {:>6} {:>5}  VERIFIED", "NAME", "RATE", "MELS")?;
    for name in names {
        match signet_registry::verify_installed(&store.vocoders_dir(), &name, &trust) {
            Ok(bundle) => {
                let m = bundle.manifest();
                let mels = m
                    .mel
                    .as_ref()
                    .and_then(|mel| mel.normalization.get("num_mels"))
                    .and_then(toml::Value::as_integer)
                    .map_or_else(|| "-".to_owned(), |n| n.to_string());
                outln!(
                    "{:<28} {:>6} {:>5}  yes (manifest sha256 {})",
                    name,
                    m.voice.sample_rate,
                    mels,
                    bundle.manifest_sha256()
                )?;
            }
            Err(e) => outln!("{:<28} {:>6} {:>5}  NO ({e})", name, "-", "-")?,
        }
    }
    Ok(())
}

fn verify(store: &Store, name: &VoiceName) -> Result<()> {
    crate::voices::verify_installed(store, name, crate::voices::Installed::Vocoder)?;
    Ok(())
}

fn import_coqui(
    store: &Store,
    model: &Path,
    config: &Path,
    name: Option<String>,
    license: Option<String>,
    force: bool,
) -> Result<()> {
    let (name, dest) = crate::voices::import_destination(
        store,
        model,
        name,
        force,
        crate::voices::Installed::Vocoder,
    )?;
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some(name);
    options.license = license;
    if force {
        options.existing = signet_coqui::ExistingBundle::Replace;
    }
    let (key, _) = crate::keys::importer_key(store)?;
    let report = signet_coqui::import_coqui_vocoder(model, config, &dest, &options, &key)?;
    eprintln!(
        "imported {report}; manifest sha256 {}",
        report.manifest_sha256
    );
    Ok(())
}
