//! A state dict as named `f32` parameters, with weight norm folded.
//!
//! PyTorch stores a weight-normalized layer's weight as a magnitude `g` and a direction `v`
//! (Salimans and Kingma, 2016): `weight = g * v / ||v||`, the norm taken over every dimension
//! but the first (`dim=0`, the default of both `torch.nn.utils.weight_norm` and
//! `torch.nn.utils.parametrizations.weight_norm`). Checkpoints hold the pair in one of two forms:
//! `<layer>.weight_g` / `<layer>.weight_v` (the older hook) or
//! `<layer>.parametrizations.weight.original0` / `original1` (the parametrization). Both are
//! folded here into one plain `<layer>.weight`, so model code and bundles only ever see plain
//! weights. Every pair is checked: both halves present, no plain `weight` beside them, `g`
//! shaped `[out, 1, ..., 1]` against `v`'s `[out, ...]`, `v` with no all-zero row.

use std::collections::BTreeMap;

use crate::{CheckpointError, Tensor};

/// One parameter as `f32` values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

/// The two halves of a weight-normalized weight, by the suffixes each form uses.
const FORMS: &[(&str, &str)] = &[
    ("weight_g", "weight_v"),
    (
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ),
];

fn bad(name: &str, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::BadTensor {
        tensor: name.to_owned(),
        reason: reason.into(),
    }
}

/// Which half of a weight-norm pair `name` is: its layer prefix (with the trailing dot, or
/// empty) and whether it is the magnitude.
fn weight_norm_half(name: &str) -> Option<(&str, bool)> {
    for (g, v) in FORMS {
        for (suffix, is_g) in [(g, true), (v, false)] {
            if let Some(layer) = name.strip_suffix(suffix) {
                if layer.is_empty() || layer.ends_with('.') {
                    return Some((layer, is_g));
                }
            }
        }
    }
    None
}

/// The state dict as `f32` parameters by name, each weight-norm pair folded into
/// `<layer>.weight`. Refused: a tensor that is not floating point, a duplicate name, half a
/// pair, a pair beside a plain `weight`, shapes that do not pair, and a
/// direction with an all-zero row (its fold would divide by zero).
pub fn float_params(state: &[(&str, &Tensor)]) -> Result<BTreeMap<String, Param>, CheckpointError> {
    let mut plain: BTreeMap<String, Param> = BTreeMap::new();
    // layer -> (g, v), each with the name it came under.
    let mut pairs: BTreeMap<&str, [Option<(&str, Param)>; 2]> = BTreeMap::new();
    for &(name, tensor) in state {
        let data = tensor.to_f32().ok_or_else(|| {
            bad(
                name,
                format!("is {}, expected a floating-point parameter", tensor.dtype),
            )
        })?;
        let param = Param {
            shape: tensor.shape.clone(),
            data,
        };
        match weight_norm_half(name) {
            Some((layer, is_g)) => {
                let slot = pairs.entry(layer).or_default();
                let half = slot
                    .get_mut(usize::from(!is_g))
                    .ok_or_else(|| bad(name, "?"))?;
                if let Some((other, _)) = half {
                    return Err(bad(
                        name,
                        format!(
                            "is a second weight-norm {} of layer {layer:?} (first: {other})",
                            if is_g { "magnitude" } else { "direction" }
                        ),
                    ));
                }
                *half = Some((name, param));
            }
            None => {
                if plain.insert(name.to_owned(), param).is_some() {
                    return Err(bad(name, "appears twice in the state dict"));
                }
            }
        }
    }
    for (layer, [g, v]) in pairs {
        let weight = format!("{layer}weight");
        let (g, v) = match (g, v) {
            (Some(g), Some(v)) => (g, v),
            (Some((name, _)), None) | (None, Some((name, _))) => {
                return Err(bad(
                    name,
                    "is half of a weight-norm pair: its other half is missing",
                ))
            }
            (None, None) => continue,
        };
        if plain.contains_key(&weight) {
            return Err(bad(&weight, "is stored both plain and weight-normalized"));
        }
        let folded = fold(g, v)?;
        plain.insert(weight, folded);
    }
    Ok(plain)
}

/// `g * v / ||v||`, the norm over every dimension of `v` but the first.
fn fold((g_name, g): (&str, Param), (v_name, v): (&str, Param)) -> Result<Param, CheckpointError> {
    let rows = v.shape.first().copied().unwrap_or(0);
    let pairs = !v.shape.is_empty()
        && g.shape.len() == v.shape.len()
        && g.shape.first() == Some(&rows)
        && g.shape.iter().skip(1).all(|&d| d == 1);
    if !pairs || rows == 0 {
        return Err(bad(
            g_name,
            format!(
                "weight-norm magnitude {:?} does not pair with direction {v_name} {:?} (expected [{rows}, 1, ...])",
                g.shape, v.shape
            ),
        ));
    }
    let per_row = v.data.len() / rows;
    let mut data = Vec::with_capacity(v.data.len());
    for (row, (&gain, dir)) in g
        .data
        .iter()
        .zip(v.data.chunks_exact(per_row.max(1)))
        .enumerate()
    {
        let norm = dir
            .iter()
            .map(|&x| f64::from(x).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(bad(
                v_name,
                format!(
                    "row {row} of the weight-norm direction has norm {norm}; it cannot be folded"
                ),
            ));
        }
        let scale = f64::from(gain) / norm;
        data.extend(dir.iter().map(|&x| (f64::from(x) * scale) as f32));
    }
    Ok(Param {
        shape: v.shape,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dtype;

    fn t(shape: &[usize], values: &[f32]) -> Tensor {
        Tensor {
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn both_weight_norm_forms_fold_to_the_same_weight() {
        let g = t(&[2, 1, 1], &[2.0, 0.5]);
        let v = t(&[2, 1, 2], &[3.0, 4.0, 0.0, -1.0]);
        let want = vec![1.2f32, 1.6, 0.0, -0.5];
        for (gn, vn) in FORMS {
            let gk = format!("conv.{gn}");
            let vk = format!("conv.{vn}");
            let b = t(&[2], &[0.1, 0.2]);
            let out = float_params(&[(&gk, &g), (&vk, &v), ("conv.bias", &b)]).unwrap();
            let keys: Vec<&String> = out.keys().collect();
            assert_eq!(keys, ["conv.bias", "conv.weight"]);
            assert_eq!(out["conv.weight"].shape, vec![2, 1, 2]);
            for (a, b) in out["conv.weight"].data.iter().zip(&want) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn broken_weight_norm_pairs_are_refused() {
        let g = t(&[2, 1, 1], &[2.0, 0.5]);
        let v = t(&[2, 1, 2], &[3.0, 4.0, 0.0, -1.0]);
        let w = t(&[2, 1, 2], &[0.0; 4]);
        let zero = t(&[2, 1, 2], &[3.0, 4.0, 0.0, 0.0]);
        let g_wrong = t(&[2, 2, 1], &[1.0; 4]);
        let cases: Vec<Vec<(&str, &Tensor)>> = vec![
            vec![("a.weight_g", &g)],
            vec![("a.parametrizations.weight.original1", &v)],
            vec![("a.weight_g", &g), ("a.weight_v", &v), ("a.weight", &w)],
            vec![("a.weight_g", &g), ("a.weight_v", &zero)],
            vec![("a.weight_g", &g_wrong), ("a.weight_v", &v)],
            vec![("a.weight_g", &g), ("a.weight_g", &g), ("a.weight_v", &v)],
            vec![("a.bias", &g), ("a.bias", &g)],
        ];
        for case in cases {
            assert!(
                matches!(float_params(&case), Err(CheckpointError::BadTensor { .. })),
                "{case:?}"
            );
        }
        let ints = Tensor {
            dtype: Dtype::I64,
            shape: vec![1],
            data: vec![0; 8],
        };
        assert!(float_params(&[("step", &ints)]).is_err());
    }
}
