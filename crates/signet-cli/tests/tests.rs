//! End-to-end tests of the `signet` binary: text and phoneme ids in, WAV out,
//! and one clear line for every bad input.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod audio;
mod credentials;
mod e2e;
mod edges;
mod frontend;
mod readme;
mod scan;
mod watermark;
