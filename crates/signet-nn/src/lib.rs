//! Shared libtorch building blocks for Signet's model crates.
//!
//! - [`Weights`]: a strict tensor source over a [`VerifiedBundle`](signet_registry::VerifiedBundle)'s
//!   safetensors file. It is built against the tensors an architecture declares (its
//!   `signet-schema` listing): undeclared, missing, misshapen or non-F32 tensors are refused up
//!   front. Every tensor is then handed out once, by name, with its exact shape checked again;
//!   [`Weights::finish`] refuses a file holding tensors no module took. tch's `VarStore::load` is
//!   deliberately not used: it ignores extra tensors and may broadcast.
//! - [`Path`]: candle-style name building, so module code reads `path / "enc_p" / "encoder"` and
//!   matches the checkpoint's own names.
//! - Layers: [`Conv1d`], [`ConvTranspose1d`], [`LayerNorm`] (channels-first, VITS style),
//!   [`Embedding`], and [`leaky_relu`].
//! - [`set_num_threads`]: libtorch's intra-op thread count.
//!
//! **Architecture invariant:** this crate knows tensors and layers, never a model architecture,
//! text, audio files or the CLI.
#![forbid(unsafe_code)]

mod error;
mod layers;
mod weights;

pub use error::{torch_message, NnError};
pub use layers::{
    from_nhwc, leaky_relu, to_nhwc, zero_tail, Conv1d, ConvSpec, ConvTranspose1d, Embedding,
    LayerNorm, FLOAT,
};
pub use tch;
pub use weights::{Path, Weights};

/// Sets the number of threads libtorch uses inside one operation (intra-op parallelism).
///
/// This is process-wide. `0` is treated as `1`.
pub fn set_num_threads(n: usize) {
    let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX);
    tch::set_num_threads(n);
}

/// The number of threads libtorch currently uses inside one operation.
pub fn num_threads() -> usize {
    usize::try_from(tch::get_num_threads()).unwrap_or(1)
}
