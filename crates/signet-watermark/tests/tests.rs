//! Integration tests of signet-watermark, one binary: synthetic speech-like
//! signals (`common`), embedding (`embedding`), detection and its robustness
//! (`detection`).

mod common;
mod detection;
mod embedding;
