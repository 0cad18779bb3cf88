//! `signet inspect FILE.wav`: a WAV file's format, length and provenance.
//!
//! The file is read under the same checks as any untrusted WAV input
//! (`signet_audio::WavInfo::read`: size cap, RIFF structure, format, a
//! well-formed `LIST`/`INFO` chunk); a malformed file is refused with the
//! reason. Metadata is a label, not proof: anyone can strip or forge it, so
//! the output says so.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use signet::{WavInfo, WavLimits};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The WAV file.
    file: PathBuf,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let limits = WavLimits::default();
    let path = args.file.display();
    let cap = signet_io::Cap::new(limits.max_bytes, "a fixed limit of WAV input");
    let bytes =
        signet_io::read_capped(&args.file, cap).with_context(|| format!("cannot open {path}"))?;
    let info = WavInfo::read(&bytes, &limits).with_context(|| format!("{path} is refused"))?;
    print!("{}", report(&info));
    Ok(())
}

fn report(info: &WavInfo) -> String {
    let mut s = String::new();
    let kind = if info.float { "float" } else { "integer PCM" };
    s.push_str(&format!(
        "format:      WAV, {}-bit {kind}, {} channel(s), {} Hz\n",
        info.bits, info.channels, info.sample_rate
    ));
    s.push_str(&format!(
        "length:      {:.3} s ({} frames), peak {:.3}\n",
        info.duration_secs(),
        info.frames,
        info.peak
    ));
    if let Some(software) = info.info.as_ref().and_then(|i| i.software.as_deref()) {
        s.push_str(&format!("software:    {software}\n"));
    }
    match &info.provenance {
        Some(p) => {
            s.push_str("provenance:  synthetic speech\n");
            s.push_str(&format!("generator:   {} {}\n", p.generator, p.version));
            s.push_str(&format!("voice:       {}\n", p.voice));
            s.push_str(&format!("manifest:    sha256:{}\n", p.manifest_sha256));
            s.push_str(
                "note:        metadata can be removed or forged; its presence is a label, not proof\n",
            );
        }
        None => s.push_str(
            "provenance:  none (no Signet metadata: made elsewhere, or the metadata was stripped)\n",
        ),
    }
    s
}
