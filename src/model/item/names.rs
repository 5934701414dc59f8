//! The names an item's view shows for the ids its row holds — its project's key, its type,
//! status, priority, target version, component, labels and people — kept per node under the
//! version of the definitions (`model::definitions`: the migrations give it a new value on
//! every change to any of them). Every statement that reads item rows for views reads that
//! version in the same statement, so the names it finds here are those of the row's snapshot
//! (or, read right after a change, of a later one), and the row needs no join: on PostgreSQL
//! the join of six tables was most of an item's statement (docs/benchmarks.md).

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{components, labels, users, versions};
use crate::error::{Error, Result};
use crate::model::definitions::{Version, Versioned};
use crate::model::ids::{ComponentId, LabelId, ProjectId, UserId, VersionId};
use crate::model::label::{self, LabelRef};
use crate::model::project::setup::Setups;
use crate::model::user::UserSummary;
use crate::model::workflow::Workflow;

pub struct Names {
    /// Key and whether public, by project.
    projects: HashMap<ProjectId, (String, bool)>,
    pub workflow: Arc<Workflow>,
    versions: HashMap<VersionId, String>,
    components: HashMap<ComponentId, String>,
    labels: HashMap<LabelId, LabelRef>,
    /// Every account's login and name (a few dozen bytes each): a change to either, or an
    /// account's removal, is a change of the definitions, a new account is not (`user`).
    users: HashMap<UserId, UserSummary>,
}

static NAMES: Versioned<Names> = Versioned::empty();

impl Names {
    /// The names at `version` (read by the caller in the statement that read the rows).
    pub fn at(connection: &mut DbConnection, version: &Version) -> Result<Arc<Names>> {
        NAMES.at(connection, version, |connection| {
            let setups = Setups::at(connection, version)?;
            Ok(Names {
                projects: setups
                    .projects()
                    .iter()
                    .map(|project| (project.id, (project.key.clone(), project.is_public)))
                    .collect(),
                workflow: Workflow::at(connection, version)?,
                versions: versions::table
                    .select((versions::id, versions::name))
                    .load::<(VersionId, String)>(connection)?
                    .into_iter()
                    .collect(),
                components: components::table
                    .select((components::id, components::name))
                    .load::<(ComponentId, String)>(connection)?
                    .into_iter()
                    .collect(),
                labels: labels::table
                    .select(LabelRef::as_select())
                    .load(connection)?
                    .into_iter()
                    .map(|label: LabelRef| (label.id, label))
                    .collect(),
                users: users::table
                    .select(UserSummary::as_select())
                    .load(connection)?
                    .into_iter()
                    .map(|user: UserSummary| (user.id, user))
                    .collect(),
            })
        })
    }

    /// The project's key and whether it is public. Not found when it is not there: a node
    /// reads the names after the row, so a project deleted in between (with its items) is
    /// missing here.
    pub fn project(&self, id: ProjectId) -> Result<(&str, bool)> {
        self.projects
            .get(&id)
            .map(|(key, public)| (key.as_str(), *public))
            .ok_or_else(|| Error::not_found(format!("project {id}")))
    }

    /// The version's name; `None` when it is not there: a node reads the names after the
    /// row, so a version or component removed in between (with the items' references to it)
    /// is missing here, and the item has none now.
    pub fn version(&self, id: VersionId) -> Option<&str> {
        self.versions.get(&id).map(String::as_str)
    }

    /// The component's name; `None` as for `version`.
    pub fn component(&self, id: ComponentId) -> Option<&str> {
        self.components.get(&id).map(String::as_str)
    }

    /// The account's login and name; `None` for an account made since these names were read
    /// (the caller reads it), or removed since the row was read.
    pub fn user(&self, id: UserId) -> Option<&UserSummary> {
        self.users.get(&id)
    }

    /// These labels by name; those removed since the row was read (as for `version`) left out.
    pub fn labels(&self, ids: &[LabelId]) -> Vec<LabelRef> {
        let mut found: Vec<LabelRef> = ids.iter().filter_map(|id| self.labels.get(id).cloned()).collect();
        label::sort_by_name(&mut found);
        found
    }
}
