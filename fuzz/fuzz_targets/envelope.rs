//! Fuzz target: the registry's strict DSSE signature envelope parser and the threshold check.
//!
//! A bundle's `manifest.dsse.json` (and a signed index) is parsed before any signature is
//! known to be good; parsing and verifying must refuse any byte string without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    signet_sign::fuzzing::fuzz_parse_envelope(data);
});
