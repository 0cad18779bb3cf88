//! Layers over tensors taken from [`Weights`](crate::Weights): 1-D convolutions, transposed
//! convolutions, channels-first layer norm and embeddings.
//!
//! Every constructor states the exact shapes it expects, so a weights file that disagrees with
//! the architecture fails at load time with the tensor's name, never at run time.

use tch::{Kind, Tensor};

use crate::{NnError, Path, Replicate};

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
    /// `weight` viewed as `[out, in / groups, 1, kernel]` for [`forward_nhwc`](Self::forward_nhwc).
    weight4: Tensor,
    /// For a pointwise layer: `weight` as a matrix `[out, in]` and `bias` as a column
    /// `[out, 1]`, so a single sequence runs as one matrix product.
    pointwise: Option<(Tensor, Option<Tensor>)>,
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
        Self::from_parts(weight, bias, spec)
    }

    /// Builds a layer from tensors already in hand (e.g. fused at load time); `weight` must be
    /// `[out, in / groups, kernel]`.
    pub fn from_parts(
        weight: Tensor,
        bias: Option<Tensor>,
        spec: ConvSpec,
    ) -> Result<Self, NnError> {
        let weight4 = weight.f_unsqueeze(2)?;
        let is_pointwise = spec.kernel == 1
            && spec.stride == 1
            && spec.padding == 0
            && spec.dilation == 1
            && spec.groups == 1;
        let pointwise = if is_pointwise {
            let column = match &bias {
                Some(b) => Some(b.f_unsqueeze(1)?),
                None => None,
            };
            Some((weight.f_squeeze_dim(2)?, column))
        } else {
            None
        };
        Ok(Conv1d {
            weight,
            weight4,
            pointwise,
            bias,
            spec,
        })
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
        if let (Some((matrix, column)), [1, _, _]) = (&self.pointwise, x.size().as_slice()) {
            let x2 = x.f_select(0, 0)?;
            let y = match column {
                Some(c) => c.f_addmm(matrix, &x2)?,
                None => matrix.f_matmul(&x2)?,
            };
            return Ok(y.f_unsqueeze(0)?);
        }
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

    /// Applies the convolution to `x` in the channels-last 2-D form `[1, in, 1, time]` that
    /// [`to_nhwc`] makes; the result has the same form. oneDNN runs small-channel convolutions
    /// much faster in this layout, and no reorder is needed between layers.
    pub fn forward_nhwc(&self, x: &Tensor) -> Result<Tensor, NnError> {
        let s = &self.spec;
        Ok(x.f_conv2d(
            &self.weight4,
            self.bias.as_ref(),
            [1, i(s.stride)],
            [0, i(s.padding)],
            [1, i(s.dilation)],
            i(s.groups),
        )?)
    }
}

impl Conv1d {
    /// The same layer with its tensors converted to `kind` (e.g. bfloat16); its input must
    /// then be of that kind too.
    pub fn to_kind(&self, kind: Kind) -> Result<Self, NnError> {
        let bias = match &self.bias {
            Some(b) => Some(b.f_to_kind(kind)?),
            None => None,
        };
        Self::from_parts(self.weight.f_to_kind(kind)?, bias, self.spec)
    }
}

impl Replicate for Conv1d {
    fn replicate(&self) -> Self {
        Conv1d {
            weight: self.weight.replicate(),
            weight4: self.weight4.replicate(),
            pointwise: self.pointwise.replicate(),
            bias: self.bias.replicate(),
            spec: self.spec,
        }
    }
}

/// Zeroes `t` along `dim` from index `from` on, in place, and returns it. Zeroing a
/// convolution's input past a sequence's valid length makes the convolution compute, on the
/// valid positions, exactly what its own zero padding computes at the sequence's end: this lets
/// sequences be padded to a few fixed lengths, so that oneDNN reuses its compiled kernels.
pub fn zero_tail(t: Tensor, dim: i64, from: Option<i64>) -> Result<Tensor, NnError> {
    if let Some(from) = from {
        let len = t
            .size()
            .get(usize::try_from(dim).unwrap_or(usize::MAX))
            .copied()
            .unwrap_or(0);
        if from < len {
            let _ = t.f_narrow(dim, from, len - from)?.f_zero_()?;
        }
    }
    Ok(t)
}

/// Converts `x` `[1, channels, time]` to the channels-last 2-D form `[1, channels, 1, time]`
/// (memory laid out time-major, channels innermost).
pub fn to_nhwc(x: &Tensor) -> Result<Tensor, NnError> {
    let size = x.size();
    let (c, t) = match size.as_slice() {
        [1, c, t] => (*c, *t),
        _ => {
            return Err(NnError::Torch {
                message: format!("to_nhwc expects [1, C, T], got {size:?}"),
            })
        }
    };
    Ok(x.f_transpose(1, 2)?
        .f_contiguous()?
        .f_view([1, 1, t, c])?
        .f_permute([0, 3, 1, 2])?)
}

/// Converts the channels-last form `[1, channels, 1, time]` back to a contiguous
/// `[1, channels, time]`.
pub fn from_nhwc(x: &Tensor) -> Result<Tensor, NnError> {
    Ok(x.f_squeeze_dim(2)?.f_contiguous()?)
}

/// A 1-D transposed convolution: `weight` `[in, out / groups, kernel]`, optional `bias` `[out]`.
#[derive(Debug)]
pub struct ConvTranspose1d {
    weight: Tensor,
    /// `weight` viewed as `[in, out / groups, 1, kernel]`.
    weight4: Tensor,
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
        let weight4 = weight.f_unsqueeze(2)?;
        Ok(ConvTranspose1d {
            weight,
            weight4,
            bias,
            spec,
        })
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

    /// Applies the transposed convolution to the channels-last form `[1, in, 1, time]`; see
    /// [`Conv1d::forward_nhwc`].
    pub fn forward_nhwc(&self, x: &Tensor) -> Result<Tensor, NnError> {
        let s = &self.spec;
        Ok(x.f_conv_transpose2d(
            &self.weight4,
            self.bias.as_ref(),
            [1, i(s.stride)],
            [0, i(s.padding)],
            [0, 0],
            i(s.groups),
            [1, i(s.dilation)],
        )?)
    }
}

impl ConvTranspose1d {
    /// The same layer with its tensors converted to `kind`; see [`Conv1d::to_kind`].
    pub fn to_kind(&self, kind: Kind) -> Result<Self, NnError> {
        let weight = self.weight.f_to_kind(kind)?;
        Ok(ConvTranspose1d {
            weight4: weight.f_unsqueeze(2)?,
            weight,
            bias: match &self.bias {
                Some(b) => Some(b.f_to_kind(kind)?),
                None => None,
            },
            spec: self.spec,
        })
    }
}

impl Replicate for ConvTranspose1d {
    fn replicate(&self) -> Self {
        ConvTranspose1d {
            weight: self.weight.replicate(),
            weight4: self.weight4.replicate(),
            bias: self.bias.replicate(),
            spec: self.spec,
        }
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

impl Replicate for LayerNorm {
    fn replicate(&self) -> Self {
        LayerNorm {
            gamma: self.gamma.replicate(),
            beta: self.beta.replicate(),
            channels: self.channels,
        }
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

impl Replicate for Embedding {
    fn replicate(&self) -> Self {
        Embedding {
            weight: self.weight.replicate(),
            count: self.count,
        }
    }
}

/// Leaky ReLU with the given negative slope: `x` where `x >= 0`, else `slope * x`.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor, NnError> {
    let mut w = Tensor::f_from_slice(&[slope as f32])?;
    if x.kind() != Kind::Float {
        w = w.f_to_kind(x.kind())?;
    }
    Ok(x.f_prelu(&w)?)
}

/// Kind used by every float tensor of the models.
pub const FLOAT: Kind = Kind::Float;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tch::Device;

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn pointwise_matmul_equals_convolution() {
        tch::manual_seed(1);
        let w = Tensor::randn([5, 4, 1], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([5], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([1, 4, 9], (Kind::Float, Device::Cpu));
        let conv = Conv1d::from_parts(w.copy(), Some(b.copy()), ConvSpec::pointwise(4, 5)).unwrap();
        let want = x.conv1d(&w, Some(&b), [1], [0], [1], 1);
        assert!(max_diff(&conv.forward(&x).unwrap(), &want) < 1e-5);
        // A batch of two takes the convolution path.
        let x2 = Tensor::randn([2, 4, 9], (Kind::Float, Device::Cpu));
        let want = x2.conv1d(&w, Some(&b), [1], [0], [1], 1);
        assert!(max_diff(&conv.forward(&x2).unwrap(), &want) < 1e-5);
    }

    #[test]
    fn channels_last_forms_agree_with_plain_ones() {
        tch::manual_seed(2);
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::randn([1, 6, 50], opts);
        let back = from_nhwc(&to_nhwc(&x).unwrap()).unwrap();
        assert_eq!(max_diff(&back, &x), 0.0);
        let spec = ConvSpec::new(6, 3, 5, 6).dilation(3);
        let conv = Conv1d::from_parts(
            Tensor::randn([3, 6, 5], opts),
            Some(Tensor::randn([3], opts)),
            spec,
        )
        .unwrap();
        let plain = conv.forward(&x).unwrap();
        let nhwc = from_nhwc(&conv.forward_nhwc(&to_nhwc(&x).unwrap()).unwrap()).unwrap();
        assert!(max_diff(&plain, &nhwc) < 1e-5);
        assert!(to_nhwc(&Tensor::zeros([2, 6, 5], opts)).is_err());
    }

    #[test]
    fn leaky_relu_scales_negatives_only() {
        let x = Tensor::from_slice(&[-2.0f32, -0.5, 0.0, 3.0]);
        let y: Vec<f32> = Vec::try_from(&leaky_relu(&x, 0.1).unwrap()).unwrap();
        assert_eq!(y, vec![-2.0 * 0.1, -0.5 * 0.1, 0.0, 3.0]);
    }

    #[test]
    fn layer_norm_normalizes_each_time_step_over_channels() {
        tch::manual_seed(3);
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::randn([1, 8, 5], opts) * 3.0 + 1.0;
        let norm = LayerNorm {
            gamma: Tensor::ones([8], opts),
            beta: Tensor::zeros([8], opts),
            channels: 8,
        };
        let y = norm.forward(&x).unwrap();
        let mean = y.mean_dim([1i64].as_slice(), false, Kind::Float);
        let var = y.var_dim([1i64].as_slice(), false, false);
        assert!(mean.abs().max().double_value(&[]) < 1e-5);
        assert!((var - 1.0).abs().max().double_value(&[]) < 1e-3);
    }
}
