//! The VITS (`SynthesizerTrn`) parameter schema as Piper exports it: hyper-parameters inferred
//! from tensor shapes and node attributes, and the full list of inference parameters with the
//! shapes those hyper-parameters imply.
//!
//! Architecture: Kim et al., "Conditional Variational Autoencoder with Adversarial Learning for
//! End-to-End Text-to-Speech" (2021); parameter names follow the reference `SynthesizerTrn`.
//! Only what inference uses is listed: no posterior encoder (`enc_q`), no duration-predictor
//! posterior (`dp.post_*`), and no `dp.flows.1`, which reverse-mode inference drops.

use std::collections::BTreeMap;

use crate::error::PiperError;
use crate::onnx::Node;

/// Relative-attention window of the text encoder.
pub const WINDOW: usize = 4;
/// Channels of the stochastic duration predictor.
pub const SDP_FILTER: usize = 192;
/// Flows of the stochastic duration predictor.
pub const SDP_FLOWS: usize = 4;
/// Layers of each dilated depth-separable convolution stack.
pub const DDS_LAYERS: usize = 3;
/// Kernel of the duration predictors' convolutions.
pub const DP_KERNEL: usize = 3;
/// Spline bins of each `ConvFlow`.
pub const NUM_BINS: usize = 10;
/// Channels of the deterministic duration predictor.
pub const DP_FILTER: usize = 256;
/// Coupling layers of the prior flow.
pub const FLOW_COUPLINGS: usize = 4;
/// Kernel of the flow's WaveNet layers.
pub const WN_KERNEL: usize = 5;
/// Layers of the flow's WaveNet.
pub const WN_LAYERS: usize = 4;
/// Kernel of the decoder's first and last convolution.
pub const DEC_CONV_KERNEL: usize = 7;

/// Hyper-parameters of a Piper VITS voice (upstream `SynthesizerTrn` names).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VitsConfig {
    /// Phoneme-id vocabulary size.
    pub n_vocab: usize,
    /// Latent channels.
    pub inter_channels: usize,
    /// Text-encoder and flow channels.
    pub hidden_channels: usize,
    /// Text-encoder feed-forward channels.
    pub filter_channels: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Text-encoder layers.
    pub n_layers: usize,
    /// Text-encoder feed-forward kernel.
    pub kernel_size: usize,
    /// HiFi-GAN residual block type, `"1"` or `"2"`.
    pub resblock: String,
    /// Residual block kernels.
    pub resblock_kernel_sizes: Vec<usize>,
    /// Residual block dilations, one list per kernel.
    pub resblock_dilation_sizes: Vec<Vec<usize>>,
    /// Upsampling factors.
    pub upsample_rates: Vec<usize>,
    /// Channels before the first upsampling.
    pub upsample_initial_channel: usize,
    /// Upsampling kernels.
    pub upsample_kernel_sizes: Vec<usize>,
    /// Speakers (1 for single-speaker voices).
    pub n_speakers: usize,
    /// Speaker-embedding channels (0 for single-speaker voices).
    pub gin_channels: usize,
    /// Whether the stochastic duration predictor is used.
    pub use_sdp: bool,
}

impl VitsConfig {
    /// The `architecture.config` table of a bundle manifest.
    pub fn to_table(&self) -> toml::Table {
        fn int(v: usize) -> toml::Value {
            toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX))
        }
        fn ints(v: &[usize]) -> toml::Value {
            toml::Value::Array(v.iter().map(|x| int(*x)).collect())
        }
        let mut t = toml::Table::new();
        t.insert("n_vocab".into(), int(self.n_vocab));
        t.insert("inter_channels".into(), int(self.inter_channels));
        t.insert("hidden_channels".into(), int(self.hidden_channels));
        t.insert("filter_channels".into(), int(self.filter_channels));
        t.insert("n_heads".into(), int(self.n_heads));
        t.insert("n_layers".into(), int(self.n_layers));
        t.insert("kernel_size".into(), int(self.kernel_size));
        t.insert(
            "resblock".into(),
            toml::Value::String(self.resblock.clone()),
        );
        t.insert(
            "resblock_kernel_sizes".into(),
            ints(&self.resblock_kernel_sizes),
        );
        t.insert(
            "resblock_dilation_sizes".into(),
            toml::Value::Array(
                self.resblock_dilation_sizes
                    .iter()
                    .map(|d| ints(d))
                    .collect(),
            ),
        );
        t.insert("upsample_rates".into(), ints(&self.upsample_rates));
        t.insert(
            "upsample_initial_channel".into(),
            int(self.upsample_initial_channel),
        );
        t.insert(
            "upsample_kernel_sizes".into(),
            ints(&self.upsample_kernel_sizes),
        );
        t.insert("n_speakers".into(), int(self.n_speakers));
        t.insert("gin_channels".into(), int(self.gin_channels));
        t.insert("use_sdp".into(), toml::Value::Boolean(self.use_sdp));
        t
    }

    /// Every inference parameter with the shape this configuration implies.
    pub fn expected_parameters(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        let mut add = |name: String, shape: &[usize]| out.push((name, shape.to_vec()));
        let (h, f, i, k, g) = (
            self.hidden_channels,
            self.filter_channels,
            self.inter_channels,
            self.kernel_size,
            self.gin_channels,
        );
        let conv =
            |add: &mut dyn FnMut(String, &[usize]), p: &str, o: usize, i: usize, k: usize| {
                add(format!("{p}.weight"), &[o, i, k]);
                add(format!("{p}.bias"), &[o]);
            };
        let norm = |add: &mut dyn FnMut(String, &[usize]), p: &str, c: usize| {
            add(format!("{p}.gamma"), &[c]);
            add(format!("{p}.beta"), &[c]);
        };

        // Text encoder.
        add("enc_p.emb.weight".into(), &[self.n_vocab, h]);
        for l in 0..self.n_layers {
            let a = format!("enc_p.encoder.attn_layers.{l}");
            let head = h / self.n_heads.max(1);
            add(format!("{a}.emb_rel_k"), &[1, 2 * WINDOW + 1, head]);
            add(format!("{a}.emb_rel_v"), &[1, 2 * WINDOW + 1, head]);
            for q in ["q", "k", "v", "o"] {
                conv(&mut add, &format!("{a}.conv_{q}"), h, h, 1);
            }
            norm(&mut add, &format!("enc_p.encoder.norm_layers_1.{l}"), h);
            let ffn = format!("enc_p.encoder.ffn_layers.{l}");
            conv(&mut add, &format!("{ffn}.conv_1"), f, h, k);
            conv(&mut add, &format!("{ffn}.conv_2"), h, f, k);
            norm(&mut add, &format!("enc_p.encoder.norm_layers_2.{l}"), h);
        }
        conv(&mut add, "enc_p.proj", i.saturating_mul(2), h, 1);

        // Decoder (HiFi-GAN generator).
        let u0 = self.upsample_initial_channel;
        conv(&mut add, "dec.conv_pre", u0, i, DEC_CONV_KERNEL);
        let nk = self.resblock_kernel_sizes.len();
        let mut ch = u0;
        for (u, ku) in self.upsample_kernel_sizes.iter().enumerate() {
            let out_ch = ch / 2;
            // ConvTranspose1d weights are [in, out, k]; the bias has `out` entries.
            add(format!("dec.ups.{u}.weight"), &[ch, out_ch, *ku]);
            add(format!("dec.ups.{u}.bias"), &[out_ch]);
            for (j, kj) in self.resblock_kernel_sizes.iter().enumerate() {
                let r = format!("dec.resblocks.{}", u * nk + j);
                let n = self.resblock_dilation_sizes.get(j).map_or(0, Vec::len);
                if self.resblock == "1" {
                    for c in 0..n {
                        conv(&mut add, &format!("{r}.convs1.{c}"), out_ch, out_ch, *kj);
                    }
                    for c in 0..n {
                        conv(&mut add, &format!("{r}.convs2.{c}"), out_ch, out_ch, *kj);
                    }
                } else {
                    for c in 0..n {
                        conv(&mut add, &format!("{r}.convs.{c}"), out_ch, out_ch, *kj);
                    }
                }
            }
            ch = out_ch;
        }
        add("dec.conv_post.weight".into(), &[1, ch, DEC_CONV_KERNEL]);
        if g > 0 {
            conv(&mut add, "dec.cond", u0, g, 1);
        }

        // Prior flow: coupling layers at even indices, parameter-free flips in between.
        let h2 = h.saturating_mul(2);
        for c in 0..FLOW_COUPLINGS {
            let p = format!("flow.flows.{}", 2 * c);
            conv(&mut add, &format!("{p}.pre"), h, i / 2, 1);
            for l in 0..WN_LAYERS {
                conv(
                    &mut add,
                    &format!("{p}.enc.in_layers.{l}"),
                    h2,
                    h,
                    WN_KERNEL,
                );
                let rs = if l + 1 < WN_LAYERS { h2 } else { h };
                conv(&mut add, &format!("{p}.enc.res_skip_layers.{l}"), rs, h, 1);
            }
            if g > 0 {
                conv(
                    &mut add,
                    &format!("{p}.enc.cond_layer"),
                    h2.saturating_mul(WN_LAYERS),
                    g,
                    1,
                );
            }
            conv(&mut add, &format!("{p}.post"), i / 2, h, 1);
        }

        // Duration predictor.
        let dds = |add: &mut dyn FnMut(String, &[usize]), p: &str, c: usize| {
            for l in 0..DDS_LAYERS {
                add(format!("{p}.convs_sep.{l}.weight"), &[c, 1, DP_KERNEL]);
                add(format!("{p}.convs_sep.{l}.bias"), &[c]);
                add(format!("{p}.convs_1x1.{l}.weight"), &[c, c, 1]);
                add(format!("{p}.convs_1x1.{l}.bias"), &[c]);
                add(format!("{p}.norms_1.{l}.gamma"), &[c]);
                add(format!("{p}.norms_1.{l}.beta"), &[c]);
                add(format!("{p}.norms_2.{l}.gamma"), &[c]);
                add(format!("{p}.norms_2.{l}.beta"), &[c]);
            }
        };
        if self.use_sdp {
            let c = SDP_FILTER;
            conv(&mut add, "dp.pre", c, h, 1);
            conv(&mut add, "dp.proj", c, c, 1);
            dds(&mut add, "dp.convs", c);
            if g > 0 {
                conv(&mut add, "dp.cond", c, g, 1);
            }
            add("dp.flows.0.m".into(), &[2, 1]);
            add("dp.flows.0.logs".into(), &[2, 1]);
            // ConvFlows sit at odd indices; inference drops the first one (index 1).
            for n in 1..SDP_FLOWS {
                let p = format!("dp.flows.{}", 2 * n + 1);
                conv(&mut add, &format!("{p}.pre"), c, 1, 1);
                dds(&mut add, &format!("{p}.convs"), c);
                conv(&mut add, &format!("{p}.proj"), 3 * NUM_BINS - 1, c, 1);
            }
        } else {
            let c = DP_FILTER;
            conv(&mut add, "dp.conv_1", c, h, DP_KERNEL);
            norm(&mut add, "dp.norm_1", c);
            conv(&mut add, "dp.conv_2", c, c, DP_KERNEL);
            norm(&mut add, "dp.norm_2", c);
            conv(&mut add, "dp.proj", 1, c, 1);
            if g > 0 {
                conv(&mut add, "dp.cond", h, g, 1);
            }
        }
        if self.n_speakers > 1 {
            add("emb_g.weight".into(), &[self.n_speakers, g]);
        }
        out
    }
}

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
    })
}

/// Compares the parameters found with the ones the configuration implies.
pub(crate) fn check_parameters(
    config: &VitsConfig,
    params: &BTreeMap<String, ParamInfo<'_, '_>>,
) -> Result<(), PiperError> {
    let expected: BTreeMap<String, Vec<usize>> = config.expected_parameters().into_iter().collect();
    if let Some(name) = params.keys().find(|n| !expected.contains_key(*n)) {
        return Err(PiperError::UnexpectedTensor {
            tensor: name.clone(),
            reason: "not a parameter of VITS with the inferred configuration".to_owned(),
        });
    }
    for (name, want) in &expected {
        let p = params.get(name).ok_or_else(|| PiperError::MissingTensor {
            tensor: name.clone(),
        })?;
        if p.shape != want.as_slice() {
            return Err(PiperError::ShapeMismatch {
                tensor: name.clone(),
                expected: want.clone(),
                found: p.shape.to_vec(),
            });
        }
        // A convolution's declared kernel must match its weight.
        if let Some(node) = p.node {
            if let (Some(ks), Some(k)) = (node.ints("kernel_shape"), want.get(2)) {
                if name.ends_with(".weight") && ks != [*k as i64] {
                    return Err(PiperError::arch(format!(
                        "{} declares kernel_shape {ks:?} but {name} has kernel {k}",
                        node.name
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    pub(crate) fn joe() -> VitsConfig {
        VitsConfig {
            n_vocab: 256,
            inter_channels: 192,
            hidden_channels: 192,
            filter_channels: 768,
            n_heads: 2,
            n_layers: 6,
            kernel_size: 3,
            resblock: "2".into(),
            resblock_kernel_sizes: vec![3, 5, 7],
            resblock_dilation_sizes: vec![vec![1, 2], vec![2, 6], vec![3, 12]],
            upsample_rates: vec![8, 8, 4],
            upsample_initial_channel: 256,
            upsample_kernel_sizes: vec![16, 16, 8],
            n_speakers: 1,
            gin_channels: 0,
            use_sdp: true,
        }
    }

    #[test]
    fn schema_of_a_medium_voice() {
        let p: BTreeMap<_, _> = joe().expected_parameters().into_iter().collect();
        assert_eq!(p["dec.ups.0.weight"], [256, 128, 16]);
        assert_eq!(p["dec.ups.0.bias"], [128]);
        assert_eq!(p["dec.ups.2.weight"], [64, 32, 8]);
        assert_eq!(p["dec.resblocks.8.convs.1.weight"], [32, 32, 7]);
        assert_eq!(p["dec.conv_post.weight"], [1, 32, 7]);
        assert_eq!(
            p["flow.flows.6.enc.res_skip_layers.3.weight"],
            [192, 192, 1]
        );
        assert_eq!(p["dp.flows.7.proj.weight"], [29, 192, 1]);
        assert_eq!(p["enc_p.encoder.attn_layers.5.emb_rel_v"], [1, 9, 96]);
        assert!(!p.contains_key("dp.flows.1.pre.weight"));
        assert!(!p.contains_key("emb_g.weight"));
        let table = joe().to_table();
        assert_eq!(table.len(), 16);
        assert_eq!(table["resblock"].as_str(), Some("2"));
    }

    #[test]
    fn multi_speaker_and_resblock_1_schema() {
        let mut c = joe();
        c.n_speakers = 4;
        c.gin_channels = 512;
        c.resblock = "1".into();
        c.resblock_dilation_sizes = vec![vec![1, 3, 5]; 3];
        c.use_sdp = false;
        let p: BTreeMap<_, _> = c.expected_parameters().into_iter().collect();
        assert_eq!(p["emb_g.weight"], [4, 512]);
        assert_eq!(p["dec.cond.weight"], [256, 512, 1]);
        assert_eq!(p["flow.flows.0.enc.cond_layer.weight"], [1536, 512, 1]);
        assert_eq!(p["dec.resblocks.0.convs2.2.weight"], [128, 128, 3]);
        assert_eq!(p["dp.conv_1.weight"], [256, 192, 3]);
        assert_eq!(p["dp.cond.weight"], [192, 512, 1]);
    }
}
