//! `signet voices ...`: import and list voices.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use signet::Store;

#[derive(Debug, Subcommand)]
pub enum VoicesCommand {
    /// List installed voices, verifying each bundle.
    List,
    /// Import a voice from another format into the store.
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
        /// Replace an installed voice of the same name.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(home: &Path, cmd: VoicesCommand) -> Result<()> {
    let store = Store::new(home);
    match cmd {
        VoicesCommand::List => list(&store),
        VoicesCommand::Import(ImportCommand::Piper {
            model,
            config,
            name,
            license,
            force,
        }) => import_piper(&store, &model, config.as_deref(), name, license, force),
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
    println!(
        "{:<28} {:<8} {:<8} {:>6} {:>8} {:>9}  VERIFIED",
        "NAME", "LANGUAGE", "QUALITY", "RATE", "SPEAKERS", "SIZE"
    );
    for v in voices {
        let verified = match &v.verified {
            Ok(()) => "yes".to_owned(),
            Err(why) => format!("NO ({why})"),
        };
        println!(
            "{:<28} {:<8} {:<8} {:>6} {:>8} {:>9}  {}",
            v.name,
            v.language,
            v.quality.as_deref().unwrap_or("-"),
            v.sample_rate,
            v.num_speakers,
            human_size(v.size),
            verified
        );
    }
    Ok(())
}

fn import_piper(
    store: &Store,
    model: &Path,
    config: Option<&Path>,
    name: Option<String>,
    license: Option<String>,
    force: bool,
) -> Result<()> {
    let name = match name {
        Some(n) => n,
        None => model
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "cannot derive a voice name from {}; pass --name",
                    model.display()
                )
            })?,
    };
    let dest = store.voice_dir(&name)?;
    if dest.exists() && !force {
        anyhow::bail!(
            "voice {name:?} is already installed in {}; pass --force to replace it",
            store.voices_dir().display()
        );
    }
    std::fs::create_dir_all(store.voices_dir())
        .with_context(|| format!("cannot create {}", store.voices_dir().display()))?;
    let mut options = signet_piper::ImportOptions::default();
    options.name = Some(name);
    options.license = license;
    if force {
        options.existing = signet_piper::ExistingBundle::Replace;
    }
    let report = signet_piper::import_piper_with(model, config, &dest, &options)?;
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
