//! Integration tests of signet-checkpoint: fixtures written by torch itself, the malicious
//! corpus, and the bounds.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod builder;
mod corpus;
mod fixtures;
mod robustness;
