//! Fuzz target: the pronunciation lexicon reader (W3C PLS and TOML) and its application.
//!
//! Runs `signet_text::fuzzing::fuzz_lexicon`: arbitrary bytes as a document; none may
//! panic, hang or allocate without bound, and what is accepted keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = signet_text::fuzzing::fuzz_lexicon(data) {
        panic!("lexicon invariant broken: {broken}");
    }
});
