//! `signet speak`: text or phoneme ids in, audio out.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use signet::{SampleFormat, Synthesizer};

/// Largest phoneme-ids file read, in bytes.
const MAX_IDS_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Args)]
pub struct SpeakArgs {
    /// Text to speak; `-` or nothing reads it from stdin.
    text: Option<String>,
    /// Output file; `-` writes to stdout (not to a terminal).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Voice name in the store.
    #[arg(long, default_value = signet::DEFAULT_VOICE)]
    voice: String,
    /// Speaker id or name, for multi-speaker voices.
    #[arg(long, value_name = "ID|NAME")]
    speaker: Option<String>,
    /// Speaking time stretch (2 = twice as slow); voice default if unset.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    length_scale: Option<f32>,
    /// Latent noise (0 = deterministic); voice default if unset.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    noise_scale: Option<f32>,
    /// Duration noise; voice default if unset.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    noise_w: Option<f32>,
    /// Speak a JSON array of phoneme ids (BOS/EOS included) instead of text.
    #[arg(long, value_name = "FILE.json", conflicts_with = "text")]
    phoneme_ids: Option<PathBuf>,
    /// Output format: a WAV file, or raw little-endian 16-bit or 32-bit float PCM.
    #[arg(long, value_enum, default_value_t = Format::Wav)]
    format: Format,
    /// Threads for libtorch (default 1; see the README on throughput).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Largest text accepted, in bytes of UTF-8 [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    max_input_bytes: Option<usize>,
    /// Largest text accepted, in characters [default: 500000].
    #[arg(long, value_name = "N")]
    max_chars: Option<usize>,
    /// Most phonemes in one sentence; longer ones are cut at word boundaries [default: 2000].
    #[arg(long, value_name = "N")]
    max_phonemes_per_sentence: Option<usize>,
    /// Most phonemes in the whole request [default: 200000].
    #[arg(long, value_name = "N")]
    max_phonemes_per_request: Option<usize>,
    /// Most seconds of audio produced [default: 3600].
    #[arg(long, value_name = "SECONDS")]
    max_output_seconds: Option<u32>,
    /// Print what the text frontend changed (kinds, counts, byte positions; never the text).
    #[arg(short, long)]
    verbose: bool,
}

impl SpeakArgs {
    /// The limits: defaults, overridden by the flags given.
    fn limits(&self) -> signet::Limits {
        let mut l = signet::Limits::default();
        if let Some(n) = self.max_input_bytes {
            l = l.with_max_input_bytes(n);
        }
        if let Some(n) = self.max_chars {
            l = l.with_max_chars(n);
        }
        if let Some(n) = self.max_phonemes_per_sentence {
            l = l.with_max_phonemes_per_sentence(n);
        }
        if let Some(n) = self.max_phonemes_per_request {
            l = l.with_max_phonemes_per_request(n);
        }
        if let Some(n) = self.max_output_seconds {
            l = l.with_max_output_seconds(n);
        }
        l
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// WAV, 16-bit PCM.
    Wav,
    /// Raw s16le samples.
    S16,
    /// Raw f32le samples, the model's output untouched.
    F32,
}

pub fn run(home: &Path, args: SpeakArgs) -> Result<()> {
    let out = Output::from_arg(args.output.as_deref())?;
    let mut b = Synthesizer::builder().home(home).voice(&args.voice);
    if let Some(x) = args.length_scale {
        b = b.length_scale(x);
    }
    if let Some(x) = args.noise_scale {
        b = b.noise_scale(x);
    }
    if let Some(x) = args.noise_w {
        b = b.noise_w(x);
    }
    if let Some(n) = args.threads {
        b = b.threads(n);
    }
    let limits = args.limits();
    b = b.limits(limits);
    if let Some(s) = &args.speaker {
        b = match s.parse::<i64>() {
            Ok(id) => b.speaker_id(id),
            Err(_) => b.speaker_name(s),
        };
    }
    let synth = b.build()?;

    let speech = match &args.phoneme_ids {
        Some(file) => synth.speak_ids(&read_ids(file)?)?,
        None => {
            let text = match args.text.as_deref() {
                None | Some("-") => read_stdin(limits.max_input_bytes)?,
                Some(t) => t.to_owned(),
            };
            synth.speak(&text)?
        }
    };
    if args.verbose {
        for d in &speech.diagnostics {
            eprintln!("signet: note: {d}");
        }
    } else {
        // Reading numbers and abbreviations as words is routine; anything else dropped or
        // changed is worth a line.
        let notable = speech
            .diagnostics
            .iter()
            .filter(|d| !matches!(d, signet::Diagnostic::Normalized { .. }))
            .count();
        if notable > 0 {
            eprintln!(
                "signet: note: the text frontend removed or changed parts of the input ({notable} note(s); --verbose shows them)"
            );
        }
    }
    let bytes = match args.format {
        Format::Wav => speech.audio.to_wav(SampleFormat::S16)?,
        Format::S16 | Format::F32 => {
            let fmt = if matches!(args.format, Format::S16) {
                SampleFormat::S16
            } else {
                SampleFormat::F32
            };
            let mut v = Vec::new();
            speech.audio.write_raw(fmt, &mut v)?;
            v
        }
    };
    out.write(&bytes)
}

enum Output {
    Stdout,
    File(PathBuf),
}

impl Output {
    fn from_arg(arg: Option<&Path>) -> Result<Self> {
        match arg {
            Some(p) if p != Path::new("-") => Ok(Output::File(p.to_path_buf())),
            _ => {
                if std::io::stdout().is_terminal() {
                    bail!(
                        "refusing to write audio to a terminal: pass -o FILE.wav, or pipe stdout"
                    );
                }
                Ok(Output::Stdout)
            }
        }
    }

    fn write(&self, bytes: &[u8]) -> Result<()> {
        match self {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()?;
                Ok(())
            }
            Output::File(p) => write_file(p, bytes),
        }
    }
}

/// Writes `bytes` to `p`. A regular file (or a new one) is written next to
/// the target and renamed over it, so no half-written file is ever left under
/// the requested name. Anything else that already exists there (a device such
/// as `/dev/null`, a FIFO) is written in place: renaming over it would replace
/// the device node instead of writing to it.
fn write_file(p: &Path, bytes: &[u8]) -> Result<()> {
    let existing = std::fs::metadata(p).ok();
    if let Some(m) = existing.filter(|m| !m.is_file()) {
        if m.is_dir() {
            bail!("cannot write {}: it is a directory", p.display());
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .with_context(|| format!("cannot write {}", p.display()))?;
        return f
            .write_all(bytes)
            .and_then(|()| f.flush())
            .with_context(|| format!("cannot write {}", p.display()));
    }
    let mut tmp_name = p.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.signet-part", std::process::id()));
    let tmp = p.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, p).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("cannot write {}", p.display()))
    })
}

fn read_stdin(max: usize) -> Result<String> {
    if std::io::stdin().is_terminal() {
        eprintln!("signet: reading text from the terminal; end with Ctrl-D");
    }
    let bytes = read_capped(std::io::stdin().lock(), "standard input", max as u64)?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "standard input is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn read_capped(r: impl Read, what: &str, max: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > max {
        bail!("{what} is larger than the limit of {max} bytes (max_input_bytes; raise it with --max-input-bytes)");
    }
    Ok(buf)
}

/// Reads a JSON array of integer ids; anything else is a clear error.
fn read_ids(path: &Path) -> Result<Vec<i64>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let bytes = read_capped(f, &path.display().to_string(), MAX_IDS_FILE_BYTES)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let Some(items) = value.as_array() else {
        bail!(
            "{}: expected a JSON array of integer phoneme ids",
            path.display()
        );
    };
    if items.is_empty() {
        bail!("{}: the phoneme id array is empty", path.display());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_i64().with_context(|| {
                format!(
                    "{}: element {i} ({v}) is not an integer phoneme id",
                    path.display()
                )
            })
        })
        .collect()
}
