//! Integration tests of signet-nn (one binary): the strict tensor source over a verified bundle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use anyhow::Result;
use signet_nn::{Conv1d, ConvSpec, NnError, Weights};
use signet_registry::{
    verify_bundle_dir, write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults,
    Manifest, PhonemeSpec, VerifiedBundle, VoiceInfo, BUNDLE_FORMAT, WEIGHTS_FILE,
};
use signet_schema::TensorSpec;

struct Bundle {
    _dir: tempfile::TempDir,
    verified: VerifiedBundle,
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bundle(tensors: &[(&str, Dtype, &[usize], &[u8])]) -> Result<Bundle> {
    let bytes = write_safetensors(tensors)?;
    let manifest = Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: signet_registry::VoiceName::new("nn").unwrap(),
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
            kind: "test".to_owned(),
            config: toml::Table::new(),
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

fn declared(list: &[(&str, &[usize])]) -> Vec<TensorSpec> {
    list.iter()
        .map(|(name, shape)| TensorSpec {
            name: (*name).to_owned(),
            shape: shape.to_vec(),
        })
        .collect()
}

#[test]
fn tensors_are_handed_out_by_path_with_their_values() -> Result<()> {
    let w = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = f32_bytes(&[0.5, -0.5]);
    let bundle = bundle(&[
        ("enc.layers.0.conv.weight", Dtype::F32, &[2, 3, 1], &w),
        ("enc.layers.0.conv.bias", Dtype::F32, &[2], &b),
    ])?;
    let spec = declared(&[
        ("enc.layers.0.conv.weight", &[2, 3, 1]),
        ("enc.layers.0.conv.bias", &[2]),
    ]);
    let weights = Weights::from_bundle(&bundle.verified, &spec)?;
    let path = weights.root() / "enc" / "layers" / 0 / "conv";
    assert_eq!(path.prefix(), "enc.layers.0.conv");
    assert!(path.contains("weight") && !path.contains("gamma"));
    let conv = Conv1d::load(&path, ConvSpec::pointwise(3, 2))?;
    let y = conv.forward(&tch::Tensor::from_slice(&[1.0f32, 1.0, 1.0]).view([1, 3, 1]))?;
    let y: Vec<f32> = Vec::try_from(&y.reshape([-1]))?;
    assert_eq!(y, vec![6.5, 14.5]);
    weights.finish()?;
    Ok(())
}

#[test]
fn every_misuse_is_its_own_error() -> Result<()> {
    let w = f32_bytes(&[0.0; 6]);
    let half = vec![0u8; 12];
    let bundle = bundle(&[
        ("a", Dtype::F32, &[2, 3], &w),
        ("b", Dtype::F16, &[2, 3], &half),
        ("c", Dtype::F32, &[6], &w),
    ])?;
    let load = |list: &[(&str, &[usize])]| Weights::from_bundle(&bundle.verified, &declared(list));
    // Against the declared tensors, before anything is read.
    assert!(matches!(
        load(&[("a", &[2, 3]), ("b", &[2, 3]), ("c", &[6])]),
        Err(NnError::WrongDtype { tensor, found }) if tensor == "b" && found == "F16"
    ));
    assert!(matches!(
        load(&[("a", &[2, 3]), ("b", &[2, 3])]),
        Err(NnError::UnexpectedTensor { name }) if name == "c"
    ));
    assert!(matches!(
        load(&[("a", &[2, 3]), ("b", &[2, 3]), ("c", &[6]), ("d", &[1])]),
        Err(NnError::MissingTensor { name }) if name == "d"
    ));
    match load(&[("a", &[3, 2]), ("b", &[2, 3]), ("c", &[6])]) {
        Err(NnError::ShapeMismatch {
            tensor,
            expected,
            found,
        }) => assert_eq!(
            (tensor.as_str(), expected, found),
            ("a", vec![3, 2], vec![2, 3])
        ),
        other => panic!("{other:?}"),
    }

    // By the model code, once the file fits its declaration.
    let bundle = self::bundle(&[("a", Dtype::F32, &[2, 3], &w), ("c", Dtype::F32, &[6], &w)])?;
    let weights =
        Weights::from_bundle(&bundle.verified, &declared(&[("a", &[2, 3]), ("c", &[6])]))?;
    assert!(
        matches!(weights.get("zz", &[1]), Err(NnError::MissingTensor { name }) if name == "zz")
    );
    match weights.get("a", &[3, 2]) {
        Err(NnError::ShapeMismatch {
            tensor,
            expected,
            found,
        }) => {
            assert_eq!(
                (tensor.as_str(), expected, found),
                ("a", vec![3, 2], vec![2, 3])
            );
        }
        other => panic!("{other:?}"),
    }
    // A tensor once requested (even unsuccessfully) counts as taken.
    assert!(matches!(
        weights.get("a", &[2, 3]),
        Err(NnError::TensorTakenTwice { .. })
    ));
    assert!(matches!(weights.finish(), Err(NnError::UnexpectedTensor { name }) if name == "c"));
    Ok(())
}
