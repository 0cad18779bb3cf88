//! SSML `<say-as>`: the English reading of one element's content, chosen by its
//! `interpret-as` (and, for dates, `format`) rather than guessed from context.
//!
//! Each reading returns `None` when the content is not of the kind named (`cardinal` of
//! "abc"); the SSML reader then reports it and lets the ordinary normalization read the
//! content. Readings use the same number words as [`normalize_en`](super::normalize_en).

use super::numbers::{all_digits, cardinal, digit_words, integer_words, ordinal_words, year_words};
use super::rules::{spell_with, time};
use super::tables::month_name;

/// Most characters `say-as` reads letter by letter or digit by digit; longer content is
/// not of the kind named (and is read as ordinary text, where long words are cut).
const MAX_SPELLED_CHARS: usize = 64;

/// How a `<say-as>` element's content is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SayAs {
    /// `characters` or `spell-out`: letter by letter.
    Characters,
    /// `cardinal` (or `number`): a whole number, with or without thousands separators.
    Cardinal,
    /// `ordinal`: "3" or "3rd" as "third".
    Ordinal,
    /// `digits`: digit by digit.
    Digits,
    /// `date`, with the `format` attribute's field order (`mdy`, `dmy`, `ymd`, `md`,
    /// `dm`, `ym`, `my`, `y`, `m`, `d`; `ymd` when absent).
    Date,
    /// `time`: `H:MM` with an optional am/pm.
    Time,
    /// `telephone`: digit groups read digit by digit, with a pause between groups.
    Telephone,
    /// `currency`: an amount with its symbol, as the normalizer reads money.
    Currency,
}

impl SayAs {
    /// The reading an `interpret-as` value names, if Signet knows it.
    #[must_use]
    pub fn from_attribute(value: &str) -> Option<Self> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "characters" | "spell-out" | "letters" | "verbatim" => Self::Characters,
            "cardinal" | "number" => Self::Cardinal,
            "ordinal" => Self::Ordinal,
            "digits" => Self::Digits,
            "date" => Self::Date,
            "time" => Self::Time,
            "telephone" => Self::Telephone,
            "currency" => Self::Currency,
            _ => return None,
        })
    }
}

/// The words for `content` read as `kind`, or `None` when it is not of that kind.
#[must_use]
pub fn say_as(kind: SayAs, format: Option<&str>, content: &str) -> Option<String> {
    let content = content.trim();
    if content.is_empty() {
        return None;
    }
    match kind {
        SayAs::Characters => characters(content),
        SayAs::Cardinal => cardinal_of(content),
        SayAs::Ordinal => {
            let digits = content
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .replace(',', "");
            let words = cardinal_of(&digits)?;
            Some(ordinal_words(&words))
        }
        SayAs::Digits => {
            let digits: String = content.chars().filter(|c| !c.is_whitespace()).collect();
            (all_digits(&digits) && digits.len() <= MAX_SPELLED_CHARS).then(|| digit_words(&digits))
        }
        SayAs::Date => date(content, format.unwrap_or("ymd")),
        SayAs::Time => {
            let (clock, meridiem) = match content.split_once(char::is_whitespace) {
                Some((c, m)) => (c, Some(m.trim())),
                None => (content, None),
            };
            let joined = match meridiem {
                Some(m) => format!("{clock}{}", m.replace('.', "")),
                None => clock.to_owned(),
            };
            time(&joined, false)
        }
        SayAs::Telephone => telephone(content),
        SayAs::Currency => {
            let words = super::normalize_en(content);
            (words != content && !words.chars().any(|c| c.is_ascii_digit())).then_some(words)
        }
    }
}

fn characters(content: &str) -> Option<String> {
    let letters: String = content.chars().filter(|c| !c.is_whitespace()).collect();
    if letters.chars().count() > MAX_SPELLED_CHARS {
        return None;
    }
    let mut out = Vec::new();
    for c in letters.chars() {
        if c.is_ascii_digit() {
            out.push(digit_words(&c.to_string()));
        } else if c.is_alphabetic() {
            out.push(c.to_uppercase().collect());
        } else if let Some(word) = super::tables::symbol_word(c) {
            out.push(word.to_owned());
        }
    }
    if out.is_empty() {
        return None;
    }
    // Letters joined by dots, the spelling espeak-ng reads letter by letter (a lone
    // capital "A" between spaces would read as the article).
    let mut spoken = String::new();
    let mut run = String::new();
    for piece in out {
        if piece.chars().count() == 1 && piece.chars().all(char::is_alphabetic) {
            run.push_str(&piece);
            continue;
        }
        if !run.is_empty() {
            push_word(&mut spoken, &spell_with(&run, '.'));
            run.clear();
        }
        push_word(&mut spoken, &piece);
    }
    if !run.is_empty() {
        push_word(&mut spoken, &spell_with(&run, '.'));
    }
    Some(spoken)
}

fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

fn cardinal_of(content: &str) -> Option<String> {
    let (negative, body) = match content.strip_prefix(['-', '−']) {
        Some(rest) => (true, rest),
        None => (false, content),
    };
    let digits: String = body.chars().filter(|&c| c != ',').collect();
    if !all_digits(&digits) || digits.len() > super::MAX_CARDINAL_DIGITS {
        return None;
    }
    let words = digits.trim_start_matches('0');
    let words = if words.is_empty() {
        "zero".to_owned()
    } else {
        integer_words(words)
    };
    Some(if negative {
        format!("minus {words}")
    } else {
        words
    })
}

fn date(content: &str, format: &str) -> Option<String> {
    let format = format.trim().to_ascii_lowercase();
    if format.is_empty()
        || format.len() > 3
        || !format.chars().all(|c| matches!(c, 'y' | 'm' | 'd'))
    {
        return None;
    }
    let fields: Vec<&str> = content
        .split(['-', '/', '.', ' '])
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() != format.len() {
        return None;
    }
    let (mut year, mut month, mut day) = (None, None, None);
    for (kind, field) in format.chars().zip(&fields) {
        if !all_digits(field) || field.len() > 4 {
            return None;
        }
        let n: u64 = field.parse().ok()?;
        match kind {
            'y' => year = Some(n),
            'm' => month = Some(month_name(n)?),
            _ => {
                if !(1..=31).contains(&n) {
                    return None;
                }
                day = Some(ordinal_words(&cardinal(n)));
            }
        }
    }
    let year = year.map(year_words);
    Some(match (month, day, year) {
        (Some(m), Some(d), Some(y)) => format!("{m} {d}, {y}"),
        (Some(m), Some(d), None) => format!("{m} {d}"),
        (Some(m), None, Some(y)) => format!("{m} {y}"),
        (Some(m), None, None) => m.to_owned(),
        (None, Some(d), None) => format!("the {d}"),
        (None, None, Some(y)) => y,
        _ => return None,
    })
}

fn telephone(content: &str) -> Option<String> {
    let mut groups = Vec::new();
    let mut plus = false;
    for (i, group) in content
        .split([' ', '-', '.', '(', ')'])
        .filter(|g| !g.is_empty())
        .enumerate()
    {
        let group = if i == 0 {
            match group.strip_prefix('+') {
                Some(g) => {
                    plus = true;
                    g
                }
                None => group,
            }
        } else {
            group
        };
        if !all_digits(group) {
            return None;
        }
        groups.push(digit_words(group));
    }
    let digits: usize = groups.iter().map(|g| g.split(' ').count()).sum();
    if groups.is_empty() || digits > MAX_SPELLED_CHARS {
        return None;
    }
    let joined = groups.join(", ");
    Some(if plus {
        format!("plus {joined}")
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings() {
        let r = |k, f, c| say_as(k, f, c);
        assert_eq!(
            r(SayAs::Cardinal, None, "1,234").as_deref(),
            Some("one thousand two hundred thirty-four")
        );
        assert_eq!(
            r(SayAs::Ordinal, None, "21st").as_deref(),
            Some("twenty-first")
        );
        assert_eq!(
            r(SayAs::Digits, None, "1203").as_deref(),
            Some("one two zero three")
        );
        assert_eq!(r(SayAs::Characters, None, "abc").as_deref(), Some("A.B.C"));
        assert_eq!(
            r(SayAs::Date, Some("dmy"), "05/03/2024").as_deref(),
            Some("March fifth, twenty twenty-four")
        );
        assert_eq!(
            r(SayAs::Date, Some("md"), "12-25").as_deref(),
            Some("December twenty-fifth")
        );
        assert_eq!(
            r(SayAs::Time, None, "3:05 pm").as_deref(),
            Some("three oh five P.M")
        );
        assert_eq!(
            r(SayAs::Telephone, None, "555-0199").as_deref(),
            Some("five five five, zero one nine nine")
        );
        assert_eq!(
            r(SayAs::Currency, None, "$5.50").as_deref(),
            Some("five dollars and fifty cents")
        );
        assert_eq!(r(SayAs::Cardinal, None, "abc"), None);
        assert_eq!(r(SayAs::Date, Some("zz"), "1"), None);
    }
}
