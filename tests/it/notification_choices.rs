//! Each user chooses what is mailed to them: all items of their projects, the items they are
//! involved in, only mentions, or nothing; which kinds of news; their own changes or not; and
//! a mail per change or one daily digest.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(each_choice_gets_exactly_the_mails_it_asks_for, the_daily_digest_gathers_the_news_into_one_mail);

/// The events queued for a user, in order.
fn queued(app: &TestApp, user: &Api) -> Vec<String> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Event {
        #[diesel(sql_type = Text)]
        event: String,
    }
    let mut connection = app.database().get().unwrap();
    diesel::sql_query(format!("SELECT event FROM mail_outbox WHERE recipient_id = {} ORDER BY id", user.user_id))
        .load::<Event>(&mut **connection)
        .unwrap()
        .into_iter()
        .map(|row| row.event)
        .collect()
}

async fn choose(api: &Api, choices: serde_json::Value) {
    let reply = api.put("/api/v1/users/me/notifications", choices).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn each_choice_gets_exactly_the_mails_it_asks_for(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let mut people = Vec::new();
    for (login, role) in [
        ("ann", "developer"),
        ("ben", "developer"),
        ("cy", "developer"),
        ("dee", "reporter"),
        ("eve", "developer"),
        ("walt", "developer"),
    ] {
        let api = app.create_user(login).await;
        app.add_member("OPS", &api, role).await;
        people.push(api);
    }
    let Ok([ann, ben, cy, dee, eve, walt]) = <[Api; 6]>::try_from(people) else { panic!("six people") };

    // The defaults, and bad input.
    let defaults = ann.get("/api/v1/users/me/notifications").await;
    assert_eq!(defaults.body["scope"], "involved");
    assert_eq!(defaults.body["own_changes"], json!(false));
    assert_eq!(defaults.body["watch_when_mentioned"], json!(false));
    assert!(defaults.body["events"].as_object().unwrap().values().all(|on| *on == json!(true)), "{}", defaults.body);
    let unknown = ann.put("/api/v1/users/me/notifications", json!({"events": {"bogus": true}})).await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("events.bogus"))
    );
    let bad_scope = ann.put("/api/v1/users/me/notifications", json!({"scope": "everything"})).await;
    assert_eq!(bad_scope.status, StatusCode::BAD_REQUEST, "{}", bad_scope.body);

    choose(&ann, json!({"scope": "all"})).await;
    choose(&cy, json!({"scope": "mentions", "watch_when_mentioned": true})).await;
    choose(&dee, json!({"events": {"commented": false}})).await;
    choose(&eve, json!({"scope": "none"})).await;
    choose(&walt, json!({"own_changes": true})).await;
    assert_eq!(
        eve.get("/api/v1/users/me").await.body["email_notifications"],
        json!(false),
        "none is notifications off"
    );

    // A new item: ann (all of OPS), ben (assignee) and walt (his own change, reported by him).
    let item =
        walt.post("/api/v1/items", json!({"project": "OPS", "title": "Fan noise", "assignee_id": ben.user_id})).await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.body);
    let path = format!("/api/v1/items/{}", item.body["id"]);
    assert_eq!(
        dee.post(&format!("{path}/watchers"), json!({"user_id": dee.user_id})).await.status,
        StatusCode::NO_CONTENT
    );

    // A comment mentioning cy: cy hears of the mention only; dee, watching, not of comments.
    let comment = walt.post(&format!("{path}/comments"), json!({"body": "Loud since Monday, @cy."})).await;
    assert_eq!(comment.status, StatusCode::CREATED, "{}", comment.body);

    // cy chose to watch what mentions her; nobody else starts watching by a mention.
    let watchers = walt.get(&format!("{path}/watchers")).await.body["watchers"].clone();
    let logins: Vec<&str> = watchers.as_array().unwrap().iter().map(|user| user["login"].as_str().unwrap()).collect();
    assert!(logins.contains(&"cy"), "{logins:?}");

    // A status change: dee wants those.
    let version = walt.get(&path).await.body["version"].clone();
    let moved = walt.patch(&path, json!({"version": version, "status_id": 2})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);

    // A new assignee: ann hears "assigned"; ben, no longer assigned but watching, an update.
    let version = moved.body["version"].clone();
    let reassigned = walt.patch(&path, json!({"version": version, "assignee_id": ann.user_id})).await;
    assert_eq!(reassigned.status, StatusCode::OK, "{}", reassigned.body);

    assert_eq!(queued(&app, &ann), ["created", "commented", "changed", "changed"]);
    assert_eq!(queued(&app, &ben), ["created", "commented", "changed", "changed"]);
    assert_eq!(queued(&app, &cy), ["mentioned"]);
    assert_eq!(queued(&app, &dee), ["changed", "changed"]);
    assert!(queued(&app, &eve).is_empty());
    assert_eq!(queued(&app, &walt), ["created", "commented", "changed", "changed"]);

    // ann turns assignments off: her next assignment is not mailed, other news is.
    choose(&ann, json!({"events": {"assigned": false, "updated": false, "status": false}})).await;
    let version = reassigned.body["version"].clone();
    let again = walt.patch(&path, json!({"version": version, "assignee_id": null})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(queued(&app, &ann).len(), 4, "ann wants no more changes");
    app.send_mail_now().await;
    assert_eq!(app.count_rows("mail_outbox WHERE sent_at IS NULL"), 0);
}

/// The mails written (no SMTP server: `.eml` files, in no order) to an address, as their
/// subject and their plain text, decoded, by subject.
fn mails_to(app: &TestApp, address: &str) -> Vec<(String, String)> {
    let folder = app.data_dir.join("mail-outbox");
    let mut mails: Vec<(String, String)> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .filter(|text| text.contains(&format!("<{address}>")))
        .map(|raw| subject_and_text(&raw))
        .collect();
    mails.sort();
    mails
}

/// A mail's subject and its plain text, decoded.
fn subject_and_text(raw: &str) -> (String, String) {
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a mail");
    (message.subject().unwrap_or_default().to_string(), message.body_text(0).unwrap_or_default().replace("\r\n", "\n"))
}

async fn the_daily_digest_gathers_the_news_into_one_mail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let (ann, walt) = (app.create_user("ann").await, app.create_user("walt").await);
    for project in ["OPS", "WEB"] {
        app.add_member(project, &ann, "developer").await;
        app.add_member(project, &walt, "developer").await;
    }
    choose(&ann, json!({"digest": true})).await;
    assert_eq!(ann.get("/api/v1/users/me/notifications").await.body["digest"], json!(true));

    // News of two items of OPS and one of WEB, all assigned to ann.
    let create = async |project: &str, title: &str| {
        let reply =
            walt.post("/api/v1/items", json!({"project": project, "title": title, "assignee_id": ann.user_id})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (format!("/api/v1/items/{}", reply.body["id"]), reply.body["key"].as_str().unwrap().to_string())
    };
    let (fan, fan_key) = create("OPS", "Fan noise").await;
    let (disk, disk_key) = create("OPS", "Disk full").await;
    let (logo, _) = create("WEB", "Blurry logo").await;
    for (path, body) in [(&fan, "Loud since Monday."), (&disk, "Purged the old logs."), (&logo, "Needs an SVG.")] {
        assert_eq!(walt.post(&format!("{path}/comments"), json!({"body": body})).await.status, StatusCode::CREATED);
    }
    let doomed = walt.post(&format!("{fan}/comments"), json!({"body": "A typo of a comment."})).await;
    let version = walt.get(&fan).await.body["version"].clone();
    let moved = walt.patch(&fan, json!({"version": version, "status_id": 2})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let status = moved.body["status"]["name"].as_str().unwrap().to_string();

    // Held: the sender leaves them, and the outbox's depth does not count them.
    let held = app.count_rows(&format!("mail_outbox WHERE recipient_id = {} AND held", ann.user_id));
    assert_eq!(held, 8, "three items, four comments, a status change");
    app.send_mail_now().await;
    assert!(mails_to(&app, "ann@example.com").is_empty(), "nothing mailed to ann before the digest");
    assert_eq!(app.admin.get("/api/v1/cluster").await.body["mail"]["outbox_depth"], 0);

    let run = crate::jobs::run_job(&app, "notification_digest").await;
    assert_eq!(run["run"]["detail"], "queued 1 digest mails with 8 pieces of news", "{run}");
    // Between the digest's queueing and its sending: a comment is deleted, and ann leaves WEB.
    let comment = format!("/api/v1/comments/{}", doomed.body["id"]);
    assert_eq!(walt.delete(&comment).await.status, StatusCode::OK);
    let left = app.admin.delete(&format!("/api/v1/projects/WEB/members/{}", ann.user_id)).await;
    assert!(left.status.is_success(), "{}", left.body);
    app.send_mail_now().await;

    let raw = std::fs::read_dir(app.data_dir.join("mail-outbox")).unwrap().flatten().next().unwrap().path();
    let raw = std::fs::read_to_string(raw).unwrap();
    assert!(raw.contains("Message-ID: <baton.digest.") && !raw.contains("In-Reply-To"), "{raw}");
    let mails = mails_to(&app, "ann@example.com");
    assert_eq!(mails.len(), 1, "one digest: {mails:#?}");
    let (subject, digest) = &mails[0];
    assert_eq!(subject, "Daily digest: 5 pieces of news on 2 items");
    for expected in [
        format!("{fan_key} Fan noise ({status})"),
        format!("{disk_key} Disk full"),
        "walt created it\n".into(),
        "walt commented on it:\n    Loud since Monday.".into(),
        "Purged the old logs.".into(),
        format!("walt changed it:\n    status: New → {status}"),
    ] {
        assert!(digest.contains(&expected), "{expected:?} not in {digest}");
    }
    for absent in ["Blurry logo", "Needs an SVG", "A typo of a comment"] {
        assert!(!digest.contains(absent), "{absent:?} in {digest}");
    }
    let fan_first = digest.find("Fan noise").unwrap() < digest.find("Disk full").unwrap();
    assert!(fan_first, "items in the order their news happened: {digest}");

    // What comes after the digest waits for the next one; without the digest, mails come singly.
    assert_eq!(
        walt.post(&format!("{disk}/comments"), json!({"body": "Still full."})).await.status,
        StatusCode::CREATED
    );
    app.send_mail_now().await;
    assert_eq!(mails_to(&app, "ann@example.com").len(), 1);
    choose(&ann, json!({"digest": false})).await;
    assert_eq!(walt.post(&format!("{disk}/comments"), json!({"body": "Now empty."})).await.status, StatusCode::CREATED);
    app.send_mail_now().await;
    let subjects = |mails: Vec<(String, String)>| mails.into_iter().map(|(subject, _)| subject).collect::<Vec<_>>();
    assert_eq!(
        subjects(mails_to(&app, "ann@example.com")),
        ["Daily digest: 5 pieces of news on 2 items".to_string(), format!("[{disk_key}] Disk full")],
        "the comment after the choice, singly"
    );
    let run = crate::jobs::run_job(&app, "notification_digest").await;
    assert_eq!(run["run"]["detail"], "queued 1 digest mails with 1 pieces of news", "the one held before: {run}");
    app.send_mail_now().await;
    let mails = mails_to(&app, "ann@example.com");
    assert_eq!(mails.len(), 3);
    let (subject, text) = &mails[0];
    assert_eq!(subject, "Daily digest: 1 piece of news on 1 item");
    assert!(text.contains("Still full.") && !text.contains("Now empty."), "{text}");
    assert_eq!(app.count_rows("mail_outbox WHERE sent_at IS NULL"), 0);
}
