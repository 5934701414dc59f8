//! Item lists as a team expects them: open items unless the URL asks for more, the first
//! click on a column sorts it the natural way, and an empty list says what to do next.

use reqwest::StatusCode;
use serde_json::json;

use super::app_with_project;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;

/// Closes an item through the workflow: New → Resolved → Closed.
async fn close(app: &crate::support::TestApp, id: i64) {
    for (version, status) in [(1, 3), (2, 4)] {
        let moved =
            app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": version, "status_id": status})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_item_list_shows_open_items_unless_the_url_asks_for_all() {
    let (app, admin) = app_with_project().await;
    app.admin.create_item("WEB", "Still open").await;
    let done = app.admin.create_item("WEB", "Already closed").await;
    close(&app, done["id"].as_i64().unwrap()).await;

    for path in ["/items", "/projects/WEB", "/items?project=WEB&sort=title"] {
        let list = admin.get(path).await;
        assert_eq!(list.status, StatusCode::OK, "{path}");
        assert!(list.body.contains("Still open") && !list.body.contains("Already closed"), "{path}: {}", list.body);
        assert!(list.body.contains("1 item. Open ones only"), "{path}");
        assert!(list.body.contains("<option value=\"open\" selected>Open</option>"), "{path}");
    }
    let all = admin.get("/items?state=all").await;
    assert!(all.body.contains("Still open") && all.body.contains("Already closed"));
    assert!(all.body.contains("<option value=\"all\" selected>"));
    assert!(admin.get("/items").await.body.contains("href=\"/items?state=all\""), "a link shows closed ones too");
    let closed = admin.get("/items?state=closed").await;
    assert!(!closed.body.contains("Still open") && closed.body.contains("Already closed"));
    assert_eq!(admin.get("/items?state=bogus").await.status, StatusCode::BAD_REQUEST);
    // The API keeps listing everything unless asked.
    assert_eq!(app.admin.get("/api/v1/items?project=WEB").await.body["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_click_on_a_column_sorts_it_in_its_natural_direction() {
    let (app, admin) = app_with_project().await;
    for (title, priority) in [("Low one", 1), ("Urgent one", 4), ("Normal one", 2)] {
        let created =
            app.admin.post("/api/v1/items", json!({"project": "WEB", "title": title, "priority_id": priority})).await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let list = admin.get("/items").await.body;
    for (column, first_click) in [
        ("id", "-id"),
        ("title", "title"),
        ("status", "status"),
        ("priority", "-priority"),
        ("due", "due"),
        ("updated", "updated"),
    ] {
        let header =
            &list[list.find(&format!("<th class=\"col-{column}\"")).unwrap_or_else(|| panic!("{column}: {list}"))..];
        let header = &header[..header.find("</th>").unwrap()];
        assert!(header.contains(&format!("href=\"/items?sort={first_click}\"")), "{column}: {header}");
    }
    assert!(list.contains("<th class=\"col-updated\" aria-sort=\"descending\">"), "newest changes first by default");
    let by_priority = admin.get("/items?sort=-priority").await.body;
    let urgent = by_priority.find("Urgent one").unwrap();
    assert!(urgent < by_priority.find("Normal one").unwrap() && urgent < by_priority.find("Low one").unwrap());
    assert!(
        by_priority.contains("<th class=\"col-priority\" aria-sort=\"descending\"><a href=\"/items?sort=priority\">")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_lists_say_what_to_do_next() {
    let (app, admin) = app_with_project().await;
    let project = admin.get("/projects/WEB").await.body;
    assert!(project.contains("No open items in WEB."), "{project}");
    assert!(project.contains("href=\"/items/new?project=WEB\">Create an item in WEB</a>"), "{project}");
    assert!(!project.contains("<table class=\"list items\">"), "no empty table");

    app.admin.create_item("WEB", "Something").await;
    let nothing = admin.get("/items?text=nomatch").await.body;
    assert!(nothing.contains("No open items match these filters."), "{nothing}");
    assert!(nothing.contains("<a href=\"/items\">Clear the filters</a>"), "{nothing}");
    assert!(nothing.contains("href=\"/items?state=all&#38;text=nomatch\""), "{nothing}");
    let beyond = admin.get("/items?page=5").await.body;
    assert!(beyond.contains("There is no page 5.") && beyond.contains("href=\"/items?page=1\""), "{beyond}");

    app.create_user("newcomer").await;
    let newcomer = WebClient::sign_in(&app.address, "newcomer", USER_PASSWORD).await;
    let home = newcomer.get("/").await.body;
    assert!(home.contains("Nothing is assigned to you."), "{home}");
    assert!(home.contains("You watch no items yet."), "{home}");
    assert!(home.contains("ask a project's manager to add you"), "{home}");
    let items = newcomer.get("/items").await.body;
    assert!(items.contains("no project you can see"), "{items}");
    let projects = newcomer.get("/projects").await.body;
    assert!(projects.contains("You are not a member of any project yet"), "{projects}");
}
