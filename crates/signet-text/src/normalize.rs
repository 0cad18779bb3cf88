//! English text normalization: numbers, dates, money, units, abbreviations and symbols
//! rewritten as the words a reader would say.
//!
//! [`normalize_en`] works on white-space separated tokens, looking at most one token to
//! each side, so it runs in time linear in the input; it uses no regular expressions.
//! White space between tokens is kept as it was. What it reads:
//!
//! - **Numbers:** cardinals with or without thousands separators ("1,234" → "one thousand
//!   two hundred thirty-four"), negatives ("-5" → "minus five"), decimals ("3.14" →
//!   "three point one four"), ordinals ("22nd" → "twenty-second"), ranges ("5-10" →
//!   "five to ten"), small fractions ("3/4" → "three quarters"). Integers longer than
//!   [`MAX_CARDINAL_DIGITS`] digits, integers with a leading zero, and digit groups that
//!   look like phone numbers ("555-0199") are read digit by digit.
//! - **Years:** a four-digit integer from 1100 to 2099 reads as a year ("1999" →
//!   "nineteen ninety-nine", "2005" → "two thousand five", "1905" → "nineteen oh five");
//!   "1990s" → "nineteen nineties".
//! - **Dates:** ISO dates ("2024-03-05" → "March fifth, twenty twenty-four"), a day after
//!   a month ("March 5," → "March fifth,") or before one ("5 March" → "the fifth of March").
//! - **Times:** "3:45" → "three forty-five", "3:05 pm" → "three oh five P.M",
//!   "3:00" → "three o'clock", "3pm" → "three P.M".
//! - **Money:** "$5.50" → "five dollars and fifty cents", "€20" → "twenty euros",
//!   "£3" → "three pounds", "$2 million" → "two million dollars".
//! - **Percentages and units** after a number: "50%" → "fifty percent", "5 km" → "five
//!   kilometers", "1 kg" → "one kilogram", "20°C" → "twenty degrees Celsius".
//! - **Abbreviations and titles:** "Dr." (Doctor before a name, Drive otherwise), "Mr.",
//!   "Mrs.", "St." (Saint or Street), "etc.", "e.g.", "i.e.", "vs.", month names, and others.
//! - **Roman numerals** after a monarch's or pope's name read as ordinals ("Henry VIII" →
//!   "Henry the Eighth"), after words like "Chapter" as cardinals ("Chapter IV" →
//!   "Chapter four").
//! - **Acronyms:** all-capital words that are read as words stay ("NASA"); short ones and
//!   ones without vowels are spelled with dots between the letters ("FBI" → "F.B.I", the
//!   form espeak-ng reads letter by letter with an acronym's stress, where "F B I" would
//!   read a lone capital "A" as the article); common words in capitals stay ("THE").
//! - **URLs and e-mail addresses:** "www.example.com/docs" → "w w w dot example dot com
//!   slash docs", "jo@example.org" → "jo at example dot org".
//! - **Symbols:** "&" → "and", "@" → "at", "+" → "plus", "=" → "equals", "%" → "percent",
//!   "#" → "number" (before a digit), "°" → "degrees".
//!
//! Normalization is idempotent: it rewrites until nothing changes (at most a few passes;
//! the first one does nearly all the work), so normalizing its output changes nothing.

/// Integers with more digits than this are read digit by digit.
pub const MAX_CARDINAL_DIGITS: usize = 15;

/// Most rewriting passes; the output of the first is almost always already stable.
const MAX_PASSES: usize = 4;

/// Rewrites English text into spoken words (see the [module docs](self)).
#[must_use]
pub fn normalize_en(text: &str) -> String {
    let mut current = pass(text);
    for _ in 1..MAX_PASSES {
        let next = pass(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

// ---------------------------------------------------------------------------------------
// Number words

const ONES: [&str; 20] = [
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
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

fn ones(n: u64) -> &'static str {
    usize::try_from(n)
        .ok()
        .and_then(|i| ONES.get(i))
        .copied()
        .unwrap_or("")
}

fn below_hundred(n: u64) -> String {
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
fn cardinal(n: u64) -> String {
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
fn ordinal_words(cardinal: &str) -> String {
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
fn plural_words(words: &str) -> String {
    if let Some(stem) = words.strip_suffix('y') {
        format!("{stem}ies")
    } else if words.ends_with('x') {
        format!("{words}es")
    } else {
        format!("{words}s")
    }
}

fn digit_words(digits: &str) -> String {
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
fn integer_words(digits: &str) -> String {
    if digits.len() > MAX_CARDINAL_DIGITS || (digits.len() > 1 && digits.starts_with('0')) {
        return digit_words(digits);
    }
    digits
        .parse::<u64>()
        .map_or_else(|_| digit_words(digits), cardinal)
}

fn year_words(n: u64) -> String {
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

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A plain number: optional sign, digits (with valid thousands separators), optional
/// decimals.
struct Number<'a> {
    negative: bool,
    /// Digits only, separators removed.
    int: String,
    frac: Option<&'a str>,
    separators: bool,
}

impl Number<'_> {
    fn value(&self) -> Option<u64> {
        if self.int.len() > MAX_CARDINAL_DIGITS {
            return None;
        }
        self.int.parse().ok()
    }

    fn is_plain_integer(&self) -> bool {
        !self.negative && self.frac.is_none() && !self.separators
    }
}

fn parse_number(s: &str) -> Option<Number<'_>> {
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

fn number_words(n: &Number<'_>) -> String {
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
fn number_or_year_words(n: &Number<'_>) -> String {
    if n.is_plain_integer() && n.int.len() == 4 {
        if let Some(v @ 1100..=2099) = n.value() {
            return year_words(v);
        }
    }
    number_words(n)
}

// ---------------------------------------------------------------------------------------
// Word tables

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn is_month(word: &str) -> bool {
    MONTHS.contains(&word)
        || matches!(
            word,
            "Jan"
                | "Feb"
                | "Mar"
                | "Apr"
                | "Jun"
                | "Jul"
                | "Aug"
                | "Sep"
                | "Sept"
                | "Oct"
                | "Nov"
                | "Dec"
        )
}

fn month_name(n: u64) -> Option<&'static str> {
    usize::try_from(n.checked_sub(1)?)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
}

/// Names after which a roman numeral is a regnal ordinal.
const REGNAL_NAMES: &[&str] = &[
    "Alexander",
    "Alfonso",
    "Amenhotep",
    "Anne",
    "Benedict",
    "Boniface",
    "Carlos",
    "Catherine",
    "Charles",
    "Christian",
    "Clement",
    "Constantine",
    "David",
    "Edward",
    "Elizabeth",
    "Felipe",
    "Ferdinand",
    "Francis",
    "Frederick",
    "George",
    "Gregory",
    "Gustav",
    "Harald",
    "Henry",
    "Innocent",
    "Isabella",
    "Ivan",
    "James",
    "John",
    "Juan",
    "Leo",
    "Louis",
    "Ludwig",
    "Malcolm",
    "Manuel",
    "Mary",
    "Napoleon",
    "Nicholas",
    "Olaf",
    "Otto",
    "Paul",
    "Pedro",
    "Peter",
    "Philip",
    "Pius",
    "Ptolemy",
    "Ramesses",
    "Richard",
    "Robert",
    "Rudolf",
    "Sixtus",
    "Stephen",
    "Urban",
    "Victor",
    "Victoria",
    "Wilhelm",
    "William",
];

/// Words after which a roman numeral is a cardinal.
const SECTION_WORDS: &[&str] = &[
    "Act", "Appendix", "Article", "Book", "Bowl", "Canto", "Ch", "Chapter", "Class", "Level",
    "Part", "Phase", "Psalm", "Round", "Scene", "Section", "Stage", "Title", "Type", "Vol",
    "Volume", "War",
];

/// All-capital words read as words, not spelled.
const WORD_ACRONYMS: &[&str] = &[
    "AIDS", "ASAP", "CAPTCHA", "COVID", "FAQ", "FEMA", "FIFA", "GIF", "IKEA", "JPEG", "LASER",
    "NAFTA", "NASA", "NASDAQ", "NATO", "OK", "OPEC", "PIN", "RADAR", "SCUBA", "SIM", "UNESCO",
    "UNICEF",
];

/// Short common words that are not acronyms when written in capitals.
const CAPS_WORDS: &[&str] = &[
    "A", "AM", "AN", "AND", "ANY", "ARE", "AS", "AT", "BE", "BUT", "BY", "CAN", "DID", "DO", "FOR",
    "GET", "GO", "GOT", "END", "ALL", "NEW", "OLD", "BIG", "BAD", "RUN", "SEE", "SAY", "WAY",
    "DAY", "TWO", "SIX", "TEN", "YET", "LET", "OFF", "OWN", "PUT", "TOP", "WIN", "MAN", "MEN",
    "BOY", "GOD", "EYE", "AGE", "ART", "CAR", "DOG", "CAT", "HOT", "RED", "SUN", "SEA", "HAD",
    "HAS", "HE", "HER", "HIM", "HIS", "HOW", "I", "IF", "IN", "IS", "IT", "ITS", "ME", "MY", "NO",
    "NOT", "NOW", "OF", "OH", "ON", "ONE", "OR", "OUR", "OUT", "SHE", "SO", "THE", "TO", "TOO",
    "UP", "US", "WAS", "WE", "WHO", "WHY", "YES", "YOU",
];

/// Abbreviations written with their final dot: (written form, expansion, is a title that
/// never ends a sentence).
const ABBREVIATIONS: &[(&str, &str, bool)] = &[
    ("Mr.", "Mister", true),
    ("Mrs.", "Missus", true),
    ("Ms.", "Miz", true),
    ("Prof.", "Professor", true),
    ("Mt.", "Mount", true),
    ("Capt.", "Captain", true),
    ("Gen.", "General", true),
    ("Sgt.", "Sergeant", true),
    ("Lt.", "Lieutenant", true),
    ("Rev.", "Reverend", true),
    ("Gov.", "Governor", true),
    ("Sen.", "Senator", true),
    ("Fig.", "Figure", true),
    ("Vol.", "Volume", true),
    ("Ch.", "Chapter", true),
    ("Jr.", "Junior", false),
    ("Sr.", "Senior", false),
    ("etc.", "et cetera", false),
    ("e.g.", "for example", false),
    ("i.e.", "that is", false),
    ("vs.", "versus", false),
    ("approx.", "approximately", false),
    ("Inc.", "Incorporated", false),
    ("Ltd.", "Limited", false),
    ("Corp.", "Corporation", false),
    ("Ave.", "Avenue", false),
    ("Blvd.", "Boulevard", false),
    ("Rd.", "Road", false),
    ("Dept.", "Department", false),
    ("a.m.", "A.M", false),
    ("p.m.", "P.M", false),
    ("Jan.", "January", true),
    ("Feb.", "February", true),
    ("Mar.", "March", true),
    ("Apr.", "April", true),
    ("Jun.", "June", true),
    ("Jul.", "July", true),
    ("Aug.", "August", true),
    ("Sep.", "September", true),
    ("Sept.", "September", true),
    ("Oct.", "October", true),
    ("Nov.", "November", true),
    ("Dec.", "December", true),
];

/// Whether `word` (with its final dot) is an abbreviation that does not end a sentence:
/// a title before a name ("Dr.", "Mr.", "St.", "Prof.", a month), "e.g.", "i.e.", "vs.",
/// or an initial ("J."). The sentence splitter uses this.
#[must_use]
pub fn is_non_final_abbreviation(word: &str) -> bool {
    if matches!(word, "Dr." | "St." | "e.g." | "i.e." | "vs.") {
        return true;
    }
    let mut chars = word.chars();
    if let (Some(c), Some('.'), None) = (chars.next(), chars.next(), chars.next()) {
        if c.is_uppercase() {
            return true;
        }
    }
    ABBREVIATIONS
        .iter()
        .any(|&(w, _, title)| title && w == word)
}

/// Units after a number: (written form, singular, plural).
const UNITS: &[(&str, &str, &str)] = &[
    ("km", "kilometer", "kilometers"),
    ("m", "meter", "meters"),
    ("cm", "centimeter", "centimeters"),
    ("mm", "millimeter", "millimeters"),
    ("mi", "mile", "miles"),
    ("ft", "foot", "feet"),
    ("kg", "kilogram", "kilograms"),
    ("g", "gram", "grams"),
    ("mg", "milligram", "milligrams"),
    ("lb", "pound", "pounds"),
    ("lbs", "pound", "pounds"),
    ("oz", "ounce", "ounces"),
    ("l", "liter", "liters"),
    ("L", "liter", "liters"),
    ("ml", "milliliter", "milliliters"),
    ("mph", "mile per hour", "miles per hour"),
    ("kph", "kilometer per hour", "kilometers per hour"),
    ("km/h", "kilometer per hour", "kilometers per hour"),
    ("°C", "degree Celsius", "degrees Celsius"),
    ("°F", "degree Fahrenheit", "degrees Fahrenheit"),
    ("°", "degree", "degrees"),
    ("Hz", "hertz", "hertz"),
    ("kHz", "kilohertz", "kilohertz"),
    ("MHz", "megahertz", "megahertz"),
    ("GHz", "gigahertz", "gigahertz"),
    ("KB", "kilobyte", "kilobytes"),
    ("kB", "kilobyte", "kilobytes"),
    ("MB", "megabyte", "megabytes"),
    ("GB", "gigabyte", "gigabytes"),
    ("TB", "terabyte", "terabytes"),
    ("ms", "millisecond", "milliseconds"),
    ("sec", "second", "seconds"),
    ("min", "minute", "minutes"),
    ("hr", "hour", "hours"),
    ("%", "percent", "percent"),
];

fn unit(word: &str) -> Option<(&'static str, &'static str)> {
    UNITS
        .iter()
        .find(|(w, _, _)| *w == word)
        .map(|&(_, one, many)| (one, many))
}

const TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "io", "dev", "info", "uk", "de", "fr", "us", "ca", "eu",
    "co", "ai", "app",
];

/// Currency symbols: (symbol, singular, plural, minor singular, minor plural).
const CURRENCIES: &[(char, &str, &str, &str, &str)] = &[
    ('$', "dollar", "dollars", "cent", "cents"),
    ('€', "euro", "euros", "cent", "cents"),
    ('£', "pound", "pounds", "penny", "pence"),
    ('¥', "yen", "yen", "sen", "sen"),
];

const SCALE_WORDS: &[&str] = &["thousand", "million", "billion", "trillion"];

fn symbol_word(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "and",
        '@' => "at",
        '+' => "plus",
        '=' => "equals",
        '%' => "percent",
        '°' => "degrees",
        '$' => "dollars",
        '€' => "euros",
        '£' => "pounds",
        '¥' => "yen",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Tokens

/// A white-space separated token split into leading punctuation, core and trailing
/// punctuation.
#[derive(Clone, Copy)]
struct Token<'a> {
    lead: &'a str,
    core: &'a str,
    trail: &'a str,
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

fn split_token(raw: &str) -> Token<'_> {
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

fn starts_upper(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_uppercase)
}

fn is_plain_number(core: &str) -> bool {
    parse_number(core).is_some()
}

/// Context of a token: the cores of its neighbours, if any.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    prev: Option<Token<'a>>,
    next: Option<Token<'a>>,
}

impl Ctx<'_> {
    fn prev_core(&self) -> &str {
        self.prev.map_or("", |t| t.core)
    }
    fn next_core(&self) -> &str {
        self.next.map_or("", |t| t.core)
    }
    /// The previous token's value when it is a plain number directly before this one.
    fn prev_number(&self) -> Option<Number<'_>> {
        let prev = self.prev?;
        if !prev.trail.is_empty() {
            return None;
        }
        parse_number(prev.core)
    }
}

/// One rewriting pass.
fn pass(text: &str) -> String {
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

fn number_in_context(n: &Number<'_>, ctx: Ctx<'_>) -> String {
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

fn is_meridiem(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "am" | "pm" | "a.m" | "p.m"
    )
}

/// `H:MM` or `HH:MM`, optionally followed by am/pm (attached, or as the next token, which
/// reads itself).
fn time(core: &str, meridiem_follows: bool) -> Option<String> {
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

fn iso_date(core: &str) -> Option<String> {
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

fn currency(core: &str, ctx: Ctx<'_>) -> Option<String> {
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

fn scale_after_currency(core: &str, ctx: Ctx<'_>) -> Option<String> {
    if !SCALE_WORDS.contains(&core) {
        return None;
    }
    let prev = ctx.prev_core();
    let first = prev.chars().next()?;
    let &(_, _, many, ..) = CURRENCIES.iter().find(|(sym, ..)| *sym == first)?;
    parse_number(prev.get(first.len_utf8()..)?)?;
    Some(format!("{core} {many}"))
}

fn ordinal(core: &str) -> Option<String> {
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

fn decade(core: &str) -> Option<String> {
    let digits = core.strip_suffix("'s").or_else(|| core.strip_suffix('s'))?;
    if !all_digits(digits) || !digits.ends_with('0') {
        return None;
    }
    let n = parse_number(digits)?;
    Some(plural_words(&number_or_year_words(&n)))
}

fn number_with_unit(core: &str) -> Option<String> {
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
fn digit_groups(core: &str) -> Option<String> {
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
fn fraction(core: &str) -> Option<String> {
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

fn fraction_words(num: u64, ordinal: &str) -> String {
    if num == 1 {
        format!("one {ordinal}")
    } else {
        format!("{} {ordinal}s", cardinal(num))
    }
}

fn range(core: &str) -> Option<String> {
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
fn word_after_number(core: &str, ctx: Ctx<'_>) -> Option<String> {
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

fn roman_value(s: &str) -> Option<u64> {
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

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

fn roman(core: &str, ctx: Ctx<'_>) -> Option<String> {
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

fn has_vowel(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, 'A' | 'E' | 'I' | 'O' | 'U' | 'Y'))
}

fn acronym(core: &str) -> Option<String> {
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

fn spell_with(word: &str, separator: char) -> String {
    let mut out = String::with_capacity(word.len() * 2);
    for c in word.chars() {
        if !out.is_empty() {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

fn is_email(core: &str) -> bool {
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

fn is_url(core: &str) -> bool {
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
fn read_address(core: &str) -> String {
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

/// Digits with `.` or `,` between them: a number, or its parts read one by one.
fn digits_run_words(run: &str) -> String {
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

    #[test]
    fn whitespace_is_kept() {
        assert_eq!(normalize_en("  a\n\tb  "), "  a\n\tb  ");
        assert_eq!(normalize_en(""), "");
    }
}
