//! `cargo xtask demo`: the main job. Provision, build, and speak a sentence
//! with the default voice into a WAV file.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::flags::Demo;
use crate::{setup, util};

const SENTENCE: &str = "Hello! This is Signet, a text to speech engine that only speaks \
with voices it can verify. The weather today is sunny, with a high of 23 degrees.";

/// Runs the demo: `-o FILE` (default `demo.wav`) and the text to speak.
pub fn run(root: &Path, args: Demo) -> Result<()> {
    let output = args.output.unwrap_or_else(|| root.join("demo.wav"));
    let text = args.text.unwrap_or_else(|| SENTENCE.to_owned());
    let provisioned = setup::run(root)?;
    let started = std::time::Instant::now();
    util::run(
        Command::new(&provisioned.signet)
            .args(["speak", "--voice", setup::DEFAULT_VOICE, "-o"])
            .arg(&output)
            .arg(&text),
    )?;
    let bytes = std::fs::metadata(&output)?.len();
    // 16-bit mono at the voice's 22050 Hz, after a 44-byte header.
    let secs = bytes.saturating_sub(44) as f64 / 2.0 / 22_050.0;
    eprintln!(
        "demo: wrote {} ({secs:.1} s of audio, synthesized in {:.1} s) — play it with `aplay {}`",
        output.display(),
        started.elapsed().as_secs_f64(),
        output.display()
    );
    Ok(())
}
