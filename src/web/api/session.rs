//! Sign in / out with a session cookie, and personal API tokens.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::model::auth;
use crate::model::ids::TokenId;
use crate::web::AppState;
use crate::web::auth::{Caller, expired_session_cookie, session_cookie};
use crate::web::error::ApiError;
use crate::web::input::Json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    login: String,
    password: String,
}

pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Json<SignInBody>,
) -> Result<HttpResponse, ApiError> {
    let address = state.client_address(&request).map_or_else(|| "unknown".into(), |address| address.to_string());
    let settings = state.settings.sessions.clone();
    let body = body.into_inner();
    let grant = state
        .database
        .write(move |connection| auth::sign_in(connection, &body.login, &body.password, &address, &settings))
        .await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&state, grant.secret, grant.lifetime))
        .json(json!({"user": grant.user, "csrf_token": grant.csrf_token})))
}

pub async fn show_session(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let csrf_token = match caller.session_secret {
        Some(secret) => state
            .database
            .run(move |connection| auth::find_session(connection, &secret))
            .await?
            .map(|session| session.csrf_token),
        None => None,
    };
    Ok(HttpResponse::Ok().json(json!({"user": caller.user, "csrf_token": csrf_token})))
}

pub async fn sign_out(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    if let Some(secret) = caller.session_secret {
        state.database.write(move |connection| auth::sign_out(connection, &secret)).await?;
    }
    Ok(HttpResponse::NoContent().cookie(expired_session_cookie(&state)).finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    name: String,
}

pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let (token, secret) =
        state.database.write(move |connection| auth::create_token(connection, caller.user.id, &body.name)).await?;
    let mut body = json!(token);
    body["token"] = json!(secret);
    Ok(HttpResponse::Created().json(body))
}

pub async fn list_tokens(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tokens = state.database.run(move |connection| auth::list_tokens(connection, caller.user.id)).await?;
    Ok(HttpResponse::Ok().json(json!({"tokens": tokens})))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TokenId>,
) -> Result<HttpResponse, ApiError> {
    let token_id = path.into_inner();
    state.database.write(move |connection| auth::revoke_token(connection, caller.user.id, token_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
