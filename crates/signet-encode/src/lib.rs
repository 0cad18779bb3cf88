//! Compressed audio for Signet: MP3, Ogg Opus and FLAC, beside WAV and raw
//! PCM, each written as a stream, piece by piece, with provenance where the
//! format has a place for it.
//!
//! [`Encoder`] takes the [`Audio`] of each sentence (or decoding window) as
//! it is synthesized and returns the bytes that are ready, so a server can
//! send them at once; [`Encoder::finish`] returns the rest. Joined, the
//! pieces are one valid file of the chosen [`AudioFormat`].
//!
//! | format | how | provenance |
//! |---|---|---|
//! | `wav` | signet-audio's [`WavWriter`], sizes unknown (a stream) | `LIST`/`INFO` |
//! | `pcm` | raw 16-bit little-endian samples | none (no room) |
//! | `flac` | this crate's own encoder (`flac.rs`): fixed predictors, Rice codes | Vorbis comments |
//! | `opus` | libopus (BSD), in Ogg pages written here (`ogg.rs`), 48 kHz | Vorbis comments (`OpusTags`) |
//! | `mp3` | LAME (LGPL), linked dynamically | ID3v2.4 (`TSSE`, `COMM`, `TXXX`) |
//!
//! AAC is refused ([`EncodeError::Unsupported`] names the formats there are):
//! no encoder with a sound licence and maintenance record is available to
//! link (see ARCHITECTURE.md).
//!
//! ```
//! use signet_audio::{Audio, Provenance};
//! use signet_encode::{AudioFormat, Encoder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let p = Provenance::new("Signet", "0.1.0", "example-voice", "ab".repeat(32))?;
//! let mut enc = Encoder::new(AudioFormat::Flac, 22_050, &p)?;
//! let mut file = enc.encode(&Audio::silence(22_050, 300)?)?;
//! file.extend(enc.finish()?);
//! assert!(file.starts_with(b"fLaC"));
//! assert_eq!(AudioFormat::parse("mp3")?.content_type(), "audio/mpeg");
//! # Ok(())
//! # }
//! ```
//!
//! **Architecture invariant:** this crate knows nothing of models, text or
//! libtorch; its unsafe code is all in `ffi.rs`, and what reaches the codec
//! libraries is samples Signet made, never client bytes.

mod ffi;
mod flac;
mod mp3;
mod ogg;
mod opus;
mod tags;

use signet_audio::{Audio, AudioError, Provenance, SampleFormat, WavWriter};

pub use tags::{id3v2, vorbis_comments};

/// The formats [`AudioFormat::parse`] knows, in the words clients use.
pub const FORMAT_NAMES: &str = "mp3, opus, flac, wav, pcm";

/// Errors from encoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The format is not one Signet writes.
    #[error("audio format {name:?} is not supported; choose one of: {FORMAT_NAMES}")]
    Unsupported {
        /// The name asked for.
        name: String,
    },
    /// A codec library refused or failed.
    #[error("the {codec} encoder failed while {what} (code {code}); this is a bug or a broken codec library: report it with the voice's sample rate")]
    Codec {
        /// Which codec.
        codec: &'static str,
        /// What it was doing.
        what: &'static str,
        /// The library's error code.
        code: i32,
    },
    /// The sample rate cannot be carried by the format.
    #[error("{format} cannot carry audio at {rate} Hz (it takes {range}); resample the voice's output first")]
    SampleRate {
        /// The format.
        format: &'static str,
        /// The rate.
        rate: u32,
        /// What the format takes.
        range: &'static str,
    },
    /// Audio of another rate than the encoder was made for.
    #[error("audio at {found} Hz given to an encoder made for {expected} Hz")]
    RateChanged {
        /// The encoder's rate.
        expected: u32,
        /// The audio's.
        found: u32,
    },
    /// WAV writing or resampling failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AudioFormat {
    /// MPEG-1/2 Layer III with an ID3v2 tag.
    Mp3,
    /// Opus in Ogg, 48 kHz.
    Opus,
    /// FLAC, 16-bit.
    Flac,
    /// WAV, 16-bit, with the `LIST`/`INFO` provenance chunk.
    Wav,
    /// Raw 16-bit little-endian samples, no header.
    Pcm,
}

impl AudioFormat {
    /// Every format, in the order [`FORMAT_NAMES`] lists them.
    pub const ALL: [AudioFormat; 5] = [Self::Mp3, Self::Opus, Self::Flac, Self::Wav, Self::Pcm];

    /// The format called `name` (`mp3`, `opus`, `flac`, `wav`, `pcm`,
    /// ASCII case ignored); anything else, `aac` included, is
    /// [`EncodeError::Unsupported`].
    pub fn parse(name: &str) -> Result<Self, EncodeError> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| EncodeError::Unsupported {
                name: name.chars().take(32).collect(),
            })
    }

    /// The format's name, as [`parse`](Self::parse) takes it (and the file
    /// extension, but `pcm`'s files are `.pcm`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Opus => "opus",
            Self::Flac => "flac",
            Self::Wav => "wav",
            Self::Pcm => "pcm",
        }
    }

    /// The HTTP `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Opus => "audio/ogg",
            Self::Flac => "audio/flac",
            Self::Wav => "audio/wav",
            Self::Pcm => "audio/pcm",
        }
    }

    /// Whether the format carries provenance (all but raw PCM).
    pub fn carries_provenance(self) -> bool {
        !matches!(self, Self::Pcm)
    }
}

/// A stream encoder: audio in, piece by piece; bytes out as they are ready.
pub struct Encoder {
    rate: u32,
    header: Vec<u8>,
    inner: Inner,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

enum Inner {
    Wav(WavWriter<Vec<u8>>),
    Pcm,
    Flac(flac::FlacEncoder),
    Opus(Box<opus::OggOpusEncoder>),
    Mp3(mp3::Mp3Encoder),
}

impl Encoder {
    /// An encoder of `format` for mono audio at `rate` Hz, labelled with
    /// `provenance` (raw PCM has no place for it).
    pub fn new(
        format: AudioFormat,
        rate: u32,
        provenance: &Provenance,
    ) -> Result<Self, EncodeError> {
        let (inner, header) = match format {
            AudioFormat::Wav => {
                let mut w =
                    WavWriter::unsized_stream(Vec::new(), rate, SampleFormat::S16, provenance)?;
                let header = std::mem::take(w.get_mut());
                (Inner::Wav(w), header)
            }
            AudioFormat::Pcm => (Inner::Pcm, Vec::new()),
            AudioFormat::Flac => {
                let (e, header) = flac::FlacEncoder::new(rate, provenance)?;
                (Inner::Flac(e), header)
            }
            AudioFormat::Opus => {
                let (e, header) = opus::OggOpusEncoder::new(rate, provenance)?;
                (Inner::Opus(Box::new(e)), header)
            }
            AudioFormat::Mp3 => {
                let (e, header) = mp3::Mp3Encoder::new(rate, provenance)?;
                (Inner::Mp3(e), header)
            }
        };
        Ok(Self {
            rate,
            header,
            inner,
        })
    }

    /// The bytes that come before any audio (headers, tags), if not yet
    /// taken; [`encode`](Self::encode) returns them first otherwise.
    pub fn take_header(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.header)
    }

    /// Encodes the next piece; returns the bytes that are ready (which may
    /// be none: compressed formats work in frames).
    pub fn encode(&mut self, audio: &Audio) -> Result<Vec<u8>, EncodeError> {
        if audio.sample_rate() != self.rate {
            return Err(EncodeError::RateChanged {
                expected: self.rate,
                found: audio.sample_rate(),
            });
        }
        let mut out = std::mem::take(&mut self.header);
        match &mut self.inner {
            Inner::Wav(w) => {
                w.write(audio)?;
                out.append(w.get_mut());
            }
            Inner::Pcm => audio.write_raw(SampleFormat::S16, &mut out)?,
            Inner::Flac(e) => e.encode(audio.samples(), &mut out),
            Inner::Opus(e) => e.encode(audio.samples(), &mut out)?,
            Inner::Mp3(e) => out.extend(e.encode(audio.samples())?),
        }
        Ok(out)
    }

    /// Ends the stream; returns the last bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, EncodeError> {
        let mut out = std::mem::take(&mut self.header);
        match self.inner {
            Inner::Wav(_) | Inner::Pcm => {}
            Inner::Flac(e) => e.finish(&mut out),
            Inner::Opus(e) => e.finish(&mut out)?,
            Inner::Mp3(mut e) => out.extend(e.finish()?),
        }
        Ok(out)
    }
}

/// Encodes a whole clip at once.
pub fn encode_all(
    format: AudioFormat,
    audio: &Audio,
    provenance: &Provenance,
) -> Result<Vec<u8>, EncodeError> {
    let mut enc = Encoder::new(format, audio.sample_rate(), provenance)?;
    let mut out = enc.encode(audio)?;
    out.extend(enc.finish()?);
    Ok(out)
}
