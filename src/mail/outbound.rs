//! Sending notifications, a master duty: takes due rows of `mail_outbox` (queued with the
//! changes, see `model::notification`), renders each mail from the item as it is now, sends
//! it (SMTP, or `.eml` files without an SMTP server) and marks it sent — fenced by the master
//! epoch. A failure is retried with a growing pause. A master dying between sending and
//! marking sends that one mail again; nothing is lost. A recipient who can no longer read
//! the item (or turned notifications off, or was deactivated) since it was queued is sent
//! nothing: the row is dropped, and a digest lists only the items its recipient can read.
//! Rows held for a daily digest are not sent on their own (`notification::queue_news_digests`).
//! What a mail says and its headers: `render`; where it goes: `transport`; our Message-IDs:
//! `mail::message_ids`.

mod render;
mod transport;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::StreamExt;

use self::render::{Rendered, Rendering};
use self::transport::Transport;
use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::config::Settings;
use crate::db::schema::mail_outbox;
use crate::db::{DbConnection, database_now};
use crate::error::Result;
use crate::mail::reply_address::SigningKey;

/// Rows sent per round, and mails in flight at once: an SMTP exchange waits on the network
/// (lettre writes the end-of-data marker separately, so each mail costs a delayed-ACK round
/// trip of about 40 ms); several pooled connections keep the throughput up.
const BATCH: i64 = 256;
pub(super) const IN_FLIGHT: usize = 64;
const LONGEST_PAUSE_SECONDS: i64 = 3600;

pub struct SenderDuty {
    settings: Arc<Settings>,
    transport: Arc<Transport>,
    /// Held through a round: a round run by hand and the duty's own never send a row twice.
    round: tokio::sync::Mutex<()>,
}

impl SenderDuty {
    pub fn from_settings(settings: Arc<Settings>) -> Result<SenderDuty> {
        let transport = Transport::from_settings(&settings)?;
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
                .filter(mail_outbox::held.eq(false))
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
                .iter()
                .map(|&id| (id, rendering.render(connection, id).map_err(|error| error.to_string())))
                .collect())
        })
        .await?;
    let outcomes: Vec<(i64, Delivery)> = futures_util::stream::iter(rendered)
        .map(|(id, rendered)| async move {
            match rendered {
                Ok(Rendered::Mail(message)) => match transport.send(message).await {
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
