//! Times as people read them: "3 h ago" on the page and the exact time on hover, in a
//! `<time>` element (`macros.html`: `when`; `moment` shows the exact time to the second where
//! that matters, as on the cluster page). The server writes UTC and names the zone; the
//! page script rewrites the exact time, and the relative one as time passes, in the
//! browser's zone — or in the zone of `data-time-zone` on `<html>`, which is where a
//! per-user zone from the profile goes when there is one.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

/// Older times are shown as a date: "41 d ago" is harder to place than the date itself.
const RELATIVE_DAYS: i64 = 30;

/// "just now", "5 min ago", "3 h ago", "12 d ago", then the date.
pub fn ago(at: &NaiveDateTime) -> String {
    ago_from(*at, Utc::now().naive_utc())
}

fn ago_from(at: NaiveDateTime, now: NaiveDateTime) -> String {
    // A node whose clock runs a little ahead may have written a time in the future.
    let seconds = (now - at).num_seconds();
    match seconds {
        ..45 => "just now".to_string(),
        45..3_600 => format!("{} min ago", (seconds / 60).max(1)),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        _ if seconds < RELATIVE_DAYS * 86_400 => format!("{} d ago", seconds / 86_400),
        _ => date(&at),
    }
}

/// The exact time with its zone, for the hover text.
pub fn exact(at: &NaiveDateTime) -> String {
    format!("{} {:02}:{:02} UTC", date(at), at.hour(), at.minute())
}

/// The exact time to the second with its zone, where seconds matter (cluster events).
pub fn exact_seconds(at: &NaiveDateTime) -> String {
    format!("{} {:02}:{:02}:{:02} UTC", date(at), at.hour(), at.minute(), at.second())
}

/// The `datetime` attribute: RFC 3339 in UTC.
pub fn machine(at: &NaiveDateTime) -> String {
    format!("{}T{:02}:{:02}:{:02}Z", date(at), at.hour(), at.minute(), at.second())
}

/// `2026-12-02`, written directly: a page writes several times per comment, and chrono's
/// `format` parses its pattern each time.
fn date(at: &NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day())
}

/// Whether a due date has passed (in UTC, like every date the server stores).
pub fn is_past(date: &NaiveDate) -> bool {
    *date < Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn times_read_like_people_say_them() {
        let now = at("2026-12-02 12:00:00");
        for (then, expected) in [
            ("2026-12-02 12:00:30", "just now"),
            ("2026-12-02 11:59:20", "just now"),
            ("2026-12-02 11:59:00", "1 min ago"),
            ("2026-12-02 11:01:00", "59 min ago"),
            ("2026-12-02 09:00:00", "3 h ago"),
            ("2026-12-01 12:00:01", "23 h ago"),
            ("2026-11-20 12:00:00", "12 d ago"),
            ("2026-10-01 08:00:00", "2026-10-01"),
        ] {
            assert_eq!(ago_from(at(then), now), expected, "{then}");
        }
        assert_eq!(exact(&now), "2026-12-02 12:00 UTC");
        assert_eq!(exact_seconds(&now), "2026-12-02 12:00:00 UTC");
        assert_eq!(machine(&now), "2026-12-02T12:00:00Z");
    }
}
