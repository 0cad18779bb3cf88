//! HiFi-GAN as a standalone mel vocoder: a mel spectrogram in, audio out.
//!
//! The second stage of a two-stage voice (a spectrogram model such as Glow-TTS or Tacotron2,
//! then a separately trained vocoder), in its own bundle of architecture kind
//! [`KIND`](signet_schema::hifigan::KIND). The network is the one HiFi-GAN [`Generator`] of this
//! crate with `in_channels` = mel bins and no speaker conditioning; this file adds what the
//! standalone vocoder does around it, following coqui-tts's `HifiganGenerator.inference`: the
//! mel is extended by `inference_padding` copies of its first and last frame on either side
//! before the generator runs, so the audio is `(frames + 2 * inference_padding) * hop` samples
//! long.
//!
//! The mel arrives normalized with the vocoder's own settings; converting an acoustic model's
//! output into them is `signet_audio::MelNormalization::renormalize`, which the caller composing
//! the two stages applies first.

use serde::{Deserialize, Serialize};
use signet_nn::{Path, Weights};
use signet_registry::VerifiedBundle;
use signet_schema::hifigan::{HifiGanConfig, KIND};
use signet_schema::ArchitectureSchema;
use tch::Tensor;

use crate::{DecodeWindow, Generator, VocoderError};

/// Most replicated frames [`MelVocoderConfig::inference_padding`] may ask for on each side.
pub const MAX_INFERENCE_PADDING: usize = 64;

/// A mel vocoder bundle's `architecture.config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelVocoderConfig {
    /// The generator; `in_channels` is the number of mel bins, `gin_channels` must be 0.
    pub generator: HifiGanConfig,
    /// Frames replicated on each side of the mel before decoding (coqui-tts: 5).
    pub inference_padding: usize,
}

impl MelVocoderConfig {
    /// Checks the generator and the padding.
    pub fn validate(&self) -> Result<(), VocoderError> {
        self.generator.validate()?;
        if self.generator.gin_channels != 0 {
            return Err(VocoderError::BadConfig {
                reason: format!(
                    "a mel vocoder takes no speaker conditioning, but gin_channels is {}",
                    self.generator.gin_channels
                ),
            });
        }
        if self.inference_padding > MAX_INFERENCE_PADDING {
            return Err(VocoderError::BadConfig {
                reason: format!(
                    "inference_padding {} exceeds {MAX_INFERENCE_PADDING}",
                    self.inference_padding
                ),
            });
        }
        Ok(())
    }
}

/// A standalone HiFi-GAN mel vocoder with its weights.
#[derive(Debug)]
pub struct MelVocoder {
    generator: Generator,
    cfg: MelVocoderConfig,
}

signet_nn::replicate_fields!(MelVocoder { generator } clone { cfg });

impl MelVocoder {
    /// Builds the vocoder from the generator tensors under `path` (the bundle's root).
    pub fn new(cfg: MelVocoderConfig, path: &Path<'_, '_>) -> Result<Self, VocoderError> {
        cfg.validate()?;
        let generator = tch::no_grad(|| Generator::new(cfg.generator.validate()?, path))?;
        Ok(MelVocoder { generator, cfg })
    }

    /// Builds the vocoder from a verified bundle of kind `hifigan`: parses `architecture.config`
    /// strictly, takes every tensor with its exact shape, and refuses a weights file holding
    /// tensors the generator does not use.
    pub fn from_bundle(bundle: &VerifiedBundle) -> Result<Self, VocoderError> {
        let manifest = bundle.manifest();
        if manifest.architecture.kind != KIND {
            return Err(VocoderError::WrongArchitecture {
                kind: manifest.architecture.kind.clone(),
            });
        }
        let cfg: MelVocoderConfig = toml::Value::Table(manifest.architecture.config.clone())
            .try_into()
            .map_err(|e: toml::de::Error| VocoderError::BadConfig {
                reason: e.message().to_owned(),
            })?;
        cfg.validate()?;
        let weights = Weights::from_bundle(bundle, &cfg.generator.validate()?.tensors())?;
        let vocoder = MelVocoder::new(cfg, &weights.root())?;
        weights.finish()?;
        Ok(vocoder)
    }

    /// The configuration.
    pub fn config(&self) -> &MelVocoderConfig {
        &self.cfg
    }

    /// Mel bins per frame.
    pub fn num_mels(&self) -> usize {
        self.cfg.generator.in_channels
    }

    /// Output samples per mel frame.
    pub fn hop_length(&self) -> usize {
        self.generator.hop_length()
    }

    /// Samples [`vocode`](Self::vocode) returns for `frames` mel frames.
    pub fn output_len(&self, frames: usize) -> usize {
        frames
            .saturating_add(2 * self.cfg.inference_padding)
            .saturating_mul(self.hop_length())
    }

    /// Turns `mel` `[1, num_mels, frames >= 1]` (normalized with the vocoder's settings) into
    /// [`output_len`](Self::output_len)`(frames)` samples in `[-1, 1]`. Long mels are decoded in
    /// overlapping windows, so memory stays flat in their length. The same samples as
    /// [`start`](Self::start)'s windows, joined.
    pub fn vocode(&self, mel: &Tensor) -> Result<Vec<f32>, VocoderError> {
        let mut vocoding = self.start(mel, None)?;
        let mut out = Vec::new();
        while let Some(window) = self.next_window(&mut vocoding) {
            out.extend(window?);
        }
        Ok(out)
    }

    /// Starts vocoding `mel` (see [`vocode`](Self::vocode)) window by window: each
    /// [`next_window`](Self::next_window) decodes one more window of the plan, the first of
    /// `first` frames when given (less to compute before the first samples), each exact:
    /// joined, they are `vocode`'s samples.
    pub fn start(&self, mel: &Tensor, first: Option<usize>) -> Result<Vocoding, VocoderError> {
        let size = mel.size();
        match size.as_slice() {
            [1, c, t] if usize::try_from(*c).ok() == Some(self.num_mels()) && *t >= 1 => {}
            _ => {
                return Err(VocoderError::BadLatent {
                    channels: self.num_mels(),
                    found: size,
                })
            }
        }
        let pad = i64::try_from(self.cfg.inference_padding).unwrap_or(0);
        let padded = tch::no_grad(|| {
            if pad > 0 {
                mel.f_replication_pad1d([pad, pad])
            } else {
                Ok(mel.shallow_clone())
            }
        })?;
        let frames = padded.size().get(2).copied().unwrap_or(0);
        let windows = self.generator.plan(frames, first).into_iter();
        Ok(Vocoding {
            mel: padded,
            windows,
        })
    }

    /// The samples of the next window of `vocoding`, which this vocoder (or a replica of it)
    /// started; `None` once every window is out, or after an error.
    pub fn next_window(&self, vocoding: &mut Vocoding) -> Option<Result<Vec<f32>, VocoderError>> {
        let w = vocoding.windows.next()?;
        let available = vocoding.mel.size().get(2).copied().unwrap_or(0);
        let out = tch::no_grad(|| {
            let read = w.latent();
            let piece = vocoding
                .mel
                .f_narrow(2, read.start, available - read.start)?;
            self.generator.decode_window(&piece, &w, None)
        });
        if out.is_err() {
            vocoding.windows = Vec::new().into_iter();
        }
        Some(out)
    }
}

/// A spectrogram being vocoded window by window ([`MelVocoder::start`]).
#[derive(Debug)]
pub struct Vocoding {
    /// The spectrogram with the vocoder's padding.
    mel: Tensor,
    windows: std::vec::IntoIter<DecodeWindow>,
}

impl Vocoding {
    /// Windows still to come.
    pub fn windows_left(&self) -> usize {
        self.windows.len()
    }
}
