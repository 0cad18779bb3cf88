//! Integration tests of signet-acoustic (one binary): parity with the original Piper voice and
//! with coqui-tts on an imported Coqui checkpoint,
//! synthetic multi-speaker voices, loader strictness and input validation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

mod coqui_parity;
mod glow_tts;
mod inputs;
mod loading;
mod padding;
mod parity;
mod speakers;
mod tacotron2;
