//! Who belongs to a project, and in which role.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{memberships, users};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{ProjectId, UserId};
use crate::model::permission::{Permission, Role, stored_role};
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::user::{self, User, UserSummary};
use crate::model::watcher;

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user: UserSummary,
    pub role: Role,
}

pub fn list(connection: &mut DbConnection, actor: &User, project_reference: &ProjectKeyOrId) -> Result<Vec<Member>> {
    let (project, _) = project::get_with(connection, actor, project_reference, Permission::View)?;
    of_project(connection, project.id)
}

/// The members of a project the caller has checked the actor may see.
pub fn of_project(connection: &mut DbConnection, project: ProjectId) -> Result<Vec<Member>> {
    let rows: Vec<(UserSummary, String)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::project_id.eq(project))
        .order(users::login.asc())
        .select((UserSummary::as_select(), memberships::role))
        .load(connection)?;
    rows.into_iter().map(|(user, role)| Ok(Member { user, role: stored_role(&role)? })).collect()
}

/// Adds the user to the project or changes their role.
pub fn set_role(
    connection: &mut DbConnection,
    actor: &User,
    project_reference: &ProjectKeyOrId,
    member: UserId,
    role: Role,
) -> Result<Member> {
    write_transaction(connection, |connection| {
        let (project, _) = project::get_with(connection, actor, project_reference, Permission::Manage)?;
        // One refusal for a missing and a deactivated account, naming only the id sent.
        let member_user = user::find(connection, member)?.filter(|found| found.active).ok_or_else(|| {
            Error::invalid("user_id", format!("user {member} cannot be added: there is no active user with this id"))
        })?;
        put_role(connection, project.id, member, role)?;
        Ok(Member { user: UserSummary { id: member_user.id, login: member_user.login, name: member_user.name }, role })
    })
}

/// Gives `member` the role in the project, without permission checks (the caller decided).
pub fn put_role(connection: &mut DbConnection, project: ProjectId, member: UserId, role: Role) -> Result<()> {
    let updated = diesel::update(
        memberships::table.filter(memberships::project_id.eq(project)).filter(memberships::user_id.eq(member)),
    )
    .set(memberships::role.eq(role.as_str()))
    .execute(connection)?;
    if updated == 0 {
        diesel::insert_into(memberships::table)
            .values((
                memberships::project_id.eq(project),
                memberships::user_id.eq(member),
                memberships::role.eq(role.as_str()),
            ))
            .execute(connection)?;
    }
    Ok(())
}

pub fn remove(
    connection: &mut DbConnection,
    actor: &User,
    project_reference: &ProjectKeyOrId,
    member: UserId,
) -> Result<()> {
    write_transaction(connection, |connection| {
        let (project, _) = project::get_with(connection, actor, project_reference, Permission::Manage)?;
        let deleted = diesel::delete(
            memberships::table.filter(memberships::project_id.eq(project.id)).filter(memberships::user_id.eq(member)),
        )
        .execute(connection)?;
        if deleted == 0 {
            return Err(Error::not_found(format!("membership of user {member} in project {}", project.key)));
        }
        watcher::end_unreadable(connection, project.id, Some(member))?;
        Ok(())
    })
}

/// Whether the user exists, is active and is a member of the project: who may be assigned
/// or named in a user field.
pub fn is_active_member(connection: &mut DbConnection, project: ProjectId, user: UserId) -> Result<bool> {
    Ok(match user::find(connection, user)? {
        Some(found) => found.active && is_member(connection, project, user)?,
        None => false,
    })
}

/// Whether the user is a member (any role) of the project: only members are assignable.
pub fn is_member(connection: &mut DbConnection, project: ProjectId, user: UserId) -> Result<bool> {
    let count: i64 = memberships::table
        .filter(memberships::project_id.eq(project))
        .filter(memberships::user_id.eq(user))
        .count()
        .get_result(connection)?;
    Ok(count > 0)
}
