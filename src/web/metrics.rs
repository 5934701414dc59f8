//! `GET /metrics`: this node's figures in Prometheus text. Request latencies, pool waits, job
//! runs and mail counts are recorded as they happen; the role, the pools' use and the
//! cluster-wide queues and states (search index queue, mail outbox, quarantined mail, each
//! mailbox's last successful poll and failures since) are read at scrape time. Scrape every node directly, not through the load balancer. Readable from the
//! `metrics.allow` address ranges, or from anywhere with `metrics.token` as a bearer token.

use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::mail;
use crate::search;
use crate::telemetry;
use crate::web::AppState;
use crate::web::error::ApiError;

pub async fn scrape(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    authorize(&state, &request)?;
    let role = state.cluster.role();
    metrics::gauge!("baton_master").set(if role.master { 1.0 } else { 0.0 });
    metrics::gauge!("baton_master_epoch").set(role.epoch.unwrap_or(0) as f64);
    for pool in state.database.pool_figures() {
        metrics::gauge!("baton_db_pool_connections_in_use", "pool" => pool.name).set(pool.in_use as f64);
        metrics::gauge!("baton_db_pool_connections_max", "pool" => pool.name).set(pool.size as f64);
    }
    let figures = state
        .database
        .run(|connection| Ok((search::status::queue(connection)?, mail::status::load(connection)?)))
        .await;
    metrics::gauge!("baton_database_up").set(if figures.is_ok() { 1.0 } else { 0.0 });
    if let Ok(((queue_depth, oldest_unindexed_age_ms), mail)) = figures {
        let seconds = |milliseconds: Option<i64>| milliseconds.unwrap_or(0) as f64 / 1000.0;
        metrics::gauge!("baton_index_queue_depth").set(queue_depth as f64);
        metrics::gauge!("baton_index_queue_oldest_age_seconds").set(seconds(oldest_unindexed_age_ms));
        metrics::gauge!("baton_mail_outbox_depth").set(mail.outbox_depth as f64);
        metrics::gauge!("baton_mail_outbox_retrying").set(mail.outbox_retrying as f64);
        metrics::gauge!("baton_mail_outbox_oldest_age_seconds").set(seconds(mail.oldest_unsent_age_ms));
        metrics::gauge!("baton_mail_quarantined").set(mail.failures as f64);
        for mailbox in &mail.mailboxes {
            let last_success = mailbox.last_success_at.map_or(0.0, |at| at.and_utc().timestamp() as f64);
            metrics::gauge!("baton_mail_mailbox_last_success_timestamp_seconds", "mailbox" => mailbox.name.clone())
                .set(last_success);
            metrics::gauge!("baton_mail_mailbox_consecutive_failures", "mailbox" => mailbox.name.clone())
                .set(f64::from(mailbox.consecutive_failures));
        }
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(telemetry::metrics().render()))
}

fn authorize(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    let peer = state.client_address(request);
    if peer.is_some_and(|peer| state.access.metrics_allow.iter().any(|network| network.contains(&peer))) {
        return Ok(());
    }
    let offered = request
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, offered)| offered.trim());
    // Compared as digests, so the time taken tells nothing about the token.
    match (&state.access.metrics_token, offered) {
        (Some(token), Some(offered)) if Sha256::digest(token.as_bytes()) == Sha256::digest(offered.as_bytes()) => {
            Ok(())
        }
        _ => Err(Error::forbidden(
            "metrics are readable from the metrics.allow addresses or with the metrics.token bearer token",
        )
        .into()),
    }
}
