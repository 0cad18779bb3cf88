//! Integration tests of the facade with the real default voice: streaming,
//! timestamps and provenance. They need `cargo xtask setup` (the voice in the
//! store, the espeak-ng runtime) and the `signet-espeak` helper built next
//! to the test binary; without them they fail with a message saying so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;
mod coqui_vits;
mod lexicon;
mod ssml;
mod streaming;
mod timings;
mod two_stage;
mod watermark;
