//! Shared helpers: the real voice imported into a temporary bundle, and small synthetic VITS
//! bundles with random weights.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use signet_acoustic::VitsConfig;
use signet_registry::{
    verify_bundle_dir, write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults,
    Manifest, PhonemeSpec, VerifiedBundle, VoiceInfo, BUNDLE_FORMAT,
};

/// A bundle in a temporary directory.
pub struct TempBundle {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempBundle {
    pub fn verified(&self) -> Result<VerifiedBundle> {
        Ok(verify_bundle_dir(&self.path, &trust())?)
    }
}

/// The tests' bundle signer.
pub fn key() -> signet_registry::SecretKey {
    signet_registry::SecretKey::from_seed(&[11; 32])
}

/// A trust store trusting [`key`].
pub fn trust() -> signet_registry::TrustStore {
    signet_registry::TrustStore::with_key(key().public(), signet_registry::Role::BundleSigner)
}

/// Where the Piper joe voice lives: `$SIGNET_TEST_VOICE_DIR` or `<repo>/.cache/voices/...`.
pub fn voice_dir() -> PathBuf {
    match std::env::var_os("SIGNET_TEST_VOICE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/voices/en_US-joe-medium")
        }
    }
}

/// Imports the real joe voice into a temporary bundle; fails loudly when the voice is missing.
pub fn joe_bundle() -> Result<TempBundle> {
    let dir = voice_dir();
    let onnx = dir.join("en_US-joe-medium.onnx");
    if !onnx.is_file() {
        bail!(
            "the test voice is missing: {} does not exist. Run `cargo xtask setup` or set SIGNET_TEST_VOICE_DIR",
            onnx.display()
        );
    }
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("en_US-joe-medium");
    signet_piper::import_piper(&onnx, None, &path, None, &key())
        .context("importing the joe voice")?;
    Ok(TempBundle { _dir: tmp, path })
}

/// A tiny VITS configuration.
pub fn tiny_config(n_speakers: usize, use_sdp: bool, resblock: &str) -> VitsConfig {
    let (kernels, dilations) = if resblock == "1" {
        (vec![3, 5], vec![vec![1, 3, 5], vec![1, 3, 5]])
    } else {
        (vec![3, 5], vec![vec![1, 2], vec![2, 6]])
    };
    VitsConfig {
        n_vocab: 12,
        inter_channels: 8,
        hidden_channels: 16,
        filter_channels: 24,
        n_heads: 2,
        n_layers: 2,
        kernel_size: 3,
        resblock: resblock.to_owned(),
        resblock_kernel_sizes: kernels,
        resblock_dilation_sizes: dilations,
        upsample_rates: vec![4, 2],
        upsample_initial_channel: 16,
        upsample_kernel_sizes: vec![8, 4],
        n_speakers,
        gin_channels: if n_speakers > 1 { 8 } else { 0 },
        use_sdp,
        sdp_channels: None,
        n_languages: None,
        language_channels: None,
        latent_upsampling: None,
    }
}

/// Every tensor name and shape a VITS bundle with `cfg` holds, written out independently of
/// the model code (upstream `SynthesizerTrn` names, inference-only).
pub fn tensor_specs(cfg: &VitsConfig) -> Vec<(String, Vec<usize>)> {
    let mut t: Vec<(String, Vec<usize>)> = Vec::new();
    let conv = |t: &mut Vec<(String, Vec<usize>)>, name: &str, out: usize, inp: usize, k: usize| {
        t.push((format!("{name}.weight"), vec![out, inp, k]));
        t.push((format!("{name}.bias"), vec![out]));
    };
    let norm = |t: &mut Vec<(String, Vec<usize>)>, name: &str, c: usize| {
        t.push((format!("{name}.gamma"), vec![c]));
        t.push((format!("{name}.beta"), vec![c]));
    };
    let (v, h, f, i, g) = (
        cfg.n_vocab,
        cfg.hidden_channels,
        cfg.filter_channels,
        cfg.inter_channels,
        cfg.gin_channels,
    );
    t.push(("enc_p.emb.weight".into(), vec![v, h]));
    for l in 0..cfg.n_layers {
        let a = format!("enc_p.encoder.attn_layers.{l}");
        for c in ["conv_q", "conv_k", "conv_v", "conv_o"] {
            conv(&mut t, &format!("{a}.{c}"), h, h, 1);
        }
        t.push((format!("{a}.emb_rel_k"), vec![1, 9, h / cfg.n_heads]));
        t.push((format!("{a}.emb_rel_v"), vec![1, 9, h / cfg.n_heads]));
        norm(&mut t, &format!("enc_p.encoder.norm_layers_1.{l}"), h);
        conv(
            &mut t,
            &format!("enc_p.encoder.ffn_layers.{l}.conv_1"),
            f,
            h,
            cfg.kernel_size,
        );
        conv(
            &mut t,
            &format!("enc_p.encoder.ffn_layers.{l}.conv_2"),
            h,
            f,
            cfg.kernel_size,
        );
        norm(&mut t, &format!("enc_p.encoder.norm_layers_2.{l}"), h);
    }
    conv(&mut t, "enc_p.proj", 2 * i, h, 1);
    let dds = |t: &mut Vec<(String, Vec<usize>)>, p: &str| {
        for l in 0..3 {
            t.push((format!("{p}.convs_sep.{l}.weight"), vec![h, 1, 3]));
            t.push((format!("{p}.convs_sep.{l}.bias"), vec![h]));
            t.push((format!("{p}.convs_1x1.{l}.weight"), vec![h, h, 1]));
            t.push((format!("{p}.convs_1x1.{l}.bias"), vec![h]));
            t.push((format!("{p}.norms_1.{l}.gamma"), vec![h]));
            t.push((format!("{p}.norms_1.{l}.beta"), vec![h]));
            t.push((format!("{p}.norms_2.{l}.gamma"), vec![h]));
            t.push((format!("{p}.norms_2.{l}.beta"), vec![h]));
        }
    };
    if cfg.use_sdp {
        conv(&mut t, "dp.pre", h, h, 1);
        conv(&mut t, "dp.proj", h, h, 1);
        dds(&mut t, "dp.convs");
        if g > 0 {
            conv(&mut t, "dp.cond", h, g, 1);
        }
        t.push(("dp.flows.0.m".into(), vec![2, 1]));
        t.push(("dp.flows.0.logs".into(), vec![2, 1]));
        for k in [3, 5, 7] {
            conv(&mut t, &format!("dp.flows.{k}.pre"), h, 1, 1);
            dds(&mut t, &format!("dp.flows.{k}.convs"));
            conv(&mut t, &format!("dp.flows.{k}.proj"), 29, h, 1);
        }
    } else {
        if g > 0 {
            conv(&mut t, "dp.cond", h, g, 1);
        }
        conv(&mut t, "dp.conv_1", 256, h, 3);
        norm(&mut t, "dp.norm_1", 256);
        conv(&mut t, "dp.conv_2", 256, 256, 3);
        norm(&mut t, "dp.norm_2", 256);
        conv(&mut t, "dp.proj", 1, 256, 1);
    }
    for k in [0, 2, 4, 6] {
        let p = format!("flow.flows.{k}");
        conv(&mut t, &format!("{p}.pre"), h, i / 2, 1);
        for l in 0..4 {
            conv(&mut t, &format!("{p}.enc.in_layers.{l}"), 2 * h, h, 5);
            let out = if l < 3 { 2 * h } else { h };
            conv(&mut t, &format!("{p}.enc.res_skip_layers.{l}"), out, h, 1);
        }
        if g > 0 {
            conv(&mut t, &format!("{p}.enc.cond_layer"), 2 * h * 4, g, 1);
        }
        conv(&mut t, &format!("{p}.post"), i / 2, h, 1);
    }
    let u = cfg.upsample_initial_channel;
    conv(&mut t, "dec.conv_pre", u, i, 7);
    if g > 0 {
        conv(&mut t, "dec.cond", u, g, 1);
    }
    let mut ch = u;
    let nk = cfg.resblock_kernel_sizes.len();
    for (s, &k) in cfg.upsample_kernel_sizes.iter().enumerate() {
        t.push((format!("dec.ups.{s}.weight"), vec![ch, ch / 2, k]));
        t.push((format!("dec.ups.{s}.bias"), vec![ch / 2]));
        ch /= 2;
        for (j, (&rk, ds)) in cfg
            .resblock_kernel_sizes
            .iter()
            .zip(&cfg.resblock_dilation_sizes)
            .enumerate()
        {
            let p = format!("dec.resblocks.{}", s * nk + j);
            for d in 0..ds.len() {
                if cfg.resblock == "1" {
                    conv(&mut t, &format!("{p}.convs1.{d}"), ch, ch, rk);
                    conv(&mut t, &format!("{p}.convs2.{d}"), ch, ch, rk);
                } else {
                    conv(&mut t, &format!("{p}.convs.{d}"), ch, ch, rk);
                }
            }
        }
    }
    t.push(("dec.conv_post.weight".into(), vec![1, ch, 7]));
    if cfg.n_speakers > 1 {
        t.push(("emb_g.weight".into(), vec![cfg.n_speakers, g]));
    }
    t
}

/// Tensors by name: dtype, shape, little-endian bytes.
pub type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

/// Deterministic pseudo-random values in `[-0.5, 0.5)`.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }
}

/// Random F32 data for `specs`: layer-norm scales near 1, everything else scaled by fan-in.
pub fn random_tensors(specs: &[(String, Vec<usize>)], seed: u64) -> Tensors {
    let mut rng = Lcg(seed);
    let mut out = BTreeMap::new();
    for (name, shape) in specs {
        let n: usize = shape.iter().product();
        let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
        let scale = if shape.len() >= 2 {
            1.0 / (fan_in as f32).sqrt()
        } else {
            0.1
        };
        let bytes: Vec<u8> = (0..n)
            .flat_map(|_| {
                let r = rng.next();
                let v = if name.ends_with("gamma") {
                    1.0 + 0.1 * r
                } else {
                    scale * r
                };
                v.to_le_bytes()
            })
            .collect();
        out.insert(name.clone(), (Dtype::F32, shape.clone(), bytes));
    }
    out
}

/// A manifest for a synthetic voice with `cfg`.
pub fn manifest(cfg: &VitsConfig) -> Result<Manifest> {
    let speaker_id_map = (0..cfg.n_speakers)
        .map(|s| (format!("speaker{s}"), s as i64))
        .collect();
    Ok(Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: signet_registry::VoiceName::new("tiny")?,
        version: 1,
        license: "CC0-1.0".to_owned(),
        voice: VoiceInfo {
            language: "xx".to_owned(),
            quality: None,
            sample_rate: 16000,
            num_speakers: u32::try_from(cfg.n_speakers)?,
            speaker_id_map: if cfg.n_speakers > 1 {
                speaker_id_map
            } else {
                BTreeMap::new()
            },
            language_id_map: BTreeMap::new(),
        },
        phonemes: PhonemeSpec {
            kind: "espeak".to_owned(),
            espeak_voice: None,
            id_map: BTreeMap::from([("_".to_owned(), vec![0])]),
            coqui: None,
        },
        inference: InferenceDefaults {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        },
        architecture: Architecture {
            kind: "vits".to_owned(),
            config: toml::Table::try_from(cfg)?,
        },
        source: None,
        lexicon: None,
        vocoder: None,
        mel: None,
        files: Vec::new(),
    })
}

/// Writes a bundle from a manifest and tensors.
pub fn write(manifest: Manifest, tensors: &Tensors) -> Result<TempBundle> {
    let list: Vec<(&str, Dtype, &[usize], &[u8])> = tensors
        .iter()
        .map(|(n, (d, s, b))| (n.as_str(), *d, s.as_slice(), b.as_slice()))
        .collect();
    let bytes = write_safetensors(&list)?;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("bundle");
    write_bundle(
        &path,
        manifest,
        &[(signet_registry::WEIGHTS_FILE, &bytes)],
        &key(),
    )?;
    Ok(TempBundle { _dir: tmp, path })
}

/// A synthetic voice with random weights.
pub fn tiny_bundle(cfg: &VitsConfig, seed: u64) -> Result<TempBundle> {
    write(manifest(cfg)?, &random_tensors(&tensor_specs(cfg), seed))
}
