//! Imports Piper voices (ONNX parsed as data) into Signet bundles.
#![forbid(unsafe_code)]
