//! Versions of a project, and the roadmap's figures for each.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::model::ids::VersionId;
use crate::model::project::ProjectKeyOrId;
use crate::model::version::{self, NewVersion, OpenItems, VersionChanges, roadmap};
use crate::web::AppState;
use crate::web::api::double_option;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::input::Json;

pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let versions = state.database.run(move |connection| version::list(connection, &caller.user, &reference)).await?;
    Ok(HttpResponse::Ok().json(json!({"versions": versions})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVersionBody {
    name: String,
    #[serde(default)]
    description: String,
    due_date: Option<NaiveDate>,
    status: Option<String>,
    #[serde(default)]
    shared: bool,
}

pub async fn create_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
    body: Json<NewVersionBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let NewVersionBody { name, description, due_date, status, shared } = body.into_inner();
    let new_version = NewVersion { name, description, due_date, status, shared };
    let created = state
        .database
        .write(move |connection| version::create(connection, &caller.user, &reference, new_version))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<VersionId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state.database.run(move |connection| version::get(connection, &caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// What becomes of open items when the version closes: `"keep"` or `{"move_to": <id>}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OpenItemsBody {
    Word(String),
    Move { move_to: VersionId },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionChangesBody {
    name: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    due_date: Option<Option<NaiveDate>>,
    status: Option<String>,
    shared: Option<bool>,
    open_items: Option<OpenItemsBody>,
}

pub async fn update_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<VersionId>,
    body: Json<VersionChangesBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let open_items = match body.open_items {
        None => None,
        Some(OpenItemsBody::Word(word)) if word == "keep" => Some(OpenItems::Keep),
        Some(OpenItemsBody::Word(word)) => {
            return Err(Error::invalid(
                "open_items",
                format!("{word:?} is not an answer: use \"keep\" or {{\"move_to\": <version id>}}"),
            )
            .into());
        }
        Some(OpenItemsBody::Move { move_to }) => Some(OpenItems::MoveTo(move_to)),
    };
    let changes = VersionChanges {
        name: body.name,
        description: body.description,
        due_date: body.due_date,
        status: body.status,
        shared: body.shared,
        open_items,
    };
    let updated =
        state.database.write(move |connection| version::update(connection, &caller.user, id, changes)).await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn delete_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<VersionId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.database.write(move |connection| version::delete(connection, &caller.user, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The project's roadmap: each version with its progress and first items.
pub async fn show_roadmap(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let found = state.database.run(move |connection| roadmap::roadmap(connection, &caller.user, &reference)).await?;
    Ok(HttpResponse::Ok().json(found))
}
