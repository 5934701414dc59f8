//! Refused inbound mail, for administrators: list, reprocess, dismiss.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::mail::failures;
use crate::mail::inbound::Outcome;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::ApiError;

/// How many failures the list shows.
const LISTED: i64 = 200;

pub async fn list_failures(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let listed = state.database.run(|connection| failures::list(connection, LISTED)).await?;
    Ok(HttpResponse::Ok().json(json!({"failures": listed})))
}

/// What became of a mail, as the API tells it.
pub fn outcome_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Created(item_id) => json!({"outcome": "created", "item_id": item_id}),
        Outcome::Commented(item_id, comment_id) => {
            json!({"outcome": "commented", "item_id": item_id, "comment_id": comment_id})
        }
        Outcome::AlreadyStored => json!({"outcome": "already_stored"}),
        Outcome::AlreadyRefused => json!({"outcome": "already_refused"}),
        Outcome::Failed(reason) => json!({"outcome": "refused", "reason": reason}),
    }
}

pub async fn reprocess_failure(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (files, settings) = (state.files.clone(), state.settings.clone());
    let outcome =
        state.database.write(move |connection| failures::reprocess(connection, &files, &settings, id)).await?;
    Ok(HttpResponse::Ok().json(outcome_json(&outcome)))
}

pub async fn delete_failure(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.database.write(move |connection| failures::delete(connection, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
