//! Sample buffers, WAV and PCM output, provenance for Signet.
#![forbid(unsafe_code)]
