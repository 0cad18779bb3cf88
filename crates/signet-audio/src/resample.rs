//! Sample-rate conversion with rubato's windowed-sinc resampler.
//!
//! [`Audio::resample`] converts to any rate from [`MIN_RESAMPLE_RATE`] to
//! [`MAX_RESAMPLE_RATE`] (the output rates speech applications use) from any
//! rate an [`Audio`] may hold.
//!
//! # Filter
//!
//! rubato's asynchronous sinc resampler (`Async::new_sinc`) with:
//!
//! - **sinc length 128** taps per output sample. With the window below rubato
//!   places the cutoff automatically at about 0.89 of the lower of the two
//!   Nyquist frequencies: 3.6 kHz when going to 8 kHz (the telephone band),
//!   7.2 kHz at 16 kHz, 9.9 kHz at 22.05 kHz. Speech has little energy above
//!   that; 256 taps would move the cutoff to about 0.95 for twice the work.
//! - **Blackman-Harris² window** (rubato's default): the highest stop-band
//!   attenuation of rubato's windows, so that downsampling (a 48 kHz voice to
//!   8 kHz telephony, say) folds no audible alias of sibilants back into the
//!   band (a 6 kHz tone taken to 8 kHz comes out more than 60 dB down, see
//!   the tests); its slower roll-off is what the 0.89 cutoff pays for.
//! - **oversampling factor 256, cubic interpolation** between the
//!   pre-computed sinc tables: twice rubato's suggested table density, for
//!   a table of only 32 k coefficients, so the interpolated filter stays
//!   close to the ideal one at any ratio.
//!
//! The arithmetic runs in `f64`, so no finite input overflows, and the output
//! is saturated to the `f32` range: the result is always finite.
//!
//! # Length and alignment
//!
//! The output holds `round(n * to / from)` samples for `n` input samples, and
//! the filter's delay is cut from the start, so that a feature at input time
//! `t` appears at output time `t`, within half an output sample. The input is
//! fed in chunks of [`CHUNK`] frames and the tail is flushed with silence.
//!
//! Each call treats its input as a whole clip, silent before and after:
//! resampling sentences one by one and joining the results is exact only
//! where the sentences start and end in silence (as synthesized sentences
//! do); a cut through sound leaves a short filter transient at the join.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::{Audio, AudioError};

/// Lowest rate [`Audio::resample`] converts to.
pub const MIN_RESAMPLE_RATE: u32 = 8_000;
/// Highest rate [`Audio::resample`] converts to.
pub const MAX_RESAMPLE_RATE: u32 = 48_000;

/// Taps of the sinc filter (see the module docs).
const SINC_LEN: usize = 128;
/// Sinc table oversampling (see the module docs).
const OVERSAMPLING: usize = 256;
/// Input frames per call into rubato.
const CHUNK: usize = 1024;

/// `round(n * to / from)`, without overflow.
fn output_len(n: usize, from: u32, to: u32) -> usize {
    let n = n as u128;
    let (from, to) = (u128::from(from), u128::from(to));
    let len = (n * to + from / 2) / from;
    usize::try_from(len).unwrap_or(usize::MAX)
}

impl Audio {
    /// This audio at another sample rate, from [`MIN_RESAMPLE_RATE`] to
    /// [`MAX_RESAMPLE_RATE`] Hz.
    ///
    /// The same rate gives a copy. The output length is the input length
    /// times `rate / self.sample_rate()`, rounded; see the module docs for the
    /// filter.
    pub fn resample(&self, rate: u32) -> Result<Audio, AudioError> {
        if !(MIN_RESAMPLE_RATE..=MAX_RESAMPLE_RATE).contains(&rate) {
            return Err(AudioError::SampleRate {
                rate,
                min: MIN_RESAMPLE_RATE,
                max: MAX_RESAMPLE_RATE,
            });
        }
        let from = self.sample_rate();
        if rate == from || self.samples().is_empty() {
            return Audio::new(self.samples().to_vec(), rate);
        }
        let fail = |reason: String| AudioError::Resampler {
            from,
            to: rate,
            reason,
        };

        let params = SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2)
            .oversampling_factor(OVERSAMPLING)
            .interpolation(SincInterpolationType::Cubic);
        let ratio = f64::from(rate) / f64::from(from);
        let mut resampler =
            Async::<f64>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input)
                .map_err(|e| fail(e.to_string()))?;

        let input: Vec<f64> = self.samples().iter().map(|&s| f64::from(s)).collect();
        let input_adapter =
            InterleavedSlice::new(&input, 1, input.len()).map_err(|e| fail(e.to_string()))?;
        // The filter's delay in output frames, rounded. rubato's own
        // `output_delay()` (`SINC_LEN * ratio / 2`, truncated) overstates it
        // by about one output frame: trimming that much moved a click up to
        // one frame early on the pairs of common rates we measured. The value
        // below keeps timing within half a frame; `timing_is_kept` guards it.
        let delay = (SINC_LEN as f64 * ratio / 2.0 - 1.0).round().max(0.0) as usize;
        let expected = output_len(input.len(), from, rate);
        let needed = delay.saturating_add(expected);

        let mut chunk_out = vec![0.0f64; resampler.output_frames_max()];
        let mut output: Vec<f64> = Vec::with_capacity(needed.saturating_add(chunk_out.len()));
        let mut consumed = 0usize;
        while output.len() < needed {
            let left = input.len().saturating_sub(consumed);
            let mut indexing = Indexing::new().input_offset(consumed.min(input.len()));
            if left < resampler.input_frames_next() {
                indexing = indexing.partial_len(left);
            }
            let capacity = chunk_out.len();
            let mut out_adapter = InterleavedSlice::new_mut(&mut chunk_out, 1, capacity)
                .map_err(|e| fail(e.to_string()))?;
            let (n_in, n_out) = resampler
                .process_into_buffer(&input_adapter, &mut out_adapter, Some(&indexing))
                .map_err(|e| fail(e.to_string()))?;
            if n_out == 0 && left == 0 {
                return Err(fail("the resampler stopped producing output".to_owned()));
            }
            output.extend(chunk_out.iter().take(n_out));
            consumed = consumed.saturating_add(n_in);
        }

        let limit = f64::from(f32::MAX);
        let samples: Vec<f32> = output
            .iter()
            .skip(delay)
            .take(expected)
            .map(|&s| s.clamp(-limit, limit) as f32)
            .collect();
        Audio::new(samples, rate)
    }
}

/// Resamples a stream of pieces as one continuous signal.
///
/// [`Audio::resample`] treats each call's input as a whole clip; pieces cut
/// through sound (a sentence's decoding windows) would each get a filter
/// transient at their edges. This keeps one filter across [`push`]
/// (`StreamResampler::push`) calls, so the pieces joined come out as the
/// whole would: the same filter, delay cut and length rule as
/// [`Audio::resample`]. It holds at most one input chunk between calls.
pub struct StreamResampler {
    to: u32,
    from: u32,
    /// `None` when the rates are equal (samples pass through).
    inner: Option<Async<f64>>,
    /// Input not yet fed: less than one chunk.
    pending: Vec<f64>,
    /// Output samples still to drop (the filter's delay).
    skip: usize,
    /// Input samples taken so far.
    taken: u64,
    /// Output samples given so far.
    given: u64,
    chunk_out: Vec<f64>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("taken", &self.taken)
            .field("given", &self.given)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// A resampler from `from` Hz (any rate an [`Audio`] may hold) to `to`
    /// Hz ([`MIN_RESAMPLE_RATE`] to [`MAX_RESAMPLE_RATE`]).
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        if !(MIN_RESAMPLE_RATE..=MAX_RESAMPLE_RATE).contains(&to) {
            return Err(AudioError::SampleRate {
                rate: to,
                min: MIN_RESAMPLE_RATE,
                max: MAX_RESAMPLE_RATE,
            });
        }
        if !(crate::MIN_SAMPLE_RATE..=crate::MAX_SAMPLE_RATE).contains(&from) {
            return Err(AudioError::SampleRate {
                rate: from,
                min: crate::MIN_SAMPLE_RATE,
                max: crate::MAX_SAMPLE_RATE,
            });
        }
        let ratio = f64::from(to) / f64::from(from);
        let (inner, skip) = if from == to {
            (None, 0)
        } else {
            let params =
                SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2)
                    .oversampling_factor(OVERSAMPLING)
                    .interpolation(SincInterpolationType::Cubic);
            let r = Async::<f64>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input)
                .map_err(|e| AudioError::Resampler {
                    from,
                    to,
                    reason: e.to_string(),
                })?;
            // The same delay as `Audio::resample` cuts.
            let delay = (SINC_LEN as f64 * ratio / 2.0 - 1.0).round().max(0.0) as usize;
            (Some(r), delay)
        };
        let out_max = inner.as_ref().map_or(0, Resampler::output_frames_max);
        Ok(Self {
            to,
            from,
            inner,
            pending: Vec::with_capacity(CHUNK),
            skip,
            taken: 0,
            given: 0,
            chunk_out: vec![0.0; out_max],
        })
    }

    /// The output rate.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Takes more input; returns the output that is ready.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, AudioError> {
        self.taken = self.taken.saturating_add(samples.len() as u64);
        if self.inner.is_none() {
            self.given = self.given.saturating_add(samples.len() as u64);
            return Ok(samples.to_vec());
        }
        let mut out = Vec::new();
        for &s in samples {
            self.pending.push(f64::from(s));
            if self.pending.len() == CHUNK {
                self.feed(CHUNK, &mut out)?;
                self.pending.clear();
            }
        }
        Ok(out)
    }

    /// Ends the stream: the rest of the output, the whole being
    /// `round(n * to / from)` samples for `n` taken.
    pub fn finish(mut self) -> Result<Vec<f32>, AudioError> {
        let expected = output_len(
            usize::try_from(self.taken).unwrap_or(usize::MAX),
            self.from,
            self.to,
        ) as u64;
        if self.inner.is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let valid = self.pending.len();
        self.pending.resize(CHUNK, 0.0);
        self.feed(valid, &mut out)?;
        self.pending.iter_mut().for_each(|s| *s = 0.0);
        let mut rounds = 0usize;
        while self.given < expected {
            self.feed(0, &mut out)?;
            rounds += 1;
            // The delay is a fraction of a chunk: a few rounds always do.
            if rounds > 8 + SINC_LEN {
                return Err(AudioError::Resampler {
                    from: self.from,
                    to: self.to,
                    reason: "the resampler stopped producing output".to_owned(),
                });
            }
        }
        let over = usize::try_from(self.given.saturating_sub(expected)).unwrap_or(0);
        out.truncate(out.len().saturating_sub(over));
        Ok(out)
    }

    /// Feeds `self.pending` (`valid` frames of it real) and appends what
    /// comes out, less the delay still to drop.
    fn feed(&mut self, valid: usize, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let (from, to) = (self.from, self.to);
        let fail = |reason: String| AudioError::Resampler { from, to, reason };
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let input = InterleavedSlice::new(&self.pending, 1, self.pending.len())
            .map_err(|e| fail(e.to_string()))?;
        let mut indexing = Indexing::new();
        if valid < CHUNK {
            indexing = indexing.partial_len(valid);
        }
        let capacity = self.chunk_out.len();
        let mut out_adapter = InterleavedSlice::new_mut(&mut self.chunk_out, 1, capacity)
            .map_err(|e| fail(e.to_string()))?;
        let (_, n_out) = inner
            .process_into_buffer(&input, &mut out_adapter, Some(&indexing))
            .map_err(|e| fail(e.to_string()))?;
        let limit = f64::from(f32::MAX);
        let dropped = n_out.min(self.skip);
        self.skip -= dropped;
        let kept = self.chunk_out.iter().take(n_out).skip(dropped);
        let before = out.len();
        out.extend(kept.map(|&s| s.clamp(-limit, limit) as f32));
        self.given = self
            .given
            .saturating_add((out.len().saturating_sub(before)) as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{output_len, StreamResampler};
    use crate::Audio;

    #[test]
    fn stream_resampling_matches_the_whole_clip() {
        // A tone cut into uneven pieces, through sound: joined, the stream's
        // output is the whole clip's, sample for sample within rounding.
        let tone: Vec<f32> = (0..7_001).map(|i| 0.4 * (i as f32 * 0.07).sin()).collect();
        let whole = Audio::new(tone.clone(), 22_050)
            .and_then(|a| a.resample(48_000))
            .map(Audio::into_samples)
            .unwrap_or_default();
        let mut r = StreamResampler::new(22_050, 48_000).unwrap_or_else(|e| unreachable!("{e}"));
        let mut joined = Vec::new();
        for piece in [
            &tone[..10],
            &tone[10..2_500],
            &tone[2_500..2_501],
            &tone[2_501..],
        ] {
            joined.extend(r.push(piece).unwrap_or_default());
        }
        joined.extend(r.finish().unwrap_or_default());
        assert_eq!(joined.len(), whole.len());
        let worst = joined
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "pieces differ from the whole by {worst}");
    }

    #[test]
    fn output_len_rounds_to_nearest() {
        assert_eq!(output_len(441, 44_100, 8_000), 80);
        assert_eq!(output_len(1, 48_000, 8_000), 0);
        assert_eq!(output_len(3, 48_000, 8_000), 1);
        assert_eq!(output_len(usize::MAX, 8_000, 48_000), usize::MAX);
    }
}
