//! Calendar dates as days since 1970-01-01, for advisory dates and the
//! expiry dates of ignored advisories (no date crate needed for this much).

/// Days since 1970-01-01 of today (UTC).
pub(super) fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(secs / 86_400).unwrap_or(0)
}

/// Days from `date` (`YYYY-MM-DD`) to today, if both are known.
pub(super) fn days_since(date: &str) -> Option<i64> {
    let then = civil_days(date)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(i64::try_from(now / 86_400).ok()? - then)
}

/// Days since 1970-01-01 of a proleptic Gregorian `YYYY-MM-DD` date.
pub(super) fn civil_days(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(signet_sign::time::days_from_civil(y, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_matches_known_dates() {
        assert_eq!(civil_days("1970-01-01"), Some(0));
        assert_eq!(civil_days("2000-03-01"), Some(11_017));
        assert_eq!(civil_days("2026-08-21"), Some(20_686));
        assert_eq!(civil_days("2026-13-01"), None);
        assert_eq!(civil_days("not-a-date"), None);
    }
}
