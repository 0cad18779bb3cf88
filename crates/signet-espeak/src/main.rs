//! Out-of-process espeak-ng phonemizer helper.

fn main() {
    eprintln!("signet-espeak: not yet implemented");
    std::process::exit(2);
}
