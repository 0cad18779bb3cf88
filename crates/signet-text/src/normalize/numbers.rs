//! Number words: cardinals, ordinals, years, digit-by-digit readings, fractions and
//! Roman numeral values, and the parser of a written number. No context: the rules in
//! [`super::rules`] decide which reading a token gets.

/// Integers with more digits than this are read digit by digit.
pub const MAX_CARDINAL_DIGITS: usize = 15;

/// The words of 0 to 19 (shared with the Coqui cleaners' number wording).
pub(crate) const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
/// The words of the tens, by tens digit.
pub(crate) const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

pub(super) fn ones(n: u64) -> &'static str {
    usize::try_from(n)
        .ok()
        .and_then(|i| ONES.get(i))
        .copied()
        .unwrap_or("")
}

pub(super) fn below_hundred(n: u64) -> String {
    if n < 20 {
        return ones(n).to_owned();
    }
    let tens = usize::try_from(n / 10)
        .ok()
        .and_then(|i| TENS.get(i))
        .copied()
        .unwrap_or("");
    match n % 10 {
        0 => tens.to_owned(),
        unit => format!("{tens}-{}", ones(unit)),
    }
}

fn below_thousand(n: u64, out: &mut Vec<String>) {
    if n >= 100 {
        out.push(ones(n / 100).to_owned());
        out.push("hundred".to_owned());
    }
    if n % 100 != 0 || n == 0 {
        out.push(below_hundred(n % 100));
    }
}

/// Cardinal words for `n` (below 10^15).
pub(super) fn cardinal(n: u64) -> String {
    if n == 0 {
        return "zero".to_owned();
    }
    let mut out = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            below_thousand(rest / scale, &mut out);
            out.push(name.to_owned());
            rest %= scale;
        }
    }
    if rest > 0 {
        below_thousand(rest, &mut out);
    }
    out.join(" ")
}

/// The ordinal form of a cardinal phrase: changes its last word.
pub(crate) fn ordinal_words(cardinal: &str) -> String {
    let (head, last) = match cardinal.rfind([' ', '-']) {
        Some(i) => cardinal.split_at(i + 1),
        None => ("", cardinal),
    };
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", w.trim_end_matches('y')),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// Plural of a number word's last word ("ninety" → "nineties").
pub(super) fn plural_words(words: &str) -> String {
    if let Some(stem) = words.strip_suffix('y') {
        format!("{stem}ies")
    } else if words.ends_with('x') {
        format!("{words}es")
    } else {
        format!("{words}s")
    }
}

pub(super) fn digit_words(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() * 5);
    for d in digits.chars().filter_map(|c| c.to_digit(10)) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(ones(u64::from(d)));
    }
    out
}

/// Words for a string of ASCII digits: cardinal, or digit by digit when long or
/// zero-padded.
pub(super) fn integer_words(digits: &str) -> String {
    if digits.len() > MAX_CARDINAL_DIGITS || (digits.len() > 1 && digits.starts_with('0')) {
        return digit_words(digits);
    }
    digits
        .parse::<u64>()
        .map_or_else(|_| digit_words(digits), cardinal)
}

pub(super) fn year_words(n: u64) -> String {
    if (2000..2010).contains(&n) || n % 1000 == 0 {
        return cardinal(n);
    }
    let (hi, lo) = (n / 100, n % 100);
    match lo {
        0 => format!("{} hundred", below_hundred(hi)),
        1..=9 => format!("{} oh {}", below_hundred(hi), ones(lo)),
        _ => format!("{} {}", below_hundred(hi), below_hundred(lo)),
    }
}

pub(super) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A plain number: optional sign, digits (with valid thousands separators), optional
/// decimals.
pub(super) struct Number<'a> {
    pub(super) negative: bool,
    /// Digits only, separators removed.
    pub(super) int: String,
    pub(super) frac: Option<&'a str>,
    pub(super) separators: bool,
}

impl Number<'_> {
    pub(super) fn value(&self) -> Option<u64> {
        if self.int.len() > MAX_CARDINAL_DIGITS {
            return None;
        }
        self.int.parse().ok()
    }

    pub(super) fn is_plain_integer(&self) -> bool {
        !self.negative && self.frac.is_none() && !self.separators
    }
}

pub(super) fn parse_number(s: &str) -> Option<Number<'_>> {
    let (negative, body) = match s.strip_prefix(['-', '\u{2212}']) {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if let Some(f) = frac {
        if !all_digits(f) {
            return None;
        }
    }
    let int = if int_part.is_empty() && frac.is_some() {
        String::new()
    } else if all_digits(int_part) {
        int_part.to_owned()
    } else {
        // Thousands separators: 1-3 digits, then groups of exactly three.
        let mut groups = int_part.split(',');
        let first = groups.next()?;
        if !all_digits(first) || first.len() > 3 || first.starts_with('0') {
            return None;
        }
        let mut int = first.to_owned();
        for g in groups {
            if g.len() != 3 || !all_digits(g) {
                return None;
            }
            int.push_str(g);
        }
        return Some(Number {
            negative,
            int,
            frac,
            separators: true,
        });
    };
    Some(Number {
        negative,
        int,
        frac,
        separators: false,
    })
}

pub(super) fn number_words(n: &Number<'_>) -> String {
    let mut out = String::new();
    if n.negative {
        out.push_str("minus ");
    }
    if n.int.is_empty() {
        out.push_str("point ");
    } else {
        out.push_str(&integer_words(&n.int));
        if n.frac.is_some() {
            out.push_str(" point ");
        }
    }
    if let Some(f) = n.frac {
        out.push_str(&digit_words(f));
    }
    out
}

/// Words for a number token, read as a year where it looks like one.
pub(super) fn number_or_year_words(n: &Number<'_>) -> String {
    if n.is_plain_integer() && n.int.len() == 4 {
        if let Some(v @ 1100..=2099) = n.value() {
            return year_words(v);
        }
    }
    number_words(n)
}

pub(super) fn fraction_words(num: u64, ordinal: &str) -> String {
    if num == 1 {
        format!("one {ordinal}")
    } else {
        format!("{} {ordinal}s", cardinal(num))
    }
}

pub(super) fn roman_value(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    let digit = |c: char| -> Option<u64> {
        Some(match c {
            'I' => 1,
            'V' => 5,
            'X' => 10,
            'L' => 50,
            'C' => 100,
            'D' => 500,
            'M' => 1000,
            _ => return None,
        })
    };
    let values: Vec<u64> = s.chars().map(digit).collect::<Option<_>>()?;
    // Subtract a digit before a larger one; the sum is never negative in the end for a
    // canonical spelling, which the round trip below checks.
    let mut total = 0i64;
    for (i, &v) in values.iter().enumerate() {
        let v = i64::try_from(v).ok()?;
        match values.get(i + 1) {
            Some(&next) if i64::try_from(next).ok()? > v => total -= v,
            _ => total += v,
        }
    }
    let total = u64::try_from(total).ok()?;
    // Accept only the canonical spelling.
    (to_roman(total) == s).then_some(total)
}

fn to_roman(mut n: u64) -> String {
    const TABLE: [(u64, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (v, s) in TABLE {
        while n >= v && out.len() < 32 {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

/// Digits with `.` or `,` between them: a number, or its parts read one by one.
pub(super) fn digits_run_words(run: &str) -> String {
    if let Some(n) = parse_number(run) {
        return number_words(&n);
    }
    let mut out = Vec::new();
    for (i, part) in run.split('.').enumerate() {
        if i > 0 {
            out.push("point".to_owned());
        }
        let groups: Vec<String> = part
            .split(',')
            .filter(|g| !g.is_empty())
            .map(integer_words)
            .collect();
        out.push(groups.join(" "));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(7), "seven");
        assert_eq!(cardinal(42), "forty-two");
        assert_eq!(cardinal(100), "one hundred");
        assert_eq!(cardinal(1_234), "one thousand two hundred thirty-four");
        assert_eq!(cardinal(1_000_001), "one million one");
        assert_eq!(
            cardinal(999_999_999_999_999),
            "nine hundred ninety-nine trillion nine hundred ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine"
        );
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal_words("one"), "first");
        assert_eq!(ordinal_words("twenty-two"), "twenty-second");
        assert_eq!(ordinal_words("forty"), "fortieth");
        assert_eq!(ordinal_words("one hundred"), "one hundredth");
        assert_eq!(ordinal_words("twelve"), "twelfth");
    }

    #[test]
    fn years() {
        assert_eq!(year_words(1999), "nineteen ninety-nine");
        assert_eq!(year_words(2005), "two thousand five");
        assert_eq!(year_words(1900), "nineteen hundred");
        assert_eq!(year_words(1905), "nineteen oh five");
        assert_eq!(year_words(2024), "twenty twenty-four");
        assert_eq!(year_words(2000), "two thousand");
    }

    #[test]
    fn romans() {
        assert_eq!(roman_value("VIII"), Some(8));
        assert_eq!(roman_value("XIV"), Some(14));
        assert_eq!(roman_value("IIII"), None);
        assert_eq!(roman_value("MCMXCIX"), Some(1999));
        assert_eq!(roman_value("ABC"), None);
        assert_eq!(roman_value("IV"), Some(4));
        assert_eq!(roman_value("IX"), Some(9));
        assert_eq!(roman_value("XL"), Some(40));
    }
}
