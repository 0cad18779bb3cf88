//! The `signet` command-line tool.
//!
//! Every failure ends in one line on stderr, `signet: error: ...`, and a
//! non-zero exit status; usage errors exit with 2. A panic, which would be a
//! bug, is reported in one line too, without a backtrace.
#![forbid(unsafe_code)]

/// `println!` that returns the write error instead of panicking, so a closed
/// stdout (`signet voices list | head -1`) ends the command quietly, as other
/// Unix tools do (see `is_broken_pipe`). Use it with `?` for everything
/// printed to stdout.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` with the same error handling as `outln!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        write!(stdout, $($arg)*).and_then(|()| stdout.flush())
    }};
}

mod config;
mod detect;
mod inspect;
mod keys;
mod lexicon;
mod output;
mod phonemize;
mod registry;
mod scan;
mod serve;
mod speak;
mod trust;
mod verify_release;
mod vocoders;
mod voices;
mod wyoming;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Text-to-speech that only speaks with voices it can verify.
#[derive(Debug, Parser)]
#[command(name = "signet", version, about, max_term_width = 100)]
struct Cli {
    /// Signet home folder (voice store, espeak-ng data); default
    /// $SIGNET_HOME, else $XDG_DATA_HOME/signet, else ~/.local/share/signet.
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Speak text (or phoneme ids) into a WAV file or raw PCM.
    Speak(Box<speak::SpeakArgs>),
    /// Install, import and list voices.
    #[command(subcommand)]
    Voices(voices::VoicesCommand),
    /// Import, list and verify mel vocoders (the second stage of two-stage voices).
    #[command(subcommand)]
    Vocoders(vocoders::VocodersCommand),
    /// Print a text's phonemes, or with --ids the phoneme ids that
    /// `speak --phoneme-ids` takes, one sentence per line.
    Phonemize(phonemize::PhonemizeArgs),
    /// Check pronunciation lexicons (TOML or W3C PLS).
    #[command(subcommand)]
    Lexicon(lexicon::LexiconCommand),
    /// Show a WAV file's format, length, provenance metadata and content credentials (checked).
    Inspect(inspect::InspectArgs),
    /// Say whether audio files carry the watermark of a key (the home's by default), with
    /// its score, offset, speed, payload and a false-positive estimate.
    Detect(detect::DetectArgs),
    /// Report what loading a PyTorch checkpoint (.pth) with pickle would import and call,
    /// without running any of it.
    Scan(scan::ScanArgs),
    /// Generate and show signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Edit and show the trust store.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Check a release folder's signature and the digest of every file.
    VerifyRelease(verify_release::VerifyReleaseArgs),
    /// Serve speech over HTTP (API keys, rate limits, streaming audio).
    #[command(long_about = serve::LONG_ABOUT)]
    Serve(serve::ServeArgs),
    /// Serve speech over the Wyoming protocol, for Home Assistant.
    #[command(long_about = wyoming::LONG_ABOUT)]
    Wyoming(wyoming::WyomingArgs),
    /// Publish a signed index of bundles.
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
}

/// Starts this program again with libtorch's OpenMP threads set to sleep when idle, unless the
/// environment already says what they do. The OpenMP runtime reads its wait policy once, as it
/// loads, before `main`; spinning threads make synthesis several times slower on busy cores
/// (see `signet::default_threads`), and with sleeping ones a synthesis may use every core.
fn restart_with_sleeping_omp_threads() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(signet::OMP_WAIT_POLICY_ENV).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    let err = command
        .args(args)
        .env(signet::OMP_WAIT_POLICY_ENV, "passive")
        .exec();
    // Only reached when the restart failed: go on with the runtime's default policy (and one
    // libtorch thread by default).
    let _ = err;
}

fn main() -> ExitCode {
    restart_with_sleeping_omp_threads();
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_owned());
        eprintln!("signet: internal error (a bug, please report it): {msg}");
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let home = cli.home.map(Ok).unwrap_or_else(signet::store::default_home);
    let result = home
        .map_err(anyhow::Error::from)
        .and_then(|home| match cli.command {
            Command::Speak(args) => speak::run(&home, *args),
            Command::Voices(cmd) => voices::run(&home, cmd),
            Command::Vocoders(cmd) => vocoders::run(&home, cmd),
            Command::Inspect(args) => inspect::run(&home, &args),
            Command::Detect(args) => detect::run(&home, &args),
            Command::Scan(args) => scan::run(&args),
            Command::Phonemize(args) => phonemize::run(&home, &args),
            Command::Lexicon(cmd) => lexicon::run(&home, cmd),
            Command::Keys(cmd) => keys::run(&home, cmd),
            Command::Trust(cmd) => trust::run(&home, cmd),
            Command::VerifyRelease(args) => verify_release::run(args),
            Command::Serve(args) => serve::run(&home, args),
            Command::Wyoming(args) => wyoming::run(&home, args),
            Command::Registry(cmd) => registry::run(&home, cmd),
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("signet: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, `outer: inner: root`, without
/// repeating a cause the outer message already includes.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    // Messages may quote foreign text (a manifest's unknown field, a server's reason): show
    // control characters escaped, never raw on the user's terminal.
    signet_io::escape_controls(&out.replace('\n', " ")).into_owned()
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
