//! Glow-TTS: a flow-based spectrogram model, the first stage of a two-stage voice.
//!
//! Follows Kim, Kim, Kong and Yoon (2020), "Glow-TTS: A Generative Flow for Text-to-Speech via
//! Monotonic Alignment Search", as coqui-tts 0.28 implements it (`TTS.tts.models.glow_tts`,
//! `layers/glow_tts/{encoder,transformer,duration_predictor,glow,decoder}.py`), whose module
//! and tensor names the bundles keep (`encoder.prenet`, `encoder.encoder.attn_layers.<i>`,
//! `encoder.duration_predictor`, `decoder.flows.<3b + k>`).
//!
//! Inference, batch 1, so every mask is all ones: ids → embedding × √hidden → prenet (3 conv +
//! layer norm + ReLU blocks, residual 1×1 projection) → transformer (multi-head attention and
//! a convolutional feed-forward net, each followed by a residual layer norm) → `proj_m`, the
//! mean of each token's mel frames; the duration predictor gives `logw`, each token lasts
//! `max(ceil((exp(logw) - 1) · length_scale), 1)` frames, and the means are repeated that many
//! times. With the noise off (Coqui's default `inference_noise_scale` 0) the latent is those
//! means; the decoder runs its flows in reverse on it (squeeze by `num_squeeze`, then per block
//! from the last: affine coupling with a WaveNet, the 1×1 invertible convolution over
//! `num_splits` groups, ActNorm; then unsqueeze). The mel has `num_squeeze ·
//! floor(frames / num_squeeze)` frames, as upstream's squeeze drops the rest.
//!
//! Coqui's options this file does not implement are refused when a checkpoint is mapped
//! ([`map_glow_tts`]): encoders other than `rel_pos_transformer`, a relative-attention window,
//! `input_length`, layer-norm type "2", speaker conditioning.
//!
//! Weight norm is folded at import. Layer norms keep Coqui's `[1, channels, 1]` parameters
//! (`gamma`, `beta`, epsilon 1e-4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use signet_checkpoint::{float_params, Param};
use signet_nn::{Conv1d, ConvSpec, Embedding, Path, Weights};
use signet_registry::VerifiedBundle;
use signet_schema::TensorSpec;
use tch::{Kind, Tensor};

use crate::{AcousticError, MAX_FRAMES, MAX_IDS};

/// `architecture.kind` of a Glow-TTS bundle.
pub const KIND: &str = "glow_tts";

/// Epsilon of Coqui's channel layer norm.
const LN_EPS: f64 = 1e-4;
/// Kernel and depth of the encoder's prenet (fixed upstream).
const PRENET_KERNEL: usize = 5;
const PRENET_LAYERS: usize = 3;
/// Kernel of the duration predictor's convolutions (fixed upstream).
const DP_KERNEL: usize = 3;

const MAX_CHANNELS: usize = 4096;
const MAX_LAYERS: usize = 64;
const MAX_KERNEL: usize = 63;

/// Glow-TTS hyper-parameters (Coqui's `GlowTTSConfig` keys, `encoder_params` flattened with an
/// `encoder_` prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlowTtsConfig {
    /// Symbols in the vocabulary.
    pub num_chars: usize,
    /// Mel bins.
    pub out_channels: usize,
    /// Encoder width.
    pub hidden_channels_enc: usize,
    /// Decoder (WaveNet) width.
    pub hidden_channels_dec: usize,
    /// Duration predictor width.
    pub hidden_channels_dp: usize,
    /// Whether the encoder predicts means only (no `proj_s`).
    pub mean_only: bool,
    /// Whether the encoder has its convolutional prenet.
    pub use_encoder_prenet: bool,
    /// Transformer layers.
    pub encoder_num_layers: usize,
    /// Attention heads.
    pub encoder_num_heads: usize,
    /// Feed-forward width.
    pub encoder_hidden_channels_ffn: usize,
    /// Feed-forward kernel (odd).
    pub encoder_kernel_size: usize,
    /// Flow blocks in the decoder.
    pub num_flow_blocks_dec: usize,
    /// WaveNet layers per coupling.
    pub num_block_layers: usize,
    /// WaveNet kernel (odd).
    pub kernel_size_dec: usize,
    /// WaveNet dilation growth per layer.
    pub dilation_rate: usize,
    /// Groups of the invertible 1×1 convolution (even).
    pub num_splits: usize,
    /// Squeeze factor of the decoder.
    pub num_squeeze: usize,
    /// Whether the coupling scale goes through a sigmoid.
    pub sigmoid_scale: bool,
    /// Default length scale (Coqui's `length_scale`).
    pub length_scale: f64,
}

fn invalid(key: &'static str, reason: String) -> AcousticError {
    AcousticError::InvalidConfig {
        architecture: KIND,
        key,
        reason,
    }
}

impl GlowTtsConfig {
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
            "hidden_channels_enc",
            self.hidden_channels_enc,
            1,
            MAX_CHANNELS,
        )?;
        range(
            "hidden_channels_dec",
            self.hidden_channels_dec,
            2,
            MAX_CHANNELS,
        )?;
        range(
            "hidden_channels_dp",
            self.hidden_channels_dp,
            1,
            MAX_CHANNELS,
        )?;
        range("encoder_num_layers", self.encoder_num_layers, 1, MAX_LAYERS)?;
        range("encoder_num_heads", self.encoder_num_heads, 1, 64)?;
        range(
            "encoder_hidden_channels_ffn",
            self.encoder_hidden_channels_ffn,
            1,
            4 * MAX_CHANNELS,
        )?;
        range(
            "encoder_kernel_size",
            self.encoder_kernel_size,
            1,
            MAX_KERNEL,
        )?;
        range(
            "num_flow_blocks_dec",
            self.num_flow_blocks_dec,
            1,
            MAX_LAYERS,
        )?;
        range("num_block_layers", self.num_block_layers, 1, MAX_LAYERS)?;
        range("kernel_size_dec", self.kernel_size_dec, 1, MAX_KERNEL)?;
        range("dilation_rate", self.dilation_rate, 1, 8)?;
        range("num_splits", self.num_splits, 2, 64)?;
        range("num_squeeze", self.num_squeeze, 1, 8)?;
        if self.hidden_channels_enc % self.encoder_num_heads != 0 {
            return Err(invalid(
                "encoder_num_heads",
                format!(
                    "{} heads do not divide {} channels",
                    self.encoder_num_heads, self.hidden_channels_enc
                ),
            ));
        }
        for (key, k) in [
            ("encoder_kernel_size", self.encoder_kernel_size),
            ("kernel_size_dec", self.kernel_size_dec),
        ] {
            if k % 2 == 0 {
                return Err(invalid(key, format!("{k} is not odd")));
            }
        }
        if self.hidden_channels_dec % 2 != 0 {
            return Err(invalid(
                "hidden_channels_dec",
                format!("{} is not even", self.hidden_channels_dec),
            ));
        }
        let flow = self.flow_channels();
        if self.num_splits % 2 != 0 || flow % self.num_splits != 0 || flow % 2 != 0 {
            return Err(invalid(
                "num_splits",
                format!(
                    "{} must be even and divide the {flow} flow channels (an even number)",
                    self.num_splits
                ),
            ));
        }
        // The widest dilation must stay modest: dilation_rate ^ (layers - 1).
        let widest = (self.kernel_size_dec - 1).saturating_mul(
            self.dilation_rate
                .checked_pow(u32::try_from(self.num_block_layers - 1).unwrap_or(u32::MAX))
                .unwrap_or(usize::MAX),
        );
        if widest > 1 << 16 {
            return Err(invalid(
                "dilation_rate",
                format!("gives a receptive field of {widest} frames"),
            ));
        }
        if !(self.length_scale.is_finite() && self.length_scale > 0.0 && self.length_scale <= 10.0)
        {
            return Err(invalid(
                "length_scale",
                format!("{} is outside (0, 10]", self.length_scale),
            ));
        }
        Ok(())
    }

    /// Channels inside the flows: mel bins × squeeze.
    fn flow_channels(&self) -> usize {
        self.out_channels.saturating_mul(self.num_squeeze)
    }

    /// Every tensor a bundle of this configuration holds, with its shape.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut t = Vec::new();
        let mut add = |name: String, shape: Vec<usize>| t.push(TensorSpec { name, shape });
        let h = self.hidden_channels_enc;
        let conv =
            |add: &mut dyn FnMut(String, Vec<usize>), at: &str, i: usize, o: usize, k: usize| {
                add(format!("{at}.weight"), vec![o, i, k]);
                add(format!("{at}.bias"), vec![o]);
            };
        let norm = |add: &mut dyn FnMut(String, Vec<usize>), at: &str, c: usize| {
            add(format!("{at}.gamma"), vec![1, c, 1]);
            add(format!("{at}.beta"), vec![1, c, 1]);
        };
        add("encoder.emb.weight".into(), vec![self.num_chars, h]);
        if self.use_encoder_prenet {
            for l in 0..PRENET_LAYERS {
                conv(
                    &mut add,
                    &format!("encoder.prenet.conv_layers.{l}"),
                    h,
                    h,
                    PRENET_KERNEL,
                );
                norm(&mut add, &format!("encoder.prenet.norm_layers.{l}"), h);
            }
            conv(&mut add, "encoder.prenet.proj", h, h, 1);
        }
        for l in 0..self.encoder_num_layers {
            let at = format!("encoder.encoder.attn_layers.{l}");
            for c in ["conv_q", "conv_k", "conv_v", "conv_o"] {
                conv(&mut add, &format!("{at}.{c}"), h, h, 1);
            }
            norm(&mut add, &format!("encoder.encoder.norm_layers_1.{l}"), h);
            let at = format!("encoder.encoder.ffn_layers.{l}");
            let f = self.encoder_hidden_channels_ffn;
            conv(
                &mut add,
                &format!("{at}.conv_1"),
                h,
                f,
                self.encoder_kernel_size,
            );
            conv(
                &mut add,
                &format!("{at}.conv_2"),
                f,
                h,
                self.encoder_kernel_size,
            );
            norm(&mut add, &format!("encoder.encoder.norm_layers_2.{l}"), h);
        }
        conv(&mut add, "encoder.proj_m", h, self.out_channels, 1);
        if !self.mean_only {
            conv(&mut add, "encoder.proj_s", h, self.out_channels, 1);
        }
        let dp = self.hidden_channels_dp;
        conv(
            &mut add,
            "encoder.duration_predictor.conv_1",
            h,
            dp,
            DP_KERNEL,
        );
        norm(&mut add, "encoder.duration_predictor.norm_1", dp);
        conv(
            &mut add,
            "encoder.duration_predictor.conv_2",
            dp,
            dp,
            DP_KERNEL,
        );
        norm(&mut add, "encoder.duration_predictor.norm_2", dp);
        conv(&mut add, "encoder.duration_predictor.proj", dp, 1, 1);
        let c = self.flow_channels();
        let hd = self.hidden_channels_dec;
        for b in 0..self.num_flow_blocks_dec {
            let an = format!("decoder.flows.{}", 3 * b);
            add(format!("{an}.logs"), vec![1, c, 1]);
            add(format!("{an}.bias"), vec![1, c, 1]);
            add(
                format!("decoder.flows.{}.weight", 3 * b + 1),
                vec![self.num_splits, self.num_splits],
            );
            let cb = format!("decoder.flows.{}", 3 * b + 2);
            conv(&mut add, &format!("{cb}.start"), c / 2, hd, 1);
            conv(&mut add, &format!("{cb}.end"), hd, c, 1);
            for l in 0..self.num_block_layers {
                conv(
                    &mut add,
                    &format!("{cb}.wn.in_layers.{l}"),
                    hd,
                    2 * hd,
                    self.kernel_size_dec,
                );
                let out = if l + 1 < self.num_block_layers {
                    2 * hd
                } else {
                    hd
                };
                conv(
                    &mut add,
                    &format!("{cb}.wn.res_skip_layers.{l}"),
                    hd,
                    out,
                    1,
                );
            }
        }
        t
    }
}

/// Coqui's channel layer norm (`gamma`, `beta` `[1, C, 1]`, epsilon 1e-4).
#[derive(Debug)]
struct ChannelNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl ChannelNorm {
    fn load(path: &Path<'_, '_>, c: usize) -> Result<Self, AcousticError> {
        Ok(ChannelNorm {
            gamma: path.get("gamma", &[1, c, 1])?,
            beta: path.get("beta", &[1, c, 1])?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, AcousticError> {
        let mean = x.f_mean_dim(1i64, true, Kind::Float)?;
        let centered = x.f_sub(&mean)?;
        let var = centered.f_square()?.f_mean_dim(1i64, true, Kind::Float)?;
        let normed = centered.f_mul(&var.f_add_scalar(LN_EPS)?.f_rsqrt()?)?;
        Ok(normed.f_mul(&self.gamma)?.f_add(&self.beta)?)
    }
}

fn conv(path: &Path<'_, '_>, i: usize, o: usize, k: usize) -> Result<Conv1d, AcousticError> {
    Ok(Conv1d::load(path, ConvSpec::new(i, o, k, k / 2))?)
}

#[derive(Debug)]
struct Prenet {
    convs: Vec<Conv1d>,
    norms: Vec<ChannelNorm>,
    proj: Conv1d,
}

impl Prenet {
    fn forward(&self, x: &Tensor) -> Result<Tensor, AcousticError> {
        let mut h = x.shallow_clone();
        for (c, n) in self.convs.iter().zip(&self.norms) {
            h = n.forward(&c.forward(&h)?)?.f_relu()?;
        }
        Ok(x.f_add(&self.proj.forward(&h)?)?)
    }
}

#[derive(Debug)]
struct EncoderLayer {
    q: Conv1d,
    k: Conv1d,
    v: Conv1d,
    o: Conv1d,
    norm1: ChannelNorm,
    ffn1: Conv1d,
    ffn2: Conv1d,
    norm2: ChannelNorm,
}

#[derive(Debug)]
struct DurationPredictor {
    conv_1: Conv1d,
    norm_1: ChannelNorm,
    conv_2: Conv1d,
    norm_2: ChannelNorm,
    proj: Conv1d,
}

#[derive(Debug)]
struct Coupling {
    start: Conv1d,
    end: Conv1d,
    in_layers: Vec<Conv1d>,
    res_skip: Vec<Conv1d>,
}

#[derive(Debug)]
struct FlowBlock {
    act_logs: Tensor,
    act_bias: Tensor,
    /// Inverse of the invertible convolution's `[splits, splits]` weight, as `[s, s, 1, 1]`.
    inv_weight: Tensor,
    coupling: Coupling,
}

/// A Glow-TTS model with its weights.
#[derive(Debug)]
pub struct GlowTts {
    cfg: GlowTtsConfig,
    emb: Embedding,
    prenet: Option<Prenet>,
    layers: Vec<EncoderLayer>,
    proj_m: Conv1d,
    dp: DurationPredictor,
    flows: Vec<FlowBlock>,
}

signet_nn::replicate_fields!(ChannelNorm { gamma, beta });
signet_nn::replicate_fields!(Prenet { convs, norms, proj });
signet_nn::replicate_fields!(EncoderLayer {
    q,
    k,
    v,
    o,
    norm1,
    ffn1,
    ffn2,
    norm2
});
signet_nn::replicate_fields!(DurationPredictor {
    conv_1,
    norm_1,
    conv_2,
    norm_2,
    proj
});
signet_nn::replicate_fields!(Coupling {
    start,
    end,
    in_layers,
    res_skip
});
signet_nn::replicate_fields!(FlowBlock {
    act_logs,
    act_bias,
    inv_weight,
    coupling
});
signet_nn::replicate_fields!(GlowTts { emb, prenet, layers, proj_m, dp, flows } clone { cfg });

/// What [`GlowTts::infer`] (and [`Tacotron2::infer`](crate::tacotron2::Tacotron2::infer))
/// returns.
#[derive(Debug, Clone)]
pub struct MelOutput {
    /// The mel spectrogram `[out_channels, frames]`, channels first, row-major, in the model's
    /// normalization.
    pub mel: Vec<f32>,
    /// Frames of `mel`.
    pub frames: usize,
    /// Frames each id was given: by Glow-TTS's duration predictor (before the squeeze drops
    /// the last `sum % num_squeeze`), or by Tacotron2's attention (`r` frames a decoder step to
    /// the id holding its maximum, adding up to `frames`).
    pub durations: Vec<i64>,
}

impl GlowTts {
    /// Builds the model from the tensors under `root` as `cfg` declares them.
    pub fn new(cfg: GlowTtsConfig, root: &Path<'_, '_>) -> Result<Self, AcousticError> {
        cfg.validate()?;
        tch::no_grad(|| Self::load(cfg, root))
    }

    fn load(cfg: GlowTtsConfig, root: &Path<'_, '_>) -> Result<Self, AcousticError> {
        let h = cfg.hidden_channels_enc;
        let enc = root / "encoder";
        let emb = Embedding::load(&(&enc / "emb"), cfg.num_chars, h)?;
        let prenet = if cfg.use_encoder_prenet {
            let p = &enc / "prenet";
            let mut convs = Vec::new();
            let mut norms = Vec::new();
            for l in 0..PRENET_LAYERS {
                convs.push(conv(&(&p / "conv_layers" / l), h, h, PRENET_KERNEL)?);
                norms.push(ChannelNorm::load(&(&p / "norm_layers" / l), h)?);
            }
            Some(Prenet {
                convs,
                norms,
                proj: conv(&(&p / "proj"), h, h, 1)?,
            })
        } else {
            None
        };
        let t = &enc / "encoder";
        let mut layers = Vec::new();
        let f = cfg.encoder_hidden_channels_ffn;
        let k = cfg.encoder_kernel_size;
        for l in 0..cfg.encoder_num_layers {
            let a = &t / "attn_layers" / l;
            let ffn = &t / "ffn_layers" / l;
            layers.push(EncoderLayer {
                q: conv(&(&a / "conv_q"), h, h, 1)?,
                k: conv(&(&a / "conv_k"), h, h, 1)?,
                v: conv(&(&a / "conv_v"), h, h, 1)?,
                o: conv(&(&a / "conv_o"), h, h, 1)?,
                norm1: ChannelNorm::load(&(&t / "norm_layers_1" / l), h)?,
                ffn1: conv(&(&ffn / "conv_1"), h, f, k)?,
                ffn2: conv(&(&ffn / "conv_2"), f, h, k)?,
                norm2: ChannelNorm::load(&(&t / "norm_layers_2" / l), h)?,
            });
        }
        let proj_m = conv(&(&enc / "proj_m"), h, cfg.out_channels, 1)?;
        if !cfg.mean_only {
            // The log-scales only scale the noise, which inference leaves off; the tensors are
            // part of the model all the same.
            let _ = conv(&(&enc / "proj_s"), h, cfg.out_channels, 1)?;
        }
        let d = &enc / "duration_predictor";
        let dh = cfg.hidden_channels_dp;
        let dp = DurationPredictor {
            conv_1: conv(&(&d / "conv_1"), h, dh, DP_KERNEL)?,
            norm_1: ChannelNorm::load(&(&d / "norm_1"), dh)?,
            conv_2: conv(&(&d / "conv_2"), dh, dh, DP_KERNEL)?,
            norm_2: ChannelNorm::load(&(&d / "norm_2"), dh)?,
            proj: conv(&(&d / "proj"), dh, 1, 1)?,
        };
        let c = cfg.flow_channels();
        let hd = cfg.hidden_channels_dec;
        let s = cfg.num_splits;
        let flows_path = root / "decoder" / "flows";
        let mut flows = Vec::new();
        for b in 0..cfg.num_flow_blocks_dec {
            let an = &flows_path / (3 * b);
            let w = (&flows_path / (3 * b + 1)).get("weight", &[s, s])?;
            let inv = Tensor::f_linalg_inv(&w)?;
            if !bool::try_from(inv.f_isfinite()?.f_all()?)? {
                return Err(AcousticError::Mapping {
                    tensor: format!("decoder.flows.{}.weight", 3 * b + 1),
                    reason: "is singular, so the flow cannot be inverted".into(),
                });
            }
            let i = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
            let cb = &flows_path / (3 * b + 2);
            let mut in_layers = Vec::new();
            let mut res_skip = Vec::new();
            let kd = cfg.kernel_size_dec;
            for l in 0..cfg.num_block_layers {
                let dil = cfg.dilation_rate.pow(u32::try_from(l).unwrap_or(0));
                in_layers.push(Conv1d::load(
                    &(&cb / "wn" / "in_layers" / l),
                    ConvSpec::new(hd, 2 * hd, kd, (kd * dil - dil) / 2).dilation(dil),
                )?);
                let out = if l + 1 < cfg.num_block_layers {
                    2 * hd
                } else {
                    hd
                };
                res_skip.push(conv(&(&cb / "wn" / "res_skip_layers" / l), hd, out, 1)?);
            }
            flows.push(FlowBlock {
                act_logs: an.get("logs", &[1, c, 1])?,
                act_bias: an.get("bias", &[1, c, 1])?,
                inv_weight: inv.f_reshape([i(s), i(s), 1, 1])?,
                coupling: Coupling {
                    start: conv(&(&cb / "start"), c / 2, hd, 1)?,
                    end: conv(&(&cb / "end"), hd, c, 1)?,
                    in_layers,
                    res_skip,
                },
            });
        }
        Ok(GlowTts {
            cfg,
            emb,
            prenet,
            layers,
            proj_m,
            dp,
            flows,
        })
    }

    /// Builds the model from a verified bundle of kind [`KIND`]: parses `architecture.config`
    /// strictly, takes every tensor with its exact shape, and refuses a weights file with
    /// tensors the model does not use.
    pub fn from_bundle(bundle: &VerifiedBundle) -> Result<Self, AcousticError> {
        let cfg: GlowTtsConfig = crate::bundle_config(bundle, KIND)?;
        cfg.validate()?;
        let weights = Weights::from_bundle(bundle, &cfg.tensors())?;
        let model = GlowTts::new(cfg, &weights.root())?;
        weights.finish()?;
        Ok(model)
    }

    /// The configuration.
    pub fn config(&self) -> &GlowTtsConfig {
        &self.cfg
    }

    /// The mel spectrogram for `ids` with noise off, at `length_scale` (the config's when
    /// `None`). Refused: no ids, more than [`MAX_IDS`], an id outside the vocabulary, a bad
    /// length scale, a non-finite duration, and more than [`MAX_FRAMES`] frames.
    pub fn infer(
        &self,
        ids: &[i64],
        length_scale: Option<f64>,
    ) -> Result<MelOutput, AcousticError> {
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
        let length_scale = length_scale.unwrap_or(self.cfg.length_scale);
        if !(length_scale.is_finite() && length_scale > 0.0 && length_scale <= 10.0) {
            return Err(AcousticError::InvalidScale {
                name: "length_scale",
                value: length_scale as f32,
                reason: "must be a number in (0, 10]",
            });
        }
        tch::no_grad(|| self.run(ids, length_scale))
    }

    fn run(&self, ids: &[i64], length_scale: f64) -> Result<MelOutput, AcousticError> {
        let h = self.cfg.hidden_channels_enc as f64;
        let x = Tensor::from_slice(ids).f_unsqueeze(0)?;
        let mut x = self
            .emb
            .forward(&x)?
            .f_mul_scalar(h.sqrt())?
            .f_transpose(1, 2)?;
        if let Some(p) = &self.prenet {
            x = p.forward(&x)?;
        }
        for layer in &self.layers {
            let y = self.attention(layer, &x)?;
            x = layer.norm1.forward(&x.f_add(&y)?)?;
            let y = layer.ffn2.forward(&layer.ffn1.forward(&x)?.f_relu()?)?;
            x = layer.norm2.forward(&x.f_add(&y)?)?;
        }
        let mean = self.proj_m.forward(&x)?;
        let dp = &self.dp;
        let d = dp.norm_1.forward(&dp.conv_1.forward(&x)?.f_relu()?)?;
        let d = dp.norm_2.forward(&dp.conv_2.forward(&d)?.f_relu()?)?;
        let logw = dp.proj.forward(&d)?;
        let w = logw
            .f_exp()?
            .f_sub_scalar(1.0)?
            .f_mul_scalar(length_scale)?;
        let w: Vec<f32> = Vec::<f32>::try_from(w.f_reshape([-1])?)?;
        let mut durations = Vec::with_capacity(w.len());
        let mut total: u64 = 0;
        for (index, &v) in w.iter().enumerate() {
            if !v.is_finite() {
                return Err(AcousticError::NonFiniteDuration { index });
            }
            let frames = f64::from(v).ceil().max(1.0);
            if frames > MAX_FRAMES as f64 {
                return Err(AcousticError::OutputTooLong {
                    frames: u64::MAX,
                    limit: MAX_FRAMES as u64,
                });
            }
            let frames = frames as i64;
            total += frames.unsigned_abs();
            durations.push(frames);
        }
        if total > MAX_FRAMES as u64 {
            return Err(AcousticError::OutputTooLong {
                frames: total,
                limit: MAX_FRAMES as u64,
            });
        }
        let reps = Tensor::from_slice(&durations);
        // [1, C, T_text] → [1, C, frames]: each token's mean repeated for its frames.
        let z = mean.f_repeat_interleave_self_tensor(&reps, 2, None)?;
        let mel = self.decode(&z)?;
        let frames = usize::try_from(mel.size().get(2).copied().unwrap_or(0)).unwrap_or(0);
        let mel: Vec<f32> = Vec::<f32>::try_from(mel.f_reshape([-1])?)?;
        Ok(MelOutput {
            mel,
            frames,
            durations,
        })
    }

    fn attention(&self, l: &EncoderLayer, x: &Tensor) -> Result<Tensor, AcousticError> {
        let heads = i64::try_from(self.cfg.encoder_num_heads).unwrap_or(1);
        let c = i64::try_from(self.cfg.hidden_channels_enc).unwrap_or(1);
        let dk = c / heads;
        let t = x.size().get(2).copied().unwrap_or(0);
        let split = |y: Tensor| -> Result<Tensor, AcousticError> {
            Ok(y.f_view([1, heads, dk, t])?.f_transpose(2, 3)?)
        };
        let q = split(l.q.forward(x)?)?;
        let k = split(l.k.forward(x)?)?;
        let v = split(l.v.forward(x)?)?;
        let scores = q
            .f_matmul(&k.f_transpose(-2, -1)?)?
            .f_div_scalar((dk as f64).sqrt())?;
        let p = scores.f_softmax(-1, Kind::Float)?;
        let out = p
            .f_matmul(&v)?
            .f_transpose(2, 3)?
            .f_contiguous()?
            .f_view([1, c, t])?;
        Ok(l.o.forward(&out)?)
    }

    /// The decoder's flows in reverse on the latent `z` `[1, C, frames]`.
    fn decode(&self, z: &Tensor) -> Result<Tensor, AcousticError> {
        let sq = i64::try_from(self.cfg.num_squeeze).unwrap_or(1);
        let c = i64::try_from(self.cfg.out_channels).unwrap_or(1);
        let frames = z.size().get(2).copied().unwrap_or(0);
        // Upstream drops the frames past a multiple of the squeeze; a shorter latent would
        // leave nothing, so it is extended by its last frame to one squeezed step.
        let z = if frames < sq {
            let last = z.f_narrow(2, frames - 1, 1)?;
            Tensor::f_cat(
                &[
                    z.shallow_clone(),
                    last.f_expand([1, c, sq - frames], false)?,
                ],
                2,
            )?
        } else {
            z.f_narrow(2, 0, frames / sq * sq)?
        };
        let t = z.size().get(2).copied().unwrap_or(0) / sq;
        let mut x = z
            .f_view([1, c, t, sq])?
            .f_permute([0, 3, 1, 2])?
            .f_contiguous()?
            .f_view([1, c * sq, t])?;
        let cf = c * sq;
        let s = i64::try_from(self.cfg.num_splits).unwrap_or(2);
        for block in self.flows.iter().rev() {
            x = self.coupling_reverse(&block.coupling, &x)?;
            // Invertible 1×1 convolution over groups of channels, inverted.
            let g = x
                .f_view([1, 2, cf / s, s / 2, t])?
                .f_permute([0, 1, 3, 2, 4])?
                .f_contiguous()?
                .f_view([1, s, cf / s, t])?;
            let g = g.f_conv2d(
                &block.inv_weight,
                None::<&Tensor>,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            )?;
            x = g
                .f_view([1, 2, s / 2, cf / s, t])?
                .f_permute([0, 1, 3, 2, 4])?
                .f_contiguous()?
                .f_view([1, cf, t])?;
            // ActNorm, inverted.
            x = x
                .f_sub(&block.act_bias)?
                .f_mul(&block.act_logs.f_neg()?.f_exp()?)?;
        }
        Ok(x.f_view([1, sq, c, t])?
            .f_permute([0, 2, 3, 1])?
            .f_contiguous()?
            .f_view([1, c, t * sq])?)
    }

    fn coupling_reverse(&self, cb: &Coupling, x: &Tensor) -> Result<Tensor, AcousticError> {
        let cf = x.size().get(1).copied().unwrap_or(0);
        let half = cf / 2;
        let x0 = x.f_narrow(1, 0, half)?;
        let x1 = x.f_narrow(1, half, cf - half)?;
        let hd = i64::try_from(self.cfg.hidden_channels_dec).unwrap_or(1);
        let mut h = cb.start.forward(&x0)?;
        let mut output: Option<Tensor> = None;
        let n = cb.in_layers.len();
        for (l, (inl, rs)) in cb.in_layers.iter().zip(&cb.res_skip).enumerate() {
            let xin = inl.forward(&h)?;
            let acts = xin
                .f_narrow(1, 0, hd)?
                .f_tanh()?
                .f_mul(&xin.f_narrow(1, hd, hd)?.f_sigmoid()?)?;
            let r = rs.forward(&acts)?;
            let skip = if l + 1 < n {
                h = h.f_add(&r.f_narrow(1, 0, hd)?)?;
                r.f_narrow(1, hd, hd)?
            } else {
                r
            };
            output = Some(match output {
                Some(o) => o.f_add(&skip)?,
                None => skip,
            });
        }
        let Some(output) = output else {
            return Ok(x.shallow_clone());
        };
        let out = cb.end.forward(&output)?;
        let t = out.f_narrow(1, 0, half)?;
        let mut s = out.f_narrow(1, half, cf - half)?;
        if self.cfg.sigmoid_scale {
            s = s
                .f_add_scalar(2.0)?
                .f_sigmoid()?
                .f_add_scalar(1e-6)?
                .f_log()?;
        }
        let z1 = x1.f_sub(&t)?.f_mul(&s.f_neg()?.f_exp()?)?;
        Ok(Tensor::f_cat(&[x0, z1], 1)?)
    }
}

/// A Coqui Glow-TTS checkpoint as Signet runs it.
#[derive(Debug, Clone)]
pub struct CoquiGlowTts {
    /// The bundle's `architecture.config`.
    pub config: GlowTtsConfig,
    /// Every tensor under the name and shape the model declares, in name order.
    pub tensors: Vec<(String, Param)>,
}

fn unsupported(key: &str, reason: impl Into<String>) -> AcousticError {
    AcousticError::UnsupportedCoqui {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn get_usize(obj: &Json, key: &str, at: &str) -> Result<usize, AcousticError> {
    obj.get(key)
        .and_then(Json::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| unsupported(at, "missing or not a non-negative integer"))
}

fn get_bool(obj: &Json, key: &str) -> Result<bool, AcousticError> {
    obj.get(key)
        .and_then(Json::as_bool)
        .ok_or_else(|| unsupported(key, "missing or not true/false"))
}

/// The configuration from Coqui's Glow-TTS `config.json`.
fn parse_config(config: &Json) -> Result<GlowTtsConfig, AcousticError> {
    let model = config.get("model").and_then(Json::as_str).unwrap_or("");
    if model != "glow_tts" {
        return Err(unsupported(
            "model",
            format!("{model:?} is not \"glow_tts\""),
        ));
    }
    let encoder = config
        .get("encoder_type")
        .and_then(Json::as_str)
        .unwrap_or("");
    if encoder != "rel_pos_transformer" {
        return Err(unsupported(
            "encoder_type",
            format!("{encoder:?}: Signet runs the \"rel_pos_transformer\" encoder only"),
        ));
    }
    for key in ["use_speaker_embedding", "use_d_vector_file"] {
        if config.get(key).and_then(Json::as_bool) == Some(true) {
            return Err(unsupported(key, "multi-speaker Glow-TTS is not supported"));
        }
    }
    for key in ["c_in_channels", "d_vector_dim"] {
        if config.get(key).and_then(Json::as_u64).unwrap_or(0) != 0 {
            return Err(unsupported(key, "speaker conditioning is not supported"));
        }
    }
    let noise = config
        .get("inference_noise_scale")
        .and_then(Json::as_f64)
        .unwrap_or(0.0);
    if noise != 0.0 {
        return Err(unsupported(
            "inference_noise_scale",
            format!("{noise}: Signet runs Glow-TTS with the noise off"),
        ));
    }
    let params = config
        .get("encoder_params")
        .and_then(Json::as_object)
        .ok_or_else(|| unsupported("encoder_params", "missing or not a table"))?;
    for (key, v) in params {
        match key.as_str() {
            "kernel_size" | "num_layers" | "num_heads" | "hidden_channels_ffn" => {}
            // Dropout does nothing at inference.
            "dropout_p" => {}
            "input_length" | "rel_attn_window_size" if v.is_null() => {}
            "layer_norm_type" if v.as_str() == Some("1") => {}
            _ => {
                return Err(unsupported(
                    &format!("encoder_params.{key}"),
                    format!("{v} is an encoder option Signet does not implement"),
                ))
            }
        }
    }
    let ep = &Json::Object(params.clone());
    let cfg = GlowTtsConfig {
        num_chars: get_usize(config, "num_chars", "num_chars")?,
        out_channels: get_usize(config, "out_channels", "out_channels")?,
        hidden_channels_enc: get_usize(config, "hidden_channels_enc", "hidden_channels_enc")?,
        hidden_channels_dec: get_usize(config, "hidden_channels_dec", "hidden_channels_dec")?,
        hidden_channels_dp: get_usize(config, "hidden_channels_dp", "hidden_channels_dp")?,
        mean_only: get_bool(config, "mean_only")?,
        use_encoder_prenet: get_bool(config, "use_encoder_prenet")?,
        encoder_num_layers: get_usize(ep, "num_layers", "encoder_params.num_layers")?,
        encoder_num_heads: get_usize(ep, "num_heads", "encoder_params.num_heads")?,
        encoder_hidden_channels_ffn: get_usize(
            ep,
            "hidden_channels_ffn",
            "encoder_params.hidden_channels_ffn",
        )?,
        encoder_kernel_size: get_usize(ep, "kernel_size", "encoder_params.kernel_size")?,
        num_flow_blocks_dec: get_usize(config, "num_flow_blocks_dec", "num_flow_blocks_dec")?,
        num_block_layers: get_usize(config, "num_block_layers", "num_block_layers")?,
        kernel_size_dec: get_usize(config, "kernel_size_dec", "kernel_size_dec")?,
        dilation_rate: get_usize(config, "dilation_rate", "dilation_rate")?,
        num_splits: get_usize(config, "num_splits", "num_splits")?,
        num_squeeze: get_usize(config, "num_squeeze", "num_squeeze")?,
        sigmoid_scale: get_bool(config, "sigmoid_scale")?,
        length_scale: config
            .get("length_scale")
            .and_then(Json::as_f64)
            .unwrap_or(1.0),
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Maps a Coqui Glow-TTS checkpoint's state dict and its `config.json` onto [`GlowTts`]:
/// weight norm folded, every tensor checked against what the configuration declares (nothing
/// missing, nothing extra, shapes exact), options Signet does not implement refused by key.
pub fn map_glow_tts(
    state: &[(&str, &signet_checkpoint::Tensor)],
    config: &Json,
) -> Result<CoquiGlowTts, AcousticError> {
    let mut cfg = parse_config(config)?;
    let mut params: BTreeMap<String, Param> = float_params(state)?;
    // coqui-tts sizes the embedding from its characters config (symbols, punctuation, pad,
    // blank...), not from `num_chars`; the checkpoint's embedding is the authority, and the
    // text side checks its symbol table against it.
    if let Some(emb) = params.get("encoder.emb.weight") {
        if let [rows, _] = emb.shape.as_slice() {
            cfg.num_chars = *rows;
            cfg.validate()?;
        }
    }
    let mut tensors = Vec::new();
    for spec in cfg.tensors() {
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
        tensors.push((spec.name, p));
    }
    if let Some(extra) = params.keys().next() {
        return Err(AcousticError::Mapping {
            tensor: extra.clone(),
            reason: "is not a tensor of the configured model".into(),
        });
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(CoquiGlowTts {
        config: cfg,
        tensors,
    })
}
