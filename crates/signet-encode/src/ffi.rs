//! Every unsafe operation of the crate: the calls into libopus and
//! libmp3lame, each wrapped in a safe owner type that frees the native
//! state exactly once.
//!
//! Both libraries are linked dynamically (see `build.rs`). What crosses the
//! boundary is samples Signet made (finite `f32`, checked by
//! [`signet_audio::Audio`]) and buffers this module sizes; nothing a client
//! sends reaches either library.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::ptr::NonNull;

use crate::EncodeError;

/// libopus's opaque encoder state.
#[repr(C)]
struct OpusEncoderRaw {
    _private: [u8; 0],
}

/// LAME's opaque `lame_global_flags`.
#[repr(C)]
struct LameRaw {
    _private: [u8; 0],
}

/// `OPUS_APPLICATION_AUDIO`.
const OPUS_APPLICATION_AUDIO: c_int = 2049;
/// `OPUS_SET_BITRATE_REQUEST`.
const OPUS_SET_BITRATE_REQUEST: c_int = 4002;
/// `OPUS_GET_LOOKAHEAD_REQUEST`.
const OPUS_GET_LOOKAHEAD_REQUEST: c_int = 4027;
/// `OPUS_SET_SIGNAL_REQUEST`.
const OPUS_SET_SIGNAL_REQUEST: c_int = 4024;
/// `OPUS_SIGNAL_VOICE`.
const OPUS_SIGNAL_VOICE: c_int = 3001;
/// LAME's `MONO` mode.
const LAME_MONO: c_int = 3;

extern "C" {
    fn opus_encoder_create(
        fs: i32,
        channels: c_int,
        application: c_int,
        error: *mut c_int,
    ) -> *mut OpusEncoderRaw;
    fn opus_encoder_destroy(st: *mut OpusEncoderRaw);
    fn opus_encoder_ctl(st: *mut OpusEncoderRaw, request: c_int, ...) -> c_int;
    fn opus_encode_float(
        st: *mut OpusEncoderRaw,
        pcm: *const f32,
        frame_size: c_int,
        data: *mut u8,
        max_data_bytes: i32,
    ) -> i32;

    fn lame_init() -> *mut LameRaw;
    fn lame_close(gfp: *mut LameRaw) -> c_int;
    fn lame_set_in_samplerate(gfp: *mut LameRaw, rate: c_int) -> c_int;
    fn lame_set_out_samplerate(gfp: *mut LameRaw, rate: c_int) -> c_int;
    fn lame_set_num_channels(gfp: *mut LameRaw, channels: c_int) -> c_int;
    fn lame_set_mode(gfp: *mut LameRaw, mode: c_int) -> c_int;
    fn lame_set_brate(gfp: *mut LameRaw, kbps: c_int) -> c_int;
    fn lame_set_bWriteVbrTag(gfp: *mut LameRaw, write: c_int) -> c_int;
    fn lame_set_write_id3tag_automatic(gfp: *mut LameRaw, write: c_int);
    fn lame_init_params(gfp: *mut LameRaw) -> c_int;
    fn lame_encode_buffer_ieee_float(
        gfp: *mut LameRaw,
        pcm_l: *const f32,
        pcm_r: *const f32,
        nsamples: c_int,
        mp3buf: *mut u8,
        mp3buf_size: c_int,
    ) -> c_int;
    fn lame_encode_flush(gfp: *mut LameRaw, mp3buf: *mut u8, size: c_int) -> c_int;
}

/// One libopus encoder: mono, 48 kHz.
pub(crate) struct OpusEncoder {
    raw: NonNull<OpusEncoderRaw>,
}

// SAFETY: the encoder state is plain memory owned by this value alone; libopus
// keeps no thread-local or global state for it, so moving it to another thread
// is sound (it is never shared: every method takes `&mut self`).
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    /// A mono 48 kHz encoder for speech at `bitrate` bits per second.
    pub(crate) fn new(bitrate: i32) -> Result<Self, EncodeError> {
        let mut err: c_int = 0;
        // SAFETY: `err` is a valid place for the error code; the arguments are
        // values libopus documents (48 kHz, one channel, a known application).
        let raw = unsafe { opus_encoder_create(48_000, 1, OPUS_APPLICATION_AUDIO, &mut err) };
        let raw = NonNull::new(raw).ok_or(EncodeError::Codec {
            codec: "opus",
            what: "creating the encoder",
            code: err,
        })?;
        let enc = Self { raw };
        for (request, value) in [
            (OPUS_SET_BITRATE_REQUEST, bitrate),
            (OPUS_SET_SIGNAL_REQUEST, OPUS_SIGNAL_VOICE),
        ] {
            // SAFETY: both requests take one `opus_int32` argument, which is
            // what is passed; the state is live (owned by `enc`).
            let rc = unsafe { opus_encoder_ctl(enc.raw.as_ptr(), request, value) };
            if rc != 0 {
                return Err(EncodeError::Codec {
                    codec: "opus",
                    what: "configuring the encoder",
                    code: rc,
                });
            }
        }
        Ok(enc)
    }

    /// Samples (at 48 kHz) the encoder delays its output by: the Ogg
    /// stream's pre-skip.
    pub(crate) fn lookahead(&mut self) -> Result<u16, EncodeError> {
        let mut value: i32 = 0;
        // SAFETY: the request takes one `opus_int32 *`, a valid place here;
        // the state is live.
        let rc = unsafe {
            opus_encoder_ctl(
                self.raw.as_ptr(),
                OPUS_GET_LOOKAHEAD_REQUEST,
                &mut value as *mut i32,
            )
        };
        if rc != 0 {
            return Err(EncodeError::Codec {
                codec: "opus",
                what: "reading the lookahead",
                code: rc,
            });
        }
        u16::try_from(value).map_err(|_| EncodeError::Codec {
            codec: "opus",
            what: "reading the lookahead",
            code: value,
        })
    }

    /// Encodes one frame (its length one of Opus's frame sizes) into one packet.
    pub(crate) fn encode(&mut self, frame: &[f32]) -> Result<Vec<u8>, EncodeError> {
        // Opus's largest packet for one frame is 1275 bytes; 4000 is libopus's
        // own recommendation.
        let mut packet = vec![0u8; 4000];
        let frame_size = c_int::try_from(frame.len()).map_err(|_| EncodeError::Codec {
            codec: "opus",
            what: "encoding a frame",
            code: -1,
        })?;
        let capacity = i32::try_from(packet.len()).unwrap_or(i32::MAX);
        // SAFETY: `frame` holds `frame_size` mono samples and `packet` has
        // `capacity` writable bytes; libopus reads and writes within them only.
        let n = unsafe {
            opus_encode_float(
                self.raw.as_ptr(),
                frame.as_ptr(),
                frame_size,
                packet.as_mut_ptr(),
                capacity,
            )
        };
        let n = usize::try_from(n).map_err(|_| EncodeError::Codec {
            codec: "opus",
            what: "encoding a frame",
            code: n,
        })?;
        packet.truncate(n);
        Ok(packet)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: the state came from `opus_encoder_create` and is destroyed
        // once, here.
        unsafe { opus_encoder_destroy(self.raw.as_ptr()) }
    }
}

/// One LAME encoder: mono, constant bit rate, no tags of its own.
pub(crate) struct LameEncoder {
    raw: NonNull<LameRaw>,
}

// SAFETY: LAME's state is plain memory owned by this value alone and used
// through `&mut self` only; LAME keeps no per-thread state for it.
unsafe impl Send for LameEncoder {}

impl LameEncoder {
    /// A mono encoder for `rate` Hz input; `out_rate` is an MP3 rate (or 0:
    /// LAME picks one and resamples) and `kbps` the bit rate.
    pub(crate) fn new(rate: u32, out_rate: u32, kbps: u32) -> Result<Self, EncodeError> {
        let fail = |what: &'static str, code: c_int| EncodeError::Codec {
            codec: "mp3",
            what,
            code,
        };
        // SAFETY: no arguments; a null result (out of memory) is checked.
        let raw = NonNull::new(unsafe { lame_init() }).ok_or(fail("creating the encoder", -1))?;
        let enc = Self { raw };
        let rate = c_int::try_from(rate).map_err(|_| fail("setting the rate", -1))?;
        let out_rate = c_int::try_from(out_rate).map_err(|_| fail("setting the rate", -1))?;
        let kbps = c_int::try_from(kbps).map_err(|_| fail("setting the bit rate", -1))?;
        let p = enc.raw.as_ptr();
        // SAFETY: `p` is the live state from `lame_init`; each setter takes
        // the state and one integer, before `lame_init_params` as LAME requires.
        let rcs = unsafe {
            lame_set_write_id3tag_automatic(p, 0);
            [
                lame_set_in_samplerate(p, rate),
                lame_set_out_samplerate(p, out_rate),
                lame_set_num_channels(p, 1),
                lame_set_mode(p, LAME_MONO),
                lame_set_brate(p, kbps),
                lame_set_bWriteVbrTag(p, 0),
            ]
        };
        if let Some(&rc) = rcs.iter().find(|&&rc| rc < 0) {
            return Err(fail("configuring the encoder", rc));
        }
        // SAFETY: the state is live and configured.
        let rc = unsafe { lame_init_params(p) };
        if rc < 0 {
            return Err(fail("checking the settings", rc));
        }
        Ok(enc)
    }

    /// Encodes samples (in [-1, 1]); returns the MP3 frames that are ready.
    pub(crate) fn encode(&mut self, samples: &[f32]) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        // Bounded pieces keep the buffer sizes within `c_int`.
        for piece in samples.chunks(1 << 16) {
            let n = c_int::try_from(piece.len()).unwrap_or(c_int::MAX);
            // LAME's documented worst case: 1.25 × samples + 7200 bytes.
            let mut buf = vec![0u8; piece.len() + piece.len() / 4 + 7200];
            let cap = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
            // SAFETY: `piece` has `n` samples, read for both channel arguments
            // (mono: LAME reads only the first); `buf` has `cap` writable bytes,
            // LAME's worst case for `n` samples; the state is live.
            let rc = unsafe {
                lame_encode_buffer_ieee_float(
                    self.raw.as_ptr(),
                    piece.as_ptr(),
                    piece.as_ptr(),
                    n,
                    buf.as_mut_ptr(),
                    cap,
                )
            };
            let len = usize::try_from(rc).map_err(|_| EncodeError::Codec {
                codec: "mp3",
                what: "encoding",
                code: rc,
            })?;
            out.extend_from_slice(buf.get(..len).unwrap_or_default());
        }
        Ok(out)
    }

    /// The last frames.
    pub(crate) fn flush(&mut self) -> Result<Vec<u8>, EncodeError> {
        let mut buf = vec![0u8; 7200];
        let cap = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
        // SAFETY: `buf` has `cap` writable bytes (LAME asks for at least 7200);
        // the state is live.
        let rc = unsafe { lame_encode_flush(self.raw.as_ptr(), buf.as_mut_ptr(), cap) };
        let len = usize::try_from(rc).map_err(|_| EncodeError::Codec {
            codec: "mp3",
            what: "flushing",
            code: rc,
        })?;
        buf.truncate(len);
        Ok(buf)
    }
}

impl Drop for LameEncoder {
    fn drop(&mut self) {
        // SAFETY: the state came from `lame_init` and is closed once, here.
        unsafe {
            lame_close(self.raw.as_ptr());
        }
    }
}
