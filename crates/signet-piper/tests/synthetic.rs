//! A tiny synthetic model built with the test writer: every truncation length is refused.

use proptest::prelude::*;
use signet_piper::onnx::{parse_model, Attribute, AttributeValue, Graph, Model, Node, Tensor};
use signet_piper::{inspect_onnx, PiperError};

use crate::writer;

fn f32_bytes(n: usize) -> &'static [u8] {
    let v: Vec<u8> = (0..n)
        .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
        .collect();
    Box::leak(v.into_boxed_slice())
}

fn tiny() -> Vec<u8> {
    let shape: &'static [u8] = Box::leak(Box::new([2u8, 0, 0, 0, 0, 0, 0, 0]));
    let model = Model {
        ir_version: 8,
        producer_name: "signet-test",
        opsets: vec![("", 15)],
        graph: Graph {
            name: "tiny",
            nodes: vec![
                Node {
                    name: "/enc_p/emb/Gather",
                    op_type: "Gather",
                    inputs: vec!["sid", "input"],
                    outputs: vec!["e"],
                    ..Node::default()
                },
                Node {
                    name: "/enc_p/proj/Conv",
                    op_type: "Conv",
                    inputs: vec!["e", "onnx::Conv_1", "onnx::Conv_2"],
                    outputs: vec!["p"],
                    attributes: vec![Attribute {
                        name: "dilations",
                        value: AttributeValue::Ints(vec![1]),
                    }],
                    ..Node::default()
                },
                Node {
                    name: "/Reshape",
                    op_type: "Reshape",
                    inputs: vec!["p", "/Constant_output_0"],
                    outputs: vec!["output"],
                    ..Node::default()
                },
            ],
            initializers: vec![
                Tensor {
                    name: "sid",
                    dims: vec![4, 2],
                    data_type: 1,
                    raw_data: Some(f32_bytes(8)),
                    ..Tensor::default()
                },
                Tensor {
                    name: "onnx::Conv_1",
                    dims: vec![4, 2, 1],
                    data_type: 1,
                    float_data: vec![0.5; 8],
                    ..Tensor::default()
                },
                Tensor {
                    name: "onnx::Conv_2",
                    dims: vec![4],
                    data_type: 1,
                    raw_data: Some(f32_bytes(4)),
                    ..Tensor::default()
                },
                Tensor {
                    name: "/Constant_output_0",
                    dims: vec![1],
                    data_type: 7,
                    raw_data: Some(shape),
                    ..Tensor::default()
                },
            ],
            inputs: vec!["input"],
            outputs: vec!["output"],
        },
    };
    writer::model(&model)
}

#[test]
fn tiny_model_decodes() {
    let bytes = tiny();
    let m = parse_model(&bytes).unwrap();
    assert_eq!(m.graph.nodes.len(), 3);
    assert_eq!(m.graph.initializers.len(), 4);
    assert_eq!(m.graph.initializers[1].float_data, [0.5; 8]);
    assert_eq!(m.graph.nodes[1].ints("dilations"), Some(&[1i64][..]));
    assert_eq!(m.producer_name, "signet-test");
}

#[test]
fn every_truncation_is_refused() {
    let bytes = tiny();
    for len in 0..bytes.len() {
        match parse_model(&bytes[..len]) {
            Err(PiperError::MalformedOnnx { .. }) => {}
            other => panic!("truncation to {len} bytes: {other:?}"),
        }
        assert!(inspect_onnx(&bytes[..len]).is_err(), "{len}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = inspect_onnx(&bytes);
    }

    #[test]
    fn mutated_tiny_model_never_panics(pos in any::<usize>(), val in any::<u8>()) {
        let mut bytes = tiny();
        let i = pos % bytes.len();
        bytes[i] = val;
        let _ = inspect_onnx(&bytes);
    }
}

#[test]
fn tiny_model_maps_names_by_consumer() {
    // `sid` (via /enc_p/emb/Gather) and the anonymous Conv weights map to known parameters, so the
    // import gets as far as the first parameter the tiny model lacks.
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("tiny.onnx");
    std::fs::write(&onnx, tiny()).unwrap();
    std::fs::write(
        tmp.path().join("tiny.onnx.json"),
        r#"{"audio":{"sample_rate":16000},"espeak":{"voice":"en-us"},"phoneme_id_map":{"a":[1]}}"#,
    )
    .unwrap();
    let err = signet_piper::import_piper(
        &onnx,
        None,
        &tmp.path().join("out"),
        None,
        &crate::common::key(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PiperError::MissingTensor { tensor }
            if tensor == "enc_p.encoder.attn_layers.0.conv_q.weight"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
}
