//! Markdown as users expect it: task lists keep their boxes (ticked from the item page by
//! those who may edit the description, in place with the script and by a form without it),
//! plain URLs become links, and the sanitizer still removes what it removed.

use reqwest::StatusCode;
use serde_json::json;

use super::app_with_project;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::browser::Browser;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

const PLAN: &str =
    "Plan, see https://example.com/runbook?step=1&x=(2).\n\n- [ ] back up\n- [x] announce\n- [ ] migrate";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_lists_show_boxes_and_plain_urls_become_links_while_the_sanitizer_still_cleans() {
    let (app, admin) = app_with_project().await;
    let viewer_api = app.create_user("vera").await;
    app.add_member("WEB", &viewer_api, "viewer").await;
    let description = format!(
        "{PLAN}\n\nAlso: <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) \
         <input type=checkbox checked name=tick value=9> <button name=tick value=9>x</button>\n\nIn code: `https://in.code`"
    );
    let item = app
        .admin
        .post("/api/v1/items", json!({"project": "WEB", "title": "Plan", "description": description}))
        .await
        .body;
    let id = item["id"].as_i64().unwrap();

    let viewer = WebClient::sign_in(&app.address, "vera", USER_PASSWORD).await;
    let read_only = viewer.get(&format!("/items/{id}")).await;
    assert_eq!(read_only.status, StatusCode::OK);
    let read_only = &read_only.body;
    assert_eq!(read_only.matches(r#"<input type="checkbox" class="task" disabled>"#).count(), 2, "{read_only}");
    assert_eq!(read_only.matches(r#"<input type="checkbox" class="task" disabled checked>"#).count(), 1);
    assert!(!read_only.contains(&format!("action=\"/items/{id}/tasks\"")), "a viewer has no task form");
    assert!(
        read_only.contains(
            r#"<a href="https://example.com/runbook?step=1&amp;x=(2)" rel="noopener noreferrer nofollow">https://example.com/runbook?step=1&amp;x=(2)</a>."#
        ),
        "{read_only}"
    );
    assert!(read_only.contains("<code>https://in.code</code>"), "a URL in code stays code");
    for removed in ["<script>alert", "onerror", "javascript:", "value=\"9\"", "<button name=\"tick\""] {
        assert!(!read_only.contains(removed), "{removed} was not removed: {read_only}");
    }

    let editable = admin.get(&format!("/items/{id}")).await.body;
    assert!(editable.contains(&format!("action=\"/items/{id}/tasks\"")), "{editable}");
    assert!(editable.contains(r#"name="tick" value="0" role="checkbox" aria-checked="false""#), "{editable}");
    assert!(editable.contains(r#"name="untick" value="1" role="checkbox" aria-checked="true""#));
    assert!(editable.contains(r#"name="tick" value="2""#));
    assert_eq!(editable.matches("class=\"task\"").count(), 3, "only the three boxes of the list: {editable}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticking_a_task_box_is_an_item_edit_with_history_and_a_version_check() {
    let (app, admin) = app_with_project().await;
    let viewer_api = app.create_user("vera").await;
    app.add_member("WEB", &viewer_api, "viewer").await;
    app.create_user("olga").await;
    let item =
        app.admin.post("/api/v1/items", json!({"project": "WEB", "title": "Plan", "description": PLAN})).await.body;
    let id = item["id"].as_i64().unwrap();
    let tasks = format!("/items/{id}/tasks");

    let ticked = admin.submit(&tasks, &[("version", "1"), ("tick", "2")]).await;
    assert_eq!(ticked.status, StatusCode::SEE_OTHER, "{}", ticked.body);
    assert_eq!(ticked.location(), Some(format!("/items/{id}#task-2").as_str()));
    let stored = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(stored["description"], PLAN.replace("- [ ] migrate", "- [x] migrate"));
    assert_eq!(stored["version"], 2);
    let history = app.admin.get(&format!("/api/v1/items/{id}/history")).await.body;
    assert!(history.to_string().contains("\"field\":\"description\""), "{history}");

    let stale = admin.submit(&tasks, &[("version", "1"), ("untick", "1")]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("Your changes were not saved"), "{}", stale.body);
    let unticked = admin.submit(&tasks, &[("version", "2"), ("untick", "1")]).await;
    assert_eq!(unticked.status, StatusCode::SEE_OTHER, "{}", unticked.body);
    let stored = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(
        stored["description"],
        PLAN.replace("- [ ] migrate", "- [x] migrate").replace("- [x] announce", "- [ ] announce")
    );

    let missing = admin.submit(&tasks, &[("version", "3"), ("tick", "7")]).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("the description has no task box 8"), "{}", missing.body);
    for fields in [
        vec![("version", "3")],
        vec![("version", "3"), ("tick", "0"), ("untick", "1")],
        vec![("version", "3"), ("tick", "first")],
    ] {
        let refused = admin.submit(&tasks, &fields).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}: {}", refused.body);
    }
    let viewer = WebClient::sign_in(&app.address, "vera", USER_PASSWORD).await;
    assert_eq!(viewer.submit(&tasks, &[("version", "3"), ("tick", "0")]).await.status, StatusCode::FORBIDDEN);
    let outsider = WebClient::sign_in(&app.address, "olga", USER_PASSWORD).await;
    assert_eq!(outsider.submit(&tasks, &[("version", "3"), ("tick", "0")]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        admin.post_form(&tasks, &[("version", "3"), ("tick", "0")]).await.status,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["version"], 3, "nothing else was saved");
}

async fn item_with_plan(app: &TestApp) -> String {
    app.create_project("WEB", false).await;
    let item =
        app.admin.post("/api/v1/items", json!({"project": "WEB", "title": "Plan", "description": PLAN})).await.body;
    format!("/items/{}", item["id"])
}

async fn stored_description(app: &TestApp, item_path: &str) -> String {
    app.admin.get(&format!("/api/v1{item_path}")).await.body["description"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_task_box_is_ticked_in_place_with_the_script() {
    let Some(browser) = Browser::start("task tick with script").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let item_path = item_with_plan(&app).await;
    browser.sign_in(&app.address, &item_path, "admin", ADMIN_PASSWORD).await;
    // A mark on this very page: a reload would lose it.
    browser.evaluate::<bool>("(window.notReloaded = true)").await;
    browser.click("#task-0").await;
    browser
        .wait_for("the box ticked", false, async |browser| {
            browser
                .evaluate::<Option<String>>("document.querySelector('#task-0')?.getAttribute('aria-checked')")
                .await
                .as_deref()
                == Some("true")
        })
        .await;
    assert!(browser.evaluate::<bool>("window.notReloaded === true").await, "the page was not reloaded");
    assert_eq!(browser.focused("id").await, "task-0", "the box keeps the focus");
    assert_eq!(stored_description(&app, &item_path).await, PLAN.replace("- [ ] back up", "- [x] back up"));
    // The page shows the new version, so the next tick is not a conflict.
    browser.click("#task-1").await;
    browser
        .wait_for("the second box unticked", false, async |browser| {
            browser
                .evaluate::<Option<String>>("document.querySelector('#task-1')?.getAttribute('aria-checked')")
                .await
                .as_deref()
                == Some("false")
        })
        .await;
    assert!(!browser.exists("#notice").await, "{}", browser.source().await);
    assert_eq!(
        stored_description(&app, &item_path).await,
        PLAN.replace("- [ ] back up", "- [x] back up").replace("- [x] announce", "- [ ] announce")
    );
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_task_box_is_ticked_without_the_script() {
    let Some(browser) = Browser::start_without_script("task tick without script").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let item_path = item_with_plan(&app).await;
    browser.sign_in(&app.address, &item_path, "admin", ADMIN_PASSWORD).await;
    assert!(!browser.evaluate::<bool>("document.documentElement.classList.contains('scripted')").await);
    browser.click("#task-2").await;
    browser
        .wait_for("the box ticked", false, async |browser| {
            browser
                .evaluate::<Option<String>>("document.querySelector('#task-2')?.getAttribute('aria-checked')")
                .await
                .as_deref()
                == Some("true")
        })
        .await;
    assert_eq!(browser.path().await, item_path);
    assert_eq!(stored_description(&app, &item_path).await, PLAN.replace("- [ ] migrate", "- [x] migrate"));
    browser.quit().await;
}
