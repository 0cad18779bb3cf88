//! The VITS hyper-parameters a bundle's `architecture.config` carries, and their validation.
//!
//! Keys and meanings follow `SynthesizerTrn` of the VITS reference implementation
//! (jaywalnut310/vits) and Piper's training code (Kim et al., 2021, "Conditional Variational
//! Autoencoder with Adversarial Learning for End-to-End Text-to-Speech"). Training-only keys
//! (`spec_channels`, `segment_size`, `p_dropout`) are not part of a bundle. Constants upstream
//! hard-codes (attention window, flow and duration-predictor sizes) live in the model code.

use serde::{Deserialize, Serialize};
use signet_vocoder::{GeneratorConfig, ResBlockKind};

use crate::AcousticError;

/// Upper bounds that keep a hostile manifest from describing absurd layers.
const MAX_VOCAB: usize = 1 << 16;
const MAX_CHANNELS: usize = 4096;
const MAX_FILTER: usize = 16384;
const MAX_HEADS: usize = 64;
const MAX_LAYERS: usize = 64;
const MAX_KERNEL: usize = 31;
const MAX_SPEAKERS: usize = 1 << 16;

/// `architecture.config` of a VITS bundle, as written (upstream key names).
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
    /// HiFi-GAN residual block flavour, `"1"` or `"2"`.
    pub resblock: String,
    /// HiFi-GAN residual block kernel widths.
    pub resblock_kernel_sizes: Vec<usize>,
    /// HiFi-GAN residual block dilations.
    pub resblock_dilation_sizes: Vec<Vec<usize>>,
    /// HiFi-GAN upsampling factors.
    pub upsample_rates: Vec<usize>,
    /// HiFi-GAN channels after `conv_pre`.
    pub upsample_initial_channel: usize,
    /// HiFi-GAN transposed-convolution kernel widths.
    pub upsample_kernel_sizes: Vec<usize>,
    /// Speakers (1: single-speaker voice).
    pub n_speakers: usize,
    /// Speaker-embedding channels (0 for a single-speaker voice).
    pub gin_channels: usize,
    /// Stochastic duration predictor (`true`) or the deterministic one.
    pub use_sdp: bool,
}

/// A [`VitsConfig`] that passed [`VitsConfig::validate`]; only that function builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedConfig {
    cfg: VitsConfig,
    generator: GeneratorConfig,
}

impl CheckedConfig {
    /// The validated values.
    pub fn get(&self) -> &VitsConfig {
        &self.cfg
    }

    /// The decoder's configuration.
    pub fn generator(&self) -> &GeneratorConfig {
        &self.generator
    }
}

fn bad(key: &'static str, reason: impl Into<String>) -> AcousticError {
    AcousticError::InvalidConfig {
        key,
        reason: reason.into(),
    }
}

fn range(key: &'static str, v: usize, lo: usize, hi: usize) -> Result<(), AcousticError> {
    if v < lo || v > hi {
        return Err(bad(key, format!("{v} is outside {lo}..={hi}")));
    }
    Ok(())
}

impl VitsConfig {
    /// Parses the manifest's `architecture.config` table strictly (no unknown or missing keys).
    pub fn from_table(table: &toml::Table) -> Result<Self, AcousticError> {
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| AcousticError::BadConfig {
                reason: e.message().to_owned(),
            })
    }

    /// Checks every value against its range and the values against each other.
    pub fn validate(&self) -> Result<CheckedConfig, AcousticError> {
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
        if self.hidden_channels % self.n_heads != 0 {
            return Err(bad(
                "n_heads",
                format!(
                    "hidden_channels {} is not divisible by {} heads",
                    self.hidden_channels, self.n_heads
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
        let resblock = match self.resblock.as_str() {
            "1" => ResBlockKind::One,
            "2" => ResBlockKind::Two,
            other => {
                return Err(bad(
                    "resblock",
                    format!("{other:?} is neither \"1\" nor \"2\""),
                ))
            }
        };
        let generator = GeneratorConfig {
            in_channels: self.inter_channels,
            resblock,
            resblock_kernel_sizes: self.resblock_kernel_sizes.clone(),
            resblock_dilation_sizes: self.resblock_dilation_sizes.clone(),
            upsample_rates: self.upsample_rates.clone(),
            upsample_initial_channel: self.upsample_initial_channel,
            upsample_kernel_sizes: self.upsample_kernel_sizes.clone(),
            gin_channels: self.gin_channels,
        };
        generator.validate()?;
        Ok(CheckedConfig {
            cfg: self.clone(),
            generator,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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
    fn joe_config_is_valid_and_round_trips_through_toml() {
        let cfg = joe();
        let checked = cfg.validate().unwrap();
        assert_eq!(checked.generator().hop_length(), 256);
        let table = toml::Table::try_from(&cfg).unwrap();
        assert_eq!(VitsConfig::from_table(&table).unwrap(), cfg);
    }

    #[test]
    fn unknown_and_mistyped_keys_are_refused() {
        let mut table = toml::Table::try_from(joe()).unwrap();
        table.insert("p_dropout".into(), toml::Value::Float(0.1));
        assert!(matches!(
            VitsConfig::from_table(&table),
            Err(AcousticError::BadConfig { .. })
        ));
        let mut table = toml::Table::try_from(joe()).unwrap();
        table.insert("n_vocab".into(), toml::Value::Integer(-1));
        assert!(matches!(
            VitsConfig::from_table(&table),
            Err(AcousticError::BadConfig { .. })
        ));
        let mut table = toml::Table::try_from(joe()).unwrap();
        table.remove("use_sdp");
        assert!(matches!(
            VitsConfig::from_table(&table),
            Err(AcousticError::BadConfig { .. })
        ));
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
        ];
        for (key, mutate) in cases {
            let mut cfg = joe();
            mutate(&mut cfg);
            let err = cfg.validate().unwrap_err();
            let named = match &err {
                AcousticError::InvalidConfig { key, .. } => *key,
                AcousticError::Vocoder(signet_vocoder::VocoderError::InvalidConfig {
                    key, ..
                }) => *key,
                other => panic!("{other:?}"),
            };
            assert_eq!(named, key, "{err}");
        }
    }
}
