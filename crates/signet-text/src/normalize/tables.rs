//! The word tables: month names, regnal names, abbreviations and titles, units,
//! currencies, top-level domains and symbols, with their lookups.

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

pub(super) fn is_month(word: &str) -> bool {
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

pub(super) fn month_name(n: u64) -> Option<&'static str> {
    usize::try_from(n.checked_sub(1)?)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
}

/// Names after which a roman numeral is a regnal ordinal.
pub(super) const REGNAL_NAMES: &[&str] = &[
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
pub(super) const SECTION_WORDS: &[&str] = &[
    "Act", "Appendix", "Article", "Book", "Bowl", "Canto", "Ch", "Chapter", "Class", "Level",
    "Part", "Phase", "Psalm", "Round", "Scene", "Section", "Stage", "Title", "Type", "Vol",
    "Volume", "War",
];

/// All-capital words read as words, not spelled.
pub(super) const WORD_ACRONYMS: &[&str] = &[
    "AIDS", "ASAP", "CAPTCHA", "COVID", "FAQ", "FEMA", "FIFA", "GIF", "IKEA", "JPEG", "LASER",
    "NAFTA", "NASA", "NASDAQ", "NATO", "OK", "OPEC", "PIN", "RADAR", "SCUBA", "SIM", "UNESCO",
    "UNICEF",
];

/// Short common words that are not acronyms when written in capitals.
pub(super) const CAPS_WORDS: &[&str] = &[
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
pub(super) const ABBREVIATIONS: &[(&str, &str, bool)] = &[
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

pub(super) fn unit(word: &str) -> Option<(&'static str, &'static str)> {
    UNITS
        .iter()
        .find(|(w, _, _)| *w == word)
        .map(|&(_, one, many)| (one, many))
}

pub(super) const TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "io", "dev", "info", "uk", "de", "fr", "us", "ca", "eu",
    "co", "ai", "app",
];

/// Currency symbols: (symbol, singular, plural, minor singular, minor plural).
pub(super) const CURRENCIES: &[(char, &str, &str, &str, &str)] = &[
    ('$', "dollar", "dollars", "cent", "cents"),
    ('€', "euro", "euros", "cent", "cents"),
    ('£', "pound", "pounds", "penny", "pence"),
    ('¥', "yen", "yen", "sen", "sen"),
];

pub(super) const SCALE_WORDS: &[&str] = &["thousand", "million", "billion", "trillion"];

pub(super) fn symbol_word(c: char) -> Option<&'static str> {
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
