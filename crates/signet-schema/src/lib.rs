//! Architecture schemas: for each model architecture Signet runs, one serde config that mirrors
//! the upstream keys, its validation into a checked config, the constants upstream hard-codes,
//! and the one list of every tensor (the checkpoint's own names and shapes) that a checked
//! config implies.
//!
//! Importers (the Piper ONNX reader today) use a schema to name, infer and check what they
//! read; the model crates (`signet-acoustic`, `signet-vocoder`) use the same schema to load a
//! bundle, comparing its declared tensors with the file's ([`check_tensors`]). Adding an
//! architecture means writing its schema here once and implementing [`ArchitectureSchema`] for
//! its checked config.
//!
//! - [`vits`]: VITS (`SynthesizerTrn`) as Piper exports it.
//! - [`hifigan`]: the HiFi-GAN generator, standalone or as the VITS decoder `dec`.
//!
//! ```
//! use signet_schema::{check_tensors, hifigan::ResBlockKind, ArchitectureSchema, HifiGanConfig};
//!
//! let cfg = HifiGanConfig {
//!     in_channels: 80,
//!     resblock: "2".into(),
//!     resblock_kernel_sizes: vec![3],
//!     resblock_dilation_sizes: vec![vec![1, 3]],
//!     upsample_rates: vec![8, 8],
//!     upsample_initial_channel: 64,
//!     upsample_kernel_sizes: vec![16, 16],
//!     gin_channels: 0,
//!     conv_post_bias: true,
//! };
//! let checked = cfg.validate()?;
//! assert_eq!(checked.resblock(), ResBlockKind::Two);
//! assert_eq!(checked.hop_length(), 64);
//! let declared = checked.tensors();
//! assert_eq!(declared[0].name, "conv_pre.weight");
//! assert_eq!(declared[0].shape, [64, 80, 7]);
//! // A file holding exactly these tensors passes; a missing one is named.
//! let file: Vec<(&str, &[usize])> = declared.iter().map(|t| (t.name.as_str(), &t.shape[..])).collect();
//! check_tensors(&declared, file.iter().copied())?;
//! assert!(check_tensors(&declared, file.iter().copied().skip(1)).is_err());
//! # Ok::<(), signet_schema::SchemaError>(())
//! ```
//!
//! **Architecture invariant:** signet-schema never touches libtorch, files or the network; it
//! depends on serde and thiserror only, so importers and tools can use it without a model
//! runtime.
#![forbid(unsafe_code)]

mod error;
pub mod hifigan;
pub mod vits;

use std::collections::BTreeMap;

pub use error::SchemaError;
pub use hifigan::{CheckedHifiGan, HifiGanConfig};
pub use vits::{CheckedVits, VitsConfig};

/// One tensor an architecture declares: its full dotted name and exact shape. Every tensor is
/// F32 in a Signet bundle.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TensorSpec {
    /// Dotted name, as in the upstream checkpoint (`enc_p.encoder.attn_layers.0.conv_q.weight`).
    pub name: String,
    /// Exact shape.
    pub shape: Vec<usize>,
}

/// What a checked configuration of an architecture declares.
///
/// Only checked configs implement it, so the listing never sees out-of-range values.
pub trait ArchitectureSchema {
    /// The bundle manifest's `architecture.kind` for this architecture (`vits`).
    fn kind(&self) -> &'static str;

    /// Every tensor a bundle of this configuration holds, no more and no less, in a stable
    /// order (the order modules appear in the upstream model).
    fn tensors(&self) -> Vec<TensorSpec>;
}

/// Compares the tensors `found` in a file (name, shape) with the `declared` ones: a tensor not
/// declared, a declared one absent, or a shape that differs is an error, checked in that order
/// (the first undeclared tensor in `found` order, then declared tensors in declared order).
/// A name found twice is an error too.
pub fn check_tensors<'a>(
    declared: &[TensorSpec],
    found: impl IntoIterator<Item = (&'a str, &'a [usize])>,
) -> Result<(), SchemaError> {
    let mut seen: BTreeMap<&str, &[usize]> = BTreeMap::new();
    let index: BTreeMap<&str, &[usize]> = declared
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    for (name, shape) in found {
        if !index.contains_key(name) || seen.insert(name, shape).is_some() {
            return Err(SchemaError::UnexpectedTensor {
                tensor: name.to_owned(),
            });
        }
    }
    for spec in declared {
        match seen.get(spec.name.as_str()) {
            None => {
                return Err(SchemaError::MissingTensor {
                    tensor: spec.name.clone(),
                })
            }
            Some(shape) if *shape != spec.shape.as_slice() => {
                return Err(SchemaError::ShapeMismatch {
                    tensor: spec.name.clone(),
                    expected: spec.shape.clone(),
                    found: shape.to_vec(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Appends tensors to a list under a dotted prefix; the listing functions' shared vocabulary
/// (`conv`, `norm`, ...) so each architecture reads like its upstream module tree.
#[derive(Debug)]
pub(crate) struct Lister<'a> {
    out: &'a mut Vec<TensorSpec>,
    prefix: String,
}

impl<'a> Lister<'a> {
    pub(crate) fn new(out: &'a mut Vec<TensorSpec>, prefix: &str) -> Self {
        Lister {
            out,
            prefix: prefix.to_owned(),
        }
    }

    /// The same list under `prefix.segment`.
    pub(crate) fn at(&mut self, segment: impl std::fmt::Display) -> Lister<'_> {
        let prefix = self.name(&segment.to_string());
        Lister {
            out: &mut *self.out,
            prefix,
        }
    }

    fn name(&self, leaf: &str) -> String {
        if self.prefix.is_empty() {
            leaf.to_owned()
        } else {
            format!("{}.{leaf}", self.prefix)
        }
    }

    /// Tensor `leaf` with `shape`.
    pub(crate) fn tensor(&mut self, leaf: &str, shape: &[usize]) {
        let name = self.name(leaf);
        self.out.push(TensorSpec {
            name,
            shape: shape.to_vec(),
        });
    }

    /// A 1-D convolution `Conv1d(inp, out, kernel)` (`weight` `[out, inp / groups, kernel]`, `bias`).
    pub(crate) fn conv(&mut self, inp: usize, out: usize, kernel: usize) {
        self.tensor("weight", &[out, inp, kernel]);
        self.tensor("bias", &[out]);
    }

    /// A VITS channels-first layer norm (`gamma`, `beta`).
    pub(crate) fn norm(&mut self, channels: usize) {
        self.tensor("gamma", &[channels]);
        self.tensor("beta", &[channels]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn spec(name: &str, shape: &[usize]) -> TensorSpec {
        TensorSpec {
            name: name.to_owned(),
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn tensor_sets_are_compared_exactly() {
        let declared = [spec("a.weight", &[2, 3, 1]), spec("a.bias", &[2])];
        let ok: [(&str, &[usize]); 2] = [("a.bias", &[2]), ("a.weight", &[2, 3, 1])];
        assert_eq!(check_tensors(&declared, ok), Ok(()));
        assert_eq!(
            check_tensors(&declared, [("a.weight", &[2, 3, 1][..])]),
            Err(SchemaError::MissingTensor {
                tensor: "a.bias".into()
            })
        );
        let extra: [(&str, &[usize]); 3] =
            [("a.weight", &[2, 3, 1]), ("a.bias", &[2]), ("b", &[1])];
        assert_eq!(
            check_tensors(&declared, extra),
            Err(SchemaError::UnexpectedTensor { tensor: "b".into() })
        );
        let twice: [(&str, &[usize]); 3] =
            [("a.weight", &[2, 3, 1]), ("a.bias", &[2]), ("a.bias", &[2])];
        assert_eq!(
            check_tensors(&declared, twice),
            Err(SchemaError::UnexpectedTensor {
                tensor: "a.bias".into()
            })
        );
        // Same element count, other shape; and a shape that would broadcast.
        for bad in [&[3, 2, 1][..], &[1, 3, 1]] {
            let found: [(&str, &[usize]); 2] = [("a.weight", bad), ("a.bias", &[2])];
            assert_eq!(
                check_tensors(&declared, found),
                Err(SchemaError::ShapeMismatch {
                    tensor: "a.weight".into(),
                    expected: vec![2, 3, 1],
                    found: bad.to_vec(),
                })
            );
        }
    }
}
