//! Loader strictness: every tensor is checked by name, dtype and shape, extras are refused,
//! and the architecture config is validated before any tensor is read.

use anyhow::Result;
use signet_acoustic::{AcousticError, Vits};
use signet_nn::NnError;
use signet_registry::Dtype;
use signet_schema::{ArchitectureSchema, SchemaError};

use crate::support;

fn load(
    manifest: signet_registry::Manifest,
    tensors: &support::Tensors,
) -> Result<Result<Vits, AcousticError>> {
    let bundle = support::write(manifest, tensors)?;
    Ok(Vits::from_bundle(&bundle.verified()?))
}

fn base() -> (signet_acoustic::VitsConfig, support::Tensors) {
    let cfg = support::tiny_config(2, true, "1");
    let tensors = support::random_tensors(&support::tensor_specs(&cfg), 1);
    (cfg, tensors)
}

#[test]
fn the_synthetic_spec_loads_as_is() -> Result<()> {
    for (speakers, sdp, resblock) in [
        (1, true, "1"),
        (2, true, "2"),
        (1, false, "1"),
        (3, false, "2"),
    ] {
        let cfg = support::tiny_config(speakers, sdp, resblock);
        let tensors = support::random_tensors(&support::tensor_specs(&cfg), 2);
        load(support::manifest(&cfg)?, &tensors)??;
    }
    Ok(())
}

#[test]
fn the_schema_declares_the_synthetic_spec() -> Result<()> {
    // `support::tensor_specs` is written out independently of signet-schema.
    for (speakers, sdp, resblock) in [
        (1, true, "1"),
        (2, true, "2"),
        (1, false, "1"),
        (3, false, "2"),
    ] {
        let cfg = support::tiny_config(speakers, sdp, resblock);
        let mut declared: Vec<(String, Vec<usize>)> = cfg
            .validate()?
            .tensors()
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        let mut written = support::tensor_specs(&cfg);
        declared.sort();
        written.sort();
        assert_eq!(declared, written, "{speakers} {sdp} {resblock}");
    }
    Ok(())
}

#[test]
fn missing_tensor() -> Result<()> {
    let (cfg, mut tensors) = base();
    for name in [
        "flow.flows.2.enc.in_layers.1.bias",
        "emb_g.weight",
        "dp.flows.0.logs",
        "dec.conv_post.weight",
    ] {
        let removed = tensors.remove(name).expect("spec has it");
        match load(support::manifest(&cfg)?, &tensors)? {
            Err(AcousticError::Nn(NnError::MissingTensor { name: n })) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
        tensors.insert(name.to_owned(), removed);
    }
    Ok(())
}

#[test]
fn extra_tensor() -> Result<()> {
    let (cfg, mut tensors) = base();
    for name in [
        "enc_q.pre.weight",
        "dp.flows.1.pre.weight",
        "dec.conv_post.bias",
        "zzz",
    ] {
        tensors.insert(name.to_owned(), (Dtype::F32, vec![2], vec![0; 8]));
        match load(support::manifest(&cfg)?, &tensors)? {
            Err(AcousticError::Nn(NnError::UnexpectedTensor { name: n })) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
        tensors.remove(name);
    }
    Ok(())
}

#[test]
fn wrong_shape() -> Result<()> {
    let (cfg, mut tensors) = base();
    let name = "enc_p.emb.weight";
    // Same element count, different shape: must not be reinterpreted.
    let (dtype, _, bytes) = tensors.remove(name).expect("spec has it");
    tensors.insert(name.to_owned(), (dtype, vec![16, 12], bytes));
    match load(support::manifest(&cfg)?, &tensors)? {
        Err(AcousticError::Nn(NnError::ShapeMismatch {
            tensor,
            expected,
            found,
        })) => {
            assert_eq!(tensor, name);
            assert_eq!(expected, vec![12, 16]);
            assert_eq!(found, vec![16, 12]);
        }
        other => panic!("{other:?}"),
    }
    // A shape that would broadcast.
    let (cfg, mut tensors) = base();
    tensors.insert(
        "dec.ups.0.bias".to_owned(),
        (Dtype::F32, vec![1], vec![0; 4]),
    );
    assert!(matches!(
        load(support::manifest(&cfg)?, &tensors)?,
        Err(AcousticError::Nn(NnError::ShapeMismatch { .. }))
    ));
    Ok(())
}

#[test]
fn non_f32_dtype() -> Result<()> {
    let (cfg, mut tensors) = base();
    let name = "enc_p.proj.bias";
    let shape = tensors[name].1.clone();
    let n: usize = shape.iter().product();
    tensors.insert(name.to_owned(), (Dtype::F16, shape, vec![0; 2 * n]));
    match load(support::manifest(&cfg)?, &tensors)? {
        Err(AcousticError::Nn(NnError::WrongDtype { tensor, found })) => {
            assert_eq!(tensor, name);
            assert_eq!(found, "F16");
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[test]
fn invalid_config_values() -> Result<()> {
    let (cfg, tensors) = base();
    let mut bad = cfg.clone();
    bad.n_heads = 3;
    assert!(matches!(
        load(support::manifest(&bad)?, &tensors)?,
        Err(AcousticError::Schema(SchemaError::InvalidConfig {
            key: "n_heads",
            ..
        }))
    ));
    let mut bad = cfg.clone();
    bad.hidden_channels = 1 << 30;
    assert!(matches!(
        load(support::manifest(&bad)?, &tensors)?,
        Err(AcousticError::Schema(SchemaError::InvalidConfig {
            key: "hidden_channels",
            ..
        }))
    ));
    let mut bad = cfg.clone();
    bad.upsample_kernel_sizes = vec![8];
    assert!(matches!(
        load(support::manifest(&bad)?, &tensors)?,
        Err(AcousticError::Schema(SchemaError::InvalidConfig {
            key: "upsample_kernel_sizes",
            ..
        }))
    ));
    // A hyper-parameter that is valid but disagrees with the tensors is a shape mismatch.
    let mut other = cfg.clone();
    other.filter_channels = 32;
    assert!(matches!(
        load(support::manifest(&other)?, &tensors)?,
        Err(AcousticError::Nn(NnError::ShapeMismatch { .. }))
    ));
    // Unknown key, wrong architecture, manifest/config disagreement.
    let mut m = support::manifest(&cfg)?;
    m.architecture
        .config
        .insert("p_dropout".into(), toml::Value::Float(0.1));
    assert!(matches!(
        load(m, &tensors)?,
        Err(AcousticError::BadConfig { .. })
    ));
    let mut m = support::manifest(&cfg)?;
    m.architecture.kind = "tacotron2".into();
    assert!(matches!(
        load(m, &tensors)?,
        Err(AcousticError::WrongArchitecture { .. })
    ));
    let mut m = support::manifest(&cfg)?;
    m.voice.num_speakers = 5;
    assert!(matches!(
        load(m, &tensors)?,
        Err(AcousticError::ConfigMismatch {
            key: "num_speakers",
            manifest: 5,
            config: 2
        })
    ));
    Ok(())
}
