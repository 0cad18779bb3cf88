//! Per-request settings: [`SpeakOptions`].
//!
//! A synthesizer's builder sets the defaults; each call of
//! [`Synthesizer::speak_with`](crate::Synthesizer::speak_with) or
//! [`speak_stream_with`](crate::Synthesizer::speak_stream_with) may
//! override any of them for that call only. A setting left `None` keeps the
//! synthesizer's value; every value is checked before any work starts, and an
//! error names the setting.

use signet_audio::AudioOptions;

use crate::Error;

use signet_acoustic::Scales;

/// Slowest `speed` accepted: a quarter of the voice's pace.
pub const MIN_SPEED: f32 = 0.25;
/// Fastest `speed` accepted: four times the voice's pace.
pub const MAX_SPEED: f32 = 4.0;

/// A speaker of a multi-speaker voice.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Speaker {
    /// By id.
    Id(i64),
    /// By name, as the voice's speaker map lists it.
    Name(String),
}

/// A language of a multilingual voice (Coqui's YourTTS). Without one, such a voice speaks its
/// language 0, the first of its `voice.language_id_map` by id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Language {
    /// By id.
    Id(i64),
    /// By name, as the voice's language map lists it.
    Name(String),
}

/// Settings for one request (or, given to the builder, the defaults of a
/// synthesizer). `None` keeps the value below it: the builder's, else the
/// voice's.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SpeakOptions {
    /// Speaking time stretch: 2.0 is twice as slow.
    pub length_scale: Option<f32>,
    /// Variance of the latent noise (0 = deterministic).
    pub noise_scale: Option<f32>,
    /// Variance of the phoneme durations.
    pub noise_w: Option<f32>,
    /// Speaking rate, [`MIN_SPEED`] to [`MAX_SPEED`]: the length scale is
    /// divided by it (2.0 speaks twice as fast). `None` is 1.
    pub speed: Option<f32>,
    /// Speaker, for multi-speaker voices.
    pub speaker: Option<Speaker>,
    /// Language, for multilingual voices.
    pub language: Option<Language>,
    /// What happens to the audio after synthesis; replaces the
    /// synthesizer's [`AudioOptions`] as a whole when set.
    pub audio: Option<AudioOptions>,
    /// The 16 bits of caller data the watermark carries (a tenant, a request
    /// tag; `None` is 0). Ignored when the synthesizer does not watermark.
    pub watermark_payload: Option<u16>,
}

impl SpeakOptions {
    /// These options with a length scale.
    #[must_use]
    pub fn with_length_scale(mut self, x: f32) -> Self {
        self.length_scale = Some(x);
        self
    }

    /// These options with a noise scale.
    #[must_use]
    pub fn with_noise_scale(mut self, x: f32) -> Self {
        self.noise_scale = Some(x);
        self
    }

    /// These options with a duration noise scale.
    #[must_use]
    pub fn with_noise_w(mut self, x: f32) -> Self {
        self.noise_w = Some(x);
        self
    }

    /// These options with a speaking rate.
    #[must_use]
    pub fn with_speed(mut self, speed: f32) -> Self {
        self.speed = Some(speed);
        self
    }

    /// These options with a language.
    #[must_use]
    pub fn with_language(mut self, language: Language) -> Self {
        self.language = Some(language);
        self
    }

    /// These options with a speaker.
    #[must_use]
    pub fn with_speaker(mut self, speaker: Speaker) -> Self {
        self.speaker = Some(speaker);
        self
    }

    /// These options with audio options.
    #[must_use]
    pub fn with_audio(mut self, audio: AudioOptions) -> Self {
        self.audio = Some(audio);
        self
    }

    /// These options with the watermark's 16 bits of caller data.
    #[must_use]
    pub fn with_watermark_payload(mut self, payload: u16) -> Self {
        self.watermark_payload = Some(payload);
        self
    }

    /// Checks what can be checked without a voice: the speed and the audio
    /// options (the scales are checked once resolved against the voice's,
    /// when a request starts). A server checks a request's options here
    /// before queueing it.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] or an audio option's error, naming the
    /// setting.
    pub fn check(&self) -> Result<(), Error> {
        if let Some(speed) = self.speed {
            check_speed(speed)?;
        }
        if let Some(audio) = &self.audio {
            audio.check()?;
        }
        Ok(())
    }

    /// `self` over `base`: each setting of `self` that is set wins.
    pub(crate) fn over(&self, base: &SpeakOptions) -> SpeakOptions {
        SpeakOptions {
            length_scale: self.length_scale.or(base.length_scale),
            noise_scale: self.noise_scale.or(base.noise_scale),
            noise_w: self.noise_w.or(base.noise_w),
            speed: self.speed.or(base.speed),
            speaker: self.speaker.clone().or_else(|| base.speaker.clone()),
            language: self.language.clone().or_else(|| base.language.clone()),
            audio: self.audio.clone().or_else(|| base.audio.clone()),
            watermark_payload: self.watermark_payload.or(base.watermark_payload),
        }
    }
}

/// Settings resolved against a voice and checked: what a stream runs with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub(crate) scales: Scales,
    pub(crate) speaker: Option<i64>,
    pub(crate) language: Option<i64>,
    pub(crate) audio: AudioOptions,
    /// The watermark's caller data.
    pub(crate) payload: signet_watermark::Payload,
}

/// Checks a speed.
pub(crate) fn check_speed(speed: f32) -> Result<(), Error> {
    if !(speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed)) {
        return Err(Error::InvalidSetting {
            setting: "speed",
            value: speed.to_string(),
            reason: "must be a finite number from 0.25 to 4",
        });
    }
    Ok(())
}

/// Checks the scales the model will run with.
pub(crate) fn check_scales(s: &Scales) -> Result<(), Error> {
    let checks: [(&'static str, f32, f32, f32); 3] = [
        ("noise_scale", s.noise_scale, 0.0, 10.0),
        ("length_scale", s.length_scale, 0.01, 100.0),
        ("noise_w", s.noise_w, 0.0, 10.0),
    ];
    for (setting, v, lo, hi) in checks {
        if !(v.is_finite() && v >= lo && v <= hi) {
            return Err(Error::InvalidSetting {
                setting,
                value: v.to_string(),
                reason: match setting {
                    "length_scale" => "must be a finite number from 0.01 to 100",
                    _ => "must be a finite number from 0 to 10",
                },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_options_win_over_the_base() {
        let base = SpeakOptions::default()
            .with_length_scale(2.0)
            .with_noise_w(0.5);
        let request = SpeakOptions::default()
            .with_length_scale(1.0)
            .with_speed(2.0);
        let o = request.over(&base);
        assert_eq!(o.length_scale, Some(1.0));
        assert_eq!(o.noise_w, Some(0.5));
        assert_eq!(o.speed, Some(2.0));
        assert_eq!(o.audio, None);
    }

    #[test]
    fn speed_is_checked() {
        for ok in [MIN_SPEED, 1.0, MAX_SPEED] {
            assert!(check_speed(ok).is_ok());
        }
        for bad in [0.0, 0.2, 4.5, f32::NAN, f32::INFINITY, -1.0] {
            assert!(
                matches!(
                    check_speed(bad),
                    Err(Error::InvalidSetting {
                        setting: "speed",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
