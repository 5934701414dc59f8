use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Api, Backend, Reply, TestApp};

on_both_backends!(
    an_uploaded_file_downloads_as_an_attachment_that_browsers_do_not_sniff,
    uploads_over_the_limit_are_refused_and_leave_nothing_behind,
    file_names_with_folders_are_refused,
    attachments_of_unreadable_items_are_not_found,
    identical_files_are_stored_once,
    an_attachment_may_belong_to_a_comment_of_the_same_item_only,
);

/// Uploads a file to an item, named by its id (a number) or its key.
pub(crate) async fn upload(
    api: &Api,
    item: impl std::fmt::Display,
    name: &str,
    content: Vec<u8>,
    comment_id: Option<i64>,
) -> Reply {
    let mut form =
        Form::new().part("file", Part::bytes(content).file_name(name.to_string()).mime_str("text/plain").unwrap());
    if let Some(comment_id) = comment_id {
        form = form.text("comment_id", comment_id.to_string());
    }
    api.send(api.client.post(format!("{}/api/v1/items/{item}/attachments", api.address)).multipart(form)).await
}

pub(crate) fn stored_files(app: &TestApp) -> usize {
    fn walk(path: &std::path::Path) -> usize {
        std::fs::read_dir(path)
            .map(|entries| {
                entries.flatten().map(|entry| if entry.path().is_dir() { walk(&entry.path()) } else { 1 }).sum()
            })
            .unwrap_or(0)
    }
    walk(&app.data_dir.join("attachments"))
}

async fn an_uploaded_file_downloads_as_an_attachment_that_browsers_do_not_sniff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The queue is counted below: no indexer may drain it meanwhile.
    app.without_master().await;
    app.create_project("ATT", false).await;
    let item = app.admin.create_item("ATT", "With file").await;
    let content = b"<html><script>alert(1)</script></html>".to_vec();
    let reply = upload(&app.admin, &item["id"], "Grüße report.html", content.clone(), None).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["file_name"], "Grüße report.html");
    assert_eq!(reply.body["size_bytes"], content.len());
    let download = app
        .admin
        .client
        .get(app.url(&format!("/api/v1/attachments/{}", reply.body["id"])))
        .bearer_auth(&app.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''Gr%C3%BC%C3%9Fe%20report.html"), "{disposition}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(download.bytes().await.unwrap().to_vec(), content);
    let listed = app.admin.get(&format!("/api/v1/items/{}/attachments", item["id"])).await;
    assert_eq!(listed.body["attachments"].as_array().unwrap().len(), 1);
    let history = app.admin.get(&format!("/api/v1/items/{}/history", item["id"])).await;
    assert_eq!(history.body["history"][0]["field"], "attachment");
    assert_eq!(app.count_rows("index_queue"), 2);
}

async fn uploads_over_the_limit_are_refused_and_leave_nothing_behind(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.limits.max_attachment_size = 1024).await;
    app.create_project("ATT", false).await;
    let item = app.admin.create_item("ATT", "Too big").await;
    let reply = upload(&app.admin, &item["id"], "big.bin", vec![7u8; 4096], None).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.body);
    assert_eq!(reply.error_code(), "too_large");
    assert_eq!(app.count_rows("attachments"), 0);
    assert_eq!(stored_files(&app), 0, "no staged or stored file remains");
    let fits = upload(&app.admin, &item["id"], "small.bin", vec![7u8; 1024], None).await;
    assert_eq!(fits.status, StatusCode::CREATED);
}

async fn file_names_with_folders_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("ATT", false).await;
    let item = app.admin.create_item("ATT", "Traversal").await;
    for name in ["../../etc/passwd", "..\\boot.ini", ".."] {
        let reply = upload(&app.admin, &item["id"], name, b"x".to_vec(), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], "file");
    }
    let no_file = app
        .admin
        .send(
            app.admin
                .client
                .post(app.url(&format!("/api/v1/items/{}/attachments", item["id"])))
                .multipart(Form::new().text("comment_id", "1")),
        )
        .await;
    assert_eq!(no_file.status, StatusCode::BAD_REQUEST);
    let not_multipart = app.admin.post(&format!("/api/v1/items/{}/attachments", item["id"]), json!({})).await;
    assert_eq!(not_multipart.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("attachments"), 0);
}

async fn attachments_of_unreadable_items_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("ATT", false).await;
    let item = app.admin.create_item("ATT", "Private").await;
    let reply = upload(&app.admin, &item["id"], "secret.txt", b"secret".to_vec(), None).await;
    let outsider = app.create_user("outsider").await;
    let download = outsider.get(&format!("/api/v1/attachments/{}", reply.body["id"])).await;
    assert_eq!(download.status, StatusCode::NOT_FOUND);
    let upload_attempt = upload(&outsider, &item["id"], "x.txt", b"x".to_vec(), None).await;
    assert_eq!(upload_attempt.status, StatusCode::NOT_FOUND);
    assert_eq!(outsider.get("/api/v1/attachments/999").await.status, StatusCode::NOT_FOUND);
}

async fn identical_files_are_stored_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("ATT", false).await;
    let item = app.admin.create_item("ATT", "Twice").await;
    let first = upload(&app.admin, &item["id"], "a.txt", b"same bytes".to_vec(), None).await;
    let second = upload(&app.admin, &item["id"], "b.txt", b"same bytes".to_vec(), None).await;
    assert_eq!(first.body["sha256"], second.body["sha256"]);
    assert_eq!(app.count_rows("attachments"), 2);
    assert_eq!(stored_files(&app), 1);
}

async fn an_attachment_may_belong_to_a_comment_of_the_same_item_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("ATT", false).await;
    let item = app.admin.create_item("ATT", "One").await;
    let other = app.admin.create_item("ATT", "Two").await;
    let comment = app.admin.post(&format!("/api/v1/items/{}/comments", other["id"]), json!({"body": "c"})).await;
    let comment_id = comment.body["id"].as_i64().unwrap();
    let wrong = upload(&app.admin, &item["id"], "a.txt", b"a".to_vec(), Some(comment_id)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body["error"]["field"], "comment_id");
    let right = upload(&app.admin, &other["id"], "a.txt", b"a".to_vec(), Some(comment_id)).await;
    assert_eq!(right.status, StatusCode::CREATED);
    assert_eq!(right.body["comment_id"], comment_id);
}
