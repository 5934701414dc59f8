//! Full-text search over the items the caller may see, and (administrators) rebuilding the
//! index.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::search::query;
use crate::search::rebuild;
use crate::search::status::RebuildStatus;
use crate::web::AppState;
use crate::web::api::JsonBody;
use crate::web::auth::{Admin, Credentials};
use crate::web::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn search_items(
    state: web::Data<AppState>,
    credentials: Credentials,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let SearchQuery { q, limit, offset } = query.into_inner();
    let index = state.search.clone();
    let results = state
        .database
        .run(move |connection| {
            let caller = credentials.caller(connection)?;
            let (limit, offset) = (limit.unwrap_or(25), offset.unwrap_or(0));
            JsonBody::of(&query::search(connection, &index, &caller.user, &caller.definitions, &q, limit, offset)?)
        })
        .await?;
    Ok(results.ok())
}

/// Asks the master to rebuild the index: 202 with the new request, or 200 with the one
/// already waiting or running.
pub async fn request_rebuild(state: web::Data<AppState>, caller: Admin) -> Result<HttpResponse, ApiError> {
    let reason = format!("requested by admin {}", caller.user.login);
    let (request, created) = state.database.write(move |connection| rebuild::request(connection, &reason)).await?;
    let status = if created { actix_web::http::StatusCode::ACCEPTED } else { actix_web::http::StatusCode::OK };
    Ok(HttpResponse::build(status).json(RebuildStatus::from(request)))
}

pub async fn list_rebuilds(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let recent = state.database.run(|connection| rebuild::recent(connection, 20)).await?;
    Ok(HttpResponse::Ok().json(recent.into_iter().map(RebuildStatus::from).collect::<Vec<_>>()))
}

pub async fn get_rebuild(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state.database.run(move |connection| rebuild::get(connection, id)).await?;
    Ok(HttpResponse::Ok().json(RebuildStatus::from(found)))
}
