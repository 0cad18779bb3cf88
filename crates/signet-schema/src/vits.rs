//! VITS (`SynthesizerTrn`) as Piper trains and exports it: the config, the constants upstream
//! hard-codes, and the inference tensors.
//!
//! Follows Kim, Kong and Son (2021), "Conditional Variational Autoencoder with Adversarial
//! Learning for End-to-End Text-to-Speech", reference implementation jaywalnut310/vits
//! (`models.SynthesizerTrn`) and Piper's training code, whose parameter names the bundles keep.
//! Only what inference uses is declared: no posterior encoder (`enc_q`), no duration-predictor
//! posterior (`dp.post_*`), and no `dp.flows.1`, the `ConvFlow` reverse-mode inference drops
//! (see [`TRAINING_ONLY`]). Training-only keys (`spec_channels`, `segment_size`, `p_dropout`)
//! are not part of the config.

use serde::{Deserialize, Serialize};

use crate::hifigan::{CheckedHifiGan, HifiGanConfig};
use crate::{ArchitectureSchema, Lister, SchemaError, TensorSpec};

/// `architecture.kind` of a VITS bundle.
pub const KIND: &str = "vits";

/// Relative-attention window of the text encoder (`emb_rel_k` spans `2 * WINDOW + 1`).
pub const WINDOW: usize = 4;
/// Kernel of the duration predictors' convolutions.
pub const DP_KERNEL: usize = 3;
/// Channels of the deterministic duration predictor.
pub const DP_FILTER: usize = 256;
/// Layers of each dilated depth-separable convolution stack (`DDSConv`).
pub const DDS_LAYERS: usize = 3;
/// `ConvFlow`s of the stochastic duration predictor (at odd indices of `dp.flows`); inference
/// drops the first, so indices 3, 5, 7 are loaded.
pub const SDP_FLOWS: usize = 4;
/// Spline bins of each `ConvFlow`.
pub const SPLINE_BINS: usize = 10;
/// Spline parameters per element (bin widths, heights, interior derivatives): `dp.flows.*.proj`
/// output channels.
pub const SPLINE_PARAMS: usize = 3 * SPLINE_BINS - 1;
/// Coupling layers of the prior flow (at even indices of `flow.flows`; flips in between).
pub const FLOW_COUPLINGS: usize = 4;
/// Kernel of the flow's WaveNet layers.
pub const WN_KERNEL: usize = 5;
/// Layers of the flow's WaveNet.
pub const WN_LAYERS: usize = 4;
/// Dilation growth of the flow's WaveNet layers.
pub const WN_DILATION_RATE: usize = 1;

/// Width of the stochastic duration predictor in Coqui TTS's VITS (hard-coded there).
pub const COQUI_SDP_CHANNELS: usize = 192;

/// Name prefixes of `SynthesizerTrn` parameters that only training uses; importers drop them.
pub const TRAINING_ONLY: &[&str] = &[
    "enc_q.",
    "dp.post_pre.",
    "dp.post_proj.",
    "dp.post_convs.",
    "dp.post_flows.",
    "dp.flows.1.",
];

/// Upper bounds that keep a hostile manifest from describing absurd layers.
const MAX_VOCAB: usize = 1 << 16;
const MAX_CHANNELS: usize = 4096;
const MAX_FILTER: usize = 16384;
const MAX_HEADS: usize = 64;
const MAX_LAYERS: usize = 64;
const MAX_KERNEL: usize = 31;
const MAX_SPEAKERS: usize = 1 << 16;
const MAX_LANGUAGES: usize = 1 << 12;
/// Largest [`VitsConfig::latent_upsampling`]: Coqui's recipes stretch by 2 (a 22,050 Hz
/// encoder under a 44,100 Hz decoder); 8 leaves room without letting a manifest multiply the
/// decoder's work without bound.
pub const MAX_LATENT_UPSAMPLING: usize = 8;

/// `architecture.config` of a VITS bundle (upstream `SynthesizerTrn` key names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitsConfig {
    /// Phoneme vocabulary size (rows of `enc_p.emb.weight`).
    pub n_vocab: usize,
    /// Latent channels between encoder, flow and decoder.
    pub inter_channels: usize,
    /// Text-encoder and flow width.
    pub hidden_channels: usize,
    /// Text-encoder feed-forward width.
    pub filter_channels: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Text-encoder layers.
    pub n_layers: usize,
    /// Text-encoder feed-forward kernel width.
    pub kernel_size: usize,
    /// Decoder (`dec`) keys, as [`HifiGanConfig`] names and checks them: `"1"` or `"2"`.
    pub resblock: String,
    /// Decoder: kernel widths of a stage's residual blocks.
    pub resblock_kernel_sizes: Vec<usize>,
    /// Decoder: dilations of each residual block, one list per kernel.
    pub resblock_dilation_sizes: Vec<Vec<usize>>,
    /// Decoder: upsampling factors (their product is the hop length).
    pub upsample_rates: Vec<usize>,
    /// Decoder: channels after `conv_pre`.
    pub upsample_initial_channel: usize,
    /// Decoder: transposed-convolution kernel widths.
    pub upsample_kernel_sizes: Vec<usize>,
    /// Speakers (1: single-speaker voice).
    pub n_speakers: usize,
    /// Speaker-embedding channels (0 for a single-speaker voice).
    pub gin_channels: usize,
    /// Stochastic duration predictor (`true`) or the deterministic one.
    pub use_sdp: bool,
    /// Width of the stochastic duration predictor. Absent (Piper, jaywalnut310/vits): the
    /// predictor is as wide as the encoder (`hidden_channels`), whatever filter width upstream
    /// passes. Coqui TTS fixes it at 192 ([`COQUI_SDP_CHANNELS`]) whatever `hidden_channels`
    /// is, so a Coqui import writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_channels: Option<usize>,
    /// Languages of a multilingual voice (rows of `emb_l`; Coqui's YourTTS). Absent: no
    /// language embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_languages: Option<usize>,
    /// Width of the language embedding (Coqui's `embedded_language_dim`), present with
    /// `n_languages`. The embedding is concatenated to the phoneme embeddings, so the text
    /// encoder's layers are `hidden_channels + language_channels` wide, and the duration
    /// predictor adds a projection of it (`dp.cond_lang`) to its input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_channels: Option<usize>,
    /// Decoder frames per latent frame (Coqui's `encoder_sample_rate` with `interpolate_z`):
    /// the flow's output is stretched by this whole factor, by linear interpolation
    /// (`align_corners = false`), before the decoder, so one latent frame, the unit of the
    /// durations, is this many times the decoder's hop. Absent: 1, no interpolation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_upsampling: Option<usize>,
}

/// A [`VitsConfig`] that passed [`VitsConfig::validate`]; only that function builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedVits {
    cfg: VitsConfig,
    generator: CheckedHifiGan,
}

fn bad(key: &'static str, reason: impl Into<String>) -> SchemaError {
    SchemaError::InvalidConfig {
        architecture: KIND,
        key,
        reason: reason.into(),
    }
}

fn range(key: &'static str, v: usize, lo: usize, hi: usize) -> Result<(), SchemaError> {
    if v < lo || v > hi {
        return Err(bad(key, format!("{v} is outside {lo}..={hi}")));
    }
    Ok(())
}

impl VitsConfig {
    /// Checks every value against its range and the values against each other.
    pub fn validate(&self) -> Result<CheckedVits, SchemaError> {
        range("n_vocab", self.n_vocab, 1, MAX_VOCAB)?;
        range("inter_channels", self.inter_channels, 2, MAX_CHANNELS)?;
        if self.inter_channels % 2 != 0 {
            return Err(bad(
                "inter_channels",
                "must be even: the flow splits it in halves",
            ));
        }
        range("hidden_channels", self.hidden_channels, 1, MAX_CHANNELS)?;
        range("filter_channels", self.filter_channels, 1, MAX_FILTER)?;
        range("n_heads", self.n_heads, 1, MAX_HEADS)?;
        match (self.n_languages, self.language_channels) {
            (None, None) => {}
            (Some(n), Some(l)) => {
                range("n_languages", n, 1, MAX_LANGUAGES)?;
                range("language_channels", l, 1, MAX_CHANNELS)?;
            }
            (Some(_), None) => {
                return Err(bad("language_channels", "must be given with n_languages"))
            }
            (None, Some(_)) => {
                return Err(bad("n_languages", "must be given with language_channels"))
            }
        }
        let width = self.hidden_channels + self.language_channels.unwrap_or(0);
        if width % self.n_heads != 0 {
            return Err(bad(
                "n_heads",
                format!(
                    "the text encoder's width {width} (hidden_channels plus \
                     language_channels) is not divisible by {} heads",
                    self.n_heads
                ),
            ));
        }
        range("n_layers", self.n_layers, 1, MAX_LAYERS)?;
        range("kernel_size", self.kernel_size, 1, MAX_KERNEL)?;
        range("n_speakers", self.n_speakers, 1, MAX_SPEAKERS)?;
        range("gin_channels", self.gin_channels, 0, MAX_CHANNELS)?;
        if self.n_speakers > 1 && self.gin_channels == 0 {
            return Err(bad(
                "gin_channels",
                "must be positive for a multi-speaker voice",
            ));
        }
        if self.n_speakers == 1 && self.gin_channels != 0 {
            return Err(bad("gin_channels", "must be 0 for a single-speaker voice"));
        }
        if let Some(w) = self.sdp_channels {
            range("sdp_channels", w, 1, MAX_CHANNELS)?;
            if !self.use_sdp {
                return Err(bad(
                    "sdp_channels",
                    "only the stochastic duration predictor (use_sdp) has this width",
                ));
            }
        }
        if let Some(f) = self.latent_upsampling {
            range("latent_upsampling", f, 2, MAX_LATENT_UPSAMPLING)?;
        }
        let generator = HifiGanConfig {
            in_channels: self.inter_channels,
            resblock: self.resblock.clone(),
            resblock_kernel_sizes: self.resblock_kernel_sizes.clone(),
            resblock_dilation_sizes: self.resblock_dilation_sizes.clone(),
            upsample_rates: self.upsample_rates.clone(),
            upsample_initial_channel: self.upsample_initial_channel,
            upsample_kernel_sizes: self.upsample_kernel_sizes.clone(),
            gin_channels: self.gin_channels,
            conv_post_bias: false,
        }
        .validate_as(KIND)?;
        Ok(CheckedVits {
            cfg: self.clone(),
            generator,
        })
    }
}

impl CheckedVits {
    /// The validated values.
    pub fn get(&self) -> &VitsConfig {
        &self.cfg
    }

    /// The decoder's (`dec`) configuration.
    pub fn generator(&self) -> &CheckedHifiGan {
        &self.generator
    }

    /// Per-head channels of the text encoder's attention.
    pub fn head_channels(&self) -> usize {
        self.encoder_channels() / self.cfg.n_heads
    }

    /// Width of the text encoder's layers, its output and the duration predictor's input:
    /// `hidden_channels`, plus `language_channels` for a multilingual voice.
    pub fn encoder_channels(&self) -> usize {
        self.cfg.hidden_channels + self.language_channels()
    }

    /// Width of the language embedding (0: none).
    pub fn language_channels(&self) -> usize {
        self.cfg.language_channels.unwrap_or(0)
    }

    /// Languages of the voice (1 when it has no language embedding).
    pub fn n_languages(&self) -> usize {
        self.cfg.n_languages.unwrap_or(1)
    }

    /// Width of the stochastic duration predictor: `sdp_channels`, else `hidden_channels`.
    pub fn sdp_channels(&self) -> usize {
        self.cfg.sdp_channels.unwrap_or(self.cfg.hidden_channels)
    }

    /// Decoder frames per latent frame: `latent_upsampling`, else 1.
    pub fn latent_upsampling(&self) -> usize {
        self.cfg.latent_upsampling.unwrap_or(1)
    }

    /// Output samples per latent frame, the unit of the durations: the decoder's hop times
    /// [`latent_upsampling`](Self::latent_upsampling) (at most 8 × the decoder's bounded hop).
    pub fn samples_per_frame(&self) -> usize {
        self.generator.hop_length() * self.latent_upsampling()
    }
}

impl ArchitectureSchema for CheckedVits {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn tensors(&self) -> Vec<TensorSpec> {
        let c = &self.cfg;
        let (i, g) = (c.inter_channels, c.gin_channels);
        // The encoder's width: the phoneme embedding's, plus the language embedding's.
        let h = self.encoder_channels();
        let lang = self.language_channels();
        let mut out = Vec::new();
        let mut root = Lister::new(&mut out, "");

        // Text encoder.
        let mut enc_p = root.at("enc_p");
        enc_p
            .at("emb")
            .tensor("weight", &[c.n_vocab, c.hidden_channels]);
        let mut encoder = enc_p.at("encoder");
        for l in 0..c.n_layers {
            let mut attn = encoder.at("attn_layers");
            let mut attn = attn.at(l);
            for q in ["conv_q", "conv_k", "conv_v", "conv_o"] {
                attn.at(q).conv(h, h, 1);
            }
            let rel = [1, 2 * WINDOW + 1, self.head_channels()];
            attn.tensor("emb_rel_k", &rel);
            attn.tensor("emb_rel_v", &rel);
            encoder.at("norm_layers_1").at(l).norm(h);
            let mut ffn = encoder.at("ffn_layers");
            let mut ffn = ffn.at(l);
            ffn.at("conv_1").conv(h, c.filter_channels, c.kernel_size);
            ffn.at("conv_2").conv(c.filter_channels, h, c.kernel_size);
            encoder.at("norm_layers_2").at(l).norm(h);
        }
        enc_p.at("proj").conv(h, 2 * i, 1);

        // Duration predictor.
        let mut dp = root.at("dp");
        if c.use_sdp {
            // jaywalnut310/vits passes a filter width of 192 but the predictor uses its input
            // width; Coqui's uses 192 (`sdp_channels`).
            let w = self.sdp_channels();
            dp.at("pre").conv(h, w, 1);
            dds_conv(&mut dp.at("convs"), w);
            dp.at("proj").conv(w, w, 1);
            if g > 0 {
                dp.at("cond").conv(g, w, 1);
            }
            if lang > 0 {
                dp.at("cond_lang").conv(lang, w, 1);
            }
            let mut flows = dp.at("flows");
            let mut affine = flows.at(0);
            affine.tensor("m", &[2, 1]);
            affine.tensor("logs", &[2, 1]);
            for n in 1..SDP_FLOWS {
                let mut flow = flows.at(2 * n + 1);
                flow.at("pre").conv(1, w, 1);
                dds_conv(&mut flow.at("convs"), w);
                flow.at("proj").conv(w, SPLINE_PARAMS, 1);
            }
        } else {
            dp.at("conv_1").conv(h, DP_FILTER, DP_KERNEL);
            dp.at("norm_1").norm(DP_FILTER);
            dp.at("conv_2").conv(DP_FILTER, DP_FILTER, DP_KERNEL);
            dp.at("norm_2").norm(DP_FILTER);
            dp.at("proj").conv(DP_FILTER, 1, 1);
            if g > 0 {
                dp.at("cond").conv(g, h, 1);
            }
            if lang > 0 {
                dp.at("cond_lang").conv(lang, h, 1);
            }
        }

        // Prior flow: coupling layers at even indices, parameter-free flips in between.
        let h = c.hidden_channels;
        let mut flows = root.at("flow");
        let mut flows = flows.at("flows");
        for k in 0..FLOW_COUPLINGS {
            let mut coupling = flows.at(2 * k);
            coupling.at("pre").conv(i / 2, h, 1);
            let mut wn = coupling.at("enc");
            for l in 0..WN_LAYERS {
                wn.at("in_layers").at(l).conv(h, 2 * h, WN_KERNEL);
                let res_skip = if l + 1 < WN_LAYERS { 2 * h } else { h };
                wn.at("res_skip_layers").at(l).conv(h, res_skip, 1);
            }
            if g > 0 {
                wn.at("cond_layer").conv(g, 2 * h * WN_LAYERS, 1);
            }
            coupling.at("post").conv(h, i / 2, 1);
        }

        // Decoder.
        self.generator.list(&mut root.at("dec"));

        if c.n_speakers > 1 {
            root.at("emb_g").tensor("weight", &[c.n_speakers, g]);
        }
        if let (Some(n), Some(l)) = (c.n_languages, c.language_channels) {
            root.at("emb_l").tensor("weight", &[n, l]);
        }
        out
    }
}

/// `DDSConv` with `channels`: depthwise `convs_sep`, pointwise `convs_1x1`, two norms a layer.
fn dds_conv(at: &mut Lister<'_>, channels: usize) {
    for l in 0..DDS_LAYERS {
        // Depthwise: one input channel per group.
        at.at("convs_sep").at(l).conv(1, channels, DP_KERNEL);
        at.at("convs_1x1").at(l).conv(channels, channels, 1);
        at.at("norms_1").at(l).norm(channels);
        at.at("norms_2").at(l).norm(channels);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use std::collections::BTreeMap;

    use super::*;

    /// The config of the default voice, en_US-joe-medium.
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
            sdp_channels: None,
            n_languages: None,
            language_channels: None,
            latent_upsampling: None,
        }
    }

    fn tensors(cfg: &VitsConfig) -> BTreeMap<String, Vec<usize>> {
        let list = cfg.validate().unwrap().tensors();
        let n = list.len();
        let map: BTreeMap<_, _> = list.into_iter().map(|t| (t.name, t.shape)).collect();
        assert_eq!(map.len(), n, "a name is declared twice");
        map
    }

    #[test]
    fn schema_of_a_medium_voice() {
        let checked = joe().validate().unwrap();
        assert_eq!(checked.kind(), "vits");
        assert_eq!(checked.generator().hop_length(), 256);
        let p = tensors(&joe());
        // The real bundle of en_US-joe-medium holds 350 tensors (checked against the file by
        // signet-piper's real-voice tests).
        assert_eq!(p.len(), 350);
        assert_eq!(p["dec.ups.0.weight"], [256, 128, 16]);
        assert_eq!(p["dec.ups.0.bias"], [128]);
        assert_eq!(p["dec.ups.2.weight"], [64, 32, 8]);
        assert_eq!(p["dec.resblocks.8.convs.1.weight"], [32, 32, 7]);
        assert_eq!(p["dec.conv_post.weight"], [1, 32, 7]);
        assert!(!p.contains_key("dec.conv_post.bias"));
        assert_eq!(
            p["flow.flows.6.enc.res_skip_layers.3.weight"],
            [192, 192, 1]
        );
        assert_eq!(p["dp.flows.7.proj.weight"], [29, 192, 1]);
        assert_eq!(p["dp.convs.convs_sep.2.weight"], [192, 1, 3]);
        assert_eq!(p["enc_p.encoder.attn_layers.5.emb_rel_v"], [1, 9, 96]);
        assert!(!p.contains_key("dp.flows.1.pre.weight"));
        assert!(!p.contains_key("emb_g.weight"));
        assert!(p
            .keys()
            .all(|n| !TRAINING_ONLY.iter().any(|t| n.starts_with(t))));
    }

    #[test]
    fn multi_speaker_and_resblock_1_schema() {
        let mut c = joe();
        c.n_speakers = 4;
        c.gin_channels = 512;
        c.resblock = "1".into();
        c.resblock_dilation_sizes = vec![vec![1, 3, 5]; 3];
        c.use_sdp = false;
        let p = tensors(&c);
        assert_eq!(p["emb_g.weight"], [4, 512]);
        assert_eq!(p["dec.cond.weight"], [256, 512, 1]);
        assert_eq!(p["flow.flows.0.enc.cond_layer.weight"], [1536, 512, 1]);
        assert_eq!(p["dec.resblocks.0.convs2.2.weight"], [128, 128, 3]);
        assert_eq!(p["dp.conv_1.weight"], [256, 192, 3]);
        assert_eq!(p["dp.cond.weight"], [192, 512, 1]);
        // The stochastic predictor is as wide as the encoder, whatever that width is.
        c.use_sdp = true;
        c.hidden_channels = 96;
        let p = tensors(&c);
        assert_eq!(p["dp.pre.weight"], [96, 96, 1]);
        assert_eq!(p["dp.cond.weight"], [96, 512, 1]);
    }

    #[test]
    fn coqui_sdp_width_is_its_own_key() {
        let mut c = joe();
        c.hidden_channels = 16;
        c.inter_channels = 16;
        c.sdp_channels = Some(COQUI_SDP_CHANNELS);
        let p = tensors(&c);
        assert_eq!(p["dp.pre.weight"], [192, 16, 1]);
        assert_eq!(p["dp.proj.weight"], [192, 192, 1]);
        assert_eq!(p["dp.flows.3.pre.weight"], [192, 1, 1]);
        assert_eq!(p["dp.flows.7.convs.convs_1x1.2.weight"], [192, 192, 1]);
        assert_eq!(p["dp.flows.7.proj.weight"], [29, 192, 1]);
        // Text encoder and flow keep the encoder width.
        assert_eq!(p["flow.flows.0.pre.weight"], [16, 8, 1]);
        // Absent, as every Piper manifest has it, the width is the encoder's.
        c.sdp_channels = None;
        assert_eq!(tensors(&c)["dp.pre.weight"], [16, 16, 1]);
        // The key round-trips and only exists for the stochastic predictor.
        c.sdp_channels = Some(192);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""sdp_channels":192"#));
        assert_eq!(serde_json::from_str::<VitsConfig>(&json).unwrap(), c);
        c.use_sdp = false;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sdp_channels"));
    }

    #[test]
    fn a_language_embedding_widens_the_encoder_and_conditions_the_duration_predictor() {
        let mut c = joe();
        c.hidden_channels = 16;
        c.inter_channels = 16;
        c.n_heads = 2;
        c.sdp_channels = Some(COQUI_SDP_CHANNELS);
        c.n_languages = Some(3);
        c.language_channels = Some(4);
        let p = tensors(&c);
        assert_eq!(p["emb_l.weight"], [3, 4]);
        // The phoneme embedding keeps its width; the layers are 16 + 4 wide.
        assert_eq!(p["enc_p.emb.weight"], [256, 16]);
        assert_eq!(p["enc_p.encoder.attn_layers.0.conv_q.weight"], [20, 20, 1]);
        assert_eq!(p["enc_p.encoder.attn_layers.0.emb_rel_k"], [1, 9, 10]);
        assert_eq!(p["enc_p.encoder.ffn_layers.0.conv_1.weight"], [768, 20, 3]);
        assert_eq!(p["enc_p.proj.weight"], [32, 20, 1]);
        assert_eq!(p["dp.pre.weight"], [192, 20, 1]);
        assert_eq!(p["dp.cond_lang.weight"], [192, 4, 1]);
        // The flow and decoder do not see the language.
        assert_eq!(p["flow.flows.0.enc.in_layers.0.weight"], [32, 16, 5]);
        c.use_sdp = false;
        c.sdp_channels = None;
        let p = tensors(&c);
        assert_eq!(p["dp.conv_1.weight"], [256, 20, 3]);
        assert_eq!(p["dp.cond_lang.weight"], [20, 4, 1]);
        // Both keys or neither; the heads divide the widened encoder.
        c.language_channels = None;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("language_channels"));
        c.language_channels = Some(5);
        assert!(c.validate().unwrap_err().to_string().contains("n_heads"));
    }

    #[test]
    fn latent_upsampling_stretches_the_frame_and_leaves_the_tensors_alone() {
        let mut c = joe();
        assert_eq!(c.validate().unwrap().samples_per_frame(), 256);
        let plain = tensors(&c);
        c.latent_upsampling = Some(2);
        let checked = c.validate().unwrap();
        assert_eq!(checked.latent_upsampling(), 2);
        assert_eq!(checked.generator().hop_length(), 256);
        assert_eq!(checked.samples_per_frame(), 512);
        assert_eq!(tensors(&c), plain);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""latent_upsampling":2"#), "{json}");
        assert_eq!(serde_json::from_str::<VitsConfig>(&json).unwrap(), c);
        // Absent, as in every Piper manifest, it is not written.
        c.latent_upsampling = None;
        assert!(!serde_json::to_string(&c)
            .unwrap()
            .contains("latent_upsampling"));
    }

    #[test]
    fn config_keys_are_upstream_names_and_strict() {
        let json = r#"{"n_vocab":256,"inter_channels":192,"hidden_channels":192,
            "filter_channels":768,"n_heads":2,"n_layers":6,"kernel_size":3,"resblock":"2",
            "resblock_kernel_sizes":[3,5,7],"resblock_dilation_sizes":[[1,2],[2,6],[3,12]],
            "upsample_rates":[8,8,4],"upsample_initial_channel":256,
            "upsample_kernel_sizes":[16,16,8],"n_speakers":1,"gin_channels":0,"use_sdp":true}"#;
        let parsed: VitsConfig = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, joe());
        let extra = json.replace(r#""use_sdp":true"#, r#""use_sdp":true,"p_dropout":0.1"#);
        assert!(serde_json::from_str::<VitsConfig>(&extra).is_err());
        let missing = json.replace(r#","use_sdp":true"#, "");
        assert!(serde_json::from_str::<VitsConfig>(&missing).is_err());
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        type Mutation = Box<dyn Fn(&mut VitsConfig)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("n_vocab", Box::new(|c| c.n_vocab = 0)),
            ("hidden_channels", Box::new(|c| c.hidden_channels = 1 << 20)),
            ("n_heads", Box::new(|c| c.n_heads = 5)),
            ("inter_channels", Box::new(|c| c.inter_channels = 191)),
            ("resblock", Box::new(|c| c.resblock = "3".into())),
            (
                "resblock_dilation_sizes",
                Box::new(|c| c.resblock_dilation_sizes.pop().map(drop).unwrap_or(())),
            ),
            (
                "upsample_kernel_sizes",
                Box::new(|c| c.upsample_kernel_sizes = vec![16, 16, 9]),
            ),
            (
                "upsample_rates",
                Box::new(|c| {
                    c.upsample_rates = vec![64, 64, 4];
                    c.upsample_kernel_sizes = vec![64, 64, 8];
                }),
            ),
            (
                "upsample_initial_channel",
                Box::new(|c| c.upsample_initial_channel = 250),
            ),
            ("gin_channels", Box::new(|c| c.n_speakers = 4)),
            ("gin_channels", Box::new(|c| c.gin_channels = 8)),
            (
                "latent_upsampling",
                Box::new(|c| c.latent_upsampling = Some(1)),
            ),
            (
                "latent_upsampling",
                Box::new(|c| c.latent_upsampling = Some(0)),
            ),
            (
                "latent_upsampling",
                Box::new(|c| c.latent_upsampling = Some(MAX_LATENT_UPSAMPLING + 1)),
            ),
        ];
        for (key, mutate) in cases {
            let mut cfg = joe();
            mutate(&mut cfg);
            let err = cfg.validate().unwrap_err();
            match &err {
                SchemaError::InvalidConfig {
                    architecture: "vits",
                    key: k,
                    ..
                } => assert_eq!(*k, key, "{err}"),
                other => panic!("{key}: {other:?}"),
            }
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
