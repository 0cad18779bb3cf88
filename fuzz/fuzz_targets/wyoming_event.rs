//! Fuzz target: the Wyoming event reader behind `signet wyoming`
//! (`signet_wyoming::decode` and `Request::parse`), over a stream of events
//! as a client would send them, with the re-encoding of each event read back.
//!
//! Wyoming events come from anyone who can reach the socket; the reader must
//! refuse what it does not accept, without panicking and without allocating
//! from a declared length.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    signet_wyoming::fuzzing::fuzz_event_reader(data);
});
