//! Deleting an item from its page (project managers): a confirmation that names what goes
//! with it, then the deletion, then the project's list saying so.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::model::ids::ItemId;
use crate::model::item::deletion;
use crate::web::AppState;
use crate::web::pages::confirm::{self, Confirmation, is_confirmed};
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{see_other, url_with_query};

#[derive(Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
}

pub async fn delete_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form: DeleteForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    if !is_confirmed(form.confirm.as_deref()) {
        let preview = state.database.run(move |connection| deletion::preview(connection, &user, id)).await?;
        let confirmation = Confirmation {
            title: format!("Delete {} {}?", preview.item.key, preview.item.title),
            message: format!("{} This cannot be undone.", preview.summary()),
            button: "Delete for good".into(),
        };
        return confirm::ask(&viewer, &confirmation, &format!("/items/{id}/delete"), &[], &format!("/items/{id}"));
    }
    let deleted = state.database.write(move |connection| deletion::delete(connection, &user, id)).await?;
    let project = deleted.item.key.rsplit_once('-').map(|(project, _)| project.to_string()).unwrap_or_default();
    Ok(see_other(&url_with_query(&format!("/projects/{project}"), &[("deleted", deleted.item.key)])))
}
