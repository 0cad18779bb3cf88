//! Integration tests of the text frontend's pure parts (one binary; modules by topic):
//! the normalization table, and properties of the Unicode policy, normalization and
//! segmenting on arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod normalize_table;
mod properties;
mod ssml_table;
