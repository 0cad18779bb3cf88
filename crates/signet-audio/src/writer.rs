//! Signet's one WAV writer: every file and every stream it writes carries
//! the provenance chunk.
//!
//! Layout: the `RIFF`/`WAVE` header, a 16-byte `fmt ` chunk (integer PCM or
//! IEEE float, mono), the provenance `LIST`/`INFO` chunk (see
//! [`Provenance`]), then the `data` chunk. Metadata comes before the samples
//! so that a stream, whose end is not known when it starts, carries it too.
//! A complete file may also be signed ([`WavWriter::finish_signed`],
//! [`write_signed_wav_stream`], [`Audio::to_signed_wav`]): the content
//! credentials chunk `sgcr` then follows the `data` chunk, since it holds the
//! SHA-256 of the samples (see the `credentials` module). A stream of unknown
//! length cannot be signed: its samples run to the end of the stream.
//!
//! A [`WavWriter`] writes the header at once and the samples as they come,
//! holding no audio itself. Its sizes are either
//!
//! - patched when it finishes ([`WavWriter::new`], for a seekable file or
//!   buffer): a complete file, at most 4 GiB; or
//! - marked unknown ([`WavWriter::unsized_stream`], for a response or pipe
//!   written as the audio is made): the `RIFF` and `data` sizes are
//!   `0xFFFFFFFF` and the samples run to the end of the stream, as streaming
//!   writers and readers agree. [`WavInfo::read`](crate::WavInfo::read)
//!   reads such a stream.

use std::io::{Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use crate::{to_s16, Audio, AudioError, CredentialSigner, Provenance, SampleFormat};

/// The size written for a `RIFF` form or `data` chunk whose length is not
/// known: the data runs to the end of the stream.
pub const UNKNOWN_SIZE: u32 = u32::MAX;

/// Room kept in a RIFF form for headers.
const HEADROOM: u64 = 4096;

/// Whether the sizes are written at the end or left unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizes {
    Patched,
    Unknown,
}

/// A WAV file or stream being written; see the module docs.
#[derive(Debug)]
pub struct WavWriter<W: Write> {
    out: W,
    sample_rate: u32,
    format: SampleFormat,
    sizes: Sizes,
    /// Offset of the `data` chunk's size field.
    data_size_at: u64,
    data_bytes: u64,
    /// What signed content credentials would state (a file whose sizes
    /// are patched only; boxed, so that a stream's writer stays small).
    seal: Option<Box<Seal>>,
}

/// What a signed file's credentials need: the label, the `fmt ` body, and
/// the SHA-256 of the samples as they are written.
#[derive(Debug)]
struct Seal {
    provenance: Provenance,
    fmt: Vec<u8>,
    data_hash: Sha256,
}

fn width(format: SampleFormat) -> u16 {
    match format {
        SampleFormat::S16 => 2,
        SampleFormat::F32 => 4,
    }
}

/// The 16-byte body of the `fmt ` chunk.
fn fmt_body(sample_rate: u32, format: SampleFormat) -> Vec<u8> {
    let (tag, bits): (u16, u16) = match format {
        SampleFormat::S16 => (1, 16),
        SampleFormat::F32 => (3, 32),
    };
    let block = width(format);
    let mut f = Vec::with_capacity(16);
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes());
    f.extend_from_slice(&sample_rate.to_le_bytes());
    f.extend_from_slice(&sample_rate.saturating_mul(u32::from(block)).to_le_bytes());
    f.extend_from_slice(&block.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

/// The header up to and including the `data` chunk's header.
fn header(fmt: &[u8], provenance: &Provenance, riff_size: u32, data_size: u32) -> Vec<u8> {
    let info = provenance.info_chunk();
    let mut h = Vec::with_capacity(44 + info.len());
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_size.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(fmt);
    h.extend_from_slice(&info);
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_size.to_le_bytes());
    h
}

impl<W: Write> WavWriter<W> {
    fn start(
        mut out: W,
        sample_rate: u32,
        format: SampleFormat,
        provenance: &Provenance,
        sizes: Sizes,
    ) -> Result<Self, AudioError> {
        // Checked like any audio Signet writes.
        Audio::new(Vec::new(), sample_rate)?;
        let (riff, data) = match sizes {
            Sizes::Patched => (0, 0),
            Sizes::Unknown => (UNKNOWN_SIZE, UNKNOWN_SIZE),
        };
        let fmt = fmt_body(sample_rate, format);
        let h = header(&fmt, provenance, riff, data);
        out.write_all(&h)?;
        Ok(Self {
            out,
            sample_rate,
            format,
            sizes,
            data_size_at: (h.len() as u64).saturating_sub(4),
            data_bytes: 0,
            seal: match sizes {
                Sizes::Patched => Some(Box::new(Seal {
                    provenance: provenance.clone(),
                    fmt,
                    data_hash: Sha256::new(),
                })),
                Sizes::Unknown => None,
            },
        })
    }

    /// Starts a stream whose length is not known: the header, provenance
    /// included, is written now with its sizes marked unknown, and the
    /// samples follow as they are written. Finish it with
    /// [`end_stream`](Self::end_stream).
    ///
    /// # Errors
    /// A sample rate Signet does not write, or a write failure.
    pub fn unsized_stream(
        out: W,
        sample_rate: u32,
        format: SampleFormat,
        provenance: &Provenance,
    ) -> Result<Self, AudioError> {
        Self::start(out, sample_rate, format, provenance, Sizes::Unknown)
    }

    /// Appends one piece of audio, which must be at the writer's rate.
    ///
    /// # Errors
    /// Another sample rate; more than 4 GiB of samples in a file whose sizes
    /// are patched ([`AudioError::WavTooLarge`]); a write failure.
    pub fn write(&mut self, audio: &Audio) -> Result<(), AudioError> {
        if audio.sample_rate() != self.sample_rate {
            return Err(AudioError::SampleRate {
                rate: audio.sample_rate(),
                min: self.sample_rate,
                max: self.sample_rate,
            });
        }
        let bytes = u64::from(width(self.format)).saturating_mul(audio.samples().len() as u64);
        let total = self.data_bytes.saturating_add(bytes);
        let max = u64::from(u32::MAX) - HEADROOM;
        if self.sizes == Sizes::Patched && total > max {
            return Err(AudioError::WavTooLarge { size: total, max });
        }
        let encoded = audio.encode_raw(self.format);
        if let Some(seal) = &mut self.seal {
            seal.data_hash.update(&encoded);
        }
        self.out.write_all(&encoded)?;
        self.data_bytes = total;
        Ok(())
    }

    /// The destination, e.g. to take the bytes written so far out of a
    /// `Vec<u8>` stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Ends a stream started with [`unsized_stream`](Self::unsized_stream):
    /// flushes and returns the destination. (A writer whose sizes are
    /// patched must be finished with [`finish`](Self::finish).)
    ///
    /// # Errors
    /// A write failure, or a writer whose sizes are to be patched.
    pub fn end_stream(mut self) -> Result<W, AudioError> {
        if self.sizes == Sizes::Patched {
            return Err(AudioError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a WAV file with known sizes is ended with finish",
            )));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write + Seek> WavWriter<W> {
    /// Starts a complete WAV file in `out`, which must be empty and at
    /// offset 0 (a new file, an empty cursor); [`finish`](Self::finish)
    /// writes the sizes.
    ///
    /// # Errors
    /// `out` not at offset 0, a sample rate Signet does not write, or a
    /// write failure.
    pub fn new(
        mut out: W,
        sample_rate: u32,
        format: SampleFormat,
        provenance: &Provenance,
    ) -> Result<Self, AudioError> {
        if out.stream_position()? != 0 {
            return Err(AudioError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a WAV file must start at offset 0",
            )));
        }
        Self::start(out, sample_rate, format, provenance, Sizes::Patched)
    }

    /// Writes the sizes (for a file started with [`new`](Self::new)),
    /// flushes, and returns the destination, positioned at its end.
    ///
    /// # Errors
    /// A write or seek failure.
    pub fn finish(self) -> Result<W, AudioError> {
        self.finish_with(None)
    }

    /// As [`finish`](Self::finish), after appending the signed content
    /// credentials chunk (`sgcr`, after `data`; see the `credentials`
    /// module) that states what made the audio and the SHA-256 of the `fmt `
    /// and `data` chunks written.
    ///
    /// # Errors
    /// A write or seek failure; a writer started with
    /// [`unsized_stream`](WavWriter::unsized_stream), whose end is not known
    /// (a stream cannot carry credentials).
    pub fn finish_signed(self, signer: &CredentialSigner<'_>) -> Result<W, AudioError> {
        if self.sizes == Sizes::Unknown {
            return Err(AudioError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a WAV stream of unknown length cannot carry content credentials",
            )));
        }
        self.finish_with(Some(signer))
    }

    fn finish_with(mut self, signer: Option<&CredentialSigner<'_>>) -> Result<W, AudioError> {
        if self.sizes == Sizes::Patched {
            let mut end = self
                .data_size_at
                .saturating_add(4)
                .saturating_add(self.data_bytes);
            if let (Some(signer), Some(seal)) = (signer, self.seal.take()) {
                // The data chunk holds whole 2- or 4-byte samples: its size
                // is even, so the credentials follow it with no pad byte.
                // Written at the end of what the writer wrote: the
                // destination is there.
                let Seal {
                    provenance,
                    fmt,
                    data_hash,
                } = *seal;
                let chunk = signer.chunk(
                    &provenance,
                    crate::credentials::sha256_hex(&fmt),
                    hex::encode(data_hash.finalize()),
                );
                self.out.write_all(&chunk)?;
                end = end.saturating_add(chunk.len() as u64);
            }
            let too_large = |size| AudioError::WavTooLarge {
                size,
                max: u64::from(u32::MAX),
            };
            let riff = u32::try_from(end.saturating_sub(8)).map_err(|_| too_large(end))?;
            let data = u32::try_from(self.data_bytes).map_err(|_| too_large(end))?;
            self.out.seek(SeekFrom::Start(4))?;
            self.out.write_all(&riff.to_le_bytes())?;
            self.out.seek(SeekFrom::Start(self.data_size_at))?;
            self.out.write_all(&data.to_le_bytes())?;
            self.out.seek(SeekFrom::Start(end))?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a complete WAV file to `w` piece by piece, holding one piece of
/// audio at a time: a [`WavWriter`] with patched sizes, fed from `pieces`.
///
/// `w` must be empty and at offset 0. `pieces` yields the audio in order,
/// all at `sample_rate`; an error from it stops the writing and is returned
/// (the file is then incomplete).
///
/// # Errors
/// An error of `pieces`, or of the writer (see [`WavWriter::write`]).
pub fn write_wav_stream<W, I, E>(
    w: &mut W,
    sample_rate: u32,
    format: SampleFormat,
    provenance: &Provenance,
    pieces: I,
) -> Result<(), E>
where
    W: Write + Seek,
    I: IntoIterator<Item = Result<Audio, E>>,
    E: From<AudioError>,
{
    let mut writer = WavWriter::new(&mut *w, sample_rate, format, provenance)?;
    for piece in pieces {
        writer.write(&piece?)?;
    }
    writer.finish()?;
    Ok(())
}

/// As [`write_wav_stream`], and signs the file: the signed content
/// credentials chunk (see [`WavWriter::finish_signed`]) follows the samples.
///
/// # Errors
/// As [`write_wav_stream`].
pub fn write_signed_wav_stream<W, I, E>(
    w: &mut W,
    sample_rate: u32,
    format: SampleFormat,
    provenance: &Provenance,
    signer: &CredentialSigner<'_>,
    pieces: I,
) -> Result<(), E>
where
    W: Write + Seek,
    I: IntoIterator<Item = Result<Audio, E>>,
    E: From<AudioError>,
{
    let mut writer = WavWriter::new(&mut *w, sample_rate, format, provenance)?;
    for piece in pieces {
        writer.write(&piece?)?;
    }
    writer.finish_signed(signer)?;
    Ok(())
}

impl Audio {
    /// As [`to_wav`](Self::to_wav), and signed: the file ends with the
    /// content credentials chunk `signer` signs (see
    /// [`WavWriter::finish_signed`]).
    ///
    /// # Errors
    /// More than 4 GiB of samples.
    pub fn to_signed_wav(
        &self,
        format: SampleFormat,
        provenance: &Provenance,
        signer: &CredentialSigner<'_>,
    ) -> Result<Vec<u8>, AudioError> {
        let mut out = std::io::Cursor::new(Vec::with_capacity(
            2560 + self.samples().len() * usize::from(width(format)),
        ));
        write_signed_wav_stream::<_, _, AudioError>(
            &mut out,
            self.sample_rate(),
            format,
            provenance,
            signer,
            [Ok(self.clone())],
        )?;
        Ok(out.into_inner())
    }

    /// Encodes the buffer as a complete WAV file that carries `provenance`
    /// (see the module docs). There is no unlabelled WAV writer: Signet's
    /// audio always says what made it.
    ///
    /// # Errors
    /// More than 4 GiB of samples.
    pub fn to_wav(
        &self,
        format: SampleFormat,
        provenance: &Provenance,
    ) -> Result<Vec<u8>, AudioError> {
        let mut out = std::io::Cursor::new(Vec::with_capacity(
            512 + self.samples().len() * usize::from(width(format)),
        ));
        write_wav_stream::<_, _, AudioError>(
            &mut out,
            self.sample_rate(),
            format,
            provenance,
            [Ok(self.clone())],
        )?;
        Ok(out.into_inner())
    }

    /// Encodes the samples as raw little-endian PCM into `w`, without
    /// flushing.
    pub(crate) fn write_raw_unflushed<W: Write>(
        &self,
        format: SampleFormat,
        w: &mut W,
    ) -> Result<(), AudioError> {
        w.write_all(&self.encode_raw(format))?;
        Ok(())
    }

    /// The samples as raw little-endian PCM.
    fn encode_raw(&self, format: SampleFormat) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.samples().len() * usize::from(width(format)));
        match format {
            SampleFormat::S16 => {
                for &s in self.samples() {
                    buf.extend_from_slice(&to_s16(s).to_le_bytes());
                }
            }
            SampleFormat::F32 => {
                for &s in self.samples() {
                    buf.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance::new("Signet", "0.1.0", "v", "ab".repeat(32)).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn a_stream_differs_from_a_file_only_in_its_sizes() -> Result<(), AudioError> {
        let audio = Audio::new(vec![0.25, -0.5, 0.0], 16_000)?;
        let mut s =
            WavWriter::unsized_stream(Vec::new(), 16_000, SampleFormat::S16, &provenance())?;
        s.write(&audio)?;
        let stream = s.end_stream()?;
        let file = audio.to_wav(SampleFormat::S16, &provenance())?;
        assert_eq!(stream.len(), file.len());
        let data_size_at = file.len() - 6 - 4;
        let differing: Vec<usize> = (0..file.len())
            .filter(|&i| stream.get(i) != file.get(i))
            .collect();
        assert!(differing
            .iter()
            .all(|&i| (4..8).contains(&i) || (data_size_at..data_size_at + 4).contains(&i)));
        assert_eq!(stream.get(4..8), Some(&UNKNOWN_SIZE.to_le_bytes()[..]));
        assert_eq!(
            stream.get(data_size_at..data_size_at + 4),
            Some(&UNKNOWN_SIZE.to_le_bytes()[..])
        );
        assert_eq!(
            file.get(data_size_at..data_size_at + 4),
            Some(&6u32.to_le_bytes()[..])
        );
        Ok(())
    }
}
