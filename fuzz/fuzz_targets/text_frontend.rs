//! Fuzz target: the text path, normalize → sentence split → phonemize → ids.
//!
//! Runs `signet_text::fuzzing::fuzz_frontend`: the fuzzer's bytes become the input text
//! (through the UTF-8 check, the limits, the Unicode policy, English
//! normalization and chunking) and also the phoneme strings that an in-process
//! stand-in for the espeak-ng helper answers, so the code that reads the
//! helper's untrusted answers (clause grouping, vowel clusters, id mapping,
//! sentence cutting) is fuzzed too. espeak-ng itself is not run here: it is
//! C code in its own process, tested with its published crash inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = signet_text::fuzzing::fuzz_frontend(data) {
        panic!("text frontend invariant broken: {broken}");
    }
});
