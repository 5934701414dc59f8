//! The timestamp format of the API, pages and status reports: UTC, RFC 3339 with
//! milliseconds and a `Z`. Used by every layer that serializes a stored time, so it sits
//! beside `error` at the bottom.

use chrono::NaiveDateTime;
use serde::Serializer;

/// A stored time as the API writes it: RFC 3339, UTC, with milliseconds and a `Z`.
pub fn utc_text(time: NaiveDateTime) -> String {
    time.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Timestamps are UTC; the API writes them as RFC 3339 with milliseconds and a `Z`.
pub fn serialize_utc<S: Serializer>(time: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&utc_text(*time))
}

pub fn serialize_optional_utc<S: Serializer>(time: &Option<NaiveDateTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize_utc(time, serializer),
        None => serializer.serialize_none(),
    }
}
