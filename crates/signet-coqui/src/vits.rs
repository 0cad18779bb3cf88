//! Coqui TTS's VITS (`TTS.tts.models.vits.Vits`) onto Signet's one VITS definition
//! (`signet_schema::vits`, the same tensors `signet-acoustic` loads).
//!
//! What differs from Piper's export, and how each difference is handled:
//!
//! - Module names: `text_encoder` → `enc_p`, `duration_predictor` → `dp`, `waveform_decoder`
//!   → `dec` (its speaker input `cond_layer` → `cond`); `flow` and `emb_g` keep theirs.
//! - The prior flow holds only its coupling layers (`flow.flows.0..3`, flipping between them
//!   in code); Signet keeps upstream's indices with flips in the odd places, so `flow.flows.k`
//!   → `flow.flows.{2k}`. Run in reverse both are flip, coupling 3, flip, coupling 2, ...
//! - The stochastic duration predictor's flows are `[ElementwiseAffine, ConvFlow × 4]` without
//!   flip modules: `flows.0.translation`/`log_scale` → `flows.0.m`/`logs`, `flows.k` → `flows.{2k−1}`
//!   for k = 2, 3, 4; `flows.1`, which reverse inference drops in both, is training-only.
//! - Coqui's stochastic duration predictor is 192 channels wide whatever `hidden_channels` is:
//!   the config's `sdp_channels`.
//! - `noise_scale_dp` at inference (`inference_noise_scale_dp`) is the manifest's `noise_w`;
//!   `inference_noise_scale` its `noise_scale`; `length_scale` its `length_scale`.
//! - Training-only modules are dropped: `posterior_encoder`, `disc`, the duration predictor's
//!   posterior (`post_*`) and its `flows.1`.
//!
//! - Speakers (the VCTK recipe, `use_speaker_embedding`): the table `emb_g` keeps its name; its
//!   rows are the speakers, its width `speaker_embedding_channels`. Coqui conditions the
//!   duration predictor (`condition_dp_on_speaker`, on by default), the flow's WaveNets
//!   (`cond_layer`) and the decoder (`cond_layer` → `cond`) on the row, unnormalized, as
//!   Signet's VITS does.
//! - D-vectors (YourTTS, `use_d_vector_file`): no table in the checkpoint; the importer builds
//!   `emb_g` from the d-vector file, one normalized mean embedding per speaker
//!   ([`crate::speakers`]), `d_vector_dim` wide, and passes it in with the parameters.
//! - Languages (`use_language_embedding`): `emb_l` keeps its name; its width
//!   `embedded_language_dim` widens the text encoder and feeds the duration predictor's
//!   `cond_lang` (the config's `n_languages` and `language_channels`).
//!
//! - `encoder_sample_rate` (an encoder trained at a rate a whole factor below the decoder's):
//!   with `interpolate_z` the factor becomes the bundle's `latent_upsampling` (the flow's
//!   output stretched before the decoder); without it the decoder's own upsampling covers the
//!   factor and the bundle is a plain VITS.
//!
//! Settings that change inference and that the definition does not implement are refused by
//! key (a rate factor that is not whole, a duration predictor not conditioned on the speaker,
//! flow sizes other than the recipe's), never ignored.

use serde_json::Value;
use signet_schema::vits::{
    VitsConfig, COQUI_SDP_CHANNELS, FLOW_COUPLINGS, MAX_LATENT_UPSAMPLING, WN_DILATION_RATE,
    WN_KERNEL, WN_LAYERS,
};
use signet_schema::{check_tensors, ArchitectureSchema};

use crate::config::CoquiConfig;
use crate::weights::{Param, Params};
use crate::{CoquiError, Mapped};

/// Prefixes of parameters only training uses, in Coqui's names.
pub const TRAINING_ONLY: &[&str] = &[
    "posterior_encoder.",
    "disc.",
    "duration_predictor.post_pre.",
    "duration_predictor.post_convs.",
    "duration_predictor.post_proj.",
    "duration_predictor.post_flows.",
    "duration_predictor.flows.1.",
    // The speaker encoder of YourTTS's speaker-consistency loss (and of voice cloning from a
    // clip, which Signet does not do).
    "speaker_encoder.",
    // With `encoder_sample_rate`: the resampling kernel that brings training audio down to
    // the encoder's rate (a torchaudio buffer; inference never resamples).
    "audio_resampler.",
];

/// Settings that must hold their recipe value, with what Signet's definition implements.
fn check_fixed(cfg: &CoquiConfig) -> Result<(), CoquiError> {
    let fixed: [(&'static str, usize); 3] = [
        ("model_args.kernel_size_flow", WN_KERNEL),
        ("model_args.num_layers_flow", WN_LAYERS),
        ("model_args.dilation_rate_flow", WN_DILATION_RATE),
    ];
    for (key, want) in fixed {
        if let Some(v) = cfg.get(key) {
            if v.as_u64() != Some(want as u64) {
                return Err(CoquiError::UnsupportedSetting {
                    key,
                    value: v.to_string(),
                    reason: "Signet's VITS flow uses the recipe's WaveNet (kernel 5, 4 layers, \
                             dilation rate 1)",
                });
            }
        }
    }
    Ok(())
}

/// Coqui's `encoder_sample_rate`: the text encoder, durations and flow ran at this rate, the
/// decoder at `audio.sample_rate`, a whole factor `f` higher. With `interpolate_z` (Coqui's
/// default) the flow's output is stretched `f` times before a decoder whose upsampling is
/// `audio.hop_length`: the bundle's `latent_upsampling`. Without it the decoder itself
/// upsamples `f × audio.hop_length` per frame and nothing else changes.
struct EncoderRate {
    /// The bundle's `latent_upsampling`.
    upsampling: Option<usize>,
    /// `audio.hop_length` times this is the decoder's upsampling.
    decoder_factor: usize,
}

fn encoder_rate(cfg: &CoquiConfig) -> Result<EncoderRate, CoquiError> {
    const KEY: &str = "model_args.encoder_sample_rate";
    let plain = EncoderRate {
        upsampling: None,
        decoder_factor: 1,
    };
    match cfg.get(KEY) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(plain),
        Some(_) => {}
    }
    let encoder = cfg.usize(KEY)?;
    let rate = cfg.usize("audio.sample_rate")?;
    let factor = (encoder > 0 && rate % encoder == 0).then(|| rate / encoder);
    let Some(factor) = factor.filter(|f| (1..=MAX_LATENT_UPSAMPLING).contains(f)) else {
        return Err(CoquiError::UnsupportedSetting {
            key: KEY,
            value: encoder.to_string(),
            reason: "the encoder's rate must divide `audio.sample_rate` by a whole factor of \
                     1 to 8; coqui-tts's own inference and training assume a whole factor",
        });
    };
    Ok(match factor {
        1 => plain,
        f if cfg.bool_or("model_args.interpolate_z", true)? => EncoderRate {
            upsampling: Some(f),
            decoder_factor: 1,
        },
        f => EncoderRate {
            upsampling: None,
            decoder_factor: f,
        },
    })
}

/// Signet's name for a Coqui VITS parameter; `None` for a name with no counterpart.
pub fn rename(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("text_encoder.") {
        return Some(format!("enc_p.{rest}"));
    }
    if let Some(rest) = name.strip_prefix("waveform_decoder.") {
        if let Some(tail) = rest.strip_prefix("cond_layer.") {
            return Some(format!("dec.cond.{tail}"));
        }
        return Some(format!("dec.{rest}"));
    }
    if let Some(rest) = name.strip_prefix("flow.flows.") {
        let (index, tail) = rest.split_once('.')?;
        let k: usize = index.parse().ok().filter(|k| *k < FLOW_COUPLINGS)?;
        return Some(format!("flow.flows.{}.{tail}", 2 * k));
    }
    if let Some(rest) = name.strip_prefix("duration_predictor.") {
        if let Some(flow) = rest.strip_prefix("flows.") {
            let (index, tail) = flow.split_once('.')?;
            let k: usize = index.parse().ok()?;
            return match (k, tail) {
                (0, "translation") => Some("dp.flows.0.m".into()),
                (0, "log_scale") => Some("dp.flows.0.logs".into()),
                (2..=4, _) => Some(format!("dp.flows.{}.{tail}", 2 * k - 1)),
                _ => None,
            };
        }
        return Some(format!("dp.{rest}"));
    }
    if name.starts_with("emb_g.") || name.starts_with("emb_l.") {
        return Some(name.to_owned());
    }
    None
}

/// Rows and widths of the speaker and language tables.
struct Tables {
    n_speakers: usize,
    gin_channels: usize,
    /// `(rows, width)` of the language table, if any.
    languages: Option<(usize, usize)>,
}

/// The speaker and language embeddings the config declares, checked against the tables among
/// the parameters.
fn conditioning(cfg: &CoquiConfig, params: &Params) -> Result<Tables, CoquiError> {
    let by_emb = cfg.bool_or("model_args.use_speaker_embedding", false)?;
    let by_dvec = cfg.bool_or("model_args.use_d_vector_file", false)?;
    let table = params.get("emb_g.weight");
    let (n_speakers, gin) = match (by_emb, by_dvec, table) {
        (false, false, None) => (1, 0),
        (false, false, Some(_)) => {
            return Err(CoquiError::UnexpectedTensor {
                tensor: "emb_g.weight".into(),
                reason: "config.json declares no speaker embedding (`use_speaker_embedding`)"
                    .into(),
            })
        }
        (_, _, None) => {
            return Err(CoquiError::MissingTensor {
                tensor: "emb_g.weight".into(),
            })
        }
        (_, _, Some(t)) => {
            let [rows, width] = t.shape.as_slice() else {
                return Err(CoquiError::BadTensor {
                    tensor: "emb_g.weight".into(),
                    reason: format!("shape {:?} is not a table", t.shape),
                });
            };
            let (key, want) = if by_dvec {
                (
                    "model_args.d_vector_dim",
                    cfg.usize("model_args.d_vector_dim")?,
                )
            } else {
                (
                    "model_args.speaker_embedding_channels",
                    match cfg.get("model_args.speaker_embedding_channels") {
                        None => 256,
                        Some(_) => cfg.usize("model_args.speaker_embedding_channels")?,
                    },
                )
            };
            if *width != want {
                return Err(CoquiError::config(format!(
                    "`{key}` is {want} but the speaker embeddings are {width} wide"
                )));
            }
            if *rows < 2 {
                return Err(CoquiError::UnsupportedSetting {
                    key: "model_args.use_speaker_embedding",
                    value: format!("{rows} speaker"),
                    reason: "a speaker table of one row is not a multi-speaker voice; Signet \
                             runs multi-speaker VITS with two speakers or more",
                });
            }
            (*rows, *width)
        }
    };
    if n_speakers > 1 && !cfg.bool_or("model_args.condition_dp_on_speaker", true)? {
        return Err(CoquiError::UnsupportedSetting {
            key: "model_args.condition_dp_on_speaker",
            value: "false".into(),
            reason: "Signet's VITS conditions the duration predictor on the speaker",
        });
    }
    let languages = if cfg.bool_or("model_args.use_language_embedding", false)? {
        let Some(t) = params.get("emb_l.weight") else {
            return Err(CoquiError::MissingTensor {
                tensor: "emb_l.weight".into(),
            });
        };
        let [rows, width] = t.shape.as_slice() else {
            return Err(CoquiError::BadTensor {
                tensor: "emb_l.weight".into(),
                reason: format!("shape {:?} is not a table", t.shape),
            });
        };
        let want = match cfg.get("model_args.embedded_language_dim") {
            None => 4,
            Some(_) => cfg.usize("model_args.embedded_language_dim")?,
        };
        if *width != want {
            return Err(CoquiError::config(format!(
                "`model_args.embedded_language_dim` is {want} but the language embeddings \
                 are {width} wide"
            )));
        }
        Some((*rows, *width))
    } else {
        None
    };
    Ok(Tables {
        n_speakers,
        gin_channels: gin,
        languages,
    })
}

/// Maps a Coqui VITS state dict (weight norm folded) and its config onto Signet's VITS:
/// the checked configuration and every inference tensor under Signet's name, checked against
/// the schema (nothing extra, nothing missing, shapes exact).
pub fn map_vits(params: Params, cfg: &CoquiConfig, n_vocab: usize) -> Result<Mapped, CoquiError> {
    check_fixed(cfg)?;
    let rate = encoder_rate(cfg)?;
    let Tables {
        n_speakers,
        gin_channels,
        languages,
    } = conditioning(cfg, &params)?;
    let use_sdp = cfg.bool_or("model_args.use_sdp", true)?;
    let hidden = cfg.usize("model_args.hidden_channels")?;
    if let Some(v) = cfg.get("model_args.num_chars") {
        if v.as_u64() != Some(n_vocab as u64) {
            return Err(CoquiError::config(format!(
                "`model_args.num_chars` is {v} but the symbol table has {n_vocab} symbols"
            )));
        }
    }
    let vits = VitsConfig {
        n_vocab,
        // Coqui's VITS uses one width for the latent and the encoder.
        inter_channels: hidden,
        hidden_channels: hidden,
        filter_channels: cfg.usize("model_args.hidden_channels_ffn_text_encoder")?,
        n_heads: cfg.usize("model_args.num_heads_text_encoder")?,
        n_layers: cfg.usize("model_args.num_layers_text_encoder")?,
        kernel_size: cfg.usize("model_args.kernel_size_text_encoder")?,
        resblock: cfg
            .str_opt("model_args.resblock_type_decoder")?
            .unwrap_or("1")
            .to_owned(),
        resblock_kernel_sizes: cfg.usizes("model_args.resblock_kernel_sizes_decoder")?,
        resblock_dilation_sizes: cfg.usize_lists("model_args.resblock_dilation_sizes_decoder")?,
        upsample_rates: cfg.usizes("model_args.upsample_rates_decoder")?,
        upsample_initial_channel: cfg.usize("model_args.upsample_initial_channel_decoder")?,
        upsample_kernel_sizes: cfg.usizes("model_args.upsample_kernel_sizes_decoder")?,
        n_speakers,
        gin_channels,
        use_sdp,
        sdp_channels: use_sdp.then_some(COQUI_SDP_CHANNELS),
        n_languages: languages.map(|(n, _)| n),
        language_channels: languages.map(|(_, l)| l),
        latent_upsampling: rate.upsampling,
    };
    let checked = vits.validate()?;
    let hop = checked.generator().hop_length();
    if let Some(v) = cfg.get("audio.hop_length") {
        let want = v
            .as_u64()
            .map(|h| h.saturating_mul(rate.decoder_factor as u64));
        if want != Some(hop as u64) {
            let times = match rate.decoder_factor {
                1 => String::new(),
                f => format!(" (times {f}, the encoder's rate factor without `interpolate_z`)"),
            };
            return Err(CoquiError::config(format!(
                "`audio.hop_length` is {v}{times} but the decoder's upsampling rates multiply \
                 to {hop}"
            )));
        }
    }

    let mut dropped = 0usize;
    let mut tensors: Vec<(String, Param)> = Vec::with_capacity(params.len());
    for (name, param) in params {
        if TRAINING_ONLY.iter().any(|p| name.starts_with(p)) {
            dropped += 1;
            continue;
        }
        let Some(signet) = rename(&name) else {
            return Err(CoquiError::UnexpectedTensor {
                tensor: name,
                reason: "no parameter of Signet's VITS corresponds to it".into(),
            });
        };
        tensors.push((signet, param));
    }
    let declared = checked.tensors();
    check_tensors(
        &declared,
        tensors
            .iter()
            .map(|(n, p)| (n.as_str(), p.shape.as_slice())),
    )?;
    // Bundle order: the schema's (upstream module order).
    let mut by_name: std::collections::BTreeMap<String, Param> = tensors.into_iter().collect();
    let ordered = declared
        .iter()
        .filter_map(|spec| by_name.remove(&spec.name).map(|p| (spec.name.clone(), p)))
        .collect();
    let config = toml::Table::try_from(checked.get()).map_err(|e| {
        CoquiError::config(format!("the VITS configuration does not serialize: {e}"))
    })?;
    Ok(Mapped {
        kind: checked.kind(),
        config,
        tensors: ordered,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn coqui_names_map_onto_signet_names() {
        let cases = [
            ("text_encoder.emb.weight", "enc_p.emb.weight"),
            (
                "text_encoder.encoder.attn_layers.1.emb_rel_k",
                "enc_p.encoder.attn_layers.1.emb_rel_k",
            ),
            ("flow.flows.0.pre.weight", "flow.flows.0.pre.weight"),
            (
                "flow.flows.3.enc.in_layers.2.weight",
                "flow.flows.6.enc.in_layers.2.weight",
            ),
            ("duration_predictor.pre.bias", "dp.pre.bias"),
            ("duration_predictor.flows.0.translation", "dp.flows.0.m"),
            ("duration_predictor.flows.0.log_scale", "dp.flows.0.logs"),
            (
                "duration_predictor.flows.2.proj.weight",
                "dp.flows.3.proj.weight",
            ),
            ("duration_predictor.flows.4.pre.bias", "dp.flows.7.pre.bias"),
            ("waveform_decoder.ups.1.weight", "dec.ups.1.weight"),
            ("waveform_decoder.cond_layer.bias", "dec.cond.bias"),
            ("emb_g.weight", "emb_g.weight"),
            ("emb_l.weight", "emb_l.weight"),
            ("duration_predictor.cond_lang.weight", "dp.cond_lang.weight"),
        ];
        for (coqui, signet) in cases {
            assert_eq!(rename(coqui).as_deref(), Some(signet), "{coqui}");
        }
        for unknown in [
            "flow.flows.4.pre.weight",
            "duration_predictor.flows.5.pre.weight",
            "duration_predictor.flows.0.other",
            "speaker_encoder.x",
        ] {
            assert_eq!(rename(unknown), None, "{unknown}");
        }
    }
}
