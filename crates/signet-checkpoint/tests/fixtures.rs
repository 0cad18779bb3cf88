//! The reader against torch's own writer: fixtures written by `scripts/coqui_fixtures.py`
//! (torch 2.11, coqui-tts 0.28) and the values torch read back from them.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use signet_checkpoint::{read, Format, Layout, Limits, Value};

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixtures")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap()
}

fn expected() -> Json {
    serde_json::from_slice(&fixture("expected.json")).unwrap()
}

/// Reads one fixture and compares every tensor with what torch read back.
fn check_against_torch(file: &str) {
    let exp = &expected()["files"][file];
    let ck = read(&fixture(file), &Limits::default()).unwrap();
    match exp["format"].as_str().unwrap() {
        "zip" => assert!(matches!(ck.format(), Format::Zip { .. }), "{file}"),
        _ => assert_eq!(ck.format(), &Format::Legacy, "{file}"),
    }
    let tensors = ck.state_dict().unwrap();
    let want = exp["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), want.len(), "{file}: tensor count");
    for ((name, t), w) in tensors.iter().zip(want) {
        assert_eq!(*name, w["name"].as_str().unwrap(), "{file}: order of names");
        assert_eq!(
            t.dtype.to_string(),
            w["dtype"].as_str().unwrap(),
            "{file}: {name}"
        );
        let shape: Vec<usize> = w["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.shape, shape, "{file}: {name}");
        assert_eq!(
            hex::encode(Sha256::digest(&t.data)),
            w["sha256"].as_str().unwrap(),
            "{file}: values of {name}"
        );
    }
}

#[test]
fn zip_trainer_checkpoint_matches_torch() {
    check_against_torch("hifigan_tiny_zip.pth");
}

#[test]
fn legacy_trainer_checkpoint_matches_torch() {
    check_against_torch("hifigan_tiny_legacy.pth");
}

#[test]
fn every_dtype_and_view_matches_torch_in_zip_format() {
    check_against_torch("tensors_zip.pth");
}

#[test]
fn every_dtype_and_view_matches_torch_in_legacy_format() {
    check_against_torch("tensors_legacy.pth");
}

#[test]
fn trainer_layout_skips_training_state_and_keeps_config() {
    let exp = expected();
    for file in ["hifigan_tiny_zip.pth", "hifigan_tiny_legacy.pth"] {
        let e = &exp["files"][file];
        let ck = read(&fixture(file), &Limits::default()).unwrap();
        assert_eq!(
            ck.layout(),
            &Layout::Trainer {
                model_key: "model".into()
            }
        );
        for key in ["optimizer", "scheduler", "scaler"] {
            let want = e["skipped"][key].as_u64().unwrap() as usize;
            match ck.root().get(key) {
                Some(Value::Skipped { key: k, tensors }) => {
                    assert_eq!(k, key);
                    assert_eq!(*tensors, want, "{file}: tensors under {key}");
                }
                other => panic!("{file}: {key} is {other:?}"),
            }
        }
        let config = ck.config().unwrap();
        assert_eq!(
            config.get("model").and_then(Value::as_str),
            e["config"]["model"].as_str()
        );
        let audio = config.get("audio").unwrap();
        assert_eq!(
            audio.get("sample_rate"),
            Some(&Value::Int(e["config"]["sample_rate"].as_i64().unwrap()))
        );
        assert_eq!(
            ck.root().get("step"),
            Some(&Value::Int(e["step"].as_i64().unwrap()))
        );
        assert_eq!(
            ck.root().get("epoch"),
            Some(&Value::Int(e["epoch"].as_i64().unwrap()))
        );
        assert!(matches!(ck.root().get("date"), Some(Value::Str(_))));
        assert!(matches!(ck.root().get("model_loss"), Some(Value::Dict(_))));
    }
}
