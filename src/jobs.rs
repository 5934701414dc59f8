//! Scheduled jobs, run by the master only (see `scheduler`). Each occurrence — a job and the
//! time the schedule named — is one row of `job_runs` under a unique constraint, claimed with
//! the master's epoch, so a failover neither skips nor doubles a run. A job's database work
//! and the row marking its run finished commit in one fenced transaction: a master dying in
//! the middle leaves the run unfinished, and the next master runs it again from the start.
//! A run asked for by hand (`baton jobs run`, `POST /api/v1/jobs/{name}/runs`) is a row
//! without a claim until the master takes it.

pub mod builtin;
pub mod scheduler;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::config::jobs::{JobSettings, parse_schedule};
use crate::db::schema::job_runs;
use crate::db::{DbConnection, database_now, write_transaction};
use crate::error::{Error, Result};
use crate::timestamp::{serialize_optional_utc, serialize_utc};

/// The built-in jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    DueReminders,
    NotificationDigest,
    SessionCleanup,
    Prune,
    IndexMerge,
}

impl Job {
    pub const ALL: [Job; 5] =
        [Job::DueReminders, Job::NotificationDigest, Job::SessionCleanup, Job::Prune, Job::IndexMerge];

    pub fn name(self) -> &'static str {
        match self {
            Job::DueReminders => "due_reminders",
            Job::NotificationDigest => "notification_digest",
            Job::SessionCleanup => "session_cleanup",
            Job::Prune => "prune",
            Job::IndexMerge => "index_merge",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Job::DueReminders => {
                "mails each user one digest of their open items due by tomorrow or overdue (assigned to them, or \
                 reported by them when nobody is assigned)"
            }
            Job::NotificationDigest => {
                "mails each user who chose the daily digest one mail with the news held for them since the last \
                 digest, as much of it as they may still read"
            }
            Job::SessionCleanup => "removes expired sessions and old failed sign-in records",
            Job::Prune => {
                "removes old coordination rows: cluster events and probe rows after 7 days, sent mails after 30 \
                 days, mail receipts, finished rebuilds and job runs after 90 days; and the files of deleted items' \
                 attachments a day after the deletion"
            }
            Job::IndexMerge => "merges the search index segments into one, for faster searches",
        }
    }

    pub fn from_name(name: &str) -> Result<Job> {
        Job::ALL.into_iter().find(|job| job.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Job::ALL.iter().map(|job| job.name()).collect();
            Error::NotFound(format!("job {name:?} (the jobs are {})", known.join(", ")))
        })
    }

    /// The configured schedule text (`"off"` when disabled).
    pub fn schedule_text(self, settings: &JobSettings) -> String {
        settings
            .schedules()
            .into_iter()
            .find(|(name, _)| *name == self.name())
            .map(|(_, text)| text.to_string())
            .unwrap_or_default()
    }

    /// The schedule; `None` when the job is off. Settings are validated at start.
    pub fn schedule(self, settings: &JobSettings) -> Result<Option<cron::Schedule>> {
        parse_schedule(&self.schedule_text(settings))
            .map_err(|error| Error::invalid(format!("jobs.{}", self.name()), error))
    }
}

/// Why a run happened.
pub const CAUSE_SCHEDULE: &str = "schedule";
pub const CAUSE_MANUAL: &str = "manual";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = job_runs)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    /// The occurrence this run is for; none for a run asked for by hand.
    #[serde(serialize_with = "serialize_optional_utc")]
    pub scheduled_for: Option<NaiveDateTime>,
    #[serde(serialize_with = "serialize_utc")]
    pub requested_at: NaiveDateTime,
    /// `schedule` or `manual`.
    pub cause: String,
    /// The master that ran it, and its epoch.
    pub epoch: Option<i64>,
    pub node: Option<String>,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub started_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub finished_at: Option<NaiveDateTime>,
    pub duration_ms: Option<i64>,
    /// `succeeded` or `failed`; none while waiting or running.
    pub outcome: Option<String>,
    /// What the run did, or why it failed.
    pub detail: String,
}

impl JobRun {
    pub fn state(&self) -> &'static str {
        match (&self.outcome, self.started_at) {
            (Some(outcome), _) if outcome == SUCCEEDED => "succeeded",
            (Some(_), _) => "failed",
            (None, Some(_)) => "running",
            (None, None) => "waiting",
        }
    }
}

/// A job with its schedule, its last run and its next occurrence.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub name: &'static str,
    pub description: &'static str,
    /// As configured (UTC); `off` when disabled.
    pub schedule: String,
    #[serde(serialize_with = "serialize_optional_date_time")]
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<JobRun>,
}

fn serialize_optional_date_time<S: serde::Serializer>(
    value: &Option<DateTime<Utc>>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serialize_optional_utc(&value.map(|value| value.naive_utc()), serializer)
}

/// Every job, in a fixed order.
pub fn list(connection: &mut DbConnection, settings: &JobSettings) -> Result<Vec<JobStatus>> {
    let now = database_now(connection)?.and_utc();
    Job::ALL
        .into_iter()
        .map(|job| {
            let last_run = job_runs::table
                .filter(job_runs::job.eq(job.name()))
                .order(job_runs::id.desc())
                .select(JobRun::as_select())
                .first(connection)
                .optional()?;
            let next_run = job.schedule(settings)?.and_then(|schedule| schedule.after(&now).next());
            Ok(JobStatus {
                name: job.name(),
                description: job.description(),
                schedule: job.schedule_text(settings),
                next_run,
                last_run,
            })
        })
        .collect()
}

/// Asks the master to run `job` now; returns the waiting run.
pub fn request_run(connection: &mut DbConnection, job: Job) -> Result<JobRun> {
    write_transaction(connection, |connection| {
        let waiting: Option<JobRun> = job_runs::table
            .filter(job_runs::job.eq(job.name()))
            .filter(job_runs::started_at.is_null())
            .select(JobRun::as_select())
            .first(connection)
            .optional()?;
        if let Some(waiting) = waiting {
            return Ok(waiting);
        }
        let id: i64 = diesel::insert_into(job_runs::table)
            .values((job_runs::job.eq(job.name()), job_runs::cause.eq(CAUSE_MANUAL)))
            .returning(job_runs::id)
            .get_result(connection)?;
        get_run(connection, id)
    })
}

pub fn get_run(connection: &mut DbConnection, id: i64) -> Result<JobRun> {
    job_runs::table
        .find(id)
        .select(JobRun::as_select())
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("job run {id}")))
}

/// The latest runs of `job`, newest first.
pub fn recent_runs(connection: &mut DbConnection, job: Job, count: i64) -> Result<Vec<JobRun>> {
    Ok(job_runs::table
        .filter(job_runs::job.eq(job.name()))
        .order(job_runs::id.desc())
        .limit(count)
        .select(JobRun::as_select())
        .load(connection)?)
}
