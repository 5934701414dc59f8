//! The signed-in user's own account: name, e-mail, notifications, password, and personal
//! API tokens (a new token's secret is shown once, on the page that created it).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::Error;
use crate::model::auth::{self, ApiToken};
use crate::model::ids::TokenId;
use crate::model::notification::choices::{self, Choices, ChoicesUpdate, Scope};
use crate::model::user::{self, UserUpdate};
use crate::web::AppState;
use crate::web::input::form_pairs;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{CSRF_FIELD, Viewer, check_csrf, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, render, see_other};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    name: String,
    email: String,
    /// An IANA zone name; empty: the browser's zone.
    #[serde(default)]
    time_zone: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    login: String,
    form: ProfileForm,
    tokens: Vec<ApiToken>,
    /// What the user wants mailed.
    choices: Choices,
    /// The kinds of news, as (kind, what the page calls it).
    kinds: [(&'static str, &'static str); 7],
    /// The secret of a token just created, shown once.
    new_token: Option<String>,
    errors: FieldErrors,
    notice: Option<Notice>,
}

impl ProfilePage {
    /// The zones of the IANA database, by name (sorted once per process).
    fn zones(&self) -> &'static [&'static str] {
        static ZONES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
            let mut zones: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name()).collect();
            zones.sort_unstable();
            zones
        });
        &ZONES
    }

    fn zone_chosen(&self, zone: &str) -> bool {
        self.form.time_zone == zone
    }

    /// Whether the user wants news of this kind mailed.
    fn wants(&self, kind: &str) -> bool {
        self.choices.events.get(kind).copied().unwrap_or(false)
    }
}

/// What the page shows besides the user's stored values.
#[derive(Default)]
struct Shown {
    form: Option<ProfileForm>,
    new_token: Option<String>,
    errors: FieldErrors,
    notice: Option<Notice>,
}

async fn profile_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let (tokens, choices) = state
        .database
        .run(move |connection| Ok((auth::list_tokens(connection, user.id)?, choices::get(connection, &user)?)))
        .await?;
    let stored = ProfileForm {
        name: viewer.user.name.clone(),
        email: viewer.user.email.clone(),
        time_zone: viewer.user.time_zone.clone().unwrap_or_default(),
    };
    render(
        status,
        &ProfilePage {
            chrome: viewer.chrome(),
            login: viewer.user.login.clone(),
            form: shown.form.unwrap_or(stored),
            tokens,
            choices,
            kinds: KIND_NAMES,
            new_token: shown.new_token,
            errors: shown.errors,
            notice: shown.notice,
        },
    )
}

fn invalid(field_error: crate::error::FieldError) -> Shown {
    Shown {
        notice: Some(Notice { kind: "error", text: format!("Not saved: {}", field_error.message) }),
        errors: FieldErrors::one(&field_error.field, field_error.message),
        ..Shown::default()
    }
}

/// What the profile page is told after a save.
#[derive(Deserialize)]
pub struct ProfileQuery {
    saved: Option<String>,
}

pub async fn show_profile(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = match query.saved.as_deref() {
        Some("profile") => Some("Your profile was saved."),
        Some("notifications") => Some("Your notification choices were saved."),
        Some("token") => Some("The token was revoked: it no longer signs anything in."),
        _ => None,
    }
    .map(|text| Notice { kind: "ok", text: text.into() });
    profile_page(&state, &viewer, StatusCode::OK, Shown { notice, ..Shown::default() }).await
}

pub async fn update_profile(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: ProfileForm = read_form(&viewer, &body)?;
    let changes = UserUpdate {
        name: Some(form.name.clone()),
        email: Some(form.email.clone()),
        time_zone: Some(form.time_zone.clone()),
        ..UserUpdate::default()
    };
    let actor = viewer.user.clone();
    match state.database.write(move |connection| user::update_own(connection, &actor, changes, None, None)).await {
        Ok(_) => Ok(see_other("/profile?saved=profile")),
        Err(Error::Invalid(field_error)) => {
            let shown = Shown { form: Some(form), ..invalid(field_error) };
            profile_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The kinds of news as the page names them.
const KIND_NAMES: [(&str, &str); 7] = [
    ("created", "A new item"),
    ("commented", "A comment"),
    ("status", "A status change"),
    ("assigned", "An item assigned to me"),
    ("updated", "Other changes (fields, assignee, planning)"),
    ("mentioned", "A mention of me"),
    ("linked", "A link added or removed"),
];

/// The notification form: the scope (a radio group), a checkbox per kind of news
/// (`event.<kind>`, present when ticked) and the checkboxes of own changes, watching when
/// mentioned and the daily digest.
pub async fn update_notifications(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let pairs = form_pairs(&body)?;
    check_csrf(&viewer, pairs.iter().find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value.as_str()))?;
    let value = |name: &str| pairs.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str());
    let scope = match value("scope") {
        Some("all") => Scope::All,
        Some("involved") => Scope::Involved,
        Some("mentions") => Scope::Mentions,
        Some("none") => Scope::None,
        other => {
            let field_error = crate::error::FieldError {
                field: "scope".into(),
                message: format!("choose which items to hear about (got {:?})", other.unwrap_or("nothing")),
            };
            return profile_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, invalid(field_error)).await;
        }
    };
    let update = ChoicesUpdate {
        scope: Some(scope),
        events: Some(
            KIND_NAMES.iter().map(|(kind, _)| (kind.to_string(), value(&format!("event.{kind}")).is_some())).collect(),
        ),
        own_changes: Some(value("own_changes").is_some()),
        watch_when_mentioned: Some(value("watch_when_mentioned").is_some()),
        digest: Some(value("digest").is_some()),
    };
    let actor = viewer.user.clone();
    state.database.write(move |connection| choices::set(connection, &actor, update)).await?;
    Ok(see_other("/profile?saved=notifications#notifications"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

/// Changing the password ends every other session of the user and revokes their API tokens;
/// this session stays signed in.
pub async fn change_password(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: PasswordForm = read_form(&viewer, &body)?;
    if form.new_password != form.repeat_password {
        let shown = invalid(crate::error::FieldError {
            field: "repeat_password".into(),
            message: "does not match the new password".into(),
        });
        return profile_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    }
    let (actor, session) = (viewer.user.clone(), viewer.session_secret.clone());
    let changes = UserUpdate { password: Some(form.new_password), ..UserUpdate::default() };
    let current = form.current_password;
    let outcome = state
        .database
        .write(move |connection| user::update_own(connection, &actor, changes, Some(&current), Some(&session)))
        .await;
    match outcome {
        Ok(_) => {
            let notice = Notice {
                kind: "ok",
                text: "Password changed. Your other sessions were signed out and your API tokens revoked.".into(),
            };
            profile_page(&state, &viewer, StatusCode::OK, Shown { notice: Some(notice), ..Shown::default() }).await
        }
        Err(Error::Invalid(field_error)) => {
            profile_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, invalid(field_error)).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: TokenForm = read_form(&viewer, &body)?;
    let user_id = viewer.user.id;
    match state.database.write(move |connection| auth::create_token(connection, user_id, &form.name)).await {
        Ok((token, secret)) => {
            let shown = Shown {
                new_token: Some(secret),
                notice: Some(Notice {
                    kind: "ok",
                    text: format!("Token \"{}\" created. Copy it now: it is shown only once.", token.name),
                }),
                ..Shown::default()
            };
            profile_page(&state, &viewer, StatusCode::OK, shown).await
        }
        Err(Error::Invalid(field_error)) => {
            let field_error = crate::error::FieldError { field: "token_name".into(), ..field_error };
            profile_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, invalid(field_error)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The revoke form carries only its CSRF token.
#[derive(Deserialize)]
pub struct RevokeForm {}

pub async fn revoke_token(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<TokenId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let _: RevokeForm = read_form(&viewer, &body)?;
    let (user_id, token_id) = (viewer.user.id, path.into_inner());
    state.database.write(move |connection| auth::revoke_token(connection, user_id, token_id)).await?;
    Ok(see_other("/profile?saved=token#tokens"))
}
