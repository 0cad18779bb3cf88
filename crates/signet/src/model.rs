//! The voice's model behind one seam: ids in, audio and per-id durations out.
//!
//! A voice is either one model that makes audio (VITS) or two stages, each from its own
//! verified bundle: a spectrogram model (Glow-TTS or Tacotron2-DDC, the [`Acoustic`] arms) and
//! the mel vocoder the voice's manifest pins by name and manifest SHA-256. Between the stages
//! the spectrogram is denormalized with the acoustic model's settings and normalized with the
//! vocoder's (`signet_audio::MelNormalization::renormalize`), as coqui-tts's synthesizer does
//! with its two audio processors. The speak path (`SpeechStream`) sees only [`Model`].

use signet_acoustic::glow_tts::GlowTts;
use signet_acoustic::tacotron2::Tacotron2;
use signet_acoustic::{Conditioning, Effective, Precision, Scales, Synthesis, Vits};
use signet_audio::MelNormalization;
use signet_nn::{Lease, Pool, Replicate};
use signet_registry::{verify_installed, Manifest, RegistryError, TrustStore, VerifiedBundle};
use signet_vocoder::{MelVocoder, Vocoding};

use crate::store::Store;
use crate::Error;

/// A loaded model of either shape.
#[derive(Debug)]
pub(crate) enum Model {
    /// One model from ids to audio.
    Vits(Box<Vits>),
    /// A spectrogram model and its vocoder. tch's tensors are not `Sync`, so each call takes
    /// a replica of both stages from a pool, as VITS does: concurrent calls on one
    /// synthesizer run at the same time, sharing the weights.
    TwoStage(Box<Pool<TwoStage>>),
}

/// The first stage of a two-stage voice: ids to a mel spectrogram and durations.
#[derive(Debug)]
pub(crate) enum Acoustic {
    /// Glow-TTS (`architecture.kind = "glow_tts"`).
    GlowTts(Box<GlowTts>),
    /// Tacotron2 with double decoder consistency (`architecture.kind = "tacotron2"`): its
    /// decoder decides the length (the length scale does not apply), stopping at its
    /// stop token or at a cap derived from the input length.
    Tacotron2(Box<Tacotron2>),
}

/// A spectrogram model, its vocoder, and the normalization of each.
#[derive(Debug)]
pub(crate) struct TwoStage {
    acoustic: Acoustic,
    /// How the acoustic model's spectrograms are normalized.
    acoustic_mel: MelNormalization,
    vocoder: MelVocoder,
    /// How the vocoder's input spectrograms are normalized.
    vocoder_mel: MelNormalization,
}

impl Replicate for Acoustic {
    fn replicate(&self) -> Self {
        match self {
            Acoustic::GlowTts(m) => Acoustic::GlowTts(Box::new(m.replicate())),
            Acoustic::Tacotron2(m) => Acoustic::Tacotron2(Box::new(m.replicate())),
        }
    }
}

signet_nn::replicate_fields!(TwoStage { acoustic, vocoder } clone { acoustic_mel, vocoder_mel });

/// The `[mel]` normalization of a verified manifest, checked.
fn normalization(manifest: &Manifest, voice: &str) -> Result<(MelNormalization, u32), Error> {
    let Some(mel) = &manifest.mel else {
        return Err(Error::VoiceStages {
            voice: voice.to_owned(),
            reason: format!(
                "bundle {:?} ({}) has no [mel] spectrogram settings",
                manifest.name.as_str(),
                manifest.architecture.kind
            ),
        });
    };
    let norm: MelNormalization = toml::Value::Table(mel.normalization.clone())
        .try_into()
        .map_err(|e: toml::de::Error| Error::VoiceStages {
            voice: voice.to_owned(),
            reason: format!(
                "bundle {:?}: [mel.normalization] does not read: {}",
                manifest.name.as_str(),
                e.message()
            ),
        })?;
    norm.validate()?;
    Ok((norm, mel.hop_length))
}

impl Model {
    /// The model of the verified voice `bundle`. A two-stage voice's vocoder is looked up in
    /// `store`'s vocoders folder and verified against `trust` (the same keys as voices); it is
    /// refused when missing ([`Error::VocoderNotFound`]), when it does not verify
    /// ([`Error::VocoderUnverified`]), when its manifest is not the one the voice pins
    /// ([`Error::VocoderMismatch`]), and when its spectrograms do not fit the model's.
    pub(crate) fn load(
        bundle: &VerifiedBundle,
        store: &Store,
        trust: &TrustStore,
        precision: Precision,
    ) -> Result<(Model, Option<String>), Error> {
        let manifest = bundle.manifest();
        let voice = manifest.name.as_str();
        let acoustic = match manifest.architecture.kind.as_str() {
            signet_acoustic::glow_tts::KIND => {
                Acoustic::GlowTts(Box::new(GlowTts::from_bundle(bundle)?))
            }
            signet_acoustic::tacotron2::KIND => {
                Acoustic::Tacotron2(Box::new(Tacotron2::from_bundle(bundle)?))
            }
            _ => {
                if manifest.vocoder.is_some() {
                    return Err(Error::VoiceStages {
                        voice: voice.to_owned(),
                        reason: format!(
                            "architecture {:?} makes audio itself but the voice pins a vocoder",
                            manifest.architecture.kind
                        ),
                    });
                }
                let (precision, note) = signet_acoustic::resolve_precision(
                    precision,
                    signet_acoustic::CpuFeatures::detect(),
                );
                let vits = Vits::from_bundle(bundle)?.with_precision(precision)?;
                return Ok((Model::Vits(Box::new(vits)), note));
            }
        };
        let Some(pin) = &manifest.vocoder else {
            return Err(Error::VoiceStages {
                voice: voice.to_owned(),
                reason: format!(
                    "architecture {:?} makes spectrograms, but the voice pins no [vocoder]",
                    manifest.architecture.kind
                ),
            });
        };
        let vocoder_name = pin.name.to_string();
        let vocoder_bundle =
            verify_installed(&store.vocoders_dir(), &pin.name, trust).map_err(|e| match e {
                RegistryError::NotInstalled { .. } => Error::VocoderNotFound {
                    voice: voice.to_owned(),
                    vocoder: vocoder_name.clone(),
                    store: store.vocoders_dir(),
                },
                other => Error::VocoderUnverified {
                    voice: voice.to_owned(),
                    vocoder: vocoder_name.clone(),
                    source: Box::new(other),
                },
            })?;
        if vocoder_bundle.manifest_sha256() != pin.manifest_sha256 {
            return Err(Error::VocoderMismatch {
                voice: voice.to_owned(),
                vocoder: vocoder_name,
                pinned: pin.manifest_sha256.clone(),
                found: vocoder_bundle.manifest_sha256().to_owned(),
            });
        }
        let (acoustic_mel, acoustic_hop) = normalization(manifest, voice)?;
        let vocoder_manifest = vocoder_bundle.manifest();
        let (vocoder_mel, vocoder_hop) = normalization(vocoder_manifest, voice)?;
        let vocoder = MelVocoder::from_bundle(&vocoder_bundle)?;
        let model_bins = match &acoustic {
            Acoustic::GlowTts(g) => g.config().out_channels,
            Acoustic::Tacotron2(t) => t.config().out_channels,
        };
        let misfit = [
            (
                "mel bins",
                model_bins == acoustic_mel.num_mels
                    && model_bins == vocoder_mel.num_mels
                    && model_bins == vocoder.num_mels(),
            ),
            (
                "sample rate",
                vocoder_manifest.voice.sample_rate == manifest.voice.sample_rate,
            ),
            (
                "hop length",
                acoustic_hop == vocoder_hop
                    && usize::try_from(vocoder_hop).ok() == Some(vocoder.hop_length()),
            ),
        ]
        .into_iter()
        .find(|(_, fits)| !fits);
        if let Some((what, _)) = misfit {
            return Err(Error::VoiceStages {
                voice: voice.to_owned(),
                reason: format!(
                    "the vocoder {vocoder_name:?} does not fit the model: its {what} differs"
                ),
            });
        }
        let stages = TwoStage {
            acoustic,
            acoustic_mel,
            vocoder,
            vocoder_mel,
        };
        Ok((Model::TwoStage(Box::new(Pool::new(stages))), None))
    }

    /// Runs the model on one sentence's ids: raw samples at the voice's rate, and the frames
    /// of [`hop_length`](Self::hop_length) samples each id was given (summing to the samples).
    pub(crate) fn infer(
        &self,
        ids: &[i64],
        cond: Conditioning,
        scales: &Scales,
    ) -> Result<(Vec<f32>, Vec<i64>), Error> {
        match self {
            Model::Vits(vits) => {
                let out = vits.infer_with(ids, cond, scales)?;
                Ok((out.samples, out.durations))
            }
            Model::TwoStage(pool) => pool.get().infer(ids, cond, scales),
        }
    }

    /// Starts the model on one sentence: its durations are known now, its samples come
    /// window by window (VITS's decoder, or a two-stage voice's vocoder after the whole
    /// spectrogram); joined, the windows are [`infer`](Self::infer)'s samples.
    pub(crate) fn start(
        &self,
        ids: &[i64],
        cond: Conditioning,
        scales: &Scales,
    ) -> Result<Started, Error> {
        match self {
            Model::Vits(vits) => Ok(Started::Vits(Box::new(vits.start_with(ids, cond, scales)?))),
            Model::TwoStage(pool) => {
                let stages = pool.get();
                let (mel, frames, durations) = stages.spectrogram(ids, cond, scales)?;
                let vocoding = stages
                    .vocoder
                    .start(&mel, Some(signet_acoustic::FIRST_WINDOW_FRAMES))?;
                let pad = stages.vocoder.config().inference_padding;
                Ok(Started::TwoStage(Box::new(Staged {
                    samples_total: stages.vocoder.output_len(frames),
                    durations: frame_durations(durations, frames, pad),
                    stages,
                    vocoding,
                })))
            }
        }
    }

    /// Samples per frame of the durations.
    pub(crate) fn hop_length(&self) -> usize {
        match self {
            Model::Vits(vits) => vits.hop_length(),
            Model::TwoStage(pool) => pool.inspect(|stages| stages.vocoder.hop_length()),
        }
    }

    /// The precision the decoder runs at.
    pub(crate) fn precision(&self) -> Effective {
        match self {
            Model::Vits(vits) => vits.precision(),
            Model::TwoStage(_) => Effective::Fp32,
        }
    }
}

/// A sentence started by [`Model::start`].
#[derive(Debug)]
pub(crate) enum Started {
    Vits(Box<Synthesis>),
    TwoStage(Box<Staged>),
}

/// A two-stage sentence: its spectrogram made, its vocoding window by window. It holds its
/// replica of the stages until it is dropped.
#[derive(Debug)]
pub(crate) struct Staged {
    stages: Lease<TwoStage>,
    vocoding: Vocoding,
    durations: Vec<i64>,
    samples_total: usize,
}

impl Started {
    /// Frames of [`Model::hop_length`] samples given to each id.
    pub(crate) fn durations(&self) -> &[i64] {
        match self {
            Started::Vits(s) => s.durations(),
            Started::TwoStage(s) => &s.durations,
        }
    }

    /// Samples the whole sentence will have.
    pub(crate) fn samples_total(&self) -> usize {
        match self {
            Started::Vits(s) => s.samples_total(),
            Started::TwoStage(s) => s.samples_total,
        }
    }

    /// Windows still to come.
    pub(crate) fn windows_left(&self) -> usize {
        match self {
            Started::Vits(s) => s.windows_left(),
            Started::TwoStage(s) => s.vocoding.windows_left(),
        }
    }
}

impl Iterator for Started {
    type Item = Result<Vec<f32>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Started::Vits(s) => s.next().map(|r| r.map_err(Error::from)),
            Started::TwoStage(s) => {
                let Staged {
                    stages, vocoding, ..
                } = &mut **s;
                stages
                    .vocoder
                    .next_window(vocoding)
                    .map(|r| r.map_err(Error::from))
            }
        }
    }
}

impl TwoStage {
    fn infer(
        &self,
        ids: &[i64],
        cond: Conditioning,
        scales: &Scales,
    ) -> Result<(Vec<f32>, Vec<i64>), Error> {
        let (mel, frames, durations) = self.spectrogram(ids, cond, scales)?;
        let samples = self.vocoder.vocode(&mel)?;
        let pad = self.vocoder.config().inference_padding;
        Ok((samples, frame_durations(durations, frames, pad)))
    }

    /// The first stage on `ids`: the spectrogram `[1, bins, frames]` in the vocoder's
    /// normalization, its frames, and the acoustic model's per-id durations.
    fn spectrogram(
        &self,
        ids: &[i64],
        cond: Conditioning,
        scales: &Scales,
    ) -> Result<(tch::Tensor, usize, Vec<i64>), Error> {
        if let Some(id) = cond.speaker.filter(|&id| id != 0) {
            return Err(Error::InvalidSetting {
                setting: "speaker",
                value: id.to_string(),
                reason: "this two-stage voice has one speaker, id 0",
            });
        }
        let (mut mel, frames, durations) = match &self.acoustic {
            Acoustic::GlowTts(glow) => {
                let out = glow.infer(ids, Some(f64::from(scales.length_scale)))?;
                (out.mel, out.frames, out.durations)
            }
            Acoustic::Tacotron2(taco) => {
                let out = taco.infer(ids, prenet_seed()?)?;
                (out.mel, out.frames, out.durations)
            }
        };
        self.vocoder_mel.renormalize(&self.acoustic_mel, &mut mel)?;
        let bins = i64::try_from(self.vocoder.num_mels()).unwrap_or(i64::MAX);
        let len = i64::try_from(frames).unwrap_or(i64::MAX);
        let mel = tch::Tensor::from_slice(&mel)
            .f_reshape([1, bins, len])
            .map_err(signet_vocoder::VocoderError::from)?;
        Ok((mel, frames, durations))
    }
}

/// The seed of Tacotron2's prenet dropout at inference (where its config keeps it on), drawn
/// from libtorch's global generator so that [`crate::manual_seed`] makes it repeatable, as it
/// does VITS's noise.
fn prenet_seed() -> Result<u64, Error> {
    let draw = tch::Tensor::f_randint(i64::MAX, [1], (tch::Kind::Int64, tch::Device::Cpu))
        .and_then(|t| t.f_int64_value(&[0]))
        .map_err(signet_vocoder::VocoderError::from)?;
    Ok(draw.unsigned_abs())
}

/// The acoustic model's per-id durations made to cover the vocoder's whole output: the
/// vocoder's padding frames go to the first and last id, and frames the model dropped (its
/// squeeze drops a remainder) are taken from the end, so the durations sum to
/// `frames + 2 * pad`.
fn frame_durations(mut durations: Vec<i64>, frames: usize, pad: usize) -> Vec<i64> {
    let pad = i64::try_from(pad).unwrap_or(0);
    let frames = i64::try_from(frames).unwrap_or(i64::MAX);
    if let Some(first) = durations.first_mut() {
        *first = first.saturating_add(pad);
    }
    if let Some(last) = durations.last_mut() {
        *last = last.saturating_add(pad);
    }
    let mut excess = durations
        .iter()
        .sum::<i64>()
        .saturating_sub(frames.saturating_add(pad.saturating_mul(2)));
    for d in durations.iter_mut().rev() {
        if excess <= 0 {
            break;
        }
        let take = excess.min(*d);
        *d -= take;
        excess -= take;
    }
    durations
}

#[cfg(test)]
mod tests {
    use super::frame_durations;

    #[test]
    fn two_stage_durations_cover_the_padded_output() {
        // 7 frames predicted, the squeeze kept 6, the vocoder pads 5 on each side.
        assert_eq!(frame_durations(vec![3, 1, 3], 6, 5), [8, 1, 7]);
        assert_eq!(frame_durations(vec![1, 1, 1], 2, 0), [1, 1, 0]);
        assert_eq!(frame_durations(vec![1, 1], 0, 0), [0, 0]);
        let d = frame_durations(vec![2, 4, 1, 1], 8, 5);
        assert_eq!(d.iter().sum::<i64>(), 18);
    }
}
