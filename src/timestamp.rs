//! The timestamp format of the API, pages and status reports: UTC, RFC 3339 with
//! milliseconds and a `Z`. Used by every layer that serializes a stored time, so it sits
//! beside `error` at the bottom.

use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::Serializer;

/// A stored time as the API writes it: RFC 3339, UTC, with milliseconds and a `Z`.
pub fn utc_text(time: NaiveDateTime) -> String {
    time.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Timestamps are UTC; the API writes them as RFC 3339 with milliseconds and a `Z`. Written
/// in place rather than through `utc_text`: a list of 25 items writes 50 of them, and
/// chrono's formatter with its string was 1.4 % of the node's time for it.
pub fn serialize_utc<S: Serializer>(time: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = [0u8; 24];
    match write_utc(*time, &mut text) {
        Some(text) => serializer.serialize_str(text),
        None => serializer.serialize_str(&utc_text(*time)),
    }
}

/// `utc_text` into `text` for the years 0-9999 (`None` for others, and for a leap second,
/// which chrono writes its own way).
fn write_utc(time: NaiveDateTime, text: &mut [u8; 24]) -> Option<&str> {
    let year = u32::try_from(time.year()).ok().filter(|year| *year <= 9999)?;
    let nanoseconds = time.nanosecond();
    if nanoseconds >= 1_000_000_000 {
        return None;
    }
    let parts = [
        (year, 0, 4),
        (time.month(), 5, 2),
        (time.day(), 8, 2),
        (time.hour(), 11, 2),
        (time.minute(), 14, 2),
        (time.second(), 17, 2),
        (nanoseconds / 1_000_000, 20, 3),
    ];
    for (value, start, width) in parts {
        let mut value = value;
        for place in (start..start + width).rev() {
            text[place] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    for (place, byte) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (23, b'Z')] {
        text[place] = byte;
    }
    std::str::from_utf8(text).ok()
}

pub fn serialize_optional_utc<S: Serializer>(time: &Option<NaiveDateTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize_utc(time, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate};

    use super::{utc_text, write_utc};

    #[test]
    fn times_are_written_in_place_as_chrono_writes_them() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut times = vec![
            NaiveDate::from_ymd_opt(0, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 999_999_999).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 6).unwrap().and_hms_micro_opt(9, 5, 3, 7_654).unwrap(),
        ];
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let seconds = (seed % 253_402_300_800) as i64;
            let nanoseconds = (seed >> 20) as u32 % 1_000_000_000;
            times.push(DateTime::from_timestamp(seconds, nanoseconds).unwrap().naive_utc());
        }
        let mut text = [0u8; 24];
        for time in times {
            assert_eq!(write_utc(time, &mut text), Some(utc_text(time).as_str()), "{time:?}");
        }
    }

    #[test]
    fn other_years_and_leap_seconds_are_left_to_chrono() {
        let mut text = [0u8; 24];
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let before = NaiveDate::from_ymd_opt(-1, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_milli_opt(23, 59, 59, 1_500).unwrap();
        for time in [far, before, leap] {
            assert_eq!(write_utc(time, &mut text), None, "{time:?}");
        }
    }
}
