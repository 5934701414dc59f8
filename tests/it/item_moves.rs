//! Moving an item to another project (`"project"` in an item update, the edit form's project
//! choice): it keeps the field values that apply there and drops the others with history, it
//! needs the developer role on both sides, and the target's types and members bind it. The
//! move request (`POST /api/v1/items/{id}/move`) maps labels, component and version by name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_moved_item_keeps_the_fields_that_apply_there_with_history_and_totals,
    a_move_needs_work_on_both_sides_and_keeps_to_the_targets_types_and_members,
    the_move_request_maps_planning_by_name_or_refuses_with_the_list,
);

const BUG: i64 = 1;
const TASK: i64 = 3;

async fn total(app: &TestApp, project: &str) -> Value {
    app.admin.get(&format!("/api/v1/items?project={project}")).await.body["total"].clone()
}

async fn a_moved_item_keeps_the_fields_that_apply_there_with_history_and_totals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    app.admin.define_field(json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    app.admin.define_field(
        json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "major"], "projects": ["OPS"]}),
    )
    .await;
    app.admin
        .define_field(
            json!({"key": "estimate", "name": "Estimate", "type": "integer", "default": 3, "projects": ["WEB"]}),
        )
        .await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    app.add_member("WEB", &developer, "developer").await;
    let created = developer
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "Checkout fails", "fields": {"customer": "ACME", "severity": "major"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let path = format!("/api/v1/items/{}", created.body["id"]);

    let moved = developer.patch(&path, json!({"version": created.body["version"], "project": "WEB"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["project"]["key"], "WEB");
    assert_eq!(moved.body["fields"], json!({"customer": "ACME", "estimate": 3}), "kept, dropped and defaulted");
    assert_eq!(developer.get(&path).await.body, moved.body);

    let changes = developer.history(&path).await;
    for expected in [
        ("project".to_string(), json!("OPS"), json!("WEB")),
        ("severity".to_string(), json!("major"), Value::Null),
        ("estimate".to_string(), Value::Null, json!("3")),
    ] {
        assert!(changes.contains(&expected), "{expected:?} in {changes:?}");
    }
    assert!(!changes.iter().any(|(field, ..)| field == "customer"), "a kept value is no change: {changes:?}");
    assert_eq!(total(&app, "OPS").await, 0);
    assert_eq!(total(&app, "WEB").await, 1);

    // The same project again is no move and no change.
    let same = developer.patch(&path, json!({"version": moved.body["version"], "project": "WEB"})).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.body["version"], moved.body["version"]);
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());
}

async fn a_move_needs_work_on_both_sides_and_keeps_to_the_targets_types_and_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    app.create_project("SEC", false).await;
    app.admin.put("/api/v1/projects/WEB/types", json!({"types": [TASK]})).await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    app.add_member("WEB", &developer, "reporter").await;
    let reporter = app.create_user("rita").await;
    app.add_member("OPS", &reporter, "reporter").await;
    app.add_member("WEB", &reporter, "developer").await;
    let ann = app.create_user("ann").await;
    app.add_member("OPS", &ann, "developer").await;
    let ann_id = ann.get("/api/v1/users/me").await.body["id"].clone();
    let rita_id = reporter.get("/api/v1/users/me").await.body["id"].clone();
    app.admin.define_field(json!({"key": "reviewer", "name": "Reviewer", "type": "user"})).await;

    let item =
        reporter.post("/api/v1/items", json!({"project": "OPS", "title": "Slow login", "type_id": BUG})).await.body;
    let path = format!("/api/v1/items/{}", item["id"]);
    let version = item["version"].clone();
    let attempt = async |api: &crate::support::Api, body: Value| {
        let mut body = body;
        body["version"] = version.clone();
        api.patch(&path, body).await
    };

    let no_work_there = attempt(&developer, json!({"project": "WEB"})).await;
    assert_eq!(no_work_there.status, StatusCode::FORBIDDEN, "{}", no_work_there.body);
    let reporter_here = attempt(&reporter, json!({"project": "WEB"})).await;
    assert_eq!(reporter_here.status, StatusCode::FORBIDDEN, "{}", reporter_here.body);
    for target in [json!("SEC"), json!("NOPE"), json!(99_999)] {
        let unseen = attempt(&developer, json!({"project": target})).await;
        assert_eq!(unseen.status, StatusCode::BAD_REQUEST, "{target}: {}", unseen.body);
        assert_eq!(unseen.body["error"]["field"], "project", "{target}");
    }

    let assigned = attempt(&app.admin, json!({"assignee_id": ann_id, "fields": {"reviewer": ann_id}})).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let version = assigned.body["version"].clone();
    let moved = async |body: Value| {
        let mut body = body;
        body["version"] = version.clone();
        app.admin.patch(&path, body).await
    };
    let wrong_type = moved(json!({"project": "WEB"})).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST, "{}", wrong_type.body);
    assert_eq!(wrong_type.body["error"]["field"], "type_id", "WEB uses tasks only");
    let not_member = moved(json!({"project": "WEB", "type_id": TASK})).await;
    assert_eq!(not_member.status, StatusCode::BAD_REQUEST, "{}", not_member.body);
    assert_eq!(not_member.body["error"]["field"], "assignee_id", "ann is no member of WEB");
    // A person held in a user field is bound the same way: kept, they must be a member there.
    let kept_reviewer = moved(json!({"project": "WEB", "type_id": TASK, "assignee_id": null})).await;
    assert_eq!(kept_reviewer.status, StatusCode::BAD_REQUEST, "{}", kept_reviewer.body);
    assert_eq!(kept_reviewer.body["error"]["field"], "fields.reviewer", "ann is no member of WEB");
    let resent =
        moved(json!({"project": "WEB", "type_id": TASK, "assignee_id": null, "fields": {"reviewer": ann_id}})).await;
    assert_eq!(resent.status, StatusCode::BAD_REQUEST, "{}", resent.body);
    assert_eq!(resent.body["error"]["field"], "fields.reviewer", "the same value sent again is no exception");
    assert_eq!(app.admin.get(&path).await.body, assigned.body, "nothing changed");

    let done =
        moved(json!({"project": "WEB", "type_id": TASK, "assignee_id": null, "fields": {"reviewer": rita_id}})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!((done.body["project"]["key"].as_str(), done.body["type"]["name"].as_str()), (Some("WEB"), Some("Task")));
    assert!(done.body["assignee"].is_null());
    assert_eq!(done.body["fields"]["reviewer"]["login"], "rita", "{}", done.body);
}

async fn the_move_request_maps_planning_by_name_or_refuses_with_the_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let ann = app.create_user("ann").await;
    app.add_member("OPS", &ann, "developer").await;
    let made = async |path: &str, body: Value| {
        let reply = app.admin.post(path, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
        reply.body["id"].clone()
    };
    let urgent = made("/api/v1/projects/OPS/labels", json!({"name": "urgent", "color": "#d73a4a"})).await;
    let printer = made("/api/v1/projects/OPS/labels", json!({"name": "printer", "color": "#0e8a16"})).await;
    let web_urgent = made("/api/v1/projects/WEB/labels", json!({"name": "Urgent", "color": "#d73a4a"})).await;
    let hardware = made("/api/v1/projects/OPS/components", json!({"name": "Hardware"})).await;
    let web_hardware = made("/api/v1/projects/WEB/components", json!({"name": "hardware"})).await;
    let release = made("/api/v1/projects/OPS/versions", json!({"name": "2.0"})).await;
    let web_release = made("/api/v1/projects/WEB/versions", json!({"name": "2.0"})).await;
    let item = made(
        "/api/v1/items",
        json!({"project": "OPS", "title": "Jammed", "labels": [urgent, printer], "component": hardware,
               "target_version": release, "assignee_id": ann.user_id}),
    )
    .await;
    let path = format!("/api/v1/items/{item}");

    // What has no namesake in WEB is listed, all at once; nothing moves.
    let refused = app.admin.post(&format!("{path}/move"), json!({"project": "WEB"})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("WEB has no label printer") && message.contains("ann is not a member of WEB"),
        "{message}"
    );
    assert!(!message.contains("urgent") && !message.contains("component"), "mapped ones are not listed: {message}");
    assert_eq!(app.admin.get(&path).await.body["key"], "OPS-1");
    for (body, field) in [(json!({"project": "OPS"}), "project"), (json!({"project": "NOPE"}), "project")] {
        let reply = app.admin.post(&format!("{path}/move"), body).await;
        assert_eq!((reply.status, reply.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    let unknown = app.admin.post(&format!("{path}/move"), json!({"project": "WEB", "labels": []})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    let unseen = ann.post(&format!("{path}/move"), json!({"project": "WEB"})).await;
    assert_eq!((unseen.status, unseen.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("project")));

    // With "drop", the namesakes are taken and the rest dropped, with history.
    let moved = app.admin.post("/api/v1/items/OPS-1/move", json!({"project": "WEB", "drop": true})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["key"], "WEB-1");
    assert_eq!(
        moved.body["labels"].as_array().unwrap().iter().map(|label| label["id"].clone()).collect::<Vec<_>>(),
        [web_urgent]
    );
    assert_eq!(moved.body["component"]["id"], web_hardware);
    assert_eq!(moved.body["target_version"]["id"], web_release);
    assert_eq!(moved.body["assignee"], Value::Null);
    let history = app.admin.history(&path).await;
    assert!(history.contains(&("project".into(), json!("OPS"), json!("WEB"))), "{history:?}");
    assert_eq!(app.admin.get("/api/v1/items/OPS-1").await.body["key"], "WEB-1", "the old key still leads to it");
}
