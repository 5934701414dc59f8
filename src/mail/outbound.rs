//! Sending notifications, a master duty: takes due rows of `mail_outbox` (queued with the
//! changes, see `model::notification`), renders each mail from the item as it is now, sends
//! it (SMTP, or `.eml` files without an SMTP server) and marks it sent — fenced by the master
//! epoch. A failure is retried with a growing pause. A master dying between sending and
//! marking sends that one mail again; nothing is lost. A recipient who can no longer read
//! the item (or turned notifications off, or was deactivated) since it was queued is sent
//! nothing: the row is dropped, and a digest lists only the items its recipient can read.
//!
//! Every mail carries `[#123]` in its subject, a Message-ID naming the item
//! (`baton.<outbox id>.<item id>@<domain>`), In-Reply-To/References to the item's thread,
//! `Auto-Submitted: auto-generated`, our loop header, and as Reply-To the recipient's own
//! signed reply address for the item (`reply_address`), so that a reply comes back as the
//! recipient's comment and auto-replies are recognised.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::StreamExt;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox as Address, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::config::{Settings, TlsMode, read_ca_file};
use crate::db::schema::{comments, items, mail_outbox, projects, statuses, users};
use crate::db::{DbConnection, database_now};
use crate::error::{Error, Result};
use crate::mail::message::{LOOP_HEADER, REPLY_MARKER};
use crate::mail::reply_address::{self, SigningKey};
use crate::model::html::escape;
use crate::model::ids::{ItemId, ProjectId, UserId};
use crate::model::notification::{self, DUE_REMINDER};
use crate::model::user::{self, User};

/// Rows sent per round, and mails in flight at once: an SMTP exchange waits on the network
/// (lettre writes the end-of-data marker separately, so each mail costs a delayed-ACK round
/// trip of about 40 ms); several pooled connections keep the throughput up.
const BATCH: i64 = 256;
const IN_FLIGHT: usize = 64;
const LONGEST_PAUSE_SECONDS: i64 = 3600;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

pub struct SenderDuty {
    settings: Arc<Settings>,
    transport: Arc<Transport>,
    /// Held through a round: a round run by hand and the duty's own never send a row twice.
    round: tokio::sync::Mutex<()>,
}

impl SenderDuty {
    pub fn from_settings(settings: Arc<Settings>) -> Result<SenderDuty> {
        let transport = match &settings.mail.smtp {
            Some(smtp) => {
                let refused = |error: lettre::transport::smtp::Error| {
                    Error::invalid("mail.smtp", format!("host {:?}: {error}", smtp.host))
                };
                let private_ca = read_ca_file("mail.smtp", &smtp.ca_file)
                    .map_err(|error| Error::invalid("mail.smtp", error.to_string()))?;
                let builder = match (smtp.tls, private_ca) {
                    (TlsMode::None, _) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
                    (TlsMode::Tls, None) => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(refused)?,
                    (TlsMode::Starttls, None) => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(refused)?
                    }
                    (mode, Some(pem)) => {
                        // The public roots and the private authority.
                        let parameters = TlsParameters::builder(smtp.host.clone())
                            .add_root_certificate(Certificate::from_pem(&pem).map_err(refused)?)
                            .build_rustls()
                            .map_err(refused)?;
                        let tls =
                            if mode == TlsMode::Tls { Tls::Wrapper(parameters) } else { Tls::Required(parameters) };
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host).tls(tls)
                    }
                }
                .port(smtp.port())
                .timeout(Some(Duration::from_secs(60)))
                .pool_config(PoolConfig::new().max_size(IN_FLIGHT as u32));
                let credentials = smtp.credentials().map_err(|error| Error::invalid("mail.smtp", error.to_string()))?;
                let builder = match credentials {
                    Some((user, password)) => builder.credentials(Credentials::new(user, password)),
                    None => builder,
                };
                Transport::Smtp(builder.build())
            }
            None => {
                let folder = settings.mail_outbox_dir();
                std::fs::create_dir_all(&folder)
                    .map_err(|error| Error::internal(format!("creating {}", folder.display()), error))?;
                Transport::Files(AsyncFileTransport::new(folder))
            }
        };
        Ok(SenderDuty { settings, transport: Arc::new(transport), round: tokio::sync::Mutex::new(()) })
    }

    /// One round: sends the due rows of `mail_outbox` (up to `BATCH`) and records what became
    /// of each, fenced. Returns whether there were due rows.
    pub async fn send_round(&self, context: &DutyContext) -> Result<bool> {
        let _round = self.round.lock().await;
        Ok(send_due(&self.settings, &self.transport, context).await? > 0)
    }
}

impl MasterDuty for SenderDuty {
    fn name(&self) -> &'static str {
        "mail sender"
    }

    fn run(self: Arc<Self>, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            while !context.must_stop() {
                let had_work = self.send_round(&context).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "sending notifications failed");
                    false
                });
                if !had_work {
                    tokio::select! {
                        () = context.stopped() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        })
    }
}

/// Sends the due rows; returns how many it tried.
async fn send_due(settings: &Arc<Settings>, transport: &Transport, context: &DutyContext) -> Result<usize> {
    let due: Vec<i64> = context
        .read(|connection| {
            let now = database_now(connection)?;
            Ok(mail_outbox::table
                .filter(mail_outbox::sent_at.is_null())
                .filter(mail_outbox::next_attempt_at.le(now))
                .order(mail_outbox::id.asc())
                .limit(BATCH)
                .select(mail_outbox::id)
                .load(connection)?)
        })
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let render_settings = settings.clone();
    let ids = due.clone();
    let rendered: Vec<(i64, std::result::Result<Rendered, String>)> = context
        .read(move |connection| {
            let key = SigningKey::load(connection)?;
            let today = database_now(connection)?.date();
            let rendering = Rendering { settings: &render_settings, key: &key, today };
            Ok(ids
                .into_iter()
                .map(|id| (id, rendering.render(connection, id).map_err(|error| error.to_string())))
                .collect())
        })
        .await?;
    let outcomes: Vec<(i64, Delivery)> = futures_util::stream::iter(rendered)
        .map(|(id, rendered)| async move {
            match rendered {
                Ok(Rendered::Mail(message)) => match send(transport, message).await {
                    Ok(()) => (id, Delivery::Sent),
                    Err(error) => (id, Delivery::Failed(error)),
                },
                Ok(Rendered::NotSent(reason)) => (id, Delivery::Dropped(reason)),
                Err(error) => (id, Delivery::Failed(error)),
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for result in ["sent", "failed", "dropped"] {
        let count = outcomes.iter().filter(|(_, delivery)| delivery.result() == result).count();
        metrics::counter!("baton_mail_sent_total", "result" => result).increment(count as u64);
    }
    context
        .write(move |connection| {
            for (id, delivery) in &outcomes {
                match delivery {
                    Delivery::Sent => mark_sent(connection, *id)?,
                    Delivery::Failed(error) => mark_failed(connection, *id, error)?,
                    Delivery::Dropped(reason) => drop_unsendable(connection, *id, reason)?,
                }
            }
            Ok(())
        })
        .await?;
    Ok(due.len())
}

/// A rendered outbox row: the mail, or why nothing is to be sent any more.
enum Rendered {
    Mail(Message),
    NotSent(String),
}

/// What became of an outbox row in this round.
enum Delivery {
    Sent,
    Failed(String),
    Dropped(String),
}

impl Delivery {
    fn result(&self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Failed(_) => "failed",
            Delivery::Dropped(_) => "dropped",
        }
    }
}

/// Removes a row whose mail is not to be sent any more (the recipient cannot read the item
/// now, or turned notifications off): nothing to retry, nothing to keep.
fn drop_unsendable(connection: &mut DbConnection, id: i64, reason: &str) -> Result<()> {
    diesel::delete(mail_outbox::table.find(id)).execute(connection)?;
    tracing::info!(outbox = id, %reason, "a notification was not sent");
    Ok(())
}

async fn send(transport: &Transport, message: Message) -> std::result::Result<(), String> {
    match transport {
        Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|error| error.to_string()),
        Transport::Files(files) => files.send(message).await.map(|_| ()).map_err(|error| error.to_string()),
    }
}

fn mark_sent(connection: &mut DbConnection, id: i64) -> Result<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((mail_outbox::sent_at.eq(diesel::dsl::now), mail_outbox::last_error.eq(None::<String>)))
        .execute(connection)?;
    Ok(())
}

/// Records the error and when to try again: 30 s, doubling up to an hour.
fn mark_failed(connection: &mut DbConnection, id: i64, error: &str) -> Result<()> {
    let attempts: i32 = mail_outbox::table.find(id).select(mail_outbox::attempts).first(connection)?;
    let pause = (30i64 << attempts.clamp(0, 7)).min(LONGEST_PAUSE_SECONDS);
    let next: NaiveDateTime = database_now(connection)? + chrono::Duration::seconds(pause);
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::attempts.eq(attempts + 1),
            mail_outbox::next_attempt_at.eq(next),
            mail_outbox::last_error.eq(error),
        ))
        .execute(connection)?;
    tracing::warn!(outbox = id, attempt = attempts + 1, %error, retry_in_seconds = pause, "a notification was not sent");
    Ok(())
}

/// The Message-ID of a notification (without angle brackets).
fn message_id(outbox_id: i64, item_id: i64, domain: &str) -> String {
    format!("baton.{outbox_id}.{item_id}@{domain}")
}

/// The thread every notification of an item belongs to.
fn thread_id(item_id: i64, domain: &str) -> String {
    format!("baton.item.{item_id}@{domain}")
}

/// The Message-ID of a due-date digest: it names no item.
fn digest_message_id(outbox_id: i64, domain: &str) -> String {
    format!("baton.digest.{outbox_id}@{domain}")
}

pub fn is_digest_message_id(id: &str) -> bool {
    id.split_once('@').is_some_and(|(local, _)| local.starts_with("baton.digest."))
}

/// The item a Message-ID of ours names (a notification, or an item's thread).
pub fn item_of_message_id(id: &str) -> Option<i64> {
    let (local, _) = id.split_once('@')?;
    let mut parts = local.strip_prefix("baton.")?.split('.');
    let (first, second) = (parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    match (first, second) {
        ("item", Some(item)) => item.parse().ok(),
        (outbox, Some(item)) if outbox.parse::<i64>().is_ok() => item.parse().ok(),
        _ => None,
    }
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
    item_id: i64,
    recipient_id: i64,
    actor_id: i64,
    event: String,
    comment_id: Option<i64>,
    changes: String,
}

/// What a notification says and its Reply-To, or why nothing is to be sent any more.
type Prepared = std::result::Result<(Content, String), String>;

/// What every mail of a round is rendered with.
struct Rendering<'a> {
    settings: &'a Settings,
    key: &'a SigningKey,
    /// The database's date, for the reply addresses' lifetime and the digests.
    today: chrono::NaiveDate,
}

impl Rendering<'_> {
    /// The mail of one outbox row, from the item as it is now — if its recipient is still to
    /// hear of it.
    fn render(&self, connection: &mut DbConnection, id: i64) -> Result<Rendered> {
        let row: OutboxRow = mail_outbox::table.find(id).select(OutboxRow::as_select()).first(connection)?;
        let recipient = match user::get(connection, UserId(row.recipient_id)) {
            Ok(recipient) => recipient,
            Err(Error::NotFound(_)) => {
                return Ok(Rendered::NotSent(format!("user {} no longer exists", row.recipient_id)));
            }
            Err(error) => return Err(error),
        };
        let prepared = if row.event == DUE_REMINDER {
            self.digest(connection, &row, &recipient)?
        } else {
            self.news(connection, &row, &recipient)?
        };
        match prepared {
            Ok((content, reply_to)) => mail(self.settings, content, &reply_to, &recipient).map(Rendered::Mail),
            Err(reason) => Ok(Rendered::NotSent(reason)),
        }
    }

    /// A due-date digest of the items its recipient can read now; answered to our plain
    /// address (a reply to it names no item).
    fn digest(&self, connection: &mut DbConnection, row: &OutboxRow, recipient: &User) -> Result<Prepared> {
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

    /// News of an item (created, changed, commented on), if its recipient can read it now;
    /// answered to the recipient's reply address for the item.
    fn news(&self, connection: &mut DbConnection, row: &OutboxRow, recipient: &User) -> Result<Prepared> {
        let (settings, item_id) = (self.settings, row.item_id);
        let item: Option<(String, String, String, String, i64, bool)> = items::table
            .inner_join(projects::table)
            .inner_join(statuses::table)
            .filter(items::id.eq(item_id))
            .select((
                items::title,
                items::description,
                projects::key,
                statuses::name,
                projects::id,
                projects::is_public,
            ))
            .first(connection)
            .optional()?;
        let Some((title, description, project_key, status, project, project_is_public)) = item else {
            return Ok(Err(format!("item {item_id} no longer exists")));
        };
        if !notification::should_hear(connection, recipient, ProjectId(project), project_is_public)? {
            return Ok(Err(format!(
                "user {} can no longer read item {item_id}, or turned notifications off",
                recipient.id
            )));
        }
        let actor: String = users::table.find(row.actor_id).select(users::name).first(connection)?;
        let (did, details) = match row.event.as_str() {
            "created" => ("created", description),
            "commented" => {
                let body: String = match row.comment_id {
                    Some(comment_id) => comments::table.find(comment_id).select(comments::body).first(connection)?,
                    None => String::new(),
                };
                ("commented on", body)
            }
            _ => ("changed", row.changes.clone()),
        };
        let domain = domain(settings);
        let content = Content {
            subject: format!("[#{item_id}] {title}"),
            message_id: message_id(row.id, item_id, domain),
            thread: Some(format!("<{}>", thread_id(item_id, domain))),
            heading: format!("{actor} {did} #{item_id} {title} ({project_key}, {status})"),
            details,
            link: format!("{}/items/{item_id}", settings.base_url()),
        };
        let lifetime = chrono::Duration::from_std(settings.mail.reply_address_lifetime)
            .map_err(|error| Error::internal("mail.reply_address_lifetime", error))?;
        let token = self.key.token(recipient.id, ItemId(item_id), self.today + lifetime);
        Ok(Ok((content, reply_address::address_with(&settings.mail.address, &token))))
    }
}

/// The domain of our address, for our Message-IDs.
fn domain(settings: &Settings) -> &str {
    settings.mail.address.rsplit_once('@').map(|(_, domain)| domain).unwrap_or("localhost")
}

/// The mail itself: both bodies and the headers every notification has.
fn mail(settings: &Settings, content: Content, reply_to: &str, recipient: &User) -> Result<Message> {
    let address = settings.mail.address.as_str();
    let Content { subject, message_id, thread, heading, details, link } = content;
    let details: String = details.chars().take(4000).collect();
    let footer = "You get this mail about items you reported, are assigned to or watch; \
                  notifications can be turned off in your profile.";
    let text = format!("{REPLY_MARKER}\n\n{heading}\n\n{details}\n\n{link}\n\n{footer}\n");
    let html = format!(
        "<p style=\"color:#888\">{}</p><p><b>{}</b></p><pre style=\"white-space:pre-wrap\">{}</pre>\
         <p><a href=\"{}\">{}</a></p><p style=\"color:#888\">{}</p>",
        escape(REPLY_MARKER),
        escape(&heading),
        escape(&details),
        escape(&link),
        escape(&link),
        escape(footer)
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_message_ids_name_their_item() {
        assert_eq!(item_of_message_id(&message_id(7, 42, "example.com")), Some(42));
        assert_eq!(item_of_message_id(&thread_id(42, "example.com")), Some(42));
        assert_eq!(item_of_message_id(&digest_message_id(42, "example.com")), None);
        assert!(is_digest_message_id(&digest_message_id(42, "example.com")));
        assert!(!is_digest_message_id(&message_id(7, 42, "example.com")));
        for foreign in ["abc@example.com", "baton.x.42@example.com", "baton.1.2.3@example.com", "baton.item@x", ""] {
            assert_eq!(item_of_message_id(foreign), None, "{foreign}");
        }
    }
}
