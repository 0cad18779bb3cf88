//! Integration tests of the espeak helper and its client (one binary; modules by topic).
//!
//! They need espeak-ng's library and data (`SIGNET_ESPEAK_DIR`, default
//! `<repo>/.cache/espeak-ng/`) and the default voice's config (`SIGNET_TEST_VOICE_DIR`,
//! default `<repo>/.cache/voices/en_US-joe-medium/`), both provisioned by
//! `cargo xtask setup`; a test fails with a message saying so when they are missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod agreement;
mod common;
mod coqui_agreement;
mod crash_vectors;
mod faults;
mod helper;
mod sandbox;
