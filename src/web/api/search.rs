//! Full-text search over the items the caller may see.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::search::query;
use crate::web::AppState;
use crate::web::auth::Caller;
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
    caller: Caller,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let SearchQuery { q, limit, offset } = query.into_inner();
    let index = state.search.clone();
    let results = state
        .database
        .run(move |connection| {
            query::search(connection, &index, &caller.user, &q, limit.unwrap_or(25), offset.unwrap_or(0))
        })
        .await?;
    Ok(HttpResponse::Ok().json(results))
}
