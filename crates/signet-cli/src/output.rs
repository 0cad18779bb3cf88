//! The output side of `signet speak`: audio written sentence by sentence,
//! timings as JSON, subtitles, and the progress bar.
//!
//! Memory stays flat in the length of the input: each sentence's audio is
//! written (and its timings and subtitle cues) as soon as it is synthesized,
//! then dropped. Two cases hold the whole audio instead, because the bytes
//! cannot be produced before the end: `--normalize` (the gain depends on the
//! loudest sentence) and a WAV file written to stdout or to a device or
//! FIFO (a WAV header states the length; a file on disk is patched in place
//! instead).

use std::fs::File;
use std::io::{BufWriter, Cursor, IsTerminal, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signet::credentials::CredentialSigner;
use signet::{Audio, Provenance, SampleFormat, Utterance};

/// Peak level `--normalize` scales to: -0.5 dBFS.
pub const NORMALIZE_PEAK: f32 = 0.944;
/// Longest subtitle cue, in characters, before it is split at a word.
const MAX_CUE_CHARS: usize = 84;

/// How the audio is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A WAV file of 16-bit samples with the provenance chunk.
    Wav,
    /// Raw little-endian samples.
    Raw(SampleFormat),
    /// MP3, Ogg Opus or FLAC through signet-encode, with provenance tags.
    Compressed(signet_encode::AudioFormat),
}

/// Where the audio goes.
#[derive(Debug)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// `-` or nothing is stdout, which must not be a terminal.
    pub fn from_arg(arg: Option<&Path>) -> Result<Self> {
        match arg {
            Some(p) if p != Path::new("-") => Ok(Destination::File(p.to_path_buf())),
            _ => {
                if std::io::stdout().is_terminal() {
                    bail!(
                        "refusing to write audio to a terminal: pass -o FILE.wav, or pipe stdout"
                    );
                }
                Ok(Destination::Stdout)
            }
        }
    }
}

/// A file being written: a regular file goes to a temporary name next to the
/// target and is renamed over it at the end, so no half-written file is left
/// under the requested name; anything else that exists there (a device, a
/// FIFO) is written in place, since renaming over it would replace the node.
struct Target {
    path: PathBuf,
    tmp: Option<PathBuf>,
    file: BufWriter<File>,
}

impl Target {
    fn create(path: &Path) -> Result<Self> {
        let existing = std::fs::metadata(path).ok();
        if let Some(m) = existing.filter(|m| !m.is_file()) {
            if m.is_dir() {
                bail!("cannot write {}: it is a directory", path.display());
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(Self {
                path: path.to_path_buf(),
                tmp: None,
                file: BufWriter::new(file),
            });
        }
        let tmp = part_path(path);
        let file =
            create_exclusive(&tmp).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp: Some(tmp),
            file: BufWriter::new(file),
        })
    }

    /// Whether the target is a regular file (seekable, renamed at the end).
    fn is_regular(&self) -> bool {
        self.tmp.is_some()
    }

    /// Runs `write` on the file; an error of the file itself (a full disk, `/dev/full`) names
    /// the user's path, never the temporary name. Other errors (synthesis) pass unchanged.
    fn write<T>(
        &mut self,
        write: impl FnOnce(&mut Tracked<&mut BufWriter<File>>) -> Result<T>,
    ) -> Result<T> {
        let mut tracked = Tracked {
            inner: &mut self.file,
            failed: false,
        };
        let result = write(&mut tracked);
        match result {
            Err(e) if tracked.failed => {
                Err(e.context(format!("cannot write {}", self.path.display())))
            }
            other => other,
        }
    }

    fn finish(mut self) -> Result<()> {
        self.file
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        if let Some(tmp) = self.tmp.take() {
            std::fs::rename(&tmp, &self.path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                anyhow::Error::new(e).context(format!("cannot write {}", self.path.display()))
            })?;
        }
        Ok(())
    }
}

/// A writer that remembers whether one of its own calls failed.
struct Tracked<W> {
    inner: W,
    failed: bool,
}

impl<W> Tracked<W> {
    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        self.failed |= r.is_err();
        r
    }
}

impl<W: Write> Write for Tracked<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

impl<W: std::io::Seek> std::io::Seek for Tracked<W> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let r = self.inner.seek(pos);
        self.note(r)
    }
}

/// The temporary name a regular output file is written under: hidden, next to the target,
/// with an unpredictable part (`.<name>+signet-part-<16 hex digits>`).
fn part_path(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let leaf = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    signet_io::sibling(parent, &leaf, "signet-part")
}

/// Creates `path`, which must not exist, without following a symbolic link there (a link
/// planted at the name is refused, not written through).
fn create_exclusive(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

impl Drop for Target {
    fn drop(&mut self) {
        // Not finished: an error stopped the writing. Leave nothing behind.
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Writes audio pieces to `dest`; `flush_each` flushes stdout after each
/// piece (`--stream`). A WAV file is signed by `signer` when one is given:
/// its content credentials follow the samples.
pub fn write_audio<I>(
    dest: &Destination,
    encoding: Encoding,
    rate: u32,
    provenance: &Provenance,
    signer: Option<&CredentialSigner<'_>>,
    pieces: I,
    flush_each: bool,
) -> Result<()>
where
    I: Iterator<Item = Result<Audio>>,
{
    match (encoding, dest) {
        (Encoding::Raw(format), Destination::Stdout) => {
            let mut out = std::io::stdout().lock();
            write_raw(&mut out, format, pieces, flush_each)
        }
        (Encoding::Raw(format), Destination::File(p)) => {
            let mut t = Target::create(p)?;
            t.write(|f| write_raw(f, format, pieces, flush_each))?;
            t.finish()
        }
        (Encoding::Wav, Destination::File(p)) => {
            let mut t = Target::create(p)?;
            if t.is_regular() {
                t.write(|f| write_wav(f, rate, provenance, signer, pieces))?;
            } else {
                let bytes = wav_in_memory(rate, provenance, signer, pieces)?;
                t.write(|f| {
                    f.write_all(&bytes)
                        .and_then(|()| f.flush())
                        .map_err(Into::into)
                })?;
            }
            t.finish()
        }
        (Encoding::Compressed(format), Destination::Stdout) => {
            let mut out = std::io::stdout().lock();
            encode_stream(&mut out, format, rate, provenance, pieces)
        }
        (Encoding::Compressed(format), Destination::File(p)) => {
            let mut t = Target::create(p)?;
            t.write(|f| encode_stream(f, format, rate, provenance, pieces))?;
            t.finish()
        }
        (Encoding::Wav, Destination::Stdout) => {
            let bytes = wav_in_memory(rate, provenance, signer, pieces)?;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

fn wav_in_memory<I>(
    rate: u32,
    provenance: &Provenance,
    signer: Option<&CredentialSigner<'_>>,
    pieces: I,
) -> Result<Vec<u8>>
where
    I: Iterator<Item = Result<Audio>>,
{
    let mut buf = Cursor::new(Vec::new());
    write_wav(&mut buf, rate, provenance, signer, pieces)?;
    Ok(buf.into_inner())
}

/// A whole 16-bit WAV file into `w`, signed when `signer` is given.
fn write_wav<W, I>(
    w: &mut W,
    rate: u32,
    provenance: &Provenance,
    signer: Option<&CredentialSigner<'_>>,
    pieces: I,
) -> Result<()>
where
    W: Write + std::io::Seek,
    I: Iterator<Item = Result<Audio>>,
{
    match signer {
        Some(signer) => signet::credentials::write_signed_wav_stream(
            w,
            rate,
            SampleFormat::S16,
            provenance,
            signer,
            pieces,
        ),
        None => signet::write_wav_stream(w, rate, SampleFormat::S16, provenance, pieces),
    }
}

/// Writes the pieces through a stream encoder as they come: MP3, Opus and
/// FLAC need no sizes patched at the end, so stdout and pipes get them as
/// they are made.
fn encode_stream<W, I>(
    w: &mut W,
    format: signet_encode::AudioFormat,
    rate: u32,
    provenance: &Provenance,
    pieces: I,
) -> Result<()>
where
    W: Write,
    I: Iterator<Item = Result<Audio>>,
{
    let mut enc = signet_encode::Encoder::new(format, rate, provenance)?;
    w.write_all(&enc.take_header())?;
    for piece in pieces {
        w.write_all(&enc.encode(&piece?)?)?;
    }
    w.write_all(&enc.finish()?)?;
    w.flush()?;
    Ok(())
}

fn write_raw<W, I>(w: &mut W, format: SampleFormat, pieces: I, flush_each: bool) -> Result<()>
where
    W: Write,
    I: Iterator<Item = Result<Audio>>,
{
    for piece in pieces {
        let piece = piece?;
        piece.write_raw(format, &mut *w)?;
        if flush_each {
            w.flush()?;
        }
    }
    w.flush()?;
    Ok(())
}

/// `--timings FILE.json`, written one sentence at a time.
///
/// ```json
/// {"sample_rate": 22050, "sentences": [
///   {"index": 0, "text": [0, 13], "start": 0, "end": 30464,
///    "words": [{"word": "Hello", "text": [0, 5], "start": 1024, "end": 9216,
///               "start_s": 0.046, "end_s": 0.418}, ...],
///    "phonemes": [{"phoneme": "h", "start": 1024, "end": 2304,
///                  "start_s": 0.046, "end_s": 0.104}, ...]}, ...]}
/// ```
///
/// Positions are samples of the output audio (and seconds, rounded to the
/// microsecond); `text` ranges are byte offsets in the input (for SSML, in
/// the document's spoken text). A sentence with SSML `<mark>`s also has
/// `"marks": [{"name": "m", "sample": 1024, "s": 0.046}]`; an SSML break is
/// a sentence of silence with no words.
pub struct TimingsWriter {
    target: Target,
    rate: u32,
    first: bool,
}

impl TimingsWriter {
    pub fn create(path: &Path, rate: u32) -> Result<Self> {
        let mut target = Target::create(path)?;
        write!(target.file, "{{\"sample_rate\":{rate},\"sentences\":[")?;
        Ok(Self {
            target,
            rate,
            first: true,
        })
    }

    pub fn add(&mut self, utterance: &Utterance) -> Result<()> {
        let secs = |s: u64| (s as f64 / f64::from(self.rate) * 1e6).round() / 1e6;
        let words: Vec<serde_json::Value> = utterance
            .timings
            .words
            .iter()
            .map(|w| {
                serde_json::json!({
                    "word": w.word, "text": [w.text.start, w.text.end],
                    "start": w.start, "end": w.end,
                    "start_s": secs(w.start), "end_s": secs(w.end),
                })
            })
            .collect();
        let phonemes: Vec<serde_json::Value> = utterance
            .timings
            .phonemes
            .iter()
            .map(|p| {
                serde_json::json!({
                    "phoneme": p.phoneme, "start": p.start, "end": p.end,
                    "start_s": secs(p.start), "end_s": secs(p.end),
                })
            })
            .collect();
        let mut sentence = serde_json::json!({
            "index": utterance.index,
            "text": [utterance.text.start, utterance.text.end],
            "start": utterance.start,
            "end": utterance.start + utterance.audio.samples().len() as u64,
            "words": words,
            "phonemes": phonemes,
        });
        if !utterance.timings.marks.is_empty() {
            let marks: Vec<serde_json::Value> = utterance
                .timings
                .marks
                .iter()
                .map(|m| serde_json::json!({"name": m.name, "sample": m.sample, "s": secs(m.sample)}))
                .collect();
            if let Some(obj) = sentence.as_object_mut() {
                obj.insert("marks".to_owned(), serde_json::Value::Array(marks));
            }
        }
        if !self.first {
            self.target.file.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.target.file, &sentence)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.target.file.write_all(b"]}\n")?;
        self.target.finish()
    }
}

/// Subtitle formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleFormat {
    Srt,
    WebVtt,
}

/// `--subtitles FILE.srt|FILE.vtt`: one cue per sentence, split at words
/// into cues of at most [`MAX_CUE_CHARS`] characters, timed by the words.
pub struct SubtitleWriter {
    target: Target,
    format: SubtitleFormat,
    rate: u32,
    cues: usize,
}

impl SubtitleWriter {
    pub fn create(path: &Path, rate: u32) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("srt") => SubtitleFormat::Srt,
            Some("vtt") => SubtitleFormat::WebVtt,
            _ => bail!(
                "{}: subtitles are written as SubRip (.srt) or WebVTT (.vtt); name the file with one of those extensions",
                path.display()
            ),
        };
        let mut target = Target::create(path)?;
        if format == SubtitleFormat::WebVtt {
            target.file.write_all(b"WEBVTT\n\n")?;
        }
        Ok(Self {
            target,
            format,
            rate,
            cues: 0,
        })
    }

    pub fn add(&mut self, utterance: &Utterance, text: &str) -> Result<()> {
        for (range, start, end) in cues(utterance, text) {
            self.cues += 1;
            let line = cue_text(text.get(range).unwrap_or_default(), self.format);
            let (a, b) = (self.stamp(start), self.stamp(end));
            match self.format {
                SubtitleFormat::Srt => {
                    write!(self.target.file, "{}\n{a} --> {b}\n{line}\n\n", self.cues)?;
                }
                SubtitleFormat::WebVtt => write!(self.target.file, "{a} --> {b}\n{line}\n\n")?,
            }
        }
        Ok(())
    }

    fn stamp(&self, sample: u64) -> String {
        let ms = u128::from(sample) * 1000 / u128::from(self.rate.max(1));
        let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let sep = match self.format {
            SubtitleFormat::Srt => ',',
            SubtitleFormat::WebVtt => '.',
        };
        format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
    }

    pub fn finish(self) -> Result<()> {
        self.target.finish()
    }
}

/// The cues of one utterance: text range and sample interval, from its words.
fn cues(utterance: &Utterance, text: &str) -> Vec<(Range<usize>, u64, u64)> {
    let mut out: Vec<(Range<usize>, u64, u64)> = Vec::new();
    for w in &utterance.timings.words {
        if let Some(last) = out.last_mut() {
            let joined = text.get(last.0.start..w.text.end).unwrap_or_default();
            if joined.chars().count() <= MAX_CUE_CHARS {
                last.0.end = w.text.end;
                last.2 = w.end;
                continue;
            }
        }
        out.push((w.text.clone(), w.start, w.end));
    }
    // Words are trimmed of punctuation; a cue keeps what follows its last
    // word up to the next space ("ready." rather than "ready").
    for cue in &mut out {
        let rest = text.get(cue.0.end..).unwrap_or_default();
        cue.0.end += rest.find(char::is_whitespace).unwrap_or(rest.len());
    }
    out
}

/// Cue text on one line: white space collapsed, nothing a reader could take
/// for a timing line or (in WebVTT) markup.
fn cue_text(raw: &str, format: SubtitleFormat) -> String {
    let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = line.replace("-->", "->");
    match format {
        SubtitleFormat::Srt => line,
        SubtitleFormat::WebVtt => line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    }
}

/// The progress bar: sentences done, audio seconds, ETA; drawn only when
/// stderr is a terminal.
pub struct Progress {
    bar: ProgressBar,
    rate: u32,
}

impl Progress {
    pub fn new(segments: usize, rate: u32) -> Self {
        let bar = if std::io::stderr().is_terminal() && segments > 1 {
            let bar =
                ProgressBar::with_draw_target(Some(segments as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:30} {pos}/{len} sentences, {msg} of audio, ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message("0.0 s");
            bar
        } else {
            ProgressBar::hidden()
        };
        Self { bar, rate }
    }

    /// After an utterance: `segments_done` text segments, `samples` samples so far.
    pub fn update(&self, segments_done: usize, samples: u64) {
        self.bar.set_position(segments_done as u64);
        self.bar.set_message(format!(
            "{:.1} s",
            samples as f64 / f64::from(self.rate.max(1))
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Writes the sidecar files of one utterance.
pub struct Sidecars {
    pub timings: Option<TimingsWriter>,
    pub subtitles: Option<SubtitleWriter>,
}

impl Sidecars {
    pub fn add(&mut self, utterance: &Utterance, text: &str) -> Result<()> {
        if let Some(t) = self.timings.as_mut() {
            t.add(utterance)?;
        }
        if let Some(s) = self.subtitles.as_mut() {
            s.add(utterance, text)?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        if let Some(t) = self.timings {
            t.finish()?;
        }
        if let Some(s) = self.subtitles {
            s.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cue_text_is_one_safe_line() {
        assert_eq!(cue_text("a\n b  --> c", SubtitleFormat::Srt), "a b -> c");
        assert_eq!(
            cue_text("<b>x</b> & y", SubtitleFormat::WebVtt),
            "&lt;b&gt;x&lt;/b&gt; &amp; y"
        );
    }

    #[test]
    fn temporary_output_is_unpredictable_hidden_and_created_exclusively() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("speech.wav");
        let (a, b) = (part_path(&out), part_path(&out));
        assert_ne!(a, b, "the temporary name must not be predictable");
        assert_eq!(a.parent(), Some(dir.path()));
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(".speech.wav+signet-part-"), "{name}");
        // A symbolic link planted at the name is not followed, and an existing file is not
        // reused.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&victim, &a).unwrap();
            assert!(create_exclusive(&a).is_err());
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        }
        std::fs::write(&b, b"x").unwrap();
        assert!(create_exclusive(&b).is_err());
        let t = Target::create(&out).unwrap();
        t.finish().unwrap();
        assert!(out.is_file());
    }
}
