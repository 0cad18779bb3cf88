//! Tacotron2 with double decoder consistency: a trainer checkpoint written by coqui-tts 0.28
//! (tests/data/coqui, from scripts/coqui_fixtures.py --tacotron2) mapped onto `Tacotron2` and
//! run on the ids coqui-tts ran, prenet dropout off at inference (the fixture's config, as
//! Coqui's default).

use anyhow::Result;
use serde_json::Value as Json;
use signet_acoustic::tacotron2::{map_tacotron2, CoquiTacotron2, Tacotron2, MAX_FRAMES_PER_ID};
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

fn config() -> Json {
    json("tacotron2_ddc_config.json")
}

fn mapped(config: &Json) -> Result<CoquiTacotron2, AcousticError> {
    let bytes = std::fs::read(format!("{DATA}/tacotron2_ddc.pth")).unwrap();
    let ckpt = read(&bytes, &Limits::default()).unwrap();
    map_tacotron2(&ckpt.state_dict().unwrap(), config)
}

fn as_tensors(list: &[(String, signet_checkpoint::Param)]) -> Tensors {
    list.iter()
        .map(|(n, p)| {
            let bytes = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), (Dtype::F32, p.shape.clone(), bytes))
        })
        .collect()
}

fn bundle(m: &CoquiTacotron2) -> Result<TempBundle> {
    let mut man = manifest(&crate::support::tiny_config(1, false, "2"))?;
    man.architecture.kind = "tacotron2".to_owned();
    man.architecture.config = toml::Table::try_from(&m.config)?;
    write(man, &as_tensors(&m.tensors))
}

fn model(m: &CoquiTacotron2) -> Result<Tacotron2> {
    Ok(Tacotron2::from_bundle(&bundle(m)?.verified()?)?)
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

fn cases() -> Vec<Json> {
    json("tacotron2_ddc_parity.json")["cases"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn tacotron2_ddc_matches_coqui_tts_on_the_same_ids() -> Result<()> {
    let m = mapped(&config())?;
    assert_eq!(
        m.config.num_chars, 67,
        "the vocabulary comes from the embedding"
    );
    assert_eq!((m.config.r, m.config.r_init), (2, 2));
    let model = model(&m)?;
    for case in cases() {
        let ids: Vec<i64> = serde_json::from_value(case["ids"].clone())?;
        let shape: Vec<usize> = serde_json::from_value(case["mel_shape"].clone())?;
        let want: Vec<f32> = serde_json::from_value(case["mel"].clone())?;
        let focus: Vec<usize> = serde_json::from_value(case["alignment_argmax"].clone())?;
        let out = model.infer(&ids, 0)?;
        assert_eq!(out.frames, shape[2], "{ids:?}: equal length");
        assert_eq!(out.mel.len(), want.len());
        let snr = snr_db(&want, &out.mel);
        eprintln!(
            "Tacotron2-DDC against coqui-tts, {} ids: SNR {snr:.1} dB, {} frames",
            ids.len(),
            out.frames
        );
        assert!(snr >= 40.0, "{ids:?}: SNR {snr:.1} dB");
        // Durations: r frames per decoder step to the token holding the attention's maximum.
        let mut durations = vec![0i64; ids.len()];
        for f in focus {
            durations[f] += 2;
        }
        assert_eq!(out.durations, durations, "{ids:?}");
        assert_eq!(out.durations.iter().sum::<i64>() as usize, out.frames);
    }
    Ok(())
}

#[test]
fn tacotron2_ddc_coarse_decoder_is_recognised_and_left_out() -> Result<()> {
    let m = mapped(&config())?;
    let coarse: Vec<&String> = m
        .unused
        .iter()
        .filter(|n| n.starts_with("coarse_decoder."))
        .collect();
    assert_eq!(coarse.len(), 20, "{:?}", m.unused);
    assert!(m
        .unused
        .contains(&"coarse_decoder.linear_projection.linear_layer.weight".to_owned()));
    // The batch norms' counters (3 encoder, 5 postnet) are recognised too.
    assert_eq!(
        m.unused
            .iter()
            .filter(|n| n.ends_with("num_batches_tracked"))
            .count(),
        8
    );
    assert_eq!(m.unused.len(), 28);
    assert!(m
        .tensors
        .iter()
        .all(|(n, _)| !n.starts_with("coarse_decoder.") && !n.ends_with("num_batches_tracked")));
    assert!(m
        .tensors
        .iter()
        .any(|(n, _)| n == "decoder.linear_projection.linear_layer.weight"));

    // Recognised means checked: a coarse decoder unlike the config's `ddc_r` is refused by name.
    let mut c = config();
    c["ddc_r"] = Json::from(4);
    match mapped(&c) {
        Err(AcousticError::Mapping { tensor, .. }) => {
            assert!(
                tensor.starts_with("coarse_decoder.linear_projection"),
                "{tensor}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Without DDC in the config, the coarse decoder is an unknown tensor.
    let mut c = config();
    c["double_decoder_consistency"] = Json::Bool(false);
    match mapped(&c) {
        Err(AcousticError::Mapping { tensor, reason }) => {
            assert!(tensor.starts_with("coarse_decoder."), "{tensor}");
            assert!(reason.contains("not a tensor of the configured model"));
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[test]
fn tacotron2_mapping_and_inputs_are_strict() -> Result<()> {
    let base = config();
    for (key, value) in [
        ("model", Json::from("glow_tts")),
        ("attention_type", Json::from("graves")),
        ("use_forward_attn", Json::Bool(true)),
        ("transition_agent", Json::Bool(true)),
        ("attention_win", Json::Bool(true)),
        ("bidirectional_decoder", Json::Bool(true)),
        ("use_gst", Json::Bool(true)),
        ("use_speaker_embedding", Json::Bool(true)),
        ("attention_norm", Json::from("entmax")),
        ("prenet_type", Json::from("gru")),
        ("decoder_in_features", Json::from(24)),
        ("decoder_output_dim", Json::from(80)),
    ] {
        let mut c = base.clone();
        c[key] = value;
        match mapped(&c) {
            Err(AcousticError::UnsupportedCoqui { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: {other:?}"),
        }
    }
    // A config that disagrees with the file.
    for (key, value) in [
        ("out_channels", Json::from(12)),
        ("encoder_in_features", Json::from(32)),
        ("decoder_in_features", Json::from(32)),
        ("location_attn", Json::Bool(false)),
        ("prenet_type", Json::from("bn")),
    ] {
        let mut c = base.clone();
        c[key] = value.clone();
        if key == "out_channels" {
            c["decoder_output_dim"] = Json::from(12);
        }
        if key == "encoder_in_features" || key == "decoder_in_features" {
            c["encoder_in_features"] = value.clone();
            c["decoder_in_features"] = value;
        }
        assert!(
            matches!(mapped(&c), Err(AcousticError::Mapping { .. })),
            "{key}: {:?}",
            mapped(&c)
        );
    }
    // r above what the projection makes.
    let mut c = base.clone();
    c["r"] = Json::from(3);
    assert!(matches!(
        mapped(&c),
        Err(AcousticError::InvalidConfig { key: "r", .. })
    ));

    let model = model(&mapped(&base)?)?;
    assert!(matches!(
        model.infer(&[], 0),
        Err(AcousticError::EmptyInput)
    ));
    assert!(matches!(
        model.infer(&[1, 67], 0),
        Err(AcousticError::IdOutOfRange {
            id: 67,
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        model.infer(&[1, -1], 0),
        Err(AcousticError::IdOutOfRange { .. })
    ));
    assert!(matches!(
        model.infer(&vec![1; signet_acoustic::MAX_IDS + 1], 0),
        Err(AcousticError::TooManyIds { .. })
    ));
    Ok(())
}

#[test]
fn tacotron2_decoder_that_never_stops_ends_at_the_step_cap() -> Result<()> {
    // The same model with a stop token that can never fire.
    let mut m = mapped(&config())?;
    for (name, p) in &mut m.tensors {
        if name == "decoder.stopnet.1.linear_layer.bias" {
            p.data = vec![-1e4];
        }
    }
    let model = model(&m)?;
    let ids = [3, 7, 1, 19, 4];
    let cap = model.config().step_cap(ids.len());
    assert_eq!(cap, ids.len() * MAX_FRAMES_PER_ID / 2, "frames per id / r");
    assert!(cap < model.config().max_decoder_steps);
    let started = std::time::Instant::now();
    match model.infer(&ids, 0) {
        Err(AcousticError::DecoderDidNotStop { steps, ids: n }) => {
            assert_eq!((steps, n), (cap, ids.len()))
        }
        other => panic!("{other:?}"),
    }
    eprintln!(
        "a decoder that never stops: refused after {cap} steps in {:?}",
        started.elapsed()
    );
    // A long input is capped by the config's `max_decoder_steps` (500 in the fixture).
    let long = vec![5i64; 40];
    assert_eq!(model.config().step_cap(long.len()), 500);
    assert!(matches!(
        model.infer(&long, 0),
        Err(AcousticError::DecoderDidNotStop { steps: 500, .. })
    ));
    Ok(())
}

#[test]
fn tacotron2_prenet_dropout_at_inference_follows_the_seed() -> Result<()> {
    let mut c = config();
    c["prenet_dropout_at_inference"] = Json::Bool(true);
    let m = mapped(&c)?;
    assert!(m.config.prenet_dropout_at_inference);
    let model = model(&m)?;
    let ids = [3, 7, 1, 19, 4, 4, 12, 0, 8];
    let a = model.infer(&ids, 7)?;
    let b = model.infer(&ids, 7)?;
    let other = model.infer(&ids, 8)?;
    assert_eq!(a.mel, b.mel, "the same seed gives the same mel");
    assert!(
        a.frames != other.frames || a.mel != other.mel,
        "another seed drops other prenet units"
    );
    assert!(a.mel.iter().all(|v| v.is_finite()));
    // With dropout off at inference the seed plays no part.
    let plain = self::model(&mapped(&config())?)?;
    assert_eq!(plain.infer(&ids, 7)?.mel, plain.infer(&ids, 8)?.mel);
    assert_ne!(plain.infer(&ids, 7)?.mel, a.mel);
    Ok(())
}

#[test]
fn tacotron2_and_hifigan_end_to_end_match_coquis_synthesizer() -> Result<()> {
    // Stage 1: Tacotron2-DDC; stage boundary: denormalize with its audio settings, normalize
    // with the vocoder's; stage 2: the HiFi-GAN vocoder of signet-vocoder's fixtures. Against
    // coqui-tts's Synthesizer._run_vocoder on the same ids.
    let taco_config = config();
    let model = model(&mapped(&taco_config)?)?;
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
    let acoustic_norm = MelNormalization::from_coqui_audio(&taco_config["audio"], None)?;
    let vocoder_norm = MelNormalization::from_coqui_audio(&voc_config["audio"], None)?;
    assert_ne!(acoustic_norm, vocoder_norm);
    for case in cases() {
        let ids: Vec<i64> = serde_json::from_value(case["ids"].clone())?;
        let want: Vec<f32> = serde_json::from_value(case["audio"].clone())?;
        let out = model.infer(&ids, 0)?;
        let mut mel = out.mel;
        vocoder_norm.renormalize(&acoustic_norm, &mut mel)?;
        let frames = i64::try_from(out.frames)?;
        let audio = vocoder.vocode(&tch::Tensor::from_slice(&mel).reshape([1, 10, frames]))?;
        assert_eq!(audio.len(), want.len(), "{ids:?}: equal length");
        let snr = snr_db(&want, &audio);
        eprintln!(
            "Tacotron2-DDC + HiFi-GAN against coqui-tts's Synthesizer, {} ids: audio SNR {snr:.1} dB",
            ids.len()
        );
        assert!(snr >= 40.0, "{ids:?}: audio {snr:.1} dB");
    }
    Ok(())
}
