//! The signed-in user's own pages: home and profile.

use reqwest::StatusCode;
use serde_json::json;

use super::app_with_project;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;

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
async fn the_profile_page_changes_the_account_and_manages_tokens() {
    let (app, _admin) = app_with_project().await;
    let pat_api = app.create_user("pat").await;
    let pat = WebClient::sign_in(&app.address, "pat", USER_PASSWORD).await;
    let saved = pat.submit("/profile", &[("name", "Pat Smith"), ("email", "pat@example.org")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let profile = pat.get("/profile").await;
    assert!(profile.body.contains("value=\"Pat Smith\"") && profile.body.contains("value=\"pat@example.org\""));
    assert!(profile.body.contains(r#"value="involved" checked"#), "the account form leaves the notification choices");
    let chose = pat
        .submit("/profile/notifications", &[("scope", "mentions"), ("event.mentioned", "on"), ("digest", "on")])
        .await;
    assert_eq!(chose.status, StatusCode::SEE_OTHER, "{}", chose.body);
    let profile = pat.get(chose.location().unwrap()).await;
    assert!(profile.body.contains(r#"value="mentions" checked"#), "{}", profile.body);
    assert!(
        profile.body.contains(r#"name="event.mentioned" checked"#)
            && !profile.body.contains(r#"name="event.created" checked"#)
    );
    assert!(profile.body.contains("Your notification choices were saved."));
    assert!(profile.body.contains(r#"name="digest" checked"#), "{}", profile.body);
    assert_eq!(pat_api.get("/api/v1/users/me/notifications").await.body["digest"], json!(true));
    let refused = pat.submit("/profile/notifications", &[("scope", "everything")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
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
    let elsewhere = WebClient::sign_in(&app.address, "pat", USER_PASSWORD).await;
    let kept_token = pat.submit("/profile/tokens", &[("name", "desktop")]).await;
    assert_eq!(kept_token.status, StatusCode::OK);
    assert_eq!(app.count_rows("api_tokens"), listed);
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
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(changed.body.contains("Password changed"), "{}", changed.body);
    assert_eq!(pat.get("/profile").await.status, StatusCode::OK, "the session that changed it stays signed in");
    assert_eq!(elsewhere.get("/profile").await.status, StatusCode::SEE_OTHER, "other sessions are signed out");
    assert_eq!(app.count_rows("api_tokens"), listed - 2, "pat's tokens are revoked, the admin's stay");
    WebClient::sign_in(&app.address, "pat", "a new long password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_chooses_the_time_zone_the_pages_show_times_in() {
    let (app, _admin) = app_with_project().await;
    let pat_api = app.create_user("pat").await;
    let pat = WebClient::sign_in(&app.address, "pat", USER_PASSWORD).await;
    let profile = pat.get("/profile").await;
    assert!(profile.body.contains(r#"<option value="">My browser's zone</option>"#), "{}", profile.body);
    assert!(profile.body.contains("<option>Europe/Berlin</option>"));
    assert!(profile.body.contains(r#"<html lang="en">"#), "no zone chosen: the browser's");

    let account = [("name", "Pat"), ("email", "pat@example.org")];
    let refused = pat.submit("/profile", &[account.as_slice(), &[("time_zone", "Mars/Olympus")]].concat()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Mars/Olympus&#34; is not a time zone of the IANA database"), "{}", refused.body);
    let saved = pat.submit("/profile", &[account.as_slice(), &[("time_zone", "Asia/Tokyo")]].concat()).await;
    let profile = pat.get(saved.location().unwrap()).await;
    assert!(profile.body.contains("Your profile was saved."));
    assert!(profile.body.contains(r#"<option selected>Asia/Tokyo</option>"#));
    assert!(pat.get("/").await.body.contains(r#"<html lang="en" data-time-zone="Asia/Tokyo">"#));
    assert_eq!(pat_api.get("/api/v1/users/me").await.body["time_zone"], "Asia/Tokyo");

    // The API: an empty name goes back to the browser's zone; an unknown one names the field.
    let wrong = pat_api.patch("/api/v1/users/me", json!({"time_zone": "Europe/Atlantis"})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert_eq!(wrong.body["error"]["field"], "time_zone", "{}", wrong.body);
    let cleared = pat_api.patch("/api/v1/users/me", json!({"time_zone": ""})).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["time_zone"], json!(null));
    assert!(pat.get("/").await.body.contains(r#"<html lang="en">"#));
}
