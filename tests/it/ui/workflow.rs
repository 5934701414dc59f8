//! The workflow page: administrators add, change, move and delete entries and tick the
//! allowed moves with forms; refusals are shown on the page; forged posts change nothing.

use reqwest::StatusCode;

use super::{app_with_project, app_with_project_on};
use crate::support::Backend;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;

async fn status_names(app: &crate::support::TestApp) -> Vec<String> {
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    workflow["statuses"].as_array().unwrap().iter().map(|status| status["name"].as_str().unwrap().to_string()).collect()
}

crate::on_both_backends!(the_page_form_creates_a_status_and_a_post_without_the_token_is_refused);

async fn the_page_form_creates_a_status_and_a_post_without_the_token_is_refused(backend: Backend) {
    let (app, admin) = app_with_project_on(backend).await;
    let page = admin.get("/admin/workflow").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("New items start in the first status"), "{}", page.body);
    assert!(page.body.contains("<span id=\"initial-status\">New</span>"), "{}", page.body);
    assert!(page.body.contains("<label for=\"statuses-new-name\">New status</label>"));

    let forged = admin.post_form("/admin/workflow/statuses", &[("name", "Forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("security token"), "{}", forged.body);
    let wrong =
        admin.post_form("/admin/workflow/statuses", &[("csrf_token", "0123456789abcdef"), ("name", "Forged")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(status_names(&app).await.len(), 5, "nothing was created");

    let created = admin.submit("/admin/workflow/statuses", &[("name", "  Waiting  "), ("is_closed", "on")]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.location().unwrap().to_string();
    assert!(location.starts_with("/admin/workflow?done=created&list=statuses&id="), "{location}");
    let shown = admin.get(&location).await;
    assert!(shown.body.contains("The status Waiting was added."), "{}", shown.body);
    assert!(shown.body.contains("data-entry=\"Waiting\""));
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    let waiting = workflow["statuses"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((waiting["name"].as_str(), waiting["is_closed"].as_bool()), (Some("Waiting"), Some(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_rename_move_close_and_delete_from_the_page_and_see_refusals() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Keeps its status").await;

    let renamed = admin.submit("/admin/workflow/statuses/3", &[("name", "Done"), ("is_closed", "on")]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    assert_eq!(renamed.location(), Some("/admin/workflow?done=saved&list=statuses&id=3"));
    assert!(admin.get(renamed.location().unwrap()).await.body.contains("The status Done was saved."));
    let reopened = admin.submit("/admin/workflow/statuses/3", &[("name", "Done")]).await;
    assert_eq!(reopened.status, StatusCode::SEE_OTHER);
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    assert_eq!(workflow["statuses"][2]["is_closed"], false, "an unticked box opens the status: {workflow}");

    let moved = admin.submit("/admin/workflow/statuses/3", &[("position", "1")]).await;
    assert_eq!(moved.location(), Some("/admin/workflow?done=moved&list=statuses&id=3"));
    assert_eq!(status_names(&app).await, ["Done", "New", "In progress", "Closed", "Rejected"]);
    let page = admin.get("/admin/workflow").await;
    assert!(page.body.contains("<span id=\"initial-status\">Done</span>"), "{}", page.body);
    assert!(page.body.contains("aria-label=\"Move New up\"") && !page.body.contains("aria-label=\"Move Done up\""));
    let new_row = &page.body[page.body.find("data-entry=\"New\"").unwrap()..];
    let new_row = &new_row[..new_row.find("</tr>").unwrap()];
    assert!(new_row.contains("<td class=\"num\">1</td>"), "the row counts the item in New: {new_row}");

    let duplicate = admin.submit("/admin/workflow/types", &[("name", "feature")]).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert!(duplicate.body.contains("class=\"field-error\"") && duplicate.body.contains("aria-invalid=\"true\""));
    assert!(duplicate.body.contains("value=\"feature\""), "the entered name is kept");
    assert!(duplicate.body.contains("role=\"alert\""), "{}", duplicate.body);
    let clash = admin.submit("/admin/workflow/statuses/1", &[("name", "done")]).await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert!(
        clash.body.contains(
            "id=\"statuses-1-name\" name=\"name\" value=\"done\" maxlength=\"60\" size=\"14\" required aria-invalid=\"true\" aria-describedby=\"statuses-1-name-error\""
        ),
        "the refused rename keeps the typed name in its row: {}",
        clash.body
    );
    assert!(clash.body.contains("<span id=\"statuses-1-name-error\" class=\"field-error\">"));
    assert!(clash.body.contains("value=\"In progress\""), "other rows show their names");
    let empty = admin.submit("/admin/workflow/priorities", &[("name", " ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("must not be empty"));
    let in_use = admin.submit("/admin/workflow/statuses/1/delete", &[]).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(in_use.body.contains("1 item has the status &#34;New&#34;; move it"), "{}", in_use.body);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{}", item["id"])).await.body["status"]["name"], "New");
    let deleted = admin.submit("/admin/workflow/types/4/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.location(), Some("/admin/workflow?done=deleted&list=types"));
    assert!(admin.get(deleted.location().unwrap()).await.body.contains("The item type was deleted."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_types_own_moves_are_ticked_on_the_page_and_it_can_follow_the_global_ones_again() {
    let (app, admin) = app_with_project().await;
    let page = admin.get("/admin/workflow?type=3").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-current=\"page\">Task"), "the Task matrix is the one shown");
    assert!(page.body.contains("Task items follow the global moves, shown here"), "{}", page.body);
    assert!(page.body.contains("name=\"move\" value=\"1-2\" checked"), "the global moves, to start from");
    assert!(page.body.contains("<input type=\"hidden\" name=\"matrix\" value=\"3\">"));
    assert!(!page.body.contains("Follow the global moves again"));

    let mut fields: Vec<(&str, &str)> = ["1", "2", "3", "4", "5"].iter().map(|id| ("status", *id)).collect();
    fields.extend([("matrix", "3"), ("move", "1-4")]);
    let saved = admin.submit("/admin/workflow/transitions", &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let shown = admin.get(saved.location().unwrap()).await;
    assert!(shown.body.contains("The allowed moves of Task items were saved."), "{}", shown.body);
    assert!(shown.body.contains("Task items have their own moves."));
    assert!(shown.body.contains("Task <span class=\"hint\">(own moves)</span>"));
    let workflow = app.admin.get("/api/v1/workflow").await.body;
    assert_eq!(workflow["type_transitions"], serde_json::json!([{"type": 3, "from": 1, "to": 4}]));
    assert_eq!(workflow["transitions"].as_array().unwrap().len(), 10, "the global matrix is untouched");
    let global_page = admin.get("/admin/workflow").await;
    assert!(global_page.body.contains("name=\"move\" value=\"1-2\" checked"));

    // A refused save shows the matrix it was for again, not the global one.
    let mut to_itself = fields.clone();
    to_itself.push(("move", "2-2"));
    let refused = admin.submit("/admin/workflow/transitions", &to_itself).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("aria-current=\"page\">Task"), "{}", refused.body);
    assert!(refused.body.contains("<input type=\"hidden\" name=\"matrix\" value=\"3\">"));

    let followed = admin.submit("/admin/workflow/transitions", &[("matrix", "3"), ("follow_global", "yes")]).await;
    assert_eq!(followed.status, StatusCode::SEE_OTHER, "{}", followed.body);
    assert!(admin.get(followed.location().unwrap()).await.body.contains("Task items follow the global moves again."));
    assert_eq!(app.count_rows("type_transitions"), 0);

    assert_eq!(admin.get("/admin/workflow?type=4242").await.status, StatusCode::NOT_FOUND);
    let bad = admin.submit("/admin/workflow/transitions", &[("matrix", "Task"), ("status", "1")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not an item type id"), "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_choose_their_projects_item_types_on_the_settings_page() {
    let (app, _admin) = app_with_project().await;
    let manager = app.create_user("mia").await;
    app.add_member("WEB", &manager, "manager").await;
    let mia = WebClient::sign_in(&app.address, "mia", USER_PASSWORD).await;
    let page = mia.get("/projects/WEB/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<input type=\"checkbox\" name=\"all\" checked>"), "every type at first");

    let saved = mia.submit("/projects/WEB/types", &[("type", "3"), ("type", "1")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let shown = mia.get(saved.location().unwrap()).await;
    assert!(shown.body.contains("The item types were saved."), "{}", shown.body);
    assert!(shown.body.contains("name=\"type\" value=\"3\" checked"));
    assert!(!shown.body.contains("name=\"type\" value=\"2\" checked"));
    let new_item = mia.get("/items/new?project=WEB").await;
    assert!(new_item.body.contains("<option value=\"1\">Bug</option>"), "{}", new_item.body);
    assert!(!new_item.body.contains(">Feature</option>"), "only the project's types are offered");

    let none = mia.submit("/projects/WEB/types", &[]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("at least one item type"), "{}", none.body);
    let every = mia.submit("/projects/WEB/types", &[("all", "on"), ("type", "3")]).await;
    assert_eq!(every.status, StatusCode::SEE_OTHER);
    assert_eq!(app.admin.get("/api/v1/projects/WEB/types").await.body["all"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transition_matrix_is_saved_with_one_submit() {
    let (app, admin) = app_with_project().await;
    let page = admin.get("/admin/workflow").await;
    assert!(page.body.contains("name=\"move\" value=\"1-2\" checked"), "New → In progress is ticked");
    assert!(page.body.contains("name=\"move\" value=\"1-4\">"), "New → Closed is not");
    assert!(!page.body.contains("value=\"1-1\""), "no move from a status to itself");
    assert!(page.body.contains("<label for=\"move-1-4\" class=\"visually-hidden\">Allow New → Closed</label>"));

    let mut fields: Vec<(&str, &str)> = ["1", "2", "3", "4", "5"].iter().map(|id| ("status", *id)).collect();
    fields.extend([("move", "1-4"), ("move", "4-1")]);
    let saved = admin.submit("/admin/workflow/transitions", &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(admin.get(saved.location().unwrap()).await.body.contains("The allowed moves were saved."));
    let transitions = app.admin.get("/api/v1/workflow").await.body["transitions"].clone();
    let mut pairs: Vec<(i64, i64)> = transitions
        .as_array()
        .unwrap()
        .iter()
        .map(|move_| (move_["from"].as_i64().unwrap(), move_["to"].as_i64().unwrap()))
        .collect();
    pairs.sort();
    assert_eq!(pairs, [(1, 4), (4, 1)]);

    let to_itself =
        admin.submit("/admin/workflow/transitions", &[("status", "1"), ("status", "2"), ("move", "2-2")]).await;
    assert_eq!(to_itself.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(to_itself.body.contains("cannot move to itself"), "{}", to_itself.body);
    // A status added after the page was loaded keeps its moves.
    let late = app.admin.post("/api/v1/workflow/statuses", serde_json::json!({"name": "Late"})).await.body;
    let late_id = late["id"].as_i64().unwrap();
    let kept = app
        .admin
        .put(&format!("/api/v1/workflow/statuses/{late_id}/transitions"), serde_json::json!({"to": [1]}))
        .await;
    assert_eq!(kept.status, StatusCode::OK);
    admin.submit("/admin/workflow/transitions", &fields[..5]).await;
    let transitions = app.admin.get("/api/v1/workflow").await.body["transitions"].clone();
    assert_eq!(transitions, serde_json::json!([{"from": late_id, "to": 1}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_page_and_its_forms_are_for_administrators_only() {
    let (app, _admin) = app_with_project().await;
    app.create_user("ursula").await;
    let user = WebClient::sign_in(&app.address, "ursula", USER_PASSWORD).await;
    assert_eq!(user.get("/admin/workflow").await.status, StatusCode::FORBIDDEN);
    for (path, fields) in [
        ("/admin/workflow/statuses", vec![("name", "Mine")]),
        ("/admin/workflow/statuses/1", vec![("name", "Mine")]),
        ("/admin/workflow/statuses/1/delete", vec![]),
        ("/admin/workflow/transitions", vec![("status", "1"), ("status", "2")]),
    ] {
        assert_eq!(user.submit(path, &fields).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(status_names(&app).await, ["New", "In progress", "Resolved", "Closed", "Rejected"]);
    assert_eq!(app.admin.get("/api/v1/workflow").await.body["transitions"].as_array().unwrap().len(), 10);
}
