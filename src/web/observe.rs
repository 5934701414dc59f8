//! Around every request: a request id (the proxy's `X-Request-Id` when it sent a sane one,
//! otherwise made here), a `request` span carrying it so that every log line of the request
//! names it, one access line when the answer is ready (client address, method, path without
//! the query — never a secret —, status, time), the id echoed in the response, and the latency histogram
//! by route and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Health checks arrive every second from every load balancer: logged at debug only.
const QUIET_ROUTES: &[&str] = &["/api/v1/system/ping", "/metrics"];

pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
    let client = request
        .app_data::<actix_web::web::Data<crate::web::AppState>>()
        .and_then(|state| state.client_address(request.request()))
        .map_or_else(|| "-".to_string(), |address| address.to_string());
    let method = request.method().to_string();
    let path = request.path().to_string();
    // The route pattern, not the path, keeps the number of series bounded.
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", id = %id);
    let started = Instant::now();
    let outcome = next.call(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    let milliseconds = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if QUIET_ROUTES.contains(&route.as_str()) {
            tracing::debug!(%client, %method, %path, status = status.as_u16(), ms = format!("{milliseconds:.1}"), "request");
        } else {
            tracing::info!(%client, %method, %path, status = status.as_u16(), ms = format!("{milliseconds:.1}"), "request");
        }
    });
    metrics::histogram!(
        "baton_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => status.as_u16().to_string()
    )
    .record(elapsed.as_secs_f64());
    let mut response = outcome?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// A request id from outside is kept only when it is short and plain.
fn is_sane(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_plain_request_ids_from_outside_are_kept() {
        assert!(is_sane("3f2a-9c.b_1"));
        for bad in ["", "a b", "x\ny", "<script>", &"a".repeat(65)] {
            assert!(!is_sane(bad), "{bad:?}");
        }
    }
}
