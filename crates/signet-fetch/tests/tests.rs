//! Integration tests of signet-fetch: a real nginx serves signed indexes over HTTPS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod attacks;
mod server;
