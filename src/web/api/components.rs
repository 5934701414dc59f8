//! Components of a project.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::model::component::{self, ComponentChanges, NewComponent};
use crate::model::ids::{ComponentId, UserId};
use crate::model::project::ProjectKeyOrId;
use crate::web::AppState;
use crate::web::api::double_option;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::input::Json;

pub async fn list_components(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let components =
        state.database.run(move |connection| component::list(connection, &caller.user, &reference)).await?;
    Ok(HttpResponse::Ok().json(json!({"components": components})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComponentBody {
    name: String,
    #[serde(default)]
    description: String,
    /// A user id: new items of the component without an assignee get them.
    default_assignee: Option<UserId>,
}

pub async fn create_component(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
    body: Json<NewComponentBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let NewComponentBody { name, description, default_assignee } = body.into_inner();
    let new_component = NewComponent { name, description, default_assignee };
    let created = state
        .database
        .write(move |connection| component::create(connection, &caller.user, &reference, new_component))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_component(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ComponentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state.database.run(move |connection| component::get(connection, &caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentChangesBody {
    name: Option<String>,
    description: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    default_assignee: Option<Option<UserId>>,
}

pub async fn update_component(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ComponentId>,
    body: Json<ComponentChangesBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ComponentChangesBody { name, description, default_assignee } = body.into_inner();
    let changes = ComponentChanges { name, description, default_assignee };
    let updated =
        state.database.write(move |connection| component::update(connection, &caller.user, id, changes)).await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn delete_component(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ComponentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.database.write(move |connection| component::delete(connection, &caller.user, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
