//! Who watches an item (and so hears of its changes). Only those who can read the item:
//! watches end when access does (`end_unreadable`, called where a membership is removed or
//! a project made private), and anyone may always stop watching.

use diesel::prelude::*;

use crate::db::schema::{items, memberships, projects, users, watchers};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{ItemId, ProjectId, UserId};
use crate::model::permission::{self, Access, Permission, ReadableItem};
use crate::model::user::{self, User, UserSummary};

/// Adds a watcher unless already watching; for use inside a write transaction. One statement
/// (a write path such as creating an item runs it for each new watcher).
pub fn add_quietly(connection: &mut DbConnection, item_id: ItemId, user_id: UserId) -> Result<()> {
    crate::with_backend!(connection, |inner| diesel::insert_into(watchers::table)
        .values((watchers::item_id.eq(item_id), watchers::user_id.eq(user_id)))
        .on_conflict_do_nothing()
        .execute(inner))?;
    Ok(())
}

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<UserSummary>> {
    let readable = permission::readable_item(connection, actor, item_id)?;
    of_item(connection, readable)
}

/// The watchers of an item already checked, by login.
pub fn of_item(connection: &mut DbConnection, item: ReadableItem) -> Result<Vec<UserSummary>> {
    Ok(watchers::table
        .inner_join(users::table)
        .filter(watchers::item_id.eq(item.id()))
        .order(users::login.asc())
        .select(UserSummary::as_select())
        .load(connection)?)
}

/// Anyone who can see an item may watch it; adding someone else needs the developer role,
/// and that person must be able to see the item too.
pub fn add(connection: &mut DbConnection, actor: &User, item_id: ItemId, user_id: UserId) -> Result<()> {
    write_transaction(connection, |connection| {
        let (readable, access) = permission::item_access(connection, actor, item_id)?;
        if user_id != actor.id {
            access.require(Permission::Work, &format!("item {item_id}"))?;
            // One refusal for every id that cannot watch, naming only the id sent.
            let may_watch = match user::find(connection, user_id)? {
                Some(watcher) => {
                    watcher.active
                        && Access::for_project(connection, &watcher, readable.project_id(), access.project_is_public)?
                            .allows(Permission::View)
                }
                None => false,
            };
            if !may_watch {
                return Err(Error::invalid(
                    "user_id",
                    format!("user {user_id} cannot watch this item: only active users who can see it can"),
                ));
            }
        }
        add_quietly(connection, item_id, user_id)
    })
}

/// Anyone may stop watching, also an item they can no longer read (its existence is no
/// secret to who watches it); removing someone else needs the developer role.
pub fn remove(connection: &mut DbConnection, actor: &User, item_id: ItemId, user_id: UserId) -> Result<()> {
    write_transaction(connection, |connection| {
        if user_id != actor.id {
            let (_, access) = permission::item_access(connection, actor, item_id)?;
            access.require(Permission::Work, &format!("item {item_id}"))?;
        }
        let deleted =
            diesel::delete(watchers::table.filter(watchers::item_id.eq(item_id)).filter(watchers::user_id.eq(user_id)))
                .execute(connection)?;
        if deleted == 0 {
            return Err(Error::not_found(format!("user {user_id} watching item {item_id}")));
        }
        Ok(())
    })
}

/// Ends the watches on the project's items of those who cannot read them (any more): when
/// the project is private, everyone but its members and the administrators — or only `user`,
/// when given. Returns how many ended. Call inside the transaction that took the access away.
pub fn end_unreadable(connection: &mut DbConnection, project: ProjectId, user: Option<UserId>) -> Result<usize> {
    let is_public: bool = projects::table.find(project).select(projects::is_public).first(connection)?;
    if is_public {
        return Ok(0);
    }
    let items_of_project = items::table.filter(items::project_id.eq(project)).select(items::id);
    let members = memberships::table.filter(memberships::project_id.eq(project)).select(memberships::user_id);
    let administrators = users::table.filter(users::is_admin.eq(true)).select(users::id);
    let unreadable = watchers::table
        .filter(watchers::item_id.eq_any(items_of_project))
        .filter(diesel::dsl::not(watchers::user_id.eq_any(members)))
        .filter(diesel::dsl::not(watchers::user_id.eq_any(administrators)));
    let ended = match user {
        Some(user) => diesel::delete(unreadable.filter(watchers::user_id.eq(user))).execute(connection)?,
        None => diesel::delete(unreadable).execute(connection)?,
    };
    Ok(ended)
}
