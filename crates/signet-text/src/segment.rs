//! Splitting normalized text into sentences, and long sentences into bounded segments.
//!
//! Both functions return slices of their input that, concatenated, give the input back
//! exactly: nothing is dropped, white space included (it stays with the piece before it).
//! Callers skip pieces that are only white space.
//!
//! [`split_sentences`] ends a sentence after `.`, `!`, `?` or `…` (with any closing quotes
//! or brackets) followed by white space, and after a line break.
//! [`split_segments`] then cuts every sentence longer than `max_chars` characters at the most
//! natural boundary in the second half of each window of `max_chars` characters: after
//! clause punctuation (`,` `;` `:` and dashes) followed by a space, else before a
//! conjunction ("and", "but", "because", ...), else after any white space, else a hard cut
//! at the window's end. Because every cut lies in the second half of its window, each
//! step consumes at least half a window and the whole split runs in linear time.

use crate::normalize::is_non_final_abbreviation;

/// Words before which a long sentence may be cut.
const CONJUNCTIONS: &[&str] = &[
    "and", "but", "or", "nor", "so", "yet", "because", "while", "which", "that", "then",
    "although", "though", "whereas", "unless", "until", "when", "where",
];

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»')
}

fn is_clause_punct(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | '—' | '–')
}

/// Whether `piece` (a sentence so far, ending in `.`) ends with an abbreviation that does
/// not end a sentence ("Dr.", "e.g.", an initial). Looks at the last word only, and at
/// most 12 bytes of it, so the split stays linear.
fn ends_with_abbreviation(piece: &str) -> bool {
    let mut word_start = None;
    for (n, (i, c)) in piece.char_indices().rev().enumerate() {
        if c.is_whitespace() || c == '(' || c == '"' {
            word_start = Some(i + c.len_utf8());
            break;
        }
        if n >= 12 {
            // Longer than any abbreviation.
            return false;
        }
    }
    let word = piece.get(word_start.unwrap_or(0)..).unwrap_or_default();
    is_non_final_abbreviation(word)
}

/// Splits text into sentences. The pieces cover the input exactly, in order. A full
/// stop after a title or initial ("Dr. Smith", "J. Smith", "e.g. this") does not end one.
#[must_use]
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let ends = if c == '\n' {
            true
        } else if is_terminator(c) {
            // Take the rest of the terminator run and closing quotes or brackets.
            while let Some(&(_, n)) = chars.peek() {
                if is_terminator(n) || is_closer(n) {
                    chars.next();
                } else {
                    break;
                }
            }
            chars.peek().is_none_or(|&(_, n)| n.is_whitespace())
                && !(c == '.' && ends_with_abbreviation(text.get(start..=i).unwrap_or_default()))
        } else {
            false
        };
        if !ends {
            continue;
        }
        // The white space after the end stays with this sentence.
        let mut end = chars.peek().map_or(text.len(), |&(j, _)| j);
        if c == '\n' {
            end = i + 1;
        }
        while let Some(&(j, n)) = chars.peek() {
            if n.is_whitespace() {
                chars.next();
                end = j + n.len_utf8();
            } else {
                break;
            }
        }
        if let Some(piece) = text.get(start..end) {
            if !piece.is_empty() {
                out.push(piece);
            }
        }
        start = end;
    }
    if let Some(piece) = text.get(start..) {
        if !piece.is_empty() {
            out.push(piece);
        }
    }
    out
}

/// Splits text into sentences, and sentences longer than `max_chars` characters into
/// segments of at most `max_chars` characters (a `max_chars` of 0 counts as 1). The pieces
/// cover the input exactly, in order.
#[must_use]
pub fn split_segments(text: &str, max_chars: usize) -> Vec<&str> {
    let max_chars = max_chars.max(1);
    let mut out = Vec::new();
    for sentence in split_sentences(text) {
        split_long(sentence, max_chars, &mut out);
    }
    out
}

fn starts_with_conjunction(s: &str) -> bool {
    CONJUNCTIONS.iter().any(|w| {
        s.get(..w.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(w))
            && s.get(w.len()..)
                .and_then(|rest| rest.chars().next())
                .is_some_and(char::is_whitespace)
    })
}

fn split_long<'a>(mut rest: &'a str, max_chars: usize, out: &mut Vec<&'a str>) {
    loop {
        // Byte offset of the window's end, or the whole rest when it fits.
        let Some((window_end, _)) = rest.char_indices().nth(max_chars) else {
            if !rest.is_empty() {
                out.push(rest);
            }
            return;
        };
        let half = max_chars / 2;
        let (mut clause, mut conjunction, mut space) = (None, None, None);
        let mut prev_char = None;
        for (n, (i, c)) in rest.char_indices().take(max_chars).enumerate() {
            // Cutting after this character leaves `n + 1` characters in the segment.
            if n + 1 > half && c.is_whitespace() {
                let cut = i + c.len_utf8();
                space = Some(cut);
                if prev_char.is_some_and(is_clause_punct) {
                    clause = Some(cut);
                }
                if rest.get(cut..).is_some_and(starts_with_conjunction) {
                    conjunction = Some(cut);
                }
            }
            prev_char = Some(c);
        }
        let cut = clause.or(conjunction).or(space).unwrap_or(window_end);
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_cover_the_text() {
        let text = "Hello there. How are you?  Fine!\nNext line \"quoted.\" End";
        let s = split_sentences(text);
        assert_eq!(
            s,
            vec![
                "Hello there. ",
                "How are you?  ",
                "Fine!\n",
                "Next line \"quoted.\" ",
                "End"
            ]
        );
        assert_eq!(s.concat(), text);
    }

    #[test]
    fn titles_and_initials_do_not_end_sentences() {
        assert_eq!(
            split_sentences("Dr. Smith met J. R. Jones, e.g. today. Then left."),
            vec!["Dr. Smith met J. R. Jones, e.g. today. ", "Then left."]
        );
        assert_eq!(
            split_sentences("Go now. Please."),
            vec!["Go now. ", "Please."]
        );
    }

    #[test]
    fn dots_inside_words_do_not_end_sentences() {
        assert_eq!(
            split_sentences("Version 1.5 is out."),
            vec!["Version 1.5 is out."]
        );
        assert!(split_sentences("").is_empty());
    }

    #[test]
    fn long_sentences_prefer_clause_punctuation() {
        let text = "one two three, four five six seven eight nine";
        let c = split_segments(text, 20);
        assert_eq!(c.first().copied(), Some("one two three, "));
        assert_eq!(c.concat(), text);
        assert!(c.iter().all(|p| p.chars().count() <= 20));
    }

    #[test]
    fn then_conjunctions_then_spaces_then_hard_cuts() {
        let c = split_segments("aaaa bbbb cccc and dddd eeee", 16);
        assert_eq!(c.first().copied(), Some("aaaa bbbb cccc "));
        let c = split_segments("aaaa bbbb cccc dddd eeee", 12);
        assert_eq!(c.first().copied(), Some("aaaa bbbb "));
        let c = split_segments("abcdefghij", 4);
        assert_eq!(c, vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn huge_text_without_full_stop_is_covered() {
        let text = "word ".repeat(20_000);
        let c = split_segments(&text, 200);
        assert_eq!(c.concat(), text);
        assert!(c.iter().all(|p| p.chars().count() <= 200));
        assert!(c.len() >= 500);
    }

    #[test]
    fn zero_max_counts_as_one() {
        assert_eq!(split_segments("ab", 0), vec!["a", "b"]);
    }
}
