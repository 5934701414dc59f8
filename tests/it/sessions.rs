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
    let after = client.get(app.url("/api/v1/users/me")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
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

    let mut script = app.admin.clone();
    script.token = secret;
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::OK);
    let revoked = app.admin.delete(&format!("/api/v1/tokens/{}", created.body["id"])).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(script.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn deactivated_users_lose_their_sessions_and_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.create_user("leaver").await;
    assert_eq!(user.get("/api/v1/users/me").await.status, StatusCode::OK);
    let deactivated = app.admin.patch(&format!("/api/v1/users/{}", user.user_id), json!({"active": false})).await;
    assert_eq!(deactivated.status, StatusCode::OK);
    assert_eq!(user.get("/api/v1/users/me").await.status, StatusCode::UNAUTHORIZED);
    let sign_in = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"login": "leaver", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), StatusCode::UNAUTHORIZED);
}
