//! Glow-TTS: a trainer checkpoint written by coqui-tts 0.28 (tests/data/coqui, from
//! scripts/coqui_fixtures.py --stages) mapped onto `GlowTts` and run on the ids coqui-tts ran,
//! noise off.

use anyhow::Result;
use serde_json::Value as Json;
use signet_acoustic::glow_tts::{map_glow_tts, CoquiGlowTts, GlowTts};
use signet_acoustic::AcousticError;
use signet_audio::MelNormalization;
use signet_checkpoint::{read, Limits};
use signet_registry::Dtype;

use crate::support::{manifest, write, TempBundle, Tensors};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/coqui");

fn json(name: &str) -> Json {
    let text = std::fs::read_to_string(format!("{DATA}/{name}")).unwrap();
    // coqpit writes Python's `Infinity` (max_audio_len, max_text_len), which JSON lacks; those
    // training keys are not read here.
    serde_json::from_str(&text.replace(": Infinity", ": null")).unwrap()
}

fn mapped(config: &Json) -> Result<CoquiGlowTts, AcousticError> {
    let bytes = std::fs::read(format!("{DATA}/glow_tts.pth")).unwrap();
    let ckpt = read(&bytes, &Limits::default()).unwrap();
    map_glow_tts(&ckpt.state_dict().unwrap(), config)
}

fn as_tensors(list: &[(String, signet_checkpoint::Param)]) -> Tensors {
    list.iter()
        .map(|(n, p)| {
            let bytes = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), (Dtype::F32, p.shape.clone(), bytes))
        })
        .collect()
}

fn bundle(m: &CoquiGlowTts) -> Result<TempBundle> {
    let tensors = as_tensors(&m.tensors);
    let mut man = manifest(&crate::support::tiny_config(1, false, "2"))?;
    man.architecture.kind = "glow_tts".to_owned();
    man.architecture.config = toml::Table::try_from(&m.config)?;
    write(man, &tensors)
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
fn glow_tts_matches_coqui_tts_on_the_same_ids() -> Result<()> {
    let m = mapped(&json("glow_tts_config.json"))?;
    assert_eq!(
        m.config.num_chars, 67,
        "the vocabulary comes from the embedding"
    );
    let b = bundle(&m)?;
    let model = GlowTts::from_bundle(&b.verified()?)?;
    let parity = json("glow_tts_parity.json");
    for case in parity["cases"].as_array().unwrap() {
        let ids: Vec<i64> = serde_json::from_value(case["ids"].clone())?;
        let shape: Vec<usize> = serde_json::from_value(case["mel_shape"].clone())?;
        let want: Vec<f32> = serde_json::from_value(case["mel"].clone())?;
        let out = model.infer(&ids, None)?;
        assert_eq!(out.frames, shape[2], "{ids:?}: equal length");
        assert_eq!(out.mel.len(), want.len());
        let snr = snr_db(&want, &out.mel);
        eprintln!(
            "Glow-TTS against coqui-tts, {} ids: SNR {snr:.1} dB, {} frames",
            ids.len(),
            out.frames
        );
        assert!(snr >= 40.0, "{ids:?}: SNR {snr:.1} dB");
    }
    Ok(())
}

#[test]
fn glow_tts_mapping_and_inputs_are_strict() -> Result<()> {
    let config = json("glow_tts_config.json");
    for (key, value, named) in [
        ("encoder_type", Json::from("gated_conv"), "encoder_type"),
        (
            "use_speaker_embedding",
            Json::Bool(true),
            "use_speaker_embedding",
        ),
        (
            "inference_noise_scale",
            Json::from(0.33),
            "inference_noise_scale",
        ),
        ("model", Json::from("tacotron2"), "model"),
    ] {
        let mut c = config.clone();
        c[key] = value;
        match mapped(&c) {
            Err(AcousticError::UnsupportedCoqui { key: k, .. }) => assert_eq!(k, named),
            other => panic!("{key}: {other:?}"),
        }
    }
    let mut c = config.clone();
    c["encoder_params"]["rel_attn_window_size"] = Json::from(4);
    assert!(matches!(
        mapped(&c),
        Err(AcousticError::UnsupportedCoqui { .. })
    ));
    // A config that disagrees with the file.
    let mut c = config.clone();
    c["hidden_channels_dp"] = Json::from(24);
    assert!(matches!(mapped(&c), Err(AcousticError::Mapping { .. })));
    let mut c = config.clone();
    c["num_flow_blocks_dec"] = Json::from(2);
    assert!(matches!(mapped(&c), Err(AcousticError::Mapping { .. })));
    let mut c = config;
    c["num_splits"] = Json::from(3);
    assert!(matches!(
        mapped(&c),
        Err(AcousticError::InvalidConfig { .. })
    ));

    let m = mapped(&json("glow_tts_config.json"))?;
    let b = bundle(&m)?;
    let model = GlowTts::from_bundle(&b.verified()?)?;
    assert!(matches!(
        model.infer(&[], None),
        Err(AcousticError::EmptyInput)
    ));
    assert!(matches!(
        model.infer(&[1, 67], None),
        Err(AcousticError::IdOutOfRange {
            id: 67,
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        model.infer(&[1, -1], None),
        Err(AcousticError::IdOutOfRange { .. })
    ));
    for scale in [0.0, -1.0, f64::NAN, 1e9] {
        assert!(matches!(
            model.infer(&[1, 2], Some(scale)),
            Err(AcousticError::InvalidScale { .. })
        ));
    }
    // One id of one frame: upstream's squeeze would leave nothing; Signet still answers.
    let out = model.infer(&[5], Some(0.01))?;
    assert_eq!(out.frames, 2);
    assert!(out.mel.iter().all(|v| v.is_finite()));
    Ok(())
}

#[test]
fn glow_tts_and_hifigan_end_to_end_match_coquis_synthesizer() -> Result<()> {
    // Stage 1: Glow-TTS. Stage boundary: denormalize with Glow-TTS's audio settings, normalize
    // with the vocoder's. Stage 2: the HiFi-GAN vocoder of signet-vocoder's fixtures. Against
    // coqui-tts's Synthesizer (`_run_vocoder` after the model's inference) on the same ids.
    let glow_config = json("glow_tts_config.json");
    let b = bundle(&mapped(&glow_config)?)?;
    let model = GlowTts::from_bundle(&b.verified()?)?;
    let voc_dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../signet-vocoder/tests/data/coqui"
    );
    let voc_config: Json = serde_json::from_str(&std::fs::read_to_string(format!(
        "{voc_dir}/hifigan_config.json"
    ))?)?;
    let bytes = std::fs::read(format!("{voc_dir}/hifigan_gan.pth"))?;
    let ckpt = read(&bytes, &Limits::default())?;
    let voc = signet_vocoder::coqui::map_hifigan(&ckpt.state_dict()?, &voc_config)?;
    let mut man = manifest(&crate::support::tiny_config(1, false, "2"))?;
    man.architecture.kind = "hifigan".to_owned();
    man.architecture.config = toml::Table::try_from(&voc.config)?;
    let vb = write(man, &as_tensors(&voc.tensors))?;
    let vocoder = signet_vocoder::MelVocoder::from_bundle(&vb.verified()?)?;
    let acoustic_norm = MelNormalization::from_coqui_audio(&glow_config["audio"], None)?;
    let vocoder_norm = MelNormalization::from_coqui_audio(&voc_config["audio"], None)?;
    assert_ne!(acoustic_norm, vocoder_norm);
    for case in json("glow_tts_parity.json")["cases"].as_array().unwrap() {
        let ids: Vec<i64> = serde_json::from_value(case["ids"].clone())?;
        let want_mel: Vec<f32> = serde_json::from_value(case["mel"].clone())?;
        let want: Vec<f32> = serde_json::from_value(case["audio"].clone())?;
        let out = model.infer(&ids, None)?;
        let mel_snr = snr_db(&want_mel, &out.mel);
        let mut mel = out.mel;
        vocoder_norm.renormalize(&acoustic_norm, &mut mel)?;
        let frames = i64::try_from(out.frames)?;
        let audio = vocoder.vocode(&tch::Tensor::from_slice(&mel).reshape([1, 10, frames]))?;
        assert_eq!(audio.len(), want.len(), "{ids:?}: equal length");
        let snr = snr_db(&want, &audio);
        eprintln!("two stages against coqui-tts's Synthesizer, {} ids: mel SNR {mel_snr:.1} dB, audio SNR {snr:.1} dB", ids.len());
        assert!(
            mel_snr >= 40.0 && snr >= 40.0,
            "{ids:?}: mel {mel_snr:.1} dB, audio {snr:.1} dB"
        );
    }
    Ok(())
}
