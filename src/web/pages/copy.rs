//! Copying an item from its page: a form with the target project and what to take along, then
//! the copy's page (`item::copying`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::Error;
use crate::model::ids::ItemId;
use crate::model::item::copying::{self, Copy};
use crate::model::item::{self, ItemView};
use crate::model::permission::Permission;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::web::AppState;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{Chrome, Notice, render, see_other};

/// The form's choices, as sent (checkboxes send `on` when ticked).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CopyForm {
    project: String,
    comments: Option<String>,
    attachments: Option<String>,
    links: Option<String>,
    drop: Option<String>,
}

#[derive(Template)]
#[template(path = "item_copy.html")]
struct CopyPage {
    chrome: Chrome,
    item: ItemView,
    /// The projects the viewer may create items in.
    projects: Vec<Project>,
    form: CopyForm,
    notice: Option<Notice>,
}

async fn copy_page(
    state: &AppState,
    viewer: &Viewer,
    id: ItemId,
    status: StatusCode,
    form: CopyForm,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let (item, projects) = state
        .database
        .run(move |connection| {
            let item = item::get(connection, &user, id)?;
            Ok((item, project::list_allowing(connection, &user, Permission::Report)?))
        })
        .await?;
    let form =
        CopyForm { project: if form.project.is_empty() { item.project.key.clone() } else { form.project }, ..form };
    render(status, &CopyPage { chrome: viewer.chrome(), item, projects, form, notice })
}

pub async fn show_copy(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
) -> Result<HttpResponse, PageError> {
    let form = CopyForm { comments: Some("on".into()), attachments: Some("on".into()), ..CopyForm::default() };
    copy_page(&state, &viewer, path.into_inner(), StatusCode::OK, form, None).await
}

pub async fn copy_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: CopyForm = read_form(&viewer, &body)?;
    let request = Copy {
        project: Some(ProjectKeyOrId::parse(&form.project)),
        type_id: None,
        comments: form.comments.is_some(),
        attachments: form.attachments.is_some(),
        links: form.links.is_some(),
        drop_unmapped: form.drop.is_some(),
    };
    let user = viewer.user.clone();
    match state.database.write(move |connection| copying::copy_item(connection, &user, id, request)).await {
        Ok(copy) => Ok(see_other(&format!("/items/{}?done=copied", copy.id))),
        Err(Error::Invalid(field_error)) => {
            let notice = Notice { kind: "error", text: format!("Not copied: {}", field_error.message) };
            copy_page(&state, &viewer, id, StatusCode::UNPROCESSABLE_ENTITY, form, Some(notice)).await
        }
        Err(Error::Conflict(message)) => {
            let notice = Notice { kind: "error", text: format!("Not copied: {message}") };
            copy_page(&state, &viewer, id, StatusCode::CONFLICT, form, Some(notice)).await
        }
        Err(other) => Err(other.into()),
    }
}
