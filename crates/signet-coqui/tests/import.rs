//! `import_coqui` on coqui-tts's own checkpoint: what the bundle holds, and each refusal.

use serde_json::json;
use signet_checkpoint::Limits;
use signet_coqui::{map_checkpoint, CoquiError};

use crate::support::{config_with, data, expected, import_tiny, key, read};

#[test]
fn coqui_vits_import_writes_a_signed_bundle_with_text_and_audio_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, bundle) = import_tiny(tmp.path(), "tiny-vits");
    let m = bundle.manifest();
    assert_eq!(m.architecture.kind, "vits");
    assert_eq!(report.kind, "vits");
    let cfg: signet_schema::VitsConfig = m.architecture.config.clone().try_into().unwrap();
    assert_eq!(cfg.hidden_channels, 16);
    assert_eq!(cfg.filter_channels, 32);
    assert_eq!(cfg.n_layers, 2);
    assert_eq!(cfg.sdp_channels, Some(192));
    assert_eq!(cfg.upsample_rates, [4, 4]);
    assert_eq!(cfg.n_vocab, 64);
    // Inference: every tensor of the schema, nothing else; training-only ones left out.
    let declared = cfg.validate().unwrap();
    use signet_schema::ArchitectureSchema;
    assert_eq!(report.tensors, declared.tensors().len());
    assert!(report.dropped_tensors > 100, "{}", report.dropped_tensors);
    // Audio and inference defaults from config.json.
    assert_eq!(m.voice.sample_rate, 16000);
    assert_eq!(m.voice.num_speakers, 1);
    assert!((m.inference.noise_scale - 0.667).abs() < 1e-6);
    assert_eq!(m.inference.noise_w, 1.0);
    assert_eq!(m.inference.length_scale, 1.0);
    // Text: Coqui's symbol table, in coqui-tts's own order.
    assert_eq!(m.phonemes.kind, "coqui");
    let text = m.phonemes.coqui.as_ref().unwrap();
    let vocab: Vec<String> = expected()["vocab"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text.symbols, vocab);
    assert!(text.add_blank);
    assert!(!text.use_phonemes);
    assert_eq!(text.blank.as_deref(), Some("<BLNK>"));
    assert_eq!(text.text_cleaner.as_deref(), Some("english_cleaners"));
    assert_eq!(m.phonemes.id_map["<BLNK>"], [63]);
    // Provenance: the checkpoint's and config's SHA-256.
    let src = m.source.as_ref().unwrap();
    assert_eq!(src.kind, "coqui-checkpoint");
    assert_eq!(src.file, "vits_tiny.pth");
    use sha2::Digest;
    assert_eq!(
        src.model_sha256,
        hex::encode(sha2::Sha256::digest(read("vits_tiny.pth")))
    );
    assert_eq!(
        src.config_sha256,
        hex::encode(sha2::Sha256::digest(read("vits_tiny.json")))
    );
}

/// The same weights as a bare state dict in the old weight-norm form give the same tensors.
#[test]
fn coqui_bare_state_dict_with_old_weight_norm_maps_alike() {
    let ckpt = signet_checkpoint::read(&read("vits_tiny.pth"), &Limits::default()).unwrap();
    let state = ckpt.state_dict().unwrap();
    let renamed: Vec<(String, &signet_checkpoint::Tensor)> = state
        .iter()
        .map(|(n, t)| {
            let n = n
                .replace(".parametrizations.weight.original0", ".weight_g")
                .replace(".parametrizations.weight.original1", ".weight_v");
            (n, *t)
        })
        .collect();
    let old: Vec<(&str, &signet_checkpoint::Tensor)> =
        renamed.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    assert!(old.iter().any(|(n, _)| n.ends_with(".weight_g")));
    let a = signet_coqui::weights::collect(&state).unwrap();
    let b = signet_coqui::weights::collect(&old).unwrap();
    assert_eq!(a, b);
    assert!(a.contains_key("waveform_decoder.ups.0.weight"));
    assert!(a.contains_key("flow.flows.3.enc.in_layers.3.weight"));
}

fn refusal(config: &[u8]) -> CoquiError {
    map_checkpoint(&read("vits_tiny.pth"), config, &Limits::default()).unwrap_err()
}

#[test]
fn coqui_only_architectures_are_refused_by_name() {
    for model in ["xtts", "bark", "tortoise", "XTTS"] {
        let err = refusal(&config_with("model", json!(model)));
        assert!(
            matches!(&err, CoquiError::UnsupportedModel { model: m, .. } if m == model),
            "{err}"
        );
        assert!(err.to_string().contains(model), "{err}");
    }
    let err = refusal(&config_with("model", json!("not_a_model")));
    assert!(err.to_string().contains("not_a_model"), "{err}");
}

#[test]
fn coqui_phonemizer_signet_lacks_is_refused_by_name() {
    let cfg = config_with("use_phonemes", json!(true));
    let cfg: serde_json::Value = serde_json::from_slice(&cfg).unwrap();
    let mut cfg = cfg;
    cfg["phonemizer"] = json!("gruut");
    let err = refusal(&serde_json::to_vec(&cfg).unwrap());
    assert!(
        matches!(&err, CoquiError::UnsupportedPhonemizer { name } if name == "gruut"),
        "{err}"
    );
    // No phonemizer named: Coqui's default for the language, which for Japanese is not espeak.
    cfg["phonemizer"] = json!(null);
    cfg["phoneme_language"] = json!("ja-jp");
    let err = refusal(&serde_json::to_vec(&cfg).unwrap());
    assert!(err.to_string().contains("ja_jp_phonemizer"), "{err}");
    // espeak, named or by default for English, is accepted.
    cfg["phoneme_language"] = json!("en-us");
    let ok = map_checkpoint(
        &read("vits_tiny.pth"),
        &serde_json::to_vec(&cfg).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(ok.text.phonemizer.as_deref(), Some("espeak"));
}

#[test]
fn coqui_vits_settings_signet_does_not_implement_are_refused_by_key() {
    let cases = [
        ("model_args.encoder_sample_rate", json!(11025)),
        ("model_args.kernel_size_flow", json!(3)),
        ("model_args.num_layers_flow", json!(2)),
        ("text_cleaner", json!("basic_german_cleaners")),
        ("characters.characters_class", json!("my.Characters")),
    ];
    for (key, value) in cases {
        let err = refusal(&config_with(key, value));
        assert!(
            matches!(&err, CoquiError::UnsupportedSetting { key: k, .. } if *k == key),
            "{key}: {err}"
        );
    }
}

#[test]
fn coqui_config_disagreeing_with_the_weights_is_refused() {
    // A wider text encoder than the file holds: the first tensor whose shape differs is named.
    let err = refusal(&config_with(
        "model_args.hidden_channels_ffn_text_encoder",
        json!(64),
    ));
    assert!(
        matches!(&err, CoquiError::ShapeMismatch { tensor, .. } if tensor.contains("ffn_layers")),
        "{err}"
    );
    // One more symbol than the embedding has rows.
    let err = refusal(&config_with(
        "characters.punctuations",
        json!(" .,!?;:'\"-+"),
    ));
    assert!(err.to_string().contains("num_chars"), "{err}");
    // hop_length that is not the decoder's.
    let err = refusal(&config_with("audio.hop_length", json!(256)));
    assert!(err.to_string().contains("hop_length"), "{err}");
    // A type error names its key.
    let err = refusal(&config_with("model_args.hidden_channels", json!("16")));
    assert!(
        err.to_string().contains("model_args.hidden_channels"),
        "{err}"
    );
}

#[test]
fn coqui_checkpoint_with_an_extra_or_missing_tensor_is_refused() {
    // Built from the fixture's own tensors, as a bare state dict.
    let ckpt = signet_checkpoint::read(&read("vits_tiny.pth"), &Limits::default()).unwrap();
    let state = ckpt.state_dict().unwrap();
    let cfg = signet_coqui::CoquiConfig::parse(&read("vits_tiny.json")).unwrap();
    let n_vocab = cfg.text().unwrap().symbols.len();
    let params = signet_coqui::weights::collect(&state).unwrap();

    let mut extra = params.clone();
    let any = extra.values().next().unwrap().clone();
    extra.insert("emb_l.weight".into(), any);
    let err = signet_coqui::vits::map_vits(extra, &cfg, n_vocab).unwrap_err();
    assert!(
        matches!(&err, CoquiError::UnexpectedTensor { tensor, .. } if tensor == "emb_l.weight"),
        "{err}"
    );

    let mut missing = params.clone();
    missing.remove("duration_predictor.flows.4.proj.bias");
    let err = signet_coqui::vits::map_vits(missing, &cfg, n_vocab).unwrap_err();
    assert!(
        matches!(&err, CoquiError::MissingTensor { tensor } if tensor == "dp.flows.7.proj.bias"),
        "{err}"
    );

    let ok = signet_coqui::vits::map_vits(params, &cfg, n_vocab).unwrap();
    assert!(ok.tensors.iter().any(|(n, _)| n == "dp.flows.0.m"));
    assert!(ok
        .tensors
        .iter()
        .any(|(n, _)| n == "flow.flows.6.post.bias"));
    assert!(!ok.tensors.iter().any(|(n, _)| n.starts_with("dp.post")));
}

#[test]
fn coqui_import_refuses_an_existing_voice_and_a_bad_name() {
    let tmp = tempfile::tempdir().unwrap();
    import_tiny(tmp.path(), "twice");
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some("twice".into());
    let err = signet_coqui::import_coqui(
        &data("vits_tiny.pth"),
        &data("vits_tiny.json"),
        &tmp.path().join("twice"),
        &options,
        &key(),
    )
    .unwrap_err();
    assert!(matches!(err, CoquiError::Registry(_)), "{err}");
    options.name = Some("../evil".into());
    let err = signet_coqui::import_coqui(
        &data("vits_tiny.pth"),
        &data("vits_tiny.json"),
        &tmp.path().join("x"),
        &options,
        &key(),
    )
    .unwrap_err();
    assert!(matches!(err, CoquiError::BadName { .. }), "{err}");
}

#[test]
fn coqui_import_caps_the_checkpoint_size() {
    let tmp = tempfile::tempdir().unwrap();
    let mut options = signet_coqui::ImportOptions::default();
    options.name = Some("capped".into());
    options.max_checkpoint_bytes = 1024;
    let err = signet_coqui::import_coqui(
        &data("vits_tiny.pth"),
        &data("vits_tiny.json"),
        &tmp.path().join("capped"),
        &options,
        &key(),
    )
    .unwrap_err();
    assert!(
        matches!(err, CoquiError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
    assert!(!tmp.path().join("capped").exists());
}

/// `vits_tiny.json` with `encoder_sample_rate` and its companions set.
fn encoder_rate_config(encoder: u64, interpolate_z: bool, hop_length: u64) -> Vec<u8> {
    let mut cfg: serde_json::Value = serde_json::from_slice(&config_with(
        "model_args.encoder_sample_rate",
        json!(encoder),
    ))
    .unwrap();
    cfg["model_args"]["interpolate_z"] = json!(interpolate_z);
    cfg["audio"]["hop_length"] = json!(hop_length);
    serde_json::to_vec(&cfg).unwrap()
}

fn vits_config(converted: &signet_coqui::Converted) -> signet_schema::VitsConfig {
    converted.mapped.config.clone().try_into().unwrap()
}

#[test]
fn coqui_encoder_sample_rate_becomes_latent_upsampling_or_the_decoders_own() {
    let ckpt = read("vits_tiny.pth");
    let limits = Limits::default();
    // The recipe's way (`interpolate_z`): a 16,000 Hz decoder of hop 16 under an 8,000 Hz
    // encoder stretches the latent twice.
    let up = map_checkpoint(&ckpt, &encoder_rate_config(8000, true, 16), &limits).unwrap();
    assert_eq!(vits_config(&up).latent_upsampling, Some(2));
    assert_eq!(up.sample_rate, 16000);
    // A factor of 4 is as good.
    let up = map_checkpoint(&ckpt, &encoder_rate_config(4000, true, 16), &limits).unwrap();
    assert_eq!(vits_config(&up).latent_upsampling, Some(4));
    // The encoder at the output rate: nothing to stretch.
    let same = map_checkpoint(&ckpt, &encoder_rate_config(16000, true, 16), &limits).unwrap();
    assert_eq!(vits_config(&same).latent_upsampling, None);
    // Without `interpolate_z` the decoder itself covers the factor: its upsampling (16) is
    // `audio.hop_length` (8) times 2, and the bundle is a plain VITS.
    let plain = map_checkpoint(&ckpt, &encoder_rate_config(8000, false, 8), &limits).unwrap();
    assert_eq!(vits_config(&plain).latent_upsampling, None);
    let err = map_checkpoint(&ckpt, &encoder_rate_config(8000, false, 16), &limits).unwrap_err();
    assert!(
        err.to_string().contains("hop_length") && err.to_string().contains("times 2"),
        "{err}"
    );
    // A factor that is not whole, or beyond 8, is refused by key.
    for encoder in [11025, 6000, 1000, 0] {
        let err =
            map_checkpoint(&ckpt, &encoder_rate_config(encoder, true, 16), &limits).unwrap_err();
        assert!(
            matches!(
                &err,
                CoquiError::UnsupportedSetting {
                    key: "model_args.encoder_sample_rate",
                    ..
                }
            ),
            "{encoder}: {err}"
        );
    }
}
