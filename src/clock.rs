//! Wall-clock time as the API and the database see it: integer milliseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A time in milliseconds since the Unix epoch as ISO 8601 UTC (`2026-12-06T05:41:39.123Z`), for
/// people reading CLI output and error messages.
pub fn iso(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / HOUR_MS,
        in_day % HOUR_MS / MINUTE_MS,
        in_day % MINUTE_MS / SECOND_MS,
        in_day % SECOND_MS
    )
}

/// A time in ms for people and scripts alike: `1796535699123 (2026-12-06T05:41:39.123Z)`.
pub fn ms_and_iso(ms: i64) -> String {
    format!("{ms} ({})", iso(ms))
}

/// The monotonic instant at which the wall clock reads `at` (ms since the epoch), as seen now; a
/// time in the past is now. For timers that must fire when something expires.
pub fn instant_at(at: i64) -> tokio::time::Instant {
    // Capped at a year: no timer waits that long, and no instant overflows.
    let ahead = u64::try_from(at.saturating_sub(now_ms()))
        .unwrap_or(0)
        .min(365 * DAY_MS as u64);
    tokio::time::Instant::now() + std::time::Duration::from_millis(ahead)
}

/// Now, in milliseconds since the Unix epoch. A clock set before 1970 reads as 0.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_iso_8601_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(1_796_535_699_123), "2026-12-06T05:41:39.123Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            ms_and_iso(86_400_000),
            "86400000 (1970-01-02T00:00:00.000Z)"
        );
    }
}
