//! Signet's voice bundles: manifests, digests, signatures, trust store, verified loading.
#![forbid(unsafe_code)]
