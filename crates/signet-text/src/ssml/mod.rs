//! SSML 1.1, the subset Signet speaks, read as hostile input.
//!
//! [`prepare_ssml`] is the SSML form of [`prepare`](crate::prepare): it reads a
//! document with quick-xml, driven so that nothing in the document can make Signet read a
//! file, reach the network, expand an entity or pass the [`Limits`]:
//!
//! - a `<!DOCTYPE>` (and with it every DTD, entity declaration and external identifier),
//!   a processing instruction, and any entity reference but the five predefined ones
//!   (`&amp;` `&lt;` `&gt;` `&apos;` `&quot;`) and numeric character references are
//!   refused with [`TextError::SsmlRefused`]; since no entity can be declared, none can
//!   expand ("billion laughs" and external entities have nothing to stand on);
//! - the document's size is checked first ([`Limits::max_input_bytes`],
//!   [`Limits::max_chars`]); nesting deeper than [`Limits::max_ssml_depth`], more than
//!   [`Limits::max_ssml_elements`] elements, or an attribute value longer than
//!   [`Limits::max_ssml_attribute_bytes`] stop the reading at that point with
//!   [`TextError::SsmlLimitExceeded`];
//! - every error names the line and column (in characters, from 1).
//!
//! What the elements do (docs/text.md has the table):
//!
//! | element | effect |
//! |---|---|
//! | `speak` | the root; `xml:lang` must name the voice's language (its primary subtag) |
//! | `p`, `s` | paragraph and sentence: each is phonemized apart from the text around it |
//! | `break` | exact silence: `time` (`500ms`, `2s`) or `strength` (`none` 0 ms, `x-weak` 100, `weak` 250, `medium` 500, `strong` 800, `x-strong` 1200), at most one minute |
//! | `prosody` | `rate` through the length scale, `volume` through a clip-free gain; `pitch`, `range`, `contour`, `duration` are reported and ignored |
//! | `say-as` | `interpret-as` `characters`, `spell-out`, `cardinal`, `ordinal`, `digits`, `date` (with `format`), `time`, `telephone`, `currency`, read by the English normalizer ([`say_as`](crate::normalize::say_as)) |
//! | `sub` | its `alias` is spoken instead of its content |
//! | `phoneme` | `alphabet="ipa"` `ph` is spoken as inline phonemes, checked against the voice's symbols like `[[ ]]`; other alphabets are reported and the content spoken |
//! | `emphasis` | approximated by rate and volume (`strong` 0.85× rate +3 dB, `moderate` 0.92× +2 dB, `reduced` 1.1× −3 dB, `none` nothing) |
//! | `voice` | `name` must be the voice speaking; another name is reported and the text spoken by the same voice |
//! | `mark` | reported in the timings at the start of the next word (or the end of the speech before it) |
//! | `audio` | never fetched: reported, and its fallback content spoken |
//! | `lang`, `token`, `w` | read as containers of text |
//! | `lexicon`, `meta`, `metadata`, `desc` | ignored with their content (`lexicon` reported: Signet never fetches one) |
//!
//! An element or attribute Signet does not know is reported ([`Diagnostic::SsmlUnknownElement`],
//! [`Diagnostic::SsmlUnknownAttribute`]) and its text is spoken. A change of rate or
//! volume inside a sentence starts a new phrase: the text on either side is phonemized
//! apart, so the intonation of the sentence restarts there.
//!
//! The result is a [`PreparedSsml`]: the document's *spoken text* (its text, with `sub`
//! aliases, `say-as` readings and `phoneme` elements written as `[[ ph ]]`), and the
//! [`Step`]s to speak it: segments with their [`Style`] and marks, and pauses. Byte ranges
//! of segments, marks and the words of timings are in the spoken text.

mod values;

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{Diagnostic, TextError};
use crate::frontend::{prepare_with, Normalization, Segment};
use crate::lexicon::Lexicons;
use crate::limits::Limits;
use crate::normalize::{say_as, SayAs};

pub use values::{db_to_gain, MAX_BREAK_MS, MAX_GAIN_DB, MAX_RATE, MIN_GAIN_DB, MIN_RATE};

/// Most diagnostics one document reports one by one; the rest are counted in one
/// [`Diagnostic::SsmlDiagnosticsCapped`].
pub const MAX_SSML_DIAGNOSTICS: usize = 100;

/// Longest element, attribute or voice name quoted in a diagnostic, in characters.
const MAX_QUOTED_CHARS: usize = 64;

const HINT_DEPTH: &str =
    "raise `max_ssml_depth` in the `[limits]` table of config.toml, or nest fewer elements";
const HINT_ELEMENTS: &str =
    "raise `max_ssml_elements` in the `[limits]` table of config.toml, or split the document";
const HINT_ATTRIBUTE: &str =
    "raise `max_ssml_attribute_bytes` in the `[limits]` table of config.toml, or shorten the value";

/// How a piece of the document is said: rate and volume from `<prosody>` and `<emphasis>`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Style {
    /// Speaking-rate multiplier ([`MIN_RATE`] to [`MAX_RATE`]): the length scale is
    /// divided by it, on top of the request's own speed.
    pub rate: f32,
    /// Linear gain on the audio (0 is silent); applied without clipping.
    pub gain: f32,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            rate: 1.0,
            gain: 1.0,
        }
    }
}

impl Style {
    /// Whether this style changes nothing.
    #[must_use]
    pub fn is_plain(&self) -> bool {
        self.rate == 1.0 && self.gain == 1.0
    }
}

/// A `<mark>`: its name and where it stands in the spoken text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mark {
    /// The mark's `name`.
    pub name: String,
    /// Byte offset in the spoken text: the mark is reported at the first word that
    /// starts at or after it.
    pub offset: usize,
}

/// One step of an SSML document, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// A segment of text to phonemize and speak in a style, with the marks inside it.
    Speak {
        /// The segment, as [`prepare`](crate::prepare) makes them.
        segment: Segment,
        /// How to say it.
        style: Style,
        /// Marks that fall inside it (or just before it).
        marks: Vec<Mark>,
    },
    /// Silence of exactly `ms` milliseconds (0 for marks after the last speech), with
    /// the marks placed at its start.
    Pause {
        /// Milliseconds of silence.
        ms: u32,
        /// Marks at its start.
        marks: Vec<Mark>,
    },
}

/// The result of [`prepare_ssml`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PreparedSsml {
    /// The spoken text: byte ranges of the steps, marks and timings point into it.
    pub text: String,
    /// What to say, in order.
    pub steps: Vec<Step>,
    /// What the reader reported (unknown elements, ignored attributes...), then what the
    /// Unicode policy and normalization changed.
    pub diagnostics: Vec<Diagnostic>,
}

/// The voice an SSML document is read for.
#[derive(Debug, Clone, Copy)]
pub struct SsmlVoice<'a> {
    /// The voice's registry name (what `<voice name>` may name).
    pub name: &'a str,
    /// Its language code (`en_US`): `xml:lang` must have the same primary subtag.
    pub language: &'a str,
    /// How its text is normalized.
    pub normalization: Normalization,
    /// Pronunciation lexicons, in priority order.
    pub lexicons: &'a Lexicons,
}

/// Whether an input looks like an SSML document: after white space and a byte-order
/// mark, it starts with `<speak` (then white space, `>` or `/`) or an XML declaration.
#[must_use]
pub fn looks_like_ssml(input: &str) -> bool {
    let s = input.trim_start_matches('\u{feff}').trim_start();
    if s.starts_with("<?xml") {
        return true;
    }
    s.strip_prefix("<speak")
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
}

/// [`prepare_ssml`] for bytes: checks the byte limit, then that they are UTF-8.
///
/// # Errors
/// [`TextError::InvalidUtf8`] with the offset of the first invalid byte; otherwise as
/// [`prepare_ssml`].
pub fn prepare_ssml_bytes(
    bytes: &[u8],
    voice: SsmlVoice<'_>,
    limits: &Limits,
) -> Result<PreparedSsml, TextError> {
    limits.check_input_bytes(bytes.len())?;
    let text = std::str::from_utf8(bytes).map_err(|e| TextError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    prepare_ssml(text, voice, limits)
}

/// Reads an SSML document into the steps that speak it (see the [module docs](self)).
/// Bounded by the document's size: linear time, memory a small multiple of the input.
///
/// # Errors
/// [`TextError::LimitExceeded`] for a document over the size limits,
/// [`TextError::SsmlLimitExceeded`], [`TextError::SsmlRefused`],
/// [`TextError::SsmlMalformed`] (each with line and column),
/// [`TextError::SsmlLanguageMismatch`], and [`TextError::NothingToSpeak`] when the
/// document holds no text and no pause.
pub fn prepare_ssml(
    document: &str,
    voice: SsmlVoice<'_>,
    limits: &Limits,
) -> Result<PreparedSsml, TextError> {
    limits.check_text(document)?;
    let mut reader = Parser::new(document, voice, limits);
    reader.run()?;
    let Parser {
        text,
        entries,
        diagnostics,
        dropped,
        ..
    } = reader;
    let mut diagnostics = diagnostics;
    if dropped > 0 {
        diagnostics.push(Diagnostic::SsmlDiagnosticsCapped { count: dropped });
    }
    limits.check_text(&text)?;
    let steps = build_steps(&text, entries, voice, limits, &mut diagnostics)?;
    if steps.is_empty() {
        return Err(TextError::NothingToSpeak {
            reason: "the SSML document holds no text and no break",
        });
    }
    Ok(PreparedSsml {
        text,
        steps,
        diagnostics,
    })
}

/// What the reader found, in order, before the text is cut into segments.
#[derive(Debug)]
enum Entry {
    /// A run of spoken text in one style, with the marks inside it.
    Run {
        range: Range<usize>,
        style: Style,
        marks: Vec<Mark>,
    },
    /// A break.
    Pause { ms: u32 },
    /// A mark between runs.
    Mark(Mark),
}

/// Cuts each run into segments with [`prepare`] and places the marks.
fn build_steps(
    text: &str,
    entries: Vec<Entry>,
    voice: SsmlVoice<'_>,
    limits: &Limits,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<Step>, TextError> {
    let mut steps = Vec::new();
    let mut loose: Vec<Mark> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Mark(mark) => loose.push(mark),
            Entry::Pause { ms } => steps.push(Step::Pause {
                ms,
                marks: std::mem::take(&mut loose),
            }),
            Entry::Run {
                range,
                style,
                marks,
            } => {
                let Some(piece) = text.get(range.clone()) else {
                    continue;
                };
                let prepared =
                    match prepare_with(piece, voice.normalization, limits, voice.lexicons) {
                        Ok(p) => p,
                        Err(TextError::NothingToSpeak { .. }) => {
                            // Nothing to say in this run: its marks wait for what follows.
                            loose.extend(marks);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                diagnostics.extend(prepared.diagnostics);
                let count = prepared.segments.len();
                let mut marks = marks.into_iter().peekable();
                for (i, mut segment) in prepared.segments.into_iter().enumerate() {
                    segment.source =
                        segment.source.start + range.start..segment.source.end + range.start;
                    let mut here = std::mem::take(&mut loose);
                    while let Some(m) =
                        marks.next_if(|m| m.offset < segment.source.end || i + 1 == count)
                    {
                        here.push(m);
                    }
                    steps.push(Step::Speak {
                        segment,
                        style,
                        marks: here,
                    });
                }
            }
        }
    }
    if !loose.is_empty() {
        steps.push(Step::Pause {
            ms: 0,
            marks: loose,
        });
    }
    Ok(steps)
}

/// What an element that holds its content back does with it at its end.
#[derive(Debug)]
enum Held {
    /// `<say-as>`: read the content so.
    SayAs {
        kind: Option<SayAs>,
        format: Option<String>,
    },
    /// `<sub>`: say the alias instead (`None`: no alias, say the content).
    Sub(Option<String>),
    /// `<phoneme>`: say the phonemes instead (`None`: say the content).
    Phoneme(Option<String>),
    /// `<desc>`, `<meta>`, `<metadata>`, `<lexicon>`: say nothing.
    Drop,
}

/// An element whose content is held back, with what was collected.
#[derive(Debug)]
struct Hold {
    what: Held,
    depth: usize,
    content: String,
    at: (u64, u64),
}

/// One open element.
#[derive(Debug, Clone)]
struct Open {
    style: Style,
    /// Whether its end closes the run (`p`, `s`, `voice`, `speak`).
    boundary: bool,
}

/// The reader's state.
struct Parser<'a> {
    document: &'a str,
    voice: SsmlVoice<'a>,
    limits: &'a Limits,
    locator: Locator<'a>,
    text: String,
    entries: Vec<Entry>,
    diagnostics: Vec<Diagnostic>,
    dropped: usize,
    stack: Vec<Open>,
    elements: usize,
    hold: Option<Hold>,
    /// The open run: its start in `text`, its style, its marks.
    run: Option<(usize, Style, Vec<Mark>)>,
    root_seen: bool,
    root_closed: bool,
    /// Whether the next text needs a space before it (see [`Parser::say_word`]).
    pad: bool,
}

impl<'a> Parser<'a> {
    fn new(document: &'a str, voice: SsmlVoice<'a>, limits: &'a Limits) -> Self {
        Self {
            document,
            voice,
            limits,
            locator: Locator::new(document),
            text: String::new(),
            entries: Vec::new(),
            diagnostics: Vec::new(),
            dropped: 0,
            stack: Vec::new(),
            elements: 0,
            hold: None,
            run: None,
            root_seen: false,
            root_closed: false,
            pad: false,
        }
    }

    fn run(&mut self) -> Result<(), TextError> {
        let mut reader = Reader::from_str(self.document);
        {
            let config = reader.config_mut();
            config.check_end_names = true;
            config.expand_empty_elements = false;
            config.trim_text(false);
            config.allow_unmatched_ends = false;
            config.check_comments = true;
        }
        loop {
            let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(start);
                    return Err(self.malformed(at, format!("not well-formed XML: {e}")));
                }
            };
            match event {
                Event::Eof => break,
                Event::DocType(_) => {
                    return Err(self.refused(
                        start,
                        "a DOCTYPE",
                        "Signet reads no DTD, so no entity can be declared and nothing outside the document is ever read; remove it",
                    ))
                }
                Event::PI(_) => {
                    return Err(self.refused(
                        start,
                        "a processing instruction",
                        "SSML needs none; remove it",
                    ))
                }
                Event::Decl(decl) => {
                    if self.root_seen || !self.entries.is_empty() {
                        return Err(self.malformed(
                            start,
                            "an XML declaration may only open the document".to_owned(),
                        ));
                    }
                    if let Some(Ok(encoding)) = decl.encoding() {
                        if !encoding.eq_ignore_ascii_case(b"utf-8") {
                            return Err(self.malformed(
                                start,
                                "the document must be UTF-8 (declare encoding=\"UTF-8\" or none)"
                                    .to_owned(),
                            ));
                        }
                    }
                }
                Event::Comment(_) => {}
                Event::Start(e) => self.open(&e, start, false)?,
                Event::Empty(e) => self.open(&e, start, true)?,
                Event::End(_) => self.close(),
                Event::Text(t) => {
                    let raw = t
                        .decode()
                        .map_err(|e| self.malformed(start, format!("text is not UTF-8: {e}")))?;
                    self.text_piece(&raw, start)?;
                }
                Event::CData(t) => {
                    let raw = t
                        .decode()
                        .map_err(|e| self.malformed(start, format!("CDATA is not UTF-8: {e}")))?;
                    self.text_piece(&raw, start)?;
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => match &*r {
                            b"amp" => "&".to_owned(),
                            b"lt" => "<".to_owned(),
                            b"gt" => ">".to_owned(),
                            b"apos" => "'".to_owned(),
                            b"quot" => "\"".to_owned(),
                            _ => {
                                return Err(self.refused(
                                    start,
                                    "an entity reference",
                                    "only &amp; &lt; &gt; &apos; &quot; and numeric character references are read; write the text itself",
                                ))
                            }
                        },
                        Err(e) => {
                            return Err(
                                self.malformed(start, format!("bad character reference: {e}"))
                            )
                        }
                    };
                    self.text_piece(&c, start)?;
                }
            }
        }
        if !self.stack.is_empty() {
            return Err(self.malformed(
                self.document.len(),
                "the document ends inside an element: close every element, `</speak>` last"
                    .to_owned(),
            ));
        }
        if !self.root_seen {
            return Err(self.malformed(
                self.document.len(),
                "no <speak> element: an SSML document is one <speak> element".to_owned(),
            ));
        }
        Ok(())
    }

    fn at(&mut self, offset: usize) -> (u64, u64) {
        self.locator.at(offset)
    }

    fn malformed(&mut self, offset: usize, message: String) -> TextError {
        let (line, column) = self.at(offset);
        TextError::SsmlMalformed {
            line,
            column,
            message,
        }
    }

    fn refused(&mut self, offset: usize, what: &'static str, reason: &'static str) -> TextError {
        let (line, column) = self.at(offset);
        TextError::SsmlRefused {
            line,
            column,
            what,
            reason,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        if self.diagnostics.len() < MAX_SSML_DIAGNOSTICS {
            self.diagnostics.push(d);
        } else {
            self.dropped += 1;
        }
    }

    fn style(&self) -> Style {
        self.stack.last().map_or_else(Style::default, |o| o.style)
    }

    /// Text content (decoded), in the current element.
    fn text_piece(&mut self, piece: &str, offset: usize) -> Result<(), TextError> {
        if let Some(hold) = self.hold.as_mut() {
            hold.content.push_str(piece);
            return Ok(());
        }
        if self.stack.is_empty() {
            if piece.trim().is_empty() {
                return Ok(());
            }
            return Err(self.malformed(
                offset,
                "text outside <speak>: put all text inside the one <speak> element".to_owned(),
            ));
        }
        // XML white space is not significant: a line break in the markup is a space,
        // not the end of a sentence.
        let spaced: String = piece
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        self.say(&spaced);
        Ok(())
    }

    /// Appends spoken text in the current style.
    fn say(&mut self, piece: &str) {
        let style = self.style();
        if matches!(&self.run, Some((_, s, _)) if *s != style) {
            self.end_run();
        }
        if self.run.is_none() {
            self.run = Some((self.text.len(), style, Vec::new()));
        }
        // A word that replaced an element's content is kept apart from the text after
        // it, unless that text starts with punctuation.
        if std::mem::take(&mut self.pad) && piece.chars().next().is_some_and(char::is_alphanumeric)
        {
            self.text.push(' ');
        }
        self.text.push_str(piece);
    }

    /// Appends words that replace an element's content (`say-as`, `sub`, `phoneme`),
    /// apart from the word before them.
    fn say_word(&mut self, words: &str) {
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.text.push(' ');
        }
        self.say(words);
        self.pad = true;
    }

    /// Closes the open run, if any, and separates what follows from it.
    fn end_run(&mut self) {
        if let Some((start, style, marks)) = self.run.take() {
            self.entries.push(Entry::Run {
                range: start..self.text.len(),
                style,
                marks,
            });
            self.text.push('\n');
        }
        self.pad = false;
    }

    fn open(&mut self, e: &BytesStart<'_>, offset: usize, empty: bool) -> Result<(), TextError> {
        self.elements += 1;
        if self.elements > self.limits.max_ssml_elements {
            let (line, column) = self.at(offset);
            return Err(TextError::SsmlLimitExceeded {
                limit: "max_ssml_elements",
                max: u64::try_from(self.limits.max_ssml_elements).unwrap_or(u64::MAX),
                line,
                column,
                hint: HINT_ELEMENTS,
            });
        }
        let depth = self.stack.len() + 1;
        if depth > self.limits.max_ssml_depth {
            let (line, column) = self.at(offset);
            return Err(TextError::SsmlLimitExceeded {
                limit: "max_ssml_depth",
                max: u64::try_from(self.limits.max_ssml_depth).unwrap_or(u64::MAX),
                line,
                column,
                hint: HINT_DEPTH,
            });
        }
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attrs = self.attributes(e, offset)?;
        if self.stack.is_empty() {
            if self.root_closed {
                return Err(self.malformed(
                    offset,
                    "a second root element: an SSML document is one <speak> element".to_owned(),
                ));
            }
            if name != "speak" {
                return Err(self.malformed(
                    offset,
                    format!("the root element is <{}>, not <speak>", quote(&name)),
                ));
            }
            self.root_seen = true;
        }
        let at = self.at(offset);
        if self.hold.is_some() {
            // Elements inside say-as, sub, phoneme: their text joins the held content.
            self.report(Diagnostic::SsmlUnknownElement {
                name: quote(&name),
                line: at.0,
                column: at.1,
            });
            if !empty {
                self.stack.push(Open {
                    style: self.style(),
                    boundary: false,
                });
            }
            return Ok(());
        }
        let mut style = self.style();
        let mut boundary = false;
        let mut hold: Option<Held> = None;
        let known: &[&str] = match name.as_str() {
            "speak" => {
                if depth != 1 {
                    self.report(Diagnostic::SsmlUnknownElement {
                        name: "speak (nested)".to_owned(),
                        line: at.0,
                        column: at.1,
                    });
                }
                boundary = true;
                if let Some(lang) = attr(&attrs, "xml:lang") {
                    if !same_language(lang, self.voice.language) {
                        return Err(TextError::SsmlLanguageMismatch {
                            document: quote(lang),
                            voice: self.voice.language.to_owned(),
                        });
                    }
                }
                &[
                    "version",
                    "xml:lang",
                    "xml:base",
                    "xmlns",
                    "xmlns:xsi",
                    "xsi:schemaLocation",
                ]
            }
            "p" | "s" | "lang" => {
                boundary = name != "lang";
                self.check_lang(&attrs, at);
                &["xml:lang"]
            }
            "token" | "w" => &["role"],
            "break" => {
                let mut ms = 500;
                let strength = attr(&attrs, "strength");
                if let Some(s) = strength {
                    match values::break_strength(s) {
                        Some(v) => ms = v,
                        None => self.bad_value("break", "strength", at, "not none, x-weak, weak, medium, strong or x-strong; medium (500 ms) used"),
                    }
                }
                if let Some(t) = attr(&attrs, "time") {
                    match values::break_time(t) {
                        Some((v, capped)) => {
                            ms = v;
                            if capped {
                                self.bad_value(
                                    "break",
                                    "time",
                                    at,
                                    "longer than one minute; one minute used",
                                );
                            }
                        }
                        None => self.bad_value(
                            "break",
                            "time",
                            at,
                            "not a duration such as 500ms or 2s; the strength (or 500 ms) used",
                        ),
                    }
                }
                self.end_run();
                self.entries.push(Entry::Pause { ms });
                &["time", "strength"]
            }
            "prosody" => {
                if let Some(r) = attr(&attrs, "rate") {
                    match values::rate(r) {
                        Some(v) => {
                            let wanted = style.rate * v;
                            style.rate = wanted.clamp(MIN_RATE, MAX_RATE);
                            if style.rate != wanted {
                                self.bad_value("prosody", "rate", at, "outside 0.25 to 4 times the voice's rate; the nearest bound used");
                            }
                        }
                        None => self.bad_value("prosody", "rate", at, "not x-slow, slow, medium, fast, x-fast, default, a percentage or a number; ignored"),
                    }
                }
                if let Some(v) = attr(&attrs, "volume") {
                    match values::volume(v) {
                        Some(Some(db)) => {
                            style.gain = (style.gain * db_to_gain(db)).min(db_to_gain(MAX_GAIN_DB));
                        }
                        Some(None) => style.gain = 0.0,
                        None => self.bad_value("prosody", "volume", at, "not silent, x-soft, soft, medium, loud, x-loud, default or a change in dB such as +6dB; ignored"),
                    }
                }
                for a in ["pitch", "range", "contour", "duration"] {
                    if attr(&attrs, a).is_some() {
                        self.report(Diagnostic::SsmlUnsupported {
                            what: match a {
                                "pitch" => "prosody pitch",
                                "range" => "prosody range",
                                "contour" => "prosody contour",
                                _ => "prosody duration",
                            },
                            line: at.0,
                            column: at.1,
                            reason: "the voice's model has no control for it; ignored",
                        });
                    }
                }
                &["rate", "volume", "pitch", "range", "contour", "duration"]
            }
            "emphasis" => {
                let (rate, db) = match attr(&attrs, "level").unwrap_or("moderate") {
                    "strong" => (0.85, 3.0),
                    "moderate" => (0.92, 2.0),
                    "reduced" => (1.1, -3.0),
                    "none" => (1.0, 0.0),
                    _ => {
                        self.bad_value(
                            "emphasis",
                            "level",
                            at,
                            "not strong, moderate, reduced or none; moderate used",
                        );
                        (0.92, 2.0)
                    }
                };
                style.rate = (style.rate * rate).clamp(MIN_RATE, MAX_RATE);
                style.gain = (style.gain * db_to_gain(db)).min(db_to_gain(MAX_GAIN_DB));
                &["level"]
            }
            "say-as" => {
                let kind = attr(&attrs, "interpret-as").and_then(SayAs::from_attribute);
                if kind.is_none() {
                    self.bad_value(
                        "say-as",
                        "interpret-as",
                        at,
                        "missing or not one Signet reads; the content is read as ordinary text",
                    );
                }
                hold = Some(Held::SayAs {
                    kind,
                    format: attr(&attrs, "format").map(str::to_owned),
                });
                &["interpret-as", "format", "detail"]
            }
            "sub" => {
                let alias = attr(&attrs, "alias").map(str::to_owned);
                if alias.is_none() {
                    self.bad_value("sub", "alias", at, "missing; the content is spoken");
                }
                hold = Some(Held::Sub(alias));
                &["alias"]
            }
            "phoneme" => {
                let alphabet = attr(&attrs, "alphabet").unwrap_or("ipa");
                let ph = attr(&attrs, "ph");
                let phonemes = if !alphabet.eq_ignore_ascii_case("ipa") {
                    self.report(Diagnostic::SsmlUnsupported {
                        what: "a phoneme alphabet other than ipa",
                        line: at.0,
                        column: at.1,
                        reason: "only alphabet=\"ipa\" is read; the content is spoken",
                    });
                    None
                } else if let Some(p) = ph.filter(|p| !p.trim().is_empty()) {
                    if p.contains("[[") || p.contains("]]") {
                        self.bad_value(
                            "phoneme",
                            "ph",
                            at,
                            "holds `[[` or `]]`; the content is spoken",
                        );
                        None
                    } else {
                        Some(p.trim().to_owned())
                    }
                } else {
                    self.bad_value(
                        "phoneme",
                        "ph",
                        at,
                        "missing or empty; the content is spoken",
                    );
                    None
                };
                hold = Some(Held::Phoneme(phonemes));
                &["alphabet", "ph"]
            }
            "voice" => {
                boundary = true;
                match attr(&attrs, "name") {
                    Some(n) if n == self.voice.name => {}
                    Some(n) => self.report(Diagnostic::SsmlVoiceUnavailable {
                        name: quote(n),
                        line: at.0,
                        column: at.1,
                    }),
                    None => self.report(Diagnostic::SsmlUnsupported {
                        what: "a voice chosen by gender, age or variant",
                        line: at.0,
                        column: at.1,
                        reason: "only name is read; the voice speaking goes on",
                    }),
                }
                self.check_lang(&attrs, at);
                &[
                    "name",
                    "gender",
                    "age",
                    "variant",
                    "languages",
                    "xml:lang",
                    "required",
                    "ordering",
                    "onvoicefailure",
                ]
            }
            "mark" => {
                match attr(&attrs, "name") {
                    Some(n) => {
                        let mark = Mark {
                            name: n.to_owned(),
                            offset: self.text.len(),
                        };
                        match self.run.as_mut() {
                            Some((_, _, marks)) => marks.push(mark),
                            None => self.entries.push(Entry::Mark(mark)),
                        }
                    }
                    None => self.bad_value("mark", "name", at, "missing; the mark is left out"),
                }
                &["name"]
            }
            "audio" => {
                self.report(Diagnostic::SsmlUnsupported {
                    what: "<audio>",
                    line: at.0,
                    column: at.1,
                    reason: "Signet never fetches or reads a file that input names; the element's fallback text is spoken",
                });
                &[
                    "src",
                    "fetchtimeout",
                    "fetchhint",
                    "maxage",
                    "maxstale",
                    "clipBegin",
                    "clipEnd",
                    "repeatCount",
                    "repeatDur",
                    "soundLevel",
                    "speed",
                ]
            }
            "lexicon" | "meta" | "metadata" | "desc" => {
                if name == "lexicon" {
                    self.report(Diagnostic::SsmlUnsupported {
                        what: "<lexicon>",
                        line: at.0,
                        column: at.1,
                        reason: "Signet never fetches a lexicon a document names; give it with --lexicon or the server's config",
                    });
                }
                hold = Some(Held::Drop);
                &[]
            }
            _ => {
                self.report(Diagnostic::SsmlUnknownElement {
                    name: quote(&name),
                    line: at.0,
                    column: at.1,
                });
                &[]
            }
        };
        let checks_attributes = !matches!(name.as_str(), "lexicon" | "meta" | "metadata" | "desc")
            && is_known_element(&name);
        if checks_attributes {
            for (key, _) in &attrs {
                if !known.contains(&key.as_str()) && !key.starts_with("xmlns:") {
                    self.report(Diagnostic::SsmlUnknownAttribute {
                        element: quote(&name),
                        attribute: quote(key),
                        line: at.0,
                        column: at.1,
                    });
                }
            }
        }
        if boundary {
            self.end_run();
        }
        if let Some(what) = hold {
            if empty {
                self.finish_hold(Hold {
                    what,
                    depth,
                    content: String::new(),
                    at,
                });
            } else {
                self.hold = Some(Hold {
                    what,
                    depth,
                    content: String::new(),
                    at,
                });
            }
        }
        if !empty {
            self.stack.push(Open { style, boundary });
        } else if depth == 1 {
            self.root_closed = true;
        }
        Ok(())
    }

    fn close(&mut self) {
        let depth = self.stack.len();
        if self.hold.as_ref().is_some_and(|h| h.depth == depth) {
            if let Some(hold) = self.hold.take() {
                self.finish_hold(hold);
            }
        }
        if let Some(open) = self.stack.pop() {
            if open.boundary {
                self.end_run();
            }
        }
        if self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    fn finish_hold(&mut self, hold: Hold) {
        let content = hold.content;
        match hold.what {
            Held::Drop => {}
            Held::Sub(Some(alias)) => self.say_word(&alias),
            Held::Phoneme(Some(ph)) => self.say_word(&format!("[[ {ph} ]]")),
            Held::Sub(None) | Held::Phoneme(None) => self.say(&content),
            Held::SayAs { kind, format } => {
                let read = kind.and_then(|k| say_as(k, format.as_deref(), &content));
                match read {
                    Some(words) => self.say_word(&words),
                    None => {
                        if kind.is_some() && !content.trim().is_empty() {
                            self.report(Diagnostic::SsmlBadValue {
                                element: "say-as",
                                attribute: "interpret-as",
                                line: hold.at.0,
                                column: hold.at.1,
                                reason:
                                    "the content is not of that kind; it is read as ordinary text",
                            });
                        }
                        self.say(&content);
                    }
                }
            }
        }
    }

    fn bad_value(
        &mut self,
        element: &'static str,
        attribute: &'static str,
        at: (u64, u64),
        reason: &'static str,
    ) {
        self.report(Diagnostic::SsmlBadValue {
            element,
            attribute,
            line: at.0,
            column: at.1,
            reason,
        });
    }

    fn check_lang(&mut self, attrs: &[(String, String)], at: (u64, u64)) {
        if let Some(lang) = attr(attrs, "xml:lang") {
            if !same_language(lang, self.voice.language) {
                self.report(Diagnostic::SsmlUnsupported {
                    what: "a change of language",
                    line: at.0,
                    column: at.1,
                    reason: "the voice speaks one language; the text is spoken by it",
                });
            }
        }
    }

    /// The element's attributes, decoded, each checked against the size limit.
    fn attributes(
        &mut self,
        e: &BytesStart<'_>,
        offset: usize,
    ) -> Result<Vec<(String, String)>, TextError> {
        let mut out = Vec::new();
        for a in e.attributes().with_checks(true) {
            let a = match a {
                Ok(a) => a,
                Err(err) => return Err(self.malformed(offset, format!("bad attribute: {err}"))),
            };
            if a.value.len() > self.limits.max_ssml_attribute_bytes {
                let (line, column) = self.at(offset);
                return Err(TextError::SsmlLimitExceeded {
                    limit: "max_ssml_attribute_bytes",
                    max: u64::try_from(self.limits.max_ssml_attribute_bytes).unwrap_or(u64::MAX),
                    line,
                    column,
                    hint: HINT_ATTRIBUTE,
                });
            }
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
                Ok(v) => v.into_owned(),
                Err(_) => {
                    return Err(self.refused(
                        offset,
                        "an entity reference in an attribute",
                        "only &amp; &lt; &gt; &apos; &quot; and numeric character references are read; write the value itself",
                    ))
                }
            };
            out.push((key, value));
        }
        Ok(out)
    }
}

fn is_known_element(name: &str) -> bool {
    matches!(
        name,
        "speak"
            | "p"
            | "s"
            | "lang"
            | "token"
            | "w"
            | "break"
            | "prosody"
            | "emphasis"
            | "say-as"
            | "sub"
            | "phoneme"
            | "voice"
            | "mark"
            | "audio"
    )
}

fn attr<'v>(attrs: &'v [(String, String)], key: &str) -> Option<&'v str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Whether two language codes share their primary subtag (`en-GB` and `en_US` do).
fn same_language(a: &str, b: &str) -> bool {
    let primary = |s: &str| {
        s.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    primary(a) == primary(b)
}

/// A name from the document as a diagnostic quotes it: control, bidirectional and other
/// invisible characters escaped, at most [`MAX_QUOTED_CHARS`] characters.
fn quote(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Line and column of byte offsets, walked forward so that a document's positions cost
/// one pass in all.
struct Locator<'a> {
    document: &'a str,
    offset: usize,
    line: u64,
    column: u64,
}

impl<'a> Locator<'a> {
    fn new(document: &'a str) -> Self {
        Self {
            document,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    fn at(&mut self, offset: usize) -> (u64, u64) {
        let offset = offset.min(self.document.len());
        if offset < self.offset {
            *self = Self::new(self.document);
        }
        let piece = self
            .document
            .get(self.offset..offset)
            .or_else(|| {
                // Not on a character boundary: walk to the one before.
                let mut o = offset;
                while o > self.offset && !self.document.is_char_boundary(o) {
                    o -= 1;
                }
                self.document.get(self.offset..o)
            })
            .unwrap_or("");
        for c in piece.chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.offset += piece.len();
        (self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> SsmlVoice<'static> {
        SsmlVoice {
            name: "en_US-joe-medium",
            language: "en_US",
            normalization: Normalization::English,
            lexicons: &NO_LEXICONS,
        }
    }

    static NO_LEXICONS: Lexicons = Lexicons::EMPTY;

    #[test]
    fn looks_like_ssml_only_for_speak_documents() {
        assert!(looks_like_ssml("  <speak>hi</speak>"));
        assert!(looks_like_ssml("\u{feff}<?xml version=\"1.0\"?><speak/>"));
        assert!(!looks_like_ssml("<speaker> is a word"));
        assert!(!looks_like_ssml("Hello <speak>"));
    }

    #[test]
    fn locator_counts_lines_and_characters() {
        let mut l = Locator::new("ab\ncé\nx");
        assert_eq!(l.at(0), (1, 1));
        assert_eq!(l.at(4), (2, 2));
        assert_eq!(l.at(7), (3, 1));
        assert_eq!(l.at(1), (1, 2));
    }

    #[test]
    fn marks_and_breaks_become_steps() -> Result<(), TextError> {
        let p = prepare_ssml(
            "<speak>One <mark name=\"a\"/>two.<break time=\"250ms\"/>Three.<mark name=\"end\"/></speak>",
            voice(),
            &Limits::default(),
        )?;
        assert_eq!(p.steps.len(), 3, "{:?}", p.steps);
        assert!(matches!(p.steps.get(1), Some(Step::Pause { ms: 250, marks }) if marks.is_empty()));
        match p.steps.first() {
            Some(Step::Speak { marks, .. }) => {
                assert_eq!(marks.len(), 1);
                assert_eq!(marks.first().map(|m| m.offset), Some(4));
            }
            other => unreachable!("{other:?}"),
        }
        assert!(matches!(p.steps.get(2), Some(Step::Speak { marks, .. }) if marks.len() == 1));
        Ok(())
    }
}
