//! `cargo xtask demo`: the main job. Provision, build, and speak a sentence
//! with the default voice into a WAV file.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

use crate::{setup, util};

const SENTENCE: &str = "Hello! This is Signet, a text to speech engine that only speaks \
with voices it can verify. The weather today is sunny, with a high of 23 degrees.";

/// Runs the demo; `args` may hold `-o FILE` and/or a sentence.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut output = root.join("demo.wav");
    let mut text = SENTENCE.to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" | "--output" => match it.next() {
                Some(p) => output = PathBuf::from(p),
                None => bail!("-o needs a file name"),
            },
            t if !t.starts_with('-') => t.clone_into(&mut text),
            other => {
                bail!("unknown demo option `{other}`; usage: cargo xtask demo [-o FILE] [TEXT]")
            }
        }
    }
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
