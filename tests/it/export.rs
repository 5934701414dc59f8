//! CSV export of item lists (`GET /api/v1/items.csv`, the list page's "Export CSV"): the
//! list's permissions, filters and sort; a column per custom field that applies to an
//! exported item, and none for a field that applies nowhere among them; spreadsheet formulas
//! defused; refusals for what an export does not take.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(an_export_lists_what_the_caller_may_read_with_the_fields_that_apply);

/// Status, headers and the rows (header first) of an export.
async fn export(api: &Api, query: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<Vec<String>>, String) {
    let response = api
        .client
        .get(format!("{}/api/v1/items.csv?{query}", api.address))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("export request");
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.expect("export body");
    let rows = if status == StatusCode::OK {
        csv::Reader::from_reader(text.as_bytes())
            .into_records()
            .map(|record| record.expect("a CSV record").iter().map(str::to_string).collect())
            .collect()
    } else {
        Vec::new()
    };
    let header = csv::Reader::from_reader(text.as_bytes())
        .headers()
        .map(|header| header.iter().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let mut all = vec![header.split(',').map(str::to_string).collect::<Vec<_>>()];
    all.extend(rows);
    (status, headers, all, text)
}

async fn an_export_lists_what_the_caller_may_read_with_the_fields_that_apply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    app.admin.define_field(json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    app.admin.define_field(
        json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "major"], "projects": ["OPS"]}),
    )
    .await;
    app.admin.define_field(json!({"key": "estimate", "name": "Estimate", "type": "integer"})).await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let ops = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": formula, "description": "Line one,\n\"quoted\" line two",
                   "fields": {"customer": "ACME, Inc.", "severity": "major", "estimate": -2}}),
        )
        .await
        .body;
    let web = app
        .admin
        .post("/api/v1/items", json!({"project": "WEB", "title": "Landing page", "fields": {"customer": "Beta"}}))
        .await
        .body;

    let (status, headers, rows, _) = export(&app.admin, "state=all&sort=id").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(
        rows[0],
        [
            "id",
            "key",
            "project",
            "type",
            "status",
            "priority",
            "title",
            "assignee",
            "reporter",
            "created",
            "updated",
            "due",
            "parent",
            "target_version",
            "labels",
            "component",
            "Customer",
            "Severity",
            "Estimate",
            "description"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let first = &rows[1];
    assert_eq!(first[0], ops["id"].to_string());
    assert_eq!(
        (first[1].as_str(), first[2].as_str(), first[3].as_str(), first[4].as_str()),
        ("OPS-1", "OPS", "Bug", "New")
    );
    assert_eq!(first[6], format!("'{formula}"), "a formula is defused");
    assert_eq!((first[8].as_str(), first[9].as_str()), ("admin", ops["created_at"].as_str().unwrap()));
    assert_eq!(first[12], "", "no parent");
    assert_eq!((first[16].as_str(), first[17].as_str(), first[18].as_str()), ("ACME, Inc.", "major", "-2"));
    assert_eq!(first[19], "Line one,\n\"quoted\" line two", "quoting keeps commas, quotes and lines");
    let second = &rows[2];
    assert_eq!((second[0].clone(), second[1].as_str(), second[2].as_str()), (web["id"].to_string(), "WEB-1", "WEB"));
    assert_eq!((second[16].as_str(), second[17].as_str(), second[18].as_str()), ("Beta", "", ""));

    // A field that applies to none of the items exported is no column.
    let (_, _, web_rows, _) = export(&app.admin, "project=WEB&state=all").await;
    assert!(!web_rows[0].contains(&"Severity".to_string()), "{:?}", web_rows[0]);
    assert_eq!(web_rows.len(), 2);
    let (_, _, major, _) = export(&app.admin, "state=all&field.severity=major").await;
    assert_eq!(major.iter().skip(1).map(|row| row[0].clone()).collect::<Vec<_>>(), [ops["id"].to_string()]);

    // Another user gets what they may read, and nothing of the rest.
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let (status, _, theirs, text) = export(&developer, "state=all").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs.len(), 2);
    assert!(!text.contains("Landing page") && !text.contains("Beta"), "{text}");
    let (status, ..) = export(&developer, "project=WEB").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for (query, field) in [("limit=5", "limit"), ("offset=5", "offset"), ("field.severity=huge", "field.severity")] {
        let refused = app.admin.get(&format!("/api/v1/items.csv?{query}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}: {}", refused.body);
        assert_eq!(refused.body["error"]["field"], field, "{query}");
    }

    // The list page links to the same list as CSV, for a signed-in browser.
    let browser = WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await;
    let page = browser.get("/projects/OPS?state=all").await;
    assert!(page.body.contains("href=\"/items.csv?project=OPS&#38;state=all\""), "{}", page.body);
    let download = browser.get("/items.csv?project=OPS&state=all").await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.header("content-type"), "text/csv; charset=utf-8");
    assert!(download.body.contains("ACME, Inc."));
}

/// A list longer than an export takes is refused, naming the limit, instead of cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_longer_than_an_export_takes_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let database = app.database();
    tokio::task::spawn_blocking(move || baton::demo::generate(&database, 10_001, Some(3)).unwrap()).await.unwrap();
    let refused = app.admin.get("/api/v1/items.csv?state=all").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.body["error"]["field"], "export");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("at most 10000"), "{}", refused.body);
}
