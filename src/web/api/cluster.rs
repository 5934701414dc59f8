//! Cluster administration: every node's state, forced handover, maintenance.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::cluster;
use crate::status::SystemStatus;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::ApiError;
use crate::web::input::Json;

/// How many recent events the status shows.
const RECENT_EVENTS: i64 = 50;

pub async fn show_cluster(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let timing = state.cluster.timing();
    let status = state.database.run(move |connection| SystemStatus::load(connection, timing, RECENT_EVENTS)).await?;
    Ok(HttpResponse::Ok().json(status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    node: String,
}

/// Returns when the named node holds the lease (503 when it did not within two node timeouts).
pub async fn hand_over(
    state: web::Data<AppState>,
    caller: Admin,
    body: Json<HandoverBody>,
) -> Result<HttpResponse, ApiError> {
    state.cluster.wake();
    let result = cluster::hand_over(
        &state.database,
        state.cluster.timing(),
        body.into_inner().node,
        format!("admin {}", caller.user.login),
    )
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceBody {
    on: bool,
}

pub async fn set_maintenance(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<String>,
    body: Json<MaintenanceBody>,
) -> Result<HttpResponse, ApiError> {
    let node = path.into_inner();
    let on = body.on;
    cluster::set_maintenance(&state.database, node.clone(), on, format!("admin {}", caller.user.login)).await?;
    state.cluster.wake();
    Ok(HttpResponse::Ok().json(json!({"node": node, "maintenance": on})))
}
