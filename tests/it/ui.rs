//! The browser pages, driven without a browser: sign-in, security headers, CSRF on every
//! form, escaping, permissions, conflicts and validation messages. `ui::browser` drives
//! the same pages in headless Chromium.

mod browser;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

async fn app_with_project() -> (TestApp, WebClient) {
    app_with_project_on(Backend::Sqlite).await
}

async fn app_with_project_on(backend: Backend) -> (TestApp, WebClient) {
    let app = TestApp::spawn(backend).await;
    app.create_project("WEB", false).await;
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    (app, admin)
}

fn assert_security_headers(page: &crate::support::web::Page) {
    let policy = page.header("content-security-policy");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "same-origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_a_session_lead_to_sign_in_and_back() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebClient::new(&app.address);
    let page = web.get("/items?state=open").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/signin?next=%2Fitems%3Fstate%3Dopen"));

    let wrong = web.sign_in_with("admin", "not the password", "/items?state=open").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong login or password"), "{}", wrong.body);

    let signed_in = web.sign_in_with("admin", ADMIN_PASSWORD, "/items?state=open").await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), Some("/items?state=open"));
    assert_eq!(web.get("/items?state=open").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_never_returns_to_another_site() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for foreign in ["//evil.example/x", "https://evil.example/", "/\\evil.example"] {
        let web = WebClient::new(&app.address);
        let signed_in = web.sign_in_with("admin", ADMIN_PASSWORD, foreign).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
        assert_eq!(signed_in.location(), Some("/"), "return path {foreign}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_without_the_form_token_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebClient::new(&app.address);
    let page = web.post_form("/signin", &[("login", "admin"), ("password", ADMIN_PASSWORD), ("next", "/")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.headers.get("set-cookie").is_none_or(|cookie| !cookie.to_str().unwrap().contains("baton_session")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_unknown_pages_are_html_404() {
    let (app, admin) = app_with_project().await;
    let admin_index = admin.get("/admin").await;
    for link in admin_index.body.split("href=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]) {
        assert_eq!(admin.get(link).await.status, StatusCode::OK, "the admin page links to {link}");
    }
    for path in ["/", "/items", "/items/new", "/projects/WEB", "/signin"] {
        let page = admin.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        assert_security_headers(&page);
    }
    let missing = admin.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("content-type").starts_with("text/html"));
    assert!(missing.body.contains("<h1>Not found</h1>"), "{}", missing.body);
    assert_security_headers(&missing);
    let bad_id = admin.get("/items/not-a-number").await;
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
    assert!(bad_id.header("content-type").starts_with("text/html"));
    let no_item = admin.get("/items/999999").await;
    assert_eq!(no_item.status, StatusCode::NOT_FOUND);
    assert!(no_item.body.contains("Not found"));
    let wrong_method = admin.client.delete(app.url("/signin")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(wrong_method.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let stylesheet = admin.get("/static/baton.css").await;
    assert_eq!(stylesheet.status, StatusCode::OK);
    assert!(stylesheet.header("cache-control").contains("max-age"));
    drop(app);
}

/// Every kind of state-changing form, with the fields it needs besides the token.
fn form_posts(item_id: i64) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        ("/signout".into(), vec![]),
        ("/items/new".into(), vec![("project", "WEB"), ("title", "forged")]),
        (format!("/items/{item_id}/edit"), vec![("version", "1"), ("title", "forged")]),
        (format!("/items/{item_id}/status"), vec![("version", "1"), ("status_id", "2")]),
        (format!("/items/{item_id}/comments"), vec![("body", "forged")]),
        (format!("/items/{item_id}/watch"), vec![]),
        (format!("/items/{item_id}/unwatch"), vec![]),
        ("/profile".into(), vec![("name", "Forged"), ("email", "forged@example.com")]),
        ("/profile/password".into(), vec![("current_password", "x"), ("new_password", "y"), ("repeat_password", "y")]),
        ("/profile/tokens".into(), vec![("name", "forged")]),
        ("/profile/tokens/1/revoke".into(), vec![]),
        ("/projects".into(), vec![("key", "FORGED"), ("name", "Forged")]),
        ("/projects/WEB/settings".into(), vec![("name", "Forged")]),
        ("/projects/WEB/members".into(), vec![("login", "admin"), ("role", "viewer")]),
        ("/projects/WEB/members/remove".into(), vec![("user_id", "1")]),
        (
            "/admin/users".into(),
            vec![("login", "forged"), ("name", "F"), ("email", "f@example.com"), ("password", "long enough password")],
        ),
        ("/admin/users/1".into(), vec![("active", "false")]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_refuses_a_missing_or_wrong_csrf_token() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Target").await;
    let item_id = item["id"].as_i64().unwrap();
    let items_before = app.count_rows("items");
    for (path, fields) in form_posts(item_id) {
        let missing = admin.post_form(&path, &fields).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN, "{path} without token");
        assert!(missing.body.contains("security token"), "{path}: {}", missing.body);
        let mut wrong = vec![("csrf_token", "0123456789abcdef")];
        wrong.extend_from_slice(&fields);
        assert_eq!(admin.post_form(&path, &wrong).await.status, StatusCode::FORBIDDEN, "{path} wrong token");
    }
    for token in [None, Some("wrong")] {
        let fields: Vec<(&str, &str)> = token.map(|token| ("csrf_token", token)).into_iter().collect();
        let upload = admin.upload(&format!("/items/{item_id}/attachments"), &fields, "a.txt", b"x".to_vec()).await;
        assert_eq!(upload.status, StatusCode::FORBIDDEN, "upload with token {token:?}");
    }
    // A cross-site form post is refused even with the right token.
    let token = admin.csrf_token().await;
    let cross_site = admin
        .client
        .post(app.url(&format!("/items/{item_id}/comments")))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str()), ("body", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    assert_eq!(app.count_rows("items"), items_before);
    assert_eq!(app.count_rows("projects"), 1);
    assert_eq!(app.count_rows("users"), 1);
    assert_eq!(app.count_rows("memberships"), 0);
    assert_eq!(app.count_rows("comments"), 0);
    assert_eq!(app.count_rows("attachments"), 0);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{item_id}")).await.body["title"], "Target");
    // The session survived the forged sign-out.
    assert_eq!(admin.get("/items").await.status, StatusCode::OK);
}

crate::on_both_backends!(forms_with_the_token_work_and_sign_out_ends_the_session);

async fn forms_with_the_token_work_and_sign_out_ends_the_session(backend: Backend) {
    let (app, admin) = app_with_project_on(backend).await;
    let created = admin.submit("/items/new", &[("project", "WEB"), ("title", "From the form")]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let item_path = created.location().unwrap().to_string();
    let commented = admin.submit(&format!("{item_path}/comments"), &[("body", "A *comment*")]).await;
    assert_eq!(commented.status, StatusCode::SEE_OTHER, "{}", commented.body);
    let uploaded = admin
        .upload(
            &format!("{item_path}/attachments"),
            &[("csrf_token", &admin.csrf_token().await)],
            "notes.txt",
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::SEE_OTHER, "{}", uploaded.body);
    let page = admin.get(&item_path).await;
    assert!(page.body.contains("<em>comment</em>"), "{}", page.body);
    assert!(page.body.contains("notes.txt") && page.body.contains("5 bytes"), "{}", page.body);
    assert!(page.body.contains("Unwatch"), "the author watches the item");
    assert_eq!(admin.submit(&format!("{item_path}/unwatch"), &[]).await.status, StatusCode::SEE_OTHER);
    assert!(admin.get(&item_path).await.body.contains(">Watch<"));

    assert_eq!(admin.submit("/signout", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/items").await.status, StatusCode::SEE_OTHER);
    drop(app);
}

fn without_textarea_contents(html: &str) -> String {
    let mut kept = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<textarea") {
        kept.push_str(&rest[..start]);
        let end = rest[start..].find("</textarea>").map_or(rest.len(), |end| start + end);
        rest = &rest[end..];
    }
    kept.push_str(rest);
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_in_titles_and_comments_is_escaped_and_markdown_sanitized() {
    let (app, admin) = app_with_project().await;
    let item = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "WEB", "title": "<script>alert('title')</script>",
                   "description": "**bold** <script>alert('description')</script> <img src=x onerror=alert(1)> [x](javascript:alert(2))"}),
        )
        .await
        .body;
    let id = item["id"].as_i64().unwrap();
    let comment = app
        .admin
        .post(&format!("/api/v1/items/{id}/comments"), json!({"body": "_fine_ <script>alert('comment')</script>"}))
        .await;
    assert_eq!(comment.status, StatusCode::CREATED);
    for path in [format!("/items/{id}"), "/items".to_string(), "/".to_string(), "/projects/WEB".to_string()] {
        let page = admin.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<script"), "{path} has a script tag: {}", page.body);
        // The edit form shows the Markdown source, escaped; the rendered HTML must be clean.
        let rendered = without_textarea_contents(&page.body);
        assert!(!rendered.contains("onerror"), "{path}");
        assert!(!rendered.contains("javascript:"), "{path}");
        assert!(page.body.contains("&#60;script&#62;alert(&#39;title&#39;)&#60;/script&#62;"), "{path}: {}", page.body);
    }
    let page = admin.get(&format!("/items/{id}")).await;
    assert!(page.body.contains("<strong>bold</strong>"));
    assert!(page.body.contains("<em>fine</em>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_no_edit_controls_and_non_members_get_404() {
    let (app, _admin) = app_with_project().await;
    let viewer_api = app.create_user("vera").await;
    app.add_member("WEB", &viewer_api, "viewer").await;
    app.create_user("olga").await;
    let item = app.admin.create_item("WEB", "Private work").await;
    let id = item["id"].as_i64().unwrap();

    let viewer = WebClient::sign_in(&app.address, "vera", USER_PASSWORD).await;
    let page = viewer.get(&format!("/items/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Private work"));
    for control in [
        format!("action=\"/items/{id}/edit\""),
        format!("action=\"/items/{id}/status\""),
        format!("action=\"/items/{id}/comments\""),
        format!("action=\"/items/{id}/attachments\""),
    ] {
        assert!(!page.body.contains(&control), "a viewer sees {control}");
    }
    assert!(page.body.contains("Watch"), "viewers may watch");
    let forged =
        viewer.submit(&format!("/items/{id}/edit"), &[("version", "1"), ("title", "Changed by a viewer")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.header("content-type").starts_with("text/html"));
    let comment = viewer.submit(&format!("/items/{id}/comments"), &[("body", "hi")]).await;
    assert_eq!(comment.status, StatusCode::FORBIDDEN);

    let outsider = WebClient::sign_in(&app.address, "olga", USER_PASSWORD).await;
    for path in [format!("/items/{id}"), "/projects/WEB".to_string(), "/items?project=WEB".to_string()] {
        let page = outsider.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("Private work"));
    }
    assert!(!outsider.get("/items").await.body.contains("Private work"));
    let edit = outsider.submit(&format!("/items/{id}/edit"), &[("version", "1"), ("title", "x")]).await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_edit_shows_a_conflict_and_keeps_the_users_text() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Original title").await;
    let id = item["id"].as_i64().unwrap();
    let page = admin.get(&format!("/items/{id}")).await;
    let version = page.hidden_field("version").unwrap();
    let changed =
        app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "title": "Someone else's title"})).await;
    assert_eq!(changed.status, StatusCode::OK);

    let stale = admin
        .submit(&format!("/items/{id}/edit"), &[("version", &version), ("title", "My title"), ("description", "")])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("changed by someone else"), "{}", stale.body);
    assert!(stale.body.contains("Your changes were not saved"));
    assert!(stale.body.contains("value=\"My title\""), "the user's edit is kept");
    assert!(stale.body.contains("Someone else&#39;s title"));
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["title"], "Someone else's title");

    let saved = admin
        .submit(&format!("/items/{id}/edit"), &[("version", "2"), ("title", "My title"), ("description", "")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["title"], "My title");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_buttons_follow_the_workflow() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Flow").await;
    let id = item["id"].as_i64().unwrap();
    let allowed = app.admin.get(&format!("/api/v1/items/{id}/transitions")).await.body["statuses"].clone();
    let page = admin.get(&format!("/items/{id}")).await;
    let buttons = page.body.matches("class=\"status-move\"").count();
    assert_eq!(buttons, allowed.as_array().unwrap().len());
    let target = allowed[0]["id"].as_i64().unwrap().to_string();
    let moved = admin.submit(&format!("/items/{id}/status"), &[("version", "1"), ("status_id", &target)]).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let after = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(after["status"]["id"].as_i64().unwrap().to_string(), target);
    let allowed_now = app.admin.get(&format!("/api/v1/items/{id}/transitions")).await.body["statuses"].clone();
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    let forbidden_move = workflow["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status["id"].as_i64().unwrap())
        .find(|id| id.to_string() != target && !allowed_now.as_array().unwrap().iter().any(|s| s["id"] == *id))
        .expect("a status the workflow does not allow next")
        .to_string();
    let not_allowed =
        admin.submit(&format!("/items/{id}/status"), &[("version", "2"), ("status_id", &forbidden_move)]).await;
    assert_eq!(not_allowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(not_allowed.body.contains("the workflow does not allow"), "{}", not_allowed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_new_items_show_messages_next_to_the_fields() {
    let (_app, admin) = app_with_project().await;
    let empty_title = admin.submit("/items/new", &[("project", "WEB"), ("title", "  "), ("description", "kept")]).await;
    assert_eq!(empty_title.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty_title.body.contains("id=\"title-error\" class=\"field-error\">must not be empty"),
        "{}",
        empty_title.body
    );
    assert!(empty_title.body.contains(">kept</textarea>"), "the description is kept");
    let bad_date = admin.submit("/items/new", &[("project", "WEB"), ("title", "x"), ("due_date", "tomorrow")]).await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_date.body.contains("id=\"due-error\""));
    let no_project = admin.submit("/items/new", &[("project", "NOPE"), ("title", "x")]).await;
    assert_eq!(no_project.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_project.body.contains("id=\"project-error\""));
    let garbage = admin.submit("/items/new", &[("project", "WEB"), ("title", "x"), ("type_id", "abc")]).await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
}

// The list's queries (title filter with LIKE escapes, sorting, counting) differ per backend.
crate::on_both_backends!(the_item_list_filters_sorts_and_pages_through_the_url);

async fn the_item_list_filters_sorts_and_pages_through_the_url(backend: Backend) {
    let (app, admin) = app_with_project_on(backend).await;
    for number in 0..30 {
        app.admin.create_item("WEB", &format!("Widget {number:02}")).await;
    }
    app.admin.create_item("WEB", "Gadget 100% done").await;
    let first = admin.get("/items?project=WEB&sort=title").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("31 items"));
    assert!(first.body.contains("Page 1 of 2"));
    assert!(first.body.contains("href=\"/items?project=WEB&#38;sort=title&#38;page=2\""), "{}", first.body);
    assert!(first.body.contains("href=\"/items?project=WEB&#38;sort=-title\""), "the sorted column reverses");
    assert!(first.body.find("Gadget").unwrap() < first.body.find("Widget 00").unwrap());
    let second = admin.get("/items?project=WEB&sort=title&page=2").await;
    assert!(second.body.contains("Widget 29") && !second.body.contains("Widget 00"));
    let text = admin.get("/items?text=100%25").await;
    assert!(text.body.contains("1 item.") && text.body.contains("Gadget"), "{}", text.body);
    let wildcard = admin.get("/items?text=_").await;
    assert!(wildcard.body.contains("0 items"), "an underscore is literal");
    let mine = admin.get("/items?assignee=me&state=open").await;
    assert!(mine.body.contains("0 items"));
    let bad = admin.get("/items?page=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.header("content-type").starts_with("text/html"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_are_forbidden_to_other_users() {
    let (app, _admin) = app_with_project().await;
    app.create_user("ursula").await;
    let user = WebClient::sign_in(&app.address, "ursula", USER_PASSWORD).await;
    for path in ["/admin", "/admin/cluster", "/admin/mail"] {
        let page = user.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        assert!(page.body.contains("Not allowed"), "{path}");
    }
    let handover = user.submit("/admin/cluster/master", &[("node", "test-node")]).await;
    assert_eq!(handover.status, StatusCode::FORBIDDEN);
    let maintenance = user.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "true")]).await;
    assert_eq!(maintenance.status, StatusCode::FORBIDDEN);
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master");
    assert!(!user.get("/").await.body.contains("href=\"/admin\""), "no admin link for users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_forms_refuse_a_missing_csrf_token() {
    let (app, admin) = app_with_project().await;
    for (path, fields) in [
        ("/admin/cluster/master", vec![("node", "test-node")]),
        ("/admin/cluster/maintenance", vec![("node", "test-node"), ("on", "true")]),
        ("/admin/mail/1/reprocess", vec![]),
        ("/admin/mail/1/delete", vec![]),
    ] {
        let page = admin.post_form(path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("security token"), "{path}");
    }
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_page_shows_nodes_and_lag_and_switches_maintenance() {
    let (_app, admin) = app_with_project().await;
    let page = admin.get("/admin/cluster").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<meta http-equiv=\"refresh\" content=\"5; url=/admin/cluster\">"));
    assert!(page.body.contains("<strong id=\"master\">test-node</strong>"), "{}", page.body);
    assert!(page.body.contains("<td class=\"role\">master</td>"));
    assert!(page.body.contains("id=\"index-lag\"") && page.body.contains("id=\"mail-lag\""));
    assert!(!page.body.contains("id=\"no-master\""));

    let on = admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "true")]).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert!(on.body.contains("Maintenance is on for node test-node."));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = admin.get("/admin/cluster").await;
        if page.body.contains("<td class=\"role\">maintenance</td>") && page.body.contains("Maintenance off") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the node never showed maintenance: {}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let off = admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "false")]).await;
    assert!(off.body.contains("Maintenance is off for node test-node."));
    let unknown = admin.submit("/admin/cluster/master", &[("node", "no-such-node")]).await;
    assert!(unknown.status.is_client_error() || unknown.status.is_server_error(), "{}", unknown.status);
    assert!(unknown.body.contains("class=\"alert error\""), "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_page_lists_refused_mail_and_reprocesses_or_dismisses_it() {
    let (app, admin) = app_with_project().await;
    let page = admin.get("/admin/mail").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No refused mail."));
    {
        use baton::db::schema::mail_failures;
        use diesel::prelude::*;
        let mut connection = app.database().get().unwrap();
        diesel::insert_into(mail_failures::table)
            .values((
                mail_failures::message_key.eq("<huge@example.com>"),
                mail_failures::mailbox.eq("support"),
                mail_failures::sender.eq("<script>@example.com"),
                mail_failures::subject.eq("Too big"),
                mail_failures::reason.eq("larger than max_message_size"),
                mail_failures::raw_size.eq(30_000_000_i64),
            ))
            .execute(&mut *connection)
            .unwrap();
    }
    let listed = admin.get("/admin/mail").await;
    assert!(listed.body.contains("larger than max_message_size") && listed.body.contains("28.6 MiB"));
    assert!(listed.body.contains("&#60;script&#62;@example.com"), "escaped sender");
    let reprocessed = admin.submit("/admin/mail/1/reprocess", &[]).await;
    assert_eq!(reprocessed.status, StatusCode::CONFLICT);
    assert!(reprocessed.body.contains("was never fetched"), "{}", reprocessed.body);
    let dismissed = admin.submit("/admin/mail/1/delete", &[]).await;
    assert_eq!(dismissed.status, StatusCode::OK);
    assert!(dismissed.body.contains("Mail 1 was dismissed.") && dismissed.body.contains("No refused mail."));
    let missing = admin.submit("/admin/mail/42/delete", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("mail failure 42 not found"), "{}", missing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_shows_assigned_watched_and_recent_items() {
    let (app, _admin) = app_with_project().await;
    let worker = app.create_user("wendy").await;
    app.add_member("WEB", &worker, "developer").await;
    let assigned = app
        .admin
        .post("/api/v1/items", json!({"project": "WEB", "title": "Assigned to Wendy", "assignee_id": worker.user_id}))
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED);
    let watched = app.admin.create_item("WEB", "Watched by Wendy").await;
    worker.post(&format!("/api/v1/items/{}/watchers", watched["id"]), json!({})).await;
    app.admin.create_item("WEB", "Just recent").await;
    let wendy = WebClient::sign_in(&app.address, "wendy", USER_PASSWORD).await;
    let home = wendy.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    let sections: Vec<&str> = home.body.split("<h2>").collect();
    assert!(sections[1].starts_with("Assigned to me") && sections[1].contains("Assigned to Wendy"));
    assert!(!sections[1].contains("Watched by Wendy"));
    assert!(sections[2].starts_with("Items I watch") && sections[2].contains("Watched by Wendy"));
    assert!(sections[2].contains("Assigned to Wendy"), "assignees watch their items");
    assert!(sections[3].contains("Just recent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_results_highlight_matches_and_respect_permissions() {
    let (app, admin) = app_with_project().await;
    app.create_project("OPEN", true).await;
    let item = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "WEB", "title": "Flamingo migration", "description": "The pink flamingo <b>stands</b>."}),
        )
        .await
        .body;
    let id = item["id"].as_i64().unwrap();
    app.create_user("sam").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let page = loop {
        let page = admin.get("/search?q=flamingo").await;
        assert_eq!(page.status, StatusCode::OK);
        if page.body.contains("1 result.") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "never found: {}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(page.body.contains(&format!("href=\"/items/{id}\"")));
    assert!(page.body.contains("<b>Flamingo</b> migration"), "{}", page.body);
    assert!(page.body.contains("&lt;b&gt;stands"), "item text in snippets stays escaped: {}", page.body);
    assert!(page.body.contains("value=\"flamingo\""), "the search box keeps the query");
    let filtered = admin.get("/search?q=flamingo&project=OPEN").await;
    assert!(filtered.body.contains("0 results."), "{}", filtered.body);
    let by_number = admin.get(&format!("/search?q=%23{id}")).await;
    assert_eq!(by_number.status, StatusCode::SEE_OTHER);
    assert_eq!(by_number.location(), Some(format!("/items/{id}").as_str()));

    let outsider = WebClient::sign_in(&app.address, "sam", USER_PASSWORD).await;
    let hidden = outsider.get("/search?q=flamingo").await;
    assert!(hidden.body.contains("0 results."), "{}", hidden.body);
    assert_eq!(outsider.get(&format!("/search?q=%23{id}")).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_page_changes_the_account_and_manages_tokens() {
    let (app, _admin) = app_with_project().await;
    app.create_user("pat").await;
    let pat = WebClient::sign_in(&app.address, "pat", USER_PASSWORD).await;
    let saved = pat.submit("/profile", &[("name", "Pat Smith"), ("email", "pat@example.org")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let profile = pat.get("/profile").await;
    assert!(profile.body.contains("value=\"Pat Smith\"") && profile.body.contains("value=\"pat@example.org\""));
    assert!(!profile.body.contains("name=\"email_notifications\" checked"), "unticked means opted out");
    let bad_email = pat.submit("/profile", &[("name", "Pat"), ("email", "not an address")]).await;
    assert_eq!(bad_email.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_email.body.contains("class=\"field-error\""));

    let created = pat.submit("/profile/tokens", &[("name", "laptop")]).await;
    assert_eq!(created.status, StatusCode::OK);
    let start = created.body.find("<code id=\"new-token\">").unwrap() + "<code id=\"new-token\">".len();
    let token = &created.body[start..start + created.body[start..].find('<').unwrap()];
    let me = reqwest::Client::new().get(app.url("/api/v1/users/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(!pat.get("/profile").await.body.contains(token), "the secret is shown once");
    let listed = app.count_rows("api_tokens");
    let token_id = {
        let page = pat.get("/profile").await;
        let marker = "action=\"/profile/tokens/";
        let at = page.body.rfind(marker).unwrap() + marker.len();
        page.body[at..at + page.body[at..].find('/').unwrap()].to_string()
    };
    assert_eq!(pat.submit(&format!("/profile/tokens/{token_id}/revoke"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("api_tokens"), listed - 1);
    let revoked = reqwest::Client::new().get(app.url("/api/v1/users/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);

    let wrong = pat
        .submit(
            "/profile/password",
            &[
                ("current_password", "wrong"),
                ("new_password", "a new long password"),
                ("repeat_password", "a new long password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("is wrong"));
    let mismatch = pat
        .submit(
            "/profile/password",
            &[
                ("current_password", USER_PASSWORD),
                ("new_password", "a new long password"),
                ("repeat_password", "another"),
            ],
        )
        .await;
    assert!(mismatch.body.contains("does not match"));
    let changed = pat
        .submit(
            "/profile/password",
            &[
                ("current_password", USER_PASSWORD),
                ("new_password", "a new long password"),
                ("repeat_password", "a new long password"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    assert_eq!(pat.get("/profile").await.status, StatusCode::SEE_OTHER, "signed out everywhere");
    WebClient::sign_in(&app.address, "pat", "a new long password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_users_from_the_users_page() {
    let (app, admin) = app_with_project().await;
    let created = admin
        .submit(
            "/admin/users",
            &[("login", "nina"), ("name", "Nina"), ("email", "nina@example.com"), ("password", "a long password")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("User nina created."));
    let invalid = admin
        .submit(
            "/admin/users",
            &[("login", "x y"), ("name", "N"), ("email", "n@example.com"), ("password", "a long password")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("class=\"field-error\""));
    let users = app.admin.get("/api/v1/users").await.body;
    let nina = users["users"].as_array().unwrap().iter().find(|user| user["login"] == "nina").unwrap()["id"].clone();
    let deactivated = admin.submit(&format!("/admin/users/{nina}"), &[("active", "false")]).await;
    assert!(deactivated.body.contains("User nina updated."));
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["active"], false);
    let reset = admin.submit(&format!("/admin/users/{nina}"), &[("active", "true")]).await;
    assert_eq!(reset.status, StatusCode::OK);
    admin.submit(&format!("/admin/users/{nina}"), &[("password", "reset by the admin")]).await;
    WebClient::sign_in(&app.address, "nina", "reset by the admin").await;
    let last_admin = admin.submit(&format!("/admin/users/{}", app.admin.user_id), &[("is_admin", "false")]).await;
    assert_eq!(last_admin.status, StatusCode::CONFLICT);
    assert!(last_admin.body.contains("last active administrator"), "{}", last_admin.body);
    let workflow = admin.get("/admin/workflow").await;
    assert_eq!(workflow.status, StatusCode::OK);
    assert!(workflow.body.contains("aria-label=\"allowed\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_and_members_are_managed_from_pages_by_those_allowed() {
    let (app, admin) = app_with_project().await;
    let created = admin.submit("/projects", &[("key", "ops"), ("name", "Operations"), ("is_public", "on")]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location(), Some("/projects/OPS"));
    let duplicate = admin.submit("/projects", &[("key", "OPS"), ("name", "Again")]).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let member_api = app.create_user("mike").await;
    let added = admin.submit("/projects/WEB/members", &[("login", "mike"), ("role", "reporter")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let nobody = admin.submit("/projects/WEB/members", &[("login", "nobody"), ("role", "viewer")]).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nobody.body.contains("there is no user"));
    let members = app.admin.get("/api/v1/projects/WEB/members").await.body;
    assert_eq!(members["members"][0]["role"], "reporter", "{members}");

    let mike = WebClient::sign_in(&app.address, "mike", USER_PASSWORD).await;
    assert_eq!(mike.get("/projects/WEB/settings").await.status, StatusCode::FORBIDDEN);
    assert_eq!(mike.submit("/projects/WEB/settings", &[("name", "Mine")]).await.status, StatusCode::FORBIDDEN);
    assert!(!mike.get("/projects").await.body.contains("New project"), "only admins create projects");
    app.add_member("WEB", &member_api, "manager").await;
    assert_eq!(mike.get("/projects/WEB/settings").await.status, StatusCode::OK);
    let renamed = mike.submit("/projects/WEB/settings", &[("name", "Website"), ("description", "")]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    assert_eq!(app.admin.get("/api/v1/projects/WEB").await.body["name"], "Website");
    let removed = admin.submit("/projects/WEB/members/remove", &[("user_id", &member_api.user_id.to_string())]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(mike.get("/projects/WEB/settings").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_show_their_problems_next_to_the_file_field() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| settings.limits.max_attachment_size = 64).await;
    app.create_project("WEB", false).await;
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let item = app.admin.create_item("WEB", "Files").await;
    let path = format!("/items/{}/attachments", item["id"]);
    let token = admin.csrf_token().await;
    let too_large = admin.upload(&path, &[("csrf_token", &token)], "big.bin", vec![7; 1000]).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(too_large.body.contains("larger than the attachment limit"), "{}", too_large.body);
    let no_name = admin.upload(&path, &[("csrf_token", &token)], "", b"x".to_vec()).await;
    assert_eq!(no_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_name.body.contains("choose a file to upload"), "{}", no_name.body);
    assert_eq!(app.count_rows("attachments"), 0);
}
