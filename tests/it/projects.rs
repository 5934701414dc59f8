use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    private_projects_are_invisible_to_non_members,
    public_projects_are_readable_but_not_writable_by_non_members,
    roles_decide_what_members_may_do,
    project_keys_are_unique_and_checked,
    managers_change_their_project_and_its_members,
);

async fn private_projects_are_invisible_to_non_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("SEC", false).await;
    let item = app.admin.create_item("SEC", "Secret plan").await;
    let outsider = app.create_user("outsider").await;

    assert_eq!(outsider.get("/api/v1/projects").await.body["projects"], json!([]));
    let project = outsider.get("/api/v1/projects/SEC").await;
    assert_eq!(project.status, StatusCode::NOT_FOUND);
    let found = outsider.get(&format!("/api/v1/items/{}", item["id"])).await;
    assert_eq!(found.status, StatusCode::NOT_FOUND);
    assert!(!found.body.to_string().contains("Secret plan"));
    let listed = outsider.get("/api/v1/items").await;
    assert_eq!(listed.body["total"], 0);
    assert_eq!(outsider.get("/api/v1/items?project=SEC").await.status, StatusCode::NOT_FOUND);
    for path in ["comments", "history", "attachments", "watchers", "transitions"] {
        let reply = outsider.get(&format!("/api/v1/items/{}/{path}", item["id"])).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let comment = outsider.post(&format!("/api/v1/items/{}/comments", item["id"]), json!({"body": "hi"})).await;
    assert_eq!(comment.status, StatusCode::NOT_FOUND);
}

async fn public_projects_are_readable_but_not_writable_by_non_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("PUB", true).await;
    let item = app.admin.create_item("PUB", "Open to all").await;
    let visitor = app.create_user("visitor").await;
    assert_eq!(visitor.get(&format!("/api/v1/items/{}", item["id"])).await.status, StatusCode::OK);
    assert_eq!(visitor.get("/api/v1/items").await.body["total"], 1);
    let create = visitor.post("/api/v1/items", json!({"project": "PUB", "title": "Spam"})).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    let watch = visitor.post(&format!("/api/v1/items/{}/watchers", item["id"]), json!({})).await;
    assert_eq!(watch.status, StatusCode::NO_CONTENT);
}

async fn roles_decide_what_members_may_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("ROLE", false).await;
    let viewer = app.create_user("viewer").await;
    let reporter = app.create_user("reporter").await;
    let developer = app.create_user("developer").await;
    app.add_member("ROLE", &viewer, "viewer").await;
    app.add_member("ROLE", &reporter, "reporter").await;
    app.add_member("ROLE", &developer, "developer").await;

    let denied = viewer.post("/api/v1/items", json!({"project": "ROLE", "title": "By viewer"})).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let item = reporter.create_item("ROLE", "By reporter").await;
    let id = item["id"].as_i64().unwrap();

    let own_text = reporter.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "title": "Better title"})).await;
    assert_eq!(own_text.status, StatusCode::OK, "{}", own_text.body);
    let own_status = reporter.patch(&format!("/api/v1/items/{id}"), json!({"version": 2, "status_id": 2})).await;
    assert_eq!(own_status.status, StatusCode::FORBIDDEN);
    assert_eq!(reporter.get(&format!("/api/v1/items/{id}/transitions")).await.body["statuses"], json!([]));

    let moved = developer
        .patch(&format!("/api/v1/items/{id}"), json!({"version": 2, "status_id": 2, "assignee_id": developer.user_id}))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["assignee"]["login"], "developer");
    let by_developer = developer.create_item("ROLE", "Second").await;
    let not_own = reporter
        .patch(&format!("/api/v1/items/{}", by_developer["id"]), json!({"version": 1, "title": "Hijack"}))
        .await;
    assert_eq!(not_own.status, StatusCode::FORBIDDEN);
    let manage = developer.patch("/api/v1/projects/ROLE", json!({"name": "Renamed"})).await;
    assert_eq!(manage.status, StatusCode::FORBIDDEN);
}

async fn project_keys_are_unique_and_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("DUP", false).await;
    let again = app.admin.post("/api/v1/projects", json!({"key": "dup", "name": "Again"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = app.admin.post("/api/v1/projects", json!({"key": "no way", "name": "Bad"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["field"], "key");
    let user = app.create_user("ordinary").await;
    let by_user = user.post("/api/v1/projects", json!({"key": "MINE", "name": "Mine"})).await;
    assert_eq!(by_user.status, StatusCode::FORBIDDEN);
}

async fn managers_change_their_project_and_its_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("MGR", false).await;
    let manager = app.create_user("manager").await;
    let newcomer = app.create_user("newcomer").await;
    app.add_member("MGR", &manager, "manager").await;
    let renamed = manager
        .patch("/api/v1/projects/MGR", json!({"name": "Managed", "description": "Ours", "is_public": true}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["name"], "Managed");
    let added =
        manager.put(&format!("/api/v1/projects/MGR/members/{}", newcomer.user_id), json!({"role": "developer"})).await;
    assert_eq!(added.status, StatusCode::OK);
    let bad_role =
        manager.put(&format!("/api/v1/projects/MGR/members/{}", newcomer.user_id), json!({"role": "overlord"})).await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    let members = manager.get("/api/v1/projects/MGR/members").await;
    let roles: Vec<(String, String)> = members.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| {
            (member["user"]["login"].as_str().unwrap().to_string(), member["role"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        roles,
        [("manager".to_string(), "manager".to_string()), ("newcomer".to_string(), "developer".to_string())]
    );
    let removed = manager.delete(&format!("/api/v1/projects/MGR/members/{}", newcomer.user_id)).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        newcomer.post("/api/v1/items", json!({"project": "MGR", "title": "x"})).await.status,
        StatusCode::FORBIDDEN
    );
}
