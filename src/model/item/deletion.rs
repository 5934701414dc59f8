//! Deleting an item, for its project's managers: the item goes with its sub-items, comments,
//! attachments, links, values and history. Its parent's history and the history of each item
//! it was linked to say so (without naming it to readers of another project), and search
//! forgets it, in the same transaction. The files of its attachments stay on the shared path
//! for a grace period (`attachment_orphans`); the prune job removes them then, unless an
//! attachment names the same content again.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{attachment_orphans, attachments, comments, item_links, items, projects};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::{self, FieldChange};
use crate::model::ids::{ItemId, ProjectId, any_id};
use crate::model::item::key;
use crate::model::link::Kind;
use crate::model::permission::{self, Access, Permission};
use crate::model::user::User;
use crate::model::{item, item::enqueue_all};

/// What the history of an item's parent records when the item is deleted: its key and title.
pub const SUB_ITEM_FIELD: &str = "sub_item";

/// What the history of a linked item records when the item at the link's other end is
/// deleted: the link as the linked item saw it (`blocks`), not the deleted item.
pub const LINK_FIELD: &str = "deleted_link";

/// An item named in a deletion.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub id: ItemId,
    pub key: String,
    pub title: String,
}

/// What deleting an item takes with it: the confirmation names it, and the answer of the
/// deletion repeats it.
#[derive(Debug, Clone, Serialize)]
pub struct Deletion {
    pub item: Named,
    /// Sub-items at every depth, in id order.
    pub sub_items: Vec<Named>,
    pub comments: i64,
    pub attachments: i64,
    /// Links to items outside what is deleted.
    pub links: i64,
}

impl Deletion {
    /// One sentence for the confirmation: "OPS-7 and its 2 sub-items, 3 comments, …".
    pub fn summary(&self) -> String {
        let count = |number: i64, one: &str, many: &str| match number {
            1 => format!("1 {one}"),
            _ => format!("{number} {many}"),
        };
        let mut parts = Vec::new();
        if !self.sub_items.is_empty() {
            let keys: Vec<&str> = self.sub_items.iter().take(10).map(|named| named.key.as_str()).collect();
            let more = if self.sub_items.len() > keys.len() { ", …" } else { "" };
            let sub_items = i64::try_from(self.sub_items.len()).unwrap_or(i64::MAX);
            parts.push(format!("{} ({}{more})", count(sub_items, "sub-item", "sub-items"), keys.join(", ")));
        }
        parts.push(count(self.comments, "comment", "comments"));
        parts.push(count(self.attachments, "attachment", "attachments"));
        parts.push(count(self.links, "link to another item", "links to other items"));
        format!("{} {} goes with {}.", self.item.key, self.item.title, parts.join(", "))
    }
}

/// The item, its sub-items at every depth and their projects, if the actor manages each.
fn subtree(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<(Named, Vec<Named>, Vec<ItemId>)> {
    let (_, access) = permission::item_access(connection, actor, id)?;
    access.require(Permission::Manage, &format!("item {id}"))?;
    let mut ids = vec![id];
    let mut frontier = vec![id];
    while !frontier.is_empty() {
        let below: Vec<ItemId> =
            items::table.filter(items::parent_id.eq_any(&frontier)).select(items::id).load(connection)?;
        frontier = below.into_iter().filter(|child| !ids.contains(child)).collect();
        ids.extend(&frontier);
    }
    let rows: Vec<(ItemId, String, i64, String, ProjectId, bool)> = items::table
        .inner_join(projects::table)
        .filter(any_id(items::id, &ids))
        .order(items::id.asc())
        .select((items::id, projects::key, items::number, items::title, projects::id, projects::is_public))
        .load(connection)?;
    // The item's own project is checked; a sub-item moved to another project needs that too.
    let mut checked: Vec<ProjectId> = rows.iter().filter(|row| row.0 == id).map(|row| row.4).collect();
    for (child, .., project, is_public) in &rows {
        if checked.contains(project) {
            continue;
        }
        checked.push(*project);
        if !Access::for_project(connection, actor, *project, *is_public)?.allows(Permission::Manage) {
            return Err(Error::forbidden(format!(
                "item {id} has sub-items in a project you do not manage (item {child}); move them first"
            )));
        }
    }
    let mut named: Vec<Named> = rows
        .into_iter()
        .map(|(item, project, number, title, ..)| Named { id: item, key: key::format(&project, number), title })
        .collect();
    let position =
        named.iter().position(|entry| entry.id == id).ok_or_else(|| Error::not_found(format!("item {id}")))?;
    let root = named.remove(position);
    Ok((root, named, ids))
}

/// What deleting the item would take with it, for the project's managers.
pub fn preview(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<Deletion> {
    let (item, sub_items, ids) = subtree(connection, actor, id)?;
    let comments = comments::table.filter(any_id(comments::item_id, &ids)).count().get_result(connection)?;
    let attachments = attachments::table.filter(any_id(attachments::item_id, &ids)).count().get_result(connection)?;
    let links = i64::try_from(outside_links(connection, &ids)?.len()).unwrap_or(i64::MAX);
    Ok(Deletion { item, sub_items, comments, attachments, links })
}

/// The links from these items to others: (the other item, the link's kind as the other item
/// sees it).
fn outside_links(connection: &mut DbConnection, ids: &[ItemId]) -> Result<Vec<(ItemId, &'static str)>> {
    let rows: Vec<(String, ItemId, ItemId)> = item_links::table
        .filter(any_id(item_links::source_id, ids).or(any_id(item_links::target_id, ids)))
        .select((item_links::kind, item_links::source_id, item_links::target_id))
        .load(connection)?;
    let mut outside = Vec::new();
    for (kind, source, target) in rows {
        let kind = Kind::stored(&kind)?;
        match (ids.contains(&source), ids.contains(&target)) {
            (true, false) => outside.push((target, kind.side(false))),
            (false, true) => outside.push((source, kind.side(true))),
            _ => {}
        }
    }
    Ok(outside)
}

/// Deletes the item and its sub-items (see the module); returns what went.
pub fn delete(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<Deletion> {
    write_transaction(connection, |connection| {
        let deletion = preview(connection, actor, id)?;
        let ids: Vec<ItemId> =
            std::iter::once(deletion.item.id).chain(deletion.sub_items.iter().map(|named| named.id)).collect();
        let parent: Option<ItemId> = items::table.find(id).select(items::parent_id).first(connection)?;
        if let Some(parent) = parent.filter(|parent| !ids.contains(parent)) {
            let gone = format!("{} {}", deletion.item.key, deletion.item.title);
            record(connection, actor, parent, SUB_ITEM_FIELD, gone)?;
        }
        for (other, kind) in outside_links(connection, &ids)? {
            record(connection, actor, other, LINK_FIELD, kind.to_string())?;
        }
        let files: Vec<String> = attachments::table
            .filter(any_id(attachments::item_id, &ids))
            .select(attachments::sha256)
            .distinct()
            .load(connection)?;
        for sha256 in &files {
            orphan(connection, sha256)?;
        }
        // The indexer removes the documents of items that no longer exist.
        enqueue_all(connection, &ids)?;
        diesel::delete(items::table.filter(any_id(items::id, &ids))).execute(connection)?;
        tracing::info!(
            actor = %actor.login,
            item = %deletion.item.key,
            sub_items = deletion.sub_items.len(),
            comments = deletion.comments,
            attachments = deletion.attachments,
            "an item was deleted"
        );
        Ok(deletion)
    })
}

/// A history line of a deletion on an item that stays, which search indexes again.
fn record(connection: &mut DbConnection, actor: &User, on: ItemId, field: &str, gone: String) -> Result<()> {
    history::record(
        connection,
        on,
        actor.id,
        &[FieldChange { field: field.into(), old_value: Some(gone), new_value: None }],
    )?;
    item::touch(connection, on)
}

/// Marks a file as no longer needed from now (its grace period starts again if it was).
fn orphan(connection: &mut DbConnection, sha256: &str) -> Result<()> {
    let now = crate::db::database_now(connection)?;
    crate::with_backend!(connection, |inner| diesel::insert_into(attachment_orphans::table)
        .values((attachment_orphans::sha256.eq(sha256), attachment_orphans::orphaned_at.eq(now)))
        .on_conflict(attachment_orphans::sha256)
        .do_update()
        .set(attachment_orphans::orphaned_at.eq(now))
        .execute(inner))?;
    Ok(())
}
