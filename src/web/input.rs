//! The one guard between outside text and the model: a NUL character (U+0000) is refused with
//! 400 naming the field wherever text enters — path segments and query strings
//! (`refuse_nul_in_url`, around every route), JSON bodies (`Json`) and URL-encoded forms
//! (`parse_form`, behind `pages::viewer::read_form` and the sign-in form); `clippy.toml` refuses
//! actix's JSON extractor and the form decoder anywhere else, so a new handler cannot skip it.
//! PostgreSQL cannot store NUL in text and fails any statement that carries one
//! (`invalid byte sequence for encoding "UTF8": 0x00`), lookups included; SQLite would store
//! it. Every other Unicode text reaches PostgreSQL fine: invalid UTF-8 in forms and URLs is
//! decoded with replacement characters, and JSON with invalid UTF-8 or a lone surrogate does
//! not parse. Multipart fields are parsed by the two upload handlers: the file name is checked
//! by the model, the others are numbers or the CSRF token, which is compared and never stored.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::web::error::{ApiError, json_body_error};

/// What a refusal says about the field.
pub const NUL_MESSAGE: &str = "must not contain NUL characters (U+0000)";

fn nul_refusal(field: impl Into<String>) -> Error {
    Error::invalid(field, NUL_MESSAGE)
}

/// Refuses a request whose path or query string decodes to text with a NUL, before any
/// handler runs: 400 as the `Refusal` of the scope it wraps (the JSON error of the API, the
/// HTML error page of the pages). Only `%00` decodes to NUL: HTTP does not let a raw NUL byte
/// into a request line.
pub async fn refuse_nul_in_url<Refusal, Body>(
    request: ServiceRequest,
    next: Next<Body>,
) -> Result<ServiceResponse<EitherBody<Body>>, actix_web::Error>
where
    Refusal: ResponseError + From<Error>,
    Body: MessageBody,
{
    let Some(field) = nul_in_url(request.request()) else {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    };
    let response = Refusal::from(nul_refusal(field)).error_response();
    Ok(request.into_response(response).map_into_right_body())
}

/// The field that holds a NUL: the query parameter, the route's `{name}` for a path segment,
/// or `path` / `query string` when no name fits.
fn nul_in_url(request: &HttpRequest) -> Option<String> {
    let path = request.uri().path();
    if path.contains("%00") {
        let segment = path.split('/').position(|segment| segment.contains("%00"));
        let named = request.match_pattern().zip(segment).and_then(|(pattern, index)| {
            let part = pattern.split('/').nth(index)?;
            Some(part.strip_prefix('{')?.strip_suffix('}')?.to_string())
        });
        return Some(named.unwrap_or_else(|| "path".into()));
    }
    if request.query_string().contains("%00") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
        let named = pairs
            .into_iter()
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
            .map(|(name, _)| name)
            .filter(|name| !name.contains('\0'));
        return Some(named.unwrap_or_else(|| "query string".into()));
    }
    None
}

/// A JSON body as `web::Json` reads it (content type, size limit and errors from the
/// `JsonConfig`), then typed; a string or key holding a NUL is refused with 400 naming it.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Json<T>, actix_web::Error>>>>;

    // The one use of actix's extractor, which clippy.toml keeps handlers from.
    #[allow(clippy::disallowed_types)]
    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The raw text is only checked to be JSON here, so the typed parse below still
        // refuses duplicate and unknown fields.
        let raw = web::Json::<Box<RawValue>>::from_request(request, payload);
        let request = request.clone();
        Box::pin(async move {
            let raw = raw.await?.into_inner();
            if let Some(field) = nul_in_json(raw.get()) {
                return Err(ApiError(nul_refusal(field)).into());
            }
            // The path names the field a wrong value is in (`due_date`, `labels[2]`).
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            serde_path_to_error::deserialize(&mut deserializer).map(Json).map_err(|error| {
                let path = error.path().to_string();
                if path.is_empty() || path == "." {
                    json_body_error(JsonPayloadError::Deserialize(error.into_inner()), &request)
                } else {
                    ApiError(Error::invalid(&path, error.into_inner().to_string())).into()
                }
            })
        })
    }
}

/// A JSON text parsed without the extractor (an optional body), with the same NUL check.
pub fn parse_json<T: DeserializeOwned>(text: &[u8]) -> Result<T, Error> {
    let text = std::str::from_utf8(text).map_err(|error| Error::invalid("body", error.to_string()))?;
    if let Some(field) = nul_in_json(text) {
        return Err(nul_refusal(field));
    }
    serde_json::from_str(text).map_err(|error| Error::invalid("body", error.to_string()))
}

/// Where a JSON text holds a NUL, as a path like `title` or `to[2]` (`body` for the top
/// level). In valid JSON a NUL can only be written as the escape `\u0000`, so one pass over
/// the text answers for nearly every body; the value is parsed only to name the field.
fn nul_in_json(text: &str) -> Option<String> {
    if !has_nul_escape(text.as_bytes()) {
        return None;
    }
    let named = serde_json::from_str::<Value>(text).ok().and_then(|value| nul_path(&value, ""));
    Some(named.filter(|path| !path.is_empty()).unwrap_or_else(|| "body".into()))
}

fn has_nul_escape(text: &[u8]) -> bool {
    let mut rest = text;
    while let Some(at) = rest.iter().position(|byte| *byte == b'\\') {
        if rest.get(at + 1..at + 6) == Some(b"u0000") {
            return true;
        }
        // Skips the escaped character, so that `\\u0000` (a backslash, then text) is not taken
        // for an escape.
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    false
}

fn nul_path(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then(|| path.to_string()),
        Value::Array(values) => {
            values.iter().enumerate().find_map(|(index, value)| nul_path(value, &format!("{path}[{index}]")))
        }
        Value::Object(fields) => fields.iter().find_map(|(name, value)| {
            if name.contains('\0') {
                return Some(path.to_string());
            }
            let field = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            nul_path(value, &field)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// A URL-encoded form body, typed; a name or value holding a NUL is refused naming it.
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let pairs = form_pairs(body)?;
    if let Some((name, _)) = pairs.iter().find(|(name, value)| name.contains('\0') || value.contains('\0')) {
        return Err(nul_refusal(if name.contains('\0') { "form" } else { name.as_str() }));
    }
    decode_form(body)
}

/// The name and value pairs of a URL-encoded form body as sent, for a look at one field (the
/// CSRF token) before the form is parsed.
pub fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    decode_form(body)
}

/// Parses name and value pairs already split off a query string (errors name the query).
pub fn parse_pairs<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, Error> {
    let encoded = serde_urlencoded::to_string(pairs).map_err(|error| Error::internal("re-encoding a query", error))?;
    decode_form(encoded.as_bytes()).map_err(|error| match error {
        Error::Invalid(refusal) => Error::invalid("query", format!("query string: {}", refusal.message)),
        other => other,
    })
}

// The one use of the decoder, which clippy.toml keeps handlers from.
#[allow(clippy::disallowed_methods)]
fn decode_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_urlencoded::from_bytes(body).map_err(|error| Error::invalid("form", error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_nul_escape_counts_as_nul_in_json() {
        assert!(has_nul_escape(br#"{"title": "a\u0000b"}"#));
        assert!(!has_nul_escape(br#"{"title": "a\\u0000b"}"#), "an escaped backslash, then text");
        assert!(has_nul_escape(br#"{"title": "a\\\u0000b"}"#));
        assert!(!has_nul_escape(br#"{"title": "\u00e9\n\"\u0001"}"#));
        assert!(!has_nul_escape(br#"{"title": "ends with \\"}"#));
    }

    #[test]
    fn nul_in_json_names_the_field() {
        assert_eq!(nul_in_json(r#"{"project": "OPS", "title": "a\u0000"}"#).as_deref(), Some("title"));
        assert_eq!(nul_in_json(r#"{"to": [1, "x\u0000"]}"#).as_deref(), Some("to[1]"));
        assert_eq!(nul_in_json(r#"{"a": {"b\u0000": 1}}"#).as_deref(), Some("a"));
        assert_eq!(nul_in_json(r#""\u0000""#).as_deref(), Some("body"));
        assert_eq!(nul_in_json(r#"{"title": "fine"}"#), None);
    }

    #[test]
    fn forms_with_nul_are_refused_naming_the_field() {
        #[derive(serde::Deserialize, Debug)]
        struct Form {
            login: String,
        }
        let refused = parse_form::<Form>(b"login=ad%00min").unwrap_err();
        assert!(matches!(refused, Error::Invalid(ref field) if field.field == "login"), "{refused:?}");
        assert_eq!(parse_form::<Form>(b"login=admin").unwrap().login, "admin");
    }
}
