//! Fuzz target: the Piper importer's ONNX reader and parameter mapping.
//!
//! Importing a voice parses a foreign ONNX file as data: protobuf decoding by
//! hand, then mapping initializers to VITS parameter names by the graph's node
//! names. A hostile file must be refused without a panic, a hang or an
//! allocation out of proportion to its size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    signet_piper::fuzzing::parse_onnx(data);
});
