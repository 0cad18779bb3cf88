//! MP3 through LAME (linked dynamically, see `build.rs`): mono, constant
//! bit rate, no Xing/LAME info frame (it would have to be written back at
//! the start of a stream that has already left), and an ID3v2.4 tag before
//! the first frame with the provenance.

use signet_audio::Provenance;

use crate::ffi::LameEncoder;
use crate::tags::id3v2;
use crate::EncodeError;

/// The sample rates MPEG-1, 2 and 2.5 Layer III carry; audio at another
/// rate is resampled by LAME.
const MP3_RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];
/// Kilobits per second: clear mono speech, and a rate every MPEG version has.
const KBPS: u32 = 64;

pub(crate) struct Mp3Encoder {
    lame: LameEncoder,
}

impl Mp3Encoder {
    /// The encoder and the ID3v2 tag.
    pub(crate) fn new(rate: u32, provenance: &Provenance) -> Result<(Self, Vec<u8>), EncodeError> {
        let out_rate = if MP3_RATES.contains(&rate) { rate } else { 0 };
        let lame = LameEncoder::new(rate, out_rate, KBPS)?;
        Ok((Self { lame }, id3v2(provenance)))
    }

    /// Takes samples; returns the frames that are ready.
    pub(crate) fn encode(&mut self, samples: &[f32]) -> Result<Vec<u8>, EncodeError> {
        self.lame.encode(samples)
    }

    /// The last frames.
    pub(crate) fn finish(&mut self) -> Result<Vec<u8>, EncodeError> {
        self.lame.flush()
    }
}
