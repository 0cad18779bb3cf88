//! Pronunciation lexicons: words the voice should say otherwise than espeak-ng reads them.
//!
//! An entry maps a word to IPA phonemes (spoken as given, like inline `[[ ]]`, checked
//! against the voice's symbols) or to a *respelling* (other text, read by espeak-ng in
//! its place: "SQL" → "sequel"). Two file formats load the same entries:
//!
//! - a TOML table, strict (unknown keys refused), one line a word:
//!   ```toml
//!   [words]
//!   Nguyen = { ipa = "ŋwˈɪn" }
//!   SQL = { say = "sequel" }
//!   ```
//! - W3C PLS 1.0 (`<lexicon alphabet="ipa">` of `<lexeme>`s, each with `<grapheme>`s and a
//!   `<phoneme>` or an `<alias>`), read with the same refusals as SSML: no DTD, no entity
//!   but the five predefined ones and character references, no processing instruction,
//!   nothing outside the file ever read.
//!
//! **Matching.** An entry matches a whole word: a maximal run of letters, digits,
//! apostrophes and hyphens (a word with punctuation around it still matches; a part of a
//! longer word does not). An entry written in lower case matches the word in any case
//! ("tomato" matches "Tomato" and "TOMATO"); an entry with a capital letter matches only
//! that exact spelling ("US" does not match "us"). Entries apply after the Unicode policy
//! and the English normalization, to the words espeak-ng would otherwise read, and before
//! phonemization.
//!
//! **Priority.** [`Lexicons`] holds several lexicons in order: the first that has a word
//! wins. Signet orders them user (`--lexicon` files in the order given, then
//! `<home>/lexicon.toml`), then the voice's own (a lexicon file its bundle lists), then
//! the built-in reading (espeak-ng's dictionary and rules).
//!
//! **Bounds.** At most [`MAX_LEXICON_ENTRIES`] entries per lexicon, words of at most
//! [`MAX_LEXICON_WORD_CHARS`] characters, pronunciations of at most
//! [`MAX_LEXICON_PRONUNCIATION_BYTES`] bytes; readers refuse more.

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::Reader;
use unicode_normalization::UnicodeNormalization;

use crate::error::TextError;
use crate::ids::PhonemeIdMap;

/// Most entries in one lexicon.
pub const MAX_LEXICON_ENTRIES: usize = 10_000;
/// Longest word of an entry, in characters.
pub const MAX_LEXICON_WORD_CHARS: usize = 64;
/// Longest pronunciation of an entry, in bytes.
pub const MAX_LEXICON_PRONUNCIATION_BYTES: usize = 256;

/// How an entry says its word.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pronunciation {
    /// IPA phonemes, spoken as given.
    Ipa(String),
    /// Text read in the word's place.
    Respelling(String),
}

/// One entry, as a file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LexiconEntry {
    /// The word.
    pub word: String,
    /// Its pronunciation.
    pub pronunciation: Pronunciation,
}

/// Something a lexicon check reports about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LexiconIssue {
    /// The word has more than one entry; the first is used.
    Duplicate {
        /// The word.
        word: String,
    },
    /// An IPA pronunciation holds symbols the voice does not have; they would be dropped.
    UnknownSymbols {
        /// The word.
        word: String,
        /// The symbols, each escaped as `\u{..}` where not printable.
        symbols: Vec<String>,
    },
}

impl std::fmt::Display for LexiconIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Duplicate { word } => {
                write!(f, "{word:?} has more than one entry; the first is used")
            }
            Self::UnknownSymbols { word, symbols } => write!(
                f,
                "{word:?}: symbol(s) {} are not in the voice's phoneme map and would be dropped",
                symbols.join(" ")
            ),
        }
    }
}

/// One lexicon: entries by word, with the rules of the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// Entries in file order (duplicates included, for checks).
    entries: Vec<LexiconEntry>,
    /// Exact-case words (those with a capital) → entry index.
    exact: HashMap<String, usize>,
    /// Lower-case words → entry index.
    folded: HashMap<String, usize>,
    duplicates: Vec<String>,
    /// The language the file declares (a PLS root's `xml:lang`), if any.
    language: Option<String>,
}

impl Lexicon {
    /// A lexicon of these entries (checked as a file's would be).
    ///
    /// # Errors
    /// [`TextError::LexiconInvalid`] for too many entries, an empty or over-long word or
    /// pronunciation, or a word that is not one word.
    pub fn from_entries(
        source_name: &str,
        entries: impl IntoIterator<Item = LexiconEntry>,
    ) -> Result<Self, TextError> {
        let mut lexicon = Self::default();
        for entry in entries {
            lexicon.push(source_name, entry)?;
        }
        Ok(lexicon)
    }

    fn push(&mut self, source_name: &str, entry: LexiconEntry) -> Result<(), TextError> {
        let bad = |message: String| TextError::LexiconInvalid {
            source_name: source_name.to_owned(),
            message,
        };
        if self.entries.len() >= MAX_LEXICON_ENTRIES {
            return Err(bad(format!(
                "more than {MAX_LEXICON_ENTRIES} entries; split it into several lexicons"
            )));
        }
        let word = entry.word.trim();
        let chars = word.chars().count();
        if chars == 0 || chars > MAX_LEXICON_WORD_CHARS {
            return Err(bad(format!(
                "the word {:?} is empty or longer than {MAX_LEXICON_WORD_CHARS} characters",
                short(word)
            )));
        }
        if !word.chars().all(is_word_char) {
            return Err(bad(format!(
                "{:?} is not one word (letters, digits, apostrophes and hyphens)",
                short(word)
            )));
        }
        let text = match &entry.pronunciation {
            Pronunciation::Ipa(p) | Pronunciation::Respelling(p) => p,
        };
        if text.trim().is_empty() || text.len() > MAX_LEXICON_PRONUNCIATION_BYTES {
            return Err(bad(format!(
                "the pronunciation of {word:?} is empty or longer than {MAX_LEXICON_PRONUNCIATION_BYTES} bytes"
            )));
        }
        if text.contains("[[") || text.contains("]]") || text.chars().any(char::is_control) {
            return Err(bad(format!(
                "the pronunciation of {word:?} holds `[[`, `]]` or a control character"
            )));
        }
        let index = self.entries.len();
        let (map, key) = if word.chars().any(char::is_uppercase) {
            (&mut self.exact, word.to_owned())
        } else {
            (&mut self.folded, word.to_lowercase())
        };
        match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.duplicates.push(word.to_owned());
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
        self.entries.push(LexiconEntry {
            word: word.to_owned(),
            pronunciation: entry.pronunciation,
        });
        Ok(())
    }

    /// Reads a lexicon file: PLS when it starts with `<` (after white space and a
    /// byte-order mark), else the TOML table.
    ///
    /// # Errors
    /// [`TextError::LexiconInvalid`] naming `source_name` and what is wrong.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, TextError> {
        if Self::is_pls(text) {
            Self::from_pls(source_name, text)
        } else {
            Self::from_toml(source_name, text)
        }
    }

    /// Whether [`parse`](Self::parse) reads `text` as PLS: it starts with `<` after white
    /// space and a byte-order mark.
    #[must_use]
    pub fn is_pls(text: &str) -> bool {
        text.trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('<')
    }

    /// The language the file declares: a PLS `<lexicon xml:lang="...">`; `None` for the
    /// TOML form, which declares none.
    #[must_use]
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    /// Reads the TOML form (see the [module docs](self)).
    ///
    /// # Errors
    /// [`TextError::LexiconInvalid`].
    pub fn from_toml(source_name: &str, text: &str) -> Result<Self, TextError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            words: std::collections::BTreeMap<String, Said>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Said {
            ipa: Option<String>,
            say: Option<String>,
        }
        let file: File = toml::from_str(text).map_err(|e| TextError::LexiconInvalid {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        let mut entries = Vec::with_capacity(file.words.len().min(MAX_LEXICON_ENTRIES));
        for (word, said) in file.words {
            let pronunciation = match (said.ipa, said.say) {
                (Some(ipa), None) => Pronunciation::Ipa(ipa),
                (None, Some(say)) => Pronunciation::Respelling(say),
                _ => {
                    return Err(TextError::LexiconInvalid {
                        source_name: source_name.to_owned(),
                        message: format!("{:?} needs exactly one of `ipa` and `say`", short(&word)),
                    })
                }
            };
            entries.push(LexiconEntry {
                word,
                pronunciation,
            });
        }
        Self::from_entries(source_name, entries)
    }

    /// Reads W3C PLS 1.0 (see the [module docs](self)).
    ///
    /// # Errors
    /// [`TextError::LexiconInvalid`], with the line of the problem.
    pub fn from_pls(source_name: &str, text: &str) -> Result<Self, TextError> {
        let mut lexicon = Self::default();
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        reader.config_mut().expand_empty_elements = true;
        let mut path: Vec<String> = Vec::new();
        let mut graphemes: Vec<String> = Vec::new();
        let mut said: Option<Pronunciation> = None;
        let mut buffer = String::new();
        let mut root_seen = false;
        let line_of = |offset: u64| {
            let end = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(text.len());
            text.as_bytes()
                .get(..end)
                .map_or(1, |b| b.iter().filter(|&&c| c == b'\n').count() + 1)
        };
        let bad = |offset: u64, message: String| TextError::LexiconInvalid {
            source_name: source_name.to_owned(),
            message: format!("line {}: {message}", line_of(offset)),
        };
        loop {
            let at = reader.buffer_position();
            let event = reader
                .read_event()
                .map_err(|e| bad(reader.error_position(), format!("not well-formed XML: {e}")))?;
            match event {
                Event::Eof => break,
                Event::DocType(_) => {
                    return Err(bad(at, "a DOCTYPE is refused: Signet reads no DTD".into()))
                }
                Event::PI(_) => return Err(bad(at, "a processing instruction is refused".into())),
                Event::Decl(_) | Event::Comment(_) => {}
                Event::Start(e) | Event::Empty(e) => {
                    // With expand_empty_elements, an empty element comes as Start and End.
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if path.len() >= 8 {
                        return Err(bad(at, "elements nested deeper than 8".into()));
                    }
                    if path.is_empty() && root_seen {
                        return Err(bad(at, "a second root element after </lexicon>".into()));
                    }
                    match (path.len(), name.as_str()) {
                        (0, "lexicon") => {
                            root_seen = true;
                            for a in e.attributes().with_checks(true) {
                                let a =
                                    a.map_err(|err| bad(at, format!("bad attribute: {err}")))?;
                                if a.key.as_ref() == b"xml:lang" {
                                    let v = a
                                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        .map_err(|_| {
                                            bad(at, "an entity reference is refused".into())
                                        })?;
                                    lexicon.language = Some(short(v.trim()));
                                }
                                if a.key.as_ref() == b"alphabet" {
                                    let v = a
                                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        .map_err(|_| {
                                            bad(at, "an entity reference is refused".into())
                                        })?;
                                    if !v.eq_ignore_ascii_case("ipa") {
                                        return Err(bad(
                                            at,
                                            format!(
                                                "alphabet {:?}: only \"ipa\" is read",
                                                short(&v)
                                            ),
                                        ));
                                    }
                                }
                            }
                        }
                        (0, other) => {
                            return Err(bad(
                                at,
                                format!("the root is <{}>, not <lexicon>", short(other)),
                            ))
                        }
                        (1, "lexeme") => {
                            graphemes.clear();
                            said = None;
                        }
                        (1, "meta" | "metadata") => {}
                        (2, "grapheme" | "phoneme" | "alias" | "example") => {}
                        _ if path.get(1).is_some_and(|p| p == "metadata" || p == "meta") => {}
                        _ => return Err(bad(at, format!("unexpected element <{}>", short(&name)))),
                    }
                    buffer.clear();
                    path.push(name);
                }
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    let content = std::mem::take(&mut buffer);
                    let content = content.trim();
                    match (path.len(), name.as_str()) {
                        (2, "grapheme") => graphemes.push(content.to_owned()),
                        (2, "phoneme") if said.is_none() => {
                            said = Some(Pronunciation::Ipa(content.to_owned()));
                        }
                        (2, "alias") if said.is_none() => {
                            said = Some(Pronunciation::Respelling(content.to_owned()));
                        }
                        (1, "lexeme") => {
                            let Some(p) = said.take() else {
                                return Err(bad(
                                    at,
                                    "a <lexeme> without <phoneme> or <alias>".into(),
                                ));
                            };
                            if graphemes.is_empty() {
                                return Err(bad(at, "a <lexeme> without <grapheme>".into()));
                            }
                            for word in graphemes.drain(..) {
                                lexicon
                                    .push(
                                        source_name,
                                        LexiconEntry {
                                            word,
                                            pronunciation: p.clone(),
                                        },
                                    )
                                    .map_err(|e| match e {
                                        TextError::LexiconInvalid { message, .. } => {
                                            bad(at, message)
                                        }
                                        other => other,
                                    })?;
                            }
                        }
                        _ => {}
                    }
                }
                Event::Text(t) => {
                    let s = t
                        .decode()
                        .map_err(|e| bad(at, format!("text is not UTF-8: {e}")))?;
                    if path.is_empty() && !s.trim().is_empty() {
                        return Err(bad(
                            at,
                            "text outside the <lexicon> element (is this a TOML lexicon?)".into(),
                        ));
                    }
                    push_capped(&mut buffer, &s);
                }
                Event::CData(t) => {
                    let s = t
                        .decode()
                        .map_err(|e| bad(at, format!("CDATA is not UTF-8: {e}")))?;
                    push_capped(&mut buffer, &s);
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => match &*r {
                            b"amp" => "&".into(),
                            b"lt" => "<".into(),
                            b"gt" => ">".into(),
                            b"apos" => "'".into(),
                            b"quot" => "\"".into(),
                            _ => return Err(bad(at, "an entity reference is refused".into())),
                        },
                        Err(e) => return Err(bad(at, format!("bad character reference: {e}"))),
                    };
                    push_capped(&mut buffer, &c);
                }
            }
        }
        if !path.is_empty() {
            return Err(bad(
                text.len() as u64,
                "the file ends inside an element".into(),
            ));
        }
        if !root_seen {
            return Err(bad(
                text.len() as u64,
                "no <lexicon> element: a PLS file is one <lexicon> of <lexeme>s".into(),
            ));
        }
        Ok(lexicon)
    }

    /// The entries, in file order.
    #[must_use]
    pub fn entries(&self) -> &[LexiconEntry] {
        &self.entries
    }

    /// The entry for a word, by the case rule of the [module docs](self).
    #[must_use]
    pub fn get(&self, word: &str) -> Option<&Pronunciation> {
        let index = self
            .exact
            .get(word)
            .or_else(|| self.folded.get(&word.to_lowercase()))?;
        self.entries.get(*index).map(|e| &e.pronunciation)
    }

    /// What a check of the file finds: duplicate words, and, given a voice's phoneme
    /// map, IPA symbols it lacks.
    #[must_use]
    pub fn check(&self, id_map: Option<&PhonemeIdMap>) -> Vec<LexiconIssue> {
        let mut issues: Vec<LexiconIssue> = self
            .duplicates
            .iter()
            .map(|w| LexiconIssue::Duplicate { word: w.clone() })
            .collect();
        if let Some(map) = id_map {
            for entry in &self.entries {
                if let Pronunciation::Ipa(p) = &entry.pronunciation {
                    let mut unknown: Vec<String> = Vec::new();
                    for c in p.nfd().filter(|c| !c.is_whitespace()) {
                        let s = c.to_string();
                        if map.get(&s).is_none() && !unknown.contains(&s) {
                            unknown.push(s);
                        }
                    }
                    if !unknown.is_empty() {
                        issues.push(LexiconIssue::UnknownSymbols {
                            word: entry.word.clone(),
                            symbols: unknown
                                .iter()
                                .map(|s| {
                                    if s.chars()
                                        .all(|c| c.is_alphabetic() || c.is_ascii_punctuation())
                                    {
                                        s.clone()
                                    } else {
                                        s.chars().flat_map(char::escape_unicode).collect()
                                    }
                                })
                                .collect(),
                        });
                    }
                }
            }
        }
        issues
    }
}

/// Lexicons in priority order: the first that has a word wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicons {
    layers: Vec<Lexicon>,
}

/// A piece of text after the lexicon: text, or phonemes an entry gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Phonemes(String),
}

impl Lexicons {
    /// No lexicon, as a constant (for statics).
    pub const EMPTY: Self = Self { layers: Vec::new() };

    /// No lexicon.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a lexicon below those already held (lower priority).
    pub fn push(&mut self, lexicon: Lexicon) {
        self.layers.push(lexicon);
    }

    /// Whether no lexicon is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.layers.iter().all(|l| l.entries.is_empty())
    }

    /// The pronunciation of a word, from the first lexicon that has it.
    #[must_use]
    pub fn get(&self, word: &str) -> Option<&Pronunciation> {
        self.layers.iter().find_map(|l| l.get(word))
    }

    /// Applies the entries to a text: words with an IPA entry become phoneme pieces,
    /// words with a respelling are replaced. Returns the pieces and how many words
    /// were replaced. Linear in the text.
    pub(crate) fn apply(&self, text: &str) -> (Vec<Piece>, usize) {
        let mut pieces = Vec::new();
        let mut current = String::with_capacity(text.len());
        let mut count = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let word_len: usize = rest
                .chars()
                .take_while(|&c| is_word_char(c))
                .map(char::len_utf8)
                .sum();
            if word_len == 0 {
                let skip: usize = rest
                    .chars()
                    .take_while(|&c| !is_word_char(c))
                    .map(char::len_utf8)
                    .sum();
                let (gap, tail) = rest.split_at(skip.max(1).min(rest.len()));
                current.push_str(gap);
                rest = tail;
                continue;
            }
            let (word, tail) = rest.split_at(word_len);
            rest = tail;
            // Apostrophes and hyphens at the edges are punctuation, not part of the word.
            let core = word.trim_matches(['\'', '-', '’']);
            let lead = word.len() - word.trim_start_matches(['\'', '-', '’']).len();
            match self.get(core).filter(|_| !core.is_empty()) {
                None => current.push_str(word),
                Some(p) => {
                    count += 1;
                    let (before, after) = word.split_at(lead);
                    current.push_str(before);
                    let after = after.get(core.len()..).unwrap_or("");
                    match p {
                        Pronunciation::Respelling(say) => current.push_str(say),
                        Pronunciation::Ipa(ipa) => {
                            if !current.is_empty() {
                                pieces.push(Piece::Text(std::mem::take(&mut current)));
                            }
                            pieces.push(Piece::Phonemes(ipa.clone()));
                        }
                    }
                    current.push_str(after);
                }
            }
        }
        if !current.is_empty() {
            pieces.push(Piece::Text(current));
        }
        (pieces, count)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'
}

fn push_capped(buffer: &mut String, s: &str) {
    if buffer.len() + s.len() <= MAX_LEXICON_PRONUNCIATION_BYTES * 4 {
        buffer.push_str(s);
    }
}

fn short(s: &str) -> String {
    s.chars().take(MAX_LEXICON_WORD_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = "[words]\nNguyen = { ipa = \"ŋwˈɪn\" }\nSQL = { say = \"sequel\" }\ntomato = { ipa = \"təmˈɑːtoʊ\" }\n";
    const PLS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>Nguyen</grapheme><phoneme>ŋwˈɪn</phoneme></lexeme>
  <lexeme><grapheme>SQL</grapheme><alias>sequel</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme>təmˈɑːtoʊ</phoneme></lexeme>
</lexicon>"#;

    #[test]
    fn pls_and_toml_load_the_same_entries() -> Result<(), TextError> {
        let a = Lexicon::parse("a.toml", TOML)?;
        let b = Lexicon::parse("b.pls", PLS)?;
        let mut ea = a.entries().to_vec();
        let mut eb = b.entries().to_vec();
        ea.sort_by(|x, y| x.word.cmp(&y.word));
        eb.sort_by(|x, y| x.word.cmp(&y.word));
        assert_eq!(ea, eb);
        assert_eq!(ea.len(), 3);
        assert_eq!(b.language(), Some("en-US"));
        assert_eq!(a.language(), None);
        Ok(())
    }

    #[test]
    fn lexicon_case_and_whole_word_rules() -> Result<(), TextError> {
        let mut l = Lexicons::new();
        l.push(Lexicon::parse("a.toml", TOML)?);
        assert!(l.get("Tomato").is_some() && l.get("TOMATO").is_some());
        assert!(l.get("sql").is_none() && l.get("SQL").is_some());
        let (pieces, n) = l.apply("A tomato, tomatoes and SQL's \"Nguyen\".");
        assert_eq!(n, 2, "{pieces:?}");
        assert_eq!(
            pieces,
            vec![
                Piece::Text("A ".into()),
                Piece::Phonemes("təmˈɑːtoʊ".into()),
                Piece::Text(", tomatoes and SQL's \"".into()),
                Piece::Phonemes("ŋwˈɪn".into()),
                Piece::Text("\".".into()),
            ]
        );
        let (pieces, n) = l.apply("Use SQL.");
        assert_eq!((pieces, n), (vec![Piece::Text("Use sequel.".into())], 1));
        Ok(())
    }

    #[test]
    fn lexicon_priority_is_first_layer_first() -> Result<(), TextError> {
        let mut l = Lexicons::new();
        l.push(Lexicon::parse(
            "user",
            "[words]\ntomato = { say = \"tomahto\" }",
        )?);
        l.push(Lexicon::parse("voice", TOML)?);
        assert_eq!(
            l.get("tomato"),
            Some(&Pronunciation::Respelling("tomahto".into()))
        );
        Ok(())
    }

    #[test]
    fn lexicon_files_are_read_strictly() {
        for (name, text) in [
            ("unknown key", "[words]\na = { ipa = \"a\", x = 1 }"),
            ("both", "[words]\na = { ipa = \"a\", say = \"b\" }"),
            ("two words", "[words]\n\"a b\" = { say = \"c\" }"),
            (
                "doctype",
                "<!DOCTYPE lexicon [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><lexicon/>",
            ),
            (
                "entity",
                "<lexicon><lexeme><grapheme>&x;</grapheme><alias>a</alias></lexeme></lexicon>",
            ),
            ("alphabet", "<lexicon alphabet=\"x-sampa\"/>"),
            ("root", "<speak/>"),
            (
                "no pronunciation",
                "<lexicon><lexeme><grapheme>a</grapheme></lexeme></lexicon>",
            ),
            ("unclosed", "<lexicon><lexeme>"),
            ("no root", "<?xml version=\"1.0\"?>\n"),
            ("two roots", "<lexicon/><lexicon/>"),
            ("brackets", "[words]\na = { ipa = \"]]\" }"),
        ] {
            assert!(
                matches!(
                    Lexicon::parse("f", text),
                    Err(TextError::LexiconInvalid { .. })
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn pls_reader_refuses_text_outside_the_root() {
        // A TOML table offered as PLS (a bundle declares the format) is not an empty lexicon.
        match Lexicon::from_pls("f", "[words]\na = { say = \"b\" }") {
            Err(TextError::LexiconInvalid { message, .. }) => {
                assert!(message.starts_with("line 1:"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(Lexicon::from_pls("f", "").is_err());
        assert!(Lexicon::from_pls("f", " <lexicon/>\n").is_ok());
    }

    #[test]
    fn lexicon_check_reports_duplicates() -> Result<(), TextError> {
        let pls = "<lexicon><lexeme><grapheme>a</grapheme><grapheme>A</grapheme><alias>b</alias></lexeme><lexeme><grapheme>a</grapheme><alias>c</alias></lexeme></lexicon>";
        let l = Lexicon::parse("f", pls)?;
        assert_eq!(
            l.check(None),
            vec![LexiconIssue::Duplicate { word: "a".into() }]
        );
        Ok(())
    }
}
