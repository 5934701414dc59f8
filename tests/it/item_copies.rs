//! Copying an item, into its project or another: its text, type, priority and the field values
//! that apply there; planning mapped by name as for a move; comments, attachments and links on
//! request; always a `copied_to` link back to the original.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::attachments::upload;
use crate::on_both_backends;
use crate::search::search_until;
use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(an_item_is_copied_with_what_was_asked_for_and_linked_to_its_original);

fn keys(list: &Value, name: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|entry| entry[name].as_str().unwrap().to_string()).collect()
}

async fn an_item_is_copied_with_what_was_asked_for_and_linked_to_its_original(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    app.admin.define_field(json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    app.admin
        .define_field(json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "major"], "projects": ["OPS"]}))
        .await;
    let label = async |project: &str, name: &str| {
        let reply = app
            .admin
            .post(&format!("/api/v1/projects/{project}/labels"), json!({"name": name, "color": "#d73a4a"}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].clone()
    };
    let urgent = label("OPS", "urgent").await;
    label("WEB", "Urgent").await;
    let original = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "Jammed tray", "description": "Tray 2 *jams*.", "labels": [urgent],
                   "fields": {"customer": "ACME", "severity": "major"}}),
        )
        .await;
    assert_eq!(original.status, StatusCode::CREATED, "{}", original.body);
    let path = format!("/api/v1/items/{}", original.body["id"]);
    let other = app.admin.create_item("OPS", "Toner").await;
    let linked = app.admin.post(&format!("{path}/links"), json!({"kind": "relates", "target": other["id"]})).await;
    assert_eq!(linked.status, StatusCode::CREATED, "{}", linked.body);
    for body in ["Seen twice.", "Wrong item."] {
        let reply = app.admin.post(&format!("{path}/comments"), json!({"body": body})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        if body == "Wrong item." {
            let id = reply.body["id"].clone();
            assert_eq!(app.admin.delete(&format!("/api/v1/comments/{id}")).await.status, StatusCode::OK);
        }
    }
    let attached = upload(&app.admin, &original.body["id"], "tray.txt", b"tray photo".to_vec(), None).await;
    assert_eq!(attached.status, StatusCode::CREATED, "{}", attached.body);

    // In its own project, with everything.
    let everything = json!({"comments": true, "attachments": true, "links": true});
    let copy = app.admin.post(&format!("{path}/copy"), everything).await;
    assert_eq!(copy.status, StatusCode::CREATED, "{}", copy.body);
    let copy = copy.body;
    assert_eq!((copy["key"].as_str(), copy["title"].as_str()), (Some("OPS-3"), Some("Jammed tray")));
    assert_eq!(copy["description"], "Tray 2 *jams*.");
    assert_eq!(copy["fields"], json!({"customer": "ACME", "severity": "major"}));
    assert_eq!(keys(&copy["labels"], "name"), ["urgent"]);
    let copy_path = format!("/api/v1/items/{}", copy["id"]);
    let comments = app.admin.get(&format!("{copy_path}/comments")).await.body;
    assert_eq!(keys(&comments["comments"], "body"), ["Seen twice."], "the deleted comment stays behind");
    let files = app.admin.get(&format!("{copy_path}/attachments")).await.body;
    assert_eq!(files["attachments"][0]["sha256"], attached.body["sha256"], "the same stored file");
    let download = app.admin.get(&format!("/api/v1/attachments/{}", files["attachments"][0]["id"])).await;
    assert_eq!(download.status, StatusCode::OK);
    let links = app.admin.get(&format!("{copy_path}/links")).await.body;
    let mut kinds = keys(&links["links"], "kind");
    kinds.sort();
    assert_eq!(kinds, ["copied_from", "relates"]);
    let originals = app.admin.get(&format!("{path}/links")).await.body;
    assert!(keys(&originals["links"], "kind").contains(&"copied_to".to_string()), "{originals}");
    let history = app.admin.history(&path).await;
    assert!(
        history
            .iter()
            .any(|(field, _, new)| field == "links"
                && *new == json!(format!("copied_to {}", copy["key"].as_str().unwrap()))),
        "{history:?}"
    );

    // Into WEB, bare: the field that applies there, the label's namesake, only the copy link.
    let bare = app.admin.post("/api/v1/items/OPS-1/copy", json!({"project": "WEB"})).await;
    assert_eq!(bare.status, StatusCode::CREATED, "{}", bare.body);
    assert_eq!(bare.body["key"], "WEB-1");
    assert_eq!(bare.body["fields"], json!({"customer": "ACME"}));
    assert_eq!(keys(&bare.body["labels"], "name"), ["Urgent"]);
    let bare_path = format!("/api/v1/items/{}", bare.body["id"]);
    assert_eq!(app.admin.get(&format!("{bare_path}/comments")).await.body["comments"], json!([]));
    assert_eq!(keys(&app.admin.get(&format!("{bare_path}/links")).await.body["links"], "kind"), ["copied_from"]);

    // What has no namesake refuses the copy, listed, unless dropped; readers only may not copy.
    let printer = label("OPS", "printer").await;
    let version = app.admin.get(&path).await.body["version"].clone();
    let relabelled = app.admin.patch(&path, json!({"version": version, "labels": [urgent, printer]})).await;
    assert_eq!(relabelled.status, StatusCode::OK, "{}", relabelled.body);
    let items = app.count_rows("items");
    let refused = app.admin.post(&format!("{path}/copy"), json!({"project": "WEB"})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("WEB has no label printer"),
        "{}",
        refused.body
    );
    assert_eq!(app.count_rows("items"), items, "nothing stored");
    let dropped = app.admin.post(&format!("{path}/copy"), json!({"project": "WEB", "drop": true})).await;
    assert_eq!(dropped.status, StatusCode::CREATED, "{}", dropped.body);
    let viewer = app.create_user("vera").await;
    app.add_member("OPS", &viewer, "viewer").await;
    assert_eq!(viewer.post(&format!("{path}/copy"), json!({})).await.status, StatusCode::FORBIDDEN);
    let outsider = app.create_user("otto").await;
    assert_eq!(outsider.post(&format!("{path}/copy"), json!({})).await.status, StatusCode::NOT_FOUND);
    let unknown = app.admin.post(&format!("{path}/copy"), json!({"watchers": true})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);

    // The copies are searchable like any item.
    search_until(&app, &app.admin, "Jammed", 4).await;
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());

    // From the item page: a form, a refusal that says why, then the copy's page.
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = format!("/items/{}", original.body["id"]);
    assert!(browser.get(&page).await.body.contains(&format!(r#"href="{page}/copy""#)));
    let form = browser.get(&format!("{page}/copy")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains(r#"<option value="WEB">"#), "{}", form.body);
    let refused = browser.submit(&format!("{page}/copy"), &[("project", "WEB"), ("comments", "on")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("Not copied: OPS-1 cannot be copied to WEB as it is: WEB has no label printer"));
    let copied = browser.submit(&format!("{page}/copy"), &[("project", "WEB"), ("drop", "on")]).await;
    assert_eq!(copied.status, StatusCode::SEE_OTHER, "{}", copied.body);
    let shown = browser.get(copied.location().unwrap()).await;
    assert!(shown.body.contains("WEB-3</span> Jammed tray"), "{}", shown.body);
}
