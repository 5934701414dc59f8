//! Scheduled jobs: the list, runs asked for by hand (API and CLI) and what each built-in job
//! does. The once-per-occurrence guarantee across master kills is tested in `cluster`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    jobs_are_listed_with_their_schedule_and_next_run_for_administrators_only,
    prune_removes_old_coordination_rows_and_keeps_recent_ones,
    session_cleanup_removes_expired_sessions,
    due_reminders_queue_one_digest_per_user_and_the_sender_mails_it,
    index_merge_leaves_one_segment_and_search_still_finds_everything,
);

/// Asks for a run of `job` and runs the scheduler's round; returns the finished run.
pub async fn run_job(app: &TestApp, job: &str) -> Value {
    let reply = app.admin.post(&format!("/api/v1/jobs/{job}/runs"), json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["run"]["id"].as_i64().expect("run id");
    app.run_jobs_now().await;
    let reply = app.admin.get(&format!("/api/v1/jobs/{job}/runs/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        matches!(reply.body["state"].as_str(), Some("succeeded" | "failed")),
        "job {job} did not finish: {}",
        reply.body
    );
    reply.body
}

async fn jobs_are_listed_with_their_schedule_and_next_run_for_administrators_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.jobs.prune = "15 2 * * Sun".into()).await;
    let reply = app.admin.get("/api/v1/jobs").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let names: Vec<&str> =
        reply.body["jobs"].as_array().unwrap().iter().map(|job| job["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["due_reminders", "notification_digest", "session_cleanup", "prune", "index_merge"]);
    let prune = &reply.body["jobs"][3];
    assert_eq!(prune["schedule"], "15 2 * * Sun");
    let next = chrono::DateTime::parse_from_rfc3339(prune["next_run"].as_str().unwrap()).unwrap();
    assert_eq!(next.format("%a %H:%M:%S").to_string(), "Sun 02:15:00", "a 5-field expression, weekday by name");
    assert!(next > chrono::Utc::now() && next < chrono::Utc::now() + chrono::Duration::days(7), "{next}");
    assert!(prune["last_run"].is_null());

    let user = app.create_user("walter").await;
    assert_eq!(user.get("/api/v1/jobs").await.status, StatusCode::FORBIDDEN);
    assert_eq!(user.post("/api/v1/jobs/prune/runs", json!({})).await.status, StatusCode::FORBIDDEN);
    let unknown = app.admin.post("/api/v1/jobs/vacuum/runs", json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert!(unknown.body["error"]["message"].as_str().unwrap().contains("index_merge"), "{}", unknown.body);
    assert_eq!(app.admin.get("/api/v1/jobs/prune/runs/999").await.status, StatusCode::NOT_FOUND);

    let run = run_job(&app, "prune").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["run"]["node"], "test-node");
    assert_eq!(run["run"]["cause"], "manual");
    let listed = app.admin.get("/api/v1/jobs").await;
    assert_eq!(listed.body["jobs"][3]["last_run"]["id"], run["run"]["id"]);
    let runs = app.admin.get("/api/v1/jobs/prune/runs").await;
    assert_eq!(runs.body["runs"].as_array().unwrap().len(), 1, "{}", runs.body);
}

async fn prune_removes_old_coordination_rows_and_keeps_recent_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let item = app.admin.post("/api/v1/projects", json!({"key": "OPS", "name": "Ops"})).await;
    assert_eq!(item.status, StatusCode::CREATED);
    let item_id = app.admin.create_item("OPS", "Kept").await["id"].as_i64().unwrap();
    app.database()
        .get()
        .unwrap()
        .batch_execute(&format!(
            "INSERT INTO cluster_events (at, node, kind, reason) VALUES ('2000-01-01 00:00:00', 'old', 'joined', 'long ago');\
             INSERT INTO cluster_probe (node, epoch, at) VALUES ('old', 0, '2000-01-01 00:00:00');\
             INSERT INTO mail_outbox (item_id, recipient_id, actor_id, event, created_at, sent_at) \
               VALUES ({item_id}, 1, 1, 'created', '2000-01-01 00:00:00', '2000-01-01 00:00:01');\
             INSERT INTO mail_outbox (item_id, recipient_id, actor_id, event, created_at, next_attempt_at) \
               VALUES ({item_id}, 1, 1, 'created', '2000-01-01 00:00:00', '2999-01-01 00:00:00');\
             INSERT INTO mail_received (message_key, mailbox, item_id, received_at) \
               VALUES ('<old@example.com>', 'support', {item_id}, '2000-01-01 00:00:00');\
             INSERT INTO mail_received (message_key, mailbox, item_id) VALUES ('<new@example.com>', 'support', {item_id})"
        ))
        .unwrap();
    // A staging file left by a crash two days ago goes; one being written now stays.
    let staging = app.data_dir.join("attachments").join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let left = std::fs::File::create(staging.join("left-by-a-crash")).unwrap();
    left.set_modified(std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600)).unwrap();
    std::fs::write(staging.join("upload-in-progress"), b"half").unwrap();
    let run = run_job(&app, "prune").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let detail = run["run"]["detail"].as_str().unwrap();
    assert!(detail.contains("1 sent mails") && detail.contains("1 mail receipts"), "{detail}");
    assert!(detail.contains("1 stale staging files"), "{detail}");
    assert!(!staging.join("left-by-a-crash").exists());
    assert!(staging.join("upload-in-progress").exists());
    assert_eq!(app.count_rows("cluster_events WHERE node = 'old'"), 0);
    assert_eq!(app.count_rows("cluster_probe WHERE node = 'old'"), 0);
    assert!(app.count_rows("cluster_events WHERE kind = 'acquired'") >= 1, "recent events stay");
    assert_eq!(app.count_rows("mail_outbox WHERE sent_at IS NOT NULL AND created_at < '2001-01-01'"), 0);
    assert_eq!(app.count_rows("mail_outbox WHERE created_at < '2001-01-01'"), 1, "an unsent mail is never pruned");
    assert_eq!(app.count_rows("mail_received"), 1, "the recent receipt stays");
}

async fn session_cleanup_removes_expired_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.database()
        .get()
        .unwrap()
        .batch_execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at) VALUES ('gone', 1, 'x', '2000-01-01 00:00:00')",
        )
        .unwrap();
    let live = app.count_rows("sessions") - 1;
    assert!(live >= 1, "the admin's sign-in session");
    let run = run_job(&app, "session_cleanup").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["run"]["detail"], "removed 1 expired sessions");
    assert_eq!(app.count_rows("sessions"), live);
    assert_eq!(app.admin.get("/api/v1/users/me").await.status, StatusCode::OK);
}

async fn due_reminders_queue_one_digest_per_user_and_the_sender_mails_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let alice = app.create_user("alice").await;
    app.add_member("OPS", &alice, "developer").await;
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let create = |title: &str, assignee: Option<i64>, due: String| {
        app.admin
            .post("/api/v1/items", json!({"project": "OPS", "title": title, "assignee_id": assignee, "due_date": due}))
    };
    let mut ids = Vec::new();
    for (title, assignee, due) in [
        ("Renew the certificate", Some(alice.user_id), day(1)),
        ("Patch the kernel", Some(alice.user_id), day(-3)),
        ("Plan the offsite", Some(alice.user_id), day(5)),
        ("Order toner", None, day(0)),
        ("Closed already", Some(alice.user_id), day(-1)),
    ] {
        let reply = create(title, assignee, due).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(reply.body["id"].as_i64().unwrap());
    }
    app.database()
        .get()
        .unwrap()
        .batch_execute(&format!(
            "UPDATE items SET status_id = (SELECT MIN(id) FROM statuses WHERE is_closed = TRUE) WHERE id = {}",
            ids[4]
        ))
        .unwrap();
    let before = app.count_rows("mail_outbox WHERE event = 'due_reminder'");
    assert_eq!(before, 0);
    let run = run_job(&app, "due_reminders").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["run"]["detail"], "queued 2 digest mails about 3 items due by tomorrow or overdue");
    assert_eq!(
        app.count_rows(&format!("mail_outbox WHERE event = 'due_reminder' AND recipient_id = {}", alice.user_id)),
        1
    );
    assert_eq!(app.count_rows("mail_outbox WHERE event = 'due_reminder' AND recipient_id = 1"), 1, "the reporter");

    // Without an SMTP server the sender writes .eml files.
    let folder = app.data_dir.join("mail-outbox");
    app.send_mail_now().await;
    let digest = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|entry| {
            let text = std::fs::read_to_string(entry.path()).ok()?;
            (text.contains("alice@example.com") && text.contains("baton.digest.")).then_some(text)
        })
        .unwrap_or_else(|| panic!("no digest mail was written to {}", folder.display()));
    assert!(digest.contains("Subject: 2 items due by tomorrow or overdue"), "{digest}");
    let key =
        async |id: i64| app.admin.get(&format!("/api/v1/items/{id}")).await.body["key"].as_str().unwrap().to_string();
    assert!(digest.contains(&format!("{} Patch the kernel (overdue by 3 days", key(ids[1]).await)), "{digest}");
    assert!(digest.contains(&format!("{} Renew the certificate (due tomorrow", key(ids[0]).await)), "{digest}");
    assert!(!digest.contains("Plan the offsite") && !digest.contains("Closed already"), "{digest}");
    assert!(digest.contains("Message-ID: <baton.digest."), "{digest}");
    assert!(!digest.contains("In-Reply-To"), "a digest belongs to no item's thread: {digest}");
    let patch_first = digest.find("Patch the kernel").unwrap() < digest.find("Renew the certificate").unwrap();
    assert!(patch_first, "most urgent first: {digest}");
}

async fn index_merge_leaves_one_segment_and_search_still_finds_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    // Items created one after another land in separate index commits, so several segments.
    for number in 0..5 {
        app.admin.create_item("OPS", &format!("Quokka number {number}")).await;
        crate::search::search_until(&app, &app.admin, "quokka", number + 1).await;
    }
    let run = run_job(&app, "index_merge").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let detail = run["run"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("merged ") && detail.ends_with(" segments into one"), "{detail}");
    let again = run_job(&app, "index_merge").await;
    assert_eq!(again["run"]["detail"], "1 segment, nothing to merge", "{again}");
    assert_eq!(app.admin.get("/api/v1/search?q=quokka").await.body["total"], 5);
}
