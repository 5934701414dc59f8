//! Comments: those of an item, and one comment to read, edit or delete, with the texts it held
//! before its edits.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::model::comment;
use crate::model::ids::CommentId;
use crate::model::item::key::ItemReference;
use crate::model::reference::UnknownLogins;
use crate::web::AppState;
use crate::web::api::{read_item, write_item};
use crate::web::auth::{Caller, Credentials};
use crate::web::error::ApiError;
use crate::web::input::Json;

/// A comment's text, new or edited, and whether it is a private note.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
    private: Option<bool>,
}

pub async fn list_comments(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let comments = read_item(&state, credentials, reference, comment::list).await?;
    Ok(HttpResponse::Ok().json(json!({"comments": comments})))
}

pub async fn create_comment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    body: Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let created = write_item(&state, caller.user, reference, move |connection, user, id| {
        comment::create(connection, user, id, &body.body, body.private.unwrap_or(false), UnknownLogins::Refuse)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_comment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CommentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state.database.run(move |connection| comment::get(connection, &caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

pub async fn update_comment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CommentId>,
    body: Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let edited = state
        .database
        .write(move |connection| {
            comment::edit(connection, &caller.user, id, &body.body, body.private, UnknownLogins::Refuse)
        })
        .await?;
    Ok(HttpResponse::Ok().json(edited))
}

pub async fn delete_comment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CommentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let deleted = state.database.write(move |connection| comment::delete(connection, &caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CommentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (current, versions) =
        state.database.run(move |connection| comment::versions(connection, &caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(json!({"comment": current, "versions": versions})))
}
