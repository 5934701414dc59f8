//! Each user chooses what is mailed to them: all items of their projects, the items they are
//! involved in, only mentions, or nothing; which kinds of news; and their own changes or not.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(each_choice_gets_exactly_the_mails_it_asks_for);

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
