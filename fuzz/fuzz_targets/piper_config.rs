//! Fuzz target: the Piper importer's reader of a voice's `.onnx.json` config.
//!
//! The JSON next to a Piper model supplies the sample rate, speakers and the
//! phoneme id map; whatever it holds, reading it must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    signet_piper::fuzzing::parse_config(data);
});
