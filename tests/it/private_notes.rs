//! Private notes are for a project's developers and managers: for reporters, viewers and
//! readers of a public project they do not exist — not on the page, in the API, the comment
//! count, search, the history, the attachments or the mails.

use reqwest::StatusCode;
use serde_json::json;

use crate::attachments::upload;
use crate::on_both_backends;
use crate::search::search_until;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(a_private_note_reaches_developers_and_managers_only);

/// Whether a mail the sender wrote (no SMTP server is set) to this address contains the text.
fn mailed(app: &TestApp, address: &str, text: &str) -> bool {
    std::fs::read_dir(app.data_dir.join("mail-outbox"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .any(|mail| mail.lines().any(|line| line.starts_with("To: ") && line.contains(address)) && mail.contains(text))
}

async fn a_private_note_reaches_developers_and_managers_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", true).await;
    let (rep, dev, mia) = (app.create_user("rep").await, app.create_user("dev").await, app.create_user("mia").await);
    app.add_member("OPS", &rep, "reporter").await;
    app.add_member("OPS", &dev, "developer").await;
    app.add_member("OPS", &mia, "manager").await;
    let outsider = app.create_user("otto").await;
    let item = rep.create_item("OPS", "Printer jam").await;
    let comments = format!("/api/v1/items/{}/comments", item["id"]);
    let public = rep.post(&comments, json!({"body": "It jams on tray 2, osprey."})).await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.body);
    app.send_mail_now().await;

    // A reporter may not write one; a developer may, and only readers of notes are told.
    let refused = rep.post(&comments, json!({"body": "secret", "private": true})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let note = dev.post(&comments, json!({"body": "Customer owes us, pelican. @rep @mia", "private": true})).await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    assert_eq!(note.body["private"], json!(true));
    assert_eq!(note.body["not_told"], json!(["rep"]), "rep may not read private notes");
    let note_path = format!("/api/v1/comments/{}", note.body["id"]);
    let file = upload(&dev, &item["id"], "invoice.txt", b"unpaid".to_vec(), note.body["id"].as_i64()).await;
    assert_eq!(file.status, StatusCode::CREATED, "{}", file.body);
    let download = format!("/api/v1/attachments/{}", file.body["id"]);
    let edited = mia.patch(&note_path, json!({"body": "Customer owes us, pelican!"})).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    app.send_mail_now().await;
    assert!(mailed(&app, "mia@example.com", "pelican"), "the mentioned manager is told");
    assert!(!mailed(&app, "rep@example.com", "pelican"), "the reporter, who watches the item, is not");

    // For the reporter and an outsider of the public project the note does not exist.
    for (who, api) in [("rep", &rep), ("otto", &outsider)] {
        let listed = api.get(&comments).await.body;
        assert_eq!(listed["comments"].as_array().unwrap().len(), 1, "{who}: {listed}");
        assert_eq!(api.get(&note_path).await.status, StatusCode::NOT_FOUND, "{who}");
        assert_eq!(api.get(&download).await.status, StatusCode::NOT_FOUND, "{who}");
        let files = api.get(&format!("/api/v1/items/{}/attachments", item["id"])).await.body;
        assert_eq!(files["attachments"], json!([]), "{who}");
        let history = api.history(&format!("/api/v1/items/{}", item["id"])).await;
        assert!(!history.iter().any(|(field, ..)| field == "comment"), "{who}: {history:?}");
        let page =
            WebClient::sign_in(&app.address, who, USER_PASSWORD).await.get(&format!("/items/{}", item["id"])).await;
        assert!(!page.body.contains("pelican") && !page.body.contains("invoice.txt"), "{who}: {}", page.body);
        assert!(page.body.contains(r#"Comments <span class="count">1</span>"#), "{who}");
        assert!(!page.body.contains(r#"name="private""#), "{who} is offered no private box");
    }
    assert_eq!(
        rep.patch(&format!("/api/v1/comments/{}", public.body["id"]), json!({"body": "x", "private": true}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Developers see it, marked, with its file; search finds the item by public text only.
    let page =
        WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await.get(&format!("/items/{}", item["id"])).await;
    assert!(page.body.contains("pelican") && page.body.contains("Private note"), "{}", page.body);
    assert!(page.body.contains(r#"name="private""#), "developers may write private notes");
    assert_eq!(dev.get(&download).await.status, StatusCode::OK);
    search_until(&app, &rep, "osprey", 1).await;
    search_until(&app, &rep, "pelican", 0).await;

    // Made public, it is everyone's.
    let published = dev.patch(&note_path, json!({"body": "Customer owes us, pelican!", "private": false})).await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(rep.get(&note_path).await.body["body"], "Customer owes us, pelican!");
    assert_eq!(rep.get(&download).await.status, StatusCode::OK);
    search_until(&app, &rep, "pelican", 1).await;
}
