//! Integration tests of signet-piper (one binary; modules by topic).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod adversarial;
mod common;
mod real_voice;
mod synthetic;
mod writer;
