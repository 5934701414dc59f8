//! The item page's links, without a browser: add one (in either wording), refused input shown
//! next to the field with what was typed, close as a duplicate, remove, and the history.

use reqwest::StatusCode;

use super::app_with_project;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_added_refused_closed_as_duplicate_and_removed_from_the_item_page() {
    let (app, admin) = app_with_project().await;
    let id = |item: serde_json::Value| item["id"].as_i64().unwrap();
    let login = id(app.admin.create_item("WEB", "Login page").await);
    let store = id(app.admin.create_item("WEB", "Session store").await);
    let again = id(app.admin.create_item("WEB", "Login page, again").await);

    let empty = admin.get(&format!("/items/{login}")).await;
    assert!(empty.body.contains("No linked items."), "an empty state");
    let added = admin.submit(&format!("/items/{login}/links"), &[("kind", "blocked_by"), ("target", "web-2")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    assert_eq!(added.location(), Some(format!("/items/{login}?done=linked&link=1#links").as_str()));
    let page = admin.get(&format!("/items/{login}")).await;
    assert!(page.body.contains("is blocked by"), "the wording of this side");
    assert!(page.body.contains("WEB-2 Session store"), "the link names the item by key");
    assert!(page.body.contains("linked: this item <em>is blocked by WEB-2</em>"), "the history, by key");
    let other_side = admin.get(&format!("/items/{store}")).await;
    assert!(other_side.body.contains("WEB-1 Login page") && other_side.body.contains(">blocks<"));

    for (target, message) in
        [("abc", "\"abc\" is not an item key or number"), ("999", "there is no item 999 you can see")]
    {
        let refused = admin.submit(&format!("/items/{login}/links"), &[("kind", "relates"), ("target", target)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{target}");
        assert!(
            refused.body.contains("class=\"field-error\"") && refused.body.contains(&message.replace('"', "&#34;")),
            "{target}: {}",
            refused.body
        );
        assert!(refused.body.contains(&format!("value=\"{target}\"")), "the typed target is kept");
    }
    let cycle =
        admin.submit(&format!("/items/{login}/links"), &[("kind", "blocks"), ("target", &store.to_string())]).await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(cycle.body.contains("Not linked: "), "the refusal is said");

    let duplicate = admin
        .submit(&format!("/items/{again}/links"), &[("kind", "close_as_duplicate"), ("target", &login.to_string())])
        .await;
    assert_eq!(duplicate.status, StatusCode::SEE_OTHER);
    let closed = app.admin.get(&format!("/api/v1/items/{again}")).await.body;
    assert_eq!(closed["status"]["is_closed"], true, "{closed}");

    let links = app.admin.get(&format!("/api/v1/items/{login}/links")).await.body;
    let blocked_by = links["links"].as_array().unwrap().iter().find(|link| link["kind"] == "blocked_by").unwrap();
    let link_id = blocked_by["id"].as_i64().unwrap();
    let action = format!("/items/{login}/links/{link_id}/remove");
    assert!(page.body.contains(&format!("action=\"{action}\"")), "a remove button");
    let viewer_api = app.create_user("vera").await;
    app.add_member("WEB", &viewer_api, "viewer").await;
    let viewer = WebClient::sign_in(&app.address, "vera", USER_PASSWORD).await;
    let viewers_page = viewer.get(&format!("/items/{login}")).await;
    assert!(viewers_page.body.contains("Session store") && !viewers_page.body.contains("id=\"link-form\""));
    assert!(!viewers_page.body.contains(&action), "viewers see no remove button");
    assert_eq!(viewer.submit(&action, &[]).await.status, StatusCode::FORBIDDEN);
    let removed = admin.submit(&action, &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let after = admin.get(&format!("/items/{login}")).await;
    assert!(!after.body.contains("WEB-2 Session store"));
    assert!(after.body.contains("removed the link: this item <em>is blocked by WEB-2</em>"));
}
