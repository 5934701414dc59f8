//! Sender trust: no mail acts as a user it was not sent by. A reply through a notification's
//! signed reply address is that user's; otherwise only a sender verified by the trusted
//! receiving server counts, and unverified mail is refused or becomes a new item from an
//! account with at most the reporter role.

use baton::config::mail::{UnknownSenders, UnverifiedSenders};
use baton::mail::inbound::Outcome;
use baton::mail::mailbox::Mailbox;
use baton::mail::reply_address::{SigningKey, address_with};
use baton::model::ids::{ItemId, UserId};
use chrono::NaiveDate;

use super::{MX, item, mail, mailbox, store, verified};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_forged_mail_from_the_administrator_is_refused_with_its_reason,
    a_reply_through_the_signed_reply_address_is_stored_as_its_user,
    a_reply_to_a_private_note_is_a_private_note,
    an_expired_or_altered_reply_address_is_refused,
    a_verified_reply_to_an_item_of_a_project_the_mailbox_does_not_feed_is_refused,
    unverified_mail_becomes_a_new_item_only_from_reporters_or_is_refused,
);

fn refusal(outcome: Outcome) -> String {
    match outcome {
        Outcome::Failed(reason) => reason,
        other => panic!("stored as {other:?}"),
    }
}

/// The reply address of `user` for `item`, as a notification carries it, accepted until `last_day`.
fn reply_address(app: &TestApp, user: i64, item: i64, last_day: NaiveDate) -> String {
    let mut connection = app.database().get().unwrap();
    let key = SigningKey::load(&mut connection).unwrap();
    address_with("support@baton.test", &key.token(UserId(user), ItemId(item), last_day))
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Project OPS (fed by the mailbox) with the reporter rita, and the private project SEC with
/// an item only its members and the administrator can read.
async fn projects_with_a_private_item(app: &TestApp) -> i64 {
    app.create_project("OPS", false).await;
    app.create_project("SEC", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    app.admin.create_item("SEC", "Incident 4711").await["id"].as_i64().unwrap()
}

async fn a_forged_mail_from_the_administrator_is_refused_with_its_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = projects_with_a_private_item(&app).await;
    let everywhere = Mailbox { reply_projects: None, ..mailbox(UnknownSenders::Reject) };
    // Sent from anywhere: the receiving server found SPF and DMARC failing.
    let failed = format!(
        "Authentication-Results: {MX}; spf=fail smtp.mailfrom=example.com; dmarc=fail header.from=example.com\r\n"
    );
    let forged_reply = mail(
        "Administrator <admin@example.com>",
        &format!("{failed}Return-Path: <attacker@evil.example>\r\nMessage-ID: <forged-reply@evil.example>\r\n"),
        &format!("Re: [#{secret}] Incident 4711"),
        "Closing this, all fine.",
    );
    let reason = refusal(store(&app, &everywhere, &forged_reply));
    assert!(reason.contains("admin@example.com is not verified") && reason.contains("dmarc=fail"), "{reason}");
    assert!(reason.contains(&format!("comment on #{secret}")), "{reason}");
    // A header claiming a pass from any other server counts for nothing.
    let claimed = "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.com\r\n";
    let forged_item = mail(
        "admin@example.com",
        &format!("{claimed}Message-ID: <forged-item@evil.example>\r\n"),
        "Please reset the password of rita to 1234",
        "Urgent.",
    );
    let reason = refusal(store(&app, &everywhere, &forged_item));
    assert!(reason.contains("is an administrator") && reason.contains("above the reporter role"), "{reason}");
    assert_eq!((app.count_rows("comments"), app.count_rows("items")), (0, 1), "nothing was stored");
    let failures = app.admin.get("/api/v1/mail/failures").await.body;
    assert_eq!(failures["failures"].as_array().unwrap().len(), 2, "both recorded: {failures}");
    assert!(failures.to_string().contains("is not verified"), "{failures}");
}

async fn a_reply_through_the_signed_reply_address_is_stored_as_its_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &walt, "developer").await;
    let id = app.admin.create_item("OPS", "Badge reader broken").await["id"].as_i64().unwrap();
    let address = reply_address(&app, walt.user_id, id, today() + chrono::Days::new(30));
    // From an address no account has, without any server's word, and with the address
    // lower-cased on the way: the reply address alone says who wrote.
    let reply = mail(
        "Walt on the road <w.road@mobile.example>",
        &format!("Cc: {}\r\nMessage-ID: <road@mobile.example>\r\n", address.to_lowercase()),
        "Re: something else entirely",
        "On my way.\r\n\r\nOn Tue, Baton wrote:\r\n> old",
    );
    let outcome = store(&app, &mailbox(UnknownSenders::Reject), &reply);
    assert!(matches!(outcome, Outcome::Commented(item_id, _) if item_id.0 == id), "{outcome:?}");
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    assert_eq!(comments["comments"][0]["author"]["login"], "walt", "{comments}");
    assert_eq!(comments["comments"][0]["body"], "On my way.");
    // The address stays walt's: delivered again, it is the same mail.
    assert_eq!(store(&app, &mailbox(UnknownSenders::Reject), &reply), Outcome::AlreadyStored);
    assert_eq!(app.count_rows("comments"), 1);
    // A user who lost the right to comment gets no comment through an old address.
    app.add_member("OPS", &walt, "viewer").await;
    let again = mail("walt@example.com", &format!("To: {address}\r\nMessage-ID: <late@x>\r\n"), "Re: x", "Late.");
    let reason = refusal(store(&app, &mailbox(UnknownSenders::Reject), &again));
    assert!(reason.contains("needs reporter"), "{reason}");
}

/// A reply to the notification of a private note is a private note: what the note said, quoted
/// or answered, never reaches the item's reporters. Someone who may no longer write private
/// notes gets the reply refused, not made public.
async fn a_reply_to_a_private_note_is_a_private_note(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let (walt, rita) = (app.create_user("walt").await, app.create_user("rita").await);
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("OPS", &rita, "reporter").await;
    let created = rita.post("/api/v1/items", serde_json::json!({"project": "OPS", "title": "Door stuck"})).await;
    let id = created.body["id"].as_i64().unwrap();
    let path = format!("/api/v1/items/{id}/comments");
    assert_eq!(walt.post(&format!("/api/v1/items/{id}/watchers"), serde_json::json!({})).await.status.as_u16(), 204);
    let note = app.admin.post(&path, serde_json::json!({"body": "The lock vendor owes us.", "private": true})).await;
    assert_eq!(note.status.as_u16(), 201, "{}", note.body);
    app.send_mail_now().await;
    let notification = std::fs::read_dir(app.data_dir.join("mail-outbox"))
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .find(|text| text.contains("walt@example.com"))
        .expect("walt was told of the note");
    let message_id =
        notification.lines().find_map(|line| line.strip_prefix("Message-ID: ")).expect("a Message-ID").to_string();
    assert!(message_id.contains("@private-note."), "{message_id}");

    let address = reply_address(&app, walt.user_id, id, today() + chrono::Days::new(30));
    let reply = mail(
        "walt@example.com",
        &format!("To: {address}\r\nMessage-ID: <walt-1@x>\r\nIn-Reply-To: {message_id}\r\n"),
        "Re: [OPS-1] Door stuck",
        "They said Friday.\r\n\r\n> The lock vendor owes us.",
    );
    let outcome = store(&app, &mailbox(UnknownSenders::Reject), &reply);
    let Outcome::Commented(_, comment) = outcome else { panic!("{outcome:?}") };
    let stored = app.admin.get(&format!("/api/v1/comments/{comment}")).await;
    assert_eq!(
        (stored.body["body"].as_str(), stored.body["private"].as_bool()),
        (Some("They said Friday."), Some(true))
    );
    let seen = rita.get(&path).await.body["comments"].clone();
    assert_eq!(seen.as_array().map(Vec::len), Some(0), "rita sees neither: {seen}");
    assert_eq!(rita.get(&format!("/api/v1/comments/{comment}")).await.status.as_u16(), 404);

    // A reply to the public thread stays public; walt, a reporter now, may not write private notes.
    let public = mail(
        "walt@example.com",
        &format!("To: {address}\r\nMessage-ID: <walt-2@x>\r\nIn-Reply-To: <baton.item.{id}@localhost>\r\n"),
        "Re: [OPS-1] Door stuck",
        "Oiled it.",
    );
    assert!(matches!(store(&app, &mailbox(UnknownSenders::Reject), &public), Outcome::Commented(..)));
    assert_eq!(rita.get(&path).await.body["comments"][0]["body"], "Oiled it.");
    app.add_member("OPS", &walt, "reporter").await;
    let late = mail(
        "walt@example.com",
        &format!("To: {address}\r\nMessage-ID: <walt-3@x>\r\nIn-Reply-To: {message_id}\r\n"),
        "Re: [OPS-1] Door stuck",
        "And the vendor?",
    );
    let reason = refusal(store(&app, &mailbox(UnknownSenders::Reject), &late));
    assert!(reason.contains("private notes are for the project's developers and managers"), "{reason}");
    assert_eq!(app.count_rows("comments"), 3);
}

async fn an_expired_or_altered_reply_address_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    let id = app.admin.create_item("OPS", "Printer").await["id"].as_i64().unwrap();
    let expired = reply_address(&app, rita.user_id, id, today() - chrono::Days::new(2));
    let valid = reply_address(&app, rita.user_id, id, today() + chrono::Days::new(30));
    // Rita's address made out for the admin: the signature no longer matches.
    let (local, domain) = valid.split_once('@').unwrap();
    let mut parts: Vec<&str> = local.split('-').collect();
    let admin = format!("support+{}", radix36(app.admin.user_id));
    parts[0] = &admin;
    let altered = format!("{}@{domain}", parts.join("-"));
    let rules = mailbox(UnknownSenders::Reject);
    // Even from a verified sender the address decides, and a bad one is refused.
    for (number, (address, expected)) in [(expired, "expired after"), (altered, "was altered")].into_iter().enumerate()
    {
        let raw = mail(
            "rita@example.com",
            &format!("{}To: {address}\r\nMessage-ID: <bad-{number}@x>\r\n", verified("example.com")),
            &format!("Re: [#{id}] Printer"),
            "Done.",
        );
        let reason = refusal(store(&app, &rules, &raw));
        assert!(reason.contains(expected) && reason.contains("reply address"), "{reason}");
    }
    assert_eq!(app.count_rows("comments"), 0);
}

fn radix36(mut number: i64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(char::from_digit((number % 36) as u32, 36).unwrap());
        number /= 36;
        if number == 0 {
            return digits.iter().rev().collect();
        }
    }
}

async fn a_verified_reply_to_an_item_of_a_project_the_mailbox_does_not_feed_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = projects_with_a_private_item(&app).await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("SEC", &walt, "developer").await;
    let reply = |number: u32| {
        mail(
            "walt@example.com",
            &format!("{}Message-ID: <sec-{number}@x>\r\n", verified("example.com")),
            &format!("Re: [#{secret}] Incident 4711"),
            "Contained.",
        )
    };
    let reason = refusal(store(&app, &mailbox(UnknownSenders::Reject), &reply(1)));
    assert!(reason.contains(&format!("item #{secret} belongs to project SEC")), "{reason}");
    assert!(reason.contains("reply_projects"), "{reason}");
    assert_eq!(app.count_rows("comments"), 0);
    // A mailbox that takes replies for SEC too stores it.
    let widened = Mailbox { reply_projects: Some(vec!["OPS".into(), "SEC".into()]), ..mailbox(UnknownSenders::Reject) };
    let outcome = store(&app, &widened, &reply(2));
    assert!(matches!(outcome, Outcome::Commented(item_id, _) if item_id.0 == secret), "{outcome:?}");
    let comments = app.admin.get(&format!("/api/v1/items/{secret}/comments")).await.body;
    assert_eq!(comments["comments"][0]["author"]["login"], "walt");
}

async fn unverified_mail_becomes_a_new_item_only_from_reporters_or_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &rita, "reporter").await;
    app.add_member("OPS", &walt, "developer").await;
    let rules = mailbox(UnknownSenders::Reject);
    let new_mail = |from: &str, number: u32| {
        mail(from, &format!("Message-ID: <new-{number}@x>\r\n"), "Toner low", "Please order.")
    };
    let Outcome::Created(id) = store(&app, &rules, &new_mail("rita@example.com", 1)) else { panic!("no item") };
    assert_eq!(item(&app, id.0).await["reporter"]["login"], "rita");
    let reason = refusal(store(&app, &rules, &new_mail("walt@example.com", 2)));
    assert!(reason.contains("walt has the developer role in OPS"), "{reason}");
    // Never a comment: not even the reporter's own reply.
    let reply = mail("rita@example.com", "Message-ID: <reply@x>\r\n", &format!("Re: [#{id}] Toner low"), "Thanks.");
    let reason = refusal(store(&app, &rules, &reply));
    assert!(reason.contains("only through the reply address"), "{reason}");
    // A mailbox that refuses unverified mail takes none of it; verified mail still comes in.
    let strict = Mailbox { unverified_senders: UnverifiedSenders::Refuse, ..mailbox(UnknownSenders::Reject) };
    let reason = refusal(store(&app, &strict, &new_mail("rita@example.com", 3)));
    assert!(reason.contains("refuses unverified mail"), "{reason}");
    let vouched =
        mail("rita@example.com", &format!("{}Message-ID: <new-4@x>\r\n", verified("example.com")), "Paper", "Out.");
    assert!(matches!(store(&app, &strict, &vouched), Outcome::Created(_)));
    let signed = format!("Authentication-Results: {MX}; dkim=pass header.d=example.com header.s=s1; dmarc=none\r\n");
    let dkim =
        mail("walt@example.com", &format!("{signed}Message-ID: <new-5@x>\r\n"), &format!("Re: [#{id}] x"), "On it.");
    assert!(matches!(store(&app, &strict, &dkim), Outcome::Commented(..)), "an aligned DKIM pass verifies");
    // Our subjects name the item by key: a reply keeping it is a comment on that item.
    let key = item(&app, id.0).await["key"].as_str().unwrap().to_string();
    let by_key =
        mail("walt@example.com", &format!("{signed}Message-ID: <new-6@x>\r\n"), &format!("Re: [{key}] x"), "Done.");
    assert!(matches!(store(&app, &strict, &by_key), Outcome::Commented(item, _) if item == id), "{key} names the item");
    assert_eq!((app.count_rows("items"), app.count_rows("comments")), (2, 2));
}
