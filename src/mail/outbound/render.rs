//! A notification rendered from its outbox row and the item as it is now: news of an item
//! (created, changed, commented on), a daily digest of such news, or a due-date digest, both
//! bodies (plain text and HTML, from the templates in `resources/templates/mail`) and the
//! headers every notification has.
//!
//! Every mail carries the item's key (`[OPS-42]`) in its subject, a Message-ID naming the item
//! (`baton.<outbox id>.<item id>@<domain>`), In-Reply-To/References to the item's thread,
//! `Auto-Submitted: auto-generated`, our loop header, and as Reply-To the recipient's own
//! signed reply address for the item (`reply_address`), so that a reply comes back as the
//! recipient's comment and auto-replies are recognised.

use askama::Template;
use diesel::prelude::*;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox as Address, MultiPart};

use crate::config::Settings;
use crate::db::DbConnection;
use crate::db::schema::{comments, items, mail_outbox, projects, statuses, users};
use crate::error::{Error, Result};
use crate::mail::message::LOOP_HEADER;
use crate::mail::message::reply::REPLY_MARKER;
use crate::mail::message_ids::{digest_message_id, message_id, thread_id};
use crate::mail::reply_address::{self, SigningKey};
use crate::model::ids::{CommentId, ItemId, ProjectId, UserId};
use crate::model::item::{self, key};
use crate::model::notification::{self, DUE_REMINDER, NEWS_DIGEST};
use crate::model::permission::Permission;
use crate::model::user::{self, User};

const FOOTER: &str = "You get this mail about items you reported, are assigned to or watch; \
                      notifications can be turned off in your profile.";

#[derive(Template)]
#[template(path = "mail/notification.txt")]
struct NotificationText<'a> {
    marker: &'a str,
    heading: &'a str,
    details: &'a str,
    link: &'a str,
    footer: &'a str,
}

/// Escaped as before the templates (`model::html::escape`), so the mails stay byte for byte
/// what they were.
#[derive(Template)]
#[template(path = "mail/notification.html", escape = "mailhtml")]
struct NotificationHtml<'a> {
    marker: &'a str,
    heading: &'a str,
    details: &'a str,
    link: &'a str,
    footer: &'a str,
}

/// The escaping of `model::html::escape` for askama (`askama.toml` names it for `mailhtml`).
#[derive(Clone, Copy)]
pub struct MailHtml;

impl askama::filters::Escaper for MailHtml {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut destination: W, text: &str) -> std::fmt::Result {
        destination.write_str(&crate::model::html::escape(text))
    }
}

/// A rendered outbox row: the mail, or why nothing is to be sent any more.
pub(super) enum Rendered {
    Mail(Message),
    NotSent(String),
}

/// What a notification says, before the headers common to all.
struct Content {
    subject: String,
    message_id: String,
    /// The item's thread, for In-Reply-To / References (none for a digest).
    thread: Option<String>,
    heading: String,
    details: String,
    link: String,
}

/// An outbox row, as queued.
#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
struct OutboxRow {
    id: i64,
    item_id: ItemId,
    recipient_id: UserId,
    actor_id: UserId,
    event: String,
    comment_id: Option<CommentId>,
    changes: String,
}

/// What a notification says and its Reply-To, or why nothing is to be sent any more.
type Prepared = std::result::Result<(Content, String), String>;

/// What every mail of a round is rendered with.
pub(super) struct Rendering<'a> {
    pub(super) settings: &'a Settings,
    pub(super) key: &'a SigningKey,
    /// The database's date, for the reply addresses' lifetime and the digests.
    pub(super) today: chrono::NaiveDate,
}

impl Rendering<'_> {
    /// The mail of one outbox row, from the item as it is now — if its recipient is still to
    /// hear of it.
    pub(super) fn render(&self, connection: &mut DbConnection, id: i64) -> Result<Rendered> {
        let row: OutboxRow = mail_outbox::table.find(id).select(OutboxRow::as_select()).first(connection)?;
        let recipient = match user::get(connection, row.recipient_id) {
            Ok(recipient) => recipient,
            Err(Error::NotFound(_)) => {
                return Ok(Rendered::NotSent(format!("user {} no longer exists", row.recipient_id)));
            }
            Err(error) => return Err(error),
        };
        let prepared = match row.event.as_str() {
            DUE_REMINDER => self.due_digest(connection, &row, &recipient)?,
            NEWS_DIGEST => self.news_digest(connection, &row, &recipient)?,
            _ => self.news(connection, &row, &recipient)?,
        };
        match prepared {
            Ok((content, reply_to)) => mail(self.settings, content, &reply_to, &recipient).map(Rendered::Mail),
            Err(reason) => Ok(Rendered::NotSent(reason)),
        }
    }

    /// A due-date digest of the items its recipient can read now; answered to our plain
    /// address (a reply to it names no item).
    fn due_digest(&self, connection: &mut DbConnection, row: &OutboxRow, recipient: &User) -> Result<Prepared> {
        let settings = self.settings;
        if !recipient.active || !recipient.email_notifications {
            return Ok(Err(format!("user {} is deactivated or turned notifications off", recipient.id)));
        }
        let lines = notification::digest_lines(connection, recipient, &row.changes, self.today)?;
        if lines.is_empty() {
            return Ok(Err(format!("no item of the digest for user {} is still due and readable", recipient.id)));
        }
        let count = lines.len();
        let content = Content {
            subject: format!("{count} item{} due by tomorrow or overdue", if count == 1 { "" } else { "s" }),
            message_id: digest_message_id(row.id, domain(settings)),
            thread: None,
            heading: "Your open items due by tomorrow or overdue:".into(),
            details: lines.join("\n"),
            link: format!("{}/items?assignee=me", settings.base_url()),
        };
        Ok(Ok((content, settings.mail.address.clone())))
    }

    /// News of an item (created, changed, commented on, a mention), if its recipient can read it now;
    /// answered to the recipient's reply address for the item.
    fn news(&self, connection: &mut DbConnection, row: &OutboxRow, recipient: &User) -> Result<Prepared> {
        let settings = self.settings;
        let news = match told(connection, row, recipient)? {
            Ok(news) => news,
            Err(reason) => return Ok(Err(reason)),
        };
        let domain = domain(settings);
        let News { item_id, reference, title, status, actor, did, details, private } = news;
        let content = Content {
            subject: format!("[{reference}] {title}"),
            message_id: message_id(row.id, item_id, domain, private),
            thread: Some(format!("<{}>", thread_id(item_id, domain))),
            heading: format!("{actor} {did} {reference} {title} ({status})"),
            details: cut(&details, NEWS_CHARS),
            link: format!("{}/items/{item_id}", settings.base_url()),
        };
        let lifetime = chrono::Duration::from_std(settings.mail.reply_address_lifetime)
            .map_err(|error| Error::internal("mail.reply_address_lifetime", error))?;
        let token = self.key.token(recipient.id, item_id, self.today + lifetime);
        Ok(Ok((content, reply_address::address_with(&settings.mail.address, &token))))
    }

    /// A daily digest of the news held for its recipient, grouped by item in the order it
    /// happened, of what they may read now; answered to our plain address.
    fn news_digest(&self, connection: &mut DbConnection, row: &OutboxRow, recipient: &User) -> Result<Prepared> {
        let settings = self.settings;
        let ids = notification::digest_rows(&row.changes);
        let mut held: Vec<OutboxRow> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(notification::ROWS_PER_STATEMENT) {
            held.extend(
                mail_outbox::table
                    .filter(mail_outbox::id.eq_any(chunk))
                    .select(OutboxRow::as_select())
                    .load(connection)?,
            );
        }
        held.sort_by_key(|row| row.id);
        // Each item once: its heading and link, then its news.
        let mut items: Vec<(ItemId, String, Vec<String>)> = Vec::new();
        let mut count = 0;
        for row in &held {
            let Ok(news) = told(connection, row, recipient)? else { continue };
            count += 1;
            let entry = match news.details.trim() {
                "" => format!("{} {} it", news.actor, news.did),
                details => format!("{} {} it:\n{}", news.actor, news.did, indented(&cut(details, DIGEST_NEWS_CHARS))),
            };
            match items.iter_mut().find(|(id, _, _)| *id == news.item_id) {
                Some((_, _, entries)) => entries.push(entry),
                None => items.push((
                    news.item_id,
                    format!(
                        "{} {} ({})\n{}/items/{}",
                        news.reference,
                        news.title,
                        news.status,
                        settings.base_url(),
                        news.item_id
                    ),
                    vec![entry],
                )),
            }
        }
        if count == 0 {
            return Ok(Err(format!(
                "nothing of the digest for user {} is still to be sent to them (deleted, no longer readable, or \
                 notifications turned off)",
                recipient.id
            )));
        }
        let plural = |count: usize, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        let details: Vec<String> =
            items.into_iter().map(|(_, heading, entries)| format!("{heading}\n\n{}", entries.join("\n"))).collect();
        let content = Content {
            subject: format!(
                "Daily digest: {} on {}",
                plural(count, "piece of news", "pieces of news"),
                plural(details.len(), "item", "items")
            ),
            message_id: digest_message_id(row.id, domain(settings)),
            thread: None,
            heading: "What happened on your items since the last digest:".into(),
            details: details.join("\n\n"),
            link: format!("{}/profile#notifications", settings.base_url()),
        };
        Ok(Ok((content, settings.mail.address.clone())))
    }
}

/// A piece of news as its recipient may read it now.
struct News {
    item_id: ItemId,
    /// The item's key, `OPS-42`.
    reference: String,
    title: String,
    status: String,
    /// Who did it, and what (`commented on`): "ann commented on OPS-42".
    actor: String,
    did: &'static str,
    details: String,
    /// About a private note.
    private: bool,
}

/// What an outbox row of news tells its recipient now, or why it is not to be told any more:
/// the item or the comment was deleted, or the recipient may no longer read them.
fn told(connection: &mut DbConnection, row: &OutboxRow, recipient: &User) -> Result<std::result::Result<News, String>> {
    let item_id = row.item_id;
    let item: Option<(i64, String, String, String, String, ProjectId, bool)> = items::table
        .inner_join(projects::table)
        .inner_join(statuses::table)
        .filter(items::id.eq(item_id))
        .select((
            items::number,
            items::title,
            items::description,
            projects::key,
            statuses::name,
            projects::id,
            projects::is_public,
        ))
        .first(connection)
        .optional()?;
    let Some((number, title, description, project_key, status, project, project_is_public)) = item else {
        return Ok(Err(format!("item {item_id} no longer exists")));
    };
    // The comment the mail is about (body, deleted, private): a deleted one is not mailed,
    // a private note only to those who may read private notes there now.
    let comment: Option<(String, bool, bool)> = match row.comment_id {
        Some(id) => Some(
            comments::table
                .find(id)
                .select((comments::body, comments::deleted_at.is_not_null(), comments::private))
                .first(connection)
                .optional()?
                .unwrap_or((String::new(), true, false)),
        ),
        None => None,
    };
    let private = comment.as_ref().is_some_and(|(_, _, private)| *private);
    let least = if private { Permission::Work } else { Permission::View };
    if !notification::should_hear(connection, recipient, project, project_is_public, least)? {
        return Ok(Err(format!(
            "user {} can no longer read item {item_id}, or turned notifications off",
            recipient.id
        )));
    }
    let actor: String = users::table.find(row.actor_id).select(users::name).first(connection)?;
    let (did, details) = match row.event.as_str() {
        "created" => ("created", with_field_values(connection, recipient, item_id, description)?),
        "commented" => match comment {
            Some((body, false, _)) => ("commented on", body),
            _ => return Ok(Err(deleted_comment(row))),
        },
        // The text that mentions the recipient: a comment, else the description.
        notification::MENTIONED => match comment {
            Some((body, false, _)) => ("mentioned you in a comment on", body),
            Some(_) => return Ok(Err(deleted_comment(row))),
            None => ("mentioned you in", description),
        },
        notification::LINKED => match notification::link_line(connection, recipient, &row.changes)? {
            Some(line) => ("changed", line),
            None => {
                return Ok(Err(format!("user {} can no longer read the item linked to item {item_id}", recipient.id)));
            }
        },
        _ => ("changed", row.changes.clone()),
    };
    let reference = key::format(&project_key, number);
    Ok(Ok(News { item_id, reference, title, status, actor, did, details, private }))
}

/// The longest text of a single notification, and of each piece of news in a digest.
const NEWS_CHARS: usize = 4000;
const DIGEST_NEWS_CHARS: usize = 1000;

/// The text cut at `most` characters.
fn cut(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Each line indented, as a digest shows the text of a piece of news under its heading.
fn indented(text: &str) -> String {
    text.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
}

/// Why a mail about a deleted comment is not sent.
fn deleted_comment(row: &OutboxRow) -> String {
    format!("the comment of item {} this mail was about was deleted", row.item_id)
}

/// The domain of our address, for our Message-IDs.
fn domain(settings: &Settings) -> &str {
    settings.mail.address.rsplit_once('@').map(|(_, domain)| domain).unwrap_or("localhost")
}

/// The mail itself: both bodies and the headers every notification has.
fn mail(settings: &Settings, content: Content, reply_to: &str, recipient: &User) -> Result<Message> {
    let address = settings.mail.address.as_str();
    let Content { subject, message_id, thread, heading, details, link } = content;
    let text =
        NotificationText { marker: REPLY_MARKER, heading: &heading, details: &details, link: &link, footer: FOOTER }
            .render()
            .map_err(|error| Error::internal("rendering a notification's text", error))?;
    let html =
        NotificationHtml { marker: REPLY_MARKER, heading: &heading, details: &details, link: &link, footer: FOOTER }
            .render()
            .map_err(|error| Error::internal("rendering a notification's HTML", error))?;
    let parse =
        |what: &str, value: String| value.parse::<Address>().map_err(|error| Error::invalid(what, format!("{error}")));
    let mut builder = Message::builder()
        .from(parse("mail.address", format!("Baton <{address}>"))?)
        .reply_to(parse("mail.address", reply_to.to_string())?)
        .to(Address::new(
            Some(recipient.name.clone()),
            recipient.email.parse().map_err(|error| {
                Error::invalid("email", format!("{:?} of user {}: {error}", recipient.email, recipient.id))
            })?,
        ))
        .subject(subject)
        .message_id(Some(format!("<{message_id}>")));
    if let Some(thread) = thread {
        builder = builder.in_reply_to(thread.clone()).references(thread);
    }
    builder
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(LOOP_HEADER), address.to_lowercase()))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|error| Error::internal("building a notification mail", error))
}

/// A new item's description under the custom field values it holds, as the
/// recipient may read them: one `Name: value` line each (long text on its first line only).
fn with_field_values(
    connection: &mut DbConnection,
    recipient: &User,
    item_id: ItemId,
    description: String,
) -> Result<String> {
    let item = item::get(connection, recipient, item_id)?;
    let lines: Vec<String> = item
        .fields
        .0
        .iter()
        .filter_map(|field| {
            let text = field.value.as_ref()?.text();
            let first_line = text.lines().next().unwrap_or_default();
            let more = if first_line.len() < text.len() { " …" } else { "" };
            Some(format!("{}: {first_line}{more}", field.name))
        })
        .collect();
    Ok(if lines.is_empty() { description } else { format!("{}\n\n{description}", lines.join("\n")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bodies as they were written before the templates, byte for byte.
    #[test]
    fn both_bodies_are_what_they_were_before_the_templates() {
        let (heading, details, link) = (
            "Ann <ann> changed #7 \"Fix\" & co (OPS, New)",
            "status: New → Done\n  it's 'done'\n",
            "https://x/items/7?a=1&b=2",
        );
        let text = NotificationText { marker: REPLY_MARKER, heading, details, link, footer: FOOTER }.render().unwrap();
        assert_eq!(text, format!("{REPLY_MARKER}\n\n{heading}\n\n{details}\n\n{link}\n\n{FOOTER}\n"));
        let html = NotificationHtml { marker: REPLY_MARKER, heading, details, link, footer: FOOTER }.render().unwrap();
        let escape = crate::model::html::escape;
        assert_eq!(
            html,
            format!(
                "<p style=\"color:#888\">{}</p><p><b>{}</b></p><pre style=\"white-space:pre-wrap\">{}</pre>\
                 <p><a href=\"{}\">{}</a></p><p style=\"color:#888\">{}</p>",
                escape(REPLY_MARKER),
                escape(heading),
                escape(details),
                escape(link),
                escape(link),
                escape(FOOTER)
            )
        );
    }
}
