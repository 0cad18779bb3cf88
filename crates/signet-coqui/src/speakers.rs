//! The files Coqui ships beside a multi-speaker or multilingual model, read as data: the
//! speakers file (name → speaker id), the d-vector file (clip → speaker name and embedding) and
//! the language-ids file (name → language id). Each is JSON or a `torch.save` pickle; a pickle
//! goes through `signet-checkpoint`'s allow-listed reader, like the checkpoint, so nothing in
//! it runs.
//!
//! How coqui-tts 0.28 uses them, and what the importer makes of each:
//!
//! - **Speakers** (`speakers_file`, the VCTK recipe): the names of the rows of `emb_g`. Coqui
//!   takes the config's `speakers` list first when it is not empty (id = position), then the
//!   file. The names become the manifest's `voice.speaker_id_map`.
//! - **D-vectors** (`d_vector_file`, YourTTS): one embedding per clip, several clips per
//!   speaker. Coqui's `synthesize` picks one embedding per speaker name as the mean of all that
//!   speaker's clip embeddings (`SpeakerManager.get_mean_embedding`, no sampling), and the model
//!   L2-normalizes it (`F.normalize`) before conditioning on it; speaker ids are the names in
//!   sorted order. The importer does the same once: the normalized means, in that order, are
//!   the rows of the bundle's `emb_g.weight`, so the model runs them through the same speaker
//!   path as a learned table, and the names become `voice.speaker_id_map`.
//! - **Languages** (`language_ids_file`, or the config's `languages` list): the names of the
//!   rows of `emb_l`; they become the manifest's `voice.language_id_map`.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use signet_checkpoint::Value;

use crate::CoquiError;

/// Most entries (names or clips) a side file may hold.
pub const MAX_ENTRIES: usize = 1 << 20;

/// Longest name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Which side file, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SideFile {
    /// The speakers file (name → speaker id).
    Speakers,
    /// The d-vector file (clip → name and embedding).
    DVectors,
    /// The language-ids file (name → language id).
    LanguageIds,
}

impl SideFile {
    /// The config key that names this file.
    pub fn key(self) -> &'static str {
        match self {
            SideFile::Speakers => "speakers_file",
            SideFile::DVectors => "d_vector_file",
            SideFile::LanguageIds => "language_ids_file",
        }
    }
}

fn bad(file: SideFile, reason: impl Into<String>) -> CoquiError {
    CoquiError::BadSideFile {
        key: file.key(),
        reason: reason.into(),
    }
}

/// A side file's content as one tree: JSON, or a pickle read as data.
enum Tree {
    Json(Json),
    Pickle(Value),
}

fn parse(
    bytes: &[u8],
    file: SideFile,
    limits: &signet_checkpoint::Limits,
) -> Result<Tree, CoquiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        let json =
            serde_json::from_slice(bytes).map_err(|e| bad(file, format!("not valid JSON: {e}")))?;
        return Ok(Tree::Json(json));
    }
    let ckpt = signet_checkpoint::read(bytes, limits)?;
    Ok(Tree::Pickle(ckpt.root().clone()))
}

fn check_name(file: SideFile, name: &str) -> Result<(), CoquiError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(bad(
            file,
            format!(
                "name {:?} is empty, longer than {MAX_NAME_BYTES} bytes or holds control \
                 characters",
                name.chars().take(64).collect::<String>()
            ),
        ));
    }
    Ok(())
}

/// Reads a name → id file (speakers or language ids), JSON or pickle. Every id must be below
/// `rows` (the embedding table's rows) and not negative.
pub fn read_id_map(
    bytes: &[u8],
    file: SideFile,
    rows: usize,
    limits: &signet_checkpoint::Limits,
) -> Result<BTreeMap<String, i64>, CoquiError> {
    let pairs: Vec<(String, Option<i64>)> = match parse(bytes, file, limits)? {
        Tree::Json(Json::Object(map)) => map.into_iter().map(|(k, v)| (k, v.as_i64())).collect(),
        Tree::Pickle(Value::Dict(items)) => items
            .into_iter()
            .map(|(k, v)| match k {
                Value::Str(s) => Ok((s, v.as_i64())),
                other => Err(bad(
                    file,
                    format!("a key is a {}, not a name", other.kind()),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad(file, "not a dict of names to ids")),
    };
    id_map(file, pairs, rows)
}

/// Checks name → id pairs against an embedding table of `rows` rows.
pub fn id_map(
    file: SideFile,
    pairs: Vec<(String, Option<i64>)>,
    rows: usize,
) -> Result<BTreeMap<String, i64>, CoquiError> {
    if pairs.len() > MAX_ENTRIES {
        return Err(bad(file, format!("more than {MAX_ENTRIES} names")));
    }
    let mut out = BTreeMap::new();
    for (name, id) in pairs {
        check_name(file, &name)?;
        let Some(id) = id else {
            return Err(bad(file, format!("the id of {name:?} is not an integer")));
        };
        if usize::try_from(id).map_or(true, |v| v >= rows) {
            return Err(bad(
                file,
                format!("{name:?} has id {id}, outside the model's {rows} embeddings"),
            ));
        }
        out.insert(name, id);
    }
    Ok(out)
}

/// One embedding per speaker, as Coqui conditions on it: the speaker names in sorted order
/// (their ids), and for each the L2-normalized mean of its clips' embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct DVectors {
    /// Speaker names; a name's position is its id.
    pub names: Vec<String>,
    /// `names.len() × dim` values, row-major.
    pub table: Vec<f32>,
    /// Embedding width.
    pub dim: usize,
}

/// Reads a d-vector file (JSON or pickle: clip → `{"name": str, "embedding": [float...]}`),
/// checks every embedding is `dim` finite values, and reduces it to one normalized mean
/// embedding per speaker name (see the module documentation).
pub fn read_d_vectors(
    bytes: &[u8],
    dim: usize,
    limits: &signet_checkpoint::Limits,
) -> Result<DVectors, CoquiError> {
    let file = SideFile::DVectors;
    let mut clips: Vec<(String, Vec<f64>)> = Vec::new();
    match parse(bytes, file, limits)? {
        Tree::Json(Json::Object(map)) => {
            for (clip, entry) in map {
                let name = entry
                    .get("name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad(file, format!("clip {clip:?} has no string `name`")))?;
                let values = entry
                    .get("embedding")
                    .and_then(Json::as_array)
                    .ok_or_else(|| bad(file, format!("clip {clip:?} has no `embedding` list")))?
                    .iter()
                    .map(Json::as_f64)
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| {
                        bad(
                            file,
                            format!("clip {clip:?}: an embedding value is not a number"),
                        )
                    })?;
                clips.push((name.to_owned(), values));
                if clips.len() > MAX_ENTRIES {
                    return Err(bad(file, format!("more than {MAX_ENTRIES} clips")));
                }
            }
        }
        Tree::Pickle(Value::Dict(items)) => {
            for (clip, entry) in items {
                let clip = clip.as_str().unwrap_or("?").to_owned();
                let name = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(file, format!("clip {clip:?} has no string `name`")))?;
                let values = match entry.get("embedding") {
                    Some(Value::List(v) | Value::Tuple(v)) => v
                        .iter()
                        .map(Value::as_f64)
                        .collect::<Option<Vec<f64>>>()
                        .ok_or_else(|| {
                            bad(
                                file,
                                format!("clip {clip:?}: an embedding value is not a number"),
                            )
                        })?,
                    Some(Value::Tensor(t)) => t
                        .to_f32()
                        .ok_or_else(|| bad(file, format!("clip {clip:?}: an integer tensor")))?
                        .into_iter()
                        .map(f64::from)
                        .collect(),
                    _ => {
                        return Err(bad(
                            file,
                            format!("clip {clip:?} has no `embedding` list or tensor"),
                        ))
                    }
                };
                clips.push((name.to_owned(), values));
                if clips.len() > MAX_ENTRIES {
                    return Err(bad(file, format!("more than {MAX_ENTRIES} clips")));
                }
            }
        }
        _ => return Err(bad(file, "not a dict of clips")),
    }
    // Sum per speaker in f64 (Coqui averages the clips' Python floats with numpy, in f64).
    let mut sums: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
    for (name, values) in clips {
        check_name(file, &name)?;
        if values.len() != dim {
            return Err(bad(
                file,
                format!(
                    "an embedding of {name:?} has {} values; config.json's `d_vector_dim` is {dim}",
                    values.len()
                ),
            ));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad(file, format!("an embedding of {name:?} is not finite")));
        }
        let entry = sums.entry(name).or_insert_with(|| (vec![0.0; dim], 0));
        for (s, v) in entry.0.iter_mut().zip(&values) {
            *s += v;
        }
        entry.1 += 1;
    }
    if sums.is_empty() {
        return Err(bad(file, "holds no embedding"));
    }
    let mut names = Vec::with_capacity(sums.len());
    let mut table = Vec::with_capacity(sums.len().saturating_mul(dim));
    for (name, (sum, count)) in sums {
        // The mean as the f32 tensor Coqui builds from it, then `F.normalize` (eps 1e-12).
        let mean: Vec<f32> = sum.iter().map(|s| (s / count as f64) as f32).collect();
        let norm = mean
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        table.extend(mean.iter().map(|&v| (f64::from(v) / norm) as f32));
        names.push(name);
    }
    Ok(DVectors { names, table, dim })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn d_vectors_are_the_normalized_mean_of_each_speakers_clips_in_name_order() {
        let json = br#"{"b/1.wav": {"name": "bob", "embedding": [3.0, 0.0]},
                        "b/2.wav": {"name": "bob", "embedding": [3.0, 8.0]},
                        "a/1.wav": {"name": "amy", "embedding": [0.0, -2.0]}}"#;
        let d = read_d_vectors(json, 2, &Default::default()).unwrap();
        assert_eq!(d.names, ["amy", "bob"]);
        // amy: [0, -2] -> [0, -1]; bob: mean [3, 4] -> [0.6, 0.8].
        assert_eq!(d.table, [0.0, -1.0, 0.6, 0.8]);
        let short = br#"{"c": {"name": "amy", "embedding": [1.0]}}"#;
        let err = read_d_vectors(short, 2, &Default::default()).unwrap_err();
        assert!(err.to_string().contains("d_vector_dim"), "{err}");
    }

    #[test]
    fn id_files_are_checked_against_the_embedding_rows() {
        let ok = read_id_map(
            br#"{"en": 0, "pt-br": 1}"#,
            SideFile::LanguageIds,
            2,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(ok["pt-br"], 1);
        for bad in [
            &br#"{"en": 2}"#[..],
            br#"{"en": -1}"#,
            br#"{"en": "0"}"#,
            br#"{"": 0}"#,
            br#"["en"]"#,
            b"not json and not a pickle",
        ] {
            assert!(
                read_id_map(bad, SideFile::LanguageIds, 2, &Default::default()).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
