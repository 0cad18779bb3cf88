//! The crate's error type, [`AudioError`], and [`FourCc`], the RIFF chunk
//! identifier that WAV errors name.

use std::fmt;

/// A four-character RIFF chunk identifier (`b"fmt "`, `b"data"`, ...), as
/// found in the file; displayed as text with non-printable bytes escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub [u8; 4]);

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// Errors from audio input, processing and output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// A sample is NaN or infinite; writing it would produce noise or garbage.
    #[error("sample {index} is not a finite number ({value})")]
    NonFiniteSample {
        /// Position of the first offending sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The sample rate is outside what Signet accepts here.
    #[error("sample rate {rate} Hz is outside the supported range {min}..={max} Hz")]
    SampleRate {
        /// The rate asked for or found.
        rate: u32,
        /// Lowest supported rate.
        min: u32,
        /// Highest supported rate.
        max: u32,
    },
    /// The WAV encoder or decoder failed.
    #[error("WAV codec error: {0}")]
    Wav(#[from] hound::Error),
    /// Writing the output failed.
    #[error("cannot write audio: {0}")]
    Io(#[from] std::io::Error),

    /// The WAV input is larger than [`crate::WavLimits::max_bytes`].
    #[error(
        "WAV input is {size} bytes, over the limit of {max} bytes (raise WavLimits::max_bytes)"
    )]
    WavTooLarge {
        /// Size of the input.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The input is shorter than the 12-byte RIFF/WAVE header.
    #[error("WAV input is {len} bytes, shorter than the 12-byte RIFF header")]
    WavTooShort {
        /// Size of the input.
        len: usize,
    },
    /// The input does not start with `RIFF` (RIFX, RF64 and others are not read).
    #[error("not a RIFF file: starts with \"{found}\"")]
    NotRiff {
        /// The first four bytes.
        found: FourCc,
    },
    /// The RIFF form type is not `WAVE`.
    #[error("RIFF form type is \"{found}\", not WAVE")]
    NotWave {
        /// The form type found.
        found: FourCc,
    },
    /// The RIFF header declares more bytes than the input holds: a truncated file.
    #[error("WAV file truncated: header declares {declared} bytes, only {available} present")]
    WavTruncated {
        /// Total file size the RIFF header declares.
        declared: u64,
        /// Bytes actually present.
        available: u64,
    },
    /// Bytes follow the end of the RIFF form the header declares.
    #[error("{extra} bytes after the end of the RIFF form ({riff_end} bytes)")]
    TrailingBytes {
        /// Where the RIFF form ends.
        riff_end: u64,
        /// How many bytes follow it.
        extra: u64,
    },
    /// A chunk header (8 bytes) does not fit in what remains of the RIFF form.
    #[error("chunk header at offset {offset} truncated: {available} bytes left, 8 needed")]
    ChunkHeaderTruncated {
        /// Offset of the chunk header.
        offset: u64,
        /// Bytes left in the RIFF form.
        available: u64,
    },
    /// A chunk declares a size beyond the end of the RIFF form (a lying or
    /// huge size); nothing is allocated from it.
    #[error("chunk {id} at offset {offset} declares {declared} bytes, only {available} left")]
    ChunkOverrun {
        /// The chunk's identifier.
        id: FourCc,
        /// Offset of the chunk header.
        offset: u64,
        /// Size the chunk declares.
        declared: u64,
        /// Bytes left in the RIFF form after its header.
        available: u64,
    },
    /// A required chunk (`fmt ` or `data`) is absent.
    #[error("WAV file has no {id} chunk")]
    MissingChunk {
        /// The missing chunk's identifier.
        id: FourCc,
    },
    /// A chunk that may occur once occurs again.
    #[error("second {id} chunk at offset {offset}")]
    DuplicateChunk {
        /// The chunk's identifier.
        id: FourCc,
        /// Offset of the second occurrence.
        offset: u64,
    },
    /// The `fmt ` chunk comes after the `data` chunk.
    #[error("fmt chunk at offset {fmt_offset} follows the data chunk at offset {data_offset}")]
    FmtAfterData {
        /// Offset of the `fmt ` chunk.
        fmt_offset: u64,
        /// Offset of the `data` chunk.
        data_offset: u64,
    },
    /// The `fmt ` chunk is too small for its format.
    #[error("fmt chunk is {size} bytes, at least {min} needed for format tag {tag:#06x}")]
    FmtTooShort {
        /// Size of the chunk.
        size: u32,
        /// Size its format needs.
        min: u32,
        /// The format tag (0 if the chunk is too short to hold one).
        tag: u16,
    },
    /// The format tag is not PCM (1), IEEE float (3) or extensible (0xFFFE).
    #[error("unsupported WAV format tag {tag:#06x} (PCM, IEEE float and extensible are read)")]
    UnsupportedFormat {
        /// The format tag.
        tag: u16,
    },
    /// A WAVE_FORMAT_EXTENSIBLE file with a sub-format other than PCM or IEEE float.
    #[error("unsupported WAVE_FORMAT_EXTENSIBLE sub-format {guid:02x?}")]
    UnsupportedSubFormat {
        /// The sub-format GUID bytes, as stored.
        guid: [u8; 16],
    },
    /// The channel count is zero or above [`crate::WavLimits::max_channels`].
    #[error("WAV file has {channels} channels; 1..={max} are read")]
    ChannelCount {
        /// Channels the file declares.
        channels: u16,
        /// Most channels accepted.
        max: u16,
    },
    /// The sample width is not one Signet reads (8/16/24/32-bit integer, 32-bit float).
    #[error("unsupported sample width: {bits} bits with format tag {tag:#06x}")]
    UnsupportedBits {
        /// Format tag (1 for integer PCM, 3 for float) after resolving extensible.
        tag: u16,
        /// Bits per sample declared (valid bits for extensible files).
        bits: u16,
    },
    /// The block alignment disagrees with channels and sample width.
    #[error("block alignment is {declared} bytes, channels and sample width give {expected}")]
    BlockAlign {
        /// Block alignment the file declares.
        declared: u16,
        /// What channels × bytes per sample gives.
        expected: u32,
    },
    /// The data chunk does not hold a whole number of frames.
    #[error("data chunk of {data_len} bytes is not a whole number of {block_align}-byte frames")]
    PartialFrame {
        /// Size of the data chunk.
        data_len: u64,
        /// Bytes per frame.
        block_align: u16,
    },

    /// A `LIST`/`INFO` chunk whose fields do not fit or do not parse.
    #[error("malformed LIST/INFO chunk at offset {offset}: {reason}")]
    BadInfoChunk {
        /// Offset of the `LIST` chunk header.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An `sgcr` content-credentials chunk that does not parse (see the
    /// `credentials` module for the format): the file's credentials cannot
    /// be checked.
    #[error("malformed content credentials (sgcr chunk) at offset {offset}: {reason}")]
    BadCredentials {
        /// Offset of the `sgcr` chunk header.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// Provenance fields that cannot be written unambiguously, or a Signet
    /// provenance comment that does not parse.
    #[error("bad provenance {field}: {reason}")]
    BadProvenance {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },

    /// The resampler could not be built or failed while running.
    #[error("resampling {from} Hz to {to} Hz failed: {reason}")]
    Resampler {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// What rubato reported.
        reason: String,
    },

    /// A peak-normalization target outside (0, 1] or not finite.
    #[error("peak target {target} is outside (0, 1]")]
    PeakTarget {
        /// The target asked for.
        target: f32,
    },
    /// A volume gain that is negative or not finite.
    #[error("gain {gain} is not a finite, non-negative number")]
    Gain {
        /// The gain asked for.
        gain: f32,
    },
    /// A silence threshold that is negative or not finite.
    #[error("silence threshold {threshold} is not a finite, non-negative amplitude")]
    SilenceThreshold {
        /// The threshold asked for.
        threshold: f32,
    },
    /// A silence longer than [`crate::MAX_SILENCE_MS`].
    #[error("silence of {ms} ms is longer than the limit of {max_ms} ms")]
    SilenceTooLong {
        /// Length asked for.
        ms: u32,
        /// The limit.
        max_ms: u32,
    },
    /// An [`AudioOptions`](crate::AudioOptions) setting out of range.
    #[error("invalid setting {setting} = {value}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// A spectrogram normalization setting is out of range.
    #[error("mel normalization setting `{key}` is invalid: {reason}; fix the voice's or vocoder's audio settings")]
    InvalidMelNormalization {
        /// The setting (Coqui's key name).
        key: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// A spectrogram does not have the number of mel bins its settings describe.
    #[error("spectrogram of {values} values is not {num_mels} mel bins times whole frames")]
    MelShape {
        /// Values handed over.
        values: usize,
        /// Mel bins the settings describe.
        num_mels: usize,
    },
    /// The watermark could not be embedded (a rate outside its range, a
    /// sample that is not finite).
    #[error("watermarking the audio failed: {0}")]
    Watermark(#[from] signet_watermark::WatermarkError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_displays_printable_bytes_and_escapes_the_rest() {
        assert_eq!(FourCc(*b"fmt ").to_string(), "fmt ");
        assert_eq!(FourCc([b'd', 0, 0xFF, b'a']).to_string(), "d\\x00\\xffa");
    }

    #[test]
    fn errors_name_their_limit() {
        let e = AudioError::WavTooLarge { size: 10, max: 5 };
        assert!(e.to_string().contains("WavLimits::max_bytes"));
        let e = AudioError::ChunkOverrun {
            id: FourCc(*b"data"),
            offset: 36,
            declared: 9,
            available: 2,
        };
        assert_eq!(
            e.to_string(),
            "chunk data at offset 36 declares 9 bytes, only 2 left"
        );
    }
}
