//! The Unicode policy: what the frontend does to text before anything reads it.
//!
//! [`sanitize`] is a pure function of its input, linear in its length, and never fails:
//! odd text is not an error, so everything it changes is reported as a [`Diagnostic`]
//! with a count (diagnostics never hold the text itself). In order:
//!
//! 1. **Line ends.** CR LF and a lone CR become LF.
//! 2. **Controls.** C0 and C1 control characters are removed, except line feed and tab
//!    ([`Diagnostic::ControlCharactersStripped`]).
//! 3. **Bidirectional controls.** Embeddings and overrides (U+202A..U+202E) and isolates
//!    (U+2066..U+2069) are removed ([`Diagnostic::BidiControlsStripped`]): they change how
//!    text looks, not what it says, and are a known way to make displayed and spoken text
//!    differ.
//! 4. **Zero-width characters.** U+200B..U+200D (zero-width space, non-joiner, joiner),
//!    U+2060 (word joiner) and U+FEFF (byte-order mark) are removed
//!    ([`Diagnostic::ZeroWidthStripped`]).
//! 5. **Unassigned and private-use code points.** Code points with general category `Cn`
//!    (unassigned in the Unicode version of the tables this crate is built with, which
//!    includes the noncharacters) and `Co` (private use) are removed
//!    ([`Diagnostic::UnassignedStripped`], [`Diagnostic::PrivateUseStripped`]): nothing
//!    can say them.
//! 6. **Compatibility folding.** A chosen set of compatibility characters whose plain form
//!    is what a reader would say is replaced by its NFKC form
//!    ([`Diagnostic::CompatibilityFolded`]): full-width ASCII letters, digits and
//!    punctuation (U+FF01..U+FF5E), the ideographic space (U+3000), Latin ligatures
//!    (U+FB00..U+FB06, e.g. "ﬁ" → "fi") and superscript and subscript digits
//!    ("x²" → "x2"). Other compatibility characters keep their form: full NFKC would
//!    change meaning elsewhere (e.g. "½" → "1⁄2", "™" → "TM").
//! 7. **NFC.** The text is put in Normalization Form C.
//! 8. **Combining-mark floods.** At most [`MAX_COMBINING_MARKS`] combining marks are kept
//!    after one base character; the rest are dropped
//!    ([`Diagnostic::CombiningMarksDropped`]). This bounds "Zalgo" text, which otherwise
//!    costs work downstream for no speech. (Long runs of marks are already cut to a few
//!    before NFC, so that normalization never reorders a long run.)
//!
//! The result is stable: `sanitize` of its own output changes nothing.

use std::sync::LazyLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::error::Diagnostic;

/// Most combining marks kept after one base character.
pub const MAX_COMBINING_MARKS: usize = 3;

/// Combining marks kept in a row before normalization. Floods are cut here already so
/// that NFC, which reorders each run of marks, never sees a long one.
const MAX_MARKS_BEFORE_NFC: usize = 4 * MAX_COMBINING_MARKS;

/// Sorted, disjoint ranges of unassigned code points (general category `Cn`).
static UNASSIGNED: LazyLock<Vec<(char, char)>> = LazyLock::new(|| class_ranges(r"\p{Cn}"));

/// The ranges of a Unicode property class, from `regex-syntax`'s tables. Empty if the
/// class cannot be built (it always can; this keeps the crate free of panics).
fn class_ranges(pattern: &str) -> Vec<(char, char)> {
    use regex_syntax::hir::{Class, HirKind};
    let Ok(hir) = regex_syntax::ParserBuilder::new().build().parse(pattern) else {
        return Vec::new();
    };
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        _ => Vec::new(),
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    let idx = ranges.partition_point(|&(_, end)| end < c);
    ranges.get(idx).is_some_and(|&(start, _)| start <= c)
}

/// Whether `c` is unassigned (general category `Cn`, noncharacters included).
#[must_use]
pub fn is_unassigned(c: char) -> bool {
    in_ranges(&UNASSIGNED, c)
}

/// Whether `c` is a private-use code point (general category `Co`).
#[must_use]
pub fn is_private_use(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

/// Whether `c` is a bidirectional embedding, override or isolate control.
#[must_use]
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is one of the zero-width characters the policy removes.
#[must_use]
pub fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Whether `c` is a compatibility character the policy folds to its NFKC form.
#[must_use]
pub fn is_folded_compatibility(c: char) -> bool {
    matches!(
        c,
        '\u{FF01}'..='\u{FF5E}'
            | '\u{3000}'
            | '\u{FB00}'..='\u{FB06}'
            | '\u{00B2}'
            | '\u{00B3}'
            | '\u{00B9}'
            | '\u{2070}'
            | '\u{2074}'..='\u{2079}'
            | '\u{2080}'..='\u{2089}'
    )
}

#[derive(Default)]
struct Counts {
    controls: usize,
    bidi: usize,
    zero_width: usize,
    unassigned: usize,
    private_use: usize,
    folded: usize,
    marks_dropped: usize,
}

/// Applies the Unicode policy (see the [module docs](self)) and reports what it changed.
#[must_use]
pub fn sanitize(text: &str) -> (String, Vec<Diagnostic>) {
    let mut counts = Counts::default();
    let mut cleaned = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut run = 0usize;
    while let Some(c) = chars.next() {
        if is_combining_mark(c) {
            run += 1;
            if run > MAX_MARKS_BEFORE_NFC {
                counts.marks_dropped += 1;
                continue;
            }
        } else {
            run = 0;
        }
        if c == '\r' {
            if chars.peek() != Some(&'\n') {
                cleaned.push('\n');
            }
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            counts.controls += 1;
        } else if is_bidi_control(c) {
            counts.bidi += 1;
        } else if is_zero_width(c) {
            counts.zero_width += 1;
        } else if is_private_use(c) {
            counts.private_use += 1;
        } else if is_unassigned(c) {
            counts.unassigned += 1;
        } else if is_folded_compatibility(c) {
            counts.folded += 1;
            cleaned.extend(std::iter::once(c).nfkc());
        } else {
            cleaned.push(c);
        }
    }

    let mut out = String::with_capacity(cleaned.len());
    let mut marks = 0usize;
    for c in cleaned.nfc() {
        if is_combining_mark(c) {
            marks += 1;
            if marks > MAX_COMBINING_MARKS {
                counts.marks_dropped += 1;
                continue;
            }
        } else {
            marks = 0;
        }
        out.push(c);
    }

    let mut diagnostics = Vec::new();
    let mut report = |count: usize, d: fn(usize) -> Diagnostic| {
        if count > 0 {
            diagnostics.push(d(count));
        }
    };
    report(counts.controls, |count| {
        Diagnostic::ControlCharactersStripped { count }
    });
    report(counts.bidi, |count| Diagnostic::BidiControlsStripped {
        count,
    });
    report(counts.zero_width, |count| Diagnostic::ZeroWidthStripped {
        count,
    });
    report(counts.unassigned, |count| Diagnostic::UnassignedStripped {
        count,
    });
    report(counts.private_use, |count| Diagnostic::PrivateUseStripped {
        count,
    });
    report(counts.folded, |count| Diagnostic::CompatibilityFolded {
        count,
    });
    report(counts.marks_dropped, |count| {
        Diagnostic::CombiningMarksDropped {
            count,
            max_per_base: MAX_COMBINING_MARKS,
        }
    });
    (out, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged() {
        let (out, diags) = sanitize("Hello, world.\n\tNext line.");
        assert_eq!(out, "Hello, world.\n\tNext line.");
        assert!(diags.is_empty());
    }

    #[test]
    fn line_ends_become_lf() {
        assert_eq!(sanitize("a\r\nb\rc").0, "a\nb\nc");
    }

    #[test]
    fn controls_are_stripped_and_counted() {
        let (out, diags) = sanitize("a\u{0}b\u{7}c\u{85}d\u{9F}");
        assert_eq!(out, "abcd");
        assert_eq!(
            diags,
            vec![Diagnostic::ControlCharactersStripped { count: 4 }]
        );
    }

    #[test]
    fn bidi_and_zero_width_are_stripped() {
        let (out, diags) =
            sanitize("\u{202E}abc\u{202C} \u{2066}x\u{2069} z\u{200B}w\u{FEFF}\u{2060}\u{200D}");
        assert_eq!(out, "abc x zw");
        assert_eq!(
            diags,
            vec![
                Diagnostic::BidiControlsStripped { count: 4 },
                Diagnostic::ZeroWidthStripped { count: 4 },
            ]
        );
    }

    #[test]
    fn unassigned_and_private_use_are_stripped() {
        let (out, diags) = sanitize("a\u{E000}b\u{10FFFD}c\u{0378}d\u{FFFF}e\u{FDD0}");
        assert_eq!(out, "abcde");
        assert_eq!(
            diags,
            vec![
                Diagnostic::UnassignedStripped { count: 3 },
                Diagnostic::PrivateUseStripped { count: 2 },
            ]
        );
    }

    #[test]
    fn compatibility_characters_are_folded() {
        let (out, diags) = sanitize("Ｈｅｌｌｏ １２３ ﬁne x² H₂O");
        assert_eq!(out, "Hello 123 fine x2 H2O");
        assert_eq!(diags, vec![Diagnostic::CompatibilityFolded { count: 11 }]);
        // Others keep their form.
        assert_eq!(sanitize("½ ™").0, "½ ™");
    }

    #[test]
    fn text_is_nfc() {
        let (out, diags) = sanitize("e\u{301}");
        assert_eq!(out, "\u{E9}");
        assert!(diags.is_empty());
    }

    #[test]
    fn combining_floods_are_bounded() {
        let zalgo = format!("a{}b", "\u{300}\u{301}\u{302}\u{303}\u{304}".repeat(4));
        let (out, diags) = sanitize(&zalgo);
        assert_eq!(out.chars().count(), 2 + MAX_COMBINING_MARKS);
        assert!(out.starts_with('\u{E0}'), "first mark composed: {out:?}");
        assert_eq!(
            diags,
            vec![Diagnostic::CombiningMarksDropped {
                count: 16,
                max_per_base: MAX_COMBINING_MARKS
            }]
        );
    }

    #[test]
    fn diagnostics_describe_counts_without_text() {
        let (_, diags) =
            sanitize("\u{202E}\u{200B}\u{E000}\u{378}ﬁ\u{0}a\u{300}\u{301}\u{302}\u{303}\u{304}");
        assert_eq!(diags.len(), 7);
        for d in &diags {
            let msg = d.to_string();
            assert!(msg.contains('1') || msg.contains('2'), "{msg}");
            assert!(!msg.contains('ﬁ'), "{msg}");
        }
    }

    #[test]
    fn sanitize_is_stable() {
        let input = "\u{202E}Ｈｉ\u{200B} e\u{301}\u{302}\u{303}\u{304}\u{305} \u{E000}x";
        let (once, _) = sanitize(input);
        let (twice, diags) = sanitize(&once);
        assert_eq!(once, twice);
        assert!(diags.is_empty());
    }
}
