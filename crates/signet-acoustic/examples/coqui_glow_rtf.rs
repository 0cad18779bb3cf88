//! Real-time factor of Glow-TTS on a Coqui checkpoint, to set beside coqui-tts's on the same
//! files (written by scripts/coqui_rtf.py, which also times coqui-tts):
//!
//! ```text
//! cargo run -p signet-acoustic --example coqui_glow_rtf -- DIR [--threads N]
//! ```
//!
//! Maps `DIR/glow.pth` with `DIR/glow_config.json`, signs it into a temporary bundle, and times
//! the model on `DIR/glow_ids.json` (best of 5 runs after a warm-up), counting mel seconds at
//! 22.05 kHz with a hop of 256.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use signet_acoustic::glow_tts::{map_glow_tts, GlowTts, KIND};
use signet_registry::{
    verify_bundle_dir, write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults,
    Manifest, PhonemeSpec, Role, SecretKey, TrustStore, VoiceInfo, VoiceName, BUNDLE_FORMAT,
    WEIGHTS_FILE,
};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        bail!("usage: coqui_glow_rtf DIR [--threads N]");
    };
    let threads = match args.iter().position(|a| a == "--threads") {
        Some(i) => args.get(i + 1).context("--threads N")?.parse()?,
        None => 1,
    };
    signet_acoustic::set_num_threads(threads);
    let bytes = std::fs::read(format!("{dir}/glow.pth"))?;
    let ckpt = signet_checkpoint::read(&bytes, &signet_checkpoint::Limits::default())?;
    // coqpit writes Python's `Infinity` for two training limits, which JSON lacks.
    let text = std::fs::read_to_string(format!("{dir}/glow_config.json"))?;
    let config: serde_json::Value = serde_json::from_str(&text.replace(": Infinity", ": null"))?;
    let mapped = map_glow_tts(&ckpt.state_dict()?, &config)?;
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> = mapped
        .tensors
        .iter()
        .map(|(n, p)| {
            (
                n.clone(),
                p.shape.clone(),
                p.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let list: Vec<(&str, Dtype, &[usize], &[u8])> = raw
        .iter()
        .map(|(n, s, b)| (n.as_str(), Dtype::F32, s.as_slice(), b.as_slice()))
        .collect();
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: VoiceName::new("coqui-glow")?,
        version: 1,
        license: "CC0-1.0".to_owned(),
        voice: VoiceInfo {
            language: "xx".to_owned(),
            quality: None,
            sample_rate: 22050,
            num_speakers: 1,
            speaker_id_map: BTreeMap::new(),
            language_id_map: Default::default(),
        },
        phonemes: PhonemeSpec {
            kind: "none".to_owned(),
            espeak_voice: None,
            id_map: BTreeMap::new(),
            coqui: None,
        },
        inference: InferenceDefaults {
            noise_scale: 0.0,
            length_scale: 1.0,
            noise_w: 0.0,
        },
        architecture: Architecture {
            kind: KIND.to_owned(),
            config: toml::Table::try_from(&mapped.config)?,
        },
        source: None,
        lexicon: None,
        vocoder: None,
        mel: None,
        files: Vec::new(),
    };
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("bundle");
    let key = SecretKey::from_seed(&[7; 32]);
    write_bundle(
        &path,
        manifest,
        &[(WEIGHTS_FILE, &write_safetensors(&list)?)],
        &key,
    )?;
    let bundle = verify_bundle_dir(
        &path,
        &TrustStore::with_key(key.public(), Role::BundleSigner),
    )?;
    let model = GlowTts::from_bundle(&bundle)?;
    let ids: Vec<i64> =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/glow_ids.json"))?)?;
    let mut out = model.infer(&ids, None)?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        out = model.infer(&ids, None)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    let seconds = out.frames as f64 * 256.0 / 22050.0;
    println!(
        "signet Glow-TTS, {threads} thread(s), {} ids: {best:.3} s for {} frames ({seconds:.2} s of audio), RTF {:.4}",
        ids.len(),
        out.frames,
        best / seconds
    );
    // The line `cargo xtask bench --coqui` reads.
    println!("rtf\tglow_tts\tsignet\t{:.6}", best / seconds);
    if let Ok(text) = std::fs::read_to_string(format!("{dir}/glow_mel.json")) {
        let want: Vec<f32> = serde_json::from_str(&text)?;
        match snr_db(&want, &out.mel) {
            Some(snr) => {
                println!("against coqui-tts's output: equal length, SNR {snr:.1} dB");
                println!("snr\tglow_tts\t{snr:.2}");
            }
            None => println!(
                "against coqui-tts's output: lengths differ ({} vs {})",
                want.len(),
                out.mel.len()
            ),
        }
    }
    Ok(())
}

/// SNR in dB of `got` against `want`, or `None` when their lengths differ.
fn snr_db(want: &[f32], got: &[f32]) -> Option<f64> {
    if want.len() != got.len() {
        return None;
    }
    let signal: f64 = want.iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 = want
        .iter()
        .zip(got)
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    Some(10.0 * (signal / noise.max(1e-30)).log10())
}
