//! Who is calling: a personal API token (`Authorization: Bearer baton_…`) or a session
//! cookie. Cookie-authenticated requests that change state must also carry the
//! session's CSRF token in `X-CSRF-Token`, so another site cannot act for the user.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};

use crate::error::Error;
use crate::model::auth;
use crate::model::user::User;
use crate::web::AppState;
use crate::web::error::ApiError;

pub const SESSION_COOKIE: &str = "baton_session";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The session cookie's secret, when the caller used one.
    pub session_secret: Option<String>,
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.is_admin { Ok(()) } else { Err(Error::forbidden("only administrators may do this").into()) }
    }
}

/// An administrator behind an API request: a handler that takes one answers 403 to anyone
/// else before it runs.
#[derive(Debug, Clone)]
pub struct Admin(Caller);

impl std::ops::Deref for Admin {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        Box::pin(async move {
            let caller = caller.await?;
            caller.require_admin()?;
            Ok(Admin(caller))
        })
    }
}

fn bearer_token(request: &HttpRequest) -> Option<String> {
    let header = request.headers().get("Authorization")?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_token(request);
        let session_secret = request.cookie(SESSION_COOKIE).map(|cookie| cookie.value().to_string());
        let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf_header = request.headers().get(CSRF_HEADER).and_then(|value| value.to_str().ok()).map(str::to_string);
        Box::pin(async move {
            let state = state.ok_or_else(|| Error::internal("request", "application state missing"))?;
            if let Some(token) = bearer {
                let user = state
                    .database
                    .run(move |connection| auth::find_token_user(connection, &token))
                    .await?
                    .ok_or_else(|| Error::Unauthenticated("the API token is invalid or revoked".into()))?;
                return Ok(Caller { user, session_secret: None });
            }
            let Some(secret) = session_secret else {
                return Err(Error::Unauthenticated(
                    "sign in with POST /api/v1/session or send Authorization: Bearer <token>".into(),
                )
                .into());
            };
            let lookup_secret = secret.clone();
            let session = state
                .database
                .run(move |connection| auth::find_session(connection, &lookup_secret))
                .await?
                .ok_or_else(|| {
                Error::Unauthenticated("the session has expired or was signed out; sign in again".into())
            })?;
            if changes_state && csrf_header.as_deref() != Some(session.csrf_token.as_str()) {
                return Err(Error::forbidden(format!(
                    "missing or wrong {CSRF_HEADER} header (the csrf_token from sign-in)"
                ))
                .into());
            }
            Ok(Caller { user: session.user, session_secret: Some(secret) })
        })
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the site is served over HTTPS.
pub fn session_cookie(state: &AppState, secret: String, lifetime: std::time::Duration) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, secret)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.base_url().starts_with("https://"))
        .max_age(CookieDuration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)))
        .finish()
}

pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, String::new(), std::time::Duration::ZERO);
    cookie.make_removal();
    cookie
}
