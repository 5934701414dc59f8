//! Signing in, security headers, error pages, CSRF on every form, escaping and sanitizing.

use reqwest::StatusCode;
use serde_json::json;

use super::{app_with_project, app_with_project_on};
use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

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
    // In the viewer's own frame: the navigation, the search box, their account.
    for frame in [r#"<a href="/items">Items</a>"#, r#"id="site-search""#, r#"<a href="/profile">admin</a>"#] {
        assert!(missing.body.contains(frame), "{frame}: {}", missing.body);
    }
    assert_security_headers(&missing);
    let bad_id = admin.get("/items/not-a-number").await;
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
    assert!(bad_id.header("content-type").starts_with("text/html"));
    let no_item = admin.get("/items/999999").await;
    assert_eq!(no_item.status, StatusCode::NOT_FOUND);
    assert!(no_item.body.contains("Not found") && no_item.body.contains(r#"<a href="/items">Items</a>"#));
    // A visitor without a session gets the bare frame (and no session lookup fails the page).
    let anonymous = reqwest::get(app.url("/no/such/page")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
    assert!(!anonymous.text().await.unwrap().contains(r#"<a href="/items">Items</a>"#));
    let wrong_method = admin.client.delete(app.url("/signin")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(wrong_method.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let stylesheet = admin.get("/static/baton.css").await;
    assert_eq!(stylesheet.status, StatusCode::OK);
    assert!(stylesheet.header("cache-control").contains("max-age"));
    let script = admin.get("/static/baton.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.header("content-type").starts_with("text/javascript"), "{}", script.header("content-type"));
    assert_eq!(script.header("x-content-type-options"), "nosniff");
    drop(app);
}

/// Every kind of state-changing form, with the fields it needs besides the token.
fn form_posts(item_id: i64) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        ("/signout".into(), vec![]),
        ("/items/new".into(), vec![("project", "WEB"), ("title", "forged")]),
        (format!("/items/{item_id}/edit"), vec![("version", "1"), ("title", "forged")]),
        (format!("/items/{item_id}/field"), vec![("field", "status"), ("seen", "New"), ("value", "2")]),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_forms_refuse_a_missing_csrf_token() {
    let (app, admin) = app_with_project().await;
    for (path, fields) in [
        ("/admin/cluster/master", vec![("node", "test-node")]),
        ("/admin/cluster/maintenance", vec![("node", "test-node"), ("on", "true")]),
        ("/admin/mail/1/reprocess", vec![]),
        ("/admin/mail/1/delete", vec![]),
        ("/admin/workflow/types", vec![("name", "Forged")]),
        ("/admin/workflow/statuses/1", vec![("name", "Forged")]),
        ("/admin/workflow/statuses/1", vec![("position", "2")]),
        ("/admin/workflow/priorities/1/delete", vec![]),
        ("/admin/workflow/transitions", vec![("status", "1"), ("status", "2")]),
    ] {
        let page = admin.post_form(path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("security token"), "{path}");
    }
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master");
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    assert_eq!(workflow["types"].as_array().unwrap().len(), 4);
    assert_eq!(workflow["statuses"][0]["name"], "New");
    assert_eq!(workflow["priorities"].as_array().unwrap().len(), 4);
    assert_eq!(workflow["transitions"].as_array().unwrap().len(), 10);
}

crate::on_both_backends!(forms_with_the_token_work_and_sign_out_ends_the_session);

async fn forms_with_the_token_work_and_sign_out_ends_the_session(backend: Backend) {
    let (app, admin) = app_with_project_on(backend).await;
    let created = admin.submit("/items/new", &[("project", "WEB"), ("title", "From the form")]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let item_path = created.location().unwrap().trim_end_matches("?done=created").to_string();
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
    // Someone else watching it is not the viewer watching it.
    let bystander = app.create_user("bystander").await;
    app.add_member("WEB", &bystander, "reporter").await;
    let watched = bystander.post(&format!("/api/v1{item_path}/watchers"), json!({})).await;
    assert_eq!(watched.status, StatusCode::NO_CONTENT, "{}", watched.body);
    assert!(admin.get(&item_path).await.body.contains(">Watch<"));
    // The item page by id reads its viewer with the item: an item that is not there is the
    // not-found page for a viewer, and the sign-in page (below) for no one.
    let missing = "/items/999999";
    assert_eq!(admin.get(missing).await.status, StatusCode::NOT_FOUND);

    assert_eq!(admin.submit("/signout", &[]).await.status, StatusCode::SEE_OTHER);
    // Pages that learn who looks in their own database task lead to sign-in and back alike.
    for path in ["/items", "/projects/WEB", "/search?q=comment", item_path.as_str(), missing] {
        let page = admin.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        let back = format!("/signin?next={}", crate::support::web::urlencoded(path));
        assert_eq!(page.location(), Some(back.as_str()), "{path}");
    }
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
        // The one script element is the page's own keyboard-shortcut file, in the head.
        let own_script = "<script src=\"/static/baton.js\" defer></script>";
        assert_eq!(page.body.matches(own_script).count(), 1, "{path}");
        assert!(page.body.find(own_script) < page.body.find("</head>"), "{path}");
        assert!(!page.body.replace(own_script, "").contains("<script"), "{path} has a script tag: {}", page.body);
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
