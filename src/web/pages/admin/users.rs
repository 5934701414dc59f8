//! Accounts, for administrators: create, deactivate and reactivate, grant or take the
//! administrator flag, reset a password. The model refuses to remove the last active
//! administrator; the page shows why. Making an administrator and deactivating ask first.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::Error;
use crate::model::ids::UserId;
use crate::model::user::{self, NewUser, User, UserUpdate};
use crate::web::AppState;
use crate::web::pages::confirm::{self, Confirmation};
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{AdminViewer, Viewer, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, render};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    login: String,
    name: String,
    email: String,
    password: String,
    is_admin: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<User>,
    form: NewUserForm,
    errors: FieldErrors,
    notice: Option<Notice>,
}

async fn users_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    form: NewUserForm,
    errors: FieldErrors,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let users = state.database.run(user::list).await?;
    // The form never shows a password back.
    let form = NewUserForm { password: String::new(), ..form };
    render(status, &UsersPage { chrome: viewer.chrome(), users, form, errors, notice })
}

pub async fn list_users(state: web::Data<AppState>, viewer: AdminViewer) -> Result<HttpResponse, PageError> {
    users_page(&state, &viewer, StatusCode::OK, NewUserForm::default(), FieldErrors::default(), None).await
}

pub async fn create_user(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: NewUserForm = read_form(&viewer, &body)?;
    let new_user = NewUser {
        login: form.login.clone(),
        name: form.name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        is_admin: form.is_admin.is_some(),
    };
    match state.database.write(move |connection| user::create(connection, new_user)).await {
        Ok(created) => {
            let notice = Notice { kind: "ok", text: format!("User {} created.", created.login) };
            users_page(&state, &viewer, StatusCode::OK, NewUserForm::default(), FieldErrors::default(), Some(notice))
                .await
        }
        Err(Error::Invalid(field_error)) => {
            let errors = FieldErrors::from(field_error);
            users_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, form, errors, None).await
        }
        Err(Error::Conflict(message)) => {
            let errors = FieldErrors::one("login", message);
            users_page(&state, &viewer, StatusCode::CONFLICT, form, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}

/// Asked before a user is made an administrator (on the page and by `update_user`).
pub fn promotion(user: &User) -> Confirmation {
    Confirmation {
        title: format!("Make {} an administrator?", user.login),
        message: format!(
            "{} will see every project and may manage users, projects, the workflow and the cluster, including \
             taking these rights from others.",
            user.name
        ),
        button: format!("Make {} an administrator", user.login),
    }
}

/// Asked before a user is deactivated.
pub fn deactivation(user: &User) -> Confirmation {
    Confirmation {
        title: format!("Deactivate {}?", user.login),
        message: format!(
            "{} is signed out everywhere at once, their API tokens are revoked, and they can no longer sign in, \
             mail items in or get notification mail. Their items, comments and history stay; reactivating the \
             account lets them sign in again (with new tokens).",
            user.name
        ),
        button: format!("Deactivate {}", user.login),
    }
}

/// One change per form: a button sends the one field it changes (and `confirm=yes` once
/// the user agreed to a dangerous one).
#[derive(Deserialize)]
pub struct UserChangeForm {
    active: Option<String>,
    is_admin: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

fn parse_flag(field: &str, value: Option<String>) -> Result<Option<bool>, Error> {
    match value.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(Error::invalid(field, "must be true or false")),
    }
}

pub async fn update_user(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<UserId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: UserChangeForm = read_form(&viewer, &body)?;
    let id = path.into_inner();
    let changes = UserUpdate {
        active: parse_flag("active", form.active)?,
        is_admin: parse_flag("is_admin", form.is_admin)?,
        password: form.password,
        ..UserUpdate::default()
    };
    if !confirm::is_confirmed(form.confirm.as_deref())
        && (changes.is_admin == Some(true) || changes.active == Some(false))
    {
        let target = state.database.run(move |connection| user::get(connection, id)).await?;
        let question = if changes.is_admin == Some(true) && !target.is_admin {
            Some((promotion(&target), "is_admin", "true"))
        } else if changes.active == Some(false) && target.active {
            Some((deactivation(&target), "active", "false"))
        } else {
            None
        };
        if let Some((question, field, value)) = question {
            let action = format!("/admin/users/{id}");
            return confirm::ask(&viewer, &question, &action, &[(field, value.to_string())], "/admin/users");
        }
    }
    let outcome = state.database.write(move |connection| user::update(connection, id, changes)).await;
    let (status, notice) = match outcome {
        Ok(updated) => (StatusCode::OK, Notice { kind: "ok", text: format!("User {} updated.", updated.login) }),
        Err(error @ (Error::Invalid(_) | Error::Conflict(_))) => {
            let status = if matches!(error, Error::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, Notice { kind: "error", text: format!("Not changed: {}", error.message()) })
        }
        Err(other) => return Err(other.into()),
    };
    users_page(&state, &viewer, status, NewUserForm::default(), FieldErrors::default(), Some(notice)).await
}
