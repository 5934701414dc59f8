//! Who is calling: a personal API token (`Authorization: Bearer baton_…`) or a session
//! cookie. Cookie-authenticated requests that change state must also carry the
//! session's CSRF token in `X-CSRF-Token`, so another site cannot act for the user.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};

use crate::db::DbConnection;
use crate::error::Error;
use crate::model::auth;
use crate::model::definitions::Version;
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
    /// The definitions' version, read with the caller (`auth::SignedIn`).
    pub definitions: Version,
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

/// What a request presents as its sender, read without the database: a bearer token, or a
/// session cookie with the CSRF header a state-changing request must carry. `caller` reads
/// who it is; a handler that uses the database anyway does so in its own task, which spares
/// the request a second one (a hand-off to a blocking thread and back, a pool checkout).
#[derive(Debug, Clone)]
pub enum Credentials {
    Token(String),
    Session { secret: String, changes_state: bool, csrf_header: Option<String> },
}

impl Credentials {
    /// The signed-in user behind the credentials: 401 when the token or session is not (or
    /// no longer) valid, 403 when a state-changing request lacks the session's CSRF token.
    pub fn caller(&self, connection: &mut DbConnection) -> Result<Caller, Error> {
        match self {
            Credentials::Token(token) => {
                let found = auth::find_token_user(connection, token)?.ok_or_else(auth::token_refused)?;
                Ok(Caller { user: found.user, session_secret: None, definitions: found.definitions })
            }
            Credentials::Session { secret, changes_state, csrf_header } => {
                let session = auth::find_session(connection, secret)?.ok_or_else(|| {
                    Error::Unauthenticated("the session has expired or was signed out; sign in again".into())
                })?;
                if *changes_state && csrf_header.as_deref() != Some(session.csrf_token.as_str()) {
                    return Err(Error::forbidden(format!(
                        "missing or wrong {CSRF_HEADER} header (the csrf_token from sign-in)"
                    )));
                }
                Ok(Caller {
                    user: session.user,
                    session_secret: Some(secret.clone()),
                    definitions: session.definitions,
                })
            }
        }
    }
}

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = Ready<Result<Credentials, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        if let Some(token) = bearer_token(request) {
            return ready(Ok(Credentials::Token(token)));
        }
        let Some(cookie) = request.cookie(SESSION_COOKIE) else {
            return ready(Err(Error::Unauthenticated(
                "sign in with POST /api/v1/session or send Authorization: Bearer <token>".into(),
            )
            .into()));
        };
        ready(Ok(Credentials::Session {
            secret: cookie.value().to_string(),
            changes_state: !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS),
            csrf_header: request.headers().get(CSRF_HEADER).and_then(|value| value.to_str().ok()).map(str::to_string),
        }))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let credentials = Credentials::from_request(request, payload).into_inner();
        Box::pin(async move {
            let credentials = credentials?;
            let state = state.ok_or_else(|| Error::internal("request", "application state missing"))?;
            Ok(state.database.run(move |connection| credentials.caller(connection)).await?)
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
