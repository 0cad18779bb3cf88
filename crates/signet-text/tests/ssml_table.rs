//! SSML, table-driven (`tests/data/ssml.tsv`: a document, then what `prepare_ssml` makes
//! of it) and hostile documents (each refused with its reason, in bounded time).
//!
//! A row's expected side renders the steps joined by ` | `: a segment as the text (and
//! `[[phonemes]]`) that reaches the phonemizer, with `{rate=..}`/`{gain=..dB}` when its
//! style is not plain and `#mark+offset` for marks (offset in bytes from the segment's
//! start); a break as `break MS`. Then each diagnostic as ` ! kind:detail`. A refused
//! document is `error KIND`.

use std::time::{Duration, Instant};

use signet_text::ssml::{Step, Style};
use signet_text::{
    prepare_ssml, prepare_ssml_bytes, Diagnostic, Lexicons, Limits, Normalization, SegmentPart,
    SsmlVoice, TextError,
};

const TABLE: &str = include_str!("data/ssml.tsv");

fn voice() -> SsmlVoice<'static> {
    SsmlVoice {
        name: "en_US-joe-medium",
        language: "en_US",
        normalization: Normalization::English,
        lexicons: &NO_LEXICONS,
    }
}

static NO_LEXICONS: Lexicons = Lexicons::EMPTY;

fn style(s: &Style) -> String {
    let mut out = String::new();
    if s.rate != 1.0 {
        out.push_str(&format!("{{rate={:.2}}}", s.rate));
    }
    if s.gain != 1.0 {
        if s.gain == 0.0 {
            out.push_str("{gain=mute}");
        } else {
            out.push_str(&format!("{{gain={:+.1}dB}}", 20.0 * s.gain.log10()));
        }
    }
    out
}

fn error_kind(e: &TextError) -> String {
    match e {
        TextError::SsmlMalformed { .. } => "malformed".into(),
        TextError::SsmlRefused { what, .. } => format!("refused:{what}"),
        TextError::SsmlLimitExceeded { limit, .. } => format!("limit:{limit}"),
        TextError::LimitExceeded { limit, .. } => format!("limit:{limit}"),
        TextError::SsmlLanguageMismatch { .. } => "language".into(),
        TextError::NothingToSpeak { .. } => "nothing".into(),
        TextError::InvalidUtf8 { .. } => "utf8".into(),
        other => format!("other:{other}"),
    }
}

fn diagnostic(d: &Diagnostic) -> Option<String> {
    Some(match d {
        Diagnostic::SsmlUnknownElement { name, .. } => format!("unknown-element:{name}"),
        Diagnostic::SsmlUnknownAttribute {
            element, attribute, ..
        } => format!("unknown-attribute:{element}/{attribute}"),
        Diagnostic::SsmlBadValue {
            element, attribute, ..
        } => format!("bad-value:{element}/{attribute}"),
        Diagnostic::SsmlUnsupported { what, .. } => format!("unsupported:{what}"),
        Diagnostic::SsmlVoiceUnavailable { name, .. } => format!("voice:{name}"),
        Diagnostic::SsmlDiagnosticsCapped { count } => format!("capped:{count}"),
        Diagnostic::Normalized { .. } => return None,
        other => format!("{other:?}"),
    })
}

/// What `prepare_ssml` makes of a document, rendered as the table writes it.
fn render(input: &str) -> String {
    let p = match prepare_ssml(input, voice(), &Limits::default()) {
        Ok(p) => p,
        Err(e) => return format!("error {}", error_kind(&e)),
    };
    let mut steps = Vec::new();
    for step in &p.steps {
        match step {
            Step::Speak {
                segment,
                style: s,
                marks,
            } => {
                let mut parts = Vec::new();
                for part in &segment.parts {
                    match part {
                        SegmentPart::Text(t) => {
                            let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                            if !t.is_empty() {
                                parts.push(t);
                            }
                        }
                        SegmentPart::Phonemes(ph) => parts.push(format!("[[{ph}]]")),
                        _ => parts.push("?".into()),
                    }
                }
                let mut out = format!("{}{}", style(s), parts.join(" "));
                for m in marks {
                    out.push_str(&format!(
                        " #{}+{}",
                        m.name,
                        m.offset.saturating_sub(segment.source.start)
                    ));
                }
                steps.push(out);
            }
            Step::Pause { ms, marks } => {
                let mut out = format!("break {ms}");
                for m in marks {
                    out.push_str(&format!(" #{}", m.name));
                }
                steps.push(out);
            }
            _ => steps.push("?".into()),
        }
    }
    let mut out = steps.join(" | ");
    for d in p.diagnostics.iter().filter_map(diagnostic) {
        out.push_str(" ! ");
        out.push_str(&d);
    }
    out
}

fn cases() -> Vec<(usize, String, String)> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with("//") && !l.is_empty())
        .map(|(i, l)| {
            let (input, expected) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}: no tab in {l:?}", i + 1));
            (i + 1, input.replace("\\n", "\n"), expected.to_owned())
        })
        .collect()
}

#[test]
fn ssml_table_has_enough_cases() {
    assert!(cases().len() >= 150, "only {} cases", cases().len());
}

#[test]
fn ssml_table_cases_read_as_expected() {
    let mut failures = Vec::new();
    for (line, input, expected) in cases() {
        let got = render(&input);
        if got != expected {
            failures.push(format!("{line}: {input}\t{got}\n   (expected {expected})"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A hostile document's error, and that it came back quickly.
fn refuse(document: &str, limits: &Limits) -> TextError {
    let started = Instant::now();
    let result = prepare_ssml(document, voice(), limits);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    match result {
        Err(e) => e,
        Ok(p) => panic!("accepted: {:?}", p.steps.len()),
    }
}

#[test]
fn ssml_billion_laughs_is_refused_at_the_doctype() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE speak [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        doc.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!(
                "&lol{};",
                if i == 1 {
                    String::new()
                } else {
                    (i - 1).to_string()
                }
            )
            .repeat(10)
        ));
    }
    doc.push_str("]>\n<speak>&lol9;</speak>");
    let e = refuse(&doc, &Limits::default());
    assert!(
        matches!(
            e,
            TextError::SsmlRefused {
                what: "a DOCTYPE",
                line: 2,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("line 2, column 1"), "{e}");
}

#[test]
fn ssml_external_entities_are_never_read() {
    let doc = "<!DOCTYPE speak [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><speak>&xxe;</speak>";
    assert!(matches!(
        refuse(doc, &Limits::default()),
        TextError::SsmlRefused {
            what: "a DOCTYPE",
            ..
        }
    ));
    // Without a DOCTYPE the reference names nothing declared: refused, not looked up.
    let e = refuse("<speak>a &xxe; b</speak>", &Limits::default());
    assert!(
        matches!(
            e,
            TextError::SsmlRefused {
                what: "an entity reference",
                line: 1,
                column: 10,
                ..
            }
        ),
        "{e:?}"
    );
    let e = refuse(
        "<speak><sub alias=\"&xxe;\">x</sub></speak>",
        &Limits::default(),
    );
    assert!(matches!(e, TextError::SsmlRefused { .. }), "{e:?}");
    let doc = "<!DOCTYPE speak SYSTEM \"http://127.0.0.1:9/x.dtd\"><speak>x</speak>";
    assert!(matches!(
        refuse(doc, &Limits::default()),
        TextError::SsmlRefused { .. }
    ));
}

#[test]
fn ssml_processing_instructions_are_refused() {
    let e = refuse(
        "<speak><?xml-stylesheet href=\"x\"?>hi</speak>",
        &Limits::default(),
    );
    assert!(
        matches!(
            e,
            TextError::SsmlRefused {
                what: "a processing instruction",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn ssml_ten_thousand_deep_nesting_stops_at_the_depth_limit() {
    let doc = format!(
        "<speak>{}x{}</speak>",
        "<s>".repeat(10_000),
        "</s>".repeat(10_000)
    );
    let e = refuse(&doc, &Limits::default());
    assert!(
        matches!(
            e,
            TextError::SsmlLimitExceeded {
                limit: "max_ssml_depth",
                max: 32,
                line: 1,
                ..
            }
        ),
        "{e:?}"
    );
    // Raised limits: the reader keeps its own stack, so depth costs no recursion.
    let limits = Limits::default()
        .with_max_ssml_depth(20_000)
        .with_max_ssml_elements(20_000);
    let doc = format!(
        "<speak>{}x{}</speak>",
        "<prosody>".repeat(10_000),
        "</prosody>".repeat(10_000)
    );
    let p = prepare_ssml(&doc, voice(), &limits).unwrap();
    assert_eq!(p.steps.len(), 1);
    // Element count, apart from depth.
    let doc = format!("<speak>{}</speak>", "<break time=\"0ms\"/>".repeat(10_001));
    let e = refuse(&doc, &Limits::default().with_max_input_bytes(1 << 20));
    assert!(
        matches!(
            e,
            TextError::SsmlLimitExceeded {
                limit: "max_ssml_elements",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn ssml_ten_megabyte_attributes_are_refused() {
    let doc = format!(
        "<speak><sub alias=\"{}\">x</sub></speak>",
        "a".repeat(10 << 20)
    );
    assert!(matches!(
        refuse(&doc, &Limits::default()),
        TextError::LimitExceeded {
            limit: "max_input_bytes",
            ..
        }
    ));
    let raised = Limits::default()
        .with_max_input_bytes(16 << 20)
        .with_max_chars(16 << 20);
    let e = refuse(&doc, &raised);
    assert!(
        matches!(
            e,
            TextError::SsmlLimitExceeded {
                limit: "max_ssml_attribute_bytes",
                max: 4096,
                line: 1,
                column: 8,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn ssml_invalid_utf8_names_the_offset() {
    let bytes = b"<speak>caf\xC3</speak>";
    assert!(matches!(
        prepare_ssml_bytes(bytes, voice(), &Limits::default()),
        Err(TextError::InvalidUtf8 { offset: 10 })
    ));
}

#[test]
fn ssml_unclosed_and_mismatched_tags_name_line_and_column() {
    let e = refuse("<speak>\n<s>Hello", &Limits::default());
    assert!(
        matches!(e, TextError::SsmlMalformed { line: 2, .. }),
        "{e:?}"
    );
    let e = refuse("<speak>\n  <s>Hello</p></speak>", &Limits::default());
    assert!(matches!(e, TextError::SsmlMalformed { line: 2, .. }), "{e}");
    let e = refuse("<speak><s>Hello</speak>", &Limits::default());
    assert!(matches!(e, TextError::SsmlMalformed { .. }), "{e}");
}

#[test]
fn ssml_audio_is_never_fetched_and_its_fallback_is_spoken() {
    let p = prepare_ssml(
        "<speak><audio src=\"file:///etc/passwd\">a cat</audio></speak>",
        voice(),
        &Limits::default(),
    )
    .unwrap();
    assert!(p.diagnostics.iter().any(|d| matches!(
        d,
        Diagnostic::SsmlUnsupported {
            what: "<audio>",
            line: 1,
            column: 8,
            ..
        }
    )));
    assert_eq!(p.text.trim(), "a cat");
}

#[test]
fn ssml_every_truncation_of_a_document_is_an_answer() {
    let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<speak version=\"1.1\" xml:lang=\"en-US\"><p><s>It is <say-as interpret-as=\"date\" format=\"mdy\">12/25/2024</say-as>.</s><s><prosody rate=\"slow\" volume=\"+3dB\">Slow &amp; loud</prosody><break time=\"300ms\"/><mark name=\"m\"/><phoneme alphabet=\"ipa\" ph=\"həˈloʊ\">hello</phoneme> <sub alias=\"World Wide Web\">WWW</sub>&#33;</s></p></speak>";
    for cut in 0..=doc.len() {
        let Some(prefix) = doc.get(..cut) else {
            continue;
        };
        let _ = prepare_ssml(prefix, voice(), &Limits::default());
    }
    assert!(prepare_ssml(doc, voice(), &Limits::default()).is_ok());
}

#[test]
fn ssml_diagnostics_are_capped() {
    let doc = format!("<speak>{}</speak>", "<x>a</x>".repeat(150));
    let p = prepare_ssml(&doc, voice(), &Limits::default()).unwrap();
    let listed = p
        .diagnostics
        .iter()
        .filter(|d| matches!(d, Diagnostic::SsmlUnknownElement { .. }))
        .count();
    assert_eq!(listed, signet_text::ssml::MAX_SSML_DIAGNOSTICS);
    assert!(p
        .diagnostics
        .contains(&Diagnostic::SsmlDiagnosticsCapped { count: 50 }));
}
