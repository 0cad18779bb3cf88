//! Level processing on [`Audio`], computed with ndarray.
//!
//! - [`Audio::peak`] and [`Audio::rms`] measure;
//! - [`Audio::normalize_peak`] scales to a peak target (idempotent);
//! - [`Audio::with_volume`] applies a gain but **never clips**: it lowers the
//!   gain so that the peak stays at or below 1.0, and reports the gain it
//!   applied in a [`VolumeChange`];
//! - [`Audio::trim_silence`] cuts leading and trailing silence, keeping a
//!   margin ([`Audio::sound_range`] says where);
//! - [`Audio::silence`] builds the pauses put between sentences.
//!
//! Products are formed in `f64` and the results are bounded, so every output
//! is finite.

use ndarray::{Array1, ArrayView1};

use crate::{Audio, AudioError, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

/// Longest silence [`Audio::silence`] builds: one minute.
pub const MAX_SILENCE_MS: u32 = 60_000;

/// What [`Audio::with_volume`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct VolumeChange {
    /// The gain asked for.
    pub requested: f32,
    /// The gain applied: `requested`, or less where that would have clipped.
    pub applied: f32,
    /// Whether the gain was lowered to keep the peak at or below 1.0.
    pub limited: bool,
}

/// `ms` milliseconds at `rate`, in samples, rounded down.
fn ms_to_samples(rate: u32, ms: u32) -> usize {
    let n = u64::from(rate) * u64::from(ms) / 1000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Audio {
    fn view(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(self.samples())
    }

    /// This audio's samples scaled by `gain`, each bounded to `±bound`.
    fn scaled(&self, gain: f64, bound: f64) -> Result<Audio, AudioError> {
        let scaled: Array1<f32> = self
            .view()
            .mapv(|s| (f64::from(s) * gain).clamp(-bound, bound) as f32);
        Audio::new(scaled.to_vec(), self.sample_rate())
    }

    /// Largest absolute sample value; 0 for empty audio.
    pub fn peak(&self) -> f32 {
        self.view().fold(0.0f32, |m, &s| m.max(s.abs()))
    }

    /// Root mean square of the samples; 0 for empty audio.
    pub fn rms(&self) -> f32 {
        let n = self.samples().len();
        if n == 0 {
            return 0.0;
        }
        let sum = self
            .view()
            .fold(0.0f64, |acc, &s| acc + f64::from(s) * f64::from(s));
        (sum / n as f64).sqrt() as f32
    }

    /// This audio scaled so that its peak is `target`, in (0, 1].
    ///
    /// Silence stays silence. Audio whose peak is already within one part
    /// per million of `target` is returned unchanged, so normalizing twice
    /// gives the same samples as normalizing once.
    pub fn normalize_peak(&self, target: f32) -> Result<Audio, AudioError> {
        if !(target.is_finite() && target > 0.0 && target <= 1.0) {
            return Err(AudioError::PeakTarget { target });
        }
        let peak = f64::from(self.peak());
        let target = f64::from(target);
        if peak == 0.0 || (peak - target).abs() <= target * 1e-6 {
            return Ok(self.clone());
        }
        self.scaled(target / peak, target)
    }

    /// This audio multiplied by `gain` (finite, >= 0), without clipping.
    ///
    /// Where `gain` would push the peak above 1.0, the gain is lowered to
    /// `1 / peak` instead, and the returned [`VolumeChange`] says so. Note
    /// that audio whose peak is already above 1.0 is turned down even for a
    /// gain of 1.0.
    pub fn with_volume(&self, gain: f32) -> Result<(Audio, VolumeChange), AudioError> {
        if !(gain.is_finite() && gain >= 0.0) {
            return Err(AudioError::Gain { gain });
        }
        let peak = f64::from(self.peak());
        let requested = f64::from(gain);
        let applied = if peak * requested > 1.0 {
            1.0 / peak
        } else {
            requested
        };
        let limited = applied < requested;
        let audio = self.scaled(applied, 1.0)?;
        Ok((
            audio,
            VolumeChange {
                requested: gain,
                applied: applied as f32,
                limited,
            },
        ))
    }

    /// This audio without its leading and trailing silence.
    ///
    /// A sample is sound if its absolute value is above `threshold` (a
    /// linear amplitude, finite and >= 0). Up to `keep_ms` milliseconds of
    /// silence are kept before the first and after the last sound, so that
    /// onsets and decays are not cut. Audio without sound becomes empty.
    /// The result is never longer than the input.
    pub fn trim_silence(&self, threshold: f32, keep_ms: u32) -> Result<Audio, AudioError> {
        let range = self.sound_range(threshold, keep_ms)?;
        let kept = self.samples().get(range).unwrap_or_default();
        Audio::new(kept.to_vec(), self.sample_rate())
    }

    /// The range of samples [`trim_silence`](Self::trim_silence) keeps
    /// (empty, at 0, for audio without sound).
    pub fn sound_range(
        &self,
        threshold: f32,
        keep_ms: u32,
    ) -> Result<std::ops::Range<usize>, AudioError> {
        if !(threshold.is_finite() && threshold >= 0.0) {
            return Err(AudioError::SilenceThreshold { threshold });
        }
        let view = self.view();
        let is_sound = |s: &f32| s.abs() > threshold;
        let (Some(first), Some(last)) = (
            view.iter().position(is_sound),
            view.iter().rposition(is_sound),
        ) else {
            return Ok(0..0);
        };
        let keep = ms_to_samples(self.sample_rate(), keep_ms);
        let start = first.saturating_sub(keep);
        let end = last.saturating_add(1).saturating_add(keep).min(view.len());
        Ok(start..end)
    }

    /// `ms` milliseconds of silence at `rate`, at most [`MAX_SILENCE_MS`].
    pub fn silence(rate: u32, ms: u32) -> Result<Audio, AudioError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
            return Err(AudioError::SampleRate {
                rate,
                min: MIN_SAMPLE_RATE,
                max: MAX_SAMPLE_RATE,
            });
        }
        if ms > MAX_SILENCE_MS {
            return Err(AudioError::SilenceTooLong {
                ms,
                max_ms: MAX_SILENCE_MS,
            });
        }
        let zeros = Array1::<f32>::zeros(ms_to_samples(rate, ms));
        Audio::new(zeros.to_vec(), rate)
    }
}

#[cfg(test)]
mod tests {
    use super::ms_to_samples;

    #[test]
    fn milliseconds_to_samples_round_down_without_overflow() {
        assert_eq!(ms_to_samples(22_050, 1), 22);
        assert_eq!(ms_to_samples(16_000, 250), 4_000);
        assert_eq!(
            ms_to_samples(u32::MAX, u32::MAX),
            (u64::from(u32::MAX).pow(2) / 1000) as usize
        );
    }
}
