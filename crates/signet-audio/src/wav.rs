//! Reading WAV files from untrusted bytes.
//!
//! [`Audio::from_wav`] walks the RIFF structure itself before any decoder
//! sees the file, so that no declared size is ever trusted:
//!
//! 1. the input is capped ([`WavLimits::max_bytes`]) and must hold the
//!    12-byte `RIFF`/`WAVE` header;
//! 2. the RIFF size must match the input exactly (fewer bytes: a truncated
//!    file; more: trailing bytes), except the size 0xFFFFFFFF that streaming
//!    writers leave for "unknown": the form then ends with the input, and a
//!    `data` chunk of unknown size runs to the end of the input;
//! 3. every chunk header must fit, and every declared chunk size must fit in
//!    what is left of the form, odd sizes followed by their pad byte (a
//!    missing pad byte after the last chunk is tolerated, as many writers
//!    omit it); nothing is allocated from a declared size;
//! 4. exactly one `fmt ` chunk, before exactly one `data` chunk;
//! 5. the format is integer PCM of 8, 16, 24 or 32 bits or 32-bit IEEE float
//!    (directly or as WAVE_FORMAT_EXTENSIBLE with the matching sub-format
//!    and valid bits equal to the container), 1 to [`WavLimits::max_channels`]
//!    channels, [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`] Hz, a block
//!    alignment that matches, and a data chunk of whole frames.
//!
//! Only then is hound run, and not on the file's own header: it reads a
//! canonical 44-byte header written here from the checked fields, chained
//! with the checked data bytes (no copy). The redundant byte-rate field and
//! other chunks (`fact`, `cue `, ...) are ignored; one `LIST` chunk of form
//! `INFO` is allowed and [`WavInfo::read`] parses its text fields, and one
//! `sgcr` content-credentials chunk (before or after `data`), which
//! [`WavInfo::read`] parses (its size is capped before anything in it is
//! read) and checks against the `fmt ` and `data` chunks.
//!
//! Memory: the decoded samples take at most four bytes per input byte
//! (8-bit input), plus one mono buffer when downmixing. Channels are
//! downmixed to mono by averaging each frame.

use std::io::{Cursor, Read};

use ndarray::{Array2, Axis};

use crate::{Audio, AudioError, FourCc, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, UNKNOWN_SIZE};

/// Default cap on the size of a WAV input: 1 GiB.
pub const DEFAULT_MAX_WAV_BYTES: u64 = 1 << 30;
/// Default cap on the number of channels of a WAV input.
pub const DEFAULT_MAX_WAV_CHANNELS: u16 = 8;

/// Format tag of integer PCM.
const TAG_PCM: u16 = 0x0001;
/// Format tag of IEEE float samples.
const TAG_FLOAT: u16 = 0x0003;
/// Format tag of WAVE_FORMAT_EXTENSIBLE.
const TAG_EXTENSIBLE: u16 = 0xFFFE;
/// Bytes 2..16 of the KSDATAFORMAT_SUBTYPE GUIDs for PCM and IEEE float
/// (the first two bytes hold the format tag).
const SUBFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

const RIFF: FourCc = FourCc(*b"RIFF");
const WAVE: FourCc = FourCc(*b"WAVE");
const FMT: FourCc = FourCc(*b"fmt ");
const DATA: FourCc = FourCc(*b"data");
const LIST: FourCc = FourCc(*b"LIST");
const SGCR: FourCc = FourCc(crate::CREDENTIALS_CHUNK_ID);

/// Limits applied by [`Audio::from_wav`]. The defaults are safe for
/// untrusted input; raise a limit only for input you trust.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WavLimits {
    /// Largest input accepted, in bytes (default [`DEFAULT_MAX_WAV_BYTES`]).
    pub max_bytes: u64,
    /// Most channels accepted (default and ceiling [`DEFAULT_MAX_WAV_CHANNELS`]).
    pub max_channels: u16,
}

impl Default for WavLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_WAV_BYTES,
            max_channels: DEFAULT_MAX_WAV_CHANNELS,
        }
    }
}

impl WavLimits {
    /// These limits with another cap on the input size.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// These limits with another cap on the channel count; values above
    /// [`DEFAULT_MAX_WAV_CHANNELS`] are lowered to it.
    #[must_use]
    pub fn with_max_channels(mut self, max_channels: u16) -> Self {
        self.max_channels = max_channels.min(DEFAULT_MAX_WAV_CHANNELS);
        self
    }
}

/// Sample encoding, after resolving WAVE_FORMAT_EXTENSIBLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Int,
    Float,
}

/// The checked contents of the `fmt ` chunk.
#[derive(Debug, Clone, Copy)]
struct Format {
    encoding: Encoding,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    block_align: u16,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn fourcc_at(bytes: &[u8], at: usize) -> Option<FourCc> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(FourCc(b.try_into().ok()?))
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The located `fmt ` and `data` chunk bodies, and the `LIST`/`INFO` one.
struct Chunks<'a> {
    fmt: &'a [u8],
    data: &'a [u8],
    /// Offset of the chunk header and its body (form type included).
    info: Option<(usize, &'a [u8])>,
    /// Offset of the `sgcr` content-credentials chunk header and its body.
    credentials: Option<(usize, &'a [u8])>,
}

/// Walks the RIFF form; see the module docs for the rules.
fn walk_chunks<'a>(bytes: &'a [u8], limits: &WavLimits) -> Result<Chunks<'a>, AudioError> {
    let len = to_u64(bytes.len());
    if len > limits.max_bytes {
        return Err(AudioError::WavTooLarge {
            size: len,
            max: limits.max_bytes,
        });
    }
    let (Some(riff), Some(riff_size), Some(form)) =
        (fourcc_at(bytes, 0), u32_at(bytes, 4), fourcc_at(bytes, 8))
    else {
        return Err(AudioError::WavTooShort { len: bytes.len() });
    };
    if riff != RIFF {
        return Err(AudioError::NotRiff { found: riff });
    }
    // A writer that streams does not know the sizes when it writes the
    // header and may leave them at 0xFFFFFFFF ("unknown"): the form then
    // ends where the input ends, and so does a `data` chunk of unknown size.
    let streamed = riff_size == UNKNOWN_SIZE;
    let declared = if streamed {
        len
    } else {
        u64::from(riff_size) + 8
    };
    if declared > len {
        return Err(AudioError::WavTruncated {
            declared,
            available: len,
        });
    }
    if declared < len {
        return Err(AudioError::TrailingBytes {
            riff_end: declared,
            extra: len - declared,
        });
    }
    if form != WAVE {
        return Err(AudioError::NotWave { found: form });
    }

    let riff_end = bytes.len();
    let mut pos = 12usize;
    let mut fmt: Option<(usize, &[u8])> = None;
    let mut data: Option<(usize, &[u8])> = None;
    let mut info: Option<(usize, &[u8])> = None;
    let mut credentials: Option<(usize, &[u8])> = None;
    // Each round advances `pos` by at least 8, so the loop ends.
    while pos < riff_end {
        let left = riff_end - pos;
        let (Some(id), Some(size)) = (fourcc_at(bytes, pos), u32_at(bytes, pos + 4)) else {
            return Err(AudioError::ChunkHeaderTruncated {
                offset: to_u64(pos),
                available: to_u64(left),
            });
        };
        let body_start = pos + 8;
        let available = riff_end - body_start;
        let size = if streamed && size == UNKNOWN_SIZE && id == DATA {
            available
        } else {
            usize::try_from(size).unwrap_or(usize::MAX)
        };
        let Some(body) = bytes.get(body_start..).and_then(|rest| rest.get(..size)) else {
            return Err(AudioError::ChunkOverrun {
                id,
                offset: to_u64(pos),
                declared: to_u64(size),
                available: to_u64(available),
            });
        };
        if id == FMT {
            if fmt.is_some() {
                return Err(AudioError::DuplicateChunk {
                    id,
                    offset: to_u64(pos),
                });
            }
            if let Some((data_offset, _)) = data {
                return Err(AudioError::FmtAfterData {
                    fmt_offset: to_u64(pos),
                    data_offset: to_u64(data_offset),
                });
            }
            fmt = Some((pos, body));
        } else if id == DATA {
            if data.is_some() {
                return Err(AudioError::DuplicateChunk {
                    id,
                    offset: to_u64(pos),
                });
            }
            data = Some((pos, body));
        } else if id == LIST && body.get(..4) == Some(b"INFO") {
            if info.is_some() {
                return Err(AudioError::DuplicateChunk {
                    id,
                    offset: to_u64(pos),
                });
            }
            info = Some((pos, body));
        } else if id == SGCR {
            if credentials.is_some() {
                return Err(AudioError::DuplicateChunk {
                    id,
                    offset: to_u64(pos),
                });
            }
            credentials = Some((pos, body));
        }
        // `size <= available`, so this neither overflows nor passes the end
        // by more than the one pad byte a last odd chunk may omit.
        pos = body_start + size + (size & 1);
    }
    match (fmt, data) {
        (Some((_, fmt)), Some((_, data))) => Ok(Chunks {
            fmt,
            data,
            info,
            credentials,
        }),
        (None, _) => Err(AudioError::MissingChunk { id: FMT }),
        (Some(_), None) => Err(AudioError::MissingChunk { id: DATA }),
    }
}

/// Checks the `fmt ` chunk body.
fn parse_format(fmt: &[u8], limits: &WavLimits) -> Result<Format, AudioError> {
    let size = u32::try_from(fmt.len()).unwrap_or(u32::MAX);
    let tag = u16_at(fmt, 0).unwrap_or(0);
    let (Some(channels), Some(sample_rate), Some(block_align), Some(bits)) = (
        u16_at(fmt, 2),
        u32_at(fmt, 4),
        u16_at(fmt, 12),
        u16_at(fmt, 14),
    ) else {
        return Err(AudioError::FmtTooShort { size, min: 16, tag });
    };
    let (encoding, bits) = match tag {
        TAG_PCM => (Encoding::Int, bits),
        TAG_FLOAT => (Encoding::Float, bits),
        TAG_EXTENSIBLE => {
            let (Some(cb_size), Some(valid_bits), Some(guid)) = (
                u16_at(fmt, 16),
                u16_at(fmt, 18),
                fmt.get(24..40).and_then(|g| <[u8; 16]>::try_from(g).ok()),
            ) else {
                return Err(AudioError::FmtTooShort { size, min: 40, tag });
            };
            if cb_size < 22 {
                return Err(AudioError::FmtTooShort {
                    size: 18 + u32::from(cb_size),
                    min: 40,
                    tag,
                });
            }
            let sub_tag = u16::from_le_bytes([guid[0], guid[1]]);
            let encoding = match (sub_tag, guid.get(2..) == Some(&SUBFORMAT_TAIL[..])) {
                (TAG_PCM, true) => Encoding::Int,
                (TAG_FLOAT, true) => Encoding::Float,
                _ => return Err(AudioError::UnsupportedSubFormat { guid }),
            };
            if valid_bits != 0 && valid_bits != bits {
                return Err(AudioError::UnsupportedBits {
                    tag: sub_tag,
                    bits: valid_bits,
                });
            }
            (encoding, bits)
        }
        _ => return Err(AudioError::UnsupportedFormat { tag }),
    };
    let max_channels = limits.max_channels.min(DEFAULT_MAX_WAV_CHANNELS);
    if channels == 0 || channels > max_channels {
        return Err(AudioError::ChannelCount {
            channels,
            max: max_channels,
        });
    }
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(AudioError::SampleRate {
            rate: sample_rate,
            min: MIN_SAMPLE_RATE,
            max: MAX_SAMPLE_RATE,
        });
    }
    let supported = match encoding {
        Encoding::Int => matches!(bits, 8 | 16 | 24 | 32),
        Encoding::Float => bits == 32,
    };
    if !supported {
        let tag = match encoding {
            Encoding::Int => TAG_PCM,
            Encoding::Float => TAG_FLOAT,
        };
        return Err(AudioError::UnsupportedBits { tag, bits });
    }
    let expected = u32::from(channels) * u32::from(bits / 8);
    if u32::from(block_align) != expected {
        return Err(AudioError::BlockAlign {
            declared: block_align,
            expected,
        });
    }
    Ok(Format {
        encoding,
        channels,
        sample_rate,
        bits,
        block_align,
    })
}

/// A canonical 44-byte header for hound, from checked fields only.
fn canonical_header(format: &Format, data_len: u32) -> Vec<u8> {
    let tag = match format.encoding {
        Encoding::Int => TAG_PCM,
        Encoding::Float => TAG_FLOAT,
    };
    let byte_rate = format
        .sample_rate
        .saturating_mul(u32::from(format.block_align));
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&format.channels.to_le_bytes());
    h.extend_from_slice(&format.sample_rate.to_le_bytes());
    h.extend_from_slice(&byte_rate.to_le_bytes());
    h.extend_from_slice(&format.block_align.to_le_bytes());
    h.extend_from_slice(&format.bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

impl Audio {
    /// Reads a WAV file from untrusted bytes, downmixing to mono.
    ///
    /// Integer samples are scaled to [-1, 1); float samples are kept as they
    /// are (and rejected if not finite). Every malformed input gives its own
    /// [`AudioError`] variant; see the module docs for the checks.
    pub fn from_wav(bytes: &[u8], limits: &WavLimits) -> Result<Audio, AudioError> {
        let chunks = walk_chunks(bytes, limits)?;
        let format = parse_format(chunks.fmt, limits)?;
        let data_len = chunks.data.len();
        if data_len % usize::from(format.block_align) != 0 {
            return Err(AudioError::PartialFrame {
                data_len: to_u64(data_len),
                block_align: format.block_align,
            });
        }
        // The data chunk is inside a RIFF form whose size is a u32.
        let data_len32 = u32::try_from(data_len).map_err(|_| AudioError::WavTooLarge {
            size: to_u64(data_len),
            max: u64::from(u32::MAX),
        })?;
        let header = canonical_header(&format, data_len32);
        let source = Cursor::new(header).chain(Cursor::new(chunks.data));
        let reader = hound::WavReader::new(source)?;

        // Bounded by the checked data length, not by any declared size.
        let n_samples = data_len / usize::from(format.bits / 8);
        let mut interleaved = Vec::with_capacity(n_samples);
        match format.encoding {
            Encoding::Int => {
                let scale = 1.0 / f64::from(1u32 << (format.bits - 1));
                for s in reader.into_samples::<i32>() {
                    interleaved.push((f64::from(s?) * scale) as f32);
                }
            }
            Encoding::Float => {
                for s in reader.into_samples::<f32>() {
                    interleaved.push(s?);
                }
            }
        }
        let channels = usize::from(format.channels);
        let samples = if channels == 1 {
            interleaved
        } else {
            downmix(interleaved, channels)
        };
        Audio::new(samples, format.sample_rate)
    }
}

/// What `signet inspect` shows about a WAV file: its format, its length and
/// its metadata, after the same checks as [`Audio::from_wav`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WavInfo {
    /// Channels in the file (the audio is downmixed when decoded).
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
    /// Bits per sample.
    pub bits: u16,
    /// Whether samples are IEEE floats (else integers).
    pub float: bool,
    /// Frames (samples per channel).
    pub frames: u64,
    /// Largest absolute sample after downmixing.
    pub peak: f32,
    /// The `LIST`/`INFO` text fields, when the file has that chunk.
    pub info: Option<crate::InfoFields>,
    /// Signet's provenance, when the comment carries it.
    pub provenance: Option<crate::Provenance>,
    /// The content credentials (`sgcr` chunk), checked against this file's
    /// `fmt ` and `data` chunks, when the file has them.
    pub credentials: Option<crate::Credentials>,
}

impl WavInfo {
    /// Checks and decodes untrusted WAV bytes as [`Audio::from_wav`] does,
    /// and reads the metadata. A malformed `LIST`/`INFO` chunk, a Signet
    /// comment or an `sgcr` credentials chunk that does not parse is an
    /// error, not missing metadata. Credentials that parse are checked
    /// against the same bytes the samples were decoded from; a failed check
    /// is a [`CredentialStatus`](crate::CredentialStatus), not an error.
    pub fn read(bytes: &[u8], limits: &WavLimits) -> Result<WavInfo, AudioError> {
        let audio = Audio::from_wav(bytes, limits)?;
        let chunks = walk_chunks(bytes, limits)?;
        let format = parse_format(chunks.fmt, limits)?;
        let info = match chunks.info {
            Some((offset, body)) => Some(crate::provenance::parse_info(body, to_u64(offset))?),
            None => None,
        };
        let provenance = match info.as_ref().and_then(|i| i.comment.as_deref()) {
            Some(comment) => crate::Provenance::parse_comment(comment)?,
            None => None,
        };
        let credentials = match chunks.credentials {
            Some((offset, body)) => Some(crate::credentials::read(
                body,
                to_u64(offset),
                chunks.fmt,
                chunks.data,
            )?),
            None => None,
        };
        Ok(WavInfo {
            channels: format.channels,
            sample_rate: format.sample_rate,
            bits: format.bits,
            float: format.encoding == Encoding::Float,
            frames: to_u64(chunks.data.len() / usize::from(format.block_align)),
            peak: audio.peak(),
            info,
            provenance,
            credentials,
        })
    }

    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

/// Averages each frame of interleaved samples (`channels >= 1`). Each
/// sample is divided by the channel count before summing, so finite input
/// never overflows to infinity.
fn downmix(interleaved: Vec<f32>, channels: usize) -> Vec<f32> {
    let frames = interleaved.len() / channels;
    let weight = 1.0 / channels as f32;
    match Array2::from_shape_vec((frames, channels), interleaved) {
        Ok(frames) => frames
            .fold_axis(Axis(1), 0.0f32, |acc, &x| acc + x * weight)
            .to_vec(),
        // Unreachable: the data chunk holds whole frames.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_header_is_what_hound_writes() -> Result<(), hound::Error> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut file = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut file, spec)?;
        w.write_sample(1i16)?;
        w.write_sample(-1i16)?;
        w.finalize()?;
        let format = Format {
            encoding: Encoding::Int,
            channels: 2,
            sample_rate: 22_050,
            bits: 16,
            block_align: 4,
        };
        let header = canonical_header(&format, 4);
        assert_eq!(file.get_ref().get(..44), Some(header.as_slice()));
        Ok(())
    }

    #[test]
    fn limits_default_to_safe_values_and_channels_cannot_be_raised() {
        let l = WavLimits::default();
        assert_eq!((l.max_bytes, l.max_channels), (1 << 30, 8));
        assert_eq!(l.clone().with_max_channels(9).max_channels, 8);
        assert_eq!(l.with_max_bytes(7).max_bytes, 7);
    }

    #[test]
    fn streamed_wav_with_unknown_sizes_reads_to_the_end_of_the_input() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&UNKNOWN_SIZE.to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
        bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
        bytes.extend_from_slice(&22_050u32.to_le_bytes());
        bytes.extend_from_slice(&44_100u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&UNKNOWN_SIZE.to_le_bytes());
        for s in [0i16, 1000, -1000, 0] {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let chunks = walk_chunks(&bytes, &WavLimits::default()).map(|c| c.data.len());
        assert_eq!(chunks.ok(), Some(8));
        // Unknown sizes are only read as such in a streamed form.
        let mut fixed = bytes.clone();
        let riff_size = u32::try_from(fixed.len() - 8).unwrap_or(0);
        fixed.splice(4..8, riff_size.to_le_bytes());
        assert!(matches!(
            walk_chunks(&fixed, &WavLimits::default()),
            Err(AudioError::ChunkOverrun { .. })
        ));
    }

    #[test]
    fn downmix_averages_frames() {
        assert_eq!(downmix(vec![1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
        assert_eq!(downmix(vec![f32::MAX; 3], 3), vec![f32::MAX]);
        assert!(downmix(Vec::new(), 4).is_empty());
    }
}
