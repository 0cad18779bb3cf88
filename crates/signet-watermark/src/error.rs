//! The crate's error type, [`WatermarkError`].

/// Errors from embedding and detecting the watermark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatermarkError {
    /// The sample rate is outside what the watermark supports.
    #[error(
        "sample rate {rate} Hz is outside the watermark's range {min}..={max} Hz; \
         resample the audio into that range first"
    )]
    UnsupportedRate {
        /// The rate given.
        rate: u32,
        /// The lowest rate supported.
        min: u32,
        /// The highest rate supported.
        max: u32,
    },
    /// A sample is NaN or infinite.
    #[error("sample {index} is not a finite number ({value}); the audio is corrupt")]
    NonFiniteSample {
        /// Position of the first offending sample (counted from the start of
        /// the stream for the streaming embedder).
        index: u64,
        /// Its value.
        value: f32,
    },
    /// The audio is too short to decide whether the mark is present.
    #[error(
        "{seconds:.3} s of audio is too short to detect the watermark; \
         at least {min_seconds} s are needed"
    )]
    TooShort {
        /// Length of the audio given, in seconds.
        seconds: f64,
        /// The shortest length detection accepts, in seconds.
        min_seconds: f64,
    },
    /// The operating system's random number generator failed.
    #[error("could not draw a new watermark key from the system's random source: {reason}")]
    Random {
        /// What the random source reported.
        reason: String,
    },
    /// A key file does not hold a key.
    #[error(
        "a watermark key file holds 64 hexadecimal digits; this one holds {found} characters \
         that are not such a key (was it edited or truncated? restore it from a backup, or \
         move it away to make a new key, which cannot detect older marks)"
    )]
    KeyFormat {
        /// Characters found after trimming white space.
        found: usize,
    },
}
