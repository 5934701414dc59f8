//! Projects and their members.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::model::ids::{TypeId, UserId};
use crate::model::membership;
use crate::model::permission::{Permission, Role};
use crate::model::project::{self, NewProject, ProjectKeyOrId, ProjectUpdate, types};
use crate::web::AppState;
use crate::web::api::double_option;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::input::Json;

pub async fn list_projects(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let projects = state.database.run(move |connection| project::list_readable(connection, &caller.user)).await?;
    Ok(HttpResponse::Ok().json(json!({"projects": projects})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProjectBody {
    key: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    is_public: bool,
}

pub async fn create_project(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewProjectBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let created = state
        .database
        .write(move |connection| {
            project::create(
                connection,
                &caller.user,
                NewProject { key: body.key, name: body.name, description: body.description, is_public: body.is_public },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_project(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let (found, _) = state
        .database
        .run(move |connection| project::get_with(connection, &caller.user, &reference, Permission::View))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdateBody {
    name: Option<String>,
    description: Option<String>,
    is_public: Option<bool>,
}

pub async fn update_project(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
    body: Json<ProjectUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let body = body.into_inner();
    let updated = state
        .database
        .write(move |connection| {
            project::update(
                connection,
                &caller.user,
                &reference,
                ProjectUpdate { name: body.name, description: body.description, is_public: body.is_public },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn list_members(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let members = state.database.run(move |connection| membership::list(connection, &caller.user, &reference)).await?;
    Ok(HttpResponse::Ok().json(json!({"members": members})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    role: String,
}

pub async fn set_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ProjectKeyOrId, i64)>,
    body: Json<MemberBody>,
) -> Result<HttpResponse, ApiError> {
    let (reference, user_id) = path.into_inner();
    let role = Role::parse(&body.role)?;
    let member = state
        .database
        .write(move |connection| membership::set_role(connection, &caller.user, &reference, UserId(user_id), role))
        .await?;
    Ok(HttpResponse::Ok().json(member))
}

pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ProjectKeyOrId, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (reference, user_id) = path.into_inner();
    state
        .database
        .write(move |connection| membership::remove(connection, &caller.user, &reference, UserId(user_id)))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The item types the project uses (`all`: it uses every type, including ones added later).
pub async fn get_types(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let chosen = state.database.run(move |connection| types::get(connection, &caller.user, &reference)).await?;
    Ok(HttpResponse::Ok().json(chosen))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypesBody {
    /// Type ids, or `null` for every type.
    #[serde(default, deserialize_with = "double_option")]
    types: Option<Option<Vec<TypeId>>>,
}

/// Sets the item types the project uses (administrators and the project's managers).
pub async fn set_types(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ProjectKeyOrId>,
    body: Json<TypesBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let chosen = body
        .into_inner()
        .types
        .ok_or_else(|| Error::invalid("types", "is required: a list of item type ids, or null for every type"))?;
    let updated = state
        .database
        .write(move |connection| types::set(connection, &caller.user, &reference, chosen.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}
