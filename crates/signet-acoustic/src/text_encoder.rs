//! The text encoder `enc_p`: phoneme embeddings through a Transformer encoder with windowed
//! relative-position self-attention, projected to the prior's mean and log-scale.
//!
//! Follows Kim et al. (2021), "Conditional Variational Autoencoder with Adversarial Learning for
//! End-to-End Text-to-Speech" (VITS), reference implementation jaywalnut310/vits
//! (`models.TextEncoder`, `attentions.Encoder`, `attentions.MultiHeadAttention`, `attentions.FFN`)
//! and Piper's training code, which keeps the same tensor names.
//!
//! A multilingual voice (Coqui's YourTTS) concatenates its language embedding to every phoneme
//! embedding (after the `sqrt(hidden)` scaling, which keeps the phoneme width), so its layers
//! are `hidden + language` channels wide (Coqui TTS's `TextEncoder` with `language_emb_dim`).
//!
//! Inference here is for one unpadded sequence, so every mask upstream applies is all ones and
//! is left out. The relative-position terms are computed on the band of `2 * WINDOW + 1`
//! diagonals they can touch instead of upstream's padded `2L - 1` embeddings: the same sums,
//! without multiplying by the zero padding.

use signet_nn::{zero_tail, Conv1d, ConvSpec, Embedding, LayerNorm, Path, Replicate};
use tch::Tensor;

use signet_schema::vits::WINDOW;
use signet_schema::CheckedVits;

use crate::AcousticError;

/// Score of a padded key (upstream's masked value); its softmax weight is exactly zero.
const MASKED_SCORE: f64 = -1e4;

/// Queries per block of the attention: bounds the score matrix to `heads * BLOCK * L` floats.
const ATTENTION_BLOCK: i64 = 512;

/// Output of the text encoder for one sequence of `L` ids.
#[derive(Debug)]
pub struct Encoded {
    /// Hidden states `[1, hidden (+ language), L]` (input of the duration predictor).
    pub x: Tensor,
    /// Prior mean `[1, inter, L]`.
    pub m_p: Tensor,
    /// Prior log-scale `[1, inter, L]`.
    pub logs_p: Tensor,
}

#[derive(Debug)]
struct Attention {
    /// `conv_q`, `conv_k`, `conv_v` fused into one 1×1 convolution (weights stacked at load).
    qkv: Conv1d,
    conv_o: Conv1d,
    /// `emb_rel_k` `[1, 2W+1, d_k]` transposed to `[d_k, 2W+1]`.
    rel_k_t: Tensor,
    /// `emb_rel_v` `[2W+1, d_k]`.
    rel_v: Tensor,
    hidden: i64,
    heads: i64,
    k_channels: i64,
}

fn i(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Attention {
    fn load(path: &Path<'_, '_>, hidden: usize, heads: usize) -> Result<Self, AcousticError> {
        let k_channels = hidden / heads;
        let spec = ConvSpec::pointwise(hidden, hidden);
        let q = Conv1d::load(&(path / "conv_q"), spec)?;
        let k = Conv1d::load(&(path / "conv_k"), spec)?;
        let v = Conv1d::load(&(path / "conv_v"), spec)?;
        let conv_o = Conv1d::load(&(path / "conv_o"), spec)?;
        let weight = Tensor::f_cat(&[q.weight(), k.weight(), v.weight()], 0)?;
        let bias = match (q.bias(), k.bias(), v.bias()) {
            (Some(a), Some(b), Some(c)) => Some(Tensor::f_cat(&[a, b, c], 0)?),
            _ => None,
        };
        let qkv = Conv1d::from_parts(weight, bias, ConvSpec::pointwise(hidden, 3 * hidden))?;
        let rel = [1, 2 * WINDOW + 1, k_channels];
        let rel_k_t = path
            .get("emb_rel_k", &rel)?
            .f_squeeze_dim(0)?
            .f_transpose(0, 1)?
            .f_contiguous()?;
        let rel_v = path.get("emb_rel_v", &rel)?.f_squeeze_dim(0)?;
        Ok(Attention {
            qkv,
            conv_o,
            rel_k_t,
            rel_v,
            hidden: i(hidden),
            heads: i(heads),
            k_channels: i(k_channels),
        })
    }

    /// Self-attention over `x` `[1, hidden, L]`.
    /// `key_bias` `[1, 1, 1, L]` (0 for real positions, -1e4 for padding) keeps padded keys out
    /// of every softmax, as upstream's attention mask does.
    fn forward(&self, x: &Tensor, key_bias: Option<&Tensor>) -> Result<Tensor, AcousticError> {
        let len = x.size().get(2).copied().unwrap_or(0);
        let (h, dk) = (self.heads, self.k_channels);
        let w = i(WINDOW);
        let band = 2 * w + 1;
        let qkv = self.qkv.forward(x)?;
        let parts = qkv.f_split(self.hidden, 1)?;
        let [q, k, v] = parts.as_slice() else {
            return Err(AcousticError::Nn(signet_nn::NnError::Torch {
                message: "qkv split".into(),
            }));
        };
        // [1, hidden, L] -> [1, heads, L, d_k]
        let heads = |t: &Tensor| -> Result<Tensor, AcousticError> {
            Ok(t.f_view([1, h, dk, len])?.f_transpose(2, 3)?)
        };
        let q = heads(q)?.f_div_scalar((dk as f64).sqrt())?;
        let k = heads(k)?;
        let v = heads(v)?;
        let k_t = k.f_transpose(2, 3)?;
        // Relative keys: logits for the 2W+1 offsets of every query.
        let rel_logits = q.f_matmul(&self.rel_k_t)?; // [1, h, L, 2W+1]

        // Queries in blocks of rows, so the score matrix of a long input stays small.
        let mut blocks = Vec::new();
        let mut r0 = 0i64;
        while r0 < len {
            let b = ATTENTION_BLOCK.min(len - r0);
            let qb = q.f_narrow(2, r0, b)?;
            let scores = qb.f_matmul(&k_t)?; // [1, h, b, L]

            // Place each row's 2W+1 logits on its diagonal: `skewed[i, c]` is the logit of key
            // `r0 + c - W` for query `r0 + i` (zero off the band).
            let skewed = rel_logits
                .f_narrow(2, r0, b)?
                .f_constant_pad_nd([0, b])? // [1, h, b, b + 2W + 1]
                .f_reshape([1, h, b * (b + band)])?
                .f_narrow(2, 0, b * (b + band - 1))?
                .f_view([1, h, b, b + band - 1])?;
            let c_lo = (w - r0).max(0);
            let c_hi = (b + band - 1).min(len - r0 + w);
            let cols = c_hi - c_lo;
            let mut target = scores.f_narrow(3, r0 - w + c_lo, cols)?;
            let _ = target.f_add_(&skewed.f_narrow(3, c_lo, cols)?)?;

            let scores = match key_bias {
                Some(bias) => scores.f_add(bias)?,
                None => scores,
            };
            let p = scores.f_softmax(-1, tch::Kind::Float)?;
            let mut out = p.f_matmul(&v)?; // [1, h, b, d_k]

            // Relative values: each row's 2W+1 attention weights around its diagonal, gathered
            // from the columns `r0 - W .. r0 + b + W` (zero outside the sequence), then mixed
            // with the embeddings.
            let window = p
                .f_narrow(3, r0 - w + c_lo, cols)?
                .f_constant_pad_nd([c_lo, b + band - 1 - c_hi])?; // [1, h, b, b + 2W]
            let banded = window
                .f_reshape([1, h, b * (b + band - 1)])?
                .f_constant_pad_nd([0, b])?
                .f_view([1, h, b, b + band])?
                .f_narrow(3, 0, band)?;
            out = out.f_add_(&banded.f_matmul(&self.rel_v)?)?;
            blocks.push(out);
            r0 += b;
        }
        let out = Tensor::f_cat(&blocks, 2)?;

        let out = out
            .f_transpose(2, 3)?
            .f_contiguous()?
            .f_view([1, self.hidden, len])?;
        Ok(self.conv_o.forward(&out)?)
    }
}

#[derive(Debug)]
struct Ffn {
    conv_1: Conv1d,
    conv_2: Conv1d,
    /// Explicit (left, right) padding when the kernel is even; `None` when the convolutions pad.
    pad: Option<[i64; 2]>,
}

impl Ffn {
    fn load(
        path: &Path<'_, '_>,
        hidden: usize,
        filter: usize,
        kernel: usize,
    ) -> Result<Self, AcousticError> {
        let (left, right) = ((kernel - 1) / 2, kernel / 2);
        let (conv_pad, pad) = if left == right {
            (left, None)
        } else {
            (0, Some([i(left), i(right)]))
        };
        Ok(Ffn {
            conv_1: Conv1d::load(
                &(path / "conv_1"),
                ConvSpec::new(hidden, filter, kernel, conv_pad),
            )?,
            conv_2: Conv1d::load(
                &(path / "conv_2"),
                ConvSpec::new(filter, hidden, kernel, conv_pad),
            )?,
            pad,
        })
    }

    fn padded(&self, x: &Tensor) -> Result<Tensor, AcousticError> {
        Ok(match self.pad {
            Some(p) => x.f_constant_pad_nd(p)?,
            None => x.shallow_clone(),
        })
    }

    fn forward(&self, x: &Tensor, valid: Option<i64>) -> Result<Tensor, AcousticError> {
        let x = zero_tail(x.shallow_clone(), 2, valid)?;
        let y = self.conv_1.forward(&self.padded(&x)?)?.f_relu()?;
        let y = zero_tail(y, 2, valid)?;
        Ok(self.conv_2.forward(&self.padded(&y)?)?)
    }
}

#[derive(Debug)]
struct Layer {
    attn: Attention,
    norm_1: LayerNorm,
    ffn: Ffn,
    norm_2: LayerNorm,
}

/// The text encoder with its weights.
#[derive(Debug)]
pub struct TextEncoder {
    emb: Embedding,
    scale: f64,
    layers: Vec<Layer>,
    proj: Conv1d,
    inter: i64,
}

impl TextEncoder {
    /// Takes the encoder's tensors under `path` (`enc_p`).
    pub fn new(cfg: &CheckedVits, path: &Path<'_, '_>) -> Result<Self, AcousticError> {
        let c = cfg.get();
        let emb = Embedding::load(&(path / "emb"), c.n_vocab, c.hidden_channels)?;
        let hidden = cfg.encoder_channels();
        let enc = path / "encoder";
        let mut layers = Vec::with_capacity(c.n_layers);
        for l in 0..c.n_layers {
            layers.push(Layer {
                attn: Attention::load(&(&enc / "attn_layers" / l), hidden, c.n_heads)?,
                norm_1: LayerNorm::load(&(&enc / "norm_layers_1" / l), hidden)?,
                ffn: Ffn::load(
                    &(&enc / "ffn_layers" / l),
                    hidden,
                    c.filter_channels,
                    c.kernel_size,
                )?,
                norm_2: LayerNorm::load(&(&enc / "norm_layers_2" / l), hidden)?,
            });
        }
        let proj = Conv1d::load(
            &(path / "proj"),
            ConvSpec::pointwise(hidden, 2 * c.inter_channels),
        )?;
        Ok(TextEncoder {
            emb,
            scale: (c.hidden_channels as f64).sqrt(),
            layers,
            proj,
            inter: i(c.inter_channels),
        })
    }

    /// Encodes `ids` `[1, L]` (int64, each checked to be in the vocabulary by the caller).
    ///
    /// With `valid`, ids from `valid` on are padding: the outputs at the real positions are
    /// those of the unpadded sequence (upstream's masks, applied to one padded sequence).
    pub fn forward(&self, ids: &Tensor, valid: Option<i64>) -> Result<Encoded, AcousticError> {
        self.forward_in(ids, None, valid)
    }

    /// [`forward`](Self::forward) in a language: `lang` is the language embedding
    /// `[1, language, 1]` of a multilingual voice, concatenated to every phoneme embedding.
    pub fn forward_in(
        &self,
        ids: &Tensor,
        lang: Option<&Tensor>,
        valid: Option<i64>,
    ) -> Result<Encoded, AcousticError> {
        let len = ids.size().get(1).copied().unwrap_or(0);
        let x = self
            .emb
            .forward(ids)?
            .f_mul_scalar(self.scale)?
            .f_transpose(1, 2)?;
        let x = match lang {
            Some(l) => {
                let width = l.size().get(1).copied().unwrap_or(0);
                Tensor::f_cat(&[x, l.f_expand([1, width, len], false)?], 1)?
            }
            None => x,
        }
        .f_contiguous()?;
        let mut x = zero_tail(x, 2, valid)?;
        let key_bias = match valid {
            Some(n) if n < len => {
                let bias = Tensor::f_zeros([1, 1, 1, len], (tch::Kind::Float, tch::Device::Cpu))?;
                let _ = bias.f_narrow(3, n, len - n)?.f_fill_(MASKED_SCORE)?;
                Some(bias)
            }
            _ => None,
        };
        for layer in &self.layers {
            let y = layer.attn.forward(&x, key_bias.as_ref())?;
            x = layer.norm_1.forward(&x.f_add(&y)?)?;
            let y = layer.ffn.forward(&x, valid)?;
            x = layer.norm_2.forward(&x.f_add(&y)?)?;
        }
        let x = zero_tail(x, 2, valid)?;
        let stats = self.proj.forward(&x)?;
        let m_p = stats.f_narrow(1, 0, self.inter)?;
        let logs_p = stats.f_narrow(1, self.inter, self.inter)?;
        Ok(Encoded { x, m_p, logs_p })
    }
}

impl Replicate for Attention {
    fn replicate(&self) -> Self {
        Attention {
            qkv: self.qkv.replicate(),
            conv_o: self.conv_o.replicate(),
            rel_k_t: self.rel_k_t.replicate(),
            rel_v: self.rel_v.replicate(),
            hidden: self.hidden,
            heads: self.heads,
            k_channels: self.k_channels,
        }
    }
}

impl Replicate for Ffn {
    fn replicate(&self) -> Self {
        Ffn {
            conv_1: self.conv_1.replicate(),
            conv_2: self.conv_2.replicate(),
            pad: self.pad,
        }
    }
}

impl Replicate for Layer {
    fn replicate(&self) -> Self {
        Layer {
            attn: self.attn.replicate(),
            norm_1: self.norm_1.replicate(),
            ffn: self.ffn.replicate(),
            norm_2: self.norm_2.replicate(),
        }
    }
}

impl Replicate for TextEncoder {
    fn replicate(&self) -> Self {
        TextEncoder {
            emb: self.emb.replicate(),
            scale: self.scale,
            layers: self.layers.replicate(),
            proj: self.proj.replicate(),
            inter: self.inter,
        }
    }
}
