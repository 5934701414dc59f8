//! The workflow: everyone signed in reads it; administrators create, change and delete item
//! types, statuses and priorities (`/workflow/{types|statuses|priorities}[/{id}]`), set
//! the moves allowed out of a status (`/workflow/statuses/{id}/transitions`) and give an
//! item type its own moves (`/workflow/types/{id}/transitions`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::model::ids::{StatusId, TypeId};
use crate::model::workflow::edit::{self, EntryRef, EntryUpdate, Kind, Matrix, NewEntry};
use crate::model::workflow::{Transition, Workflow};
use crate::web::AppState;
use crate::web::api::double_option;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeMovesBody {
    /// The type's own moves, or `null` to follow the global matrix again.
    #[serde(default, deserialize_with = "double_option")]
    transitions: Option<Option<Vec<Transition>>>,
}

/// Gives an item type its own moves (the whole matrix), or returns it to the global one.
pub async fn set_type_transitions(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<TypeId>,
    body: Json<TypeMovesBody>,
) -> Result<HttpResponse, ApiError> {
    let type_id = path.into_inner();
    let moves = body.into_inner().transitions.ok_or_else(|| {
        Error::invalid("transitions", "is required: a list of {\"from\", \"to\"} moves, or null for the global matrix")
    })?;
    let workflow = state
        .database
        .write(move |connection| {
            match moves {
                Some(moves) => {
                    let every_status: Vec<StatusId> =
                        Workflow::load(connection)?.statuses.iter().map(|status| status.id).collect();
                    edit::set_moves_among(connection, &caller.user, Matrix::Type(type_id), &every_status, &moves)?;
                }
                None => {
                    edit::follow_global_moves(connection, &caller.user, type_id)?;
                }
            }
            Workflow::load(connection)
        })
        .await?;
    let item_type = workflow.item_type(type_id)?;
    Ok(HttpResponse::Ok().json(json!({
        "type": item_type,
        "transitions": workflow.moves_of(type_id),
    })))
}
