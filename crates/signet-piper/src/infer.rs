//! VITS hyper-parameters inferred from a Piper ONNX graph, and the parameter set checked
//! against the architecture's schema ([`signet_schema::vits`]).
//!
//! Shapes give the widths and layer counts; node attributes give what shapes cannot (the
//! decoder's upsampling strides and residual dilations). The inferred config is validated like
//! any bundle's, and the parameters found must then be exactly the schema's tensors for it.

use std::collections::BTreeMap;

use signet_schema::vits::WINDOW;
use signet_schema::{check_tensors, ArchitectureSchema, CheckedVits, SchemaError, VitsConfig};

use crate::error::PiperError;
use crate::onnx::Node;

/// What inference needs to know about one parameter: its shape and, if it feeds a convolution
/// or a lookup, the index of that node.
pub(crate) struct ParamInfo<'n, 'a> {
    pub(crate) shape: &'n [usize],
    pub(crate) node: Option<&'n Node<'a>>,
}

/// Infers the configuration from parameter shapes and node attributes.
pub(crate) fn infer_config(
    params: &BTreeMap<String, ParamInfo<'_, '_>>,
) -> Result<VitsConfig, PiperError> {
    let shape = |name: &str, rank: usize| -> Result<&[usize], PiperError> {
        let p = params.get(name).ok_or_else(|| PiperError::MissingTensor {
            tensor: name.to_owned(),
        })?;
        if p.shape.len() != rank || p.shape.contains(&0) {
            return Err(PiperError::arch(format!(
                "{name} has shape {:?}; expected {rank} non-zero dimensions",
                p.shape
            )));
        }
        Ok(p.shape)
    };
    let dim = |s: &[usize], i: usize| s.get(i).copied().unwrap_or(0);
    let count =
        |f: &dyn Fn(usize) -> String| (0..).take_while(|n| params.contains_key(&f(*n))).count();
    let node_ints = |name: &str, attr: &str, op: &str| -> Result<Vec<usize>, PiperError> {
        let node = params
            .get(name)
            .and_then(|p| p.node)
            .filter(|n| n.op_type == op)
            .ok_or_else(|| PiperError::arch(format!("{name} is not consumed by a {op} node")))?;
        let v = node.ints(attr).unwrap_or(&[1]);
        v.iter()
            .map(|x| usize::try_from(*x).ok().filter(|x| *x > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| PiperError::arch(format!("{} has bad `{attr}` {v:?}", node.name)))
    };
    let single = |name: &str, attr: &str, op: &str| -> Result<usize, PiperError> {
        match node_ints(name, attr, op)?.as_slice() {
            [v] => Ok(*v),
            other => Err(PiperError::arch(format!(
                "the node consuming {name} has `{attr}` {other:?}; expected one value"
            ))),
        }
    };

    let emb = shape("enc_p.emb.weight", 2)?;
    let (n_vocab, hidden) = (dim(emb, 0), dim(emb, 1));
    let n_layers = count(&|l| format!("enc_p.encoder.attn_layers.{l}.conv_q.weight"));
    if n_layers == 0 {
        return Err(PiperError::MissingTensor {
            tensor: "enc_p.encoder.attn_layers.0.conv_q.weight".into(),
        });
    }
    let rel = shape("enc_p.encoder.attn_layers.0.emb_rel_k", 3)?;
    if dim(rel, 1) != 2 * WINDOW + 1 {
        return Err(PiperError::arch(format!(
            "emb_rel_k spans {} positions; Signet's VITS uses a window of {WINDOW} ({})",
            dim(rel, 1),
            2 * WINDOW + 1
        )));
    }
    let head = dim(rel, 2);
    if hidden % head != 0 {
        return Err(PiperError::arch(format!(
            "head size {head} does not divide hidden_channels {hidden}"
        )));
    }
    let ffn = shape("enc_p.encoder.ffn_layers.0.conv_1.weight", 3)?;
    let proj = shape("enc_p.proj.weight", 3)?;
    if dim(proj, 0) % 2 != 0 {
        return Err(PiperError::arch(format!(
            "enc_p.proj.weight has {} output channels; expected an even number",
            dim(proj, 0)
        )));
    }

    let n_ups = count(&|u| format!("dec.ups.{u}.weight"));
    if n_ups == 0 {
        return Err(PiperError::MissingTensor {
            tensor: "dec.ups.0.weight".into(),
        });
    }
    let u0 = dim(shape("dec.conv_pre.weight", 3)?, 0);
    if u0 % (1usize << n_ups.min(usize::BITS as usize - 1)) != 0 {
        return Err(PiperError::arch(format!(
            "upsample_initial_channel {u0} cannot be halved {n_ups} times"
        )));
    }
    let mut upsample_rates = Vec::new();
    let mut upsample_kernel_sizes = Vec::new();
    for u in 0..n_ups {
        let name = format!("dec.ups.{u}.weight");
        upsample_kernel_sizes.push(dim(shape(&name, 3)?, 2));
        upsample_rates.push(single(&name, "strides", "ConvTranspose")?);
    }

    let (resblock, convs, n_convs) = if params.contains_key("dec.resblocks.0.convs1.0.weight") {
        ("1", "convs1", 3)
    } else {
        ("2", "convs", 2)
    };
    let n_res = count(&|r| format!("dec.resblocks.{r}.{convs}.0.weight"));
    if n_res == 0 || n_res % n_ups != 0 {
        return Err(PiperError::arch(format!(
            "{n_res} residual blocks for {n_ups} upsampling layers"
        )));
    }
    let nk = n_res / n_ups;
    let mut resblock_kernel_sizes = Vec::new();
    let mut resblock_dilation_sizes = Vec::new();
    for j in 0..nk {
        let name = format!("dec.resblocks.{j}.{convs}.0.weight");
        resblock_kernel_sizes.push(dim(shape(&name, 3)?, 2));
        let mut dil = Vec::new();
        for c in 0..n_convs {
            dil.push(single(
                &format!("dec.resblocks.{j}.{convs}.{c}.weight"),
                "dilations",
                "Conv",
            )?);
        }
        resblock_dilation_sizes.push(dil);
    }
    // Every block repeats the dilations of its kernel; type 1's second convolutions are undilated.
    for r in 0..n_res {
        let want = resblock_dilation_sizes
            .get(r % nk)
            .cloned()
            .unwrap_or_default();
        for (c, d) in want.iter().enumerate() {
            let name = format!("dec.resblocks.{r}.{convs}.{c}.weight");
            let found = single(&name, "dilations", "Conv")?;
            if found != *d {
                return Err(PiperError::arch(format!(
                    "{name} has dilation {found}, block {} has {d}",
                    r % nk
                )));
            }
            if resblock == "1" {
                let name = format!("dec.resblocks.{r}.convs2.{c}.weight");
                if params.contains_key(&name) && single(&name, "dilations", "Conv")? != 1 {
                    return Err(PiperError::arch(format!("{name} is dilated")));
                }
            }
        }
    }

    let (n_speakers, gin_channels) = match params.get("emb_g.weight") {
        Some(_) => {
            let s = shape("emb_g.weight", 2)?;
            (dim(s, 0), dim(s, 1))
        }
        None => (1, 0),
    };
    let use_sdp = if params.contains_key("dp.flows.0.m") || params.contains_key("dp.flows.0.logs") {
        true
    } else if params.contains_key("dp.conv_1.weight") {
        false
    } else {
        return Err(PiperError::MissingTensor {
            tensor: "dp.flows.0.m".into(),
        });
    };

    Ok(VitsConfig {
        n_vocab,
        inter_channels: dim(proj, 0) / 2,
        hidden_channels: hidden,
        filter_channels: dim(ffn, 0),
        n_heads: hidden / head,
        n_layers,
        kernel_size: dim(ffn, 2),
        resblock: resblock.to_owned(),
        resblock_kernel_sizes,
        resblock_dilation_sizes,
        upsample_rates,
        upsample_initial_channel: u0,
        upsample_kernel_sizes,
        n_speakers,
        gin_channels,
        use_sdp,
        // Piper's predictor is as wide as the encoder.
        sdp_channels: None,
        n_languages: None,
        language_channels: None,
        latent_upsampling: None,
    })
}

/// A schema error in the importer's terms.
pub(crate) fn from_schema(e: SchemaError) -> PiperError {
    match e {
        SchemaError::MissingTensor { tensor } => PiperError::MissingTensor { tensor },
        SchemaError::UnexpectedTensor { tensor } => PiperError::UnexpectedTensor {
            tensor,
            reason: "not a parameter of VITS with the inferred configuration".to_owned(),
        },
        SchemaError::ShapeMismatch {
            tensor,
            expected,
            found,
        } => PiperError::ShapeMismatch {
            tensor,
            expected,
            found,
        },
        other => PiperError::arch(other.to_string()),
    }
}

/// Validates the inferred configuration and compares the parameters found with the tensors the
/// schema declares for it; a convolution's declared kernel must also match its weight.
pub(crate) fn check_parameters(
    config: &VitsConfig,
    params: &BTreeMap<String, ParamInfo<'_, '_>>,
) -> Result<CheckedVits, PiperError> {
    let checked = config.validate().map_err(from_schema)?;
    let declared = checked.tensors();
    check_tensors(&declared, params.iter().map(|(n, p)| (n.as_str(), p.shape)))
        .map_err(from_schema)?;
    for spec in &declared {
        let node = params.get(&spec.name).and_then(|p| p.node);
        if let (Some(node), Some(k)) = (node, spec.shape.get(2)) {
            if let Some(ks) = node.ints("kernel_shape") {
                if spec.name.ends_with(".weight") && ks != [*k as i64] {
                    return Err(PiperError::arch(format!(
                        "{} declares kernel_shape {ks:?} but {} has kernel {k}",
                        node.name, spec.name
                    )));
                }
            }
        }
    }
    Ok(checked)
}
