//! Fuzz target: the signed remote index, envelope and payload, as a client parses and checks it.
//!
//! The index is fetched from a server before any of its signatures are known to be good; its
//! parsing and checking must refuse any byte string without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    signet_registry::fuzzing::fuzz_parse_index(data);
});
