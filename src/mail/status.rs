//! Operational figures of mail, for the cluster status and the metrics: how many
//! notifications wait and for how long, how many failed once and wait for a retry, how many
//! inbound mails are quarantined, and when the last one was stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{mail_failures, mail_outbox, mail_received};
use crate::db::{DbConnection, database_now};
use crate::error::Result;
use crate::model::text::serialize_optional_utc;

#[derive(Debug, Clone, Serialize)]
pub struct MailStatus {
    /// Notifications not sent yet.
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
}

pub fn load(connection: &mut DbConnection) -> Result<MailStatus> {
    let unsent = mail_outbox::table.filter(mail_outbox::sent_at.is_null());
    let outbox_depth: i64 = unsent.count().get_result(connection)?;
    let oldest: Option<NaiveDateTime> =
        unsent.select(diesel::dsl::min(mail_outbox::created_at)).get_result(connection)?;
    let outbox_retrying: i64 = unsent.filter(mail_outbox::attempts.gt(0)).count().get_result(connection)?;
    let failures: i64 = mail_failures::table.count().get_result(connection)?;
    let last_received_at: Option<NaiveDateTime> =
        mail_received::table.select(diesel::dsl::max(mail_received::received_at)).get_result(connection)?;
    let now = database_now(connection)?;
    Ok(MailStatus {
        outbox_depth,
        oldest_unsent_age_ms: oldest.map(|oldest| (now - oldest).num_milliseconds().max(0)),
        outbox_retrying,
        failures,
        last_received_at,
    })
}
