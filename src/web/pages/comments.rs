//! A comment's own pages: its edit form, the confirmation of its deletion and, for project
//! managers, the texts it held before its edits. Each action returns to the comment on its
//! item's page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::Error;
use crate::model::comment::{self, Comment};
use crate::model::ids::CommentId;
use crate::model::item::{self, ItemView};
use crate::model::reference::UnknownLogins;
use crate::model::{attachment, permission};
use crate::web::AppState;
use crate::web::pages::confirm::{self, Confirmation, is_confirmed};
use crate::web::pages::error::PageError;
use crate::web::pages::item::after_comment;
use crate::web::pages::markdown::{self, Place, TaskBoxes};
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{Chrome, FieldErrors, page, render, see_other};

#[derive(Template)]
#[template(path = "comment_edit.html")]
struct EditPage {
    chrome: Chrome,
    item: ItemView,
    comment: Comment,
    body: String,
    /// The text rendered, after Preview.
    preview: Option<String>,
    errors: FieldErrors,
}

/// The comment and its item, for someone who may change the comment.
async fn editable(state: &AppState, viewer: &Viewer, id: CommentId) -> Result<(Comment, ItemView), Error> {
    let user = viewer.user.clone();
    state
        .database
        .run(move |connection| {
            let comment = comment::editable(connection, &user, id)?;
            let item = item::get(connection, &user, comment.item_id)?;
            Ok((comment, item))
        })
        .await
}

pub async fn show_edit(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<CommentId>,
) -> Result<HttpResponse, PageError> {
    let (comment, item) = editable(&state, &viewer, path.into_inner()).await?;
    let body = comment.body.clone();
    page(&EditPage { chrome: viewer.chrome(), item, comment, body, preview: None, errors: FieldErrors::default() })
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    body: String,
    /// Sent by the Preview button: show the text rendered instead of saving it.
    preview: Option<String>,
}

pub async fn save_edit(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<CommentId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: EditForm = read_form(&viewer, &body)?;
    let (user, text) = (viewer.user.clone(), form.body.clone());
    if form.preview.is_some() {
        let (comment, item) = editable(&state, &viewer, id).await?;
        let place = Place::Item(item.id);
        let html = state.database.run(move |connection| markdown::preview(connection, &user, place, &text)).await?;
        let page = EditPage {
            chrome: viewer.chrome(),
            item,
            comment,
            body: form.body,
            preview: Some(html),
            errors: FieldErrors::default(),
        };
        return render(StatusCode::OK, &page);
    }
    match state
        .database
        .write(move |connection| comment::edit(connection, &user, id, &text, None, UnknownLogins::Refuse))
        .await
    {
        Ok(saved) => Ok(see_other(&after_comment(saved.comment.item_id, id, &saved.not_told, "comment-saved"))),
        Err(Error::Invalid(field_error)) => {
            let (comment, item) = editable(&state, &viewer, id).await?;
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &EditPage {
                    chrome: viewer.chrome(),
                    item,
                    comment,
                    body: form.body,
                    preview: None,
                    errors: FieldErrors::one("body", field_error.message),
                },
            )
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
}

pub async fn delete(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<CommentId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: DeleteForm = read_form(&viewer, &body)?;
    if !is_confirmed(form.confirm.as_deref()) {
        let (comment, _) = editable(&state, &viewer, id).await?;
        let confirmation = deletion(&comment);
        let back = format!("/items/{}#comment-{id}", comment.item_id);
        return confirm::ask(&viewer, &confirmation, &format!("/comments/{id}/delete"), &[], &back);
    }
    let user = viewer.user.clone();
    let deleted = state.database.write(move |connection| comment::delete(connection, &user, id)).await?;
    Ok(see_other(&format!("/items/{}?done=comment-deleted#comment-{id}", deleted.item_id)))
}

/// What is asked before a comment is deleted, on the item page and on the confirmation page.
pub fn deletion(comment: &Comment) -> Confirmation {
    Confirmation {
        title: format!("Delete the comment of {}?", comment.author.name),
        message: "Its text and earlier versions are removed for good; a marker says who deleted it and when.".into(),
        button: "Delete".into(),
    }
}

/// A text of the comment, rendered for the page.
struct VersionView {
    author: String,
    written_at: chrono::NaiveDateTime,
    html: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "comment_versions.html")]
struct VersionsPage {
    chrome: Chrome,
    item: ItemView,
    comment: Comment,
    versions: Vec<VersionView>,
}

pub async fn show_versions(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<CommentId>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let user = viewer.user.clone();
    let (comment, versions, item, targets) = state
        .database
        .run(move |connection| {
            let (comment, versions) = comment::versions(connection, &user, id)?;
            let item = item::get(connection, &user, comment.item_id)?;
            // Only managers see versions: the item's attachments, private notes' too.
            let (readable, _) = permission::item_access(connection, &user, comment.item_id)?;
            let attachments = attachment::of_item(connection, readable, true)?;
            let texts =
                std::iter::once(comment.body.as_str()).chain(versions.iter().map(|version| version.body.as_str()));
            let targets =
                markdown::targets(connection, &user, Some(item.project.id), texts)?.with_attachments(&attachments);
            Ok((comment, versions, item, targets))
        })
        .await?;
    let current = VersionView {
        author: comment.edited_by.as_ref().unwrap_or(&comment.author).name.clone(),
        written_at: comment.edited_at.unwrap_or(comment.created_at),
        html: markdown::render(&comment.body, TaskBoxes::Disabled, &targets),
        current: true,
    };
    let versions = std::iter::once(current)
        .chain(versions.into_iter().map(|version| VersionView {
            author: version.written_by.name,
            written_at: version.written_at,
            html: markdown::render(&version.body, TaskBoxes::Disabled, &targets),
            current: false,
        }))
        .collect();
    page(&VersionsPage { chrome: viewer.chrome(), item, comment, versions })
}
