//! Sub-items from the item page, without a browser: "Add a sub-item" opens the new-item form
//! with the parent set, the new item sits in the parent's tree, a bad parent is shown next to
//! its field, and the edit form changes the parent.

use reqwest::StatusCode;

use super::app_with_project;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_item_is_created_from_its_parents_page_and_its_parent_edited() {
    let (app, admin) = app_with_project().await;
    let parent = app.admin.create_item("WEB", "Launch the shop").await["id"].as_i64().unwrap();
    let page = admin.get(&format!("/items/{parent}")).await.body;
    assert!(page.contains("No sub-items."), "an empty state");
    let add = format!("/items/new?project=WEB&amp;type_id=1&amp;parent={parent}");
    assert!(page.contains(&format!("href=\"{add}\"")), "an Add a sub-item link");
    let form = admin.get(&add.replace("&amp;", "&")).await;
    assert!(form.body.contains(&format!("name=\"parent\" value=\"{parent}\"")), "the form carries the parent");

    let created = admin
        .submit("/items/new", &[("project", "WEB"), ("title", "Payment page"), ("parent", &parent.to_string())])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let child = created.location().unwrap().trim_start_matches("/items/").trim_end_matches("?done=created");
    let child = child.parse::<i64>().unwrap();
    let tree = admin.get(&format!("/items/{parent}")).await.body;
    assert!(tree.contains("0/1 done") && tree.contains("WEB-2 Payment page"), "the tree");
    let child_page = admin.get(&format!("/items/{child}")).await.body;
    assert!(child_page.contains("id=\"parent-item\">WEB-1 Launch the shop"));

    let refused = admin.submit("/items/new", &[("project", "WEB"), ("title", "Orphan"), ("parent", "999")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("there is no item 999 in project WEB"), "{}", refused.body);
    assert_eq!(app.count_rows("items WHERE title = 'Orphan'"), 0);

    // The edit form: empty makes it a top-level item, with history.
    let version = app.admin.get(&format!("/api/v1/items/{child}")).await.body["version"].to_string();
    let edited = admin
        .submit(
            &format!("/items/{child}/edit"),
            &[("version", &version), ("title", "Payment page"), ("description", ""), ("parent", "")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let after = admin.get(&format!("/items/{child}")).await.body;
    assert!(!after.contains("id=\"parent-item\"") && after.contains("made it a top-level item"));
    assert!(admin.get(&format!("/items/{parent}")).await.body.contains("No sub-items."));

    // A sub-item moved to another project with the form leaves its parent, which the form
    // still shows unchanged.
    app.create_project("OPS", false).await;
    let moving = app
        .admin
        .post("/api/v1/items", serde_json::json!({"project": "WEB", "title": "Checkout", "parent": parent}))
        .await
        .body;
    let moving_id = moving["id"].as_i64().unwrap();
    let form_parent = parent.to_string();
    let moved = admin
        .submit(
            &format!("/items/{moving_id}/edit"),
            &[
                ("version", &moving["version"].to_string()),
                ("project", "OPS"),
                ("title", "Checkout"),
                ("description", ""),
                ("parent", &form_parent),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let after = app.admin.get(&format!("/api/v1/items/{moving_id}")).await.body;
    assert_eq!(
        (after["project"]["key"].clone(), after["parent"].clone()),
        (serde_json::json!("OPS"), serde_json::Value::Null)
    );
}
