//! One deterministic synthesizer shared by every test of this binary.

use std::sync::{Arc, OnceLock};

use signet::Synthesizer;

/// The default voice with noise scales 0: synthesis is deterministic.
pub fn synth() -> &'static Arc<Synthesizer> {
    static SYNTH: OnceLock<Arc<Synthesizer>> = OnceLock::new();
    SYNTH.get_or_init(|| {
        let helper = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent()?.parent().map(|d| d.join("signet-espeak")));
        assert!(
            helper.as_ref().is_some_and(|h| h.is_file()),
            "the signet-espeak helper is missing next to the test binary: run \
             `cargo build -p signet-espeak` (cargo xtask test does)"
        );
        let synth = Synthesizer::builder()
            .noise_scale(0.0)
            .noise_w(0.0)
            .build()
            .unwrap_or_else(|e| {
                panic!("cannot load the default voice ({e}): run `cargo xtask setup`")
            });
        Arc::new(synth)
    })
}

/// Sum of squares of `samples`.
pub fn energy(samples: &[f32]) -> f64 {
    samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
}
