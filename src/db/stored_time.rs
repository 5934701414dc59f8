//! Stored times read without chrono's format parser where the rows are many.
//!
//! SQLite keeps a time as text. diesel reads it with `NaiveDateTime::parse_from_str`, which
//! parses its format string (`%F %T%.f`) again for every value: 4-5 % of the node's CPU time
//! for a list of 25 items on SQLite (two times per row). Baton writes its times in one shape,
//! `YYYY-MM-DD HH:MM:SS` with an optional fraction (diesel's `%F %T%.f`, SQLite's
//! `strftime('%Y-%m-%d %H:%M:%f')`), which `parse` reads directly; any other text goes to
//! diesel's parser as before, and PostgreSQL's binary times are diesel's too.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteValue};

use crate::db::{MultiBackend, MultiRawValue};

/// A `TIMESTAMP` column read through `parse` on SQLite: for the rows read in numbers, as
/// `#[diesel(deserialize_as = StoredTime)]` on a struct's field or in place of the time in a
/// tuple.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct StoredTime(NaiveDateTime);

impl From<StoredTime> for NaiveDateTime {
    fn from(time: StoredTime) -> NaiveDateTime {
        time.0
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<StoredTime> {
        match parse(value.read_text()) {
            Some(time) => Ok(StoredTime(time)),
            None => <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(StoredTime),
        }
    }
}

impl FromSql<Timestamp, Pg> for StoredTime {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<StoredTime> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(StoredTime)
    }
}

/// Statements run on either backend (those not run on the backend's own connection).
impl FromSql<Timestamp, MultiBackend> for StoredTime {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<StoredTime> {
        match value {
            MultiRawValue::Sqlite(value) => <StoredTime as FromSql<Timestamp, Sqlite>>::from_sql(value),
            MultiRawValue::Postgresql(value) => <StoredTime as FromSql<Timestamp, Pg>>::from_sql(value),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS`, optionally followed by `.` and one to nine digits; `None` for any
/// other text and for dates or times that do not exist.
fn parse(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || bytes[10] != b' ' || bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let nanoseconds = match &bytes[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(
        digits(&bytes[11..13])?,
        digits(&bytes[14..16])?,
        digits(&bytes[17..19])?,
        nanoseconds,
    )?;
    Some(parse_date(&bytes[..10])?.and_time(time))
}

/// `YYYY-MM-DD` of a day that exists: the date of a stored time, and a date as an item's kept
/// values hold it (`model::field::value`).
pub fn parse_date(text: &[u8]) -> Option<NaiveDate> {
    if text.len() != 10 || text[4] != b'-' || text[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(digits(&text[..4])?).ok()?, digits(&text[5..7])?, digits(&text[8..10])?)
}

/// Decimal digits and nothing else (at most nine, which a `u32` holds).
fn digits(text: &[u8]) -> Option<u32> {
    text.iter().try_fold(0u32, |sum, &byte| byte.is_ascii_digit().then(|| sum * 10 + u32::from(byte - b'0')))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use chrono::NaiveDateTime;

    fn chrono(text: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(text, "%F %T%.f").ok()
    }

    #[test]
    fn baton_s_stored_shapes_read_as_chrono_reads_them() {
        for text in [
            "2026-12-06 19:11:03",
            "2026-12-06 19:11:03.5",
            "2026-12-06 19:11:03.123",
            "2026-12-06 19:11:03.123456",
            "2026-12-06 19:11:03.123456789",
            "2024-02-29 00:00:00.000",
            "0001-01-01 23:59:59",
        ] {
            assert_eq!(parse(text), chrono(text), "{text}");
            assert!(parse(text).is_some(), "{text}");
        }
    }

    #[test]
    fn other_text_is_left_to_diesel() {
        for text in [
            "",
            "2026-12-06",
            "2026-12-06T19:11:03",
            "2026-12-06 19:11:03Z",
            "2026-12-06 19:11:03+01:00",
            "2026-12-06 19:11:03.",
            "2026-12-06 19:11:03.1234567890",
            "2026-12-06 19:11:0x",
            "2026-13-06 19:11:03",
            "2023-02-29 19:11:03",
            "2026-12-06 24:00:00",
            "+026-12-06 19:11:03",
            "2461015.5",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
