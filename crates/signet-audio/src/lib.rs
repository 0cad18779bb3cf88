//! Sample buffers, WAV input and output, resampling and level processing for Signet.
//!
//! [`Audio`] is a mono buffer of `f32` samples with its sample rate, as the
//! vocoder produces it. Every sample of an [`Audio`] is finite and its rate is
//! within [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`]; every constructor checks
//! both, so code holding an [`Audio`] never has to.
//!
//! - Output: one WAV writer, [`WavWriter`] (16-bit PCM or 32-bit float),
//!   that always writes a `LIST`/`INFO` chunk saying the audio is synthetic
//!   and which voice made it ([`Provenance`]), as a complete file (sizes
//!   patched at the end; [`Audio::to_wav`], [`write_wav_stream`]) or as a
//!   stream whose sizes are marked unknown; [`WavInfo::read`] shows the
//!   metadata (see the `provenance` module for what it does not protect).
//!   A complete file can also be signed: [`Audio::to_signed_wav`],
//!   [`write_signed_wav_stream`] and [`WavWriter::finish_signed`] append
//!   content credentials (an `sgcr` chunk after `data`: what made the audio
//!   and the SHA-256 of its samples, signed with ed25519), which
//!   [`WavInfo::read`] checks ([`Credentials`], [`CredentialStatus`]; see the
//!   `credentials` module).
//!   Raw little-endian PCM (`s16le`, `f32le`), which has no room for
//!   metadata: [`Audio::write_raw`].
//! - The per-sentence chain: [`AudioOptions::apply`] trims, resamples,
//!   applies the volume and puts the pause between sentences, in that order
//!   (see the `chain` module).
//! - Input: [`Audio::from_wav`] reads untrusted WAV bytes under [`WavLimits`];
//!   the RIFF structure is checked here before hound decodes anything (see the
//!   `wav` module).
//! - Resampling: [`Audio::resample`] converts to any rate from
//!   [`MIN_RESAMPLE_RATE`] to [`MAX_RESAMPLE_RATE`] with rubato's windowed-sinc
//!   resampler (see the `resample` module for the filter and why).
//! - Spectrograms between two models: [`MelNormalization`] (Coqui's normalization settings)
//!   denormalizes an acoustic model's mel and normalizes it for a vocoder (see the `mel`
//!   module).
//! - Levels: [`Audio::peak`], [`Audio::rms`], [`Audio::normalize_peak`],
//!   [`Audio::with_volume`] (never clips), [`Audio::trim_silence`] and
//!   [`Audio::silence`], computed with ndarray (see the `dsp` module).
//!
//! ```
//! use signet_audio::{Audio, Provenance, SampleFormat, WavLimits};
//!
//! # fn main() -> Result<(), signet_audio::AudioError> {
//! // Half a second of a 220 Hz tone at the voice's rate, then a pause.
//! let tone: Vec<f32> = (0..11_025)
//!     .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / 22_050.0).sin())
//!     .collect();
//! let mut speech = Audio::new(tone, 22_050)?;
//! speech.append(&Audio::silence(22_050, 200)?)?;
//!
//! // Telephone rate, full level, written and read back.
//! let phone = speech.resample(8_000)?.normalize_peak(0.95)?;
//! let provenance = Provenance::new("Signet", "0.1.0", "example-voice", "ab".repeat(32))?;
//! let wav = phone.to_wav(SampleFormat::S16, &provenance)?;
//! let back = Audio::from_wav(&wav, &WavLimits::default())?;
//! assert_eq!(back.sample_rate(), 8_000);
//! assert_eq!(back.samples().len(), 8_000 * 7 / 10);
//! assert!((back.peak() - 0.95).abs() < 1e-3);
//! assert_eq!(signet_audio::WavInfo::read(&wav, &WavLimits::default())?.provenance, Some(provenance));
//! # Ok(())
//! # }
//! ```
//!
//! **Architecture invariant:** this crate knows nothing of models, text or
//! libtorch; it takes samples in and gives bytes out.
#![forbid(unsafe_code)]

mod chain;
mod credentials;
mod dsp;
mod error;
mod mel;
mod provenance;
mod resample;
mod wav;
mod writer;

use std::io::Write;

pub use chain::{AudioOptions, Processed, MAX_VOLUME, TRIM_KEEP_MS, TRIM_THRESHOLD};
pub use credentials::{
    Claim, CredentialSigner, CredentialStatus, Credentials, CREDENTIALS_CHUNK_ID,
    CREDENTIALS_PAYLOAD_TYPE, MAX_CLAIM_BYTES, MAX_CREDENTIALS_BYTES, TRAINED_ALGORITHMIC_MEDIA,
};
pub use dsp::{VolumeChange, MAX_SILENCE_MS};
pub use error::{AudioError, FourCc};
pub use mel::{MelNormalization, MelStats, MAX_MELS};
pub use provenance::{InfoFields, Provenance, MAX_FIELD_BYTES};
pub use resample::{StreamResampler, MAX_RESAMPLE_RATE, MIN_RESAMPLE_RATE};
pub use wav::{WavInfo, WavLimits, DEFAULT_MAX_WAV_BYTES, DEFAULT_MAX_WAV_CHANNELS};
pub use writer::{write_signed_wav_stream, write_wav_stream, WavWriter, UNKNOWN_SIZE};

/// Lowest sample rate Signet writes.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate Signet writes.
pub const MAX_SAMPLE_RATE: u32 = 192_000;

/// How samples are encoded on output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleFormat {
    /// Signed 16-bit integers; samples are clamped to [-1, 1] and scaled.
    S16,
    /// 32-bit IEEE floats, the model's samples untouched.
    F32,
}

/// A mono buffer of samples with its rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    samples: Vec<f32>,
    sample_rate: u32,
}

impl Audio {
    /// Wraps samples; fails on a sample rate Signet does not write or on a
    /// non-finite sample.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Result<Self, AudioError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(AudioError::SampleRate {
                rate: sample_rate,
                min: MIN_SAMPLE_RATE,
                max: MAX_SAMPLE_RATE,
            });
        }
        if let Some((index, &value)) = samples.iter().enumerate().find(|(_, s)| !s.is_finite()) {
            return Err(AudioError::NonFiniteSample { index, value });
        }
        Ok(Self {
            samples,
            sample_rate,
        })
    }

    /// The samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Consumes the buffer, returning its samples.
    pub fn into_samples(self) -> Vec<f32> {
        self.samples
    }

    /// Samples per second.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }

    /// Appends another buffer of the same rate.
    pub fn append(&mut self, other: &Audio) -> Result<(), AudioError> {
        if other.sample_rate != self.sample_rate {
            return Err(AudioError::SampleRate {
                rate: other.sample_rate,
                min: self.sample_rate,
                max: self.sample_rate,
            });
        }
        self.samples.extend_from_slice(&other.samples);
        Ok(())
    }

    /// Writes the samples as raw little-endian PCM, without a header (and so
    /// without provenance: raw PCM has nowhere to carry it).
    pub fn write_raw<W: Write>(&self, format: SampleFormat, mut w: W) -> Result<(), AudioError> {
        self.write_raw_unflushed(format, &mut w)?;
        w.flush()?;
        Ok(())
    }
}

/// Converts a float sample to 16-bit PCM, clamping to full scale.
pub fn to_s16(sample: f32) -> i16 {
    // Clamped to [-1, 1] first, so the product is within i16's range.
    let scaled = (sample.clamp(-1.0, 1.0) * 32767.0).round();
    scaled as i16
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn wav_round_trip_s16_and_f32() -> Result<(), Box<dyn std::error::Error>> {
        let samples: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.01).sin() * 0.5).collect();
        let audio = Audio::new(samples.clone(), 22_050)?;
        let p = Provenance::new("Signet", "0.1.0", "v", "ab".repeat(32))?;

        let f32_wav = audio.to_wav(SampleFormat::F32, &p)?;
        let mut r = hound::WavReader::new(Cursor::new(f32_wav))?;
        assert_eq!(r.spec().sample_rate, 22_050);
        let back: Vec<f32> = r.samples::<f32>().collect::<Result<_, _>>()?;
        assert_eq!(back, samples);

        let s16_wav = audio.to_wav(SampleFormat::S16, &p)?;
        let mut r = hound::WavReader::new(Cursor::new(s16_wav))?;
        assert_eq!(r.spec().bits_per_sample, 16);
        let back: Vec<i16> = r.samples::<i16>().collect::<Result<_, _>>()?;
        let expected: Vec<i16> = samples.iter().map(|&s| to_s16(s)).collect();
        assert_eq!(back, expected);
        Ok(())
    }

    #[test]
    fn raw_pcm_is_little_endian() -> Result<(), AudioError> {
        let audio = Audio::new(vec![0.5, -1.5], 16_000)?;
        let mut out = Vec::new();
        audio.write_raw(SampleFormat::S16, &mut out)?;
        assert_eq!(
            out,
            [16384i16.to_le_bytes(), (-32767i16).to_le_bytes()].concat()
        );
        let mut out = Vec::new();
        audio.write_raw(SampleFormat::F32, &mut out)?;
        assert_eq!(
            out,
            [0.5f32.to_le_bytes(), (-1.5f32).to_le_bytes()].concat()
        );
        Ok(())
    }

    #[test]
    fn rejects_non_finite_samples_and_odd_rates() {
        assert!(matches!(
            Audio::new(vec![0.0, f32::NAN], 22_050),
            Err(AudioError::NonFiniteSample { index: 1, .. })
        ));
        assert!(matches!(
            Audio::new(vec![], 100),
            Err(AudioError::SampleRate { rate: 100, .. })
        ));
    }
}
