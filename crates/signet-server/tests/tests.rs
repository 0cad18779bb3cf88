//! Integration tests: the real server on loopback with the real default
//! voice, driven by a small raw HTTP/1.1 client so that abusive clients
//! (trickling headers, never reading) can be played exactly.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
mod abuse;
mod api;
mod common;
mod edges;
mod formats;
mod lb;
mod operator;
mod ssml;
mod tls;
mod watermark;
mod wyoming;
