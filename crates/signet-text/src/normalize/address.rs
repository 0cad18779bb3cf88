//! URLs and e-mail addresses, read with their separators as words.

use super::numbers::{all_digits, integer_words};
use super::rules::{has_vowel, spell_with};
use super::tables::TLDS;

pub(super) fn is_email(core: &str) -> bool {
    let Some((user, domain)) = core.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && core
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@'))
}

pub(super) fn is_url(core: &str) -> bool {
    let lower = core.to_ascii_lowercase();
    if ["http://", "https://", "ftp://", "www."]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return lower.len() > 7;
    }
    // A bare domain: labels of letters, digits and hyphens, ending in a known TLD.
    let host = lower.split('/').next().unwrap_or("");
    let mut labels = host.split('.');
    let Some(tld) = host.rsplit('.').next() else {
        return false;
    };
    // One label longer than a letter, so that dotted initials ("I.O") are no domain.
    let name_label = host
        .split('.')
        .rev()
        .skip(1)
        .any(|l| l.chars().nth(1).is_some());
    host.contains('.')
        && name_label
        && TLDS.contains(&tld)
        && labels.all(|l| {
            !l.is_empty()
                && l.chars().any(|c| c.is_ascii_alphabetic())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Reads a URL or e-mail address: separators as words, letter runs without vowels spelled.
pub(super) fn read_address(core: &str) -> String {
    let lower = core.to_ascii_lowercase();
    let mut rest = core;
    for scheme in ["http://", "https://", "ftp://"] {
        if lower.starts_with(scheme) {
            rest = core.get(scheme.len()..).unwrap_or("");
        }
    }
    let rest = rest.trim_end_matches('/');
    let mut words: Vec<String> = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, words: &mut Vec<String>| {
        if run.is_empty() {
            return;
        }
        if all_digits(run) {
            words.push(integer_words(run));
        } else if run.eq_ignore_ascii_case("www") || !has_vowel(&run.to_ascii_uppercase()) {
            words.push(spell_with(&run.to_ascii_lowercase(), ' '));
        } else {
            words.push(run.to_ascii_lowercase());
        }
        run.clear();
    };
    let mut prev_digit = None;
    for c in rest.chars() {
        let word = match c {
            '.' => Some("dot"),
            '@' => Some("at"),
            '/' => Some("slash"),
            '-' => Some("dash"),
            '_' => Some("underscore"),
            ':' => Some("colon"),
            '?' => Some("question mark"),
            '=' => Some("equals"),
            '&' => Some("and"),
            '#' => Some("hash"),
            '+' => Some("plus"),
            '~' => Some("tilde"),
            '%' => Some("percent"),
            _ => None,
        };
        if let Some(w) = word {
            flush(&mut run, &mut words);
            words.push(w.to_owned());
            prev_digit = None;
        } else if c.is_alphanumeric() {
            let digit = c.is_ascii_digit();
            if prev_digit.is_some_and(|d| d != digit) {
                flush(&mut run, &mut words);
            }
            run.push(c);
            prev_digit = Some(digit);
        }
    }
    flush(&mut run, &mut words);
    words.join(" ")
}
