//! The cluster page: every node with role, colour and reason, the lease and its epoch, a
//! loud alarm without a master, index and mail lag, recent events; forced handover and
//! maintenance with the outcome confirmed on the page. Maintenance for the only node that
//! could be master asks first. It reloads itself every few seconds.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::cluster::status::ClusterStatus;
use crate::cluster::{self as cluster_control};
use crate::error::Error;
use crate::mail::status::MailStatus;
use crate::search::status::SearchStatus;
use crate::status::SystemStatus;
use crate::web::AppState;
use crate::web::pages::confirm::{self, Confirmation};
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{AdminViewer, Viewer, read_form};
use crate::web::pages::{Chrome, Notice, render};

/// How many recent cluster events the page lists.
const RECENT_EVENTS: i64 = 30;
/// Seconds between the page's reloads.
pub const REFRESH_SECONDS: u32 = 5;

#[derive(Template)]
#[template(path = "admin/cluster.html")]
struct ClusterPage {
    chrome: Chrome,
    this_node: String,
    cluster: ClusterStatus,
    search: SearchStatus,
    mail: MailStatus,
    /// The one node that could be master, when there is only one.
    only_live_node: Option<String>,
    notice: Option<Notice>,
    refresh_seconds: u32,
}

/// Milliseconds as people read them: "850 ms", "3.2 s", "4 min".
pub fn human_age(milliseconds: i64) -> String {
    match milliseconds {
        ..1_000 => format!("{milliseconds} ms"),
        1_000..60_000 => format!("{:.1} s", milliseconds as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min", milliseconds / 60_000),
        _ => format!("{:.1} h", milliseconds as f64 / 3_600_000.0),
    }
}

/// The name of the only node that could be master now (not in maintenance, heartbeat fresh by
/// the rule of the node's status), when there is exactly one.
fn only_live_node(cluster: &ClusterStatus, heartbeat_interval: Duration) -> Option<String> {
    let stale_after_ms = i64::try_from((heartbeat_interval * 2).as_millis()).unwrap_or(i64::MAX);
    let mut live =
        cluster.nodes.iter().filter(|node| node.role != "maintenance" && node.heartbeat_age_ms <= stale_after_ms);
    match (live.next(), live.next()) {
        (Some(node), None) => Some(node.name.clone()),
        _ => None,
    }
}

/// Asked before maintenance for the only node that could be master.
pub fn last_master(node: &str) -> Confirmation {
    Confirmation {
        title: format!("Put {node}, the last live node, into maintenance?"),
        message: "No other node runs outside maintenance, so no master will remain: search indexing, inbound \
                  and outgoing mail and scheduled jobs stop, and the node's health check answers 503, so a load \
                  balancer stops sending it requests. All of it resumes when a node leaves maintenance or \
                  another one starts."
            .to_string(),
        button: format!("Put {node} into maintenance"),
    }
}

async fn load_status(state: &AppState) -> Result<SystemStatus, Error> {
    let timing = state.cluster.timing();
    state.database.run(move |connection| SystemStatus::load(connection, timing, RECENT_EVENTS)).await
}

async fn cluster_page(
    state: &AppState,
    viewer: &Viewer,
    status_code: StatusCode,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let SystemStatus { cluster, search, mail } = load_status(state).await?;
    render(
        status_code,
        &ClusterPage {
            chrome: viewer.chrome(),
            this_node: state.node_name.clone(),
            only_live_node: only_live_node(&cluster, state.cluster.timing().heartbeat_interval),
            cluster,
            search,
            mail,
            notice,
            refresh_seconds: REFRESH_SECONDS,
        },
    )
}

pub async fn show_cluster(state: web::Data<AppState>, viewer: AdminViewer) -> Result<HttpResponse, PageError> {
    cluster_page(&state, &viewer, StatusCode::OK, None).await
}

/// An action's failure shown on the cluster page with its status.
fn failure(error: Error) -> Result<(StatusCode, Notice), PageError> {
    let status = match &error {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => return Err(error.into()),
    };
    Ok((status, Notice { kind: "error", text: error.message() }))
}

#[derive(Deserialize)]
pub struct HandoverForm {
    #[serde(default)]
    node: String,
}

pub async fn hand_over(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: HandoverForm = read_form(&viewer, &body)?;
    state.cluster.wake();
    let outcome = cluster_control::hand_over(
        &state.database,
        state.cluster.timing(),
        form.node,
        format!("admin {} (cluster page)", viewer.user.login),
    )
    .await;
    let (status_code, notice) = match outcome {
        Ok(result) => (
            StatusCode::OK,
            Notice {
                kind: "ok",
                text: format!(
                    "{} is now the master (epoch {}, took {} ms).",
                    result.master, result.epoch, result.elapsed_ms
                ),
            },
        ),
        Err(error) => failure(error)?,
    };
    cluster_page(&state, &viewer, status_code, Some(notice)).await
}

#[derive(Deserialize)]
pub struct MaintenanceForm {
    #[serde(default)]
    node: String,
    #[serde(default)]
    on: String,
    confirm: Option<String>,
}

pub async fn set_maintenance(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: MaintenanceForm = read_form(&viewer, &body)?;
    let on = match form.on.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(Error::invalid("on", "must be true or false").into()),
    };
    if on && !confirm::is_confirmed(form.confirm.as_deref()) {
        let cluster = load_status(&state).await?.cluster;
        if only_live_node(&cluster, state.cluster.timing().heartbeat_interval).as_deref() == Some(form.node.as_str()) {
            let fields = [("node", form.node.clone()), ("on", "true".to_string())];
            return confirm::ask(
                &viewer,
                &last_master(&form.node),
                "/admin/cluster/maintenance",
                &fields,
                "/admin/cluster",
            );
        }
    }
    let outcome = cluster_control::set_maintenance(
        &state.database,
        form.node.clone(),
        on,
        format!("admin {} (cluster page)", viewer.user.login),
    )
    .await;
    state.cluster.wake();
    let (status_code, notice) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            Notice {
                kind: "ok",
                text: format!("Maintenance is {} for node {}.", if on { "on" } else { "off" }, form.node),
            },
        ),
        Err(error) => failure(error)?,
    };
    cluster_page(&state, &viewer, status_code, Some(notice)).await
}

#[cfg(test)]
mod tests {
    use super::human_age;

    #[test]
    fn ages_read_like_people_say_them() {
        assert_eq!(human_age(850), "850 ms");
        assert_eq!(human_age(3_210), "3.2 s");
        assert_eq!(human_age(240_000), "4 min");
    }
}
