//! Health check for load balancers, and the OpenAPI document.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::cluster::registry;
use crate::error::Error;
use crate::web::AppState;

/// A load balancer wants a quick answer: a database slower than this counts as unreachable.
const PING_DATABASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

pub const OPENAPI_DOCUMENT: &str = include_str!("../../../resources/openapi.json");

/// The load balancer's health check: 200 when this node can reach the database and is not
/// in maintenance, 503 otherwise. Also tells whether this node acts as master.
pub async fn ping(state: web::Data<AppState>) -> HttpResponse {
    // The role as of the request, before the database check, which may take a while.
    let role = state.cluster.role();
    let node = state.node_name.clone();
    let maintenance = tokio::time::timeout(
        PING_DATABASE_TIMEOUT,
        state.database.run(move |connection| registry::is_in_maintenance(connection, &node)),
    )
    .await
    .unwrap_or_else(|_| Err(Error::Unavailable("no answer within 1 s".into())));
    let body = |status: &str| {
        json!({
            "status": status,
            "node": state.node_name,
            "version": env!("CARGO_PKG_VERSION"),
            "database": state.database.backend_name(),
            "master": role.master,
            "epoch": role.epoch,
        })
    };
    match maintenance {
        Ok(false) => HttpResponse::Ok().json(body("ok")),
        Ok(true) => HttpResponse::ServiceUnavailable().json(body("maintenance")),
        Err(error) => {
            let mut unavailable = body("unavailable");
            unavailable["error"] =
                json!({"code": "unavailable", "message": format!("database unreachable: {}", error.message())});
            HttpResponse::ServiceUnavailable().json(unavailable)
        }
    }
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI_DOCUMENT)
}
