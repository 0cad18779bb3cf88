//! Fuzz target: the PyTorch checkpoint reader and `signet scan`.
//!
//! `signet scan` and the Coqui importer parse foreign checkpoints as data: a strict zip reader,
//! the legacy stream, and an allow-listed pickle interpreter. A hostile file must be refused
//! (or reported) without a panic, a hang or an allocation beyond the reader's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    signet_checkpoint::fuzzing::read_checkpoint(data);
});
