//! Through a real Dovecot: folders named in any language, a failing mailbox shown with the
//! server's message wherever operators look, and a corpus of every kind of mail accounted
//! for exactly once.

use baton::config::mail::MailboxSettings;
use baton::mail::reply_address::{SigningKey, address_with};
use baton::model::ids::{ItemId, UserId};
use reqwest::StatusCode;
use serde_json::Value;

use super::{MX, huge_mail, imap_mailbox, mail, verified};
use crate::on_both_backends;
use crate::support::mail_servers::ImapServer;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(
    folders_named_in_any_language_are_polled_and_a_failing_mailbox_shows_its_error_everywhere,
    every_mail_of_a_corpus_of_every_case_is_accounted_for_exactly_once,
);

async fn spawn(backend: Backend, mailboxes: Vec<MailboxSettings>) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.mail.address = "support@baton.test".into();
        settings.mail.trusted_authserv_ids = vec![MX.into()];
        settings.mail.mailboxes = mailboxes;
    })
    .await
}

/// The mailbox named `name` in the cluster status.
async fn mailbox_status(app: &TestApp, name: &str) -> Value {
    let status = app.admin.get("/api/v1/cluster").await.body;
    status["mail"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mailbox| mailbox["name"] == name)
        .cloned()
        .unwrap_or_default()
}

async fn folders_named_in_any_language_are_polled_and_a_failing_mailbox_shows_its_error_everywhere(backend: Backend) {
    let Some(imap) = ImapServer::start() else { return };
    let german = MailboxSettings {
        name: "support".into(),
        folder: "Störungen".into(),
        processed_folder: "Erledigt ✓".into(),
        failed_folder: "Abgewiesen – Störungen".into(),
        ..imap_mailbox(&imap)
    };
    let broken = MailboxSettings { name: "broken".into(), folder: "Gibt es nicht".into(), ..imap_mailbox(&imap) };
    // The polled folder exists from the start: a missing one sends the poller into its
    // growing pause, which is not what this test is about.
    imap.create_folder("Störungen");
    let app = spawn(backend, vec![german, broken]).await;
    app.create_project("OPS", false).await;
    let rita = app.create_user("rita").await;
    app.add_member("OPS", &rita, "reporter").await;
    imap.append("Störungen", mail("rita@example.com", "Message-ID: <s1@x>\r\n", "Drucker", "Papierstau.").as_bytes());
    imap.append("Störungen", mail("nobody@example.org", "Message-ID: <s2@x>\r\n", "Hallo", "Wer?").as_bytes());
    app.poll_mail_now().await;
    assert_eq!(imap.count("Störungen"), 0, "mail left in Störungen\n{}", imap.log());
    assert_eq!((imap.count("Erledigt ✓"), imap.count("Abgewiesen – Störungen")), (1, 1));
    assert_eq!(app.admin.get("/api/v1/items?project=OPS").await.body["total"], 1);

    // The mailbox whose folder is missing shows as failing, with Dovecot's own words.
    let failing = mailbox_status(&app, "broken").await;
    assert!(failing["consecutive_failures"].as_i64().unwrap_or(0) >= 1, "the failing mailbox never showed: {failing}");
    let error = failing["last_error"].as_str().unwrap();
    let says = "IMAP SELECT \"Gibt es nicht\": the server answered NO: Mailbox doesn't exist: Gibt es nicht";
    assert!(error.starts_with(says), "{error}");
    assert!(failing["last_success_at"].is_null() && !failing["last_failure_at"].is_null(), "{failing}");
    let working = mailbox_status(&app, "support").await;
    assert_eq!(working["consecutive_failures"], 0, "{working}");
    assert!(working["last_success_at"].is_string(), "{working}");

    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    let value = |name: &str, mailbox: &str| -> f64 {
        let prefix = format!("{name}{{mailbox=\"{mailbox}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
            .unwrap_or_else(|| panic!("{prefix}\n{metrics}"))
    };
    assert!(value("baton_mail_mailbox_consecutive_failures", "broken") >= 1.0);
    assert_eq!(value("baton_mail_mailbox_last_success_timestamp_seconds", "broken"), 0.0);
    assert!(value("baton_mail_mailbox_last_success_timestamp_seconds", "support") > 1.7e9);
    assert_eq!(value("baton_mail_mailbox_consecutive_failures", "support"), 0.0);

    let admin = WebClient::sign_in(&app.address, "admin", crate::support::app::ADMIN_PASSWORD).await;
    let page = admin.get("/admin/cluster").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-mailbox=\"broken\" data-state=\"error\""), "{}", page.body);
    assert!(page.body.contains("data-mailbox=\"support\" data-state=\"ok\""), "{}", page.body);
    assert!(page.body.contains("the server answered NO: Mailbox doesn&#39;t exist"), "{}", page.body);

    let output = tokio::task::spawn_blocking({
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_baton"));
        for (key, _) in std::env::vars() {
            if key.starts_with("BATON_") {
                command.env_remove(key);
            }
        }
        command
            .env("BATON_DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn")
            .current_dir(app.data_dir.parent().unwrap());
        move || command.args(["cluster", "status"]).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("mailbox broken: ERROR, last successful poll never")
            && stdout.contains("failed polls in a row"),
        "{stdout}"
    );
    assert!(stdout.contains("Mailbox doesn't exist"), "{stdout}");
    assert!(stdout.contains("mailbox support: OK, last successful poll 20"), "{stdout}");
}

async fn every_mail_of_a_corpus_of_every_case_is_accounted_for_exactly_once(backend: Backend) {
    let Some(imap) = ImapServer::start() else { return };
    let rules = MailboxSettings { max_message_size: 3 * 1024 * 1024, ..imap_mailbox(&imap) };
    let app = spawn(backend, vec![rules]).await;
    app.create_project("OPS", false).await;
    app.create_project("SEC", false).await;
    let rita = app.create_user("rita").await;
    let walt = app.create_user("walt").await;
    app.add_member("OPS", &rita, "reporter").await;
    app.add_member("OPS", &walt, "developer").await;
    app.add_member("SEC", &walt, "developer").await;
    let printer = app.admin.create_item("OPS", "Printer").await["id"].as_i64().unwrap();
    let secret = app.admin.create_item("SEC", "Incident").await["id"].as_i64().unwrap();
    let (valid, expired) = {
        let mut connection = app.database().get().unwrap();
        let key = SigningKey::load(&mut connection).unwrap();
        let today = chrono::Utc::now().date_naive();
        let token = |days: i64| key.token(UserId(rita.user_id), ItemId(printer), today + chrono::Duration::days(days));
        (address_with("support@baton.test", &token(30)), address_with("support@baton.test", &token(-2)))
    };
    // Rita's reply address made out for another user: a digit more in the user's number.
    let altered = valid.replacen("support+", "support+1", 1);
    let ok = verified("example.com");
    let failed_check = format!("Authentication-Results: {MX}; dmarc=fail header.from=example.com\r\n");
    let tagged = format!("Re: [#{printer}] Printer");
    // (mail, what it must become: "item", "comment" or "refused")
    let corpus: Vec<(Vec<u8>, &str)> = vec![
        (mail("rita@example.com", "Message-ID: <c1@x>\r\n", "Toner low", "Please order.").into(), "item"),
        (mail("rita@example.com", "Message-ID: <c1@x>\r\n", "Toner still low", "Again.").into(), "item"),
        (mail("walt@example.com", &format!("{ok}Message-ID: <c3@x>\r\n"), &tagged, "Ordered.").into(), "comment"),
        (
            mail("rita@mobile.example", &format!("To: {valid}\r\nMessage-ID: <c4@x>\r\n"), "Re: x", "Thanks.").into(),
            "comment",
        ),
        (
            mail("admin@example.com", &format!("{failed_check}Message-ID: <c5@x>\r\n"), &tagged, "Forged.").into(),
            "refused",
        ),
        (mail("admin@example.com", "Message-ID: <c6@x>\r\n", "Forged item", "As admin.").into(), "refused"),
        (
            mail("rita@example.com", "Message-ID: <c7@x>\r\nAuto-Submitted: auto-replied\r\n", "Away", "Out.").into(),
            "refused",
        ),
        (
            mail("rita@example.com", &format!("{ok}Message-ID: <c8@x>\r\n"), &format!("Автоответ: {tagged}"), "Нет.")
                .into(),
            "refused",
        ),
        (report(printer).into_bytes(), "refused"),
        (
            mail("rita@example.com", "Message-ID: <c10@x>\r\n", "\u{1b}[31mRed\u{1b}[0m", "Form\u{c}feed.").into(),
            "item",
        ),
        (
            mail("rita@example.com", "Message-ID: <c11@x>\r\n", "Long log", &"log line\r\n".repeat(160_000)).into(),
            "item",
        ),
        (
            b"From: rita@example.com\r\nMessage-ID: <c12@x>\r\nSubject: No boundary\r\n\
              Content-Type: multipart/mixed; boundary=\"never\"\r\n\r\nPlain words.\r\n"
                .to_vec(),
            "item",
        ),
        (b"From: rita@example.com\r\nMessage-ID: <c13@x>\r\nSubject: Gr\xfc\xdfe\r\n\r\nHallo.\r\n".to_vec(), "item"),
        (
            mail("rita@example.com", &format!("To: {expired}\r\nMessage-ID: <c14@x>\r\n"), "Re: x", "Late.").into(),
            "refused",
        ),
        (
            mail("rita@example.com", &format!("To: {altered}\r\nMessage-ID: <c15@x>\r\n"), "Re: x", "Sly.").into(),
            "refused",
        ),
        (
            mail(
                "walt@example.com",
                &format!("{ok}Message-ID: <c16@x>\r\n"),
                &format!("Re: [#{secret}] Incident"),
                "Hm.",
            )
            .into(),
            "refused",
        ),
        (mail("stranger@example.org", "Message-ID: <c17@x>\r\n", "Hello", "Hi.").into(), "refused"),
        (huge_mail(4), "refused"),
        (b"no headers at all, just words\r\n".to_vec(), "refused"),
        (
            mail(
                "rita@example.com",
                "Message-ID: <c20@x>\r\nIn-Reply-To: <baton.digest.3@baton.test>\r\n",
                "Re: 2 items",
                "Ok.",
            )
            .into(),
            "refused",
        ),
        (mail("rita@example.com", "Message-ID: <c21@x>\r\n", &tagged, "Unverified reply.").into(), "refused"),
    ];
    // The corpus arrives in the polled folder at once.
    for (raw, _) in &corpus {
        imap.append("Staging", raw);
    }
    imap.move_all("Staging", "INBOX");
    app.poll_mail_now().await;
    assert_eq!(imap.count("INBOX"), 0, "mails left in INBOX\n{}", imap.log());
    let expected = |kind: &str| corpus.iter().filter(|(_, became)| *became == kind).count() as i64;
    let items = app.count_rows("mail_received WHERE comment_id IS NULL");
    let comments = app.count_rows("mail_received WHERE comment_id IS NOT NULL");
    let refusals = app.count_rows("mail_failures");
    let failures = app.admin.get("/api/v1/mail/failures").await.body;
    assert_eq!((items, comments, refusals), (expected("item"), expected("comment"), expected("refused")), "{failures}");
    assert_eq!(items + comments + refusals, corpus.len() as i64, "every mail accounted for exactly once");
    assert_eq!(app.count_rows("items"), 2 + items, "one item per stored new mail");
    assert_eq!(app.count_rows("comments"), comments, "one comment per stored reply");
    assert_eq!((imap.count("Processed") + imap.count("Failed")) as i64, corpus.len() as i64);
    assert_eq!(imap.count("Processed") as i64, items + comments);
}

/// A delivery report from an unusual sender, returning a notification about `item`.
fn report(item: i64) -> String {
    format!(
        "From: Postmaster <gateway@relay.example.net>\r\nTo: support@baton.test\r\nMessage-ID: <c9@x>\r\n\
         Subject: Delivery failure\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n--r\r\nContent-Type: message/rfc822\r\n\r\n\
         From: support@baton.test\r\nX-Baton-Loop: support@baton.test\r\nSubject: [#{item}] Printer\r\n\r\nChanged.\r\n--r--\r\n"
    )
}
