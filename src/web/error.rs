//! Maps the one error type to HTTP: `{"error": {"code", "message", "field"?}}` with the
//! matching status. Internal details go to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::error::Error;

#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ApiError {
    fn code(&self) -> &'static str {
        match &self.0 {
            Error::NotFound(_) => "not_found",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::Invalid(_) => "invalid",
            Error::Conflict(_) => "conflict",
            Error::TooLarge(_) => "too_large",
            Error::Unsupported(_) => "unsupported_media_type",
            Error::RateLimited(_) => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Internal { .. } => "internal",
        }
    }
}

/// The HTTP status of a model error, for the API and the pages alike.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let body = match &self.0 {
            Error::Internal { context, source } => {
                tracing::error!(%context, error = %source, "request failed");
                json!({"error": {"code": self.code(), "message": "internal error; the node's log has the details"}})
            }
            Error::Invalid(field_error) => json!({"error": {
                "code": self.code(),
                "message": field_error.to_string(),
                "field": field_error.field,
            }}),
            Error::Unavailable(message) => {
                tracing::warn!(%message, "request could not be served");
                json!({"error": {"code": self.code(), "message": message}})
            }
            other => json!({"error": {"code": self.code(), "message": other.message()}}),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Error::Unauthenticated(_) = &self.0 {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(body)
    }
}

/// A 400/413/415 for bodies and query strings that do not parse.
pub fn bad_request(status: StatusCode, code: &str, message: String) -> actix_web::Error {
    let body = json!({"error": {"code": code, "message": message}});
    actix_web::error::InternalError::from_response(message, HttpResponse::build(status).json(body)).into()
}

pub fn json_body_error(error: actix_web::error::JsonPayloadError, _request: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    match &error {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => bad_request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is larger than {limit} bytes"),
        ),
        JsonPayloadError::ContentType => bad_request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(inner) => {
            bad_request(StatusCode::BAD_REQUEST, "invalid", format!("request body: {inner}"))
        }
        other => bad_request(StatusCode::BAD_REQUEST, "invalid", format!("request body: {other}")),
    }
}

pub fn query_error(error: actix_web::error::QueryPayloadError, _request: &HttpRequest) -> actix_web::Error {
    bad_request(StatusCode::BAD_REQUEST, "invalid", format!("query string: {error}"))
}

pub fn path_error(error: actix_web::error::PathError, _request: &HttpRequest) -> actix_web::Error {
    bad_request(StatusCode::BAD_REQUEST, "invalid", format!("path: {error}"))
}

pub async fn no_such_endpoint(request: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": {
        "code": "not_found",
        "message": format!("no endpoint {} {}; see /api/v1/openapi.json", request.method(), request.path()),
    }}))
}
