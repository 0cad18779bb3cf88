//! Links the two codec libraries dynamically, as the system installs them
//! (Debian: `libopus-dev`, `libmp3lame-dev`). LAME is LGPL-2.0: linking its
//! shared library keeps it replaceable by the user, as the licence asks.

fn main() {
    println!("cargo:rustc-link-lib=dylib=opus");
    println!("cargo:rustc-link-lib=dylib=mp3lame");
}
