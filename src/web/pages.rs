//! The server-rendered HTML pages for browsers. Handlers are thin like the API's: extract,
//! call the same `model` functions, render an askama template from `resources/templates`.
//!
//! Browsers authenticate with the session cookie only (`Viewer`). Every form that changes
//! state carries the session's CSRF token in a hidden `csrf_token` field, checked by
//! `read_form` (or by the upload handler for multipart forms) before anything else; a
//! cross-site `Origin` is refused as well. Errors become friendly HTML pages (`PageError`),
//! and a request without a session is sent to the sign-in page with a return path.

pub mod admin;
pub mod assets;
pub mod badges;
pub mod confirm;
pub mod home;
pub mod item;
pub mod items;
pub mod markdown;
pub mod profile;
pub mod projects;
pub mod search;
pub mod session;
pub mod times;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::de::DeserializeOwned;

use crate::error::{Error, FieldError};
use crate::model::auth;
use crate::model::user::User;
use crate::web::AppState;
use crate::web::auth::SESSION_COOKIE;
use crate::web::input;

/// Largest form body: a 1 MiB description plus URL-encoding headroom.
pub const FORM_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// The name of the hidden form field that carries the session's CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// The Content-Security-Policy of every page: no inline script or style, nothing from
/// other sites, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// What the page frame (navigation, search box, sign-out button) needs.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub user: Option<ChromeUser>,
    pub csrf_token: String,
    /// The text in the search box.
    pub search: String,
}

#[derive(Debug, Clone)]
pub struct ChromeUser {
    pub login: String,
    pub is_admin: bool,
}

/// The signed-in browser user behind a page request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub csrf_token: String,
    pub session_secret: String,
}

impl Viewer {
    pub fn chrome(&self) -> Chrome {
        Chrome {
            user: Some(ChromeUser { login: self.user.login.clone(), is_admin: self.user.is_admin }),
            csrf_token: self.csrf_token.clone(),
            search: String::new(),
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

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, PageError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let secret = request.cookie(SESSION_COOKIE).map(|cookie| cookie.value().to_string());
        let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
        let cross_site = changes_state && !same_origin(request);
        let return_path = if changes_state {
            "/".to_string()
        } else {
            request.uri().path_and_query().map_or_else(|| "/".to_string(), |path| path.as_str().to_string())
        };
        Box::pin(async move {
            if cross_site {
                return Err(PageError::Csrf);
            }
            let state = state.ok_or_else(|| Error::internal("request", "application state missing"))?;
            let Some(secret) = secret else {
                return Err(PageError::SignIn { return_path });
            };
            let lookup_secret = secret.clone();
            let session = state.database.run(move |connection| auth::find_session(connection, &lookup_secret)).await?;
            match session {
                Some(session) => {
                    Ok(Viewer { user: session.user, csrf_token: session.csrf_token, session_secret: secret })
                }
                None => Err(PageError::SignIn { return_path }),
            }
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

/// Field errors shown next to the fields of a re-rendered form.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl From<FieldError> for FieldErrors {
    fn from(error: FieldError) -> FieldErrors {
        FieldErrors(vec![error])
    }
}

impl FieldErrors {
    pub fn one(field: &str, message: impl Into<String>) -> FieldErrors {
        FieldErrors(vec![FieldError { field: field.to_string(), message: message.into() }])
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|error| error.field == field).map(|error| error.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A message at the top of a page: the outcome of an action (`kind`: ok, warn or error).
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
}

/// A size for people: bytes, KiB, MiB or GiB with one decimal.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A rendered page with a status.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, PageError> {
    let body = template.render().map_err(|error| Error::internal("rendering a page", error))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

pub fn page(template: &impl Template) -> Result<HttpResponse, PageError> {
    render(StatusCode::OK, template)
}

/// After a successful form post: go to the page that shows the result (POST/redirect/GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// Builds `path?name=value&…` from the non-empty parameters, URL-encoded.
pub fn url_with_query(path: &str, parameters: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> =
        parameters.iter().filter(|(_, value)| !value.is_empty()).map(|(name, value)| (*name, value.as_str())).collect();
    if kept.is_empty() {
        return path.to_string();
    }
    // Encoding a list of string pairs cannot fail.
    format!("{path}?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    Model(Error),
    /// No valid session: go to the sign-in page, then come back.
    SignIn {
        return_path: String,
    },
    /// A state-changing form without the session's CSRF token, or from another site.
    Csrf,
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        PageError::Model(error)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Model(error) => error.fmt(f),
            PageError::SignIn { return_path } => write!(f, "sign in to see {return_path}"),
            PageError::Csrf => f.write_str("the form's security token is missing or wrong"),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    title: &'a str,
    message: String,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::Model(error) => crate::web::error::status_of(error),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message) = match self {
            PageError::SignIn { return_path } => {
                let location = url_with_query("/signin", &[("next", return_path.clone())]);
                return see_other(&location);
            }
            PageError::Csrf => (
                "Request refused",
                "This form was not sent from a Baton page of your current session (its security token is \
                 missing or wrong). Go back, reload the page and try again."
                    .to_string(),
            ),
            PageError::Model(Error::Internal { context, source }) => {
                tracing::error!(%context, error = %source, "page failed");
                ("Something went wrong", "The server could not show this page; the node's log has the details.".into())
            }
            PageError::Model(Error::NotFound(_)) => {
                ("Not found", "There is no such page, or you may not see it.".to_string())
            }
            PageError::Model(Error::Forbidden(message)) => ("Not allowed", message.clone()),
            PageError::Model(Error::Conflict(message)) => ("Conflict", message.clone()),
            PageError::Model(Error::Unavailable(message)) => {
                tracing::warn!(%message, "page could not be served");
                ("Unavailable", message.clone())
            }
            PageError::Model(other) => ("Cannot do that", other.message()),
        };
        error_page(status, title, message)
    }
}

/// A friendly HTML error page; also used for the 405 of page paths.
/// It carries the security headers itself, as it may replace a response after the middleware.
pub fn error_page(status: StatusCode, title: &str, message: String) -> HttpResponse {
    let error_page = ErrorPage { chrome: Chrome::default(), status: status.as_u16(), title, message };
    match error_page.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status);
            for (name, value) in SECURITY_HEADERS {
                response.insert_header((name, value));
            }
            response.content_type("text/html; charset=utf-8").body(body)
        }
        Err(error) => {
            tracing::error!(%error, "rendering the error page failed");
            HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(title.to_string())
        }
    }
}

/// The 404 page for every path that no route serves.
pub async fn no_such_page() -> Result<HttpResponse, PageError> {
    Err(Error::not_found("page").into())
}

/// Bad query strings and paths on pages get an HTML 400, not the API's JSON.
pub fn query_error(error: actix_web::error::QueryPayloadError, _request: &HttpRequest) -> actix_web::Error {
    PageError::Model(Error::invalid("query string", error.to_string())).into()
}

pub fn path_error(error: actix_web::error::PathError, _request: &HttpRequest) -> actix_web::Error {
    PageError::Model(Error::not_found(format!("page ({error})"))).into()
}

/// The security headers of every page and static file (where a response sets one itself,
/// such as the stylesheet's Cache-Control, its own value stays).
const SECURITY_HEADERS: [(header::HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    SECURITY_HEADERS.into_iter().fold(actix_web::middleware::DefaultHeaders::new(), |headers, (name, value)| {
        headers.add((name, HeaderValue::from_static(value)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_return_paths() {
        assert_eq!(local_path("/items/3?x=1"), Some("/items/3?x=1"));
        for foreign in ["//evil.example/", "https://evil.example/", "/\\evil.example", "items", "", "/a\nb"] {
            assert_eq!(local_path(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn sizes_read_like_people_say_them() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(25 * 1024 * 1024), "25.0 MiB");
    }

    #[test]
    fn query_urls_keep_only_given_parameters() {
        let url = url_with_query("/items", &[("q", "a b&c".into()), ("page", String::new()), ("sort", "-id".into())]);
        assert_eq!(url, "/items?q=a+b%26c&sort=-id");
        assert_eq!(url_with_query("/items", &[("q", String::new())]), "/items");
    }
}
