//! The readings of one token's core, each a function that returns the words or `None`:
//! times, dates, money, ordinals, decades, units, digit groups, ranges, fractions, Roman
//! numerals and acronyms, plus the letter-spelling helpers.

use super::numbers::{
    all_digits, below_hundred, cardinal, digit_words, fraction_words, integer_words,
    number_or_year_words, number_words, ones, ordinal_words, parse_number, plural_words,
    roman_value, year_words, Number, MAX_CARDINAL_DIGITS,
};
use super::tables::{
    is_month, month_name, unit, CAPS_WORDS, CURRENCIES, REGNAL_NAMES, SCALE_WORDS, SECTION_WORDS,
    WORD_ACRONYMS,
};
use super::token::{starts_upper, Ctx};

pub(super) fn number_in_context(n: &Number<'_>, ctx: Ctx<'_>) -> String {
    if n.is_plain_integer() {
        if let Some(day @ 1..=31) = n.value() {
            if ctx.prev.is_some_and(|t| is_month(t.core)) {
                return ordinal_words(&cardinal(day));
            }
            if ctx.next.is_some_and(|t| is_month(t.core)) {
                return format!("the {} of", ordinal_words(&cardinal(day)));
            }
        }
    }
    number_or_year_words(n)
}

pub(super) fn is_meridiem(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "am" | "pm" | "a.m" | "p.m"
    )
}

/// `H:MM` or `HH:MM`, optionally followed by am/pm (attached, or as the next token, which
/// reads itself).
pub(super) fn time(core: &str, meridiem_follows: bool) -> Option<String> {
    let lower = core.to_ascii_lowercase();
    let (clock, suffix) = if let Some(c) = lower.strip_suffix("am") {
        (c, Some("A.M"))
    } else if let Some(c) = lower.strip_suffix("pm") {
        (c, Some("P.M"))
    } else {
        (lower.as_str(), None)
    };
    let (h, m) = clock.split_once(':')?;
    if !(1..=2).contains(&h.len()) || m.len() != 2 || !all_digits(h) || !all_digits(m) {
        return None;
    }
    let hour: u64 = h.parse().ok()?;
    let minute: u64 = m.parse().ok()?;
    if hour > 24 || minute > 59 {
        return None;
    }
    let mut words = below_hundred(hour);
    match minute {
        0 if suffix.is_none() && !meridiem_follows => words.push_str(" o'clock"),
        0 => {}
        1..=9 => {
            words.push_str(" oh ");
            words.push_str(ones(minute));
        }
        _ => {
            words.push(' ');
            words.push_str(&below_hundred(minute));
        }
    }
    if let Some(s) = suffix {
        words.push(' ');
        words.push_str(s);
    }
    Some(words)
}

pub(super) fn iso_date(core: &str) -> Option<String> {
    let mut parts = core.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    if !all_digits(y) || !all_digits(m) || !all_digits(d) {
        return None;
    }
    let (year, month, day): (u64, u64, u64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let month = month_name(month)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(format!(
        "{month} {}, {}",
        ordinal_words(&cardinal(day)),
        year_words(year)
    ))
}

pub(super) fn currency(core: &str, ctx: Ctx<'_>) -> Option<String> {
    let first = core.chars().next()?;
    let &(_, one, many, minor_one, minor_many) =
        CURRENCIES.iter().find(|(sym, ..)| *sym == first)?;
    let amount = core.get(first.len_utf8()..)?;
    let n = parse_number(amount)?;
    if n.negative {
        return None;
    }
    // "$2 million": the scale word says the currency.
    if ctx.next.is_some_and(|t| SCALE_WORDS.contains(&t.core)) {
        return Some(number_words(&n));
    }
    let whole = n.value();
    let cents = match n.frac {
        None => Some(0),
        Some(f) if f.len() == 1 => f.parse::<u64>().ok().map(|c| c * 10),
        Some(f) if f.len() == 2 => f.parse::<u64>().ok(),
        Some(_) => None,
    };
    let (Some(whole), Some(cents)) = (whole, cents) else {
        return Some(format!("{} {many}", number_words(&n)));
    };
    let major = format!(
        "{} {}",
        integer_words(&n.int),
        if whole == 1 { one } else { many }
    );
    let minor = format!(
        "{} {}",
        cardinal(cents),
        if cents == 1 { minor_one } else { minor_many }
    );
    Some(match (whole, cents) {
        (_, 0) => major,
        (0, _) => minor,
        _ => format!("{major} and {minor}"),
    })
}

pub(super) fn scale_after_currency(core: &str, ctx: Ctx<'_>) -> Option<String> {
    if !SCALE_WORDS.contains(&core) {
        return None;
    }
    let prev = ctx.prev_core();
    let first = prev.chars().next()?;
    let &(_, _, many, ..) = CURRENCIES.iter().find(|(sym, ..)| *sym == first)?;
    parse_number(prev.get(first.len_utf8()..)?)?;
    Some(format!("{core} {many}"))
}

pub(super) fn ordinal(core: &str) -> Option<String> {
    let split = core.len().checked_sub(2)?;
    let (digits, suffix) = (core.get(..split)?, core.get(split..)?);
    if !all_digits(digits)
        || !matches!(
            suffix.to_ascii_lowercase().as_str(),
            "st" | "nd" | "rd" | "th"
        )
    {
        return None;
    }
    let words = integer_words(digits);
    if digits.len() > MAX_CARDINAL_DIGITS {
        return Some(words);
    }
    Some(ordinal_words(&words))
}

pub(super) fn decade(core: &str) -> Option<String> {
    let digits = core.strip_suffix("'s").or_else(|| core.strip_suffix('s'))?;
    if !all_digits(digits) || !digits.ends_with('0') {
        return None;
    }
    let n = parse_number(digits)?;
    Some(plural_words(&number_or_year_words(&n)))
}

pub(super) fn number_with_unit(core: &str) -> Option<String> {
    let sign = core
        .chars()
        .next()
        .filter(|&c| matches!(c, '-' | '\u{2212}'));
    let digits_start = sign.map_or(0, char::len_utf8);
    let split = core
        .char_indices()
        .skip(usize::from(sign.is_some()))
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map(|(i, _)| i)?;
    if split == digits_start {
        return None;
    }
    let (num, rest) = core.split_at(split);
    let n = parse_number(num)?;
    let lower = rest.to_ascii_lowercase();
    if lower == "am" || lower == "pm" {
        let hour = n
            .value()
            .filter(|h| (1..=12).contains(h) && n.frac.is_none())?;
        return Some(format!(
            "{} {}",
            cardinal(hour),
            if lower == "am" { "A.M" } else { "P.M" }
        ));
    }
    let (one, many) = unit(rest)?;
    let singular = n.value() == Some(1) && n.frac.is_none();
    Some(format!(
        "{} {}",
        number_words(&n),
        if singular { one } else { many }
    ))
}

/// Digit groups joined by hyphens that are not a range: read digit by digit, a pause
/// between groups ("555-0199", "1-800-555-0199").
pub(super) fn digit_groups(core: &str) -> Option<String> {
    let groups: Vec<&str> = core.split('-').collect();
    if !groups.iter().all(|g| all_digits(g)) {
        return None;
    }
    let phone = match groups.as_slice() {
        [a, b] => a.len() == 3 && b.len() == 4,
        [_, _, ..] => true,
        _ => false,
    };
    phone.then(|| {
        groups
            .iter()
            .map(|g| digit_words(g))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// A fraction of small numbers: "3/4" → "three quarters".
pub(super) fn fraction(core: &str) -> Option<String> {
    let (a, b) = core.split_once('/')?;
    if !all_digits(a) || !all_digits(b) || a.len() > 2 || b.len() > 2 {
        return None;
    }
    let (num, den): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    if num == 0 || num >= den {
        return None;
    }
    let (one, many) = match den {
        2 => ("half", "halves"),
        3 => ("third", "thirds"),
        4 => ("quarter", "quarters"),
        5..=10 => return Some(fraction_words(num, &ordinal_words(&cardinal(den)))),
        _ => return None,
    };
    Some(format!(
        "{} {}",
        cardinal(num),
        if num == 1 { one } else { many }
    ))
}

pub(super) fn range(core: &str) -> Option<String> {
    let (a, b) = core.split_once(['-', '–'])?;
    if !all_digits(a) || !all_digits(b) || a.len() > 4 || b.len() > 4 {
        return None;
    }
    let (a, b) = (parse_number(a)?, parse_number(b)?);
    Some(format!(
        "{} to {}",
        number_or_year_words(&a),
        number_or_year_words(&b)
    ))
}

/// Units, am/pm and scale words directly after a number token.
pub(super) fn word_after_number(core: &str, ctx: Ctx<'_>) -> Option<String> {
    if is_meridiem(core)
        && ctx
            .prev
            .is_some_and(|t| t.trail.is_empty() && time(t.core, true).is_some())
    {
        return Some(
            if core.starts_with(['a', 'A']) {
                "A.M"
            } else {
                "P.M"
            }
            .to_owned(),
        );
    }
    let n = ctx.prev_number()?;
    let lower = core.to_ascii_lowercase();
    if is_meridiem(core) {
        n.value()
            .filter(|h| (1..=12).contains(h) && n.frac.is_none())?;
        return Some(if lower.starts_with('a') { "A.M" } else { "P.M" }.to_owned());
    }
    let (one, many) = unit(core)?;
    let singular = n.value() == Some(1) && n.frac.is_none() && !n.negative;
    Some(if singular { one } else { many }.to_owned())
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

pub(super) fn roman(core: &str, ctx: Ctx<'_>) -> Option<String> {
    let prev = ctx.prev?;
    if !prev.trail.is_empty() {
        return None;
    }
    // A single capital letter after this one means spelled letters, not a numeral.
    let next = ctx.next_core();
    if next.len() == 1 && starts_upper(next) {
        return None;
    }
    let value = roman_value(core)?;
    if REGNAL_NAMES.contains(&prev.core) && value <= 40 {
        return Some(format!(
            "the {}",
            capitalize(&ordinal_words(&cardinal(value)))
        ));
    }
    if SECTION_WORDS.contains(&prev.core) && value <= 200 {
        return Some(cardinal(value));
    }
    None
}

pub(super) fn has_vowel(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, 'A' | 'E' | 'I' | 'O' | 'U' | 'Y'))
}

pub(super) fn acronym(core: &str) -> Option<String> {
    if core.len() < 2 || !core.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    if WORD_ACRONYMS.contains(&core) || CAPS_WORDS.contains(&core) {
        return None;
    }
    if core.len() <= 3 || !has_vowel(core) {
        return Some(spell(core));
    }
    None
}

/// Letters joined by dots ("F.B.I"), the spelling that phonemizers read letter by letter
/// with the stress of an acronym. (Letters apart, a capital "A" reads as the article.)
/// No final dot: that would end a sentence.
fn spell(word: &str) -> String {
    spell_with(word, '.')
}

pub(super) fn spell_with(word: &str, separator: char) -> String {
    let mut out = String::with_capacity(word.len() * 2);
    for c in word.chars() {
        if !out.is_empty() {
            out.push(separator);
        }
        out.push(c);
    }
    out
}
