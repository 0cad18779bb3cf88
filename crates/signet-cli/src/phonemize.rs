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
    /// A pronunciation lexicon (TOML or W3C PLS), as `signet speak --lexicon`;
    /// repeatable; `<home>/lexicon.toml` comes after them.
    #[arg(long, value_name = "FILE")]
    lexicon: Vec<std::path::PathBuf>,
}

/// Runs the frontend of `args.voice` on the text and prints each sentence.
pub fn run(home: &Path, args: &PhonemizeArgs) -> Result<()> {
    let mut builder = Synthesizer::builder()
        .home(home)
        .voice(&args.voice)
        .limits(signet::Limits::default().with_max_input_bytes(64 * 1024));
    for lexicon in crate::lexicon::user_lexicons(home, &args.lexicon)? {
        builder = builder.lexicon(lexicon);
    }
    let synth = builder.build()?;
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
