//! The number format of a model's heavy convolutions, chosen per CPU at run time.
//!
//! bfloat16 halves the bytes of every weight and activation and, on CPUs with native bf16
//! dot products (x86-64 with AVX-512 BF16), lets oneDNN do about twice the work per
//! instruction. On other CPUs libtorch can only emulate it, far slower than fp32, so a
//! request for bf16 on a CPU without it falls back to fp32 with a note saying so.
//!
//! bf16 is opt-in: [`Precision::Auto`] is fp32 on every CPU. Measured against fp32 on the
//! benchmark's 34 id sequences (`cargo xtask bench --quality`), bf16 audio is 39 dB SNR
//! from fp32 with an unchanged recognizer word error rate, but its mel-cepstral distortion
//! (2.3 dB mean) is over the 0.5 dB a default must hold: its rounding noise fills the
//! quiet high bands.

use std::fmt;
use std::str::FromStr;

/// Environment variable that, set to `1`, makes [`CpuFeatures::detect`] report no bf16 (to
/// compare precisions, or to work around a CPU problem).
pub const DISABLE_BF16_ENV: &str = "SIGNET_DISABLE_BF16";

/// Environment variable that, set to `1`, lets an explicit [`Precision::Bf16`] run bf16 on a
/// CPU without native bf16, emulated by libtorch and many times slower than fp32: only to
/// measure bf16's quality on any machine (`cargo xtask bench --quality`). [`Precision::Auto`]
/// never emulates.
pub const EMULATE_BF16_ENV: &str = "SIGNET_EMULATE_BF16";

/// The precision asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// The default: fp32 (bf16 is opt-in, see the module documentation).
    #[default]
    Auto,
    /// 32-bit floats everywhere: the model exactly as trained.
    Fp32,
    /// bfloat16 for the decoder's upsampling and residual blocks (fp32 elsewhere), where the
    /// CPU has native bf16; fp32 otherwise.
    Bf16,
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Precision::Auto),
            "fp32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(format!(
                "unknown precision `{}`: expected auto, fp32 or bf16",
                other.escape_debug()
            )),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Auto => "auto",
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        })
    }
}

/// The precision a model runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    /// 32-bit floats everywhere.
    Fp32,
    /// bfloat16 for the decoder's upsampling and residual blocks.
    Bf16,
}

impl fmt::Display for Effective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effective::Fp32 => "fp32",
            Effective::Bf16 => "bf16",
        })
    }
}

/// What the CPU offers, as far as precision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuFeatures {
    /// Native bf16 dot products.
    pub bf16: bool,
    /// An explicit bf16 request runs emulated where there is no native bf16
    /// ([`EMULATE_BF16_ENV`]).
    pub emulate_bf16: bool,
}

impl CpuFeatures {
    /// Detects the running CPU's features (see [`DISABLE_BF16_ENV`]).
    pub fn detect() -> Self {
        let disabled = std::env::var_os(DISABLE_BF16_ENV).is_some_and(|v| v == "1");
        CpuFeatures {
            bf16: !disabled && native_bf16(),
            emulate_bf16: std::env::var_os(EMULATE_BF16_ENV).is_some_and(|v| v == "1"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn native_bf16() -> bool {
    std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
fn native_bf16() -> bool {
    false
}

/// The precision a request resolves to on `cpu`, and a note when it is not what was asked.
pub fn resolve(requested: Precision, cpu: CpuFeatures) -> (Effective, Option<String>) {
    match (requested, cpu.bf16) {
        (Precision::Fp32, _) | (Precision::Auto, false) => (Effective::Fp32, None),
        (Precision::Auto, true) => (
            Effective::Fp32,
            Some(
                "precision auto: fp32; this CPU has native bf16, which is faster but opt-in \
                 (--precision bf16): its audio is further from fp32 than a default may be"
                    .to_owned(),
            ),
        ),
        (Precision::Bf16, true) => (Effective::Bf16, None),
        (Precision::Bf16, false) if cpu.emulate_bf16 => (
            Effective::Bf16,
            Some(format!(
                "precision bf16 emulated ({EMULATE_BF16_ENV}=1): this CPU has no native bf16, \
                 so it runs far slower than fp32; for measuring quality only"
            )),
        ),
        (Precision::Bf16, false) => (
            Effective::Fp32,
            Some(
                "precision bf16 asked for, but this CPU has no native bf16 (or it is disabled \
                 with SIGNET_DISABLE_BF16=1): falling back to fp32"
                    .to_owned(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_resolve_by_cpu() {
        let with = CpuFeatures {
            bf16: true,
            emulate_bf16: false,
        };
        let without = CpuFeatures {
            bf16: false,
            emulate_bf16: false,
        };
        assert_eq!(resolve(Precision::Fp32, with), (Effective::Fp32, None));
        let (e, note) = resolve(Precision::Auto, with);
        assert_eq!(e, Effective::Fp32);
        assert!(note.unwrap().contains("opt-in"));
        assert_eq!(resolve(Precision::Bf16, with), (Effective::Bf16, None));
        let (e, note) = resolve(Precision::Bf16, without);
        assert_eq!(e, Effective::Fp32);
        assert!(note.unwrap().contains("falling back to fp32"));
        assert_eq!(resolve(Precision::Auto, without), (Effective::Fp32, None));
    }

    #[test]
    fn only_an_explicit_bf16_request_is_emulated() {
        let emulating = CpuFeatures {
            bf16: false,
            emulate_bf16: true,
        };
        let (e, note) = resolve(Precision::Bf16, emulating);
        assert_eq!(e, Effective::Bf16);
        assert!(note.unwrap().contains("emulated"));
        assert_eq!(resolve(Precision::Auto, emulating).0, Effective::Fp32);
        assert_eq!(resolve(Precision::Fp32, emulating), (Effective::Fp32, None));
    }

    #[test]
    fn precision_names_parse_and_print() {
        for p in [Precision::Auto, Precision::Fp32, Precision::Bf16] {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
        }
        assert!("fp16"
            .parse::<Precision>()
            .unwrap_err()
            .contains("auto, fp32 or bf16"));
    }
}
