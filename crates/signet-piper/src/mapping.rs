//! From ONNX initializers to named VITS parameters.
//!
//! Initializers with a parameter-like name (`enc_p.proj.weight`) keep it. Anonymous ones
//! (`onnx::Conv_8168`) are named after the node that consumes them: input 1 of
//! `/flow/flows.0/enc/in_layers.0/Conv` is `flow.flows.0.enc.in_layers.0.weight`, input 2 its
//! `.bias`, input 0 of a `Gather` an embedding `.weight` (this is how the oddly named `sid`
//! becomes `enc_p.emb.weight`). A folded `/<module>/Exp_output_0` consumed by `Mul` is
//! `exp(-logs)` of the module's `ElementwiseAffine` (reverse direction, `(x - m) * exp(-logs)`),
//! consumed by `Div` it is `exp(logs)`; either way it is turned back into `<module>.logs`.
//! Everything else is a graph constant (shapes, axes, pads, scalars) and is skipped, except a
//! floating-point tensor with more than one element, which would be a parameter the importer
//! does not understand and is refused. Parameters that only training uses are dropped
//! ([`signet_schema::vits::TRAINING_ONLY`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use signet_schema::vits::TRAINING_ONLY;
use signet_schema::CheckedVits;

use crate::error::PiperError;
use crate::infer::{check_parameters, infer_config, ParamInfo};
use crate::onnx::{Graph, Node, Tensor, DATA_TYPE_FLOAT};

/// ONNX floating-point data types: FLOAT, FLOAT16, DOUBLE, BFLOAT16.
const FLOAT_TYPES: &[i32] = &[1, 10, 11, 16];

/// A parameter ready to be written: F32 little-endian bytes.
pub(crate) struct Param<'a> {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Cow<'a, [u8]>,
    /// Index of the node that consumes it as a parameter, if any.
    pub(crate) node: Option<usize>,
}

/// The parameters of a model and what was inferred from them.
pub(crate) struct Extracted<'a> {
    pub(crate) params: BTreeMap<String, Param<'a>>,
    pub(crate) config: CheckedVits,
    /// Training-only parameters that were present and dropped.
    pub(crate) dropped: usize,
    /// Graph constants that were skipped.
    pub(crate) constants: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    Identity,
    /// Value is `exp(-p)`: `p = -ln(v)`.
    NegLn,
    /// Value is `exp(p)`: `p = ln(v)`.
    Ln,
}

fn is_param_like(name: &str) -> bool {
    name.contains('.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// `/flow/flows.0/enc/in_layers.0/Conv` → `flow.flows.0.enc.in_layers.0`.
fn module_of(node_name: &str) -> Option<String> {
    let path = node_name.strip_prefix('/')?;
    let (module, _op) = path.rsplit_once('/')?;
    let dotted = module.replace('/', ".");
    is_param_like(&format!("{dotted}.x")).then_some(dotted)
}

/// `/dp/flows.0/Exp_output_0` → `dp.flows.0`.
fn folded_exp_module(init_name: &str) -> Option<String> {
    let stem = init_name.strip_suffix("_output_0")?;
    let (_, op) = stem.rsplit_once('/')?;
    let is_exp = op == "Exp"
        || op
            .strip_prefix("Exp_")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !is_exp {
        return None;
    }
    module_of(stem)
}

/// The parameter name implied by how the graph consumes `init`, with its value transform.
fn derived_name(
    init: &Tensor<'_>,
    consumers: &[(usize, usize)],
    nodes: &[Node<'_>],
) -> Result<Option<(String, Transform, usize)>, PiperError> {
    let mut found: Option<(String, Transform, usize)> = None;
    for &(ni, slot) in consumers {
        let Some(node) = nodes.get(ni) else { continue };
        let candidate = match (node.op_type, slot) {
            ("Conv" | "ConvTranspose", 1) => {
                module_of(node.name).map(|m| (format!("{m}.weight"), Transform::Identity))
            }
            ("Conv" | "ConvTranspose", 2) => {
                module_of(node.name).map(|m| (format!("{m}.bias"), Transform::Identity))
            }
            ("Gather", 0) => {
                module_of(node.name).map(|m| (format!("{m}.weight"), Transform::Identity))
            }
            ("Mul", _) => {
                folded_exp_module(init.name).map(|m| (format!("{m}.logs"), Transform::NegLn))
            }
            ("Div", _) => {
                folded_exp_module(init.name).map(|m| (format!("{m}.logs"), Transform::Ln))
            }
            _ => None,
        };
        let param_slot = matches!(
            (node.op_type, slot),
            ("Conv" | "ConvTranspose", 1 | 2) | ("Gather", 0)
        );
        let Some((name, transform)) = candidate else {
            if param_slot {
                return Err(PiperError::UnexpectedTensor {
                    tensor: init.name.to_owned(),
                    reason: format!(
                        "consumed as a parameter by node {:?}, whose name gives no module path",
                        node.name
                    ),
                });
            }
            continue;
        };
        match &found {
            Some((prev, t, _)) if *prev != name || *t != transform => {
                return Err(PiperError::UnexpectedTensor {
                    tensor: init.name.to_owned(),
                    reason: format!("consumed both as {prev} and as {name}"),
                })
            }
            Some(_) => {}
            None => found = Some((name, transform, ni)),
        }
    }
    Ok(found)
}

fn dims_of(t: &Tensor<'_>, label: &str) -> Result<(Vec<usize>, usize), PiperError> {
    let bad = |reason: String| PiperError::BadTensorData {
        tensor: label.to_owned(),
        reason,
    };
    let shape = t
        .dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| bad(format!("negative dimension {d}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let numel = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    Ok((shape, numel))
}

/// F32 little-endian bytes of a FLOAT initializer, after `transform`; borrowed when possible.
fn float_bytes<'a>(
    t: &Tensor<'a>,
    name: &str,
    numel: usize,
    transform: Transform,
) -> Result<Cow<'a, [u8]>, PiperError> {
    let bad = |reason: String| PiperError::BadTensorData {
        tensor: name.to_owned(),
        reason,
    };
    if t.data_type != DATA_TYPE_FLOAT {
        return Err(PiperError::NonFloatParameter {
            tensor: name.to_owned(),
            data_type: t.data_type,
        });
    }
    if t.external {
        return Err(PiperError::UnsupportedOnnx {
            reason: format!("external data for tensor {name:?}"),
        });
    }
    let want = numel
        .checked_mul(4)
        .ok_or_else(|| bad("size overflows".to_owned()))?;
    let bytes: Cow<'a, [u8]> = match t.raw_data {
        Some(raw) if t.float_data.is_empty() => {
            if raw.len() != want {
                return Err(bad(format!(
                    "{} bytes of raw data, shape needs {want}",
                    raw.len()
                )));
            }
            Cow::Borrowed(raw)
        }
        Some(_) => return Err(bad("both raw_data and float_data are set".to_owned())),
        None => {
            if t.float_data.len() != numel {
                return Err(bad(format!(
                    "{} float_data values, shape needs {numel}",
                    t.float_data.len()
                )));
            }
            Cow::Owned(t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    };
    let values = bytes
        .chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .map(f32::from_le_bytes);
    if let Some(v) = values.clone().find(|v| !v.is_finite()) {
        return Err(bad(format!("non-finite value {v}")));
    }
    match transform {
        Transform::Identity => Ok(bytes),
        Transform::NegLn | Transform::Ln => {
            let mut out = Vec::with_capacity(bytes.len());
            for v in values {
                if v <= 0.0 {
                    return Err(bad(format!(
                        "folded exp() holds {v}, which is not positive"
                    )));
                }
                let ln = f64::from(v).ln();
                let p = if transform == Transform::NegLn {
                    -ln
                } else {
                    ln
                } as f32;
                out.extend_from_slice(&p.to_le_bytes());
            }
            Ok(Cow::Owned(out))
        }
    }
}

/// Maps every initializer, infers the configuration and checks the full parameter set.
pub(crate) fn extract<'a>(graph: &Graph<'a>) -> Result<Extracted<'a>, PiperError> {
    let mut consumers: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (ni, node) in graph.nodes.iter().enumerate() {
        for (slot, input) in node.inputs.iter().enumerate() {
            if !input.is_empty() {
                consumers.entry(input).or_default().push((ni, slot));
            }
        }
    }

    let mut params: BTreeMap<String, Param<'a>> = BTreeMap::new();
    let mut sources: HashMap<String, &str> = HashMap::new();
    let mut seen_inits = std::collections::HashSet::new();
    let (mut dropped, mut constants) = (0, 0);
    for init in &graph.initializers {
        if !seen_inits.insert(init.name) {
            return Err(PiperError::UnexpectedTensor {
                tensor: init.name.to_owned(),
                reason: "two initializers share this name".to_owned(),
            });
        }
        let uses = consumers
            .get(init.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let derived = derived_name(init, uses, &graph.nodes)?;
        let own = is_param_like(init.name).then_some(init.name);
        let (name, transform, node) = match (own, derived) {
            (Some(o), Some((d, _, _))) if o != d => {
                return Err(PiperError::UnexpectedTensor {
                    tensor: o.to_owned(),
                    reason: format!("the graph consumes it as {d}"),
                })
            }
            (Some(o), Some((_, t, n))) => (o.to_owned(), t, Some(n)),
            (Some(o), None) => (o.to_owned(), Transform::Identity, None),
            (None, Some((d, t, n))) => (d, t, Some(n)),
            (None, None) => {
                let (_, numel) = dims_of(init, init.name)?;
                if FLOAT_TYPES.contains(&init.data_type) && numel > 1 {
                    return Err(PiperError::UnexpectedTensor {
                        tensor: init.name.to_owned(),
                        reason: "a floating-point tensor that no node consumes as a parameter"
                            .to_owned(),
                    });
                }
                constants += 1;
                continue;
            }
        };
        if TRAINING_ONLY.iter().any(|p| name.starts_with(p)) {
            dropped += 1;
            continue;
        }
        if let Some(prev) = sources.insert(name.clone(), init.name) {
            return Err(PiperError::UnexpectedTensor {
                tensor: init.name.to_owned(),
                reason: format!("maps to {name}, which initializer {prev:?} already provides"),
            });
        }
        let (shape, numel) = dims_of(init, &name)?;
        let data = float_bytes(init, &name, numel, transform)?;
        params.insert(name, Param { shape, data, node });
    }

    let infos: BTreeMap<String, ParamInfo<'_, 'a>> = params
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                ParamInfo {
                    shape: &p.shape,
                    node: p.node.and_then(|i| graph.nodes.get(i)),
                },
            )
        })
        .collect();
    let config = check_parameters(&infer_config(&infos)?, &infos)?;
    drop(infos);
    Ok(Extracted {
        params,
        config,
        dropped,
        constants,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            module_of("/flow/flows.0/enc/in_layers.0/Conv").as_deref(),
            Some("flow.flows.0.enc.in_layers.0")
        );
        assert_eq!(module_of("/enc_p/emb/Gather").as_deref(), Some("enc_p.emb"));
        assert_eq!(module_of("Conv_12"), None);
        assert_eq!(module_of("/Conv"), None);
        assert_eq!(module_of("/a b/Conv"), None);
        assert_eq!(
            folded_exp_module("/dp/flows.0/Exp_output_0").as_deref(),
            Some("dp.flows.0")
        );
        assert_eq!(
            folded_exp_module("/dp/flows.0/Exp_3_output_0").as_deref(),
            Some("dp.flows.0")
        );
        assert_eq!(folded_exp_module("/dp/flows.0/Expand_output_0"), None);
        assert_eq!(folded_exp_module("/dp/flows.0/Exp_x_output_0"), None);
        assert!(is_param_like("enc_p.proj.weight"));
        for not in ["sid", "onnx::Conv_1", "/a/b", "6549", "a..b", ".a", "a."] {
            assert!(!is_param_like(not), "{not}");
        }
    }

    #[test]
    fn folded_exp_round_trips() {
        let logs = [0.25f32, -0.5];
        let folded: Vec<u8> = logs.iter().flat_map(|l| (-l).exp().to_le_bytes()).collect();
        let t = Tensor {
            name: "/dp/flows.0/Exp_output_0",
            dims: vec![2, 1],
            data_type: 1,
            raw_data: Some(&folded),
            ..Tensor::default()
        };
        let back = float_bytes(&t, "dp.flows.0.logs", 2, Transform::NegLn).unwrap();
        let back: Vec<f32> = back
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        for (a, b) in logs.iter().zip(&back) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let zero = 0f32.to_le_bytes();
        let t = Tensor {
            raw_data: Some(&zero),
            dims: vec![1],
            ..t
        };
        assert!(matches!(
            float_bytes(&t, "x", 1, Transform::NegLn),
            Err(PiperError::BadTensorData { .. })
        ));
    }
}
