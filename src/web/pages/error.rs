//! Why a page could not be shown, as a friendly HTML page (or the sign-in redirect), in the
//! viewer's own frame: navigation, search box and account (`with_navigation`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::viewer::Viewer;
use super::{Chrome, SECURITY_HEADERS, see_other, url_with_query};
use crate::error::Error;

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

/// What an error page says, kept on its response so that `with_navigation` can draw it again
/// in the viewer's frame.
#[derive(Debug, Clone)]
struct Said {
    title: String,
    message: String,
}

/// A friendly HTML error page; also used for the 405 of page paths. Drawn without a viewer
/// (an error becomes its response where the request is not at hand); `with_navigation` draws
/// it again with theirs. It carries the security headers itself, as it may replace a response
/// after the middleware.
pub fn error_page(status: StatusCode, title: &str, message: String) -> HttpResponse {
    let mut response = drawn(status, title, message.clone(), Chrome::default());
    response.extensions_mut().insert(Said { title: title.to_string(), message });
    response
}

fn drawn(status: StatusCode, title: &str, message: String, chrome: Chrome) -> HttpResponse {
    let error_page = ErrorPage { chrome, status: status.as_u16(), title, message };
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

/// Puts an error page into the frame of the signed-in viewer who asked for it (the main
/// navigation, the search box, their account), so that a wrong link or a refused action leaves
/// them one click from where they were going. Only error pages cost the session lookup; a
/// visitor without a session keeps the bare frame.
pub async fn with_navigation<Body: MessageBody>(
    request: ServiceRequest,
    next: Next<Body>,
) -> Result<ServiceResponse<EitherBody<Body>>, actix_web::Error> {
    let response = next.call(request).await?;
    let Some(said) = response.response().extensions().get::<Said>().cloned() else {
        return Ok(response.map_into_left_body());
    };
    let Ok(viewer) = Viewer::from_request(response.request(), &mut Payload::None).await else {
        return Ok(response.map_into_left_body());
    };
    let status = response.status();
    let (request, _) = response.into_parts();
    let page = drawn(status, &said.title, said.message, viewer.chrome());
    Ok(ServiceResponse::new(request, page).map_into_right_body())
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
