//! Damaged copies of the real voice, derived at test time; each must fail with its own error.

use signet_piper::onnx::{parse_model, AttributeValue, Model, Tensor};
use signet_piper::{import_piper, import_piper_with, inspect_onnx, ImportOptions, PiperError};

use crate::common::{json_path, json_text, onnx_bytes, onnx_path, VOICE};
use crate::writer;

fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

/// Writes `onnx` and `json` as a voice in a temp dir and imports it.
fn import_files(onnx: &[u8], json: &str) -> Result<(), PiperError> {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join(format!("{VOICE}.onnx"));
    std::fs::write(&model, onnx).unwrap();
    std::fs::write(tmp.path().join(format!("{VOICE}.onnx.json")), json).unwrap();
    import_piper(
        &model,
        None,
        &tmp.path().join("out"),
        None,
        &crate::common::key(),
    )
    .map(drop)
}

/// Imports the real voice after `edit` has changed its decoded graph.
fn import_edited(edit: impl FnOnce(&mut Model<'static>)) -> Result<(), PiperError> {
    let mut model = parse_model(onnx_bytes()).unwrap();
    edit(&mut model);
    import_files(&writer::model(&model), &json_text())
}

fn init<'m>(m: &'m mut Model<'static>, name: &str) -> &'m mut Tensor<'static> {
    m.graph
        .initializers
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer {name}"))
}

/// Renames an initializer and every reference to it.
fn rename(m: &mut Model<'static>, from: &str, to: &'static str) {
    init(m, from).name = to;
    for node in &mut m.graph.nodes {
        for input in &mut node.inputs {
            if *input == from {
                *input = to;
            }
        }
    }
}

#[test]
fn re_encoded_copy_still_imports() {
    // Sanity check of the test writer: an unmodified round trip is accepted. Its digest differs
    // from the pinned voice's, so the licence comes from the config, else is `unknown`.
    let bytes = writer::model(&parse_model(onnx_bytes()).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("copy.onnx");
    std::fs::write(&model, &bytes).unwrap();
    std::fs::write(tmp.path().join("copy.onnx.json"), json_text()).unwrap();
    let report = import_piper(
        &model,
        None,
        &tmp.path().join("a"),
        None,
        &crate::common::key(),
    )
    .unwrap();
    assert_eq!(report.tensors, 350);
    let bundle =
        signet_registry::verify_bundle_dir(&tmp.path().join("a"), &crate::common::trust()).unwrap();
    assert_eq!(bundle.manifest().license, "unknown");
    assert_eq!(bundle.manifest().name, "copy");
    assert_eq!(bundle.manifest().voice.language, "en_US");

    let with_license = json_text().replacen('{', "{\"license\": \"CC-BY-4.0\",", 1);
    std::fs::write(tmp.path().join("copy.onnx.json"), with_license).unwrap();
    import_piper(
        &model,
        None,
        &tmp.path().join("b"),
        None,
        &crate::common::key(),
    )
    .unwrap();
    let bundle =
        signet_registry::verify_bundle_dir(&tmp.path().join("b"), &crate::common::trust()).unwrap();
    assert_eq!(bundle.manifest().license, "CC-BY-4.0");
}

#[test]
fn renamed_tensor() {
    let err =
        import_edited(|m| rename(m, "enc_p.proj.weight", "enc_p.projection.weight")).unwrap_err();
    assert!(
        matches!(&err, PiperError::UnexpectedTensor { tensor, reason }
            if tensor == "enc_p.projection.weight" && reason.contains("enc_p.proj.weight")),
        "{err}"
    );
    let err = import_edited(|m| rename(m, "dp.flows.0.m", "dp.flows.0.mean")).unwrap_err();
    assert!(
        matches!(&err, PiperError::UnexpectedTensor { tensor, .. } if tensor == "dp.flows.0.mean"),
        "{err}"
    );
}

#[test]
fn removed_tensor() {
    let err = import_edited(|m| {
        m.graph
            .initializers
            .retain(|t| t.name != "dec.conv_post.weight")
    })
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::MissingTensor { tensor } if tensor == "dec.conv_post.weight"),
        "{err}"
    );
    // An anonymous weight, known only through its consumer.
    let err = import_edited(|m| m.graph.initializers.retain(|t| t.name != "onnx::Conv_8168"))
        .unwrap_err();
    assert!(
        matches!(&err, PiperError::MissingTensor { tensor }
            if tensor == "flow.flows.6.enc.in_layers.0.weight"),
        "{err}"
    );
}

#[test]
fn added_tensor() {
    let four = leak(vec![0; 16]);
    let err = import_edited(|m| {
        m.graph.initializers.push(Tensor {
            name: "dec.extra.weight",
            dims: vec![4],
            data_type: 1,
            raw_data: Some(four),
            ..Tensor::default()
        })
    })
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::UnexpectedTensor { tensor, .. } if tensor == "dec.extra.weight"),
        "{err}"
    );
    // An anonymous float tensor that nothing consumes looks like a hidden parameter.
    let err = import_edited(|m| {
        m.graph.initializers.push(Tensor {
            name: "onnx::Mul_99999",
            dims: vec![4],
            data_type: 1,
            raw_data: Some(four),
            ..Tensor::default()
        })
    })
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::UnexpectedTensor { tensor, .. } if tensor == "onnx::Mul_99999"),
        "{err}"
    );
    // A second initializer under an existing name.
    let err = import_edited(|m| {
        let copy = init(m, "dp.flows.0.m").clone();
        m.graph.initializers.push(copy);
    })
    .unwrap_err();
    assert!(matches!(&err, PiperError::UnexpectedTensor { .. }), "{err}");
}

#[test]
fn reshaped_tensor() {
    let err =
        import_edited(|m| init(m, "dp.flows.3.proj.weight").dims = vec![29, 1, 192]).unwrap_err();
    match err {
        PiperError::ShapeMismatch {
            tensor,
            expected,
            found,
        } => {
            assert_eq!(tensor, "dp.flows.3.proj.weight");
            assert_eq!(expected, [29, 192, 1]);
            assert_eq!(found, [29, 1, 192]);
        }
        e => panic!("{e}"),
    }
    // Changing the element count no longer matches the raw data.
    let err =
        import_edited(|m| init(m, "dp.flows.3.proj.weight").dims = vec![29, 192, 2]).unwrap_err();
    assert!(matches!(&err, PiperError::BadTensorData { .. }), "{err}");
}

#[test]
fn non_float_parameter() {
    let err = import_edited(|m| {
        let t = init(m, "dp.flows.3.proj.bias");
        t.data_type = 7; // INT64
        t.raw_data = Some(leak(vec![0; 29 * 8]));
    })
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::NonFloatParameter { tensor, data_type: 7 }
            if tensor == "dp.flows.3.proj.bias"),
        "{err}"
    );
}

#[test]
fn non_finite_parameter() {
    let err = import_edited(|m| {
        let t = init(m, "dp.flows.3.proj.bias");
        let mut raw = t.raw_data.unwrap().to_vec();
        raw[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
        t.raw_data = Some(leak(raw));
    })
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::BadTensorData { tensor, .. } if tensor == "dp.flows.3.proj.bias"),
        "{err}"
    );
}

#[test]
fn external_data_is_never_followed() {
    let err = import_edited(|m| init(m, "dec.conv_post.weight").external = true).unwrap_err();
    assert!(matches!(&err, PiperError::UnsupportedOnnx { .. }), "{err}");
}

#[test]
fn inconsistent_dilations() {
    let err = import_edited(|m| {
        let node = m
            .graph
            .nodes
            .iter_mut()
            .find(|n| n.name == "/dec/resblocks.3/convs.1/Conv")
            .unwrap();
        for a in &mut node.attributes {
            if a.name == "dilations" {
                a.value = AttributeValue::Ints(vec![5]);
            }
        }
    })
    .unwrap_err();
    assert!(matches!(&err, PiperError::Architecture { .. }), "{err}");
}

#[test]
fn parameter_consumed_by_an_unnamed_node() {
    let err = import_edited(|m| {
        let node = m
            .graph
            .nodes
            .iter_mut()
            .find(|n| n.inputs.contains(&"onnx::Conv_8168"))
            .unwrap();
        node.name = "Conv_17";
    })
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::UnexpectedTensor { reason, .. } if reason.contains("\"Conv_17\"")),
        "{err}"
    );
}

#[test]
fn oversize_onnx_and_config() {
    let mut options = ImportOptions::default();
    options.max_onnx_bytes = 1_000_000;
    let tmp = tempfile::tempdir().unwrap();
    let err = import_piper_with(
        &onnx_path(),
        None,
        &tmp.path().join("o"),
        &options,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PiperError::TooLarge {
                limit: 1_000_000,
                ..
            }
        ),
        "{err}"
    );
    let mut options = ImportOptions::default();
    options.max_config_bytes = 1000;
    let err = import_piper_with(
        &onnx_path(),
        None,
        &tmp.path().join("o"),
        &options,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PiperError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
    assert!(!tmp.path().join("o").exists());
}

fn import_with_json(json: &str) -> PiperError {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("config.json");
    std::fs::write(&cfg, json).unwrap();
    import_piper(
        &onnx_path(),
        Some(&cfg),
        &tmp.path().join("o"),
        None,
        &crate::common::key(),
    )
    .unwrap_err()
}

#[test]
fn sample_rate_as_a_string() {
    let json = json_text().replace("\"sample_rate\": 22050", "\"sample_rate\": \"22050\"");
    assert_ne!(json, json_text());
    match import_with_json(&json) {
        PiperError::Config { key, reason } => {
            assert_eq!(key, "audio.sample_rate");
            assert!(reason.contains("string"), "{reason}");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn config_disagrees_with_model() {
    for (from, to, key) in [
        (
            "\"num_symbols\": 256",
            "\"num_symbols\": 100",
            "num_symbols",
        ),
        ("\"num_speakers\": 1", "\"num_speakers\": 2", "num_speakers"),
        (
            "\"^\": [\n      1\n    ]",
            "\"^\": [\n      300\n    ]",
            "phoneme_id_map",
        ),
    ] {
        let json = json_text().replace(from, to);
        assert_ne!(json, json_text(), "{from}");
        let err = import_with_json(&json);
        assert!(
            matches!(&err, PiperError::ConfigMismatch { key: k, .. } if *k == key),
            "{err}"
        );
    }
    assert!(matches!(
        import_with_json("not json"),
        PiperError::ConfigSyntax { .. }
    ));
    assert!(matches!(
        import_with_json("{\"audio\": {}}"),
        PiperError::Config { .. }
    ));
}

#[test]
fn missing_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let err = import_piper(
        &tmp.path().join("nope.onnx"),
        Some(&json_path()),
        &tmp.path().join("o"),
        None,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(matches!(err, PiperError::Io { .. }), "{err}");
    let err = import_piper(
        &onnx_path(),
        Some(&tmp.path().join("nope.json")),
        &tmp.path().join("o"),
        None,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(matches!(err, PiperError::Io { .. }), "{err}");
    let err = import_piper(
        &onnx_path(),
        None,
        &tmp.path().join("o"),
        Some("../evil"),
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(matches!(err, PiperError::BadName { .. }), "{err}");
}

#[test]
fn truncated_real_file() {
    let bytes = onnx_bytes();
    let n = bytes.len();
    let mut lengths: Vec<usize> = vec![0, 1, 2, 7, 8, 9, 30, 31, 100, 4096, 1 << 20, n / 3, n / 2];
    lengths.extend((1..=12).map(|d| n - d));
    lengths.extend((0..24).map(|i| (n / 24) * i + 12_345));
    for len in lengths {
        let err = parse_model(&bytes[..len]).expect_err("truncated model was accepted");
        assert!(
            matches!(err, PiperError::MalformedOnnx { .. }),
            "len {len}: {err}"
        );
        assert!(inspect_onnx(&bytes[..len]).is_err(), "len {len}");
    }
    // Through the file-level entry point as well.
    let err = import_files(&bytes[..n - 3], &json_text()).unwrap_err();
    assert!(matches!(err, PiperError::MalformedOnnx { .. }), "{err}");
}

#[test]
fn corrupted_bytes_never_panic() {
    // Deterministic pseudo-random single-byte corruptions in the structural parts of the file
    // (the first and last 64 KiB hold headers, node definitions and the opset).
    let bytes = onnx_bytes();
    let n = bytes.len();
    let mut copy = bytes.to_vec();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..40 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let off = (state % 65_536) as usize;
        let pos = if state & 1 == 0 { off } else { n - 1 - off };
        let old = copy[pos];
        copy[pos] = (state >> 32) as u8;
        let _ = inspect_onnx(&copy);
        copy[pos] = old;
    }
}

#[test]
fn onnx_path_is_not_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let err = import_piper(
        tmp.path(),
        Some(&json_path()),
        &tmp.path().join("o"),
        Some("x"),
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(matches!(err, PiperError::Io { .. }), "{err}");
}
