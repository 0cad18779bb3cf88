//! Opus in Ogg (RFC 7845): the voice's audio resampled to 48 kHz as one
//! continuous stream (signet-audio's [`StreamResampler`]), cut into 20 ms
//! frames for libopus, the packets written to Ogg pages, one page per
//! piece of audio so that each piece leaves as soon as it is encoded.
//!
//! The `OpusHead` packet records the voice's own rate and the encoder's
//! lookahead as pre-skip; the last page's granule position trims the
//! padding of the last frame, so a decoder returns exactly the samples
//! that went in (at 48 kHz). `OpusTags` carries the provenance as Vorbis
//! comments.

use signet_audio::{Provenance, StreamResampler};

use crate::ffi::OpusEncoder;
use crate::ogg::OggWriter;
use crate::tags::vorbis_comments;
use crate::EncodeError;

/// Opus's only granule rate, and the rate the encoder runs at.
const OPUS_RATE: u32 = 48_000;
/// Samples per frame: 20 ms at 48 kHz.
const FRAME: usize = 960;
/// Bits per second: clear speech in mono.
const BITRATE: i32 = 32_000;
/// The Ogg stream's serial number (one stream per file).
const SERIAL: u32 = 0x5349_474e;

pub(crate) struct OggOpusEncoder {
    opus: OpusEncoder,
    resampler: StreamResampler,
    ogg: OggWriter,
    pending: Vec<f32>,
    pre_skip: u64,
    /// 48 kHz samples of real audio taken so far.
    taken: u64,
    /// 48 kHz samples encoded so far (packets × frame).
    encoded: u64,
}

impl OggOpusEncoder {
    /// The encoder and the stream's two header pages.
    pub(crate) fn new(rate: u32, provenance: &Provenance) -> Result<(Self, Vec<u8>), EncodeError> {
        let resampler = StreamResampler::new(rate, OPUS_RATE)?;
        let mut opus = OpusEncoder::new(BITRATE)?;
        let pre_skip = opus.lookahead()?;
        let mut ogg = OggWriter::new(SERIAL);
        let mut header = Vec::new();
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family: mono/stereo
        ogg.packet(&head, 0, &mut header);
        ogg.flush(false, &mut header);
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&vorbis_comments(provenance));
        ogg.packet(&tags, 0, &mut header);
        ogg.flush(false, &mut header);
        Ok((
            Self {
                opus,
                resampler,
                ogg,
                pending: Vec::with_capacity(FRAME * 2),
                pre_skip: u64::from(pre_skip),
                taken: 0,
                encoded: 0,
            },
            header,
        ))
    }

    /// Takes samples at the voice's rate; writes a page with every whole frame.
    pub(crate) fn encode(&mut self, samples: &[f32], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let resampled = self.resampler.push(samples)?;
        self.taken += resampled.len() as u64;
        self.pending.extend_from_slice(&resampled);
        self.frames(out)?;
        self.ogg.flush(false, out);
        Ok(())
    }

    /// Encodes every whole frame waiting.
    fn frames(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let whole = self.pending.len() / FRAME * FRAME;
        for frame in self
            .pending
            .get(..whole)
            .unwrap_or_default()
            .chunks_exact(FRAME)
        {
            let packet = self.opus.encode(frame)?;
            self.encoded += FRAME as u64;
            self.ogg.packet(&packet, self.encoded, out);
        }
        self.pending.drain(..whole);
        Ok(())
    }

    /// The rest of the audio, padded with silence through the encoder's
    /// lookahead, and the last page, whose granule position marks where the
    /// real audio ends.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let rest = std::mem::replace(
            &mut self.resampler,
            StreamResampler::new(OPUS_RATE, OPUS_RATE)?,
        )
        .finish()?;
        self.taken += rest.len() as u64;
        self.pending.extend_from_slice(&rest);
        let end = self.taken + self.pre_skip;
        let needed = usize::try_from(end.saturating_sub(self.encoded)).unwrap_or(0);
        let padded = needed.div_ceil(FRAME) * FRAME;
        self.pending.resize(padded.max(self.pending.len()), 0.0);
        let whole = self.pending.len() / FRAME * FRAME;
        for frame in self
            .pending
            .get(..whole)
            .unwrap_or_default()
            .chunks_exact(FRAME)
        {
            let packet = self.opus.encode(frame)?;
            self.encoded += FRAME as u64;
            // The last packet's granule: the end of the real audio.
            let granule = self.encoded.min(end);
            self.ogg.packet(&packet, granule, out);
        }
        self.pending.clear();
        self.ogg.flush(true, out);
        Ok(())
    }
}
