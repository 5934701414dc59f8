//! Administrators edit the workflow through the API: item types, statuses and priorities are
//! created, renamed, reordered and deleted under the rules, transitions are replaced and then
//! enforced, and a status that becomes closed is seen as closed by lists and search.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    types_statuses_and_priorities_are_created_renamed_reordered_and_deleted,
    names_are_trimmed_limited_and_unique_without_regard_to_case,
    an_entry_that_items_use_cannot_be_deleted_nor_the_last_of_its_list,
    unknown_entries_are_not_found,
    replaced_transitions_are_enforced_on_status_changes,
    a_new_status_moved_first_becomes_the_initial_status_of_new_items,
    closing_a_status_requeues_its_items_and_lists_and_search_see_them_closed,
    only_administrators_change_the_workflow,
    malformed_workflow_bodies_are_client_errors_and_change_nothing,
    concurrent_edits_cannot_break_the_rules,
    demo_data_follows_an_edited_workflow,
);

const LISTS: [&str; 3] = ["types", "statuses", "priorities"];

async fn workflow(app: &TestApp) -> Value {
    let reply = app.admin.get("/api/v1/workflow").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The names of one list of the workflow, in order, after checking positions are 1..n.
async fn names(app: &TestApp, list: &str) -> Vec<String> {
    let entries = workflow(app).await[list].as_array().unwrap().clone();
    let positions: Vec<i64> = entries.iter().map(|entry| entry["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (1..=entries.len() as i64).collect::<Vec<_>>(), "{list} positions");
    entries.iter().map(|entry| entry["name"].as_str().unwrap().to_string()).collect()
}

async fn create(api: &Api, list: &str, body: Value) -> Value {
    let reply = api.post(&format!("/api/v1/workflow/{list}"), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn types_statuses_and_priorities_are_created_renamed_reordered_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for list in LISTS {
        let before = names(&app, list).await;
        // On PostgreSQL this also proves that the identity sequences start past the seeded ids.
        let created = create(&app.admin, list, json!({"name": "Extra"})).await;
        assert_eq!(created["name"], "Extra");
        assert_eq!(created["position"], before.len() + 1);
        let id = created["id"].as_i64().unwrap();
        assert!(id > before.len() as i64, "{list}: a fresh id, not a seeded one: {created}");
        let path = format!("/api/v1/workflow/{list}/{id}");

        let renamed = app.admin.patch(&path, json!({"name": "Extra renamed"})).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
        assert_eq!(renamed.body["name"], "Extra renamed");

        let moved = app.admin.patch(&path, json!({"position": 2})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        assert_eq!(moved.body["position"], 2);
        let mut expected = before.clone();
        expected.insert(1, "Extra renamed".to_string());
        assert_eq!(names(&app, list).await, expected, "{list}");

        let deleted = app.admin.delete(&path).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
        assert_eq!(names(&app, list).await, before, "{list}");
    }
    let closed = create(&app.admin, "statuses", json!({"name": "Won't fix", "is_closed": true})).await;
    assert_eq!(closed["is_closed"], true);
    let opened =
        app.admin.patch(&format!("/api/v1/workflow/statuses/{}", closed["id"]), json!({"is_closed": false})).await;
    assert_eq!(opened.body["is_closed"], false, "{}", opened.body);
}

/// `demo-data` draws from the workflow as it is, not from the seeded ids.
async fn demo_data_follows_an_edited_workflow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.without_master().await;
    let triage = create(&app.admin, "statuses", json!({"name": "Triage"})).await;
    let chore = create(&app.admin, "types", json!({"name": "Chore"})).await;
    for (list, id) in [("statuses", 5), ("types", 4), ("priorities", 4), ("types", 1)] {
        let deleted = app.admin.delete(&format!("/api/v1/workflow/{list}/{id}")).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{list} {id}: {}", deleted.body);
    }
    baton::demo::generate(&app.database(), 500, Some(11)).unwrap();
    let listed = workflow(&app).await;
    let ids = |list: &str| -> Vec<i64> {
        listed[list].as_array().unwrap().iter().map(|entry| entry["id"].as_i64().unwrap()).collect()
    };
    for (column, list) in [("status_id", "statuses"), ("type_id", "types"), ("priority_id", "priorities")] {
        let known = ids(list).iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        assert_eq!(app.count_rows(&format!("items WHERE {column} NOT IN ({known})")), 0, "{column}");
    }
    assert!(app.count_rows(&format!("items WHERE status_id = {}", triage["id"])) > 0);
    assert!(app.count_rows(&format!("items WHERE type_id = {}", chore["id"])) > 0);
}

async fn names_are_trimmed_limited_and_unique_without_regard_to_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let trimmed = create(&app.admin, "statuses", json!({"name": "  Waiting  "})).await;
    assert_eq!(trimmed["name"], "Waiting");
    for (name, expected) in [("", "must not be empty"), ("   ", "must not be empty"), ("a\nb", "line breaks")] {
        let reply = app.admin.post("/api/v1/workflow/types", json!({"name": name})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name:?}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], "name");
        assert!(reply.body["error"]["message"].as_str().unwrap().contains(expected), "{}", reply.body);
    }
    let longest = "é".repeat(60);
    create(&app.admin, "priorities", json!({"name": longest})).await;
    let too_long = app.admin.post("/api/v1/workflow/priorities", json!({"name": "x".repeat(61)})).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_long.body["error"]["field"], "name");

    let duplicate = app.admin.post("/api/v1/workflow/statuses", json!({"name": "in PROGRESS"})).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.body);
    assert!(duplicate.body["error"]["message"].as_str().unwrap().contains("\"In progress\""), "{}", duplicate.body);
    let renamed_onto = app.admin.patch("/api/v1/workflow/types/2", json!({"name": "bug"})).await;
    assert_eq!(renamed_onto.status, StatusCode::CONFLICT, "{}", renamed_onto.body);
    let same_name_other_case = app.admin.patch("/api/v1/workflow/types/1", json!({"name": "BUG"})).await;
    assert_eq!(same_name_other_case.status, StatusCode::OK, "renaming an entry to itself in another case");
    assert_eq!(same_name_other_case.body["name"], "BUG");
    let same_in_other_list = create(&app.admin, "types", json!({"name": "Urgent"})).await;
    assert_eq!(same_in_other_list["name"], "Urgent", "names are unique per list only");

    let closed_type = app.admin.post("/api/v1/workflow/types", json!({"name": "Chore", "is_closed": true})).await;
    assert_eq!(closed_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(closed_type.body["error"]["field"], "is_closed");
    for position in [0, 6, -1] {
        let reply = app.admin.patch("/api/v1/workflow/types/1", json!({"position": position})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "position {position}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], "position");
    }
    assert_eq!(names(&app, "types").await, ["BUG", "Feature", "Task", "Support", "Urgent"]);
}

async fn an_entry_that_items_use_cannot_be_deleted_nor_the_last_of_its_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for id in [2, 3, 4] {
        assert_eq!(app.admin.delete(&format!("/api/v1/workflow/types/{id}")).await.status, StatusCode::NO_CONTENT);
    }
    let last = app.admin.delete("/api/v1/workflow/types/1").await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
    assert!(last.body["error"]["message"].as_str().unwrap().contains("only item type"), "{}", last.body);
    assert_eq!(names(&app, "types").await, ["Bug"]);

    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "Uses New, Bug and Normal").await;
    for (list, id, name) in [("statuses", 1, "New"), ("priorities", 2, "Normal")] {
        let refused = app.admin.delete(&format!("/api/v1/workflow/{list}/{id}")).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("1 item has") && message.contains(name) && message.contains("move it to another"),
            "{message}"
        );
    }
    let unchanged = app.admin.get(&format!("/api/v1/items/{}", item["id"])).await.body;
    assert_eq!(unchanged, item, "the item is untouched");
    assert_eq!(names(&app, "statuses").await.len(), 5);
    let unused = app.admin.delete("/api/v1/workflow/statuses/3").await;
    assert_eq!(unused.status, StatusCode::NO_CONTENT, "an unused status goes, with its moves");
    let transitions = workflow(&app).await["transitions"].clone();
    assert!(
        !transitions.as_array().unwrap().iter().any(|move_| move_["from"] == 3 || move_["to"] == 3),
        "{transitions}"
    );
    assert_eq!(crate::support::app::totals_disagreements(&app), Vec::<String>::new());
}

async fn unknown_entries_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for list in LISTS {
        let path = format!("/api/v1/workflow/{list}/4242");
        assert_eq!(app.admin.patch(&path, json!({"name": "x"})).await.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(app.admin.delete(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let transitions = app.admin.put("/api/v1/workflow/statuses/4242/transitions", json!({"to": [1]})).await;
    assert_eq!(transitions.status, StatusCode::NOT_FOUND);
    let no_list = app.admin.post("/api/v1/workflow/colours", json!({"name": "Red"})).await;
    assert_eq!(no_list.status, StatusCode::NOT_FOUND);
    assert_eq!(no_list.error_code(), "not_found");
}

async fn replaced_transitions_are_enforced_on_status_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "Flow").await;
    let path = format!("/api/v1/items/{}", item["id"]);

    let replaced = app.admin.put("/api/v1/workflow/statuses/1/transitions", json!({"to": [4, 2, 4]})).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body, json!({"from": 1, "to": [2, 4]}));
    let replaced = app.admin.put("/api/v1/workflow/statuses/1/transitions", json!({"to": [4]})).await;
    assert_eq!(replaced.body, json!({"from": 1, "to": [4]}));
    let allowed = app.admin.get(&format!("{path}/transitions")).await;
    let names: Vec<&str> =
        allowed.body["statuses"].as_array().unwrap().iter().map(|status| status["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Closed"]);

    let removed_move = app.admin.patch(&path, json!({"version": 1, "status_id": 2})).await;
    assert_eq!(removed_move.status, StatusCode::BAD_REQUEST);
    let message = removed_move.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("New → In progress") && message.contains("allowed: Closed"), "{message}");
    let new_move = app.admin.patch(&path, json!({"version": 1, "status_id": 4})).await;
    assert_eq!(new_move.status, StatusCode::OK, "{}", new_move.body);
    assert_eq!(new_move.body["status"]["name"], "Closed");

    let to_itself = app.admin.put("/api/v1/workflow/statuses/2/transitions", json!({"to": [3, 2]})).await;
    assert_eq!(to_itself.status, StatusCode::BAD_REQUEST);
    assert_eq!(to_itself.body["error"]["field"], "to");
    assert!(to_itself.body["error"]["message"].as_str().unwrap().contains("itself"), "{}", to_itself.body);
    let unknown_target = app.admin.put("/api/v1/workflow/statuses/2/transitions", json!({"to": [99]})).await;
    assert_eq!(unknown_target.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_target.body["error"]["field"], "to");
    let none = app.admin.put("/api/v1/workflow/statuses/5/transitions", json!({"to": []})).await;
    assert_eq!(none.body, json!({"from": 5, "to": []}));
    let moves_from_two: Vec<Value> = workflow(&app).await["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|move_| move_["from"] == 2)
        .cloned()
        .collect();
    assert_eq!(moves_from_two.len(), 3, "refused changes changed nothing: {moves_from_two:?}");
}

async fn a_new_status_moved_first_becomes_the_initial_status_of_new_items(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let triage = create(&app.admin, "statuses", json!({"name": "Triage"})).await;
    let before = app.admin.create_item("OPS", "Before the move").await;
    assert_eq!(before["status"]["name"], "New");
    let moved = app.admin.patch(&format!("/api/v1/workflow/statuses/{}", triage["id"]), json!({"position": 1})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(names(&app, "statuses").await[..2], ["Triage", "New"]);
    let after = app.admin.create_item("OPS", "After the move").await;
    assert_eq!(after["status"], json!({"id": triage["id"], "name": "Triage", "is_closed": false}));
}

fn queued_items(app: &TestApp) -> Vec<i64> {
    use baton::db::schema::index_queue;
    use diesel::prelude::*;
    let mut connection = app.database().get().unwrap();
    let mut queued: Vec<i64> =
        index_queue::table.select(index_queue::item_id).load(&mut **connection).expect("queued items");
    queued.sort();
    queued
}

async fn closing_a_status_requeues_its_items_and_lists_and_search_see_them_closed(backend: Backend) {
    let app = crate::search::spawn(backend).await;
    app.create_project("OPS", false).await;
    let first = app.admin.create_item("OPS", "Waiting for the vendor").await;
    let second = app.admin.create_item("OPS", "Waiting for the customer").await;
    let other = app.admin.create_item("OPS", "Waiting for nothing").await;
    let moved = app.admin.patch(&format!("/api/v1/items/{}", other["id"]), json!({"version": 1, "status_id": 2})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    crate::search::search_until(&app, &app.admin, "waiting status:open", 3).await;
    crate::search::index_everything(&app).await;
    // Without a master nothing drains the queue, so what the change queued can be counted.
    app.without_master().await;

    let closed = app.admin.patch("/api/v1/workflow/statuses/1", json!({"is_closed": true})).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let mut expected = vec![first["id"].as_i64().unwrap(), second["id"].as_i64().unwrap()];
    expected.sort();
    assert_eq!(queued_items(&app), expected, "every item in the status, and only those, is queued");
    let listed = app.admin.get("/api/v1/items?state=closed").await;
    assert_eq!(listed.body["total"], 2, "{}", listed.body);
    assert_eq!(listed.body["items"][0]["status"]["is_closed"], true);
    assert_eq!(app.admin.get("/api/v1/items?state=open").await.body["total"], 1);

    baton::cluster::set_maintenance(&app.database(), "test-node".into(), false, "a test".into()).await.unwrap();
    let found = crate::search::search_until(&app, &app.admin, "waiting status:closed", 2).await;
    let titles: Vec<&str> =
        found["hits"].as_array().unwrap().iter().map(|hit| hit["item"]["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Waiting for the vendor") && titles.contains(&"Waiting for the customer"), "{found}");
    crate::search::index_everything(&app).await;
    assert_eq!(queued_items(&app), Vec::<i64>::new(), "the new master applied the queued items");
}

async fn only_administrators_change_the_workflow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.create_user("ursula").await;
    assert_eq!(user.get("/api/v1/workflow").await.status, StatusCode::OK, "everyone reads it");
    for list in LISTS {
        let created = user.post(&format!("/api/v1/workflow/{list}"), json!({"name": "Mine"})).await;
        assert_eq!(created.status, StatusCode::FORBIDDEN, "{list}: {}", created.body);
        let path = format!("/api/v1/workflow/{list}/1");
        assert_eq!(user.patch(&path, json!({"name": "Mine"})).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(user.delete(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let moves = user.put("/api/v1/workflow/statuses/1/transitions", json!({"to": []})).await;
    assert_eq!(moves.status, StatusCode::FORBIDDEN);
    assert_eq!(workflow(&app).await["transitions"].as_array().unwrap().len(), 10, "nothing changed");
    assert_eq!(names(&app, "types").await, ["Bug", "Feature", "Task", "Support"]);
}

async fn malformed_workflow_bodies_are_client_errors_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let send = |method: reqwest::Method, path: &str, body: &'static [u8], content_type: &'static str| {
        app.admin.send(app.admin.client.request(method, app.url(path)).header("Content-Type", content_type).body(body))
    };
    let cases: Vec<(reqwest::Method, &str, &[u8], &str, StatusCode)> = vec![
        (reqwest::Method::POST, "/api/v1/workflow/types", b"{\"name\": ", "application/json", StatusCode::BAD_REQUEST),
        (reqwest::Method::POST, "/api/v1/workflow/types", b"{}", "application/json", StatusCode::BAD_REQUEST),
        (
            reqwest::Method::POST,
            "/api/v1/workflow/statuses",
            br#"{"name": "x", "colour": "red"}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/workflow/types",
            br#"{"name": "x"}"#,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/workflow/types/1",
            br#"{"position": "first"}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/workflow/types/1",
            br#"{"nmae": "x"}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/workflow/types/abc",
            br#"{"name": "x"}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/workflow/statuses/1/transitions",
            br#"{"to": 2}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/workflow/statuses/1/transitions",
            br#"{"to": ["x"]}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, body, content_type, expected) in cases {
        let shown = format!("{method} {path} {}", String::from_utf8_lossy(body));
        let reply = send(method, path, body, content_type).await;
        assert_eq!(reply.status, expected, "{shown}: {}", reply.body);
        assert!(reply.body["error"]["code"].is_string(), "{shown}: {}", reply.body);
    }
    assert_eq!(names(&app, "types").await, ["Bug", "Feature", "Task", "Support"]);
    assert_eq!(names(&app, "statuses").await.len(), 5);
    assert_eq!(workflow(&app).await["transitions"].as_array().unwrap().len(), 10);
}

async fn concurrent_edits_cannot_break_the_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let spellings = ["Blocked", "blocked", "BLOCKED", "BLocked", "blOcked", "bloCked", "blocKed", "blockEd"];
    let replies = all_at_once(spellings.into_iter().map(|name| {
        let api = app.admin.clone();
        async move { api.post("/api/v1/workflow/statuses", json!({"name": name})).await.status }
    }))
    .await;
    let created = replies.iter().filter(|status| **status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "one name in any case: {replies:?}");
    assert!(
        replies.iter().all(|status| *status == StatusCode::CREATED || *status == StatusCode::CONFLICT),
        "{replies:?}"
    );

    // Moves racing each other leave one place per entry.
    let ids: Vec<i64> =
        workflow(&app).await["priorities"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    all_at_once(ids.into_iter().map(|id| {
        let api = app.admin.clone();
        async move { api.patch(&format!("/api/v1/workflow/priorities/{id}"), json!({"position": 1})).await.status }
    }))
    .await;
    assert_eq!(names(&app, "priorities").await.len(), 4, "positions stay 1..n");
}

/// Runs the futures at once (each request on its own task) and waits for all.
pub(crate) async fn all_at_once<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.expect("request task"));
    }
    outputs
}

/// On PostgreSQL an edit waits a bounded time for its list: behind a transaction that never
/// ends it answers 503 instead of holding its connection for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_behind_a_stuck_transaction_gives_up() {
    use diesel::connection::SimpleConnection;
    let Some(backend) = Backend::postgres() else { return };
    let app = TestApp::spawn(backend).await;
    let database = app.database();
    let mut blocker = database.get().unwrap();
    blocker.batch_execute("BEGIN; LOCK TABLE item_types IN ROW SHARE MODE").unwrap();
    let started = std::time::Instant::now();
    let reply = app.admin.post("/api/v1/workflow/types", json!({"name": "Chore"})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("try again"), "{}", reply.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
    blocker.batch_execute("ROLLBACK").unwrap();
    create(&app.admin, "types", json!({"name": "Chore"})).await;
}
