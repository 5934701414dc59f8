//! Components: the parts of a project an item may belong to (one per item), each with an
//! optional default assignee — a new item in a component, created without an assignee, gets
//! it, as Redmine's categories do. The project's managers keep the list; renaming a component
//! re-queues its items for search, deleting it clears it on them (with a history entry each).

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{components, items, projects};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::FieldChange;
use crate::model::ids::{ComponentId, ItemId, ProjectId, UserId};
use crate::model::item::{self, NamedRef, ProjectRef};
use crate::model::membership;
use crate::model::permission::Permission;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::text;
use crate::model::user::{self, User, UserSummary};

/// The history field of an item's component.
pub const HISTORY_FIELD: &str = "component";
pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = components)]
struct ComponentRow {
    id: ComponentId,
    project_id: ProjectId,
    name: String,
    description: String,
    default_assignee_id: Option<UserId>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub id: ComponentId,
    pub project: ProjectRef,
    pub name: String,
    pub description: String,
    /// Given to new items of the component that are created without an assignee.
    pub default_assignee: Option<UserSummary>,
}

#[derive(Debug, Clone, Default)]
pub struct NewComponent {
    pub name: String,
    pub description: String,
    pub default_assignee: Option<UserId>,
}

/// Changes; `default_assignee: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ComponentChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub default_assignee: Option<Option<UserId>>,
}

fn views(connection: &mut DbConnection, rows: Vec<(ComponentRow, String)>) -> Result<Vec<Component>> {
    let people: Vec<UserId> = rows.iter().filter_map(|(row, _)| row.default_assignee_id).collect();
    let summaries = user::summaries(connection, &people)?;
    let mut found: Vec<Component> = rows
        .into_iter()
        .map(|(row, key)| Component {
            id: row.id,
            project: ProjectRef { id: row.project_id, key },
            name: row.name,
            description: row.description,
            default_assignee: row
                .default_assignee_id
                .and_then(|id| summaries.iter().find(|summary| summary.id == id).cloned()),
        })
        .collect();
    found.sort_by_key(|component| component.name.to_lowercase());
    Ok(found)
}

/// The components of a project, by name; the actor must be able to read it.
pub fn list(connection: &mut DbConnection, actor: &User, reference: &ProjectKeyOrId) -> Result<Vec<Component>> {
    let (project, _) = project::get_with(connection, actor, reference, Permission::View)?;
    of_project(connection, project.id)
}

/// `list` without the permission check.
pub fn of_project(connection: &mut DbConnection, project: ProjectId) -> Result<Vec<Component>> {
    let rows = components::table
        .inner_join(projects::table)
        .filter(components::project_id.eq(project))
        .select((ComponentRow::as_select(), projects::key))
        .load(connection)?;
    views(connection, rows)
}

/// The component, if the actor may read its project.
pub fn get(connection: &mut DbConnection, actor: &User, id: ComponentId) -> Result<Component> {
    let row: Option<(ComponentRow, String)> = components::table
        .inner_join(projects::table)
        .filter(components::id.eq(id))
        .select((ComponentRow::as_select(), projects::key))
        .first(connection)
        .optional()?;
    let row = row.ok_or_else(|| Error::not_found(format!("component {id}")))?;
    project::get_with(connection, actor, &ProjectKeyOrId::id(row.0.project_id), Permission::View)
        .map_err(|_| Error::not_found(format!("component {id}")))?;
    views(connection, vec![row])?.pop().ok_or_else(|| Error::not_found(format!("component {id}")))
}

fn managed(connection: &mut DbConnection, actor: &User, id: ComponentId) -> Result<(Component, Project)> {
    let component = get(connection, actor, id)?;
    let (project, _) =
        project::get_with(connection, actor, &ProjectKeyOrId::id(component.project.id), Permission::Manage)?;
    Ok((component, project))
}

/// A default assignee must be an active member of the project, like any assignee.
fn check_default_assignee(connection: &mut DbConnection, project: &Project, user: Option<UserId>) -> Result<()> {
    match user {
        Some(user) if !membership::is_active_member(connection, project.id, user)? => Err(Error::invalid(
            "default_assignee",
            format!("user {user} cannot be assigned: only active members of project {} can", project.key),
        )),
        _ => Ok(()),
    }
}

pub fn create(
    connection: &mut DbConnection,
    actor: &User,
    reference: &ProjectKeyOrId,
    new_component: NewComponent,
) -> Result<Component> {
    let name = text::single_line("name", &new_component.name, 1, MAX_NAME_CHARS)?;
    let description = text::body("description", &new_component.description, false)?;
    write_transaction(connection, |connection| {
        let (project, _) = project::get_with(connection, actor, reference, Permission::Manage)?;
        check_default_assignee(connection, &project, new_component.default_assignee)?;
        let id: ComponentId = diesel::insert_into(components::table)
            .values((
                components::project_id.eq(project.id),
                components::name.eq(&name),
                components::name_key.eq(text::name_key(&name)),
                components::description.eq(&description),
                components::default_assignee_id.eq(new_component.default_assignee),
            ))
            .returning(components::id)
            .get_result(connection)
            .map_err(|error| project::duplicate_name(error, "component", &name, &project.key))?;
        get(connection, actor, id)
    })
}

pub fn update(
    connection: &mut DbConnection,
    actor: &User,
    id: ComponentId,
    changes: ComponentChanges,
) -> Result<Component> {
    let name = changes.name.as_deref().map(|name| text::single_line("name", name, 1, MAX_NAME_CHARS)).transpose()?;
    let description =
        changes.description.as_deref().map(|description| text::body("description", description, false)).transpose()?;
    write_transaction(connection, |connection| {
        let (current, project) = managed(connection, actor, id)?;
        let assignee = changes.default_assignee.unwrap_or(current.default_assignee.as_ref().map(|person| person.id));
        if changes.default_assignee.is_some() {
            check_default_assignee(connection, &project, assignee)?;
        }
        let name = name.unwrap_or_else(|| current.name.clone());
        diesel::update(components::table.find(id))
            .set((
                components::name.eq(&name),
                components::name_key.eq(text::name_key(&name)),
                components::description.eq(description.unwrap_or(current.description.clone())),
                components::default_assignee_id.eq(assignee),
            ))
            .execute(connection)
            .map_err(|error| project::duplicate_name(error, "component", &name, &project.key))?;
        if name != current.name {
            let members: Vec<ItemId> =
                items::table.filter(items::component_id.eq(id)).select(items::id).load(connection)?;
            item::enqueue_all(connection, &members)?;
        }
        get(connection, actor, id)
    })
}

/// Deletes the component; its items keep no component (a history entry each).
pub fn delete(connection: &mut DbConnection, actor: &User, id: ComponentId) -> Result<()> {
    write_transaction(connection, |connection| {
        let (component, _) = managed(connection, actor, id)?;
        let members: Vec<ItemId> =
            items::table.filter(items::component_id.eq(id)).select(items::id).load(connection)?;
        diesel::update(items::table.filter(items::component_id.eq(id)))
            .set(items::component_id.eq(None::<ComponentId>))
            .execute(connection)?;
        let change = FieldChange { field: HISTORY_FIELD.into(), old_value: Some(component.name), new_value: None };
        item::record_side_change(connection, actor, &members, &change)?;
        diesel::delete(components::table.find(id)).execute(connection)?;
        Ok(())
    })
}

/// The component `id` of `project`, with its default assignee; other ids are refused naming
/// `component` (alike for other projects' components and for none).
pub fn check(
    connection: &mut DbConnection,
    project: &Project,
    id: ComponentId,
) -> Result<(NamedRef<ComponentId>, Option<UserId>)> {
    let found: Option<(String, Option<UserId>)> = components::table
        .filter(components::id.eq(id))
        .filter(components::project_id.eq(project.id))
        .select((components::name, components::default_assignee_id))
        .first(connection)
        .optional()?;
    let (name, assignee) =
        found.ok_or_else(|| Error::invalid("component", format!("project {} has no component {id}", project.key)))?;
    Ok((NamedRef { id, name }, assignee))
}

/// The component of that name (any case) in `project`, for mail keywords.
pub fn named(connection: &mut DbConnection, project: &Project, name: &str) -> Result<ComponentId> {
    components::table
        .filter(components::project_id.eq(project.id))
        .filter(components::name_key.eq(text::name_key(name.trim())))
        .select(components::id)
        .first(connection)
        .optional()?
        .ok_or_else(|| {
            Error::invalid("component", format!("project {} has no component {:?}", project.key, name.trim()))
        })
}

/// A project's components by id and name, by name: for menus (one cached statement).
pub fn choices(connection: &mut DbConnection, project: ProjectId) -> Result<Vec<NamedRef<ComponentId>>> {
    let rows: Vec<(ComponentId, String)> = components::table
        .filter(components::project_id.eq(project))
        .order(components::name_key.asc())
        .select((components::id, components::name))
        .load(connection)?;
    Ok(rows.into_iter().map(|(id, name)| NamedRef { id, name }).collect())
}

/// The names of components, for item views.
pub fn names(connection: &mut DbConnection, ids: &[ComponentId]) -> Result<Vec<(ComponentId, String)>> {
    Ok(match ids {
        [] => Vec::new(),
        [one] => components::table
            .filter(components::id.eq(one))
            .select((components::id, components::name))
            .load(connection)?,
        many => components::table
            .filter(components::id.eq_any(many))
            .select((components::id, components::name))
            .load(connection)?,
    })
}
