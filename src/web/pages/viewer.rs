//! Who is looking at a page: the signed-in browser user (`Viewer`) or an administrator
//! (`AdminViewer`), the session a page request presents (`Visit`, for a page that reads its
//! viewer with its content), and the CSRF check of every form that changes state.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::http::Method;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::error::PageError;
use super::{Chrome, ChromeUser};
use crate::db::DbConnection;
use crate::error::Error;
use crate::model::auth;
use crate::model::definitions::Version;
use crate::model::user::User;
use crate::web::AppState;
use crate::web::auth::SESSION_COOKIE;
use crate::web::input;

/// The name of the hidden form field that carries the session's CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// The signed-in browser user behind a page request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub csrf_token: String,
    pub session_secret: String,
    /// The definitions' version, read with the session (`auth::ActiveSession`).
    pub definitions: Version,
}

impl Viewer {
    pub fn chrome(&self) -> Chrome {
        Chrome {
            user: Some(ChromeUser { login: self.user.login.clone(), is_admin: self.user.is_admin }),
            csrf_token: self.csrf_token.clone(),
            search: String::new(),
            time_zone: self.user.time_zone.clone(),
        }
    }
}

/// An administrator behind a page request: a handler that takes one shows the 403 page to
/// anyone else before it runs.
#[derive(Debug, Clone)]
pub struct AdminViewer(Viewer);

impl std::ops::Deref for AdminViewer {
    type Target = Viewer;

    fn deref(&self) -> &Viewer {
        &self.0
    }
}

impl FromRequest for AdminViewer {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<AdminViewer, PageError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let viewer = Viewer::from_request(request, payload);
        Box::pin(async move {
            let viewer = viewer.await?;
            if !viewer.user.is_admin {
                return Err(Error::forbidden("only administrators may see this page").into());
            }
            Ok(AdminViewer(viewer))
        })
    }
}

/// A local path to come back to after signing in: starts with one `/`, so it can never
/// name another site (`//evil.example`, `https://…`, `/\evil`).
pub fn local_path(candidate: &str) -> Option<&str> {
    let is_local = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.chars().any(|c| c.is_control() || c == '\\');
    is_local.then_some(candidate)
}

/// Whether a state-changing request comes from this site: an `Origin` header, when the
/// browser sends one, must name the host the request was sent to.
fn same_origin(request: &HttpRequest) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN).and_then(|value| value.to_str().ok()) else {
        return true;
    };
    let host = request.connection_info().host().to_string();
    origin.split_once("://").is_some_and(|(_, origin_host)| origin_host.eq_ignore_ascii_case(&host))
}

/// What a page request presents as its viewer, read without the database: the session
/// cookie, already refused for a state-changing request from another site, and where to come
/// back after signing in. `viewer` reads who it is; a page that reads anyway does so in its
/// own database task (`page_error` then turns a missing session into the sign-in page).
#[derive(Debug, Clone)]
pub struct Visit {
    secret: String,
    return_path: String,
}

impl Visit {
    /// The signed-in viewer: `Unauthenticated` when the session has expired or was signed out.
    pub fn viewer(&self, connection: &mut DbConnection) -> Result<Viewer, Error> {
        let session = auth::find_session(connection, &self.secret)?
            .ok_or_else(|| Error::Unauthenticated("the session has expired or was signed out".into()))?;
        Ok(Viewer {
            user: session.user,
            csrf_token: session.csrf_token,
            session_secret: self.secret.clone(),
            definitions: session.definitions,
        })
    }

    /// The page's answer to an error: the sign-in page, coming back here, when no one is
    /// signed in.
    pub fn page_error(&self, error: Error) -> PageError {
        match error {
            Error::Unauthenticated(_) => PageError::SignIn { return_path: self.return_path.clone() },
            other => PageError::Model(other),
        }
    }
}

impl FromRequest for Visit {
    type Error = PageError;
    type Future = Ready<Result<Visit, PageError>>;

    fn from_request(request: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
        if changes_state && !same_origin(request) {
            return ready(Err(PageError::Csrf));
        }
        let return_path = if changes_state {
            "/".to_string()
        } else {
            request.uri().path_and_query().map_or_else(|| "/".to_string(), |path| path.as_str().to_string())
        };
        ready(match request.cookie(SESSION_COOKIE) {
            Some(cookie) => Ok(Visit { secret: cookie.value().to_string(), return_path }),
            None => Err(PageError::SignIn { return_path }),
        })
    }
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, PageError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let visit = Visit::from_request(request, payload).into_inner();
        Box::pin(async move {
            let visit = visit?;
            let state = state.ok_or_else(|| Error::internal("request", "application state missing"))?;
            let lookup = visit.clone();
            state
                .database
                .run(move |connection| lookup.viewer(connection))
                .await
                .map_err(|error| visit.page_error(error))
        })
    }
}

/// Parses a URL-encoded form after checking its CSRF token, so that a forged request is
/// refused before its content is even looked at.
pub fn read_form<T: DeserializeOwned>(viewer: &Viewer, body: &[u8]) -> Result<T, PageError> {
    let pairs = input::form_pairs(body)?;
    check_csrf(viewer, pairs.iter().find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value.as_str()))?;
    Ok(input::parse_form(body)?)
}

pub fn check_csrf(viewer: &Viewer, sent: Option<&str>) -> Result<(), PageError> {
    // Both are random hex strings; a comparison of equal-length strings leaks nothing useful.
    if sent == Some(viewer.csrf_token.as_str()) { Ok(()) } else { Err(PageError::Csrf) }
}
