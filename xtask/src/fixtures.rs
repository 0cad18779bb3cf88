//! `cargo xtask fixtures`: regenerate the test fixtures from the reference
//! implementations (onnxruntime running the original Piper voice, and
//! piper-tts's own phonemizer). These tools live only in the project venv;
//! nothing at run time depends on them. With `--coqui VENV`, also the Coqui
//! fixtures, with coqui-tts 0.28 in that throw-away venv (`scripts/coqui_fixtures.sh`).

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{setup, util};

/// Runs both fixture generators with the venv's python, then, given a coqui-tts venv, the
/// Coqui fixture script.
pub fn run(root: &Path, coqui: Option<&Path>) -> Result<()> {
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
    if let Some(venv) = coqui {
        eprintln!("fixtures: scripts/coqui_fixtures.sh {}", venv.display());
        util::run(
            Command::new("sh")
                .arg(root.join("scripts/coqui_fixtures.sh"))
                .arg(venv)
                .current_dir(root),
        )?;
    }
    eprintln!("fixtures: done; review `git diff` before committing");
    Ok(())
}
