//! Storing inbound mail, exactly once per mailbox: a new mail becomes an item in the
//! mailbox's project (its leading `Field: value` lines set custom fields, see `keywords`), a
//! reply a comment on its item, with the attachments — as far as its
//! sender may (`sender`). Every fetched mail ends as one record for its mailbox: a receipt
//! naming the item or comment, or a refusal with the reason. A mail is known by its key (the
//! Message-ID, or the hash of the raw mail without one) and the digest of its content, so a
//! redelivery is recognised and a different mail that reuses a Message-ID is not taken for
//! it; the same mail in another mailbox is recorded there as what it already became. The
//! record is written in the same transaction as what the mail produced, so a mail processed
//! again after a crash is neither lost nor doubled. The caller runs `store` inside a write
//! transaction (the poller's is fenced by the master epoch) and moves the mail on the server
//! only after the commit.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{items, mail_failures, mail_received, projects};
use crate::error::{Error, Result};
use crate::mail::clean;
use crate::mail::keywords;
use crate::mail::mailbox::Mailbox;
use crate::mail::message::{self, InboundMail, MailAttachment, MailError};
use crate::mail::printable::Printable;
use crate::mail::reply_address;
use crate::mail::sender::{self, Intent};
use crate::model::attachment::{self, FileStore, NewAttachment};
use crate::model::comment;
use crate::model::field::Catalog;
use crate::model::ids::{CommentId, ItemId, ProjectId};
use crate::model::item::{self, NewItem};
use crate::model::permission::{Access, Permission};
use crate::model::project::{self, types};
use crate::model::reference::UnknownLogins;
use crate::model::text::MAX_BODY_BYTES;
use crate::model::user::{self, User};
use crate::model::watcher;
use crate::model::workflow::Workflow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(ItemId),
    Commented(ItemId, CommentId),
    /// Stored before (the same key and content, in this mailbox or another): nothing done again.
    AlreadyStored,
    /// Refused before in this mailbox (the same key and content): nothing done again.
    AlreadyRefused,
    /// Refused, and recorded with this reason.
    Failed(String),
}

/// Stores one raw mail; see the module documentation. Must run inside a write transaction.
pub fn store(connection: &mut DbConnection, files: &FileStore, mailbox: &Mailbox, raw: &[u8]) -> Result<Outcome> {
    let size = raw.len() as u64;
    let unparsed = |reason: String| Refusal {
        key: message::message_key_of_raw(raw),
        digest: message::content_digest(raw),
        mail: None,
        raw: Some(raw),
        size,
        reason,
    };
    if size > mailbox.max_message_size {
        let reason = format!("larger than the mailbox limit of {} bytes ({size} bytes)", mailbox.max_message_size);
        return fail(connection, files, mailbox, Refusal { raw: None, ..unparsed(reason) });
    }
    let mail = match message::parse(raw, &mailbox.own_addresses, &mailbox.loop_id) {
        Ok(mail) => mail,
        Err(error @ (MailError::Unparseable(_) | MailError::NoSender)) => {
            return fail(connection, files, mailbox, unparsed(error.to_string()));
        }
    };
    if let Some(earlier) = earlier_outcome(connection, mailbox, &mail.message_key, &mail.content_digest)? {
        return Ok(earlier);
    }
    let refusal = |reason: String| Refusal {
        key: mail.message_key.clone(),
        digest: mail.content_digest.clone(),
        mail: Some(&mail),
        raw: Some(raw),
        size,
        reason,
    };
    if let Some(reason) = &mail.automatic {
        return fail(connection, files, mailbox, refusal(format!("automatic mail, not answered: {reason}")));
    }
    // Every write for the mail in one savepoint: a refusal half way leaves nothing behind.
    let stored = crate::db::write_transaction(connection, |connection| store_parsed(connection, files, mailbox, &mail));
    match stored {
        Ok(outcome) => Ok(outcome),
        Err(error @ (Error::Invalid(_) | Error::Forbidden(_) | Error::NotFound(_) | Error::TooLarge(_))) => {
            fail(connection, files, mailbox, refusal(error.message()))
        }
        Err(error) => Err(error),
    }
}

/// What became of a mail with this key and content before, if it was seen: by this mailbox
/// (stored or refused), or stored by another — then recorded here as that same item or
/// comment, never stored twice.
fn earlier_outcome(
    connection: &mut DbConnection,
    mailbox: &Mailbox,
    key: &str,
    digest: &str,
) -> Result<Option<Outcome>> {
    // Records from before digests were kept have an empty one, which matches any content.
    let digests = [digest, ""];
    let received: Vec<(String, ItemId, Option<CommentId>)> = mail_received::table
        .filter(mail_received::message_key.eq(key))
        .filter(mail_received::content_digest.eq_any(digests))
        .select((mail_received::mailbox, mail_received::item_id, mail_received::comment_id))
        .load(connection)?;
    if received.iter().any(|(name, ..)| *name == mailbox.name) {
        tracing::info!(mailbox = %mailbox.name, key = %Printable(key), "inbound mail was stored before");
        return Ok(Some(Outcome::AlreadyStored));
    }
    let refused: i64 = mail_failures::table
        .filter(mail_failures::mailbox.eq(&mailbox.name))
        .filter(mail_failures::message_key.eq(key))
        .filter(mail_failures::content_digest.eq_any(digests))
        .count()
        .get_result(connection)?;
    if refused > 0 {
        tracing::info!(mailbox = %mailbox.name, key = %Printable(key), "inbound mail was refused before");
        return Ok(Some(Outcome::AlreadyRefused));
    }
    let Some((stored_by, item_id, comment_id)) = received.into_iter().next() else { return Ok(None) };
    record_receipt(connection, mailbox, key, digest, item_id, comment_id)?;
    tracing::info!(
        mailbox = %mailbox.name, key = %Printable(key), stored_by = %stored_by, item = item_id.0,
        "inbound mail was stored by another mailbox; recorded here as the same"
    );
    Ok(Some(Outcome::AlreadyStored))
}

fn record_receipt(
    connection: &mut DbConnection,
    mailbox: &Mailbox,
    key: &str,
    digest: &str,
    item_id: ItemId,
    comment_id: Option<CommentId>,
) -> Result<()> {
    diesel::insert_into(mail_received::table)
        .values((
            mail_received::message_key.eq(key),
            mail_received::content_digest.eq(digest),
            mail_received::mailbox.eq(&mailbox.name),
            mail_received::item_id.eq(item_id),
            mail_received::comment_id.eq(comment_id),
        ))
        .execute(connection)?;
    Ok(())
}

fn store_parsed(
    connection: &mut DbConnection,
    files: &FileStore,
    mailbox: &Mailbox,
    mail: &InboundMail,
) -> Result<Outcome> {
    let outcome = match sender::intent(connection, mailbox, mail)? {
        Intent::Comment { author, item: item_id, private } => {
            let body = message::reply::strip_quoted_reply(&mail.text);
            let body = if body.trim().is_empty() { "(the mail had no text)".to_string() } else { body };
            let (body, full_text) = fit(&body);
            // A signature's handles of other services are no mentions to refuse the mail for.
            let comment = comment::create(connection, &author, item_id, &body, private, UnknownLogins::Ignore)?.comment;
            let parts = full_text.iter().chain(&mail.attachments);
            attach(connection, files, mailbox.max_attachment_size, &author, (item_id, Some(comment.id)), parts)?;
            Outcome::Commented(item_id, comment.id)
        }
        Intent::NewItem { reporter, project } => {
            let title = message::reply::strip_reply_prefixes(&mail.subject);
            let title: String =
                if title.is_empty() { "(no subject)".into() } else { title.chars().take(255).collect() };
            let catalog = Catalog::load(connection)?;
            let destination = project::find(connection, &project)?;
            let workflow = Workflow::load(connection)?;
            let item_type = types::of_project(connection, destination.id, &workflow)?.default_type()?.id;
            let may_plan = Access::for_project(connection, &reporter, destination.id, destination.is_public)?
                .allows(Permission::Work);
            let to = keywords::Destination { project: &destination, item_type, may_plan };
            let keywords = keywords::read(connection, &catalog, &to, &mail.text)?;
            let (description, full_text) = fit(&keywords.text);
            let new_item = NewItem {
                project,
                title,
                description,
                fields: keywords.fields,
                parent: keywords.parent,
                target_version: keywords.target_version,
                labels: keywords.labels,
                component: keywords.component,
                unknown_logins: UnknownLogins::Ignore,
                ..NewItem::default()
            };
            let created = item::create(connection, &reporter, new_item)?;
            if !keywords.refused.is_empty() {
                let refusal = keywords::refusal_comment(&keywords.refused);
                comment::create(connection, &reporter, created, &refusal, false, UnknownLogins::Ignore)?;
            }
            let parts = full_text.iter().chain(&mail.attachments);
            attach(connection, files, mailbox.max_attachment_size, &reporter, (created, None), parts)?;
            Outcome::Created(created)
        }
    };
    let (item_id, comment_id) = match &outcome {
        Outcome::Created(item_id) => (*item_id, None),
        Outcome::Commented(item_id, comment_id) => (*item_id, Some(*comment_id)),
        Outcome::AlreadyStored | Outcome::AlreadyRefused | Outcome::Failed(_) => return Ok(outcome),
    };
    add_recipients_as_watchers(connection, mailbox, mail, item_id)?;
    record_receipt(connection, mailbox, &mail.message_key, &mail.content_digest, item_id, comment_id)?;
    tracing::info!(
        mailbox = %mailbox.name, key = %Printable(&mail.message_key), item = item_id.0,
        comment = comment_id.map(|id| id.0), "inbound mail stored"
    );
    Ok(outcome)
}

/// The text as stored, and — when it had to be cut to the limit of a description — the
/// whole text as an attachment.
fn fit(text: &str) -> (String, Option<MailAttachment>) {
    match clean::cut(text, MAX_BODY_BYTES) {
        Some(cut) => {
            let whole = MailAttachment {
                file_name: clean::FULL_TEXT_FILE_NAME.to_string(),
                content_type: "text/plain".to_string(),
                bytes: text.as_bytes().to_vec(),
            };
            (cut, Some(whole))
        }
        None => (text.to_string(), None),
    }
}

/// The other recipients who have an account and can read the item follow it.
fn add_recipients_as_watchers(
    connection: &mut DbConnection,
    mailbox: &Mailbox,
    mail: &InboundMail,
    item_id: ItemId,
) -> Result<()> {
    let (project_id, is_public): (ProjectId, bool) = items::table
        .inner_join(projects::table)
        .filter(items::id.eq(item_id))
        .select((projects::id, projects::is_public))
        .first(connection)?;
    for address in mail.to.iter().chain(&mail.cc) {
        let ours = mailbox.own_addresses.contains(&address.email)
            || reply_address::token_in(&address.email, &mailbox.address).is_some();
        if ours {
            continue;
        }
        if let Some(recipient) = user::find_by_email(connection, &address.email)?
            && recipient.active
            && Access::for_project(connection, &recipient, project_id, is_public)?.allows(Permission::View)
        {
            watcher::add_quietly(connection, item_id, recipient.id)?;
        }
    }
    Ok(())
}

/// Stores the parts as attachments of the item (and comment) by `sender`.
fn attach<'a>(
    connection: &mut DbConnection,
    files: &FileStore,
    limit: u64,
    sender: &User,
    (item_id, comment_id): (ItemId, Option<CommentId>),
    parts: impl Iterator<Item = &'a MailAttachment>,
) -> Result<()> {
    for part in parts {
        let mut staging = files.start_upload(limit)?;
        staging.write_chunk(&part.bytes)?;
        let staged = staging.finish()?;
        let upload = NewAttachment {
            comment_id,
            file_name: part.file_name.clone(),
            content_type: part.content_type.clone(),
            staged,
        };
        attachment::create(connection, files, sender, item_id, upload)?;
    }
    Ok(())
}

/// A mail that cannot be stored, and why.
struct Refusal<'a> {
    key: String,
    digest: String,
    mail: Option<&'a InboundMail>,
    /// The raw message, when it was fetched (kept for a later reprocess).
    raw: Option<&'a [u8]>,
    size: u64,
    reason: String,
}

/// Records a fetched mail that failed for a reason of its own (for example its attachments
/// could not be written), so that it stops blocking the mailbox.
pub fn refuse_unstorable(
    connection: &mut DbConnection,
    files: &FileStore,
    mailbox: &Mailbox,
    raw: &[u8],
    reason: String,
) -> Result<Outcome> {
    let parsed = message::parse(raw, &mailbox.own_addresses, &mailbox.loop_id).ok();
    let key = parsed.as_ref().map(|mail| mail.message_key.clone()).unwrap_or_else(|| message::message_key_of_raw(raw));
    let digest = message::content_digest(raw);
    let refusal = Refusal { key, digest, mail: parsed.as_ref(), raw: Some(raw), size: raw.len() as u64, reason };
    fail(connection, files, mailbox, refusal)
}

/// Records a mail that is too large to fetch: only its key, the digest of its header block
/// and its size are known.
pub fn refuse_oversized(
    connection: &mut DbConnection,
    files: &FileStore,
    mailbox: &Mailbox,
    key: &str,
    digest: &str,
    size: u64,
) -> Result<Outcome> {
    let reason = format!("larger than the mailbox limit of {} bytes ({size} bytes)", mailbox.max_message_size);
    let refusal = Refusal { key: key.to_string(), digest: digest.to_string(), mail: None, raw: None, size, reason };
    fail(connection, files, mailbox, refusal)
}

/// Records a mail that cannot be stored, keeping its raw bytes for a later reprocess.
fn fail(connection: &mut DbConnection, files: &FileStore, mailbox: &Mailbox, refusal: Refusal) -> Result<Outcome> {
    let Refusal { key, digest, mail, raw, size, reason } = refusal;
    if let Some(earlier) = earlier_outcome(connection, mailbox, &key, &digest)? {
        return Ok(earlier);
    }
    let raw_sha256 = match raw {
        Some(raw) => {
            let mut staging = files.start_upload(mailbox.max_message_size.max(raw.len() as u64))?;
            staging.write_chunk(raw)?;
            let staged = staging.finish()?;
            files.keep(&staged)?;
            Some(staged.sha256.clone())
        }
        None => None,
    };
    diesel::insert_into(mail_failures::table)
        .values((
            mail_failures::message_key.eq(&key),
            mail_failures::content_digest.eq(&digest),
            mail_failures::mailbox.eq(&mailbox.name),
            mail_failures::sender
                .eq(mail.and_then(|mail| mail.from.as_ref()).map(|from| from.email.as_str()).unwrap_or("")),
            mail_failures::subject.eq(mail.map(|mail| mail.subject.as_str()).unwrap_or("")),
            mail_failures::reason.eq(&reason),
            mail_failures::raw_sha256.eq(raw_sha256),
            mail_failures::raw_size.eq(i64::try_from(size).unwrap_or(i64::MAX)),
        ))
        .execute(connection)?;
    tracing::warn!(
        mailbox = %mailbox.name, key = %Printable(&key), reason = %Printable(&reason), "inbound mail refused"
    );
    Ok(Outcome::Failed(reason))
}
