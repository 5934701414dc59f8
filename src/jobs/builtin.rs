//! What the database jobs do. Each runs inside the fenced transaction that also marks its
//! run finished (see `scheduler`), so its effect and the record of the run commit together.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::cluster::registry;
use crate::db::schema::{job_runs, mail_outbox, mail_received, search_rebuilds};
use crate::db::{DbConnection, database_now};
use crate::error::Result;
use crate::jobs::Job;
use crate::model::attachment::{self, FileStore};
use crate::model::{auth, notification};

/// How long coordination rows are kept.
const KEEP_CLUSTER_HISTORY: Duration = Duration::from_secs(7 * 24 * 3600);
const KEEP_SENT_MAIL: chrono::Duration = chrono::Duration::days(30);
const KEEP_RECORDS: chrono::Duration = chrono::Duration::days(90);
/// Uploads and spooled mails in progress are younger; older staging files were left by a
/// crash.
const KEEP_STAGING: Duration = Duration::from_secs(24 * 3600);
/// How long the files of a deleted item's attachments stay on the shared path (a download
/// under way finishes; an upload of the same content within it keeps the file).
const KEEP_DELETED_ATTACHMENTS: chrono::Duration = chrono::Duration::days(1);

pub fn due_reminders(connection: &mut DbConnection) -> Result<String> {
    let today = database_now(connection)?.date();
    let (digests, items) = notification::queue_due_reminders(connection, today)?;
    Ok(format!("queued {digests} digest mails about {items} items due by tomorrow or overdue"))
}

pub fn notification_digest(connection: &mut DbConnection) -> Result<String> {
    let (digests, news) = notification::queue_news_digests(connection)?;
    Ok(format!("queued {digests} digest mails with {news} pieces of news"))
}

pub fn session_cleanup(connection: &mut DbConnection) -> Result<String> {
    let removed = auth::remove_expired_sessions(connection)?;
    Ok(format!("removed {removed} expired sessions"))
}

pub fn prune(connection: &mut DbConnection, files: &FileStore) -> Result<String> {
    let now = database_now(connection)?;
    let cluster_rows = registry::prune(connection, KEEP_CLUSTER_HISTORY)?;
    let sent_mails =
        diesel::delete(mail_outbox::table.filter(mail_outbox::sent_at.lt(now - KEEP_SENT_MAIL))).execute(connection)?;
    let receipts = diesel::delete(mail_received::table.filter(mail_received::received_at.lt(now - KEEP_RECORDS)))
        .execute(connection)?;
    let rebuilds = prune_finished_rebuilds(connection, now - KEEP_RECORDS)?;
    let runs = prune_job_runs(connection, now - KEEP_RECORDS)?;
    let staged = files.remove_stale_staging(KEEP_STAGING)?;
    let orphans = attachment::remove_orphans(connection, files, now - KEEP_DELETED_ATTACHMENTS)?;
    Ok(format!(
        "removed {cluster_rows} cluster events and probe rows, {sent_mails} sent mails, {receipts} mail receipts, \
         {rebuilds} finished rebuilds, {runs} job runs, {staged} stale staging files, {orphans} files of deleted \
         attachments"
    ))
}

/// Finished rebuilds before `cutoff`, except the latest (the status shows it).
fn prune_finished_rebuilds(connection: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize> {
    let latest: Option<i64> = search_rebuilds::table.select(diesel::dsl::max(search_rebuilds::id)).first(connection)?;
    Ok(diesel::delete(
        search_rebuilds::table
            .filter(search_rebuilds::finished_at.lt(cutoff))
            .filter(search_rebuilds::id.ne(latest.unwrap_or(0))),
    )
    .execute(connection)?)
}

/// Finished runs before `cutoff`, except each job's latest (its "last run").
fn prune_job_runs(connection: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize> {
    let mut removed = 0;
    for job in Job::ALL {
        let latest: Option<i64> = job_runs::table
            .filter(job_runs::job.eq(job.name()))
            .select(diesel::dsl::max(job_runs::id))
            .first(connection)?;
        removed += diesel::delete(
            job_runs::table
                .filter(job_runs::job.eq(job.name()))
                .filter(job_runs::finished_at.lt(cutoff))
                .filter(job_runs::id.ne(latest.unwrap_or(0))),
        )
        .execute(connection)?;
    }
    Ok(removed)
}
