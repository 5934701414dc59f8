//! Who watches an item (and so hears of its changes).

use diesel::prelude::*;

use crate::db::schema::{items, users, watchers};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{ItemId, UserId};
use crate::model::item::{self, ItemView, ReadableItem};
use crate::model::permission::{Access, Permission, readable_project_ids};
use crate::model::user::{self, User, UserSummary};

/// Adds a watcher unless already watching; for use inside a write transaction.
pub fn add_quietly(connection: &mut DbConnection, item_id: ItemId, user_id: UserId) -> Result<()> {
    let existing: i64 = watchers::table
        .filter(watchers::item_id.eq(item_id.0))
        .filter(watchers::user_id.eq(user_id.0))
        .count()
        .get_result(connection)?;
    if existing == 0 {
        diesel::insert_into(watchers::table)
            .values((watchers::item_id.eq(item_id.0), watchers::user_id.eq(user_id.0)))
            .execute(connection)?;
    }
    Ok(())
}

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<UserSummary>> {
    let readable = item::readable(connection, actor, item_id)?;
    of_item(connection, readable)
}

/// The watchers of an item already checked, by login.
pub fn of_item(connection: &mut DbConnection, item: ReadableItem) -> Result<Vec<UserSummary>> {
    Ok(watchers::table
        .inner_join(users::table)
        .filter(watchers::item_id.eq(item.id().0))
        .order(users::login.asc())
        .select(UserSummary::as_select())
        .load(connection)?)
}

/// Anyone who can see an item may watch it; adding someone else needs the developer role,
/// and that person must be able to see the item too.
pub fn add(connection: &mut DbConnection, actor: &User, item_id: ItemId, user_id: UserId) -> Result<()> {
    write_transaction(connection, |connection| {
        let (_, project, access) = item::require_readable(connection, actor, item_id)?;
        if user_id != actor.id {
            access.require(Permission::Work, &format!("item {item_id}"))?;
            // One refusal for every id that cannot watch, naming only the id sent.
            let may_watch = match user::find(connection, user_id)? {
                Some(watcher) => {
                    watcher.active && Access::load(connection, &watcher, &project)?.allows(Permission::View)
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

/// Anyone may stop watching; removing someone else needs the developer role.
pub fn remove(connection: &mut DbConnection, actor: &User, item_id: ItemId, user_id: UserId) -> Result<()> {
    write_transaction(connection, |connection| {
        let (_, _, access) = item::require_readable(connection, actor, item_id)?;
        if user_id != actor.id {
            access.require(Permission::Work, &format!("item {item_id}"))?;
        }
        let deleted = diesel::delete(
            watchers::table.filter(watchers::item_id.eq(item_id.0)).filter(watchers::user_id.eq(user_id.0)),
        )
        .execute(connection)?;
        if deleted == 0 {
            return Err(Error::not_found(format!("user {user_id} watching item {item_id}")));
        }
        Ok(())
    })
}

/// The items the actor watches and may still see, most recently updated first.
pub fn watched_items(connection: &mut DbConnection, actor: &User, limit: i64) -> Result<Vec<ItemView>> {
    let ids: Vec<i64> = watchers::table
        .inner_join(items::table)
        .filter(watchers::user_id.eq(actor.id.0))
        .order((items::updated_at.desc(), items::id.desc()))
        .limit(limit)
        .select(items::id)
        .load(connection)?;
    let readable = readable_project_ids(connection, actor)?;
    let mut views = item::readable_views(connection, &ids, readable.as_deref())?;
    views.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    Ok(views)
}
