//! Versions and the roadmap: a project's versions (and shared ones) as items' targets, the
//! rules of locked and closed versions, closing with open items, and the roadmap's counts
//! against the database's.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    versions_are_targets_of_items_with_their_rules_and_history,
    closing_a_version_with_open_items_keeps_or_moves_them,
    the_roadmap_counts_what_the_database_counts,
    shared_versions_serve_every_project_and_private_ones_stay_invisible,
);

const REJECTED: i64 = 5;

async fn version(api: &Api, project: &str, body: Value) -> Value {
    let reply = api.post(&format!("/api/v1/projects/{project}/versions"), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn planned(api: &Api, project: &str, title: &str, target: i64) -> Value {
    let reply = api.post("/api/v1/items", json!({"project": project, "title": title, "target_version": target})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn set_status(api: &Api, id: i64, status: i64) {
    let now = api.get(&format!("/api/v1/items/{id}")).await.body;
    let reply =
        api.patch(&format!("/api/v1/items/{id}"), json!({"version": now["version"], "status_id": status})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn versions_are_targets_of_items_with_their_rules_and_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let first = version(&app.admin, "OPS", json!({"name": "2.1", "due_date": "2000-01-31"})).await;
    assert_eq!(
        (first["name"].clone(), first["status"].clone(), first["shared"].clone(), first["overdue"].clone()),
        (json!("2.1"), json!("open"), json!(false), json!(true))
    );
    let id = first["id"].as_i64().unwrap();
    // Names are unique per project without regard to case; another project may reuse one.
    let twice = app.admin.post("/api/v1/projects/OPS/versions", json!({"name": "2.1"})).await;
    assert_eq!((twice.status, twice.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("name")));
    version(&app.admin, "WEB", json!({"name": "2.1"})).await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "status": "done"}), "status"),
        (json!({"name": "x", "due_date": "31.12.2026"}), "due_date"),
    ] {
        let refused = app.admin.post("/api/v1/projects/OPS/versions", body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(field), "{body}: {}", refused.body);
    }

    let item = planned(&app.admin, "OPS", "Ship it", id).await;
    assert_eq!(item["target_version"], json!({"id": id, "name": "2.1"}));
    let item_id = item["id"].as_i64().unwrap();
    // Another project's version is refused naming the field, like one that does not exist.
    let web_version = app.admin.get("/api/v1/projects/WEB/versions").await.body["versions"][0]["id"].clone();
    for target in [web_version, json!(999_999)] {
        let refused =
            app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "x", "target_version": target})).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.body["error"]["field"], "target_version");
    }
    // A reporter may not plan.
    let reporter = app.create_user("rita").await;
    app.add_member("OPS", &reporter, "reporter").await;
    let refused = reporter.post("/api/v1/items", json!({"project": "OPS", "title": "x", "target_version": id})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // Locked: items keep it, no new ones; the list filters by it.
    let locked = app.admin.patch(&format!("/api/v1/versions/{id}"), json!({"status": "locked", "name": "2.1.0"})).await;
    assert_eq!((locked.status, locked.body["status"].clone()), (StatusCode::OK, json!("locked")));
    let refused = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "x", "target_version": id})).await;
    assert_eq!(refused.body["error"]["field"], "target_version", "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("locked"));
    let now = app.admin.get(&format!("/api/v1/items/{item_id}")).await.body;
    assert_eq!(now["target_version"]["name"], "2.1.0", "a rename shows on the item");
    let kept = app
        .admin
        .patch(&format!("/api/v1/items/{item_id}"), json!({"version": now["version"], "title": "Ship it now"}))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "an item keeps its locked version: {}", kept.body);
    for query in
        [format!("target_version={id}"), "target_version=2.1.0".into(), "target_version=2.1.0&project=OPS".into()]
    {
        let listed = app.admin.get(&format!("/api/v1/items?{query}")).await.body;
        assert_eq!(listed["total"], 1, "{query}: {listed}");
    }
    let unplanned = app.admin.get("/api/v1/items?project=OPS&target_version=none").await.body;
    assert_eq!(unplanned["total"], 0);

    // Clearing it is history; deleting a version that items target is refused.
    let cleared = app
        .admin
        .patch(&format!("/api/v1/items/{item_id}"), json!({"version": kept.body["version"], "target_version": null}))
        .await;
    assert_eq!((cleared.status, cleared.body["target_version"].clone()), (StatusCode::OK, Value::Null));
    let history = app.admin.history(&format!("/api/v1/items/{item_id}")).await;
    assert!(history.contains(&("target_version".into(), json!("2.1.0"), Value::Null)), "{history:?}");
    let second = version(&app.admin, "OPS", json!({"name": "2.2"})).await["id"].as_i64().unwrap();
    planned(&app.admin, "OPS", "Later", second).await;
    let refused = app.admin.delete(&format!("/api/v1/versions/{second}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(app.admin.delete(&format!("/api/v1/versions/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.admin.get(&format!("/api/v1/versions/{id}")).await.status, StatusCode::NOT_FOUND);
    // Only managers change versions.
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let refused = developer.patch(&format!("/api/v1/versions/{second}"), json!({"name": "x"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let refused = developer.post("/api/v1/projects/OPS/versions", json!({"name": "x"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
}

async fn closing_a_version_with_open_items_keeps_or_moves_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let old = version(&app.admin, "OPS", json!({"name": "1.0"})).await["id"].as_i64().unwrap();
    let next = version(&app.admin, "OPS", json!({"name": "1.1"})).await["id"].as_i64().unwrap();
    let done = planned(&app.admin, "OPS", "Done", old).await["id"].as_i64().unwrap();
    set_status(&app.admin, done, REJECTED).await;
    let reporter = app.create_user("dev").await;
    app.add_member("OPS", &reporter, "developer").await;
    let reported = planned(&reporter, "OPS", "Open one", old).await;
    let reporter_id = reported["reporter"]["id"].as_i64().unwrap();
    let open: Vec<i64> = [reported, planned(&app.admin, "OPS", "Open two", old).await]
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect();

    let asked = app.admin.patch(&format!("/api/v1/versions/{old}"), json!({"status": "closed"})).await;
    assert_eq!(asked.status, StatusCode::CONFLICT, "{}", asked.body);
    assert!(asked.body["error"]["message"].as_str().unwrap().contains("2 open item"), "{}", asked.body);
    assert_eq!(app.admin.get(&format!("/api/v1/versions/{old}")).await.body["status"], "open", "nothing stored");
    let refused = app
        .admin
        .patch(&format!("/api/v1/versions/{old}"), json!({"status": "closed", "open_items": {"move_to": old}}))
        .await;
    assert_eq!(refused.body["error"]["field"], "open_items", "{}", refused.body);
    let refused =
        app.admin.patch(&format!("/api/v1/versions/{old}"), json!({"status": "closed", "open_items": "drop"})).await;
    assert_eq!(refused.body["error"]["field"], "open_items", "{}", refused.body);

    let moved = app
        .admin
        .patch(&format!("/api/v1/versions/{old}"), json!({"status": "closed", "open_items": {"move_to": next}}))
        .await;
    assert_eq!((moved.status, moved.body["status"].clone()), (StatusCode::OK, json!("closed")), "{}", moved.body);
    for id in &open {
        let now = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
        assert_eq!(now["target_version"]["name"], "1.1");
        let history = app.admin.history(&format!("/api/v1/items/{id}")).await;
        assert!(history.contains(&("target_version".into(), json!("1.0"), json!("1.1"))), "{history:?}");
    }
    let finished = app.admin.get(&format!("/api/v1/items/{done}")).await.body;
    assert_eq!(finished["target_version"]["name"], "1.0", "closed items stay with the closed version");
    // The reporter of a moved item hears of it, as of any change by someone else.
    let told = app.count_rows(&format!(
        "mail_outbox WHERE item_id = {} AND recipient_id = {} AND event = 'changed' \
         AND changes = 'target version: 1.0 → 1.1'",
        open[0], reporter_id
    ));
    assert_eq!(told, 1, "one notification for the moved item");
    assert_eq!(app.count_rows(&format!("mail_outbox WHERE item_id = {done} AND event = 'changed'")), 0);

    // Keep: the open items stay with the closed version.
    let kept = planned(&app.admin, "OPS", "Still open", next).await["id"].as_i64().unwrap();
    let closed =
        app.admin.patch(&format!("/api/v1/versions/{next}"), json!({"status": "closed", "open_items": "keep"})).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{kept}")).await.body["target_version"]["name"], "1.1");
}

async fn the_roadmap_counts_what_the_database_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let mut versions = Vec::new();
    for name in ["1.0", "2.0", "3.0"] {
        versions.push(
            version(&app.admin, "OPS", json!({"name": name, "due_date": "2099-01-01"})).await["id"].as_i64().unwrap(),
        );
    }
    // A few hundred items over the versions, a fifth rejected, some unplanned.
    for number in 0..240_i64 {
        let target = (number % 4 < 3).then(|| versions[(number % 3) as usize]);
        let reply = app
            .admin
            .post(
                "/api/v1/items",
                json!({"project": "OPS", "title": format!("Item {number}"), "target_version": target}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        if number % 5 == 0 {
            set_status(&app.admin, reply.body["id"].as_i64().unwrap(), REJECTED).await;
        }
    }
    let roadmap = app.admin.get("/api/v1/projects/OPS/roadmap").await;
    assert_eq!(roadmap.status, StatusCode::OK, "{}", roadmap.body);
    let current = roadmap.body["current"].as_array().unwrap();
    assert_eq!(current.len(), 3);
    for entry in current {
        let id = entry["version"]["id"].as_i64().unwrap();
        let total = app.count_rows(&format!("items WHERE target_version_id = {id}"));
        let closed = app.count_rows(&format!(
            "items WHERE target_version_id = {id} AND status_id IN (SELECT id FROM statuses WHERE is_closed)"
        ));
        assert_eq!((entry["total"].as_i64().unwrap(), entry["closed"].as_i64().unwrap()), (total, closed), "{entry}");
        let by_status: i64 =
            entry["by_status"].as_array().unwrap().iter().map(|count| count["items"].as_i64().unwrap()).sum();
        assert_eq!(by_status, total);
        assert_eq!(entry["items"].as_array().unwrap().len(), 20, "the first 20 items");
        assert_eq!(entry["items"][0]["status"]["is_closed"], false, "open items first");
    }

    // The page: every version with its progress, overdue marked, and a link to all its items.
    let done = app.admin.patch(&format!("/api/v1/versions/{}", versions[2]), json!({"due_date": "2001-05-01"})).await;
    assert_eq!(done.status, StatusCode::OK);
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = browser.get("/projects/OPS/roadmap").await;
    assert_eq!(page.status, StatusCode::OK);
    for entry in current {
        let id = entry["version"]["id"].as_i64().unwrap();
        assert!(page.body.contains(&format!("{} of {} done", entry["closed"], entry["total"])), "{id}");
        assert!(page.body.contains(&format!("/items?project=OPS&amp;target_version={id}&amp;state=all")), "{id}");
    }
    assert!(page.body.contains("Overdue"), "the overdue version is marked");
}

async fn shared_versions_serve_every_project_and_private_ones_stay_invisible(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let shared = version(&app.admin, "OPS", json!({"name": "Q4", "shared": true})).await["id"].as_i64().unwrap();
    let private = version(&app.admin, "OPS", json!({"name": "Internal"})).await["id"].as_i64().unwrap();
    let web_item = planned(&app.admin, "WEB", "On the shared version", shared).await;
    let listed = app.admin.get("/api/v1/projects/WEB/versions").await.body;
    let names: Vec<&str> = listed["versions"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Q4"]);
    // Unsharing while another project's item targets it is refused.
    let refused = app.admin.patch(&format!("/api/v1/versions/{shared}"), json!({"shared": false})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    // A move keeps a shared version and drops a project's own.
    let ops_item = planned(&app.admin, "OPS", "Moves", private).await;
    let moved = app
        .admin
        .patch(&format!("/api/v1/items/{}", ops_item["id"]), json!({"version": ops_item["version"], "project": "WEB"}))
        .await;
    assert_eq!((moved.status, moved.body["target_version"].clone()), (StatusCode::OK, Value::Null), "{}", moved.body);

    // An outsider of OPS sees the shared version on WEB's item, and nothing of OPS's own.
    let outsider = app.create_user("olga").await;
    app.add_member("WEB", &outsider, "developer").await;
    let seen = outsider.get(&format!("/api/v1/items/{}", web_item["id"])).await.body;
    assert_eq!(seen["target_version"]["name"], "Q4");
    assert_eq!(outsider.get(&format!("/api/v1/versions/{private}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(outsider.get("/api/v1/projects/OPS/versions").await.status, StatusCode::NOT_FOUND);
    assert_eq!(outsider.get("/api/v1/projects/OPS/roadmap").await.status, StatusCode::NOT_FOUND);
    let listed = outsider.get("/api/v1/items?target_version=Internal").await.body;
    assert_eq!(listed["total"], 0, "{listed}");
}
