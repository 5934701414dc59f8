//! Fields changed where the item page shows them, without the script: each is a form of its
//! own that changes that field only; a change of the same field meanwhile is explained with
//! "keep theirs" and "apply mine"; the page then says what changed and offers to undo it.

use reqwest::StatusCode;
use serde_json::json;

use super::app_with_project;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::browser::Browser;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

/// The page after a redirect: the same client follows `location`.
async fn follow(client: &WebClient, page: &crate::support::web::Page) -> crate::support::web::Page {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    client.get(page.location().expect("a redirect")).await
}

/// The hidden inputs and the button of the first form on the page whose submit button has `id`.
fn form_with_button(body: &str, id: &str) -> Vec<(String, String)> {
    let button = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}: {body}"));
    let start = body[..button].rfind("<form").unwrap();
    let form = &body[start..button];
    let mut inputs = Vec::new();
    for piece in form.split("<input type=\"hidden\" ").skip(1) {
        let value_of = |attribute: &str| {
            let marker = format!("{attribute}=\"");
            let from = piece.find(&marker).unwrap() + marker.len();
            let to = piece[from..].find('"').unwrap() + from;
            piece[from..to].replace("&#x20;", " ").replace("&amp;", "&")
        };
        inputs.push((value_of("name"), value_of("value")));
    }
    inputs
}

async fn submit_pairs(client: &WebClient, path: &str, pairs: &[(String, String)]) -> crate::support::web::Page {
    let borrowed: Vec<(&str, &str)> =
        pairs.iter().filter(|(name, _)| name != "csrf_token").map(|(n, v)| (n.as_str(), v.as_str())).collect();
    client.submit(path, &borrowed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_set_in_place_keeps_other_changes_explains_a_collision_and_can_be_undone() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Checkout button").await;
    let id = item["id"].as_i64().unwrap();
    let field = format!("/items/{id}/field");
    let page = admin.get(&format!("/items/{id}")).await;
    for control in ["id=\"set-priority\"", "id=\"set-type\"", "id=\"set-assignee\"", "id=\"set-due_date\""] {
        assert!(page.body.contains(control), "{control} on the page");
    }
    assert!(page.body.contains(r#"<input type="hidden" name="field" value="priority">"#));

    // Someone else renames the item after the page was shown: setting the priority keeps it.
    let renamed = app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "title": "Checkout"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let set = admin.submit(&field, &[("field", "priority"), ("seen", "Normal"), ("value", "3")]).await;
    assert_eq!(set.location(), Some(format!("/items/{id}?changed=priority&undo=2").as_str()));
    let after = follow(&admin, &set).await;
    assert!(after.body.contains("Priority changed from Normal to High."), "{}", after.body);
    let now = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!((now["title"].as_str(), now["priority"]["name"].as_str()), (Some("Checkout"), Some("High")));

    // Undo puts Normal back, guarded like any field edit.
    let undo = form_with_button(&after.body, "undo-button");
    assert!(undo.contains(&("seen".into(), "High".into())) && undo.contains(&("value".into(), "2".into())), "{undo:?}");
    let undone = follow(&admin, &submit_pairs(&admin, &field, &undo).await).await;
    assert!(undone.body.contains("Priority changed from High to Normal."), "{}", undone.body);
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["priority"]["name"], "Normal");

    // The same value again changes nothing and says so.
    let same = admin.submit(&field, &[("field", "priority"), ("seen", "Normal"), ("value", "2")]).await;
    assert_eq!(same.location(), Some(format!("/items/{id}?changed=priority").as_str()));
    assert!(follow(&admin, &same).await.body.contains("Priority is Normal already: nothing changed."));

    // Dana sets the priority to Low after the admin's page showed Normal: the admin's choice
    // of Urgent is not applied over it; the page says who changed what, and offers both ways.
    let dana = app.create_user("dana").await;
    app.add_member("WEB", &dana, "developer").await;
    let version = app.admin.get(&format!("/api/v1/items/{id}")).await.body["version"].clone();
    let theirs = dana.patch(&format!("/api/v1/items/{id}"), json!({"version": version, "priority_id": 1})).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    let clash = admin.submit(&field, &[("field", "priority"), ("seen", "Normal"), ("value", "4")]).await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert!(clash.body.contains("Priority was changed while you looked"), "{}", clash.body);
    assert!(clash.body.contains("dana changed Priority from Normal to Low"), "{}", clash.body);
    assert!(clash.body.contains("You chose Urgent."), "{}", clash.body);
    assert!(clash.body.contains("Keep theirs: Low") && clash.body.contains("Apply mine: Urgent"));
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["priority"]["name"], "Low");
    let mine = form_with_button(&clash.body, "apply-mine");
    assert!(mine.contains(&("seen".into(), "Low".into())), "{mine:?}");
    follow(&admin, &submit_pairs(&admin, &field, &mine).await).await;
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["priority"]["name"], "Urgent");

    // Assignee and due date in place; a bad date is refused next to its field.
    let assigned =
        admin.submit(&field, &[("field", "assignee"), ("seen", ""), ("value", &dana.user_id.to_string())]).await;
    assert!(follow(&admin, &assigned).await.body.contains("Assignee changed from none to dana."));
    let unassigned = admin.submit(&field, &[("field", "assignee"), ("seen", "dana"), ("value", "")]).await;
    assert!(follow(&admin, &unassigned).await.body.contains("Assignee changed from dana to none."));
    let bad = admin.submit(&field, &[("field", "due_date"), ("seen", ""), ("value", "soon")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Due date not changed: must be a date like 2026-12-31"), "{}", bad.body);
    let dated = admin.submit(&field, &[("field", "due_date"), ("seen", ""), ("value", "2027-01-15")]).await;
    assert!(follow(&admin, &dated).await.body.contains("Due date changed from none to 2027-01-15."));

    // A field the item does not have is refused by name.
    let unknown = admin.submit(&field, &[("field", "colour"), ("seen", ""), ("value", "red")]).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body.contains("has no field") && unknown.body.contains("colour"), "{}", unknown.body);

    // A viewer gets no in-place forms, and a forged one is refused.
    let vera = app.create_user("vera").await;
    app.add_member("WEB", &vera, "viewer").await;
    let viewer = WebClient::sign_in(&app.address, "vera", USER_PASSWORD).await;
    assert!(!viewer.get(&format!("/items/{id}")).await.body.contains("id=\"set-priority\""));
    let forged = viewer.submit(&field, &[("field", "priority"), ("seen", "Urgent"), ("value", "1")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

/// The notice at the top of the page after an action.
fn said(page: &crate::support::web::Page) -> String {
    let start = page.body.find("id=\"notice\"").map(|at| at + "id=\"notice\"><span>".len());
    let text = start.and_then(|start| page.body[start..].split("</span>").next());
    text.unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_on_the_item_page_says_what_it_did_and_offers_undo_where_cheap() {
    let (app, admin) = app_with_project().await;
    let item = app.admin.create_item("WEB", "Slow search").await;
    let other = app.admin.create_item("WEB", "Index size").await;
    let id = item["id"].as_i64().unwrap();
    let label = app.admin.post("/api/v1/projects/WEB/labels", json!({"name": "perf", "color": "#3b82f6"})).await.body;
    let label_id = label["id"].to_string();

    let saved =
        admin.submit(&format!("/items/{id}/edit"), &[("version", "1"), ("title", "Slow search on big projects")]).await;
    assert_eq!(said(&follow(&admin, &saved).await), "Your changes were saved.");

    // The admin reported it, so watches it: unwatching says so, and Undo watches again.
    let unwatched = follow(&admin, &admin.submit(&format!("/items/{id}/unwatch"), &[]).await).await;
    assert_eq!(said(&unwatched), "You no longer watch this item.");
    let rewatched = follow(&admin, &submit_pairs(&admin, &action_of(&unwatched.body), &[]).await).await;
    assert_eq!(said(&rewatched), "You watch this item now: you will be told of its changes.");
    assert!(rewatched.body.contains(">Unwatch<"));

    let added = follow(&admin, &admin.submit(&format!("/items/{id}/labels"), &[("label", &label_id)]).await).await;
    assert_eq!(said(&added), "Label perf added.");
    let taken_off = follow(&admin, &submit_pairs(&admin, &action_of(&added.body), &[]).await).await;
    assert_eq!(said(&taken_off), "Label perf taken off.");
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["labels"], json!([]));
    let again = form_with_button(&taken_off.body, "undo-button");
    let put_back = follow(&admin, &submit_pairs(&admin, &action_of(&taken_off.body), &again).await).await;
    assert_eq!(said(&put_back), "Label perf added.");

    let target = other["key"].as_str().unwrap();
    let linked =
        follow(&admin, &admin.submit(&format!("/items/{id}/links"), &[("kind", "relates"), ("target", target)]).await)
            .await;
    assert_eq!(said(&linked), "Link added.");
    let unlinked = follow(&admin, &submit_pairs(&admin, &action_of(&linked.body), &[]).await).await;
    assert_eq!(said(&unlinked), "Link removed.");
    assert!(!unlinked.body.contains("id=\"undo-button\""), "a removed link is not put back by Undo");
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}/links")).await.body["links"], json!([]));

    let token = admin.csrf_token().await;
    let uploaded = admin
        .upload(&format!("/items/{id}/attachments"), &[("csrf_token", &token)], "trace.txt", b"slow".to_vec())
        .await;
    assert_eq!(said(&follow(&admin, &uploaded).await), "Attachment added.");

    // A status move is undone only where the workflow lets the item go back: New → Resolved
    // has no way back; Resolved → In progress has.
    let field = format!("/items/{id}/field");
    let resolved =
        follow(&admin, &admin.submit(&field, &[("field", "status"), ("seen", "New"), ("value", "3")]).await).await;
    assert_eq!(said(&resolved), "Status changed from New to Resolved.");
    assert!(!resolved.body.contains("id=\"undo-button\""), "no Undo the workflow would refuse");
    let reopened =
        follow(&admin, &admin.submit(&field, &[("field", "status"), ("seen", "Resolved"), ("value", "2")]).await).await;
    assert_eq!(said(&reopened), "Status changed from Resolved to In progress.");
    let back =
        follow(&admin, &submit_pairs(&admin, &field, &form_with_button(&reopened.body, "undo-button")).await).await;
    assert_eq!(said(&back), "Status changed from In progress to Resolved.");

    // Comments: added, saved after an edit, deleted (after the confirmation).
    let commented = admin.submit(&format!("/items/{id}/comments"), &[("body", "Seen on staging too.")]).await;
    let comment = commented.location().and_then(|to| to.rsplit("#comment-").next()).unwrap().to_string();
    assert_eq!(said(&follow(&admin, &commented).await), "Comment added.");
    let edited = admin.submit(&format!("/comments/{comment}/edit"), &[("body", "Seen on staging and live.")]).await;
    assert_eq!(said(&follow(&admin, &edited).await), "Comment saved.");
    let deleted = admin.submit(&format!("/comments/{comment}/delete"), &[("confirm", "yes")]).await;
    assert_eq!(said(&follow(&admin, &deleted).await), "Comment deleted.");

    // Filing and copying say what was made.
    let filed = admin.submit("/items/new", &[("project", "WEB"), ("title", "Search times out")]).await;
    let filed = follow(&admin, &filed).await;
    assert_eq!(said(&filed), "WEB-3 created.");
    let copied = admin.submit(&format!("/items/{id}/copy"), &[("project", "WEB")]).await;
    assert_eq!(said(&follow(&admin, &copied).await), "This is the copy, WEB-4: change what differs.");
    // Words in the query that name nothing say nothing.
    assert_eq!(said(&admin.get(&format!("/items/{id}?done=bogus&label=x")).await), "");
}

/// Where the Undo button's form posts.
fn action_of(body: &str) -> String {
    let button = body.find("id=\"undo-button\"").unwrap_or_else(|| panic!("no undo: {body}"));
    let start = body[..button].rfind("action=\"").unwrap() + "action=\"".len();
    body[start..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_are_set_in_place_and_undone() {
    let (app, admin) = app_with_project().await;
    for definition in [
        json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "major", "critical"]}),
        json!({"key": "customer", "name": "Customer", "type": "text"}),
        json!({"key": "notes", "name": "Notes", "type": "long_text"}),
    ] {
        let created = app.admin.post("/api/v1/fields", definition).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let item = app.admin.create_item("WEB", "Refund fails").await;
    let id = item["id"].as_i64().unwrap();
    let field = format!("/items/{id}/field");
    let page = admin.get(&format!("/items/{id}")).await;
    assert!(page.body.contains("id=\"set-severity\"") && page.body.contains("id=\"set-customer\""));

    let set = admin.submit(&field, &[("field", "severity"), ("seen", ""), ("field.severity", "major")]).await;
    let after = follow(&admin, &set).await;
    assert!(after.body.contains("Severity changed from none to major."), "{}", after.body);
    let named = admin.submit(&field, &[("field", "customer"), ("seen", ""), ("field.customer", "ACME")]).await;
    follow(&admin, &named).await;
    let now = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(now["fields"]["severity"], "major");
    assert_eq!(now["fields"]["customer"], "ACME");

    let after = admin.get(&format!("/items/{id}?changed=severity&undo=")).await;
    let undo = form_with_button(&after.body, "undo-button");
    assert!(undo.contains(&("field.severity".into(), String::new())), "{undo:?}");
    follow(&admin, &submit_pairs(&admin, &field, &undo).await).await;
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["fields"]["severity"], json!(null));

    // A person chosen in a user field is named by login in a collision.
    let reviewers = [app.create_user("dana").await, app.create_user("eve").await];
    for reviewer in &reviewers {
        app.add_member("WEB", reviewer, "developer").await;
    }
    let reviewer = json!({"key": "reviewer", "name": "Reviewer", "type": "user"});
    assert_eq!(app.admin.post("/api/v1/fields", reviewer).await.status, StatusCode::CREATED);
    let version = app.admin.get(&format!("/api/v1/items/{id}")).await.body["version"].clone();
    let theirs = json!({"version": version, "fields": {"reviewer": reviewers[0].user_id}});
    assert_eq!(app.admin.patch(&format!("/api/v1/items/{id}"), theirs).await.status, StatusCode::OK);
    let eve = reviewers[1].user_id.to_string();
    let clash = admin.submit(&field, &[("field", "reviewer"), ("seen", ""), ("field.reviewer", &eve)]).await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert!(clash.body.contains("You chose eve."), "{}", clash.body);

    let refused = admin.submit(&field, &[("field", "severity"), ("seen", ""), ("field.severity", "huge")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("Severity not changed"), "{}", refused.body);
}

/// The value of the input with this id on a page.
fn input_value(body: &str, id: &str) -> String {
    let at = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}: {body}"));
    let tag = &body[at..at + body[at..].find('>').unwrap()];
    let from = tag.find("value=\"").expect("a value") + "value=\"".len();
    tag[from..].split('"').next().unwrap().replace("&#x20;", " ").replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_several_choices_and_urls_open_to_be_changed_in_place() {
    let (app, admin) = app_with_project().await;
    for definition in [
        json!({"key": "notes", "name": "Notes", "type": "long_text"}),
        json!({"key": "platforms", "name": "Platforms", "type": "multi_choice", "choices": ["web", "ios", "android"]}),
        json!({"key": "docs", "name": "Docs", "type": "url"}),
    ] {
        let created = app.admin.post("/api/v1/fields", definition).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let item = app.admin.create_item("WEB", "Refund fails").await;
    let id = item["id"].as_i64().unwrap();
    let (field, api) = (format!("/items/{id}/field"), format!("/api/v1/items/{id}"));
    let page = admin.get(&format!("/items/{id}")).await;
    for key in ["notes", "platforms", "docs"] {
        let control = page.body.find(&format!("id=\"set-{key}\"")).unwrap_or_else(|| panic!("no {key}: {}", page.body));
        let opener = page.body[..control].rfind("<details class=\"change\"").expect("inside a Change panel");
        assert!(!page.body[opener..control].contains("</details>"), "{key} opens to be changed");
    }

    // Several choices: the ticked boxes, with the marker that lets unticking all clear it.
    let ticked = [("field", "platforms"), ("seen", ""), ("field.platforms", ""), ("field.platforms", "web")];
    let both = [ticked.as_slice(), &[("field.platforms", "ios")]].concat();
    let after = follow(&admin, &admin.submit(&field, &both).await).await;
    assert!(after.body.contains("Platforms changed from none to web, ios."), "{}", after.body);
    assert_eq!(app.admin.get(&api).await.body["fields"]["platforms"], json!(["web", "ios"]));
    let cleared = [("field", "platforms"), ("seen", "web, ios"), ("field.platforms", "")];
    let after = follow(&admin, &admin.submit(&field, &cleared).await).await;
    assert!(after.body.contains("Platforms changed from web, ios to none."), "{}", after.body);
    let undo = form_with_button(&after.body, "undo-button");
    assert!(
        undo.contains(&("field.platforms".into(), "web".into()))
            && undo.contains(&("field.platforms".into(), "ios".into()))
    );
    follow(&admin, &submit_pairs(&admin, &field, &undo).await).await;
    assert_eq!(app.admin.get(&api).await.body["fields"]["platforms"], json!(["web", "ios"]));

    // A long text: told without quoting it; a browser's CRLF in what the page showed is the
    // stored text's LF; undo takes the earlier text from the history, not from the address.
    let first = [("field", "notes"), ("seen", ""), ("field.notes", "Seen on **web**\r\nnot on ios")];
    let set = admin.submit(&field, &first).await;
    assert!(set.location().is_some_and(|to| to.len() < 80), "{:?}", set.location());
    let after = follow(&admin, &set).await;
    assert!(after.body.contains("Notes changed."), "{}", after.body);
    assert!(after.body.contains("<strong>web</strong>"), "the text is shown rendered");
    assert_eq!(app.admin.get(&api).await.body["fields"]["notes"], "Seen on **web**\nnot on ios");
    let second = [("field", "notes"), ("seen", "Seen on **web**\r\nnot on ios"), ("field.notes", "Also on android")];
    let after = follow(&admin, &admin.submit(&field, &second).await).await;
    assert!(after.body.contains("Notes changed."), "{}", after.body);
    let undo = form_with_button(&after.body, "undo-button");
    assert!(undo.contains(&("field.notes".into(), "Seen on **web**\nnot on ios".into())), "{undo:?}");
    follow(&admin, &submit_pairs(&admin, &field, &undo).await).await;
    assert_eq!(app.admin.get(&api).await.body["fields"]["notes"], "Seen on **web**\nnot on ios");

    // Someone else's text meanwhile: both texts whole, and mine applied over theirs.
    let version = app.admin.get(&api).await.body["version"].clone();
    let theirs = json!({"version": version, "fields": {"notes": "Their notes"}});
    assert_eq!(app.admin.patch(&api, theirs).await.status, StatusCode::OK);
    let mine = [("field", "notes"), ("seen", "Seen on **web**\nnot on ios"), ("field.notes", "My notes")];
    let clash = admin.submit(&field, &mine).await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert!(clash.body.contains("<h3>Theirs</h3><p class=\"text-whole\">Their notes</p>"), "{}", clash.body);
    assert!(clash.body.contains("<h3>Yours</h3><p class=\"text-whole\">My notes</p>"), "{}", clash.body);
    let apply = form_with_button(&clash.body, "apply-mine");
    follow(&admin, &submit_pairs(&admin, &field, &apply).await).await;
    assert_eq!(app.admin.get(&api).await.body["fields"]["notes"], "My notes");

    // A refused URL opens its panel again with what was typed.
    let refused = admin.submit(&field, &[("field", "docs"), ("seen", ""), ("field.docs", "docs.example")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("Docs not changed"), "{}", refused.body);
    assert_eq!(input_value(&refused.body, "set-docs"), "docs.example");
    let panel = refused.body.find("id=\"set-docs\"").unwrap();
    assert!(
        refused.body[..panel]
            .rfind("<details class=\"change\" open>")
            .is_some_and(|at| !refused.body[at..panel].contains("</details>"))
    );
    let url = [("field", "docs"), ("seen", ""), ("field.docs", "https://docs.example/refunds")];
    let after = follow(&admin, &admin.submit(&field, &url).await).await;
    assert!(after.body.contains("Docs changed from none to https://docs.example/refunds."), "{}", after.body);
    assert!(after.body.contains("<a href=\"https://docs.example/refunds\" rel=\"noopener noreferrer nofollow\">"));

    // A reader sees the values, not the forms.
    let reader = app.create_user("rita").await;
    app.add_member("WEB", &reader, "viewer").await;
    let reader = WebClient::sign_in(&app.address, "rita", USER_PASSWORD).await;
    let seen_by_reader = reader.get(&format!("/items/{id}")).await;
    assert!(seen_by_reader.body.contains("My notes") && seen_by_reader.body.contains("web, ios"));
    assert!(!seen_by_reader.body.contains("class=\"change\""), "no Change panel for a reader");
}

async fn item_page_in(browser: &Browser, app: &TestApp) -> String {
    app.create_project("WEB", false).await;
    let item = app.admin.create_item("WEB", "Flaky upload").await;
    let path = format!("/items/{}", item["id"]);
    browser.sign_in(&app.address, &path, "admin", ADMIN_PASSWORD).await;
    path
}

async fn notice(browser: &Browser) -> String {
    browser.evaluate::<Option<String>>("document.querySelector('#notice')?.textContent").await.unwrap_or_default()
}

async fn priority(app: &TestApp, path: &str) -> String {
    app.admin.get(&format!("/api/v1{path}")).await.body["priority"]["name"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_field_is_set_by_choosing_and_undone_with_the_script() {
    let Some(browser) = Browser::start("in-place field with script").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = item_page_in(&browser, &app).await;
    assert!(!browser.find("#set-priority + button").await.is_displayed().await.unwrap(), "no Set button");
    browser.evaluate::<bool>("(window.notReloaded = true)").await;
    browser.click("#set-priority option[value='3']").await;
    browser
        .wait_for("the change told", false, async |browser| notice(browser).await.contains("from Normal to High"))
        .await;
    assert!(browser.evaluate::<bool>("window.notReloaded === true").await, "the page was not reloaded");
    assert_eq!(browser.focused("id").await, "set-priority", "the list keeps the focus");
    assert_eq!(priority(&app, &path).await, "High");
    browser.click("#undo-button").await;
    browser
        .wait_for("the undo told", false, async |browser| notice(browser).await.contains("from High to Normal"))
        .await;
    assert_eq!(priority(&app, &path).await, "Normal");

    // Arrowing through a closed list sends nothing; Enter sends the choice once.
    browser.find("#set-priority").await.focus().await.unwrap();
    browser.press("\u{E015}\u{E015}").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(priority(&app, &path).await, "Normal", "nothing sent while arrowing");
    browser.press("\u{E007}").await;
    browser
        .wait_for("the choice sent", false, async |browser| notice(browser).await.contains("from Normal to Urgent"))
        .await;
    let history = app.admin.get(&format!("/api/v1{path}/history")).await.body;
    let priorities = history["history"].as_array().unwrap().iter().filter(|entry| entry["field"] == "priority").count();
    assert_eq!(priorities, 3, "High, Normal, Urgent: one change each, {history}");

    // Someone else sets it meanwhile: the page explains, and "apply mine" wins over theirs.
    let version = app.admin.get(&format!("/api/v1{path}")).await.body["version"].clone();
    app.admin.patch(&format!("/api/v1{path}"), json!({"version": version, "priority_id": 1})).await;
    browser.click("#set-priority option[value='3']").await;
    browser.wait_for("the collision explained", false, async |browser| browser.exists("#collision").await).await;
    let story = browser.text("#collision").await;
    assert!(
        story.contains("Administrator changed Priority from Urgent to Low") && story.contains("You chose High"),
        "{story}"
    );
    browser.click("#apply-mine").await;
    browser.wait_for("mine applied", false, async |browser| notice(browser).await.contains("from Low to High")).await;
    assert_eq!(priority(&app, &path).await, "High");

    // `a` goes to the assignee: typing picks the person, Enter sets it.
    let dana = app.create_user("dana").await;
    app.add_member("WEB", &dana, "developer").await;
    browser.goto(&format!("{}{path}", app.address)).await;
    browser.press("a").await;
    assert_eq!(browser.focused("id").await, "set-assignee");
    browser.press("dana").await;
    browser.press("\u{E007}").await;
    browser.wait_for("assigned", false, async |browser| notice(browser).await.contains("from none to dana")).await;
    let assignee = app.admin.get(&format!("/api/v1{path}")).await.body["assignee"]["login"].clone();
    assert_eq!(assignee, "dana");

    // A date shows its Set button once typed.
    assert!(!browser.find("#set-due_date + button").await.is_displayed().await.unwrap());
    browser.find("#set-due_date").await.send_keys("01152027").await.unwrap();
    assert!(browser.find("#set-due_date + button").await.is_displayed().await.unwrap(), "Set shown");
    browser.click("#set-due_date + button").await;
    browser.wait_for("dated", false, async |browser| notice(browser).await.contains("from none to 2027-01-15")).await;
    browser.click("#notice [data-dismiss]").await;
    assert!(!browser.exists("#notice").await, "the notice is dismissed");

    // `s` goes to the status moves; Enter moves the item, in place too.
    browser.evaluate::<bool>("(window.notReloaded = true)").await;
    browser.press("s").await;
    assert_eq!(browser.evaluate::<String>("document.activeElement.textContent").await, "In progress");
    browser.press("\u{E007}").await;
    browser.wait_for("moved", false, async |browser| notice(browser).await.contains("from New to In progress")).await;
    assert!(browser.evaluate::<bool>("window.notReloaded === true").await, "the page was not reloaded");
    assert_eq!(browser.text("#item-status").await, "In progress");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_several_choices_and_a_long_text_are_changed_from_their_panels() {
    let Some(browser) = Browser::start("in-place panels with script").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    for definition in [
        json!({"key": "notes", "name": "Notes", "type": "long_text"}),
        json!({"key": "platforms", "name": "Platforms", "type": "multi_choice", "choices": ["web", "ios", "android"]}),
    ] {
        assert_eq!(app.admin.post("/api/v1/fields", definition).await.status, StatusCode::CREATED);
    }
    let path = item_page_in(&browser, &app).await;
    browser.evaluate::<bool>("(window.notReloaded = true)").await;
    assert!(!browser.find("#set-platforms").await.is_displayed().await.unwrap(), "closed at first");
    browser.click("details:has(#set-platforms) > summary").await;
    browser
        .wait_for("the first box focused", false, async |browser| {
            browser.evaluate::<Option<String>>("document.activeElement.value").await.as_deref() == Some("web")
        })
        .await;
    browser.click("#set-platforms input[value='ios']").await;
    browser.click("details:has(#set-platforms) button[type=submit]").await;
    browser
        .wait_for("the choices told", false, async |browser| {
            notice(browser).await.contains("Platforms changed from none to ios.")
        })
        .await;
    assert!(browser.evaluate::<bool>("window.notReloaded === true").await, "the page was not reloaded");
    assert!(!browser.find("#set-platforms").await.is_displayed().await.unwrap(), "closed again");
    assert_eq!(app.admin.get(&format!("/api/v1{path}")).await.body["fields"]["platforms"], json!(["ios"]));

    // A long text: opened by its summary with the keyboard, sent with Ctrl+Enter.
    browser.find("details:has(#set-notes) > summary").await.focus().await.unwrap();
    browser.press("\u{E007}").await;
    browser.wait_for("the text focused", false, async |browser| browser.focused("id").await == "set-notes").await;
    browser.press("Seen on *web*").await;
    browser.press_with_control(thirtyfour::Key::Enter).await;
    browser.wait_for("the text told", false, async |browser| notice(browser).await.contains("Notes changed.")).await;
    assert_eq!(app.admin.get(&format!("/api/v1{path}")).await.body["fields"]["notes"], "Seen on *web*");
    assert!(!browser.find("#set-notes").await.is_displayed().await.unwrap(), "closed again");
    assert!(browser.exists(".custom-field.wide dd .markdown em").await, "the text is shown rendered");
    // Undo says the same words: what shows it is done is the text gone from the page.
    browser.click("#undo-button").await;
    browser
        .wait_for("the undo done", false, async |browser| !browser.exists(".custom-field.wide dd .markdown").await)
        .await;
    assert!(notice(&browser).await.contains("Notes changed."));
    assert_eq!(app.admin.get(&format!("/api/v1{path}")).await.body["fields"]["notes"], json!(null));
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_refusal_far_down_the_page_is_brought_into_view() {
    let Some(browser) = Browser::start("refusal into view").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_project("WEB", false).await;
    let long = (1..=80).map(|line| format!("Step {line} of the reproduction.")).collect::<Vec<_>>().join("\n\n");
    let item =
        app.admin.post("/api/v1/items", json!({"project": "WEB", "title": "Long story", "description": long})).await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.body);
    let path = format!("/items/{}", item.body["id"]);
    browser.resize(1366, 700).await;
    browser.sign_in(&app.address, &path, "admin", ADMIN_PASSWORD).await;
    browser.type_into("#link-target", "#99999").await;
    browser.click("#link-form button[type=submit]").await;
    browser.wait_for("the refusal", false, async |browser| browser.exists("main .field-error").await).await;
    let in_view = "(() => { const r = document.querySelector('main .field-error').getBoundingClientRect(); \
                   return window.scrollY > 0 && r.top >= 0 && r.bottom <= window.innerHeight; })()";
    assert!(browser.evaluate::<bool>(in_view).await, "the refusal is in view");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_field_is_set_with_its_button_without_the_script() {
    let Some(browser) = Browser::start_without_script("in-place field without script").await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = item_page_in(&browser, &app).await;
    browser.click("#set-priority option[value='4']").await;
    assert_eq!(priority(&app, &path).await, "Normal", "choosing alone sends nothing");
    browser.click("#set-priority + button").await;
    browser
        .wait_for("the change told", false, async |browser| notice(browser).await.contains("from Normal to Urgent"))
        .await;
    assert_eq!(browser.path().await, path);
    assert_eq!(priority(&app, &path).await, "Urgent");

    // A URL opens to be changed: the browser's own disclosure, then its Set button.
    let docs = json!({"key": "docs", "name": "Docs", "type": "url"});
    assert_eq!(app.admin.post("/api/v1/fields", docs).await.status, StatusCode::CREATED);
    browser.goto(&app.url(&path)).await;
    browser.click("details:has(#set-docs) > summary").await;
    browser.type_into("#set-docs", "https://docs.example/upload").await;
    browser.click("details:has(#set-docs) button[type=submit]").await;
    browser
        .wait_for("the link told", false, async |browser| {
            notice(browser).await.contains("Docs changed from none to https://docs.example/upload.")
        })
        .await;
    assert_eq!(
        browser.text(".custom-field a[href='https://docs.example/upload']").await,
        "https://docs.example/upload"
    );
    browser.quit().await;
}
