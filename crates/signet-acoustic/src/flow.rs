//! The normalizing flow `flow`: residual coupling layers with WaveNet blocks, mean-only, with
//! channel flips between them, run in reverse to map the prior sample `z_p` to the latent `z`.
//!
//! Follows Kim et al. (2021), "Conditional Variational Autoencoder with Adversarial Learning for
//! End-to-End Text-to-Speech" (VITS), reference implementation jaywalnut310/vits
//! (`models.ResidualCouplingBlock`, `modules.ResidualCouplingLayer`, `modules.WN`) and Piper's
//! training code. Coupling layers sit at even indices `flows.0, 2, 4, 6`; the odd indices are
//! parameter-free flips.

use signet_nn::{zero_tail, Conv1d, ConvSpec, Path, Replicate};
use tch::Tensor;

use signet_schema::vits::{FLOW_COUPLINGS as COUPLINGS, WN_DILATION_RATE, WN_KERNEL, WN_LAYERS};
use signet_schema::CheckedVits;

use crate::AcousticError;

/// A non-causal WaveNet stack with gated tanh-sigmoid units (`WN`).
#[derive(Debug)]
struct WaveNet {
    in_layers: Vec<Conv1d>,
    res_skip_layers: Vec<Conv1d>,
    cond_layer: Option<Conv1d>,
    hidden: i64,
}

impl WaveNet {
    fn load(path: &Path<'_, '_>, hidden: usize, gin: usize) -> Result<Self, AcousticError> {
        let mut in_layers = Vec::with_capacity(WN_LAYERS);
        let mut res_skip_layers = Vec::with_capacity(WN_LAYERS);
        let mut dilation = 1usize;
        for l in 0..WN_LAYERS {
            let padding = (WN_KERNEL * dilation - dilation) / 2;
            let spec = ConvSpec::new(hidden, 2 * hidden, WN_KERNEL, padding).dilation(dilation);
            in_layers.push(Conv1d::load(&(path / "in_layers" / l), spec)?);
            let out = if l + 1 < WN_LAYERS {
                2 * hidden
            } else {
                hidden
            };
            res_skip_layers.push(Conv1d::load(
                &(path / "res_skip_layers" / l),
                ConvSpec::pointwise(hidden, out),
            )?);
            dilation *= WN_DILATION_RATE;
        }
        let cond_layer = if gin > 0 {
            Some(Conv1d::load(
                &(path / "cond_layer"),
                ConvSpec::pointwise(gin, 2 * hidden * WN_LAYERS),
            )?)
        } else {
            None
        };
        Ok(WaveNet {
            in_layers,
            res_skip_layers,
            cond_layer,
            hidden: i64::try_from(hidden).unwrap_or(i64::MAX),
        })
    }

    /// `valid`: frames past it are padding, zeroed before each dilated convolution.
    fn forward(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        let h = self.hidden;
        let g = match (&self.cond_layer, g) {
            (Some(layer), Some(g)) => Some(layer.forward(g)?),
            _ => None,
        };
        let mut x = x.shallow_clone();
        let mut output: Option<Tensor> = None;
        let last = self.in_layers.len().saturating_sub(1);
        for (l, (in_layer, res_skip)) in
            self.in_layers.iter().zip(&self.res_skip_layers).enumerate()
        {
            let mut x_in = in_layer.forward(&zero_tail(x.shallow_clone(), 2, valid)?)?;
            if let Some(g) = &g {
                let offset = i64::try_from(l).unwrap_or(0) * 2 * h;
                x_in = x_in.f_add_(&g.f_narrow(1, offset, 2 * h)?)?;
            }
            let acts = x_in
                .f_narrow(1, 0, h)?
                .f_tanh()?
                .f_mul(&x_in.f_narrow(1, h, h)?.f_sigmoid()?)?;
            let rs = res_skip.forward(&acts)?;
            let skip = if l < last {
                x = x.f_add(&rs.f_narrow(1, 0, h)?)?;
                rs.f_narrow(1, h, h)?
            } else {
                rs
            };
            output = Some(match output {
                None => skip.f_contiguous()?,
                Some(mut acc) => acc.f_add_(&skip)?,
            });
        }
        match output {
            Some(o) => Ok(o),
            None => Ok(x.f_zeros_like()?),
        }
    }
}

/// A mean-only residual coupling layer.
#[derive(Debug)]
struct Coupling {
    pre: Conv1d,
    enc: WaveNet,
    post: Conv1d,
    half: i64,
}

impl Coupling {
    fn load(
        path: &Path<'_, '_>,
        channels: usize,
        hidden: usize,
        gin: usize,
    ) -> Result<Self, AcousticError> {
        let half = channels / 2;
        Ok(Coupling {
            pre: Conv1d::load(&(path / "pre"), ConvSpec::pointwise(half, hidden))?,
            enc: WaveNet::load(&(path / "enc"), hidden, gin)?,
            post: Conv1d::load(&(path / "post"), ConvSpec::pointwise(hidden, half))?,
            half: i64::try_from(half).unwrap_or(i64::MAX),
        })
    }

    fn reverse(
        &self,
        x: &Tensor,
        g: Option<&Tensor>,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        let x0 = x.f_narrow(1, 0, self.half)?;
        let x1 = x.f_narrow(1, self.half, self.half)?;
        let h = self.enc.forward(&self.pre.forward(&x0)?, g, valid)?;
        let m = self.post.forward(&h)?;
        Ok(Tensor::f_cat(&[x0, x1.f_sub(&m)?], 1)?)
    }
}

/// The flow with its weights.
#[derive(Debug)]
pub struct Flow {
    /// Coupling layers in reverse order (`flows.6`, `flows.4`, ...).
    couplings: Vec<Coupling>,
}

impl Flow {
    /// Takes the flow's tensors under `path` (`flow`).
    pub fn new(cfg: &CheckedVits, path: &Path<'_, '_>) -> Result<Self, AcousticError> {
        let c = cfg.get();
        let flows = path / "flows";
        let mut couplings = Vec::with_capacity(COUPLINGS);
        for k in (0..COUPLINGS).rev() {
            couplings.push(Coupling::load(
                &(&flows / (2 * k)),
                c.inter_channels,
                c.hidden_channels,
                c.gin_channels,
            )?);
        }
        Ok(Flow { couplings })
    }

    /// Frames on each side of a frame that can influence its output (exactly the reach of the
    /// WaveNet convolutions; the rest of the flow works frame by frame): a window of `z_p` that
    /// reads this many more on either side gives exactly the frames of a whole pass.
    pub fn context_frames() -> usize {
        let mut dilation = 1usize;
        let mut per_coupling = 0usize;
        for _ in 0..WN_LAYERS {
            per_coupling += (WN_KERNEL - 1) * dilation / 2;
            dilation *= WN_DILATION_RATE;
        }
        COUPLINGS * per_coupling
    }

    /// Maps `z_p` `[1, inter, T]` to the latent `z` (flip, then invert each coupling).
    ///
    /// With `valid`, frames from `valid` on are padding: the valid frames come out as they
    /// would for `z_p` cut to `valid` frames.
    pub fn reverse(
        &self,
        z_p: &Tensor,
        g: Option<&Tensor>,
        valid: Option<i64>,
    ) -> Result<Tensor, AcousticError> {
        let mut x = z_p.shallow_clone();
        for coupling in &self.couplings {
            x = coupling.reverse(&x.f_flip([1])?, g, valid)?;
        }
        Ok(x)
    }
}

impl Replicate for WaveNet {
    fn replicate(&self) -> Self {
        WaveNet {
            in_layers: self.in_layers.replicate(),
            res_skip_layers: self.res_skip_layers.replicate(),
            cond_layer: self.cond_layer.replicate(),
            hidden: self.hidden,
        }
    }
}

impl Replicate for Coupling {
    fn replicate(&self) -> Self {
        Coupling {
            pre: self.pre.replicate(),
            enc: self.enc.replicate(),
            post: self.post.replicate(),
            half: self.half,
        }
    }
}

impl Replicate for Flow {
    fn replicate(&self) -> Self {
        Flow {
            couplings: self.couplings.replicate(),
        }
    }
}
