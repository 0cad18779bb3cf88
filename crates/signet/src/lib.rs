//! Signet: text-to-speech that only speaks with voices it can verify.
#![forbid(unsafe_code)]
