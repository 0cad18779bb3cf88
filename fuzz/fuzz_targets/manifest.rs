//! Fuzz target: the registry's strict `manifest.toml` parser.
//!
//! A bundle's manifest is read before anything else in it is trusted; the
//! parser must reject any byte string it does not accept, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = signet_registry::fuzzing::fuzz_parse_manifest(data);
});
