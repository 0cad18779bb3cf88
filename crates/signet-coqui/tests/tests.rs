//! signet-coqui's integration tests (one binary): importing Coqui checkpoints written by
//! coqui-tts 0.28 itself (`scripts/coqui_vits_fixtures.py`) and each refusal. Parity of the
//! imported model with coqui-tts is tested where the model runs: VITS in signet-acoustic
//! (`tests/coqui_parity.rs`), two-stage voices in the facade (`tests/two_stage.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod import;
mod speakers;
mod stages;
mod support;
