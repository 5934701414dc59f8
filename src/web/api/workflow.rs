//! The workflow: everyone signed in reads it; administrators create, change and delete item
//! types, statuses and priorities (`/workflow/{types|statuses|priorities}[/{id}]`) and set
//! the moves allowed out of a status (`/workflow/statuses/{id}/transitions`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::model::ids::StatusId;
use crate::model::workflow::Workflow;
use crate::model::workflow::edit::{self, EntryRef, EntryUpdate, Kind, NewEntry};
use crate::web::AppState;
use crate::web::auth::{Admin, Caller};
use crate::web::error::ApiError;
use crate::web::input::Json;

/// Item types, statuses, priorities and the allowed status transitions.
pub async fn get_workflow(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let workflow = state.database.run(Workflow::load).await?;
    Ok(HttpResponse::Ok().json(workflow))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntryBody {
    name: String,
    /// Statuses only.
    is_closed: Option<bool>,
}

pub async fn create_entry(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<String>,
    body: Json<NewEntryBody>,
) -> Result<HttpResponse, ApiError> {
    let kind = Kind::parse(&path.into_inner())?;
    let body = body.into_inner();
    let created = state
        .database
        .write(move |connection| {
            edit::create(connection, &caller.user, kind, NewEntry { name: body.name, is_closed: body.is_closed })
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryUpdateBody {
    name: Option<String>,
    position: Option<i32>,
    /// Statuses only.
    is_closed: Option<bool>,
}

pub async fn update_entry(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<(String, i64)>,
    body: Json<EntryUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let (segment, id) = path.into_inner();
    let entry = EntryRef::new(Kind::parse(&segment)?, id);
    let body = body.into_inner();
    let changes = EntryUpdate { name: body.name, position: body.position, is_closed: body.is_closed };
    let updated =
        state.database.write(move |connection| edit::update(connection, &caller.user, entry, changes)).await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn delete_entry(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (segment, id) = path.into_inner();
    let entry = EntryRef::new(Kind::parse(&segment)?, id);
    state.database.write(move |connection| edit::delete(connection, &caller.user, entry)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovesBody {
    to: Vec<StatusId>,
}

/// Replaces the statuses an item in this status may move to.
pub async fn set_transitions(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<StatusId>,
    body: Json<MovesBody>,
) -> Result<HttpResponse, ApiError> {
    let from = path.into_inner();
    let to = body.into_inner().to;
    let moves =
        state.database.write(move |connection| edit::set_moves_from(connection, &caller.user, from, &to)).await?;
    Ok(HttpResponse::Ok().json(moves))
}
