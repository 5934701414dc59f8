//! Comments on items, in the order they were written.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{comments, users};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{CommentId, ItemId};
use crate::model::notification::{self, Event};
use crate::model::permission::{self, Permission, ReadableItem};
use crate::model::reference::{self, UnknownLogins};
use crate::model::user::{User, UserSummary};
use crate::model::{item, text, watcher};
use crate::timestamp;

#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: CommentId,
    pub item_id: ItemId,
    pub author: UserSummary,
    pub body: String,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
}

type CommentRow = (CommentId, ItemId, UserSummary, String, NaiveDateTime);

fn from_row((id, item_id, author, body, created_at): CommentRow) -> Comment {
    Comment { id, item_id, author, body, created_at }
}

fn load(connection: &mut DbConnection, id: CommentId) -> Result<Comment> {
    let row: CommentRow = comments::table
        .inner_join(users::table)
        .filter(comments::id.eq(id))
        .select((comments::id, comments::item_id, UserSummary::as_select(), comments::body, comments::created_at))
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("comment {id}")))?;
    Ok(from_row(row))
}

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<Comment>> {
    let readable = permission::readable_item(connection, actor, item_id)?;
    of_item(connection, readable)
}

/// The comments of an item already checked, oldest first.
pub fn of_item(connection: &mut DbConnection, item: ReadableItem) -> Result<Vec<Comment>> {
    let rows: Vec<CommentRow> = comments::table
        .inner_join(users::table)
        .filter(comments::item_id.eq(item.id()))
        .order(comments::id.asc())
        .select((comments::id, comments::item_id, UserSummary::as_select(), comments::body, comments::created_at))
        .load(connection)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Adds a comment; the author starts watching the item.
/// The people the comment mentions are told of it (`reference::new_mentions`), in place of
/// the usual notification; `not_told` names those who may not read the item.
pub fn create(
    connection: &mut DbConnection,
    actor: &User,
    item_id: ItemId,
    body: &str,
    unknown_logins: UnknownLogins,
) -> Result<Posted> {
    let body = text::body("body", body, true)?;
    write_transaction(connection, |connection| {
        let (readable, access) = permission::item_access(connection, actor, item_id)?;
        access.require(Permission::Report, &format!("item {item_id}"))?;
        let mentions =
            reference::new_mentions(connection, "body", readable.project_id(), actor, (&body, ""), unknown_logins)?;
        let id: CommentId = diesel::insert_into(comments::table)
            .values((comments::item_id.eq(item_id), comments::author_id.eq(actor.id), comments::body.eq(&body)))
            .returning(comments::id)
            .get_result(connection)?;
        watcher::add_quietly(connection, item_id, actor.id)?;
        item::touch(connection, item_id)?;
        notification::queue(connection, item_id, actor.id, Event::Commented(id), &[], &mentions.readers)?;
        Ok(Posted { comment: load(connection, id)?, not_told: mentions.not_told })
    })
}

/// A new comment, and the logins it mentions of people who may not read the item (they were
/// not told).
#[derive(Debug, Clone, Serialize)]
pub struct Posted {
    #[serde(flatten)]
    pub comment: Comment,
    pub not_told: Vec<String>,
}

/// The item a comment belongs to, if the comment exists.
pub fn item_of(connection: &mut DbConnection, id: CommentId) -> Result<Option<ItemId>> {
    Ok(comments::table.find(id).select(comments::item_id).first(connection).optional()?)
}
