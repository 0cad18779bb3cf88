//! HiFi-GAN generator.
//!
//! Follows Kong, Kim and Bae (2020), "HiFi-GAN: Generative Adversarial Networks for Efficient and
//! High Fidelity Speech Synthesis", as used for the decoder of VITS (Kim, Kong and Son, 2021,
//! "Conditional Variational Autoencoder with Adversarial Learning for End-to-End Text-to-Speech"),
//! reference implementation jaywalnut310/vits (`models.Generator`, `modules.ResBlock1/2`) and
//! Piper's training code, which keeps the same module and tensor names.
//!
//! Data flow: `conv_pre` (kernel 7) → `+ cond(g)` for multi-speaker voices → for each upsampling
//! stage: leaky ReLU (0.1), transposed convolution `ups.i`, then the average of the stage's
//! multi-receptive-field residual blocks → leaky ReLU (0.01, PyTorch's default, as upstream) →
//! `conv_post` (kernel 7; a bias only in the standalone vocoder) → tanh.
//!
//! Weight norm is folded at import: every layer has a plain `weight`. The configuration, its
//! validation and the tensor list are `signet_schema::hifigan`'s; this file builds and runs
//! the layers.

use signet_nn::{
    from_nhwc, leaky_relu, to_nhwc, zero_tail, Conv1d, ConvSpec, ConvTranspose1d, Path, Replicate,
};
use signet_schema::hifigan::{CheckedHifiGan, ResBlockKind, OUTER_KERNEL};
use tch::{Kind, Tensor};

use crate::VocoderError;

/// Negative slope of the leaky ReLUs inside the generator.
const LRELU_SLOPE: f64 = 0.1;
/// Negative slope of the last leaky ReLU (PyTorch's default, as upstream).
const LRELU_SLOPE_POST: f64 = 0.01;
/// Frames each decoding window yields by default; a longer latent is decoded in overlapping
/// windows, each reading [`Generator::context_frames`] more on either side.
pub const DEFAULT_WINDOW_FRAMES: usize = 512;

/// Short latents are zero-padded to a multiple of this many frames, so that only a few
/// distinct shapes ever reach oneDNN.
pub const BUCKET_FRAMES: usize = 32;

/// One-sided reach, in latent frames, of the layers from each point on: entry 0 is the
/// whole generator, entry `i + 1` what follows upsampling stage `i` (its transposed
/// convolution and residual blocks). Each layer's reach is counted in samples at its own
/// rate and scaled to frames.
fn reaches(cfg: &CheckedHifiGan) -> Vec<f64> {
    let resblock = cfg.resblock();
    let cfg = cfg.get();
    let max_block: usize = cfg
        .resblock_kernel_sizes
        .iter()
        .zip(&cfg.resblock_dilation_sizes)
        .map(|(&k, ds)| {
            let dilated: usize = ds.iter().map(|&d| (k - 1) * d / 2).sum();
            match resblock {
                ResBlockKind::One => dilated + ds.len() * (k - 1) / 2,
                ResBlockKind::Two => dilated,
            }
        })
        .max()
        .unwrap_or(0);
    let outer = ((OUTER_KERNEL - 1) / 2) as f64;
    // Per stage: the transposed convolution reads at most ceil(k / u) inputs per output,
    // then the widest residual block.
    let mut stage_reach = Vec::with_capacity(cfg.upsample_rates.len());
    let mut rate = 1.0f64;
    for (&u, &k) in cfg.upsample_rates.iter().zip(&cfg.upsample_kernel_sizes) {
        let up = k.div_ceil(u) as f64 / rate;
        rate *= u as f64;
        stage_reach.push(up + max_block as f64 / rate);
    }
    let post = outer / rate;
    // Suffix sums, from the end.
    let mut out = vec![0.0; stage_reach.len() + 1];
    let mut acc = post;
    for (i, r) in stage_reach.iter().enumerate().rev() {
        if let Some(slot) = out.get_mut(i + 1) {
            *slot = acc;
        }
        acc += r;
    }
    if let Some(first) = out.first_mut() {
        *first = acc + outer;
    }
    out
}

/// Whole frames covering `reach`, with one frame of margin.
fn frames_for(reach: f64) -> usize {
    reach.ceil() as usize + 1
}

#[derive(Debug)]
enum ResBlock {
    One {
        convs1: Vec<Conv1d>,
        convs2: Vec<Conv1d>,
    },
    Two {
        convs: Vec<Conv1d>,
    },
}

fn same(ch: usize, k: usize, d: usize) -> ConvSpec {
    ConvSpec::new(ch, ch, k, (k - 1) * d / 2).dilation(d)
}

impl ResBlock {
    fn load(
        path: &Path<'_, '_>,
        kind: ResBlockKind,
        ch: usize,
        k: usize,
        ds: &[usize],
    ) -> Result<Self, VocoderError> {
        Ok(match kind {
            ResBlockKind::One => {
                let mut convs1 = Vec::with_capacity(ds.len());
                let mut convs2 = Vec::with_capacity(ds.len());
                for (j, &d) in ds.iter().enumerate() {
                    convs1.push(Conv1d::load(&(path / "convs1" / j), same(ch, k, d))?);
                    convs2.push(Conv1d::load(&(path / "convs2" / j), same(ch, k, 1))?);
                }
                ResBlock::One { convs1, convs2 }
            }
            ResBlockKind::Two => {
                let mut convs = Vec::with_capacity(ds.len());
                for (j, &d) in ds.iter().enumerate() {
                    convs.push(Conv1d::load(&(path / "convs" / j), same(ch, k, d))?);
                }
                ResBlock::Two { convs }
            }
        })
    }

    /// Runs the block on `x`; `lx` is `leaky_relu(x, 0.1)` with its tail zeroed, computed
    /// once per stage because every block of the stage starts from it. `tail` is where the
    /// padding of the window starts, in samples (see [`Tail`]).
    fn forward(&self, x: &Tensor, lx: &Tensor, tail: Tail) -> Result<Tensor, VocoderError> {
        let mut x = x.shallow_clone();
        let mut first = true;
        let mut activated = |x: &Tensor| -> Result<Tensor, VocoderError> {
            if std::mem::take(&mut first) {
                Ok(lx.shallow_clone())
            } else {
                tail.zero(leaky_relu(x, LRELU_SLOPE)?)
            }
        };
        match self {
            ResBlock::One { convs1, convs2 } => {
                for (c1, c2) in convs1.iter().zip(convs2) {
                    let xt = c1.forward_nhwc(&activated(&x)?)?;
                    let mut xt = c2.forward_nhwc(&tail.zero(leaky_relu(&xt, LRELU_SLOPE)?)?)?;
                    x = xt.f_add_(&x)?;
                }
            }
            ResBlock::Two { convs } => {
                for c in convs {
                    let mut xt = c.forward_nhwc(&activated(&x)?)?;
                    x = xt.f_add_(&x)?;
                }
            }
        }
        Ok(x)
    }
}

/// Where the zero padding of a window starts, in samples at the current rate (`None`: the
/// window holds no padding). Zeroing a convolution's input from there on gives, on the valid
/// samples, exactly what the convolution's own zero padding gives at the end of the sequence.
#[derive(Debug, Clone, Copy)]
struct Tail(Option<i64>);

impl Tail {
    fn zero(self, t: Tensor) -> Result<Tensor, VocoderError> {
        if let Some(from) = self.0 {
            let len = t.size().get(3).copied().unwrap_or(0);
            if from < len {
                let _ = t.f_narrow(3, from, len - from)?.f_zero_()?;
            }
        }
        Ok(t)
    }

    fn scaled(self, rate: i64) -> Tail {
        Tail(self.0.map(|v| v * rate))
    }
}

/// The HiFi-GAN generator with its weights.
#[derive(Debug)]
pub struct Generator {
    cfg: CheckedHifiGan,
    conv_pre: Conv1d,
    cond: Option<Conv1d>,
    ups: Vec<ConvTranspose1d>,
    /// Residual blocks, one list per upsampling stage.
    resblocks: Vec<Vec<ResBlock>>,
    conv_post: Conv1d,
    window_frames: usize,
    /// Frames of context needed on each side before the generator and after each stage.
    margins: Vec<i64>,
    /// Whether the upsampling stages run in bfloat16 (see [`Generator::with_bf16`]).
    bf16: bool,
}

impl Generator {
    /// Takes every generator tensor under `path` (e.g. `root / "dec"`) as the checked `cfg`
    /// declares it.
    pub fn new(cfg: CheckedHifiGan, path: &Path<'_, '_>) -> Result<Self, VocoderError> {
        let resblock = cfg.resblock();
        let c = cfg.get();
        let init = c.upsample_initial_channel;
        let conv_pre = Conv1d::load(
            &(path / "conv_pre"),
            ConvSpec::new(c.in_channels, init, OUTER_KERNEL, OUTER_KERNEL / 2),
        )?;
        let cond = if c.gin_channels > 0 {
            Some(Conv1d::load(
                &(path / "cond"),
                ConvSpec::pointwise(c.gin_channels, init),
            )?)
        } else {
            None
        };
        let mut ups = Vec::with_capacity(c.upsample_rates.len());
        let mut resblocks = Vec::with_capacity(c.upsample_rates.len());
        let mut ch = init;
        let n_kernels = c.resblock_kernel_sizes.len();
        for (i, (&u, &k)) in c
            .upsample_rates
            .iter()
            .zip(&c.upsample_kernel_sizes)
            .enumerate()
        {
            let out = ch / 2;
            let spec = ConvSpec::new(ch, out, k, (k - u) / 2).stride(u);
            ups.push(ConvTranspose1d::load(&(path / "ups" / i), spec)?);
            ch = out;
            let mut stage = Vec::with_capacity(n_kernels);
            for (j, (&rk, ds)) in c
                .resblock_kernel_sizes
                .iter()
                .zip(&c.resblock_dilation_sizes)
                .enumerate()
            {
                let index = i * n_kernels + j;
                stage.push(ResBlock::load(
                    &(path / "resblocks" / index),
                    resblock,
                    ch,
                    rk,
                    ds,
                )?);
            }
            resblocks.push(stage);
        }
        let post = ConvSpec::new(ch, 1, OUTER_KERNEL, OUTER_KERNEL / 2);
        let post = if c.conv_post_bias {
            post
        } else {
            post.no_bias()
        };
        let conv_post = Conv1d::load(&(path / "conv_post"), post)?;
        let margins = reaches(&cfg)
            .into_iter()
            .map(|r| i64::try_from(frames_for(r)).unwrap_or(i64::MAX))
            .collect();
        Ok(Generator {
            cfg,
            conv_pre,
            cond,
            ups,
            resblocks,
            conv_post,
            window_frames: DEFAULT_WINDOW_FRAMES,
            margins,
            bf16: false,
        })
    }

    /// The same generator with its upsampling stages (transposed convolutions and residual
    /// blocks, nearly all of its arithmetic) in bfloat16; `conv_pre`, the speaker
    /// conditioning and `conv_post` stay fp32, and activations are converted at the stages'
    /// edges. Fast only on CPUs with native bf16 (see `signet_nn::Precision`); the samples
    /// differ from fp32 by bf16's rounding.
    pub fn with_bf16(mut self) -> Result<Self, VocoderError> {
        if self.bf16 {
            return Ok(self);
        }
        let half = Kind::BFloat16;
        self.ups = self
            .ups
            .iter()
            .map(|u| u.to_kind(half))
            .collect::<Result<_, _>>()?;
        self.resblocks = self
            .resblocks
            .iter()
            .map(|stage| stage.iter().map(|b| b.to_kind(half)).collect())
            .collect::<Result<_, VocoderError>>()?;
        self.bf16 = true;
        Ok(self)
    }

    /// Whether the upsampling stages run in bfloat16.
    pub fn is_bf16(&self) -> bool {
        self.bf16
    }

    /// The configuration.
    pub fn config(&self) -> &CheckedHifiGan {
        &self.cfg
    }

    /// Output samples per latent frame.
    pub fn hop_length(&self) -> usize {
        self.cfg.hop_length()
    }

    /// Sets how many frames each decoding window yields (at least 1); the default is
    /// [`DEFAULT_WINDOW_FRAMES`]. Smaller windows use less memory and recompute more overlap.
    pub fn set_window_frames(&mut self, frames: usize) {
        self.window_frames = frames.max(1);
    }

    /// Latent frames on each side of a frame that can influence its samples (an upper bound):
    /// the overlap each window reads on either side.
    pub fn context_frames(&self) -> usize {
        self.margins
            .first()
            .and_then(|&m| usize::try_from(m).ok())
            .unwrap_or(0)
    }

    /// Runs the generator on `z` `[1, in_channels, frames]` in one pass: `[1, 1, frames * hop]`.
    /// `g` is the speaker embedding `[1, gin_channels, 1]` of a multi-speaker voice.
    pub fn forward(&self, z: &Tensor, g: Option<&Tensor>) -> Result<Tensor, VocoderError> {
        let frames = z.size().get(2).copied().unwrap_or(0);
        self.forward_window(
            z,
            g,
            Window {
                valid: frames,
                start: 0,
                end: frames,
                crop: None,
            },
        )
    }

    /// Runs the generator on `z`, a window of the latent, and returns the samples of frames
    /// `w.start..w.end` of that window; see [`Window`].
    fn forward_window(
        &self,
        z: &Tensor,
        g: Option<&Tensor>,
        w: Window,
    ) -> Result<Tensor, VocoderError> {
        let frames = z.size().get(2).copied().unwrap_or(0);
        let tail = Tail((w.valid < frames).then_some(w.valid));
        let mut x = self.conv_pre.forward(z)?;
        if let (Some(cond), Some(g)) = (&self.cond, g) {
            x = x.f_add_(&cond.forward(g)?)?;
        }
        let n_kernels = self.cfg.get().resblock_kernel_sizes.len() as f64;
        // The upsampling stages run in the channels-last 2-D layout (see signet_nn::to_nhwc).
        let mut x = to_nhwc(&x)?;
        if self.bf16 {
            x = x.f_to_kind(Kind::BFloat16)?;
        }
        // The frames `x` covers, relative to the window, and its samples per frame.
        let (mut lo, mut len) = (0i64, frames);
        let mut rate = 1i64;
        let stages = self
            .ups
            .iter()
            .zip(&self.resblocks)
            .zip(&self.cfg.get().upsample_rates);
        for (i, ((up, stage), &u)) in stages.enumerate() {
            x = up.forward_nhwc(&tail.scaled(rate).zero(leaky_relu(&x, LRELU_SLOPE)?)?)?;
            rate *= i64::try_from(u).unwrap_or(1);
            let lx = tail.scaled(rate).zero(leaky_relu(&x, LRELU_SLOPE)?)?;
            let mut xs: Option<Tensor> = None;
            for block in stage {
                let y = block.forward(&x, &lx, tail.scaled(rate))?;
                xs = Some(match xs {
                    None => y,
                    Some(mut acc) => acc.f_add_(&y)?,
                });
            }
            x = match xs {
                Some(mut acc) => acc.f_div_scalar_(n_kernels)?,
                None => x,
            };
            if let Some(step) = w.crop {
                // Keep a fixed-size span around the target: the context the rest still needs.
                let margin = self.margins.get(i + 1).copied().unwrap_or(0);
                let new_len = len.min(step + 2 * margin);
                let shift = (w.start - margin - lo).clamp(0, len - new_len);
                if new_len < len {
                    x = x.f_narrow(3, shift * rate, new_len * rate)?;
                    (lo, len) = (lo + shift, new_len);
                }
            }
        }
        if self.bf16 {
            x = x.f_to_kind(Kind::Float)?;
        }
        let x = tail.scaled(rate).zero(leaky_relu(&x, LRELU_SLOPE_POST)?)?;
        let x = self.conv_post.forward_nhwc(&x)?;
        let x = x.f_narrow(3, (w.start - lo) * rate, (w.end - w.start) * rate)?;
        Ok(from_nhwc(&x.f_tanh()?)?)
    }

    /// Decodes `z` `[1, in_channels, frames]` to samples. Returns exactly
    /// `frames * hop_length()` samples.
    ///
    /// Every call runs on windows of a few fixed sizes, so oneDNN reuses its compiled
    /// convolutions instead of building new ones for each input length (which costs more than
    /// the synthesis of a sentence): a latent of up to one window is zero-padded to a multiple
    /// of [`BUCKET_FRAMES`], with each convolution's input zeroed past the end; a longer one is
    /// decoded in overlapping windows of one size, each cropped after every stage to a fixed
    /// span around its target frames.
    pub fn decode(&self, z: &Tensor, g: Option<&Tensor>) -> Result<Vec<f32>, VocoderError> {
        let frames = z.size().get(2).copied().unwrap_or(0);
        self.decode_prefix(z, frames, g)
    }

    /// Decodes the first `valid` frames of `z` `[1, in_channels, frames >= valid]`; what the
    /// frames after them hold does not matter. Callers that pad their own sequences to a
    /// multiple of [`BUCKET_FRAMES`] save a copy here. The same as decoding each window of
    /// [`plan`](Self::plan)`(valid, None)` in turn and joining the samples.
    pub fn decode_prefix(
        &self,
        z: &Tensor,
        valid: i64,
        g: Option<&Tensor>,
    ) -> Result<Vec<f32>, VocoderError> {
        let size = z.size();
        let frames = match size.as_slice() {
            [1, c, t]
                if usize::try_from(*c).ok() == Some(self.cfg.get().in_channels)
                    && valid >= 1
                    && *t >= valid =>
            {
                valid
            }
            _ => {
                return Err(VocoderError::BadLatent {
                    channels: self.cfg.get().in_channels,
                    found: size,
                })
            }
        };
        let hop = i64::try_from(self.hop_length()).unwrap_or(i64::MAX);
        let mut out = Vec::with_capacity(usize::try_from(frames.saturating_mul(hop)).unwrap_or(0));
        let available = size.get(2).copied().unwrap_or(0);
        for w in self.plan(frames, None) {
            let piece = z.f_narrow(2, w.lo, w.padded.min(available - w.lo))?;
            out.extend(self.decode_window(&piece, &w, g)?);
        }
        Ok(out)
    }

    /// The windows that decode a latent of `frames` frames (at least 1), in order. A latent of
    /// up to one window is one window, zero-padded to a multiple of [`BUCKET_FRAMES`]; a longer
    /// one is cut into windows that each yield [`set_window_frames`](Self::set_window_frames)
    /// frames (the first only `first` frames, when given: less to compute before the first
    /// samples) and read [`context_frames`](Self::context_frames) more on either side. Windows
    /// come in at most two sizes, so oneDNN reuses its compiled convolutions.
    pub fn plan(&self, frames: i64, first: Option<usize>) -> Vec<DecodeWindow> {
        let frames = frames.max(1);
        let step = i64::try_from(self.window_frames).unwrap_or(i64::MAX / 4);
        let ctx = self.margins.first().copied().unwrap_or(0);
        let window = step + 2 * ctx;
        if frames <= window {
            let bucket = i64::try_from(BUCKET_FRAMES).unwrap_or(1);
            let padded = ((frames + bucket - 1) / bucket * bucket)
                .min(window)
                .max(frames);
            return vec![DecodeWindow {
                lo: 0,
                read: frames,
                padded,
                w: Window {
                    valid: frames,
                    start: 0,
                    end: frames,
                    crop: None,
                },
            }];
        }
        let first = first
            .and_then(|f| i64::try_from(f).ok())
            .map_or(step, |f| f.clamp(1, step));
        let mut out = Vec::new();
        let mut start = 0i64;
        while start < frames {
            let this = if start == 0 { first } else { step };
            let size = (this + 2 * ctx).min(frames);
            let end = (start + this).min(frames);
            let lo = (start - ctx).clamp(0, frames - size);
            out.push(DecodeWindow {
                lo,
                read: size,
                padded: size,
                w: Window {
                    valid: size,
                    start: start - lo,
                    end: end - lo,
                    crop: Some(this),
                },
            });
            start = end;
        }
        out
    }

    /// Decodes one window of a [`plan`](Self::plan): `z` `[1, in_channels, n]` holds the latent
    /// from frame [`DecodeWindow::latent`]`.start` on, at least as far as that range's end
    /// (frames after it are ignored). Returns the samples of [`DecodeWindow::frames`].
    pub fn decode_window(
        &self,
        z: &Tensor,
        w: &DecodeWindow,
        g: Option<&Tensor>,
    ) -> Result<Vec<f32>, VocoderError> {
        let size = z.size();
        match size.as_slice() {
            [1, c, t]
                if usize::try_from(*c).ok() == Some(self.cfg.get().in_channels) && *t >= w.read => {
            }
            _ => {
                return Err(VocoderError::BadLatent {
                    channels: self.cfg.get().in_channels,
                    found: size,
                })
            }
        }
        let available = size.get(2).copied().unwrap_or(0);
        let piece = if w.padded == w.read {
            z.f_narrow(2, 0, w.read)?
        } else if available >= w.padded {
            // The padding frames must be zero for the first convolution.
            zero_tail(z.f_narrow(2, 0, w.padded)?.f_contiguous()?, 2, Some(w.read))?
        } else {
            z.f_narrow(2, 0, w.read)?
                .f_constant_pad_nd([0, w.padded - w.read])?
        };
        to_vec(&self.forward_window(&piece, g, w.w)?)
    }
}

/// One window of a decoding [`plan`](Generator::plan): the latent frames it reads and those
/// whose samples it yields.
#[derive(Debug, Clone, Copy)]
pub struct DecodeWindow {
    /// First latent frame read.
    lo: i64,
    /// Latent frames read from `lo` on.
    read: i64,
    /// Frames the window runs on (`read` plus zero padding).
    padded: i64,
    w: Window,
}

impl DecodeWindow {
    /// The latent frames the window reads.
    pub fn latent(&self) -> std::ops::Range<i64> {
        self.lo..self.lo + self.read
    }

    /// The latent frames whose samples the window yields.
    pub fn frames(&self) -> std::ops::Range<i64> {
        self.lo + self.w.start..self.lo + self.w.end
    }
}

/// What [`Generator::forward_window`] computes: the window's first `valid` frames are latent,
/// the rest zero padding; samples of frames `start..end` come back. With `crop: Some(step)`
/// (`end - start <= step`), activations are cropped after each stage to `step` frames plus
/// the remaining layers' context on each side.
#[derive(Debug, Clone, Copy)]
struct Window {
    valid: i64,
    start: i64,
    end: i64,
    crop: Option<i64>,
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>, VocoderError> {
    let flat = t.f_contiguous()?.f_reshape([-1])?;
    Ok(Vec::<f32>::try_from(&flat)?)
}

impl ResBlock {
    fn to_kind(&self, kind: Kind) -> Result<Self, VocoderError> {
        let all = |v: &[Conv1d]| -> Result<Vec<Conv1d>, VocoderError> {
            Ok(v.iter()
                .map(|c| c.to_kind(kind))
                .collect::<Result<_, _>>()?)
        };
        Ok(match self {
            ResBlock::One { convs1, convs2 } => ResBlock::One {
                convs1: all(convs1)?,
                convs2: all(convs2)?,
            },
            ResBlock::Two { convs } => ResBlock::Two { convs: all(convs)? },
        })
    }
}

impl Replicate for ResBlock {
    fn replicate(&self) -> Self {
        match self {
            ResBlock::One { convs1, convs2 } => ResBlock::One {
                convs1: convs1.replicate(),
                convs2: convs2.replicate(),
            },
            ResBlock::Two { convs } => ResBlock::Two {
                convs: convs.replicate(),
            },
        }
    }
}

impl Replicate for Generator {
    fn replicate(&self) -> Self {
        Generator {
            cfg: self.cfg.clone(),
            conv_pre: self.conv_pre.replicate(),
            cond: self.cond.replicate(),
            ups: self.ups.replicate(),
            resblocks: self.resblocks.replicate(),
            conv_post: self.conv_post.replicate(),
            window_frames: self.window_frames,
            margins: self.margins.clone(),
            bf16: self.bf16,
        }
    }
}
