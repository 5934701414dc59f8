use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::USER_PASSWORD;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    only_administrators_manage_users,
    a_login_is_taken_only_once,
    users_change_their_own_password_only_with_the_current_one,
    the_last_active_administrator_cannot_be_demoted,
);

async fn only_administrators_manage_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.create_user("ann").await;
    let listed = app.admin.get("/api/v1/users").await;
    assert_eq!(listed.status, StatusCode::OK);
    let logins: Vec<&str> =
        listed.body["users"].as_array().unwrap().iter().map(|u| u["login"].as_str().unwrap()).collect();
    assert_eq!(logins, ["admin", "ann"]);
    assert_eq!(user.get("/api/v1/users").await.status, StatusCode::FORBIDDEN);
    let attempt = user
        .post(
            "/api/v1/users",
            json!({"login": "mallory", "name": "M", "email": "m@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(attempt.status, StatusCode::FORBIDDEN);
    let promote = user.patch(&format!("/api/v1/users/{}", user.user_id), json!({"is_admin": true})).await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    assert_eq!(user.get("/api/v1/users/1").await.status, StatusCode::FORBIDDEN);
    assert_eq!(user.get(&format!("/api/v1/users/{}", user.user_id)).await.status, StatusCode::OK);
}

async fn a_login_is_taken_only_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("bob").await;
    let again = app
        .admin
        .post(
            "/api/v1/users",
            json!({"login": "BOB", "name": "Bob 2", "email": "b2@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), "conflict");
}

async fn users_change_their_own_password_only_with_the_current_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.create_user("carol").await;
    let wrong =
        user.patch("/api/v1/users/me", json!({"current_password": "not-it", "new_password": "new-password-1"})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body["error"]["field"], "current_password");
    let short =
        user.patch("/api/v1/users/me", json!({"current_password": USER_PASSWORD, "new_password": "short"})).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert_eq!(short.body["error"]["field"], "password");
    let changed = user
        .patch(
            "/api/v1/users/me",
            json!({"current_password": USER_PASSWORD, "new_password": "new-password-1", "name": "Carol C"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["name"], "Carol C");
    let signed_in = Api::sign_in_with_token(&app.address, "carol", "new-password-1").await;
    assert_eq!(signed_in.user_id, user.user_id);
}

async fn the_last_active_administrator_cannot_be_demoted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let demote = app.admin.patch(&format!("/api/v1/users/{}", app.admin.user_id), json!({"is_admin": false})).await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    let deactivate = app.admin.patch(&format!("/api/v1/users/{}", app.admin.user_id), json!({"active": false})).await;
    assert_eq!(deactivate.status, StatusCode::CONFLICT);
}
