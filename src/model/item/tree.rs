//! Sub-items: an item's parent is an item of its own project, to any depth and without
//! cycles; the tree of an item's descendants with their statuses; a parent closes only when
//! its children are closed. Parent and children share the project, so whoever reads one
//! reads the others.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use super::{ItemView, StatusRef, key};
use crate::db::DbConnection;
use crate::db::schema::{items, projects, statuses};
use crate::error::{Error, Result};
use crate::model::ids::{ItemId, ProjectId, StatusId, any_id};
use crate::model::link;
use crate::model::permission::{self, ReadableItem};
use crate::model::project::Project;
use crate::model::user::User;

/// Checks that `parent` may be the parent of `item` (`None`: a new item) in `project`: an
/// item of that project (else 400 naming `parent`, alike for items elsewhere and for none),
/// not the item itself nor one of its sub-items (409 naming the chain). Takes the structure
/// lock first (`link::lock`), as a closing does, so that no concurrent change of parents
/// closes a cycle and no child comes to a parent while it closes.
pub fn check_parent(
    connection: &mut DbConnection,
    project: &Project,
    item: Option<ItemId>,
    parent: ItemId,
) -> Result<()> {
    link::lock(connection)?;
    if Some(parent) == item {
        return Err(Error::invalid("parent", "an item cannot be its own parent"));
    }
    let found: Option<(ProjectId, Option<ItemId>)> =
        items::table.find(parent).select((items::project_id, items::parent_id)).first(connection).optional()?;
    let above = match found {
        Some((in_project, above)) if in_project == project.id => above,
        _ => return Err(Error::invalid("parent", format!("there is no item {parent} in project {}", project.key))),
    };
    let Some(item) = item else { return Ok(()) };
    // Up from the parent: meeting the item would close a cycle.
    let mut chain = vec![parent];
    let mut next = above;
    while let Some(current) = next {
        if chain.contains(&current) {
            return Err(Error::internal("item tree", format!("the items above item {parent} form a cycle")));
        }
        chain.push(current);
        if current == item {
            let named: Vec<String> = chain.iter().rev().map(|id| format!("#{id}")).collect();
            return Err(Error::Conflict(format!(
                "item {parent} is below item {item} ({}): an item cannot become a sub-item of its own sub-item",
                named.join(" → ")
            )));
        }
        next = items::table.find(current).select(items::parent_id).first(connection).optional()?.flatten();
    }
    Ok(())
}

/// One item of a tree below another, depth first: its depth (1: a child) and status.
#[derive(Debug, Clone, Serialize)]
pub struct TreeEntry {
    pub id: ItemId,
    pub key: String,
    pub title: String,
    pub status: StatusRef,
    pub depth: usize,
}

/// (id, parent, project key, number, title, status id, status name, closed)
type TreeRow = (ItemId, Option<ItemId>, String, i64, String, StatusId, String, bool);

/// The items below one, depth first, children in id order; and how many of them are closed.
pub fn descendants(connection: &mut DbConnection, root: ReadableItem) -> Result<(Vec<TreeEntry>, usize)> {
    let mut below: HashMap<ItemId, Vec<ItemId>> = HashMap::new();
    let mut shown: HashMap<ItemId, (String, String, StatusRef)> = HashMap::new();
    let mut frontier = vec![root.id()];
    while !frontier.is_empty() {
        let rows: Vec<TreeRow> = items::table
            .inner_join(projects::table)
            .inner_join(statuses::table)
            .filter(any_id(items::parent_id.assume_not_null(), &frontier))
            .order(items::id.asc())
            .select((
                items::id,
                items::parent_id,
                projects::key,
                items::number,
                items::title,
                statuses::id,
                statuses::name,
                statuses::is_closed,
            ))
            .load(connection)?;
        frontier.clear();
        for (id, parent, project, number, title, status_id, status, is_closed) in rows {
            let Some(parent) = parent else { continue };
            if shown.contains_key(&id) || id == root.id() {
                continue;
            }
            below.entry(parent).or_default().push(id);
            let status = StatusRef { id: status_id, name: status, is_closed };
            shown.insert(id, (key::format(&project, number), title, status));
            frontier.push(id);
        }
    }
    let mut tree = Vec::with_capacity(shown.len());
    let mut stack: Vec<(ItemId, usize)> = vec![(root.id(), 0)];
    while let Some((id, depth)) = stack.pop() {
        if let Some((key, title, status)) = shown.remove(&id) {
            tree.push(TreeEntry { id, key, title, status, depth });
        }
        if let Some(children) = below.get(&id) {
            stack.extend(children.iter().rev().map(|child| (*child, depth + 1)));
        }
    }
    let closed = tree.iter().filter(|entry| entry.status.is_closed).count();
    Ok((tree, closed))
}

/// An item's children as the API shows them, in id order.
pub fn children(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<Vec<ItemView>> {
    let readable = permission::readable_item(connection, actor, id)?;
    let ids: Vec<ItemId> = items::table
        .filter(items::parent_id.eq(readable.id()))
        .order(items::id.asc())
        .select(items::id)
        .load(connection)?;
    let mut views = super::readable_views(connection, &ids, None)?;
    views.sort_by_key(|view| view.id);
    Ok(views)
}

/// Refuses to close `item_id` while one of its children is open (409 naming them). Call
/// inside the closing write transaction.
pub fn check_closable(connection: &mut DbConnection, item_id: ItemId) -> Result<()> {
    let open: Vec<(ItemId, String)> = items::table
        .inner_join(statuses::table)
        .filter(items::parent_id.eq(item_id))
        .filter(statuses::is_closed.eq(false))
        .order(items::id.asc())
        .select((items::id, items::title))
        .load(connection)?;
    if open.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = open.iter().map(|(id, title)| format!("#{id} {title}")).collect();
    Err(Error::Conflict(format!("item {item_id} cannot be closed while its sub-items are open: {}", named.join(", "))))
}

crate::db::dialect::item_subquery!(
    /// The number and title of an item's parent in its row's statement, as one text (`parent`
    /// reads it): one subquery instead of one per column, which on PostgreSQL costs about as
    /// much as the lookup itself.
    Parent: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    sql: "(SELECT parent.number || ' ' || parent.title FROM items AS parent WHERE parent.id = \"items\".\"parent_id\")"
);

/// The number and title `Parent` read.
pub fn parent(read: Option<String>) -> Result<Option<(i64, String)>> {
    let Some(read) = read else { return Ok(None) };
    read.split_once(' ')
        .and_then(|(number, title)| Some((number.parse().ok()?, title.to_string())))
        .map(Some)
        .ok_or_else(|| Error::internal("reading an item's parent", format!("unexpected number and title {read:?}")))
}
