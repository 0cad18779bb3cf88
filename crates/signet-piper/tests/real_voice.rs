//! Importing the real default voice.

use std::time::Instant;

use signet_piper::{import_piper, import_piper_with, ExistingBundle, ImportOptions, PiperError};
use signet_registry::{verify_bundle_dir, Dtype, RegistryError};
use signet_schema::ArchitectureSchema;

use crate::common::{json_path, onnx_bytes, onnx_path, VOICE};

/// Inference tensors of en_US-joe-medium: 317 named initializers (`sid` included), 32 anonymous
/// flow convolution weights and the folded `dp.flows.0.logs`.
const JOE_TENSORS: usize = 350;

#[test]
fn imports_joe_with_the_expected_architecture() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(VOICE);
    let mut options = ImportOptions::default();
    options.license = Some("CC0-1.0".to_owned());
    let start = Instant::now();
    let report =
        import_piper_with(&onnx_path(), None, &out, &options, &crate::common::key()).unwrap();
    eprintln!("import took {:?}: {report}", start.elapsed());
    assert_eq!(report.name, VOICE);
    assert_eq!(report.tensors, JOE_TENSORS);
    assert_eq!(report.dropped_tensors, 0);

    let bundle = verify_bundle_dir(&out, &crate::common::trust()).unwrap();
    assert_eq!(bundle.manifest_sha256(), report.manifest_sha256);
    let m = bundle.manifest();
    assert_eq!(m.name, VOICE);
    assert_eq!(m.version, 1);
    assert_eq!(m.license, "CC0-1.0");
    assert_eq!(m.voice.language, "en_US");
    assert_eq!(m.voice.quality.as_deref(), Some("medium"));
    assert_eq!(m.voice.sample_rate, 22050);
    assert_eq!(m.voice.num_speakers, 1);
    assert_eq!(m.phonemes.kind, "espeak");
    assert_eq!(m.phonemes.espeak_voice.as_deref(), Some("en-us"));
    assert_eq!(m.phonemes.id_map.len(), 151);
    assert_eq!(m.phonemes.id_map["^"], [1]);
    assert_eq!(m.inference.noise_scale, 0.667);
    assert_eq!(m.inference.length_scale, 1.0);
    assert_eq!(m.inference.noise_w, 0.8);
    let src = m.source.as_ref().unwrap();
    assert_eq!(src.kind, "piper-onnx");
    assert_eq!(src.file, format!("{VOICE}.onnx"));
    assert_eq!(
        src.model_sha256,
        "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
    );
    assert_eq!(
        src.config_sha256,
        "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
    );

    assert_eq!(m.architecture.kind, "vits");
    let expected: toml::Table = toml::from_str(
        r#"
        n_vocab = 256
        inter_channels = 192
        hidden_channels = 192
        filter_channels = 768
        n_heads = 2
        n_layers = 6
        kernel_size = 3
        resblock = "2"
        resblock_kernel_sizes = [3, 5, 7]
        resblock_dilation_sizes = [[1, 2], [2, 6], [3, 12]]
        upsample_rates = [8, 8, 4]
        upsample_initial_channel = 256
        upsample_kernel_sizes = [16, 16, 8]
        n_speakers = 1
        gin_channels = 0
        use_sdp = true
        "#,
    )
    .unwrap();
    assert_eq!(m.architecture.config, expected);

    let w = bundle.weights().unwrap();
    assert_eq!(w.len(), JOE_TENSORS);
    let params: u64 = w.names().map(|n| w.get(n).unwrap().numel() as u64).sum();
    assert_eq!(params, report.parameters);
    assert_eq!(
        bundle.file("weights.safetensors").unwrap().len() as u64,
        report.bytes
    );
    for name in w.names() {
        assert_eq!(w.get(name).unwrap().dtype, Dtype::F32, "{name}");
        for bad in ["enc_q.", "dp.post_", "dp.flows.1."] {
            assert!(!name.starts_with(bad), "{name}");
        }
    }
    for (name, shape) in [
        ("enc_p.emb.weight", &[256, 192][..]),
        ("enc_p.encoder.attn_layers.0.emb_rel_k", &[1, 9, 96]),
        ("flow.flows.0.enc.in_layers.0.weight", &[384, 192, 5]),
        ("flow.flows.6.enc.res_skip_layers.3.weight", &[192, 192, 1]),
        ("dp.flows.0.m", &[2, 1]),
        ("dp.flows.0.logs", &[2, 1]),
        ("dec.ups.0.weight", &[256, 128, 16]),
        ("dec.conv_post.weight", &[1, 32, 7]),
    ] {
        assert_eq!(w.get(name).unwrap().shape, shape, "{name}");
    }
    // The folded exp(-logs) constant holds 0.9785079 and 1.051145.
    let logs = w.get("dp.flows.0.logs").unwrap().to_f32_vec().unwrap();
    for (l, folded) in logs.iter().zip([0.978_507_9f32, 1.051_145]) {
        assert!(((-l).exp() - folded).abs() < 1e-6, "{l}");
    }
}

#[test]
fn the_bundle_holds_exactly_the_vits_schema_tensors() {
    // The schema's listing for the default voice's config (as inferred from the model file;
    // `imports_joe_with_the_expected_architecture` pins its values), against what the real
    // bundle holds.
    let config = signet_piper::inspect_onnx(onnx_bytes()).unwrap();
    let declared = config.validate().unwrap().tensors();
    assert_eq!(declared.len(), JOE_TENSORS);

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("joe");
    import_piper(&onnx_path(), None, &out, Some("joe"), &crate::common::key()).unwrap();
    let bundle = verify_bundle_dir(&out, &crate::common::trust()).unwrap();
    let config: signet_schema::VitsConfig =
        toml::Value::Table(bundle.manifest().architecture.config.clone())
            .try_into()
            .unwrap();
    assert_eq!(
        config.validate().unwrap().tensors(),
        declared,
        "manifest config"
    );
    let w = bundle.weights().unwrap();
    let found: std::collections::BTreeMap<&str, Vec<usize>> = w
        .names()
        .map(|n| (n, w.get(n).unwrap().shape.clone()))
        .collect();
    let expected: std::collections::BTreeMap<&str, Vec<usize>> = declared
        .iter()
        .map(|t| (t.name.as_str(), t.shape.clone()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn import_borrows_exact_bytes() {
    // The embedding (`sid` in the file) is copied bit for bit.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("joe");
    import_piper(
        &onnx_path(),
        Some(&json_path()),
        &out,
        Some("joe"),
        &crate::common::key(),
    )
    .unwrap();
    let bundle = verify_bundle_dir(&out, &crate::common::trust()).unwrap();
    // The pinned default voice is recognised by its digest.
    assert_eq!(bundle.manifest().license, "CC0-1.0");
    assert_eq!(bundle.manifest().name, "joe");
    let emb = bundle.weights().unwrap().get("enc_p.emb.weight").unwrap();
    let model = signet_piper::onnx::parse_model(onnx_bytes()).unwrap();
    let sid = model
        .graph
        .initializers
        .iter()
        .find(|t| t.name == "sid")
        .unwrap();
    assert_eq!(emb.data, sid.raw_data.unwrap());
}

#[test]
fn refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    let err = import_piper(
        &onnx_path(),
        None,
        &tmp.path().join("x"),
        None,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PiperError::Registry(RegistryError::AlreadyExists { .. })
        ),
        "{err}"
    );
    // Replacing is opt-in, and only ever replaces a bundle, not an arbitrary directory.
    let mut options = ImportOptions::default();
    options.existing = ExistingBundle::Replace;
    let err = import_piper_with(
        &onnx_path(),
        None,
        &tmp.path().join("x"),
        &options,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PiperError::Registry(RegistryError::AlreadyExists { .. })
        ),
        "{err}"
    );
}

#[test]
fn replaces_an_existing_bundle_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(VOICE);
    import_piper(&onnx_path(), None, &out, None, &crate::common::key()).unwrap();
    let mut options = ImportOptions::default();
    options.existing = ExistingBundle::Replace;
    options.license = Some("CC0-1.0".to_owned());
    options.version = 2;
    import_piper_with(&onnx_path(), None, &out, &options, &crate::common::key()).unwrap();
    let bundle = verify_bundle_dir(&out, &crate::common::trust()).unwrap();
    assert_eq!(bundle.manifest().license, "CC0-1.0");
    assert_eq!(bundle.manifest().version, 2);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}
