//! Health check for load balancers, and the OpenAPI document.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::web::AppState;

pub const OPENAPI_DOCUMENT: &str = include_str!("../../../resources/openapi.json");

/// 200 when this node can reach the database, 503 otherwise.
pub async fn ping(state: web::Data<AppState>) -> HttpResponse {
    let reachable = state.database.run(|connection| Ok(connection.batch_execute("SELECT 1")?)).await;
    let node = state.node_name.clone();
    let version = env!("CARGO_PKG_VERSION");
    match reachable {
        Ok(()) => HttpResponse::Ok().json(json!({
            "status": "ok", "node": node, "version": version, "database": state.database.backend_name(),
        })),
        Err(error) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable", "node": node, "version": version,
            "error": {"code": "unavailable", "message": format!("database unreachable: {error}")},
        })),
    }
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI_DOCUMENT)
}
