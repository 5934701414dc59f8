//! Versions (milestones) of a project: name, description, due date and status — open, locked
//! (its items stay, no new ones) or closed. A shared version may be the target of items of
//! every project, so its name and due date are visible to every signed-in user. Items name
//! their target version in `items.target_version_id`; `roadmap` shows each version's progress.
//!
//! The project's managers (and administrators) create, change and delete versions; a version
//! is deleted only when no item targets it, closed only after saying what becomes of its open
//! items, and unshared only when no other project's item targets it.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{items, projects, statuses, versions};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::FieldChange;
use crate::model::ids::{ItemId, ProjectId, VersionId};
use crate::model::item::{self, NamedRef, ProjectRef};
use crate::model::permission::{Access, Permission};
use crate::model::project::setup::Setups;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::text;
use crate::model::user::User;
use crate::timestamp;

pub mod roadmap;

/// The history field of an item's target version.
pub const HISTORY_FIELD: &str = "target_version";
/// Longest version name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// Items may be planned on it.
    Open,
    /// Its items stay; no new ones.
    Locked,
    /// Done: no new items; shown in the roadmap's history.
    Closed,
}

impl VersionStatus {
    pub const ALL: [VersionStatus; 3] = [VersionStatus::Open, VersionStatus::Locked, VersionStatus::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Open => "open",
            VersionStatus::Locked => "locked",
            VersionStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Result<VersionStatus> {
        VersionStatus::ALL.into_iter().find(|status| status.as_str() == text.trim().to_ascii_lowercase()).ok_or_else(
            || Error::invalid("status", format!("{text:?} is not a version status: use open, locked or closed")),
        )
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = versions)]
struct VersionRow {
    id: VersionId,
    project_id: ProjectId,
    name: String,
    description: String,
    due_date: Option<NaiveDate>,
    status: String,
    shared: bool,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub id: VersionId,
    /// The project it belongs to.
    pub project: ProjectRef,
    pub name: String,
    pub description: String,
    pub due_date: Option<NaiveDate>,
    pub status: VersionStatus,
    /// Items of every project may target it.
    pub shared: bool,
    /// Not closed and due before today (UTC).
    pub overdue: bool,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
}

impl Version {
    fn from_row(row: VersionRow, project_key: String, today: NaiveDate) -> Result<Version> {
        let status = VersionStatus::parse(&row.status)
            .map_err(|_| Error::internal("version", format!("version {} has the status {:?}", row.id, row.status)))?;
        Ok(Version {
            id: row.id,
            project: ProjectRef { id: row.project_id, key: project_key },
            name: row.name,
            description: row.description,
            overdue: status != VersionStatus::Closed && row.due_date.is_some_and(|due| due < today),
            due_date: row.due_date,
            status,
            shared: row.shared,
            created_at: row.created_at,
        })
    }

    /// The order of lists: not closed before closed, then by due date (none last), name.
    fn order_key(&self) -> (bool, bool, Option<NaiveDate>, String) {
        (self.status == VersionStatus::Closed, self.due_date.is_none(), self.due_date, self.name.to_lowercase())
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub name: String,
    pub description: String,
    pub due_date: Option<NaiveDate>,
    /// `open` unless given.
    pub status: Option<String>,
    pub shared: bool,
}

/// What becomes of a version's open items when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenItems {
    /// They keep it as their target.
    Keep,
    /// They move to this (open) version.
    MoveTo(VersionId),
}

/// Changes to a version; `due_date: Some(None)` clears the date.
#[derive(Debug, Clone, Default)]
pub struct VersionChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub due_date: Option<Option<NaiveDate>>,
    pub status: Option<String>,
    pub shared: Option<bool>,
    /// Required when the version closes with open items.
    pub open_items: Option<OpenItems>,
}

fn select_versions() -> diesel::dsl::Select<
    diesel::dsl::InnerJoin<versions::table, projects::table>,
    (diesel::dsl::AsSelect<VersionRow, crate::db::MultiBackend>, projects::key),
> {
    versions::table.inner_join(projects::table).select((VersionRow::as_select(), projects::key))
}

fn views(rows: Vec<(VersionRow, String)>) -> Result<Vec<Version>> {
    let today = chrono::Utc::now().date_naive();
    let mut found =
        rows.into_iter().map(|(row, key)| Version::from_row(row, key, today)).collect::<Result<Vec<_>>>()?;
    found.sort_by_cached_key(Version::order_key);
    Ok(found)
}

fn load(connection: &mut DbConnection, id: VersionId) -> Result<Version> {
    let row = select_versions().filter(versions::id.eq(id)).first(connection).optional()?;
    let (row, key) = row.ok_or_else(|| Error::not_found(format!("version {id}")))?;
    Version::from_row(row, key, chrono::Utc::now().date_naive())
}

/// The versions a project's items may target, by id and name, in the order of `list`: for
/// menus (from the node's setup of the project, see `project::setup`).
pub fn choices(connection: &mut DbConnection, project: ProjectId) -> Result<Vec<NamedRef<VersionId>>> {
    let version = crate::model::definitions::Version::read(connection)?;
    Ok(Setups::at(connection, &version)?.of(connection, project)?.version_choices())
}

/// A version an item's form offers as its target.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct VersionTarget {
    pub id: VersionId,
    pub name: String,
    pub due_date: Option<NaiveDate>,
}

/// The version, if the actor may see it: its project is readable, or it is shared.
pub fn get(connection: &mut DbConnection, actor: &User, id: VersionId) -> Result<Version> {
    let version = load(connection, id)?;
    if !version.shared {
        let project = project::load(connection, version.project.id)?;
        Access::for_project(connection, actor, project.id, project.is_public)?
            .require(Permission::View, &format!("version {id}"))?;
    }
    Ok(version)
}

/// The version and its project, if the actor may manage that project (others: not found, or
/// forbidden when they can see it).
fn get_managed(connection: &mut DbConnection, actor: &User, id: VersionId) -> Result<(Version, Project)> {
    let version = get(connection, actor, id)?;
    let (project, _) =
        project::get_with(connection, actor, &ProjectKeyOrId::id(version.project.id), Permission::Manage).map_err(
            |error| match error {
                Error::NotFound(_) => {
                    Error::forbidden(format!("only the managers of the project of version {id} may change it"))
                }
                other => other,
            },
        )?;
    Ok((version, project))
}

/// The versions items of a project may target: its own and those shared by other projects.
pub fn list(connection: &mut DbConnection, actor: &User, reference: &ProjectKeyOrId) -> Result<Vec<Version>> {
    let (project, _) = project::get_with(connection, actor, reference, Permission::View)?;
    of_project(connection, project.id)
}

/// `list` without the permission check (the caller has made it).
pub fn of_project(connection: &mut DbConnection, project: ProjectId) -> Result<Vec<Version>> {
    views(select_versions().filter(versions::project_id.eq(project).or(versions::shared.eq(true))).load(connection)?)
}

fn check_due_date(due_date: Option<NaiveDate>) -> Result<()> {
    match due_date {
        Some(date) if !(1..=9999).contains(&date.year()) => {
            Err(Error::invalid("due_date", format!("{date} is out of range: use a date in the years 1 to 9999")))
        }
        _ => Ok(()),
    }
}

pub fn create(
    connection: &mut DbConnection,
    actor: &User,
    reference: &ProjectKeyOrId,
    new_version: NewVersion,
) -> Result<Version> {
    let name = text::single_line("name", &new_version.name, 1, MAX_NAME_CHARS)?;
    let description = text::body("description", &new_version.description, false)?;
    check_due_date(new_version.due_date)?;
    let status = new_version.status.as_deref().map(VersionStatus::parse).transpose()?.unwrap_or(VersionStatus::Open);
    write_transaction(connection, |connection| {
        let (project, _) = project::get_with(connection, actor, reference, Permission::Manage)?;
        let id: VersionId = diesel::insert_into(versions::table)
            .values((
                versions::project_id.eq(project.id),
                versions::name.eq(&name),
                versions::name_key.eq(text::name_key(&name)),
                versions::description.eq(&description),
                versions::due_date.eq(new_version.due_date),
                versions::status.eq(status.as_str()),
                versions::shared.eq(new_version.shared),
            ))
            .returning(versions::id)
            .get_result(connection)
            .map_err(|error| project::duplicate_name(error, "version", &name, &project.key))?;
        load(connection, id)
    })
}

pub fn update(connection: &mut DbConnection, actor: &User, id: VersionId, changes: VersionChanges) -> Result<Version> {
    let name = changes.name.as_deref().map(|name| text::single_line("name", name, 1, MAX_NAME_CHARS)).transpose()?;
    let description =
        changes.description.as_deref().map(|description| text::body("description", description, false)).transpose()?;
    check_due_date(changes.due_date.flatten())?;
    let status = changes.status.as_deref().map(VersionStatus::parse).transpose()?;
    write_transaction(connection, |connection| {
        let (current, project) = get_managed(connection, actor, id)?;
        let new_status = status.unwrap_or(current.status);
        if current.shared && changes.shared == Some(false) {
            let elsewhere: i64 = items::table
                .filter(items::target_version_id.eq(id))
                .filter(items::project_id.ne(project.id))
                .count()
                .get_result(connection)?;
            if elsewhere > 0 {
                return Err(Error::Conflict(format!(
                    "{elsewhere} item(s) of other projects target version {}: plan them on another version first, then stop sharing it",
                    current.name
                )));
            }
        }
        if new_status == VersionStatus::Closed && current.status != VersionStatus::Closed {
            close_open_items(connection, actor, &current, changes.open_items)?;
        } else if changes.open_items.is_some() {
            return Err(Error::invalid("open_items", "says what becomes of open items only when the version closes"));
        }
        let new_name = name.unwrap_or_else(|| current.name.clone());
        diesel::update(versions::table.find(id))
            .set((
                versions::name.eq(&new_name),
                versions::name_key.eq(text::name_key(&new_name)),
                versions::description.eq(description.unwrap_or(current.description.clone())),
                versions::due_date.eq(changes.due_date.unwrap_or(current.due_date)),
                versions::status.eq(new_status.as_str()),
                versions::shared.eq(changes.shared.unwrap_or(current.shared)),
            ))
            .execute(connection)
            .map_err(|error| project::duplicate_name(error, "version", &new_name, &project.key))?;
        if new_name != current.name {
            // Search finds items by their version's name.
            let planned: Vec<ItemId> =
                items::table.filter(items::target_version_id.eq(id)).select(items::id).load(connection)?;
            item::enqueue_all(connection, &planned)?;
        }
        load(connection, id)
    })
}

/// Before a version closes: its open items keep it, or move to another open version that
/// each of their projects may use. Without an answer, 409 naming how many are open.
fn close_open_items(
    connection: &mut DbConnection,
    actor: &User,
    version: &Version,
    answer: Option<OpenItems>,
) -> Result<()> {
    let open: Vec<(ItemId, ProjectId)> = items::table
        .inner_join(statuses::table)
        .filter(items::target_version_id.eq(version.id))
        .filter(statuses::is_closed.eq(false))
        .order(items::id.asc())
        .select((items::id, items::project_id))
        .load(connection)?;
    if open.is_empty() {
        return Ok(());
    }
    let target = match answer {
        Some(OpenItems::Keep) => return Ok(()),
        Some(OpenItems::MoveTo(target)) => target,
        None => {
            return Err(Error::Conflict(format!(
                "version {} has {} open item(s): say whether they keep it (\"open_items\": \"keep\") or move to another version (\"open_items\": {{\"move_to\": <id>}})",
                version.name,
                open.len()
            )));
        }
    };
    let refused = |why: String| Error::invalid("open_items", why);
    if target == version.id {
        return Err(refused("the open items cannot move to the version that closes".into()));
    }
    let destination = load(connection, target).map_err(|_| refused(format!("there is no version {target}")))?;
    if destination.status != VersionStatus::Open {
        return Err(refused(format!(
            "version {} is {}: move the items to an open version",
            destination.name,
            destination.status.as_str()
        )));
    }
    if !destination.shared && open.iter().any(|(_, project)| *project != destination.project.id) {
        return Err(refused(format!(
            "version {} belongs to project {} and is not shared, but some open items are in other projects",
            destination.name, destination.project.key
        )));
    }
    let ids: Vec<ItemId> = open.iter().map(|(id, _)| *id).collect();
    diesel::update(items::table.filter(items::id.eq_any(&ids)))
        .set(items::target_version_id.eq(destination.id))
        .execute(connection)?;
    let change = FieldChange {
        field: HISTORY_FIELD.into(),
        old_value: Some(version.name.clone()),
        new_value: Some(destination.name.clone()),
    };
    item::record_side_change(connection, actor, &ids, &change)
}

/// How many open items target the version (a manager's question before closing it).
pub fn open_items(connection: &mut DbConnection, actor: &User, id: VersionId) -> Result<i64> {
    get_managed(connection, actor, id)?;
    Ok(items::table
        .inner_join(statuses::table)
        .filter(items::target_version_id.eq(id))
        .filter(statuses::is_closed.eq(false))
        .count()
        .get_result(connection)?)
}

pub fn delete(connection: &mut DbConnection, actor: &User, id: VersionId) -> Result<()> {
    write_transaction(connection, |connection| {
        let (version, _) = get_managed(connection, actor, id)?;
        let planned: i64 = items::table.filter(items::target_version_id.eq(id)).count().get_result(connection)?;
        if planned > 0 {
            return Err(Error::Conflict(format!(
                "{planned} item(s) target version {}: plan them on another version (or none), or close the version instead",
                version.name
            )));
        }
        diesel::delete(versions::table.find(id)).execute(connection)?;
        Ok(())
    })
}

/// Checks that items of `project` may target version `id`: one of its versions or a shared
/// one, and open — unless the item targets it already (`current`), which a locked version
/// allows. Refusals name `target_version`, alike for versions elsewhere and for none.
pub fn check_target(
    connection: &mut DbConnection,
    project: &Project,
    id: VersionId,
    current: Option<VersionId>,
) -> Result<NamedRef<VersionId>> {
    let found = match load(connection, id) {
        Ok(version) if version.project.id == project.id || version.shared => version,
        Ok(_) | Err(Error::NotFound(_)) => {
            return Err(Error::invalid(
                "target_version",
                format!("there is no version {id} that items of project {} may target", project.key),
            ));
        }
        Err(error) => return Err(error),
    };
    let keeps = current == Some(id) && found.status == VersionStatus::Locked;
    if found.status != VersionStatus::Open && !keeps {
        return Err(Error::invalid(
            "target_version",
            format!("version {} is {}: it takes no new items", found.name, found.status.as_str()),
        ));
    }
    Ok(NamedRef { id: found.id, name: found.name })
}

/// The version of that name (any case) items of `project` may target: its own first, then a
/// shared one. For mail keywords and forms that name versions.
pub fn named(connection: &mut DbConnection, project: &Project, name: &str) -> Result<VersionId> {
    let key = text::name_key(name.trim());
    let found: Vec<(VersionId, ProjectId)> = versions::table
        .filter(versions::name_key.eq(&key))
        .filter(versions::project_id.eq(project.id).or(versions::shared.eq(true)))
        .select((versions::id, versions::project_id))
        .load(connection)?;
    found.iter().find(|(_, owner)| *owner == project.id).or(found.first()).map(|(id, _)| *id).ok_or_else(|| {
        Error::invalid("target_version", format!("project {} has no version {:?}", project.key, name.trim()))
    })
}

/// The names of versions, for item views.
pub fn names(connection: &mut DbConnection, ids: &[VersionId]) -> Result<Vec<(VersionId, String)>> {
    Ok(match ids {
        [] => Vec::new(),
        [one] => {
            versions::table.filter(versions::id.eq(one)).select((versions::id, versions::name)).load(connection)?
        }
        many => {
            versions::table.filter(versions::id.eq_any(many)).select((versions::id, versions::name)).load(connection)?
        }
    })
}
