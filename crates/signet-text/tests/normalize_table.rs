//! Table-driven test of `normalize_en`: `tests/data/normalize.tsv`, one case a line.

use signet_text::normalize_en;

const TABLE: &str = include_str!("data/normalize.tsv");

fn cases() -> Vec<(usize, String, String)> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with("//") && !l.is_empty())
        .map(|(i, l)| {
            let (input, expected) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}: no tab in {l:?}", i + 1));
            (
                i + 1,
                input.replace("\\n", "\n"),
                expected.replace("\\n", "\n"),
            )
        })
        .collect()
}

#[test]
fn table_has_enough_cases() {
    assert!(cases().len() >= 150, "only {} cases", cases().len());
}

#[test]
fn table_cases_normalize_as_expected() {
    let mut failures = Vec::new();
    for (line, input, expected) in cases() {
        let got = normalize_en(&input);
        if got != expected {
            failures.push(format!(
                "line {line}: {input:?}\n   expected {expected:?}\n        got {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn table_outputs_are_stable() {
    for (line, input, expected) in cases() {
        assert_eq!(normalize_en(&expected), expected, "line {line}: {input:?}");
    }
}
