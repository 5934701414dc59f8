//! Copying an item (`POST /api/v1/items/{id}/copy`), into its project or another one the actor
//! may create items in: a new item with the original's title, description, type, priority, due
//! date and the field values that apply there; labels, component, version and assignee mapped
//! by name as for a move (`moving`); optionally its comments (authors and times kept, deleted
//! ones left out, private notes only for those who may read them), attachments (the same
//! stored files, no copy of their content; not those of private notes) and links.
//! The copy starts in its type's first status, is reported by the actor, and is linked to the
//! original as `copied_to`, which both histories record.

use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{attachments, comments};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::field::Catalog;
use crate::model::field::value::Shown;
use crate::model::ids::{CommentId, ItemId, TypeId};
use crate::model::item::moving::{map_planning, type_there};
use crate::model::item::{self, ItemView, NewItem};
use crate::model::permission::{self, Permission};
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::reference::UnknownLogins;
use crate::model::user::User;
use crate::model::{comment, link};

/// What to copy, and where.
#[derive(Debug, Clone, Default)]
pub struct Copy {
    /// The project of the copy; the original's when absent.
    pub project: Option<ProjectKeyOrId>,
    /// The type the copy takes there, when the project does not use the original's.
    pub type_id: Option<TypeId>,
    pub comments: bool,
    pub attachments: bool,
    pub links: bool,
    /// Copy without the labels, component, version and assignee that have no namesake there.
    pub drop_unmapped: bool,
}

pub fn copy_item(connection: &mut DbConnection, actor: &User, id: ItemId, request: Copy) -> Result<ItemView> {
    write_transaction(connection, |connection| {
        let original = item::get(connection, actor, id)?;
        let reference = request.project.clone().unwrap_or_else(|| ProjectKeyOrId::id(original.project.id));
        let target = match project::get_with(connection, actor, &reference, Permission::Report) {
            Ok((target, _)) => target,
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid("project", format!("there is no project {reference} you can see")));
            }
            Err(error) => return Err(error),
        };
        let item_type = type_there(connection, &original, &target, request.type_id)?;
        let mapped = map_planning(connection, &original, &target)?;
        mapped.refuse_unless(
            request.drop_unmapped,
            &format!("{} cannot be copied to {} as it is", original.key, target.key),
        )?;
        let catalog = Catalog::load(connection)?;
        let applying: Vec<&str> = catalog.applying(target.id, item_type).map(|field| field.key.as_str()).collect();
        let fields = original
            .fields
            .0
            .iter()
            .filter(|field| applying.contains(&field.key.as_str()))
            .filter_map(|field| {
                let value = match field.value.as_ref()? {
                    Shown::User(user) => json!(user.id),
                    other => other.to_json(),
                };
                Some((field.key.clone(), value))
            })
            .collect();
        let copy = item::create(
            connection,
            actor,
            NewItem {
                project: ProjectKeyOrId::id(target.id),
                title: original.title.clone(),
                description: original.description.clone(),
                type_id: Some(item_type),
                priority_id: Some(original.priority.id),
                assignee_id: mapped.assignee,
                due_date: original.due_date,
                parent: None,
                target_version: mapped.target_version,
                labels: mapped.labels,
                component: mapped.component,
                fields,
                // The original's text was accepted once; its mentions of accounts gone stay text.
                unknown_logins: UnknownLogins::Ignore,
            },
        )?;
        // Private notes go along only for those who may read them (and stay private).
        let (_, access) = permission::item_access(connection, actor, id)?;
        if request.comments {
            copy_comments(connection, id, copy, comment::may_read_private(&access))?;
        }
        if request.attachments {
            copy_attachments(connection, id, copy)?;
        }
        link::link_copy(connection, actor, id, copy, request.links)?;
        item::touch(connection, copy)?;
        item::get(connection, actor, copy)
    })
}

fn copy_comments(connection: &mut DbConnection, original: ItemId, copy: ItemId, with_private: bool) -> Result<()> {
    let mut query = comments::table
        .filter(comments::item_id.eq(original))
        .filter(comments::deleted_at.is_null())
        .order(comments::id.asc())
        .select((comments::author_id, comments::body, comments::created_at, comments::private))
        .into_boxed();
    if !with_private {
        query = query.filter(comments::private.eq(false));
    }
    let rows: Vec<(i64, String, chrono::NaiveDateTime, bool)> = query.load(connection)?;
    for (author, body, created_at, private) in rows {
        diesel::insert_into(comments::table)
            .values((
                comments::item_id.eq(copy),
                comments::author_id.eq(author),
                comments::body.eq(body),
                comments::created_at.eq(created_at),
                comments::private.eq(private),
            ))
            .execute(connection)?;
    }
    Ok(())
}

fn copy_attachments(connection: &mut DbConnection, original: ItemId, copy: ItemId) -> Result<()> {
    type Row = (i64, String, String, i64, String, chrono::NaiveDateTime);
    // The files of private notes stay behind: the copy's attachments belong to no comment.
    let rows: Vec<Row> = attachments::table
        .filter(attachments::item_id.eq(original))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            comments::table.filter(comments::id.nullable().eq(attachments::comment_id)).filter(comments::private),
        )))
        .order(attachments::id.asc())
        .select((
            attachments::uploader_id,
            attachments::file_name,
            attachments::content_type,
            attachments::size_bytes,
            attachments::sha256,
            attachments::created_at,
        ))
        .load(connection)?;
    for (uploader, file_name, content_type, size_bytes, sha256, created_at) in rows {
        diesel::insert_into(attachments::table)
            .values((
                attachments::item_id.eq(copy),
                attachments::comment_id.eq(None::<CommentId>),
                attachments::uploader_id.eq(uploader),
                attachments::file_name.eq(file_name),
                attachments::content_type.eq(content_type),
                attachments::size_bytes.eq(size_bytes),
                attachments::sha256.eq(sha256),
                attachments::created_at.eq(created_at),
            ))
            .execute(connection)?;
    }
    Ok(())
}
