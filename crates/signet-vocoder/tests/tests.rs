//! Integration tests of signet-vocoder (one binary): a small random HiFi-GAN built from a
//! verified bundle, chunked decoding against one pass, and loader strictness.
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
use signet_vocoder::{Generator, GeneratorConfig, ResBlockKind, VocoderError};
use tch::{Device, Kind, Tensor};

fn config(resblock: ResBlockKind, gin: usize) -> GeneratorConfig {
    let dilations = match resblock {
        ResBlockKind::One => vec![vec![1, 3, 5], vec![1, 3, 5]],
        ResBlockKind::Two => vec![vec![1, 2], vec![2, 6]],
    };
    GeneratorConfig {
        in_channels: 6,
        resblock,
        resblock_kernel_sizes: vec![3, 7],
        resblock_dilation_sizes: dilations,
        upsample_rates: vec![4, 2, 2],
        upsample_initial_channel: 16,
        upsample_kernel_sizes: vec![8, 4, 4],
        gin_channels: gin,
    }
}

/// Tensor names and shapes of `dec` for `cfg`, written out independently of the model code.
fn specs(cfg: &GeneratorConfig) -> Vec<(String, Vec<usize>)> {
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
            let names: Vec<String> = match cfg.resblock {
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
    t
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
        },
        phonemes: PhonemeSpec {
            kind: "none".to_owned(),
            espeak_voice: None,
            id_map: BTreeMap::new(),
        },
        inference: InferenceDefaults {
            noise_scale: 0.0,
            length_scale: 1.0,
            noise_w: 0.0,
        },
        architecture: Architecture {
            kind: "hifigan".to_owned(),
            config: toml::Table::new(),
        },
        source: None,
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
fn chunked_decoding_matches_one_pass() -> Result<()> {
    for (kind, gin) in [(ResBlockKind::One, 0), (ResBlockKind::Two, 5)] {
        let cfg = config(kind, gin);
        let b = bundle(&random(&specs(&cfg), 3))?;
        let weights = Weights::from_bundle(&b.verified)?;
        let mut generator = Generator::new(cfg.clone(), &(weights.root() / "dec"))?;
        weights.finish()?;
        assert_eq!(generator.hop_length(), 16);
        tch::manual_seed(5);
        let g = (gin > 0).then(|| Tensor::randn([1, gin as i64, 1], (Kind::Float, Device::Cpu)));
        for frames in [1i64, 2, 9, 40, 61] {
            let z = Tensor::randn([1, 6, frames], (Kind::Float, Device::Cpu));
            let whole = generator.forward(&z, g.as_ref())?;
            let whole: Vec<f32> = Vec::try_from(&whole.reshape([-1]))?;
            assert_eq!(whole.len(), frames as usize * 16);
            for chunk in [1usize, 3, 8, 64] {
                generator.set_chunk_frames(chunk);
                let chunked = generator.decode(&z, g.as_ref())?;
                assert_eq!(chunked.len(), whole.len());
                let worst = whole
                    .iter()
                    .zip(&chunked)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    worst < 1e-5,
                    "{kind:?} frames {frames} chunk {chunk}: max difference {worst}"
                );
            }
            assert!(whole.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        }
    }
    Ok(())
}

#[test]
fn a_wrong_latent_is_refused() -> Result<()> {
    let cfg = config(ResBlockKind::Two, 0);
    let b = bundle(&random(&specs(&cfg), 4))?;
    let weights = Weights::from_bundle(&b.verified)?;
    let generator = Generator::new(cfg, &(weights.root() / "dec"))?;
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
    let cfg = config(ResBlockKind::One, 0);
    let good = random(&specs(&cfg), 6);
    // Missing.
    let mut t = good.clone();
    t.remove("dec.resblocks.3.convs2.1.bias");
    let b = bundle(&t)?;
    let w = Weights::from_bundle(&b.verified)?;
    match Generator::new(cfg.clone(), &(w.root() / "dec")) {
        Err(VocoderError::Nn(NnError::MissingTensor { name })) => {
            assert_eq!(name, "dec.resblocks.3.convs2.1.bias")
        }
        other => panic!("{other:?}"),
    }
    // Extra: the generator loads, finish() refuses the leftover.
    let mut t = good.clone();
    t.insert(
        "dec.conv_post.bias".into(),
        (Dtype::F32, vec![1], vec![0; 4]),
    );
    let b = bundle(&t)?;
    let w = Weights::from_bundle(&b.verified)?;
    Generator::new(cfg.clone(), &(w.root() / "dec"))?;
    assert!(
        matches!(w.finish(), Err(NnError::UnexpectedTensor { name }) if name == "dec.conv_post.bias")
    );
    // Config that disagrees with the file.
    let mut other = cfg.clone();
    other.upsample_kernel_sizes = vec![8, 6, 4];
    let b = bundle(&good)?;
    let w = Weights::from_bundle(&b.verified)?;
    assert!(matches!(
        Generator::new(other, &(w.root() / "dec")),
        Err(VocoderError::Nn(NnError::ShapeMismatch { .. }))
    ));
    // Invalid config.
    let mut bad = cfg;
    bad.upsample_kernel_sizes = vec![8, 4, 3];
    let w = Weights::from_bundle(&b.verified)?;
    assert!(matches!(
        Generator::new(bad, &(w.root() / "dec")),
        Err(VocoderError::InvalidConfig {
            key: "upsample_kernel_sizes",
            ..
        })
    ));
    Ok(())
}
