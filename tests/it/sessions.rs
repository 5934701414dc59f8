use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::{Backend, TestApp};

on_both_backends!(
    sign_in_sets_an_http_only_same_site_cookie_and_sign_out_revokes_it,
    cookie_requests_that_change_state_need_the_csrf_token,
    wrong_passwords_are_refused_and_then_rate_limited,
    revoked_tokens_and_missing_credentials_are_unauthenticated,
    deactivated_users_lose_their_sessions_and_tokens,
    changing_ones_own_password_keeps_that_session_and_ends_the_other_sessions_and_every_token,
    a_password_set_by_an_administrator_ends_every_session_and_token_of_the_user,
    a_password_set_from_the_command_line_ends_every_session_and_token_of_the_user,
    reactivating_a_user_revives_no_session_and_no_token,
    the_upgrade_deletes_the_tokens_that_deactivated_accounts_still_held,
);

/// Behind a trusted proxy the per-address limit counts the client the proxy names, so one
/// guesser does not lock everyone out; from an untrusted peer the header counts for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_limit_counts_the_client_a_trusted_proxy_names() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |settings| settings.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    app.create_user("carol").await;
    let client = reqwest::Client::new();
    let attempt = |login: &str, password: &str, forwarded: &str| {
        client
            .post(app.url("/api/v1/session"))
            .header("X-Forwarded-For", forwarded)
            .json(&json!({"login": login, "password": password}))
            .send()
    };
    // Ten wrong guesses at ten logins from one client: its address allowance (2 × 5) is used up.
    for number in 0..10 {
        let response = attempt(&format!("guess{number}"), "wrong-password", "203.0.113.66").await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let guesser = attempt("carol", USER_PASSWORD, "203.0.113.66").await.unwrap();
    assert_eq!(guesser.status(), StatusCode::TOO_MANY_REQUESTS);
    let other_client = attempt("carol", USER_PASSWORD, "198.51.100.7").await.unwrap();
    assert_eq!(other_client.status(), StatusCode::OK, "another client behind the same proxy signs in");
    // A client cannot pose as another by putting an address in front of the proxy's.
    let spoofed = attempt("carol", USER_PASSWORD, "198.51.100.8, 203.0.113.66").await.unwrap();
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn sign_in_sets_an_http_only_same_site_cookie_and_sign_out_revokes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();
    let response = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("baton_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    assert!(body["user"].get("password_hash").is_none());

    let me = client.get(app.url("/api/v1/users/me")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    let signed_out = client
        .delete(app.url("/api/v1/session"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    for read in ["/api/v1/users/me", "/api/v1/items", "/api/v1/search?q=anything"] {
        let after = client.get(app.url(read)).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "{read}");
    }
}

async fn cookie_requests_that_change_state_need_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();
    let response = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = response.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    let project = json!({"key": "CSRF", "name": "Forged"});

    let forged =
        client.post(app.url("/api/v1/projects")).header("Cookie", &cookie).json(&project).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = client
        .post(app.url("/api/v1/projects"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", "0000")
        .json(&project)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.admin.get("/api/v1/projects").await.body["projects"].as_array().unwrap().len(), 0);

    let genuine = client
        .post(app.url("/api/v1/projects"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&project)
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status(), StatusCode::CREATED);
}

async fn wrong_passwords_are_refused_and_then_rate_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("victim").await;
    let client = reqwest::Client::new();
    let attempt = |password: &'static str| {
        client.post(app.url("/api/v1/session")).json(&json!({"login": "victim", "password": password})).send()
    };
    for _ in 0..5 {
        let response = attempt("wrong-password").await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["message"], "wrong login or password");
    }
    // Past the limit even the right password is refused until the window has passed.
    let limited = attempt(USER_PASSWORD).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // An unknown login gets the same answer as a wrong password.
    let unknown = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"login": "nobody-here", "password": "whatever-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

async fn revoked_tokens_and_missing_credentials_are_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anonymous = reqwest::Client::new().get(app.url("/api/v1/items")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    let created = app.admin.post("/api/v1/tokens", json!({"name": "script"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let secret = created.body["token"].as_str().unwrap().to_string();
    let tokens = app.admin.get("/api/v1/tokens").await;
    assert!(tokens.body["tokens"].as_array().unwrap().iter().all(|token| token.get("token").is_none()));

    app.create_project("TOK", false).await;
    let item = app.admin.create_item("TOK", "Read by a script").await;
    crate::search::search_until(&app, &app.admin, "script", 1).await;
    // The reads that learn who calls in their own database task, and one that asks first.
    let reads = [
        "/api/v1/users/me".to_string(),
        format!("/api/v1/items/{}", item["id"]),
        format!("/api/v1/items/{}/comments", item["id"]),
        "/api/v1/items?project=TOK".to_string(),
        "/api/v1/search?q=script".to_string(),
    ];
    let mut script = app.admin.clone();
    script.token = secret;
    for read in &reads {
        assert_eq!(script.get(read).await.status, StatusCode::OK, "{read}");
    }
    // GET of an item by id reads its caller in the item's statement: an item that is not
    // there is a 404 for a valid token, and a 401 for an invalid one (below).
    let missing = "/api/v1/items/999999";
    assert_eq!(script.get(missing).await.status, StatusCode::NOT_FOUND);
    script.create_item("TOK", "Filed by the script").await;
    let revoked = app.admin.delete(&format!("/api/v1/tokens/{}", created.body["id"])).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    for read in reads.iter().map(String::as_str).chain([missing]) {
        let refused = script.get(read).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{read}");
        assert_eq!(refused.body["error"]["code"], "unauthenticated", "{read}");
    }
    // What cannot be a token at all, for an item that is there and one that is not.
    let mut forged = app.admin.clone();
    forged.token = "not-a-baton-token".into();
    for read in [format!("/api/v1/items/{}", item["id"]), missing.to_string()] {
        assert_eq!(forged.get(&read).await.status, StatusCode::UNAUTHORIZED, "{read}");
    }
    // Creating learns who calls in its writing task: refused before anything is written.
    let items = app.count_rows("items");
    let refused = script.post("/api/v1/items", json!({"project": "TOK", "title": "After revoking"})).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(app.count_rows("items"), items);
}

async fn deactivated_users_lose_their_sessions_and_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.create_user("leaver").await;
    app.create_project("OPEN", true).await;
    let item = format!("/api/v1/items/{}", app.admin.create_item("OPEN", "Seen by everyone").await["id"]);
    assert_eq!(user.get("/api/v1/users/me").await.status, StatusCode::OK);
    assert_eq!(user.get(&item).await.status, StatusCode::OK);
    let deactivated = app.admin.patch(&format!("/api/v1/users/{}", user.user_id), json!({"active": false})).await;
    assert_eq!(deactivated.status, StatusCode::OK);
    assert_eq!(user.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(user.get(&item).await.status, StatusCode::UNAUTHORIZED);
    let sign_in = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"login": "leaver", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), StatusCode::UNAUTHORIZED);
}

/// A browser-like session through the API: the cookie and its CSRF token.
struct CookieSession {
    client: reqwest::Client,
    address: String,
    cookie: String,
    csrf: String,
}

impl CookieSession {
    async fn sign_in(app: &TestApp, login: &str, password: &str) -> CookieSession {
        let client = reqwest::Client::new();
        let response = client
            .post(app.url("/api/v1/session"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "signing in as {login}");
        let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let csrf = response.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
        CookieSession { client, address: app.address.clone(), cookie, csrf }
    }

    async fn me(&self) -> StatusCode {
        let url = format!("{}/api/v1/users/me", self.address);
        self.client.get(url).header("Cookie", &self.cookie).send().await.unwrap().status()
    }

    async fn patch_me(&self, body: serde_json::Value) -> StatusCode {
        let url = format!("{}/api/v1/users/me", self.address);
        let request = self.client.patch(url).header("Cookie", &self.cookie).header("X-CSRF-Token", &self.csrf);
        request.json(&body).send().await.unwrap().status()
    }
}

async fn signs_in_with(app: &TestApp, login: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

/// The user's sessions and tokens, counted in the database.
fn credentials_of(app: &TestApp, user_id: i64) -> (i64, i64) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        sessions: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        tokens: i64,
    }
    let mut connection = app.database().get().unwrap();
    let counts: Counts = diesel::sql_query(format!(
        "SELECT (SELECT COUNT(*) FROM sessions WHERE user_id = {user_id}) AS sessions, \
                (SELECT COUNT(*) FROM api_tokens WHERE user_id = {user_id}) AS tokens"
    ))
    .get_result(&mut **connection)
    .unwrap();
    (counts.sessions, counts.tokens)
}

async fn changing_ones_own_password_keeps_that_session_and_ends_the_other_sessions_and_every_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let script = app.create_user("carol").await;
    let laptop = CookieSession::sign_in(&app, "carol", USER_PASSWORD).await;
    let phone = CookieSession::sign_in(&app, "carol", USER_PASSWORD).await;
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::OK);

    let wrong = laptop.patch_me(json!({"current_password": "not it", "new_password": "a new long password"})).await;
    assert_eq!(wrong, StatusCode::BAD_REQUEST);
    assert_eq!(phone.me().await, StatusCode::OK, "a refused change ends nothing");
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::OK);

    let changed =
        laptop.patch_me(json!({"current_password": USER_PASSWORD, "new_password": "a new long password"})).await;
    assert_eq!(changed, StatusCode::OK);
    assert_eq!(laptop.me().await, StatusCode::OK, "the session that changed the password stays signed in");
    assert_eq!(phone.me().await, StatusCode::UNAUTHORIZED);
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(credentials_of(&app, script.user_id), (1, 0));
    assert_eq!(signs_in_with(&app, "carol", USER_PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(signs_in_with(&app, "carol", "a new long password").await, StatusCode::OK);
    // Changed with a token, the password takes every token along, that one included.
    let other = app.create_user("dave").await;
    let changed = other
        .patch("/api/v1/users/me", json!({"current_password": USER_PASSWORD, "new_password": "another long password"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(other.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(credentials_of(&app, other.user_id), (0, 0));
}

async fn a_password_set_by_an_administrator_ends_every_session_and_token_of_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let script = app.create_user("erin").await;
    let browser = CookieSession::sign_in(&app, "erin", USER_PASSWORD).await;
    let admin_browser = CookieSession::sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let reset =
        app.admin.patch(&format!("/api/v1/users/{}", script.user_id), json!({"password": "set by the admin"})).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.me().await, StatusCode::UNAUTHORIZED);
    assert_eq!(credentials_of(&app, script.user_id), (0, 0));
    assert_eq!(admin_browser.me().await, StatusCode::OK, "the administrator's own sessions stay");
    assert_eq!(app.admin.get("/api/v1/users/me").await.status, StatusCode::OK);
    assert_eq!(signs_in_with(&app, "erin", "set by the admin").await, StatusCode::OK);

    // The same through the users page.
    let again = app.create_user("frank").await;
    let admin = crate::support::web::WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let page = admin.submit(&format!("/admin/users/{}", again.user_id), &[("password", "set on the page")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(again.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(credentials_of(&app, again.user_id), (0, 0));
}

async fn a_password_set_from_the_command_line_ends_every_session_and_token_of_the_user(backend: Backend) {
    use std::io::Write;
    let app = TestApp::spawn(backend).await;
    let script = app.create_user("gina").await;
    let browser = CookieSession::sign_in(&app, "gina", USER_PASSWORD).await;
    let folder = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_baton"));
    command.current_dir(folder.path()).env("RUST_LOG", "warn");
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("BATON_")) {
        command.env_remove(key);
    }
    let mut child = command
        .args(["user", "passwd", "gina", "--database", &app.database_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"set from the shell\n").unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("signed out") && said.contains("tokens"), "{said}");
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.me().await, StatusCode::UNAUTHORIZED);
    assert_eq!(credentials_of(&app, script.user_id), (0, 0));
    assert_eq!(signs_in_with(&app, "gina", "set from the shell").await, StatusCode::OK);
}

async fn reactivating_a_user_revives_no_session_and_no_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let script = app.create_user("hank").await;
    let browser = CookieSession::sign_in(&app, "hank", USER_PASSWORD).await;
    let user = format!("/api/v1/users/{}", script.user_id);
    assert_eq!(app.admin.patch(&user, json!({"active": false})).await.status, StatusCode::OK);
    assert_eq!(credentials_of(&app, script.user_id), (0, 0));
    assert_eq!(app.admin.patch(&user, json!({"active": true})).await.status, StatusCode::OK);
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.me().await, StatusCode::UNAUTHORIZED);
    assert_eq!(signs_in_with(&app, "hank", USER_PASSWORD).await, StatusCode::OK, "the password still works");
}

/// Before, deactivation left the tokens in place (refused only while the account was
/// inactive): the upgrade deletes them, so that a reactivation revives none.
async fn the_upgrade_deletes_the_tokens_that_deactivated_accounts_still_held(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn(backend).await;
    let script = app.create_user("ivy").await;
    let staying = app.create_user("jack").await;
    let migration = match backend {
        Backend::Sqlite => {
            include_str!("../../migrations/sqlite/2026-12-02-000400_revoke_tokens_of_inactive_users/up.sql")
        }
        Backend::Postgres => {
            include_str!("../../migrations/postgres/2026-12-02-000400_revoke_tokens_of_inactive_users/up.sql")
        }
    };
    {
        let mut connection = app.database().get().unwrap();
        // What the previous version's deactivation left behind.
        connection.batch_execute(&format!("UPDATE users SET active = false WHERE id = {}", script.user_id)).unwrap();
        assert_eq!(credentials_of(&app, script.user_id).1, 1);
        connection.batch_execute(migration).unwrap();
    }
    assert_eq!(credentials_of(&app, script.user_id).1, 0);
    assert_eq!(credentials_of(&app, staying.user_id).1, 1, "active accounts keep their tokens");
    let user = format!("/api/v1/users/{}", script.user_id);
    assert_eq!(app.admin.patch(&user, json!({"active": true})).await.status, StatusCode::OK);
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(staying.get("/api/v1/users/me").await.status, StatusCode::OK);
}
