//! Sub-items: a parent in the item's own project, to any depth, without cycles; the tree and
//! its done count on the parent's page; a parent closes only after its children; moves keep
//! the tree inside one project.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    a_tree_six_deep_shows_on_the_parent_and_closes_from_the_bottom_up,
    a_parent_stays_in_the_project_without_cycles_and_moves_keep_the_tree_in_one_project,
    two_items_made_each_others_parent_at_once_do_not_form_a_cycle,
    the_list_as_a_tree_nests_matching_sub_items_under_matching_parents,
);

const REJECTED: i64 = 5;

async fn sub_item(api: &Api, project: &str, title: &str, parent: Option<i64>) -> Value {
    let reply = api.post("/api/v1/items", json!({"project": project, "title": title, "parent": parent})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn item(api: &Api, id: i64) -> Value {
    api.get(&format!("/api/v1/items/{id}")).await.body
}

async fn reject(api: &Api, id: i64) -> (StatusCode, Value) {
    let version = item(api, id).await["version"].clone();
    let reply = api.patch(&format!("/api/v1/items/{id}"), json!({"version": version, "status_id": REJECTED})).await;
    (reply.status, reply.body)
}

async fn a_tree_six_deep_shows_on_the_parent_and_closes_from_the_bottom_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let root = sub_item(&app.admin, "OPS", "Release 2.0", None).await["id"].as_i64().unwrap();
    let mut chain = vec![root];
    for depth in 1..=6 {
        let child = sub_item(&app.admin, "OPS", &format!("Level {depth}"), Some(*chain.last().unwrap())).await;
        assert_eq!(
            child["parent"],
            json!({"id": chain.last().unwrap(), "key": format!("OPS-{depth}"), "title": if depth == 1 { "Release 2.0".to_string() } else { format!("Level {}", depth - 1) }})
        );
        chain.push(child["id"].as_i64().unwrap());
    }
    let sibling = sub_item(&app.admin, "OPS", "Release notes", Some(root)).await["id"].as_i64().unwrap();
    let top = item(&app.admin, root).await;
    assert_eq!((top["parent"].clone(), top["children_count"].clone()), (Value::Null, json!(2)));
    assert_eq!(item(&app.admin, chain[3]).await["children_count"], 1);

    let children = app.admin.get(&format!("/api/v1/items/{root}/children")).await;
    assert_eq!(children.status, StatusCode::OK);
    let ids: Vec<i64> =
        children.body["children"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![chain[1], sibling]);
    let listed = app.admin.get(&format!("/api/v1/items?parent={root}&sort=id")).await.body;
    assert_eq!(listed["total"], 2, "{listed}");
    let searched = crate::search::search_until(&app, &app.admin, &format!("parent:#{root}"), 2).await;
    let mut hits: Vec<i64> =
        searched["hits"].as_array().unwrap().iter().map(|hit| hit["item"]["id"].as_i64().unwrap()).collect();
    hits.sort();
    assert_eq!(hits, vec![chain[1], sibling], "{searched}");

    // The parent's page: the whole tree, depth first, with the done count.
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = browser.get(&format!("/items/{root}")).await.body;
    assert!(page.contains("0/7 done"), "the done count");
    let mut at = 0;
    for (depth, id) in chain.iter().enumerate().skip(1) {
        let entry = format!("<li class=\"depth-{depth}\"><a href=\"/items/{id}\"");
        let found = page[at..].find(&entry).unwrap_or_else(|| panic!("{entry} after the previous level"));
        at += found;
    }
    assert!(page[at..].contains(&format!("<li class=\"depth-1\"><a href=\"/items/{sibling}\"")), "the sibling last");
    let deepest = browser.get(&format!("/items/{}", chain[6])).await.body;
    assert!(deepest.contains("OPS-6 Level 5"), "a sub-item names its parent");

    // Closing runs bottom up: each parent waits for its open children.
    let (status, body) = reject(&app.admin, root).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("#{} Level 1", chain[1])) && message.contains("Release notes"), "{message}");
    for id in chain.iter().skip(1).rev() {
        assert_eq!(reject(&app.admin, *id).await.0, StatusCode::OK);
    }
    assert_eq!(reject(&app.admin, sibling).await.0, StatusCode::OK);
    assert_eq!(reject(&app.admin, root).await.0, StatusCode::OK);
    let page = browser.get(&format!("/items/{root}")).await.body;
    assert!(page.contains("7/7 done"));
}

async fn a_parent_stays_in_the_project_without_cycles_and_moves_keep_the_tree_in_one_project(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    app.create_project("SEC", false).await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    app.add_member("WEB", &developer, "developer").await;
    let secret = sub_item(&app.admin, "SEC", "Secret", None).await["id"].as_i64().unwrap();
    let web = sub_item(&developer, "WEB", "Web item", None).await["id"].as_i64().unwrap();

    // A parent elsewhere, unreadable or missing is refused alike, naming the field.
    for parent in [secret, web, 999_999] {
        let reply = developer.post("/api/v1/items", json!({"project": "OPS", "title": "x", "parent": parent})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert_eq!(reply.body["error"]["field"], "parent");
        assert_eq!(
            reply.body["error"]["message"].as_str().unwrap().replace(&parent.to_string(), "N"),
            "parent: there is no item N in project OPS"
        );
    }
    assert_eq!(app.count_rows("items WHERE title = 'x'"), 0);

    let a = sub_item(&developer, "OPS", "A", None).await["id"].as_i64().unwrap();
    let b = sub_item(&developer, "OPS", "B", Some(a)).await;
    let c = sub_item(&developer, "OPS", "C", Some(b["id"].as_i64().unwrap())).await;
    let (b, c) = (b["id"].as_i64().unwrap(), c["id"].as_i64().unwrap());
    let version = item(&developer, a).await["version"].clone();
    let cycle = developer.patch(&format!("/api/v1/items/{a}"), json!({"version": version, "parent": c})).await;
    assert_eq!(cycle.status, StatusCode::CONFLICT, "{}", cycle.body);
    assert!(
        cycle.body["error"]["message"].as_str().unwrap().contains(&format!("#{a} → #{b} → #{c}")),
        "{}",
        cycle.body
    );
    let itself = developer.patch(&format!("/api/v1/items/{a}"), json!({"version": version, "parent": a})).await;
    assert_eq!((itself.status, itself.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("parent")));

    // C moves up to A, then to the top; each change is history and the counts follow.
    let version = item(&developer, c).await["version"].clone();
    let moved = developer.patch(&format!("/api/v1/items/{c}"), json!({"version": version, "parent": a})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(
        (item(&developer, a).await["children_count"].clone(), item(&developer, b).await["children_count"].clone()),
        (json!(2), json!(0))
    );
    let top =
        developer.patch(&format!("/api/v1/items/{c}"), json!({"version": moved.body["version"], "parent": null})).await;
    assert_eq!(top.body["parent"], Value::Null);
    let history = developer.history(&format!("/api/v1/items/{c}")).await;
    let (key_a, key_b) = (item(&developer, a).await["key"].clone(), item(&developer, b).await["key"].clone());
    assert!(history.contains(&("parent".into(), key_b, key_a.clone())), "{history:?}");
    assert!(history.contains(&("parent".into(), key_a, Value::Null)), "{history:?}");

    // A parent moves only without its children; a child that moves leaves its parent.
    let version = item(&developer, a).await["version"].clone();
    let refused = developer.patch(&format!("/api/v1/items/{a}"), json!({"version": version, "project": "WEB"})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let version = item(&developer, b).await["version"].clone();
    let left = developer.patch(&format!("/api/v1/items/{b}"), json!({"version": version, "project": "WEB"})).await;
    assert_eq!(left.status, StatusCode::OK, "{}", left.body);
    assert_eq!((left.body["project"]["key"].clone(), left.body["parent"].clone()), (json!("WEB"), Value::Null));
    assert_eq!(item(&developer, a).await["children_count"], 0);
    // Moving with a parent of the target project is one step.
    let version = left.body["version"].clone();
    let back = developer
        .patch(&format!("/api/v1/items/{b}"), json!({"version": version, "project": "OPS", "parent": a}))
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["parent"]["id"], a);
    let counts: i64 = app.count_rows("items parents WHERE children_count <> (SELECT COUNT(*) FROM items children WHERE children.parent_id = parents.id)");
    assert_eq!(counts, 0, "the kept counts agree with the rows");
}

/// Rounds of two changes at once that would make a cycle together: each item made the
/// other's parent. One of them wins every time.
async fn two_items_made_each_others_parent_at_once_do_not_form_a_cycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    for round in 0..15 {
        let a = sub_item(&app.admin, "OPS", &format!("A{round}"), None).await["id"].as_i64().unwrap();
        let b = sub_item(&app.admin, "OPS", &format!("B{round}"), None).await["id"].as_i64().unwrap();
        let (a_path, b_path) = (format!("/api/v1/items/{a}"), format!("/api/v1/items/{b}"));
        let (under_b, under_a) = tokio::join!(
            app.admin.patch(&a_path, json!({"version": 1, "parent": b})),
            app.admin.patch(&b_path, json!({"version": 1, "parent": a}))
        );
        let changed = [&under_b, &under_a].iter().filter(|reply| reply.status == StatusCode::OK).count();
        assert_eq!(
            changed, 1,
            "round {round}: {} {} / {} {}",
            under_b.status, under_b.body, under_a.status, under_a.body
        );
    }
    let cycles = app.count_rows("items a JOIN items b ON b.id = a.parent_id WHERE b.parent_id = a.id");
    assert_eq!(cycles, 0);
}

fn listed_ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()).collect()
}

async fn the_list_as_a_tree_nests_matching_sub_items_under_matching_parents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let id = |item: Value| item["id"].as_i64().unwrap();
    let a = id(sub_item(&app.admin, "OPS", "A", None).await);
    let a1 = id(sub_item(&app.admin, "OPS", "A1", Some(a)).await);
    let a2 = id(sub_item(&app.admin, "OPS", "A2", Some(a)).await);
    let a1a = id(sub_item(&app.admin, "OPS", "A1a", Some(a1)).await);
    let b = id(sub_item(&app.admin, "OPS", "B", None).await);
    let b1 = id(sub_item(&app.admin, "OPS", "B1", Some(b)).await);
    let c = id(sub_item(&app.admin, "OPS", "C", None).await);
    assert_eq!(reject(&app.admin, a2).await.0, StatusCode::OK);
    let label = app.admin.post("/api/v1/projects/OPS/labels", json!({"name": "mine", "color": "#aa3300"})).await;
    assert_eq!(label.status, StatusCode::CREATED, "{}", label.body);
    for labelled in [a1a, b1] {
        let version = item(&app.admin, labelled).await["version"].clone();
        let reply = app
            .admin
            .patch(&format!("/api/v1/items/{labelled}"), json!({"version": version, "labels": [label.body["id"]]}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    // Open items: the closed A2 is left out, and each sub-item follows its parent, depth first.
    let tree = app.admin.get("/api/v1/items?project=OPS&state=open&sort=id&view=tree").await.body;
    assert_eq!(tree["total"], 3, "top-level items are counted: {tree}");
    assert_eq!(listed_ids(&tree), vec![a, a1, a1a, b, b1, c]);
    let second = app.admin.get("/api/v1/items?project=OPS&state=open&sort=id&view=tree&limit=1&offset=1").await.body;
    assert_eq!((second["total"].clone(), listed_ids(&second)), (json!(3), vec![b, b1]));
    let newest_first = app.admin.get("/api/v1/items?project=OPS&state=open&sort=-id&view=tree").await.body;
    assert_eq!(listed_ids(&newest_first), vec![c, b, b1, a, a1, a1a]);
    // A match whose parent does not match is at the top, naming its parent.
    let mine = app.admin.get("/api/v1/items?project=OPS&label=mine&sort=id&view=tree").await.body;
    assert_eq!((mine["total"].clone(), listed_ids(&mine)), (json!(2), vec![a1a, b1]));
    assert_eq!(mine["items"][0]["parent"]["id"], a1);
    // The flat list is unchanged; a view that is neither is refused by name.
    let flat = app.admin.get("/api/v1/items?project=OPS&state=open&sort=id").await.body;
    assert_eq!((flat["total"].clone(), listed_ids(&flat)), (json!(6), vec![a, a1, a1a, b, b1, c]));
    let wrong = app.admin.get("/api/v1/items?view=forest").await;
    assert_eq!((wrong.status, wrong.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("view")));

    // The page: sub-items indented under their parents, top-level items counted.
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = browser.get("/projects/OPS?view=tree&sort=id").await.body;
    assert!(page.contains("3 top-level items."), "the count");
    let rows: Vec<&str> = page.split("<tr").skip(2).collect();
    let expected = [(a, ">"), (a1, " class=\"nested depth-1\">"), (a1a, " class=\"nested depth-2\">"), (b, ">")];
    for (row, (id, opening)) in rows.iter().zip(expected) {
        assert!(row.starts_with(opening), "item {id}: {row}");
        assert!(row.contains(&format!("<a href=\"/items/{id}\" tabindex=\"-1\">")), "item {id} in order: {row}");
    }
    assert!(page.contains("aria-current=\"page\">Sub-items under their parents</a>"));
    let flat_page = browser.get("/projects/OPS?sort=id").await.body;
    assert!(flat_page.contains("6 items.") && !flat_page.contains("nested depth-"));
}
