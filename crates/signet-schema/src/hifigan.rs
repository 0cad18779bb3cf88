//! The HiFi-GAN generator: standalone mel vocoder or the VITS decoder (`dec`).
//!
//! Follows Kong, Kim and Bae (2020), "HiFi-GAN: Generative Adversarial Networks for Efficient
//! and High Fidelity Speech Synthesis", reference implementation jik876/hifi-gan
//! (`models.Generator`, `ResBlock1/2`), as the VITS decoder in jaywalnut310/vits and Piper's
//! training code, which keep the same module and tensor names. Weight norm is folded at import:
//! every layer has a plain `weight`.
//!
//! Tensors, relative to the generator's root: `conv_pre` (kernel [`OUTER_KERNEL`]), `ups.<i>`
//! (transposed convolutions, `[in, out, kernel]`), `resblocks.<i * kernels + j>` (`convs1.<d>`
//! and `convs2.<d>` for type 1, `convs.<d>` for type 2), `conv_post` (bias only where
//! [`HifiGanConfig::conv_post_bias`]), and `cond` for a speaker-conditioned generator.

use serde::{Deserialize, Serialize};

use crate::{ArchitectureSchema, Lister, SchemaError, TensorSpec};

/// `architecture.kind` of a standalone HiFi-GAN vocoder bundle.
pub const KIND: &str = "hifigan";

/// Kernel width of `conv_pre` and `conv_post`.
pub const OUTER_KERNEL: usize = 7;

/// Upper bounds that keep a hostile config from describing absurd layers.
const MAX_CHANNELS: usize = 4096;
const MAX_LIST: usize = 8;
const MAX_KERNEL: usize = 128;
const MAX_DILATION: usize = 128;
const MAX_RATE: usize = 64;
const MAX_HOP: usize = 4096;

/// Residual block flavour (upstream `resblock` `"1"` or `"2"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResBlockKind {
    /// Pairs of convolutions per dilation (`convs1.<d>` dilated, `convs2.<d>` undilated).
    One,
    /// One dilated convolution per dilation (`convs.<d>`).
    Two,
}

impl ResBlockKind {
    /// Parses upstream's `"1"` / `"2"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1" => Some(ResBlockKind::One),
            "2" => Some(ResBlockKind::Two),
            _ => None,
        }
    }
}

/// Generator hyper-parameters (upstream key names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HifiGanConfig {
    /// Channels of the input: mel bins for a vocoder, `inter_channels` for the VITS decoder.
    pub in_channels: usize,
    /// Residual block flavour, `"1"` or `"2"`.
    pub resblock: String,
    /// Kernel width of each residual block of a stage.
    pub resblock_kernel_sizes: Vec<usize>,
    /// Dilations of each residual block of a stage.
    pub resblock_dilation_sizes: Vec<Vec<usize>>,
    /// Upsampling factor of each stage.
    pub upsample_rates: Vec<usize>,
    /// Channels after `conv_pre`; halved by every stage.
    pub upsample_initial_channel: usize,
    /// Kernel width of each stage's transposed convolution.
    pub upsample_kernel_sizes: Vec<usize>,
    /// Speaker-embedding channels (0: no `cond` layer).
    pub gin_channels: usize,
    /// Whether `conv_post` has a bias (the standalone vocoder's does, the VITS decoder's not).
    pub conv_post_bias: bool,
}

/// A [`HifiGanConfig`] that passed [`HifiGanConfig::validate`]; only validation builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedHifiGan {
    cfg: HifiGanConfig,
    resblock: ResBlockKind,
}

fn range(
    architecture: &'static str,
    key: &'static str,
    v: usize,
    lo: usize,
    hi: usize,
) -> Result<(), SchemaError> {
    if v < lo || v > hi {
        return Err(SchemaError::InvalidConfig {
            architecture,
            key,
            reason: format!("{v} is outside {lo}..={hi}"),
        });
    }
    Ok(())
}

impl HifiGanConfig {
    /// Checks every value against its range and the lists against each other.
    pub fn validate(&self) -> Result<CheckedHifiGan, SchemaError> {
        self.validate_as(KIND)
    }

    /// [`validate`](Self::validate), naming `architecture` in errors (the VITS decoder's keys
    /// are VITS config keys).
    pub(crate) fn validate_as(
        &self,
        architecture: &'static str,
    ) -> Result<CheckedHifiGan, SchemaError> {
        let bad = |key, reason: String| SchemaError::InvalidConfig {
            architecture,
            key,
            reason,
        };
        let range = |key, v, lo, hi| range(architecture, key, v, lo, hi);
        let len = |key, n: usize| {
            if n == 0 || n > MAX_LIST {
                return Err(bad(
                    key,
                    format!("has {n} entries, expected 1..={MAX_LIST}"),
                ));
            }
            Ok(())
        };
        range("in_channels", self.in_channels, 1, MAX_CHANNELS)?;
        range("gin_channels", self.gin_channels, 0, MAX_CHANNELS)?;
        let resblock = ResBlockKind::parse(&self.resblock).ok_or_else(|| {
            bad(
                "resblock",
                format!("{:?} is neither \"1\" nor \"2\"", self.resblock),
            )
        })?;
        len("resblock_kernel_sizes", self.resblock_kernel_sizes.len())?;
        len("upsample_rates", self.upsample_rates.len())?;
        if self.resblock_dilation_sizes.len() != self.resblock_kernel_sizes.len() {
            return Err(bad(
                "resblock_dilation_sizes",
                format!(
                    "has {} entries but resblock_kernel_sizes has {}",
                    self.resblock_dilation_sizes.len(),
                    self.resblock_kernel_sizes.len()
                ),
            ));
        }
        if self.upsample_kernel_sizes.len() != self.upsample_rates.len() {
            return Err(bad(
                "upsample_kernel_sizes",
                format!(
                    "has {} entries but upsample_rates has {}",
                    self.upsample_kernel_sizes.len(),
                    self.upsample_rates.len()
                ),
            ));
        }
        for (&k, ds) in self
            .resblock_kernel_sizes
            .iter()
            .zip(&self.resblock_dilation_sizes)
        {
            range("resblock_kernel_sizes", k, 1, MAX_KERNEL)?;
            len("resblock_dilation_sizes", ds.len())?;
            for &d in ds {
                range("resblock_dilation_sizes", d, 1, MAX_DILATION)?;
                if (k - 1) * d % 2 != 0 {
                    return Err(bad(
                        "resblock_kernel_sizes",
                        format!("kernel {k} with dilation {d} has no symmetric 'same' padding"),
                    ));
                }
            }
            if resblock == ResBlockKind::One && (k - 1) % 2 != 0 {
                return Err(bad(
                    "resblock_kernel_sizes",
                    format!("kernel {k} must be odd for resblock \"1\""),
                ));
            }
        }
        let mut hop = 1usize;
        for (&u, &k) in self.upsample_rates.iter().zip(&self.upsample_kernel_sizes) {
            range("upsample_rates", u, 1, MAX_RATE)?;
            range("upsample_kernel_sizes", k, u, MAX_KERNEL)?;
            if (k - u) % 2 != 0 {
                return Err(bad(
                    "upsample_kernel_sizes",
                    format!(
                        "kernel {k} minus rate {u} must be even so each frame yields exactly {u} samples"
                    ),
                ));
            }
            hop = hop.saturating_mul(u);
        }
        if hop > MAX_HOP {
            return Err(bad(
                "upsample_rates",
                format!("product {hop} exceeds {MAX_HOP}"),
            ));
        }
        range(
            "upsample_initial_channel",
            self.upsample_initial_channel,
            1,
            MAX_CHANNELS,
        )?;
        let stages = self.upsample_rates.len();
        if self.upsample_initial_channel % (1usize << stages) != 0 {
            return Err(bad(
                "upsample_initial_channel",
                format!(
                    "{} is not divisible by 2^{stages}",
                    self.upsample_initial_channel
                ),
            ));
        }
        Ok(CheckedHifiGan {
            cfg: self.clone(),
            resblock,
        })
    }
}

impl CheckedHifiGan {
    /// The validated values.
    pub fn get(&self) -> &HifiGanConfig {
        &self.cfg
    }

    /// The residual block flavour.
    pub fn resblock(&self) -> ResBlockKind {
        self.resblock
    }

    /// Output samples per input frame: the product of the upsampling rates.
    pub fn hop_length(&self) -> usize {
        self.cfg.upsample_rates.iter().product()
    }

    /// Channels after each upsampling stage (the initial channels halved per stage).
    pub fn stage_channels(&self) -> impl Iterator<Item = usize> + '_ {
        (1..=self.cfg.upsample_rates.len()).map(|s| self.cfg.upsample_initial_channel >> s)
    }

    /// Appends the generator's tensors under `at`.
    pub(crate) fn list(&self, at: &mut Lister<'_>) {
        let c = &self.cfg;
        let u0 = c.upsample_initial_channel;
        at.at("conv_pre").conv(c.in_channels, u0, OUTER_KERNEL);
        let nk = c.resblock_kernel_sizes.len();
        let mut ch = u0;
        for (u, &ku) in c.upsample_kernel_sizes.iter().enumerate() {
            let out = ch / 2;
            // ConvTranspose1d weights are [in, out, kernel]; the bias has `out` entries.
            let mut up = at.at("ups");
            let mut up = up.at(u);
            up.tensor("weight", &[ch, out, ku]);
            up.tensor("bias", &[out]);
            for (j, (&kj, ds)) in c
                .resblock_kernel_sizes
                .iter()
                .zip(&c.resblock_dilation_sizes)
                .enumerate()
            {
                let mut blocks = at.at("resblocks");
                let mut block = blocks.at(u * nk + j);
                let convs: &[&str] = match self.resblock {
                    ResBlockKind::One => &["convs1", "convs2"],
                    ResBlockKind::Two => &["convs"],
                };
                for list in convs {
                    for d in 0..ds.len() {
                        block.at(list).at(d).conv(out, out, kj);
                    }
                }
            }
            ch = out;
        }
        let mut post = at.at("conv_post");
        post.tensor("weight", &[1, ch, OUTER_KERNEL]);
        if c.conv_post_bias {
            post.tensor("bias", &[1]);
        }
        if c.gin_channels > 0 {
            at.at("cond").conv(c.gin_channels, u0, 1);
        }
    }
}

impl ArchitectureSchema for CheckedHifiGan {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = Vec::new();
        self.list(&mut Lister::new(&mut out, ""));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use std::collections::BTreeMap;

    use super::*;

    /// The generator of a medium Piper voice, as a standalone vocoder of 80 mel bins.
    fn vocoder() -> HifiGanConfig {
        HifiGanConfig {
            in_channels: 80,
            resblock: "1".into(),
            resblock_kernel_sizes: vec![3, 7, 11],
            resblock_dilation_sizes: vec![vec![1, 3, 5]; 3],
            upsample_rates: vec![8, 8, 2, 2],
            upsample_initial_channel: 512,
            upsample_kernel_sizes: vec![16, 16, 4, 4],
            gin_channels: 0,
            conv_post_bias: true,
        }
    }

    #[test]
    fn standalone_generator_tensors() {
        let checked = vocoder().validate().unwrap();
        assert_eq!(checked.hop_length(), 256);
        assert_eq!(
            checked.stage_channels().collect::<Vec<_>>(),
            [256, 128, 64, 32]
        );
        let t: BTreeMap<_, _> = checked
            .tensors()
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        // conv_pre 2 + ups 4 x 2 + 12 blocks x 6 convs x 2 + conv_post 2.
        assert_eq!(t.len(), 2 + 8 + 144 + 2);
        assert_eq!(t["conv_pre.weight"], [512, 80, 7]);
        assert_eq!(t["ups.3.weight"], [64, 32, 4]);
        assert_eq!(t["resblocks.11.convs2.2.weight"], [32, 32, 11]);
        assert_eq!(t["conv_post.bias"], [1]);
        assert!(!t.contains_key("cond.weight"));

        let mut cfg = vocoder();
        cfg.conv_post_bias = false;
        cfg.gin_channels = 16;
        let t: BTreeMap<_, _> = cfg
            .validate()
            .unwrap()
            .tensors()
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        assert!(!t.contains_key("conv_post.bias"));
        assert_eq!(t["cond.weight"], [512, 16, 1]);
    }

    #[test]
    fn invalid_values_name_their_key() {
        type Mutation = Box<dyn Fn(&mut HifiGanConfig)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("in_channels", Box::new(|c| c.in_channels = 0)),
            ("resblock", Box::new(|c| c.resblock = "3".into())),
            (
                "resblock_kernel_sizes",
                Box::new(|c| c.resblock_kernel_sizes[0] = 4),
            ),
            (
                "resblock_dilation_sizes",
                Box::new(|c| c.resblock_dilation_sizes.truncate(2)),
            ),
            ("upsample_rates", Box::new(|c| c.upsample_rates.clear())),
            (
                "upsample_kernel_sizes",
                Box::new(|c| c.upsample_kernel_sizes = vec![16, 16, 4, 5]),
            ),
            (
                "upsample_initial_channel",
                Box::new(|c| c.upsample_initial_channel = 500),
            ),
            ("gin_channels", Box::new(|c| c.gin_channels = 1 << 20)),
        ];
        for (key, mutate) in cases {
            let mut cfg = vocoder();
            mutate(&mut cfg);
            match cfg.validate() {
                Err(SchemaError::InvalidConfig {
                    architecture: "hifigan",
                    key: k,
                    ..
                }) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
        }
    }
}
