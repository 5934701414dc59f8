use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_new_item_starts_in_the_first_status_with_defaults_and_its_reporter_watching,
    a_stale_edit_is_a_conflict_and_loses_nothing,
    an_edit_against_the_fields_seen_keeps_other_changes_and_refuses_a_collision,
    status_changes_follow_the_workflow,
    every_field_change_is_recorded_in_history,
    lists_filter_sort_and_paginate_with_a_total,
    only_project_members_can_be_assigned,
    comments_come_back_in_order_and_make_the_author_watch,
    every_change_search_needs_is_queued_for_indexing,
    watchers_can_be_added_and_removed,
    list_totals_stay_equal_to_the_rows_through_creates_and_status_changes,
    the_home_page_lists_the_latest_watched_items_of_whoever_watches_thousands,
);

async fn list_totals_stay_equal_to_the_rows_through_creates_and_status_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    app.create_project("WEB", true).await;
    let mut ids = Vec::new();
    for index in 0..20 {
        let project = if index % 3 == 0 { "WEB" } else { "OPS" };
        ids.push(app.admin.create_item(project, &format!("Item {index}")).await["id"].as_i64().unwrap());
    }
    for (position, id) in ids.iter().enumerate() {
        let target = [2, 3, 5][position % 3];
        let moved = app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "status_id": target})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    }
    for query in ["", "?project=OPS", "?project=WEB&state=open", "?state=closed", "?status=3", "?project=OPS&status=5"]
    {
        let listed = app
            .admin
            .get(&format!("/api/v1/items{query}&limit=500").replacen('&', "?", usize::from(query.is_empty())))
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{query}: {}", listed.body);
        assert_eq!(
            listed.body["total"].as_u64().unwrap() as usize,
            listed.body["items"].as_array().unwrap().len(),
            "{query}"
        );
    }
    assert_eq!(crate::support::app::totals_disagreements(&app), Vec::<String>::new());
}

async fn setup_project(app: &TestApp) {
    app.create_project("OPS", false).await;
}

async fn a_new_item_starts_in_the_first_status_with_defaults_and_its_reporter_watching(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let reply = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "  Disk full on db-2  ", "description": "## Steps\n1. df -h", "due_date": "2026-12-24"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let item = reply.body;
    assert_eq!(item["title"], "Disk full on db-2");
    assert_eq!(item["status"], json!({"id": 1, "name": "New", "is_closed": false}));
    assert_eq!(item["priority"]["name"], "Normal");
    assert_eq!(item["type"]["name"], "Bug");
    assert_eq!(item["project"]["key"], "OPS");
    assert_eq!(item["reporter"]["login"], "admin");
    assert_eq!(item["assignee"], Value::Null);
    assert_eq!(item["due_date"], "2026-12-24");
    assert_eq!(item["version"], 1);
    assert!(item["created_at"].as_str().unwrap().ends_with('Z'));
    let fetched = app.admin.get(&format!("/api/v1/items/{}", item["id"])).await;
    assert_eq!(fetched.body, item);
    let watchers = app.admin.get(&format!("/api/v1/items/{}/watchers", item["id"])).await;
    assert_eq!(watchers.body["watchers"][0]["login"], "admin");
    let by_id =
        app.admin.post("/api/v1/items", json!({"project": item["project"]["id"], "title": "By project id"})).await;
    assert_eq!(by_id.status, StatusCode::CREATED);
}

async fn a_stale_edit_is_a_conflict_and_loses_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let item = app.admin.create_item("OPS", "Original").await;
    let path = format!("/api/v1/items/{}", item["id"]);
    let first = app.admin.patch(&path, json!({"version": 1, "title": "First editor"})).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["version"], 2);
    let second = app.admin.patch(&path, json!({"version": 1, "description": "Second editor"})).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert!(second.body["error"]["message"].as_str().unwrap().contains("version 2"));
    let now = app.admin.get(&path).await.body;
    assert_eq!(now["title"], "First editor");
    assert_eq!(now["description"], "");
    let missing_version = app.admin.patch(&path, json!({"title": "No version"})).await;
    assert_eq!(missing_version.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing_version.body["error"]["field"], "version");
    let unchanged = app.admin.patch(&path, json!({"version": 2, "title": "First editor"})).await;
    assert_eq!(unchanged.body["version"], 2, "an edit that changes nothing makes no new version");
}

async fn an_edit_against_the_fields_seen_keeps_other_changes_and_refuses_a_collision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let item = app.admin.create_item("OPS", "Original").await;
    let path = format!("/api/v1/items/{}", item["id"]);
    // Another field changed since the read: kept, and the edit applies.
    app.admin.patch(&path, json!({"version": 1, "title": "Renamed"})).await;
    let raised = app.admin.patch(&path, json!({"seen": {"priority": "Normal"}, "priority_id": 3})).await;
    assert_eq!(raised.status, StatusCode::OK, "{}", raised.body);
    assert_eq!(
        (raised.body["title"].as_str(), raised.body["priority"]["name"].as_str()),
        (Some("Renamed"), Some("High"))
    );
    // The same field changed since: refused, naming who changed it to what.
    let stale = app.admin.patch(&path, json!({"seen": {"priority": "Normal"}, "priority_id": 1})).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let message = stale.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(r#"priority of item 1 was changed to "High" by admin at"#), "{message}");
    assert!(message.contains(r#"since you saw "Normal""#), "{message}");
    assert_eq!(app.admin.get(&path).await.body["priority"]["name"], "High");
    // Asking for what is there already is no collision; none is written as null.
    let same = app.admin.patch(&path, json!({"seen": {"priority": "Low"}, "priority_id": 3})).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    let dated = app.admin.patch(&path, json!({"seen": {"due_date": null}, "due_date": "2027-03-01"})).await;
    assert_eq!(dated.status, StatusCode::OK, "{}", dated.body);
    for (body, field) in [
        (json!({"seen": {"priority": "High"}, "priority_id": 2, "title": "Unguarded"}), "seen"),
        (json!({"version": 5, "seen": {"priority": "High"}, "priority_id": 2}), "seen"),
        (json!({"seen": {"priority": 3}, "priority_id": 2}), "seen"),
        (json!({"priority_id": 2}), "version"),
    ] {
        let refused = app.admin.patch(&path, body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.body);
        assert_eq!(refused.body["error"]["field"], field, "{body}");
    }
    // Edits of different fields at once, each against what it saw, both land (on PostgreSQL
    // the second waits for the first's row lock, then compares with what the first wrote).
    for round in 1..=8 {
        let now = app.admin.get(&path).await.body;
        let title = app.admin.patch(&path, json!({"seen": {"title": now["title"]}, "title": format!("Title {round}")}));
        let due = app
            .admin
            .patch(&path, json!({"seen": {"due_date": now["due_date"]}, "due_date": format!("2027-04-{round:02}")}));
        let (title, due) = tokio::join!(title, due);
        assert_eq!((title.status, due.status), (StatusCode::OK, StatusCode::OK), "{} {}", title.body, due.body);
    }
    let now = app.admin.get(&path).await.body;
    assert_eq!((now["title"].as_str(), now["due_date"].as_str()), (Some("Title 8"), Some("2027-04-08")));
}

async fn status_changes_follow_the_workflow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let item = app.admin.create_item("OPS", "Flow").await;
    let path = format!("/api/v1/items/{}", item["id"]);
    let allowed = app.admin.get(&format!("{path}/transitions")).await;
    let names: Vec<&str> =
        allowed.body["statuses"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["In progress", "Resolved", "Rejected"]);
    let skip = app.admin.patch(&path, json!({"version": 1, "status_id": 4})).await;
    assert_eq!(skip.status, StatusCode::BAD_REQUEST);
    assert!(skip.body["error"]["message"].as_str().unwrap().contains("New → Closed"));
    let mut version = 1;
    for status in [2, 3, 4, 2] {
        let moved = app.admin.patch(&path, json!({"version": version, "status_id": status})).await;
        assert_eq!(moved.status, StatusCode::OK, "to {status}: {}", moved.body);
        version = moved.body["version"].as_i64().unwrap();
    }
    let closed = app.admin.patch(&path, json!({"version": version, "status_id": 5})).await;
    assert_eq!(closed.status, StatusCode::OK);
    assert_eq!(closed.body["status"]["is_closed"], true);
    let unknown = app.admin.patch(&path, json!({"version": version + 1, "status_id": 99})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let workflow = app.admin.get("/api/v1/workflow").await;
    assert_eq!(workflow.body["statuses"].as_array().unwrap().len(), 5);
    assert!(workflow.body["transitions"].as_array().unwrap().contains(&json!({"from": 4, "to": 2})));
}

async fn every_field_change_is_recorded_in_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let dev = app.create_user("dev").await;
    app.add_member("OPS", &dev, "developer").await;
    let item = app.admin.create_item("OPS", "Before").await;
    let path = format!("/api/v1/items/{}", item["id"]);
    // The page of an item without changes shows its creation only.
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page_path = format!("/items/{}", item["id"]);
    let page = browser.get(&page_path).await;
    assert!(page.body.contains("admin created the item"), "{}", page.body);
    assert!(!page.body.contains("changed title"), "{}", page.body);
    let changed = app
        .admin
        .patch(
            &path,
            json!({"version": 1, "title": "After", "priority_id": 4, "type_id": 2, "assignee_id": dev.user_id, "due_date": "2027-01-31", "status_id": 2}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let cleared = app.admin.patch(&path, json!({"version": 2, "assignee_id": null, "due_date": null})).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["assignee"], Value::Null);
    let history = app.admin.get(&format!("{path}/history")).await.body["history"].clone();
    let entries: Vec<(String, Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (entry["field"].as_str().unwrap().to_string(), entry["old_value"].clone(), entry["new_value"].clone())
        })
        .collect();
    let expected = [
        ("title", json!("Before"), json!("After")),
        ("type", json!("Bug"), json!("Feature")),
        ("status", json!("New"), json!("In progress")),
        ("priority", json!("Normal"), json!("Urgent")),
        ("assignee", Value::Null, json!("dev")),
        ("due_date", Value::Null, json!("2027-01-31")),
        ("assignee", json!("dev"), Value::Null),
        ("due_date", json!("2027-01-31"), Value::Null),
    ];
    let expected: Vec<(String, Value, Value)> =
        expected.into_iter().map(|(field, old, new)| (field.to_string(), old, new)).collect();
    assert_eq!(entries, expected);
    assert!(history.as_array().unwrap().iter().all(|entry| entry["user"]["login"] == "admin"));
    let page = browser.get(&page_path).await;
    assert!(page.body.contains("changed title from <em>Before</em> to <em>After</em>"), "{}", page.body);
    assert!(page.body.contains("changed assignee from <em>dev</em> to nothing"), "{}", page.body);
}

async fn lists_filter_sort_and_paginate_with_a_total(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    app.create_project("WEB", false).await;
    let dev = app.create_user("dev").await;
    app.add_member("OPS", &dev, "developer").await;
    for index in 0..7 {
        app.admin.create_item("OPS", &format!("Ops item {index}")).await;
    }
    let web = app.admin.create_item("WEB", "Web item").await;
    let assigned = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "Assigned", "assignee_id": dev.user_id, "priority_id": 4}),
        )
        .await
        .body;
    let closed_id = app.admin.create_item("OPS", "Closed one").await["id"].clone();
    let closed = app.admin.patch(&format!("/api/v1/items/{closed_id}"), json!({"version": 1, "status_id": 5})).await;
    assert_eq!(closed.status, StatusCode::OK);

    let all = app.admin.get("/api/v1/items?limit=500").await.body;
    assert_eq!(all["total"], 10);
    let page = app.admin.get("/api/v1/items?project=OPS&sort=id&limit=3&offset=3").await.body;
    assert_eq!(page["total"], 9);
    assert_eq!(page["limit"], 3);
    let titles: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|item| item["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Ops item 3", "Ops item 4", "Ops item 5"]);
    assert_eq!(app.admin.get("/api/v1/items?state=closed").await.body["total"], 1);
    assert_eq!(app.admin.get("/api/v1/items?state=open&project=OPS").await.body["total"], 8);
    let mine = dev.get("/api/v1/items?assignee=me").await.body;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], assigned["id"]);
    assert_eq!(app.admin.get("/api/v1/items?assignee=none&project=OPS").await.body["total"], 8);
    assert_eq!(app.admin.get("/api/v1/items?priority=4").await.body["total"], 1);
    assert_eq!(app.admin.get("/api/v1/items?status=5").await.body["total"], 1);
    assert_eq!(app.admin.get("/api/v1/items?type=1&reporter=me").await.body["total"], 10);
    let by_priority = app.admin.get("/api/v1/items?sort=-priority&limit=1").await.body;
    assert_eq!(by_priority["items"][0]["id"], assigned["id"]);
    let by_title = app.admin.get("/api/v1/items?sort=title&limit=1").await.body;
    assert_eq!(by_title["items"][0]["title"], "Assigned");
    let newest = app.admin.get("/api/v1/items?sort=-id&limit=1").await.body;
    assert_eq!(newest["items"][0]["id"], closed_id);
    assert_eq!(dev.get("/api/v1/items").await.body["total"], 9, "dev sees OPS only");
    assert_eq!(dev.get(&format!("/api/v1/items/{}", web["id"])).await.status, StatusCode::NOT_FOUND);
    for bad in
        ["limit=0", "limit=501", "offset=-1", "sort=color", "state=maybe", "assignee=someone", "status=x", "colour=red"]
    {
        let reply = app.admin.get(&format!("/api/v1/items?{bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid", "{bad}");
    }
}

async fn only_project_members_can_be_assigned(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let stranger = app.create_user("stranger").await;
    let reply =
        app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "x", "assignee_id": stranger.user_id})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "assignee_id");
    let ghost = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "x", "assignee_id": 999})).await;
    assert_eq!(ghost.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("items"), 0);
}

async fn comments_come_back_in_order_and_make_the_author_watch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let reporter = app.create_user("rep").await;
    app.add_member("OPS", &reporter, "reporter").await;
    let item = app.admin.create_item("OPS", "Discuss").await;
    let path = format!("/api/v1/items/{}/comments", item["id"]);
    for body in ["first", "second", "third"] {
        let reply = reporter.post(&path, json!({"body": body})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["author"]["login"], "rep");
    }
    let bodies: Vec<String> = app.admin.get(&path).await.body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|comment| comment["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["first", "second", "third"]);
    let browser = WebClient::sign_in(&app.address, "rep", USER_PASSWORD).await;
    let page = browser.get(&format!("/items/{}", item["id"])).await;
    let shown: Vec<usize> = ["first", "second", "third"]
        .iter()
        .map(|body| page.body.find(&format!("<p>{body}</p>")).unwrap_or(0))
        .collect();
    assert!(shown[0] > 0 && shown[0] < shown[1] && shown[1] < shown[2], "{}", page.body);
    let watchers = app.admin.get(&format!("/api/v1/items/{}/watchers", item["id"])).await.body;
    assert_eq!(watchers["watchers"].as_array().unwrap().len(), 2);
    let empty = reporter.post(&path, json!({"body": "   "})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let version = app.admin.get(&format!("/api/v1/items/{}", item["id"])).await.body["version"].clone();
    assert_eq!(version, 1, "comments do not make concurrent field edits conflict");
}

async fn every_change_search_needs_is_queued_for_indexing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.without_master().await;
    setup_project(&app).await;
    let item = app.admin.create_item("OPS", "Indexed").await;
    assert_eq!(app.count_rows("index_queue"), 1);
    app.admin.patch(&format!("/api/v1/items/{}", item["id"]), json!({"version": 1, "title": "Indexed again"})).await;
    assert_eq!(app.count_rows("index_queue"), 2);
    app.admin.post(&format!("/api/v1/items/{}/comments", item["id"]), json!({"body": "words"})).await;
    assert_eq!(app.count_rows("index_queue"), 3);
    let failed =
        app.admin.patch(&format!("/api/v1/items/{}", item["id"]), json!({"version": 1, "title": "stale"})).await;
    assert_eq!(failed.status, StatusCode::CONFLICT);
    assert_eq!(app.count_rows("index_queue"), 3, "a refused change queues nothing");
}

async fn watchers_can_be_added_and_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_project(&app).await;
    let viewer = app.create_user("viewer").await;
    let outsider = app.create_user("outsider").await;
    app.add_member("OPS", &viewer, "viewer").await;
    let item = app.admin.create_item("OPS", "Watch me").await;
    let path = format!("/api/v1/items/{}/watchers", item["id"]);
    assert_eq!(viewer.post(&path, json!({})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(viewer.post(&path, json!({})).await.status, StatusCode::NO_CONTENT, "watching twice is harmless");
    let empty_body = viewer.send(viewer.client.post(app.url(&path))).await;
    assert_eq!(empty_body.status, StatusCode::NO_CONTENT);
    let malformed = viewer.send(viewer.client.post(app.url(&path)).body("{\"user\": 1}")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let others = viewer.post(&path, json!({"user_id": app.admin.user_id})).await;
    assert_eq!(others.status, StatusCode::FORBIDDEN);
    let cannot_see = app.admin.post(&path, json!({"user_id": outsider.user_id})).await;
    assert_eq!(cannot_see.status, StatusCode::BAD_REQUEST);
    let logins: Vec<String> = app.admin.get(&path).await.body["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|watcher| watcher["login"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(logins, ["admin", "viewer"]);
    assert_eq!(viewer.delete(&format!("{path}/{}", viewer.user_id)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(viewer.delete(&format!("{path}/{}", viewer.user_id)).await.status, StatusCode::NOT_FOUND);
}

/// Adds `count` items to project WEB in one statement, all updated at `updated_at`, titled
/// `"{prefix} {n}"` for n = 1..=count (ids rise with n); with `watcher`, that user watches them.
fn insert_items(app: &TestApp, prefix: &str, count: i64, updated_at: &str, watcher: Option<i64>) {
    use diesel::connection::SimpleConnection;
    let mut connection = app.database().get().expect("connection");
    let watch = watcher.map_or(String::new(), |user| {
        format!("INSERT INTO watchers (item_id, user_id) SELECT id, {user} FROM items WHERE title LIKE '{prefix} %';")
    });
    connection
        .batch_execute(&format!(
            "INSERT INTO items (project_id, type_id, status_id, priority_id, title, reporter_id, created_at, updated_at, number)
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
             SELECT (SELECT id FROM projects WHERE key = 'WEB'), (SELECT MIN(id) FROM item_types),
                 (SELECT MIN(id) FROM statuses), (SELECT MIN(id) FROM priorities), '{prefix} ' || i, 1,
                 '{updated_at}', '{updated_at}', 100000 + i
             FROM n ORDER BY i;
             {watch}"
        ))
        .expect("bulk items");
}

/// The home page's "Items I watch": someone who watches more items than the latest updates it
/// looks among first finds their latest ten there, and, once others' newer updates crowd
/// theirs out, among all their watches.
async fn the_home_page_lists_the_latest_watched_items_of_whoever_watches_thousands(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("WEB", true).await;
    let wendy = app.create_user("wendy").await;
    app.add_member("WEB", &wendy, "developer").await;
    insert_items(&app, "Watched", 2_100, "2020-01-01 00:00:00", Some(wendy.user_id));
    let home = WebClient::sign_in(&app.address, "wendy", USER_PASSWORD).await;
    let watched_section = || async {
        let page = home.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        let section =
            page.body.split("<h2>").find(|part| part.starts_with("Items I watch")).expect("section").to_string();
        let shown: Vec<i64> = (1..=2_100).filter(|n| section.contains(&format!("Watched {n}<"))).collect();
        (section, shown)
    };
    let (_, shown) = watched_section().await;
    assert_eq!(shown, (2_091..=2_100).collect::<Vec<_>>(), "the latest ten, among the latest updates");
    insert_items(&app, "Newer", 2_000, "2021-01-01 00:00:00", None);
    let (section, shown) = watched_section().await;
    assert_eq!(shown, (2_091..=2_100).collect::<Vec<_>>(), "the latest ten, among all watches");
    assert!(!section.contains("Newer "), "{section}");
}
