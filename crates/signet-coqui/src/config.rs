//! Coqui's `config.json`, read with types: the model name, `model_args`, `audio`, and the text
//! settings (`characters`, `use_phonemes`, `phonemizer`, `phoneme_language`, `text_cleaner`,
//! `add_blank`, `enable_eos_bos_chars`).
//!
//! A Coqui config carries hundreds of training keys (optimizer, datasets, loss weights...), so
//! unknown keys are ignored; every key the importer uses is read with its type checked and
//! named in the error, and settings that change inference but that Signet's definition does not
//! implement are refused by the architecture's mapping, never ignored.

use serde_json::{Map, Value};

use signet_registry::CoquiText;

use crate::CoquiError;

/// The parsed parts of a Coqui `config.json`.
#[derive(Debug, Clone)]
pub struct CoquiConfig {
    /// The `model` key (`vits`, `glow_tts`, `tacotron2`, `xtts`...).
    pub model: String,
    root: Map<String, Value>,
}

/// Models Coqui TTS ships that Signet does not run, with what to say about each.
const REFUSED: &[(&str, &str)] = &[
    (
        "xtts",
        "XTTS is a GPT-style voice-cloning model Signet does not implement",
    ),
    (
        "bark",
        "Bark is a GPT-style audio-token model Signet does not implement",
    ),
    (
        "tortoise",
        "Tortoise is an autoregressive diffusion model Signet does not implement",
    ),
    (
        "delightful_tts",
        "DelightfulTTS is not implemented in Signet",
    ),
    (
        "neuralhmm_tts",
        "NeuralHMM TTS is not implemented in Signet",
    ),
    ("overflow", "OverFlow is not implemented in Signet"),
    ("align_tts", "AlignTTS is not implemented in Signet"),
    ("fast_pitch", "FastPitch is not implemented in Signet"),
    ("fast_speech", "FastSpeech is not implemented in Signet"),
    ("fastspeech2", "FastSpeech 2 is not implemented in Signet"),
    ("speedy_speech", "SpeedySpeech is not implemented in Signet"),
    (
        "tacotron",
        "Tacotron (version 1) is not implemented in Signet",
    ),
    (
        "freevc",
        "FreeVC is a voice-conversion model, not a text-to-speech voice",
    ),
    (
        "openvoice",
        "OpenVoice is a voice-conversion model, not a text-to-speech voice",
    ),
    (
        "knnvc",
        "kNN-VC is a voice-conversion model, not a text-to-speech voice",
    ),
];

/// Why the named Coqui model is refused, if it is one Signet knowingly does not run.
pub fn refused_model(model: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(model))
        .map(|(_, why)| *why)
}

/// Languages whose default Coqui phonemizer is not espeak-ng.
const NON_ESPEAK_DEFAULTS: &[(&str, &str)] = &[
    ("be", "be_phonemizer"),
    ("bn", "bn_phonemizer"),
    ("ja-jp", "ja_jp_phonemizer"),
    ("zh-cn", "zh_cn_phonemizer"),
    ("ko-kr", "ko_kr_phonemizer"),
];

/// Coqui's JSON dialect to strict JSON: comments removed, `Infinity`, `-Infinity` and `NaN`
/// outside strings replaced by `null`. Linear in the input; strings are copied as they are.
fn to_strict_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            // Copy the string literal through its closing quote, escapes included.
            let mut end = rest.len();
            let mut escaped = false;
            for (i, ch) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == '"' {
                    end = i + 1;
                    break;
                }
            }
            let (lit, tail) = rest.split_at(end);
            out.push_str(lit);
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix("//") {
            rest = tail.find('\n').map_or("", |i| tail.split_at(i).1);
        } else if let Some(tail) = rest.strip_prefix("/*") {
            rest = tail.find("*/").map_or("", |i| tail.split_at(i + 2).1);
        } else if let Some(tail) = ["-Infinity", "Infinity", "NaN"]
            .iter()
            .find_map(|w| rest.strip_prefix(w))
        {
            out.push_str("null");
            rest = tail;
        } else {
            out.push(c);
            rest = rest.split_at(c.len_utf8()).1;
        }
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl CoquiConfig {
    /// Parses `config.json` as Coqui reads it: JSON with `//` and `/* */` comments, and
    /// Python's `Infinity`, `-Infinity` and `NaN` (which Coqui writes for unbounded lengths;
    /// read here as `null`, no key the importer uses takes them).
    pub fn parse(bytes: &[u8]) -> Result<Self, CoquiError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| CoquiError::config(format!("not UTF-8: {e}")))?;
        let value: Value = serde_json::from_str(&to_strict_json(text))
            .map_err(|e| CoquiError::config(format!("not valid JSON: {e}")))?;
        let Value::Object(root) = value else {
            return Err(CoquiError::config(format!(
                "the top level is {}, not an object",
                kind(&value)
            )));
        };
        let model = match root.get("model") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(CoquiError::config(format!(
                    "`model` is {}, not a string",
                    kind(other)
                )))
            }
            None => {
                return Err(CoquiError::config(
                    "no `model` key: is this a Coqui config?",
                ))
            }
        };
        Ok(CoquiConfig { model, root })
    }

    /// The whole config as JSON (strict JSON, Coqui's dialect already read), for the model
    /// crates' mapping functions.
    pub fn to_json(&self) -> Value {
        Value::Object(self.root.clone())
    }

    /// The value at a dotted path, `None` if a part is absent.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut cur = self.root.get(parts.next()?)?;
        for part in parts {
            cur = cur.as_object()?.get(part)?;
        }
        Some(cur)
    }

    /// A present value at `path`, else the error naming it.
    fn need(&self, path: &str) -> Result<&Value, CoquiError> {
        self.get(path)
            .ok_or_else(|| CoquiError::config(format!("`{path}` is missing")))
    }

    /// A non-negative integer at `path`.
    pub fn usize(&self, path: &str) -> Result<usize, CoquiError> {
        let v = self.need(path)?;
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                CoquiError::config(format!("`{path}` is {v}, not a non-negative integer"))
            })
    }

    /// A list of non-negative integers at `path`.
    pub fn usizes(&self, path: &str) -> Result<Vec<usize>, CoquiError> {
        let v = self.need(path)?;
        let bad = || CoquiError::config(format!("`{path}` is {v}, not a list of integers"));
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|x| {
                x.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(bad)
            })
            .collect()
    }

    /// A list of lists of non-negative integers at `path`.
    pub fn usize_lists(&self, path: &str) -> Result<Vec<Vec<usize>>, CoquiError> {
        let v = self.need(path)?;
        let bad = || CoquiError::config(format!("`{path}` is {v}, not a list of integer lists"));
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|row| {
                row.as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|x| {
                        x.as_u64()
                            .and_then(|n| usize::try_from(n).ok())
                            .ok_or_else(bad)
                    })
                    .collect()
            })
            .collect()
    }

    /// A bool at `path`; `default` if absent.
    pub fn bool_or(&self, path: &str, default: bool) -> Result<bool, CoquiError> {
        match self.get(path) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(CoquiError::config(format!("`{path}` is {v}, not a bool"))),
        }
    }

    /// A finite number at `path`; `default` if absent.
    pub fn f32_or(&self, path: &str, default: f32) -> Result<f32, CoquiError> {
        match self.get(path) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .filter(|x| x.is_finite())
                .ok_or_else(|| CoquiError::config(format!("`{path}` is {v}, not a finite number"))),
        }
    }

    /// A string at `path`; `None` if absent, null or empty.
    pub fn str_opt(&self, path: &str) -> Result<Option<&str>, CoquiError> {
        match self.get(path) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(CoquiError::config(format!("`{path}` is {v}, not a string"))),
        }
    }

    /// `audio.sample_rate`, checked to be a usable rate.
    pub fn sample_rate(&self) -> Result<u32, CoquiError> {
        let rate = self.usize("audio.sample_rate")?;
        u32::try_from(rate)
            .ok()
            .filter(|r| (1000..=384_000).contains(r))
            .ok_or_else(|| {
                CoquiError::config(format!(
                    "`audio.sample_rate` {rate} is outside 1000..=384000"
                ))
            })
    }

    /// The text settings: how Coqui turns text into token ids for this model. Refuses a
    /// phonemizer or cleaner Signet does not reproduce, and a symbol table Coqui itself builds
    /// in an unreproducible order.
    pub fn text(&self) -> Result<CoquiText, CoquiError> {
        let use_phonemes = self.bool_or("use_phonemes", false)?;
        let language = self.str_opt("phoneme_language")?.map(str::to_owned);
        let phonemizer = if use_phonemes {
            match self.str_opt("phonemizer")? {
                None => {
                    let lang = language.as_deref().unwrap_or("en-us").to_ascii_lowercase();
                    if let Some((_, name)) = NON_ESPEAK_DEFAULTS.iter().find(|(l, _)| *l == lang) {
                        return Err(CoquiError::UnsupportedPhonemizer {
                            name: (*name).to_owned(),
                        });
                    }
                    Some("espeak".to_owned())
                }
                Some("espeak") => Some("espeak".to_owned()),
                Some(other) => {
                    return Err(CoquiError::UnsupportedPhonemizer {
                        name: other.to_owned(),
                    })
                }
            }
        } else {
            None
        };
        let cleaner = match self.get("text_cleaner") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() || s == "no_cleaners" => None,
            Some(Value::String(s)) if signet_text::CoquiCleaner::from_name(s).is_some() => {
                Some(s.clone())
            }
            Some(v) => {
                return Err(CoquiError::UnsupportedSetting {
                    key: "text_cleaner",
                    value: v.to_string(),
                    reason: "Signet reproduces english_cleaners, phoneme_cleaners, \
                             basic_cleaners, transliteration_cleaners, multilingual_cleaners \
                             and multilingual_phoneme_cleaners",
                })
            }
        };
        let (symbols, pad, blank, bos, eos) = self.vocab(use_phonemes)?;
        let text = CoquiText {
            use_phonemes,
            phonemizer,
            phoneme_language: language,
            text_cleaner: cleaner,
            add_blank: self.bool_or("add_blank", false)?,
            enable_eos_bos: self.bool_or("enable_eos_bos_chars", false)?,
            pad,
            blank,
            bos,
            eos,
            symbols,
        };
        // Refuse here what the tokenizer would refuse at load.
        signet_text::CoquiTokenizer::new(&tokenizer_settings(&text))?;
        Ok(text)
    }

    /// The symbol table in id order, as Coqui's characters class builds it, with the special
    /// symbols: `(symbols, pad, blank, bos, eos)`.
    #[allow(clippy::type_complexity)]
    fn vocab(
        &self,
        use_phonemes: bool,
    ) -> Result<
        (
            Vec<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ),
        CoquiError,
    > {
        let class = self
            .str_opt("characters.characters_class")?
            .unwrap_or("")
            .to_owned();
        let chars = |key: &str| -> Result<Vec<String>, CoquiError> {
            Ok(self
                .str_opt(key)?
                .unwrap_or("")
                .chars()
                .map(String::from)
                .collect())
        };
        let special = |key: &str| -> Result<Option<String>, CoquiError> {
            Ok(self.str_opt(key)?.map(str::to_owned))
        };
        if self.get("characters").is_none_or(Value::is_null) {
            return Err(CoquiError::UnsupportedSetting {
                key: "characters",
                value: "null".into(),
                reason: "the symbol table must be written in config.json (Coqui's built-in \
                         defaults differ between versions)",
            });
        }
        if self
            .get("characters.vocab_dict")
            .is_some_and(|v| !v.is_null())
        {
            return Err(CoquiError::UnsupportedSetting {
                key: "characters.vocab_dict",
                value: "an explicit vocabulary".into(),
                reason: "only symbol tables built from `characters` are supported",
            });
        }
        let punctuations = chars("characters.punctuations")?;
        let pad = special("characters.pad")?;
        match class.as_str() {
            "TTS.tts.models.vits.VitsCharacters" => {
                // [pad, punctuations..., characters + phonemes..., "<BLNK>"]: no sorting, no
                // de-duplication, whatever `is_sorted`/`is_unique` say.
                let mut symbols: Vec<String> = pad.iter().cloned().collect();
                symbols.extend(punctuations);
                symbols.extend(chars("characters.characters")?);
                symbols.extend(chars("characters.phonemes")?);
                let blank = "<BLNK>".to_owned();
                symbols.push(blank.clone());
                Ok((symbols, pad, Some(blank), None, None))
            }
            "TTS.tts.utils.text.characters.Graphemes"
            | "TTS.tts.utils.text.characters.IPAPhonemes"
            | "" => {
                let key = if class.ends_with("IPAPhonemes") || (class.is_empty() && use_phonemes) {
                    "characters.phonemes"
                } else {
                    "characters.characters"
                };
                let mut body = chars(key)?;
                let unique = self.bool_or("characters.is_unique", false)?;
                let sorted = self.bool_or("characters.is_sorted", true)?;
                if unique {
                    if !sorted {
                        return Err(CoquiError::UnsupportedSetting {
                            key: "characters.is_sorted",
                            value: "false".into(),
                            reason: "with is_unique, Coqui orders the symbols by Python's set \
                                     order, which differs from run to run",
                        });
                    }
                    body.sort();
                    body.dedup();
                } else if sorted {
                    body.sort();
                }
                let (blank, bos, eos) = (
                    special("characters.blank")?,
                    special("characters.bos")?,
                    special("characters.eos")?,
                );
                let mut symbols: Vec<String> = Vec::new();
                for s in [&pad, &eos, &bos, &blank].into_iter().flatten() {
                    symbols.push(s.clone());
                }
                symbols.extend(body);
                symbols.extend(punctuations);
                Ok((symbols, pad, blank, bos, eos))
            }
            other => Err(CoquiError::UnsupportedSetting {
                key: "characters.characters_class",
                value: format!("{other:?}"),
                reason: "Signet builds the symbol table of VitsCharacters, Graphemes and \
                         IPAPhonemes only",
            }),
        }
    }
}

/// The tokenizer's view of a voice's Coqui text settings.
#[must_use]
pub fn tokenizer_settings(text: &CoquiText) -> signet_text::CoquiTextSettings {
    let mut s = signet_text::CoquiTextSettings::new(text.symbols.clone());
    s.use_phonemes = text.use_phonemes;
    s.phoneme_language = text.phoneme_language.clone();
    s.text_cleaner = text.text_cleaner.clone();
    s.add_blank = text.add_blank;
    s.enable_eos_bos = text.enable_eos_bos;
    s.blank = text.blank.clone();
    s.bos = text.bos.clone();
    s.eos = text.eos.clone();
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn coqui_json_dialect_reads_comments_and_python_infinities() {
        let text = "{\n  // the model\n  \"model\": \"vits\", /* block */\n  \"max\": Infinity,\n  \"min\": -Infinity, \"x\": NaN,\n  \"url\": \"http://a//b \\\" // Infinity\"\n}";
        let cfg = CoquiConfig::parse(text.as_bytes()).unwrap();
        assert_eq!(cfg.model, "vits");
        assert_eq!(cfg.get("max"), Some(&Value::Null));
        assert_eq!(cfg.get("min"), Some(&Value::Null));
        assert_eq!(cfg.get("x"), Some(&Value::Null));
        assert_eq!(
            cfg.get("url").and_then(Value::as_str),
            Some("http://a//b \" // Infinity")
        );
        // Unterminated pieces end the input instead of looping or panicking.
        for bad in ["{\"a\": \"open", "{ /* open", "{ // open", "\"", "/*", "//"] {
            assert!(CoquiConfig::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn vits_characters_symbol_table_is_coquis_order() {
        let text = r#"{"model": "vits", "characters": {
            "characters_class": "TTS.tts.models.vits.VitsCharacters",
            "pad": "_", "eos": "", "bos": "", "blank": null,
            "characters": "ba", "punctuations": "!.", "phonemes": "a"}}"#;
        let t = CoquiConfig::parse(text.as_bytes()).unwrap().text().unwrap();
        // Not sorted, not de-duplicated: pad, punctuations, characters, phonemes, blank.
        assert_eq!(t.symbols, ["_", "!", ".", "b", "a", "a", "<BLNK>"]);
        assert_eq!(t.blank.as_deref(), Some("<BLNK>"));
    }

    #[test]
    fn text_settings_the_tokenizer_cannot_reproduce_are_refused_at_import() {
        // add_blank with no blank symbol: coqui-tts would feed an id past the table.
        let text = r#"{"model": "glow_tts", "add_blank": true, "characters": {
            "characters_class": "TTS.tts.utils.text.characters.Graphemes",
            "pad": "_", "characters": "ab", "punctuations": "."}}"#;
        let err = CoquiConfig::parse(text.as_bytes())
            .unwrap()
            .text()
            .unwrap_err();
        assert!(matches!(err, CoquiError::UnsupportedText { .. }), "{err}");
        assert!(err.to_string().contains("add_blank"), "{err}");
        // A cleaner Signet lacks is named.
        let text = r#"{"model": "vits", "text_cleaner": "chinese_mandarin_cleaners",
            "characters": {"characters_class": "TTS.tts.models.vits.VitsCharacters",
            "pad": "_", "characters": "ab", "punctuations": ".", "phonemes": ""}}"#;
        let err = CoquiConfig::parse(text.as_bytes())
            .unwrap()
            .text()
            .unwrap_err();
        assert!(
            err.to_string().contains("chinese_mandarin_cleaners"),
            "{err}"
        );
        // The cleaners Signet reproduces are accepted.
        for cleaner in ["transliteration_cleaners", "multilingual_cleaners"] {
            let text = format!(
                r#"{{"model": "vits", "text_cleaner": "{cleaner}",
                "characters": {{"characters_class": "TTS.tts.models.vits.VitsCharacters",
                "pad": "_", "characters": "ab", "punctuations": ".", "phonemes": ""}}}}"#
            );
            let t = CoquiConfig::parse(text.as_bytes()).unwrap().text().unwrap();
            assert_eq!(t.text_cleaner.as_deref(), Some(cleaner));
        }
    }

    #[test]
    fn graphemes_symbol_table_puts_specials_first_and_sorts() {
        let text = r#"{"model": "vits", "use_phonemes": true, "phoneme_language": "en-us",
            "characters": {
            "characters_class": "TTS.tts.utils.text.characters.IPAPhonemes",
            "pad": "<PAD>", "eos": "<EOS>", "bos": "<BOS>", "blank": "<BLNK>",
            "characters": "xyz", "phonemes": "ɛab", "punctuations": "!,",
            "is_unique": false, "is_sorted": true}}"#;
        let t = CoquiConfig::parse(text.as_bytes()).unwrap().text().unwrap();
        assert_eq!(
            t.symbols,
            ["<PAD>", "<EOS>", "<BOS>", "<BLNK>", "a", "b", "ɛ", "!", ","]
        );
        assert_eq!(t.phonemizer.as_deref(), Some("espeak"));
    }
}
