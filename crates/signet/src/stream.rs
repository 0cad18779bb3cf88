//! Streaming synthesis: one [`Utterance`] per sentence, as soon as it is
//! ready. This is the one path from text to audio: [`Synthesizer::speak`]
//! and its relatives, the CLI and the server all drive a [`SpeechStream`].
//!
//! A stream starts after the cheap first stage of the text frontend (limits,
//! Unicode policy, normalization, segments: a bad input fails before any
//! audio). Each `next()` then phonemizes one segment when no sentence is
//! waiting, and synthesizes one sentence. The first audio of a long text is
//! therefore ready after its first sentence, and memory holds the prepared
//! text plus one segment's phonemes and one sentence's audio at a time,
//! however long the text is. Joined, the utterances are what
//! [`Synthesizer::speak`] returns, sample for sample (with noise scales 0,
//! which makes synthesis deterministic).
//!
//! Each sentence's audio goes through [`AudioOptions::apply`](signet_audio::AudioOptions::apply)
//! (trim, resample, volume, the pause before every sentence but the first).
//! Word and phoneme [`Timings`] follow the same steps and are given in
//! samples of the output, counted from the start of the whole speech. Every
//! limit of [`Limits`](signet_text::Limits) is checked here: the phoneme
//! budget of the request as segments are phonemized, the seconds of audio
//! before each sentence is synthesized (an estimate, so that a sentence that
//! would cross the limit is never made) and again after it.
//!
//! # Estimating the audio before synthesis
//! A VITS voice gives each phoneme id `ceil(exp(logw) × length_scale)` latent
//! frames of `hop_length` samples. Over the Piper voices' sentences the mean of
//! `exp(logw)` is 2.0 to 2.6 frames per id (measured on `en_US-joe-medium`
//! with the default noise: sentences of 50 ids or more; short exclamations of
//! about 11 ids reach 3.6, their start and end ids weighing more), so the
//! estimate counts [`ESTIMATE_FRAMES_PER_ID`] frames per id at length scale 1
//! plus half a frame for the rounding up: at speed 1 that is 3 frames,
//! 35 ms at 22,050 Hz. Within a request, once a sentence has been made, the
//! request's own seconds per id replace that figure (the voice, speed and
//! text style stay the same across a request). [`SpeechStream::estimate_seconds`]
//! gives the whole text's estimate before any synthesis; before each
//! sentence the stream adds the sentence's estimate (and its pause) to the
//! audio made so far and stops, with the `max_output_seconds` error, when it
//! would pass the limit. The limit is also checked on the real audio after
//! each sentence, as before, for a sentence longer than its estimate.
//!
//! A stream is `Send`: a server can move it into a worker thread, and stop
//! between sentences by not asking for the next one. It borrows its
//! synthesizer, or shares it through an `Arc`
//! ([`Synthesizer::speak_stream_shared`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use signet_audio::{Audio, VolumeChange};
use signet_text::align::{self, MarkTiming, Timings, WordPlan};
use signet_text::ssml::{Mark, Step, Style};
use signet_text::{Diagnostic, PhonemeBudget};

use crate::options::Settings;
use crate::{Error, Synthesizer};

/// Mean latent frames the duration predictor gives one phoneme id at length
/// scale 1, as the audio estimate counts it (see the module docs for the
/// measurement behind it).
pub const ESTIMATE_FRAMES_PER_ID: f64 = 2.5;

/// One sentence of speech, ready to play.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Utterance {
    /// The sentence's number, from 0.
    pub index: usize,
    /// Byte range of the text segment this sentence came from (a sentence,
    /// or the part of a long one that the frontend cut into a segment).
    pub text: Range<usize>,
    /// Its audio at the output rate, after the pause before it (every
    /// sentence but the first starts with the pause).
    pub audio: Audio,
    /// Where this utterance starts in the whole speech, in samples.
    pub start: u64,
    /// Word and phoneme times, in samples from the start of the whole speech.
    pub timings: Timings,
    /// What the volume setting did to this sentence, when one is set.
    pub volume: Option<VolumeChange>,
    /// Diagnostics found since the previous utterance (the first one also
    /// carries those about the whole text).
    pub diagnostics: Vec<Diagnostic>,
    /// Which part of its sentence this is, from 0. A stream that gives audio
    /// by window ([`SpeechStream::by_window`]) yields a long sentence in
    /// several parts: the first carries the sentence's timings and
    /// diagnostics, the later ones only audio. Otherwise always 0.
    pub part: usize,
    /// Whether this is the last part of its sentence (always true when the
    /// stream gives whole sentences).
    pub last: bool,
}

/// A sentence waiting to be synthesized.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// Its byte range in the text (empty for bare ids).
    pub(crate) text: Range<usize>,
    /// Its phoneme ids, BOS and EOS included.
    pub(crate) ids: Vec<i64>,
    /// The symbol each id speaks.
    pub(crate) symbols: Vec<String>,
    /// Where its words are, in phoneme words.
    pub(crate) words: Vec<WordPlan>,
    /// Whether it has a phoneme that is not a pause.
    pub(crate) voiced: bool,
    /// How to say it (SSML prosody and emphasis; plain for text).
    pub(crate) style: Style,
    /// SSML marks to place in it.
    pub(crate) marks: Vec<Mark>,
    /// For an SSML break: the milliseconds of silence this item is, in place
    /// of a sentence (its ids are empty).
    pub(crate) pause_ms: Option<u32>,
}

impl Pending {
    /// A sentence of bare ids, in the plain style, without marks.
    pub(crate) fn ids(text: Range<usize>, ids: Vec<i64>, symbols: Vec<String>) -> Self {
        Self {
            text,
            ids,
            symbols,
            words: Vec::new(),
            voiced: true,
            style: Style::default(),
            marks: Vec::new(),
            pause_ms: None,
        }
    }
}

/// The synthesizer a stream uses: borrowed or shared.
#[derive(Debug)]
pub(crate) enum SynthRef<'a> {
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

/// What a stream speaks: steps of text still to phonemize (segments of
/// plain text, or an SSML document's segments and pauses), or sentences
/// given directly (bare phoneme ids).
pub(crate) enum Source<'a> {
    Text {
        text: Cow<'a, str>,
        steps: Vec<Step>,
        diagnostics: Vec<Diagnostic>,
    },
    Sentences(Vec<Pending>),
}

/// Speech, one sentence at a time: an iterator of [`Utterance`]s.
///
/// Each `next()` synthesizes one sentence (phonemizing the next text segment
/// first when no sentence is waiting). After an error the stream ends. When
/// the text turns out to hold nothing to pronounce, the last item is
/// [`Error::NothingToSpeak`].
#[derive(Debug)]
pub struct SpeechStream<'a> {
    synth: SynthRef<'a>,
    settings: Settings,
    text: Cow<'a, str>,
    segments: VecDeque<Step>,
    segments_total: usize,
    pending: VecDeque<Pending>,
    diagnostics: Vec<Diagnostic>,
    budget: PhonemeBudget,
    index: usize,
    offset: u64,
    /// Ids synthesized so far, and the seconds of speech (pauses left out)
    /// they gave: the request's own rate for the next sentence's estimate.
    ids_done: u64,
    spoken_secs: f64,
    voiced: bool,
    require_voice: bool,
    done: bool,
    /// Whether to give audio by decoding window (see [`SpeechStream::by_window`]).
    by_window: bool,
    /// The sentence being decoded window by window.
    current: Option<Current>,
    /// The watermark's embedder, at the output rate, its position the
    /// number of samples marked so far (the whole speech's grid); `None`
    /// when the synthesizer does not watermark.
    mark: Option<signet_watermark::Embedder>,
    /// Whether the last item was an SSML break: the sentence after it gets
    /// no sentence pause (the break is the pause).
    after_pause: bool,
}

/// A sentence whose first part is out and whose other windows are still to decode.
#[derive(Debug)]
struct Current {
    synthesis: crate::model::Started,
    index: usize,
    text: Range<usize>,
    part: usize,
}

impl<'a> SpeechStream<'a> {
    /// A stream over `source` with checked `settings`.
    pub(crate) fn new(
        synth: SynthRef<'a>,
        settings: Settings,
        source: Source<'a>,
    ) -> Result<Self, Error> {
        let rate = settings.audio.output_rate(synth.sample_rate());
        let mark = match synth.watermark_key() {
            Some(key) => Some(signet_watermark::Embedder::new(
                rate,
                key,
                settings.payload,
            )?),
            None => None,
        };
        let (text, segments, pending, diagnostics, require_voice) = match source {
            Source::Text {
                text,
                steps,
                diagnostics,
            } => {
                // A document of breaks alone is silence, not an error.
                let voice = !steps
                    .iter()
                    .any(|s| matches!(s, Step::Pause { ms, .. } if *ms > 0));
                (text, steps, Vec::new(), diagnostics, voice)
            }
            Source::Sentences(pending) => {
                (Cow::Borrowed(""), Vec::new(), pending, Vec::new(), false)
            }
        };
        Ok(Self {
            synth,
            settings,
            text,
            segments_total: segments.len(),
            segments: segments.into(),
            pending: pending.into(),
            diagnostics,
            budget: PhonemeBudget::new(),
            index: 0,
            offset: 0,
            ids_done: 0,
            spoken_secs: 0.0,
            voiced: false,
            require_voice,
            done: false,
            by_window: false,
            current: None,
            mark,
            after_pause: false,
        })
    }

    /// Gives a long sentence's audio as it is decoded, window by window
    /// (several [`Utterance`]s with the same `index`, numbered by `part`),
    /// instead of once the whole sentence is made: the first audio of a
    /// sentence longer than one decoding window (about 6 s of speech) then
    /// comes after a fraction of its synthesis. Only when the audio options
    /// allow it (see [`AudioOptions::works_in_pieces`](signet_audio::AudioOptions::works_in_pieces));
    /// otherwise sentences stay whole. Joined, the audio is the same either way.
    #[must_use]
    pub fn by_window(mut self, on: bool) -> Self {
        self.by_window = on;
        self
    }
}

impl SpeechStream<'_> {
    /// Text segments in the input (a segment is a sentence, or a part of a
    /// very long one; it may give more than one [`Utterance`]); an SSML
    /// document's breaks count as segments too.
    pub fn segments_total(&self) -> usize {
        self.segments_total
    }

    /// The text the stream speaks, which the byte ranges of its utterances
    /// and timings point into: the caller's text, or an SSML document's
    /// spoken text (empty for bare ids).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Text segments not yet phonemized.
    pub fn segments_left(&self) -> usize {
        self.segments.len()
    }

    /// Sentences phonemized and waiting for synthesis.
    pub fn sentences_waiting(&self) -> usize {
        self.pending.len()
    }

    /// Samples produced so far.
    pub fn samples_done(&self) -> u64 {
        self.offset
    }

    /// Samples per second of the utterances.
    pub fn sample_rate(&self) -> u32 {
        self.settings.audio.output_rate(self.synth.sample_rate())
    }

    /// The voice speaking: its provenance, for the audio's metadata.
    pub fn provenance(&self) -> &signet_audio::Provenance {
        self.synth.provenance()
    }

    /// Diagnostics not yet handed out with an utterance (those of text
    /// segments that gave no sentence, once the stream has ended).
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Phonemizes now, before any synthesis, until a sentence is waiting, so
    /// that what the text frontend refuses in the first segment, and a text
    /// with nothing to pronounce at all, is an error before the first audio.
    /// A server calls it before it answers with a status; other callers need
    /// not (the same errors come from `next()`). After an error the stream
    /// has ended.
    ///
    /// # Errors
    /// The frontend's errors, a breached limit, or [`Error::NothingToSpeak`]
    /// when the whole text has been phonemized and holds nothing to say.
    pub fn check_first(&mut self) -> Result<(), Error> {
        while self.pending.is_empty() && !self.done {
            let Some(segment) = self.segments.pop_front() else {
                break;
            };
            if let Err(e) = self.phonemize(&segment) {
                self.stop();
                return Err(e);
            }
        }
        let voiced_ahead = self.voiced || self.pending.iter().any(|p| p.voiced);
        if self.require_voice && self.segments.is_empty() && !voiced_ahead {
            self.stop();
            return Err(Error::NothingToSpeak);
        }
        Ok(())
    }

    /// Estimated seconds of the whole speech: the audio made so far plus an
    /// estimate (see the module docs) for every sentence not yet made. To
    /// count the phoneme ids, it phonemizes every remaining text segment now
    /// (the request's phoneme limit applies as usual), so the stream then
    /// holds the whole text's phonemes, though still one sentence's audio at
    /// a time. A server calls it before synthesis to weigh a request against
    /// its limits; the estimate is not a bound (a sentence may come out
    /// longer), which is why the limit is checked again on the real audio.
    ///
    /// # Errors
    /// The frontend's errors and a breached phoneme limit, as `next()` would
    /// give them; after an error the stream has ended.
    pub fn estimate_seconds(&mut self) -> Result<f64, Error> {
        while let Some(segment) = self.segments.pop_front() {
            if let Err(e) = self.phonemize(&segment) {
                self.stop();
                return Err(e);
            }
        }
        let mut secs = self.offset as f64 / f64::from(self.sample_rate().max(1));
        for (i, sentence) in self.pending.iter().enumerate() {
            secs += match sentence.pause_ms {
                Some(ms) => f64::from(ms) / 1000.0,
                None => {
                    self.sentence_estimate(sentence.ids.len(), self.index + i)
                        / f64::from(sentence.style.rate)
                }
            };
        }
        Ok(secs)
    }

    /// Estimated seconds of a sentence of `ids` phoneme ids that would be
    /// sentence number `index`, its pause included.
    fn sentence_estimate(&self, ids: usize, index: usize) -> f64 {
        let per_id = if self.ids_done > 0 {
            self.spoken_secs / self.ids_done as f64
        } else {
            let frames =
                ESTIMATE_FRAMES_PER_ID * f64::from(self.settings.scales.length_scale) + 0.5;
            frames * self.synth.hop_length() as f64 / f64::from(self.synth.sample_rate().max(1))
        };
        let pause = if index > 0 {
            f64::from(self.settings.audio.sentence_silence_ms) / 1000.0
        } else {
            0.0
        };
        ids as f64 * per_id + pause
    }

    fn stop(&mut self) {
        self.done = true;
        self.current = None;
        self.pending.clear();
        self.segments.clear();
    }

    /// Phonemizes the next text segment into waiting sentences (an SSML
    /// break waits as it is).
    fn phonemize(&mut self, step: &Step) -> Result<(), Error> {
        let (segment, style, marks) = match step {
            Step::Speak {
                segment,
                style,
                marks,
            } => (segment, *style, marks.clone()),
            Step::Pause { ms, marks } => {
                self.pending.push_back(Pending {
                    text: 0..0,
                    ids: Vec::new(),
                    symbols: Vec::new(),
                    words: Vec::new(),
                    voiced: false,
                    style: Style::default(),
                    marks: marks.clone(),
                    pause_ms: Some(*ms),
                });
                return Ok(());
            }
            _ => return Ok(()),
        };
        let mut marks = Some(marks);
        let synth = &*self.synth;
        let out = synth.phonemize_segment(segment)?;
        self.budget.spend(&out.sentences, synth.limits())?;
        self.diagnostics.extend(out.diagnostics);
        let symbols: Vec<&[String]> = out.sentences.iter().map(|s| s.symbols.as_slice()).collect();
        let plans = align::plan_words(&self.text, segment.source.clone(), &symbols);
        for (sentence, words) in out.sentences.into_iter().zip(plans) {
            self.pending.push_back(Pending {
                voiced: sentence.is_voiced(),
                text: sentence.text,
                ids: sentence.ids,
                symbols: sentence.symbols,
                words,
                style,
                marks: marks.take().unwrap_or_default(),
                pause_ms: None,
            });
        }
        if let Some(marks) = marks.filter(|m| !m.is_empty()) {
            // Nothing to say in the segment: its marks stand where it would.
            self.pending.push_back(Pending {
                text: segment.source.clone(),
                ids: Vec::new(),
                symbols: Vec::new(),
                words: Vec::new(),
                voiced: false,
                style,
                marks,
                pause_ms: Some(0),
            });
        }
        Ok(())
    }

    /// Places a sentence's marks: at the first word at or after each mark,
    /// else (no word after it in this sentence) in the next sentence of the
    /// same segment, else at `end`.
    fn place_marks(
        &mut self,
        marks: Vec<Mark>,
        text: &Range<usize>,
        timings: &mut Timings,
        end: u64,
    ) {
        let mut carry = Vec::new();
        for mark in marks {
            match timings.words.iter().find(|w| w.text.start >= mark.offset) {
                Some(w) => timings.marks.push(MarkTiming::new(mark.name, w.start)),
                None => carry.push(mark),
            }
        }
        if carry.is_empty() {
            return;
        }
        match self.pending.front_mut() {
            Some(next) if next.pause_ms.is_none() && next.text == *text => {
                carry.append(&mut next.marks);
                next.marks = carry;
            }
            _ => {
                for mark in carry {
                    timings.marks.push(MarkTiming::new(mark.name, end));
                }
            }
        }
    }

    /// An SSML break: exactly its silence at the output rate, with its marks
    /// at its start.
    fn speak_pause(&mut self, ms: u32, marks: Vec<Mark>) -> Result<Utterance, Error> {
        let rate = self.sample_rate();
        let audio = Audio::silence(rate, ms)?;
        let len = audio.samples().len() as u64;
        let end = self.offset.saturating_add(len);
        self.synth.limits().check_output_samples(end, rate)?;
        let mut timings = Timings::default();
        for mark in marks {
            timings.marks.push(MarkTiming::new(mark.name, self.offset));
        }
        let utterance = Utterance {
            index: self.index,
            text: 0..0,
            start: self.offset,
            timings,
            volume: None,
            diagnostics: std::mem::take(&mut self.diagnostics),
            audio,
            part: 0,
            last: true,
        };
        self.offset = end;
        self.index += 1;
        self.after_pause = self.after_pause || ms > 0;
        Ok(utterance)
    }

    /// Synthesizes one sentence and runs the audio chain on it.
    fn speak_sentence(&mut self, mut sentence: Pending) -> Result<Utterance, Error> {
        if let Some(ms) = sentence.pause_ms {
            return self.speak_pause(ms, std::mem::take(&mut sentence.marks));
        }
        if self.by_window
            && sentence.style.gain == 1.0
            && self
                .settings
                .audio
                .works_in_pieces(self.synth.sample_rate())
        {
            return self.start_sentence(sentence);
        }
        // Stop before a sentence that would pass the output limit, rather
        // than make it and throw it away.
        let rate = self.sample_rate();
        let ahead =
            self.sentence_estimate(sentence.ids.len(), self.index) / f64::from(sentence.style.rate);
        let expected = self.offset as f64 + ahead * f64::from(rate);
        self.synth
            .limits()
            .check_output_samples(expected.ceil().min(u64::MAX as f64) as u64, rate)?;
        let ids = sentence.ids.len() as u64;
        let settings = self.styled(sentence.style);
        let synth = &*self.synth;
        let (raw, durations) = synth.infer(&sentence.ids, &settings)?;
        self.voiced |= sentence.voiced;
        let from = raw.sample_rate();
        let t = align::sentence_timings(
            &self.text,
            &sentence.symbols,
            &durations,
            synth.hop_length(),
            &sentence.words,
        );
        let mut processed = self.settings.audio.apply_marked(
            raw,
            self.index > 0 && !self.after_pause,
            self.mark.as_mut(),
        )?;
        if sentence.style.gain != 1.0 {
            let (audio, change) = processed.audio.with_volume(sentence.style.gain)?;
            processed.audio = audio;
            processed.volume = processed.volume.or(Some(change));
        }
        let to = processed.audio.sample_rate();
        let timings = align::place(
            t,
            processed.cut,
            processed.kept,
            from,
            to,
            processed.body,
            self.offset.saturating_add(processed.pause),
        );
        let len = processed.audio.samples().len() as u64;
        let end = self.offset.saturating_add(len);
        synth.limits().check_output_samples(end, to)?;
        let mut timings = timings;
        self.place_marks(sentence.marks, &sentence.text, &mut timings, end);
        self.after_pause = false;
        let utterance = Utterance {
            index: self.index,
            text: sentence.text,
            start: self.offset,
            timings,
            volume: processed.volume,
            diagnostics: std::mem::take(&mut self.diagnostics),
            audio: processed.audio,
            part: 0,
            last: true,
        };
        self.offset = end;
        self.index += 1;
        self.ids_done = self.ids_done.saturating_add(ids);
        self.spoken_secs += processed.body as f64 / f64::from(to.max(1));
        Ok(utterance)
    }

    /// Starts a sentence window by window: its length and timings are known
    /// from the durations, so the output limit is checked before any audio is
    /// decoded; the first window's audio comes back now, the rest from
    /// [`next_window`](Self::next_window).
    fn start_sentence(&mut self, sentence: Pending) -> Result<Utterance, Error> {
        let settings = self.styled(sentence.style);
        let synth = &*self.synth;
        let mut synthesis = synth.start(&sentence.ids, &settings)?;
        self.voiced |= sentence.voiced;
        let rate = synth.sample_rate();
        let total = synthesis.samples_total() as u64;
        let t = align::sentence_timings(
            &self.text,
            &sentence.symbols,
            synthesis.durations(),
            synth.hop_length(),
            &sentence.words,
        );
        let mut audio =
            if self.index > 0 && !self.after_pause && self.settings.audio.sentence_silence_ms > 0 {
                Audio::silence(rate, self.settings.audio.sentence_silence_ms)?
            } else {
                Audio::new(Vec::new(), rate)?
            };
        let pause = audio.samples().len() as u64;
        let mut timings = align::place(
            t,
            0,
            total,
            rate,
            rate,
            total,
            self.offset.saturating_add(pause),
        );
        let end = self.offset.saturating_add(pause).saturating_add(total);
        synth.limits().check_output_samples(end, rate)?;
        self.place_marks(sentence.marks, &sentence.text, &mut timings, end);
        self.after_pause = false;
        self.ids_done = self.ids_done.saturating_add(sentence.ids.len() as u64);
        self.spoken_secs += total as f64 / f64::from(rate.max(1));
        let first = synthesis.next().unwrap_or_else(|| Ok(Vec::new()))?;
        audio.append(&Audio::new(first, rate)?)?;
        let last = synthesis.windows_left() == 0;
        let audio = mark_piece(self.mark.as_mut(), audio, last)?;
        let utterance = Utterance {
            index: self.index,
            text: sentence.text.clone(),
            start: self.offset,
            timings,
            volume: None,
            diagnostics: std::mem::take(&mut self.diagnostics),
            audio,
            part: 0,
            last,
        };
        self.offset = self
            .offset
            .saturating_add(utterance.audio.samples().len() as u64);
        if last {
            self.index += 1;
        } else {
            self.current = Some(Current {
                synthesis,
                index: self.index,
                text: sentence.text,
                part: 0,
            });
        }
        Ok(utterance)
    }

    /// The next window of the sentence being decoded, if there is one.
    fn next_window(&mut self) -> Option<Result<Utterance, Error>> {
        let current = self.current.as_mut()?;
        let rate = self.synth.sample_rate();
        let Some(next) = current.synthesis.next() else {
            self.current = None;
            self.index += 1;
            return None;
        };
        let samples = match next {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        current.part += 1;
        let last = current.synthesis.windows_left() == 0;
        let marked = Audio::new(samples, rate)
            .map_err(Error::from)
            .and_then(|audio| mark_piece(self.mark.as_mut(), audio, last));
        let utterance = match marked {
            Ok(audio) => Utterance {
                index: current.index,
                text: current.text.clone(),
                start: self.offset,
                timings: Timings::default(),
                volume: None,
                diagnostics: Vec::new(),
                audio,
                part: current.part,
                last,
            },
            Err(e) => return Some(Err(e)),
        };
        self.offset = self
            .offset
            .saturating_add(utterance.audio.samples().len() as u64);
        if last {
            self.current = None;
            self.index += 1;
        }
        Some(Ok(utterance))
    }
}

/// Marks one piece of a sentence given window by window: what the embedder
/// has final comes out now (a frame and a half later than it went in), and
/// the sentence's last piece also takes the rest
/// ([`Embedder::drain`](signet_watermark::Embedder::drain)), so that a
/// sentence ends where it would have ended whole, marked the same.
fn mark_piece(
    mark: Option<&mut signet_watermark::Embedder>,
    audio: Audio,
    last: bool,
) -> Result<Audio, Error> {
    let Some(embedder) = mark else {
        return Ok(audio);
    };
    let mut out = embedder.push(audio.samples())?;
    if last {
        out.extend(embedder.drain());
    }
    Ok(Audio::new(out, audio.sample_rate())?)
}

impl SpeechStream<'_> {
    /// The stream's settings with a style's rate laid on the length scale.
    fn styled(&self, style: Style) -> crate::options::Settings {
        let mut settings = self.settings.clone();
        if style.rate != 1.0 && style.rate.is_finite() && style.rate > 0.0 {
            settings.scales.length_scale /= style.rate;
        }
        settings
    }
}

impl Iterator for SpeechStream<'_> {
    type Item = Result<Utterance, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let result = if let Some(result) = self.next_window() {
                result
            } else if let Some(sentence) = self.pending.pop_front() {
                self.speak_sentence(sentence)
            } else if let Some(segment) = self.segments.pop_front() {
                match self.phonemize(&segment) {
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
                self.stop();
            }
            return Some(result);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_can_move_between_threads() {
        fn is_send<T: Send>() {}
        is_send::<SpeechStream<'static>>();
        is_send::<Utterance>();
    }
}
