//! The `signet` command-line tool.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("signet: not yet implemented");
    std::process::exit(2);
}
