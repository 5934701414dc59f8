//! `TestApp`: a real Baton node on a free port with its own database and data directory,
//! and `Api`: a client acting as one user.

use std::ops::ControlFlow;
use std::path::PathBuf;

use baton::app::Application;
use baton::config::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::postgres::PostgresServer;
use super::wait::{done_when, wait_until};

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const USER_PASSWORD: &str = "user-password-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The PostgreSQL backend, when a server can be had (see `PostgresServer::get`).
    pub fn postgres() -> Option<Backend> {
        PostgresServer::get().map(|_| Backend::Postgres)
    }

    /// A fresh database URL for one test; SQLite files go into `folder`.
    pub fn fresh_database_url(self, folder: &std::path::Path) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", folder.join("baton.db").display()),
            Backend::Postgres => {
                PostgresServer::get().expect("PostgreSQL was available when the test started").fresh_database()
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Signed in as `admin` with a bearer token.
    pub admin: Api,
    /// The node's master duties and the runtime they run on, for the steps (`index_now`, …).
    duties: baton::app::Duties,
    runtime: tokio::runtime::Handle,
    handle: actix_web::dev::ServerHandle,
    server_thread: Option<std::thread::JoinHandle<()>>,
    _folder: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// Spawns a node after letting the test change its settings.
    pub async fn spawn_with(backend: Backend, customize: impl FnOnce(&mut Settings)) -> TestApp {
        let folder = tempfile::tempdir().expect("temporary folder");
        let database_url = backend.fresh_database_url(folder.path());
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().expect("address"),
            database_url: database_url.clone(),
            data_dir: folder.path().join("data"),
            pool_size: 4,
            log: baton::config::log::LogSettings { level: "warn".into(), ..Default::default() },
            ..Settings::default()
        };
        settings.node.name = Some("test-node".into());
        customize(&mut settings);
        let data_dir = settings.data_dir.clone();
        let database_url = settings.database_url.clone();

        let (sender, receiver) = std::sync::mpsc::channel();
        let server_thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match Application::build(settings, Some(ADMIN_PASSWORD.into())).await {
                    Ok(application) => {
                        let started = (
                            application.port(),
                            application.handle(),
                            application.duties(),
                            tokio::runtime::Handle::current(),
                        );
                        let _ = sender.send(Ok(started));
                        let _ = application.run_until_stopped().await;
                    }
                    Err(error) => {
                        let _ = sender.send(Err(error.to_string()));
                    }
                }
            })
        });
        let (port, handle, duties, runtime) = tokio::task::spawn_blocking(move || receiver.recv())
            .await
            .expect("waiting for the server")
            .expect("server thread ended early")
            .unwrap_or_else(|error| panic!("the test node did not start: {error}"));
        let address = format!("http://127.0.0.1:{port}");
        let admin = Api::sign_in_with_token(&address, "admin", ADMIN_PASSWORD).await;
        TestApp {
            address,
            database_url,
            data_dir,
            admin,
            duties,
            runtime,
            handle,
            server_thread: Some(server_thread),
            _folder: folder,
        }
    }

    /// The context of the node's running master duties, once it is master (it becomes
    /// master at its first heartbeat after the start).
    async fn duty_context(&self) -> baton::cluster::duty::DutyContext {
        wait_until("the test node becoming master", std::time::Duration::from_secs(30), async || {
            match self.duties.cluster.duty_context() {
                Some(context) => ControlFlow::Break(context),
                None => ControlFlow::Continue(self.duties.cluster.role()),
            }
        })
        .await
    }

    /// Runs the search indexer's rounds until the queue is empty: what was written before is
    /// searchable on this node once its reader has switched to the new commit (within about
    /// 250 ms: `search::search_until` waits for that).
    /// A master that lost its lease on a stalled machine and took it again has a new epoch:
    /// rounds under the old one are refused, as fencing must, and run again under the new.
    pub async fn index_now(&self) {
        for _ in 0..FENCED_ROUNDS {
            let (indexer, context) = (self.duties.indexer.clone(), self.duty_context().await);
            let outcome = self
                .runtime
                .spawn_blocking(move || -> baton::error::Result<()> {
                    while indexer.index_round(&context)? {}
                    Ok(())
                })
                .await
                .expect("the indexer rounds");
            match outcome {
                Ok(()) => return,
                Err(baton::error::Error::Conflict(message)) => eprintln!("indexer round fenced ({message}): again"),
                Err(error) => panic!("an indexer round: {error:?}"),
            }
        }
        panic!("the indexer rounds were fenced {FENCED_ROUNDS} times in a row");
    }

    /// Runs the mail sender's rounds until no notification is due (again under a new epoch
    /// when fenced, as `index_now`).
    pub async fn send_mail_now(&self) {
        for _ in 0..FENCED_ROUNDS {
            let (sender, context) = (self.duties.sender.clone(), self.duty_context().await);
            let outcome = self
                .runtime
                .spawn(async move {
                    while sender.send_round(&context).await? {}
                    Ok::<(), baton::error::Error>(())
                })
                .await
                .expect("the mail sender rounds");
            match outcome {
                Ok(()) => return,
                Err(baton::error::Error::Conflict(message)) => eprintln!("mail sender round fenced ({message}): again"),
                Err(error) => panic!("a mail sender round: {error:?}"),
            }
        }
        panic!("the mail sender rounds were fenced {FENCED_ROUNDS} times in a row");
    }

    /// Polls every mailbox until a poll takes no mail; each poll's outcome is recorded for the
    /// status as the duty's own.
    pub async fn poll_mail_now(&self) {
        let mail = self.duties.mail.clone().expect("the test node has mailboxes");
        let context = self.duty_context().await;
        self.runtime
            .spawn(async move { while mail.poll_round(&context).await {} })
            .await
            .expect("the mail poller rounds");
    }

    /// Runs one round of the scheduler: the runs waiting for a master and the occurrences due.
    pub async fn run_jobs_now(&self) {
        let (jobs, context) = (self.duties.jobs.clone(), self.duty_context().await);
        self.runtime
            .spawn(async move { jobs.jobs_round(&context).await.expect("a scheduler round") })
            .await
            .expect("the scheduler round");
    }

    /// Puts the node into maintenance and waits until it has handed the master role to
    /// nobody: master duties (the indexer draining `index_queue`) stop, for tests that count
    /// what the duties would consume.
    pub async fn without_master(&self) {
        baton::cluster::set_maintenance(&self.database(), "test-node".into(), true, "a test".into())
            .await
            .expect("maintenance on");
        wait_until("the node handing the master role to nobody", std::time::Duration::from_secs(30), async || {
            let master = self.admin.get("/api/v1/cluster").await.body["master"].clone();
            done_when(master.is_null(), master)
        })
        .await;
    }

    /// A direct connection pool to the node's database, for assertions on stored rows.
    pub fn database(&self) -> baton::db::Database {
        let settings = Settings { database_url: self.database_url.clone(), pool_size: 1, ..Settings::default() };
        baton::db::Database::connect(&settings).expect("test database")
    }

    /// Rows in a table, counted directly in the database.
    pub fn count_rows(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let mut connection = self.database().get().expect("connection");
        diesel::sql_query(format!("SELECT COUNT(*) AS count FROM {table}"))
            .get_result::<Count>(&mut **connection)
            .expect("count query")
            .count
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates a user (by the admin) and returns a client signed in as them.
    pub async fn create_user(&self, login: &str) -> Api {
        let response = self
            .admin
            .post(
                "/api/v1/users",
                json!({"login": login, "name": login, "email": format!("{login}@example.com"), "password": USER_PASSWORD}),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        Api::sign_in_with_token(&self.address, login, USER_PASSWORD).await
    }

    pub async fn create_project(&self, key: &str, is_public: bool) -> Value {
        let response = self
            .admin
            .post("/api/v1/projects", json!({"key": key, "name": format!("Project {key}"), "is_public": is_public}))
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.body
    }

    pub async fn add_member(&self, project_key: &str, user: &Api, role: &str) {
        let response = self
            .admin
            .put(&format!("/api/v1/projects/{project_key}/members/{}", user.user_id), json!({"role": role}))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
}

/// How often `index_now` and `send_mail_now` start again under a new epoch before failing.
const FENCED_ROUNDS: usize = 5;

/// How long a test node may take to stop (leave the cluster, end its duties) before the
/// test fails instead of hanging.
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let server_thread = self.server_thread.take();
        let (stopped, wait) = std::sync::mpsc::channel();
        // Stopping needs a runtime of its own: Drop may run inside the test's runtime.
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(handle.stop(false));
            if let Some(thread) = server_thread {
                let _ = thread.join();
            }
            let _ = stopped.send(());
        });
        if wait.recv_timeout(STOP_LIMIT).is_err() && !std::thread::panicking() {
            panic!("the test node did not stop within {STOP_LIMIT:?}: a master duty or a request is still running");
        }
    }
}

/// (project, status) pairs whose trigger-maintained `item_totals` differ from a row count.
pub fn totals_disagreements(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Pair {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        project_id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        status_id: i64,
    }
    let mut connection = app.database().get().expect("connection");
    diesel::sql_query(
        "SELECT project_id, status_id FROM \
           (SELECT project_id, status_id, COUNT(*) AS counted FROM items GROUP BY project_id, status_id) c \
         FULL OUTER JOIN (SELECT project_id, status_id, SUM(items) AS summed FROM item_totals GROUP BY project_id, status_id) t \
           USING (project_id, status_id) \
         WHERE COALESCE(counted, 0) <> COALESCE(summed, 0)",
    )
    .load::<Pair>(&mut **connection)
    .expect("totals query")
    .into_iter()
    .map(|pair| format!("project {} status {}", pair.project_id, pair.status_id))
    .collect()
}

/// Items whose values or labels as their row keeps them (`items.field_values`,
/// `items.label_ids`, kept by triggers) differ from the rows of `item_values` and
/// `item_labels`: each item's kept values and labels against the views that build them afresh
/// from the rows, compared as sets.
pub fn kept_parts_disagreements(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Kept {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        field_values: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        label_ids: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        values_now: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        labels_now: Option<String>,
    }
    let mut connection = app.database().get().expect("connection");
    let kept: Vec<Kept> = diesel::sql_query(
        "SELECT id, items.field_values, items.label_ids, fresh_values.field_values AS values_now, \
           fresh_labels.label_ids AS labels_now FROM items \
         LEFT JOIN item_field_values_now fresh_values ON fresh_values.item_id = items.id \
         LEFT JOIN item_label_ids_now fresh_labels ON fresh_labels.item_id = items.id",
    )
    .load(&mut **connection)
    .expect("kept parts query");
    let values = |text: &Option<String>| {
        let mut rows: Vec<String> = text
            .as_deref()
            .map(|text| serde_json::from_str::<Vec<Value>>(text).expect("kept values are JSON"))
            .unwrap_or_default()
            .iter()
            .map(Value::to_string)
            .collect();
        rows.sort();
        rows
    };
    let labels = |text: &Option<String>| {
        let mut ids: Vec<i64> =
            text.iter().flat_map(|text| text.split(',')).map(|id| id.parse().expect("a label id")).collect();
        ids.sort();
        ids
    };
    kept.iter()
        .filter(|item| {
            values(&item.field_values) != values(&item.values_now)
                || labels(&item.label_ids) != labels(&item.labels_now)
        })
        .map(|item| {
            format!(
                "item {}: kept {:?} {:?}, rows {:?} {:?}",
                item.id, item.field_values, item.label_ids, item.values_now, item.labels_now
            )
        })
        .collect()
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The error code of a `{"error": {"code"}}` body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A client acting as one user through a bearer token.
#[derive(Clone)]
pub struct Api {
    pub address: String,
    pub token: String,
    pub user_id: i64,
    pub client: reqwest::Client,
}

impl Api {
    pub async fn sign_in_with_token(address: &str, login: &str, password: &str) -> Api {
        let client = reqwest::Client::new();
        let session = client
            .post(format!("{address}/api/v1/session"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .expect("sign-in request");
        assert_eq!(session.status(), StatusCode::OK, "signing in as {login}");
        let cookie = session
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .expect("session cookie")
            .to_string();
        let body: Value = session.json().await.expect("sign-in body");
        let csrf = body["csrf_token"].as_str().expect("csrf token").to_string();
        let user_id = body["user"]["id"].as_i64().expect("user id");
        let token: Value = client
            .post(format!("{address}/api/v1/tokens"))
            .header("Cookie", cookie)
            .header("X-CSRF-Token", csrf)
            .json(&json!({"name": "tests"}))
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token body");
        Api {
            address: address.to_string(),
            token: token["token"].as_str().expect("token").to_string(),
            user_id,
            client,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.bearer_auth(&self.token).send().await.expect("request");
        let status = response.status();
        let bytes = response.bytes().await.expect("response body");
        Reply { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.address))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.address)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.put(format!("{}{path}", self.address)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.patch(format!("{}{path}", self.address)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(format!("{}{path}", self.address))).await
    }

    /// Creates an item and returns its JSON.
    pub async fn create_item(&self, project: &str, title: &str) -> Value {
        let reply = self.post("/api/v1/items", json!({"project": project, "title": title})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Defines a custom field (as an administrator) and returns its definition.
    pub async fn define_field(&self, definition: Value) -> Value {
        let reply = self.post("/api/v1/fields", definition).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// An item's history as (field, old value, new value), oldest first.
    pub async fn history(&self, item_path: &str) -> Vec<(String, Value, Value)> {
        let reply = self.get(&format!("{item_path}/history")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (entry["field"].as_str().unwrap().to_string(), entry["old_value"].clone(), entry["new_value"].clone())
            })
            .collect()
    }
}
