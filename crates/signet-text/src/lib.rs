//! Signet's text frontend: limits, Unicode policy, normalization, sentences, phonemes, ids.
#![forbid(unsafe_code)]
