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
//!
//! The code is layered, each module using only those before it: [`numbers`] (number
//! words) and [`tables`] (word tables), [`token`] (tokens and their neighbours), [`rules`]
//! (the reading of one token), [`address`] (URLs and e-mail addresses), and [`pass`] (one
//! rewriting pass over the text); [`say_as`](fn@say_as) reads one SSML `<say-as>` element's
//! content as its `interpret-as` says.

mod address;
pub(crate) mod numbers;
mod pass;
mod rules;
mod say_as;
mod tables;
mod token;

pub use numbers::MAX_CARDINAL_DIGITS;
pub use say_as::{say_as, SayAs};
pub use tables::is_non_final_abbreviation;

use pass::pass;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_kept() {
        assert_eq!(normalize_en("  a\n\tb  "), "  a\n\tb  ");
        assert_eq!(normalize_en(""), "");
    }
}
