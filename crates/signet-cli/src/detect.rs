//! `signet detect FILE...`: whether a watermark key's mark is in audio files.
//!
//! Each file is read through signet-io under a size cap (`--max-bytes`,
//! 64 MiB by default, so memory stays bounded whatever the file claims),
//! then decoded by signet-audio's hardened WAV reader (any rate from 8 kHz,
//! any channel count it takes, 8 to 32-bit integer or float; channels are
//! averaged), or, with `--rate`, as raw mono samples (`--raw s16` little
//! endian, the default, or `f32`). The key is the home's
//! (`<home>/keys/watermark.key`) unless `--key` names another; detect never
//! makes a key. A file that cannot be read is reported and the others are
//! still searched; the command then fails at the end.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use signet::watermark::{detect, read_key_file, Detection, WatermarkKey};
use signet::{Audio, WavLimits};

/// Default cap on one input file: 64 MiB.
const DEFAULT_MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Audio files: WAV, or raw samples with --rate.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The watermark key file (64 hex digits, mode 0600) [default: <home>/keys/watermark.key].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Print one JSON object per file, in a JSON array.
    #[arg(long)]
    json: bool,
    /// Read the files as raw mono samples at this rate (Hz) instead of WAV.
    #[arg(long, value_name = "HZ")]
    rate: Option<u32>,
    /// The raw sample format with --rate: s16 (signed 16-bit little endian) or f32.
    #[arg(long, value_name = "s16|f32", default_value = "s16", requires = "rate")]
    raw: RawFormat,
    /// Largest file read, in bytes [default: 67108864, 64 MiB].
    #[arg(long, value_name = "BYTES")]
    max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RawFormat {
    S16,
    F32,
}

pub fn run(home: &Path, args: &DetectArgs) -> Result<()> {
    let key = match &args.key {
        Some(path) => read_key_file(path)?,
        None => {
            let path = signet::Store::new(home).watermark_key_path();
            if std::fs::symlink_metadata(&path).is_err() {
                bail!(
                    "no watermark key at {}: the home has not marked any speech yet; \
                     give the key that marked the audio with --key FILE",
                    path.display()
                );
            }
            read_key_file(&path)?
        }
    };
    let max_bytes = args.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    let mut failed = 0usize;
    let mut json = Vec::new();
    for file in &args.files {
        let name = signet_io::escape_controls(&file.display().to_string()).into_owned();
        match detect_file(file, &key, args, max_bytes) {
            Ok(found) => {
                if args.json {
                    json.push(to_json(&name, &found));
                } else {
                    outln!("{}", report(&name, &found))?;
                }
            }
            Err(e) if args.files.len() == 1 && !args.json => return Err(e),
            Err(e) => {
                failed += 1;
                let reason = crate::one_line(&e);
                if args.json {
                    json.push(serde_json::json!({ "file": name, "error": reason }));
                }
                eprintln!("signet: error: {reason}");
            }
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&json)?)?;
    }
    if failed > 0 {
        bail!(
            "{failed} of {} file(s) could not be searched",
            args.files.len()
        );
    }
    Ok(())
}

/// Reads one file (capped) and searches it.
fn detect_file(
    file: &Path,
    key: &WatermarkKey,
    args: &DetectArgs,
    max_bytes: u64,
) -> Result<Detection> {
    let path = signet_io::escape_controls(&file.display().to_string()).into_owned();
    let cap = signet_io::Cap::new(max_bytes, "raise it with --max-bytes");
    let bytes = signet_io::read_capped(file, cap).with_context(|| format!("cannot open {path}"))?;
    let audio = match args.rate {
        Some(rate) => raw_audio(&bytes, rate, args.raw).with_context(|| path.clone())?,
        None => {
            let limits = WavLimits::default().with_max_bytes(max_bytes);
            Audio::from_wav(&bytes, &limits)
                .with_context(|| format!("{path} is not a WAV file Signet reads"))?
        }
    };
    drop(bytes);
    detect(audio.samples(), audio.sample_rate(), key).with_context(|| path)
}

/// Raw mono samples.
fn raw_audio(bytes: &[u8], rate: u32, format: RawFormat) -> Result<Audio> {
    let width = match format {
        RawFormat::S16 => 2,
        RawFormat::F32 => 4,
    };
    if bytes.len() % width != 0 {
        bail!(
            "{} bytes is not a whole number of {width}-byte samples: the file is truncated \
             or not in this format",
            bytes.len()
        );
    }
    let samples: Vec<f32> = match format {
        RawFormat::S16 => bytes
            .chunks_exact(2)
            .filter_map(|c| <[u8; 2]>::try_from(c).ok())
            .map(|c| f32::from(i16::from_le_bytes(c)) / 32768.0)
            .collect(),
        RawFormat::F32 => bytes
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(f32::from_le_bytes)
            .collect(),
    };
    Ok(Audio::new(samples, rate)?)
}

fn report(name: &str, d: &Detection) -> String {
    let mut s = format!("{name}: ");
    if d.present {
        s.push_str(&format!("watermark PRESENT (key {})\n", d.key_id));
    } else {
        s.push_str(&format!("no watermark of key {} found\n", d.key_id));
    }
    s.push_str(&format!(
        "  score {:.2} (threshold {:.2}), false-positive estimate {:.1e}\n",
        d.score, d.threshold, d.false_positive
    ));
    if d.present {
        s.push_str(&format!(
            "  offset {:.3} s in the pattern, speed {:.3}\n",
            d.offset_seconds, d.speed
        ));
        match d.payload {
            Some(p) => s.push_str(&format!("  payload {} (0x{:04x})", p.0, p.0)),
            None => s.push_str("  payload unclear (the mark is there, its 16 bits are not)"),
        }
    } else {
        s.push_str("  (a mark made with another key, or none, looks the same)");
    }
    s
}

fn to_json(name: &str, d: &Detection) -> serde_json::Value {
    serde_json::json!({
        "file": name,
        "present": d.present,
        "key_id": d.key_id.to_string(),
        "score": d.score,
        "threshold": d.threshold,
        "false_positive": d.false_positive,
        "offset_seconds": d.offset_seconds,
        "speed": d.speed,
        "payload": d.payload.map(|p| p.0),
        "payload_score": d.payload_score,
        "hypotheses": d.hypotheses,
    })
}
