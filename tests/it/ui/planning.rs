//! Planning without a browser: the project's planning page (versions, labels, components,
//! and the question before a version with open items closes), labels on the item page, the
//! version and component set in place on the item page, and the list's filters.

use reqwest::StatusCode;
use serde_json::json;

use super::app_with_project;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_keep_versions_labels_and_components_and_closing_asks_about_open_items() {
    let (app, admin) = app_with_project().await;
    let created = admin.submit("/projects/WEB/versions", &[("name", "2.1"), ("due_date", "2099-03-01")]).await;
    assert_eq!(
        (created.status, created.location()),
        (StatusCode::SEE_OTHER, Some("/projects/WEB/planning?saved=version#versions"))
    );
    let page = admin.get("/projects/WEB/planning?saved=version").await;
    assert!(page.body.contains("The version was saved.") && page.body.contains("<strong>2.1</strong>"));
    // A refused name is shown next to its field, with what was typed.
    let twice = admin.submit("/projects/WEB/versions", &[("name", "2.1"), ("due_date", "")]).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("class=\"field-error\"") && twice.body.contains("already has a version named"));
    let bad_date = admin.submit("/projects/WEB/versions", &[("name", "3.0"), ("due_date", "soon")]).await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_date.body.contains("value=\"3.0\""), "the typed name is kept");

    let versions = app.admin.get("/api/v1/projects/WEB/versions").await.body;
    let first = versions["versions"][0]["id"].as_i64().unwrap();
    let next = admin.submit("/projects/WEB/versions", &[("name", "2.2")]).await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    let second = app.admin.get("/api/v1/projects/WEB/versions").await.body["versions"][1]["id"].as_i64().unwrap();
    let open = app
        .admin
        .post("/api/v1/items", serde_json::json!({"project": "WEB", "title": "Open", "target_version": first}))
        .await;
    assert_eq!(open.status, StatusCode::CREATED);

    // Closing asks; nothing is stored until the answer.
    let close = [("name", "2.1"), ("description", ""), ("due_date", "2099-03-01"), ("status", "closed")];
    let asked = admin.submit(&format!("/projects/WEB/versions/{first}"), &close).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.body.contains("Version 2.1 has 1 open item"), "{}", asked.body);
    assert!(asked.body.contains(&format!("value=\"{second}\"")) && asked.body.contains("Move them to 2.2"));
    assert_eq!(app.admin.get(&format!("/api/v1/versions/{first}")).await.body["status"], "open");
    let mut answer = close.to_vec();
    let second_text = second.to_string();
    answer.push(("open_items", &second_text));
    let closed = admin.submit(&format!("/projects/WEB/versions/{first}"), &answer).await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    assert_eq!(app.admin.get(&format!("/api/v1/versions/{first}")).await.body["status"], "closed");
    let moved = app.admin.get(&format!("/api/v1/items/{}", open.body["id"])).await.body;
    assert_eq!(moved["target_version"]["name"], "2.2");

    // Labels and components.
    let label = admin.submit("/projects/WEB/labels", &[("name", "ui"), ("color", "#3b82f6")]).await;
    assert_eq!(label.status, StatusCode::SEE_OTHER);
    let bad = admin.submit("/projects/WEB/labels", &[("name", "red"), ("color", "red")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not a colour"));
    let component = admin.submit("/projects/WEB/components", &[("name", "Backend"), ("default_assignee", "")]).await;
    assert_eq!(component.status, StatusCode::SEE_OTHER);
    let page = admin.get("/projects/WEB/planning").await;
    assert!(page.body.contains("fill=\"#3b82f6\"") && page.body.contains("<strong>Backend</strong>"));

    // Deleting asks first, also without the page script; the answer names what goes.
    let labels = app.admin.get("/api/v1/projects/WEB/labels").await.body;
    let ui = labels["labels"].as_array().unwrap().iter().find(|label| label["name"] == "ui").unwrap()["id"].clone();
    assert!(page.body.contains(r#"data-confirm="Delete label ui?""#), "the dialog's question");
    let delete = format!("/projects/WEB/labels/{ui}/delete");
    let asked = admin.submit(&delete, &[]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Delete label ui?") && asked.body.contains("It is taken off every item"));
    assert_eq!(app.count_rows("labels WHERE name = 'ui'"), 1, "nothing deleted before the answer");
    let deleted = admin.submit(&delete, &[("confirm", "yes")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(app.count_rows("labels WHERE name = 'ui'"), 0);
    let asked = admin.submit(&format!("/projects/WEB/versions/{second}/delete"), &[]).await;
    assert!(asked.body.contains("Delete version 2.2?"), "{}", asked.body);

    // Only managers: a developer is refused the page and its forms.
    let dev = app.create_user("dev").await;
    app.add_member("WEB", &dev, "developer").await;
    let developer = WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await;
    assert_eq!(developer.get("/projects/WEB/planning").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        developer.submit("/projects/WEB/labels", &[("name", "x"), ("color", "#000000")]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_item_page_adds_and_removes_labels_and_edits_version_and_component() {
    let (app, admin) = app_with_project().await;
    let version = app.admin.post("/api/v1/projects/WEB/versions", serde_json::json!({"name": "2.1"})).await.body;
    let ui =
        app.admin.post("/api/v1/projects/WEB/labels", serde_json::json!({"name": "ui", "color": "#3b82f6"})).await.body;
    let part = app.admin.post("/api/v1/projects/WEB/components", serde_json::json!({"name": "Backend"})).await.body;
    let item = app.admin.create_item("WEB", "Dialog cut off").await;
    let id = item["id"].as_i64().unwrap();

    let page = admin.get(&format!("/items/{id}")).await;
    assert!(page.body.contains("id=\"add-label\"") && page.body.contains(">ui</option>"), "the add-a-label form");
    let added = admin.submit(&format!("/items/{id}/labels"), &[("label", &ui["id"].to_string())]).await;
    let then = format!("/items/{id}?done=label-added&label={}#labels", ui["id"]);
    assert_eq!((added.status, added.location()), (StatusCode::SEE_OTHER, Some(then.as_str())));
    let page = admin.get(&format!("/items/{id}")).await;
    assert!(page.body.contains("aria-label=\"Remove the label ui\""), "a remove button");
    assert!(!page.body.contains(">ui</option>"), "a label it has is not offered again");
    // Taking a label off applies to the labels the item has now: a change of another field
    // since the page was shown is kept, not refused and not lost.
    let renamed = app
        .admin
        .patch(&format!("/api/v1/items/{id}"), serde_json::json!({"version": 2, "title": "Dialog cut off on phones"}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let removed = admin.submit(&format!("/items/{id}/labels/{}/remove", ui["id"]), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["title"], "Dialog cut off on phones");
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["labels"], serde_json::json!([]));

    // The item page plans the item and puts it in a component, each in place.
    let field = format!("/items/{id}/field");
    let planned =
        admin.submit(&field, &[("field", "target_version"), ("seen", ""), ("value", &version["id"].to_string())]).await;
    let page = admin.get(planned.location().unwrap()).await;
    assert!(page.body.contains("Version changed from none to 2.1."), "{}", page.body);
    let placed =
        admin.submit(&field, &[("field", "component"), ("seen", ""), ("value", &part["id"].to_string())]).await;
    let page = admin.get(placed.location().unwrap()).await;
    assert!(page.body.contains("Component changed from none to Backend."), "{}", page.body);
    assert!(
        page.body.contains(&format!(r#"<option value="{}" selected>2.1</option>"#, version["id"])),
        "{}",
        page.body
    );
    let reader = app.create_user("rick").await;
    app.add_member("WEB", &reader, "viewer").await;
    let read = WebClient::sign_in(&app.address, "rick", USER_PASSWORD).await.get(&format!("/items/{id}")).await;
    assert!(
        read.body.contains("id=\"item-version\">2.1</a>") && read.body.contains("id=\"item-component\">Backend</a>")
    );
    // Someone else's version meanwhile is a collision named by the versions' names.
    let now = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    let cleared = json!({"version": now["version"], "target_version": null});
    assert_eq!(app.admin.patch(&format!("/api/v1/items/{id}"), cleared).await.status, StatusCode::OK);
    let clash = admin
        .submit(&field, &[("field", "target_version"), ("seen", "2.1"), ("value", &version["id"].to_string())])
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert!(clash.body.contains("You chose 2.1."), "{}", clash.body);
    let mine =
        admin.submit(&field, &[("field", "target_version"), ("seen", ""), ("value", &version["id"].to_string())]).await;
    assert_eq!(mine.status, StatusCode::SEE_OTHER, "{}", mine.body);

    // The list filters by them, with the project's choices offered.
    let list = admin.get(&format!("/projects/WEB?target_version={}&component=Backend&state=all", version["id"])).await;
    assert!(list.body.contains("1 item.") && list.body.contains("Dialog cut off"), "{}", list.body);
    assert!(list.body.contains(&format!("<option value=\"{}\" selected>2.1</option>", version["id"])));
    let none = admin.get("/projects/WEB?target_version=none&state=all").await;
    assert!(none.body.contains("0 items."));
}
