//! `[jobs]`: when the master runs each scheduled job.

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// When the master runs each scheduled job: a cron expression in UTC, in the usual 5-field
/// form (`min hour day month weekday`) or cron's 6/7-field form with seconds first, or `"off"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobSettings {
    pub due_reminders: String,
    pub notification_digest: String,
    pub session_cleanup: String,
    pub prune: String,
    pub index_merge: String,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            due_reminders: "0 7 * * *".into(),
            notification_digest: "0 6 * * *".into(),
            session_cleanup: "17 * * * *".into(),
            prune: "42 3 * * *".into(),
            index_merge: "30 4 * * *".into(),
        }
    }
}

impl JobSettings {
    /// The configured schedule text of every job, by job name.
    pub fn schedules(&self) -> [(&'static str, &str); 5] {
        [
            ("due_reminders", &self.due_reminders),
            ("notification_digest", &self.notification_digest),
            ("session_cleanup", &self.session_cleanup),
            ("prune", &self.prune),
            ("index_merge", &self.index_merge),
        ]
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        for (job, schedule) in self.schedules() {
            parse_schedule(schedule).map_err(|error| SettingsError(format!("jobs.{job}: {error}")))?;
        }
        Ok(())
    }
}

/// A job schedule: `None` for `"off"`. Five fields are the usual cron form; cron's own form
/// has seconds first (and numbers weekdays 1-7 from Sunday, so prefer names like `Mon-Fri`).
pub fn parse_schedule(text: &str) -> Result<Option<cron::Schedule>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let fields = text.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {text}"),
        6 | 7 => text.to_string(),
        _ => {
            return Err(format!(
                "{text:?} has {fields} fields: write a cron expression like \"0 7 * * Mon-Fri\" (minute hour day \
                 month weekday), or \"off\""
            ));
        }
    };
    full.parse::<cron::Schedule>().map(Some).map_err(|error| format!("{text:?} is not a cron expression: {error}"))
}

#[cfg(test)]
mod tests {
    use super::parse_schedule;
    use crate::config::Settings;

    #[test]
    fn job_schedules_accept_the_usual_five_fields_cron_six_and_off() {
        let at = |text: &str| {
            let schedule = parse_schedule(text).unwrap().unwrap();
            let from = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z").unwrap().to_utc();
            schedule.after(&from).next().unwrap().to_rfc3339()
        };
        assert_eq!(at("0 7 * * *"), "2026-11-25T07:00:00+00:00");
        assert_eq!(
            at("30 6 * * Sat"),
            "2026-11-28T06:30:00+00:00",
            "weekday names (cron numbers them from Sunday = 1)"
        );
        assert_eq!(at("*/10 * * * * *"), "2026-11-24T12:00:10+00:00", "six fields: seconds first");
        assert!(parse_schedule(" OFF ").unwrap().is_none());
        assert!(parse_schedule("0 7 * *").unwrap_err().contains("4 fields"));
        assert!(parse_schedule("0 25 * * *").unwrap_err().contains("not a cron expression"));
        let error = Settings::from_toml("[jobs]\nprune = \"nonsense\"").unwrap_err().to_string();
        assert!(error.contains("jobs.prune"), "{error}");
    }
}
