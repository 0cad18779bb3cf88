//! Layers over tensors taken from [`Weights`](crate::Weights): 1-D convolutions, transposed
//! convolutions, channels-first layer norm and embeddings.
//!
//! Every constructor states the exact shapes it expects, so a weights file that disagrees with
//! the architecture fails at load time with the tensor's name, never at run time.

use tch::{Kind, Tensor};

use crate::{NnError, Path};

/// Hyper-parameters of a 1-D convolution (plain or transposed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel width.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// Dilation.
    pub dilation: usize,
    /// Channel groups (both channel counts must be multiples of it).
    pub groups: usize,
    /// Whether the layer has a bias tensor.
    pub bias: bool,
}

impl ConvSpec {
    /// A stride-1, undilated, ungrouped convolution with a bias and `padding` on each side.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize, padding: usize) -> Self {
        ConvSpec {
            in_channels,
            out_channels,
            kernel,
            stride: 1,
            padding,
            dilation: 1,
            groups: 1,
            bias: true,
        }
    }

    /// A 1×1 convolution with a bias.
    pub fn pointwise(in_channels: usize, out_channels: usize) -> Self {
        Self::new(in_channels, out_channels, 1, 0)
    }

    /// The same with a different dilation.
    pub fn dilation(self, dilation: usize) -> Self {
        ConvSpec { dilation, ..self }
    }

    /// The same with a different group count.
    pub fn groups(self, groups: usize) -> Self {
        ConvSpec { groups, ..self }
    }

    /// The same with a different stride.
    pub fn stride(self, stride: usize) -> Self {
        ConvSpec { stride, ..self }
    }

    /// The same without a bias.
    pub fn no_bias(self) -> Self {
        ConvSpec {
            bias: false,
            ..self
        }
    }

    fn check(&self, path: &Path<'_, '_>) -> Result<(), NnError> {
        let ok = self.groups > 0
            && self.in_channels % self.groups == 0
            && self.out_channels % self.groups == 0
            && self.kernel > 0
            && self.stride > 0
            && self.dilation > 0;
        if ok {
            Ok(())
        } else {
            Err(NnError::Torch {
                message: format!(
                    "invalid convolution hyper-parameters for `{}`: {self:?}",
                    path.prefix()
                ),
            })
        }
    }
}

fn i(v: usize) -> i64 {
    // Sizes here come from checked configs and tensor shapes that fit in memory.
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A 1-D convolution: `weight` `[out, in / groups, kernel]`, optional `bias` `[out]`.
#[derive(Debug)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    spec: ConvSpec,
}

impl Conv1d {
    /// Takes `weight` (and `bias`) under `path`.
    pub fn load(path: &Path<'_, '_>, spec: ConvSpec) -> Result<Self, NnError> {
        spec.check(path)?;
        let weight = path.get(
            "weight",
            &[
                spec.out_channels,
                spec.in_channels / spec.groups,
                spec.kernel,
            ],
        )?;
        let bias = if spec.bias {
            Some(path.get("bias", &[spec.out_channels])?)
        } else {
            None
        };
        Ok(Conv1d { weight, bias, spec })
    }

    /// Builds a layer from tensors already in hand (e.g. fused at load time).
    pub fn from_parts(weight: Tensor, bias: Option<Tensor>, spec: ConvSpec) -> Self {
        Conv1d { weight, bias, spec }
    }

    /// The hyper-parameters.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// The weight tensor.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias tensor, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Applies the convolution to `x` `[batch, in, time]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, NnError> {
        let s = &self.spec;
        Ok(x.f_conv1d(
            &self.weight,
            self.bias.as_ref(),
            [i(s.stride)],
            [i(s.padding)],
            [i(s.dilation)],
            i(s.groups),
        )?)
    }
}

/// A 1-D transposed convolution: `weight` `[in, out / groups, kernel]`, optional `bias` `[out]`.
#[derive(Debug)]
pub struct ConvTranspose1d {
    weight: Tensor,
    bias: Option<Tensor>,
    spec: ConvSpec,
}

impl ConvTranspose1d {
    /// Takes `weight` (and `bias`) under `path`.
    pub fn load(path: &Path<'_, '_>, spec: ConvSpec) -> Result<Self, NnError> {
        spec.check(path)?;
        let weight = path.get(
            "weight",
            &[
                spec.in_channels,
                spec.out_channels / spec.groups,
                spec.kernel,
            ],
        )?;
        let bias = if spec.bias {
            Some(path.get("bias", &[spec.out_channels])?)
        } else {
            None
        };
        Ok(ConvTranspose1d { weight, bias, spec })
    }

    /// The hyper-parameters.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// Applies the transposed convolution to `x` `[batch, in, time]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, NnError> {
        let s = &self.spec;
        Ok(x.f_conv_transpose1d(
            &self.weight,
            self.bias.as_ref(),
            [i(s.stride)],
            [i(s.padding)],
            [0],
            i(s.groups),
            [i(s.dilation)],
        )?)
    }
}

/// Layer norm over the channel axis of `[batch, channels, time]` tensors, with VITS's parameter
/// names `gamma` (scale) and `beta` (shift) and epsilon 1e-5.
#[derive(Debug)]
pub struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
    channels: i64,
}

impl LayerNorm {
    /// Epsilon added to the variance.
    pub const EPS: f64 = 1e-5;

    /// Takes `gamma` and `beta` `[channels]` under `path`.
    pub fn load(path: &Path<'_, '_>, channels: usize) -> Result<Self, NnError> {
        Ok(LayerNorm {
            gamma: path.get("gamma", &[channels])?,
            beta: path.get("beta", &[channels])?,
            channels: i(channels),
        })
    }

    /// Normalizes `x` `[batch, channels, time]` over its channels.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, NnError> {
        let t = x.f_transpose(1, -1)?;
        let y = t.f_layer_norm(
            [self.channels],
            Some(&self.gamma),
            Some(&self.beta),
            Self::EPS,
            false,
        )?;
        Ok(y.f_transpose(1, -1)?)
    }
}

/// A lookup table: `weight` `[count, dim]`.
#[derive(Debug)]
pub struct Embedding {
    weight: Tensor,
    count: usize,
}

impl Embedding {
    /// Takes `weight` `[count, dim]` under `path`.
    pub fn load(path: &Path<'_, '_>, count: usize, dim: usize) -> Result<Self, NnError> {
        Ok(Embedding {
            weight: path.get("weight", &[count, dim])?,
            count,
        })
    }

    /// Number of rows.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Looks up `ids` (an int64 tensor of any shape, every value in `0..count`, which the caller
    /// checks): the result has one more axis of size `dim`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor, NnError> {
        Ok(Tensor::f_embedding(&self.weight, ids, -1, false, false)?)
    }
}

/// Leaky ReLU with the given negative slope: `x` where `x >= 0`, else `slope * x`.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor, NnError> {
    let w = Tensor::f_from_slice(&[slope as f32])?;
    Ok(x.f_prelu(&w)?)
}

/// Kind used by every float tensor of the models.
pub const FLOAT: Kind = Kind::Float;
