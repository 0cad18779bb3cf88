//! The VITS synthesizer: text encoder, duration predictor, alignment expansion, flow and the
//! HiFi-GAN decoder, composed for inference.
//!
//! Follows Kim et al. (2021), "Conditional Variational Autoencoder with Adversarial Learning for
//! End-to-End Text-to-Speech" (VITS), reference implementation jaywalnut310/vits
//! (`models.SynthesizerTrn.infer`) and Piper's training code (the same `infer`, exported to ONNX
//! with `scales = [noise_scale, length_scale, noise_w]`):
//!
//! 1. `x, m_p, logs_p = enc_p(ids)`; `g = emb_g(speaker)` for a multi-speaker voice (a Coqui
//!    YourTTS voice's `emb_g` holds its d-vectors, normalized at import); a multilingual voice
//!    (Coqui's YourTTS) also takes `l = emb_l(language)`, which `enc_p` and `dp` see
//!    (Coqui TTS's `Vits.inference`);
//! 2. `logw = dp(x, g, noise_w)`; frames per id `= ceil(exp(logw) * length_scale)`;
//! 3. `m_p`, `logs_p` repeated by those durations (upstream's one-hot path matmul);
//! 4. `z_p = m_p + randn * exp(logs_p) * noise_scale`; `z = flow⁻¹(z_p, g)`;
//! 5. `audio = dec(z, g)`. A voice whose encoder ran at a lower rate than its decoder (Coqui's
//!    `encoder_sample_rate` with `interpolate_z`) first stretches `z` by the whole factor
//!    `latent_upsampling` along time, by linear interpolation with `align_corners = false`
//!    (`torch.nn.functional.interpolate(z, scale_factor = f, mode = "linear")`).

use signet_nn::{Effective, Embedding, Lease, Pool, Replicate, Weights};
use signet_registry::VerifiedBundle;
use signet_vocoder::{DecodeWindow, Generator, BUCKET_FRAMES};
use tch::{Device, Kind, Tensor};

use signet_schema::{vits, ArchitectureSchema, CheckedVits, VitsConfig};

use crate::duration::Durations;
use crate::flow::Flow;
use crate::text_encoder::TextEncoder;
use crate::{AcousticError, MAX_FRAMES, MAX_IDS};

/// Ids are padded to a multiple of this (see [`Model::prepare`]).
const ID_BUCKET: i64 = 16;

/// Latent frames of the first window of a sentence longer than one window (about 0.74 s at
/// 22,050 Hz with a hop of 256): what must be decoded before its first samples.
pub const FIRST_WINDOW_FRAMES: usize = 64;

/// Synthesis controls (Piper's `scales`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    /// Scale of the prior noise (0: the prior mean, deterministic).
    pub noise_scale: f32,
    /// Duration multiplier (greater is slower).
    pub length_scale: f32,
    /// Scale of the duration predictor's noise (0: deterministic durations).
    pub noise_w: f32,
}

impl Scales {
    /// All noise off, natural speed: the deterministic setting parity tests use.
    pub const DETERMINISTIC: Scales = Scales {
        noise_scale: 0.0,
        length_scale: 1.0,
        noise_w: 0.0,
    };

    fn check(&self) -> Result<(), AcousticError> {
        let checks = [
            ("noise_scale", self.noise_scale, false),
            ("length_scale", self.length_scale, true),
            ("noise_w", self.noise_w, false),
        ];
        for (name, value, positive) in checks {
            if !value.is_finite() {
                return Err(AcousticError::InvalidScale {
                    name,
                    value,
                    reason: "must be finite",
                });
            }
            if positive && value <= 0.0 {
                return Err(AcousticError::InvalidScale {
                    name,
                    value,
                    reason: "must be positive",
                });
            }
            if !positive && value < 0.0 {
                return Err(AcousticError::InvalidScale {
                    name,
                    value,
                    reason: "must not be negative",
                });
            }
        }
        Ok(())
    }
}

/// Who speaks, and in which language: what a synthesis is conditioned on besides the ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditioning {
    /// Speaker id of a multi-speaker voice (`None`: speaker 0, as Piper does); a
    /// single-speaker voice takes `None` only.
    pub speaker: Option<i64>,
    /// Language id of a multilingual voice (`None`: language 0, the manifest's first in
    /// `voice.language_id_map` order of ids); any other voice takes `None` only.
    pub language: Option<i64>,
}

/// What one synthesis call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Inference {
    /// Mono samples in `[-1, 1]` at the voice's sample rate.
    pub samples: Vec<f32>,
    /// Latent frames given to each input id (each frame is `hop_length()` samples).
    pub durations: Vec<i64>,
}

#[derive(Debug)]
struct Model {
    enc_p: TextEncoder,
    dp: Durations,
    flow: Flow,
    dec: Generator,
    emb_g: Option<Embedding>,
    emb_l: Option<Embedding>,
}

/// A loaded VITS voice: every tensor of the bundle checked and in use.
///
/// `Vits` is `Send + Sync`, and concurrent [`infer`](Self::infer) calls run at the same time:
/// libtorch tensors are not `Sync` in tch, so each call takes a replica of the model from a
/// pool, making one when all are busy. Replicas share the weights' storage
/// ([`Replicate`]), so the pool grows only by tensor handles, up to the number of calls that
/// ever ran at once. Each call also uses libtorch's intra-op threads (see
/// [`set_num_threads`](crate::set_num_threads)).
#[derive(Debug)]
pub struct Vits {
    /// The model and its replicas (a [`Synthesis`] holds one until it ends).
    pool: Pool<Model>,
    cfg: CheckedVits,
    sample_rate: u32,
}

impl Vits {
    /// Builds the model from a verified bundle: parses and validates `architecture.config`,
    /// takes every tensor with its exact shape, and refuses a weights file with tensors the
    /// architecture does not use.
    pub fn from_bundle(bundle: &VerifiedBundle) -> Result<Vits, AcousticError> {
        let manifest = bundle.manifest();
        if manifest.architecture.kind != vits::KIND {
            return Err(AcousticError::WrongArchitecture {
                kind: manifest.architecture.kind.clone(),
            });
        }
        let cfg = parse_config(&manifest.architecture.config)?.validate()?;
        let n_speakers = cfg.get().n_speakers as u64;
        if u64::from(manifest.voice.num_speakers) != n_speakers {
            return Err(AcousticError::ConfigMismatch {
                key: "num_speakers",
                manifest: u64::from(manifest.voice.num_speakers),
                config: n_speakers,
            });
        }
        // Every named language must be a row of the language embedding.
        let n_languages = cfg.get().n_languages.unwrap_or(0) as u64;
        if let Some(id) = manifest
            .voice
            .language_id_map
            .values()
            .find(|id| u64::try_from(**id).map_or(true, |v| v >= n_languages))
        {
            return Err(AcousticError::ConfigMismatch {
                key: "language_id_map",
                manifest: u64::try_from(*id).unwrap_or(u64::MAX),
                config: n_languages,
            });
        }
        let weights = Weights::from_bundle(bundle, &cfg.tensors())?;
        let model = tch::no_grad(|| Model::load(&cfg, &weights))?;
        weights.finish()?;
        Ok(Vits {
            pool: Pool::new(model),
            cfg,
            sample_rate: manifest.voice.sample_rate,
        })
    }

    /// The same voice with its decoder at `precision` (see `signet_nn::Precision`; the caller
    /// resolves it against the CPU first). Must be called before the first synthesis.
    pub fn with_precision(self, precision: Effective) -> Result<Vits, AcousticError> {
        if precision == Effective::Fp32 {
            return Ok(self);
        }
        let model = self.pool.into_inner();
        let model = Model {
            dec: model.dec.with_bf16()?,
            ..model
        };
        Ok(Vits {
            pool: Pool::new(model),
            cfg: self.cfg,
            sample_rate: self.sample_rate,
        })
    }

    /// The precision the decoder runs at.
    pub fn precision(&self) -> Effective {
        if self.pool.inspect(|m| m.dec.is_bf16()) {
            Effective::Bf16
        } else {
            Effective::Fp32
        }
    }

    /// The validated architecture config.
    pub fn config(&self) -> &VitsConfig {
        self.cfg.get()
    }

    /// Samples per second of the output.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Speakers of the voice (1 for a single-speaker voice).
    pub fn num_speakers(&self) -> u32 {
        u32::try_from(self.cfg.get().n_speakers).unwrap_or(u32::MAX)
    }

    /// Output samples per latent frame, the unit of the durations: the product of the
    /// decoder's upsampling rates, times the latent upsampling factor of a voice that has one.
    pub fn hop_length(&self) -> usize {
        self.cfg.samples_per_frame()
    }

    /// Synthesizes phoneme `ids` (as the voice's id map yields them, BOS/EOS included).
    ///
    /// `speaker` selects a speaker of a multi-speaker voice (`None`: speaker 0, as Piper does);
    /// a single-speaker voice takes `None` only. Noise comes from libtorch's global generator:
    /// seed it with [`manual_seed`](crate::manual_seed) for repeatable noisy output; with
    /// `noise_scale` and `noise_w` at 0 the output is deterministic. The samples are those of
    /// [`start`](Self::start)'s windows, joined.
    pub fn infer(
        &self,
        ids: &[i64],
        speaker: Option<i64>,
        scales: &Scales,
    ) -> Result<Inference, AcousticError> {
        self.infer_with(
            ids,
            Conditioning {
                speaker,
                language: None,
            },
            scales,
        )
    }

    /// Languages of the voice (1 for a voice without a language embedding).
    pub fn num_languages(&self) -> usize {
        self.cfg.n_languages()
    }

    /// [`infer`](Self::infer) with a speaker and a language.
    pub fn infer_with(
        &self,
        ids: &[i64],
        who: Conditioning,
        scales: &Scales,
    ) -> Result<Inference, AcousticError> {
        let mut synthesis = self.start_with(ids, who, scales)?;
        let mut samples = Vec::with_capacity(synthesis.samples_total());
        for window in synthesis.by_ref() {
            samples.extend(window?);
        }
        Ok(Inference {
            samples,
            durations: std::mem::take(&mut synthesis.prepared.durations),
        })
    }

    /// Starts synthesizing phoneme `ids` (see [`infer`](Self::infer)): runs the text encoder and
    /// the duration predictor, then gives the samples window by window as the flow and the
    /// decoder make them. A sentence of more than one window (about 6 s of audio) starts with
    /// a short window of [`FIRST_WINDOW_FRAMES`], so its first samples come early.
    pub fn start(
        &self,
        ids: &[i64],
        speaker: Option<i64>,
        scales: &Scales,
    ) -> Result<Synthesis, AcousticError> {
        self.start_with(
            ids,
            Conditioning {
                speaker,
                language: None,
            },
            scales,
        )
    }

    /// [`start`](Self::start) with a speaker and a language.
    pub fn start_with(
        &self,
        ids: &[i64],
        who: Conditioning,
        scales: &Scales,
    ) -> Result<Synthesis, AcousticError> {
        let speaker = who.speaker;
        let c = self.cfg.get();
        if ids.is_empty() {
            return Err(AcousticError::EmptyInput);
        }
        if ids.len() > MAX_IDS {
            return Err(AcousticError::TooManyIds {
                len: ids.len(),
                limit: MAX_IDS,
            });
        }
        for (index, &id) in ids.iter().enumerate() {
            if usize::try_from(id).map_or(true, |v| v >= c.n_vocab) {
                return Err(AcousticError::IdOutOfRange {
                    index,
                    id,
                    n_vocab: c.n_vocab,
                });
            }
        }
        let speaker = match (c.n_speakers, speaker) {
            (1, None) => None,
            (1, Some(s)) => return Err(AcousticError::SingleSpeakerVoice { speaker: s }),
            (n, s) => {
                let s = s.unwrap_or(0);
                if usize::try_from(s).map_or(true, |v| v >= n) {
                    return Err(AcousticError::SpeakerOutOfRange {
                        speaker: s,
                        num_speakers: n,
                    });
                }
                Some(s)
            }
        };
        let language = match (c.n_languages, who.language) {
            (None, None) => None,
            (None, Some(l)) => return Err(AcousticError::NotMultilingual { language: l }),
            (Some(n), l) => {
                let l = l.unwrap_or(0);
                if usize::try_from(l).map_or(true, |v| v >= n) {
                    return Err(AcousticError::LanguageOutOfRange {
                        language: l,
                        num_languages: n,
                    });
                }
                Some(l)
            }
        };
        scales.check()?;
        // The replica goes back to the pool when the lease is dropped, on error too.
        let model = self.pool.get();
        let prepared = tch::no_grad(|| model.prepare(ids, speaker, language, scales, &self.cfg))?;
        let windows = model
            .dec
            .plan(prepared.decoder_frames(), Some(FIRST_WINDOW_FRAMES))
            .into_iter();
        Ok(Synthesis {
            hop: self.hop_length(),
            model: Some(model),
            prepared,
            windows,
        })
    }

    /// Replicas of the model made so far: the most calls that ever ran at once.
    pub fn replicas(&self) -> usize {
        self.pool.replicas()
    }
}

/// Parses the manifest's `architecture.config` table strictly (no unknown or missing keys).
fn parse_config(table: &toml::Table) -> Result<VitsConfig, AcousticError> {
    toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| AcousticError::BadConfig {
            reason: e.message().to_owned(),
        })
}

impl Replicate for Model {
    fn replicate(&self) -> Self {
        Model {
            enc_p: self.enc_p.replicate(),
            dp: self.dp.replicate(),
            flow: self.flow.replicate(),
            dec: self.dec.replicate(),
            emb_g: self.emb_g.replicate(),
            emb_l: self.emb_l.replicate(),
        }
    }
}

impl Model {
    fn load(cfg: &CheckedVits, weights: &Weights<'_>) -> Result<Model, AcousticError> {
        let root = weights.root();
        let c = cfg.get();
        let emb_g = if c.n_speakers > 1 {
            Some(Embedding::load(
                &(&root / "emb_g"),
                c.n_speakers,
                c.gin_channels,
            )?)
        } else {
            None
        };
        let emb_l = match (c.n_languages, c.language_channels) {
            (Some(n), Some(l)) => Some(Embedding::load(&(&root / "emb_l"), n, l)?),
            _ => None,
        };
        Ok(Model {
            enc_p: TextEncoder::new(cfg, &(&root / "enc_p"))?,
            dp: Durations::new(cfg, &(&root / "dp"))?,
            flow: Flow::new(cfg, &(&root / "flow"))?,
            dec: Generator::new(cfg.generator().clone(), &(&root / "dec"))?,
            emb_g,
            emb_l,
        })
    }

    /// Everything before the flow: the text encoder, the durations and the prior sample
    /// `z_p`, expanded to frames.
    fn prepare(
        &self,
        ids: &[i64],
        speaker: Option<i64>,
        language: Option<i64>,
        scales: &Scales,
        cfg: &CheckedVits,
    ) -> Result<Prepared, AcousticError> {
        let inter = cfg.get().inter_channels;
        let upsampling = cfg.latent_upsampling();
        // The decoder's frames, latent frames times the upsampling, stay within MAX_FRAMES.
        let max_frames = MAX_FRAMES / upsampling.max(1);
        // Pad the ids (with id 0) to a multiple of ID_BUCKET: the text side then sees a few
        // distinct lengths only, and the padding is masked out exactly as upstream masks it.
        let len = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        let padded_len = (len + ID_BUCKET - 1) / ID_BUCKET * ID_BUCKET;
        let ids_t = Tensor::f_from_slice(ids)?
            .f_constant_pad_nd([0, padded_len - len])?
            .f_view([1, padded_len])?;
        let valid = Some(len);
        let lang = match (&self.emb_l, language) {
            (Some(emb), Some(l)) => {
                Some(emb.forward(&Tensor::f_from_slice(&[l])?)?.f_unsqueeze(-1)?)
            }
            _ => None,
        };
        let enc = self.enc_p.forward_in(&ids_t, lang.as_ref(), valid)?;
        let g = match (&self.emb_g, speaker) {
            (Some(emb), Some(s)) => {
                Some(emb.forward(&Tensor::f_from_slice(&[s])?)?.f_unsqueeze(-1)?)
            }
            _ => None,
        };
        let logw = self
            .dp
            .forward_in(&enc.x, g.as_ref(), lang.as_ref(), scales.noise_w, valid)?
            .f_narrow(2, 0, len)?;
        let w_ceil = logw
            .f_exp()?
            .f_mul_scalar(f64::from(scales.length_scale))?
            .f_ceil()?;
        let w: Vec<f32> = Vec::try_from(&w_ceil.f_reshape([-1])?)?;
        let mut durations = Vec::with_capacity(w.len());
        let mut total: u64 = 0;
        for (index, &d) in w.iter().enumerate() {
            if !d.is_finite() {
                return Err(AcousticError::NonFiniteDuration { index });
            }
            // `ceil(exp(.) * positive)` is never negative; a huge value fails the cap below.
            let frames = d.max(0.0).min(u64::MAX as f32) as u64;
            total = total.saturating_add(frames);
            if total > max_frames as u64 {
                return Err(AcousticError::OutputTooLong {
                    frames: total,
                    limit: max_frames as u64,
                });
            }
            durations.push(i64::try_from(frames).unwrap_or(i64::MAX));
        }
        let inter = i64::try_from(inter).unwrap_or(i64::MAX);
        let (m_p, logs_p) = if total == 0 {
            // Upstream clamps the output to one frame whose path is empty: a zero prior.
            let zeros = Tensor::f_zeros([1, inter, 1], (Kind::Float, Device::Cpu))?;
            (zeros.f_zeros_like()?, zeros)
        } else {
            let repeats = Tensor::f_from_slice(&durations)?;
            let out_len = i64::try_from(total).unwrap_or(i64::MAX);
            (
                enc.m_p
                    .f_narrow(2, 0, len)?
                    .f_repeat_interleave_self_tensor(&repeats, 2, out_len)?,
                enc.logs_p
                    .f_narrow(2, 0, len)?
                    .f_repeat_interleave_self_tensor(&repeats, 2, out_len)?,
            )
        };
        let z_p = if scales.noise_scale == 0.0 {
            m_p
        } else {
            let noise = m_p
                .f_randn_like()?
                .f_mul(&logs_p.f_exp()?)?
                .f_mul_scalar(f64::from(scales.noise_scale))?;
            m_p.f_add(&noise)?
        };
        let frames = z_p.size().get(2).copied().unwrap_or(1);
        Ok(Prepared {
            z_p,
            g,
            frames,
            upsampling: i64::try_from(upsampling).unwrap_or(1).max(1),
            durations,
        })
    }

    /// Runs the flow and the decoder on one window of the plan: the flow on the window's latent
    /// frames and its own context on either side (so the frames the decoder reads are exact),
    /// zero-padded to a multiple of [`BUCKET_FRAMES`] so that oneDNN sees a few lengths only.
    ///
    /// With latent upsampling the window's frames are the decoder's: the flow runs on the
    /// latent frames they interpolate from (and the flow's context), and the stretch is
    /// computed for the window's frames only, exactly as for the whole sequence.
    fn decode_window(&self, p: &Prepared, w: &DecodeWindow) -> Result<Vec<f32>, AcousticError> {
        if p.upsampling == 1 {
            let z = self.flow_window(p, w.latent())?;
            return Ok(self.dec.decode_window(&z, w, p.g.as_ref())?);
        }
        let stretch = Stretch::new(p.upsampling, p.frames, w.latent());
        let z = self.flow_window(p, stretch.source.clone())?;
        let z = stretch.apply(&z)?;
        Ok(self.dec.decode_window(&z, w, p.g.as_ref())?)
    }

    /// The flow (reversed) on latent frames `need`, read with the flow's context on either
    /// side and zero-padded to a multiple of [`BUCKET_FRAMES`]: `[1, inter, >= need.len()]`
    /// starting at `need.start`, exact on `need`.
    fn flow_window(
        &self,
        p: &Prepared,
        need: std::ops::Range<i64>,
    ) -> Result<Tensor, AcousticError> {
        let ctx = i64::try_from(Flow::context_frames()).unwrap_or(i64::MAX / 4);
        let lo = (need.start - ctx).max(0);
        let hi = need.end.saturating_add(ctx).min(p.frames);
        let bucket = i64::try_from(BUCKET_FRAMES).unwrap_or(1);
        let padded = (hi - lo + bucket - 1) / bucket * bucket;
        let z_p = p
            .z_p
            .f_narrow(2, lo, hi - lo)?
            .f_constant_pad_nd([0, padded - (hi - lo)])?;
        // Only a window that reaches the end of the sequence has padding to mask; elsewhere
        // what follows `hi` is at least the flow's context away from the frames kept.
        let valid = (hi == p.frames).then_some(hi - lo);
        let z = self.flow.reverse(&z_p, p.g.as_ref(), valid)?;
        Ok(z.f_narrow(2, need.start - lo, padded - (need.start - lo))?)
    }
}

/// Linear interpolation by a whole factor `f` along time (`align_corners = false`), for a
/// range of output frames: output frame `j` reads latent frames `i0 = floor(s)` and
/// `min(i0 + 1, frames - 1)` with weight `s - i0` on the second, where
/// `s = max((j + 0.5) / f - 0.5, 0)`, as `upsample_linear1d` with `scales = f` computes it.
struct Stretch {
    /// The latent frames the output range reads.
    source: std::ops::Range<i64>,
    /// Per output frame: first and second latent frame, relative to `source.start`, and the
    /// second's weight.
    first: Vec<i64>,
    second: Vec<i64>,
    weight: Vec<f32>,
}

impl Stretch {
    fn new(factor: i64, frames: i64, out: std::ops::Range<i64>) -> Stretch {
        let last = (frames - 1).max(0);
        let scale = 1.0 / factor as f32;
        let at = |j: i64| -> (i64, i64, f32) {
            let s = (scale * (j as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (s as i64).min(last);
            let i1 = (i0 + 1).min(last);
            (i0, i1, s - i0 as f32)
        };
        let lo = at(out.start).0;
        let hi = at((out.end - 1).max(out.start)).1 + 1;
        let n = usize::try_from(out.end - out.start).unwrap_or(0);
        let (mut first, mut second, mut weight) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for j in out {
            let (i0, i1, l) = at(j);
            first.push(i0 - lo);
            second.push(i1 - lo);
            weight.push(l);
        }
        Stretch {
            source: lo..hi,
            first,
            second,
            weight,
        }
    }

    /// The output frames from `z`, `[1, channels, >= source.len()]` starting at
    /// `source.start`.
    fn apply(&self, z: &Tensor) -> Result<Tensor, AcousticError> {
        let first = z.f_index_select(2, &Tensor::f_from_slice(&self.first)?)?;
        let second = z.f_index_select(2, &Tensor::f_from_slice(&self.second)?)?;
        let n = i64::try_from(self.weight.len()).unwrap_or(i64::MAX);
        let weight = Tensor::f_from_slice(&self.weight)?.f_view([1, 1, n])?;
        // first + (second - first) * weight, as libtorch's kernel forms it:
        // first * (1 - weight) + second * weight.
        let one_minus = weight.f_neg()?.f_add_scalar(1.0)?;
        Ok(first.f_mul(&one_minus)?.f_add(&second.f_mul(&weight)?)?)
    }
}

/// A sentence being synthesized ([`Vits::start`]): its durations are known, and each `next()`
/// runs the flow and the decoder on one more window, giving its samples. Joined, the windows
/// are [`Vits::infer`]'s samples. The model replica it holds goes back to the pool when it is
/// dropped, finished or not.
#[derive(Debug)]
pub struct Synthesis {
    hop: usize,
    model: Option<Lease<Model>>,
    prepared: Prepared,
    windows: std::vec::IntoIter<DecodeWindow>,
}

impl Synthesis {
    /// Latent frames given to each input id (each frame is `hop_length()` samples).
    pub fn durations(&self) -> &[i64] {
        &self.prepared.durations
    }

    /// Samples the whole sentence will have.
    pub fn samples_total(&self) -> usize {
        usize::try_from(self.prepared.frames)
            .unwrap_or(0)
            .saturating_mul(self.hop)
    }

    /// Windows still to come.
    pub fn windows_left(&self) -> usize {
        self.windows.len()
    }
}

impl Iterator for Synthesis {
    type Item = Result<Vec<f32>, AcousticError>;

    fn next(&mut self) -> Option<Self::Item> {
        let model = self.model.as_ref()?;
        let Some(w) = self.windows.next() else {
            self.finish();
            return None;
        };
        let out = tch::no_grad(|| model.decode_window(&self.prepared, &w));
        if out.is_err() {
            self.finish();
        }
        Some(out)
    }
}

impl Synthesis {
    /// Gives the replica back and ends the iteration.
    fn finish(&mut self) {
        self.model = None;
        self.windows = Vec::new().into_iter();
    }
}

/// A sentence after the text encoder and the durations, before the flow and the decoder.
#[derive(Debug)]
struct Prepared {
    /// The prior sample `[1, inter, frames]`.
    z_p: Tensor,
    /// The speaker embedding of a multi-speaker voice.
    g: Option<Tensor>,
    frames: i64,
    /// Decoder frames per latent frame (1: none).
    upsampling: i64,
    durations: Vec<i64>,
}

impl Prepared {
    /// Frames the decoder runs on.
    fn decoder_frames(&self) -> i64 {
        self.frames.saturating_mul(self.upsampling)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A small voice's `architecture.config`, as a manifest holds it.
    fn table() -> toml::Table {
        toml::from_str(
            r#"
            n_vocab = 12
            inter_channels = 8
            hidden_channels = 16
            filter_channels = 24
            n_heads = 2
            n_layers = 2
            kernel_size = 3
            resblock = "1"
            resblock_kernel_sizes = [3, 5]
            resblock_dilation_sizes = [[1, 3, 5], [1, 3, 5]]
            upsample_rates = [4, 2]
            upsample_initial_channel = 16
            upsample_kernel_sizes = [8, 4]
            n_speakers = 2
            gin_channels = 8
            use_sdp = true
            "#,
        )
        .unwrap()
    }

    /// The stretch of any range of output frames equals libtorch's `upsample_linear1d` (what
    /// `interpolate(z, scale_factor = f, mode = "linear")` runs) on the whole sequence.
    #[test]
    fn a_stretched_range_equals_libtorchs_linear_upsampling_of_the_whole() {
        for factor in [2i64, 3, 8] {
            for frames in [1i64, 2, 5, 37] {
                let z = Tensor::randn([1, 3, frames], (Kind::Float, Device::Cpu));
                let n = frames * factor;
                let whole = z
                    .upsample_linear1d([n], false, Some(factor as f64))
                    .contiguous();
                let ranges = [0..n, 0..1, n - 1..n, n / 3..n - n / 4, 1..n.max(2)];
                for range in ranges {
                    if range.start >= range.end || range.end > n {
                        continue;
                    }
                    let stretch = Stretch::new(factor, frames, range.clone());
                    assert!(stretch.source.start >= 0 && stretch.source.end <= frames);
                    let z_src = z.narrow(
                        2,
                        stretch.source.start,
                        stretch.source.end - stretch.source.start,
                    );
                    let got = stretch.apply(&z_src).unwrap();
                    let want = whole.narrow(2, range.start, range.end - range.start);
                    let diff = f64::try_from((got - want).abs().max()).unwrap();
                    // Float rounding only (libtorch's vectorized kernel rounds its own way).
                    assert!(
                        diff < 2e-5,
                        "factor {factor}, {frames} frames, range {range:?}: {diff}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_manifest_config_parses_validates_and_round_trips() {
        let cfg = parse_config(&table()).unwrap();
        let checked = cfg.validate().unwrap();
        assert_eq!(checked.generator().hop_length(), 8);
        assert_eq!(toml::Table::try_from(&cfg).unwrap(), table());
    }

    #[test]
    fn unknown_and_mistyped_keys_are_refused() {
        let mut bad = table();
        bad.insert("p_dropout".into(), toml::Value::Float(0.1));
        assert!(matches!(
            parse_config(&bad),
            Err(AcousticError::BadConfig { .. })
        ));
        let mut bad = table();
        bad.insert("n_vocab".into(), toml::Value::Integer(-1));
        assert!(matches!(
            parse_config(&bad),
            Err(AcousticError::BadConfig { .. })
        ));
        let mut bad = table();
        bad.remove("use_sdp");
        assert!(matches!(
            parse_config(&bad),
            Err(AcousticError::BadConfig { .. })
        ));
    }
}
