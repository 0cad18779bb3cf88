//! HiFi-GAN generator (the VITS decoder) on libtorch.
#![forbid(unsafe_code)]
