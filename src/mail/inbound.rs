//! Storing inbound mail, exactly once: a new mail becomes an item in the mailbox's project, a
//! reply (our `[#123]` subject tag, or In-Reply-To / References naming a mail of that item)
//! a comment on its item, with the attachments. The mail's key is recorded in the same
//! transaction as what it produced — or, when it cannot be stored, as its failure with the
//! reason — so a mail processed again after a crash is recognised and neither lost nor
//! doubled. The caller runs `store` inside a write transaction (the poller's is fenced by
//! the master epoch) and moves the mail on the server only after the commit.

use diesel::prelude::*;

use crate::config::{MailboxSettings, Settings, UnknownSenders};
use crate::db::DbConnection;
use crate::db::schema::{items, mail_failures, mail_received};
use crate::error::{Error, Result};
use crate::mail::message::{self, InboundMail, MailError};
use crate::mail::outbound;
use crate::model::attachment::{self, FileStore, NewAttachment};
use crate::model::comment;
use crate::model::ids::{CommentId, ItemId};
use crate::model::item::{self, NewItem};
use crate::model::membership;
use crate::model::permission::Role;
use crate::model::project;
use crate::model::user::{self, NewUser, User};
use crate::model::watcher;

/// The rules of one mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub name: String,
    /// Key of the project new mail goes to.
    pub project: String,
    pub unknown_senders: UnknownSenders,
    /// Our own addresses (lower case): mail from them is our own coming back.
    pub own_addresses: Vec<String>,
    /// This installation's value of the loop header.
    pub loop_id: String,
    pub max_message_size: u64,
    pub max_attachment_size: u64,
}

impl Mailbox {
    pub fn from_settings(settings: &Settings, mailbox: &MailboxSettings) -> Mailbox {
        let mut own_addresses = vec![settings.mail.address.to_lowercase()];
        if mailbox.user.contains('@') {
            own_addresses.push(mailbox.user.to_lowercase());
        }
        Mailbox {
            name: mailbox.name.clone(),
            project: mailbox.project.clone(),
            unknown_senders: mailbox.unknown_senders.clone(),
            own_addresses,
            loop_id: settings.mail.address.to_lowercase(),
            max_message_size: mailbox.max_message_size,
            max_attachment_size: settings.limits.max_attachment_size,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(ItemId),
    Commented(ItemId, CommentId),
    /// Stored before (the same key): nothing done again.
    AlreadyStored,
    /// Refused before (the same key): nothing done again.
    AlreadyRefused,
    /// Refused, and recorded with this reason.
    Failed(String),
}

/// Stores one raw mail; see the module documentation. Must run inside a write transaction.
pub fn store(connection: &mut DbConnection, files: &FileStore, mailbox: &Mailbox, raw: &[u8]) -> Result<Outcome> {
    let fallback_key = message::message_key_of_raw(raw);
    let size = raw.len() as u64;
    if size > mailbox.max_message_size {
        let reason = format!("larger than the mailbox limit of {} bytes ({size} bytes)", mailbox.max_message_size);
        return fail(connection, files, mailbox, Refusal { key: &fallback_key, mail: None, raw: None, size, reason });
    }
    let mail = match message::parse(raw, &mailbox.own_addresses, &mailbox.loop_id) {
        Ok(mail) => mail,
        Err(error @ (MailError::Unparseable(_) | MailError::NoSender)) => {
            let reason = error.to_string();
            return fail(
                connection,
                files,
                mailbox,
                Refusal { key: &fallback_key, mail: None, raw: Some(raw), size, reason },
            );
        }
    };
    if let Some(earlier) = earlier_outcome(connection, &mail.message_key)? {
        return Ok(earlier);
    }
    if let Some(reason) = &mail.automatic {
        let reason = format!("automatic mail, not answered: {reason}");
        let refusal = Refusal { key: &mail.message_key, mail: Some(&mail), raw: Some(raw), size, reason };
        return fail(connection, files, mailbox, refusal);
    }
    // Every write for the mail in one savepoint: a refusal half way leaves nothing behind.
    let stored = crate::db::write_transaction(connection, |connection| store_parsed(connection, files, mailbox, &mail));
    match stored {
        Ok(outcome) => Ok(outcome),
        Err(error @ (Error::Invalid(_) | Error::Forbidden(_) | Error::NotFound(_) | Error::TooLarge(_))) => {
            let reason = error.message();
            fail(
                connection,
                files,
                mailbox,
                Refusal { key: &mail.message_key, mail: Some(&mail), raw: Some(raw), size, reason },
            )
        }
        Err(error) => Err(error),
    }
}

/// What became of a mail with this key before, if it was seen.
fn earlier_outcome(connection: &mut DbConnection, key: &str) -> Result<Option<Outcome>> {
    let received: i64 =
        mail_received::table.filter(mail_received::message_key.eq(key)).count().get_result(connection)?;
    if received > 0 {
        return Ok(Some(Outcome::AlreadyStored));
    }
    let failed: i64 = mail_failures::table.filter(mail_failures::message_key.eq(key)).count().get_result(connection)?;
    Ok((failed > 0).then_some(Outcome::AlreadyRefused))
}

fn store_parsed(
    connection: &mut DbConnection,
    files: &FileStore,
    mailbox: &Mailbox,
    mail: &InboundMail,
) -> Result<Outcome> {
    let sender = sender_account(connection, mailbox, mail)?;
    let project = project::find(connection, &mailbox.project)?;
    let outcome = match replied_item(connection, mail)? {
        Some(item_id) => {
            let body = message::strip_quoted_reply(&mail.text);
            let body = if body.trim().is_empty() { "(the mail had no text)".to_string() } else { body };
            let comment = comment::create(connection, &sender, item_id, &body)?;
            attach(connection, files, mailbox, &sender, item_id, Some(comment.id), mail)?;
            Outcome::Commented(item_id, comment.id)
        }
        None => {
            let title = message::strip_reply_prefixes(&mail.subject);
            let title: String =
                if title.is_empty() { "(no subject)".into() } else { title.chars().take(255).collect() };
            let created = item::create(
                connection,
                &sender,
                NewItem { project: project.key.clone(), title, description: mail.text.clone(), ..NewItem::default() },
            )?;
            attach(connection, files, mailbox, &sender, created.id, None, mail)?;
            Outcome::Created(created.id)
        }
    };
    let (item_id, comment_id) = match &outcome {
        Outcome::Created(item_id) => (*item_id, None),
        Outcome::Commented(item_id, comment_id) => (*item_id, Some(*comment_id)),
        Outcome::AlreadyStored | Outcome::AlreadyRefused | Outcome::Failed(_) => return Ok(outcome),
    };
    // Project members among the other recipients follow the item.
    for address in mail.to.iter().chain(&mail.cc) {
        if mailbox.own_addresses.contains(&address.email) {
            continue;
        }
        if let Some(recipient) = user::find_by_email(connection, &address.email)?
            && recipient.active
            && membership::is_member(connection, project.id, recipient.id)?
        {
            watcher::add_quietly(connection, item_id, recipient.id)?;
        }
    }
    diesel::insert_into(mail_received::table)
        .values((
            mail_received::message_key.eq(&mail.message_key),
            mail_received::mailbox.eq(&mailbox.name),
            mail_received::item_id.eq(item_id.0),
            mail_received::comment_id.eq(comment_id.map(|id| id.0)),
        ))
        .execute(connection)?;
    Ok(outcome)
}

/// The account the mail is stored as, by the mailbox's rule for unknown senders.
fn sender_account(connection: &mut DbConnection, mailbox: &Mailbox, mail: &InboundMail) -> Result<User> {
    let address = mail.from.as_ref().map(|from| from.email.clone()).unwrap_or_default();
    if let Some(known) = user::find_by_email(connection, &address)? {
        if !known.active {
            return Err(Error::Forbidden(format!("the account of {address} is deactivated")));
        }
        return Ok(known);
    }
    match &mailbox.unknown_senders {
        UnknownSenders::Reject => {
            Err(Error::Forbidden(format!("unknown sender {address}: no account has this address")))
        }
        UnknownSenders::Guest(login) => user::find_by_login(connection, login)?
            .filter(|guest| guest.active)
            .ok_or_else(|| Error::NotFound(format!("guest account {login} of mailbox {}", mailbox.name))),
        UnknownSenders::CreateUser => {
            let name = mail.from.as_ref().and_then(|from| from.name.clone()).unwrap_or_else(|| address.clone());
            let login = free_login(connection, &address)?;
            let created = user::create(
                connection,
                NewUser {
                    login,
                    name: name.chars().take(200).collect(),
                    email: address.clone(),
                    password: user::random_password(),
                    is_admin: false,
                },
            )?;
            let project = project::find(connection, &mailbox.project)?;
            membership::put_role(connection, project.id, created.id, Role::Reporter)?;
            Ok(created)
        }
    }
}

/// A login made from the address's local part, numbered when taken.
fn free_login(connection: &mut DbConnection, address: &str) -> Result<String> {
    let local = address.split('@').next().unwrap_or_default().to_ascii_lowercase();
    let mut base: String =
        local.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).take(56).collect();
    base = base.trim_start_matches(['.', '_', '-']).to_string();
    if base.len() < 2 {
        base = format!("mail-{base}");
    }
    for number in 1..1000 {
        let candidate = if number == 1 { base.clone() } else { format!("{base}{number}") };
        if user::find_by_login(connection, &candidate)?.is_none() {
            return user::parse_login(&candidate);
        }
    }
    Err(Error::Conflict(format!("no free login for {address}")))
}

/// The item a reply belongs to: our subject tag, else a mail of ours or theirs it answers.
fn replied_item(connection: &mut DbConnection, mail: &InboundMail) -> Result<Option<ItemId>> {
    let existing = |connection: &mut DbConnection, id: i64| -> Result<Option<ItemId>> {
        let count: i64 = items::table.filter(items::id.eq(id)).count().get_result(connection)?;
        Ok((count > 0).then_some(ItemId(id)))
    };
    if let Some(tag) = message::subject_item_tag(&mail.subject)
        && let Some(item_id) = existing(connection, tag)?
    {
        return Ok(Some(item_id));
    }
    for referenced in mail.in_reply_to.iter().chain(mail.references.iter().rev()) {
        if outbound::is_digest_message_id(referenced) {
            return Err(Error::invalid(
                "mail",
                "a reply to a due-date digest names no item: answer an item's own notification (its subject starts \
                 with [#123]) or put [#123] in the subject",
            ));
        }
        if let Some(ours) = outbound::item_of_message_id(referenced)
            && let Some(item_id) = existing(connection, ours)?
        {
            return Ok(Some(item_id));
        }
        let found: Option<i64> = mail_received::table
            .filter(mail_received::message_key.eq(referenced))
            .select(mail_received::item_id)
            .first(connection)
            .optional()?;
        if let Some(item_id) = found {
            return Ok(Some(ItemId(item_id)));
        }
    }
    Ok(None)
}

fn attach(
    connection: &mut DbConnection,
    files: &FileStore,
    mailbox: &Mailbox,
    sender: &User,
    item_id: ItemId,
    comment_id: Option<CommentId>,
    mail: &InboundMail,
) -> Result<()> {
    for part in &mail.attachments {
        let mut staging = files.start_upload(mailbox.max_attachment_size)?;
        staging.write_chunk(&part.bytes)?;
        let staged = staging.finish()?;
        attachment::create(
            connection,
            files,
            sender,
            item_id,
            NewAttachment {
                comment_id,
                file_name: part.file_name.clone(),
                content_type: part.content_type.clone(),
                staged,
            },
        )?;
    }
    Ok(())
}

/// A mail that cannot be stored, and why.
struct Refusal<'a> {
    key: &'a str,
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
    let refusal = Refusal { key: &key, mail: parsed.as_ref(), raw: Some(raw), size: raw.len() as u64, reason };
    fail(connection, files, mailbox, refusal)
}

/// Records a mail that is too large to fetch: only its size and key are known.
pub fn refuse_oversized(
    connection: &mut DbConnection,
    files: &FileStore,
    mailbox: &Mailbox,
    key: &str,
    size: u64,
) -> Result<Outcome> {
    let reason = format!("larger than the mailbox limit of {} bytes ({size} bytes)", mailbox.max_message_size);
    fail(connection, files, mailbox, Refusal { key, mail: None, raw: None, size, reason })
}

/// Records a mail that cannot be stored, keeping its raw bytes for a later reprocess.
fn fail(connection: &mut DbConnection, files: &FileStore, mailbox: &Mailbox, refusal: Refusal) -> Result<Outcome> {
    let Refusal { key, mail, raw, size, reason } = refusal;
    if let Some(earlier) = earlier_outcome(connection, key)? {
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
            mail_failures::message_key.eq(key),
            mail_failures::mailbox.eq(&mailbox.name),
            mail_failures::sender
                .eq(mail.and_then(|mail| mail.from.as_ref()).map(|from| from.email.as_str()).unwrap_or("")),
            mail_failures::subject.eq(mail.map(|mail| mail.subject.as_str()).unwrap_or("")),
            mail_failures::reason.eq(&reason),
            mail_failures::raw_sha256.eq(raw_sha256),
            mail_failures::raw_size.eq(i64::try_from(size).unwrap_or(i64::MAX)),
        ))
        .execute(connection)?;
    tracing::warn!(mailbox = %mailbox.name, %key, %reason, "inbound mail refused");
    Ok(Outcome::Failed(reason))
}
