//! `signet speak`: text or phoneme ids in, audio out.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use signet::credentials::CredentialSigner;
use signet::{Audio, AudioOptions, SampleFormat, Synthesizer};

use crate::output::{
    write_audio, Destination, Encoding, Progress, Sidecars, SubtitleWriter, TimingsWriter,
    NORMALIZE_PEAK,
};

/// Largest phoneme-ids file read, in bytes.
const MAX_IDS_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Args)]
pub struct SpeakArgs {
    /// Text to speak; `-` or nothing reads it from stdin.
    text: Option<String>,
    /// Output file; `-` writes to stdout (not to a terminal).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Speak each non-empty line of the text into its own file in DIR
    /// (created if missing), named by line: 0001.wav, 0002.wav, … (.s16 or
    /// .f32 for raw formats); each path is printed as it is written. The model
    /// loads once for all lines.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "stream", "phoneme_ids", "timings", "subtitles"])]
    output_dir: Option<PathBuf>,
    /// Voice name in the store.
    #[arg(long, default_value = signet::DEFAULT_VOICE)]
    voice: String,
    /// Speaker id or name, for multi-speaker voices.
    #[arg(long, value_name = "ID|NAME")]
    speaker: Option<String>,
    /// Language id or name, for multilingual voices (Coqui's YourTTS; `signet voices
    /// verify` lists them) [default: the voice's language 0].
    #[arg(long, value_name = "ID|NAME")]
    language: Option<String>,
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
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["text", "file"])]
    phoneme_ids: Option<PathBuf>,
    /// Read the text from a file (UTF-8, up to --max-input-bytes).
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    file: Option<PathBuf>,
    /// Output format: a WAV file (16-bit, with provenance metadata), MP3 (ID3
    /// tags), Opus in Ogg or FLAC (Vorbis comments), or raw little-endian
    /// 16-bit or 32-bit float PCM [default: by the extension of -o (.mp3,
    /// .opus/.ogg, .flac), else wav; s16 with --stream]. A format other than
    /// the one the -o name says is refused.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write raw PCM to stdout as each sentence is ready, e.g.
    /// `| aplay -r 22050 -f S16_LE` (s16 unless --format f32).
    #[arg(long, conflicts_with = "normalize")]
    stream: bool,
    /// Output sample rate in Hz, 8000 to 48000 [default: the voice's].
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,
    /// Gain, 0 to 100 (1 = unchanged); lowered per sentence where it would clip.
    #[arg(long, value_name = "GAIN", allow_negative_numbers = true)]
    volume: Option<f32>,
    /// Scale the whole output to a peak of -0.5 dBFS (holds all the audio in memory).
    #[arg(long)]
    normalize: bool,
    /// Cut leading and trailing silence from each sentence.
    #[arg(long)]
    trim_silence: bool,
    /// Seconds of silence between sentences (at most 60).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    sentence_silence: Option<f32>,
    /// Write word and phoneme timestamps as JSON.
    #[arg(long, value_name = "FILE.json")]
    timings: Option<PathBuf>,
    /// Write subtitles, SubRip (.srt) or WebVTT (.vtt), timed by the words.
    #[arg(long, value_name = "FILE.srt|FILE.vtt")]
    subtitles: Option<PathBuf>,
    /// With --output-dir: replace files that already exist there (default: refuse,
    /// before anything is written).
    #[arg(long, requires = "output_dir")]
    overwrite: bool,
    /// Seed the model's noise: the same seed, text and settings give the same
    /// samples, also with noise on (default: a different take each run).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Number format of the decoder: auto (bf16 on CPUs with native bf16, else fp32), fp32
    /// (the model as trained), or bf16 (falls back to fp32 on a CPU without native bf16;
    /// --verbose says so).
    #[arg(long, value_name = "auto|fp32|bf16", default_value = "auto")]
    precision: signet::Precision,
    /// Threads for libtorch [default: one per physical core, at most 8, with idle threads
    /// sleeping (OMP_WAIT_POLICY=passive unless set); see the README on throughput].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Largest text accepted, in bytes of UTF-8 [default: 1048576]. Every limit can also
    /// be set in the `[limits]` table of `<home>/config.toml`; a flag wins over the file.
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
    /// Most seconds of audio produced; decimals allowed (0.5) [default: 3600].
    #[arg(long, value_name = "SECONDS", value_parser = output_seconds)]
    max_output_seconds: Option<f64>,
    /// Print what the text frontend changed (kinds, counts, byte positions; never the text).
    #[arg(short, long)]
    verbose: bool,
    /// Leave out the inaudible watermark that marks Signet's speech (on by default, with the
    /// home's key `<home>/keys/watermark.key`); the output is then the unmarked audio. Said
    /// on stderr every time.
    #[arg(long, conflicts_with_all = ["watermark_key", "watermark_payload"])]
    no_watermark: bool,
    /// Watermark with the key in FILE (64 hex digits, mode 0600) instead of the home's.
    #[arg(long, value_name = "FILE")]
    watermark_key: Option<PathBuf>,
    /// Sign the WAV file's content credentials with the ed25519 key in FILE (PKCS#8, mode
    /// 0600; `signet keys generate --name NAME` makes `<home>/keys/NAME.key`) instead of the
    /// home's `<home>/keys/credentials.key`, which is made on first use.
    #[arg(long, value_name = "FILE")]
    credentials_key: Option<PathBuf>,
    /// The 16 bits of caller data the watermark carries, 0 to 65535 [default: 0]; `signet
    /// detect` reports them.
    #[arg(long, value_name = "N")]
    watermark_payload: Option<u16>,
    /// Read the input as an SSML document (`<speak>...</speak>`). Input that
    /// starts with `<speak` or an XML declaration is read as SSML without it.
    #[arg(long, conflicts_with_all = ["phoneme_ids", "output_dir"])]
    ssml: bool,
    /// A pronunciation lexicon (TOML or W3C PLS); repeatable, the first
    /// that has a word wins; `<home>/lexicon.toml` comes after them.
    #[arg(long, value_name = "FILE")]
    lexicon: Vec<PathBuf>,
}

impl SpeakArgs {
    /// The limits: `base` (defaults or the config file's), overridden by the flags given.
    fn limits(&self, base: signet::Limits) -> signet::Limits {
        let mut l = base;
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
    /// MP3 (LAME), with ID3v2 provenance tags.
    Mp3,
    /// Opus in Ogg, 48 kHz, with provenance in its Vorbis comments.
    Opus,
    /// FLAC, 16-bit, lossless, with provenance in its Vorbis comments.
    Flac,
}

impl Format {
    /// The format a file name's extension says, if it says one.
    fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "wav" => Format::Wav,
            "mp3" => Format::Mp3,
            "opus" | "ogg" => Format::Opus,
            "flac" => Format::Flac,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::S16 => "s16",
            Format::F32 => "f32",
            Format::Mp3 => "mp3",
            Format::Opus => "opus",
            Format::Flac => "flac",
        }
    }
}

pub fn run(home: &Path, args: SpeakArgs) -> Result<()> {
    let named = args
        .output
        .as_deref()
        .filter(|p| *p != Path::new("-"))
        .and_then(Format::of_path);
    let format = match (args.format, args.stream) {
        (Some(f @ (Format::Wav | Format::Mp3 | Format::Opus | Format::Flac)), true) => {
            bail!(
                "--stream writes raw PCM, not {}: use --format s16 or f32, or leave --format out",
                f.name()
            )
        }
        (Some(f), _) => f,
        (None, true) => Format::S16,
        (None, false) => named.unwrap_or(Format::Wav),
    };
    if args.stream && args.output.as_deref().is_some_and(|p| p != Path::new("-")) {
        bail!("--stream writes to stdout: leave -o out (or pass -o -)");
    }
    check_output_names(&args, format)?;
    // Every WAV file is written whole (a file patched in place, or built in
    // memory for stdout, a device or a FIFO), so every one is signed; raw
    // PCM has no room for credentials, and the compressed formats carry the
    // provenance tags only.
    let credentials_key = if matches!(format, Format::Wav) {
        Some(match &args.credentials_key {
            Some(path) => signet::credentials::read_key_file(path)?,
            None => signet::credentials::home_key(&signet::Store::new(home))?,
        })
    } else {
        if args.credentials_key.is_some() {
            bail!(
                "--credentials-key signs WAV files only; this output is {}",
                format.name()
            );
        }
        None
    };
    let signer = credentials_key
        .as_ref()
        .map(signet::credentials::CredentialSigner::new);
    // Checked before the model loads: audio never goes to a terminal.
    let dest = match args.output_dir {
        Some(_) => None,
        None => Some(Destination::from_arg(args.output.as_deref())?),
    };
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
    b = b.precision(args.precision);
    let limits = args.limits(crate::config::limits_over(home, signet::Limits::default())?);
    b = b.limits(limits);
    for lexicon in crate::lexicon::user_lexicons(home, &args.lexicon)? {
        b = b.lexicon(lexicon);
    }
    if let Some(s) = &args.speaker {
        b = match s.parse::<i64>() {
            Ok(id) => b.speaker_id(id),
            Err(_) => b.speaker_name(s),
        };
    }
    if let Some(l) = &args.language {
        b = match l.parse::<i64>() {
            Ok(id) => b.language_id(id),
            Err(_) => b.language_name(l),
        };
    }
    let mut audio = AudioOptions::default().with_trim_silence(args.trim_silence);
    if let Some(rate) = args.sample_rate {
        audio = audio.with_sample_rate(rate);
    }
    if let Some(gain) = args.volume {
        audio = audio.with_volume(gain);
    }
    if let Some(secs) = args.sentence_silence {
        audio = audio
            .with_sentence_silence_secs(secs)
            .context("--sentence-silence")?;
    }
    b = b.audio_options(audio);
    b = if args.no_watermark {
        eprintln!("signet: watermark off (--no-watermark): this speech carries no mark");
        b.watermark(signet::Watermark::Off)
    } else if let Some(path) = &args.watermark_key {
        b.watermark(signet::Watermark::Key(signet::watermark::read_key_file(
            path,
        )?))
    } else {
        b
    };
    if let Some(payload) = args.watermark_payload {
        b = b.watermark_payload(payload);
    }
    let synth = b.build()?;
    if args.verbose {
        if let Some(id) = synth.watermark_key_id() {
            eprintln!(
                "signet: watermark key {id}, payload {}",
                args.watermark_payload.unwrap_or(0)
            );
        }
    }
    if args.verbose {
        eprintln!("signet: decoder precision {}", synth.precision());
        if let Some(note) = synth.precision_note() {
            eprintln!("signet: note: {note}");
        }
    }
    if let Some(seed) = args.seed {
        // Reinterpreted, not truncated: every u64 is a distinct seed.
        signet::manual_seed(i64::from_ne_bytes(seed.to_ne_bytes()));
    }

    let text = match (&args.phoneme_ids, &args.file) {
        (Some(_), _) => String::new(),
        (None, Some(file)) => read_text_file(file, limits.max_input_bytes)?,
        (None, None) => match args.text.as_deref() {
            None | Some("-") => read_stdin(limits.max_input_bytes)?,
            Some(t) => t.to_owned(),
        },
    };
    let ids = match &args.phoneme_ids {
        Some(file) => Some(read_ids(file)?),
        None => None,
    };
    let encoding = match format {
        Format::Wav => Encoding::Wav,
        Format::S16 => Encoding::Raw(SampleFormat::S16),
        Format::F32 => Encoding::Raw(SampleFormat::F32),
        Format::Mp3 => Encoding::Compressed(signet_encode::AudioFormat::Mp3),
        Format::Opus => Encoding::Compressed(signet_encode::AudioFormat::Opus),
        Format::Flac => Encoding::Compressed(signet_encode::AudioFormat::Flac),
    };
    let mut diagnostics = Vec::new();
    match (&args.output_dir, dest) {
        (Some(dir), _) => speak_lines(
            &synth,
            &text,
            dir,
            format,
            encoding,
            signer.as_ref(),
            &args,
            &mut diagnostics,
        )?,
        (None, Some(dest)) => speak_one(
            &synth,
            &text,
            ids.as_deref(),
            &dest,
            encoding,
            signer.as_ref(),
            &args,
            &mut diagnostics,
        )?,
        (None, None) => bail!("no output given"),
    }
    if args.verbose {
        for d in &diagnostics {
            eprintln!("signet: note: {d}");
        }
        match synth.espeak_sandbox() {
            Ok(sandbox) => eprintln!("signet: note: espeak-ng helper sandbox: {sandbox}"),
            Err(e) => eprintln!("signet: note: espeak-ng helper sandbox unknown: {e}"),
        }
    } else {
        // Reading numbers and abbreviations as words is routine; anything else dropped or
        // changed is worth a line.
        let notable = diagnostics
            .iter()
            .filter(|d| !matches!(d, signet::Diagnostic::Normalized { .. }))
            .count();
        if notable > 0 {
            eprintln!(
                "signet: note: the text frontend removed or changed parts of the input ({notable} note(s); --verbose shows them)"
            );
        }
    }
    Ok(())
}

/// Speaks `text` (or `ids`) into `dest`, with the sidecar files and
/// progress the arguments ask for; collects the frontend's diagnostics.
#[allow(clippy::too_many_arguments)]
fn speak_one(
    synth: &Synthesizer,
    text: &str,
    ids: Option<&[i64]>,
    dest: &Destination,
    encoding: Encoding,
    signer: Option<&CredentialSigner<'_>>,
    args: &SpeakArgs,
    diagnostics: &mut Vec<signet::Diagnostic>,
) -> Result<()> {
    let stream = match ids {
        Some(ids) => synth.speak_ids_stream(ids)?,
        None if args.ssml || signet::looks_like_ssml(text) => synth.speak_ssml_stream(text)?,
        None => synth.speak_stream(text)?,
    };
    // Word ranges point into what the stream speaks: the text, or an SSML
    // document's spoken text.
    let spoken = stream.text().to_owned();
    let text = spoken.as_str();
    // Audio goes out as each decoding window is ready, unless something needs
    // whole sentences: the timing and subtitle files (a record per sentence)
    // and --normalize (a gain from the peak of everything).
    let stream =
        stream.by_window(args.timings.is_none() && args.subtitles.is_none() && !args.normalize);
    let rate = stream.sample_rate();
    let mut sidecars = Sidecars {
        timings: match &args.timings {
            Some(p) => Some(TimingsWriter::create(p, rate)?),
            None => None,
        },
        subtitles: match &args.subtitles {
            Some(p) => Some(SubtitleWriter::create(p, rate)?),
            None => None,
        },
    };
    let progress = Progress::new(stream.segments_total(), rate);
    let mut stream = stream;
    let segments_total = stream.segments_total();
    {
        let mut pieces = std::iter::from_fn(|| {
            let utterance = match stream.next()? {
                Ok(u) => u,
                Err(e) => return Some(Err(anyhow::Error::from(e))),
            };
            let done = segments_total - stream.segments_left();
            progress.update(done, stream.samples_done());
            diagnostics.extend(utterance.diagnostics.iter().cloned());
            Some(sidecars.add(&utterance, text).map(|()| utterance.audio))
        });
        if args.normalize {
            let all: Vec<Audio> = pieces.by_ref().collect::<Result<_>>()?;
            let peak = all.iter().map(Audio::peak).fold(0.0f32, f32::max);
            let gain = if peak > 0.0 && (NORMALIZE_PEAK / peak).is_finite() {
                NORMALIZE_PEAK / peak
            } else {
                1.0
            };
            let scaled = all.into_iter().map(|a| Ok(a.with_volume(gain)?.0));
            write_audio(
                dest,
                encoding,
                rate,
                synth.provenance(),
                signer,
                scaled,
                false,
            )?;
        } else {
            write_audio(
                dest,
                encoding,
                rate,
                synth.provenance(),
                signer,
                &mut pieces,
                args.stream,
            )?;
        }
    }
    diagnostics.extend(stream.take_diagnostics());
    progress.finish();
    sidecars.finish()
}

/// `--output-dir`: each non-empty line of `text` into its own numbered file
/// in `dir`. A line with nothing to speak (only punctuation, say) gets a note
/// and no file; any other error stops the run, naming the line.
#[allow(clippy::too_many_arguments)]
fn speak_lines(
    synth: &Synthesizer,
    text: &str,
    dir: &Path,
    format: Format,
    encoding: Encoding,
    signer: Option<&CredentialSigner<'_>>,
    args: &SpeakArgs,
    diagnostics: &mut Vec<signet::Diagnostic>,
) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("--output-dir {}: not a directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let Some(&(last, _)) = lines.last() else {
        bail!("nothing to speak: the input has no non-empty line");
    };
    let width = last.to_string().len().max(4);
    let extension = format.name();
    let path_of = |number: usize| dir.join(format!("{number:0width$}.{extension}"));
    if !args.overwrite {
        if let Some(taken) = lines
            .iter()
            .map(|&(number, _)| path_of(number))
            .find(|p| p.symlink_metadata().is_ok())
        {
            bail!(
                "{} already exists: pass --overwrite to replace the files in {}, or choose another --output-dir",
                taken.display(),
                dir.display()
            );
        }
    }
    let mut skipped = 0usize;
    for (number, line) in lines {
        let path = path_of(number);
        let dest = Destination::File(path.clone());
        match speak_one(
            synth,
            line,
            None,
            &dest,
            encoding,
            signer,
            args,
            diagnostics,
        ) {
            Ok(()) => outln!("{}", path.display())?,
            Err(e) if is_nothing_to_speak(&e) => {
                skipped += 1;
                eprintln!("signet: note: line {number} has nothing to speak; no file written");
            }
            Err(e) => return Err(e.context(format!("line {number}"))),
        }
    }
    if skipped > 0 {
        eprintln!("signet: note: {skipped} line(s) had nothing to speak");
    }
    Ok(())
}

/// Whether `e` says the text had nothing to speak: nothing voiced after
/// phonemizing, or nothing left at all after the frontend removed control and
/// invisible characters.
fn is_nothing_to_speak(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<signet::Error>(),
            Some(
                signet::Error::NothingToSpeak
                    | signet::Error::Text(signet::TextError::NothingToSpeak { .. })
            )
        ) || matches!(
            c.downcast_ref::<signet::TextError>(),
            Some(signet::TextError::NothingToSpeak { .. })
        )
    })
}

/// Refuses, before anything is loaded or written, a raw format into a file
/// named `.wav`, and two outputs (`-o`, `--timings`, `--subtitles`) that name
/// the same file: the second would overwrite the first.
fn check_output_names(args: &SpeakArgs, format: Format) -> Result<()> {
    let audio = args.output.as_deref().filter(|p| *p != Path::new("-"));
    // A compressed or WAV file under another format's name would mislead
    // every player that trusts the name.
    if let Some((path, named)) = audio.and_then(|p| Some((p, Format::of_path(p)?))) {
        let fits = named.name() == format.name();
        let raw_into_wav =
            matches!(format, Format::S16 | Format::F32) && matches!(named, Format::Wav);
        // (A raw format into a `.wav` name has its own message below.)
        if !fits && !raw_into_wav {
            bail!(
                "--format {} does not match the name {} (a .{} file): leave --format out to \
                 write what the name says, or name the file .{}",
                format.name(),
                path.display(),
                named.name(),
                format.name()
            );
        }
    }
    if let (Format::S16 | Format::F32, Some(path)) = (format, audio) {
        let is_wav = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if is_wav {
            let flag = if matches!(format, Format::S16) {
                "s16"
            } else {
                "f32"
            };
            bail!(
                "--format {flag} writes raw samples, not a WAV file, but {} is named .wav: \
                 leave --format out for a WAV file, or name the raw file .{flag} or .raw",
                path.display()
            );
        }
    }
    let named = [
        ("-o", audio),
        ("--timings", args.timings.as_deref()),
        ("--subtitles", args.subtitles.as_deref()),
    ];
    let resolved: Vec<(&str, &Path, PathBuf)> = named
        .iter()
        .filter_map(|&(flag, p)| p.map(|p| (flag, p, resolve(p))))
        .collect();
    for (i, (flag, path, real)) in resolved.iter().enumerate() {
        for (other_flag, _, other_real) in resolved.iter().skip(i + 1) {
            if real == other_real {
                bail!(
                    "{flag} and {other_flag} both name {}: give each output its own file",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

/// `path` as the file it will be: links and `..` resolved in its folder (and
/// in itself, when it exists), so two spellings of one file compare equal.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
    }
}

/// How to raise the input cap, for the messages of both text sources.
const INPUT_CAP_HINT: &str = "max_input_bytes; raise it with --max-input-bytes or `max_input_bytes` in the [limits] table of config.toml";

fn read_text_file(path: &Path, max: usize) -> Result<String> {
    let cap = signet_io::Cap::new(max as u64, INPUT_CAP_HINT);
    Ok(signet_io::read_capped_string(path, cap)?)
}

fn read_stdin(max: usize) -> Result<String> {
    if std::io::stdin().is_terminal() {
        eprintln!("signet: reading text from the terminal; end with Ctrl-D");
    }
    let cap = signet_io::Cap::new(max as u64, INPUT_CAP_HINT);
    let bytes = signet_io::read_stream_capped(
        std::io::stdin().lock(),
        Path::new("standard input"),
        0,
        cap,
    )?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "standard input is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads a JSON array of integer ids; anything else is a clear error.
fn read_ids(path: &Path) -> Result<Vec<i64>> {
    const CAP: signet_io::Cap =
        signet_io::Cap::new(MAX_IDS_FILE_BYTES, "a phoneme id file is at most 1 MiB");
    let bytes = signet_io::read_capped(path, CAP)?;
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

/// `--max-output-seconds`: a finite number of seconds, at least 0, decimals allowed.
fn output_seconds(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{text:?} is not a number of seconds (a number at least 0, e.g. 600 or 0.5)"
        )),
    }
}
