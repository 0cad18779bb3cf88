//! Integration tests of signet-vocoder (one binary): a small random HiFi-GAN built from a
//! verified bundle, windowed decoding against one pass, and loader strictness; Coqui's HiFi-GAN
//! vocoder mapped and run against coqui-tts (`coqui`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use anyhow::Result;
use signet_nn::{NnError, Weights};
use signet_registry::{
    verify_bundle_dir, write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults,
    Manifest, PhonemeSpec, VerifiedBundle, VoiceInfo, BUNDLE_FORMAT, WEIGHTS_FILE,
};
use signet_schema::{ArchitectureSchema, SchemaError, TensorSpec};
use signet_vocoder::{Generator, HifiGanConfig, ResBlockKind, VocoderError};
use tch::{Device, Kind, Tensor};

mod coqui;

fn config(resblock: ResBlockKind, gin: usize, conv_post_bias: bool) -> HifiGanConfig {
    let (name, dilations) = match resblock {
        ResBlockKind::One => ("1", vec![vec![1, 3, 5], vec![1, 3, 5]]),
        ResBlockKind::Two => ("2", vec![vec![1, 2], vec![2, 6]]),
    };
    HifiGanConfig {
        in_channels: 6,
        resblock: name.to_owned(),
        resblock_kernel_sizes: vec![3, 7],
        resblock_dilation_sizes: dilations,
        upsample_rates: vec![4, 2, 2],
        upsample_initial_channel: 16,
        upsample_kernel_sizes: vec![8, 4, 4],
        gin_channels: gin,
        conv_post_bias,
    }
}

/// What the schema declares for `cfg`, under `dec` as the bundles hold it.
fn declared(cfg: &HifiGanConfig) -> Result<Vec<TensorSpec>> {
    Ok(cfg
        .validate()?
        .tensors()
        .into_iter()
        .map(|t| TensorSpec {
            name: format!("dec.{}", t.name),
            shape: t.shape,
        })
        .collect())
}

/// Tensor names and shapes of `dec` for `cfg`, written out independently of the model code.
fn specs(cfg: &HifiGanConfig) -> Vec<(String, Vec<usize>)> {
    let mut t = vec![
        (
            "dec.conv_pre.weight".to_owned(),
            vec![cfg.upsample_initial_channel, cfg.in_channels, 7],
        ),
        (
            "dec.conv_pre.bias".to_owned(),
            vec![cfg.upsample_initial_channel],
        ),
    ];
    if cfg.gin_channels > 0 {
        t.push((
            "dec.cond.weight".into(),
            vec![cfg.upsample_initial_channel, cfg.gin_channels, 1],
        ));
        t.push(("dec.cond.bias".into(), vec![cfg.upsample_initial_channel]));
    }
    let mut ch = cfg.upsample_initial_channel;
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
            let names: Vec<String> = match ResBlockKind::parse(&cfg.resblock).unwrap() {
                ResBlockKind::One => (0..ds.len())
                    .flat_map(|d| [format!("convs1.{d}"), format!("convs2.{d}")])
                    .collect(),
                ResBlockKind::Two => (0..ds.len()).map(|d| format!("convs.{d}")).collect(),
            };
            for n in names {
                t.push((
                    format!("dec.resblocks.{}.{n}.weight", s * nk + j),
                    vec![ch, ch, rk],
                ));
                t.push((format!("dec.resblocks.{}.{n}.bias", s * nk + j), vec![ch]));
            }
        }
    }
    t.push(("dec.conv_post.weight".into(), vec![1, ch, 7]));
    if cfg.conv_post_bias {
        t.push(("dec.conv_post.bias".into(), vec![1]));
    }
    t
}

#[test]
fn the_schema_declares_what_the_generator_takes() -> Result<()> {
    for (kind, gin, bias) in [(ResBlockKind::One, 0, true), (ResBlockKind::Two, 5, false)] {
        let cfg = config(kind, gin, bias);
        let mut schema: Vec<(String, Vec<usize>)> = declared(&cfg)?
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        let mut written = specs(&cfg);
        schema.sort();
        written.sort();
        assert_eq!(schema, written, "{kind:?}");
    }
    Ok(())
}

type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

fn random(specs: &[(String, Vec<usize>)], seed: u64) -> Tensors {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    specs
        .iter()
        .map(|(name, shape)| {
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            let scale = if shape.len() > 1 {
                2.0 / (fan_in as f32).sqrt()
            } else {
                0.1
            };
            let n: usize = shape.iter().product();
            let bytes = (0..n)
                .flat_map(|_| (scale * next()).to_le_bytes())
                .collect();
            (name.clone(), (Dtype::F32, shape.clone(), bytes))
        })
        .collect()
}

struct Bundle {
    _dir: tempfile::TempDir,
    verified: VerifiedBundle,
}

fn bundle(tensors: &Tensors) -> Result<Bundle> {
    bundle_as(tensors, toml::Table::new())
}

/// A signed, verified `hifigan` bundle holding `tensors`, with `config` as its
/// `architecture.config`.
fn bundle_as(tensors: &Tensors, config: toml::Table) -> Result<Bundle> {
    let list: Vec<(&str, Dtype, &[usize], &[u8])> = tensors
        .iter()
        .map(|(n, (d, s, b))| (n.as_str(), *d, s.as_slice(), b.as_slice()))
        .collect();
    let bytes = write_safetensors(&list)?;
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: signet_registry::VoiceName::new("vocoder").unwrap(),
        version: 1,
        license: "CC0-1.0".to_owned(),
        voice: VoiceInfo {
            language: "xx".to_owned(),
            quality: None,
            sample_rate: 16000,
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
            kind: "hifigan".to_owned(),
            config,
        },
        source: None,
        lexicon: None,
        vocoder: None,
        mel: None,
        files: Vec::new(),
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bundle");
    let key = signet_registry::SecretKey::from_seed(&[11; 32]);
    write_bundle(&path, manifest, &[(WEIGHTS_FILE, &bytes)], &key)?;
    let trust =
        signet_registry::TrustStore::with_key(key.public(), signet_registry::Role::BundleSigner);
    Ok(Bundle {
        verified: verify_bundle_dir(&path, &trust)?,
        _dir: dir,
    })
}

#[test]
fn windowed_decoding_matches_one_pass() -> Result<()> {
    for (kind, gin, bias) in [(ResBlockKind::One, 0, true), (ResBlockKind::Two, 5, false)] {
        let cfg = config(kind, gin, bias);
        let b = bundle(&random(&specs(&cfg), 3))?;
        let weights = Weights::from_bundle(&b.verified, &declared(&cfg)?)?;
        let mut generator = Generator::new(cfg.validate()?, &(weights.root() / "dec"))?;
        weights.finish()?;
        assert_eq!(generator.hop_length(), 16);
        tch::manual_seed(5);
        let g = (gin > 0).then(|| Tensor::randn([1, gin as i64, 1], (Kind::Float, Device::Cpu)));
        for frames in [1i64, 2, 9, 40, 61] {
            let z = Tensor::randn([1, 6, frames], (Kind::Float, Device::Cpu));
            let whole = generator.forward(&z, g.as_ref())?;
            let whole: Vec<f32> = Vec::try_from(&whole.reshape([-1]))?;
            assert_eq!(whole.len(), frames as usize * 16);
            for (window, first) in [
                (1usize, None),
                (3, None),
                (8, None),
                (8, Some(2)),
                (64, None),
            ] {
                generator.set_window_frames(window);
                let windowed = match first {
                    None => generator.decode(&z, g.as_ref())?,
                    Some(first) => {
                        let mut out = Vec::new();
                        let mut next = 0;
                        for w in generator.plan(frames, Some(first)) {
                            assert_eq!(w.frames().start, next, "windows follow each other");
                            next = w.frames().end;
                            let piece =
                                z.narrow(2, w.latent().start, w.latent().end - w.latent().start);
                            out.extend(generator.decode_window(&piece, &w, g.as_ref())?);
                        }
                        assert_eq!(next, frames);
                        out
                    }
                };
                assert_eq!(windowed.len(), whole.len());
                let worst = whole
                    .iter()
                    .zip(&windowed)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    worst < 1e-5,
                    "{kind:?} frames {frames} window {window}: max difference {worst}"
                );
            }
            assert!(whole.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        }
    }
    Ok(())
}

#[test]
fn a_wrong_latent_is_refused() -> Result<()> {
    let cfg = config(ResBlockKind::Two, 0, false);
    let b = bundle(&random(&specs(&cfg), 4))?;
    let weights = Weights::from_bundle(&b.verified, &declared(&cfg)?)?;
    let generator = Generator::new(cfg.validate()?, &(weights.root() / "dec"))?;
    for shape in [
        vec![1i64, 5, 10],
        vec![2, 6, 10],
        vec![1, 6, 0],
        vec![6, 10],
    ] {
        let z = Tensor::zeros(shape.as_slice(), (Kind::Float, Device::Cpu));
        assert!(
            matches!(
                generator.decode(&z, None),
                Err(VocoderError::BadLatent { .. })
            ),
            "{shape:?}"
        );
    }
    Ok(())
}

#[test]
fn loading_is_strict() -> Result<()> {
    let cfg = config(ResBlockKind::One, 0, false);
    let good = random(&specs(&cfg), 6);
    // Missing.
    let mut t = good.clone();
    t.remove("dec.resblocks.3.convs2.1.bias");
    let b = bundle(&t)?;
    match Weights::from_bundle(&b.verified, &declared(&cfg)?) {
        Err(NnError::MissingTensor { name }) => {
            assert_eq!(name, "dec.resblocks.3.convs2.1.bias")
        }
        other => panic!("{other:?}"),
    }
    // Extra: refused before the generator is built.
    let mut t = good.clone();
    t.insert(
        "dec.conv_post.bias".into(),
        (Dtype::F32, vec![1], vec![0; 4]),
    );
    let b = bundle(&t)?;
    assert!(matches!(
        Weights::from_bundle(&b.verified, &declared(&cfg)?),
        Err(NnError::UnexpectedTensor { name }) if name == "dec.conv_post.bias"
    ));
    // Config that disagrees with the file.
    let mut other = cfg.clone();
    other.upsample_kernel_sizes = vec![8, 6, 4];
    let b = bundle(&good)?;
    assert!(matches!(
        Weights::from_bundle(&b.verified, &declared(&other)?),
        Err(NnError::ShapeMismatch { .. })
    ));
    // The generator takes every declared tensor: nothing is left over.
    let w = Weights::from_bundle(&b.verified, &declared(&cfg)?)?;
    Generator::new(cfg.validate()?, &(w.root() / "dec"))?;
    w.finish()?;
    // Invalid config.
    let mut bad = cfg;
    bad.upsample_kernel_sizes = vec![8, 4, 3];
    assert!(matches!(
        bad.validate(),
        Err(SchemaError::InvalidConfig {
            key: "upsample_kernel_sizes",
            ..
        })
    ));
    Ok(())
}

#[test]
fn bf16_stages_stay_close_to_fp32() -> Result<()> {
    for (kind, gin, bias) in [(ResBlockKind::One, 0, true), (ResBlockKind::Two, 5, false)] {
        let cfg = config(kind, gin, bias);
        let b = bundle(&random(&specs(&cfg), 7))?;
        let weights = Weights::from_bundle(&b.verified, &declared(&cfg)?)?;
        let fp32 = Generator::new(cfg.validate()?, &(weights.root() / "dec"))?;
        weights.finish()?;
        tch::manual_seed(9);
        let g = (gin > 0).then(|| Tensor::randn([1, gin as i64, 1], (Kind::Float, Device::Cpu)));
        let z = Tensor::randn([1, 6, 50], (Kind::Float, Device::Cpu));
        let want = fp32.decode(&z, g.as_ref())?;
        let bf16 = fp32.with_bf16()?;
        assert!(bf16.is_bf16());
        let got = bf16.decode(&z, g.as_ref())?;
        assert_eq!(got.len(), want.len());
        let signal: f64 = want.iter().map(|&x| f64::from(x).powi(2)).sum();
        let noise: f64 = want
            .iter()
            .zip(&got)
            .map(|(&a, &b)| f64::from(a - b).powi(2))
            .sum();
        let snr = 10.0 * (signal / noise.max(1e-30)).log10();
        // bf16 keeps 8 bits of mantissa: about 48 dB per value, less after the layers.
        assert!(snr > 25.0, "{kind:?}: SNR {snr:.1} dB");
        assert!(noise > 0.0, "bf16 must actually change the arithmetic");
    }
    Ok(())
}
