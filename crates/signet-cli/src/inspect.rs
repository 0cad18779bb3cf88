//! `signet inspect FILE.wav`: a WAV file's format, length, provenance and
//! content credentials.
//!
//! The file is read under the same checks as any untrusted WAV input
//! (`signet_audio::WavInfo::read`: size cap, RIFF structure, format, a
//! well-formed `LIST`/`INFO` chunk and `sgcr` credentials chunk); a malformed
//! file is refused with the reason. Metadata is a label, not proof: anyone
//! can strip or forge it, so the output says so.
//!
//! Content credentials are checked on the bytes read (signature, then the
//! SHA-256 of the `fmt ` and `data` chunks), and the signer is compared with
//! the key given with `--key`, else the home's credentials key: "this home's
//! key", "the key given", or "unknown key" (a valid signature by a key the
//! reader does not know proves only that its holder signed). Invalid
//! credentials are reported and make the command fail (exit status 1).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use signet::credentials::{CredentialStatus, Credentials, PublicKey};
use signet::{WavInfo, WavLimits};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The WAV file.
    file: PathBuf,
    /// Check the content credentials' signer against this public key
    /// (`ed25519:<base64>`, or a file holding it, as `signet keys export-public` prints)
    /// instead of the home's credentials key.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
}

/// Whose key the reader compares the signer with.
enum Known {
    Home(PublicKey),
    Given(PublicKey),
    None,
}

pub fn run(home: &std::path::Path, args: &InspectArgs) -> Result<()> {
    let known = match &args.key {
        Some(arg) => Known::Given(
            signet_sign::keys::public_key_from_arg(arg).context("--key is not a public key")?,
        ),
        None => match signet::credentials::home_public_key(&signet::Store::new(home))? {
            Some(key) => Known::Home(key),
            None => Known::None,
        },
    };
    let limits = WavLimits::default();
    let path = args.file.display();
    let cap = signet_io::Cap::new(limits.max_bytes, "a fixed limit of WAV input");
    let bytes =
        signet_io::read_capped(&args.file, cap).with_context(|| format!("cannot open {path}"))?;
    let info = WavInfo::read(&bytes, &limits).with_context(|| format!("{path} is refused"))?;
    out!("{}", report(&info, &known))?;
    match info.credentials.as_ref().map(|c| c.status) {
        Some(CredentialStatus::BadSignature) => {
            bail!("{path}: the content credentials are INVALID: their signature does not verify")
        }
        Some(CredentialStatus::AudioChanged) => {
            bail!("{path}: the content credentials are INVALID: the audio changed after signing")
        }
        _ => Ok(()),
    }
}

/// The credentials lines of the report.
fn credentials_report(c: &Credentials, known: &Known) -> String {
    let claim = &c.claim;
    let id = claim.key_id();
    let whose = match known {
        Known::Home(k) if *k == claim.signer => "this home's key",
        Known::Given(k) if *k == claim.signer => "the key given with --key",
        _ => "unknown key",
    };
    let mut s = String::new();
    let verdict = match c.status {
        CredentialStatus::Valid => format!("valid, signed by key {id} ({whose})"),
        CredentialStatus::AudioChanged => {
            format!("INVALID: audio changed after signing (signed by key {id}, {whose})")
        }
        CredentialStatus::BadSignature => {
            "INVALID: signature (the claim or its signature was changed)".to_owned()
        }
        _ => "INVALID: unknown check result".to_owned(),
    };
    s.push_str(&format!("credentials: {verdict}\n"));
    let p = &claim.provenance;
    s.push_str(&format!(
        "  claims:    {} by {} {}, voice {} (manifest sha256:{})\n",
        escape(&claim.digital_source_type),
        escape(&p.generator),
        escape(&p.version),
        escape(&p.voice),
        escape(&p.manifest_sha256)
    ));
    s.push_str(&format!("  audio:     data sha256:{}\n", claim.data_sha256));
    if let Some(t) = claim.created {
        s.push_str(&format!(
            "  created:   {}\n",
            signet_sign::time::format_rfc3339(t)
        ));
    }
    s.push_str(&format!("  signer:    {}\n", claim.signer.to_text()));
    s.push_str(
        "  note:      credentials can be stripped; they prove origin only to whoever trusts the signing key\n",
    );
    s
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

fn report(info: &WavInfo, known: &Known) -> String {
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
    match &info.credentials {
        Some(c) => s.push_str(&credentials_report(c, known)),
        None => s.push_str(
            "credentials: none (no signed content credentials: made elsewhere, not a WAV file Signet wrote whole, or stripped)\n",
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
