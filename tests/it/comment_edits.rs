//! Comments are edited by their authors (project managers edit any), keeping the texts they
//! replace for the managers to read; a deleted comment leaves a marker, and its text leaves
//! search, the pages and the mails not sent yet.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::search::search_until;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    a_comment_is_edited_by_its_author_or_a_manager_and_keeps_its_versions,
    a_deleted_comment_leaves_a_marker_and_nothing_of_its_text,
    comments_are_edited_and_deleted_from_the_item_page,
);

/// OPS with ann and walt (developers) and mia (manager), an item, and ann's comment on it.
struct Team {
    app: TestApp,
    ann: Api,
    walt: Api,
    mia: Api,
    item: i64,
    comment: i64,
}

async fn team(backend: Backend, body: &str) -> Team {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let (ann, walt, mia) = (app.create_user("ann").await, app.create_user("walt").await, app.create_user("mia").await);
    app.add_member("OPS", &ann, "developer").await;
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("OPS", &mia, "manager").await;
    let item = walt.create_item("OPS", "Printer jam").await["id"].as_i64().unwrap();
    let posted = ann.post(&format!("/api/v1/items/{item}/comments"), json!({"body": body})).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let comment = posted.body["id"].as_i64().unwrap();
    Team { app, ann, walt, mia, item, comment }
}

async fn a_comment_is_edited_by_its_author_or_a_manager_and_keeps_its_versions(backend: Backend) {
    let Team { app, ann, walt, mia, item, comment } = team(backend, "Try the other tray.").await;
    let path = format!("/api/v1/comments/{comment}");
    let fresh = ann.get(&path).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!((fresh.body["edited_at"].clone(), fresh.body["deleted"].clone()), (Value::Null, json!(false)));

    // The author edits; the text it had becomes a version.
    let edited = ann.patch(&path, json!({"body": "Try the lower tray."})).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["body"], "Try the lower tray.");
    assert_eq!(edited.body["edited_by"]["login"], "ann");
    assert!(edited.body["edited_at"].is_string(), "{}", edited.body);
    assert_eq!(edited.body["not_told"], json!([]));

    // Another developer may not; someone who cannot read the project does not see it at all.
    let refused = walt.patch(&path, json!({"body": "Mine now."})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("ann"), "{}", refused.body);
    let outsider = app.create_user("otto").await;
    for reply in
        [outsider.get(&path).await, outsider.patch(&path, json!({"body": "x"})).await, outsider.delete(&path).await]
    {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    }

    // Bad input stores nothing: an empty text, an unknown login.
    let versions = app.count_rows("comment_versions");
    let empty = ann.patch(&path, json!({"body": "  "})).await;
    assert_eq!((empty.status, empty.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    let unknown = ann.patch(&path, json!({"body": "Ask @nobody."})).await;
    assert_eq!((unknown.status, unknown.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    assert_eq!(app.count_rows("comment_versions"), versions);
    assert_eq!(ann.get(&path).await.body["body"], "Try the lower tray.");

    // A manager edits anyone's comment; a mention the edit adds tells its reader, once.
    let mentions = format!("mail_outbox WHERE event = 'mentioned' AND recipient_id = {}", walt.user_id);
    let by_manager = mia.patch(&path, json!({"body": "Try the lower tray, @walt."})).await;
    assert_eq!(by_manager.status, StatusCode::OK, "{}", by_manager.body);
    assert_eq!(by_manager.body["edited_by"]["login"], "mia");
    assert_eq!(app.count_rows(&mentions), 1);
    let same = mia.patch(&path, json!({"body": "Try the lower tray, @walt!"})).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(app.count_rows(&mentions), 1, "the mention was there before");

    // The versions, newest first, with who wrote each text: for managers only.
    assert_eq!(ann.get(&format!("{path}/versions")).await.status, StatusCode::FORBIDDEN);
    let listed = mia.get(&format!("{path}/versions")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let texts: Vec<(&str, &str)> = listed.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| (version["body"].as_str().unwrap(), version["written_by"]["login"].as_str().unwrap()))
        .collect();
    assert_eq!(
        texts,
        [("Try the lower tray, @walt.", "mia"), ("Try the lower tray.", "ann"), ("Try the other tray.", "ann")]
    );
    assert_eq!(listed.body["comment"]["body"], "Try the lower tray, @walt!");

    // The item's history names each edit.
    let history = app.admin.history(&format!("/api/v1/items/{item}")).await;
    let edits: Vec<_> = history.iter().filter(|(field, ..)| field == "comment").collect();
    assert_eq!(edits.len(), 3, "{history:?}");
    assert!(edits.iter().all(|(_, old, new)| *old == json!(comment.to_string()) && *new == json!("edited")));
}

async fn a_deleted_comment_leaves_a_marker_and_nothing_of_its_text(backend: Backend) {
    let Team { app, ann, walt, mia, item, comment } = team(backend, "The zanzibar cartridge leaks.").await;
    let path = format!("/api/v1/comments/{comment}");
    search_until(&app, &walt, "zanzibar", 1).await;
    let edited = ann.patch(&path, json!({"body": "The zanzibar cartridge leaks badly."})).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);

    // A comment whose mail has not gone out yet: deleted first, it is never sent.
    let late =
        app.admin.post(&format!("/api/v1/items/{item}/comments"), json!({"body": "Quokka toner ordered."})).await;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.body);
    let pending = format!("mail_outbox WHERE comment_id = {} AND sent_at IS NULL", late.body["id"]);
    assert!(app.count_rows(&pending) > 0, "walt, who reported the item, is to be told");
    let removed = app.admin.delete(&format!("/api/v1/comments/{}", late.body["id"])).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    app.send_mail_now().await;
    assert_eq!(app.count_rows(&pending), 0, "the mail was dropped, not left waiting");
    assert!(!mails_contain(&app, "Quokka"), "the deleted text was not mailed");

    // Only its author or a manager may delete it.
    assert_eq!(walt.delete(&path).await.status, StatusCode::FORBIDDEN);
    let deleted = ann.delete(&path).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!((deleted.body["deleted"].clone(), deleted.body["body"].clone()), (json!(true), json!("")));
    assert_eq!(deleted.body["deleted_by"]["login"], "ann");
    assert!(deleted.body["deleted_at"].is_string());
    assert_eq!(app.count_rows(&format!("comment_versions WHERE comment_id = {comment}")), 0, "versions go too");

    // The marker stays in the list; its text is gone from search; it cannot be changed again.
    let listed = walt.get(&format!("/api/v1/items/{item}/comments")).await;
    assert_eq!(listed.body["comments"][0]["deleted"], json!(true), "{}", listed.body);
    search_until(&app, &walt, "zanzibar", 0).await;
    for reply in [ann.patch(&path, json!({"body": "Back."})).await, mia.delete(&path).await] {
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    }
    let versions = mia.get(&format!("{path}/versions")).await;
    assert_eq!(versions.body["versions"], json!([]), "{}", versions.body);
    let history = app.admin.history(&format!("/api/v1/items/{item}")).await;
    assert!(
        history.iter().any(|(field, old, new)| field == "comment"
            && *old == json!(comment.to_string())
            && *new == json!("deleted"))
    );

    let browser = WebClient::sign_in(&app.address, "walt", USER_PASSWORD).await;
    let page = browser.get(&format!("/items/{item}")).await;
    assert!(page.body.contains("Comment deleted by ann"), "{}", page.body);
    assert!(!page.body.contains("zanzibar") && !page.body.contains("Quokka"), "{}", page.body);
}

/// Whether a mail the sender wrote (no SMTP server is set) contains this text.
fn mails_contain(app: &TestApp, text: &str) -> bool {
    std::fs::read_dir(app.data_dir.join("mail-outbox"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .any(|mail| mail.contains(text))
}

async fn comments_are_edited_and_deleted_from_the_item_page(backend: Backend) {
    let Team { app, item, comment, .. } = team(backend, "First *draft*.").await;
    let (ann, walt, mia) = (
        WebClient::sign_in(&app.address, "ann", USER_PASSWORD).await,
        WebClient::sign_in(&app.address, "walt", USER_PASSWORD).await,
        WebClient::sign_in(&app.address, "mia", USER_PASSWORD).await,
    );
    let item_page = format!("/items/{item}");
    let edit = format!("/comments/{comment}/edit");
    // The author sees Edit and Delete on the comment; another developer does not.
    assert!(ann.get(&item_page).await.body.contains(&format!(r#"href="{edit}""#)));
    assert!(!walt.get(&item_page).await.body.contains(&format!(r#"href="{edit}""#)));
    assert_eq!(walt.get(&edit).await.status, StatusCode::FORBIDDEN);

    let form = ann.get(&edit).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("First *draft*.</textarea>"), "{}", form.body);
    let refused = ann.submit(&edit, &[("body", "")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("must not be empty"), "{}", refused.body);
    let saved = ann.submit(&edit, &[("body", "Final text.")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), Some(format!("/items/{item}?done=comment-saved#comment-{comment}").as_str()));
    let shown = ann.get(&item_page).await.body;
    assert!(shown.contains("<p>Final text.</p>") && shown.contains(">edited</span>"), "{shown}");

    // The manager's page links the versions; the versions page shows both texts.
    let versions = format!("/comments/{comment}/versions");
    assert!(mia.get(&item_page).await.body.contains(&format!(r#"<a href="{versions}""#)));
    let listed = mia.get(&versions).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(listed.body.contains("<p>Final text.</p>") && listed.body.contains("<em>draft</em>"), "{}", listed.body);
    assert_eq!(ann.get(&versions).await.status, StatusCode::FORBIDDEN);

    // Delete asks first (without the page script), then leaves the marker.
    let delete = format!("/comments/{comment}/delete");
    let asked = ann.submit(&delete, &[]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Delete the comment of ann?"), "{}", asked.body);
    assert_eq!(app.count_rows("comments WHERE deleted_at IS NULL"), 1, "nothing deleted before the confirmation");
    let done = ann.submit(&delete, &[("confirm", "yes")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let shown = walt.get(&item_page).await.body;
    assert!(shown.contains("Comment deleted by ann") && !shown.contains("Final text"), "{shown}");
    assert_eq!(ann.get(&edit).await.status, StatusCode::CONFLICT);
}
