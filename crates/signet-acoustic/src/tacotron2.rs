//! Tacotron 2: an autoregressive spectrogram model with location-sensitive attention, the first
//! stage of a two-stage voice, as Coqui's `tacotron2-DDC` uses it.
//!
//! Follows Shen et al. (2018), "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram
//! Predictions", as coqui-tts 0.28 implements it (`TTS.tts.models.tacotron2`,
//! `layers/tacotron/{tacotron2,attentions,common_layers}.py`), whose module and tensor names the
//! bundles keep (`embedding`, `encoder.convolutions.<i>`, `encoder.lstm`, `decoder.prenet`,
//! `decoder.attention_rnn`, `decoder.attention`, `decoder.decoder_rnn`,
//! `decoder.linear_projection`, `decoder.stopnet.1`, `postnet.convolutions.<i>`).
//!
//! Inference, batch 1: ids → embedding → 3 × (convolution of width 5, batch norm, ReLU) → a
//! bidirectional LSTM: the encoder states. The decoder starts from an all-zero frame and, per
//! step: prenet (2 × bias-free linear + ReLU, with batch norm for the `bn` type; dropout 0.5 when
//! `prenet_dropout_at_inference`, from a caller-given seed) → attention LSTM cell on the prenet
//! output and the previous context → location-sensitive attention (the query, the encoder states
//! and a convolution over the previous and cumulative alignments, summed, `tanh`, projected to an
//! energy per token; normalized by softmax or Coqui's sigmoid-over-sum) → context → decoder LSTM
//! cell → projection to `r_init` frames, of which the first `r` are kept (Coqui's `set_r`), and
//! the stop token (sigmoid of a linear map of the decoder state and the whole projection). The
//! step's last frame feeds the next step. Decoding ends at the first step after the first whose
//! stop probability exceeds `stop_threshold` (coqui-tts compares the step index with the batch
//! size halved, which is 0 at batch 1). The postnet (5 × convolution of width 5 + batch norm,
//! `tanh` but the last) adds its residual to the frames.
//!
//! **Step cap:** a model whose stop token never fires would decode forever. [`Tacotron2::infer`]
//! runs at most `min(max_decoder_steps, ceil(ids · MAX_FRAMES_PER_ID / r))` steps (and never more
//! than [`MAX_FRAMES`] frames); reaching it without a stop is the error
//! [`AcousticError::DecoderDidNotStop`] rather than coqui-tts's babble up to `max_decoder_steps`.
//!
//! Double decoder consistency trains a second, coarse decoder (`coarse_decoder.*`, at `ddc_r`
//! frames per step) beside the main one; inference never runs it. [`map_tacotron2`] checks its
//! tensors against the shapes that decoder has (so they are recognised, not unknown) and leaves
//! them out of the bundle, listing them in [`CoquiTacotron2::unused`].
//!
//! Coqui hard-codes several sizes (embedding 512, attention LSTM 1024, decoder LSTM 1024, prenet
//! 256, attention 128, 32 location filters of width 31, postnet 512); Signet reads them from the
//! checkpoint's tensors, so a checkpoint built with other sizes maps as well. Options this file
//! does not implement are refused by key: attention types other than `original`, forward
//! attention, the transition agent, attention windowing, the bidirectional decoder, global style
//! tokens, Capacitron, speaker conditioning. Batch norms are folded into the layer before them
//! at load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use signet_checkpoint::{float_params, Param};
use signet_nn::{Conv1d, ConvSpec, Embedding, Path, Weights};
use signet_registry::VerifiedBundle;
use signet_schema::TensorSpec;
use tch::{Kind, Tensor};

use crate::glow_tts::MelOutput;
use crate::{AcousticError, MAX_FRAMES, MAX_IDS};

/// `architecture.kind` of a Tacotron2 bundle.
pub const KIND: &str = "tacotron2";

/// The most mel frames one id may give before the decoder is stopped: several times the
/// slowest speech at Coqui's usual 22.05 kHz with a hop of 256 (about 0.46 s a symbol).
pub const MAX_FRAMES_PER_ID: usize = 40;

/// Batch-norm epsilon (PyTorch's default, which Coqui keeps).
const BN_EPS: f64 = 1e-5;
/// Encoder convolutions and their width (fixed upstream).
const ENCODER_CONVS: usize = 3;
const CONV_KERNEL: usize = 5;
/// Postnet convolutions (fixed upstream).
const POSTNET_CONVS: usize = 5;
/// Prenet layers (fixed upstream).
const PRENET_LAYERS: usize = 2;
/// Prenet dropout probability (fixed upstream).
const PRENET_DROPOUT: f64 = 0.5;

const MAX_CHANNELS: usize = 4096;
const MAX_KERNEL: usize = 63;
const MAX_STEPS: usize = 100_000;

/// Coqui's prenet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrenetType {
    /// Linear + ReLU.
    Original,
    /// Linear + batch norm + ReLU.
    Bn,
}

/// How attention energies become weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionNorm {
    /// Softmax over the tokens.
    Softmax,
    /// Sigmoid of each energy, divided by their sum.
    Sigmoid,
}

/// Tacotron2 hyper-parameters: Coqui's `Tacotron2Config` keys where it has them, and the sizes
/// Coqui hard-codes (read from the checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tacotron2Config {
    /// Symbols in the vocabulary.
    pub num_chars: usize,
    /// Mel bins.
    pub out_channels: usize,
    /// Encoder width: embedding, convolutions, both LSTM directions together
    /// (`encoder_in_features`, which equals `decoder_in_features` without speaker or style
    /// conditioning).
    pub encoder_in_features: usize,
    /// Frames kept per decoder step at inference (Coqui's `r`).
    pub r: usize,
    /// Frames the projection produces per step (the `r` the model was built with).
    pub r_init: usize,
    /// Prenet type.
    pub prenet_type: PrenetType,
    /// Prenet width.
    pub prenet_dim: usize,
    /// Whether the prenet has dropout at all (`prenet_dropout`).
    pub prenet_dropout: bool,
    /// Whether that dropout stays on at inference (`prenet_dropout_at_inference`).
    pub prenet_dropout_at_inference: bool,
    /// Attention LSTM width.
    pub query_dim: usize,
    /// Decoder LSTM width.
    pub decoder_rnn_dim: usize,
    /// Attention width.
    pub attention_dim: usize,
    /// Attention normalization (`attention_norm`).
    pub attention_norm: AttentionNorm,
    /// Whether the attention is location-sensitive (`location_attn`).
    pub location_attn: bool,
    /// Location filters.
    pub location_filters: usize,
    /// Location convolution width (odd).
    pub location_kernel: usize,
    /// Postnet width.
    pub postnet_channels: usize,
    /// Stop probability above which decoding ends.
    pub stop_threshold: f64,
    /// Most decoder steps (`max_decoder_steps`); the input length lowers it per call.
    pub max_decoder_steps: usize,
}

fn invalid(key: &'static str, reason: String) -> AcousticError {
    AcousticError::InvalidConfig {
        architecture: KIND,
        key,
        reason,
    }
}

impl Tacotron2Config {
    /// Checks every value against its range and the values against each other.
    pub fn validate(&self) -> Result<(), AcousticError> {
        let range = |key, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(invalid(key, format!("{v} is outside {lo}..={hi}")))
            } else {
                Ok(())
            }
        };
        range("num_chars", self.num_chars, 1, 1 << 16)?;
        range("out_channels", self.out_channels, 1, 1024)?;
        range(
            "encoder_in_features",
            self.encoder_in_features,
            2,
            MAX_CHANNELS,
        )?;
        range("r", self.r, 1, 16)?;
        range("r_init", self.r_init, 1, 16)?;
        range("prenet_dim", self.prenet_dim, 1, MAX_CHANNELS)?;
        range("query_dim", self.query_dim, 1, MAX_CHANNELS)?;
        range("decoder_rnn_dim", self.decoder_rnn_dim, 1, MAX_CHANNELS)?;
        range("attention_dim", self.attention_dim, 1, MAX_CHANNELS)?;
        range("location_filters", self.location_filters, 1, MAX_CHANNELS)?;
        range("location_kernel", self.location_kernel, 1, MAX_KERNEL)?;
        range("postnet_channels", self.postnet_channels, 1, MAX_CHANNELS)?;
        range("max_decoder_steps", self.max_decoder_steps, 1, MAX_STEPS)?;
        if self.encoder_in_features % 2 != 0 {
            return Err(invalid(
                "encoder_in_features",
                format!(
                    "{} is not even (the LSTM's two directions share it)",
                    self.encoder_in_features
                ),
            ));
        }
        if self.location_kernel % 2 == 0 {
            return Err(invalid(
                "location_kernel",
                format!("{} is not odd", self.location_kernel),
            ));
        }
        if self.r > self.r_init {
            return Err(invalid(
                "r",
                format!(
                    "{} frames a step, but the projection makes {}",
                    self.r, self.r_init
                ),
            ));
        }
        if !(self.stop_threshold.is_finite()
            && self.stop_threshold > 0.0
            && self.stop_threshold < 1.0)
        {
            return Err(invalid(
                "stop_threshold",
                format!("{} is outside (0, 1)", self.stop_threshold),
            ));
        }
        Ok(())
    }

    /// Every tensor a bundle of this configuration holds, with its shape.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut t = Vec::new();
        let mut add = |name: String, shape: Vec<usize>| t.push(TensorSpec { name, shape });
        let e = self.encoder_in_features;
        let c = self.out_channels;
        add("embedding.weight".into(), vec![self.num_chars, e]);
        for i in 0..ENCODER_CONVS {
            conv_bn_spec(
                &mut add,
                &format!("encoder.convolutions.{i}"),
                e,
                e,
                CONV_KERNEL,
            );
        }
        let h = e / 2;
        for suffix in ["l0", "l0_reverse"] {
            add(format!("encoder.lstm.weight_ih_{suffix}"), vec![4 * h, e]);
            add(format!("encoder.lstm.weight_hh_{suffix}"), vec![4 * h, h]);
            add(format!("encoder.lstm.bias_ih_{suffix}"), vec![4 * h]);
            add(format!("encoder.lstm.bias_hh_{suffix}"), vec![4 * h]);
        }
        decoder_spec(&mut add, self, "decoder", self.r_init);
        let p = self.postnet_channels;
        for i in 0..POSTNET_CONVS {
            let cin = if i == 0 { c } else { p };
            let cout = if i + 1 == POSTNET_CONVS { c } else { p };
            conv_bn_spec(
                &mut add,
                &format!("postnet.convolutions.{i}"),
                cin,
                cout,
                CONV_KERNEL,
            );
        }
        t
    }

    /// The most decoder steps for `n` ids: `ceil(n · MAX_FRAMES_PER_ID / r)`, at least 2 (the
    /// first step cannot stop), at most `max_decoder_steps` and [`MAX_FRAMES`] frames.
    pub fn step_cap(&self, n: usize) -> usize {
        let r = self.r.max(1);
        n.saturating_mul(MAX_FRAMES_PER_ID)
            .div_ceil(r)
            .max(2)
            .min(self.max_decoder_steps)
            .min(MAX_FRAMES / r)
    }
}

fn batch_norm_spec(add: &mut dyn FnMut(String, Vec<usize>), at: &str, c: usize) {
    for leaf in ["weight", "bias", "running_mean", "running_var"] {
        add(format!("{at}.{leaf}"), vec![c]);
    }
}

fn conv_bn_spec(add: &mut dyn FnMut(String, Vec<usize>), at: &str, i: usize, o: usize, k: usize) {
    add(format!("{at}.convolution1d.weight"), vec![o, i, k]);
    add(format!("{at}.convolution1d.bias"), vec![o]);
    batch_norm_spec(add, &format!("{at}.batch_normalization"), o);
}

/// The tensors of one decoder under `at`, projecting `r_init` frames a step (the main decoder,
/// or DDC's coarse decoder at `ddc_r`).
fn decoder_spec(
    add: &mut dyn FnMut(String, Vec<usize>),
    cfg: &Tacotron2Config,
    at: &str,
    r_init: usize,
) {
    let (c, e, p) = (cfg.out_channels, cfg.encoder_in_features, cfg.prenet_dim);
    let (q, d, a) = (cfg.query_dim, cfg.decoder_rnn_dim, cfg.attention_dim);
    for l in 0..PRENET_LAYERS {
        let cin = if l == 0 { c } else { p };
        let lp = format!("{at}.prenet.linear_layers.{l}");
        add(format!("{lp}.linear_layer.weight"), vec![p, cin]);
        if cfg.prenet_type == PrenetType::Bn {
            batch_norm_spec(add, &format!("{lp}.batch_normalization"), p);
        }
    }
    let cell = |add: &mut dyn FnMut(String, Vec<usize>), name: &str, i: usize, h: usize| {
        add(format!("{at}.{name}.weight_ih"), vec![4 * h, i]);
        add(format!("{at}.{name}.weight_hh"), vec![4 * h, h]);
        add(format!("{at}.{name}.bias_ih"), vec![4 * h]);
        add(format!("{at}.{name}.bias_hh"), vec![4 * h]);
    };
    cell(add, "attention_rnn", p + e, q);
    add(
        format!("{at}.attention.query_layer.linear_layer.weight"),
        vec![a, q],
    );
    add(
        format!("{at}.attention.inputs_layer.linear_layer.weight"),
        vec![a, e],
    );
    add(format!("{at}.attention.v.linear_layer.weight"), vec![1, a]);
    add(format!("{at}.attention.v.linear_layer.bias"), vec![1]);
    if cfg.location_attn {
        add(
            format!("{at}.attention.location_layer.location_conv1d.weight"),
            vec![cfg.location_filters, 2, cfg.location_kernel],
        );
        add(
            format!("{at}.attention.location_layer.location_dense.linear_layer.weight"),
            vec![a, cfg.location_filters],
        );
    }
    cell(add, "decoder_rnn", q + e, d);
    add(
        format!("{at}.linear_projection.linear_layer.weight"),
        vec![c * r_init, d + e],
    );
    add(
        format!("{at}.linear_projection.linear_layer.bias"),
        vec![c * r_init],
    );
    add(
        format!("{at}.stopnet.1.linear_layer.weight"),
        vec![1, d + c * r_init],
    );
    add(format!("{at}.stopnet.1.linear_layer.bias"), vec![1]);
}

/// A linear layer `y = x Wᵀ + b`.
#[derive(Debug)]
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    fn load(path: &Path<'_, '_>, i: usize, o: usize, bias: bool) -> Result<Self, AcousticError> {
        let p = path / "linear_layer";
        Ok(Linear {
            weight: p.get("weight", &[o, i])?,
            bias: if bias {
                Some(p.get("bias", &[o])?)
            } else {
                None
            },
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, AcousticError> {
        Ok(x.f_linear(&self.weight, self.bias.as_ref())?)
    }
}

/// Batch norm at inference as a per-channel scale and shift.
fn batch_norm(path: &Path<'_, '_>, c: usize) -> Result<(Tensor, Tensor), AcousticError> {
    let gamma = path.get("weight", &[c])?;
    let beta = path.get("bias", &[c])?;
    let mean = path.get("running_mean", &[c])?;
    let var = path.get("running_var", &[c])?;
    let scale = gamma.f_mul(&var.f_add_scalar(BN_EPS)?.f_rsqrt()?)?;
    let shift = beta.f_sub(&mean.f_mul(&scale)?)?;
    Ok((scale, shift))
}

/// Convolution of width 5 followed by batch norm, folded into one convolution.
fn conv_bn(path: &Path<'_, '_>, i: usize, o: usize) -> Result<Conv1d, AcousticError> {
    let conv = path / "convolution1d";
    let w = conv.get("weight", &[o, i, CONV_KERNEL])?;
    let b = conv.get("bias", &[o])?;
    let (scale, shift) = batch_norm(&(path / "batch_normalization"), o)?;
    let w = w.f_mul(&scale.f_view([-1, 1, 1])?)?;
    let b = b.f_mul(&scale)?.f_add(&shift)?;
    Ok(Conv1d::from_parts(
        w,
        Some(b),
        ConvSpec::new(i, o, CONV_KERNEL, CONV_KERNEL / 2),
    )?)
}

#[derive(Debug)]
struct Cell {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

impl Cell {
    fn load(path: &Path<'_, '_>, i: usize, h: usize) -> Result<Self, AcousticError> {
        Ok(Cell {
            w_ih: path.get("weight_ih", &[4 * h, i])?,
            w_hh: path.get("weight_hh", &[4 * h, h])?,
            b_ih: path.get("bias_ih", &[4 * h])?,
            b_hh: path.get("bias_hh", &[4 * h])?,
        })
    }

    fn step(
        &self,
        x: &Tensor,
        state: &(Tensor, Tensor),
    ) -> Result<(Tensor, Tensor), AcousticError> {
        Ok(x.f_lstm_cell(
            &[&state.0, &state.1],
            &self.w_ih,
            &self.w_hh,
            Some(&self.b_ih),
            Some(&self.b_hh),
        )?)
    }
}

#[derive(Debug)]
struct Location {
    conv: Tensor,
    dense: Linear,
    padding: i64,
}

#[derive(Debug)]
struct Decoder {
    /// Prenet layers: weight (batch norm folded) and the shift the batch norm adds.
    prenet: Vec<(Tensor, Option<Tensor>)>,
    attention_rnn: Cell,
    query_layer: Linear,
    inputs_layer: Linear,
    v: Linear,
    location: Option<Location>,
    decoder_rnn: Cell,
    projection: Linear,
    stopnet: Linear,
}

/// A Tacotron2 model with its weights.
#[derive(Debug)]
pub struct Tacotron2 {
    cfg: Tacotron2Config,
    embedding: Embedding,
    encoder_convs: Vec<Conv1d>,
    /// The encoder LSTM's parameters in libtorch's order (forward then reverse; `w_ih`,
    /// `w_hh`, `b_ih`, `b_hh` each).
    lstm: Vec<Tensor>,
    decoder: Decoder,
    postnet: Vec<Conv1d>,
}

signet_nn::replicate_fields!(Linear { weight, bias });
signet_nn::replicate_fields!(Cell {
    w_ih,
    w_hh,
    b_ih,
    b_hh
});
signet_nn::replicate_fields!(Location { conv, dense } clone { padding });
signet_nn::replicate_fields!(Decoder {
    prenet,
    attention_rnn,
    query_layer,
    inputs_layer,
    v,
    location,
    decoder_rnn,
    projection,
    stopnet
});
signet_nn::replicate_fields!(Tacotron2 {
    embedding,
    encoder_convs,
    lstm,
    decoder,
    postnet
} clone { cfg });

impl Tacotron2 {
    /// Builds the model from the tensors under `root` as `cfg` declares them.
    pub fn new(cfg: Tacotron2Config, root: &Path<'_, '_>) -> Result<Self, AcousticError> {
        cfg.validate()?;
        tch::no_grad(|| Self::load(cfg, root))
    }

    fn load(cfg: Tacotron2Config, root: &Path<'_, '_>) -> Result<Self, AcousticError> {
        let e = cfg.encoder_in_features;
        let c = cfg.out_channels;
        let embedding = Embedding::load(&(root / "embedding"), cfg.num_chars, e)?;
        let enc = root / "encoder";
        let mut encoder_convs = Vec::new();
        for i in 0..ENCODER_CONVS {
            encoder_convs.push(conv_bn(&(&enc / "convolutions" / i), e, e)?);
        }
        let lstm_path = &enc / "lstm";
        let h = e / 2;
        let mut lstm = Vec::new();
        for suffix in ["l0", "l0_reverse"] {
            lstm.push(lstm_path.get(&format!("weight_ih_{suffix}"), &[4 * h, e])?);
            lstm.push(lstm_path.get(&format!("weight_hh_{suffix}"), &[4 * h, h])?);
            lstm.push(lstm_path.get(&format!("bias_ih_{suffix}"), &[4 * h])?);
            lstm.push(lstm_path.get(&format!("bias_hh_{suffix}"), &[4 * h])?);
        }
        let dec = root / "decoder";
        let p = cfg.prenet_dim;
        let mut prenet = Vec::new();
        for l in 0..PRENET_LAYERS {
            let cin = if l == 0 { c } else { p };
            let lp = &dec / "prenet" / "linear_layers" / l;
            let w = (&lp / "linear_layer").get("weight", &[p, cin])?;
            prenet.push(match cfg.prenet_type {
                PrenetType::Original => (w, None),
                PrenetType::Bn => {
                    let (scale, shift) = batch_norm(&(&lp / "batch_normalization"), p)?;
                    (w.f_mul(&scale.f_view([-1, 1])?)?, Some(shift))
                }
            });
        }
        let (q, d, a) = (cfg.query_dim, cfg.decoder_rnn_dim, cfg.attention_dim);
        let att = &dec / "attention";
        let location = if cfg.location_attn {
            let lp = &att / "location_layer";
            let k = cfg.location_kernel;
            Some(Location {
                conv: (&lp / "location_conv1d").get("weight", &[cfg.location_filters, 2, k])?,
                dense: Linear::load(&(&lp / "location_dense"), cfg.location_filters, a, false)?,
                padding: i64::try_from(k / 2).unwrap_or(0),
            })
        } else {
            None
        };
        let decoder = Decoder {
            prenet,
            attention_rnn: Cell::load(&(&dec / "attention_rnn"), p + e, q)?,
            query_layer: Linear::load(&(&att / "query_layer"), q, a, false)?,
            inputs_layer: Linear::load(&(&att / "inputs_layer"), e, a, false)?,
            v: Linear::load(&(&att / "v"), a, 1, true)?,
            location,
            decoder_rnn: Cell::load(&(&dec / "decoder_rnn"), q + e, d)?,
            projection: Linear::load(&(&dec / "linear_projection"), d + e, c * cfg.r_init, true)?,
            stopnet: Linear::load(&(&dec / "stopnet" / 1), d + c * cfg.r_init, 1, true)?,
        };
        let pc = cfg.postnet_channels;
        let mut postnet = Vec::new();
        for i in 0..POSTNET_CONVS {
            let cin = if i == 0 { c } else { pc };
            let cout = if i + 1 == POSTNET_CONVS { c } else { pc };
            postnet.push(conv_bn(
                &(root / "postnet" / "convolutions" / i),
                cin,
                cout,
            )?);
        }
        Ok(Tacotron2 {
            cfg,
            embedding,
            encoder_convs,
            lstm,
            decoder,
            postnet,
        })
    }

    /// Builds the model from a verified bundle of kind [`KIND`]: parses `architecture.config`
    /// strictly, takes every tensor with its exact shape, and refuses a weights file with
    /// tensors the model does not use.
    pub fn from_bundle(bundle: &VerifiedBundle) -> Result<Self, AcousticError> {
        let cfg: Tacotron2Config = crate::bundle_config(bundle, KIND)?;
        cfg.validate()?;
        let weights = Weights::from_bundle(bundle, &cfg.tensors())?;
        let model = Tacotron2::new(cfg, &weights.root())?;
        weights.finish()?;
        Ok(model)
    }

    /// The configuration.
    pub fn config(&self) -> &Tacotron2Config {
        &self.cfg
    }

    /// The mel spectrogram for `ids` (after the postnet, in the model's normalization), with
    /// `durations` the frames each id holds the attention's maximum (so they add up to
    /// `frames`). `seed` drives the prenet's dropout when the config keeps it on at inference
    /// (the same seed gives the same output); otherwise it is unused. Refused: no ids, more
    /// than [`MAX_IDS`], an id outside the vocabulary, and a decoder that does not stop within
    /// [`Tacotron2Config::step_cap`] steps ([`AcousticError::DecoderDidNotStop`]).
    pub fn infer(&self, ids: &[i64], seed: u64) -> Result<MelOutput, AcousticError> {
        if ids.is_empty() {
            return Err(AcousticError::EmptyInput);
        }
        if ids.len() > MAX_IDS {
            return Err(AcousticError::TooManyIds {
                len: ids.len(),
                limit: MAX_IDS,
            });
        }
        let n_vocab = self.cfg.num_chars;
        if let Some((index, &id)) = ids
            .iter()
            .enumerate()
            .find(|(_, &id)| usize::try_from(id).map_or(true, |u| u >= n_vocab))
        {
            return Err(AcousticError::IdOutOfRange { id, index, n_vocab });
        }
        tch::no_grad(|| self.run(ids, seed))
    }

    fn encode(&self, ids: &[i64]) -> Result<Tensor, AcousticError> {
        let x = Tensor::from_slice(ids).f_unsqueeze(0)?;
        let mut x = self.embedding.forward(&x)?.f_transpose(1, 2)?;
        for conv in &self.encoder_convs {
            x = conv.forward(&x)?.f_relu()?;
        }
        let x = x.f_transpose(1, 2)?.f_contiguous()?;
        let h = i64::try_from(self.cfg.encoder_in_features / 2).unwrap_or(1);
        let zeros = Tensor::f_zeros([2, 1, h], (Kind::Float, tch::Device::Cpu))?;
        let (out, _, _) = x.f_lstm(
            &[&zeros, &zeros],
            &self.lstm.iter().collect::<Vec<_>>(),
            true,
            1,
            0.0,
            false,
            true,
            true,
        )?;
        Ok(out)
    }

    fn prenet(&self, x: &Tensor, rng: &mut Option<SplitMix>) -> Result<Tensor, AcousticError> {
        let mut x = x.shallow_clone();
        for (w, shift) in &self.decoder.prenet {
            x = x.f_linear(w, shift.as_ref())?.f_relu()?;
            if let Some(rng) = rng.as_mut() {
                let n = x.numel();
                let keep = 1.0 / (1.0 - PRENET_DROPOUT);
                let mask: Vec<f32> = (0..n)
                    .map(|_| {
                        if rng.unit() < PRENET_DROPOUT {
                            0.0
                        } else {
                            keep as f32
                        }
                    })
                    .collect();
                x = x.f_mul(&Tensor::from_slice(&mask).f_view_as(&x)?)?;
            }
        }
        Ok(x)
    }

    fn run(&self, ids: &[i64], seed: u64) -> Result<MelOutput, AcousticError> {
        let cfg = &self.cfg;
        let dec = &self.decoder;
        let opts = (Kind::Float, tch::Device::Cpu);
        let i = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let (c, r) = (i(cfg.out_channels), i(cfg.r));
        let inputs = self.encode(ids)?; // [1, T, E]
        let t_in = i(ids.len());
        let processed = dec.inputs_layer.forward(&inputs)?; // [1, T, A]
        let mut memory = Tensor::f_zeros([1, c], opts)?;
        let mut query = (
            Tensor::f_zeros([1, i(cfg.query_dim)], opts)?,
            Tensor::f_zeros([1, i(cfg.query_dim)], opts)?,
        );
        let mut hidden = (
            Tensor::f_zeros([1, i(cfg.decoder_rnn_dim)], opts)?,
            Tensor::f_zeros([1, i(cfg.decoder_rnn_dim)], opts)?,
        );
        let mut context = Tensor::f_zeros([1, i(cfg.encoder_in_features)], opts)?;
        let mut weights = Tensor::f_zeros([1, t_in], opts)?;
        let mut cumulative = Tensor::f_zeros([1, t_in], opts)?;
        let mut rng =
            (cfg.prenet_dropout && cfg.prenet_dropout_at_inference).then(|| SplitMix::new(seed));
        let cap = cfg.step_cap(ids.len());
        let mut frames = Vec::new();
        let mut focus = Vec::new();
        loop {
            let x = self.prenet(&memory, &mut rng)?;
            query = dec
                .attention_rnn
                .step(&Tensor::f_cat(&[&x, &context], -1)?, &query)?;
            let pq = dec.query_layer.forward(&query.0)?.f_unsqueeze(1)?; // [1, 1, A]
            let mut sum = processed.f_add(&pq)?;
            if let Some(loc) = &dec.location {
                let cat = Tensor::f_stack(&[&weights, &cumulative], 1)?; // [1, 2, T]
                let l = cat.f_conv1d(&loc.conv, None::<&Tensor>, [1], [loc.padding], [1], 1)?;
                sum = sum.f_add(&loc.dense.forward(&l.f_transpose(1, 2)?)?)?;
            }
            let energies = dec.v.forward(&sum.f_tanh()?)?.f_squeeze_dim(-1)?; // [1, T]
            let alignment = match cfg.attention_norm {
                AttentionNorm::Softmax => energies.f_softmax(-1, Kind::Float)?,
                AttentionNorm::Sigmoid => {
                    let s = energies.f_sigmoid()?;
                    let total = s.f_sum_dim_intlist(-1, true, Kind::Float)?;
                    s.f_div(&total)?
                }
            };
            if dec.location.is_some() {
                cumulative = cumulative.f_add(&alignment)?;
            }
            context = alignment.f_unsqueeze(1)?.f_bmm(&inputs)?.f_squeeze_dim(1)?;
            weights = alignment;
            hidden = dec
                .decoder_rnn
                .step(&Tensor::f_cat(&[&query.0, &context], -1)?, &hidden)?;
            let out = dec
                .projection
                .forward(&Tensor::f_cat(&[&hidden.0, &context], -1)?)?;
            let stop = dec
                .stopnet
                .forward(&Tensor::f_cat(&[&hidden.0, &out], -1)?)?
                .f_sigmoid()?;
            let stop = f64::try_from(stop.f_reshape([-1])?.f_sum(Kind::Double)?)?;
            let out = out.f_narrow(1, 0, c * r)?;
            focus.push(i64::try_from(
                weights
                    .f_argmax(-1, false)?
                    .f_reshape([-1])?
                    .f_sum(Kind::Int64)?,
            )?);
            memory = out.f_narrow(1, c * (r - 1), c)?;
            frames.push(out);
            if stop > cfg.stop_threshold && frames.len() > 1 {
                break;
            }
            if frames.len() >= cap {
                return Err(AcousticError::DecoderDidNotStop {
                    steps: cap,
                    ids: ids.len(),
                });
            }
        }
        let steps = i(frames.len());
        // [steps, C·r] → [steps·r, C] → [1, C, frames].
        let mel = Tensor::f_cat(&frames, 0)?
            .f_reshape([steps * r, c])?
            .f_transpose(0, 1)?
            .f_unsqueeze(0)?
            .f_contiguous()?;
        let mut post = mel.shallow_clone();
        let n = self.postnet.len();
        for (k, conv) in self.postnet.iter().enumerate() {
            post = conv.forward(&post)?;
            if k + 1 < n {
                post = post.f_tanh()?;
            }
        }
        let mel = mel.f_add(&post)?;
        let mut durations = vec![0i64; ids.len()];
        for f in focus {
            if let Some(d) = usize::try_from(f).ok().and_then(|f| durations.get_mut(f)) {
                *d += r;
            }
        }
        Ok(MelOutput {
            mel: Vec::<f32>::try_from(mel.f_reshape([-1])?)?,
            frames: usize::try_from(steps * r).unwrap_or(0),
            durations,
        })
    }
}

/// A small seeded generator (SplitMix64) for the prenet's dropout masks: each call draws its
/// own, so concurrent syntheses do not share a stream.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A Coqui Tacotron2 checkpoint as Signet runs it.
#[derive(Debug, Clone)]
pub struct CoquiTacotron2 {
    /// The bundle's `architecture.config`.
    pub config: Tacotron2Config,
    /// Every tensor under the name and shape the model declares, in name order.
    pub tensors: Vec<(String, Param)>,
    /// Tensors of the checkpoint recognised and deliberately left out of the bundle: DDC's
    /// coarse decoder (`coarse_decoder.*`, training only) and the batch norms'
    /// `num_batches_tracked` counters. In name order.
    pub unused: Vec<String>,
}

fn unsupported(key: &str, reason: impl Into<String>) -> AcousticError {
    AcousticError::UnsupportedCoqui {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn get_usize(obj: &Json, key: &str) -> Result<usize, AcousticError> {
    obj.get(key)
        .and_then(Json::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| unsupported(key, "missing or not a non-negative integer"))
}

fn get_bool(obj: &Json, key: &str, default: bool) -> Result<bool, AcousticError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| unsupported(key, "not true/false")),
    }
}

/// Size `axis` of the checkpoint tensor `name`, for the sizes Coqui hard-codes.
fn dim(params: &BTreeMap<String, Param>, name: &str, axis: usize) -> Result<usize, AcousticError> {
    params
        .get(name)
        .and_then(|p| p.shape.get(axis).copied())
        .ok_or_else(|| AcousticError::Mapping {
            tensor: name.to_owned(),
            reason: "is missing from the checkpoint (or has too few dimensions)".into(),
        })
}

/// The configuration from Coqui's Tacotron2 `config.json`, with the sizes Coqui hard-codes
/// taken from the checkpoint's tensors. Returns it with `ddc_r` when DDC is on.
fn parse_config(
    config: &Json,
    params: &BTreeMap<String, Param>,
) -> Result<(Tacotron2Config, Option<usize>), AcousticError> {
    let model = config.get("model").and_then(Json::as_str).unwrap_or("");
    if model != "tacotron2" {
        return Err(unsupported(
            "model",
            format!("{model:?} is not \"tacotron2\""),
        ));
    }
    let attention = config
        .get("attention_type")
        .and_then(Json::as_str)
        .unwrap_or("original");
    if attention != "original" {
        return Err(unsupported(
            "attention_type",
            format!(
                "{attention:?}: Signet runs the \"original\" (location-sensitive) attention only"
            ),
        ));
    }
    for key in [
        "use_forward_attn",
        "transition_agent",
        "attention_win",
        "windowing",
        "bidirectional_decoder",
        "use_gst",
        "use_capacitron_vae",
        "use_speaker_embedding",
        "use_d_vector_file",
    ] {
        if get_bool(config, key, false)? {
            return Err(unsupported(
                key,
                "is true; Signet's Tacotron2 implements none of forward attention, the transition agent, attention windowing, the bidirectional decoder, style tokens, Capacitron or speaker conditioning",
            ));
        }
    }
    let attention_norm = match config
        .get("attention_norm")
        .and_then(Json::as_str)
        .unwrap_or("sigmoid")
    {
        "sigmoid" => AttentionNorm::Sigmoid,
        "softmax" => AttentionNorm::Softmax,
        other => {
            return Err(unsupported(
                "attention_norm",
                format!("{other:?} is neither \"sigmoid\" nor \"softmax\""),
            ))
        }
    };
    let prenet_type = match config
        .get("prenet_type")
        .and_then(Json::as_str)
        .unwrap_or("original")
    {
        "original" => PrenetType::Original,
        "bn" => PrenetType::Bn,
        other => {
            return Err(unsupported(
                "prenet_type",
                format!("{other:?} is neither \"original\" nor \"bn\""),
            ))
        }
    };
    let out_channels = get_usize(config, "out_channels")?;
    // Coqui's decoder takes its frame size from `decoder_output_dim`, the postnet from
    // `out_channels`; a model where they differ cannot run.
    if let Some(d) = config.get("decoder_output_dim").and_then(Json::as_u64) {
        if usize::try_from(d).ok() != Some(out_channels) {
            return Err(unsupported(
                "decoder_output_dim",
                format!("{d} differs from out_channels {out_channels}"),
            ));
        }
    }
    let encoder_in_features = get_usize(config, "encoder_in_features")?;
    let decoder_in_features = get_usize(config, "decoder_in_features")?;
    if decoder_in_features != encoder_in_features {
        return Err(unsupported(
            "decoder_in_features",
            format!("{decoder_in_features} differs from encoder_in_features {encoder_in_features} (conditioning Signet does not implement)"),
        ));
    }
    let location_attn = get_bool(config, "location_attn", true)?;
    let projection = dim(params, "decoder.linear_projection.linear_layer.weight", 0)?;
    if out_channels == 0 || projection % out_channels != 0 {
        return Err(AcousticError::Mapping {
            tensor: "decoder.linear_projection.linear_layer.weight".into(),
            reason: format!("has {projection} outputs, not a multiple of {out_channels} mel bins"),
        });
    }
    let (location_filters, location_kernel) = if location_attn {
        let w = "decoder.attention.location_layer.location_conv1d.weight";
        (dim(params, w, 0)?, dim(params, w, 2)?)
    } else {
        (1, 1)
    };
    let cfg = Tacotron2Config {
        num_chars: dim(params, "embedding.weight", 0)?,
        out_channels,
        encoder_in_features,
        r: get_usize(config, "r")?,
        r_init: projection / out_channels,
        prenet_type,
        prenet_dim: dim(
            params,
            "decoder.prenet.linear_layers.0.linear_layer.weight",
            0,
        )?,
        prenet_dropout: get_bool(config, "prenet_dropout", true)?,
        prenet_dropout_at_inference: get_bool(config, "prenet_dropout_at_inference", false)?,
        query_dim: dim(params, "decoder.attention_rnn.weight_hh", 1)?,
        decoder_rnn_dim: dim(params, "decoder.decoder_rnn.weight_hh", 1)?,
        attention_dim: dim(
            params,
            "decoder.attention.query_layer.linear_layer.weight",
            0,
        )?,
        attention_norm,
        location_attn,
        location_filters,
        location_kernel,
        postnet_channels: dim(params, "postnet.convolutions.0.convolution1d.weight", 0)?,
        stop_threshold: 0.5,
        max_decoder_steps: get_usize(config, "max_decoder_steps")?,
    };
    cfg.validate()?;
    let ddc = if get_bool(config, "double_decoder_consistency", false)? {
        let r = get_usize(config, "ddc_r")?;
        if r == 0 || r > 64 {
            return Err(unsupported("ddc_r", format!("{r} is outside 1..=64")));
        }
        Some(r)
    } else {
        None
    };
    Ok((cfg, ddc))
}

/// Maps a Coqui Tacotron2 checkpoint's state dict and its `config.json` onto [`Tacotron2`]:
/// every tensor checked against what the configuration declares (nothing missing, nothing
/// extra, shapes exact); DDC's coarse decoder checked against its own shapes and left out
/// ([`CoquiTacotron2::unused`]); options Signet does not implement refused by key.
pub fn map_tacotron2(
    state: &[(&str, &signet_checkpoint::Tensor)],
    config: &Json,
) -> Result<CoquiTacotron2, AcousticError> {
    // Batch norms count their training batches in an integer tensor; it plays no part in
    // inference.
    let mut unused = Vec::new();
    let mut floats = Vec::with_capacity(state.len());
    for &(name, tensor) in state {
        if name.ends_with(".batch_normalization.num_batches_tracked")
            && tensor.shape.is_empty()
            && tensor.to_f32().is_none()
        {
            unused.push(name.to_owned());
        } else {
            floats.push((name, tensor));
        }
    }
    let mut params: BTreeMap<String, Param> = float_params(&floats)?;
    let (cfg, ddc_r) = parse_config(config, &params)?;
    let take = |params: &mut BTreeMap<String, Param>, spec: TensorSpec| {
        let p = params
            .remove(&spec.name)
            .ok_or_else(|| AcousticError::Mapping {
                tensor: spec.name.clone(),
                reason: "is missing from the checkpoint".into(),
            })?;
        if p.shape != spec.shape {
            return Err(AcousticError::Mapping {
                tensor: spec.name,
                reason: format!(
                    "has shape {:?} in the checkpoint, the configuration gives {:?}",
                    p.shape, spec.shape
                ),
            });
        }
        Ok((spec.name, p))
    };
    let mut tensors = Vec::new();
    for spec in cfg.tensors() {
        tensors.push(take(&mut params, spec)?);
    }
    if let Some(ddc_r) = ddc_r {
        let mut coarse = Vec::new();
        decoder_spec(
            &mut |name, shape| coarse.push(TensorSpec { name, shape }),
            &cfg,
            "coarse_decoder",
            ddc_r,
        );
        for spec in coarse {
            unused.push(take(&mut params, spec)?.0);
        }
    }
    if let Some(extra) = params.keys().next() {
        return Err(AcousticError::Mapping {
            tensor: extra.clone(),
            reason: "is not a tensor of the configured model".into(),
        });
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    unused.sort();
    Ok(CoquiTacotron2 {
        config: cfg,
        tensors,
        unused,
    })
}
