//! Fuzz target: the WAV reader and the metadata parser behind
//! `signet inspect` (`signet_audio::WavInfo::read`, which runs
//! `Audio::from_wav` and then reads the `LIST`/`INFO` chunk and the
//! provenance comment).
//!
//! WAV files come from anyone; the reader must refuse what it does not
//! accept, without panicking and without allocating from a declared size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = signet_audio::WavInfo::read(data, &signet_audio::WavLimits::default());
});
