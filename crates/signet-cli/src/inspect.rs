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
    out!("{}", report(&info))?;
    Ok(())
}

/// A field read from the file, made safe for a terminal: control characters
/// (escape sequences, carriage returns, ...) and the invisible characters that
/// reorder or hide text (bidirectional controls, zero-width characters) are
/// written as `\u{..}` escapes, so a file cannot retitle, clear or rewrite the
/// terminal, or make one value look like another.
pub(crate) fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        let invisible = matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
        );
        if c.is_control() || invisible {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
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
        s.push_str(&format!("software:    {}\n", escape(software)));
    }
    match &info.provenance {
        Some(p) => {
            s.push_str("provenance:  synthetic speech\n");
            s.push_str(&format!(
                "generator:   {} {}\n",
                escape(&p.generator),
                escape(&p.version)
            ));
            s.push_str(&format!("voice:       {}\n", escape(&p.voice)));
            s.push_str(&format!(
                "manifest:    sha256:{}\n",
                escape(&p.manifest_sha256)
            ));
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

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_writes_control_and_invisible_characters_as_escapes() {
        assert_eq!(escape("plain text, é"), "plain text, é");
        assert_eq!(escape("\u{1b}]0;pwned\u{7}"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(escape("a\rb\nc"), "a\\u{d}b\\u{a}c");
        assert_eq!(escape("x\u{202e}y\u{200b}"), "x\\u{202e}y\\u{200b}");
        assert_eq!(escape("\u{9b}2J"), "\\u{9b}2J");
    }
}
