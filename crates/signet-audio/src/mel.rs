//! Spectrogram normalization between a spectrogram model and its vocoder.
//!
//! A two-stage voice (Coqui's Glow-TTS or Tacotron2 followed by a separately trained HiFi-GAN)
//! hands a mel spectrogram from one model to the other. Each model was trained on spectrograms
//! in decibels mapped into its own range, so between the two the acoustic model's output is
//! denormalized with its settings and normalized again with the vocoder's
//! ([`MelNormalization::renormalize`]), as coqui-tts's `Synthesizer` does with its two
//! `AudioProcessor`s.
//!
//! The settings carry Coqui's `audio` key names and defaults. With `signal_norm`, a value `S`
//! in dB becomes, for range normalization, `(S - ref_level_db - min_level_db) / -min_level_db`
//! scaled to `[0, max_norm]` or, with `symmetric_norm`, to `[-max_norm, max_norm]`, clipped
//! there when `clip_norm`; with mean-variance statistics (Coqui's `stats_path` file, whose
//! `mel_mean` and `mel_std` an importer copies into [`MelNormalization::mel_stats`]) it becomes
//! `(S - mean[bin]) / std[bin]` and the range settings are unused. Without `signal_norm`
//! nothing changes.
//!
//! Spectrograms are channels first: `num_mels` rows of `frames` values, row-major, as the
//! models produce them.

use serde::{Deserialize, Serialize};

use crate::AudioError;

/// Mel bins a spectrogram may have.
pub const MAX_MELS: usize = 1024;

/// Per-bin mean and standard deviation of a mean-variance normalized spectrogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelStats {
    /// Mean of each mel bin, in dB.
    pub mel_mean: Vec<f64>,
    /// Standard deviation of each mel bin, in dB (each finite and positive).
    pub mel_std: Vec<f64>,
}

/// How a model's spectrograms are normalized (Coqui's `audio` settings of that name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelNormalization {
    /// Mel bins per frame.
    pub num_mels: usize,
    /// Whether the spectrogram is normalized at all.
    #[serde(default = "yes")]
    pub signal_norm: bool,
    /// Range `[-max_norm, max_norm]` (true) or `[0, max_norm]` (false).
    #[serde(default = "yes")]
    pub symmetric_norm: bool,
    /// Bound of the normalized range (finite, positive).
    #[serde(default = "max_norm")]
    pub max_norm: f64,
    /// Whether normalized values are clipped to the range.
    #[serde(default = "yes")]
    pub clip_norm: bool,
    /// Lowest level represented, in dB (finite, negative).
    #[serde(default = "min_level_db")]
    pub min_level_db: f64,
    /// Reference level subtracted before normalizing, in dB (finite).
    #[serde(default = "ref_level_db")]
    pub ref_level_db: f64,
    /// Mean-variance statistics, which replace range normalization when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mel_stats: Option<MelStats>,
}

fn yes() -> bool {
    true
}
fn max_norm() -> f64 {
    4.0
}
fn min_level_db() -> f64 {
    -100.0
}
fn ref_level_db() -> f64 {
    20.0
}

impl MelNormalization {
    /// Coqui's defaults for `num_mels` bins: symmetric range normalization to ±4, clipped,
    /// from -100 dB, reference 20 dB.
    pub fn coqui_default(num_mels: usize) -> Self {
        MelNormalization {
            num_mels,
            signal_norm: true,
            symmetric_norm: true,
            max_norm: max_norm(),
            clip_norm: true,
            min_level_db: min_level_db(),
            ref_level_db: ref_level_db(),
            mel_stats: None,
        }
    }

    /// The settings of a Coqui `config.json`'s `audio` table: the keys above, Coqui's defaults
    /// for those absent, every other key ignored (they describe feature extraction, which
    /// synthesis does not do). A config naming a `stats_path` needs that file's `mel_mean` and
    /// `mel_std` as `stats` (it is a numpy pickle, which Signet does not load itself); without
    /// them it is refused, as are `stats` for a config that names none.
    pub fn from_coqui_audio(
        audio: &serde_json::Value,
        stats: Option<MelStats>,
    ) -> Result<Self, AudioError> {
        let bad = |key, reason: String| AudioError::InvalidMelNormalization { key, reason };
        let mut s = MelNormalization::coqui_default(0);
        let num = |key: &'static str| -> Result<Option<f64>, AudioError> {
            match audio.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| bad(key, format!("{v} is not a number"))),
            }
        };
        let flag = |key: &'static str| -> Result<Option<bool>, AudioError> {
            match audio.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_bool()
                    .map(Some)
                    .ok_or_else(|| bad(key, format!("{v} is not true or false"))),
            }
        };
        let mels = audio
            .get("num_mels")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad("num_mels", "is missing or not a count".to_owned()))?;
        s.num_mels = usize::try_from(mels).unwrap_or(usize::MAX);
        if let Some(v) = flag("signal_norm")? {
            s.signal_norm = v;
        }
        if let Some(v) = flag("symmetric_norm")? {
            s.symmetric_norm = v;
        }
        if let Some(v) = flag("clip_norm")? {
            s.clip_norm = v;
        }
        if let Some(v) = num("max_norm")? {
            s.max_norm = v;
        }
        if let Some(v) = num("min_level_db")? {
            s.min_level_db = v;
        }
        if let Some(v) = num("ref_level_db")? {
            s.ref_level_db = v;
        }
        let stats_path = audio
            .get("stats_path")
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        match (stats_path, stats) {
            (true, None) => {
                return Err(bad(
                    "stats_path",
                    "names a mean-variance statistics file; pass its mel_mean and mel_std"
                        .to_owned(),
                ))
            }
            (false, Some(_)) => {
                return Err(bad(
                    "stats_path",
                    "is not set, so the config has no mean-variance statistics to use".to_owned(),
                ))
            }
            // coqui-tts turns range normalization on whenever statistics are loaded.
            (true, Some(st)) => {
                s.signal_norm = true;
                s.mel_stats = Some(st);
            }
            (false, None) => {}
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks every value: bins in `1..=`[`MAX_MELS`], `max_norm` finite and positive,
    /// `min_level_db` finite and negative, `ref_level_db` finite, statistics of `num_mels`
    /// finite means and finite positive deviations.
    pub fn validate(&self) -> Result<(), AudioError> {
        let bad = |key, reason: String| Err(AudioError::InvalidMelNormalization { key, reason });
        if self.num_mels == 0 || self.num_mels > MAX_MELS {
            return bad(
                "num_mels",
                format!("{} is outside 1..={MAX_MELS}", self.num_mels),
            );
        }
        if !(self.max_norm.is_finite() && self.max_norm > 0.0) {
            return bad(
                "max_norm",
                format!("{} is not a positive number", self.max_norm),
            );
        }
        if !(self.min_level_db.is_finite() && self.min_level_db < 0.0) {
            return bad(
                "min_level_db",
                format!("{} is not a negative number of dB", self.min_level_db),
            );
        }
        if !self.ref_level_db.is_finite() {
            return bad(
                "ref_level_db",
                format!("{} is not a number", self.ref_level_db),
            );
        }
        if let Some(stats) = &self.mel_stats {
            for (key, v) in [("mel_mean", &stats.mel_mean), ("mel_std", &stats.mel_std)] {
                if v.len() != self.num_mels {
                    return bad(
                        key,
                        format!("has {} values for {} mel bins", v.len(), self.num_mels),
                    );
                }
            }
            if let Some(m) = stats.mel_mean.iter().find(|m| !m.is_finite()) {
                return bad("mel_mean", format!("holds {m}"));
            }
            if let Some(s) = stats.mel_std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
                return bad("mel_std", format!("holds {s}, not a positive number"));
            }
        }
        Ok(())
    }

    /// Frames of a spectrogram of `values` values, refusing one that is not whole frames.
    fn frames(&self, values: usize) -> Result<usize, AudioError> {
        if self.num_mels == 0 || values % self.num_mels != 0 {
            return Err(AudioError::MelShape {
                values,
                num_mels: self.num_mels,
            });
        }
        Ok(values / self.num_mels)
    }

    /// Decibels to this model's normalized range, in place (Coqui's `AudioProcessor.normalize`).
    pub fn normalize(&self, mel: &mut [f32]) -> Result<(), AudioError> {
        self.validate()?;
        let frames = self.frames(mel.len())?;
        if !self.signal_norm {
            return Ok(());
        }
        if let Some(stats) = &self.mel_stats {
            for ((row, &mean), &std) in mel
                .chunks_mut(frames.max(1))
                .zip(&stats.mel_mean)
                .zip(&stats.mel_std)
            {
                for x in row {
                    *x = ((f64::from(*x) - mean) / std) as f32;
                }
            }
            return Ok(());
        }
        let (lo, hi) = self.range();
        for x in mel.iter_mut() {
            let s = (f64::from(*x) - self.ref_level_db - self.min_level_db) / -self.min_level_db;
            let mut n = if self.symmetric_norm {
                2.0 * self.max_norm * s - self.max_norm
            } else {
                self.max_norm * s
            };
            if self.clip_norm {
                n = n.clamp(lo, hi);
            }
            *x = n as f32;
        }
        Ok(())
    }

    /// This model's normalized range back to decibels, in place (Coqui's
    /// `AudioProcessor.denormalize`; values are clipped to the range first when `clip_norm`).
    pub fn denormalize(&self, mel: &mut [f32]) -> Result<(), AudioError> {
        self.validate()?;
        let frames = self.frames(mel.len())?;
        if !self.signal_norm {
            return Ok(());
        }
        if let Some(stats) = &self.mel_stats {
            for ((row, &mean), &std) in mel
                .chunks_mut(frames.max(1))
                .zip(&stats.mel_mean)
                .zip(&stats.mel_std)
            {
                for x in row {
                    *x = (f64::from(*x) * std + mean) as f32;
                }
            }
            return Ok(());
        }
        let (lo, hi) = self.range();
        let span = -self.min_level_db;
        for x in mel.iter_mut() {
            let mut n = f64::from(*x);
            if self.clip_norm {
                n = n.clamp(lo, hi);
            }
            let db = if self.symmetric_norm {
                (n + self.max_norm) * span / (2.0 * self.max_norm) + self.min_level_db
            } else {
                n * span / self.max_norm + self.min_level_db
            };
            *x = (db + self.ref_level_db) as f32;
        }
        Ok(())
    }

    /// A spectrogram normalized with `from` (the acoustic model's settings) to these settings
    /// (the vocoder's), in place: what passes between the two stages. Both must describe the
    /// same number of mel bins.
    pub fn renormalize(&self, from: &MelNormalization, mel: &mut [f32]) -> Result<(), AudioError> {
        if from.num_mels != self.num_mels {
            return Err(AudioError::InvalidMelNormalization {
                key: "num_mels",
                reason: format!(
                    "the acoustic model makes {} mel bins, the vocoder takes {}",
                    from.num_mels, self.num_mels
                ),
            });
        }
        from.denormalize(mel)?;
        self.normalize(mel)
    }

    fn range(&self) -> (f64, f64) {
        if self.symmetric_norm {
            (-self.max_norm, self.max_norm)
        } else {
            (0.0, self.max_norm)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_refused_by_name() {
        let ok = MelNormalization::coqui_default(4);
        assert!(ok.validate().is_ok());
        let cases: Vec<(&str, MelNormalization)> = vec![
            (
                "num_mels",
                MelNormalization {
                    num_mels: 0,
                    ..ok.clone()
                },
            ),
            (
                "max_norm",
                MelNormalization {
                    max_norm: 0.0,
                    ..ok.clone()
                },
            ),
            (
                "max_norm",
                MelNormalization {
                    max_norm: f64::NAN,
                    ..ok.clone()
                },
            ),
            (
                "min_level_db",
                MelNormalization {
                    min_level_db: 0.0,
                    ..ok.clone()
                },
            ),
            (
                "ref_level_db",
                MelNormalization {
                    ref_level_db: f64::INFINITY,
                    ..ok.clone()
                },
            ),
            (
                "mel_std",
                MelNormalization {
                    mel_stats: Some(MelStats {
                        mel_mean: vec![0.0; 4],
                        mel_std: vec![1.0, 0.0, 1.0, 1.0],
                    }),
                    ..ok.clone()
                },
            ),
            (
                "mel_mean",
                MelNormalization {
                    mel_stats: Some(MelStats {
                        mel_mean: vec![0.0; 3],
                        mel_std: vec![1.0; 4],
                    }),
                    ..ok.clone()
                },
            ),
        ];
        for (key, settings) in cases {
            match settings.validate() {
                Err(AudioError::InvalidMelNormalization { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
            let mut mel = [0.0f32; 8];
            assert!(settings.normalize(&mut mel).is_err());
        }
        let mut ragged = [0.0f32; 7];
        assert!(matches!(
            ok.normalize(&mut ragged),
            Err(AudioError::MelShape {
                values: 7,
                num_mels: 4
            })
        ));
        let other = MelNormalization::coqui_default(5);
        let mut mel = [0.0f32; 20];
        assert!(ok.renormalize(&other, &mut mel).is_err());
    }
}
