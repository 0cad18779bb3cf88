//! A checkpoint's state dict as named F32 tensors: floating dtypes widened, values checked
//! finite, and weight norm folded in both of PyTorch's forms (`weight_g`/`weight_v` of the old
//! `torch.nn.utils.weight_norm`, `parametrizations.weight.original0/1` of the new one):
//! `weight = g · v / ‖v‖`, the norm taken over every dimension but the first (`dim=0`, what
//! Coqui uses), or over the whole tensor when `g` is a single value (`dim=None`).

use std::collections::BTreeMap;

use signet_checkpoint::Tensor;

use crate::CoquiError;

/// One parameter ready for a bundle: Coqui's name (after folding), shape, values.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The state dict by name, weight norm folded; names keep Coqui's spelling (`X.weight` for a
/// folded pair).
pub type Params = BTreeMap<String, Param>;

const NEW_G: &str = ".parametrizations.weight.original0";
const NEW_V: &str = ".parametrizations.weight.original1";
const OLD_G: &str = ".weight_g";
const OLD_V: &str = ".weight_v";

fn floats(name: &str, t: &Tensor) -> Result<Vec<f32>, CoquiError> {
    let values = t.to_f32().ok_or_else(|| CoquiError::BadTensor {
        tensor: name.to_owned(),
        reason: format!("{:?} is not a floating-point type", t.dtype),
    })?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(CoquiError::BadTensor {
            tensor: name.to_owned(),
            reason: "holds a value that is not finite".into(),
        });
    }
    Ok(values)
}

/// Collects `state` (file order, names unique) into [`Params`], folding weight norm. A lone
/// half of a pair, a name given twice (in either form), or a `g` whose shape fits no norm
/// dimension of its `v` is refused.
pub fn collect(state: &[(&str, &Tensor)]) -> Result<Params, CoquiError> {
    let mut out = Params::new();
    let mut halves: BTreeMap<String, (Option<&Tensor>, Option<&Tensor>, &str)> = BTreeMap::new();
    for &(name, t) in state {
        let split = [(NEW_G, true), (NEW_V, false), (OLD_G, true), (OLD_V, false)]
            .into_iter()
            .find_map(|(suffix, is_g)| name.strip_suffix(suffix).map(|base| (base, is_g)));
        if let Some((base, is_g)) = split {
            let entry = halves
                .entry(format!("{base}.weight"))
                .or_insert((None, None, name));
            let slot = if is_g { &mut entry.0 } else { &mut entry.1 };
            if slot.replace(t).is_some() {
                return Err(CoquiError::UnexpectedTensor {
                    tensor: name.to_owned(),
                    reason: "a weight-norm half given twice".into(),
                });
            }
            continue;
        }
        let param = Param {
            shape: t.shape.clone(),
            values: floats(name, t)?,
        };
        if out.insert(name.to_owned(), param).is_some() {
            return Err(CoquiError::UnexpectedTensor {
                tensor: name.to_owned(),
                reason: "given twice".into(),
            });
        }
    }
    for (weight, (g, v, first)) in halves {
        let (Some(g), Some(v)) = (g, v) else {
            return Err(CoquiError::UnexpectedTensor {
                tensor: first.to_owned(),
                reason: "one half of a weight-norm pair without the other".into(),
            });
        };
        let folded = fold(&weight, g, v)?;
        if out.insert(weight.clone(), folded).is_some() {
            return Err(CoquiError::UnexpectedTensor {
                tensor: weight,
                reason: "given both plainly and as a weight-norm pair".into(),
            });
        }
    }
    Ok(out)
}

/// `g · v / ‖v‖` for the parameter `name`.
fn fold(name: &str, g: &Tensor, v: &Tensor) -> Result<Param, CoquiError> {
    let gv = floats(name, g)?;
    let vv = floats(name, v)?;
    let rows = v.shape.first().copied().unwrap_or(1);
    let per_row = g.shape.len() == v.shape.len()
        && g.shape.first() == Some(&rows)
        && g.shape.iter().skip(1).all(|&d| d == 1);
    let whole = gv.len() == 1 && g.shape.iter().all(|&d| d == 1);
    let groups = if per_row {
        rows
    } else if whole {
        1
    } else {
        return Err(CoquiError::ShapeMismatch {
            tensor: format!("{name} (weight-norm g)"),
            expected: std::iter::once(rows)
                .chain(std::iter::repeat_n(1, v.shape.len().saturating_sub(1)))
                .collect(),
            found: g.shape.clone(),
        });
    };
    if groups == 0 || vv.is_empty() || vv.len() % groups != 0 {
        return Err(CoquiError::BadTensor {
            tensor: name.to_owned(),
            reason: "an empty weight-norm direction".into(),
        });
    }
    let len = vv.len() / groups;
    let mut values = Vec::with_capacity(vv.len());
    for (row, scale) in vv.chunks_exact(len).zip(&gv) {
        let norm = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        // A zero direction has no norm; torch divides by zero there, Signet keeps zeros.
        let k = if norm > 0.0 {
            f64::from(*scale) / norm
        } else {
            0.0
        };
        values.extend(row.iter().map(|&x| (f64::from(x) * k) as f32));
    }
    Ok(Param {
        shape: v.shape.clone(),
        values,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use signet_checkpoint::Dtype;

    use super::*;

    fn t(shape: &[usize], values: &[f32]) -> Tensor {
        Tensor {
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn weight_norm_folds_per_output_row_in_both_forms() {
        let g = t(&[2, 1, 1], &[2.0, 10.0]);
        let v = t(&[2, 1, 2], &[3.0, 4.0, 0.0, -1.0]);
        let bias = t(&[2], &[0.5, 0.25]);
        let new = collect(&[
            ("conv.bias", &bias),
            ("conv.parametrizations.weight.original0", &g),
            ("conv.parametrizations.weight.original1", &v),
        ])
        .unwrap();
        let old = collect(&[
            ("conv.weight_g", &g),
            ("conv.weight_v", &v),
            ("conv.bias", &bias),
        ])
        .unwrap();
        assert_eq!(new, old);
        let w = &new["conv.weight"];
        assert_eq!(w.shape, [2, 1, 2]);
        assert_eq!(w.values, [1.2, 1.6, 0.0, -10.0]);
        assert_eq!(new["conv.bias"].values, [0.5, 0.25]);
        assert_eq!(new.len(), 2);
    }

    #[test]
    fn weight_norm_over_the_whole_tensor_with_a_scalar_g() {
        let g = t(&[], &[5.0]);
        let v = t(&[2, 1], &[3.0, 4.0]);
        let p = collect(&[("l.weight_g", &g), ("l.weight_v", &v)]).unwrap();
        assert_eq!(p["l.weight"].values, [3.0, 4.0]);
    }

    #[test]
    fn lone_or_doubled_weight_norm_halves_are_refused() {
        let g = t(&[1, 1, 1], &[1.0]);
        let v = t(&[1, 1, 1], &[1.0]);
        let err = collect(&[("c.weight_g", &g)]).unwrap_err();
        assert!(err.to_string().contains("without the other"), "{err}");
        let err = collect(&[
            ("c.weight_g", &g),
            ("c.parametrizations.weight.original0", &g),
            ("c.weight_v", &v),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let err = collect(&[("c.weight", &v), ("c.weight_g", &g), ("c.weight_v", &v)]).unwrap_err();
        assert!(err.to_string().contains("plainly"), "{err}");
        let empty = t(&[0, 1, 1], &[]);
        let err = collect(&[("c.weight_g", &t(&[], &[1.0])), ("c.weight_v", &empty)]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let bad_g = t(&[2, 1, 1], &[1.0, 1.0]);
        let err = collect(&[("c.weight_g", &bad_g), ("c.weight_v", &v)]).unwrap_err();
        assert!(matches!(err, CoquiError::ShapeMismatch { .. }), "{err}");
    }

    #[test]
    fn integer_and_non_finite_parameters_are_refused() {
        let ints = Tensor {
            dtype: Dtype::I64,
            shape: vec![1],
            data: 7i64.to_le_bytes().to_vec(),
        };
        let err = collect(&[("x.weight", &ints)]).unwrap_err();
        assert!(err.to_string().contains("not a floating-point"), "{err}");
        let nan = t(&[1], &[f32::NAN]);
        let err = collect(&[("x.weight", &nan)]).unwrap_err();
        assert!(err.to_string().contains("not finite"), "{err}");
    }
}
