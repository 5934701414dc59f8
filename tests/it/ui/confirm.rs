//! Dangerous actions ask first: making a user an administrator, deactivating a user, putting
//! the last live node into maintenance, deleting a workflow entry. Without the script the
//! first post answers with a confirmation page; with it, a dialog asks on the page.

use reqwest::StatusCode;

use super::app_with_project;
use crate::support::Backend;
use crate::support::TestApp;
use crate::support::app::ADMIN_PASSWORD;
use crate::support::browser::Browser;

async fn user_id(app: &TestApp, login: &str) -> i64 {
    let users = app.admin.get("/api/v1/users").await.body;
    users["users"].as_array().unwrap().iter().find(|user| user["login"] == login).unwrap()["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn making_an_administrator_and_deactivating_ask_first_and_act_once_confirmed() {
    let (app, admin) = app_with_project().await;
    app.create_user("nina").await;
    let nina = user_id(&app, "nina").await;
    let path = format!("/admin/users/{nina}");

    let page = admin.get("/admin/users").await.body;
    assert!(page.contains("data-confirm=\"Make nina an administrator?\""), "{page}");
    assert!(page.contains("data-confirm=\"Deactivate nina?\""), "{page}");

    let asked = admin.submit(&path, &[("is_admin", "true")]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("<h1 id=\"confirm-heading\">Make nina an administrator?</h1>"), "{}", asked.body);
    assert!(asked.body.contains("may manage users, projects, the workflow and the cluster"));
    assert!(asked.body.contains(&format!("action=\"{path}\"")));
    assert!(
        asked.body.contains("name=\"is_admin\" value=\"true\"")
            && asked.body.contains("name=\"confirm\" value=\"yes\"")
    );
    assert!(asked.body.contains("href=\"/admin/users\""), "a way back");
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["is_admin"], false, "nothing changed yet");
    let made = admin.submit(&path, &[("is_admin", "true"), ("confirm", "yes")]).await;
    assert!(made.body.contains("User nina updated."), "{}", made.body);
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["is_admin"], true);
    let revoked = admin.submit(&path, &[("is_admin", "false")]).await;
    assert!(revoked.body.contains("User nina updated."), "taking the flag away needs no confirmation");

    let asked = admin.submit(&path, &[("active", "false")]).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.body.contains("Deactivate nina?") && asked.body.contains("signed out everywhere"), "{}", asked.body);
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["active"], true);
    let wrong = admin.submit(&path, &[("active", "false"), ("confirm", "sure")]).await;
    assert!(wrong.body.contains("Deactivate nina?"), "only confirm=yes confirms");
    let deactivated = admin.submit(&path, &[("active", "false"), ("confirm", "yes")]).await;
    assert!(deactivated.body.contains("User nina updated."));
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["active"], false);
    let reactivated = admin.submit(&path, &[("active", "true")]).await;
    assert!(reactivated.body.contains("User nina updated."), "reactivating needs no confirmation");

    let unknown = admin.submit("/admin/users/9999", &[("active", "false")]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_of_the_last_live_node_asks_first_and_says_no_master_will_remain() {
    let (app, admin) = app_with_project().await;
    let page = admin.get("/admin/cluster").await.body;
    assert!(page.contains("data-confirm=\"Put test-node, the last live node, into maintenance?\""), "{page}");
    let asked = admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "true")]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("no master will remain"), "{}", asked.body);
    assert!(
        asked.body.contains("name=\"node\" value=\"test-node\"") && asked.body.contains("name=\"on\" value=\"true\"")
    );
    assert!(!asked.body.contains("http-equiv=\"refresh\""), "the question does not reload itself away");
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master");
    let done =
        admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "true"), ("confirm", "yes")]).await;
    assert!(done.body.contains("Maintenance is on for node test-node."), "{}", done.body);
    let off = admin.submit("/admin/cluster/maintenance", &[("node", "test-node"), ("on", "false")]).await;
    assert!(off.body.contains("Maintenance is off for node test-node."), "ending maintenance needs no confirmation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_workflow_entry_asks_first_unless_the_model_refuses_it_anyway() {
    let (app, admin) = app_with_project().await;
    app.admin.create_item("WEB", "Uses New").await;
    let page = admin.get("/admin/workflow").await.body;
    assert!(page.contains("data-confirm=\"Delete the item type Support?\""), "{page}");
    assert!(
        !page.contains("data-confirm=\"Delete the status New?\""),
        "an entry in use would be refused, not confirmed"
    );

    let asked = admin.submit("/admin/workflow/types/4/delete", &[]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(
        asked.body.contains("Delete the item type Support?") && asked.body.contains("No item uses it"),
        "{}",
        asked.body
    );
    assert!(asked.body.contains("href=\"/admin/workflow#types\""));
    assert_eq!(
        app.admin.get("/api/v1/workflow").await.body["types"].as_array().unwrap().len(),
        4,
        "nothing deleted yet"
    );
    let deleted = admin.submit("/admin/workflow/types/4/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.location(), Some("/admin/workflow?done=deleted&list=types"));
    assert_eq!(app.admin.get("/api/v1/workflow").await.body["types"].as_array().unwrap().len(), 3);

    let in_use = admin.submit("/admin/workflow/statuses/1/delete", &[]).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{}", in_use.body);
    assert!(in_use.body.contains("1 item has the status &#34;New&#34;"), "{}", in_use.body);
    let unknown = admin.submit("/admin/workflow/priorities/99/delete", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_dangerous_action_asks_in_a_dialog_with_the_script() {
    let Some(browser) = Browser::start("confirmation dialog").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_user("nina").await;
    let nina = user_id(&app, "nina").await;
    browser.sign_in(&app.address, "/admin/users", "admin", ADMIN_PASSWORD).await;
    let deactivate = "tr[data-user='nina'] button.danger";

    browser.click(deactivate).await;
    assert!(browser.exists("dialog#confirm[open]").await, "a dialog asks");
    assert_eq!(browser.text("#confirm-title").await, "Deactivate nina?");
    assert!(browser.text("#confirm-detail").await.contains("signed out everywhere"));
    assert_eq!(browser.path().await, "/admin/users", "still on the page");
    browser.click("dialog#confirm [data-close]").await;
    assert!(!browser.exists("dialog#confirm[open]").await);
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["active"], true, "cancelled");

    browser.click(deactivate).await;
    browser.click("dialog#confirm [data-confirm-yes]").await;
    browser.wait_for("the outcome", false, async |browser| browser.exists("#notice").await).await;
    assert_eq!(browser.text("#notice").await, "User nina updated.");
    assert_eq!(app.admin.get(&format!("/api/v1/users/{nina}")).await.body["active"], false);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_dangerous_action_asks_on_a_page_without_the_script() {
    let Some(browser) = Browser::start_without_script("confirmation page").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    browser.sign_in(&app.address, "/admin/cluster", "admin", ADMIN_PASSWORD).await;
    browser.click("tr[data-node='test-node'] form[action='/admin/cluster/maintenance'] button").await;
    browser.wait_for("the question", false, async |browser| browser.exists("#confirm-button").await).await;
    assert!(browser.text("#confirm-message").await.contains("no master will remain"));
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["nodes"][0]["role"], "master", "nothing changed yet");
    browser.click("#confirm-button").await;
    browser.wait_for("the outcome", false, async |browser| browser.exists("#notice").await).await;
    assert_eq!(browser.text("#notice").await, "Maintenance is on for node test-node.");
    assert_eq!(browser.path().await, "/admin/cluster/maintenance");
    browser.quit().await;
}
