//! `cargo xtask fixtures`: regenerate the test fixtures from the reference
//! implementations (onnxruntime running the original Piper voice, and
//! piper-tts's own phonemizer). These tools live only in the project venv;
//! nothing at run time depends on them.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{setup, util};

/// Runs both fixture generators with the venv's python.
pub fn run(root: &Path) -> Result<()> {
    let p = setup::run(root)?;
    for script in [
        "scripts/make_parity_fixtures.py",
        "scripts/phoneme_fixtures.py",
    ] {
        eprintln!("fixtures: {script}");
        util::run(
            Command::new(&p.python)
                .arg(root.join(script))
                .current_dir(root)
                .env("SIGNET_TEST_VOICE_DIR", &p.voice_dir),
        )?;
    }
    eprintln!("fixtures: done; review `git diff` before committing");
    Ok(())
}
