//! Multi-speaker (the VCTK recipe) and multilingual d-vector (YourTTS) checkpoints written by
//! coqui-tts 0.28, with the speakers, d-vector and language-ids files Coqui ships beside them:
//! what the bundle holds, and each refusal.

use std::path::Path;

use serde_json::json;
use signet_checkpoint::Limits;
use signet_coqui::{map_checkpoint, map_checkpoint_with, CoquiError, ImportOptions, SideFiles};
use signet_registry::{Role, TrustStore, VerifiedBundle};

use crate::support::{data, key, read};

/// Imports fixture `stem` with `options` (side files found beside its config unless given).
fn import(
    dir: &Path,
    stem: &str,
    mut options: ImportOptions,
) -> Result<(signet_coqui::ImportReport, VerifiedBundle), CoquiError> {
    let key = key();
    options.name = Some(stem.replace('_', "-"));
    let out = dir.join(stem);
    let report = signet_coqui::import_coqui(
        &data(&format!("{stem}.pth")),
        &data(&format!("{stem}.json")),
        &out,
        &options,
        &key,
    )?;
    let trust = TrustStore::with_key(key.public(), Role::BundleSigner);
    Ok((
        report,
        signet_registry::verify_bundle_dir(&out, &trust).unwrap(),
    ))
}

/// Fixture `stem`'s config with `value` set at a dotted path.
fn config_of(stem: &str, path: &str, value: serde_json::Value) -> Vec<u8> {
    let text = String::from_utf8(read(&format!("{stem}.json")))
        .unwrap()
        .replace("Infinity", "null");
    let mut cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut cur = &mut cfg;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cur = &mut cur[*part];
    }
    cur[parts[parts.len() - 1]] = value;
    serde_json::to_vec(&cfg).unwrap()
}

#[test]
fn coqui_multi_speaker_import_names_speakers_from_the_speakers_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, bundle) = import(tmp.path(), "vits_vctk_tiny", ImportOptions::default()).unwrap();
    let m = bundle.manifest();
    assert_eq!(m.voice.num_speakers, 3);
    let names: Vec<(&str, i64)> = m
        .voice
        .speaker_id_map
        .iter()
        .map(|(n, i)| (n.as_str(), *i))
        .collect();
    assert_eq!(
        names,
        [("VCTK_p225", 0), ("VCTK_p226", 1), ("VCTK_p227", 2)]
    );
    assert!(m.voice.language_id_map.is_empty());
    let cfg: signet_schema::VitsConfig = m.architecture.config.clone().try_into().unwrap();
    assert_eq!((cfg.n_speakers, cfg.gin_channels), (3, 8));
    assert_eq!(cfg.n_languages, None);
    assert_eq!((report.speakers, report.named_speakers), (3, 3));
    assert!(report.to_string().contains("3 speakers, 3 of them named"));

    // Without its speakers file the voice imports with speakers chosen by id.
    let ckpt = read("vits_vctk_tiny.pth");
    let cfg = read("vits_vctk_tiny.json");
    let bare = map_checkpoint(&ckpt, &cfg, &Limits::default()).unwrap();
    assert_eq!(bare.num_speakers, 3);
    assert!(bare.speaker_id_map.is_empty());
    // The config's own `speakers` list comes first, as in coqui-tts.
    let listed = config_of("vits_vctk_tiny", "speakers", json!(["x", "y", "z"]));
    let mut side = SideFiles::default();
    side.speakers = Some(read("vits_vctk_tiny.speakers.pth"));
    let c = map_checkpoint_with(&ckpt, &listed, &side, &Limits::default()).unwrap();
    assert_eq!(c.speaker_id_map["z"], 2);
    // The speakers file as JSON (Coqui writes either).
    side.speakers = Some(br#"{"a": 1, "b": 0, "c": 2}"#.to_vec());
    let c = map_checkpoint_with(&ckpt, &cfg, &side, &Limits::default()).unwrap();
    assert_eq!(c.speaker_id_map["a"], 1);
}

#[test]
fn coqui_speakers_file_naming_a_speaker_the_model_lacks_is_refused() {
    let ckpt = read("vits_vctk_tiny.pth");
    let cfg = read("vits_vctk_tiny.json");
    let mut side = SideFiles::default();
    side.speakers = Some(br#"{"a": 0, "b": 3}"#.to_vec());
    let err = map_checkpoint_with(&ckpt, &cfg, &side, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, CoquiError::BadSideFile { key: "speakers_file", reason } if reason.contains("\"b\" has id 3")),
        "{err}"
    );
}

/// A speakers file that is a pickle calling `posix.system` (the legacy stream format,
/// which Coqui's `torch.load` would run): refused naming the callable, and nothing ran.
#[test]
fn coqui_speakers_file_that_would_run_code_is_refused_and_nothing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = tmp.path().join("ran");
    let cmd = format!("touch {}", canary.display());
    let mut bytes = vec![
        0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
    ];
    bytes.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']);
    bytes.extend([0x80, 2, b'}', b'(']);
    for key in ["protocol_version", "little_endian"] {
        bytes.push(b'X');
        bytes.extend((key.len() as u32).to_le_bytes());
        bytes.extend(key.as_bytes());
        if key == "protocol_version" {
            bytes.extend([b'M', 0xe9, 0x03]);
        } else {
            bytes.push(0x88);
        }
    }
    bytes.extend([b'u', b'.']);
    bytes.extend([0x80, 2, b'c']);
    bytes.extend(b"posix\nsystem\n");
    bytes.push(b'X');
    bytes.extend((cmd.len() as u32).to_le_bytes());
    bytes.extend(cmd.as_bytes());
    bytes.extend([0x85, b'R', b'.']);
    bytes.extend([0x80, 2, b']', b'(', b'e', b'.']);
    let evil = tmp.path().join("speakers.pth");
    std::fs::write(&evil, &bytes).unwrap();

    let mut options = ImportOptions::default();
    options.speakers_file = Some(evil);
    let err = import(tmp.path(), "vits_vctk_tiny", options).unwrap_err();
    assert!(matches!(err, CoquiError::Checkpoint(_)), "{err}");
    assert!(err.to_string().contains("posix"), "{err}");
    assert!(!canary.exists(), "the payload ran");
    assert!(
        !tmp.path().join("vits_vctk_tiny").exists(),
        "a bundle was written"
    );
}

#[test]
fn coqui_yourtts_import_stores_one_normalized_d_vector_per_speaker_and_the_languages() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, bundle) =
        import(tmp.path(), "vits_yourtts_tiny", ImportOptions::default()).unwrap();
    let m = bundle.manifest();
    // Speaker ids: the d-vector file's names, sorted, as coqui-tts numbers them.
    let names: Vec<&str> = m.voice.speaker_id_map.keys().map(String::as_str).collect();
    assert_eq!(names, ["female-en-5", "female-pt-4", "male-en-2"]);
    assert_eq!(m.voice.speaker_id_map["male-en-2"], 2);
    assert_eq!(m.voice.num_speakers, 3);
    assert_eq!(m.voice.language_id_map["pt-br"], 2);
    assert_eq!(m.voice.language_id_map.len(), 3);
    let cfg: signet_schema::VitsConfig = m.architecture.config.clone().try_into().unwrap();
    assert_eq!((cfg.n_speakers, cfg.gin_channels), (3, 8));
    assert_eq!((cfg.n_languages, cfg.language_channels), (Some(3), Some(4)));
    assert_eq!((report.speakers, report.languages), (3, 3));
    // The table: one unit row per speaker, the mean of its clips' direction.
    let d = signet_coqui::speakers::read_d_vectors(
        &read("vits_yourtts_tiny.dvectors.pth"),
        8,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(d.names, names);
    for row in d.table.chunks(8) {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
}

#[test]
fn coqui_yourtts_without_its_side_files_is_refused_by_key() {
    let ckpt = read("vits_yourtts_tiny.pth");
    let cfg = read("vits_yourtts_tiny.json");
    let err = map_checkpoint(&ckpt, &cfg, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            CoquiError::MissingSideFile {
                key: "d_vector_file",
                ..
            }
        ),
        "{err}"
    );
    // D-vectors, but no language names in the config and no language-ids file.
    let mut side = SideFiles::default();
    side.d_vectors = Some(read("vits_yourtts_tiny.dvectors.pth"));
    let no_list = config_of("vits_yourtts_tiny", "languages", json!([]));
    let err = map_checkpoint_with(&ckpt, &no_list, &side, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            CoquiError::MissingSideFile {
                key: "language_ids_file",
                ..
            }
        ),
        "{err}"
    );
    // With the config's list instead of the file, the same languages.
    let c = map_checkpoint_with(&ckpt, &cfg, &side, &Limits::default()).unwrap();
    assert_eq!(c.language_id_map["fr-fr"], 1);
    // Embeddings of another width than `d_vector_dim`.
    let wide = config_of("vits_yourtts_tiny", "model_args.d_vector_dim", json!(16));
    let err = map_checkpoint_with(&ckpt, &wide, &side, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("d_vector_dim"), "{err}");
    // Several d-vector files, which Signet does not merge.
    let two = config_of(
        "vits_yourtts_tiny",
        "model_args.d_vector_file",
        json!(["a.pth", "b.pth"]),
    );
    let err = signet_coqui::side_file_names(&two).unwrap_err();
    assert!(
        matches!(
            &err,
            CoquiError::UnsupportedSetting {
                key: "model_args.d_vector_file",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn coqui_multi_speaker_settings_signet_does_not_implement_are_refused_by_key() {
    let ckpt = read("vits_vctk_tiny.pth");
    let refused = |key: &str, value| {
        map_checkpoint(
            &ckpt,
            &config_of("vits_vctk_tiny", key, value),
            &Limits::default(),
        )
        .unwrap_err()
    };
    let err = refused("model_args.condition_dp_on_speaker", json!(false));
    assert!(
        matches!(
            &err,
            CoquiError::UnsupportedSetting {
                key: "model_args.condition_dp_on_speaker",
                ..
            }
        ),
        "{err}"
    );
    // A speaker table the config does not declare, or of another width.
    let err = refused("model_args.use_speaker_embedding", json!(false));
    assert!(
        matches!(&err, CoquiError::UnexpectedTensor { tensor, .. } if tensor == "emb_g.weight"),
        "{err}"
    );
    let err = refused("model_args.speaker_embedding_channels", json!(16));
    assert!(
        err.to_string().contains("speaker_embedding_channels"),
        "{err}"
    );
    // Speaker embedding declared on a single-speaker checkpoint: the table is missing.
    let err = map_checkpoint(
        &read("vits_tiny.pth"),
        &crate::support::config_with("model_args.use_speaker_embedding", json!(true)),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CoquiError::MissingTensor { tensor } if tensor == "emb_g.weight"),
        "{err}"
    );
}
