//! Item types per project and status moves per item type, through the API: a project uses
//! every type until its managers choose, new items and type changes keep to the project's
//! types, and an item moves by the matrix of its own type (the global one unless the type has
//! its own).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_project_uses_every_type_until_its_managers_choose,
    new_items_and_type_changes_keep_to_the_projects_types,
    an_item_moves_by_the_matrix_of_its_own_type,
    a_type_that_is_a_projects_only_type_cannot_be_deleted,
    malformed_type_choices_and_matrices_are_client_errors_and_change_nothing,
    concurrent_choices_of_a_projects_types_all_succeed_and_one_of_them_stands,
);

const BUG: i64 = 1;
const FEATURE: i64 = 2;
const TASK: i64 = 3;
const NEW: i64 = 1;
const IN_PROGRESS: i64 = 2;
const CLOSED: i64 = 4;

fn type_names(body: &Value) -> Vec<&str> {
    body["types"].as_array().unwrap().iter().map(|item_type| item_type["name"].as_str().unwrap()).collect()
}

async fn a_project_uses_every_type_until_its_managers_choose(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let every = app.admin.get("/api/v1/projects/OPS/types").await;
    assert_eq!(every.status, StatusCode::OK, "{}", every.body);
    assert_eq!(every.body["all"], true);
    assert_eq!(type_names(&every.body), ["Bug", "Feature", "Task", "Support"]);

    let manager = app.create_user("mia").await;
    app.add_member("OPS", &manager, "manager").await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let outsider = app.create_user("otto").await;

    let refused = developer.put("/api/v1/projects/OPS/types", json!({"types": [TASK]})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let hidden = outsider.put("/api/v1/projects/OPS/types", json!({"types": [TASK]})).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "a project the caller cannot see is not found");
    assert_eq!(outsider.get("/api/v1/projects/OPS/types").await.status, StatusCode::NOT_FOUND);

    // Ids in any order and repeated: the list follows the workflow's order.
    let chosen = manager.put("/api/v1/projects/OPS/types", json!({"types": [TASK, BUG, TASK]})).await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.body);
    assert_eq!(chosen.body["all"], false);
    assert_eq!(type_names(&chosen.body), ["Bug", "Task"]);
    assert_eq!(developer.get("/api/v1/projects/OPS/types").await.body, chosen.body, "members read the choice");

    // A type added later is not used by a project that chose.
    let chore = app.admin.post("/api/v1/workflow/types", json!({"name": "Chore"})).await.body;
    assert_eq!(type_names(&app.admin.get("/api/v1/projects/OPS/types").await.body), ["Bug", "Task"]);
    app.create_project("WEB", false).await;
    let other = app.admin.get("/api/v1/projects/WEB/types").await.body;
    assert_eq!(type_names(&other), ["Bug", "Feature", "Task", "Support", "Chore"], "{chore}");

    let back = manager.put("/api/v1/projects/OPS/types", json!({"types": null})).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["all"], true);
    assert_eq!(type_names(&back.body).len(), 5);
}

async fn new_items_and_type_changes_keep_to_the_projects_types(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let before = app.admin.create_item("OPS", "A feature from before the choice").await;
    let feature_item = app
        .admin
        .patch(&format!("/api/v1/items/{}", before["id"]), json!({"version": before["version"], "type_id": FEATURE}))
        .await;
    assert_eq!(feature_item.status, StatusCode::OK, "{}", feature_item.body);
    app.admin.put("/api/v1/projects/OPS/types", json!({"types": [TASK, FEATURE]})).await;

    let default = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "Default type"})).await;
    assert_eq!(default.status, StatusCode::CREATED, "{}", default.body);
    assert_eq!(default.body["type"]["name"], "Feature", "the project's first type in the workflow's order");

    let refused = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "A bug", "type_id": BUG})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.body["error"]["field"], "type_id");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("does not use the item type Bug") && message.contains("Feature, Task"), "{message}");
    assert_eq!(app.count_rows("items"), 2, "nothing stored");

    let task = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "A task", "type_id": TASK})).await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    let path = format!("/api/v1/items/{}", task.body["id"]);
    let to_bug = app.admin.patch(&path, json!({"version": task.body["version"], "type_id": BUG})).await;
    assert_eq!(to_bug.status, StatusCode::BAD_REQUEST, "{}", to_bug.body);
    assert_eq!(to_bug.body["error"]["field"], "type_id");
    assert_eq!(app.admin.get(&path).await.body, task.body, "unchanged");

    // An item keeps a type the project no longer uses, and can still be edited.
    app.admin.put("/api/v1/projects/OPS/types", json!({"types": [TASK]})).await;
    let kept = app.admin.get(&format!("/api/v1/items/{}", before["id"])).await.body;
    assert_eq!(kept["type"]["name"], "Feature");
    let retitled = app
        .admin
        .patch(&format!("/api/v1/items/{}", before["id"]), json!({"version": kept["version"], "title": "Renamed"}))
        .await;
    assert_eq!(retitled.status, StatusCode::OK, "{}", retitled.body);
    assert_eq!(retitled.body["type"]["name"], "Feature");
}

async fn moves_of(app: &TestApp, item: &Value) -> Vec<String> {
    let reply = app.admin.get(&format!("/api/v1/items/{}/transitions", item["id"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status["name"].as_str().unwrap().to_string())
        .collect()
}

async fn move_to(app: &TestApp, item: &Value, status: i64) -> crate::support::app::Reply {
    let current = app.admin.get(&format!("/api/v1/items/{}", item["id"])).await.body;
    app.admin
        .patch(&format!("/api/v1/items/{}", item["id"]), json!({"version": current["version"], "status_id": status}))
        .await
}

async fn an_item_moves_by_the_matrix_of_its_own_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let bug = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "Bug", "type_id": BUG})).await.body;
    let task = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "Task", "type_id": TASK})).await.body;
    assert_eq!(moves_of(&app, &task).await, ["In progress", "Resolved", "Rejected"], "the global matrix");

    // Tasks may only be closed straight away.
    let own = app
        .admin
        .put(
            &format!("/api/v1/workflow/types/{TASK}/transitions"),
            json!({"transitions": [{"from": NEW, "to": CLOSED}]}),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["type"]["own_transitions"], true);
    assert_eq!(own.body["transitions"], json!([{"from": NEW, "to": CLOSED}]));
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    assert_eq!(workflow["type_transitions"], json!([{"type": TASK, "from": NEW, "to": CLOSED}]));
    assert_eq!(workflow["types"][0]["own_transitions"], false);

    assert_eq!(moves_of(&app, &task).await, ["Closed"]);
    assert_eq!(moves_of(&app, &bug).await, ["In progress", "Resolved", "Rejected"], "bugs keep the global moves");
    let refused = move_to(&app, &task, IN_PROGRESS).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.body["error"]["field"], "status_id");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("New → In progress for Task items") && message.contains("allowed: Closed"), "{message}");
    let refused = move_to(&app, &bug, CLOSED).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(move_to(&app, &task, CLOSED).await.status, StatusCode::OK);
    assert_eq!(move_to(&app, &bug, IN_PROGRESS).await.status, StatusCode::OK);

    // Changing the type and the status together uses the new type's moves.
    let feature =
        app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "F", "type_id": FEATURE})).await.body;
    let both = app
        .admin
        .patch(
            &format!("/api/v1/items/{}", feature["id"]),
            json!({"version": feature["version"], "type_id": TASK, "status_id": CLOSED}),
        )
        .await;
    assert_eq!(both.status, StatusCode::OK, "{}", both.body);
    assert_eq!(both.body["status"]["name"], "Closed");

    // Editing the global matrix leaves the type's own alone; null returns the type to it.
    app.admin.put(&format!("/api/v1/workflow/statuses/{NEW}/transitions"), json!({"to": [IN_PROGRESS]})).await;
    let task2 = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "T2", "type_id": TASK})).await.body;
    assert_eq!(moves_of(&app, &task2).await, ["Closed"]);
    let global =
        app.admin.put(&format!("/api/v1/workflow/types/{TASK}/transitions"), json!({"transitions": null})).await;
    assert_eq!(global.status, StatusCode::OK, "{}", global.body);
    assert_eq!(global.body["type"]["own_transitions"], false);
    assert_eq!(moves_of(&app, &task2).await, ["In progress"]);
    assert_eq!(app.count_rows("type_transitions"), 0);

    // An empty matrix is a type whose items cannot move.
    let frozen = app.admin.put(&format!("/api/v1/workflow/types/{TASK}/transitions"), json!({"transitions": []})).await;
    assert_eq!(frozen.status, StatusCode::OK, "{}", frozen.body);
    assert_eq!(moves_of(&app, &task2).await, Vec::<String>::new());

    // Deleting a status takes the type's moves to and from it along.
    let triage = app.admin.post("/api/v1/workflow/statuses", json!({"name": "Triage"})).await.body;
    let triage_id = triage["id"].as_i64().unwrap();
    let with_triage = app
        .admin
        .put(
            &format!("/api/v1/workflow/types/{TASK}/transitions"),
            json!({"transitions": [{"from": NEW, "to": triage_id}, {"from": triage_id, "to": CLOSED}]}),
        )
        .await;
    assert_eq!(with_triage.status, StatusCode::OK, "{}", with_triage.body);
    let deleted = app.admin.delete(&format!("/api/v1/workflow/statuses/{triage_id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(app.count_rows("type_transitions"), 0);
}

async fn a_type_that_is_a_projects_only_type_cannot_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.admin.put("/api/v1/projects/OPS/types", json!({"types": [TASK]})).await;
    let refused = app.admin.delete(&format!("/api/v1/workflow/types/{TASK}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("only item type of project OPS"), "{message}");
    app.admin.put("/api/v1/projects/OPS/types", json!({"types": [TASK, BUG]})).await;
    let deleted = app.admin.delete(&format!("/api/v1/workflow/types/{TASK}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(type_names(&app.admin.get("/api/v1/projects/OPS/types").await.body), ["Bug"]);
}

async fn malformed_type_choices_and_matrices_are_client_errors_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.admin.put("/api/v1/projects/OPS/types", json!({"types": [TASK]})).await;
    for (body, field) in [
        (json!({"types": []}), "types"),
        (json!({"types": [4242]}), "types"),
        (json!({}), "types"),
        (json!({"types": ["Bug"]}), ""),
        (json!({"types": [1], "extra": true}), ""),
    ] {
        let reply = app.admin.put("/api/v1/projects/OPS/types", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        if !field.is_empty() {
            assert_eq!(reply.body["error"]["field"], field, "{body}: {}", reply.body);
        }
    }
    assert_eq!(type_names(&app.admin.get("/api/v1/projects/OPS/types").await.body), ["Task"]);

    let path = format!("/api/v1/workflow/types/{TASK}/transitions");
    for body in [
        json!({"transitions": [{"from": NEW, "to": NEW}]}),
        json!({"transitions": [{"from": NEW, "to": 4242}]}),
        json!({"transitions": [{"from": NEW}]}),
        json!({}),
    ] {
        let reply = app.admin.put(&path, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
    }
    let unknown = app.admin.put("/api/v1/workflow/types/4242/transitions", json!({"transitions": []})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let member = app.create_user("mia").await;
    app.add_member("OPS", &member, "manager").await;
    let not_admin = member.put(&path, json!({"transitions": []})).await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN, "{}", not_admin.body);
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    assert_eq!(workflow["type_transitions"], json!([]));
    assert_eq!(workflow["types"][TASK as usize - 1]["own_transitions"], false);
}

async fn concurrent_choices_of_a_projects_types_all_succeed_and_one_of_them_stands(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let choices = [vec![BUG, TASK], vec![FEATURE], vec![TASK, FEATURE, BUG], vec![TASK]];
    let replies = crate::workflow::all_at_once((0..12).map(|turn| {
        let types = choices[turn % choices.len()].clone();
        let admin = app.admin.clone();
        async move { admin.put("/api/v1/projects/OPS/types", json!({"types": types})).await }
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let stands = app.admin.get("/api/v1/projects/OPS/types").await.body;
    let ids: Vec<i64> =
        stands["types"].as_array().unwrap().iter().map(|item_type| item_type["id"].as_i64().unwrap()).collect();
    assert!(
        choices.iter().any(|choice| {
            let mut choice = choice.clone();
            choice.sort_unstable();
            let mut ids = ids.clone();
            ids.sort_unstable();
            choice == ids
        }),
        "{ids:?} is one of the choices"
    );
}
