//! Real-time factor of a Coqui spectrogram model or mel vocoder on Signet, to set beside
//! coqui-tts's on the same files (written by scripts/coqui_rtf.py, which also times
//! coqui-tts):
//!
//! ```text
//! cargo run -p signet-acoustic --example coqui_rtf -- DIR --arch glow_tts|tacotron2|hifigan [--threads N]
//! ```
//!
//! Maps the checkpoint in `DIR` with its config (`glow.pth` and `glow_config.json`,
//! `tacotron2.pth` and `tacotron2_config.json`, or `vocoder.pth` and `config.json`), signs it
//! into a temporary bundle, loads it as the facade would, and times it (best of 5 runs after a
//! warm-up) on `DIR/glow_ids.json`, `DIR/tacotron2_ids.json` or `DIR/mel.json`. The spectrogram
//! models' seconds are mel frames at 22.05 kHz with a hop of 256. Tacotron2's prenet dropout is
//! off at inference (the config's), so its seed (0) plays no part. Prints `rtf ARCH signet R`
//! and, where coqui-tts's output is in `DIR`, `snr ARCH DB`: the lines `cargo xtask bench
//! --coqui` reads.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use signet_acoustic::glow_tts::{self, GlowTts};
use signet_acoustic::tacotron2::{self, Tacotron2};
use signet_checkpoint::Param;
use signet_registry::{
    verify_bundle_dir, write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults,
    Manifest, PhonemeSpec, Role, SecretKey, TrustStore, VerifiedBundle, VoiceInfo, VoiceName,
    BUNDLE_FORMAT, WEIGHTS_FILE,
};
use signet_vocoder::MelVocoder;

/// Samples per second and per frame the spectrogram models' seconds are counted in.
const RATE: f64 = 22050.0;
const HOP: f64 = 256.0;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: coqui_rtf DIR --arch glow_tts|tacotron2|hifigan [--threads N]";
    let Some(dir) = args.first() else {
        bail!(usage);
    };
    let value = |flag: &str| -> Result<Option<&String>> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(Some(args.get(i + 1).with_context(|| usage.to_owned())?)),
            None => Ok(None),
        }
    };
    let threads: usize = value("--threads")?.map_or(Ok(1), |n| n.parse())?;
    let arch = value("--arch")?.context(usage)?.clone();
    signet_acoustic::set_num_threads(threads);
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}"));
    let ids = |name: &str| -> Result<Vec<i64>> { Ok(serde_json::from_str(&read(name)?)?) };

    let (label, input, best, seconds, out) = match arch.as_str() {
        "glow_tts" => {
            let (state, config) = checkpoint(dir, "glow.pth", "glow_config.json")?;
            let mapped = glow_tts::map_glow_tts(&state.state_dict()?, &config)?;
            let config = toml::Table::try_from(&mapped.config)?;
            let (_tmp, bundle) = scratch_bundle(glow_tts::KIND, 22050, config, &mapped.tensors)?;
            let model = GlowTts::from_bundle(&bundle)?;
            let ids = ids("glow_ids.json")?;
            let (out, best) = best_of_5(|| Ok(model.infer(&ids, None)?))?;
            let seconds = out.frames as f64 * HOP / RATE;
            (
                "Glow-TTS",
                format!("{} ids", ids.len()),
                best,
                seconds,
                out.mel,
            )
        }
        "tacotron2" => {
            let (state, config) = checkpoint(dir, "tacotron2.pth", "tacotron2_config.json")?;
            let mapped = tacotron2::map_tacotron2(&state.state_dict()?, &config)?;
            let config = toml::Table::try_from(&mapped.config)?;
            let (_tmp, bundle) = scratch_bundle(tacotron2::KIND, 22050, config, &mapped.tensors)?;
            let model = Tacotron2::from_bundle(&bundle)?;
            let ids = ids("tacotron2_ids.json")?;
            let (out, best) = best_of_5(|| Ok(model.infer(&ids, 0)?))?;
            let seconds = out.frames as f64 * HOP / RATE;
            (
                "Tacotron2-DDC",
                format!("{} ids", ids.len()),
                best,
                seconds,
                out.mel,
            )
        }
        "hifigan" => {
            let (state, config) = checkpoint(dir, "vocoder.pth", "config.json")?;
            let mapped = signet_vocoder::coqui::map_hifigan(&state.state_dict()?, &config)?;
            let rate = mapped.sample_rate;
            let config = toml::Table::try_from(&mapped.config)?;
            let (_tmp, bundle) = scratch_bundle("hifigan", rate, config, &mapped.tensors)?;
            let vocoder = MelVocoder::from_bundle(&bundle)?;
            let mel: serde_json::Value = serde_json::from_str(&read("mel.json")?)?;
            let shape: Vec<i64> =
                serde_json::from_value(mel.get("shape").cloned().context("mel.json: shape")?)?;
            let values: Vec<f32> =
                serde_json::from_value(mel.get("mel").cloned().context("mel.json: mel")?)?;
            let mel = tch::Tensor::from_slice(&values).reshape(shape.as_slice());
            let (audio, best) = best_of_5(|| Ok(vocoder.vocode(&mel)?))?;
            let seconds = audio.len() as f64 / f64::from(rate);
            let frames = shape.get(2).copied().unwrap_or(0);
            (
                "mel vocoder",
                format!("{frames} frames"),
                best,
                seconds,
                audio,
            )
        }
        other => bail!("unknown architecture {other:?}; {usage}"),
    };
    println!(
        "signet {label}, {threads} thread(s), {input}: {best:.3} s for {seconds:.2} s of audio, \
         RTF {:.4}",
        best / seconds
    );
    println!("rtf\t{arch}\tsignet\t{:.6}", best / seconds);
    // coqui-tts's output, where scripts/coqui_rtf.py wrote it.
    let reference = match arch.as_str() {
        "hifigan" => "audio.json".to_owned(),
        "glow_tts" => "glow_mel.json".to_owned(),
        _ => format!("{arch}_mel.json"),
    };
    if let Ok(text) = read(&reference) {
        let want: Vec<f32> = serde_json::from_str(&text)?;
        match snr_db(&want, &out) {
            Some(snr) => {
                println!("against coqui-tts's output: equal length, SNR {snr:.1} dB");
                println!("snr\t{arch}\t{snr:.2}");
            }
            None => println!(
                "against coqui-tts's output: lengths differ ({} vs {})",
                want.len(),
                out.len()
            ),
        }
    }
    Ok(())
}

/// The checkpoint `DIR/pth`, read as data, and its config `DIR/json` (with coqpit's
/// `Infinity`, which JSON lacks, read as null).
fn checkpoint(
    dir: &str,
    pth: &str,
    json: &str,
) -> Result<(signet_checkpoint::Checkpoint, serde_json::Value)> {
    let bytes = std::fs::read(format!("{dir}/{pth}"))?;
    let ckpt = signet_checkpoint::read(&bytes, &signet_checkpoint::Limits::default())?;
    let text = std::fs::read_to_string(format!("{dir}/{json}"))?;
    let config = serde_json::from_str(&text.replace(": Infinity", ": null"))?;
    Ok((ckpt, config))
}

/// `tensors` signed into a bundle of kind `kind` in a temporary folder, and verified.
fn scratch_bundle(
    kind: &str,
    sample_rate: u32,
    config: toml::Table,
    tensors: &[(String, Param)],
) -> Result<(tempfile::TempDir, VerifiedBundle)> {
    let raw: Vec<(&str, &[usize], Vec<u8>)> = tensors
        .iter()
        .map(|(n, p)| {
            let bytes = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.as_str(), p.shape.as_slice(), bytes)
        })
        .collect();
    let list: Vec<(&str, Dtype, &[usize], &[u8])> = raw
        .iter()
        .map(|(n, s, b)| (*n, Dtype::F32, *s, b.as_slice()))
        .collect();
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: VoiceName::new(&format!("coqui-{}", kind.replace('_', "-")))?,
        version: 1,
        license: "CC0-1.0".to_owned(),
        voice: VoiceInfo {
            language: "xx".to_owned(),
            quality: None,
            sample_rate,
            num_speakers: 1,
            speaker_id_map: BTreeMap::new(),
            language_id_map: BTreeMap::new(),
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
            kind: kind.to_owned(),
            config,
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
    Ok((tmp, bundle))
}

/// `run`'s result and its best time of 5, after a warm-up run.
fn best_of_5<T>(mut run: impl FnMut() -> Result<T>) -> Result<(T, f64)> {
    let mut out = run()?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        out = run()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok((out, best))
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
