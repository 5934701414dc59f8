//! Markdown previews render a text not saved yet exactly as the page will render it saved:
//! the same sanitiser, and references as the viewer may follow them.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(a_preview_is_what_the_saved_text_will_look_like, the_forms_preview_without_saving);

const TEXT: &str = "See OPS-2 and HR-1, ask @dev.\n\n<script>alert(1)</script>**done** - [ ] later";

async fn a_preview_is_what_the_saved_text_will_look_like(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("HR", false).await;
    app.admin.create_item("HR", "Salary review").await;
    let printer = app.admin.create_item("OPS", "Printer").await;
    app.admin.create_item("OPS", "Toner").await;
    let dev = app.create_user("dev").await;
    app.add_member("OPS", &dev, "developer").await;

    let preview = dev.post("/api/v1/markdown", json!({"text": TEXT, "item": "OPS-1"})).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let html = preview.body["html"].as_str().unwrap().to_string();
    assert!(html.contains(r#"class="ref" title="OPS-2: Toner">OPS-2</a>"#), "{html}");
    assert!(html.contains("HR-1") && !html.contains("Salary"), "dev cannot read HR: {html}");
    assert!(html.contains(r#"class="mention" title="dev">@dev</a>"#), "{html}");
    assert!(!html.contains("<script"), "{html}");

    // Saved, the comment shows exactly that.
    let posted = dev.post(&format!("/api/v1/items/{}/comments", printer["id"]), json!({"body": TEXT})).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let browser = WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await;
    let page = browser.get("/items/OPS-1").await;
    assert!(page.body.contains(&html), "the page renders the saved text as previewed:\n{html}\n{}", page.body);

    // Without a place, mentions stay text; items are still links for their readers.
    let bare = dev.post("/api/v1/markdown", json!({"text": "OPS-2 @dev"})).await;
    let bare = bare.body["html"].as_str().unwrap();
    assert!(bare.contains(r#"class="ref""#) && !bare.contains("mention"), "{bare}");
    let in_project = dev.post("/api/v1/markdown", json!({"text": "@dev", "project": "OPS"})).await;
    assert!(in_project.body["html"].as_str().unwrap().contains("mention"), "{}", in_project.body);

    // Bad input: a place the caller cannot read, an unknown member, an oversized text.
    assert_eq!(dev.post("/api/v1/markdown", json!({"text": "x", "item": "HR-1"})).await.status, StatusCode::NOT_FOUND);
    let unknown = dev.post("/api/v1/markdown", json!({"text": "x", "html": true})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    let huge = dev.post("/api/v1/markdown", json!({"text": "x".repeat(1024 * 1024 + 1)})).await;
    assert_eq!((huge.status, huge.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("text")));
}

async fn the_forms_preview_without_saving(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "Printer").await;
    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = format!("/items/{}", item["id"]);
    let comments = app.count_rows("comments");
    let shown = browser.submit(&format!("{page}/comments"), &[("body", "**bold** text"), ("preview", "yes")]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains("Preview · not saved yet") && shown.body.contains("<strong>bold</strong>"));
    assert!(shown.body.contains("**bold** text</textarea>"), "the draft stays in the box");
    assert_eq!(app.count_rows("comments"), comments, "nothing saved");

    let version = item["version"].to_string();
    let fields = [("version", version.as_str()), ("title", "Printer"), ("description", "*new*"), ("preview", "yes")];
    let edited = browser.submit(&format!("{page}/edit"), &fields).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert!(
        edited.body.contains("<em>new</em>") && edited.body.contains("<details id=\"edit\" open>"),
        "{}",
        edited.body
    );
    assert_eq!(app.admin.get(&format!("/api/v1{page}")).await.body["description"], "", "nothing saved");

    let items = app.count_rows("items");
    let fields = [("project", "OPS"), ("title", "Fan"), ("description", "`code`"), ("preview", "yes")];
    let drafted = browser.submit("/items/new", &fields).await;
    assert_eq!(drafted.status, StatusCode::OK, "{}", drafted.body);
    assert!(drafted.body.contains("<code>code</code>"), "{}", drafted.body);
    assert_eq!(app.count_rows("items"), items, "nothing created");

    let posted = app.admin.post(&format!("/api/v1{page}/comments"), json!({"body": "first"})).await;
    let edit = format!("/comments/{}/edit", posted.body["id"]);
    let previewed = browser.submit(&edit, &[("body", "_second_"), ("preview", "yes")]).await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    assert!(previewed.body.contains("<em>second</em>"), "{}", previewed.body);
    assert_eq!(app.admin.get(&format!("/api/v1/comments/{}", posted.body["id"])).await.body["body"], "first");
}
