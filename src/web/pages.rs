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
pub mod comments;
pub mod confirm;
pub mod copy;
pub mod deletion;
pub mod error;
pub mod field_inputs;
pub mod home;
pub mod in_place;
pub mod item;
pub mod items;
pub mod markdown;
pub mod planning;
pub mod profile;
pub mod projects;
pub mod roadmap;
pub mod search;
pub mod session;
pub mod times;
pub mod viewer;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;

use crate::error::{Error, FieldError};

use error::PageError;

/// Largest form body: a 1 MiB description plus URL-encoding headroom.
pub const FORM_LIMIT_BYTES: usize = 4 * 1024 * 1024;

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
    /// The zone the page's script shows times in (the user's choice); none: the browser's.
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ChromeUser {
    pub login: String,
    pub is_admin: bool,
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
    use super::viewer::local_path;
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
