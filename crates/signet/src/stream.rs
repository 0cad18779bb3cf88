//! Streaming synthesis: one [`SpeechChunk`] per sentence, as soon as it is
//! ready.
//!
//! [`Synthesizer::speak_stream`] runs the cheap first stage of the text
//! frontend at once (limits, Unicode policy, normalization, sentence chunks:
//! a bad input fails before any audio), and returns a [`SpeechStream`], an
//! iterator that phonemizes one chunk when it needs more sentences and
//! synthesizes one sentence per `next()` call. The first audio of a long
//! text is therefore ready after its first sentence, and memory holds the
//! prepared text plus one chunk's phonemes and one sentence's audio at a
//! time, however long the text is. [`Synthesizer::speak_each`]
//! is the callback form; [`Synthesizer::speak`] joins the chunks, so joined
//! streamed audio equals `speak`'s sample for sample (with noise scales 0,
//! which makes synthesis deterministic).
//!
//! Each sentence's audio goes through [`AudioOptions`] in this order: trim
//! leading and trailing silence, resample, apply the volume, then put the
//! pause between sentences in front of every sentence but the first. Word and phoneme [`Timings`] follow the same
//! steps and are given in samples of the output, counted from the start of
//! the whole speech.
//!
//! A stream is `Send`: a server can move it into a worker thread. It borrows
//! its synthesizer, or shares it through an `Arc`
//! ([`Synthesizer::speak_stream_shared`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use signet_audio::{Audio, VolumeChange, MAX_RESAMPLE_RATE, MAX_SILENCE_MS, MIN_RESAMPLE_RATE};
use signet_text::{Diagnostic, PhonemeBudget, TextChunk};

use crate::timing::{self, Timings, WordPlan};
use crate::{Error, Synthesizer};

/// Amplitude below which [`AudioOptions::trim_silence`] treats a sample as
/// silence: 0.01 of full scale, -40 dBFS.
pub const TRIM_THRESHOLD: f32 = 0.01;
/// Silence kept before the first and after the last sound of a trimmed
/// sentence, in milliseconds, so onsets and decays are not cut.
pub const TRIM_KEEP_MS: u32 = 20;
/// Largest volume gain accepted.
pub const MAX_VOLUME: f32 = 100.0;

/// What happens to each sentence's audio after synthesis.
///
/// The defaults leave the model's output untouched: the voice's rate, gain
/// 1, no trimming, no pause between sentences.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AudioOptions {
    /// Output rate in Hz, 8,000 to 48,000; the voice's rate when `None`.
    pub sample_rate: Option<u32>,
    /// Gain (0 to [`MAX_VOLUME`]); never clips: where a sentence would clip,
    /// its gain is lowered (see [`SpeechChunk::volume`]). `None` is 1.
    pub volume: Option<f32>,
    /// Cut each sentence's leading and trailing silence (below
    /// [`TRIM_THRESHOLD`], keeping [`TRIM_KEEP_MS`]).
    pub trim_silence: bool,
    /// Silence put between sentences, in milliseconds (at most one minute).
    pub sentence_silence_ms: u32,
}

impl AudioOptions {
    /// These options with an output rate.
    #[must_use]
    pub fn with_sample_rate(mut self, rate: u32) -> Self {
        self.sample_rate = Some(rate);
        self
    }

    /// These options with a volume gain.
    #[must_use]
    pub fn with_volume(mut self, gain: f32) -> Self {
        self.volume = Some(gain);
        self
    }

    /// These options with silence trimming on or off.
    #[must_use]
    pub fn with_trim_silence(mut self, on: bool) -> Self {
        self.trim_silence = on;
        self
    }

    /// These options with a pause between sentences.
    #[must_use]
    pub fn with_sentence_silence_ms(mut self, ms: u32) -> Self {
        self.sentence_silence_ms = ms;
        self
    }

    /// Checks every setting; errors name the setting.
    pub fn check(&self) -> Result<(), Error> {
        if let Some(rate) = self.sample_rate {
            if !(MIN_RESAMPLE_RATE..=MAX_RESAMPLE_RATE).contains(&rate) {
                return Err(Error::InvalidSetting {
                    setting: "sample_rate",
                    value: rate.to_string(),
                    reason: "must be from 8000 to 48000 Hz",
                });
            }
        }
        if let Some(v) = self.volume {
            if !(v.is_finite() && (0.0..=MAX_VOLUME).contains(&v)) {
                return Err(Error::InvalidSetting {
                    setting: "volume",
                    value: v.to_string(),
                    reason: "must be a finite gain from 0 to 100",
                });
            }
        }
        if self.sentence_silence_ms > MAX_SILENCE_MS {
            return Err(Error::InvalidSetting {
                setting: "sentence_silence_ms",
                value: self.sentence_silence_ms.to_string(),
                reason: "must be at most 60000 ms",
            });
        }
        Ok(())
    }
}

/// One sentence of speech, ready to play.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpeechChunk {
    /// The sentence's number, from 0.
    pub index: usize,
    /// Byte range of the text chunk this sentence came from (a sentence,
    /// or the part of a long one that the frontend cut into a chunk).
    pub text: Range<usize>,
    /// Its audio at the output rate, after the pause before it (every
    /// sentence but the first starts with the pause).
    pub audio: Audio,
    /// Where this chunk starts in the whole speech, in samples.
    pub start: u64,
    /// Word and phoneme times, in samples from the start of the whole speech.
    pub timings: Timings,
    /// What the volume setting did to this sentence, when one is set.
    pub volume: Option<VolumeChange>,
    /// Diagnostics found since the previous chunk (the first chunk also
    /// carries those about the whole text).
    pub diagnostics: Vec<Diagnostic>,
}

/// A sentence waiting to be synthesized.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// Its byte range in the text (empty for bare ids).
    pub(crate) text: Range<usize>,
    /// Its phoneme ids, BOS and EOS included.
    pub(crate) ids: Vec<i64>,
    /// Where its words are, in phoneme words.
    pub(crate) words: Vec<WordPlan>,
    /// Whether it has a phoneme that is not a pause.
    pub(crate) voiced: bool,
}

/// The synthesizer a stream uses: borrowed or shared.
#[derive(Debug)]
enum SynthRef<'a> {
    Borrowed(&'a Synthesizer),
    Shared(Arc<Synthesizer>),
}

impl std::ops::Deref for SynthRef<'_> {
    type Target = Synthesizer;
    fn deref(&self) -> &Synthesizer {
        match self {
            SynthRef::Borrowed(s) => s,
            SynthRef::Shared(s) => s,
        }
    }
}

/// Speech, one sentence at a time: an iterator of [`SpeechChunk`]s.
///
/// Each `next()` synthesizes one sentence (phonemizing the next text chunk
/// first when no sentence is waiting). After an error the stream ends. When
/// the text turns out to hold nothing to pronounce, the last item is
/// [`Error::NothingToSpeak`].
#[derive(Debug)]
pub struct SpeechStream<'a> {
    synth: SynthRef<'a>,
    text: Cow<'a, str>,
    chunks: VecDeque<TextChunk>,
    chunks_total: usize,
    pending: VecDeque<Pending>,
    diagnostics: Vec<Diagnostic>,
    budget: PhonemeBudget,
    options: AudioOptions,
    index: usize,
    offset: u64,
    voiced: bool,
    require_voice: bool,
    done: bool,
}

impl SpeechStream<'_> {
    /// Text chunks in the input (a chunk is a sentence, or a part of a
    /// very long one; it may give more than one [`SpeechChunk`]).
    pub fn chunks_total(&self) -> usize {
        self.chunks_total
    }

    /// Text chunks not yet phonemized.
    pub fn chunks_left(&self) -> usize {
        self.chunks.len()
    }

    /// Sentences phonemized and waiting for synthesis.
    pub fn sentences_waiting(&self) -> usize {
        self.pending.len()
    }

    /// Samples produced so far.
    pub fn samples_done(&self) -> u64 {
        self.offset
    }

    /// Samples per second of the chunks.
    pub fn sample_rate(&self) -> u32 {
        self.options
            .sample_rate
            .unwrap_or_else(|| self.synth.sample_rate())
    }

    /// Diagnostics not yet handed out with a chunk (those of text chunks
    /// that gave no sentence, once the stream has ended).
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Phonemizes the next text chunk into waiting sentences.
    fn phonemize(&mut self, chunk: &TextChunk) -> Result<(), Error> {
        let synth = &*self.synth;
        let out = synth.phonemize_chunk(chunk)?;
        self.budget.spend(&out.sentences, synth.limits())?;
        self.diagnostics.extend(out.diagnostics);
        let ids: Vec<&[i64]> = out.sentences.iter().map(|s| s.ids.as_slice()).collect();
        let plans = timing::plan_words(&self.text, chunk.source.clone(), &ids, &synth.symbols);
        for (sentence, words) in out.sentences.iter().zip(plans) {
            self.pending.push_back(Pending {
                text: sentence.text.clone(),
                ids: sentence.ids.clone(),
                words,
                voiced: sentence.is_voiced(),
            });
        }
        Ok(())
    }

    fn chunk(&mut self, sentence: Pending) -> Result<SpeechChunk, Error> {
        let synth = &*self.synth;
        let out = synth
            .vits
            .infer(&sentence.ids, synth.speaker, &synth.scales)?;
        self.voiced |= sentence.voiced;
        let from = synth.sample_rate();
        let t = timing::sentence_timings(
            &self.text,
            &sentence.ids,
            &out.durations,
            synth.vits.hop_length(),
            &synth.symbols,
            &sentence.words,
        );
        let mut audio = Audio::new(out.samples, from)?;
        let raw_len = audio.samples().len();
        let (cut, kept) = if self.options.trim_silence {
            let range = audio.sound_range(TRIM_THRESHOLD, TRIM_KEEP_MS)?;
            let kept = audio
                .samples()
                .get(range.clone())
                .unwrap_or_default()
                .to_vec();
            audio = Audio::new(kept, from)?;
            (range.start, range.len())
        } else {
            (0, raw_len)
        };
        let to = self.sample_rate();
        if to != from {
            audio = audio.resample(to)?;
        }
        let volume = match self.options.volume {
            Some(gain) => {
                let (scaled, change) = audio.with_volume(gain)?;
                audio = scaled;
                Some(change)
            }
            None => None,
        };
        let body = audio.samples().len() as u64;
        let mut pause = 0;
        if self.index > 0 && self.options.sentence_silence_ms > 0 {
            let mut paused = Audio::silence(to, self.options.sentence_silence_ms)?;
            pause = paused.samples().len() as u64;
            paused.append(&audio)?;
            audio = paused;
        }
        let timings = timing::place(
            t,
            cut as u64,
            kept as u64,
            from,
            to,
            body,
            self.offset.saturating_add(pause),
        );
        let len = audio.samples().len() as u64;
        let end = self.offset.saturating_add(len);
        synth.limits().check_output_samples(end, to)?;
        let chunk = SpeechChunk {
            index: self.index,
            text: sentence.text,
            start: self.offset,
            timings,
            volume,
            diagnostics: std::mem::take(&mut self.diagnostics),
            audio,
        };
        self.offset = end;
        self.index += 1;
        Ok(chunk)
    }
}

impl Iterator for SpeechStream<'_> {
    type Item = Result<SpeechChunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let result = if let Some(sentence) = self.pending.pop_front() {
                self.chunk(sentence)
            } else if let Some(chunk) = self.chunks.pop_front() {
                match self.phonemize(&chunk) {
                    Ok(()) => continue,
                    Err(e) => Err(e),
                }
            } else {
                self.done = true;
                if self.require_voice && !self.voiced {
                    return Some(Err(Error::NothingToSpeak));
                }
                return None;
            };
            if result.is_err() {
                self.done = true;
                self.pending.clear();
                self.chunks.clear();
            }
            return Some(result);
        }
        None
    }
}

impl Synthesizer {
    /// Speaks text as a stream of per-sentence chunks, with the builder's
    /// [`AudioOptions`]. The text frontend runs now, so a bad input fails
    /// here, before any audio; each chunk is synthesized when asked for.
    pub fn speak_stream<'a>(&'a self, text: &'a str) -> Result<SpeechStream<'a>, Error> {
        self.speak_stream_with(text, &self.audio_options)
    }

    /// [`speak_stream`](Self::speak_stream) with other audio options.
    pub fn speak_stream_with<'a>(
        &'a self,
        text: &'a str,
        options: &AudioOptions,
    ) -> Result<SpeechStream<'a>, Error> {
        stream(SynthRef::Borrowed(self), Cow::Borrowed(text), options)
    }

    /// A stream that owns its text and shares the synthesizer, for moving
    /// into another thread or task.
    pub fn speak_stream_shared(
        self: &Arc<Self>,
        text: String,
        options: &AudioOptions,
    ) -> Result<SpeechStream<'static>, Error> {
        stream(
            SynthRef::Shared(Arc::clone(self)),
            Cow::Owned(text),
            options,
        )
    }

    /// The callback form of [`speak_stream`](Self::speak_stream): `f` gets
    /// each chunk as soon as it is ready; an error from `f` stops synthesis
    /// and is returned.
    pub fn speak_each<E, F>(&self, text: &str, mut f: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(SpeechChunk) -> Result<(), E>,
    {
        for chunk in self.speak_stream(text)? {
            f(chunk?)?;
        }
        Ok(())
    }
}

fn stream<'a>(
    synth: SynthRef<'a>,
    text: Cow<'a, str>,
    options: &AudioOptions,
) -> Result<SpeechStream<'a>, Error> {
    options.check()?;
    let prepared = synth.prepare_text(&text)?;
    Ok(SpeechStream {
        chunks_total: prepared.chunks.len(),
        chunks: prepared.chunks.into(),
        pending: VecDeque::new(),
        diagnostics: prepared.diagnostics,
        budget: PhonemeBudget::new(),
        options: options.clone(),
        synth,
        text,
        index: 0,
        offset: 0,
        voiced: false,
        require_voice: true,
        done: false,
    })
}

/// A stream over given sentences (phoneme ids without text).
pub(crate) fn from_sentences<'a>(
    synth: &'a Synthesizer,
    sentences: Vec<Pending>,
    options: &AudioOptions,
) -> Result<SpeechStream<'a>, Error> {
    options.check()?;
    Ok(SpeechStream {
        chunks_total: 0,
        chunks: VecDeque::new(),
        pending: sentences.into(),
        diagnostics: Vec::new(),
        budget: PhonemeBudget::new(),
        options: options.clone(),
        synth: SynthRef::Borrowed(synth),
        text: Cow::Borrowed(""),
        index: 0,
        offset: 0,
        voiced: false,
        require_voice: false,
        done: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_can_move_between_threads() {
        fn is_send<T: Send>() {}
        is_send::<SpeechStream<'static>>();
        is_send::<SpeechChunk>();
    }

    #[test]
    fn options_are_checked() {
        let ok = AudioOptions::default()
            .with_sample_rate(16_000)
            .with_volume(0.5)
            .with_sentence_silence_ms(200);
        assert!(ok.check().is_ok());
        for bad in [
            AudioOptions::default().with_sample_rate(7_999),
            AudioOptions::default().with_sample_rate(48_001),
            AudioOptions::default().with_volume(f32::NAN),
            AudioOptions::default().with_volume(-1.0),
            AudioOptions::default().with_volume(101.0),
            AudioOptions::default().with_sentence_silence_ms(60_001),
        ] {
            assert!(
                matches!(bad.check(), Err(Error::InvalidSetting { .. })),
                "{bad:?}"
            );
        }
    }
}
