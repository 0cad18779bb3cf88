//! Timestamps as RFC 3339 text (`2027-01-31T00:00:00Z`) and Unix seconds, without a date library.
//!
//! Expiries in trust stores and indexes are compared as Unix seconds; they are written in UTC.
//! Public for the layers above (the index's expiry uses the same clock and format).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch of `now` (negative before 1970).
pub fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`);
/// the month and day are not range-checked here.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Unix seconds of a TOML offset date-time; a date or time alone, or a local time without an
/// offset, is refused.
pub fn datetime_to_unix(dt: &toml::value::Datetime) -> Result<i64, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!(
            "{dt} is not a full date-time with an offset (write e.g. 2027-01-31T00:00:00Z)"
        ));
    };
    let offset_min = match offset {
        toml::value::Offset::Z => 0,
        toml::value::Offset::Custom { minutes } => i64::from(minutes),
    };
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    Ok(days * 86_400
        + i64::from(time.hour) * 3600
        + i64::from(time.minute) * 60
        + i64::from(time.second)
        - offset_min * 60)
}

/// Parses RFC 3339 text into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    if text.len() > 64 {
        return Err("timestamp too long".to_owned());
    }
    let dt: toml::value::Datetime = text
        .parse()
        .map_err(|e| format!("{text:?} is not an RFC 3339 timestamp: {e}"))?;
    datetime_to_unix(&dt)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A TOML date-time of Unix seconds (UTC).
pub(crate) fn unix_to_datetime(secs: i64) -> Result<toml::value::Datetime, String> {
    format_rfc3339(secs)
        .parse()
        .map_err(|e: toml::value::DatetimeParseError| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z").unwrap(), 951_868_800);
        assert_eq!(
            parse_rfc3339("2026-11-26T01:00:00+01:00").unwrap(),
            parse_rfc3339("2026-11-26T00:00:00Z").unwrap()
        );
        assert!(parse_rfc3339("2026-11-26").is_err());
        assert!(parse_rfc3339("2026-11-26T00:00:00").is_err());
        for s in [0, 951_868_800, 1_795_000_000, -86_401, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(s)).unwrap(), s);
        }
    }
}
