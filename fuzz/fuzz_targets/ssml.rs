//! Fuzz target: the SSML reader (`prepare_ssml`), DTD, entity and size refusals included.
//!
//! Runs `signet_text::fuzzing::fuzz_ssml`: arbitrary bytes as a document; none may
//! panic, hang or allocate without bound, and what is accepted keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = signet_text::fuzzing::fuzz_ssml(data) {
        panic!("ssml invariant broken: {broken}");
    }
});
