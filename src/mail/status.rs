//! Operational figures of mail, for the cluster status and the metrics: how many
//! notifications wait and for how long, how many failed once and wait for a retry, how many
//! inbound mails are quarantined, when the last one was stored, and how each polled mailbox
//! fares — its last successful poll, and the failures since with the server's message. The
//! master's poller writes the mailbox rows, so every node shows the same.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{mail_failures, mail_mailboxes, mail_outbox, mail_received};
use crate::db::{DbConnection, database_now};
use crate::error::Result;
use crate::timestamp::serialize_optional_utc;

#[derive(Debug, Clone, Serialize)]
pub struct MailStatus {
    /// Notifications not sent yet (news held for a daily digest is not counted: it waits
    /// by choice).
    pub outbox_depth: i64,
    /// How long the oldest unsent notification has waited.
    pub oldest_unsent_age_ms: Option<i64>,
    /// Unsent notifications that failed at least once (waiting for a retry).
    pub outbox_retrying: i64,
    /// Inbound mails quarantined with a reason (see `/api/v1/mail/failures`).
    pub failures: i64,
    /// When the last inbound mail was stored as an item or comment.
    #[serde(serialize_with = "serialize_optional_utc")]
    pub last_received_at: Option<NaiveDateTime>,
    /// The polled mailboxes, by name.
    pub mailboxes: Vec<MailboxHealth>,
}

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = mail_mailboxes)]
pub struct MailboxHealth {
    pub name: String,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub last_success_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub last_failure_at: Option<NaiveDateTime>,
    /// Polls failed since the last successful one.
    pub consecutive_failures: i32,
    /// The last failure, with the server's message; empty after a success.
    pub last_error: String,
}

impl MailboxHealth {
    /// `error` while polls fail, `ok` after a successful one, `waiting` before the first.
    pub fn state(&self) -> &'static str {
        match (self.consecutive_failures, self.last_success_at) {
            (1.., _) => "error",
            (_, Some(_)) => "ok",
            (_, None) => "waiting",
        }
    }
}

pub fn load(connection: &mut DbConnection) -> Result<MailStatus> {
    let unsent = mail_outbox::table.filter(mail_outbox::sent_at.is_null()).filter(mail_outbox::held.eq(false));
    let outbox_depth: i64 = unsent.count().get_result(connection)?;
    let oldest: Option<NaiveDateTime> =
        unsent.select(diesel::dsl::min(mail_outbox::created_at)).get_result(connection)?;
    let outbox_retrying: i64 = unsent.filter(mail_outbox::attempts.gt(0)).count().get_result(connection)?;
    let failures: i64 = mail_failures::table.count().get_result(connection)?;
    let last_received_at: Option<NaiveDateTime> =
        mail_received::table.select(diesel::dsl::max(mail_received::received_at)).get_result(connection)?;
    let mailboxes =
        mail_mailboxes::table.order(mail_mailboxes::name.asc()).select(MailboxHealth::as_select()).load(connection)?;
    let now = database_now(connection)?;
    Ok(MailStatus {
        outbox_depth,
        oldest_unsent_age_ms: oldest.map(|oldest| (now - oldest).num_milliseconds().max(0)),
        outbox_retrying,
        failures,
        last_received_at,
        mailboxes,
    })
}

/// Makes the rows match the configured mailboxes: new ones are added (waiting for their first
/// poll), removed ones go.
pub fn register_mailboxes(connection: &mut DbConnection, names: &[String]) -> Result<()> {
    diesel::delete(mail_mailboxes::table.filter(mail_mailboxes::name.ne_all(names))).execute(connection)?;
    let known: Vec<String> = mail_mailboxes::table.select(mail_mailboxes::name).load(connection)?;
    for name in names.iter().filter(|name| !known.contains(name)) {
        diesel::insert_into(mail_mailboxes::table).values(mail_mailboxes::name.eq(name)).execute(connection)?;
    }
    Ok(())
}

/// Records a poll of the mailbox: a success, or a failure with its message.
pub fn record_poll(connection: &mut DbConnection, name: &str, outcome: std::result::Result<(), &str>) -> Result<()> {
    let row = mail_mailboxes::table.filter(mail_mailboxes::name.eq(name));
    if row.count().get_result::<i64>(connection)? == 0 {
        diesel::insert_into(mail_mailboxes::table).values(mail_mailboxes::name.eq(name)).execute(connection)?;
    }
    match outcome {
        Ok(()) => diesel::update(row)
            .set((
                mail_mailboxes::last_success_at.eq(diesel::dsl::now),
                mail_mailboxes::consecutive_failures.eq(0),
                mail_mailboxes::last_error.eq(""),
            ))
            .execute(connection)?,
        Err(error) => diesel::update(row)
            .set((
                mail_mailboxes::last_failure_at.eq(diesel::dsl::now),
                mail_mailboxes::consecutive_failures.eq(mail_mailboxes::consecutive_failures + 1),
                mail_mailboxes::last_error.eq(error),
            ))
            .execute(connection)?,
    };
    Ok(())
}
