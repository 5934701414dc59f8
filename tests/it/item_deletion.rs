//! Project managers delete items: with their sub-items, comments and links, out of search at
//! once, noted in the history of the parent and of linked items; the files of their
//! attachments leave the shared path after a grace period unless an attachment still names
//! the same content.

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::attachments::upload;
use crate::jobs::run_job;
use crate::on_both_backends;
use crate::search::search_until;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    a_manager_deletes_an_item_with_its_sub_items_and_what_named_it_says_so,
    the_files_of_deleted_attachments_go_after_the_grace_period_unless_still_used,
    an_item_is_deleted_from_its_page_after_a_confirmation_naming_what_goes,
);

/// OPS with dev (developer) and mia (manager); items: Rack ← Server ← Disk (sub-items), Fan
/// blocked by Server, and a comment on Server.
struct Setup {
    app: TestApp,
    dev: Api,
    mia: Api,
    rack: Value,
    server: Value,
    disk: Value,
    fan: Value,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let (dev, mia) = (app.create_user("dev").await, app.create_user("mia").await);
    app.add_member("OPS", &dev, "developer").await;
    app.add_member("OPS", &mia, "manager").await;
    let rack = app.admin.create_item("OPS", "Rack").await;
    let child = async |title: &str, parent: &Value| {
        let reply =
            app.admin.post("/api/v1/items", json!({"project": "OPS", "title": title, "parent": parent["id"]})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    };
    let server = child("Server", &rack).await;
    let disk = child("Disk", &server).await;
    let fan = app.admin.create_item("OPS", "Fan").await;
    let linked = app
        .admin
        .post(&format!("/api/v1/items/{}/links", server["id"]), json!({"kind": "blocks", "target": fan["id"]}))
        .await;
    assert_eq!(linked.status, StatusCode::CREATED, "{}", linked.body);
    let commented =
        dev.post(&format!("/api/v1/items/{}/comments", server["id"]), json!({"body": "The wombat fan is loud."})).await;
    assert_eq!(commented.status, StatusCode::CREATED, "{}", commented.body);
    Setup { app, dev, mia, rack, server, disk, fan }
}

async fn a_manager_deletes_an_item_with_its_sub_items_and_what_named_it_says_so(backend: Backend) {
    let Setup { app, dev, mia, rack, server, disk, fan } = setup(backend).await;
    search_until(&app, &dev, "wombat", 1).await;
    let path = format!("/api/v1/items/{}", server["id"]);

    // Developers may not; someone who cannot read the project does not see the item.
    let refused = dev.delete(&path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let outsider = app.create_user("otto").await;
    assert_eq!(outsider.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("items"), 4, "nothing deleted");

    // By its key, as everywhere; the answer says what went.
    let deleted = mia.delete("/api/v1/items/OPS-2").await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["item"]["key"], "OPS-2");
    assert_eq!(deleted.body["sub_items"], json!([{"id": disk["id"], "key": "OPS-3", "title": "Disk"}]));
    assert_eq!((deleted.body["comments"].clone(), deleted.body["links"].clone()), (json!(1), json!(1)));
    for gone in [&path, &format!("/api/v1/items/{}", disk["id"]), &"/api/v1/items/OPS-2".to_string()] {
        assert_eq!(mia.get(gone).await.status, StatusCode::NOT_FOUND, "{gone}");
    }
    assert_eq!(app.count_rows("comments"), 0);
    assert_eq!(app.count_rows("item_links"), 0);
    assert_eq!(app.count_rows("item_keys"), 2, "the keys of the items left");
    assert!(
        crate::support::app::totals_disagreements(&app).is_empty(),
        "{:?}",
        crate::support::app::totals_disagreements(&app)
    );
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());

    // The parent and the linked item say what happened, without naming it to other projects.
    let rack_path = format!("/api/v1/items/{}", rack["id"]);
    let history = app.admin.history(&rack_path).await;
    assert!(history.contains(&("sub_item".into(), json!("OPS-2 Server"), Value::Null)), "{history:?}");
    assert_eq!(dev.get(&format!("{rack_path}/children")).await.body["children"], json!([]));
    let history = app.admin.history(&format!("/api/v1/items/{}", fan["id"])).await;
    assert!(history.contains(&("deleted_link".into(), json!("blocked_by"), Value::Null)), "{history:?}");

    // Search forgets it and its comment.
    search_until(&app, &dev, "wombat", 0).await;
    search_until(&app, &dev, "Server", 0).await;
    assert_eq!(mia.delete(&path).await.status, StatusCode::NOT_FOUND, "gone is gone");
}

async fn the_files_of_deleted_attachments_go_after_the_grace_period_unless_still_used(backend: Backend) {
    let Setup { app, mia, server, fan, .. } = setup(backend).await;
    let only_here = upload(&app.admin, &server["id"], "trace.log", b"only on the server".to_vec(), None).await;
    assert_eq!(only_here.status, StatusCode::CREATED, "{}", only_here.body);
    let shared = b"attached twice".to_vec();
    for item in [&server["id"], &fan["id"]] {
        let reply = upload(&app.admin, item, "photo.txt", shared.clone(), None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    assert_eq!(crate::attachments::stored_files(&app), 2, "the same content is stored once");
    let deleted = mia.delete(&format!("/api/v1/items/{}", server["id"])).await;
    assert_eq!(deleted.body["attachments"], json!(2), "{}", deleted.body);
    assert_eq!(app.count_rows("attachment_orphans"), 2);

    // Within the grace period the files stay (a download under way ends well).
    let run = run_job(&app, "prune").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(crate::attachments::stored_files(&app), 2);

    // After it, the file no attachment names goes; the one the fan still has stays.
    let mut connection = app.database().get().unwrap();
    diesel::sql_query("UPDATE attachment_orphans SET orphaned_at = '2000-01-01 00:00:00'")
        .execute(&mut **connection)
        .unwrap();
    drop(connection);
    let run = run_job(&app, "prune").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert!(run["run"]["detail"].as_str().unwrap().contains("1 files of deleted attachments"), "{run}");
    assert_eq!(crate::attachments::stored_files(&app), 1);
    assert_eq!(app.count_rows("attachment_orphans"), 0);
    let fans = app.admin.get(&format!("/api/v1/items/{}/attachments", fan["id"])).await;
    let download = fans.body["attachments"][0]["id"].clone();
    let file = app.admin.get(&format!("/api/v1/attachments/{download}")).await;
    assert_eq!(file.status, StatusCode::OK, "the shared content still downloads");

    // An upload of deleted content within the grace period takes the file back.
    let again = app.admin.create_item("OPS", "Again").await;
    let held = upload(&app.admin, &fan["id"], "spare.txt", b"spare".to_vec(), None).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.body);
    let removed = app.admin.delete(&format!("/api/v1/items/{}", fan["id"])).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let reuploaded = upload(&app.admin, &again["id"], "spare.txt", b"spare".to_vec(), None).await;
    assert_eq!(reuploaded.status, StatusCode::CREATED, "{}", reuploaded.body);
    assert_eq!(app.count_rows("attachment_orphans"), 1, "the other file of the fan is still orphaned");
}

async fn an_item_is_deleted_from_its_page_after_a_confirmation_naming_what_goes(backend: Backend) {
    let Setup { app, server, .. } = setup(backend).await;
    let (dev, mia) = (
        WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await,
        WebClient::sign_in(&app.address, "mia", USER_PASSWORD).await,
    );
    let page = format!("/items/{}", server["id"]);
    assert!(mia.get(&page).await.body.contains(r#"id="delete-button""#));
    assert!(!dev.get(&page).await.body.contains(r#"id="delete-button""#));
    assert_eq!(dev.submit(&format!("{page}/delete"), &[("confirm", "yes")]).await.status, StatusCode::FORBIDDEN);

    let asked = mia.submit(&format!("{page}/delete"), &[]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Delete OPS-2 Server?"), "{}", asked.body);
    assert!(
        asked
            .body
            .contains("OPS-2 Server goes with 1 sub-item (OPS-3), 1 comment, 0 attachments, 1 link to another item."),
        "{}",
        asked.body
    );
    assert_eq!(app.count_rows("items"), 4, "nothing deleted before the confirmation");
    let done = mia.submit(&format!("{page}/delete"), &[("confirm", "yes")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), Some("/projects/OPS?deleted=OPS-2"));
    let list = mia.get("/projects/OPS?deleted=OPS-2").await;
    assert!(list.body.contains("OPS-2 was deleted."), "{}", list.body);
    assert!(!mia.get("/projects/OPS?deleted=%3Cb%3Ehello").await.body.contains("was deleted"), "only a key is named");
    assert_eq!(mia.get(&page).await.status, StatusCode::NOT_FOUND);
}
