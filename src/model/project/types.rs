//! The item types a project uses. A project that never chose uses every type, including
//! types added later; one that chose keeps its list (at least one type). Administrators and
//! the project's managers choose. New items take the project's first type unless they name
//! one of its types; an item keeps a type the project no longer uses until it is changed.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::project_types;
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::definitions::Version;
use crate::model::ids::{ProjectId, TypeId};
use crate::model::permission::Permission;
use crate::model::project::setup::Setups;
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::user::User;
use crate::model::workflow::{ItemType, Workflow};

/// The types a project uses, in the workflow's order.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectTypes {
    /// True when the project uses every type (it never chose a list).
    pub all: bool,
    pub types: Vec<ItemType>,
}

impl ProjectTypes {
    pub fn uses(&self, type_id: TypeId) -> bool {
        self.types.iter().any(|item_type| item_type.id == type_id)
    }

    /// The type new items get when they name none.
    pub fn default_type(&self) -> Result<&ItemType> {
        self.types.first().ok_or_else(|| Error::Unavailable("the workflow has no item types".into()))
    }

    /// Ok when the project uses the type; otherwise names the types it uses.
    pub fn check(&self, project_key: &str, type_id: TypeId, workflow: &Workflow) -> Result<()> {
        if self.uses(type_id) {
            return Ok(());
        }
        let name = workflow.item_type(type_id)?.name.as_str();
        let used: Vec<&str> = self.types.iter().map(|item_type| item_type.name.as_str()).collect();
        Err(Error::invalid(
            "type_id",
            format!("project {project_key} does not use the item type {name}; it uses: {}", used.join(", ")),
        ))
    }
}

/// The types of a project, without permission checks (the caller has them).
pub fn of_project(connection: &mut DbConnection, project: ProjectId, workflow: &Workflow) -> Result<ProjectTypes> {
    let version = Version::read(connection)?;
    Ok(Setups::at(connection, &version)?.of(connection, project)?.types(workflow))
}

/// The types of a project the actor may read.
pub fn get(connection: &mut DbConnection, actor: &User, reference: &ProjectKeyOrId) -> Result<ProjectTypes> {
    let (project, _) = project::get_with(connection, actor, reference, Permission::View)?;
    let workflow = Workflow::load(connection)?;
    of_project(connection, project.id, &workflow)
}

/// Sets the types a project uses: a list of type ids (at least one), or `None` for every type.
pub fn set(
    connection: &mut DbConnection,
    actor: &User,
    reference: &ProjectKeyOrId,
    types: Option<&[TypeId]>,
) -> Result<ProjectTypes> {
    let (chosen, key) = write_transaction(connection, |connection| {
        let (project, _) = project::get_with(connection, actor, reference, Permission::Manage)?;
        // One choice at a time per project: on PostgreSQL a second one waits for the first to
        // commit, so that its delete sees the rows the first inserted (SQLite's write
        // transactions are serialized already).
        if let DbConnection::Postgresql(inner) = connection {
            inner.batch_execute(&format!("SELECT 1 FROM projects WHERE id = {} FOR UPDATE", project.id.0))?;
        }
        let workflow = Workflow::load(connection)?;
        if let Some(types) = types {
            if types.is_empty() {
                return Err(Error::invalid(
                    "types",
                    "a project uses at least one item type: choose one or more, or every type (null)",
                ));
            }
            for type_id in types {
                workflow
                    .item_type(*type_id)
                    .map_err(|_| Error::invalid("types", format!("there is no item type {type_id}")))?;
            }
        }
        diesel::delete(project_types::table.filter(project_types::project_id.eq(project.id))).execute(connection)?;
        let mut inserted: Vec<TypeId> = Vec::new();
        for type_id in types.unwrap_or_default() {
            if !inserted.contains(type_id) {
                diesel::insert_into(project_types::table)
                    .values((project_types::project_id.eq(project.id), project_types::type_id.eq(type_id)))
                    .execute(connection)?;
                inserted.push(*type_id);
            }
        }
        Ok((of_project(connection, project.id, &workflow)?, project.key))
    })?;
    let names: Vec<&str> = chosen.types.iter().map(|item_type| item_type.name.as_str()).collect();
    tracing::info!(actor = %actor.login, project = %key, all = chosen.all, types = %names.join(", "), "project item types set");
    Ok(chosen)
}
