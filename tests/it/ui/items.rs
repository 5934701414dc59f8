//! Items: the list, the item page and its forms, new items, uploads, search.

use std::ops::ControlFlow;

use reqwest::StatusCode;
use serde_json::json;

use super::{app_with_project, app_with_project_on};
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_no_edit_controls_and_non_members_get_404() {
    let (app, _admin) = app_with_project().await;
    let viewer_api = app.create_user("vera").await;
    app.add_member("WEB", &viewer_api, "viewer").await;
    app.create_user("olga").await;
    let item = app.admin.create_item("WEB", "Private work").await;
    let id = item["id"].as_i64().unwrap();

    let viewer = WebClient::sign_in(&app.address, "vera", USER_PASSWORD).await;
    let page = viewer.get(&format!("/items/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Private work"));
    for control in [
        format!("action=\"/items/{id}/edit\""),
        format!("action=\"/items/{id}/field\""),
        format!("action=\"/items/{id}/comments\""),
        format!("action=\"/items/{id}/attachments\""),
    ] {
        assert!(!page.body.contains(&control), "a viewer sees {control}");
    }
    assert!(page.body.contains("Watch"), "viewers may watch");
    let forged =
        viewer.submit(&format!("/items/{id}/edit"), &[("version", "1"), ("title", "Changed by a viewer")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.header("content-type").starts_with("text/html"));
    let comment = viewer.submit(&format!("/items/{id}/comments"), &[("body", "hi")]).await;
    assert_eq!(comment.status, StatusCode::FORBIDDEN);

    let outsider = WebClient::sign_in(&app.address, "olga", USER_PASSWORD).await;
    for path in [format!("/items/{id}"), "/projects/WEB".to_string(), "/items?project=WEB".to_string()] {
        let page = outsider.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("Private work"));
    }
    assert!(!outsider.get("/items").await.body.contains("Private work"));
    let edit = outsider.submit(&format!("/items/{id}/edit"), &[("version", "1"), ("title", "x")]).await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_edit_shows_a_conflict_and_keeps_the_users_text() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Original title").await;
    let id = item["id"].as_i64().unwrap();
    let page = admin.get(&format!("/items/{id}")).await;
    let version = page.hidden_field("version").unwrap();
    let changed =
        app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "title": "Someone else's title"})).await;
    assert_eq!(changed.status, StatusCode::OK);

    let stale = admin
        .submit(&format!("/items/{id}/edit"), &[("version", &version), ("title", "My title"), ("description", "")])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("changed by someone else"), "{}", stale.body);
    assert!(stale.body.contains("Your changes were not saved"));
    assert!(stale.body.contains("value=\"My title\""), "the user's edit is kept");
    assert!(stale.body.contains("Someone else&#39;s title"));
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["title"], "Someone else's title");

    let saved = admin
        .submit(&format!("/items/{id}/edit"), &[("version", "2"), ("title", "My title"), ("description", "")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["title"], "My title");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edit_form_moves_an_item_to_another_project_where_the_user_works() {
    let (app, admin) = app_with_project().await;
    app.create_project("OPS", false).await;
    app.admin.put("/api/v1/projects/OPS/types", json!({"types": [3]})).await;
    app.admin.define_field(json!({"key": "rack", "name": "Rack", "type": "text", "projects": ["OPS"]})).await;
    let item = app.admin.create_item("WEB", "Wandering bug").await;
    let id = item["id"].as_i64().unwrap();
    let page = admin.get(&format!("/items/{id}")).await;
    assert!(page.body.contains("name=\"project\""), "an administrator may move it");
    assert!(page.body.contains("<option value=\"OPS\">OPS"), "{}", page.body);

    let form = |item_type: &'static str| {
        [("version", "1"), ("title", "Wandering bug"), ("description", ""), ("project", "OPS"), ("type_id", item_type)]
    };
    let refused = admin.submit(&format!("/items/{id}/edit"), &form("1")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("does not use the item type Bug"), "{}", refused.body);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["project"]["key"], "WEB");
    // The form stays on the move: OPS chosen, OPS's types and fields offered, to mend and save.
    let select = |id: &str| {
        let start = refused.body.find(&format!("id=\"{id}\"")).expect(id);
        refused.body[start..].split("</select>").next().unwrap().to_string()
    };
    assert!(select("edit-project").contains("<option value=\"OPS\" selected>"), "{}", select("edit-project"));
    assert_eq!(select("edit-type").matches("<option").count(), 1, "{}", select("edit-type"));
    assert!(select("edit-type").contains("<option value=\"3\""), "{}", select("edit-type"));
    assert!(refused.body.contains("name=\"field.rack\""), "OPS's field");

    let moved = admin.submit(&format!("/items/{id}/edit"), &form("3")).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let after = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!((after["project"]["key"].as_str(), after["type"]["name"].as_str()), (Some("OPS"), Some("Task")));

    // A developer of one project only is offered no move.
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let theirs = WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await.get(&format!("/items/{id}")).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(theirs.body.contains("action=\"/items/"), "they may edit");
    assert!(!theirs.body.contains("name=\"project\""), "but have nowhere to move it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_buttons_follow_the_workflow() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Flow").await;
    let id = item["id"].as_i64().unwrap();
    let allowed = app.admin.get(&format!("/api/v1/items/{id}/transitions")).await.body["statuses"].clone();
    let page = admin.get(&format!("/items/{id}")).await;
    let buttons = page.body.matches("class=\"status-move\"").count();
    assert_eq!(buttons, allowed.as_array().unwrap().len());
    let target = allowed[0]["id"].as_i64().unwrap().to_string();
    let seen = item["status"]["name"].as_str().unwrap();
    let moved =
        admin.submit(&format!("/items/{id}/field"), &[("field", "status"), ("seen", seen), ("value", &target)]).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let after = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(after["status"]["id"].as_i64().unwrap().to_string(), target);
    let allowed_now = app.admin.get(&format!("/api/v1/items/{id}/transitions")).await.body["statuses"].clone();
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    let forbidden_move = workflow["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status["id"].as_i64().unwrap())
        .find(|id| id.to_string() != target && !allowed_now.as_array().unwrap().iter().any(|s| s["id"] == *id))
        .expect("a status the workflow does not allow next")
        .to_string();
    let now = after["status"]["name"].as_str().unwrap();
    let not_allowed = admin
        .submit(&format!("/items/{id}/field"), &[("field", "status"), ("seen", now), ("value", &forbidden_move)])
        .await;
    assert_eq!(not_allowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(not_allowed.body.contains("the workflow does not allow"), "{}", not_allowed.body);
}

/// The new-item form offers the projects its viewer may file in, and the members of the chosen
/// project as assignees to those who may assign there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_item_form_offers_where_to_file_and_whom_to_assign() {
    let (app, _admin) = app_with_project().await;
    app.create_project("OPS", false).await;
    let (dana, rita) = (app.create_user("dana").await, app.create_user("rita").await);
    app.add_member("WEB", &dana, "developer").await;
    app.add_member("OPS", &dana, "viewer").await;
    app.add_member("WEB", &rita, "reporter").await;

    let developer = WebClient::sign_in(&app.address, "dana", USER_PASSWORD).await;
    let form = developer.get("/items/new?project=WEB").await;
    assert!(form.body.contains(r#"<option value="WEB" selected>"#), "the project preselected");
    assert!(!form.body.contains(r#"<option value="OPS""#), "a viewer of OPS may not file there");
    assert!(form.body.contains(r#"<select id="assignee_id" name="assignee_id""#), "{}", form.body);
    assert!(form.body.contains(&format!(r#"<option value="{}">rita (rita)</option>"#, rita.user_id)));
    let created = developer
        .submit(
            "/items/new",
            &[("project", "WEB"), ("title", "Assigned from the start"), ("assignee_id", &rita.user_id.to_string())],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let item =
        app.admin.get(&format!("/api/v1/items/{}", created.location().unwrap().trim_start_matches("/items/"))).await;
    assert_eq!(item.body["assignee"]["login"], "rita");
    let outsider =
        developer.submit("/items/new", &[("project", "WEB"), ("title", "To a stranger"), ("assignee_id", "1")]).await;
    assert_eq!(outsider.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(outsider.body.contains("assignee-error"), "{}", outsider.body);

    let reporter = WebClient::sign_in(&app.address, "rita", USER_PASSWORD).await;
    let form = reporter.get("/items/new?project=WEB").await;
    assert!(!form.body.contains("assignee_id"), "reporters do not assign");

    // The bare form: Show (the script, on choosing) draws it again for the project chosen,
    // with its people to assign and what was typed, and creates nothing.
    let bare = developer.get("/items/new").await;
    assert!(!bare.body.contains(r#"<select id="assignee_id""#) && bare.body.contains(r#"name="redraw""#));
    let items = app.count_rows("items");
    let fields = [("project", "WEB"), ("title", "Typed first"), ("redraw", "yes")];
    let redrawn = developer.submit("/items/new", &fields).await;
    assert_eq!(redrawn.status, StatusCode::OK, "{}", redrawn.body);
    assert!(redrawn.body.contains(r#"<select id="assignee_id""#) && redrawn.body.contains(r#"value="Typed first""#));
    assert_eq!(app.count_rows("items"), items, "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_new_items_show_messages_next_to_the_fields() {
    let (_app, admin) = app_with_project().await;
    let empty_title = admin.submit("/items/new", &[("project", "WEB"), ("title", "  "), ("description", "kept")]).await;
    assert_eq!(empty_title.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty_title.body.contains("id=\"title-error\" class=\"field-error\">must not be empty"),
        "{}",
        empty_title.body
    );
    assert!(empty_title.body.contains(">kept</textarea>"), "the description is kept");
    let bad_date = admin.submit("/items/new", &[("project", "WEB"), ("title", "x"), ("due_date", "tomorrow")]).await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_date.body.contains("id=\"due-error\""));
    let no_project = admin.submit("/items/new", &[("project", "NOPE"), ("title", "x")]).await;
    assert_eq!(no_project.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_project.body.contains("id=\"project-error\""));
    let garbage = admin.submit("/items/new", &[("project", "WEB"), ("title", "x"), ("type_id", "abc")]).await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
}

// The list's queries (title filter with LIKE escapes, sorting, counting) differ per backend.
crate::on_both_backends!(the_item_list_filters_sorts_and_pages_through_the_url);

async fn the_item_list_filters_sorts_and_pages_through_the_url(backend: Backend) {
    let (app, admin) = app_with_project_on(backend).await;
    for number in 0..30 {
        app.admin.create_item("WEB", &format!("Widget {number:02}")).await;
    }
    app.admin.create_item("WEB", "Gadget 100% done").await;
    let first = admin.get("/items?project=WEB&sort=title").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("31 items"));
    assert!(first.body.contains("Page 1 of 2"));
    assert!(first.body.contains("href=\"/items?project=WEB&#38;sort=title&#38;page=2\""), "{}", first.body);
    assert!(first.body.contains("href=\"/items?project=WEB&#38;sort=-title\""), "the sorted column reverses");
    assert!(first.body.find("Gadget").unwrap() < first.body.find("Widget 00").unwrap());
    let second = admin.get("/items?project=WEB&sort=title&page=2").await;
    assert!(second.body.contains("Widget 29") && !second.body.contains("Widget 00"));
    let text = admin.get("/items?text=100%25").await;
    assert!(text.body.contains("1 item.") && text.body.contains("Gadget"), "{}", text.body);
    let wildcard = admin.get("/items?text=_").await;
    assert!(wildcard.body.contains("0 items"), "an underscore is literal");
    let mine = admin.get("/items?assignee=me&state=open").await;
    assert!(mine.body.contains("0 items"));
    let bad = admin.get("/items?page=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.header("content-type").starts_with("text/html"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_show_their_problems_next_to_the_file_field() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| settings.limits.max_attachment_size = 64).await;
    app.create_project("WEB", false).await;
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let item = app.admin.create_item("WEB", "Files").await;
    let path = format!("/items/{}/attachments", item["id"]);
    let token = admin.csrf_token().await;
    let too_large = admin.upload(&path, &[("csrf_token", &token)], "big.bin", vec![7; 1000]).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(too_large.body.contains("larger than the attachment limit"), "{}", too_large.body);
    let no_name = admin.upload(&path, &[("csrf_token", &token)], "", b"x".to_vec()).await;
    assert_eq!(no_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_name.body.contains("choose a file to upload"), "{}", no_name.body);
    assert_eq!(app.count_rows("attachments"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_results_highlight_matches_and_respect_permissions() {
    let (app, admin) = app_with_project().await;
    app.create_project("OPEN", true).await;
    let item = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "WEB", "title": "Flamingo migration", "description": "The pink flamingo <b>stands</b>."}),
        )
        .await
        .body;
    let id = item["id"].as_i64().unwrap();
    app.create_user("sam").await;
    app.index_now().await;
    let page = wait_until("the search page finding it", std::time::Duration::from_secs(10), async || {
        let page = admin.get("/search?q=flamingo").await;
        assert_eq!(page.status, StatusCode::OK);
        if page.body.contains("1 result.") { ControlFlow::Break(page) } else { ControlFlow::Continue(page.body) }
    })
    .await;
    assert!(page.body.contains(&format!("href=\"/items/{id}\"")));
    assert!(page.body.contains("<b>Flamingo</b> migration"), "{}", page.body);
    assert!(page.body.contains("&lt;b&gt;stands"), "item text in snippets stays escaped: {}", page.body);
    assert!(page.body.contains("value=\"flamingo\""), "the search box keeps the query");
    let filtered = admin.get("/search?q=flamingo&project=OPEN").await;
    assert!(filtered.body.contains("0 results."), "{}", filtered.body);
    let by_number = admin.get(&format!("/search?q=%23{id}")).await;
    assert_eq!(by_number.status, StatusCode::SEE_OTHER);
    assert_eq!(by_number.location(), Some(format!("/items/{id}").as_str()));

    let outsider = WebClient::sign_in(&app.address, "sam", USER_PASSWORD).await;
    let hidden = outsider.get("/search?q=flamingo").await;
    assert!(hidden.body.contains("0 results."), "{}", hidden.body);
    assert_eq!(outsider.get(&format!("/search?q=%23{id}")).await.status, StatusCode::OK);
}
