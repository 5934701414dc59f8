use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    malformed_bodies_get_a_precise_client_error_and_store_nothing,
    oversized_fields_are_refused,
    unknown_ids_are_not_found,
    paths_and_queries_that_do_not_parse_are_client_errors,
);

async fn malformed_bodies_get_a_precise_client_error_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let url = app.url("/api/v1/items");
    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.admin.send(app.admin.client.post(&url).header("Content-Type", content_type).body(body))
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode)> = vec![
        (b"{\"project\": \"BAD\", \"title\": ".to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (b"not json at all".to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (b"{\"project\": \"BAD\", \"title\": \"\xff\xfe\"}".to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (br#"{"project": "BAD", "title": ["list"]}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (br#"{"project": "BAD"}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (br#"{"project": "BAD", "title": "x", "colour": "red"}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (
            br#"{"project": "BAD", "title": "x", "due_date": "31.12.2026"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (br#"{"project": "BAD", "title": "x"}"#.to_vec(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (br#"{"project": "BAD", "title": "line\nbreak"}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
    ];
    for (body, content_type, expected) in cases {
        let shown = String::from_utf8_lossy(&body).to_string();
        let reply = raw(body, content_type).await;
        assert_eq!(reply.status, expected, "{shown}: {}", reply.body);
        assert!(reply.body["error"]["code"].is_string(), "{shown}: {}", reply.body);
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.count_rows("items"), 0);
    assert_eq!(app.count_rows("index_queue"), 0);
}

async fn oversized_fields_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let long_title = "x".repeat(256);
    let reply = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": long_title})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "title");
    let exact = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "ü".repeat(255)})).await;
    assert_eq!(exact.status, StatusCode::CREATED, "255 characters are fine, whatever their bytes");
    let big = "y".repeat(1024 * 1024 + 1);
    let reply = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "big", "description": big})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "description");
    let huge = "z".repeat(5 * 1024 * 1024);
    let reply = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "huge", "description": huge})).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let comment = app
        .admin
        .post(&format!("/api/v1/items/{}/comments", exact.body["id"]), json!({"body": "c".repeat(1024 * 1024 + 1)}))
        .await;
    assert_eq!(comment.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("items"), 1);
    assert_eq!(app.count_rows("comments"), 0);
}

async fn unknown_ids_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    assert_eq!(app.admin.get("/api/v1/items/424242").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.admin.patch("/api/v1/items/424242", json!({"version": 1})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.admin.get("/api/v1/projects/NOPE").await.status, StatusCode::NOT_FOUND);
    let item = app.admin.post("/api/v1/items", json!({"project": "NOPE", "title": "x"})).await;
    assert_eq!(item.status, StatusCode::NOT_FOUND);
    assert_eq!(item.error_code(), "not_found");
    let comment = app.admin.post("/api/v1/items/424242/comments", json!({"body": "x"})).await;
    assert_eq!(comment.status, StatusCode::NOT_FOUND);
    assert_eq!(app.admin.get("/api/v1/users/424242").await.status, StatusCode::NOT_FOUND);
    let member = app.admin.put("/api/v1/projects/BAD/members/424242", json!({"role": "viewer"})).await;
    assert_eq!(member.status, StatusCode::BAD_REQUEST);
    let bad_type = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "x", "type_id": 77})).await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_type.body["error"]["field"], "type_id");
    assert_eq!(app.admin.get("/api/v1/no/such/thing").await.status, StatusCode::NOT_FOUND);
    let wrong_method = app.admin.put("/api/v1/items", json!({})).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    assert_eq!(app.count_rows("items"), 0);
}

async fn paths_and_queries_that_do_not_parse_are_client_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reply = app.admin.get("/api/v1/items/abc").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid");
    let reply = app.admin.get("/api/v1/items/99999999999999999999999").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.admin.get("/api/v1/items?limit=ten").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
