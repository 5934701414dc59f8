//! Accounts: administrators manage everyone; every user manages their own profile.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::model::ids::UserId;
use crate::model::notification::choices::{self, ChoicesUpdate};
use crate::model::user::{self, NewUser, UserUpdate};
use crate::web::AppState;
use crate::web::auth::{Admin, Caller};
use crate::web::error::ApiError;
use crate::web::input::Json;

pub async fn list_users(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let users = state.database.run(user::list).await?;
    Ok(HttpResponse::Ok().json(json!({"users": users})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    login: String,
    name: String,
    email: String,
    password: String,
    #[serde(default)]
    is_admin: bool,
}

pub async fn create_user(
    state: web::Data<AppState>,
    _admin: Admin,
    body: Json<NewUserBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let created = state
        .database
        .write(move |connection| {
            user::create(
                connection,
                NewUser {
                    login: body.login,
                    name: body.name,
                    email: body.email,
                    password: body.password,
                    is_admin: body.is_admin,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if id != caller.user.id {
        caller.require_admin()?;
    }
    let found = state.database.run(move |connection| user::get(connection, id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

pub async fn show_me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.user)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUserUpdateBody {
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
    is_admin: Option<bool>,
    active: Option<bool>,
    email_notifications: Option<bool>,
    time_zone: Option<String>,
}

pub async fn update_user(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<UserId>,
    body: Json<AdminUserUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let body = body.into_inner();
    let updated = state
        .database
        .write(move |connection| {
            user::update(
                connection,
                id,
                UserUpdate {
                    name: body.name,
                    email: body.email,
                    password: body.password,
                    is_admin: body.is_admin,
                    active: body.active,
                    email_notifications: body.email_notifications,
                    time_zone: body.time_zone,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnUpdateBody {
    name: Option<String>,
    email: Option<String>,
    email_notifications: Option<bool>,
    /// An IANA zone name; empty: the browser's zone.
    time_zone: Option<String>,
    /// Changing the password needs the current one.
    current_password: Option<String>,
    new_password: Option<String>,
}

pub async fn update_me(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<OwnUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let updated = state
        .database
        .write(move |connection| {
            user::update_own(
                connection,
                &caller.user,
                UserUpdate {
                    name: body.name,
                    email: body.email,
                    password: body.new_password,
                    email_notifications: body.email_notifications,
                    time_zone: body.time_zone,
                    ..UserUpdate::default()
                },
                body.current_password.as_deref(),
                caller.session_secret.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn show_notifications(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let choices = state.database.run(move |connection| choices::get(connection, &caller.user)).await?;
    Ok(HttpResponse::Ok().json(choices))
}

pub async fn update_notifications(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<ChoicesUpdate>,
) -> Result<HttpResponse, ApiError> {
    let update = body.into_inner();
    let choices = state.database.write(move |connection| choices::set(connection, &caller.user, update)).await?;
    Ok(HttpResponse::Ok().json(choices))
}
