//! `manifest.toml`: the typed, strictly parsed description of a voice bundle.
//!
//! Every struct refuses unknown keys, so a manifest written for a newer schema (or a typo) is an
//! error rather than silently ignored data, and the voice name is a [`VoiceName`], checked as it
//! is parsed. The manifest's exact bytes are what a bundle signature covers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::name::{check_plain_name, VoiceName};

/// The only bundle format this crate reads and writes.
pub const BUNDLE_FORMAT: &str = "signet-bundle/1";

/// The manifest's own file name inside a bundle directory.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// The signature envelope over the exact `manifest.toml` bytes (see [`crate::envelope`]).
pub const SIGNATURE_FILE: &str = "manifest.dsse.json";

/// Payload type of a bundle's signature envelope.
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.signet.manifest+toml";

/// The weights file every bundle lists.
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Largest pronunciation lexicon a bundle may carry, in bytes (the same cap as a
/// `--lexicon` file).
pub const MAX_LEXICON_LEN: u64 = 4 * 1024 * 1024;

/// A bundle's manifest (`manifest.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Bundle format tag; must be [`BUNDLE_FORMAT`].
    pub format: String,
    /// Voice name, e.g. `en_US-joe-medium` (checked when parsed).
    pub name: VoiceName,
    /// Bundle version; later used against rollback.
    pub version: u64,
    /// SPDX licence expression of the voice, e.g. `CC0-1.0`.
    pub license: String,
    /// Language, quality, sample rate and speakers.
    pub voice: VoiceInfo,
    /// How text becomes phoneme ids.
    pub phonemes: PhonemeSpec,
    /// Default synthesis parameters.
    pub inference: InferenceDefaults,
    /// Model architecture and its hyper-parameters.
    pub architecture: Architecture,
    /// Where the bundle was imported from, if it was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The voice's own pronunciation lexicon, if it carries one: a file of the bundle, listed
    /// in [`Manifest::files`] like every other, so the signature covers it. Absent in older
    /// manifests, which verify unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<LexiconRef>,
    /// For the first stage of a two-stage voice (a spectrogram model): the mel vocoder bundle
    /// that turns its spectrograms into audio, pinned by name and manifest digest. Absent for
    /// single-stage voices and for vocoder bundles themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocoder: Option<VocoderRef>,
    /// For either stage of a two-stage voice: the mel spectrograms the model makes or takes
    /// (frame hop and normalization). Absent for single-stage voices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mel: Option<MelSpec>,
    /// Every file of the bundle except the manifest itself, with size and digest.
    pub files: Vec<FileEntry>,
}

/// The mel vocoder a two-stage voice runs (`[vocoder]` in `manifest.toml`): an installed
/// bundle of the store's vocoders folder, by name, and the SHA-256 of the exact manifest the
/// voice was imported against. A vocoder that is missing, does not verify, or whose manifest
/// digest differs (re-imported, replaced) is refused when the voice is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocoderRef {
    /// The vocoder bundle's name (`<home>/vocoders/<name>/`).
    pub name: VoiceName,
    /// SHA-256 (hex) of that bundle's `manifest.toml`.
    pub manifest_sha256: String,
}

/// The mel spectrograms a stage of a two-stage voice makes (a spectrogram model) or takes (a
/// mel vocoder) (`[mel]` in `manifest.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelSpec {
    /// Audio samples per mel frame.
    pub hop_length: u32,
    /// How the spectrogram is normalized, with its number of mel bins: the keys of
    /// `signet_audio::MelNormalization` (Coqui's `audio` settings of those names); opaque to
    /// the registry, checked by the loader.
    pub normalization: toml::Table,
}

/// Most samples per mel frame a [`MelSpec`] may declare.
pub const MAX_HOP_LENGTH: u32 = 65_536;

/// Language, quality, sample rate and speakers of a voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceInfo {
    /// Language tag, e.g. `en_US`.
    pub language: String,
    /// Quality label (`x_low`, `low`, `medium`, `high`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Number of speakers (1 for single-speaker voices).
    pub num_speakers: u32,
    /// Speaker name → speaker id, empty for single-speaker voices.
    #[serde(default)]
    pub speaker_id_map: BTreeMap<String, i64>,
    /// Language name → language id of a multilingual voice (Coqui's YourTTS: the rows of its
    /// language embedding); empty, and not written, for every other voice. Id 0 is the
    /// default language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub language_id_map: BTreeMap<String, i64>,
}

/// How text becomes phoneme ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhonemeSpec {
    /// Phonemizer kind, e.g. `espeak`.
    pub kind: String,
    /// espeak-ng voice, e.g. `en-us`, when `kind` is `espeak`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub espeak_voice: Option<String>,
    /// Phoneme symbol → ids (Piper's `phoneme_id_map`; for a Coqui voice, each symbol of
    /// [`CoquiText::symbols`] → its id, the last position where a symbol repeats, as Coqui's
    /// own lookup gives).
    pub id_map: BTreeMap<String, Vec<i64>>,
    /// Coqui TTS's tokenization, for a voice imported from Coqui (`kind = "coqui"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coqui: Option<CoquiText>,
}

/// How Coqui TTS turns text into token ids for a voice (its `characters` config and text
/// settings), recorded at import so the frontend can reproduce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoquiText {
    /// Text is phonemized first (`use_phonemes`); otherwise characters are the symbols.
    pub use_phonemes: bool,
    /// The phonemizer (`espeak` only) when `use_phonemes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonemizer: Option<String>,
    /// `phoneme_language`, e.g. `en-us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phoneme_language: Option<String>,
    /// `text_cleaner` (`english_cleaners`, `phoneme_cleaners`, `basic_cleaners`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_cleaner: Option<String>,
    /// `add_blank`: the blank symbol (or pad, without one) between every two ids and at both
    /// ends.
    pub add_blank: bool,
    /// `enable_eos_bos_chars`: `bos` before and `eos` after the ids.
    pub enable_eos_bos: bool,
    /// The pad symbol, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<String>,
    /// The blank symbol, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blank: Option<String>,
    /// The beginning-of-sentence symbol, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos: Option<String>,
    /// The end-of-sentence symbol, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos: Option<String>,
    /// Every symbol in id order (a symbol may repeat: Coqui does not de-duplicate).
    pub symbols: Vec<String>,
}

/// Default synthesis parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceDefaults {
    /// Scale of the noise added to the prior.
    #[serde(serialize_with = "f32_shortest")]
    pub noise_scale: f32,
    /// Duration multiplier (larger is slower speech).
    #[serde(serialize_with = "f32_shortest")]
    pub length_scale: f32,
    /// Scale of the noise fed to the stochastic duration predictor.
    #[serde(serialize_with = "f32_shortest")]
    pub noise_w: f32,
}

/// Writes an `f32` as the shortest decimal that reads back as the same `f32` (`0.667`, not the
/// `0.6669999957084656` a widening to `f64` would print).
fn f32_shortest<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    let wide: f64 = v.to_string().parse().unwrap_or(f64::from(*v));
    s.serialize_f64(wide)
}

/// Model architecture and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// Architecture kind, e.g. `vits`.
    pub kind: String,
    /// Hyper-parameters; opaque to the registry, validated by the model code.
    pub config: toml::Table,
}

/// Provenance of an imported bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Importer kind, e.g. `piper-onnx`.
    pub kind: String,
    /// File name of the original model.
    pub file: String,
    /// SHA-256 (hex) of the original model file (the ONNX file, the Coqui checkpoint). Older
    /// manifests call it `onnx_sha256`, which still parses.
    #[serde(alias = "onnx_sha256")]
    pub model_sha256: String,
    /// SHA-256 (hex) of the original JSON config.
    pub config_sha256: String,
}

/// The pronunciation lexicon a bundle carries (`[lexicon]` in `manifest.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconRef {
    /// Plain file name inside the bundle; it must also be listed in `files`.
    pub file: String,
    /// How the file is written; the loader reads it with that reader only.
    pub format: LexiconFormat,
}

/// The file format of a bundle's lexicon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LexiconFormat {
    /// Signet's TOML table (`[words]`).
    Toml,
    /// W3C Pronunciation Lexicon Specification 1.0 (XML).
    Pls,
}

impl LexiconFormat {
    /// The file name an importer gives a lexicon of this format.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Toml => "lexicon.toml",
            Self::Pls => "lexicon.pls",
        }
    }

    /// The format's name as the manifest writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Toml => "toml",
            Self::Pls => "pls",
        }
    }
}

/// Whether a lexicon written for `lexicon_language` may serve a voice speaking
/// `voice_language`. Tags compare without regard to case or to `_` versus `-`; the lexicon's
/// tag must be the voice's or a prefix of it at a subtag boundary (`en` serves `en_US`,
/// `en-GB` does not serve `en_US`, `en-US` serves `en_US`).
#[must_use]
pub fn lexicon_language_fits(lexicon_language: &str, voice_language: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace('_', "-");
    let (lex, voice) = (norm(lexicon_language), norm(voice_language));
    !lex.is_empty()
        && (voice == lex
            || voice
                .strip_prefix(lex.as_str())
                .is_some_and(|rest| rest.starts_with('-')))
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Plain file name inside the bundle directory.
    pub name: String,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256 of the contents, 64 lower-case hex digits.
    pub sha256: String,
}

impl Manifest {
    /// Parses manifest bytes strictly, as verification does, without checking any signature
    /// (for tools and tests; loading a voice goes through [`crate::verify_bundle_dir`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, RegistryError> {
        parse_manifest(bytes)
    }
}

/// Parses manifest bytes strictly (UTF-8, TOML, schema with no unknown keys) and validates values.
pub(crate) fn parse_manifest(bytes: &[u8]) -> Result<Manifest, RegistryError> {
    let text = std::str::from_utf8(bytes).map_err(|e| RegistryError::ManifestSyntax {
        reason: format!("not UTF-8: {e}"),
    })?;
    let manifest: Manifest = toml::from_str(text).map_err(|e| RegistryError::ManifestSyntax {
        reason: signet_io::escape_controls(e.message()).into_owned(),
    })?;
    validate(&manifest)?;
    Ok(manifest)
}

/// Serializes a manifest to TOML after validating it.
pub(crate) fn serialize_manifest(manifest: &Manifest) -> Result<String, RegistryError> {
    validate(manifest)?;
    toml::to_string(manifest).map_err(|e| RegistryError::Serialize {
        reason: e.to_string(),
    })
}

fn invalid(field: &'static str, reason: impl Into<String>) -> RegistryError {
    RegistryError::ManifestInvalid {
        field,
        reason: reason.into(),
    }
}

fn is_hex_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Value checks that the schema alone cannot express.
pub(crate) fn validate(m: &Manifest) -> Result<(), RegistryError> {
    if m.format != BUNDLE_FORMAT {
        return Err(RegistryError::UnsupportedFormat {
            found: m.format.clone(),
            expected: BUNDLE_FORMAT,
        });
    }
    if m.license.trim().is_empty() {
        return Err(invalid("license", "empty"));
    }
    if !(1000..=384_000).contains(&m.voice.sample_rate) {
        return Err(invalid(
            "voice.sample_rate",
            format!("{} Hz is outside 1000..=384000", m.voice.sample_rate),
        ));
    }
    if m.voice.num_speakers == 0 {
        return Err(invalid("voice.num_speakers", "must be at least 1"));
    }
    if let Some((name, id)) = m
        .voice
        .speaker_id_map
        .iter()
        .find(|(_, id)| **id < 0 || **id >= i64::from(m.voice.num_speakers))
    {
        return Err(invalid(
            "voice.speaker_id_map",
            format!(
                "speaker {name:?} has id {id}, outside 0..{}",
                m.voice.num_speakers
            ),
        ));
    }
    if let Some((name, id)) = m.voice.language_id_map.iter().find(|(_, id)| **id < 0) {
        return Err(invalid(
            "voice.language_id_map",
            format!("language {name:?} has the negative id {id}"),
        ));
    }
    if m.phonemes.kind.is_empty() {
        return Err(invalid("phonemes.kind", "empty"));
    }
    if let Some((symbol, _)) = m
        .phonemes
        .id_map
        .iter()
        .find(|(_, ids)| ids.is_empty() || ids.iter().any(|id| *id < 0))
    {
        return Err(invalid(
            "phonemes.id_map",
            format!("symbol {symbol:?} has no ids or a negative id"),
        ));
    }
    let inf = &m.inference;
    for (field, v) in [
        ("inference.noise_scale", inf.noise_scale),
        ("inference.length_scale", inf.length_scale),
        ("inference.noise_w", inf.noise_w),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(invalid(
                field,
                format!("{v} is not a finite, non-negative number"),
            ));
        }
    }
    if m.architecture.kind.is_empty() {
        return Err(invalid("architecture.kind", "empty"));
    }
    if let Some(src) = &m.source {
        for (field, digest) in [
            ("source.model_sha256", &src.model_sha256),
            ("source.config_sha256", &src.config_sha256),
        ] {
            if !is_hex_digest(digest) {
                return Err(invalid(field, "not 64 lower-case hex digits"));
            }
        }
    }
    if let Some(vocoder) = &m.vocoder {
        if !is_hex_digest(&vocoder.manifest_sha256) {
            return Err(invalid(
                "vocoder.manifest_sha256",
                "not 64 lower-case hex digits",
            ));
        }
    }
    if let Some(mel) = &m.mel {
        if !(1..=MAX_HOP_LENGTH).contains(&mel.hop_length) {
            return Err(invalid(
                "mel.hop_length",
                format!("{} is outside 1..={MAX_HOP_LENGTH}", mel.hop_length),
            ));
        }
    }
    if let Some(lexicon) = &m.lexicon {
        check_plain_name(&lexicon.file)?;
        if [MANIFEST_FILE, SIGNATURE_FILE, WEIGHTS_FILE].contains(&lexicon.file.as_str()) {
            return Err(invalid(
                "lexicon.file",
                format!("{:?} is not a lexicon file name", lexicon.file),
            ));
        }
        match m.files.iter().find(|f| f.name == lexicon.file) {
            None => {
                return Err(invalid(
                    "lexicon.file",
                    format!(
                        "{:?} is not listed in `files`, so no signature would cover it",
                        lexicon.file
                    ),
                ))
            }
            Some(f) if f.size > MAX_LEXICON_LEN => {
                return Err(RegistryError::TooLarge {
                    what: format!("lexicon {:?} ({} bytes declared)", f.name, f.size),
                    limit: MAX_LEXICON_LEN,
                })
            }
            Some(_) => {}
        }
    }
    let mut seen = BTreeSet::new();
    for entry in &m.files {
        check_plain_name(&entry.name)?;
        if entry.name == MANIFEST_FILE {
            return Err(RegistryError::BadFileName {
                name: entry.name.clone(),
                reason: "the manifest cannot list itself",
            });
        }
        if entry.name == SIGNATURE_FILE {
            return Err(RegistryError::BadFileName {
                name: entry.name.clone(),
                reason: "the manifest cannot list its own signature file",
            });
        }
        if !seen.insert(entry.name.as_str()) {
            return Err(RegistryError::DuplicateFile {
                name: entry.name.clone(),
            });
        }
        if !is_hex_digest(&entry.sha256) {
            return Err(invalid(
                "files.sha256",
                format!("digest of {:?} is not 64 lower-case hex digits", entry.name),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in ["weights.safetensors", "a", "a-b_c.1"] {
            assert!(check_plain_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "é",
            "a b",
            "a\0",
        ] {
            assert!(
                matches!(
                    check_plain_name(bad),
                    Err(RegistryError::BadFileName { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(check_plain_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn bad_voice_names_do_not_parse() {
        let good = serialize_manifest(&crate::test_support::sample_manifest()).unwrap();
        assert!(parse_manifest(good.as_bytes()).is_ok());
        let long = "x".repeat(129);
        for bad in ["../x", "", long.as_str(), "a\\u0007b", ".hidden", "a/b"] {
            let text = good.replace("name = \"test-voice\"", &format!("name = \"{bad}\""));
            assert_ne!(text, good);
            assert!(
                matches!(
                    parse_manifest(text.as_bytes()),
                    Err(RegistryError::ManifestSyntax { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lexicon_language_fits_by_subtag() {
        for (lex, voice) in [("en", "en_US"), ("en-US", "en_US"), ("EN_us", "en-US")] {
            assert!(lexicon_language_fits(lex, voice), "{lex} {voice}");
        }
        for (lex, voice) in [
            ("en-GB", "en_US"),
            ("e", "en_US"),
            ("", "en_US"),
            ("en_US", "en"),
        ] {
            assert!(!lexicon_language_fits(lex, voice), "{lex} {voice}");
        }
    }

    #[test]
    fn non_utf8_manifest_is_refused() {
        assert!(matches!(
            parse_manifest(b"\xff\xfe"),
            Err(RegistryError::ManifestSyntax { .. })
        ));
    }
}
