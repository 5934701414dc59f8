//! What answers give away, and who may keep them: refusals name only what the caller sent,
//! never the login behind an id; no cache keeps an API answer, and only the user's own
//! browser keeps an attachment.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(
    refusals_about_other_users_name_only_the_id_sent_never_a_login,
    the_members_form_tells_only_managers_whether_a_login_exists,
    api_answers_are_never_stored_and_attachments_only_by_the_users_browser,
);

/// The message, with the id it names replaced, so that refusals for different ids compare.
fn shape(message: &serde_json::Value, id: i64) -> String {
    message.as_str().unwrap_or_default().replace(&id.to_string(), "<id>")
}

async fn refusals_about_other_users_name_only_the_id_sent_never_a_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let manager = app.create_user("boss").await;
    app.add_member("OPS", &manager, "manager").await;
    let outsider = app.create_user("hidden.login").await;
    let leaver = app.create_user("gone.login").await;
    app.add_member("OPS", &leaver, "viewer").await;
    let deactivated = app.admin.patch(&format!("/api/v1/users/{}", leaver.user_id), json!({"active": false})).await;
    assert_eq!(deactivated.status, StatusCode::OK);
    let item = developer.create_item("OPS", "Private work").await;
    let item_id = item["id"].as_i64().unwrap();
    let secret_logins = ["hidden.login", "gone.login"];
    let candidates = [outsider.user_id, leaver.user_id, 424_242];

    for what in ["assign on update", "assign on create", "add a watcher", "add a member"] {
        let mut shapes = Vec::new();
        // A manager may add any active user: only a deactivated or a missing one is refused.
        let refused = if what == "add a member" { &candidates[1..] } else { &candidates[..] };
        for &user in refused {
            let reply = match what {
                "assign on update" => {
                    developer
                        .patch(&format!("/api/v1/items/{item_id}"), json!({"version": 1, "assignee_id": user}))
                        .await
                }
                "assign on create" => {
                    developer.post("/api/v1/items", json!({"project": "OPS", "title": "x", "assignee_id": user})).await
                }
                "add a watcher" => {
                    developer.post(&format!("/api/v1/items/{item_id}/watchers"), json!({"user_id": user})).await
                }
                _ => manager.put(&format!("/api/v1/projects/OPS/members/{user}"), json!({"role": "viewer"})).await,
            };
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what} {user}: {}", reply.body);
            let message = &reply.body["error"]["message"];
            assert!(message.as_str().unwrap().contains(&user.to_string()), "{what}: {message}");
            for login in secret_logins {
                assert!(!message.to_string().contains(login), "{what} names a login: {message}");
            }
            shapes.push(shape(message, user));
        }
        assert!(shapes.windows(2).all(|pair| pair[0] == pair[1]), "{what}: the refusals differ: {shapes:?}");
    }
    assert_eq!(app.count_rows("items"), 1);
}

async fn the_members_form_tells_only_managers_whether_a_login_exists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", true).await;
    let manager = app.create_user("boss").await;
    app.add_member("OPS", &manager, "manager").await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let leaver = app.create_user("gone.login").await;
    app.admin.patch(&format!("/api/v1/users/{}", leaver.user_id), json!({"active": false})).await;
    app.create_user("hidden.login").await;

    let dev = WebClient::sign_in(&app.address, "dev", crate::support::app::USER_PASSWORD).await;
    for login in ["hidden.login", "nobody.here"] {
        let page = dev.submit("/projects/OPS/members", &[("login", login), ("role", "viewer")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{login}: {}", page.body);
        assert!(!page.body.contains(login), "{login}: {}", page.body);
    }
    let boss = WebClient::sign_in(&app.address, "boss", crate::support::app::USER_PASSWORD).await;
    for login in ["gone.login", "nobody.here"] {
        let page = boss.submit("/projects/OPS/members", &[("login", login), ("role", "viewer")]).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{login}: {}", page.body);
        assert!(page.body.contains(&format!("there is no active user &#34;{login}&#34;")), "{login}: {}", page.body);
    }
    let added = boss.submit("/projects/OPS/members", &[("login", "hidden.login"), ("role", "viewer")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let members = app.admin.get("/api/v1/projects/OPS/members").await.body;
    assert_eq!(members["members"].as_array().unwrap().len(), 3);
}

async fn api_answers_are_never_stored_and_attachments_only_by_the_users_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "With a file").await;
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"secret notes".to_vec()).file_name("notes.txt"));
    let attachment = app
        .admin
        .send(app.admin.client.post(app.url(&format!("/api/v1/items/{}/attachments", item["id"]))).multipart(form))
        .await;
    assert_eq!(attachment.status, StatusCode::CREATED);
    let client = reqwest::Client::new();
    let token = &app.admin.token;
    let cache_control = |response: &reqwest::Response| {
        response.headers().get("cache-control").map(|value| value.to_str().unwrap().to_string()).unwrap_or_default()
    };
    let requests = [
        ("items", client.get(app.url("/api/v1/items")).bearer_auth(token), StatusCode::OK),
        ("one item", client.get(app.url(&format!("/api/v1/items/{}", item["id"]))).bearer_auth(token), StatusCode::OK),
        ("missing", client.get(app.url("/api/v1/items/424242")).bearer_auth(token), StatusCode::NOT_FOUND),
        ("signed out", client.get(app.url("/api/v1/users/me")), StatusCode::UNAUTHORIZED),
        ("wrong method", client.put(app.url("/api/v1/items")).bearer_auth(token), StatusCode::METHOD_NOT_ALLOWED),
        ("refused input", client.get(app.url("/api/v1/projects/%00")).bearer_auth(token), StatusCode::BAD_REQUEST),
        ("no endpoint", client.get(app.url("/api/v1/nothing")).bearer_auth(token), StatusCode::NOT_FOUND),
        (
            "sign-in",
            client.post(app.url("/api/v1/session")).json(&json!({"login": "admin", "password": ADMIN_PASSWORD})),
            StatusCode::OK,
        ),
        ("health", client.get(app.url("/api/v1/system/ping")), StatusCode::OK),
        ("metrics", client.get(app.url("/metrics")), StatusCode::OK),
    ];
    for (what, request, status) in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(cache_control(&response), "no-store", "{what}");
    }
    let download = app.url(&format!("/api/v1/attachments/{}", attachment.body["id"]));
    let first = client.get(&download).bearer_auth(token).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(cache_control(&first), "private, no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = client.get(&download).bearer_auth(token).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "asking again costs a 304");
    assert_eq!(cache_control(&again), "private, no-cache");
    let outsider = app.create_user("outsider").await;
    let refused =
        client.get(&download).bearer_auth(&outsider.token).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "the check runs before the cache is answered");

    let browser = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    for path in ["/items", "/profile", "/admin/users", &format!("/items/{}", item["id"]), "/no/such/page"] {
        assert_eq!(browser.get(path).await.header("cache-control"), "no-store", "{path}");
    }
    assert_eq!(WebClient::new(&app.address).get("/signin").await.header("cache-control"), "no-store");
    assert!(browser.get("/static/baton.css").await.header("cache-control").contains("max-age"));
}
