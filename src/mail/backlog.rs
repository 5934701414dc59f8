//! How far outgoing mail lags, for the admin cluster page: notifications waiting to be
//! sent and the age of the oldest one.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::cluster::registry;
use crate::db::DbConnection;
use crate::db::schema::{mail_failures, mail_outbox};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct MailBacklog {
    /// Notifications not sent yet (including those waiting for a retry).
    pub waiting: i64,
    pub oldest_waiting_age_ms: Option<i64>,
    /// Notifications whose last attempt failed.
    pub retrying: i64,
    /// Inbound mail refused and kept for administrators.
    pub refused_inbound: i64,
}

pub fn load(connection: &mut DbConnection) -> Result<MailBacklog> {
    let unsent = mail_outbox::table.filter(mail_outbox::sent_at.is_null());
    let waiting: i64 = unsent.count().get_result(connection)?;
    let retrying: i64 = unsent.filter(mail_outbox::last_error.is_not_null()).count().get_result(connection)?;
    let oldest: Option<NaiveDateTime> =
        unsent.select(diesel::dsl::min(mail_outbox::created_at)).get_result(connection)?;
    let refused_inbound: i64 = mail_failures::table.count().get_result(connection)?;
    let now = registry::now(connection)?;
    Ok(MailBacklog {
        waiting,
        oldest_waiting_age_ms: oldest.map(|oldest| (now - oldest).num_milliseconds().max(0)),
        retrying,
        refused_inbound,
    })
}
