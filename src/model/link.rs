//! Links between items — relates to, duplicates, blocks, precedes, copied to — stored once per
//! pair and kind and read from both sides, each side with its own wording (`blocks` /
//! `blocked_by`). A link whose other end the viewer cannot read is not shown at all: not in
//! the list, the history, a refusal or a mail.
//!
//! Adding or removing a link needs the developer role in both ends' projects. The rules — no
//! link to itself, none twice, no cycle of blocks or of precedes, no closing an item that an
//! open item blocks — are checked inside the write transaction, which on PostgreSQL first
//! takes the links' lock (`lock`), so that two concurrent writes cannot break them together.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{item_links, items, projects, statuses};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::{self, FieldChange};
use crate::model::ids::{ItemId, LinkId, ProjectId, StatusId, any_id};
use crate::model::item::{self, Guard, ItemUpdate, StatusRef, key};
use crate::model::notification;
use crate::model::permission::{self, Permission, ReadableItem, is_readable_in, readable_project_ids};
use crate::model::user::User;
use crate::model::workflow::Workflow;
use crate::timestamp;

/// The history field of link changes; its values read `<kind as this side says it> #<id>`.
pub const HISTORY_FIELD: &str = "links";

/// How two items are linked, as stored (from the source's side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Relates,
    Duplicates,
    Blocks,
    Precedes,
    CopiedTo,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Relates, Kind::Duplicates, Kind::Blocks, Kind::Precedes, Kind::CopiedTo];

    /// The stored name, which the source's side shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Relates => "relates",
            Kind::Duplicates => "duplicates",
            Kind::Blocks => "blocks",
            Kind::Precedes => "precedes",
            Kind::CopiedTo => "copied_to",
        }
    }

    /// The name the target's side shows.
    pub fn reverse(self) -> &'static str {
        match self {
            Kind::Relates => "relates",
            Kind::Duplicates => "duplicated_by",
            Kind::Blocks => "blocked_by",
            Kind::Precedes => "follows",
            Kind::CopiedTo => "copied_from",
        }
    }

    /// The name one side shows (`forward`: the source's).
    pub fn side(self, forward: bool) -> &'static str {
        if forward { self.as_str() } else { self.reverse() }
    }

    /// A chain of these may not come back to where it started.
    fn acyclic(self) -> bool {
        matches!(self, Kind::Blocks | Kind::Precedes)
    }

    /// A kind as either side names it, and whether that is the source's side.
    pub fn parse(text: &str) -> Result<(Kind, bool)> {
        Kind::ALL
            .iter()
            .find_map(|kind| {
                if kind.as_str() == text {
                    Some((*kind, true))
                } else if kind.reverse() == text {
                    Some((*kind, false))
                } else {
                    None
                }
            })
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!(
                        "{text:?} is not a kind of link: use relates, duplicates, duplicated_by, blocks, blocked_by, precedes, follows, copied_to or copied_from"
                    ),
                )
            })
    }

    pub fn stored(text: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| Error::internal("item link", format!("stored kind {text:?} is unknown")))
    }
}

/// The item at a link's other end.
#[derive(Debug, Clone, Serialize)]
pub struct LinkedItem {
    pub id: ItemId,
    pub key: String,
    pub title: String,
    pub project: String,
    pub status: StatusRef,
}

/// A link as one of its items shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub id: LinkId,
    /// The kind as this side says it: `blocks` from the blocking item, `blocked_by` from the other.
    pub kind: &'static str,
    pub item: LinkedItem,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
}

type LinkRow = (LinkId, String, ItemId, ItemId, NaiveDateTime);

/// (id, number, title, project id, project key, status id, status name, closed)
type EndRow = (ItemId, i64, String, ProjectId, String, StatusId, String, bool);

fn ends(connection: &mut DbConnection, ids: &[ItemId]) -> Result<HashMap<ItemId, (ProjectId, LinkedItem)>> {
    let rows: Vec<EndRow> = items::table
        .inner_join(projects::table)
        .inner_join(statuses::table)
        .filter(any_id(items::id, ids))
        .select((
            items::id,
            items::number,
            items::title,
            projects::id,
            projects::key,
            statuses::id,
            statuses::name,
            statuses::is_closed,
        ))
        .load(connection)?;
    Ok(rows
        .into_iter()
        .map(|(id, number, title, project_id, project, status_id, status, is_closed)| {
            let status = StatusRef { id: status_id, name: status, is_closed };
            (id, (project_id, LinkedItem { id, key: key::format(&project, number), title, project, status }))
        })
        .collect())
}

crate::db::dialect::item_subquery!(
    /// Whether an item has links, either way, in its row's statement.
    AnyOfItem: diesel::sql_types::Bool,
    sql: "(EXISTS (SELECT 1 FROM item_links WHERE item_links.source_id = \"items\".\"id\") \
        OR EXISTS (SELECT 1 FROM item_links WHERE item_links.target_id = \"items\".\"id\"))"
);

/// The links of an item checked readable, as the actor may see them: grouped by kind as
/// this side says it (in `Kind::ALL` order, each kind before its reverse), oldest first.
pub fn of_item(connection: &mut DbConnection, actor: &User, item: ReadableItem) -> Result<Vec<Link>> {
    let id = item.id();
    let rows: Vec<LinkRow> = item_links::table
        .filter(item_links::source_id.eq(id).or(item_links::target_id.eq(id)))
        .order(item_links::id.asc())
        .select((
            item_links::id,
            item_links::kind,
            item_links::source_id,
            item_links::target_id,
            item_links::created_at,
        ))
        .load(connection)?;
    // Most items have none: no statement more for them.
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let others: Vec<ItemId> =
        rows.iter().map(|(_, _, source, target, _)| if *source == id { *target } else { *source }).collect();
    let ends = ends(connection, &others)?;
    let readable = readable_project_ids(connection, actor)?;
    let mut links = Vec::with_capacity(rows.len());
    for (link_id, kind, source, target, created_at) in rows {
        let kind = Kind::stored(&kind)?;
        let forward = source == id;
        let other = if forward { target } else { source };
        let Some((project, linked)) = ends.get(&other) else { continue };
        if !is_readable_in(&readable, *project) {
            continue;
        }
        links.push(Link { id: link_id, kind: kind.side(forward), item: linked.clone(), created_at });
    }
    let rank = |link: &Link| {
        Kind::ALL.iter().flat_map(|kind| [kind.as_str(), kind.reverse()]).position(|name| name == link.kind)
    };
    links.sort_by_key(rank);
    Ok(links)
}

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<Link>> {
    let readable = permission::readable_item(connection, actor, item_id)?;
    of_item(connection, actor, readable)
}

/// On PostgreSQL, waits for the other transactions that write links or parents or close
/// items: their checks (cycles, open blockers and children) read what this one writes.
/// SQLite's write transactions run one at a time already.
pub fn lock(connection: &mut DbConnection) -> Result<()> {
    if let DbConnection::Postgresql(connection) = connection {
        // A fixed key for "the item links": the first 8 bytes of their table's name, `item_lin`.
        diesel::sql_query("SELECT pg_advisory_xact_lock(7598809991707650414)").execute(connection)?;
    }
    Ok(())
}

/// The item, readable and with the developer role in its project: 404 when unreadable.
fn workable(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<ReadableItem> {
    let (readable, access) = permission::item_access(connection, actor, id)?;
    if !access.allows(Permission::Work) {
        return Err(Error::forbidden(format!(
            "your role in the project of item {id} does not allow linking it (needs developer)"
        )));
    }
    Ok(readable)
}

/// `#id title` of each item the actor can read, in the given order.
fn named(connection: &mut DbConnection, actor: &User, ids: &[ItemId]) -> Result<Vec<String>> {
    let ends = ends(connection, ids)?;
    let readable = readable_project_ids(connection, actor)?;
    Ok(ids
        .iter()
        .filter_map(|id| ends.get(id))
        .filter(|(project, _)| is_readable_in(&readable, *project))
        .map(|(_, linked)| format!("#{} {}", linked.id, linked.title))
        .collect())
}

/// The chain of `kind` links from `from` to `to`, if there is one: `[from, …, to]`.
fn chain(connection: &mut DbConnection, kind: Kind, from: ItemId, to: ItemId) -> Result<Option<Vec<ItemId>>> {
    let mut came_from: HashMap<ItemId, ItemId> = HashMap::new();
    let mut frontier = vec![from];
    while !frontier.is_empty() {
        let steps: Vec<(ItemId, ItemId)> = item_links::table
            .filter(item_links::kind.eq(kind.as_str()))
            .filter(item_links::source_id.eq_any(&frontier))
            .select((item_links::source_id, item_links::target_id))
            .load(connection)?;
        frontier.clear();
        for (step_from, step_to) in steps {
            if step_to == from || came_from.contains_key(&step_to) {
                continue;
            }
            came_from.insert(step_to, step_from);
            if step_to == to {
                let mut path = vec![to];
                while let Some(previous) = came_from.get(path.last().unwrap_or(&to)) {
                    path.push(*previous);
                }
                path.reverse();
                return Ok(Some(path));
            }
            frontier.push(step_to);
        }
    }
    Ok(None)
}

/// Records a link's change in both items' histories, touches both and tells who follows
/// them; `added` or removed. Call inside the write transaction.
fn note(
    connection: &mut DbConnection,
    actor: &User,
    kind: Kind,
    source: ItemId,
    target: ItemId,
    added: bool,
) -> Result<()> {
    for (item, other, forward) in [(source, target, true), (target, source, false)] {
        let value = format!("{} #{other}", kind.side(forward));
        let (old_value, new_value) = if added { (None, Some(value)) } else { (Some(value), None) };
        history::record(
            connection,
            item,
            actor.id,
            &[FieldChange { field: HISTORY_FIELD.to_string(), old_value, new_value }],
        )?;
        item::touch(connection, item)?;
        notification::queue_link(connection, item, actor.id, other, added, kind.side(forward))?;
    }
    Ok(())
}

/// Links `item_id` to `target` as `kind` says it from `item_id`'s side (`blocks`, or
/// `blocked_by` for the other way round). Returns the link as `item_id` shows it.
pub fn add(connection: &mut DbConnection, actor: &User, item_id: ItemId, kind: &str, target: ItemId) -> Result<Link> {
    let (kind, forward) = Kind::parse(kind)?;
    write_transaction(connection, |connection| {
        lock(connection)?;
        let readable = workable(connection, actor, item_id)?;
        if target == item_id {
            return Err(Error::invalid("target", "an item cannot be linked to itself"));
        }
        // An item the actor cannot read is not found, as one that does not exist.
        workable(connection, actor, target)?;
        let (source, destination) = match (kind, forward) {
            (Kind::Relates, _) => (item_id.min(target), item_id.max(target)),
            (_, true) => (item_id, target),
            (_, false) => (target, item_id),
        };
        let existing: Option<LinkId> = item_links::table
            .filter(item_links::kind.eq(kind.as_str()))
            .filter(
                (item_links::source_id.eq(source).and(item_links::target_id.eq(destination)))
                    .or(item_links::source_id.eq(destination).and(item_links::target_id.eq(source))),
            )
            .select(item_links::id)
            .first(connection)
            .optional()?;
        if let Some(existing) = existing {
            return Err(Error::Conflict(format!(
                "items {item_id} and {target} are already linked as {} (link {existing})",
                kind.as_str()
            )));
        }
        if kind.acyclic()
            && let Some(path) = chain(connection, kind, destination, source)?
        {
            // The items in the way, when the actor can read them all.
            let shown = named(connection, actor, &path)?;
            let through = if shown.len() == path.len() { format!(": {}", shown.join(" → ")) } else { String::new() };
            return Err(Error::Conflict(format!(
                "#{source} {kind} #{destination} would close a cycle of {kind} links{through}",
                kind = kind.as_str()
            )));
        }
        let id: LinkId = diesel::insert_into(item_links::table)
            .values((
                item_links::kind.eq(kind.as_str()),
                item_links::source_id.eq(source),
                item_links::target_id.eq(destination),
                item_links::created_by.eq(actor.id),
            ))
            .returning(item_links::id)
            .get_result(connection)?;
        note(connection, actor, kind, source, destination, true)?;
        of_item(connection, actor, readable)?
            .into_iter()
            .find(|link| link.id == id)
            .ok_or_else(|| Error::internal("item link", format!("link {id} vanished")))
    })
}

/// Removes a link of `item_id`: not found unless it is one of that item's links and the actor
/// can read its other end.
pub fn remove(connection: &mut DbConnection, actor: &User, item_id: ItemId, link_id: LinkId) -> Result<()> {
    write_transaction(connection, |connection| {
        lock(connection)?;
        permission::readable_item(connection, actor, item_id)?;
        let row: Option<(String, ItemId, ItemId)> = item_links::table
            .find(link_id)
            .filter(item_links::source_id.eq(item_id).or(item_links::target_id.eq(item_id)))
            .select((item_links::kind, item_links::source_id, item_links::target_id))
            .first(connection)
            .optional()?;
        // A link whose other end the actor cannot read is not found, without naming that end.
        let not_found = || Error::not_found(format!("link {link_id} of item {item_id}"));
        let (kind, source, target) = row.ok_or_else(not_found)?;
        let other = if source == item_id { target } else { source };
        if !permission::unreadable_items(connection, actor, &[other])?.is_empty() {
            return Err(not_found());
        }
        workable(connection, actor, source)?;
        workable(connection, actor, target)?;
        diesel::delete(item_links::table.find(link_id)).execute(connection)?;
        note(connection, actor, Kind::stored(&kind)?, source, target, false)
    })
}

/// Links a copy to the item it was copied from (`copied_to`), and with `with_links` also to
/// each item the original is linked to that the actor can read, as the original is. No link
/// of these can close a cycle: the copy had none before. Call inside the copy's transaction.
pub fn link_copy(
    connection: &mut DbConnection,
    actor: &User,
    original: ItemId,
    copy: ItemId,
    with_links: bool,
) -> Result<()> {
    lock(connection)?;
    let mut links: Vec<(Kind, ItemId, ItemId)> = vec![(Kind::CopiedTo, original, copy)];
    if with_links {
        let rows: Vec<(String, ItemId, ItemId)> = item_links::table
            .filter(item_links::source_id.eq(original).or(item_links::target_id.eq(original)))
            .order(item_links::id.asc())
            .select((item_links::kind, item_links::source_id, item_links::target_id))
            .load(connection)?;
        let others: Vec<ItemId> =
            rows.iter().map(|(_, source, target)| if *source == original { *target } else { *source }).collect();
        let hidden = permission::unreadable_items(connection, actor, &others)?;
        for ((kind, source, target), other) in rows.into_iter().zip(others) {
            if !hidden.contains(&other) {
                let replace = |end: ItemId| if end == original { copy } else { end };
                links.push((Kind::stored(&kind)?, replace(source), replace(target)));
            }
        }
    }
    for (kind, source, target) in links {
        diesel::insert_into(item_links::table)
            .values((
                item_links::kind.eq(kind.as_str()),
                item_links::source_id.eq(source),
                item_links::target_id.eq(target),
                item_links::created_by.eq(actor.id),
            ))
            .execute(connection)?;
        note(connection, actor, kind, source, target, true)?;
    }
    Ok(())
}

/// Refuses to close `item_id` while an item that blocks it is open (409 naming the blockers
/// the actor can read). Call inside the closing write transaction.
pub fn check_closable(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<()> {
    lock(connection)?;
    let blockers: Vec<ItemId> = item_links::table
        .inner_join(items::table.on(items::id.eq(item_links::source_id)))
        .inner_join(statuses::table.on(statuses::id.eq(items::status_id)))
        .filter(item_links::kind.eq(Kind::Blocks.as_str()))
        .filter(item_links::target_id.eq(item_id))
        .filter(statuses::is_closed.eq(false))
        .order(items::id.asc())
        .select(items::id)
        .load(connection)?;
    if blockers.is_empty() {
        return Ok(());
    }
    let shown = named(connection, actor, &blockers)?;
    Err(Error::Conflict(if shown.is_empty() {
        format!("item {item_id} cannot be closed: open items block it that you cannot see; ask a project manager")
    } else {
        format!("item {item_id} cannot be closed while items that block it are open: {}", shown.join(", "))
    }))
}

/// The item a link history value names (`blocks #12` → 12).
pub fn named_item(value: &str) -> Option<ItemId> {
    value.rsplit_once('#').and_then(|(_, id)| id.parse().ok()).map(ItemId)
}

/// Closes `item_id` as a duplicate of `original` in one step: the `duplicates` link, then the
/// first closed status the workflow of the item's type allows from its status (an item
/// already closed stays as it is). Returns the link as `item_id` shows it.
pub fn close_as_duplicate(
    connection: &mut DbConnection,
    actor: &User,
    item_id: ItemId,
    original: ItemId,
) -> Result<Link> {
    write_transaction(connection, |connection| {
        let link = add(connection, actor, item_id, Kind::Duplicates.as_str(), original)?;
        let current = item::get(connection, actor, item_id)?;
        if current.status.is_closed {
            return Ok(link);
        }
        let workflow = Workflow::load(connection)?;
        let closed = workflow
            .next_statuses(current.item_type.id, current.status.id)
            .into_iter()
            .find(|status| status.is_closed)
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "item {item_id} cannot be closed from {}: the workflow of {} items allows no move to a closed status",
                    current.status.name, current.item_type.name
                ))
            })?;
        let closing =
            ItemUpdate { guard: Guard::Version(current.version), status_id: Some(closed.id), ..ItemUpdate::default() };
        item::update(connection, actor, item_id, closing)?;
        Ok(link)
    })
}

/// How a page says a kind as one side names it: `blocked_by` → "is blocked by".
pub fn wording(side: &str) -> &'static str {
    match side {
        "relates" => "relates to",
        "duplicates" => "duplicates",
        "duplicated_by" => "is duplicated by",
        "blocks" => "blocks",
        "blocked_by" => "is blocked by",
        "precedes" => "precedes",
        "follows" => "follows",
        "copied_to" => "was copied to",
        "copied_from" => "was copied from",
        _ => "is linked to",
    }
}

/// A link history value as a page says it: `blocked_by #3` → "is blocked by #3".
pub fn history_words(value: &str) -> String {
    match value.split_once(' ') {
        Some((side, rest)) => format!("{} {rest}", wording(side)),
        None => value.to_string(),
    }
}
