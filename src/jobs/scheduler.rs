//! The scheduler, a master duty. Once a second it takes the runs waiting for a master (asked
//! for by hand, or left unfinished by a master that died) and the occurrences that fell due,
//! and runs them one at a time. An occurrence is claimed by inserting its row (unique per job
//! and time) in a transaction fenced by the master's epoch; the job's database work and the
//! row's outcome commit together in another fenced transaction. So a failover neither skips
//! nor doubles a run: the new master runs an unfinished run again, and an occurrence missed
//! while no node was master once (only the latest, however many were missed).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::config::jobs::JobSettings;
use crate::db::schema::job_runs;
use crate::db::{DbConnection, database_now};
use crate::error::{Error, Result};
use crate::jobs::{CAUSE_SCHEDULE, FAILED, Job, JobRun, SUCCEEDED, builtin};
use crate::model::attachment::FileStore;
use crate::search::indexer::MergeRequests;

/// How often the scheduler looks for due occurrences and waiting runs.
const TICK: Duration = Duration::from_secs(1);
/// How far back a new master looks for an occurrence missed while there was none.
const CATCH_UP: chrono::Duration = chrono::Duration::days(7);
/// The longest a segment merge may take before its run counts as failed.
const MERGE_TIMEOUT: Duration = Duration::from_secs(1800);

pub struct JobsDuty {
    settings: JobSettings,
    merges: MergeRequests,
    files: FileStore,
    /// The scheduler of this master term; held through a round, so a round run by hand and
    /// the duty's own never take the same run.
    term: tokio::sync::Mutex<Option<Scheduler>>,
}

impl JobsDuty {
    pub fn new(settings: JobSettings, merges: MergeRequests, files: FileStore) -> JobsDuty {
        JobsDuty { settings, merges, files, term: tokio::sync::Mutex::new(None) }
    }

    /// One round: the first of a master term reads the clock and catches up (see
    /// `Scheduler::start`); each runs the waiting runs and the occurrences that fell due.
    /// Returns whether it ran a job.
    pub async fn jobs_round(&self, context: &DutyContext) -> Result<bool> {
        let mut term = self.term.lock().await;
        let scheduler = match &mut *term {
            Some(scheduler) if scheduler.epoch == context.epoch => scheduler,
            _ => {
                let started =
                    Scheduler::start(&self.settings, self.merges.clone(), self.files.clone(), context).await?;
                term.insert(started)
            }
        };
        scheduler.tick(context).await
    }
}

impl MasterDuty for JobsDuty {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn run(self: Arc<Self>, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            while !context.must_stop() {
                if let Err(error) = self.jobs_round(&context).await {
                    tracing::warn!(%error, "the job scheduler failed; trying again");
                }
                tokio::select! {
                    () = context.stopped() => return,
                    () = tokio::time::sleep(TICK) => {}
                }
            }
        })
    }
}

struct Scheduler {
    /// The master term it was started for.
    epoch: i64,
    schedules: Vec<(Job, cron::Schedule)>,
    /// The next occurrence of each scheduled job.
    next: HashMap<Job, DateTime<Utc>>,
    /// The database clock minus this node's, so occurrences follow the shared clock.
    clock_offset: chrono::Duration,
    merges: MergeRequests,
    files: FileStore,
}

impl Scheduler {
    /// Reads the clock and catches up: an occurrence that fell due since a job's last
    /// scheduled run (while no node was master) runs now, once.
    async fn start(
        settings: &JobSettings,
        merges: MergeRequests,
        files: FileStore,
        context: &DutyContext,
    ) -> Result<Scheduler> {
        let mut schedules = Vec::new();
        for job in Job::ALL {
            if let Some(schedule) = job.schedule(settings)? {
                schedules.push((job, schedule));
            }
        }
        let names: Vec<&'static str> = schedules.iter().map(|(job, _)| job.name()).collect();
        let (now, last_runs) = context
            .read(move |connection| {
                let now = database_now(connection)?;
                let last_runs = names
                    .iter()
                    .map(|&name| {
                        let last: Option<NaiveDateTime> = job_runs::table
                            .filter(job_runs::job.eq(name))
                            .filter(job_runs::cause.eq(CAUSE_SCHEDULE))
                            .select(diesel::dsl::max(job_runs::scheduled_for))
                            .first(connection)?;
                        Ok(last)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((now.and_utc(), last_runs))
            })
            .await?;
        let clock_offset = now - Utc::now();
        let mut next = HashMap::new();
        for ((job, schedule), last) in schedules.iter().zip(last_runs) {
            // A job that never ran starts with its next occurrence; one that did catches up.
            let missed = last.and_then(|last| {
                let from = last.and_utc().max(now - CATCH_UP);
                schedule.after(&from).take_while(|occurrence| *occurrence <= now).last()
            });
            let first = missed.or_else(|| schedule.after(&now).next());
            if let Some(first) = first {
                next.insert(*job, first);
            }
        }
        Ok(Scheduler { epoch: context.epoch, schedules, next, clock_offset, merges, files })
    }

    /// Runs the waiting runs and the due occurrences; returns whether it ran any.
    async fn tick(&mut self, context: &DutyContext) -> Result<bool> {
        let epoch = context.epoch;
        let waiting: Vec<JobRun> = context
            .read(move |connection| {
                Ok(job_runs::table
                    .filter(job_runs::finished_at.is_null())
                    .filter(job_runs::started_at.is_null().or(job_runs::epoch.lt(epoch)))
                    .order(job_runs::id.asc())
                    .select(JobRun::as_select())
                    .load(connection)?)
            })
            .await?;
        let mut ran = false;
        for run in waiting {
            if context.must_stop() {
                return Ok(ran);
            }
            let job = match Job::from_name(&run.job) {
                Ok(job) => job,
                Err(error) => {
                    // A job of another version of Baton: recorded as failed, not retried.
                    self.finish(context, run.id, Instant::now(), Err(error)).await?;
                    ran = true;
                    continue;
                }
            };
            if self.claim_waiting(context, run.id).await? {
                self.run(context, job, run.id).await?;
                ran = true;
            }
        }
        let now = Utc::now() + self.clock_offset;
        let due: Vec<(Job, DateTime<Utc>)> = self
            .next
            .iter()
            .filter(|(_, occurrence)| **occurrence <= now)
            .map(|(job, occurrence)| (*job, *occurrence))
            .collect();
        for (job, occurrence) in due {
            if context.must_stop() {
                return Ok(ran);
            }
            if let Some(id) = self.claim_occurrence(context, job, occurrence).await? {
                self.run(context, job, id).await?;
                ran = true;
            }
            // Occurrences that passed during the run are not run one after another.
            let now = Utc::now() + self.clock_offset;
            if let Some((_, schedule)) = self.schedules.iter().find(|(scheduled, _)| *scheduled == job)
                && let Some(next) = schedule.after(&now.max(occurrence)).next()
            {
                self.next.insert(job, next);
            }
        }
        Ok(ran)
    }

    /// Takes a run asked for by hand or left unfinished by an earlier master.
    async fn claim_waiting(&self, context: &DutyContext, id: i64) -> Result<bool> {
        let (epoch, node) = (context.epoch, context.node.clone());
        context
            .write(move |connection| {
                let now = database_now(connection)?;
                let claimed = diesel::update(
                    job_runs::table
                        .find(id)
                        .filter(job_runs::finished_at.is_null())
                        .filter(job_runs::started_at.is_null().or(job_runs::epoch.lt(epoch))),
                )
                .set((job_runs::epoch.eq(epoch), job_runs::node.eq(&node), job_runs::started_at.eq(now)))
                .execute(connection)?;
                Ok(claimed == 1)
            })
            .await
    }

    /// Claims an occurrence; `None` when it has its row already (run, or being taken up as
    /// an unfinished run).
    async fn claim_occurrence(
        &self,
        context: &DutyContext,
        job: Job,
        occurrence: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let (epoch, node) = (context.epoch, context.node.clone());
        let scheduled_for = occurrence.naive_utc();
        context
            .write(move |connection| {
                let existing: i64 = job_runs::table
                    .filter(job_runs::job.eq(job.name()))
                    .filter(job_runs::scheduled_for.eq(scheduled_for))
                    .count()
                    .get_result(connection)?;
                if existing > 0 {
                    return Ok(None);
                }
                let now = database_now(connection)?;
                let id: i64 = diesel::insert_into(job_runs::table)
                    .values((
                        job_runs::job.eq(job.name()),
                        job_runs::scheduled_for.eq(scheduled_for),
                        job_runs::cause.eq(CAUSE_SCHEDULE),
                        job_runs::epoch.eq(epoch),
                        job_runs::node.eq(&node),
                        job_runs::started_at.eq(now),
                    ))
                    .returning(job_runs::id)
                    .get_result(connection)?;
                Ok(Some(id))
            })
            .await
    }

    /// Runs a claimed run and records its outcome. An error means this node is no longer
    /// master (nothing recorded) or the database failed.
    async fn run(&self, context: &DutyContext, job: Job, id: i64) -> Result<()> {
        let started = Instant::now();
        tracing::info!(job = job.name(), run = id, epoch = context.epoch, "job started");
        let outcome = match self.database_work(job) {
            Some(work) => {
                let done = context
                    .write(move |connection| {
                        let detail = work(connection)?;
                        record(connection, id, started, SUCCEEDED, &detail)?;
                        Ok(detail)
                    })
                    .await;
                if done.is_ok() {
                    report(job, id, started, &done);
                    return Ok(());
                }
                done
            }
            None => tokio::time::timeout(MERGE_TIMEOUT, self.merges.merge()).await.unwrap_or_else(|_| {
                Err(Error::Unavailable(format!(
                    "the segment merge did not finish within {}",
                    humantime::format_duration(MERGE_TIMEOUT)
                )))
            }),
        };
        if outcome.is_err() && !self.still_master(context).await? {
            return Err(Error::Conflict(format!("no longer master with epoch {}: job run {id} left", context.epoch)));
        }
        report(job, id, started, &outcome);
        self.finish(context, id, started, outcome).await
    }

    async fn still_master(&self, context: &DutyContext) -> Result<bool> {
        let fence = context.clone();
        context.read(move |connection| fence.still_master(connection)).await
    }

    async fn finish(&self, context: &DutyContext, id: i64, started: Instant, outcome: Result<String>) -> Result<()> {
        context
            .write(move |connection| match &outcome {
                Ok(detail) => record(connection, id, started, SUCCEEDED, detail),
                Err(error) => record(connection, id, started, FAILED, &error.to_string()),
            })
            .await
    }
}

fn record(connection: &mut DbConnection, id: i64, started: Instant, outcome: &str, detail: &str) -> Result<()> {
    let now = database_now(connection)?;
    diesel::update(job_runs::table.find(id))
        .set((
            job_runs::finished_at.eq(now),
            job_runs::duration_ms.eq(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)),
            job_runs::outcome.eq(outcome),
            job_runs::detail.eq(detail),
        ))
        .execute(connection)?;
    Ok(())
}

fn report(job: Job, id: i64, started: Instant, outcome: &Result<String>) {
    let milliseconds = started.elapsed().as_millis();
    match outcome {
        Ok(detail) => tracing::info!(job = job.name(), run = id, ms = milliseconds, %detail, "job succeeded"),
        Err(error) => tracing::error!(job = job.name(), run = id, ms = milliseconds, %error, "job failed"),
    }
    let result = if outcome.is_ok() { SUCCEEDED } else { FAILED };
    metrics::counter!("baton_job_runs_total", "job" => job.name(), "outcome" => result).increment(1);
}

impl Scheduler {
    /// The database work of a job; `None` for the segment merge, which the indexer does.
    fn database_work(&self, job: Job) -> Option<DatabaseWork> {
        match job {
            Job::DueReminders => Some(Box::new(builtin::due_reminders)),
            Job::NotificationDigest => Some(Box::new(builtin::notification_digest)),
            Job::SessionCleanup => Some(Box::new(builtin::session_cleanup)),
            Job::Prune => {
                let files = self.files.clone();
                Some(Box::new(move |connection| builtin::prune(connection, &files)))
            }
            Job::IndexMerge => None,
        }
    }
}

type DatabaseWork = Box<dyn FnOnce(&mut DbConnection) -> Result<String> + Send>;
