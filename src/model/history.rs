//! Every change of an item's fields: who, when, which field, old and new value.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConnection;
use crate::db::schema::{history, items, projects, users};
use crate::db::stored_time::StoredTime;
use crate::error::Result;
use crate::model::ids::{CommentId, ItemId, ProjectId, UserId, any_id};
use crate::model::item::key;
use crate::model::permission::{self, ReadableItem, is_readable_in, readable_project_ids};
use crate::model::user::{User, UserSummary};
use crate::model::{comment, link};
use crate::timestamp;

/// One changed field, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// A built-in name (`status`) or a custom field's key.
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub user: UserSummary,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub changed_at: NaiveDateTime,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

pub fn record(connection: &mut DbConnection, item: ItemId, user: UserId, changes: &[FieldChange]) -> Result<()> {
    for change in changes {
        diesel::insert_into(history::table)
            .values((
                history::item_id.eq(item),
                history::user_id.eq(user),
                history::field.eq(&change.field),
                history::old_value.eq(change.old_value.as_deref()),
                history::new_value.eq(change.new_value.as_deref()),
            ))
            .execute(connection)?;
    }
    Ok(())
}

/// Who changed one field of an item last, and when (login, time), if anyone did.
pub fn last_change(
    connection: &mut DbConnection,
    item: ItemId,
    field: &str,
) -> Result<Option<(String, NaiveDateTime)>> {
    Ok(history::table
        .inner_join(users::table)
        .filter(history::item_id.eq(item))
        .filter(history::field.eq(field))
        .order(history::id.desc())
        .select((users::login, history::changed_at))
        .first(connection)
        .optional()?)
}

/// id, who, when, field, old value, new value.
type HistoryRow = (i64, UserSummary, StoredTime, String, Option<String>, Option<String>);

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<HistoryEntry>> {
    let readable = permission::readable_item(connection, actor, item_id)?;
    of_item(connection, actor, readable)
}

crate::db::dialect::item_subquery!(
    /// Whether an item has recorded changes, in its row's statement.
    AnyOfItem: diesel::sql_types::Bool,
    sql: "EXISTS (SELECT 1 FROM history WHERE history.item_id = \"items\".\"id\")"
);

/// The changes of an item already checked, oldest first; a change of a link whose other item
/// the actor cannot read is left out, and the items a link or parent change names are named by
/// their keys (`with_keys`).
pub fn of_item(connection: &mut DbConnection, actor: &User, item: ReadableItem) -> Result<Vec<HistoryEntry>> {
    let rows: Vec<HistoryRow> = history::table
        .inner_join(users::table)
        .filter(history::item_id.eq(item.id()))
        .order(history::id.asc())
        .select((
            history::id,
            UserSummary::as_select(),
            history::changed_at,
            history::field,
            history::old_value,
            history::new_value,
        ))
        .load(connection)?;
    // The other item of each link change (`None` for other fields and unreadable values).
    let linked: Vec<Option<ItemId>> = rows
        .iter()
        .map(|(.., field, old_value, new_value)| {
            (field == link::HISTORY_FIELD)
                .then(|| old_value.as_deref().or(new_value.as_deref()).and_then(link::named_item))
                .flatten()
        })
        .collect();
    let hidden =
        permission::unreadable_items(connection, actor, &linked.iter().flatten().copied().collect::<Vec<_>>())?;
    // What was done to private notes is for those who may read them.
    let notes: Vec<CommentId> = rows
        .iter()
        .filter(|(.., field, _, _)| field == comment::HISTORY_FIELD)
        .filter_map(|(.., old_value, _)| old_value.as_deref()?.parse().ok().map(CommentId))
        .collect();
    let mut private_notes = comment::private_among(connection, &notes)?;
    let mut shows_private = true;
    if !private_notes.is_empty() || rows.iter().any(|(.., field, _, _)| field == comment::PRIVATE_ATTACHMENT_FIELD) {
        let (_, access) = permission::item_access(connection, actor, item.id())?;
        shows_private = comment::may_read_private(&access);
        if shows_private {
            private_notes.clear();
        }
    }
    let is_private_note = |field: &str, old_value: &Option<String>| {
        (field == comment::PRIVATE_ATTACHMENT_FIELD && !shows_private)
            || (field == comment::HISTORY_FIELD
                && old_value
                    .as_deref()
                    .and_then(|id| id.parse().ok())
                    .is_some_and(|id| private_notes.contains(&CommentId(id))))
    };
    let entries = rows
        .into_iter()
        .zip(linked)
        .filter(|((.., field, _, _), other)| {
            field != link::HISTORY_FIELD || other.is_some_and(|other| !hidden.contains(&other))
        })
        .filter(|((.., field, old_value, _), _)| !is_private_note(field, old_value))
        .map(|(row, _)| row)
        .map(|(id, user, changed_at, field, old_value, new_value)| HistoryEntry {
            id,
            user,
            changed_at: changed_at.into(),
            field,
            old_value,
            new_value,
        })
        .collect();
    with_keys(connection, actor, entries)
}

/// A link or parent change names the other item as written then, `#id`; it is shown by the
/// item's key now (`blocks OPS-40`, a parent `OPS-12`) where the actor may read it.
fn with_keys(connection: &mut DbConnection, actor: &User, mut entries: Vec<HistoryEntry>) -> Result<Vec<HistoryEntry>> {
    let names_items = |entry: &HistoryEntry| entry.field == link::HISTORY_FIELD || entry.field == "parent";
    let named: Vec<ItemId> = entries
        .iter()
        .filter(|entry| names_items(entry))
        .flat_map(|entry| [&entry.old_value, &entry.new_value])
        .filter_map(|value| value.as_deref().and_then(link::named_item))
        .collect();
    if named.is_empty() {
        return Ok(entries);
    }
    let readable = readable_project_ids(connection, actor)?;
    let keys: std::collections::HashMap<ItemId, String> = items::table
        .inner_join(projects::table)
        .filter(any_id(items::id, &named))
        .select((items::id, projects::id, projects::key, items::number))
        .load::<(ItemId, ProjectId, String, i64)>(connection)?
        .into_iter()
        .filter(|(_, project, _, _)| is_readable_in(&readable, *project))
        .map(|(id, _, project_key, number)| (id, key::format(&project_key, number)))
        .collect();
    for entry in entries.iter_mut().filter(|entry| names_items(entry)) {
        for value in [&mut entry.old_value, &mut entry.new_value].into_iter().flatten() {
            if let (Some(id), Some(at)) = (link::named_item(value), value.rfind('#'))
                && let Some(key) = keys.get(&id)
            {
                value.replace_range(at.., key);
            }
        }
    }
    Ok(entries)
}
