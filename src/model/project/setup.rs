//! What the pages' forms offer from the projects — the projects themselves and, per project,
//! its members, item types, versions, labels and components — kept per node under the
//! version of the definitions (`model::definitions`): the migrations give the version a new
//! value on every change to projects, memberships, users' logins and names, project types,
//! versions, labels and components, so a use reads that one row (often inside another
//! statement, as the item's) instead of six tables. A project's part is read on its first use
//! at a version; a change anywhere starts every project's afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{project_types, projects, versions};
use crate::error::{Error, Result};
use crate::model::component;
use crate::model::definitions::{Version, Versioned};
use crate::model::ids::{ComponentId, ProjectId, TypeId, VersionId};
use crate::model::item::NamedRef;
use crate::model::label::{self, LabelRef};
use crate::model::membership::{self, Member};
use crate::model::project::types::ProjectTypes;
use crate::model::project::{Project, ProjectKeyOrId};
use crate::model::version::{VersionStatus, VersionTarget};
use crate::model::workflow::Workflow;

/// The projects at one version, and the parts of them read so far.
pub struct Setups {
    /// Every project, by key.
    projects: Vec<Project>,
    each: Mutex<HashMap<ProjectId, Arc<ProjectSetup>>>,
}

/// One project's members, types, versions, labels and components.
pub struct ProjectSetup {
    /// By login.
    pub members: Vec<Member>,
    /// The types the project chose; empty when it uses every type.
    chosen_types: Vec<TypeId>,
    /// The project's versions and the shared ones, with whether they are open, in the order
    /// items' forms offer them.
    versions: Vec<(VersionTarget, bool)>,
    /// By name.
    pub labels: Vec<LabelRef>,
    /// By name.
    pub components: Vec<NamedRef<ComponentId>>,
}

static SETUPS: Versioned<Setups> = Versioned::empty();

impl Setups {
    /// The projects as the database holds them at `version` (read just before by the caller).
    pub fn at(connection: &mut DbConnection, version: &Version) -> Result<Arc<Setups>> {
        SETUPS.at(connection, version, |connection| {
            let projects = projects::table.select(Project::as_select()).order(projects::key.asc()).load(connection)?;
            Ok(Setups { projects, each: Mutex::new(HashMap::new()) })
        })
    }

    /// Every project, by key (the caller filters what the actor may see).
    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    /// The project by key or id (the caller checks the actor's access).
    pub fn find(&self, reference: &ProjectKeyOrId) -> Result<&Project> {
        self.projects
            .iter()
            .find(|project| reference.names(project))
            .ok_or_else(|| Error::not_found(format!("project {reference}")))
    }

    /// One project's part, read on its first use at this version.
    pub fn of(&self, connection: &mut DbConnection, project: ProjectId) -> Result<Arc<ProjectSetup>> {
        if let Some(known) = self.each.lock().unwrap_or_else(PoisonError::into_inner).get(&project) {
            return Ok(known.clone());
        }
        let read = Arc::new(ProjectSetup::read(connection, project)?);
        self.each.lock().unwrap_or_else(PoisonError::into_inner).insert(project, read.clone());
        Ok(read)
    }
}

impl ProjectSetup {
    fn read(connection: &mut DbConnection, project: ProjectId) -> Result<ProjectSetup> {
        let versions: Vec<(VersionTarget, String)> = versions::table
            .filter(versions::project_id.eq(project).or(versions::shared.eq(true)))
            .order((
                versions::status.eq(VersionStatus::Closed.as_str()).asc(),
                versions::due_date.is_null().asc(),
                versions::due_date.asc(),
                versions::name_key.asc(),
            ))
            .select(((versions::id, versions::name, versions::due_date), versions::status))
            .load(connection)?;
        Ok(ProjectSetup {
            members: membership::of_project(connection, project)?,
            chosen_types: project_types::table
                .filter(project_types::project_id.eq(project))
                .select(project_types::type_id)
                .load(connection)?,
            versions: versions
                .into_iter()
                .map(|(target, status)| (target, status == VersionStatus::Open.as_str()))
                .collect(),
            labels: label::of_project(connection, project)?,
            components: component::choices(connection, project)?,
        })
    }

    /// The types the project uses, in the workflow's order.
    pub fn types(&self, workflow: &Workflow) -> ProjectTypes {
        let all = self.chosen_types.is_empty();
        let types = workflow
            .types
            .iter()
            .filter(|item_type| all || self.chosen_types.contains(&item_type.id))
            .cloned()
            .collect();
        ProjectTypes { all, types }
    }

    /// The project's versions and the shared ones, open or not, for filters.
    pub fn version_choices(&self) -> Vec<NamedRef<VersionId>> {
        self.versions.iter().map(|(target, _)| NamedRef { id: target.id, name: target.name.clone() }).collect()
    }

    /// The versions an item of the project may newly target — open ones of the project and
    /// shared ones — and the one it targets (`targeted`) whatever its status.
    pub fn version_targets(&self, targeted: Option<VersionId>) -> Vec<VersionTarget> {
        self.versions
            .iter()
            .filter(|(target, open)| *open || Some(target.id) == targeted)
            .map(|(target, _)| target.clone())
            .collect()
    }
}
