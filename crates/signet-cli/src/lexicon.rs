//! `signet lexicon check FILE [--voice V]`, and the lexicons `signet speak`
//! reads: `--lexicon FILE` (repeatable, in priority order), then
//! `<home>/lexicon.toml` when it exists.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use signet::{Lexicon, Synthesizer};

/// Largest lexicon file read, in bytes.
const MAX_LEXICON_BYTES: u64 = 4 * 1024 * 1024;

/// The home's lexicon, read after the `--lexicon` files.
pub const HOME_LEXICON: &str = "lexicon.toml";

#[derive(Debug, Subcommand)]
pub enum LexiconCommand {
    /// Check a lexicon file (TOML or W3C PLS): that it reads, which words
    /// have more than one entry, and with --voice which IPA symbols the
    /// voice lacks. Exits non-zero when it finds a problem.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The lexicon file.
    file: PathBuf,
    /// Check the IPA symbols against this voice's phoneme map.
    #[arg(long)]
    voice: Option<String>,
}

/// Reads one lexicon file (through signet-io: regular file, capped).
pub fn read(path: &Path) -> Result<Lexicon> {
    const CAP: signet_io::Cap =
        signet_io::Cap::new(MAX_LEXICON_BYTES, "a lexicon file is at most 4 MiB");
    let text = signet_io::read_capped_string(path, CAP)?;
    Ok(Lexicon::parse(&path.display().to_string(), &text)?)
}

/// Reads and checks a lexicon for `voices import ... --lexicon FILE`: the
/// file must read (TOML or PLS, under the same cap and reader as any
/// lexicon); duplicate words are reported as warnings. Returns what the
/// importer puts into the signed bundle: the exact bytes, their format and
/// the language a PLS file declares.
pub fn read_for_bundle(path: &Path) -> Result<signet_registry::BundleLexicon> {
    const CAP: signet_io::Cap =
        signet_io::Cap::new(MAX_LEXICON_BYTES, "a lexicon file is at most 4 MiB");
    let text = signet_io::read_capped_string(path, CAP)
        .with_context(|| format!("--lexicon {}", path.display()))?;
    let lexicon = Lexicon::parse(&path.display().to_string(), &text)
        .with_context(|| format!("--lexicon {} is refused", path.display()))?;
    for issue in lexicon.check(None) {
        eprintln!("warning: {}: {issue}", path.display());
    }
    let format = if Lexicon::is_pls(&text) {
        signet_registry::LexiconFormat::Pls
    } else {
        signet_registry::LexiconFormat::Toml
    };
    Ok(signet_registry::BundleLexicon::new(
        format,
        text.into_bytes(),
        lexicon.language().map(str::to_owned),
    ))
}

/// The lexicons `signet speak` uses, in priority order: the files given,
/// then `<home>/lexicon.toml` if present.
pub fn user_lexicons(home: &Path, files: &[PathBuf]) -> Result<Vec<Lexicon>> {
    let mut out = Vec::new();
    for f in files {
        out.push(read(f).with_context(|| format!("--lexicon {}", f.display()))?);
    }
    let home_file = home.join(HOME_LEXICON);
    match read(&home_file) {
        Ok(l) => out.push(l),
        Err(e)
            if e.downcast_ref::<signet_io::FileError>()
                .is_some_and(|f| matches!(f, signet_io::FileError::NotFound { .. })) => {}
        Err(e) => return Err(e),
    }
    Ok(out)
}

pub fn run(home: &Path, cmd: LexiconCommand) -> Result<()> {
    match cmd {
        LexiconCommand::Check(args) => {
            let lexicon = read(&args.file)?;
            let issues = match &args.voice {
                Some(v) => Synthesizer::builder()
                    .home(home)
                    .voice(v)
                    .build()?
                    .check_lexicon(&lexicon),
                None => lexicon.check(None),
            };
            for issue in &issues {
                outln!("{}: {issue}", args.file.display())?;
            }
            if !issues.is_empty() {
                bail!("{}: {} problem(s)", args.file.display(), issues.len());
            }
            outln!(
                "{}: {} entr{} read, no problem found",
                args.file.display(),
                lexicon.entries().len(),
                if lexicon.entries().len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            )?;
            Ok(())
        }
    }
}
