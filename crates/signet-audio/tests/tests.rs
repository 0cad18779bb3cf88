//! Integration tests of signet-audio (one binary; modules by topic).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;
mod credentials;
mod levels;
mod mel_normalization;
mod provenance;
mod resampling;
mod wav_reader;
