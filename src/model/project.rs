//! Projects: a short key (`OPS`), a name, a description and a public flag.

pub mod setup;
pub mod types;

use std::fmt;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

use crate::db::schema::projects;
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::definitions::Version;
use crate::model::ids::ProjectId;
use crate::model::permission::{self, Access, Permission, readable_project_ids};
use crate::model::text;
use crate::model::user::User;
use crate::model::watcher;
use crate::timestamp;
use setup::Setups;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: ProjectId,
    pub key: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewProject {
    pub key: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

/// A project key: 2-10 of `A-Z 0-9`, starting with a letter; given in any case.
pub fn parse_key(key: &str) -> Result<String> {
    let key = key.trim().to_ascii_uppercase();
    let valid = (2..=10).contains(&key.len())
        && key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && key.starts_with(|c: char| c.is_ascii_uppercase());
    if !valid {
        return Err(Error::invalid("key", "must be 2-10 letters or digits starting with a letter, e.g. OPS"));
    }
    Ok(key)
}

/// A project as a client, a page or the settings name it: by key (`OPS`, in any case) or by
/// numeric id (`7`). Parsed once where the text comes in; a text that is neither names no
/// project, and `find` answers it without a query (so does the default, the empty text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectKeyOrId {
    /// The text as given (trimmed), which messages repeat.
    given: String,
    target: Target,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Target {
    Id(ProjectId),
    Key(String),
    #[default]
    Nothing,
}

impl ProjectKeyOrId {
    pub fn parse(text: &str) -> ProjectKeyOrId {
        let given = text.trim();
        let target = match (given.parse::<i64>(), parse_key(given)) {
            (Ok(id), _) => Target::Id(ProjectId(id)),
            (Err(_), Ok(key)) => Target::Key(key),
            (Err(_), Err(_)) => Target::Nothing,
        };
        ProjectKeyOrId { given: given.to_string(), target }
    }

    pub fn id(id: ProjectId) -> ProjectKeyOrId {
        ProjectKeyOrId { given: id.to_string(), target: Target::Id(id) }
    }

    /// The same reference, for a project already found by it: looked up by id from now on,
    /// still named in messages as it was given.
    pub fn found_as(&self, id: ProjectId) -> ProjectKeyOrId {
        ProjectKeyOrId { given: self.given.clone(), target: Target::Id(id) }
    }
}

impl fmt::Display for ProjectKeyOrId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.given)
    }
}

/// From a path segment or query parameter: any text, parsed as `parse` does.
impl<'de> Deserialize<'de> for ProjectKeyOrId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| ProjectKeyOrId::parse(&text))
    }
}

pub fn create(connection: &mut DbConnection, actor: &User, new_project: NewProject) -> Result<Project> {
    if !actor.is_admin {
        return Err(Error::forbidden("only administrators create projects"));
    }
    let key = parse_key(&new_project.key)?;
    let name = text::single_line("name", &new_project.name, 1, 200)?;
    let description = text::body("description", &new_project.description, false)?;
    write_transaction(connection, |connection| {
        let taken: i64 = projects::table.filter(projects::key.eq(&key)).count().get_result(connection)?;
        if taken > 0 {
            return Err(Error::Conflict(format!("a project with key {key} already exists")));
        }
        let id: ProjectId = diesel::insert_into(projects::table)
            .values((
                projects::key.eq(&key),
                projects::name.eq(&name),
                projects::description.eq(&description),
                projects::is_public.eq(new_project.is_public),
            ))
            .returning(projects::id)
            .get_result(connection)?;
        load(connection, id)
    })
}

pub fn load(connection: &mut DbConnection, id: ProjectId) -> Result<Project> {
    projects::table
        .find(id)
        .select(Project::as_select())
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("project {id}")))
}

/// The project by key or id, without permission checks (the caller decides).
pub fn find(connection: &mut DbConnection, reference: &ProjectKeyOrId) -> Result<Project> {
    let version = Version::read(connection)?;
    Ok(Setups::at(connection, &version)?.find(reference)?.clone())
}

impl ProjectKeyOrId {
    /// Whether this names `project`, by key or id.
    fn names(&self, project: &Project) -> bool {
        match &self.target {
            Target::Id(id) => project.id == *id,
            Target::Key(key) => project.key == *key,
            Target::Nothing => false,
        }
    }
}

/// The refusal of a second version, label or component of one name in a project (the unique
/// index of its name key decides, also between concurrent writers); other errors pass.
pub fn duplicate_name(error: diesel::result::Error, what: &str, name: &str, project_key: &str) -> Error {
    match error {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => Error::invalid(
            "name",
            format!("project {project_key} already has a {what} named {name:?} (names differ in more than case)"),
        ),
        other => other.into(),
    }
}

/// The project, if `actor` may use it with `permission`; invisible projects are not found.
pub fn get_with(
    connection: &mut DbConnection,
    actor: &User,
    reference: &ProjectKeyOrId,
    permission: Permission,
) -> Result<(Project, Access)> {
    let version = Version::read(connection)?;
    let setups = Setups::at(connection, &version)?;
    get_in(connection, actor, &setups, reference, permission)
}

/// `get_with` among the projects at a version the caller read.
pub fn get_in(
    connection: &mut DbConnection,
    actor: &User,
    setups: &Setups,
    reference: &ProjectKeyOrId,
    permission: Permission,
) -> Result<(Project, Access)> {
    let project = setups.find(reference)?;
    let access = Access::for_project(connection, actor, project.id, project.is_public)?;
    access.require(permission, &format!("project {reference}"))?;
    Ok((project.clone(), access))
}

/// The projects where the actor may do what `permission` allows (moving an item offers those
/// where they may work), by key; one query for the actor's roles.
pub fn list_allowing(connection: &mut DbConnection, actor: &User, permission: Permission) -> Result<Vec<Project>> {
    let version = Version::read(connection)?;
    let setups = Setups::at(connection, &version)?;
    allowed_among(connection, actor, setups.projects(), permission)
}

/// Those of `projects` where the actor may do what `permission` allows (which includes
/// reading them); one query for the actor's roles.
pub fn allowed_among(
    connection: &mut DbConnection,
    actor: &User,
    projects: &[Project],
    permission: Permission,
) -> Result<Vec<Project>> {
    let allowed = allowing(connection, actor, projects, permission)?;
    Ok(projects.iter().filter(|project| allowed.contains(&project.id)).cloned().collect())
}

/// The ids of those of `projects` where the actor may do what `permission` allows (which
/// includes reading them); one query for the actor's roles.
pub fn allowing(
    connection: &mut DbConnection,
    actor: &User,
    projects: &[Project],
    permission: Permission,
) -> Result<Vec<ProjectId>> {
    if actor.is_admin {
        return Ok(projects.iter().map(|project| project.id).collect());
    }
    let roles = permission::roles_of(connection, actor)?;
    Ok(projects
        .iter()
        .filter(|project| {
            let role = roles.iter().find(|(id, _)| *id == project.id).map(|(_, role)| *role);
            Access::of_member(role, project.is_public).allows(permission)
        })
        .map(|project| project.id)
        .collect())
}

/// The projects the actor may read, by key.
pub fn list_readable(connection: &mut DbConnection, actor: &User) -> Result<Vec<Project>> {
    let version = Version::read(connection)?;
    let setups = Setups::at(connection, &version)?;
    readable_among(connection, actor, setups.projects())
}

/// Those of `projects` the actor may read.
pub fn readable_among(connection: &mut DbConnection, actor: &User, projects: &[Project]) -> Result<Vec<Project>> {
    Ok(match readable_project_ids(connection, actor)? {
        None => projects.to_vec(),
        Some(ids) => projects.iter().filter(|project| ids.contains(&project.id)).cloned().collect(),
    })
}

pub fn update(
    connection: &mut DbConnection,
    actor: &User,
    reference: &ProjectKeyOrId,
    changes: ProjectUpdate,
) -> Result<Project> {
    let name = changes.name.as_deref().map(|name| text::single_line("name", name, 1, 200)).transpose()?;
    let description =
        changes.description.as_deref().map(|description| text::body("description", description, false)).transpose()?;
    write_transaction(connection, |connection| {
        let (project, _) = get_with(connection, actor, reference, Permission::Manage)?;
        diesel::update(projects::table.find(project.id))
            .set((
                projects::name.eq(name.unwrap_or(project.name)),
                projects::description.eq(description.unwrap_or(project.description)),
                projects::is_public.eq(changes.is_public.unwrap_or(project.is_public)),
                projects::updated_at.eq(diesel::dsl::now),
            ))
            .execute(connection)?;
        if project.is_public && changes.is_public == Some(false) {
            watcher::end_unreadable(connection, project.id, None)?;
        }
        load(connection, project.id)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_upper_cased_and_checked() {
        assert_eq!(super::parse_key(" ops ").unwrap(), "OPS");
        assert!(super::parse_key("O").is_err());
        assert!(super::parse_key("1OPS").is_err());
        assert!(super::parse_key("OPS-1").is_err());
    }

    #[test]
    fn a_reference_is_an_id_a_key_or_nothing_and_is_named_as_given() {
        use super::{ProjectKeyOrId, Target};
        use crate::model::ids::ProjectId;
        let parsed = |text: &str| ProjectKeyOrId::parse(text);
        assert_eq!(parsed(" 7 ").target, Target::Id(ProjectId(7)));
        assert_eq!(parsed(" ops ").target, Target::Key("OPS".into()));
        assert_eq!(parsed("OPS-1").target, Target::Nothing);
        assert_eq!(parsed(" ops ").to_string(), "ops");
        assert_eq!(
            parsed(" ops ").found_as(ProjectId(3)),
            ProjectKeyOrId { given: "ops".into(), target: Target::Id(ProjectId(3)) }
        );
    }
}
