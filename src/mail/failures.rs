//! Mail that could not be stored, for administrators: listed with the reason, reprocessed
//! (after the cause is fixed, e.g. the sender got an account) or dismissed. The copy on the
//! server stays in the mailbox's failure folder as the record of what arrived.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::config::Settings;
use crate::db::schema::mail_failures;
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::mail::inbound::{self, Outcome};
use crate::mail::mailbox::Mailbox;
use crate::model::attachment::FileStore;
use crate::timestamp::serialize_utc;

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = mail_failures)]
pub struct MailFailure {
    pub id: i64,
    pub message_key: String,
    pub mailbox: String,
    pub sender: String,
    pub subject: String,
    pub reason: String,
    /// Where the raw message is kept; none when it was too large to fetch.
    pub raw_sha256: Option<String>,
    pub raw_size: i64,
    #[serde(serialize_with = "serialize_utc")]
    pub failed_at: NaiveDateTime,
    /// What the mail says, without what servers added on the way: with the key it tells this
    /// mail from another reusing its Message-ID (empty for refusals from before it was kept).
    pub content_digest: String,
}

/// The latest failures, newest first.
pub fn list(connection: &mut DbConnection, limit: i64) -> Result<Vec<MailFailure>> {
    Ok(mail_failures::table
        .order(mail_failures::id.desc())
        .limit(limit)
        .select(MailFailure::as_select())
        .load(connection)?)
}

fn get(connection: &mut DbConnection, id: i64) -> Result<MailFailure> {
    mail_failures::table
        .find(id)
        .select(MailFailure::as_select())
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("mail failure {id}")))
}

/// Processes the kept message again with today's accounts, permissions and settings; a new
/// refusal replaces the old one.
pub fn reprocess(connection: &mut DbConnection, files: &FileStore, settings: &Settings, id: i64) -> Result<Outcome> {
    write_transaction(connection, |connection| {
        let failure = get(connection, id)?;
        let Some(sha256) = &failure.raw_sha256 else {
            return Err(Error::Conflict(format!(
                "mail failure {id} was never fetched ({} bytes, over the limit): raise max_message_size of \
                 mailbox {:?} and move the message back from the failure folder",
                failure.raw_size, failure.mailbox
            )));
        };
        let mailbox_settings =
            settings.mail.mailboxes.iter().find(|mailbox| mailbox.name == failure.mailbox).ok_or_else(|| {
                Error::Conflict(format!("mailbox {:?} of mail failure {id} is no longer configured", failure.mailbox))
            })?;
        let path = files.path_of(sha256)?;
        let raw = std::fs::read(&path)
            .map_err(|error| Error::internal(format!("reading the kept mail {}", path.display()), error))?;
        diesel::delete(mail_failures::table.find(id)).execute(connection)?;
        inbound::store(connection, files, &Mailbox::from_settings(settings, mailbox_settings), &raw)
    })
}

pub fn delete(connection: &mut DbConnection, id: i64) -> Result<()> {
    let deleted = diesel::delete(mail_failures::table.find(id)).execute(connection)?;
    if deleted == 0 {
        return Err(Error::not_found(format!("mail failure {id}")));
    }
    Ok(())
}
