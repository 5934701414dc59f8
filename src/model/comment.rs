//! Comments on items, in the order they were written.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{comment_versions, comments, users};
use crate::db::stored_time::StoredTime;
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::history::{self, FieldChange};
use crate::model::ids::{CommentId, ItemId, UserId, any_id};
use crate::model::notification::{self, Event};
use crate::model::permission::{self, Access, Permission, ReadableItem};
use crate::model::reference::{self, UnknownLogins};
use crate::model::user::{User, UserSummary};
use crate::model::{item, text, watcher};
use crate::timestamp;

/// A comment as readers see it. A deleted comment keeps its place, author and time, and says
/// who deleted it; its text is gone (`body` is empty). A private note is for the project's
/// developers and managers only (`may_read_private`): for anyone else it does not exist.
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: CommentId,
    pub item_id: ItemId,
    pub author: UserSummary,
    pub body: String,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
    /// When the text was last changed, and by whom (the author, or a project manager).
    #[serde(serialize_with = "timestamp::serialize_optional_utc")]
    pub edited_at: Option<NaiveDateTime>,
    pub edited_by: Option<UserSummary>,
    pub deleted: bool,
    #[serde(serialize_with = "timestamp::serialize_optional_utc")]
    pub deleted_at: Option<NaiveDateTime>,
    pub deleted_by: Option<UserSummary>,
    pub private: bool,
}

/// Whether someone with this access to a project reads its private notes: its developers and
/// managers (and administrators).
pub fn may_read_private(access: &Access) -> bool {
    access.allows(Permission::Work)
}

/// A text a comment held before an edit: who wrote it and when.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub body: String,
    pub written_by: UserSummary,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub written_at: NaiveDateTime,
}

/// id, item, author, body, created, edited at and by, deleted at and by, private.
type CommentRow = (
    CommentId,
    ItemId,
    UserSummary,
    String,
    StoredTime,
    (Option<NaiveDateTime>, Option<UserId>),
    (Option<NaiveDateTime>, Option<UserId>),
    bool,
);

/// The comments of these rows, with the people who edited or deleted them (one more query,
/// only when some comment was).
fn from_rows(connection: &mut DbConnection, rows: Vec<CommentRow>) -> Result<Vec<Comment>> {
    let mut changers: Vec<UserId> =
        rows.iter().flat_map(|(.., (_, edited_by), (_, deleted_by), _)| [*edited_by, *deleted_by]).flatten().collect();
    changers.sort_unstable();
    changers.dedup();
    let people: Vec<UserSummary> = if changers.is_empty() {
        Vec::new()
    } else {
        users::table.filter(any_id(users::id, &changers)).select(UserSummary::as_select()).load(connection)?
    };
    let person = |id: Option<UserId>| id.and_then(|id| people.iter().find(|person| person.id == id).cloned());
    Ok(rows
        .into_iter()
        .map(|(id, item_id, author, body, created_at, (edited_at, edited_by), (deleted_at, deleted_by), private)| {
            Comment {
                id,
                item_id,
                author,
                body,
                created_at: created_at.into(),
                edited_at,
                edited_by: person(edited_by),
                deleted: deleted_at.is_some(),
                deleted_at,
                deleted_by: person(deleted_by),
                private,
            }
        })
        .collect())
}

macro_rules! comment_columns {
    () => {
        (
            comments::id,
            comments::item_id,
            UserSummary::as_select(),
            comments::body,
            comments::created_at,
            (comments::edited_at, comments::edited_by),
            (comments::deleted_at, comments::deleted_by),
            comments::private,
        )
    };
}

fn load(connection: &mut DbConnection, id: CommentId) -> Result<Comment> {
    let row: CommentRow = comments::table
        .inner_join(users::table)
        .filter(comments::id.eq(id))
        .select(comment_columns!())
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("comment {id}")))?;
    Ok(from_rows(connection, vec![row])?.remove(0))
}

pub fn list(connection: &mut DbConnection, actor: &User, item_id: ItemId) -> Result<Vec<Comment>> {
    let (readable, access) = permission::item_access(connection, actor, item_id)?;
    of_item(connection, readable, may_read_private(&access))
}

crate::db::dialect::item_subquery!(
    /// Whether an item has comments (private notes too), in its row's statement.
    AnyOfItem: diesel::sql_types::Bool,
    sql: "EXISTS (SELECT 1 FROM comments WHERE comments.item_id = \"items\".\"id\")"
);

/// The comments of an item already checked, oldest first; private notes only `with_private`
/// (`may_read_private`).
pub fn of_item(connection: &mut DbConnection, item: ReadableItem, with_private: bool) -> Result<Vec<Comment>> {
    let mut query = comments::table
        .inner_join(users::table)
        .filter(comments::item_id.eq(item.id()))
        .order(comments::id.asc())
        .select(comment_columns!())
        .into_boxed();
    if !with_private {
        query = query.filter(comments::private.eq(false));
    }
    let rows: Vec<CommentRow> = query.load(connection)?;
    from_rows(connection, rows)
}

/// One comment, for those who may read its item, and a private note for those who may read
/// those (404 for the others, as for a comment that does not exist).
pub fn get(connection: &mut DbConnection, actor: &User, id: CommentId) -> Result<Comment> {
    Ok(visible(connection, actor, id)?.0)
}

/// `get`, with the proof that the actor may read the comment's item and their standing there.
fn visible(connection: &mut DbConnection, actor: &User, id: CommentId) -> Result<(Comment, ReadableItem, Access)> {
    let not_found = || Error::not_found(format!("comment {id}"));
    let item = item_of(connection, id)?.ok_or_else(not_found)?;
    let (readable, access) = match permission::item_access(connection, actor, item) {
        Ok(found) => found,
        Err(Error::NotFound(_)) => return Err(not_found()),
        Err(error) => return Err(error),
    };
    let comment = load(connection, id)?;
    if comment.private && !may_read_private(&access) {
        return Err(not_found());
    }
    Ok((comment, readable, access))
}

/// Adds a comment, or with `private` a private note (developers and managers only); the
/// author starts watching the item. The people the comment mentions are told of it
/// (`reference::new_mentions`), in place of the usual notification; `not_told` names those who
/// may not read it. A private note tells only those who may read it.
pub fn create(
    connection: &mut DbConnection,
    actor: &User,
    item_id: ItemId,
    body: &str,
    private: bool,
    unknown_logins: UnknownLogins,
) -> Result<Posted> {
    let body = text::body("body", body, true)?;
    write_transaction(connection, |connection| {
        let (readable, access) = permission::item_access(connection, actor, item_id)?;
        access.require(Permission::Report, &format!("item {item_id}"))?;
        if private && !may_read_private(&access) {
            return Err(private_refused());
        }
        let mentions =
            reference::new_mentions(connection, "body", readable.project_id(), actor, (&body, ""), unknown_logins)?;
        let mentions = if private { mentions.of_workers(connection, readable.project_id())? } else { mentions };
        let id: CommentId = diesel::insert_into(comments::table)
            .values((
                comments::item_id.eq(item_id),
                comments::author_id.eq(actor.id),
                comments::body.eq(&body),
                comments::private.eq(private),
            ))
            .returning(comments::id)
            .get_result(connection)?;
        watcher::add_quietly(connection, item_id, actor.id)?;
        item::touch(connection, item_id)?;
        let about = notification::About::Item(item_id);
        notification::queue(connection, about, actor.id, Event::Commented(id), &[], &mentions.readers)?;
        Ok(Posted { comment: load(connection, id)?, not_told: mentions.not_told })
    })
}

/// Why a reporter or viewer may not write or unmark a private note.
fn private_refused() -> Error {
    Error::forbidden("private notes are for the project's developers and managers (needs developer)")
}

/// A new comment, and the logins it mentions of people who may not read the item (they were
/// not told).
#[derive(Debug, Clone, Serialize)]
pub struct Posted {
    #[serde(flatten)]
    pub comment: Comment,
    pub not_told: Vec<String>,
}

/// What the history records of a comment's edit or deletion: the field `comment`, the
/// comment's id as the old value and what was done as the new one.
pub const HISTORY_FIELD: &str = "comment";

/// What the history records of a file attached to a private note (its name as the new value):
/// shown only to those who may read private notes.
pub const PRIVATE_ATTACHMENT_FIELD: &str = "private_attachment";

/// A comment, its item and the actor's standing there, if the actor may change it: its author
/// while they may still comment there, or a project manager; the comment must not be
/// deleted. A comment the actor cannot read is not found.
fn changeable(connection: &mut DbConnection, actor: &User, id: CommentId) -> Result<(Comment, ReadableItem, Access)> {
    let (comment, readable, access) = visible(connection, actor, id)?;
    if comment.deleted {
        return Err(Error::Conflict(format!("comment {id} was deleted")));
    }
    let own = comment.author.id == actor.id && access.allows(Permission::Report);
    if !own && !access.allows(Permission::Manage) {
        return Err(Error::forbidden(if comment.author.id == actor.id {
            "your role in this project no longer allows changing your comments (needs reporter)".to_string()
        } else {
            format!("only {} and the project's managers may change comment {id}", comment.author.login)
        }));
    }
    Ok((comment, readable, access))
}

/// A comment the actor may edit or delete now (`edit`), for its edit form.
pub fn editable(connection: &mut DbConnection, actor: &User, id: CommentId) -> Result<Comment> {
    Ok(changeable(connection, actor, id)?.0)
}

/// Replaces a comment's text, keeping the text it had as a version (`versions`). People the
/// new text mentions for the first time are told, as for a new comment; nobody else is.
pub fn edit(
    connection: &mut DbConnection,
    actor: &User,
    id: CommentId,
    body: &str,
    private: Option<bool>,
    unknown_logins: UnknownLogins,
) -> Result<Posted> {
    let body = text::body("body", body, true)?;
    write_transaction(connection, |connection| {
        let (comment, readable, access) = changeable(connection, actor, id)?;
        let private = private.unwrap_or(comment.private);
        if private != comment.private {
            if !may_read_private(&access) {
                return Err(private_refused());
            }
            diesel::update(comments::table.find(id)).set(comments::private.eq(private)).execute(connection)?;
            changed(connection, actor, &comment, if private { "made private" } else { "made public" })?;
        }
        if comment.body == body {
            return Ok(Posted { comment: load(connection, id)?, not_told: Vec::new() });
        }
        let mentions = reference::new_mentions(
            connection,
            "body",
            readable.project_id(),
            actor,
            (&body, &comment.body),
            unknown_logins,
        )?;
        let mentions = if private { mentions.of_workers(connection, readable.project_id())? } else { mentions };
        let (written_by, written_at) = match (&comment.edited_by, comment.edited_at) {
            (Some(editor), Some(at)) => (editor.id, at),
            _ => (comment.author.id, comment.created_at),
        };
        diesel::insert_into(comment_versions::table)
            .values((
                comment_versions::comment_id.eq(id),
                comment_versions::body.eq(&comment.body),
                comment_versions::written_by.eq(written_by),
                comment_versions::written_at.eq(written_at),
            ))
            .execute(connection)?;
        diesel::update(comments::table.find(id))
            .set((
                comments::body.eq(&body),
                comments::edited_at.eq(diesel::dsl::now.nullable()),
                comments::edited_by.eq(actor.id),
            ))
            .execute(connection)?;
        changed(connection, actor, &comment, "edited")?;
        notification::queue_mentions(connection, comment.item_id, actor.id, Some(id), &mentions.readers)?;
        Ok(Posted { comment: load(connection, id)?, not_told: mentions.not_told })
    })
}

/// Deletes a comment's text and its earlier versions; the comment stays as a marker of who
/// deleted it and when. Mails of the comment not sent yet are not sent (`mail::outbound`
/// renders a mail when it sends it).
pub fn delete(connection: &mut DbConnection, actor: &User, id: CommentId) -> Result<Comment> {
    write_transaction(connection, |connection| {
        let (comment, ..) = changeable(connection, actor, id)?;
        diesel::delete(comment_versions::table.filter(comment_versions::comment_id.eq(id))).execute(connection)?;
        diesel::update(comments::table.find(id))
            .set((
                comments::body.eq(""),
                comments::deleted_at.eq(diesel::dsl::now.nullable()),
                comments::deleted_by.eq(actor.id),
            ))
            .execute(connection)?;
        changed(connection, actor, &comment, "deleted")?;
        load(connection, id)
    })
}

/// The history line of a comment's edit or deletion, and the item's search document again.
fn changed(connection: &mut DbConnection, actor: &User, comment: &Comment, did: &str) -> Result<()> {
    history::record(
        connection,
        comment.item_id,
        actor.id,
        &[FieldChange {
            field: HISTORY_FIELD.into(),
            old_value: Some(comment.id.to_string()),
            new_value: Some(did.into()),
        }],
    )?;
    item::touch(connection, comment.item_id)
}

/// Those of these comments that are private notes, for hiding what is said of them.
pub fn private_among(connection: &mut DbConnection, ids: &[CommentId]) -> Result<Vec<CommentId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(comments::table
        .filter(any_id(comments::id, ids))
        .filter(comments::private)
        .select(comments::id)
        .load(connection)?)
}

/// The texts a comment held before its edits, newest first, for the project's managers.
pub fn versions(connection: &mut DbConnection, actor: &User, id: CommentId) -> Result<(Comment, Vec<Version>)> {
    let (comment, _, access) = visible(connection, actor, id)?;
    access.require(Permission::Manage, &format!("comment {id}"))?;
    let versions = comment_versions::table
        .inner_join(users::table)
        .filter(comment_versions::comment_id.eq(id))
        .order(comment_versions::id.desc())
        .select((comment_versions::body, UserSummary::as_select(), comment_versions::written_at))
        .load::<(String, UserSummary, NaiveDateTime)>(connection)?
        .into_iter()
        .map(|(body, written_by, written_at)| Version { body, written_by, written_at })
        .collect();
    Ok((comment, versions))
}

/// The item a comment belongs to, if the comment exists.
fn item_of(connection: &mut DbConnection, id: CommentId) -> Result<Option<ItemId>> {
    Ok(comments::table.find(id).select(comments::item_id).first(connection).optional()?)
}
