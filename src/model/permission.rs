//! The one place where access is decided. Pages, the API, search results and attachment
//! downloads all ask `Access::allows` / `Access::require`, or filter by
//! `readable_project_ids`, which apply the same rule; `ReadableItem` is the proof, made only
//! here, that the actor may see an item.
//!
//! The rule: administrators may do everything. Otherwise a member's role decides:
//! viewer < reporter < developer < manager. A signed-in non-member of a public project
//! is treated as a viewer. A project the user may not view is reported as not found, so
//! its existence does not leak.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::db::schema::{items, memberships, projects};
use crate::error::{Error, Result};
use crate::model::ids::{ItemId, ProjectId, any_id};
use crate::model::user::User;

/// A member's role in a project, from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Reporter,
    Developer,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reporter => "reporter",
            Role::Developer => "developer",
            Role::Manager => "manager",
        }
    }

    pub fn parse(text: &str) -> Result<Role> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "reporter" => Ok(Role::Reporter),
            "developer" => Ok(Role::Developer),
            "manager" => Ok(Role::Manager),
            other => Err(Error::invalid(
                "role",
                format!("{other:?} is not a role: use viewer, reporter, developer or manager"),
            )),
        }
    }
}

/// A role read from the database: a value that is no role is a damaged row (an internal
/// error), never the caller's invalid input.
pub fn stored_role(text: &str) -> Result<Role> {
    Role::parse(text)
        .map_err(|_| Error::internal("reading a membership", format!("stored role {text:?} is not a role")))
}

/// What a user may do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the project, its items, comments, attachments and history; watch items.
    View,
    /// Create items, comment, attach files, edit the text of items one reported.
    Report,
    /// Edit any item, change status, assign.
    Work,
    /// Change the project and its members.
    Manage,
}

impl Permission {
    fn least_role(self) -> Role {
        match self {
            Permission::View => Role::Viewer,
            Permission::Report => Role::Reporter,
            Permission::Work => Role::Developer,
            Permission::Manage => Role::Manager,
        }
    }
}

/// One user's standing in one project.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub is_admin: bool,
    pub role: Option<Role>,
    pub project_is_public: bool,
}

impl Access {
    pub fn for_project(
        connection: &mut DbConnection,
        user: &User,
        project: ProjectId,
        project_is_public: bool,
    ) -> Result<Access> {
        let role = if user.is_admin { None } else { role_of(connection, user, project)? };
        Ok(Access { is_admin: user.is_admin, role, project_is_public })
    }

    /// `for_project` with the user's membership role already read (as stored; `None`: no
    /// membership).
    pub fn with_stored_role(user: &User, role: Option<&str>, project_is_public: bool) -> Result<Access> {
        let role = if user.is_admin { None } else { role.map(stored_role).transpose()? };
        Ok(Access { is_admin: user.is_admin, role, project_is_public })
    }

    /// A user who is not an administrator, with their role in a project (if any).
    pub fn of_member(role: Option<Role>, project_is_public: bool) -> Access {
        Access { is_admin: false, role, project_is_public }
    }

    fn effective_role(&self) -> Option<Role> {
        match (self.role, self.project_is_public) {
            (Some(role), _) => Some(role),
            (None, true) => Some(Role::Viewer),
            (None, false) => None,
        }
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.is_admin || self.effective_role().is_some_and(|role| role >= permission.least_role())
    }

    /// Ok, or not found when the project is invisible, or forbidden when visible.
    pub fn require(&self, permission: Permission, what: &str) -> Result<()> {
        if self.allows(permission) {
            return Ok(());
        }
        if !self.allows(Permission::View) {
            return Err(Error::not_found(what));
        }
        Err(Error::forbidden(format!(
            "your role in this project does not allow this (needs {})",
            permission.least_role().as_str()
        )))
    }

    /// The proof that the item may be seen, when this access to its project (`project_id`)
    /// allows viewing; not found otherwise.
    pub fn readable_item(&self, id: ItemId, project_id: ProjectId) -> Result<ReadableItem> {
        self.require(Permission::View, &format!("item {id}"))?;
        Ok(ReadableItem { id, project_id })
    }
}

/// Proof that the actor may see an item: made only by the access checks of this module, so
/// the functions that take it (comments, attachments, history, watchers of the item) need not
/// check again.
#[derive(Debug, Clone, Copy)]
pub struct ReadableItem {
    id: ItemId,
    project_id: ProjectId,
}

impl ReadableItem {
    pub fn id(&self) -> ItemId {
        self.id
    }

    pub fn project_id(&self) -> ProjectId {
        self.project_id
    }
}

/// Checks that the actor may see the item: the proof, and the actor's access to the item's
/// project (for what else they may do with it).
pub fn item_access(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<(ReadableItem, Access)> {
    let (project_id, project_is_public): (ProjectId, bool) = items::table
        .inner_join(projects::table)
        .filter(items::id.eq(id))
        .select((projects::id, projects::is_public))
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("item {id}")))?;
    let access = Access::for_project(connection, actor, project_id, project_is_public)?;
    Ok((access.readable_item(id, project_id)?, access))
}

/// Checks that the actor may see the item.
pub fn readable_item(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<ReadableItem> {
    Ok(item_access(connection, actor, id)?.0)
}

/// The user's role in each project they are a member of.
pub fn roles_of(connection: &mut DbConnection, user: &User) -> Result<Vec<(ProjectId, Role)>> {
    let rows: Vec<(ProjectId, String)> = memberships::table
        .filter(memberships::user_id.eq(user.id))
        .select((memberships::project_id, memberships::role))
        .load(connection)?;
    rows.into_iter().map(|(project, role)| Ok((project, stored_role(&role)?))).collect()
}

fn role_of(connection: &mut DbConnection, user: &User, project: ProjectId) -> Result<Option<Role>> {
    let role: Option<String> = memberships::table
        .filter(memberships::project_id.eq(project))
        .filter(memberships::user_id.eq(user.id))
        .select(memberships::role)
        .first(connection)
        .optional()?;
    role.map(|role| stored_role(&role)).transpose()
}

/// Whether `project` is among the readable projects `readable_project_ids` gave (`None`: all).
pub fn is_readable_in(readable: &Option<Vec<ProjectId>>, project: ProjectId) -> bool {
    readable.as_ref().is_none_or(|projects| projects.contains(&project))
}

/// The projects a user may view: `None` means all (administrators).
pub fn readable_project_ids(connection: &mut DbConnection, user: &User) -> Result<Option<Vec<ProjectId>>> {
    if user.is_admin {
        return Ok(None);
    }
    let member_of = memberships::table.filter(memberships::user_id.eq(user.id)).select(memberships::project_id);
    let ids = projects::table
        .filter(projects::is_public.eq(true).or(projects::id.eq_any(member_of)))
        .select(projects::id)
        .load(connection)?;
    Ok(Some(ids))
}

/// Those of the given items that the user cannot read (or that do not exist).
pub fn unreadable_items(connection: &mut DbConnection, user: &User, ids: &[ItemId]) -> Result<Vec<ItemId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(ItemId, ProjectId)> =
        items::table.filter(any_id(items::id, ids)).select((items::id, items::project_id)).load(connection)?;
    let readable = readable_project_ids(connection, user)?;
    Ok(ids
        .iter()
        .filter(|id| !found.iter().any(|(found, project)| found == *id && is_readable_in(&readable, *project)))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(role: Option<Role>, public: bool) -> Access {
        Access::of_member(role, public)
    }

    #[test]
    fn roles_grant_increasing_permissions() {
        let viewer = access(Some(Role::Viewer), false);
        assert!(viewer.allows(Permission::View) && !viewer.allows(Permission::Report));
        let reporter = access(Some(Role::Reporter), false);
        assert!(reporter.allows(Permission::Report) && !reporter.allows(Permission::Work));
        let developer = access(Some(Role::Developer), false);
        assert!(developer.allows(Permission::Work) && !developer.allows(Permission::Manage));
        assert!(access(Some(Role::Manager), false).allows(Permission::Manage));
    }

    #[test]
    fn non_members_see_public_projects_only_and_cannot_report() {
        assert!(access(None, true).allows(Permission::View));
        assert!(!access(None, true).allows(Permission::Report));
        assert!(!access(None, false).allows(Permission::View));
    }

    #[test]
    fn invisible_projects_are_not_found_visible_ones_are_forbidden() {
        assert!(matches!(access(None, false).require(Permission::Report, "x"), Err(Error::NotFound(_))));
        assert!(matches!(access(None, true).require(Permission::Report, "x"), Err(Error::Forbidden(_))));
    }

    #[test]
    fn administrators_may_do_everything() {
        let admin = Access { is_admin: true, role: None, project_is_public: false };
        assert!(admin.allows(Permission::Manage));
    }
}
