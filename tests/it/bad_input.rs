use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, Reply, TestApp};

on_both_backends!(
    malformed_bodies_get_a_precise_client_error_and_store_nothing,
    oversized_fields_are_refused,
    unknown_ids_are_not_found,
    paths_and_queries_that_do_not_parse_are_client_errors,
    nul_in_any_part_of_an_api_request_is_refused_naming_the_field,
    nul_in_credentials_and_uploads_is_refused_without_a_server_error,
    nul_in_pages_and_forms_is_refused_naming_the_field,
    over_long_and_malformed_values_are_client_errors,
);

async fn malformed_bodies_get_a_precise_client_error_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let url = app.url("/api/v1/items");
    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.admin.send(app.admin.client.post(&url).header("Content-Type", content_type).body(body))
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode)> = vec![
        (b"{\"project\": \"BAD\", \"title\": ".to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (b"not json at all".to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (b"{\"project\": \"BAD\", \"title\": \"\xff\xfe\"}".to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (br#"{"project": "BAD", "title": ["list"]}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (br#"{"project": "BAD"}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (br#"{"project": "BAD", "title": "x", "colour": "red"}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
        (
            br#"{"project": "BAD", "title": "x", "due_date": "31.12.2026"}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (br#"{"project": "BAD", "title": "x"}"#.to_vec(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (br#"{"project": "BAD", "title": "line\nbreak"}"#.to_vec(), "application/json", StatusCode::BAD_REQUEST),
    ];
    for (body, content_type, expected) in cases {
        let shown = String::from_utf8_lossy(&body).to_string();
        let reply = raw(body, content_type).await;
        assert_eq!(reply.status, expected, "{shown}: {}", reply.body);
        assert!(reply.body["error"]["code"].is_string(), "{shown}: {}", reply.body);
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.count_rows("items"), 0);
    assert_eq!(app.count_rows("index_queue"), 0);
}

async fn oversized_fields_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let long_title = "x".repeat(256);
    let reply = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": long_title})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "title");
    let exact = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "ü".repeat(255)})).await;
    assert_eq!(exact.status, StatusCode::CREATED, "255 characters are fine, whatever their bytes");
    let big = "y".repeat(1024 * 1024 + 1);
    let reply = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "big", "description": big})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "description");
    let huge = "z".repeat(5 * 1024 * 1024);
    let reply = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "huge", "description": huge})).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let comment = app
        .admin
        .post(&format!("/api/v1/items/{}/comments", exact.body["id"]), json!({"body": "c".repeat(1024 * 1024 + 1)}))
        .await;
    assert_eq!(comment.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("items"), 1);
    assert_eq!(app.count_rows("comments"), 0);
}

async fn unknown_ids_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    assert_eq!(app.admin.get("/api/v1/items/424242").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.admin.patch("/api/v1/items/424242", json!({"version": 1})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.admin.get("/api/v1/projects/NOPE").await.status, StatusCode::NOT_FOUND);
    let item = app.admin.post("/api/v1/items", json!({"project": "NOPE", "title": "x"})).await;
    assert_eq!(item.status, StatusCode::NOT_FOUND);
    assert_eq!(item.error_code(), "not_found");
    let comment = app.admin.post("/api/v1/items/424242/comments", json!({"body": "x"})).await;
    assert_eq!(comment.status, StatusCode::NOT_FOUND);
    assert_eq!(app.admin.get("/api/v1/users/424242").await.status, StatusCode::NOT_FOUND);
    let member = app.admin.put("/api/v1/projects/BAD/members/424242", json!({"role": "viewer"})).await;
    assert_eq!(member.status, StatusCode::BAD_REQUEST);
    let bad_type = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "x", "type_id": 77})).await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_type.body["error"]["field"], "type_id");
    assert_eq!(app.admin.get("/api/v1/no/such/thing").await.status, StatusCode::NOT_FOUND);
    let wrong_method = app.admin.put("/api/v1/items", json!({})).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    assert_eq!(app.count_rows("items"), 0);
}

async fn paths_and_queries_that_do_not_parse_are_client_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reply = app.admin.get("/api/v1/items/abc").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid");
    let reply = app.admin.get("/api/v1/items/99999999999999999999999").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.admin.get("/api/v1/items?limit=ten").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

/// Sends a raw body (JSON text with escapes serde_json would not write) as the admin.
async fn send_raw(api: &Api, method: reqwest::Method, path: &str, body: &str) -> Reply {
    let request = api
        .client
        .request(method, format!("{}{path}", api.address))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    api.send(request).await
}

fn assert_refused_naming(reply: &Reply, field: &str, shown: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{shown}: {}", reply.body);
    assert_eq!(reply.error_code(), "invalid", "{shown}: {}", reply.body);
    assert_eq!(reply.body["error"]["field"], field, "{shown}: {}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("NUL"), "{shown}: {message}");
}

/// PostgreSQL refuses NUL in text, lookups included; SQLite would store it. Either way the
/// answer is a 400 naming the field, and nothing is written.
async fn nul_in_any_part_of_an_api_request_is_refused_naming_the_field(backend: Backend) {
    use reqwest::Method;
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let item = app.admin.create_item("BAD", "Target").await;
    let item_id = item["id"].as_i64().unwrap();
    let workflow_before = app.admin.get("/api/v1/workflow").await.body;
    let bodies: Vec<(Method, String, &str, &str)> = vec![
        (Method::POST, "/api/v1/items".into(), r#"{"project": "BAD", "title": "a\u0000b"}"#, "title"),
        (Method::POST, "/api/v1/items".into(), r#"{"project": "B\u0000AD", "title": "x"}"#, "project"),
        (
            Method::PATCH,
            format!("/api/v1/items/{item_id}"),
            r#"{"version": 1, "description": "\u0000"}"#,
            "description",
        ),
        (Method::POST, format!("/api/v1/items/{item_id}/comments"), r#"{"body": "x\u0000"}"#, "body"),
        (Method::POST, format!("/api/v1/items/{item_id}/watchers"), r#"{"user_id": "\u0000"}"#, "user_id"),
        (Method::PATCH, "/api/v1/users/me".into(), r#"{"name": "\u0000"}"#, "name"),
        (
            Method::POST,
            "/api/v1/projects".into(),
            r#"{"key": "NEW", "name": "n", "description": "\u0000"}"#,
            "description",
        ),
        (Method::PUT, "/api/v1/projects/BAD/members/1".into(), r#"{"role": "viewer\u0000"}"#, "role"),
        (Method::POST, "/api/v1/tokens".into(), r#"{"name": "\u0000"}"#, "name"),
        (Method::POST, "/api/v1/cluster/master".into(), r#"{"node": "test\u0000node"}"#, "node"),
        (Method::POST, "/api/v1/workflow/statuses".into(), r#"{"name": "Waiting\u0000"}"#, "name"),
        (Method::PUT, "/api/v1/workflow/statuses/1/transitions".into(), r#"{"to": [2, "\u0000"]}"#, "to[1]"),
        (Method::POST, "/api/v1/items".into(), r#"{"project": "BAD", "ti\u0000tle": "x"}"#, "body"),
    ];
    for (method, path, body, field) in bodies {
        let reply = send_raw(&app.admin, method.clone(), &path, body).await;
        assert_refused_naming(&reply, field, &format!("{method} {path} {body}"));
    }
    // Path segments and query parameters: the route's name for the segment, the parameter.
    for (path, field) in [
        ("/api/v1/projects/B%00AD", "project"),
        ("/api/v1/projects/%00/members", "project"),
        ("/api/v1/items/1%00", "id"),
        ("/api/v1/jobs/pr%00une/runs", "name"),
        ("/api/v1/items?project=B%00AD", "project"),
        ("/api/v1/items?assignee=%00", "assignee"),
        ("/api/v1/search?q=project:%00", "q"),
        ("/api/v1/search?q=assignee:x%00", "q"),
        ("/api/v1/no/such%00thing", "path"),
    ] {
        assert_refused_naming(&app.admin.get(path).await, field, path);
    }
    let maintenance = app.admin.post("/api/v1/cluster/nodes/test%00node/maintenance", json!({"on": true})).await;
    assert_refused_naming(&maintenance, "id", "maintenance of a node name with NUL");
    // Without signing in.
    let client = reqwest::Client::new();
    for (body, field) in [
        (r#"{"login": "ad\u0000min", "password": "whatever"}"#, "login"),
        (r#"{"login": "admin", "password": "\u0000"}"#, "password"),
    ] {
        let response = client
            .post(app.url("/api/v1/session"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let reply = Reply { status, body: response.json().await.unwrap() };
        assert_refused_naming(&reply, field, body);
    }
    assert_eq!(app.count_rows("items"), 1);
    assert_eq!(app.count_rows("comments"), 0);
    assert_eq!(app.count_rows("projects"), 1);
    assert_eq!(app.count_rows("memberships"), 0);
    assert_eq!(app.count_rows("login_failures"), 0);
    assert_eq!(app.admin.get("/api/v1/workflow").await.body, workflow_before);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{item_id}")).await.body["version"], 1);
}

/// A cookie or token is only ever hashed, so hostile text there is simply not a session;
/// an upload's parts are parsed by hand and refused like any other field.
async fn nul_in_credentials_and_uploads_is_refused_without_a_server_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let item = app.admin.create_item("BAD", "Target").await;
    let client = reqwest::Client::new();
    let me = app.url("/api/v1/users/me");
    for cookie in ["baton_session=%00", "baton_session=\"\\u0000\"", "baton_session=%FF%FE; baton_session=%00"] {
        let response = client.get(&me).header("Cookie", cookie).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{cookie}");
    }
    let obs_text = reqwest::header::HeaderValue::from_bytes(b"Bearer baton_\xff\xfe\x80").unwrap();
    for authorization in [reqwest::header::HeaderValue::from_static("Bearer baton_%00"), obs_text] {
        let response = client.get(&me).header("Authorization", authorization.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorization:?}");
    }
    // A signed-in cookie with a CSRF header that is no token.
    let web = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let forged = web
        .client
        .post(app.url("/api/v1/projects"))
        .header("X-CSRF-Token", "%00")
        .json(&json!({"key": "NUL", "name": "n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let upload = |parts: Vec<u8>| {
        let request = app
            .admin
            .client
            .post(app.url(&format!("/api/v1/items/{}/attachments", item["id"])))
            .header("Content-Type", "multipart/form-data; boundary=b0undary")
            .body(parts);
        app.admin.send(request)
    };
    let part = |headers: &[u8], content: &[u8]| {
        [b"--b0undary\r\n".as_slice(), headers, b"\r\n\r\n", content, b"\r\n"].concat()
    };
    let file = part(b"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"", b"hello");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        ([part(b"Content-Disposition: form-data; name=\"comment_id\"", b"1\0"), file.clone()].concat(), "comment_id"),
        ([part(b"Content-Disposition: form-data; name=\"file\"; filename=\"a\0b.txt\"", b"x")].concat(), "file"),
        ([part(b"Content-Disposition: form-data; name=\"file\"; filename=\"a\x01b.txt\"", b"x")].concat(), "file"),
        ([part(b"Content-Disposition: form-data; name=\"file\"; filename=\"\xff\xfe.txt\"", b"x")].concat(), "file"),
        ([part(b"Content-Disposition: form-data; name=\"fi\0le\"; filename=\"a.txt\"", b"x")].concat(), "file"),
    ];
    for (mut body, field) in cases {
        body.extend_from_slice(b"--b0undary--\r\n");
        let shown = String::from_utf8_lossy(&body).to_string();
        let reply = upload(body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{shown}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], field, "{shown}: {}", reply.body);
    }
    assert_eq!(app.count_rows("attachments"), 0);
    assert_eq!(app.count_rows("projects"), 1);
    assert_eq!(app.count_rows("login_failures"), 0);
}

/// Pages answer an HTML 400 naming the field, for path segments, query strings and forms,
/// the sign-in form (no session yet) included.
async fn nul_in_pages_and_forms_is_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let item = app.admin.create_item("BAD", "Target").await;
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let assert_page_refused = |page: &crate::support::web::Page, field: &str, shown: &str| {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{shown}: {}", page.body);
        assert!(page.header("content-type").starts_with("text/html"), "{shown}");
        assert!(page.body.contains(&format!("{field}: must not contain NUL")), "{shown}: {}", page.body);
    };
    for (path, field) in [
        ("/projects/B%00AD", "key"),
        ("/projects/BAD%00/settings", "key"),
        ("/items/1%00", "id"),
        ("/items?text=%00", "text"),
        ("/projects/BAD?text=title%00", "text"),
        ("/items?project=B%00AD", "project"),
        ("/search?q=project:%00", "q"),
        ("/admin/workflow?x=%00", "x"),
    ] {
        assert_page_refused(&admin.get(path).await, field, path);
    }
    let item_path = format!("/items/{}", item["id"]);
    for (path, fields, field) in [
        ("/projects/BAD/members".to_string(), vec![("login", "ad\0min"), ("role", "viewer")], "login"),
        ("/items/new".to_string(), vec![("project", "BAD"), ("title", "a\0b")], "title"),
        ("/items/new".to_string(), vec![("project", "B\0AD"), ("title", "x")], "project"),
        (format!("{item_path}/comments"), vec![("body", "\0")], "body"),
        ("/admin/cluster/maintenance".to_string(), vec![("node", "test\0node"), ("on", "true")], "node"),
        ("/admin/cluster/master".to_string(), vec![("node", "test\0node")], "node"),
        ("/profile/tokens".to_string(), vec![("name", "\0")], "name"),
    ] {
        assert_page_refused(&admin.submit(&path, &fields).await, field, &path);
    }
    // The sign-in form, with the form token of the page, so the login reaches the handler.
    let browser = WebClient::new(&app.address);
    let form = browser.get("/signin").await;
    let form_token = form.hidden_field("form_token").unwrap();
    let refused = browser
        .post_form("/signin", &[("login", "ad\0min"), ("password", "x"), ("next", "/"), ("form_token", &form_token)])
        .await;
    assert_page_refused(&refused, "login", "sign-in form");
    let next = browser.get("/signin?next=%2Fitems%00").await;
    assert_page_refused(&next, "next", "sign-in return path");
    assert_eq!(app.count_rows("items"), 1);
    assert_eq!(app.count_rows("comments"), 0);
    assert_eq!(app.count_rows("memberships"), 0);
    assert_eq!(app.count_rows("login_failures"), 0);
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master");
}

/// Values out of every range get a 4xx too: past the search window, dates no backend
/// stores, logins no account can have, bodies nested past the parser's depth.
async fn over_long_and_malformed_values_are_client_errors(backend: Backend) {
    use reqwest::Method;
    let app = TestApp::spawn(backend).await;
    app.create_project("BAD", false).await;
    let item = app.admin.create_item("BAD", "Target").await;
    let item_id = item["id"].as_i64().unwrap();
    crate::search::index_everything(&app).await;
    // The search collector keeps offset + limit hits: an unbounded offset would abort the node.
    for offset in ["20001", "1000000000000", "18446744073709551615"] {
        let reply = app.admin.get(&format!("/api/v1/search?q=target&offset={offset}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "offset {offset}: {}", reply.body);
    }
    assert_eq!(app.admin.get("/api/v1/search?q=target&offset=20000").await.status, StatusCode::OK);
    let far = app.admin.get("/api/v1/items?offset=9223372036854775807").await;
    assert_eq!(far.status, StatusCode::OK, "{}", far.body);
    assert_eq!(far.body["items"].as_array().unwrap().len(), 0);
    for due_date in ["+10000-01-01", "-0001-12-31", "0000-01-01", "262142-12-31"] {
        let created =
            app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "x", "due_date": due_date})).await;
        assert_eq!(created.status, StatusCode::BAD_REQUEST, "{due_date}: {}", created.body);
        let patched =
            app.admin.patch(&format!("/api/v1/items/{item_id}"), json!({"version": 1, "due_date": due_date})).await;
        assert_eq!(patched.status, StatusCode::BAD_REQUEST, "{due_date}: {}", patched.body);
    }
    let kept = app.admin.post("/api/v1/items", json!({"project": "BAD", "title": "y", "due_date": "9999-12-31"})).await;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.body);
    // A login no account can have is a wrong login: answered at once and not logged.
    let client = reqwest::Client::new();
    for login in ["x".repeat(5_000), "ann lee".into(), "".into(), "ä".repeat(10)] {
        let response = client
            .post(app.url("/api/v1/session"))
            .json(&json!({"login": login, "password": "whatever-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.count_rows("login_failures"), 0);
    let bodies: Vec<(Method, String, String, StatusCode)> = vec![
        (
            Method::POST,
            "/api/v1/items".into(),
            r#"{"project": "BAD", "title": "a", "title": "b"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/items".into(),
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
            StatusCode::BAD_REQUEST,
        ),
        (Method::POST, "/api/v1/items".into(), String::new(), StatusCode::BAD_REQUEST),
        (
            Method::POST,
            "/api/v1/items".into(),
            r#"{"project": 99999999999999999999, "title": "x"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/items".into(),
            r#"{"project": "BAD", "title": "x", "type_id": 1e400}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/items".into(),
            r#"{"project": "BAD", "title": "\ud800"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            "/api/v1/workflow/statuses/1".into(),
            r#"{"position": 2147483647}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (Method::PATCH, "/api/v1/workflow/statuses/1".into(), r#"{"position": -1}"#.into(), StatusCode::BAD_REQUEST),
        (
            Method::PATCH,
            format!("/api/v1/items/{item_id}"),
            r#"{"version": 2147483648}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (Method::POST, format!("/api/v1/items/{item_id}/watchers"), "[".repeat(10_000), StatusCode::BAD_REQUEST),
    ];
    for (method, path, body, expected) in bodies {
        let shown: String = body.chars().take(80).collect();
        let reply = send_raw(&app.admin, method.clone(), &path, &body).await;
        assert_eq!(reply.status, expected, "{method} {path} {shown}: {}", reply.body);
    }
    let multipart_to_json = app
        .admin
        .send(
            app.admin
                .client
                .post(app.url("/api/v1/items"))
                .header("Content-Type", "multipart/form-data; boundary=x")
                .body("--x--\r\n"),
        )
        .await;
    assert_eq!(multipart_to_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for path in ["/api/v1/projects/%FF%FE", "/api/v1/items?project=%C0%AF", "/api/v1/items/-5", "/api/v1/users/-1"] {
        let reply = app.admin.get(path).await;
        assert!(reply.status.is_client_error(), "{path}: {}", reply.status);
    }
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let long_filter = format!("/items?text={}", "t".repeat(300));
    for path in [long_filter.as_str(), "/projects/%FF%FE", "/items?page=-1"] {
        let page = admin.get(path).await;
        assert!(page.status.is_client_error(), "{path}: {}", page.status);
    }
    let far_due =
        admin.submit("/items/new", &[("project", "BAD"), ("title", "far"), ("due_date", "10000-01-01")]).await;
    assert!(far_due.status.is_client_error(), "{}", far_due.status);
    assert_eq!(app.count_rows("items"), 2);
}
