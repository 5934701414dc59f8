//! The `baton` binary as a newcomer uses it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

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
    let deadline = Instant::now() + Duration::from_secs(20);
    let ping = loop {
        match client.get(format!("http://127.0.0.1:{port}/api/v1/system/ping")).send().await {
            Ok(response) => break response,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("node did not answer: {error}"),
        }
    };
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
}

fn demo_sample(folder: &std::path::Path) -> Vec<ItemSample> {
    let mut connection = SqliteConnection::establish(&folder.join("data/baton.db").to_string_lossy()).unwrap();
    diesel::sql_query(
        "SELECT title, status_id, (SELECT COUNT(*) FROM comments c WHERE c.item_id = items.id) AS comments FROM items ORDER BY id",
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
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
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
    let sample = demo_sample(first.path());
    assert_eq!(sample.len(), 300);
    assert_eq!(sample, demo_sample(second.path()));
    assert!(sample.iter().any(|item| item.comments > 0));
    let other_seed = tempfile::tempdir().unwrap();
    baton(other_seed.path()).args(["demo-data", "--items", "300", "--seed", "8"]).output().unwrap();
    assert_ne!(sample, demo_sample(other_seed.path()));
}
