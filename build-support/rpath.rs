//! Build script shared by the packages that link libtorch.
//!
//! torch-sys reports the folder it linked libtorch from as `DEP_TCH_LIBTORCH_LIB`.
//! Every binary and test of the package gets that folder as an rpath, so that
//! nobody has to export `LD_LIBRARY_PATH` to run what `cargo` built.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
