//! Attribute values of SSML: durations, break strengths, rates, volumes.
//!
//! Each reader returns `None` for a value it cannot read; the caller reports it and keeps
//! the value it had. Numbers are bounded here, so no value can ask for unbounded work.

/// Longest break, in milliseconds: one minute (signet-audio's longest silence).
pub const MAX_BREAK_MS: u32 = 60_000;
/// Slowest rate multiplier a document can reach (the facade's slowest speed).
pub const MIN_RATE: f32 = 0.25;
/// Fastest rate multiplier (the facade's fastest speed).
pub const MAX_RATE: f32 = 4.0;
/// Loudest volume change, in decibels.
pub const MAX_GAIN_DB: f32 = 12.0;
/// Softest volume change, in decibels (anything below is this).
pub const MIN_GAIN_DB: f32 = -60.0;

/// A number written plainly: digits with at most one decimal point, at most 12 characters.
fn plain_number(s: &str) -> Option<f64> {
    if s.is_empty()
        || s.len() > 12
        || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || s.bytes().filter(|&b| b == b'.').count() > 1
        || s == "."
    {
        return None;
    }
    s.parse().ok()
}

/// A signed number: an optional `+` or `-` before a [`plain_number`].
fn signed_number(s: &str) -> Option<f64> {
    match s.strip_prefix('-') {
        Some(rest) => plain_number(rest).map(|n| -n),
        None => plain_number(s.strip_prefix('+').unwrap_or(s)),
    }
}

/// `time` of `<break>` (`500ms`, `1.5s`) in whole milliseconds, capped at [`MAX_BREAK_MS`]
/// (the second value says whether it was capped).
#[must_use]
pub fn break_time(value: &str) -> Option<(u32, bool)> {
    let v = value.trim();
    let ms = if let Some(n) = v.strip_suffix("ms") {
        plain_number(n.trim_end())?
    } else if let Some(n) = v.strip_suffix('s') {
        plain_number(n.trim_end())? * 1000.0
    } else {
        return None;
    };
    let capped = ms > f64::from(MAX_BREAK_MS);
    Some((ms.round().min(f64::from(MAX_BREAK_MS)) as u32, capped))
}

/// `strength` of `<break>` in milliseconds (`none` 0, `x-weak` 100, `weak` 250, `medium`
/// 500, `strong` 800, `x-strong` 1200).
#[must_use]
pub fn break_strength(value: &str) -> Option<u32> {
    Some(match value.trim() {
        "none" => 0,
        "x-weak" => 100,
        "weak" => 250,
        "medium" => 500,
        "strong" => 800,
        "x-strong" => 1200,
        _ => return None,
    })
}

/// `rate` of `<prosody>` as a multiplier of the speaking rate: a label (`x-slow` 0.5,
/// `slow` 0.75, `medium` and `default` 1, `fast` 1.25, `x-fast` 1.5), a percentage of the
/// current rate (`150%`; SSML 1.1), a relative percentage (`+20%`, `-10%`) or a bare
/// multiplier (`1.2`; SSML 1.0).
#[must_use]
pub fn rate(value: &str) -> Option<f32> {
    let v = value.trim();
    let r = match v {
        "x-slow" => 0.5,
        "slow" => 0.75,
        "medium" | "default" => 1.0,
        "fast" => 1.25,
        "x-fast" => 1.5,
        _ => {
            if let Some(p) = v.strip_suffix('%') {
                if p.starts_with(['+', '-']) {
                    1.0 + signed_number(p)? / 100.0
                } else {
                    plain_number(p)? / 100.0
                }
            } else {
                plain_number(v)?
            }
        }
    };
    (r.is_finite() && r > 0.0).then_some(r as f32)
}

/// `volume` of `<prosody>` as a change in decibels: a label (`silent` is `None` inside
/// `Some`: mute; `x-soft` −12, `soft` −6, `medium` and `default` 0, `loud` +6, `x-loud`
/// +12) or a signed change in dB (`+6dB`, `-3.5dB`).
#[must_use]
pub fn volume(value: &str) -> Option<Option<f32>> {
    let v = value.trim();
    Some(Some(match v {
        "silent" => return Some(None),
        "x-soft" => -12.0,
        "soft" => -6.0,
        "medium" | "default" => 0.0,
        "loud" => 6.0,
        "x-loud" => 12.0,
        _ => {
            let n = v.strip_suffix("dB").or_else(|| v.strip_suffix("db"))?;
            signed_number(n.trim_end())? as f32
        }
    }))
}

/// Decibels to a linear gain.
#[must_use]
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db.clamp(MIN_GAIN_DB, MAX_GAIN_DB) / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_and_bound() {
        assert_eq!(break_time("500ms"), Some((500, false)));
        assert_eq!(break_time("1.5s"), Some((1500, false)));
        assert_eq!(break_time("3600s"), Some((MAX_BREAK_MS, true)));
        assert_eq!(break_time("-1s"), None);
        assert_eq!(break_time("1e9s"), None);
        assert_eq!(break_strength("strong"), Some(800));
        assert_eq!(rate("150%"), Some(1.5));
        assert_eq!(rate("+20%"), Some(1.2));
        assert_eq!(rate("-100%"), None);
        assert_eq!(rate("slow"), Some(0.75));
        assert_eq!(volume("+6dB"), Some(Some(6.0)));
        assert_eq!(volume("silent"), Some(None));
        assert_eq!(volume("loud-ish"), None);
        assert!((db_to_gain(6.0) - 1.995).abs() < 0.01);
    }
}
