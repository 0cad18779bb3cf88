//! Coqui's HiFi-GAN vocoder: a trainer checkpoint written by coqui-tts 0.28 (tests/data/coqui,
//! from scripts/coqui_fixtures.py --stages) mapped onto the mel vocoder and run on the same mel
//! coqui-tts ran it on.

use anyhow::Result;
use serde_json::Value as Json;
use signet_checkpoint::{read, Dtype as CkDtype, Limits, Tensor as CkTensor};
use signet_registry::Dtype;
use signet_vocoder::coqui::{map_hifigan, CoquiHifiGan};
use signet_vocoder::{MelVocoder, VocoderError};
use tch::{Kind, Tensor};

use crate::{bundle_as, Tensors};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/coqui");

fn json(name: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(format!("{DATA}/{name}")).unwrap()).unwrap()
}

fn floats(v: &Json) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn map_file(name: &str, config: &Json) -> Result<CoquiHifiGan, VocoderError> {
    let bytes = std::fs::read(format!("{DATA}/{name}")).unwrap();
    let ckpt = read(&bytes, &Limits::default()).unwrap();
    map_hifigan(&ckpt.state_dict().unwrap(), config)
}

fn as_bundle_tensors(mapped: &CoquiHifiGan) -> Tensors {
    mapped
        .tensors
        .iter()
        .map(|(n, p)| {
            let bytes = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), (Dtype::F32, p.shape.clone(), bytes))
        })
        .collect()
}

fn vocoder(mapped: &CoquiHifiGan) -> Result<(crate::Bundle, MelVocoder)> {
    let table = toml::Table::try_from(&mapped.config)?;
    let b = bundle_as(&as_bundle_tensors(mapped), table)?;
    let v = MelVocoder::from_bundle(&b.verified)?;
    Ok((b, v))
}

fn snr_db(want: &[f32], got: &[f32]) -> f64 {
    let signal: f64 = want.iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 = want
        .iter()
        .zip(got)
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    10.0 * (signal / noise.max(1e-30)).log10()
}

#[test]
fn coqui_hifigan_matches_coqui_tts_on_the_same_mel() -> Result<()> {
    let mapped = map_file("hifigan_gan.pth", &json("hifigan_config.json"))?;
    assert_eq!(mapped.sample_rate, 16000);
    assert_eq!(mapped.config.inference_padding, 5);
    let (_b, vocoder) = vocoder(&mapped)?;
    let parity = json("hifigan_parity.json");
    let shape: Vec<i64> = parity["mel_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let mel = Tensor::from_slice(&floats(&parity["mel"])).reshape(shape.as_slice());
    let want = floats(&parity["audio"]);
    let got = vocoder.vocode(&mel)?;
    assert_eq!(got.len(), want.len(), "equal length");
    assert_eq!(got.len(), vocoder.output_len(shape[2] as usize));
    let snr = snr_db(&want, &got);
    eprintln!(
        "mel vocoder against coqui-tts: SNR {snr:.1} dB, {} samples",
        got.len()
    );
    assert!(snr >= 40.0, "SNR {snr:.1} dB against coqui-tts");
    Ok(())
}

#[test]
fn both_weight_norm_forms_map_to_the_same_vocoder() -> Result<()> {
    let config = json("hifigan_config.json");
    let gan = map_file("hifigan_gan.pth", &config)?;
    let bare = map_file("hifigan_gv_bare.pth", &config)?;
    assert_eq!(gan.tensors.len(), bare.tensors.len());
    for ((na, a), (nb, b)) in gan.tensors.iter().zip(&bare.tensors) {
        assert_eq!(na, nb);
        assert_eq!(a.shape, b.shape, "{na}");
        // The bare file is the same weights in the other form: equal up to the fold's rounding.
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!((x - y).abs() <= 1e-6 * x.abs().max(1.0), "{na}: {x} vs {y}");
        }
    }
    assert!(gan.tensors.iter().all(|(n, _)| !n.contains("weight_g")
        && !n.contains("parametrizations")
        && !n.starts_with("model_")));
    Ok(())
}

fn f32_tensor(shape: &[usize]) -> CkTensor {
    CkTensor {
        dtype: CkDtype::F32,
        shape: shape.to_vec(),
        data: vec![0; shape.iter().product::<usize>() * 4],
    }
}

#[test]
fn coqui_vocoder_mapping_is_strict() -> Result<()> {
    let config = json("hifigan_config.json");
    let bytes = std::fs::read(format!("{DATA}/hifigan_gan.pth"))?;
    let ckpt = read(&bytes, &Limits::default())?;
    let state = ckpt.state_dict()?;
    let bias = "model_g.conv_post.bias";
    // Missing.
    let missing: Vec<_> = state.iter().copied().filter(|(n, _)| *n != bias).collect();
    match map_hifigan(&missing, &config) {
        Err(VocoderError::Mapping { tensor, .. }) => assert_eq!(tensor, "conv_post.bias"),
        other => panic!("{other:?}"),
    }
    // Extra, in the generator.
    let extra_t = f32_tensor(&[3]);
    let mut extra = state.clone();
    extra.push(("model_g.lin_pre.bias", &extra_t));
    match map_hifigan(&extra, &config) {
        Err(VocoderError::Mapping { tensor, .. }) => assert_eq!(tensor, "lin_pre.bias"),
        other => panic!("{other:?}"),
    }
    // Outside both halves of the GAN.
    let mut stray = state.clone();
    stray.push(("model_x.weight", &extra_t));
    assert!(matches!(
        map_hifigan(&stray, &config),
        Err(VocoderError::Mapping { tensor, .. }) if tensor == "model_x.weight"
    ));
    // Shape mismatch.
    let wrong = f32_tensor(&[2]);
    let reshaped: Vec<_> = state
        .iter()
        .map(|&(n, t)| if n == bias { (n, &wrong) } else { (n, t) })
        .collect();
    assert!(matches!(
        map_hifigan(&reshaped, &config),
        Err(VocoderError::Mapping { tensor, .. }) if tensor == "conv_post.bias"
    ));
    // Half a weight-norm pair.
    let half: Vec<_> = state
        .iter()
        .copied()
        .filter(|(n, _)| *n != "model_g.conv_pre.parametrizations.weight.original0")
        .collect();
    assert!(matches!(
        map_hifigan(&half, &config),
        Err(VocoderError::Checkpoint(_))
    ));
    // Options and models Signet does not run, refused by name.
    for (pointer, value, key) in [
        ("/model", Json::from("melgan"), "model"),
        (
            "/generator_model",
            Json::from("univnet_generator"),
            "generator_model",
        ),
        (
            "/generator_model_params/cond_in_each_up_layer",
            Json::Bool(true),
            "generator_model_params.cond_in_each_up_layer",
        ),
        (
            "/generator_model_params/pre_linear",
            Json::from(80),
            "generator_model_params.pre_linear",
        ),
        (
            "/generator_model_params/cond_channels",
            Json::from(4),
            "generator_model_params.cond_channels",
        ),
        (
            "/generator_model_params/in_channels",
            Json::from(12),
            "generator_model_params.in_channels",
        ),
    ] {
        let mut c = config.clone();
        let parent = pointer.rsplit_once('/').unwrap().0;
        let name = pointer.rsplit_once('/').unwrap().1;
        let target = if parent.is_empty() {
            &mut c
        } else {
            c.pointer_mut(parent).unwrap()
        };
        target[name] = value;
        match map_hifigan(&state, &c) {
            Err(VocoderError::UnsupportedCoqui { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{pointer}: {other:?}"),
        }
    }
    // A config whose generator differs from the file's.
    let mut c = config.clone();
    c["generator_model_params"]["upsample_initial_channel"] = Json::from(32);
    assert!(matches!(
        map_hifigan(&state, &c),
        Err(VocoderError::Mapping { .. })
    ));
    Ok(())
}

#[test]
fn a_mel_of_the_wrong_shape_is_refused() -> Result<()> {
    let mapped = map_file("hifigan_gan.pth", &json("hifigan_config.json"))?;
    let (_b, vocoder) = vocoder(&mapped)?;
    for shape in [
        vec![1i64, 9, 10],
        vec![2, 10, 10],
        vec![1, 10, 0],
        vec![10, 10],
    ] {
        let mel = Tensor::zeros(shape.as_slice(), (Kind::Float, tch::Device::Cpu));
        assert!(
            matches!(vocoder.vocode(&mel), Err(VocoderError::BadLatent { .. })),
            "{shape:?}"
        );
    }
    Ok(())
}

#[test]
fn a_mel_vocoder_bundle_with_a_bad_config_is_refused() -> Result<()> {
    let mapped = map_file("hifigan_gan.pth", &json("hifigan_config.json"))?;
    let tensors = as_bundle_tensors(&mapped);
    let good = toml::Table::try_from(&mapped.config)?;
    let mut unknown = good.clone();
    unknown.insert("mystery".into(), toml::Value::Integer(1));
    let mut padding = good.clone();
    padding.insert("inference_padding".into(), toml::Value::Integer(100_000));
    for table in [unknown, padding, toml::Table::new()] {
        let b = bundle_as(&tensors, table)?;
        assert!(matches!(
            MelVocoder::from_bundle(&b.verified),
            Err(VocoderError::BadConfig { .. })
        ));
    }
    Ok(())
}

#[test]
fn the_stage_boundary_matches_coquis_synthesizer() -> Result<()> {
    // A mel in a spectrogram model's normalization, renormalized for the vocoder and vocoded,
    // against coqui-tts's Synthesizer._run_vocoder on the same mel and checkpoint.
    let config = json("hifigan_config.json");
    let mapped = map_file("hifigan_gan.pth", &config)?;
    let (_b, vocoder) = vocoder(&mapped)?;
    let stage = json("two_stage.json");
    let acoustic = signet_audio::MelNormalization::from_coqui_audio(&stage["tts_audio"], None)?;
    let vocoder_norm = signet_audio::MelNormalization::from_coqui_audio(&config["audio"], None)?;
    assert_ne!(
        acoustic, vocoder_norm,
        "the two stages normalize differently"
    );
    let mut mel = floats(&stage["mel"]);
    vocoder_norm.renormalize(&acoustic, &mut mel)?;
    let mel = Tensor::from_slice(&mel).reshape([1, 10, 29]);
    let want = floats(&stage["audio"]);
    let got = vocoder.vocode(&mel)?;
    assert_eq!(got.len(), want.len(), "equal length");
    let snr = snr_db(&want, &got);
    eprintln!("stage boundary and vocoder against coqui-tts's Synthesizer: SNR {snr:.1} dB");
    assert!(snr >= 40.0, "SNR {snr:.1} dB");
    Ok(())
}

#[test]
fn a_long_spectrogram_vocodes_in_windows_that_join_into_the_whole() -> Result<()> {
    let config = json("hifigan_config.json");
    let mapped = map_file("hifigan_gan.pth", &config)?;
    let (_b, vocoder) = vocoder(&mapped)?;
    // A long spectrogram: several windows, the first a short one.
    let frames = 1500i64;
    let mel = Tensor::randn([1, 10, frames], (tch::Kind::Float, tch::Device::Cpu)) * 0.5;
    let whole = vocoder.vocode(&mel)?;
    assert_eq!(whole.len(), vocoder.output_len(frames as usize));
    let mut vocoding = vocoder.start(&mel, Some(64))?;
    let windows = vocoding.windows_left();
    assert!(windows > 2, "{windows} windows");
    let first = vocoder.next_window(&mut vocoding).unwrap()?;
    assert_eq!(first.len(), 64 * vocoder.hop_length());
    assert_eq!(vocoding.windows_left(), windows - 1);
    let mut joined = first;
    while let Some(window) = vocoder.next_window(&mut vocoding) {
        joined.extend(window?);
    }
    assert_eq!(joined, whole);
    Ok(())
}
