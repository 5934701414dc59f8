//! Notifications only to readers: recipients are checked against read access when a mail is
//! queued and again when it is sent, watches end when access does (and anyone can always
//! unwatch), and the people a mail reply adds as watchers can read the item. Custom fields are
//! in the mails too.

use baton::config::mail::UnknownSenders;
use baton::mail::inbound::Outcome;
use baton::mail::mailbox::Mailbox;
use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::json;

use super::{mail, mailbox, store, verified};
use crate::on_both_backends;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    a_user_removed_from_a_private_project_gets_no_more_mail_from_it_nor_its_digest,
    an_outsider_watching_a_public_item_hears_nothing_once_it_is_private_and_can_still_unwatch,
    people_a_mail_reply_adds_as_watchers_can_read_the_replied_item,
    mails_show_a_new_items_field_values_and_the_fields_an_edit_changed,
    a_mention_tells_a_reader_once_and_names_those_who_cannot_read_to_the_writer,
);

/// Lets the node be master again (after `without_master`), so the sender runs.
async fn with_master(app: &TestApp) {
    baton::cluster::set_maintenance(&app.database(), "test-node".into(), false, "a test".into())
        .await
        .expect("maintenance off");
}

/// Runs the sender until it has dealt with every queued notification (sent or dropped).
async fn until_outbox_is_empty(app: &TestApp) {
    app.send_mail_now().await;
    assert_eq!(app.count_rows("mail_outbox WHERE sent_at IS NULL"), 0, "notifications still waiting");
}

/// The `.eml` files the sender wrote (no SMTP server is set) for this address.
fn mails_to(app: &TestApp, address: &str) -> Vec<String> {
    let folder = app.data_dir.join("mail-outbox");
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .filter(|text| text.lines().any(|line| line.starts_with("To: ") && line.contains(address)))
        .collect()
}

fn queue_digests(app: &TestApp) {
    let mut connection = app.database().get().unwrap();
    let today = chrono::Utc::now().date_naive();
    baton::model::notification::queue_due_reminders(&mut connection, today).unwrap();
}

async fn comment(app: &TestApp, item: i64, body: &str) {
    let reply = app.admin.post(&format!("/api/v1/items/{item}/comments"), json!({"body": body})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

async fn watchers(app: &TestApp, item: i64) -> Vec<String> {
    let listed = app.admin.get(&format!("/api/v1/items/{item}/watchers")).await.body;
    listed["watchers"].as_array().unwrap().iter().map(|user| user["login"].as_str().unwrap().to_string()).collect()
}

async fn a_user_removed_from_a_private_project_gets_no_more_mail_from_it_nor_its_digest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let walt = app.create_user("walt").await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("OPS", &rita, "reporter").await;
    let today = chrono::Utc::now().date_naive().to_string();
    let created = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "Rotate the keys", "assignee_id": walt.user_id, "due_date": today}),
        )
        .await;
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(rita.post(&format!("/api/v1/items/{id}/watchers"), json!({})).await.status, StatusCode::NO_CONTENT);
    until_outbox_is_empty(&app).await;
    assert_eq!(mails_to(&app, "walt@example.com").len(), 1, "the assignee heard of the item");
    // Queued while walt is a member, sent after he is gone: a comment and his digest.
    app.without_master().await;
    comment(&app, id, "The old keys leaked.").await;
    queue_digests(&app);
    assert_eq!(app.count_rows(&format!("mail_outbox WHERE recipient_id = {} AND sent_at IS NULL", walt.user_id)), 2);
    let removed = app.admin.delete(&format!("/api/v1/projects/OPS/members/{}", walt.user_id)).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(watchers(&app, id).await, ["admin", "rita"], "his watch ended with his membership");
    comment(&app, id, "New keys are in the vault.").await;
    queue_digests(&app);
    with_master(&app).await;
    until_outbox_is_empty(&app).await;
    let to_walt = mails_to(&app, "walt@example.com");
    assert_eq!(to_walt.len(), 1, "nothing more reached walt: {to_walt:?}");
    assert!(!to_walt[0].contains("vault") && !to_walt[0].contains("leaked"));
    assert_eq!(app.count_rows(&format!("mail_outbox WHERE recipient_id = {}", walt.user_id)), 1, "dropped, not kept");
    let to_rita = mails_to(&app, "rita@example.com");
    assert!(to_rita.iter().any(|text| text.contains("vault")), "the members still hear: {to_rita:?}");
    let digests =
        app.count_rows(&format!("mail_outbox WHERE event = 'due_reminder' AND recipient_id = {}", walt.user_id));
    assert_eq!(digests, 0, "no digest lists an item walt cannot read");
}

async fn an_outsider_watching_a_public_item_hears_nothing_once_it_is_private_and_can_still_unwatch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("PUB", true).await;
    let outsider = app.create_user("outsider").await;
    let id = app.admin.create_item("PUB", "Open roadmap").await["id"].as_i64().unwrap();
    let path = format!("/api/v1/items/{id}/watchers");
    assert_eq!(outsider.post(&path, json!({})).await.status, StatusCode::NO_CONTENT);
    app.without_master().await;
    comment(&app, id, "Public plans.").await;
    let queued_for = |api: &Api| format!("mail_outbox WHERE recipient_id = {} AND sent_at IS NULL", api.user_id);
    assert_eq!(app.count_rows(&queued_for(&outsider)), 1, "a watcher of a public item hears of it");
    let private = app.admin.patch("/api/v1/projects/PUB", json!({"is_public": false})).await;
    assert_eq!(private.status, StatusCode::OK, "{}", private.body);
    assert_eq!(watchers(&app, id).await, ["admin"], "the outsider's watch ended");
    assert_eq!(outsider.get(&format!("/api/v1/items/{id}")).await.status, StatusCode::NOT_FOUND);
    // A watch left over from before (an older version kept them): still nothing is queued.
    app.database()
        .get()
        .unwrap()
        .batch_execute(&format!("INSERT INTO watchers (item_id, user_id) VALUES ({id}, {})", outsider.user_id))
        .unwrap();
    comment(&app, id, "Secret plans.").await;
    assert_eq!(app.count_rows(&queued_for(&outsider)), 1, "only the one queued while public");
    with_master(&app).await;
    until_outbox_is_empty(&app).await;
    assert!(mails_to(&app, "outsider@example.com").is_empty(), "the outsider was sent nothing");
    // The item is hidden, yet its watcher can stop watching it.
    assert_eq!(outsider.delete(&format!("{path}/{}", outsider.user_id)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.count_rows(&format!("watchers WHERE user_id = {}", outsider.user_id)), 0);
    assert_eq!(outsider.delete(&format!("{path}/{}", outsider.user_id)).await.status, StatusCode::NOT_FOUND);
}

async fn people_a_mail_reply_adds_as_watchers_can_read_the_replied_item(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("SEC", false).await;
    let walt = app.create_user("walt").await;
    let rita = app.create_user("rita").await;
    let sam = app.create_user("sam").await;
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("SEC", &walt, "developer").await;
    app.add_member("OPS", &rita, "reporter").await;
    app.add_member("SEC", &sam, "viewer").await;
    let secret = app.admin.create_item("SEC", "Incident").await["id"].as_i64().unwrap();
    let rules = Mailbox { reply_projects: Some(vec!["OPS".into(), "SEC".into()]), ..mailbox(UnknownSenders::Reject) };
    let reply = mail(
        "walt@example.com",
        &format!("{}Cc: rita@example.com, sam@example.com\r\nMessage-ID: <cc@x>\r\n", verified("example.com")),
        &format!("Re: [#{secret}] Incident"),
        "Looping in the team.",
    );
    assert!(matches!(store(&app, &rules, &reply), Outcome::Commented(..)));
    assert_eq!(
        watchers(&app, secret).await,
        ["admin", "sam", "walt"],
        "rita, of the mailbox's project only, cannot read it"
    );
}

/// The text part of each mail, decoded.
fn texts_to(app: &TestApp, address: &str) -> Vec<String> {
    mails_to(app, address)
        .iter()
        .map(|raw| {
            let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a mail");
            parsed.body_text(0).expect("a text part").replace("\r\n", "\n")
        })
        .collect()
}

async fn mails_show_a_new_items_field_values_and_the_fields_an_edit_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &walt, "developer").await;
    for field in [
        json!({"key": "customer", "name": "Customer", "type": "text"}),
        json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "major"]}),
        json!({"key": "notes", "name": "Notes", "type": "long_text"}),
    ] {
        assert_eq!(app.admin.post("/api/v1/fields", field).await.status, StatusCode::CREATED);
    }
    let created = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "Badge reader", "assignee_id": walt.user_id,
                   "fields": {"customer": "ACME", "severity": "major", "notes": "First line\nsecond line"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    until_outbox_is_empty(&app).await;
    let texts = texts_to(&app, "walt@example.com");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Customer: ACME\nSeverity: major\nNotes: First line …"), "{}", texts[0]);

    // A change of a custom field alone is news, named as the field is named.
    let changed = app
        .admin
        .patch(
            &format!("/api/v1/items/{id}"),
            json!({"version": created.body["version"], "title": "Badge reader (lobby)",
                   "fields": {"customer": "Initech", "severity": null}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    until_outbox_is_empty(&app).await;
    let texts = texts_to(&app, "walt@example.com");
    assert_eq!(texts.len(), 2, "{texts:?}");
    let change = texts.iter().find(|text| text.contains("changed OPS-")).expect("the change mail");
    assert!(change.contains("Customer: ACME → Initech"), "{change}");
    assert!(change.contains("Severity: major → (none)"), "{change}");
    assert!(!change.contains("title"), "a title edit is listed in the history, not mailed: {change}");

    // A title edit alone sends nothing.
    let version = changed.body["version"].clone();
    app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": version, "title": "Badge reader, lobby"})).await;
    until_outbox_is_empty(&app).await;
    assert_eq!(texts_to(&app, "walt@example.com").len(), 2);
}

async fn a_mention_tells_a_reader_once_and_names_those_who_cannot_read_to_the_writer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("HR", false).await;
    let ann = app.create_user("ann").await;
    let walt = app.create_user("walt").await;
    let olga = app.create_user("olga").await;
    app.add_member("OPS", &ann, "developer").await;
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("HR", &olga, "developer").await;
    let ann_id = ann.get("/api/v1/users/me").await.body["id"].clone();
    let item = walt
        .post("/api/v1/items", json!({"project": "OPS", "title": "Badge reader broken", "assignee_id": ann_id}))
        .await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.body);
    let path = format!("/api/v1/items/{}", item.body["id"]);
    until_outbox_is_empty(&app).await;
    let before = (mails_to(&app, "ann@example.com").len(), mails_to(&app, "walt@example.com").len());

    // ann (assignee, watching) is mentioned: one mail, the mention; walt (reporter, watching)
    // gets the usual comment mail; olga cannot read OPS and hears nothing, which the writer is told.
    let posted = app
        .admin
        .post(&format!("{path}/comments"), json!({"body": "@ann can you look? Also @olga and `@nobody`."}))
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(posted.body["not_told"], json!(["olga"]), "{}", posted.body);
    until_outbox_is_empty(&app).await;
    let to_ann = texts_to(&app, "ann@example.com");
    assert_eq!(to_ann.len(), before.0 + 1, "one mail per change: {to_ann:?}");
    assert!(
        to_ann.iter().any(|text| text.contains("mentioned you in a comment on OPS-1 Badge reader broken")
            && text.contains("@ann can you look?")),
        "{to_ann:?}"
    );
    let to_walt = texts_to(&app, "walt@example.com");
    assert_eq!(to_walt.len(), before.1 + 1, "{to_walt:?}");
    assert!(to_walt.iter().any(|text| text.contains("commented on OPS-1")), "{to_walt:?}");
    assert!(mails_to(&app, "olga@example.com").is_empty(), "olga cannot read the item");

    // A login nobody has is refused, naming it, and nothing is stored.
    let comments = app.count_rows("comments");
    let refused = app.admin.post(&format!("{path}/comments"), json!({"body": "Ask @nobody about it."})).await;
    assert_eq!((refused.status, refused.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("@nobody"), "{}", refused.body);
    assert_eq!(app.count_rows("comments"), comments);

    // A description that comes to mention someone tells them once; an edit that keeps the
    // mention tells nobody again.
    let version = app.admin.get(&path).await.body["version"].clone();
    let edited = app.admin.patch(&path, json!({"version": version, "description": "Owner: @walt."})).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let again =
        app.admin.patch(&path, json!({"version": edited.body["version"], "description": "Owner: @walt!"})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    until_outbox_is_empty(&app).await;
    let to_walt = texts_to(&app, "walt@example.com");
    assert_eq!(to_walt.len(), before.1 + 2, "{to_walt:?}");
    assert!(to_walt.iter().any(|text| text.contains("mentioned you in OPS-1") && text.contains("Owner: @walt")));
    let unknown = app.admin.patch(&path, json!({"version": again.body["version"], "description": "@ghost"})).await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("description"))
    );

    // A mail's signature may carry handles of other services: they are text, not a refusal.
    let reply = mail(
        "walt@example.com",
        &format!("{}Message-ID: <mention@x>\r\n", verified("example.com")),
        "Re: [OPS-1] Badge reader broken",
        "On it.\n\nWalt @waltdev on another service",
    );
    assert!(matches!(store(&app, &mailbox(UnknownSenders::Reject), &reply), Outcome::Commented(..)));

    // The page tells the writer whom the comment did not reach.
    let browser =
        crate::support::web::WebClient::sign_in(&app.address, "admin", crate::support::app::ADMIN_PASSWORD).await;
    let page_path = format!("/items/{}", item.body["id"]);
    let added = browser.submit(&format!("{page_path}/comments"), &[("body", "Thanks @olga")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let shown = browser.get(added.location().unwrap()).await;
    assert!(
        shown.body.contains("Your comment was saved. @olga cannot read this item and was not told."),
        "{}",
        shown.body
    );
}
