//! Whom a mail speaks for, and what it may do. A reply through the signed reply address of a
//! notification is a comment by the user it was sent to, on its item. Otherwise the From
//! address counts only when verified (`trust`): a verified sender's reply is a comment on
//! the item it answers, a new mail a new item. An unverified sender's mail is refused, or —
//! as the mailbox chooses — becomes a new item from an account with at most the reporter
//! role, never a comment. Replies reach only items of the projects the mailbox takes
//! replies for. Every refusal names its reason (an `Error` the caller records).

use diesel::prelude::*;

use crate::config::mail::{UnknownSenders, UnverifiedSenders};
use crate::db::schema::{items, mail_received, projects};
use crate::db::{DbConnection, database_now};
use crate::error::{Error, Result};
use crate::mail::mailbox::Mailbox;
use crate::mail::message::InboundMail;
use crate::mail::message::reply::subject_item_tag;
use crate::mail::message_ids::{is_digest_message_id, is_private_note, item_of_message_id};
use crate::mail::reply_address::{self, SigningKey, TokenError};
use crate::mail::trust;
use crate::model::ids::{ItemId, UserId};
use crate::model::item::key::ItemReference;
use crate::model::membership;
use crate::model::permission::{Access, Role};
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::user::{self, NewUser, User};

/// What a mail will be stored as.
pub enum Intent {
    /// A comment; a private note when the mail answers the notification of one.
    Comment { author: User, item: ItemId, private: bool },
    /// A new item in the mailbox's project: its reference, by id once the project was
    /// looked up for the decision.
    NewItem { reporter: User, project: ProjectKeyOrId },
}

/// The mailbox's project, looked up at most once per mail, and only once a rule needs it: a
/// mail refused before that is refused for its own reason.
struct MailboxProject<'a> {
    reference: &'a ProjectKeyOrId,
    found: Option<Project>,
}

impl MailboxProject<'_> {
    fn get(&mut self, connection: &mut DbConnection) -> Result<&Project> {
        let project = match self.found.take() {
            Some(project) => project,
            None => project::find(connection, self.reference)?,
        };
        Ok(self.found.insert(project))
    }

    /// The reference to create the new item with.
    fn for_new_item(&self) -> ProjectKeyOrId {
        match &self.found {
            Some(project) => self.reference.found_as(project.id),
            None => self.reference.clone(),
        }
    }
}

/// Decides what the mail may do; see the module documentation.
pub fn intent(connection: &mut DbConnection, mailbox: &Mailbox, mail: &InboundMail) -> Result<Intent> {
    if let Some(token) = reply_token(connection, mailbox, mail)? {
        let (author, item) = token.map_err(|why| {
            Error::Forbidden(format!("{why}; a reply goes through the reply address of a recent notification"))
        })?;
        let author = match user::get(connection, author) {
            Ok(author) => author,
            Err(Error::NotFound(_)) => {
                return Err(Error::Forbidden(format!("the reply address names user {author}, who no longer exists")));
            }
            Err(error) => return Err(error),
        };
        if !author.active {
            return Err(Error::Forbidden(format!(
                "the reply address names {}, whose account is deactivated",
                author.login
            )));
        }
        require_reply_project(connection, mailbox, item)?;
        return Ok(Intent::Comment { author, item, private: answers_private_note(mail) });
    }
    let address = mail.from.as_ref().map(|from| from.email.clone()).unwrap_or_default();
    let verdict = if mail.from_addresses == 1 {
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        trust::verify(&mail.authentication_results, domain, &mailbox.trusted_authserv_ids)
    } else {
        trust::Verdict { verified: false, detail: format!("the mail has {} From addresses", mail.from_addresses) }
    };
    let replied = replied_item(connection, mail)?;
    let mut project = MailboxProject { reference: &mailbox.project, found: None };
    if verdict.verified {
        let sender = sender_account(connection, mailbox, &mut project, mail)?;
        return Ok(match replied {
            Some(item) => {
                require_reply_project(connection, mailbox, item)?;
                Intent::Comment { author: sender, item, private: answers_private_note(mail) }
            }
            None => Intent::NewItem { reporter: sender, project: project.for_new_item() },
        });
    }
    let unverified = format!("the sender {address} is not verified ({})", verdict.detail);
    match (mailbox.unverified_senders, replied) {
        (UnverifiedSenders::Refuse, _) => {
            Err(Error::Forbidden(format!("{unverified}, and mailbox {} refuses unverified mail", mailbox.name)))
        }
        (UnverifiedSenders::NewItems, Some(item)) => Err(Error::Forbidden(format!(
            "{unverified}: a reply becomes a comment on #{item} only through the reply address of a notification \
             or from a verified sender"
        ))),
        (UnverifiedSenders::NewItems, None) => {
            let reporter = sender_account(connection, mailbox, &mut project, mail)?;
            at_most_reporter(connection, &mut project, &reporter, &unverified)?;
            Ok(Intent::NewItem { reporter, project: project.for_new_item() })
        }
    }
}

/// The verdict on the reply addresses of ours among the recipients: the first accepted one,
/// else why the first was not; `None` when there is none.
fn reply_token(
    connection: &mut DbConnection,
    mailbox: &Mailbox,
    mail: &InboundMail,
) -> Result<Option<std::result::Result<(UserId, ItemId), TokenError>>> {
    let recipients = mail.to.iter().chain(&mail.cc).map(|to| to.email.as_str());
    let tokens: Vec<&str> = recipients
        .chain(mail.envelope_recipients.iter().map(String::as_str))
        .filter_map(|recipient| reply_address::token_in(recipient, &mailbox.address))
        .collect();
    if tokens.is_empty() {
        return Ok(None);
    }
    let key = SigningKey::load(connection)?;
    let today = database_now(connection)?.date();
    let verdicts: Vec<_> = tokens.iter().map(|token| key.verify(token, today)).collect();
    Ok(verdicts.iter().find(|verdict| verdict.is_ok()).or(verdicts.first()).cloned())
}

/// Whether the mail answers our notification of a private note: its reply is one too (and is
/// refused if its author may no longer write them), so that what a private note said is
/// never quoted in public.
fn answers_private_note(mail: &InboundMail) -> bool {
    mail.in_reply_to.iter().chain(&mail.references).any(|id| is_private_note(id))
}

/// Refuses a reply to an item outside the projects this mailbox takes replies for.
fn require_reply_project(connection: &mut DbConnection, mailbox: &Mailbox, item: ItemId) -> Result<()> {
    let Some(allowed) = &mailbox.reply_projects else { return Ok(()) };
    let key: String = items::table
        .inner_join(projects::table)
        .filter(items::id.eq(item))
        .select(projects::key)
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("item {item}")))?;
    if allowed.contains(&key) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "item #{item} belongs to project {key}, which mailbox {} takes no replies for (add it to the mailbox's \
         reply_projects to allow them)",
        mailbox.name
    )))
}

/// Refuses an unverified mail from an administrator's account or one above reporter in the
/// mailbox's project: anyone may write such a From address.
fn at_most_reporter(
    connection: &mut DbConnection,
    project: &mut MailboxProject<'_>,
    sender: &User,
    unverified: &str,
) -> Result<()> {
    let project = project.get(connection)?;
    let access = Access::for_project(connection, sender, project.id, project.is_public)?;
    let standing = match access.role {
        _ if access.is_admin => Some("is an administrator".to_string()),
        Some(role) if role > Role::Reporter => Some(format!("has the {} role in {}", role.as_str(), project.key)),
        _ => None,
    };
    match standing {
        Some(standing) => Err(Error::Forbidden(format!(
            "{unverified}, and its account {} {standing}: unverified mail acts for no one above the reporter role",
            sender.login
        ))),
        None => Ok(()),
    }
}

/// The account the mail is stored as, by the mailbox's rule for unknown senders.
fn sender_account(
    connection: &mut DbConnection,
    mailbox: &Mailbox,
    project: &mut MailboxProject<'_>,
    mail: &InboundMail,
) -> Result<User> {
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
            let project_id = project.get(connection)?.id;
            membership::put_role(connection, project_id, created.id, Role::Reporter)?;
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

/// The item a reply belongs to: our subject tag, else a mail of ours or theirs it answers (a
/// Message-ID that several stored mails reuse for different items answers none of them).
fn replied_item(connection: &mut DbConnection, mail: &InboundMail) -> Result<Option<ItemId>> {
    if let Some(tag) = subject_item_tag(&mail.subject)
        && let Some(item_id) = tag.lookup(connection)?
    {
        return Ok(Some(item_id));
    }
    for referenced in mail.in_reply_to.iter().chain(mail.references.iter().rev()) {
        if is_digest_message_id(referenced) {
            return Err(Error::invalid(
                "mail",
                "a reply to a digest names no item: answer an item's own notification (its subject starts \
                 with its key, such as [OPS-42]) or put [OPS-42] or [#123] in the subject",
            ));
        }
        if let Some(ours) = item_of_message_id(referenced)
            && let Some(item_id) = ItemReference::Id(ItemId(ours)).lookup(connection)?
        {
            return Ok(Some(item_id));
        }
        let found: Vec<ItemId> = mail_received::table
            .filter(mail_received::message_key.eq(referenced))
            .select(mail_received::item_id)
            .distinct()
            .load(connection)?;
        if let [item_id] = found[..] {
            return Ok(Some(item_id));
        }
    }
    Ok(None)
}
