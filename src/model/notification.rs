//! Notifications: who is told about a change, queued in `mail_outbox` in the same
//! transaction as the change (so none is lost), and sent by the master's mail sender. The
//! reporter, the assignee and the watchers are told — never the person who made the change,
//! nor deactivated accounts or users who turned notifications off.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{items, mail_outbox, statuses, users, watchers};
use crate::error::Result;
use crate::model::history::FieldChange;
use crate::model::ids::{CommentId, ItemId, UserId};

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Created,
    /// Assignee or status changed (the changes are listed in the mail).
    Changed,
    Commented(CommentId),
}

/// The event of a due-date digest (one mail about several items).
pub const DUE_REMINDER: &str = "due_reminder";

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Created => "created",
            Event::Changed => "changed",
            Event::Commented(_) => "commented",
        }
    }
}

/// The field changes worth a mail: assignment and status.
pub fn notable(changes: &[FieldChange]) -> Vec<&FieldChange> {
    changes.iter().filter(|change| matches!(change.field, "assignee" | "status")).collect()
}

/// Queues one notification per person concerned; call inside the change's transaction.
pub fn queue(
    connection: &mut DbConnection,
    item_id: ItemId,
    actor: UserId,
    event: Event,
    changes: &[&FieldChange],
) -> Result<()> {
    let (reporter, assignee): (i64, Option<i64>) =
        items::table.find(item_id.0).select((items::reporter_id, items::assignee_id)).first(connection)?;
    let watching: Vec<i64> =
        watchers::table.filter(watchers::item_id.eq(item_id.0)).select(watchers::user_id).load(connection)?;
    let mut concerned: Vec<i64> = std::iter::once(reporter).chain(assignee).chain(watching).collect();
    concerned.sort_unstable();
    concerned.dedup();
    let recipients: Vec<i64> = users::table
        .filter(users::id.eq_any(&concerned))
        .filter(users::id.ne(actor.0))
        .filter(users::active.eq(true))
        .filter(users::email_notifications.eq(true))
        .select(users::id)
        .load(connection)?;
    let summary: String = changes
        .iter()
        .map(|change| {
            let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".into());
            format!("{}: {} → {}", change.field, shown(&change.old_value), shown(&change.new_value))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let comment_id = match event {
        Event::Commented(comment) => Some(comment.0),
        Event::Created | Event::Changed => None,
    };
    for recipient in recipients {
        diesel::insert_into(mail_outbox::table)
            .values((
                mail_outbox::item_id.eq(item_id.0),
                mail_outbox::recipient_id.eq(recipient),
                mail_outbox::actor_id.eq(actor.0),
                mail_outbox::event.eq(event.as_str()),
                mail_outbox::comment_id.eq(comment_id),
                mail_outbox::changes.eq(&summary),
            ))
            .execute(connection)?;
    }
    Ok(())
}

#[derive(Queryable)]
struct DueItem {
    id: i64,
    title: String,
    due_date: chrono::NaiveDate,
    assignee: Option<i64>,
    reporter: i64,
}

/// Queues one digest per user of the open items due by tomorrow or overdue: the items
/// assigned to them, or reported by them when nobody is assigned. The digest's lines are
/// written now (`changes`), most urgent first; its `item_id` is the most urgent item.
/// Returns how many digests and items.
pub fn queue_due_reminders(connection: &mut DbConnection, today: chrono::NaiveDate) -> Result<(usize, usize)> {
    let tomorrow = today + chrono::Days::new(1);
    let due: Vec<DueItem> = items::table
        .inner_join(statuses::table)
        .filter(statuses::is_closed.eq(false))
        .filter(items::due_date.le(tomorrow))
        .order((items::due_date.asc(), items::id.asc()))
        .select((items::id, items::title, items::due_date.assume_not_null(), items::assignee_id, items::reporter_id))
        .load(connection)?;
    // Per user: the most urgent item, and one line per item.
    let mut by_user: std::collections::BTreeMap<i64, (i64, Vec<String>)> = std::collections::BTreeMap::new();
    for item in &due {
        let user = item.assignee.unwrap_or(item.reporter);
        let when = match (item.due_date - today).num_days() {
            1 => "due tomorrow".to_string(),
            0 => "due today".to_string(),
            -1 => "overdue by 1 day".to_string(),
            days => format!("overdue by {} days", -days),
        };
        by_user
            .entry(user)
            .or_insert_with(|| (item.id, Vec::new()))
            .1
            .push(format!("#{} {} ({when}, {})", item.id, item.title, item.due_date));
    }
    let recipients: Vec<i64> = users::table
        .filter(users::id.eq_any(by_user.keys().copied().collect::<Vec<_>>()))
        .filter(users::active.eq(true))
        .filter(users::email_notifications.eq(true))
        .select(users::id)
        .load(connection)?;
    let mut items_mentioned = 0;
    for recipient in &recipients {
        let (most_urgent, lines) = &by_user[recipient];
        items_mentioned += lines.len();
        diesel::insert_into(mail_outbox::table)
            .values((
                mail_outbox::item_id.eq(most_urgent),
                mail_outbox::recipient_id.eq(recipient),
                mail_outbox::actor_id.eq(recipient),
                mail_outbox::event.eq(DUE_REMINDER),
                mail_outbox::changes.eq(lines.join("\n")),
            ))
            .execute(connection)?;
    }
    Ok((recipients.len(), items_mentioned))
}
