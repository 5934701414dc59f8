//! Inbound mail stored as items and comments, exactly once, with refusals recorded; sender
//! trust (`trust`), what mail really carries and how every mail is accounted for (`intake`),
//! IMAP folders and mailbox health (`mailboxes`), notifications only to readers
//! (`notifications`).

mod intake;
mod mailboxes;
mod notifications;
mod trust;

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::Value;

use baton::config::mail::{MailboxSettings, SmtpSettings, TlsMode, UnknownSenders, UnverifiedSenders};
use baton::db::write_transaction;
use baton::mail::inbound::{self, Outcome};
use baton::mail::mailbox::Mailbox;
use baton::model::attachment::FileStore;
use baton::model::project::ProjectKeyOrId;

use crate::on_both_backends;
use crate::support::mail_servers::{ImapServer, SmtpCapture};
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_notification_refused_by_the_smtp_server_is_retried_later_and_sent_once,
    new_mail_becomes_an_item_and_replies_become_comments_exactly_once,
    mail_that_cannot_be_stored_is_recorded_once_with_its_reason_and_stores_nothing,
    unknown_senders_follow_the_mailbox_rule,
    mail_in_an_imap_mailbox_is_stored_and_moved_to_the_processed_or_failed_folder,
    notifications_are_sent_threaded_and_a_reply_to_one_comes_back_as_a_comment,
);

/// The receiving mail server of the tests, whose `Authentication-Results` are trusted.
const MX: &str = "mx.baton.test";

fn mailbox(unknown_senders: UnknownSenders) -> Mailbox {
    Mailbox {
        name: "support".into(),
        project: ProjectKeyOrId::parse("OPS"),
        unknown_senders,
        unverified_senders: UnverifiedSenders::NewItems,
        reply_projects: Some(vec!["OPS".into()]),
        trusted_authserv_ids: vec![MX.into()],
        address: "support@baton.test".into(),
        own_addresses: vec!["support@baton.test".into()],
        loop_id: "support@baton.test".into(),
        max_message_size: 1024 * 1024,
        max_attachment_size: 512 * 1024,
    }
}

/// The header the receiving server writes when the sender's domain passed DMARC.
fn verified(domain: &str) -> String {
    format!("Authentication-Results: {MX}; spf=pass smtp.mailfrom={domain}; dmarc=pass header.from={domain}\r\n")
}

fn store(app: &TestApp, mailbox: &Mailbox, raw: &str) -> Outcome {
    let files = FileStore::new(app.data_dir.join("attachments"));
    files.ensure_folders().unwrap();
    let mut connection = app.database().get().unwrap();
    write_transaction(&mut connection, |connection| inbound::store(connection, &files, mailbox, raw.as_bytes()))
        .unwrap()
}

fn mail(from: &str, headers: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: Support <support@baton.test>\r\n{headers}Subject: {subject}\r\n\
         Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

async fn item(app: &TestApp, id: i64) -> Value {
    let reply = app.admin.get(&format!("/api/v1/items/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn new_mail_becomes_an_item_and_replies_become_comments_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &rita, "reporter").await;
    app.add_member("OPS", &walt, "developer").await;
    let rules = mailbox(UnknownSenders::Reject);
    let first = "From: Rita <Rita@Example.com>\r\nTo: support@baton.test\r\nCc: walt@example.com, stranger@example.org\r\n\
         Message-ID: <first@mail.example.com>\r\nSubject: Printer on fire\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         The printer in room 4 is burning.\r\n--b\r\nContent-Type: text/plain; name=\"log.txt\"\r\n\
         Content-Disposition: attachment; filename=\"log.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         ZmxhbWVzIGF0IDA5OjAw\r\n--b--\r\n";
    let Outcome::Created(id) = store(&app, &rules, first) else { panic!("the first mail made no item") };
    let created = item(&app, id.0).await;
    assert_eq!(created["title"], "Printer on fire");
    assert!(created["description"].as_str().unwrap().contains("room 4 is burning"), "{created}");
    assert_eq!(created["reporter"]["login"], "rita");
    let attachments = app.admin.get(&format!("/api/v1/items/{id}/attachments")).await.body;
    assert_eq!(attachments["attachments"][0]["file_name"], "log.txt", "{attachments}");
    let watchers = app.admin.get(&format!("/api/v1/items/{id}/watchers")).await.body;
    let watching: Vec<&str> =
        watchers["watchers"].as_array().unwrap().iter().map(|user| user["login"].as_str().unwrap()).collect();
    assert!(watching.contains(&"walt") && watching.contains(&"rita"), "{watchers}");

    // The same mail again (a crash before it was moved on the server) stores nothing.
    assert_eq!(store(&app, &rules, first), Outcome::AlreadyStored);
    assert_eq!(app.count_rows("items"), 1);
    assert_eq!(app.count_rows("attachments"), 1);

    // A reply by our subject tag, with the quoted original cut off.
    let by_tag = mail(
        "rita@example.com",
        &format!("{}Message-ID: <second@mail.example.com>\r\n", verified("example.com")),
        &format!("AW: Re: [#{id}] Printer on fire"),
        "Still burning.\r\n\r\nOn Tue, 24 Nov 2026 at 09:00, Support wrote:\r\n> The printer in room 4",
    );
    assert!(matches!(store(&app, &rules, &by_tag), Outcome::Commented(item_id, _) if item_id == id));
    // A reply found through References (no tag), from another member.
    let by_reference = mail(
        "walt@example.com",
        &format!(
            "{}Message-ID: <third@mail.example.com>\r\nIn-Reply-To: <second@mail.example.com>\r\n\
             References: <first@mail.example.com> <second@mail.example.com>\r\n",
            verified("example.com")
        ),
        "Re: Printer on fire",
        "Extinguished.",
    );
    assert!(matches!(store(&app, &rules, &by_reference), Outcome::Commented(item_id, _) if item_id == id));
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    let bodies: Vec<&str> =
        comments["comments"].as_array().unwrap().iter().map(|comment| comment["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["Still burning.", "Extinguished."]);
    assert_eq!(app.count_rows("items"), 1);
    assert_eq!(app.count_rows("mail_received"), 3);
    // A mail without a Message-ID is known by the hash of its bytes.
    let anonymous = mail("rita@example.com", "", "Toner low", "Please order toner.");
    assert!(matches!(store(&app, &rules, &anonymous), Outcome::Created(_)));
    assert_eq!(store(&app, &rules, &anonymous), Outcome::AlreadyStored);
    assert_eq!(app.count_rows("items"), 2);
}

async fn mail_that_cannot_be_stored_is_recorded_once_with_its_reason_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    app.create_user("outsider").await;
    let rules = mailbox(UnknownSenders::Reject);
    let cases = [
        (
            mail(
                "rita@example.com",
                "Message-ID: <auto@x>\r\nAuto-Submitted: auto-replied\r\n",
                "Out of office",
                "Away.",
            ),
            "Auto-Submitted",
        ),
        (
            mail("rita@example.com", "Message-ID: <loop@x>\r\nX-Baton-Loop: support@baton.test\r\n", "Loop", "Ours."),
            "X-Baton-Loop",
        ),
        (mail("support@baton.test", "Message-ID: <own@x>\r\n", "Own", "Ours."), "our own address"),
        (mail("stranger@example.org", "Message-ID: <stranger@x>\r\n", "Hello", "Hi."), "unknown sender"),
        (mail("outsider@example.com", "Message-ID: <outsider@x>\r\n", "Let me in", "Hi."), "project OPS"),
        (
            mail("rita@example.com", "Message-ID: <big@x>\r\n", "Huge", &"x".repeat(1024 * 1024 + 1)),
            "larger than the mailbox limit",
        ),
        ("\u{0}\u{1}garbage without headers".to_string(), "no mail headers"),
        (
            mail(
                "rita@example.com",
                "Message-ID: <digest-reply@x>\r\nIn-Reply-To: <baton.digest.5@baton.test>\r\n",
                "Re: 2 items due by tomorrow or overdue",
                "Done with both.",
            ),
            "a reply to a digest names no item",
        ),
        (
            mail("outsider@example.com", "Message-ID: <reply@x>\r\n", "Re: [#999999] nothing", "Reply to nothing."),
            "project OPS",
        ),
    ];
    for (raw, expected) in &cases {
        match store(&app, &rules, raw) {
            Outcome::Failed(reason) => assert!(reason.contains(expected), "{expected:?} not in {reason:?}"),
            other => panic!("{expected:?}: stored as {other:?}"),
        }
        assert_eq!(store(&app, &rules, raw), Outcome::AlreadyRefused, "{expected:?} recorded twice");
    }
    assert_eq!(app.count_rows("items"), 0);
    assert_eq!(app.count_rows("comments"), 0);
    assert_eq!(app.count_rows("attachments"), 0);
    assert_eq!(app.count_rows("mail_failures"), cases.len() as i64);
    assert_eq!(app.count_rows("mail_received"), 0);
}

async fn unknown_senders_follow_the_mailbox_rule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let guest = app.create_user("mail-guest").await;
    app.add_member("OPS", &guest, "reporter").await;
    let raw = mail("New Person <new.person@example.org>", "Message-ID: <new@x>\r\n", "Hello", "A question.");
    let Outcome::Created(id) = store(&app, &mailbox(UnknownSenders::CreateUser), &raw) else {
        panic!("no item for a new sender")
    };
    let created = item(&app, id.0).await;
    assert_eq!(created["reporter"]["login"], "new.person");
    assert_eq!(created["reporter"]["name"], "New Person");
    let members = app.admin.get("/api/v1/projects/OPS/members").await.body;
    assert!(members.to_string().contains("new.person"), "{members}");
    // The next mail from that address is theirs; the same local part elsewhere gets a number.
    let again = mail("new.person@example.org", "Message-ID: <new2@x>\r\n", "Another", "Second question.");
    assert!(matches!(store(&app, &mailbox(UnknownSenders::CreateUser), &again), Outcome::Created(_)));
    let namesake = mail("new.person@other.example", "Message-ID: <new3@x>\r\n", "Namesake", "Hi.");
    let Outcome::Created(third) = store(&app, &mailbox(UnknownSenders::CreateUser), &namesake) else { panic!() };
    assert_eq!(item(&app, third.0).await["reporter"]["login"], "new.person2");
    let guest_mail = mail("someone@example.net", "Message-ID: <guest@x>\r\n", "As a guest", "Hi.");
    let Outcome::Created(by_guest) = store(&app, &mailbox(UnknownSenders::Guest("mail-guest".into())), &guest_mail)
    else {
        panic!("no item for a guest")
    };
    assert_eq!(item(&app, by_guest.0).await["reporter"]["login"], "mail-guest");
}

fn imap_mailbox(imap: &ImapServer) -> MailboxSettings {
    MailboxSettings {
        name: "support".into(),
        host: "127.0.0.1".into(),
        port: Some(imap.port),
        tls: TlsMode::None,
        user: imap.user.clone(),
        password: Some(imap.password.clone()),
        password_file: None,
        folder: "INBOX".into(),
        // Long: new mail must arrive through IDLE, not through the next poll.
        poll_interval: Duration::from_secs(60),
        idle: true,
        project: "OPS".into(),
        processed_folder: "Processed".into(),
        failed_folder: "Failed".into(),
        max_message_size: 64 * 1024,
        unknown_senders: UnknownSenders::Reject,
        unverified_senders: UnverifiedSenders::NewItems,
        reply_projects: Vec::new(),
        ca_file: None,
    }
}

/// Project OPS with the developer walt, and an item assigned to him by the admin (so walt is
/// sent a notification).
async fn item_assigned_to_a_developer(app: &TestApp, title: &str) {
    app.create_project("OPS", false).await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &walt, "developer").await;
    let created = app
        .admin
        .post("/api/v1/items", serde_json::json!({"project": "OPS", "title": title, "assignee_id": walt.user_id}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

/// The SMTP receiver on this loopback port, without sign-in.
fn smtp_settings(port: u16, tls: TlsMode, ca_file: Option<std::path::PathBuf>) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        tls,
        user: None,
        password: None,
        password_file: None,
        ca_file,
    }
}

/// A node with our address, one mailbox and, given a port, the SMTP receiver on it.
async fn spawn_with_mail(backend: Backend, mailbox: MailboxSettings, smtp_port: Option<u16>) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.mail.address = "support@baton.test".into();
        settings.mail.trusted_authserv_ids = vec![MX.into()];
        settings.mail.mailboxes = vec![mailbox];
        settings.mail.smtp = smtp_port.map(|port| smtp_settings(port, TlsMode::None, None));
    })
    .await
}

async fn mail_in_an_imap_mailbox_is_stored_and_moved_to_the_processed_or_failed_folder(backend: Backend) {
    let Some(imap) = ImapServer::start() else { return };
    let mailbox_settings = imap_mailbox(&imap);
    let app = spawn_with_mail(backend, mailbox_settings, None).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    imap.append(
        "INBOX",
        mail("rita@example.com", "Message-ID: <imap-1@x>\r\n", "Scanner jammed", "Paper stuck.").as_bytes(),
    );
    imap.append(
        "INBOX",
        mail("rita@example.com", "Message-ID: <imap-2@x>\r\nAuto-Submitted: auto-replied\r\n", "Away", "Out.")
            .as_bytes(),
    );
    imap.append(
        "INBOX",
        mail("rita@example.com", "Message-ID: <imap-3@x>\r\n", "Huge", &"y".repeat(100_000)).as_bytes(),
    );
    imap.append("INBOX", mail("newcomer@example.com", "Message-ID: <imap-5@x>\r\n", "First contact", "Hi.").as_bytes());
    app.poll_mail_now().await;
    assert_inbox_empty(&imap);
    let processed = imap.messages("Processed");
    assert_eq!(processed.len(), 1);
    assert!(String::from_utf8_lossy(&processed[0]).contains("Subject: Scanner jammed"));
    assert_eq!(imap.count("Failed"), 3);
    let items = app.admin.get("/api/v1/items?project=OPS").await.body;
    assert_eq!(items["total"], 1, "{items}");
    let id = items["items"][0]["id"].as_i64().unwrap();
    assert_eq!(items["items"][0]["title"], "Scanner jammed");

    // Administrators see the refusals with their reasons, reprocess or dismiss them.
    assert_eq!(rita.get("/api/v1/mail/failures").await.status, StatusCode::FORBIDDEN);
    let failures = app.admin.get("/api/v1/mail/failures").await.body["failures"].clone();
    let find = |subject: &str| -> Value {
        failures.as_array().unwrap().iter().find(|failure| failure["subject"] == subject).cloned().unwrap_or_default()
    };
    assert!(find("Away")["reason"].as_str().unwrap().contains("Auto-Submitted"), "{failures}");
    assert!(find("First contact")["reason"].as_str().unwrap().contains("unknown sender"), "{failures}");
    let huge = failures.as_array().unwrap().iter().find(|failure| failure["raw_sha256"].is_null()).unwrap();
    assert!(huge["reason"].as_str().unwrap().contains("larger than"), "{failures}");
    let newcomer = app.create_user("newcomer").await;
    app.add_member("OPS", &newcomer, "reporter").await;
    let path = |failure: &Value, action: &str| format!("/api/v1/mail/failures/{}{action}", failure["id"]);
    let again = app.admin.post(&path(&find("First contact"), "/reprocess"), serde_json::json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["outcome"], "created", "{}", again.body);
    let stored = item(&app, again.body["item_id"].as_i64().unwrap()).await;
    assert_eq!(stored["reporter"]["login"], "newcomer");
    let never_fetched = app.admin.post(&path(huge, "/reprocess"), serde_json::json!({})).await;
    assert_eq!(never_fetched.status, StatusCode::CONFLICT, "{}", never_fetched.body);
    assert_eq!(app.admin.delete(&path(&find("Away"), "")).await.status, StatusCode::NO_CONTENT);
    let left = app.admin.get("/api/v1/mail/failures").await.body["failures"].clone();
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    // A reply to the item from a verified sender arrives the same way and becomes a comment.
    let headers = format!("{}Message-ID: <imap-4@x>\r\n", verified("example.com"));
    imap.append(
        "INBOX",
        mail("rita@example.com", &headers, &format!("Re: [#{id}] Scanner jammed"), "Fixed.").as_bytes(),
    );
    app.poll_mail_now().await;
    assert!(imap.count("Processed") >= 2, "the reply was not taken");
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body;
    assert_eq!(comments["comments"][0]["body"], "Fixed.", "{comments}");
}

/// Legacy charsets in 8-bit and 7-bit form, a mail without Message-ID (delivered twice) and
/// broken MIME, all through Dovecot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_legacy_charsets_without_message_id_or_with_broken_mime_is_handled_through_imap() {
    let Some(imap) = ImapServer::start() else { return };
    let app = spawn_with_mail(Backend::Sqlite, imap_mailbox(&imap), None).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    let legacy = |message_id: &str, subject: &str, charset: &str, encoding: &str, body: &[u8]| -> Vec<u8> {
        let head = format!(
            "From: rita@example.com\r\nTo: support@baton.test\r\nMessage-ID: <{message_id}>\r\nSubject: {subject}\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
        );
        [head.as_bytes(), body, b"\r\n"].concat()
    };
    imap.append("INBOX", &legacy("cp@x", "Rechnung", "windows-1252", "8bit", b"Preis: 5\x80, f\xe4llig"));
    imap.append(
        "INBOX",
        &legacy("koi@x", "=?KOI8-R?B?8NLJ18XU?=", "koi8-r", "8bit", b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2"),
    );
    imap.append("INBOX", &legacy("jp@x", "Japan", "ISO-2022-JP", "7bit", b"\x1b$B%O%m!<!&%o!<%k%I\x1b(B"));
    let anonymous = mail("rita@example.com", "", "No identity", "Twice delivered.");
    imap.append("INBOX", anonymous.as_bytes());
    imap.append("INBOX", anonymous.as_bytes());
    imap.append(
        "INBOX",
        b"From: rita@example.com\r\nMessage-ID: <broken@x>\r\nSubject: Broken parts\r\nMIME-Version: 1.0\r\n\
          Content-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nStill readable.\r\n\
          --q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
          Content-Disposition: attachment; filename=\"cut.bin\"\r\n\r\n!!!not base64",
    );
    app.poll_mail_now().await;
    assert_inbox_empty(&imap);
    let failures = app.admin.get("/api/v1/mail/failures").await.body;
    assert_eq!((imap.count("Processed"), imap.count("Failed")), (6, 0), "{failures}");
    let items = app.admin.get("/api/v1/items?project=OPS&limit=100").await.body;
    assert_eq!(items["total"], 5, "the mail without Message-ID is stored once: {items}");
    let mut by_title = std::collections::BTreeMap::new();
    for listed in items["items"].as_array().unwrap() {
        let full = item(&app, listed["id"].as_i64().unwrap()).await;
        by_title.insert(full["title"].as_str().unwrap().to_string(), full["description"].as_str().unwrap().to_string());
    }
    assert_eq!(by_title["Rechnung"], "Preis: 5€, fällig");
    assert_eq!(by_title["Привет"], "Привет, мир");
    assert_eq!(by_title["Japan"], "ハロー・ワールド");
    assert_eq!(by_title["No identity"], "Twice delivered.");
    assert_eq!(by_title["Broken parts"], "Still readable.");
}

#[tokio::test]
async fn the_smtp_capture_of_the_mail_tests_keeps_what_it_receives() {
    use std::io::{BufRead, BufReader, Write};
    let Some(capture) = SmtpCapture::start() else { return };
    let stream = std::net::TcpStream::connect(("127.0.0.1", capture.port)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    let mut expect = |reader: &mut BufReader<std::net::TcpStream>, code: &str| loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(code), "wanted {code}, got {line:?}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect(&mut reader, "220");
    for (command, code) in [
        ("EHLO test\r\n", "250"),
        ("MAIL FROM:<baton@baton.test>\r\n", "250"),
        ("RCPT TO:<rita@example.com>\r\n", "250"),
        ("DATA\r\n", "354"),
        ("Subject: [#1] Hello\r\n\r\nA line.\r\n..dotted\r\n.\r\n", "250"),
    ] {
        writer.write_all(command.as_bytes()).unwrap();
        expect(&mut reader, code);
    }
    let received = capture.wait_for(1, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&received[0]).into_owned();
    assert!(text.contains("X-Envelope-To: rita@example.com") && text.contains("\r\n.dotted\r\n"), "{text}");
}

/// The value of a header in a raw mail (first occurrence, unfolded).
fn header(raw: &str, name: &str) -> String {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut lines = raw.split("\r\n").skip_while(|line| !line.to_ascii_lowercase().starts_with(&prefix));
    let mut value = lines.next().map(|line| line[prefix.len()..].trim().to_string()).unwrap_or_default();
    for continuation in lines.take_while(|line| line.starts_with([' ', '\t'])) {
        value.push(' ');
        value.push_str(continuation.trim());
    }
    value
}

async fn notifications_are_sent_threaded_and_a_reply_to_one_comes_back_as_a_comment(backend: Backend) {
    let (Some(imap), Some(smtp)) = (ImapServer::start(), SmtpCapture::start()) else { return };
    let mailbox_settings = imap_mailbox(&imap);
    let app = spawn_with_mail(backend, mailbox_settings, Some(smtp.port)).await;
    app.create_project("OPS", false).await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &walt, "developer").await;
    let walt_id = walt.get("/api/v1/users/me").await.body["id"].clone();
    let created = app
        .admin
        .post(
            "/api/v1/items",
            serde_json::json!({"project": "OPS", "title": "Badge reader broken", "assignee_id": walt_id}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();

    // The assignee is told; the admin who made the change is not.
    app.send_mail_now().await;
    let first = String::from_utf8_lossy(&smtp.wait_for(1, Duration::from_secs(20))[0]).into_owned();
    assert_eq!(header(&first, "X-Envelope-To"), "walt@example.com", "{first}");
    assert_eq!(header(&first, "Subject"), "[OPS-1] Badge reader broken", "the subject names the key");
    assert_eq!(header(&first, "Auto-Submitted"), "auto-generated");
    assert_eq!(header(&first, "X-Baton-Loop"), "support@baton.test");
    assert_eq!(header(&first, "In-Reply-To"), format!("<baton.item.{id}@baton.test>"));
    assert!(header(&first, "Content-Type").starts_with("multipart/alternative"), "{first}");
    let message_id = header(&first, "Message-ID");
    assert!(message_id.ends_with(&format!(".{id}@baton.test>")), "{message_id}");
    assert!(first.contains(&format!("/items/{id}")), "{first}");
    // Answers go to walt's own signed reply address for this item.
    let reply_to = header(&first, "Reply-To");
    assert!(reply_to.starts_with("support+") && reply_to.ends_with("@baton.test"), "{reply_to}");

    // Walt answers the notification from his mail program (no tag in the subject), from an
    // address of his that no account has and no server vouches for: the reply address says
    // who he is.
    let reply = format!(
        "From: Walt at home <walt@home.example>\r\nTo: {reply_to}\r\nSubject: Re: Badge reader broken\r\n\
         Message-ID: <walt-reply@example.com>\r\nIn-Reply-To: {message_id}\r\nReferences: {message_id}\r\n\r\n\
         On my way.\r\n\r\nOn Tue, Baton <support@baton.test> wrote:\r\n> -- Reply above this line --\r\n"
    );
    imap.append("INBOX", reply.as_bytes());
    app.poll_mail_now().await;
    let comments = app.admin.get(&format!("/api/v1/items/{id}/comments")).await.body["comments"].clone();
    assert!(
        comments.as_array().is_some_and(|list| !list.is_empty()),
        "the reply did not come back as a comment\n{}",
        imap.log()
    );
    assert_eq!(comments[0]["body"], "On my way.");
    assert_eq!(comments[0]["author"]["login"], "walt");

    // His comment is told to the admin (reporter and watcher), not to him.
    app.send_mail_now().await;
    let second = String::from_utf8_lossy(&smtp.wait_for(2, Duration::from_secs(20))[1]).into_owned();
    assert_eq!(header(&second, "X-Envelope-To"), "admin@example.com", "{second}");
    assert!(second.contains("On my way."), "{second}");

    // A status change is told to the assignee, with what changed.
    let version = item(&app, id).await["version"].clone();
    let moved =
        app.admin.patch(&format!("/api/v1/items/{id}"), serde_json::json!({"version": version, "status_id": 2})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    app.send_mail_now().await;
    let third = String::from_utf8_lossy(&smtp.wait_for(3, Duration::from_secs(20))[2]).into_owned();
    assert_eq!(header(&third, "X-Envelope-To"), "walt@example.com", "{third}");
    let text = baton::mail::message::parse(third.as_bytes(), &[], "").unwrap().text;
    assert!(text.contains("status: New → In progress"), "{text}");

    // Someone who turned notifications off gets none.
    let off = walt.patch("/api/v1/users/me", serde_json::json!({"email_notifications": false})).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    let comment = app.admin.post(&format!("/api/v1/items/{id}/comments"), serde_json::json!({"body": "Thanks"})).await;
    assert_eq!(comment.status, StatusCode::CREATED, "{}", comment.body);
    assert_eq!(app.count_rows("mail_outbox"), 3, "a notification was queued for someone who opted out");
}

async fn a_notification_refused_by_the_smtp_server_is_retried_later_and_sent_once(backend: Backend) {
    let Some(smtp) = SmtpCapture::start() else { return };
    smtp.refuse(true);
    let app = TestApp::spawn_with(backend, |settings| {
        settings.mail.smtp = Some(smtp_settings(smtp.port, TlsMode::None, None));
    })
    .await;
    item_assigned_to_a_developer(&app, "Retry me").await;
    app.send_mail_now().await;
    assert!(
        app.count_rows("mail_outbox WHERE attempts = 1") > 0,
        "the refused notification was not recorded as failed"
    );
    assert_eq!(app.count_rows("mail_outbox WHERE sent_at IS NULL AND last_error LIKE '%451%'"), 1);
    let status = app.admin.get("/api/v1/cluster").await.body;
    assert_eq!(
        (status["mail"]["outbox_depth"].clone(), status["mail"]["outbox_retrying"].clone()),
        (1.into(), 1.into())
    );
    // The next attempt waits 30 s; the test moves it to now instead of waiting.
    let later =
        if backend == Backend::Sqlite { "datetime('now', '+25 seconds')" } else { "NOW() + interval '25 seconds'" };
    assert_eq!(app.count_rows(&format!("mail_outbox WHERE next_attempt_at > {later}")), 1, "retried after about 30 s");
    smtp.refuse(false);
    assert!(smtp.messages().is_empty());
    app.database()
        .get()
        .unwrap()
        .batch_execute("UPDATE mail_outbox SET next_attempt_at = '2000-01-01 00:00:00'")
        .unwrap();
    app.send_mail_now().await;
    let delivered = smtp.wait_for(1, Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&delivered[0]).contains("Subject: [OPS-"), "{delivered:?}");
    assert!(
        app.count_rows("mail_outbox WHERE sent_at IS NOT NULL AND attempts = 1 AND last_error IS NULL") > 0,
        "the delivered notification was not marked sent"
    );
    // Another round (and the duty's own) finds nothing due.
    app.send_mail_now().await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_taken_over_tls_and_starttls_from_a_server_of_a_private_authority() {
    let Some(imap) = ImapServer::start_with_tls() else { return };
    let (tls_port, ca_file) = imap.tls.clone().unwrap();
    let mailbox = |name: &str, port: u16, tls: TlsMode, ca_file: Option<std::path::PathBuf>| MailboxSettings {
        name: name.into(),
        port: Some(port),
        tls,
        folder: name.into(),
        ca_file,
        ..imap_mailbox(&imap)
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.mail.address = "support@baton.test".into();
        settings.mail.mailboxes = vec![
            mailbox("ByTls", tls_port, TlsMode::Tls, Some(ca_file.clone())),
            mailbox("ByStarttls", imap.port, TlsMode::Starttls, Some(ca_file.clone())),
            mailbox("Untrusted", tls_port, TlsMode::Tls, None),
        ];
    })
    .await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    for (folder, subject) in [("ByTls", "Over TLS"), ("ByStarttls", "Over STARTTLS"), ("Untrusted", "Never taken")] {
        imap.append(
            folder,
            mail("rita@example.com", &format!("Message-ID: <{folder}@x>\r\n"), subject, "Hi.").as_bytes(),
        );
    }
    app.poll_mail_now().await;
    assert_eq!(imap.count("ByTls") + imap.count("ByStarttls"), 0, "mail left over TLS\n{}", imap.log());
    let items = app.admin.get("/api/v1/items?project=OPS").await.body;
    let mut titles: Vec<&str> =
        items["items"].as_array().unwrap().iter().map(|item| item["title"].as_str().unwrap()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Over STARTTLS", "Over TLS"], "{items}");
    assert_eq!(imap.count("Untrusted"), 1, "a server whose authority is not trusted gets no login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_go_over_starttls_and_tls_to_a_server_of_a_private_authority() {
    for (mode, start) in [
        (TlsMode::Starttls, SmtpCapture::start_with_starttls as fn() -> Option<SmtpCapture>),
        (TlsMode::Tls, SmtpCapture::start_with_tls),
    ] {
        let Some(smtp) = start() else { return };
        let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
            settings.mail.smtp = Some(smtp_settings(smtp.port, mode, Some(smtp.ca_file())));
        })
        .await;
        item_assigned_to_a_developer(&app, "Sealed").await;
        app.send_mail_now().await;
        let delivered = smtp.wait_for(1, Duration::from_secs(20));
        assert!(String::from_utf8_lossy(&delivered[0]).contains("Sealed"), "{mode:?}: {delivered:?}");
    }
}

/// A mail with `count` small text attachments.
fn mail_with_attachments(count: usize) -> String {
    let mut raw = String::from(
        "From: rita@example.com\r\nTo: support@baton.test\r\nSubject: Logs from every host\r\n\
         Message-ID: <many-parts@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nAll the logs.\r\n",
    );
    for number in 0..count {
        raw.push_str(&format!(
            "--b\r\nContent-Type: text/plain; name=\"host-{number}.log\"\r\n\
             Content-Disposition: attachment; filename=\"host-{number}.log\"\r\n\r\nboot ok on host {number}\r\n"
        ));
    }
    raw.push_str("--b--\r\n");
    raw
}

/// A mail of about `megabytes` MB: one base64 attachment in 76-character lines.
fn huge_mail(megabytes: usize) -> Vec<u8> {
    let mut raw = b"From: rita@example.com\r\nTo: support@baton.test\r\nSubject: Core dump\r\n\
        Message-ID: <core-dump@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: application/octet-stream\r\n\
        Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"core\"\r\n\r\n"
        .to_vec();
    let line = [b"QUJD".repeat(19).as_slice(), b"\r\n"].concat();
    while raw.len() < megabytes * 1024 * 1024 {
        raw.extend_from_slice(&line);
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_mb_mail_is_quarantined_and_one_with_200_attachments_stored_through_imap() {
    let Some(imap) = ImapServer::start() else { return };
    let mut mailbox_settings = imap_mailbox(&imap);
    mailbox_settings.max_message_size = 25 * 1024 * 1024;
    let app = spawn_with_mail(Backend::Sqlite, mailbox_settings, None).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    imap.append("INBOX", &huge_mail(30));
    imap.append("INBOX", mail_with_attachments(200).as_bytes());
    app.poll_mail_now().await;
    assert_inbox_empty(&imap);
    assert_eq!((imap.count("Processed"), imap.count("Failed")), (1, 1));
    let failures = app.admin.get("/api/v1/mail/failures").await.body["failures"].clone();
    let reason = failures[0]["reason"].as_str().unwrap();
    assert!(reason.contains("larger than the mailbox limit of 26214400 bytes"), "{failures}");
    let items = app.admin.get("/api/v1/items?project=OPS").await.body;
    assert_eq!(items["total"], 1, "{items}");
    let id = items["items"][0]["id"].as_i64().unwrap();
    let attachments = app.admin.get(&format!("/api/v1/items/{id}/attachments")).await.body["attachments"].clone();
    let names: std::collections::BTreeSet<String> =
        attachments.as_array().unwrap().iter().map(|file| file["file_name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), 200, "{attachments}");
    assert!(names.contains("host-0.log") && names.contains("host-199.log"), "{names:?}");
}

/// A mail of exactly `bytes` bytes (at least 1 KB): a base64 attachment of "ABC"s in
/// 76-character lines, topped up in the text part.
fn mail_of_exact_size(message_id: &str, bytes: usize) -> (Vec<u8>, usize) {
    let head = |filler: usize| {
        format!(
            "From: rita@example.com\r\nTo: support@baton.test\r\nSubject: Trace {message_id}\r\n\
             Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nSee attached{}\r\n--b\r\nContent-Type: application/octet-stream\r\n\
             Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"trace\"\r\n\r\n",
            ".".repeat(filler)
        )
    };
    let line = [b"QUJD".repeat(19).as_slice(), b"\r\n"].concat();
    let tail = b"--b--\r\n";
    let lines = (bytes - head(0).len() - tail.len()) / line.len();
    let filler = bytes - head(0).len() - tail.len() - lines * line.len();
    let mut raw = head(filler).into_bytes();
    raw.extend_from_slice(&line.repeat(lines));
    raw.extend_from_slice(tail);
    assert_eq!(raw.len(), bytes);
    (raw, lines * 57)
}

/// Mail above 1 MiB is fetched in 1 MiB pieces into a staging file and read back only while
/// it is stored: stored whole (also at exactly 2 MiB, where the last piece is empty), and no
/// spooled file left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_mail_is_fetched_in_pieces_to_disk_and_stored_whole() {
    let Some(imap) = ImapServer::start() else { return };
    let mut mailbox_settings = imap_mailbox(&imap);
    mailbox_settings.name = "spooling".into();
    mailbox_settings.max_message_size = 25 * 1024 * 1024;
    let app = spawn_with_mail(Backend::Sqlite, mailbox_settings, None).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    let sizes = [5 * 1024 * 1024 + 12_345, 2 * 1024 * 1024, 40_000];
    let mut attachment_sizes = std::collections::BTreeMap::new();
    for (number, size) in sizes.into_iter().enumerate() {
        let (raw, attachment_size) = mail_of_exact_size(&format!("trace-{number}@x"), size);
        imap.append("INBOX", &raw);
        attachment_sizes.insert(format!("Trace trace-{number}@x"), attachment_size);
    }
    app.poll_mail_now().await;
    assert!(imap.count("Processed") >= 3, "mail not processed\n{}", imap.log());
    let items = app.admin.get("/api/v1/items?project=OPS").await.body;
    assert_eq!(items["total"], 3, "{items}");
    for item in items["items"].as_array().unwrap() {
        let expected = attachment_sizes[item["title"].as_str().unwrap()];
        let attachments = app.admin.get(&format!("/api/v1/items/{}/attachments", item["id"])).await.body;
        let file = &attachments["attachments"][0];
        assert_eq!((file["file_name"].as_str(), file["size_bytes"].as_u64()), (Some("trace"), Some(expected as u64)));
        let download = app
            .admin
            .client
            .get(app.url(&format!("/api/v1/attachments/{}", file["id"])))
            .bearer_auth(&app.admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(download.bytes().await.unwrap().to_vec(), b"ABC".repeat(expected / 3), "{}", item["title"]);
    }
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|line| line == "baton_mail_spooled_total{mailbox=\"spooling\"} 2"), "{metrics}");
    let staging = app.data_dir.join("attachments").join("staging");
    let left: Vec<_> = std::fs::read_dir(&staging).unwrap().collect();
    assert!(left.is_empty(), "spooled files left: {left:?}");
}

/// The mail benchmark, run on a release build by `bench/mail_timing.sh`: 1,000 plain mails
/// through Dovecot into items, then 1,000 notifications to the SMTP receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run bench/mail_timing.sh"]
async fn benchmark_mail_throughput() {
    use baton::db::schema::mail_outbox;
    use diesel::prelude::*;
    let (Some(imap), Some(smtp)) = (ImapServer::start(), SmtpCapture::start()) else {
        panic!("the benchmark needs dovecot-imapd and python3-aiosmtpd")
    };
    let mut mailbox_settings = imap_mailbox(&imap);
    mailbox_settings.folder = "Bench".into();
    mailbox_settings.max_message_size = 25 * 1024 * 1024;
    // The polled folder exists from the start: a missing one puts the poller into its error
    // backoff, and the mails would wait for its next attempt (up to 16 s here).
    imap.create_folder("Bench");
    let app = spawn_with_mail(Backend::Sqlite, mailbox_settings, Some(smtp.port)).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    for number in 0..1000 {
        let raw = mail("rita@example.com", &format!("Message-ID: <bench-{number}@x>\r\n"), "Printer", "Out of paper.");
        imap.append("Staging", raw.as_bytes());
    }
    let started = Instant::now();
    imap.move_all("Staging", "Bench");
    while app.admin.get("/api/v1/items?limit=1").await.body["total"] != 1000 {
        assert!(started.elapsed() < Duration::from_secs(600), "mail is not being taken");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "| 1,000 mails moved into the polled IMAP folder → 1,000 items | {seconds:.2} s, {:.0} items/s |",
        1000.0 / seconds
    );
    while imap.count("Processed") < 1000 {
        assert!(started.elapsed() < Duration::from_secs(600), "mail is not being moved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let rita_id = rita.get("/api/v1/users/me").await.body["id"].as_i64().unwrap();
    let mut connection = app.database().get().unwrap();
    let started = Instant::now();
    write_transaction(&mut connection, |connection| {
        for item in 1..=1000i64 {
            diesel::insert_into(mail_outbox::table)
                .values((
                    mail_outbox::item_id.eq(item),
                    mail_outbox::recipient_id.eq(rita_id),
                    mail_outbox::actor_id.eq(1i64),
                    mail_outbox::event.eq("created"),
                ))
                .execute(connection)?;
        }
        Ok(())
    })
    .unwrap();
    smtp.wait_for(1000, Duration::from_secs(600));
    let seconds = started.elapsed().as_secs_f64();
    println!("| 1,000 notifications → the SMTP receiver | {seconds:.2} s, {:.0} mails/s |", 1000.0 / seconds);

    // Large mail: 20 mails of 10 MiB in the folder at once. The peak memory of this process
    // (the node runs in it) grows by what the poller holds, not by the 200 MiB.
    for number in 0..20 {
        imap.append("Staging", &mail_of_exact_size(&format!("large-{number}@x"), 10 * 1024 * 1024).0);
    }
    let peak_before = peak_memory_mib();
    let started = Instant::now();
    imap.move_all("Staging", "Bench");
    while imap.count("Processed") < 1020 {
        assert!(started.elapsed() < Duration::from_secs(600), "large mail is not being taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "| 20 mails of 10 MiB → 20 items with attachments | {:.2} s, peak memory {peak_before} → {} MiB |",
        started.elapsed().as_secs_f64(),
        peak_memory_mib()
    );
}

/// This process's peak resident memory (VmHWM) in MiB.
fn peak_memory_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// Every mail appended to INBOX was taken (the server's log tells why when not).
fn assert_inbox_empty(imap: &ImapServer) {
    assert_eq!(imap.count("INBOX"), 0, "mail left in INBOX\n{}", imap.log());
}
