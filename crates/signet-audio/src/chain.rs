//! The per-sentence audio chain: what happens to each sentence's samples
//! between the model and the encoder.
//!
//! [`AudioOptions::apply`] runs, in this order: trim leading and trailing
//! silence (below [`TRIM_THRESHOLD`], keeping [`TRIM_KEEP_MS`]), resample to
//! the output rate, put the pause between sentences in front of every
//! sentence but the first, mark it ([`AudioOptions::apply_marked`], the
//! watermark), then apply the volume (never clipping). It reports
//! what each step did ([`Processed`]) so that a caller can move timestamps
//! along with the samples.

use crate::{
    Audio, AudioError, VolumeChange, MAX_RESAMPLE_RATE, MAX_SILENCE_MS, MIN_RESAMPLE_RATE,
};

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
    /// its gain is lowered (see [`Processed::volume`]). `None` is 1.
    pub volume: Option<f32>,
    /// Cut each sentence's leading and trailing silence (below
    /// [`TRIM_THRESHOLD`], keeping [`TRIM_KEEP_MS`]).
    pub trim_silence: bool,
    /// Silence put between sentences, in milliseconds (at most one minute).
    pub sentence_silence_ms: u32,
}

/// One sentence's audio after [`AudioOptions::apply`], and what was done to it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Processed {
    /// The audio at the output rate, the pause (if any) in front.
    pub audio: Audio,
    /// Samples cut from the start by trimming, at the input rate.
    pub cut: u64,
    /// Samples kept by trimming, at the input rate.
    pub kept: u64,
    /// Samples of pause in front, at the output rate.
    pub pause: u64,
    /// Samples of the sentence itself (after the pause), at the output rate.
    pub body: u64,
    /// What the volume setting did, when one is set.
    pub volume: Option<VolumeChange>,
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

    /// These options with a pause between sentences given in seconds (0 to
    /// 60, rounded to the millisecond).
    ///
    /// # Errors
    /// [`AudioError::InvalidSetting`] for a negative, non-finite or too long
    /// pause.
    pub fn with_sentence_silence_secs(self, secs: f32) -> Result<Self, AudioError> {
        let max = f64::from(MAX_SILENCE_MS) / 1000.0;
        let s = f64::from(secs);
        if !(s.is_finite() && (0.0..=max).contains(&s)) {
            return Err(silence_error(secs.to_string()));
        }
        // Within 0..=60,000 after the check, so the cast is exact.
        Ok(self.with_sentence_silence_ms((s * 1000.0).round() as u32))
    }

    /// Checks every setting; errors name the setting.
    ///
    /// # Errors
    /// [`AudioError::InvalidSetting`] naming the first setting out of range.
    pub fn check(&self) -> Result<(), AudioError> {
        if let Some(rate) = self.sample_rate {
            if !(MIN_RESAMPLE_RATE..=MAX_RESAMPLE_RATE).contains(&rate) {
                return Err(AudioError::InvalidSetting {
                    setting: "sample_rate",
                    value: rate.to_string(),
                    reason: "must be from 8000 to 48000 Hz",
                });
            }
        }
        if let Some(v) = self.volume {
            if !(v.is_finite() && (0.0..=MAX_VOLUME).contains(&v)) {
                return Err(AudioError::InvalidSetting {
                    setting: "volume",
                    value: v.to_string(),
                    reason: "must be a finite gain from 0 to 100",
                });
            }
        }
        if self.sentence_silence_ms > MAX_SILENCE_MS {
            return Err(silence_error(format!(
                "{} s",
                f64::from(self.sentence_silence_ms) / 1000.0
            )));
        }
        Ok(())
    }

    /// The output rate for audio made at `voice_rate`.
    #[must_use]
    pub fn output_rate(&self, voice_rate: u32) -> u32 {
        self.sample_rate.unwrap_or(voice_rate)
    }

    /// Whether the chain can run on a sentence's audio in pieces, as it is
    /// decoded, for a voice at `voice_rate`: nothing in it needs the whole
    /// sentence (no silence trimming, no resampling, no volume change), so it
    /// only puts the pause in front of the first piece.
    pub fn works_in_pieces(&self, voice_rate: u32) -> bool {
        !self.trim_silence && self.volume.is_none() && self.output_rate(voice_rate) == voice_rate
    }

    /// Runs the chain (see the module docs) on one sentence's raw audio;
    /// `pause_before` puts the pause between sentences in front of it.
    ///
    /// # Errors
    /// A setting out of range (see [`check`](Self::check)), or a failure of
    /// the resampler.
    pub fn apply(&self, raw: Audio, pause_before: bool) -> Result<Processed, AudioError> {
        self.apply_marked(raw, pause_before, None)
    }

    /// [`apply`](Self::apply) with the watermark: after trimming and
    /// resampling, the pause and the sentence go through `mark` (the
    /// stream's embedder, at the output rate, whose position is where this
    /// sentence's pause starts in the whole speech), which hands them back
    /// whole ([`Embedder::drain`](signet_watermark::Embedder::drain)); the
    /// volume comes last, so that its clip guard sees the marked samples.
    /// With `mark` `None` the result is `apply`'s.
    ///
    /// # Errors
    /// As `apply`, and [`AudioError::Watermark`] when the embedder refuses
    /// the audio.
    pub fn apply_marked(
        &self,
        raw: Audio,
        pause_before: bool,
        mark: Option<&mut signet_watermark::Embedder>,
    ) -> Result<Processed, AudioError> {
        self.check()?;
        let from = raw.sample_rate();
        let mut audio = raw;
        let raw_len = audio.samples().len() as u64;
        let (cut, kept) = if self.trim_silence {
            let range = audio.sound_range(TRIM_THRESHOLD, TRIM_KEEP_MS)?;
            let kept = audio
                .samples()
                .get(range.clone())
                .unwrap_or_default()
                .to_vec();
            audio = Audio::new(kept, from)?;
            (range.start as u64, range.len() as u64)
        } else {
            (0, raw_len)
        };
        let to = self.output_rate(from);
        if to != from {
            audio = audio.resample(to)?;
        }
        let body = audio.samples().len() as u64;
        let mut pause = 0;
        if pause_before && self.sentence_silence_ms > 0 {
            let mut paused = Audio::silence(to, self.sentence_silence_ms)?;
            pause = paused.samples().len() as u64;
            paused.append(&audio)?;
            audio = paused;
        }
        if let Some(embedder) = mark {
            let mut marked = embedder.push(audio.samples())?;
            marked.extend(embedder.drain());
            audio = Audio::new(marked, to)?;
        }
        // Silence scaled stays silence: the volume over the pause and the
        // sentence is the volume over the sentence with the pause in front.
        let volume = match self.volume {
            Some(gain) => {
                let (scaled, change) = audio.with_volume(gain)?;
                audio = scaled;
                Some(change)
            }
            None => None,
        };
        Ok(Processed {
            audio,
            cut,
            kept,
            pause,
            body,
            volume,
        })
    }
}

fn silence_error(value: String) -> AudioError {
    AudioError::InvalidSetting {
        setting: "sentence_silence",
        value,
        reason: "must be from 0 to 60 seconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                matches!(bad.check(), Err(AudioError::InvalidSetting { .. })),
                "{bad:?}"
            );
        }
        for secs in [-0.5, 60.001, f32::NAN, f32::INFINITY] {
            assert!(
                matches!(
                    AudioOptions::default().with_sentence_silence_secs(secs),
                    Err(AudioError::InvalidSetting { .. })
                ),
                "{secs}"
            );
        }
        assert_eq!(
            AudioOptions::default()
                .with_sentence_silence_secs(0.25)
                .map(|o| o.sentence_silence_ms)
                .ok(),
            Some(250)
        );
    }

    #[test]
    fn the_chain_trims_resamples_and_pauses_in_order() -> Result<(), AudioError> {
        // 100 ms of silence, 100 ms of sound, 100 ms of silence at 16 kHz.
        let mut samples = vec![0.0f32; 1_600];
        samples.extend(std::iter::repeat_n(0.5f32, 1_600));
        samples.extend(vec![0.0f32; 1_600]);
        let raw = Audio::new(samples, 16_000)?;
        let options = AudioOptions::default()
            .with_trim_silence(true)
            .with_sample_rate(8_000)
            .with_volume(4.0)
            .with_sentence_silence_ms(10);
        let first = options.apply(raw.clone(), false)?;
        // 20 ms kept on each side of the sound.
        assert_eq!((first.cut, first.kept), (1_600 - 320, 1_600 + 640));
        assert_eq!(first.pause, 0);
        assert_eq!(first.body, first.audio.samples().len() as u64);
        assert_eq!(first.audio.sample_rate(), 8_000);
        assert!(first.volume.is_some_and(|v| v.limited));
        let next = options.apply(raw, true)?;
        assert_eq!(next.pause, 80);
        assert_eq!(next.audio.samples().len() as u64, next.pause + next.body);
        Ok(())
    }
}
