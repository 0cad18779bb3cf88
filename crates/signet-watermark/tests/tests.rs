//! Integration tests of signet-watermark, one binary: synthetic speech-like
//! signals (`common`), embedding (`embedding`), detection and its robustness
//! (`detection`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;
mod detection;
mod embedding;
