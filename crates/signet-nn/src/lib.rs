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
//! - [`Precision`]: fp32 or bf16 for the heavy convolutions, chosen by the CPU's features at
//!   run time.
//! - [`Replicate`]: copies of a loaded model that share its weights, so several threads can
//!   run one model at once; [`Pool`] lends them out, one per call running.
//! - [`set_num_threads`]: libtorch's intra-op thread count, and [`default_threads`]: one per
//!   physical core.
//!
//! **Architecture invariant:** this crate knows tensors and layers, never a model architecture,
//! text, audio files or the CLI.
#![forbid(unsafe_code)]

mod error;
mod layers;
mod precision;
mod replicate;
mod weights;

pub use error::{torch_message, NnError};
pub use layers::{
    from_nhwc, leaky_relu, to_nhwc, zero_tail, Conv1d, ConvSpec, ConvTranspose1d, Embedding,
    LayerNorm, FLOAT,
};
pub use precision::{
    resolve as resolve_precision, CpuFeatures, Effective, Precision, DISABLE_BF16_ENV,
    EMULATE_BF16_ENV,
};
pub use replicate::{Lease, Pool, Replicate};
pub use tch;
pub use weights::{Path, Weights};

/// Sets the number of threads libtorch uses inside one operation (intra-op parallelism).
///
/// This is process-wide. `0` is treated as `1`.
pub fn set_num_threads(n: usize) {
    let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX);
    tch::set_num_threads(n);
}

/// Most threads [`default_threads`] picks: beyond this, oneDNN's convolutions at the sizes of
/// one sentence gain little, and a larger machine is better used by more syntheses at once.
pub const MAX_DEFAULT_THREADS: usize = 8;

/// Environment variable of libtorch's OpenMP runtime that decides what its idle threads do:
/// `passive` makes them sleep, the default makes them spin. It is read once, when the runtime
/// loads (before `main`), so it must be in the environment the process starts with.
pub const OMP_WAIT_POLICY_ENV: &str = "OMP_WAIT_POLICY";

/// Threads for one synthesis when the caller does not say.
///
/// With [`OMP_WAIT_POLICY_ENV`]` = passive` in the process's environment: one per physical
/// core this process may run on (the CPUs it is allowed, divided by the hardware threads per
/// core, since threads of one core share the vector units the convolutions keep busy), at most
/// [`MAX_DEFAULT_THREADS`]. Otherwise 1: spinning OpenMP threads on cores that other work
/// also wants slow a synthesis down several times (measured here on a busy 2-core machine:
/// 2 spinning threads took 12 to 52 s where 1 thread took 8 to 13 s and 2 sleeping threads
/// 9 to 11 s). The `signet` command starts itself with the passive policy.
pub fn default_threads() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    pick_threads(omp_wait_is_passive(), logical, threads_per_core())
}

/// [`default_threads`] for a wait policy, `logical` allowed CPUs and `per_core` hardware
/// threads per core.
fn pick_threads(passive: bool, logical: usize, per_core: usize) -> usize {
    if passive {
        (logical / per_core.max(1)).clamp(1, MAX_DEFAULT_THREADS)
    } else {
        1
    }
}

/// Whether the process's environment makes idle OpenMP threads sleep.
pub fn omp_wait_is_passive() -> bool {
    std::env::var(OMP_WAIT_POLICY_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("passive"))
}

/// Hardware threads per core, from Linux's CPU topology (1 when it cannot be read).
fn threads_per_core() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
        .ok()
        .and_then(|list| count_cpu_list(list.trim()))
        .unwrap_or(1)
        .max(1)
}

/// Counts the CPUs of a Linux CPU list such as `0-1`, `0,32` or `3` (`None` if malformed).
fn count_cpu_list(list: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in list.split(',') {
        n = n.checked_add(match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                b.checked_sub(a)?.checked_add(1)?
            }
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        })?;
    }
    Some(n)
}

/// The number of threads libtorch currently uses inside one operation.
pub fn num_threads() -> usize {
    usize::try_from(tch::get_num_threads()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0,32"), Some(2));
        assert_eq!(count_cpu_list("0-3,8-11"), Some(8));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    #[test]
    fn default_threads_is_one_per_core_only_when_idle_threads_sleep() {
        assert_eq!(pick_threads(false, 16, 2), 1);
        assert_eq!(pick_threads(true, 2, 1), 2);
        assert_eq!(pick_threads(true, 16, 2), 8);
        assert_eq!(pick_threads(true, 64, 2), MAX_DEFAULT_THREADS);
        assert_eq!(pick_threads(true, 1, 2), 1);
        assert_eq!(pick_threads(true, 4, 0), 4);
    }

    #[test]
    fn default_threads_is_within_bounds() {
        let n = default_threads();
        assert!((1..=MAX_DEFAULT_THREADS).contains(&n), "{n}");
        let logical = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert!(n <= logical, "{n} > {logical}");
    }
}
