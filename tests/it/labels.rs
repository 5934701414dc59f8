//! Labels and components: per project, set on items from their own project only, filtered in
//! the list and the query syntax, searchable by name (a rename re-indexes), a component's
//! default assignee, and the mail keywords.

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    labels_are_set_filtered_searched_and_renamed,
    components_give_new_items_their_default_assignee,
    labels_and_components_of_another_project_are_refused_and_invisible,
);

async fn label(api: &Api, project: &str, name: &str, color: &str) -> i64 {
    let reply = api.post(&format!("/api/v1/projects/{project}/labels"), json!({"name": name, "color": color})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

async fn labelled(api: &Api, project: &str, title: &str, labels: &[i64]) -> Value {
    let reply = api.post("/api/v1/items", json!({"project": project, "title": title, "labels": labels})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

fn ids(page: &Value, at: &str) -> Vec<i64> {
    let mut found: Vec<i64> = page[at]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| if at == "hits" { item["item"]["id"].as_i64().unwrap() } else { item["id"].as_i64().unwrap() })
        .collect();
    found.sort();
    found
}

async fn labels_are_set_filtered_searched_and_renamed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let ui = label(&app.admin, "OPS", "ui", "#3B82F6").await;
    let later = label(&app.admin, "OPS", "later", "#9ca3af").await;
    let listed = app.admin.get("/api/v1/projects/OPS/labels").await.body;
    assert_eq!(
        listed["labels"][1],
        json!({"id": ui, "project": listed["labels"][1]["project"], "name": "ui", "color": "#3b82f6"})
    );
    for (body, field) in [
        (json!({"name": "UI", "color": "#000000"}), "name"),
        (json!({"name": "a, b", "color": "#000000"}), "name"),
        (json!({"name": "red", "color": "red"}), "color"),
        (json!({"name": "red", "color": "#ff00zz"}), "color"),
    ] {
        let refused = app.admin.post("/api/v1/projects/OPS/labels", body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.body);
        assert_eq!(refused.body["error"]["field"], field, "{body}");
    }

    let both = labelled(&app.admin, "OPS", "Dialog misaligned", &[ui, later]).await;
    assert_eq!(
        both["labels"].as_array().unwrap().iter().map(|l| l["name"].clone()).collect::<Vec<_>>(),
        ["later", "ui"]
    );
    let only_ui = labelled(&app.admin, "OPS", "Button colour", &[ui]).await;
    let none = labelled(&app.admin, "OPS", "Server crash", &[]).await;
    let (both_id, ui_id, none_id) =
        (both["id"].as_i64().unwrap(), only_ui["id"].as_i64().unwrap(), none["id"].as_i64().unwrap());

    // The list filters by name or id; search by the query syntax, negation included.
    for query in ["label=ui", &format!("label={ui}"), "label=UI&project=OPS"] {
        assert_eq!(
            ids(&app.admin.get(&format!("/api/v1/items?{query}")).await.body, "items"),
            [both_id, ui_id],
            "{query}"
        );
    }
    let searched = crate::search::search_until(&app, &app.admin, "label:ui -label:later", 1).await;
    assert_eq!(ids(&searched, "hits"), [ui_id]);
    let searched = crate::search::search_until(&app, &app.admin, "-label:ui", 1).await;
    assert_eq!(ids(&searched, "hits"), [none_id]);

    // Setting labels is history; the whole set is sent.
    let changed = app
        .admin
        .patch(&format!("/api/v1/items/{none_id}"), json!({"version": none["version"], "labels": [later]}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let history = app.admin.history(&format!("/api/v1/items/{none_id}")).await;
    assert!(history.contains(&("labels".into(), Value::Null, json!("later"))), "{history:?}");

    // A rename re-indexes the items: the new name finds them as text.
    let renamed = app.admin.patch(&format!("/api/v1/labels/{ui}"), json!({"name": "frontend"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let searched = crate::search::search_until(&app, &app.admin, "frontend", 2).await;
    assert_eq!(ids(&searched, "hits"), [both_id, ui_id]);
    let searched = crate::search::search_until(&app, &app.admin, "label:frontend", 2).await;
    assert_eq!(ids(&searched, "hits"), [both_id, ui_id]);

    // Deleting takes it off its items, with history.
    assert_eq!(app.admin.delete(&format!("/api/v1/labels/{later}")).await.status, StatusCode::NO_CONTENT);
    let now = app.admin.get(&format!("/api/v1/items/{both_id}")).await.body;
    assert_eq!(now["labels"].as_array().unwrap().len(), 1);
    let history = app.admin.history(&format!("/api/v1/items/{both_id}")).await;
    assert!(history.contains(&("labels".into(), json!("frontend, later"), json!("frontend"))), "{history:?}");
    assert_eq!(app.count_rows(&format!("item_labels WHERE label_id = {later}")), 0);
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());

    // A row changed in place (a manual fix, not how Baton writes) shows at once.
    let other = label(&app.admin, "OPS", "spare", "#000000").await;
    app.database()
        .get()
        .unwrap()
        .batch_execute(&format!("UPDATE item_labels SET label_id = {other} WHERE item_id = {both_id}"))
        .unwrap();
    let now = app.admin.get(&format!("/api/v1/items/{both_id}")).await.body;
    assert_eq!(
        now["labels"].as_array().unwrap().iter().map(|label| label["name"].clone()).collect::<Vec<_>>(),
        ["spare"]
    );
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());
}

async fn components_give_new_items_their_default_assignee(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let dev = app.create_user("dana").await;
    app.add_member("OPS", &dev, "developer").await;
    let dana = dev.get("/api/v1/session").await.body["user"]["id"].clone();
    let refused = app
        .admin
        .post("/api/v1/projects/OPS/components", json!({"name": "Backend", "default_assignee": 999_999}))
        .await;
    assert_eq!(refused.body["error"]["field"], "default_assignee", "{}", refused.body);
    let created =
        app.admin.post("/api/v1/projects/OPS/components", json!({"name": "Backend", "default_assignee": dana})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["default_assignee"]["login"], "dana");
    let backend_id = created.body["id"].as_i64().unwrap();
    let frontend = app.admin.post("/api/v1/projects/OPS/components", json!({"name": "Frontend"})).await.body;

    let item = app
        .admin
        .post("/api/v1/items", json!({"project": "OPS", "title": "Slow query", "component": backend_id}))
        .await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.body);
    assert_eq!(item.body["component"], json!({"id": backend_id, "name": "Backend"}));
    assert_eq!(item.body["assignee"]["login"], "dana", "the default assignee");
    let watchers = app.admin.get(&format!("/api/v1/items/{}/watchers", item.body["id"])).await.body;
    assert!(watchers.to_string().contains("dana"), "the default assignee watches: {watchers}");
    let other = app.create_user("max").await;
    app.add_member("OPS", &other, "developer").await;
    let max = other.get("/api/v1/session").await.body["user"]["id"].clone();
    let assigned = app
        .admin
        .post("/api/v1/items", json!({"project": "OPS", "title": "Mine", "component": backend_id, "assignee_id": max}))
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    assert_eq!(assigned.body["assignee"]["login"], "max", "an assignee given wins");

    // Filters, search and history.
    let listed = app.admin.get("/api/v1/items?component=backend").await.body;
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(app.admin.get("/api/v1/items?component=none").await.body["total"], 0);
    let searched = crate::search::search_until(&app, &app.admin, "component:Backend slow", 1).await;
    assert_eq!(searched["hits"][0]["item"]["title"], "Slow query");
    let id = item.body["id"].as_i64().unwrap();
    let changed = app
        .admin
        .patch(&format!("/api/v1/items/{id}"), json!({"version": item.body["version"], "component": frontend["id"]}))
        .await;
    assert_eq!(changed.body["component"]["name"], "Frontend", "{}", changed.body);
    let history = app.admin.history(&format!("/api/v1/items/{id}")).await;
    assert!(history.contains(&("component".into(), json!("Backend"), json!("Frontend"))), "{history:?}");

    // Deleting a component clears it on its items.
    let gone = app.admin.delete(&format!("/api/v1/components/{}", frontend["id"])).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["component"], Value::Null);
}

async fn labels_and_components_of_another_project_are_refused_and_invisible(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let secret = label(&app.admin, "OPS", "embargoed", "#ff0000").await;
    let part = app.admin.post("/api/v1/projects/OPS/components", json!({"name": "Vault"})).await.body["id"].clone();
    let refused = app.admin.post("/api/v1/items", json!({"project": "WEB", "title": "x", "labels": [secret]})).await;
    assert_eq!((refused.status, refused.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("labels")));
    let refused = app.admin.post("/api/v1/items", json!({"project": "WEB", "title": "x", "component": part})).await;
    assert_eq!((refused.status, refused.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("component")));
    assert_eq!(app.count_rows("items"), 0, "nothing stored");

    let item = labelled(&app.admin, "OPS", "Embargoed fix", &[secret]).await;
    let outsider = app.create_user("olga").await;
    app.add_member("WEB", &outsider, "manager").await;
    assert_eq!(outsider.get(&format!("/api/v1/labels/{secret}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(outsider.get(&format!("/api/v1/components/{part}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        outsider.patch(&format!("/api/v1/labels/{secret}"), json!({"name": "x"})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(outsider.get("/api/v1/projects/OPS/labels").await.status, StatusCode::NOT_FOUND);
    assert_eq!(outsider.get("/api/v1/items?label=embargoed").await.body["total"], 0);
    crate::search::search_until(&app, &app.admin, "label:embargoed", 1).await;
    let searched = outsider.get("/api/v1/search?q=label%3Aembargoed").await.body;
    assert_eq!(searched["total"], 0, "{searched}");
    let searched = outsider.get("/api/v1/search?q=embargoed").await.body;
    assert_eq!(searched["total"], 0, "the label's name as text: {searched}");
    // Moving the item to WEB drops OPS's label.
    let moved = app
        .admin
        .patch(&format!("/api/v1/items/{}", item["id"]), json!({"version": item["version"], "project": "WEB"}))
        .await;
    assert_eq!((moved.status, moved.body["labels"].clone()), (StatusCode::OK, json!([])), "{}", moved.body);
}
