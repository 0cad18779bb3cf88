//! `signet registry publish`: sign an index of bundle folders for serving over HTTPS; and the
//! remote half of `signet voices install URL`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Subcommand;
use signet::Store;
use signet_fetch::{FetchOptions, Fetcher, HttpPolicy};
use signet_registry::index::{publish_index, Index, INDEX_PAYLOAD_TYPE};
use signet_sign::{Envelope, SecretKey};

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Write DIR/index.json: a signed index of the bundle folders in DIR (serve DIR over HTTPS).
    Publish {
        /// Folder holding one bundle folder per voice.
        dir: PathBuf,
        /// An index-root key: a name in <home>/keys or a key file. Repeat for a threshold.
        #[arg(long, required = true)]
        key: Vec<String>,
        /// Index version (default: the current DIR/index.json's version + 1, else 1).
        #[arg(long)]
        version: Option<u64>,
        /// Days until clients refuse the index as expired (at least 1: an index
        /// that expires at once would be refused by every client).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
        expires_in_days: u32,
    },
}

pub fn run(home: &Path, cmd: RegistryCommand) -> Result<()> {
    let store = Store::new(home);
    match cmd {
        RegistryCommand::Publish {
            dir,
            key,
            version,
            expires_in_days,
        } => {
            let mut keys = Vec::new();
            for k in &key {
                let path = if Path::new(k).is_file() {
                    PathBuf::from(k)
                } else {
                    store.key_path(k)?
                };
                keys.push(
                    SecretKey::load(&path)
                        .with_context(|| format!("cannot load key {}", path.display()))?,
                );
            }
            let out = dir.join("index.json");
            let version = match version {
                Some(v) => v,
                None => previous_version(&out)?.map_or(1, |v| v + 1),
            };
            let expires = unix_now() + i64::from(expires_in_days) * 86_400;
            let trust = store.trust_store()?;
            let refs: Vec<&SecretKey> = keys.iter().collect();
            let bytes = publish_index(&dir, &trust, version, expires, &refs)?;
            let tmp = dir.join(".index.json.tmp");
            std::fs::write(&tmp, &bytes)
                .and_then(|()| std::fs::rename(&tmp, &out))
                .with_context(|| format!("cannot write {}", out.display()))?;
            let env = Envelope::from_json(&bytes)?;
            let index = Index::parse(env.unverified_payload())?;
            eprintln!(
                "wrote {} version {} ({} bundles, expires {}), signed by {}",
                out.display(),
                index.version,
                index.bundles.len(),
                index.expires,
                keys.iter()
                    .map(|k| k.key_id().short().to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
    }
}

/// The version of an existing index file (its signature is not checked: this is the
/// publisher's own file, and the new version must only be higher).
fn previous_version(path: &Path) -> Result<Option<u64>> {
    const CAP: signet_io::Cap = signet_io::Cap::new(
        signet_registry::index::MAX_INDEX_LEN,
        "a fixed limit of the index format",
    );
    let bytes = match signet_io::read_capped(path, CAP) {
        Ok(b) => b,
        Err(signet_io::FileError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let env = Envelope::from_json(&bytes)?;
    if env.payload_type() != INDEX_PAYLOAD_TYPE {
        anyhow::bail!("{} is not a Signet index", path.display());
    }
    Ok(Some(Index::parse(env.unverified_payload())?.version))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How long a remote install may take and how slow it may get (`--download-timeout`,
/// `--min-download-rate`).
#[derive(Debug, Clone, Copy)]
pub struct DownloadLimits {
    pub deadline: std::time::Duration,
    pub min_bytes_per_second: u64,
}

/// Installs `name` from the signed index at `url` (see `signet voices install`).
pub fn install_remote(
    store: &Store,
    url: &str,
    name: &signet::store::VoiceName,
    ca: Option<&Path>,
    limits: DownloadLimits,
    allow_loopback_http: bool,
) -> Result<()> {
    let mut options = FetchOptions::default();
    options.deadline = limits.deadline;
    options.min_rate.bytes_per_second = limits.min_bytes_per_second;
    if let Some(ca) = ca {
        const CAP: signet_io::Cap = signet_io::Cap::new(
            1024 * 1024,
            "a fixed limit: a CA file is a few PEM certificates",
        );
        options.ca_pem = Some(signet_io::read_capped(ca, CAP)?);
    }
    if allow_loopback_http {
        options.http = HttpPolicy::AllowLoopbackHttpForTests;
    }
    let fetcher = Fetcher::new(&options)?;
    let trust = store.trust_store()?;
    // Kept per index-root key, whatever the URL's spelling.
    let states = signet_registry::index::IndexStates::new(store.home().join("index-state"));
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("downloading {name}"));
        bar
    });
    let result = signet_fetch::install_from_index(
        &fetcher,
        url,
        name,
        &store.voices_dir(),
        &store.home().join("tmp"),
        &trust,
        &states,
        &mut |done, total| {
            if let Some(bar) = &bar {
                bar.set_length(total);
                bar.set_position(done);
            }
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let done = result.with_context(|| format!("cannot install {name} from {url}"))?;
    if done.unchanged {
        eprintln!(
            "{} version {} is already installed",
            done.name, done.version
        );
    } else {
        eprintln!(
            "installed {} version {} from {url} in {}",
            done.name,
            done.version,
            done.dir.display()
        );
    }
    Ok(())
}
