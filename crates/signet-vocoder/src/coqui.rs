//! Coqui's HiFi-GAN vocoder checkpoints mapped onto [`MelVocoder`](crate::MelVocoder).
//!
//! coqui-tts trains a vocoder as a `GAN` whose state dict holds the generator under `model_g.`
//! and the discriminator under `model_d.`; an older or exported file may hold the generator's
//! state dict alone. [`map_hifigan`] takes either (as `signet_checkpoint` reads it, never
//! through pickle), drops the discriminator, folds weight norm in both of PyTorch's forms, and
//! checks the result tensor by tensor against what Signet's generator declares for the
//! configuration derived from Coqui's `config.json`: nothing missing, nothing extra, shapes
//! exact. Generator options Signet does not implement are refused by name.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use signet_checkpoint::{float_params, Param, Tensor};
use signet_schema::hifigan::HifiGanConfig;
use signet_schema::ArchitectureSchema;

use crate::{MelVocoderConfig, VocoderError};

/// Prefix of the generator's tensors in a Coqui `GAN` state dict.
const GENERATOR: &str = "model_g.";
/// Prefix of the discriminator's tensors, which inference does not use.
const DISCRIMINATOR: &str = "model_d.";
/// coqui-tts's default `inference_padding`.
const DEFAULT_INFERENCE_PADDING: usize = 5;

/// A Coqui HiFi-GAN vocoder as Signet runs it.
#[derive(Debug, Clone)]
pub struct CoquiHifiGan {
    /// The bundle's `architecture.config`.
    pub config: MelVocoderConfig,
    /// Sample rate of the audio, from `audio.sample_rate`.
    pub sample_rate: u32,
    /// Every generator tensor under the name and shape the generator declares, in name order.
    pub tensors: Vec<(String, Param)>,
}

fn unsupported(key: &str, reason: impl Into<String>) -> VocoderError {
    VocoderError::UnsupportedCoqui {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn usize_of(v: &Json, key: &str) -> Result<usize, VocoderError> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| unsupported(key, format!("{v} is not a non-negative integer")))
}

fn list_of(v: &Json, key: &str) -> Result<Vec<usize>, VocoderError> {
    v.as_array()
        .ok_or_else(|| unsupported(key, format!("{v} is not a list")))?
        .iter()
        .map(|x| usize_of(x, key))
        .collect()
}

/// The generator configuration from Coqui's vocoder `config.json`.
fn parse_config(config: &Json) -> Result<(MelVocoderConfig, u32), VocoderError> {
    let model = config.get("model").and_then(Json::as_str).unwrap_or("");
    if model != "hifigan" {
        return Err(unsupported(
            "model",
            format!("{model:?} is not a HiFi-GAN vocoder; Signet runs Coqui's \"hifigan\""),
        ));
    }
    let generator = config
        .get("generator_model")
        .and_then(Json::as_str)
        .unwrap_or("");
    if generator != "hifigan_generator" {
        return Err(unsupported(
            "generator_model",
            format!("{generator:?} is not \"hifigan_generator\""),
        ));
    }
    let audio = config
        .get("audio")
        .ok_or_else(|| unsupported("audio", "missing"))?;
    let num_mels = usize_of(
        audio.get("num_mels").unwrap_or(&Json::Null),
        "audio.num_mels",
    )?;
    let sample_rate = audio
        .get("sample_rate")
        .and_then(Json::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .ok_or_else(|| unsupported("audio.sample_rate", "missing or not a sample rate"))?;
    let params = config
        .get("generator_model_params")
        .and_then(Json::as_object)
        .ok_or_else(|| unsupported("generator_model_params", "missing or not a table"))?;
    let mut in_channels = num_mels;
    let mut inference_padding = DEFAULT_INFERENCE_PADDING;
    let mut conv_post_bias = true;
    let mut resblock = None;
    let mut lists: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut dilations = None;
    let mut initial = None;
    for (key, v) in params {
        let at = format!("generator_model_params.{key}");
        match key.as_str() {
            "upsample_factors" | "upsample_kernel_sizes" | "resblock_kernel_sizes" => {
                lists.insert(key.as_str(), list_of(v, &at)?);
            }
            "resblock_dilation_sizes" => {
                dilations = Some(
                    v.as_array()
                        .ok_or_else(|| unsupported(&at, "not a list"))?
                        .iter()
                        .map(|d| list_of(d, &at))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            "upsample_initial_channel" => initial = Some(usize_of(v, &at)?),
            "resblock_type" => {
                resblock = Some(
                    v.as_str()
                        .ok_or_else(|| unsupported(&at, format!("{v} is not \"1\" or \"2\"")))?
                        .to_owned(),
                );
            }
            "in_channels" => in_channels = usize_of(v, &at)?,
            "inference_padding" => inference_padding = usize_of(v, &at)?,
            "conv_post_bias" => {
                conv_post_bias = v
                    .as_bool()
                    .ok_or_else(|| unsupported(&at, format!("{v} is not a bool")))?;
            }
            // Whether the outer convolutions are weight-normalized only changes how the
            // checkpoint stores them; both forms are folded.
            "conv_pre_weight_norm" | "conv_post_weight_norm" => {}
            "cond_channels" if usize_of(v, &at)? == 0 => {}
            "cond_in_each_up_layer" if v.as_bool() == Some(false) => {}
            "pre_linear" if v.is_null() => {}
            _ => {
                return Err(unsupported(
                    &at,
                    format!("{v} is a generator option Signet does not implement"),
                ))
            }
        }
    }
    let mut take = |key: &str| {
        lists
            .remove(key)
            .ok_or_else(|| unsupported(&format!("generator_model_params.{key}"), "missing"))
    };
    let generator = HifiGanConfig {
        in_channels,
        resblock: resblock
            .ok_or_else(|| unsupported("generator_model_params.resblock_type", "missing"))?,
        resblock_kernel_sizes: take("resblock_kernel_sizes")?,
        resblock_dilation_sizes: dilations.ok_or_else(|| {
            unsupported("generator_model_params.resblock_dilation_sizes", "missing")
        })?,
        upsample_rates: take("upsample_factors")?,
        upsample_initial_channel: initial.ok_or_else(|| {
            unsupported("generator_model_params.upsample_initial_channel", "missing")
        })?,
        upsample_kernel_sizes: take("upsample_kernel_sizes")?,
        gin_channels: 0,
        conv_post_bias,
    };
    if in_channels != num_mels {
        return Err(unsupported(
            "generator_model_params.in_channels",
            format!("{in_channels} differs from audio.num_mels {num_mels}"),
        ));
    }
    let cfg = MelVocoderConfig {
        generator,
        inference_padding,
    };
    cfg.validate()?;
    Ok((cfg, sample_rate))
}

/// Maps a Coqui HiFi-GAN vocoder checkpoint's state dict (a `GAN`'s, or the generator's alone)
/// and its `config.json` onto Signet's mel vocoder. Refused: another vocoder or generator
/// option, a broken weight-norm pair, a tensor Signet's generator does not declare, one it
/// declares that is missing, and any shape that differs.
pub fn map_hifigan(state: &[(&str, &Tensor)], config: &Json) -> Result<CoquiHifiGan, VocoderError> {
    let (cfg, sample_rate) = parse_config(config)?;
    let gan = state.iter().any(|(n, _)| n.starts_with(GENERATOR));
    let generator: Vec<(&str, &Tensor)> = state
        .iter()
        .filter(|(n, _)| !n.starts_with(DISCRIMINATOR))
        .map(|&(n, t)| {
            let name = if gan {
                n.strip_prefix(GENERATOR).ok_or_else(|| VocoderError::Mapping {
                    tensor: n.to_owned(),
                    reason: "belongs to neither the generator (model_g) nor the discriminator (model_d)".into(),
                })?
            } else {
                n
            };
            Ok((name, t))
        })
        .collect::<Result<_, VocoderError>>()?;
    let mut params = float_params(&generator)?;
    let mut tensors = Vec::with_capacity(params.len());
    for spec in cfg.generator.validate()?.tensors() {
        let param = params
            .remove(&spec.name)
            .ok_or_else(|| VocoderError::Mapping {
                tensor: spec.name.clone(),
                reason: "is missing from the checkpoint".into(),
            })?;
        if param.shape != spec.shape {
            return Err(VocoderError::Mapping {
                tensor: spec.name,
                reason: format!(
                    "has shape {:?} in the checkpoint, the configuration gives {:?}",
                    param.shape, spec.shape
                ),
            });
        }
        tensors.push((spec.name, param));
    }
    if let Some(extra) = params.keys().next() {
        return Err(VocoderError::Mapping {
            tensor: extra.clone(),
            reason: "is not a tensor of the configured generator".into(),
        });
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(CoquiHifiGan {
        config: cfg,
        sample_rate,
        tensors,
    })
}
