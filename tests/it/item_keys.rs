//! Item keys (`OPS-42`): numbered per project by the database, under concurrent creation on
//! every node; shown in the API, pages, lists, exports and mail; opened by URL and by the
//! search box; a moved item gets the next number in its new project and its old key still
//! leads to it. A key tells nothing of an item the caller cannot read.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::cluster::TestCluster;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(
    items_are_numbered_per_project_and_named_by_key_in_the_api_pages_search_and_exports,
    a_moved_item_takes_the_next_number_there_and_its_old_key_still_leads_to_it,
    a_key_tells_nothing_of_an_item_the_caller_cannot_read,
    every_resource_of_an_item_answers_to_its_key,
    three_nodes_creating_at_once_never_give_two_items_one_key,
);

async fn items_are_numbered_per_project_and_named_by_key_in_the_api_pages_search_and_exports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let first = app.admin.create_item("OPS", "Badge reader broken").await;
    let web = app.admin.create_item("WEB", "Landing page").await;
    let second = app.admin.create_item("OPS", "Printer jam").await;
    assert_eq!(
        (first["key"].as_str(), web["key"].as_str(), second["key"].as_str()),
        (Some("OPS-1"), Some("WEB-1"), Some("OPS-2"))
    );

    // The API answers a key, in any case, as it answers the id.
    for path in ["/api/v1/items/OPS-2", "/api/v1/items/ops-2"] {
        let reply = app.admin.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(reply.body["id"], second["id"], "{path}");
    }
    let changed =
        app.admin.patch("/api/v1/items/OPS-2", json!({"version": second["version"], "title": "Paper jam"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!((changed.body["key"].as_str(), changed.body["title"].as_str()), (Some("OPS-2"), Some("Paper jam")));
    let unknown = app.admin.get("/api/v1/items/OPS-99").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert!(unknown.body["error"]["message"].as_str().unwrap().contains("item OPS-99"), "{}", unknown.body);
    for garbage in ["OPS-", "OPS-0", "O-1", "OPS-1x"] {
        let reply = app.admin.get(&format!("/api/v1/items/{garbage}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{garbage}: {}", reply.body);
        assert!(reply.body["error"]["message"].as_str().unwrap().contains("not an item id or key"), "{}", reply.body);
    }

    // Sub-items name their parent by key; lists show keys.
    let child = app
        .admin
        .post("/api/v1/items", json!({"project": "OPS", "title": "Order toner", "parent": second["id"]}))
        .await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.body);
    assert_eq!((child.body["key"].as_str(), child.body["parent"]["key"].as_str()), (Some("OPS-3"), Some("OPS-2")));
    let listed = app.admin.get("/api/v1/items?project=OPS&sort=id").await;
    let keys: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|item| item["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["OPS-1", "OPS-2", "OPS-3"]);

    // Pages: the item by key, its key in the heading and title, keys in the list.
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = browser.get("/items/ops-2").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<title>OPS-2 Paper jam"), "the title names the key");
    assert!(page.body.contains(r#"<span class="item-number">OPS-2</span> Paper jam"#), "the heading names the key");
    assert!(page.body.contains("OPS-3 Order toner"), "the sub-item tree names keys");
    let list = browser.get("/items?project=OPS").await;
    assert!(list.body.contains(">OPS-1</a>") && list.body.contains(">OPS-3</a>"), "the list shows keys");

    // The search box opens an item by key, also in lower case; a key that names no item is
    // searched as text.
    for typed in ["OPS-1", "ops-1"] {
        let found = browser.get(&format!("/search?q={typed}")).await;
        assert_eq!(found.status, StatusCode::SEE_OTHER, "{typed}: {}", found.body);
        assert_eq!(found.location(), Some(format!("/items/{}", first["id"]).as_str()), "{typed}");
    }
    let by_api = app.admin.get("/api/v1/search?q=WEB-1").await;
    assert_eq!(by_api.body["item"]["id"], web["id"], "{}", by_api.body);
    app.admin.create_item("WEB", "Part AB-77 arrives late").await;
    let text = crate::search::search_until(&app, &app.admin, "AB-77", 1).await;
    assert_eq!(text["hits"][0]["item"]["key"], "WEB-2", "{text}");
    let children = crate::search::search_until(&app, &app.admin, "parent:OPS-2", 1).await;
    assert_eq!(children["hits"][0]["item"]["key"], "OPS-3", "{children}");

    // The export carries the key beside the id.
    let csv = app
        .admin
        .client
        .get(app.url("/api/v1/items.csv?project=OPS&sort=id&state=all"))
        .bearer_auth(&app.admin.token)
        .send()
        .await
        .expect("export request")
        .text()
        .await
        .expect("export body");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,key,project,"), "{}", lines[0]);
    assert!(lines[1].starts_with(&format!("{},OPS-1,OPS,", first["id"])), "{}", lines[1]);
}

async fn a_moved_item_takes_the_next_number_there_and_its_old_key_still_leads_to_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    app.admin.create_item("WEB", "Landing page").await;
    let item = app.admin.create_item("OPS", "Badge reader broken").await;
    assert_eq!(item["key"], "OPS-1");
    let moved = app.admin.patch("/api/v1/items/OPS-1", json!({"version": item["version"], "project": "WEB"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["key"], "WEB-2");
    // OPS numbers on, not again from 1.
    assert_eq!(app.admin.create_item("OPS", "Printer jam").await["key"], "OPS-2");

    let by_old_key = app.admin.get("/api/v1/items/OPS-1").await;
    assert_eq!(by_old_key.status, StatusCode::OK, "{}", by_old_key.body);
    assert_eq!((by_old_key.body["id"].clone(), by_old_key.body["key"].clone()), (item["id"].clone(), json!("WEB-2")));
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = browser.get("/items/OPS-1").await;
    assert_eq!(page.status, StatusCode::PERMANENT_REDIRECT, "{}", page.body);
    assert_eq!(page.location(), Some("/items/WEB-2"));
    assert_eq!(browser.get("/items/WEB-2").await.status, StatusCode::OK);
    let searched = browser.get("/search?q=OPS-1").await;
    assert_eq!(searched.location(), Some(format!("/items/{}", item["id"]).as_str()));

    // Back again: a third key, and both earlier ones still lead to it.
    let current = app.admin.get("/api/v1/items/WEB-2").await.body;
    let back = app.admin.patch("/api/v1/items/WEB-2", json!({"version": current["version"], "project": "OPS"})).await;
    assert_eq!(back.body["key"], "OPS-3", "{}", back.body);
    for old in ["OPS-1", "WEB-2"] {
        assert_eq!(app.admin.get(&format!("/api/v1/items/{old}")).await.body["key"], "OPS-3", "{old}");
        assert_eq!(browser.get(&format!("/items/{old}")).await.location(), Some("/items/OPS-3"), "{old}");
    }
    let history = app.admin.history(&format!("/api/v1/items/{}", item["id"])).await;
    assert!(history.iter().any(|(field, old, new)| field == "project" && old == "OPS" && new == "WEB"), "{history:?}");
}

async fn a_key_tells_nothing_of_an_item_the_caller_cannot_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("HR", false).await;
    app.create_project("OPS", false).await;
    app.admin.create_item("OPS", "Badge reader broken").await;
    app.admin.create_item("OPS", "Printer jam").await;
    let secret = app.admin.create_item("HR", "Salary review").await;
    assert_eq!((secret["id"].as_i64(), secret["key"].as_str()), (Some(3), Some("HR-1")));
    let outsider = app.create_user("olga").await;
    app.add_member("OPS", &outsider, "reporter").await;
    let reply = outsider.get("/api/v1/items/HR-1").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert_eq!(message, "item HR-1 not found", "named by the key, not by the id");
    let unknown = outsider.get("/api/v1/items/HR-2").await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["message"].as_str().unwrap().replace("HR-2", "HR-1")),
        (reply.status, message.to_string()),
        "an unreadable key answers as one that does not exist"
    );
    let patched = outsider.patch("/api/v1/items/HR-1", json!({"version": 1, "title": "Mine"})).await;
    assert_eq!(patched.status, StatusCode::NOT_FOUND, "{}", patched.body);
    let browser = WebClient::sign_in(&app.address, "olga", USER_PASSWORD).await;
    assert_eq!(browser.get("/items/HR-1").await.status, StatusCode::NOT_FOUND);
    crate::search::search_until(&app, &app.admin, "Salary", 1).await;
    let searched = outsider.get("/api/v1/search?q=HR-1").await;
    assert_eq!(
        (searched.status, searched.body["item"].clone(), searched.body["total"].clone()),
        (StatusCode::OK, Value::Null, json!(0)),
        "{}",
        searched.body
    );
    let structure = outsider.get("/api/v1/search?q=parent:HR-1").await;
    assert_eq!(structure.body["total"], 0, "{}", structure.body);
    assert_eq!(app.admin.get("/api/v1/items/HR-1").await.body["title"], "Salary review");
}

/// Comments, attachments, history, transitions, children, watchers and links of an item are
/// reached by its key as by its id (and a link's target named by key); an unreadable key is
/// 404 on each, named by the key.
async fn every_resource_of_an_item_answers_to_its_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("HR", false).await;
    app.create_project("OPS", false).await;
    let first = app.admin.create_item("OPS", "Badge reader broken").await;
    app.admin.create_item("OPS", "Printer jam").await;
    app.admin.create_item("HR", "Salary review").await;
    let child =
        app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "Spare part", "parent": first["id"]})).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.body);

    let comment = app.admin.post("/api/v1/items/OPS-1/comments", json!({"body": "Seen by the door."})).await;
    assert_eq!(comment.status, StatusCode::CREATED, "{}", comment.body);
    assert_eq!(comment.body["item_id"], first["id"]);
    let link = app.admin.post("/api/v1/items/OPS-1/links", json!({"kind": "relates", "target": "OPS-2"})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let uploaded = crate::attachments::upload(&app.admin, "OPS-1", "notes.txt", b"by the door".to_vec(), None).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let watch = app.admin.post("/api/v1/items/OPS-1/watchers", json!({})).await;
    assert_eq!(watch.status, StatusCode::NO_CONTENT, "{}", watch.body);
    for (path, list) in [
        ("comments", "comments"),
        ("attachments", "attachments"),
        ("history", "history"),
        ("transitions", "statuses"),
        ("children", "children"),
        ("watchers", "watchers"),
        ("links", "links"),
    ] {
        let by_key = app.admin.get(&format!("/api/v1/items/OPS-1/{path}")).await;
        let by_id = app.admin.get(&format!("/api/v1/items/{}/{path}", first["id"])).await;
        assert_eq!(by_key.status, StatusCode::OK, "{path}: {}", by_key.body);
        assert_eq!(by_key.body, by_id.body, "{path}");
        assert!(!by_key.body[list].as_array().unwrap().is_empty(), "{path}: {}", by_key.body);
    }
    let link_id = link.body["id"].as_i64().unwrap();
    let removed = app.admin.delete(&format!("/api/v1/items/OPS-1/links/{link_id}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let unwatched = app.admin.delete(&format!("/api/v1/items/OPS-1/watchers/{}", app.admin.user_id)).await;
    assert_eq!(unwatched.status, StatusCode::NO_CONTENT, "{}", unwatched.body);

    let outsider = app.create_user("olga").await;
    app.add_member("OPS", &outsider, "reporter").await;
    for path in ["comments", "attachments", "history", "transitions", "children", "watchers", "links"] {
        let reply = outsider.get(&format!("/api/v1/items/HR-1/{path}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.body);
        assert_eq!(reply.body["error"]["message"], "item HR-1 not found", "{path}");
    }
    let commented = outsider.post("/api/v1/items/HR-1/comments", json!({"body": "Me too"})).await;
    assert_eq!(commented.status, StatusCode::NOT_FOUND, "{}", commented.body);
    let linked = outsider.post("/api/v1/items/OPS-1/links", json!({"kind": "relates", "target": "HR-1"})).await;
    assert_eq!(linked.status, StatusCode::NOT_FOUND, "{}", linked.body);
    assert_eq!(linked.body["error"]["message"], "item HR-1 not found");
    let bad = app.admin.get("/api/v1/items/OPS-x/comments").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

/// Three nodes on one database create 500 items each in one project, six at a time per node:
/// every item gets its own number and key, and each number is given once.
async fn three_nodes_creating_at_once_never_give_two_items_one_key(backend: Backend) {
    const PER_NODE: usize = 500;
    let mut cluster = TestCluster::new(backend);
    for name in ["n1", "n2", "n3"] {
        cluster.start(name).await;
    }
    let nodes = [cluster.admin("n1").await, cluster.admin("n2").await, cluster.admin("n3").await];
    assert_eq!(
        nodes[0].post("/api/v1/projects", json!({"key": "OPS", "name": "Ops"})).await.status,
        StatusCode::CREATED
    );
    let creators = nodes.iter().enumerate().flat_map(|(node, api)| {
        (0..6).map(move |lane| async move {
            let mut keys = Vec::new();
            for round in (lane..PER_NODE).step_by(6) {
                let reply = api
                    .post("/api/v1/items", json!({"project": "OPS", "title": format!("n{node} item {round}")}))
                    .await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                keys.push((reply.body["id"].as_i64().unwrap(), reply.body["key"].as_str().unwrap().to_string()));
            }
            keys
        })
    });
    let created: Vec<(i64, String)> = futures_util::future::join_all(creators).await.into_iter().flatten().collect();
    assert_eq!(created.len(), 3 * PER_NODE);
    let keys: BTreeSet<&str> = created.iter().map(|(_, key)| key.as_str()).collect();
    assert_eq!(keys.len(), created.len(), "no key was given twice");
    let numbers: BTreeSet<i64> = keys.iter().map(|key| key.strip_prefix("OPS-").unwrap().parse().unwrap()).collect();
    assert_eq!(
        numbers,
        (1..=3 * PER_NODE as i64).collect(),
        "numbers 1 to {} (no failed insert took one)",
        3 * PER_NODE
    );
    // Each key opens its own item on every node.
    for (id, key) in created.iter().step_by(37) {
        for api in &nodes {
            assert_eq!(api.get(&format!("/api/v1/items/{key}")).await.body["id"], json!(id), "{key}");
        }
    }
}
