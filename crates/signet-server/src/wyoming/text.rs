//! The text of a streaming request as it arrives in `synthesize-chunk`s:
//! complete sentences are handed to synthesis while more text comes, the
//! rest when the stream stops. Sentences are found by signet-text's
//! splitter (the one the speak path uses), so an abbreviation ("Dr. ") does
//! not end one.

use signet_text::split_sentences;

/// The stream's text has gone over `wyoming.max_stream_bytes`.
#[derive(Debug)]
pub(crate) struct Overflow {
    pub(crate) max: usize,
}

/// Text received and not yet synthesized.
#[derive(Debug)]
pub(crate) struct StreamText {
    /// Text whose last sentence may still go on.
    tail: String,
    /// Complete sentences waiting for synthesis.
    ready: String,
    total: usize,
    max_total: usize,
    max_piece: usize,
}

/// A byte offset at most `max` into `s`, on a character boundary, after the
/// last white space in the second half if there is one.
fn cut_at(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    let head = s.get(..end).unwrap_or_default();
    match head.rfind(char::is_whitespace) {
        Some(i) if i >= end / 2 => head
            .get(i..)
            .and_then(|r| r.chars().next())
            .map_or(end, |c| i + c.len_utf8()),
        // No space near the end: a hard cut. A character is at most 4 bytes,
        // so `end` is 0 only when `max` is below 4; take one character then.
        _ if end == 0 => s.chars().next().map_or(0, char::len_utf8),
        _ => end,
    }
}

impl StreamText {
    /// A stream that takes at most `max_total` bytes of text and hands out
    /// pieces of at most `max_piece` bytes.
    pub(crate) fn new(max_total: usize, max_piece: usize) -> Self {
        Self {
            tail: String::new(),
            ready: String::new(),
            total: 0,
            max_total,
            max_piece: max_piece.max(1),
        }
    }

    /// Adds text; whatever sentences it completes become ready.
    pub(crate) fn push(&mut self, text: &str) -> Result<(), Overflow> {
        self.total = self.total.saturating_add(text.len());
        if self.total > self.max_total {
            return Err(Overflow {
                max: self.max_total,
            });
        }
        self.tail.push_str(text);
        // A sentence is complete when a following sentence could start right
        // after it: probe with a capital letter.
        let probe = format!("{}A", self.tail);
        let pieces = split_sentences(&probe);
        let complete: usize = pieces
            .iter()
            .take(pieces.len().saturating_sub(1))
            .map(|p| p.len())
            .sum();
        let complete = complete.min(self.tail.len());
        self.ready.extend(self.tail.drain(..complete));
        // A run of text with no sentence end is cut once it is longer than
        // one piece may be.
        while self.tail.len() > self.max_piece {
            let n = cut_at(&self.tail, self.max_piece);
            self.ready.extend(self.tail.drain(..n));
        }
        Ok(())
    }

    /// The stream has stopped: the rest is complete.
    pub(crate) fn finish(&mut self) {
        let rest = std::mem::take(&mut self.tail);
        self.ready.push_str(&rest);
    }

    /// The next piece for synthesis: as many whole ready sentences as fit in
    /// one piece (a longer sentence is cut). Pieces with nothing to speak
    /// (only punctuation or white space) are dropped.
    pub(crate) fn next_piece(&mut self) -> Option<String> {
        while !self.ready.is_empty() {
            let mut n = 0;
            for p in split_sentences(&self.ready) {
                if n + p.len() > self.max_piece {
                    break;
                }
                n += p.len();
            }
            if n == 0 {
                n = cut_at(&self.ready, self.max_piece);
            }
            let piece: String = self.ready.drain(..n.min(self.ready.len())).collect();
            if piece.chars().any(char::is_alphanumeric) {
                return Some(piece);
            }
        }
        None
    }

    /// Whether nothing is left, ready or not.
    pub(crate) fn is_empty(&self) -> bool {
        self.tail.is_empty() && self.ready.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_ready_as_soon_as_the_next_can_start() {
        let mut t = StreamText::new(1000, 100);
        t.push("Hello").unwrap();
        assert_eq!(t.next_piece(), None);
        t.push(" there.").unwrap();
        // "there." may still be "there.5": wait for what follows.
        assert_eq!(t.next_piece(), None);
        t.push(" Dr. ").unwrap();
        assert_eq!(t.next_piece().as_deref(), Some("Hello there. "));
        // "Dr. " does not end a sentence.
        assert_eq!(t.next_piece(), None);
        t.push("Smith is in. And").unwrap();
        assert_eq!(t.next_piece().as_deref(), Some("Dr. Smith is in. "));
        assert!(!t.is_empty());
        t.finish();
        assert_eq!(t.next_piece().as_deref(), Some("And"));
        assert!(t.is_empty());
    }

    #[test]
    fn pieces_are_bounded_and_nothing_is_lost_or_unspeakable() {
        let mut t = StreamText::new(10_000, 20);
        let text = "One. Two. Three. ... A very long sentence without any end at all and more";
        t.push(text).unwrap();
        t.finish();
        let mut all = String::new();
        while let Some(p) = t.next_piece() {
            assert!(p.len() <= 20, "{p:?}");
            assert!(p.chars().any(char::is_alphanumeric), "{p:?}");
            all.push_str(&p);
        }
        assert_eq!(all, text.replace("... ", ""));
        // Over the stream's cap: refused.
        let mut t = StreamText::new(10, 20);
        assert!(t.push("0123456789").is_ok());
        assert_eq!(t.push("x").unwrap_err().max, 10);
        // Multi-byte characters are never split.
        assert_eq!(cut_at("ééé", 3), 2);
        assert_eq!(cut_at("é", 1), 2);
    }
}
