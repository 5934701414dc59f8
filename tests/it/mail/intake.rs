//! No silent drop and text that mail really carries: every mail ends as an item, a comment or
//! a refusal record of its mailbox; a different mail reusing a Message-ID is a new mail;
//! control characters are removed, long bodies cut with the whole text kept, broken
//! multiparts and 8-bit headers read; automatic mail never becomes a comment; what the CLI
//! and the log show of a mail is escaped.

use std::process::Command;

use baton::config::mail::UnknownSenders;
use baton::mail::inbound::Outcome;
use baton::mail::mailbox::Mailbox;
use baton::model::project::ProjectKeyOrId;
use reqwest::StatusCode;

use super::{item, mail, mailbox, store, verified};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_different_mail_reusing_a_message_id_is_stored_and_a_redelivery_is_not,
    a_mail_refused_by_one_mailbox_is_stored_by_another_and_recorded_once_per_mailbox,
    control_characters_are_removed_and_an_overlong_body_is_cut_with_the_whole_text_attached,
    a_multipart_without_its_boundary_and_undeclared_eight_bit_headers_keep_their_text,
    bounces_and_out_of_office_replies_never_become_comments_and_notify_no_one,
    escape_sequences_from_a_mail_are_shown_escaped_by_the_cli_and_in_the_log,
    mail_recorded_before_the_upgrade_is_still_known_after_it,
    keyword_lines_set_custom_fields_and_refused_ones_are_named_in_a_comment,
    planning_keywords_set_the_version_labels_and_component_as_the_form_would,
);

/// Project OPS with the reporter rita.
async fn ops_with_rita(app: &TestApp) {
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
}

async fn a_different_mail_reusing_a_message_id_is_stored_and_a_redelivery_is_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    let rules = mailbox(UnknownSenders::Reject);
    // A copier that numbers every scan with the same Message-ID.
    let scan =
        |subject: &str, body: &str| mail("rita@example.com", "Message-ID: <scan@copier.local>\r\n", subject, body);
    let first = scan("Scan 1", "First page.");
    let Outcome::Created(one) = store(&app, &rules, &first) else { panic!("the first scan made no item") };
    let Outcome::Created(two) = store(&app, &rules, &scan("Scan 2", "Second page.")) else {
        panic!("the second scan, another mail with the same Message-ID, was taken for the first")
    };
    assert_ne!(one, two);
    // The first delivered again, with the trace headers of another way through the servers.
    let redelivered =
        format!("Received: from mx2.example.com by mx.baton.test\r\nDelivered-To: support@baton.test\r\n{first}");
    assert_eq!(store(&app, &rules, &redelivered), Outcome::AlreadyStored);
    assert_eq!(app.count_rows("items"), 2);
    assert_eq!(app.count_rows("mail_received"), 2);
    // The same holds for refusals: another refused mail with a known Message-ID is recorded too.
    let away = |body: &str| mail("stranger@example.org", "Message-ID: <hello@x>\r\n", "Hello", body);
    assert!(matches!(store(&app, &rules, &away("One.")), Outcome::Failed(_)));
    assert!(matches!(store(&app, &rules, &away("Two.")), Outcome::Failed(_)));
    assert_eq!(store(&app, &rules, &away("Two.")), Outcome::AlreadyRefused);
    assert_eq!(app.count_rows("mail_failures"), 2);
}

async fn a_mail_refused_by_one_mailbox_is_stored_by_another_and_recorded_once_per_mailbox(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    app.create_project("SALES", false).await;
    let sales =
        Mailbox { name: "sales".into(), project: ProjectKeyOrId::parse("SALES"), ..mailbox(UnknownSenders::Reject) };
    let support = mailbox(UnknownSenders::Reject);
    let ops_copy = Mailbox { name: "ops-copy".into(), ..mailbox(UnknownSenders::Reject) };
    let both = mail(
        "rita@example.com",
        "Cc: sales@baton.test\r\nMessage-ID: <both@example.com>\r\n",
        "Printer jammed",
        "Again.",
    );
    // Not welcome in sales (rita is no member of SALES), welcome in support.
    let Outcome::Failed(reason) = store(&app, &sales, &both) else { panic!("sales took it") };
    assert!(reason.contains("project SALES"), "{reason}");
    let Outcome::Created(id) = store(&app, &support, &both) else { panic!("support dropped the mail sales refused") };
    // Each mailbox knows its own outcome; a third one is told what the mail became.
    assert_eq!(store(&app, &sales, &both), Outcome::AlreadyRefused);
    assert_eq!(store(&app, &support, &both), Outcome::AlreadyStored);
    assert_eq!(store(&app, &ops_copy, &both), Outcome::AlreadyStored);
    assert_eq!(app.count_rows("items"), 1, "stored once, as item {id}");
    assert_eq!(app.count_rows(&format!("mail_received WHERE item_id = {}", id.0)), 2, "support and ops-copy");
    assert_eq!(app.count_rows("mail_failures WHERE mailbox = 'sales'"), 1);
}

async fn control_characters_are_removed_and_an_overlong_body_is_cut_with_the_whole_text_attached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    let rules = Mailbox {
        max_message_size: 4 * 1024 * 1024,
        max_attachment_size: 4 * 1024 * 1024,
        ..mailbox(UnknownSenders::Reject)
    };
    let pasted = mail(
        "rita@example.com",
        "Message-ID: <pasted@x>\r\n",
        "\u{1b}[31mBuild\u{1b}[0m failed",
        "Page one\u{c}Page two\r\n\u{1b}[1;31merror:\u{1b}[0m linker\u{7} failed\tbadly\u{0}",
    );
    let Outcome::Created(id) = store(&app, &rules, &pasted) else { panic!("the pasted log was refused") };
    let stored = item(&app, id.0).await;
    assert_eq!(stored["title"], "Build failed");
    assert_eq!(stored["description"], "Page one\nPage two\nerror: linker failed\tbadly");

    // 1.5 MB of plain text: cut below the description limit at a line end, whole as an attachment.
    let line = "2026-11-24 09:00:00 INFO request served in 3 ms\r\n";
    let body = line.repeat(1_500_000 / line.len());
    let long = mail("rita@example.com", "Message-ID: <long@x>\r\n", "Full log", &body);
    let Outcome::Created(id) = store(&app, &rules, &long) else { panic!("the long mail was refused") };
    let stored = item(&app, id.0).await;
    let description = stored["description"].as_str().unwrap();
    assert!(description.len() <= 1024 * 1024, "{}", description.len());
    assert!(description.len() > 1024 * 1024 - 70 * 1024, "cut near the limit: {}", description.len());
    let (kept, note) = description.rsplit_once("\n\n").unwrap();
    assert!(kept.ends_with("served in 3 ms"), "cut at a line end: {:?}", &kept[kept.len() - 60..]);
    assert!(note.contains("attached as message.txt"), "{note}");
    let attachments = app.admin.get(&format!("/api/v1/items/{}/attachments", id.0)).await.body;
    let whole = &attachments["attachments"][0];
    assert_eq!(whole["file_name"], "message.txt", "{attachments}");
    let download = app
        .admin
        .client
        .get(app.url(&format!("/api/v1/attachments/{}", whole["id"])))
        .bearer_auth(&app.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.text().await.unwrap(), body.replace("\r\n", "\n").trim_end());
}

async fn a_multipart_without_its_boundary_and_undeclared_eight_bit_headers_keep_their_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    let rules = mailbox(UnknownSenders::Reject);
    let no_boundary = "From: rita@example.com\r\nMessage-ID: <gone@x>\r\nSubject: Boundary gone\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"never-used\"\r\n\r\nThe scanner shows error 42.\r\n";
    let (_, description) = described(&app, store(&app, &rules, no_boundary)).await;
    assert_eq!(description, "The scanner shows error 42.");
    let other_boundary = "From: rita@example.com\r\nMessage-ID: <other@x>\r\nSubject: Boundary wrong\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=\"declared\"\r\n\r\n--actual\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
        The badge reader is dead.\r\n--actual\r\nContent-Type: text/html\r\n\r\n<p>The badge reader is dead.</p>\r\n--actual--\r\n";
    let (_, description) = described(&app, store(&app, &rules, other_boundary)).await;
    assert_eq!(description, "The badge reader is dead.");
    assert_eq!(app.count_rows("attachments"), 0, "no nameless attachment holds the text");

    let latin = b"From: J\xfcrgen <rita@example.com>\r\nMessage-ID: <latin@x>\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\n\r\nHallo.\r\n";
    let (title, _) = described(&app, store_bytes(&app, &rules, latin)).await;
    assert_eq!(title, "Grüße aus Köln");
    let koi8 = b"From: rita@example.com\r\nMessage-ID: <koi8@x>\r\nSubject: \xf0\xd2\xc9\xd7\xc5\xd4\r\n\
        Content-Type: text/plain; charset=koi8-r\r\n\r\n\xcd\xc9\xd2\r\n";
    let (title, description) = described(&app, store_bytes(&app, &rules, koi8)).await;
    assert_eq!((title.as_str(), description.as_str()), ("Привет", "мир"));
}

/// Title and description of the item a mail became.
async fn described(app: &TestApp, outcome: Outcome) -> (String, String) {
    let Outcome::Created(id) = outcome else { panic!("not stored: {outcome:?}") };
    let stored = item(app, id.0).await;
    (stored["title"].as_str().unwrap().to_string(), stored["description"].as_str().unwrap().to_string())
}

fn store_bytes(app: &TestApp, mailbox: &Mailbox, raw: &[u8]) -> Outcome {
    use baton::db::write_transaction;
    use baton::mail::inbound;
    use baton::model::attachment::FileStore;
    let files = FileStore::new(app.data_dir.join("attachments"));
    files.ensure_folders().unwrap();
    let mut connection = app.database().get().unwrap();
    write_transaction(&mut connection, |connection| inbound::store(connection, &files, mailbox, raw)).unwrap()
}

async fn bounces_and_out_of_office_replies_never_become_comments_and_notify_no_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    let id = app.admin.create_item("OPS", "Printer").await["id"].as_i64().unwrap();
    app.without_master().await;
    let queued = app.count_rows("mail_outbox");
    let rules = mailbox(UnknownSenders::Reject);
    let notification = format!(
        "From: Baton <support@baton.test>\r\nTo: rita@example.com\r\nSubject: [#{id}] Printer\r\n\
         Message-ID: <baton.7.{id}@baton.test>\r\nX-Baton-Loop: support@baton.test\r\n\r\nThe printer was changed."
    );
    let bounce = format!(
        "From: Mail Delivery Subsystem <mailer@relay.example.net>\r\nTo: support@baton.test\r\n\
         Subject: Returned mail: see transcript\r\nMessage-ID: <dsn-1@relay.example.net>\r\n{}MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nThe mail to rita@example.com could not be delivered.\r\n\
         --r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.net\r\n\r\n\
         Final-Recipient: rfc822; rita@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --r\r\nContent-Type: message/rfc822\r\n\r\n{notification}\r\n--r--\r\n",
        verified("relay.example.net")
    );
    let returned = format!(
        "From: rita@example.com\r\nTo: support@baton.test\r\nSubject: Fwd: [#{id}] Printer\r\nMessage-ID: <fwd@x>\r\n\
         {}Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n\
         --m\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--m--\r\n",
        verified("example.com"),
        notification.replace("X-Baton-Loop: support@baton.test\r\n", "")
    );
    let mut cases = vec![(bounce, "multipart/report".to_string()), (returned, "our Message-ID".to_string())];
    for (number, subject) in [
        "Out of Office: [#ID] Printer",
        "Автоответ: [#ID] Printer",
        "Abwesenheitsnotiz: [#ID] Printer",
        "Réponse automatique : [#ID] Printer",
        "Respuesta automática: [#ID] Printer",
    ]
    .into_iter()
    .enumerate()
    {
        let headers = format!("{}Message-ID: <away-{number}@x>\r\n", verified("example.com"));
        let away =
            mail("rita@example.com", &headers, &subject.replace("ID", &id.to_string()), "I am away until Monday.");
        cases.push((away, "out-of-office subject".to_string()));
    }
    for (raw, expected) in &cases {
        match store(&app, &rules, raw) {
            Outcome::Failed(reason) => {
                assert!(reason.starts_with("automatic mail") && reason.contains(expected.as_str()), "{reason}")
            }
            other => panic!("{expected}: stored as {other:?}"),
        }
    }
    assert_eq!(app.count_rows("comments"), 0);
    assert_eq!(app.count_rows("mail_outbox"), queued, "no notification was queued");
    assert_eq!(app.count_rows("mail_failures"), cases.len() as i64);
}

/// `baton` run against the test node's database, with a settings file that configures the
/// mailbox the refused mail came through (reprocessing needs its rules).
fn baton(app: &TestApp) -> Command {
    let folder = app.data_dir.parent().unwrap();
    std::fs::write(
        folder.join("baton.toml"),
        "[mail]\naddress = \"support@baton.test\"\n[[mail.mailboxes]]\nname = \"support\"\nhost = \"127.0.0.1\"\n\
         user = \"support\"\npassword = \"unused\"\nproject = \"OPS\"\n",
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    for (key, _) in std::env::vars() {
        if key.starts_with("BATON_") {
            command.env_remove(key);
        }
    }
    command
        .env("BATON_DATABASE_URL", &app.database_url)
        .env("BATON_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "info")
        .current_dir(folder);
    command
}

async fn escape_sequences_from_a_mail_are_shown_escaped_by_the_cli_and_in_the_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    let evil = mail(
        "\"\u{1b}]0;owned\u{7}\" <evil\u{1b}[2J\u{1b}[31m@example.com>",
        "Message-ID: <evil\u{1b}[5m@example.com>\r\n",
        "Hi",
        "Hello.",
    );
    let Outcome::Failed(reason) = store(&app, &mailbox(UnknownSenders::Reject), &evil) else { panic!("stored") };
    assert!(reason.contains('\u{1b}'), "the reason keeps the address as it came: {reason:?}");
    let listed = tokio::task::spawn_blocking({
        let mut command = baton(&app);
        move || command.args(["mail", "failures"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let stdout = String::from_utf8(listed.stdout).unwrap();
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}'), "raw control characters: {stdout:?}");
    assert!(stdout.contains("evil\\u{1b}[2j\\u{1b}[31m@example.com"), "{stdout}");
    // Reprocessing refuses it again: the log line and the error show it escaped as well.
    let id = app.admin.get("/api/v1/mail/failures").await.body["failures"][0]["id"].as_i64().unwrap();
    let reprocessed = tokio::task::spawn_blocking({
        let mut command = baton(&app);
        move || command.args(["mail", "reprocess", &id.to_string()]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(!reprocessed.status.success());
    let stderr = String::from_utf8(reprocessed.stderr).unwrap();
    assert!(stderr.contains("inbound mail refused"), "{stderr}");
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{7}'), "raw control characters: {stderr:?}");
    assert!(stderr.contains("evil\\u{1b}[5m@example.com") && stderr.contains("evil\\u{1b}[2j"), "{stderr}");
}

async fn mail_recorded_before_the_upgrade_is_still_known_after_it(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    let id = app.admin.create_item("OPS", "Stored before").await["id"].as_i64().unwrap();
    // Back to the schema before this release, with a mail stored and one refused in it.
    let folder = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    let migration = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder)
        .join("2026-12-02-000300_mail_trust");
    let database = app.database();
    let mut connection = database.get().unwrap();
    connection.batch_execute(&std::fs::read_to_string(migration.join("down.sql")).unwrap()).unwrap();
    connection
        .batch_execute(&format!(
            "DELETE FROM __diesel_schema_migrations WHERE version = '20261202000300';
             INSERT INTO mail_received (message_key, mailbox, item_id) VALUES ('old@example.com', 'support', {id});
             INSERT INTO mail_failures (message_key, mailbox, reason, raw_size) VALUES ('refused@example.com', 'support', 'unknown sender', 10);"
        ))
        .unwrap();
    drop(connection);
    assert_eq!(database.migrate().unwrap().len(), 1, "the upgrade runs again");
    // The poller meets both again (a crash kept them in the folder): neither is done again.
    let rules = mailbox(UnknownSenders::Reject);
    let stored = mail("rita@example.com", "Message-ID: <old@example.com>\r\n", "Stored before", "Body.");
    assert_eq!(store(&app, &rules, &stored), Outcome::AlreadyStored);
    let refused = mail("stranger@example.org", "Message-ID: <refused@example.com>\r\n", "Hi", "Body.");
    assert_eq!(store(&app, &rules, &refused), Outcome::AlreadyRefused);
    assert_eq!((app.count_rows("items"), app.count_rows("mail_received"), app.count_rows("mail_failures")), (1, 1, 1));
}

async fn keyword_lines_set_custom_fields_and_refused_ones_are_named_in_a_comment(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    for definition in [
        serde_json::json!({"key": "customer", "name": "Customer", "type": "text"}),
        serde_json::json!({"key": "estimate", "name": "Estimate", "type": "integer"}),
        serde_json::json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "major"]}),
        serde_json::json!({"key": "platforms", "name": "Platforms", "type": "multi_choice", "choices": ["linux", "mac"]}),
        serde_json::json!({"key": "reviewer", "name": "Reviewer", "type": "user"}),
    ] {
        let reply = app.admin.post("/api/v1/fields", definition).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let rules = mailbox(UnknownSenders::Reject);
    let body = "\r\nCustomer: ACME\r\nseverity: Major\r\nPlatforms: linux, mac\r\nEstimate: five\r\nReviewer: rita\r\n\r\n\
                The printer is on fire.\r\nNote: this line stays.";
    let raw = mail("rita@example.com", "Message-ID: <keywords@x>\r\n", "Printer", body);
    let Outcome::Created(id) = store(&app, &rules, &raw) else { panic!("the mail made no item") };
    let stored = item(&app, id.0).await;
    assert_eq!(stored["fields"]["customer"], "ACME");
    assert_eq!(stored["fields"]["severity"], "major");
    assert_eq!(stored["fields"]["platforms"], serde_json::json!(["linux", "mac"]));
    assert_eq!(stored["fields"]["reviewer"]["login"], "rita");
    assert_eq!(stored["fields"]["estimate"], serde_json::Value::Null, "refused, not set");
    let description = stored["description"].as_str().unwrap();
    assert!(description.starts_with("The printer is on fire."), "the keyword lines are taken out: {description:?}");
    assert!(description.contains("Note: this line stays."), "{description:?}");
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    let first = comments["comments"][0]["body"].as_str().unwrap();
    assert!(first.contains("Estimate: \"five\" is not a whole number"), "{first}");

    // A mail without keywords keeps its text as it is.
    let plain = mail("rita@example.com", "Message-ID: <plain@x>\r\n", "Plain", "Hello: not a field.");
    let Outcome::Created(id) = store(&app, &rules, &plain) else { panic!("the mail made no item") };
    assert_eq!(item(&app, id.0).await["description"].as_str().unwrap().trim(), "Hello: not a field.");

    // `Parent:` makes a sub-item of an item of the project; any other item is refused, named.
    let parent = id.0;
    let child = mail(
        "rita@example.com",
        "Message-ID: <child@x>\r\n",
        "Child",
        &format!("Parent: #{parent}\r\n\r\nPart of it."),
    );
    let Outcome::Created(id) = store(&app, &rules, &child) else { panic!("the mail made no item") };
    let stored = item(&app, id.0).await;
    assert_eq!(stored["parent"]["id"], parent);
    assert_eq!(stored["description"].as_str().unwrap().trim(), "Part of it.");
    let orphan = mail("rita@example.com", "Message-ID: <orphan@x>\r\n", "Orphan", "parent: 999\r\nNo such parent.");
    let Outcome::Created(id) = store(&app, &rules, &orphan) else { panic!("the mail made no item") };
    assert_eq!(item(&app, id.0).await["parent"], serde_json::Value::Null);
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    let first = comments["comments"][0]["body"].as_str().unwrap();
    assert!(first.contains("Parent: there is no item 999 in this project"), "{first}");
}

async fn planning_keywords_set_the_version_labels_and_component_as_the_form_would(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ops_with_rita(&app).await;
    for (path, body) in [
        ("versions", serde_json::json!({"name": "2.1"})),
        ("labels", serde_json::json!({"name": "ui", "color": "#3b82f6"})),
        ("labels", serde_json::json!({"name": "Later", "color": "#9ca3af"})),
        ("components", serde_json::json!({"name": "Backend"})),
    ] {
        let reply = app.admin.post(&format!("/api/v1/projects/OPS/{path}"), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let rules = mailbox(UnknownSenders::Reject);
    let body = "Version: 2.1\r\nLabels: UI, later\r\nComponent: backend\r\n\r\nThe dialog is cut off.";
    // A reporter may label and place the item, not plan it for a version.
    let raw = mail("rita@example.com", "Message-ID: <planning@x>\r\n", "Dialog", body);
    let Outcome::Created(id) = store(&app, &rules, &raw) else { panic!("the mail made no item") };
    let stored = item(&app, id.0).await;
    assert_eq!(stored["target_version"], serde_json::Value::Null);
    let labels: Vec<&str> = stored["labels"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Later", "ui"]);
    assert_eq!(stored["component"]["name"], "Backend");
    assert_eq!(stored["description"].as_str().unwrap().trim(), "The dialog is cut off.");
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    let first = comments["comments"][0]["body"].as_str().unwrap();
    assert!(first.contains("Version: planning for a version needs the developer role"), "{first}");

    // A developer (whose mail is verified) plans it; unknown names are refused, named, and the item is still made.
    let rita = app.admin.get("/api/v1/users").await.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["login"] == "rita")
        .unwrap()["id"]
        .clone();
    let promoted =
        app.admin.put(&format!("/api/v1/projects/OPS/members/{rita}"), serde_json::json!({"role": "developer"})).await;
    assert!(promoted.status.is_success(), "{}", promoted.body);
    let headers = format!("{}Message-ID: <planned@x>\r\n", verified("example.com"));
    let raw = mail("rita@example.com", &headers, "Planned", "version: 2.1\r\nLabels: nope\r\n\r\nText.");
    let outcome = store(&app, &rules, &raw);
    let Outcome::Created(id) = outcome else { panic!("the mail made no item: {outcome:?}") };
    let stored = item(&app, id.0).await;
    assert_eq!(stored["target_version"]["name"], "2.1");
    assert_eq!(stored["labels"], serde_json::json!([]));
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    let first = comments["comments"][0]["body"].as_str().unwrap();
    assert!(first.contains("Labels: project OPS has no label \"nope\""), "{first}");
}
