//! signet-coqui's integration tests (one binary): importing Coqui checkpoints written by
//! coqui-tts 0.28 itself (`scripts/coqui_vits_fixtures.py`) and each refusal. Parity of the
//! imported model with coqui-tts is tested where the model runs, in signet-acoustic
//! (`tests/coqui_parity.rs`), which keeps this crate free of libtorch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod import;
mod speakers;
mod support;
