//! Fuzz target: the registry's strict safetensors reader.
//!
//! Weights arrive from downloaded bundles, so every byte is attacker-chosen
//! until the signature is checked (and the parser must stay safe even after).
//! The reader must return an error, never panic, hang or allocate beyond the
//! input's size, whatever the 8-byte length prefix and the JSON header say.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = signet_registry::fuzzing::fuzz_parse_safetensors(data);
});
