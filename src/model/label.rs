//! Labels: a project's names with a colour (`#rrggbb`), many per item. The project's managers
//! keep the list; whoever may edit an item sets its labels, from its own project only.
//! Renaming a label re-queues its items for search, deleting it takes it off them (with a
//! history entry each) in the same transaction.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{item_labels, labels, projects};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::FieldChange;
use crate::model::ids::{ItemId, LabelId, ProjectId, any_id};
use crate::model::item::{self, ProjectRef};
use crate::model::permission::Permission;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::text;
use crate::model::user::User;

/// The history field of an item's labels; its values list the names, comma-separated.
pub const HISTORY_FIELD: &str = "labels";
pub const MAX_NAME_CHARS: usize = 40;
/// Most labels one item carries.
pub const MAX_PER_ITEM: usize = 30;

/// A label as items show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = labels)]
pub struct LabelRef {
    pub id: LabelId,
    pub name: String,
    pub color: String,
}

/// A label with its project, as the project's list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub id: LabelId,
    pub project: ProjectRef,
    pub name: String,
    pub color: String,
}

#[derive(Debug, Clone, Default)]
pub struct LabelChanges {
    pub name: Option<String>,
    pub color: Option<String>,
}

/// `#rrggbb`, in lower case.
pub fn parse_color(text: &str) -> Result<String> {
    let trimmed = text.trim();
    match trimmed.strip_prefix('#') {
        Some(digits) if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(trimmed.to_ascii_lowercase())
        }
        _ => Err(Error::invalid("color", format!("{trimmed:?} is not a colour: write it as #rrggbb, e.g. #3b82f6"))),
    }
}

fn by_name(found: &mut [LabelRef]) {
    found.sort_by_cached_key(|label| (label.name.to_lowercase(), label.id));
}

/// The labels of a project, by name; the actor must be able to read it.
pub fn list(connection: &mut DbConnection, actor: &User, reference: &ProjectKeyOrId) -> Result<Vec<Label>> {
    let (project, _) = project::get_with(connection, actor, reference, Permission::View)?;
    Ok(of_project(connection, project.id)?
        .into_iter()
        .map(|label| Label {
            id: label.id,
            project: ProjectRef { id: project.id, key: project.key.clone() },
            name: label.name,
            color: label.color,
        })
        .collect())
}

/// `list` without the permission check.
pub fn of_project(connection: &mut DbConnection, project: ProjectId) -> Result<Vec<LabelRef>> {
    let mut found: Vec<LabelRef> =
        labels::table.filter(labels::project_id.eq(project)).select(LabelRef::as_select()).load(connection)?;
    by_name(&mut found);
    Ok(found)
}

/// The label, if the actor may read its project.
pub fn get(connection: &mut DbConnection, actor: &User, id: LabelId) -> Result<Label> {
    let found: Option<(LabelRef, ProjectId, String)> = labels::table
        .inner_join(projects::table)
        .filter(labels::id.eq(id))
        .select((LabelRef::as_select(), projects::id, projects::key))
        .first(connection)
        .optional()?;
    let (label, project_id, key) = found.ok_or_else(|| Error::not_found(format!("label {id}")))?;
    project::get_with(connection, actor, &ProjectKeyOrId::id(project_id), Permission::View)
        .map_err(|_| Error::not_found(format!("label {id}")))?;
    Ok(Label { id: label.id, project: ProjectRef { id: project_id, key }, name: label.name, color: label.color })
}

fn managed(connection: &mut DbConnection, actor: &User, id: LabelId) -> Result<(Label, Project)> {
    let label = get(connection, actor, id)?;
    let (project, _) = project::get_with(connection, actor, &ProjectKeyOrId::id(label.project.id), Permission::Manage)?;
    Ok((label, project))
}

pub fn create(
    connection: &mut DbConnection,
    actor: &User,
    reference: &ProjectKeyOrId,
    name: &str,
    color: &str,
) -> Result<Label> {
    let name = check_name(name)?;
    let color = parse_color(color)?;
    write_transaction(connection, |connection| {
        let (project, _) = project::get_with(connection, actor, reference, Permission::Manage)?;
        let id: LabelId = diesel::insert_into(labels::table)
            .values((
                labels::project_id.eq(project.id),
                labels::name.eq(&name),
                labels::name_key.eq(text::name_key(&name)),
                labels::color.eq(&color),
            ))
            .returning(labels::id)
            .get_result(connection)
            .map_err(|error| project::duplicate_name(error, "label", &name, &project.key))?;
        Ok(Label { id, project: ProjectRef { id: project.id, key: project.key }, name, color })
    })
}

/// A label name: one line, no comma (the history and mail keywords list names with commas).
fn check_name(name: &str) -> Result<String> {
    let name = text::single_line("name", name, 1, MAX_NAME_CHARS)?;
    if name.contains(',') {
        return Err(Error::invalid("name", "must not contain a comma: labels are listed with commas"));
    }
    Ok(name)
}

pub fn update(connection: &mut DbConnection, actor: &User, id: LabelId, changes: LabelChanges) -> Result<Label> {
    let name = changes.name.as_deref().map(check_name).transpose()?;
    let color = changes.color.as_deref().map(parse_color).transpose()?;
    write_transaction(connection, |connection| {
        let (current, project) = managed(connection, actor, id)?;
        let name = name.unwrap_or_else(|| current.name.clone());
        let color = color.unwrap_or_else(|| current.color.clone());
        diesel::update(labels::table.find(id))
            .set((labels::name.eq(&name), labels::name_key.eq(text::name_key(&name)), labels::color.eq(&color)))
            .execute(connection)
            .map_err(|error| project::duplicate_name(error, "label", &name, &project.key))?;
        if name != current.name {
            let carriers: Vec<ItemId> = item_labels::table
                .filter(item_labels::label_id.eq(id))
                .select(item_labels::item_id)
                .load(connection)?;
            item::enqueue_all(connection, &carriers)?;
        }
        Ok(Label { name, color, ..current })
    })
}

/// Deletes the label and takes it off its items, each with a history entry.
pub fn delete(connection: &mut DbConnection, actor: &User, id: LabelId) -> Result<()> {
    write_transaction(connection, |connection| {
        managed(connection, actor, id)?;
        let carriers: Vec<ItemId> =
            item_labels::table.filter(item_labels::label_id.eq(id)).select(item_labels::item_id).load(connection)?;
        let before = of_items(connection, &carriers)?;
        item::lock_rows(connection, &carriers)?;
        diesel::delete(labels::table.find(id)).execute(connection)?;
        for carrier in carriers {
            let held: Vec<LabelRef> =
                before.iter().filter(|(item, _)| *item == carrier).map(|(_, label)| label.clone()).collect();
            let kept: Vec<LabelRef> = held.iter().filter(|label| label.id != id).cloned().collect();
            item::record_side_change(connection, actor, &[carrier], &change(&held, &kept))?;
        }
        Ok(())
    })
}

/// The labels of a project with these ids, by name; an id that is not one of them is refused
/// naming `labels` (alike for other projects' labels and for none).
pub fn check_set(connection: &mut DbConnection, project: &Project, ids: &[LabelId]) -> Result<Vec<LabelRef>> {
    if ids.len() > MAX_PER_ITEM {
        return Err(Error::invalid("labels", format!("an item carries at most {MAX_PER_ITEM} labels")));
    }
    let mut wanted = ids.to_vec();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: Vec<LabelRef> = labels::table
        .filter(labels::project_id.eq(project.id))
        .filter(labels::id.eq_any(&wanted))
        .select(LabelRef::as_select())
        .load(connection)?;
    if let Some(missing) = wanted.iter().find(|id| !found.iter().any(|label| label.id == **id)) {
        return Err(Error::invalid("labels", format!("project {} has no label {missing}", project.key)));
    }
    by_name(&mut found);
    Ok(found)
}

/// The labels of a project with these names (any case), for mail keywords.
pub fn named(connection: &mut DbConnection, project: &Project, names: &[String]) -> Result<Vec<LabelId>> {
    let held = of_project(connection, project.id)?;
    names
        .iter()
        .map(|name| {
            let key = text::name_key(name.trim());
            held.iter().find(|label| text::name_key(&label.name) == key).map(|label| label.id).ok_or_else(|| {
                Error::invalid("labels", format!("project {} has no label {:?}", project.key, name.trim()))
            })
        })
        .collect()
}

/// The ids of an item's labels as its row keeps them (`items.label_ids`, comma-separated,
/// `NULL` when it has none); `Names` names them.
pub fn decode_ids(encoded: Option<&str>) -> Result<Vec<LabelId>> {
    encoded
        .into_iter()
        .flat_map(|text| text.split(','))
        .map(|id| {
            id.parse()
                .map(LabelId)
                .map_err(|error| Error::internal("reading an item's labels", format!("{id:?}: {error}")))
        })
        .collect()
}

/// Sorts labels as items show them: by name, whatever the case.
pub fn sort_by_name(labels: &mut [LabelRef]) {
    labels.sort_by_cached_key(|label| label.name.to_lowercase());
}

/// The labels of the given items, each item's by name.
pub fn of_items(connection: &mut DbConnection, ids: &[ItemId]) -> Result<Vec<(ItemId, LabelRef)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(ItemId, LabelRef)> = item_labels::table
        .inner_join(labels::table)
        .filter(any_id(item_labels::item_id, ids))
        .select((item_labels::item_id, LabelRef::as_select()))
        .load(connection)?;
    found.sort_by_cached_key(|(item, label)| (*item, label.name.to_lowercase()));
    Ok(found)
}

/// Gives an item exactly these labels (already checked).
pub fn replace(connection: &mut DbConnection, item: ItemId, labels: &[LabelRef]) -> Result<()> {
    diesel::delete(item_labels::table.filter(item_labels::item_id.eq(item))).execute(connection)?;
    let rows: Vec<_> =
        labels.iter().map(|label| (item_labels::item_id.eq(item), item_labels::label_id.eq(label.id))).collect();
    if !rows.is_empty() {
        crate::with_backend!(connection, |inner| diesel::insert_into(item_labels::table).values(rows).execute(inner))?;
    }
    Ok(())
}

/// The history entry of a change of labels.
pub fn change(before: &[LabelRef], after: &[LabelRef]) -> FieldChange {
    let listed = |labels: &[LabelRef]| {
        Some(labels.iter().map(|label| label.name.as_str()).collect::<Vec<_>>().join(", "))
            .filter(|text| !text.is_empty())
    };
    FieldChange { field: HISTORY_FIELD.into(), old_value: listed(before), new_value: listed(after) }
}
