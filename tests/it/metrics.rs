//! `/metrics`: Prometheus text that parses, with the figures operators alert on, readable
//! only from the allowed addresses or with the token.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::jobs::run_job;
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(metrics_cover_requests_pool_role_queues_and_jobs_in_valid_prometheus_text);

/// Checks the text exposition format line by line; returns the metric names with samples.
fn parse_exposition(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let valid_name = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .enumerate()
                .all(|(index, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (index > 0 && c.is_ascii_digit()))
    };
    for line in text.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split_whitespace();
            let kind = words.next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "{line}");
            assert!(valid_name(words.next().unwrap()), "{line}");
            if kind == "TYPE" {
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&words.next().unwrap()),
                    "{line}"
                );
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "bad value: {line}");
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                for pair in split_labels(labels) {
                    let (key, quoted) = pair.split_once('=').unwrap_or_else(|| panic!("bad label: {line}"));
                    assert!(valid_name(key) && quoted.starts_with('"') && quoted.ends_with('"'), "bad label: {line}");
                }
                name
            }
            None => series,
        };
        assert!(valid_name(name), "{line}");
        names.insert(name.to_string());
    }
    names
}

/// Label pairs, split at commas outside quotes.
fn split_labels(labels: &str) -> Vec<&str> {
    let (mut pairs, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (index, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pairs.push(&labels[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        pairs.push(&labels[start..]);
    }
    pairs
}

async fn metrics_cover_requests_pool_role_queues_and_jobs_in_valid_prometheus_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "Measured").await;
    app.admin.get(&format!("/api/v1/items/{}", item["id"])).await;
    run_job(&app, "session_cleanup").await;
    let client = reqwest::Client::new();
    let response = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let names = parse_exposition(&text);
    for expected in [
        "baton_http_request_duration_seconds_bucket",
        "baton_http_request_duration_seconds_count",
        "baton_db_pool_wait_seconds_bucket",
        "baton_db_pool_connections_in_use",
        "baton_db_pool_connections_max",
        "baton_master",
        "baton_master_epoch",
        "baton_index_queue_depth",
        "baton_index_queue_oldest_age_seconds",
        "baton_mail_outbox_depth",
        "baton_mail_quarantined",
        "baton_job_runs_total",
        "baton_database_up",
    ] {
        assert!(names.contains(expected), "{expected} missing:\n{text}");
    }
    assert!(text.contains("route=\"/api/v1/items/{id}\""), "requests are labelled by route, not path:\n{text}");
    assert!(!text.contains(&format!("/api/v1/items/{}\"", item["id"])), "{text}");
    assert!(text.lines().any(|line| line == "baton_master 1"), "{text}");
    assert!(text.contains("baton_job_runs_total{job=\"session_cleanup\",outcome=\"succeeded\"}"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_allowed_address_or_the_token() {
    let token = "scrape-token-0123456789";
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.metrics.allow = vec!["10.0.0.0/8".into()];
        settings.metrics.token = Some(token.into());
    })
    .await;
    let client = reqwest::Client::new();
    let refused = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("metrics.allow"), "{body}");
    let wrong = client.get(app.url("/metrics")).bearer_auth("scrape-token-wrong").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let allowed = client.get(app.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(allowed.text().await.unwrap().contains("baton_master"));
}
