//! The `baton` binary as a newcomer uses it.

use std::io::{BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::wait::{FileText, done_when, wait_until};

const BATON: &str = env!("CARGO_BIN_EXE_baton");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn baton(folder: &std::path::Path) -> Command {
    let mut command = Command::new(BATON);
    command.current_dir(folder).env_remove("BATON_ADMIN_PASSWORD").env("RUST_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("BATON_") {
            command.env_remove(key);
        }
    }
    command
}

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_no_configuration_prints_the_admin_password_once_and_serves() {
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = baton(folder.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (sender, receiver) = std::sync::mpsc::channel();
    // Keeps reading until the node exits, as a terminal would.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(password) = line.trim().strip_prefix("password:") {
                let _ = sender.send(password.trim().to_string());
            }
        }
    });
    let password = tokio::task::spawn_blocking(move || receiver.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("the password line");
    assert!(password.len() >= 16);
    assert!(folder.path().join("data/baton.db").is_file(), "SQLite in ./data by default");
    let client = reqwest::Client::new();
    let ping = wait_until("the node answering", Duration::from_secs(20), async || {
        match client.get(format!("http://127.0.0.1:{port}/api/v1/system/ping")).send().await {
            Ok(response) => ControlFlow::Break(response),
            Err(error) => ControlFlow::Continue(error),
        }
    })
    .await;
    assert_eq!(ping.status(), StatusCode::OK);
    let ping: serde_json::Value = ping.json().await.unwrap();
    assert_eq!(ping["status"], "ok");
    assert_eq!(ping["version"], env!("CARGO_PKG_VERSION"));
    let signed_in = client
        .post(format!("http://127.0.0.1:{port}/api/v1/session"))
        .json(&json!({"login": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    drop(running);

    // A restart finds the admin and prints no new password.
    let output = baton(folder.path()).args(["user", "list"]).output().unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert_eq!(listing.lines().filter(|line| line.contains("admin")).count(), 1, "{listing}");
}

#[test]
fn invalid_settings_stop_the_start_naming_the_key() {
    let folder = tempfile::tempdir().unwrap();
    let output = baton(folder.path()).args(["migrate"]).env("BATON_POOL_SIZE", "0").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("pool_size"));

    std::fs::write(folder.path().join("baton.toml"), "listen = \"127.0.0.1:99999\"\n").unwrap();
    let output = baton(folder.path()).args(["migrate"]).output().unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("listen"), "{message}");

    std::fs::write(folder.path().join("baton.toml"), "[limits]\nmax_attachment_size = \"lots\"\n").unwrap();
    let output = baton(folder.path()).args(["migrate"]).output().unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("limits.max_attachment_size"), "{message}");
    std::fs::remove_file(folder.path().join("baton.toml")).unwrap();

    let output = baton(folder.path()).args(["migrate", "--database", "mysql://root:pw@db/baton"]).output().unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(message.contains("sqlite://") && message.contains("postgres://") && !message.contains(":pw@"), "{message}");

    let output = baton(folder.path()).args(["serve", "--listen", "nowhere"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
    assert!(!folder.path().join("data").exists(), "nothing was created by the failed starts");
}

#[test]
fn users_are_created_listed_and_given_new_passwords_from_the_command_line() {
    let folder = tempfile::tempdir().unwrap();
    let run_with_input = |args: &[&str], input: &str| {
        let mut child = baton(folder.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let created = run_with_input(&["user", "create", "Root2", "--admin", "--name", "Second Admin"], "first-password\n");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).contains("created user root2"));
    let again = run_with_input(&["user", "create", "root2"], "first-password\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let short = run_with_input(&["user", "create", "shorty"], "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));
    let changed = run_with_input(&["user", "passwd", "root2"], "second-password\n");
    assert!(changed.status.success(), "{}", String::from_utf8_lossy(&changed.stderr));
    let unknown = run_with_input(&["user", "passwd", "ghost"], "second-password\n");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user"));
    let listed = baton(folder.path()).args(["user", "list"]).output().unwrap();
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listing.contains("root2") && listing.contains("Second Admin"), "{listing}");

    let mut connection = SqliteConnection::establish(&folder.path().join("data/baton.db").to_string_lossy()).unwrap();
    let hash: String = diesel::sql_query("SELECT password_hash FROM users WHERE login = 'root2'")
        .get_result::<PasswordHash>(&mut connection)
        .unwrap()
        .password_hash;
    assert!(baton::model::user::verify_password("second-password", &hash));
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct PasswordHash {
    #[diesel(sql_type = diesel::sql_types::Text)]
    password_hash: String,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct ItemSample {
    #[diesel(sql_type = diesel::sql_types::Text)]
    title: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    status_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    comments: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    field_values: i64,
}

fn demo_sample(folder: &std::path::Path) -> Vec<ItemSample> {
    let mut connection = SqliteConnection::establish(&folder.join("data/baton.db").to_string_lossy()).unwrap();
    diesel::sql_query(
        "SELECT title, status_id, (SELECT COUNT(*) FROM comments c WHERE c.item_id = items.id) AS comments, \
           (SELECT COUNT(*) FROM item_values v WHERE v.item_id = items.id) AS field_values FROM items ORDER BY id",
    )
    .load(&mut connection)
    .unwrap()
}

#[test]
fn demo_data_is_the_same_for_the_same_seed() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for folder in [&first, &second] {
        let output = baton(folder.path()).args(["demo-data", "--items", "300", "--seed", "7"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("SQLite keeps"), "SQLite allocates through mimalloc: {stderr}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("created 300 items"));
    }
    let users = baton(first.path()).args(["user", "list"]).output().unwrap();
    let listing = String::from_utf8_lossy(&users.stdout);
    let admin_line = listing.lines().find(|line| line.split_whitespace().nth(1) == Some("admin")).unwrap_or_default();
    assert!(admin_line.contains("yes"), "demo data on an empty database still creates the admin first: {listing}");
    let mut connection = SqliteConnection::establish(&first.path().join("data/baton.db").to_string_lossy()).unwrap();
    let disagreeing: i64 = diesel::sql_query(
        "SELECT COUNT(*) AS count FROM \
           (SELECT project_id, status_id, COUNT(*) AS counted FROM items GROUP BY project_id, status_id) c \
         FULL OUTER JOIN (SELECT project_id, status_id, SUM(items) AS summed FROM item_totals GROUP BY project_id, status_id) t \
           USING (project_id, status_id) WHERE COALESCE(counted, 0) <> COALESCE(summed, 0)",
    )
    .get_result::<Count>(&mut connection)
    .unwrap()
    .count;
    assert_eq!(disagreeing, 0, "bulk-loaded items are counted in item_totals");
    let unkept: i64 = diesel::sql_query(
        "SELECT COUNT(*) AS count FROM items \
         WHERE COALESCE(json_array_length(field_values), 0) <> (SELECT COUNT(*) FROM item_values WHERE item_id = items.id) \
            OR COALESCE(length(label_ids) - length(replace(label_ids, ',', '')) + 1, 0) \
               <> (SELECT COUNT(*) FROM item_labels WHERE item_id = items.id)",
    )
    .get_result::<Count>(&mut connection)
    .unwrap()
    .count;
    assert_eq!(unkept, 0, "bulk-loaded items keep their values and labels on their rows");
    let out_of_order: i64 = diesel::sql_query(
        "SELECT COUNT(*) AS count FROM comments earlier JOIN comments later \
           ON later.item_id = earlier.item_id AND later.id > earlier.id AND later.created_at < earlier.created_at",
    )
    .get_result::<Count>(&mut connection)
    .unwrap()
    .count;
    assert_eq!(out_of_order, 0, "an item's comments are numbered in the order of their times");
    let sample = demo_sample(first.path());
    assert_eq!(sample.len(), 300);
    assert_eq!(sample, demo_sample(second.path()));
    assert!(sample.iter().any(|item| item.comments > 0));
    // Six fields on about 85 % of the items each, platforms with one to three values: about
    // six values per item, never more than eight.
    let values: i64 = sample.iter().map(|item| item.field_values).sum();
    assert!((1350..=2250).contains(&values), "{values} field values on 300 items");
    assert!(sample.iter().all(|item| item.field_values <= 8));
    let other_seed = tempfile::tempdir().unwrap();
    baton(other_seed.path()).args(["demo-data", "--items", "300", "--seed", "8"]).output().unwrap();
    assert_ne!(sample, demo_sample(other_seed.path()));
}

/// A node serving with JSON logs: the folder, the running process, its port and its log file.
fn serve_with_json_logs(folder: &std::path::Path) -> (Running, u16, std::path::PathBuf) {
    let port = free_port();
    let log = folder.join("node.log");
    let child = baton(folder)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("RUST_LOG")
        .env("BATON_ADMIN_PASSWORD", "json-logs-admin-password")
        .env("BATON_LOG__FORMAT", "json")
        .env("BATON_LOG__LEVEL", "info")
        .env("BATON_JOBS__PRUNE", "0 3 * * Mon-Fri")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (Running(child), port, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_request_id_on_every_request_line_and_never_a_secret() {
    let folder = tempfile::tempdir().unwrap();
    let (running, port, log) = serve_with_json_logs(folder.path());
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_until("the node starting", Duration::from_secs(30), async || {
        let answered = client.get(format!("{address}/api/v1/system/ping")).send().await.is_ok();
        done_when(answered, FileText(log.clone()))
    })
    .await;
    let signed_in = client
        .post(format!("{address}/api/v1/session"))
        .json(&json!({"login": "admin", "password": "json-logs-admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let generated_id = signed_in.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated_id.len(), 16, "an id is made when the proxy sent none");
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let secret = cookie.split_once('=').unwrap().1.to_string();
    let me = client
        .get(format!("{address}/api/v1/users/me?token=not-logged"))
        .header("Cookie", &cookie)
        .header("X-Request-Id", "trace-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers()["x-request-id"], "trace-4711", "the proxy's id is kept");
    let bad = client.get(format!("{address}/api/v1/users/me")).header("X-Request-Id", "<bad id>").send().await.unwrap();
    assert_ne!(bad.headers()["x-request-id"], "<bad id>");

    let text = wait_until("a request line for trace-4711", Duration::from_secs(10), async || {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("trace-4711") { ControlFlow::Break(text) } else { ControlFlow::Continue(text) }
    })
    .await;
    drop(running);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    let request_lines: Vec<&serde_json::Value> = lines.iter().filter(|line| line["message"] == "request").collect();
    assert!(request_lines.len() >= 3, "{text}");
    for line in &request_lines {
        assert!(line["span"]["id"].is_string(), "every request line names its request: {line}");
    }
    let traced = request_lines.iter().find(|line| line["span"]["id"] == "trace-4711").unwrap();
    assert_eq!(traced["path"], "/api/v1/users/me");
    assert_eq!(traced["status"], 200);
    assert!(request_lines.iter().any(|line| line["span"]["id"] == generated_id.as_str()));
    for secret in ["json-logs-admin-password", secret.as_str(), "not-logged"] {
        assert!(!text.contains(secret), "the log shows a secret ({secret}):\n{text}");
    }
}

#[test]
fn jobs_are_listed_and_a_bad_schedule_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let listed = baton(folder.path()).args(["jobs", "list"]).env("BATON_JOBS__INDEX_MERGE", "off").output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listing = String::from_utf8_lossy(&listed.stdout);
    for expected in ["due_reminders", "0 7 * * *", "session_cleanup", "prune", "never"] {
        assert!(listing.contains(expected), "{expected}: {listing}");
    }
    let merge_line = listing.lines().find(|line| line.starts_with("index_merge")).unwrap();
    assert!(merge_line.contains("off"), "{listing}");

    for (schedule, expected) in [("0 7 * *", "4 fields"), ("0 99 * * *", "not a cron expression")] {
        let output = baton(folder.path()).args(["jobs", "list"]).env("BATON_JOBS__PRUNE", schedule).output().unwrap();
        assert!(!output.status.success());
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains("jobs.prune") && message.contains(expected), "{message}");
    }
    let unknown = baton(folder.path()).args(["jobs", "run", "vacuum", "--no-wait"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("due_reminders"), "the known jobs are named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_run_from_the_command_line_waits_for_the_master_and_reports_the_outcome() {
    let folder = tempfile::tempdir().unwrap();
    let (running, port, log) = serve_with_json_logs(folder.path());
    let client = reqwest::Client::new();
    wait_until("the node starting", Duration::from_secs(30), async || {
        let answered = client.get(format!("http://127.0.0.1:{port}/api/v1/system/ping")).send().await.is_ok();
        done_when(answered, FileText(log.clone()))
    })
    .await;
    let path = folder.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || baton(&path).args(["jobs", "run", "prune"]).output().unwrap())
        .await
        .unwrap();
    drop(running);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("job prune: run 1 requested"), "{stdout}");
    assert!(stdout.contains("succeeded on") && stdout.contains("removed"), "{stdout}");
    let listed = baton(folder.path()).args(["jobs", "list"]).output().unwrap();
    let listing = String::from_utf8_lossy(&listed.stdout);
    let prune_line = listing.lines().find(|line| line.starts_with("prune")).unwrap();
    assert!(prune_line.contains("succeeded on") && prune_line.contains("epoch 1"), "{listing}");
}
