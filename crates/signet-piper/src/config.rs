//! The Piper voice config (`<voice>.onnx.json`), read key by key with types.
//!
//! Piper configs vary between versions, so unknown keys are tolerated; every key the importer
//! uses is deserialized with its own type and any error names the dotted key
//! (`audio.sample_rate: invalid type: string "22050", expected u32`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::PiperError;

/// Accepted sample rates, in Hz.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8000..=192_000;

/// The parts of a Piper config the importer uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PiperConfig {
    pub(crate) sample_rate: u32,
    pub(crate) quality: Option<String>,
    pub(crate) phoneme_type: String,
    pub(crate) espeak_voice: Option<String>,
    pub(crate) phoneme_id_map: BTreeMap<String, Vec<i64>>,
    pub(crate) noise_scale: f32,
    pub(crate) length_scale: f32,
    pub(crate) noise_w: f32,
    pub(crate) num_speakers: u32,
    pub(crate) speaker_id_map: BTreeMap<String, i64>,
    pub(crate) language: Option<String>,
    pub(crate) license: Option<String>,
    pub(crate) num_symbols: Option<u64>,
}

fn lookup<'v>(root: &'v Value, key: &str) -> Option<&'v Value> {
    key.split('.').try_fold(root, |v, part| v.get(part))
}

fn err(key: &str, reason: impl Into<String>) -> PiperError {
    PiperError::Config {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// The value at `key`, typed; `None` if absent or `null`.
fn get<T: DeserializeOwned>(root: &Value, key: &str) -> Result<Option<T>, PiperError> {
    match lookup(root, key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(|e| err(key, e.to_string())),
    }
}

fn required<T: DeserializeOwned>(root: &Value, key: &str) -> Result<T, PiperError> {
    get(root, key)?.ok_or_else(|| err(key, "missing"))
}

fn scale(root: &Value, key: &str, default: f32) -> Result<f32, PiperError> {
    let v = get::<f32>(root, key)?.unwrap_or(default);
    if !v.is_finite() || v < 0.0 {
        return Err(err(
            key,
            format!("{v} is not a finite, non-negative number"),
        ));
    }
    Ok(v)
}

/// Parses and checks the config bytes.
pub(crate) fn parse_config(bytes: &[u8]) -> Result<PiperConfig, PiperError> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| PiperError::ConfigSyntax {
        reason: signet_io::escape_controls(&e.to_string()).into_owned(),
    })?;
    if !root.is_object() {
        return Err(PiperError::ConfigSyntax {
            reason: "the top level is not an object".to_owned(),
        });
    }
    let sample_rate: u32 = required(&root, "audio.sample_rate")?;
    if !SAMPLE_RATES.contains(&sample_rate) {
        return Err(err(
            "audio.sample_rate",
            format!(
                "{sample_rate} Hz is outside {}..={}",
                SAMPLE_RATES.start(),
                SAMPLE_RATES.end()
            ),
        ));
    }
    let phoneme_type = get::<String>(&root, "phoneme_type")?.unwrap_or_else(|| "espeak".to_owned());
    if phoneme_type.is_empty() {
        return Err(err("phoneme_type", "empty"));
    }
    let espeak_voice = get::<String>(&root, "espeak.voice")?;
    if phoneme_type == "espeak" && espeak_voice.as_deref().is_none_or(str::is_empty) {
        return Err(err("espeak.voice", "missing, but phoneme_type is espeak"));
    }
    let phoneme_id_map: BTreeMap<String, Vec<i64>> = required(&root, "phoneme_id_map")?;
    if phoneme_id_map.is_empty() {
        return Err(err("phoneme_id_map", "empty"));
    }
    if let Some((sym, _)) = phoneme_id_map
        .iter()
        .find(|(_, ids)| ids.is_empty() || ids.iter().any(|id| *id < 0))
    {
        return Err(err(
            "phoneme_id_map",
            format!("symbol {sym:?} has no ids or a negative id"),
        ));
    }
    let num_speakers = get::<u32>(&root, "num_speakers")?.unwrap_or(1);
    if num_speakers == 0 {
        return Err(err("num_speakers", "must be at least 1"));
    }
    let speaker_id_map: BTreeMap<String, i64> = get(&root, "speaker_id_map")?.unwrap_or_default();
    if let Some((name, id)) = speaker_id_map
        .iter()
        .find(|(_, id)| **id < 0 || **id >= i64::from(num_speakers))
    {
        return Err(err(
            "speaker_id_map",
            format!("speaker {name:?} has id {id}, outside 0..{num_speakers}"),
        ));
    }
    Ok(PiperConfig {
        sample_rate,
        quality: get(&root, "audio.quality")?,
        phoneme_type,
        espeak_voice,
        phoneme_id_map,
        noise_scale: scale(&root, "inference.noise_scale", 0.667)?,
        length_scale: scale(&root, "inference.length_scale", 1.0)?,
        noise_w: scale(&root, "inference.noise_w", 0.8)?,
        num_speakers,
        speaker_id_map,
        language: get(&root, "language.code")?,
        license: get(&root, "license")?,
        num_symbols: get(&root, "num_symbols")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},
        "phoneme_id_map":{"_":[0],"a":[14]},"extra":{"anything":[1,2]}}"#;

    fn key_of(json: &str) -> String {
        match parse_config(json.as_bytes()) {
            Err(PiperError::Config { key, .. }) => key,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse_config(MINIMAL.as_bytes()).unwrap();
        assert_eq!(c.sample_rate, 22050);
        assert_eq!(c.phoneme_type, "espeak");
        assert_eq!(c.num_speakers, 1);
        assert_eq!(
            (c.noise_scale, c.length_scale, c.noise_w),
            (0.667, 1.0, 0.8)
        );
        assert_eq!(c.language, None);
    }

    #[test]
    fn mistyped_keys_are_named() {
        let cases = [
            (MINIMAL.replace("22050", "\"22050\""), "audio.sample_rate"),
            (MINIMAL.replace("22050", "22050.5"), "audio.sample_rate"),
            (MINIMAL.replace("22050", "100"), "audio.sample_rate"),
            (
                MINIMAL.replace(r#""sample_rate":22050"#, r#""rate":1"#),
                "audio.sample_rate",
            ),
            (MINIMAL.replace(r#""en-us""#, "7"), "espeak.voice"),
            (
                MINIMAL.replace(r#""voice":"en-us""#, r#""v":1"#),
                "espeak.voice",
            ),
            (MINIMAL.replace("[14]", "[-1]"), "phoneme_id_map"),
            (MINIMAL.replace("[14]", "[]"), "phoneme_id_map"),
            (MINIMAL.replace("[14]", r#"["x"]"#), "phoneme_id_map"),
            (
                MINIMAL.replace(r#""extra""#, r#""num_speakers":0,"e""#),
                "num_speakers",
            ),
            (
                MINIMAL.replace(r#""extra""#, r#""inference":{"noise_w":"loud"},"e""#),
                "inference.noise_w",
            ),
            (
                MINIMAL.replace(r#""extra""#, r#""inference":{"length_scale":-1},"e""#),
                "inference.length_scale",
            ),
            (
                MINIMAL.replace(r#""extra""#, r#""speaker_id_map":{"a":3},"e""#),
                "speaker_id_map",
            ),
        ];
        for (json, key) in cases {
            assert_eq!(key_of(&json), key, "{json}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_config(&bytes);
        }

        #[test]
        fn arbitrary_json_never_panics(s in "\\PC{0,300}") {
            let _ = parse_config(s.as_bytes());
        }
    }

    #[test]
    fn not_json_or_not_an_object() {
        for bad in ["", "[]", "{", "nul", "\"x\""] {
            assert!(matches!(
                parse_config(bad.as_bytes()),
                Err(PiperError::ConfigSyntax { .. })
            ));
        }
    }
}
