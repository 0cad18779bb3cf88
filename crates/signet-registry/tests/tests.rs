//! Integration tests of signet-registry (one binary; modules by topic).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod attacks;
mod common;
mod index;
mod lexicon;
mod round_trip;
mod signatures;
mod store;
