//! Properties on arbitrary input: nothing panics, normalization is idempotent, segments
//! cover their input and respect their bound, and huge inputs finish quickly.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use signet_text::{normalize_en, sanitize, split_segments, split_sentences};

/// Tokens that exercise every normalization rule, joined by the strategy below.
const VOCAB: &[&str] = &[
    "1",
    "5",
    "12",
    "1,234",
    "-7",
    "3.14",
    ".5",
    "007",
    "1999",
    "2005",
    "1st",
    "22nd",
    "1990s",
    "2024-03-05",
    "3:45",
    "3:00",
    "pm",
    "am",
    "a.m.",
    "$5.50",
    "€20",
    "£3",
    "$2",
    "million",
    "50%",
    "%",
    "5km",
    "km",
    "°C",
    "20°C",
    "mph",
    "Dr.",
    "Mr.",
    "St.",
    "etc.",
    "e.g.",
    "vs.",
    "No.",
    "Henry",
    "VIII",
    "IV",
    "I",
    "Chapter",
    "War",
    "NASA",
    "FBI",
    "HTML",
    "OK",
    "THE",
    "example.com",
    "www.example.com",
    "jo@example.org",
    "&",
    "@",
    "+",
    "=",
    "#1",
    "R&D",
    "5-10",
    "MP3",
    "March",
    "May",
    "Jan.",
    "the",
    "and",
    "Smith",
    "main",
    "(",
    ")",
    "\"",
    ",",
    ".",
    "?",
    "x",
    "A",
    "B",
    "V",
    "12345678901234567890",
    "½",
    "é",
    "'s",
    "-",
];

fn vocab_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(VOCAB),
            prop::sample::select(&[" ", " ", "", ", ", ". ", "\n", "-", "/"][..]),
        ),
        0..12,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, sep)| format!("{w}{sep}"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normalization_is_idempotent_on_rule_tokens(text in vocab_text()) {
        let once = normalize_en(&text);
        prop_assert_eq!(normalize_en(&once), once);
    }

    #[test]
    fn normalization_is_idempotent_on_arbitrary_text(text in "\\PC{0,64}") {
        let once = normalize_en(&text);
        prop_assert_eq!(normalize_en(&once), once);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in any::<String>(), max in 0usize..64) {
        let (clean, _) = sanitize(&text);
        let (again, diags) = sanitize(&clean);
        prop_assert_eq!(&again, &clean);
        prop_assert!(diags.is_empty());
        let normalized = normalize_en(&clean);
        let pieces = split_segments(&normalized, max);
        prop_assert_eq!(pieces.concat(), normalized);
    }

    #[test]
    fn segments_cover_input_and_respect_bound(text in "[a-z ,;.!?\n]{0,400}|\\PC{0,200}", max in 1usize..80) {
        let pieces = split_segments(&text, max);
        prop_assert_eq!(pieces.concat(), text.clone());
        for p in &pieces {
            prop_assert!(!p.is_empty());
            prop_assert!(p.chars().count() <= max, "{:?} longer than {}", p, max);
        }
        prop_assert_eq!(split_sentences(&text).concat(), text);
    }
}

/// Every cleaner Coqui voices may name.
const COQUI_CLEANERS: &[&str] = &[
    "english_cleaners",
    "phoneme_cleaners",
    "basic_cleaners",
    "transliteration_cleaners",
    "multilingual_cleaners",
    "multilingual_phoneme_cleaners",
];

/// A phonemizer that echoes its text as one clause.
struct Echo;

impl signet_text::Phonemize for Echo {
    fn phonemize(
        &mut self,
        _voice: &str,
        text: &str,
    ) -> Result<Vec<signet_text::Clause>, signet_text::TextError> {
        Ok(vec![signet_text::Clause::new(text, None, true, text.len())])
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Coqui's cleaners and tokenizer never panic, and what they make stays within a fixed
    /// multiple of the input (numbers grow into words, nothing else grows).
    #[test]
    fn coqui_text_processing_never_panics_and_stays_bounded(
        text in prop_oneof![vocab_text(), any::<String>(), "[0-9a-z:;,.$£¥ -]{0,40}"],
    ) {
        for name in COQUI_CLEANERS {
            let cleaner = signet_text::CoquiCleaner::from_name(name).expect("known cleaner");
            let clean = cleaner.clean(&text);
            prop_assert!(clean.len() <= 40 * text.len() + 64, "{} -> {} bytes", text.len(), clean.len());
        }
        let symbols: Vec<String> = ["_", " ", ",", ".", "a", "e", "t", "<BLNK>"]
            .iter().map(|s| (*s).to_owned()).collect();
        let mut settings = signet_text::CoquiTextSettings::new(symbols);
        settings.use_phonemes = true;
        settings.phoneme_language = Some("en-us".to_owned());
        settings.text_cleaner = Some("english_cleaners".to_owned());
        settings.add_blank = true;
        settings.blank = Some("<BLNK>".to_owned());
        let tokenizer = signet_text::CoquiTokenizer::new(&settings).expect("settings");
        let (ids, _) = tokenizer.text_to_ids(Some(&mut Echo), &text).expect("echo");
        prop_assert!(ids.iter().all(|&i| (0..8).contains(&i)));
        prop_assert!(ids.len() % 2 == 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn huge_arbitrary_unicode_finishes_quickly(
        chars in prop::collection::vec(any::<char>(), 0..50_000),
        max in 1usize..400,
    ) {
        let text: String = chars.into_iter().collect();
        let start = Instant::now();
        let (clean, _) = sanitize(&text);
        let normalized = normalize_en(&clean);
        let pieces = split_segments(&normalized, max);
        prop_assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
        prop_assert_eq!(pieces.concat(), normalized);
    }
}

/// Runs `f` and fails if it takes longer than `limit` (generous: debug build, shared CPU).
fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < limit, "{what} took {took:?}");
    out
}

#[test]
fn huge_inputs_finish_quickly() {
    let limit = Duration::from_secs(20);
    let inputs = [
        "word ".repeat(20_000),
        "9".repeat(200_000),
        "1,".repeat(100_000),
        "a\u{301}\u{302}\u{303}\u{304}\u{305}".repeat(50_000),
        "\u{202E}\u{200B}x".repeat(100_000),
        "FBI Henry VIII $5.50 3:45 pm 1999 example.com ".repeat(5_000),
        "é".repeat(300_000),
        ".".repeat(200_000),
        "-".repeat(200_000),
        "#".repeat(200_000),
        "1-".repeat(100_000),
        "1.".repeat(100_000),
        "9/".repeat(100_000),
        "$".repeat(200_000),
        "a.m.".repeat(50_000),
        "Henry VIII ".repeat(20_000),
        "x@y.com".repeat(30_000),
        "-1".repeat(100_000),
        "1st".repeat(70_000),
    ];
    for input in &inputs {
        let (clean, _) = within(limit, "sanitize", || sanitize(input));
        let normalized = within(limit, "normalize_en", || normalize_en(&clean));
        let pieces = within(limit, "segment", || split_segments(&normalized, 300));
        assert_eq!(pieces.concat(), normalized);
        assert!(pieces.iter().all(|p| p.chars().count() <= 300));
    }
}

#[test]
fn hundred_thousand_characters_without_full_stop_are_segmented_completely() {
    let text = "and the rain kept falling on the roofs of the town ".repeat(2_000);
    assert!(text.chars().count() >= 100_000);
    let pieces = split_segments(&text, 250);
    assert_eq!(pieces.concat(), text);
    assert!(pieces.iter().all(|p| p.chars().count() <= 250));
    // Cuts fall at word boundaries, not inside words.
    assert!(pieces.iter().all(|p| p.ends_with(' ')));
}

mod two_stage {
    //! Properties of the two-stage frontend (`prepare`, `phonemize_segment`) on
    //! arbitrary input, with a stand-in phonemizer that answers arbitrary phonemes.

    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use proptest::prelude::*;
    use signet_text::frontend::{MAX_SEGMENT_CHARS, MAX_WORD_CHARS};
    use signet_text::{
        normalize_en, phonemize_segment, prepare, sanitize, split_sentences, Clause, Limits,
        Normalization, PhonemeIdMap, Phonemize, PreparedText, SegmentPart, TextError,
    };

    /// Answers each call with the next scripted phoneme string, as one clause.
    struct Scripted(Vec<String>, usize);

    impl Phonemize for Scripted {
        fn phonemize(&mut self, _voice: &str, text: &str) -> Result<Vec<Clause>, TextError> {
            let p = self
                .0
                .get(self.1 % self.0.len().max(1))
                .cloned()
                .unwrap_or_default();
            self.1 += 1;
            Ok(vec![Clause::new(p, None, true, text.len())])
        }
    }

    fn map() -> PhonemeIdMap {
        let mut m = BTreeMap::new();
        for (i, s) in ["_", "^", "$", " ", ".", "a", "b", "ə", "ˈ"]
            .into_iter()
            .enumerate()
        {
            m.insert(s.to_owned(), vec![i as i64]);
        }
        PhonemeIdMap::new(m).unwrap()
    }

    /// Whether the frontend has nothing to say for `text`: blank after the Unicode
    /// policy and normalization (which reads separators such as a lone `#` or `-` as
    /// nothing), or inline phoneme markup.
    fn says_nothing(text: &str) -> bool {
        let clean = sanitize(text).0;
        clean.trim().is_empty() || normalize_en(&clean).trim().is_empty() || text.contains("[[")
    }

    /// Checks what `prepare` promises about its segments.
    fn check_segments(text: &str, p: &PreparedText) -> Result<(), TestCaseError> {
        let mut at = 0;
        let mut prev_start = 0;
        for c in &p.segments {
            for part in &c.parts {
                if let SegmentPart::Text(t) = part {
                    prop_assert!(t.chars().count() <= MAX_SEGMENT_CHARS);
                    prop_assert!(t
                        .split_whitespace()
                        .all(|w| w.chars().count() <= MAX_WORD_CHARS));
                }
            }
            // Segments come in input order; segments cut from one lengthened piece, and
            // inline phonemes joined to their sentence, may share bytes.
            prop_assert!(c.source.start >= prev_start);
            prop_assert!(c.source.start < c.source.end && c.source.end <= text.len());
            prev_start = c.source.start;
            if c.source.start > at {
                let gap = &text[at..c.source.start];
                prop_assert!(says_nothing(gap), "gap {:?} dropped", gap);
            }
            at = at.max(c.source.end);
        }
        let tail = &text[at..];
        prop_assert!(says_nothing(tail), "tail {:?} dropped", tail);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn prepare_covers_the_input_and_respects_the_limits(
            text in any::<String>(),
            max_chars in 1usize..200,
            english in any::<bool>(),
        ) {
            let limits = Limits::default().with_max_chars(max_chars);
            let norm = if english { Normalization::English } else { Normalization::None };
            match prepare(&text, norm, &limits) {
                Ok(p) => {
                    prop_assert!(text.chars().count() <= max_chars);
                    check_segments(&text, &p)?;
                }
                Err(TextError::LimitExceeded { limit, .. }) => {
                    prop_assert_eq!(limit, "max_chars");
                    prop_assert!(text.chars().count() > max_chars);
                }
                Err(TextError::NothingToSpeak { .. }) => {
                    prop_assert!(says_nothing(&text));
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }

        /// The shapes of espeak-ng's known crash inputs (`é . ` and `a . ` repeated, `s'`
        /// chained) mixed with what the clean-up folds, strips or reads as a space
        /// (fullwidth stops, control and zero-width characters, other white space,
        /// look-alikes of other scripts): after every transformation, each text part
        /// that reaches espeak-ng is at most one sentence, with no over-long word.
        #[test]
        fn text_parts_hold_one_sentence_after_clean_up(
            text in r"(é|a|s|e\x{301}|'|’|＇|\.|．|｡|。|\x{1}|\x{7}|\x{200b}|\x{2060}|\x{feff}|\x{202e}|\x{a0}|\x{3000}|\x{2003}| |\t|е|α|ε){0,600}",
            english in any::<bool>(),
        ) {
            let norm = if english { Normalization::English } else { Normalization::None };
            let Ok(prepared) = prepare(&text, norm, &Limits::default()) else {
                return Ok(());
            };
            for segment in &prepared.segments {
                for part in &segment.parts {
                    if let SegmentPart::Text(t) = part {
                        let sentences = split_sentences(t)
                            .into_iter()
                            .filter(|s| !s.trim().is_empty())
                            .count();
                        prop_assert!(sentences <= 1, "{} sentences in {:?}", sentences, t);
                        prop_assert!(t
                            .split_whitespace()
                            .all(|w| w.chars().count() <= MAX_WORD_CHARS));
                    }
                }
            }
        }

        #[test]
        fn segments_give_sentences_within_the_phoneme_limit(
            text in "[a-z .,\\[\\]ə]{1,300}",
            answers in prop::collection::vec("[abəˈ .☺(]{0,120}", 1..6),
            max_phonemes in 1usize..60,
        ) {
            let limits = Limits::default().with_max_phonemes_per_sentence(max_phonemes);
            let Ok(prepared) = prepare(&text, Normalization::English, &limits) else {
                return Ok(());
            };
            let mut ph = Scripted(answers, 0);
            let map = map();
            for segment in &prepared.segments {
                let out = phonemize_segment(&mut ph, "en-us", &map, segment, &limits)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                for s in &out.sentences {
                    prop_assert!(s.phoneme_count() <= max_phonemes);
                    prop_assert!(s.ids.len() >= 3);
                    prop_assert_eq!(s.ids.first(), Some(&1));
                    prop_assert_eq!(s.ids.last(), Some(&2));
                    prop_assert_eq!(&s.text, &segment.source);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

        #[test]
        fn huge_arbitrary_text_is_prepared_quickly(
            chars in prop::collection::vec(any::<char>(), 100_000..200_000),
        ) {
            let text: String = chars.into_iter().collect();
            let limits = Limits::default().with_max_input_bytes(usize::MAX);
            let start = Instant::now();
            let result = prepare(&text, Normalization::English, &limits);
            prop_assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
            if let Ok(p) = result {
                check_segments(&text, &p)?;
            }
        }
    }
}
