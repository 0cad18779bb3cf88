//! Tokens and their context: a white-space separated token split into leading
//! punctuation, core and trailing punctuation, and its neighbours.

use super::numbers::{parse_number, Number};

/// A white-space separated token split into leading punctuation, core and trailing
/// punctuation.
#[derive(Clone, Copy)]
pub(super) struct Token<'a> {
    pub(super) lead: &'a str,
    pub(super) core: &'a str,
    pub(super) trail: &'a str,
}

fn is_lead_punct(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '"' | '\'' | '“' | '‘' | '«' | '¿' | '¡'
    )
}

fn is_trail_punct(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '}' | '"' | '\'' | '”' | '’' | '»' | '…'
    )
}

pub(super) fn split_token(raw: &str) -> Token<'_> {
    let core_start = raw
        .char_indices()
        .find(|&(_, c)| !is_lead_punct(c))
        .map_or(raw.len(), |(i, _)| i);
    let (lead, rest) = raw.split_at(core_start);
    let core_end = rest
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_trail_punct(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let (core, trail) = rest.split_at(core_end);
    Token { lead, core, trail }
}

pub(super) fn starts_upper(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_uppercase)
}

pub(super) fn is_plain_number(core: &str) -> bool {
    parse_number(core).is_some()
}

/// Context of a token: the cores of its neighbours, if any.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) prev: Option<Token<'a>>,
    pub(super) next: Option<Token<'a>>,
}

impl Ctx<'_> {
    pub(super) fn prev_core(&self) -> &str {
        self.prev.map_or("", |t| t.core)
    }
    pub(super) fn next_core(&self) -> &str {
        self.next.map_or("", |t| t.core)
    }
    /// The previous token's value when it is a plain number directly before this one.
    pub(super) fn prev_number(&self) -> Option<Number<'_>> {
        let prev = self.prev?;
        if !prev.trail.is_empty() {
            return None;
        }
        parse_number(prev.core)
    }
}
