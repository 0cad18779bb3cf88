//! Input guard: the first thing every text passes through.
//!
//! It enforces the input size limit and removes control characters (other than white
//! space) that espeak would otherwise spell out or that could never be spoken, remembering
//! where they were so that sentence spans still point into the caller's text.
//! It serves the Piper-compatible path ([`text_to_sentences`](crate::text_to_sentences));
//! the speak path applies the full [Unicode policy](crate::unicode) instead.

use crate::error::{Diagnostic, TextError};

use crate::limits::Limits;

/// Default cap on the size of one input text: 1 MiB.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 1024 * 1024;

/// Text that passed the guard, with a map from its offsets back to the caller's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedText {
    text: String,
    /// `(offset in the guarded text, bytes removed before it in total)`, ascending.
    removals: Vec<(usize, usize)>,
}

impl GuardedText {
    /// The cleaned text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Maps a byte offset in the cleaned text to the matching offset in the original text,
    /// after any characters removed at that point.
    #[must_use]
    pub fn original_offset(&self, offset: usize) -> usize {
        self.map_offset(offset, true)
    }

    /// Maps a byte range of the cleaned text to the original text: the start after any
    /// characters removed there, the end before them.
    #[must_use]
    pub fn original_range(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let start = self.map_offset(range.start, true);
        start..self.map_offset(range.end, false).max(start)
    }

    fn map_offset(&self, offset: usize, after_removed: bool) -> usize {
        let idx = self
            .removals
            .partition_point(|&(at, _)| at < offset || (after_removed && at == offset));
        let removed = idx
            .checked_sub(1)
            .and_then(|i| self.removals.get(i))
            .map_or(0, |&(_, removed)| removed);
        offset.saturating_add(removed)
    }
}

/// Whether the guard removes this character.
fn is_stripped(c: char) -> bool {
    c.is_control() && !c.is_whitespace()
}

/// Applies the input limits (bytes and characters) and strips control characters other
/// than white space.
///
/// # Errors
/// [`TextError::LimitExceeded`] when the text exceeds `limits.max_input_bytes` or
/// `limits.max_chars`.
pub fn guard_input(
    text: &str,
    limits: &Limits,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<GuardedText, TextError> {
    limits.check_text(text)?;
    if !text.chars().any(is_stripped) {
        return Ok(GuardedText {
            text: text.to_owned(),
            removals: Vec::new(),
        });
    }
    let mut clean = String::with_capacity(text.len());
    let mut removals = Vec::new();
    let mut removed_bytes = 0_usize;
    let mut count = 0_usize;
    for c in text.chars() {
        if is_stripped(c) {
            removed_bytes += c.len_utf8();
            count += 1;
            match removals.last_mut() {
                Some((at, total)) if *at == clean.len() => *total = removed_bytes,
                _ => removals.push((clean.len(), removed_bytes)),
            }
        } else {
            clean.push(c);
        }
    }
    diagnostics.push(Diagnostic::ControlCharactersStripped { count });
    Ok(GuardedText {
        text: clean,
        removals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_unchanged() -> Result<(), TextError> {
        let mut diags = Vec::new();
        let g = guard_input("Hello\tworld.\n", &Limits::default(), &mut diags)?;
        assert_eq!(g.as_str(), "Hello\tworld.\n");
        assert!(diags.is_empty());
        assert_eq!(g.original_offset(5), 5);
        Ok(())
    }

    #[test]
    fn control_characters_are_stripped_and_offsets_map_back() -> Result<(), TextError> {
        let mut diags = Vec::new();
        let input = "\u{7}ab\u{0}\u{1b}cd\u{9f}e";
        let g = guard_input(input, &Limits::default(), &mut diags)?;
        assert_eq!(g.as_str(), "abcde");
        assert_eq!(
            diags,
            vec![Diagnostic::ControlCharactersStripped { count: 4 }]
        );
        // Every character of the clean text maps back to the same character in the input.
        for (clean_at, c) in g.as_str().char_indices() {
            let orig = g.original_offset(clean_at);
            assert_eq!(input.get(orig..).and_then(|s| s.chars().next()), Some(c));
        }
        assert_eq!(g.original_offset(5), input.len());
        // "ab" then "cde": the end of "ab" stays before the removed characters.
        assert_eq!(g.original_range(0..2), 1..3);
        assert_eq!(g.original_range(2..5), 5..input.len());
        Ok(())
    }

    #[test]
    fn oversized_input_names_the_limit() {
        let mut diags = Vec::new();
        let limits = Limits::default().with_max_input_bytes(4);
        let err = guard_input("abcdef", &limits, &mut diags);
        assert!(matches!(
            err,
            Err(TextError::LimitExceeded {
                limit: "max_input_bytes",
                value: 6,
                max: 4,
                ..
            })
        ));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn guard_is_idempotent_and_maps_back(text in "\\PC{0,64}|[\\x00-\\x1f a-z\\u{80}-\\u{9f}]{0,64}") {
            let mut diags = Vec::new();
            let once = guard_input(&text, &Limits::default(), &mut diags)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut more = Vec::new();
            let twice = guard_input(once.as_str(), &Limits::default(), &mut more)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(once.as_str(), twice.as_str());
            prop_assert!(more.is_empty());
            for (at, c) in once.as_str().char_indices() {
                let orig = once.original_offset(at);
                prop_assert_eq!(text.get(orig..).and_then(|s| s.chars().next()), Some(c));
            }
        }
    }
}
