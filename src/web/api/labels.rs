//! Labels of a project.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::model::ids::LabelId;
use crate::model::label::{self, LabelChanges};
use crate::model::project::ProjectKeyOrId;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::input::Json;

pub async fn list_labels(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let labels = state.database.run(move |connection| label::list(connection, &caller.user, &reference)).await?;
    Ok(HttpResponse::Ok().json(json!({"labels": labels})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLabelBody {
    name: String,
    /// `#rrggbb`.
    color: String,
}

pub async fn create_label(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
    body: Json<NewLabelBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let NewLabelBody { name, color } = body.into_inner();
    let created = state
        .database
        .write(move |connection| label::create(connection, &caller.user, &reference, &name, &color))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_label(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<LabelId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state.database.run(move |connection| label::get(connection, &caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelChangesBody {
    name: Option<String>,
    color: Option<String>,
}

pub async fn update_label(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<LabelId>,
    body: Json<LabelChangesBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let LabelChangesBody { name, color } = body.into_inner();
    let updated = state
        .database
        .write(move |connection| label::update(connection, &caller.user, id, LabelChanges { name, color }))
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn delete_label(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<LabelId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.database.write(move |connection| label::delete(connection, &caller.user, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
