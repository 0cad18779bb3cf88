//! One rewriting pass: the walk over tokens, the dispatch of each token's core to the
//! readings in [`super::rules`] (abbreviations first, addresses, then the rules in a fixed
//! order), and the fallback that reads mixed tokens piece by piece.

use super::address::{is_email, is_url, read_address};
use super::numbers::{all_digits, digits_run_words, integer_words, ordinal_words, parse_number};
use super::rules::{
    acronym, currency, decade, digit_groups, fraction, is_meridiem, iso_date, number_in_context,
    number_with_unit, ordinal, range, roman, scale_after_currency, time, word_after_number,
};
use super::tables::{symbol_word, ABBREVIATIONS};
use super::token::{is_plain_number, split_token, starts_upper, Ctx, Token};

/// One rewriting pass.
pub(super) fn pass(text: &str) -> String {
    pass_within(
        text,
        Ctx {
            prev: None,
            next: None,
        },
    )
}

/// One rewriting pass over text that stands between the tokens of `outer`.
fn pass_within(text: &str, outer: Ctx<'_>) -> String {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    let tokens: Vec<Token<'_>> = spans
        .iter()
        .map(|&(s, e)| split_token(text.get(s..e).unwrap_or("")))
        .collect();

    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut last_end = 0;
    for (i, (&(s, e), token)) in spans.iter().zip(&tokens).enumerate() {
        out.push_str(text.get(last_end..s).unwrap_or(""));
        last_end = e;
        let ctx = Ctx {
            prev: match i.checked_sub(1) {
                Some(p) => tokens.get(p).copied(),
                None => outer.prev,
            },
            next: tokens.get(i + 1).copied().or(outer.next),
        };
        rewrite_token(*token, ctx, &mut out);
    }
    out.push_str(text.get(last_end..).unwrap_or(""));
    out
}

fn rewrite_token(token: Token<'_>, ctx: Ctx<'_>, out: &mut String) {
    out.push_str(token.lead);
    let Token { core, trail, .. } = token;
    if core.is_empty() {
        out.push_str(trail);
        return;
    }
    // Abbreviations keep their own final dot.
    if let Some(rest) = trail.strip_prefix('.') {
        let written = format!("{core}.");
        if let Some(expansion) = abbreviation(&written, ctx) {
            out.push_str(&expansion);
            out.push_str(rest);
            return;
        }
    }
    if (core.contains('@') && is_email(core)) || is_url(core) {
        // Read with the trailing punctuation, as text: a last path segment may be a word
        // such as "etc" that a following dot turns into an abbreviation.
        let mut words = read_address(core);
        words.push_str(trail);
        out.push_str(&pass_within(&words, ctx));
        return;
    }
    match rewrite_core(core, ctx) {
        Some(words) => {
            out.push_str(&words);
            out.push_str(trail);
        }
        None if is_mixed(core) => {
            // The trailing punctuation goes along: it may end an abbreviation.
            let mut whole = String::with_capacity(core.len() + trail.len());
            whole.push_str(core);
            whole.push_str(trail);
            out.push_str(&split_mixed(&whole, ctx));
        }
        None => {
            out.push_str(core);
            out.push_str(trail);
        }
    }
}

/// Whether a token that no rule read holds digits or symbols to read piece by piece.
fn is_mixed(core: &str) -> bool {
    core.chars()
        .any(|c| c.is_ascii_digit() || symbol_word(c).is_some() || c == '#')
}

fn abbreviation(written: &str, ctx: Ctx<'_>) -> Option<String> {
    let next = ctx.next.map(|t| t.core);
    let next_upper = next.is_some_and(starts_upper);
    let expansion = match written {
        "Dr." => (if next_upper { "Doctor" } else { "Drive" }, next_upper),
        "St." => (if next_upper { "Saint" } else { "Street" }, next_upper),
        "No." | "no." if ctx.next.is_some_and(|t| is_plain_number(t.core)) => ("number", true),
        _ => ABBREVIATIONS
            .iter()
            .find(|(w, _, _)| *w == written)
            .map(|&(_, e, title)| (e, title))?,
    };
    let (words, never_ends) = expansion;
    // Non-title abbreviations may also end the sentence.
    if !never_ends && (ctx.next.is_none() || next_upper) {
        Some(format!("{words}."))
    } else {
        Some(words.to_owned())
    }
}

/// Rewrites a token's core, or `None` to keep it as it is.
fn rewrite_core(core: &str, ctx: Ctx<'_>) -> Option<String> {
    if let Some(w) = time(core, is_meridiem(ctx.next_core())) {
        return Some(w);
    }
    if let Some(w) = iso_date(core) {
        return Some(w);
    }
    if let Some(w) = currency(core, ctx) {
        return Some(w);
    }
    if let Some(w) = ordinal(core) {
        return Some(w);
    }
    if let Some(w) = decade(core) {
        return Some(w);
    }
    if let Some(n) = parse_number(core) {
        return Some(number_in_context(&n, ctx));
    }
    if let Some(w) = number_with_unit(core) {
        return Some(w);
    }
    if let Some(w) = digit_groups(core) {
        return Some(w);
    }
    if let Some(w) = range(core) {
        return Some(w);
    }
    if let Some(w) = fraction(core) {
        return Some(w);
    }
    if let Some(w) = word_after_number(core, ctx) {
        return Some(w);
    }
    if let Some(w) = roman(core, ctx) {
        return Some(w);
    }
    if let Some(w) = acronym(core) {
        return Some(w);
    }
    if let Some(w) = scale_after_currency(core, ctx) {
        return Some(w);
    }
    let mut chars = core.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if let Some(w) = symbol_word(c) {
            return Some(w.to_owned());
        }
    }
    None
}

/// Fallback for tokens mixing digits, letters and symbols: digit runs and symbols become
/// words, hyphens separate, and the result is read as text.
fn split_mixed(core: &str, ctx: Ctx<'_>) -> String {
    let mut pieces: Vec<String> = Vec::new();
    let mut chars = core.char_indices().peekable();
    let mut text_run = String::new();
    let flush = |run: &mut String, pieces: &mut Vec<String>| {
        if !run.is_empty() {
            pieces.push(std::mem::take(run));
        }
    };
    while let Some((i, c)) = chars.next() {
        if i == 0
            && matches!(c, '-' | '\u{2212}')
            && chars.peek().is_some_and(|&(_, n)| n.is_ascii_digit())
        {
            pieces.push("minus".to_owned());
        } else if c.is_ascii_digit() {
            flush(&mut text_run, &mut pieces);
            let mut end = i + 1;
            while let Some(&(j, d)) = chars.peek() {
                let continues = d.is_ascii_digit()
                    || (matches!(d, '.' | ',')
                        && core
                            .get(j + 1..)
                            .and_then(|s| s.chars().next())
                            .is_some_and(|n| n.is_ascii_digit()));
                if !continues {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            let run = core.get(i..end).unwrap_or("");
            // An ordinal suffix ("2nd-floor") belongs to the number.
            let suffix = core.get(end..end + 2).filter(|s| {
                matches!(s.to_ascii_lowercase().as_str(), "st" | "nd" | "rd" | "th")
                    && !core
                        .get(end + 2..)
                        .and_then(|r| r.chars().next())
                        .is_some_and(char::is_alphanumeric)
            });
            match suffix {
                Some(_) if all_digits(run) => {
                    pieces.push(ordinal_words(&integer_words(run)));
                    chars.next();
                    chars.next();
                }
                _ => pieces.push(digits_run_words(run)),
            }
        } else if c == '#' && chars.peek().is_some_and(|&(_, n)| n.is_ascii_digit()) {
            flush(&mut text_run, &mut pieces);
            pieces.push("number".to_owned());
        } else if let Some(w) = symbol_word(c) {
            flush(&mut text_run, &mut pieces);
            pieces.push(w.to_owned());
        } else if matches!(c, '-' | '#' | '/') {
            flush(&mut text_run, &mut pieces);
        } else {
            text_run.push(c);
        }
    }
    flush(&mut text_run, &mut pieces);
    // The pieces are read again together, so that words keep their neighbours. They hold
    // no digits or symbols any more, so this reading never comes back here.
    pass_within(&pieces.join(" "), ctx)
}
