//! `signet phonemize TEXT`: what the text frontend makes of a text, one line
//! per sentence: its phonemes, or with `--ids` its phoneme ids as a JSON
//! array, which `signet speak --phoneme-ids FILE` speaks as it is.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use signet::Synthesizer;

/// Arguments of `signet phonemize`.
#[derive(Debug, Args)]
pub struct PhonemizeArgs {
    /// The text (at most 64 KiB here; `signet speak` takes longer texts).
    text: String,
    /// Voice whose phoneme map gives the ids.
    #[arg(long, default_value = signet::DEFAULT_VOICE)]
    voice: String,
    /// Print each sentence's phoneme ids as a JSON array (BOS/EOS included)
    /// instead of its phonemes.
    #[arg(long)]
    ids: bool,
}

/// Runs the frontend of `args.voice` on the text and prints each sentence.
pub fn run(home: &Path, args: &PhonemizeArgs) -> Result<()> {
    let synth = Synthesizer::builder()
        .home(home)
        .voice(&args.voice)
        .limits(signet::Limits::default().with_max_input_bytes(64 * 1024))
        .build()?;
    let (sentences, _diagnostics) = synth.phonemize(&args.text)?;
    for sentence in sentences.iter().filter(|s| s.is_voiced()) {
        if args.ids {
            outln!("{}", serde_json::to_string(&sentence.ids)?)?;
        } else {
            outln!("{}", sentence.phonemes)?;
        }
    }
    Ok(())
}
