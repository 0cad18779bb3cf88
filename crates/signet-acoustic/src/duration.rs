//! Duration predictors: the stochastic duration predictor `dp` (run in reverse, from noise
//! scaled by `noise_w` to log-durations) and the deterministic `DurationPredictor` some voices
//! use instead (`use_sdp = false`).
//!
//! Follows Kim et al. (2021), "Conditional Variational Autoencoder with Adversarial Learning for
//! End-to-End Text-to-Speech" (VITS), reference implementation jaywalnut310/vits
//! (`models.StochasticDurationPredictor`, `models.DurationPredictor`, `modules.DDSConv`,
//! `modules.ConvFlow`, `modules.ElementwiseAffine`, `modules.Flip`) and Piper's training code.
//!
//! A multilingual voice (Coqui's YourTTS) adds a projection of its language embedding
//! (`cond_lang`) to the predictor's input, beside the speaker's (`cond`); its input is the
//! text encoder's, `hidden + language` channels wide.
//!
//! Reverse inference uses flows `[Flip, ConvFlow 7, Flip, ConvFlow 5, Flip, ConvFlow 3, Flip,
//! ElementwiseAffine 0]`: upstream drops the first ConvFlow (`flows.1`) when reversing, so a
//! bundle holds no `dp.flows.1`. The posterior flows (`post_*`) are training-only.

use signet_nn::{zero_tail, Conv1d, ConvSpec, LayerNorm, Path, Replicate};
use tch::{Kind, Tensor};

use signet_schema::vits::{DDS_LAYERS, DP_FILTER, DP_KERNEL as KERNEL, SDP_FLOWS};
use signet_schema::CheckedVits;

use crate::spline;
use crate::AcousticError;

/// Dilated depth-separable convolutions with layer norms and GELU (`DDSConv`).
#[derive(Debug)]
struct DdsConv {
    layers: Vec<(Conv1d, LayerNorm, Conv1d, LayerNorm)>,
}

impl DdsConv {
    fn load(path: &Path<'_, '_>, channels: usize) -> Result<Self, AcousticError> {
        let mut layers = Vec::with_capacity(DDS_LAYERS);
        let mut dilation = 1usize;
        for l in 0..DDS_LAYERS {
            let padding = (KERNEL * dilation - dilation) / 2;
            let sep = ConvSpec::new(channels, channels, KERNEL, padding)
                .dilation(dilation)
                .groups(channels);
            layers.push((
                Conv1d::load(&(path / "convs_sep" / l), sep)?,
                LayerNorm::load(&(path / "norms_1" / l), channels)?,
                Conv1d::load(
                    &(path / "convs_1x1" / l),
                    ConvSpec::pointwise(channels, channels),
                )?,
                LayerNorm::load(&(path / "norms_2" / l), channels)?,
            ));
            dilation *= KERNEL;
        }
        Ok(DdsConv { layers })
    }

    fn forward(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        let mut x = match g {
            Some(g) => x.f_add(g)?,
            None => x.f_contiguous()?,
        };
        for (sep, norm_1, pointwise, norm_2) in &self.layers {
            x = zero_tail(x, 2, valid)?;
            let y = norm_1.forward(&sep.forward(&x)?)?.f_gelu("none")?;
            let y = norm_2.forward(&pointwise.forward(&y)?)?.f_gelu("none")?;
            x = x.f_add(&y)?;
        }
        Ok(x)
    }
}

/// A neural rational-quadratic spline coupling flow over two channels (`ConvFlow`).
#[derive(Debug)]
struct ConvFlow {
    pre: Conv1d,
    convs: DdsConv,
    proj: Conv1d,
    filter: f64,
}

impl ConvFlow {
    fn load(path: &Path<'_, '_>, filter: usize) -> Result<Self, AcousticError> {
        Ok(ConvFlow {
            pre: Conv1d::load(&(path / "pre"), ConvSpec::pointwise(1, filter))?,
            convs: DdsConv::load(&(path / "convs"), filter)?,
            proj: Conv1d::load(
                &(path / "proj"),
                ConvSpec::pointwise(filter, spline::PARAMS),
            )?,
            filter: filter as f64,
        })
    }

    /// Inverts the flow on `z` `[1, 2, L]` conditioned on `g` `[1, filter, L]`.
    fn reverse(&self, z: &Tensor, g: &Tensor, valid: Option<i64>) -> Result<Tensor, AcousticError> {
        let x0 = z.f_narrow(1, 0, 1)?;
        let x1 = z.f_narrow(1, 1, 1)?;
        let h = self
            .convs
            .forward(&self.pre.forward(&x0)?, Some(g), valid)?;
        let h = self.proj.forward(&h)?; // [1, PARAMS, L]
        let len = h.size().get(2).copied().unwrap_or(0);
        let h = h
            .f_reshape([1, 1, spline::PARAMS as i64, len])?
            .f_permute([0, 1, 3, 2])?;
        let x1 = spline::inverse(&x1, &h, self.filter.sqrt())?;
        Ok(Tensor::f_cat(&[x0, x1], 1)?)
    }
}

/// The stochastic duration predictor.
#[derive(Debug)]
pub struct StochasticDurationPredictor {
    pre: Conv1d,
    cond: Option<Conv1d>,
    cond_lang: Option<Conv1d>,
    convs: DdsConv,
    proj: Conv1d,
    /// ConvFlows in reverse order (`flows.7`, `flows.5`, `flows.3`).
    flows: Vec<ConvFlow>,
    /// `flows.0.m` `[1, 2, 1]`.
    ea_m: Tensor,
    /// `exp(-flows.0.logs)` `[1, 2, 1]`.
    ea_inv_scale: Tensor,
}

impl StochasticDurationPredictor {
    /// Takes the predictor's tensors under `path` (`dp`).
    pub fn new(cfg: &CheckedVits, path: &Path<'_, '_>) -> Result<Self, AcousticError> {
        let c = cfg.get();
        // jaywalnut310/vits overrides the filter width with the input width; Coqui's is 192
        // (the config's `sdp_channels`).
        let filter = cfg.sdp_channels();
        let cond = if c.gin_channels > 0 {
            Some(Conv1d::load(
                &(path / "cond"),
                ConvSpec::pointwise(c.gin_channels, filter),
            )?)
        } else {
            None
        };
        let cond_lang = language_cond(cfg, path, filter)?;
        let flows_path = path / "flows";
        let mut flows = Vec::with_capacity(SDP_FLOWS - 1);
        // ConvFlows sit at odd indices 1, 3, ...; reverse inference skips flows.1.
        for f in (2..=SDP_FLOWS).rev() {
            flows.push(ConvFlow::load(&(&flows_path / (2 * f - 1)), filter)?);
        }
        let ea = &flows_path / 0;
        let ea_m = ea.get("m", &[2, 1])?.f_unsqueeze(0)?;
        let ea_inv_scale = ea.get("logs", &[2, 1])?.f_neg()?.f_exp()?.f_unsqueeze(0)?;
        Ok(StochasticDurationPredictor {
            pre: Conv1d::load(
                &(path / "pre"),
                ConvSpec::pointwise(cfg.encoder_channels(), filter),
            )?,
            cond,
            cond_lang,
            convs: DdsConv::load(&(path / "convs"), filter)?,
            proj: Conv1d::load(&(path / "proj"), ConvSpec::pointwise(filter, filter))?,
            flows,
            ea_m,
            ea_inv_scale,
        })
    }

    /// Log-durations `[1, 1, L]` for encoder states `x` `[1, hidden, L]`, from noise scaled by
    /// `noise_w` (0: deterministic).
    pub fn forward(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        lang: Option<&Tensor>,
        noise_w: f32,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        let mut h = self.pre.forward(x)?;
        if let (Some(cond), Some(g)) = (&self.cond, g) {
            h = h.f_add_(&cond.forward(g)?)?;
        }
        if let (Some(cond), Some(l)) = (&self.cond_lang, lang) {
            h = h.f_add_(&cond.forward(l)?)?;
        }
        let h = self.proj.forward(&self.convs.forward(&h, None, valid)?)?;
        let len = x.size().get(2).copied().unwrap_or(0);
        let mut z = if noise_w == 0.0 {
            Tensor::f_zeros([1, 2, len], (Kind::Float, tch::Device::Cpu))?
        } else {
            Tensor::f_randn([1, 2, len], (Kind::Float, tch::Device::Cpu))?
                .f_mul_scalar(f64::from(noise_w))?
        };
        for flow in &self.flows {
            z = flow.reverse(&z.f_flip([1])?, &h, valid)?;
        }
        z = z.f_flip([1])?;
        let z = z.f_sub(&self.ea_m)?.f_mul(&self.ea_inv_scale)?;
        Ok(z.f_narrow(1, 0, 1)?)
    }
}

/// The deterministic duration predictor.
#[derive(Debug)]
pub struct DurationPredictor {
    cond: Option<Conv1d>,
    cond_lang: Option<Conv1d>,
    conv_1: Conv1d,
    norm_1: LayerNorm,
    conv_2: Conv1d,
    norm_2: LayerNorm,
    proj: Conv1d,
}

impl DurationPredictor {
    /// Takes the predictor's tensors under `path` (`dp`).
    pub fn new(cfg: &CheckedVits, path: &Path<'_, '_>) -> Result<Self, AcousticError> {
        let c = cfg.get();
        let hidden = cfg.encoder_channels();
        let cond = if c.gin_channels > 0 {
            Some(Conv1d::load(
                &(path / "cond"),
                ConvSpec::pointwise(c.gin_channels, hidden),
            )?)
        } else {
            None
        };
        Ok(DurationPredictor {
            cond,
            cond_lang: language_cond(cfg, path, hidden)?,
            conv_1: Conv1d::load(
                &(path / "conv_1"),
                ConvSpec::new(hidden, DP_FILTER, KERNEL, KERNEL / 2),
            )?,
            norm_1: LayerNorm::load(&(path / "norm_1"), DP_FILTER)?,
            conv_2: Conv1d::load(
                &(path / "conv_2"),
                ConvSpec::new(DP_FILTER, DP_FILTER, KERNEL, KERNEL / 2),
            )?,
            norm_2: LayerNorm::load(&(path / "norm_2"), DP_FILTER)?,
            proj: Conv1d::load(&(path / "proj"), ConvSpec::pointwise(DP_FILTER, 1))?,
        })
    }

    /// Log-durations `[1, 1, L]` for encoder states `x` `[1, hidden, L]`.
    pub fn forward(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        lang: Option<&Tensor>,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        let x = match (&self.cond, g) {
            (Some(cond), Some(g)) => x.f_add(&cond.forward(g)?)?,
            _ => x.f_contiguous()?,
        };
        let x = match (&self.cond_lang, lang) {
            (Some(cond), Some(l)) => x.f_add(&cond.forward(l)?)?,
            _ => x,
        };
        let x = zero_tail(x, 2, valid)?;
        let x = self.norm_1.forward(&self.conv_1.forward(&x)?.f_relu()?)?;
        let x = zero_tail(x.f_contiguous()?, 2, valid)?;
        let x = self.norm_2.forward(&self.conv_2.forward(&x)?.f_relu()?)?;
        Ok(self.proj.forward(&x)?)
    }
}

/// The language projection `cond_lang` of a multilingual voice, onto `width` channels.
fn language_cond(
    cfg: &CheckedVits,
    path: &Path<'_, '_>,
    width: usize,
) -> Result<Option<Conv1d>, AcousticError> {
    let lang = cfg.language_channels();
    if lang == 0 {
        return Ok(None);
    }
    Ok(Some(Conv1d::load(
        &(path / "cond_lang"),
        ConvSpec::pointwise(lang, width),
    )?))
}

/// Either duration predictor, as the config's `use_sdp` selects.
#[derive(Debug)]
pub enum Durations {
    /// `use_sdp = true`.
    Stochastic(StochasticDurationPredictor),
    /// `use_sdp = false`.
    Deterministic(DurationPredictor),
}

impl Durations {
    /// Loads the predictor the config selects from `path` (`dp`).
    pub fn new(cfg: &CheckedVits, path: &Path<'_, '_>) -> Result<Self, AcousticError> {
        Ok(if cfg.get().use_sdp {
            Durations::Stochastic(StochasticDurationPredictor::new(cfg, path)?)
        } else {
            Durations::Deterministic(DurationPredictor::new(cfg, path)?)
        })
    }

    /// Log-durations `[1, 1, L]`; `noise_w` only affects the stochastic predictor.
    ///
    /// With `valid`, positions from `valid` on are padding; the log-durations of the real
    /// positions are those of the unpadded sequence.
    pub fn forward(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        noise_w: f32,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        self.forward_in(x, g, None, noise_w, valid)
    }

    /// [`forward`](Self::forward) in a language: `lang` is the language embedding
    /// `[1, language, 1]` of a multilingual voice.
    pub fn forward_in(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        lang: Option<&Tensor>,
        noise_w: f32,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        match self {
            Durations::Stochastic(p) => p.forward(x, g, lang, noise_w, valid),
            Durations::Deterministic(p) => p.forward(x, g, lang, valid),
        }
    }
}

impl Replicate for DdsConv {
    fn replicate(&self) -> Self {
        DdsConv {
            layers: self.layers.replicate(),
        }
    }
}

impl Replicate for ConvFlow {
    fn replicate(&self) -> Self {
        ConvFlow {
            pre: self.pre.replicate(),
            convs: self.convs.replicate(),
            proj: self.proj.replicate(),
            filter: self.filter,
        }
    }
}

impl Replicate for StochasticDurationPredictor {
    fn replicate(&self) -> Self {
        StochasticDurationPredictor {
            pre: self.pre.replicate(),
            cond: self.cond.replicate(),
            cond_lang: self.cond_lang.replicate(),
            convs: self.convs.replicate(),
            proj: self.proj.replicate(),
            flows: self.flows.replicate(),
            ea_m: self.ea_m.replicate(),
            ea_inv_scale: self.ea_inv_scale.replicate(),
        }
    }
}

impl Replicate for DurationPredictor {
    fn replicate(&self) -> Self {
        DurationPredictor {
            cond: self.cond.replicate(),
            cond_lang: self.cond_lang.replicate(),
            conv_1: self.conv_1.replicate(),
            norm_1: self.norm_1.replicate(),
            conv_2: self.conv_2.replicate(),
            norm_2: self.norm_2.replicate(),
            proj: self.proj.replicate(),
        }
    }
}

impl Replicate for Durations {
    fn replicate(&self) -> Self {
        match self {
            Durations::Stochastic(p) => Durations::Stochastic(p.replicate()),
            Durations::Deterministic(p) => Durations::Deterministic(p.replicate()),
        }
    }
}
