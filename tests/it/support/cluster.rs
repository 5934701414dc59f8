//! Real `baton serve` processes on loopback ports against one database and one data
//! directory, with short timings; kill -9, SIGSTOP/SIGCONT, a TCP proxy that can make a
//! node's database link go silent, and the checks of what masters wrote.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::Value;

use super::app::{Api, Backend};
use super::postgres::PostgresServer;
use super::proxy::Proxy;
use super::wait::{FileText, done_when, wait_until};

pub const HEARTBEAT: Duration = Duration::from_millis(200);
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1500);
pub const ADMIN_PASSWORD: &str = "cluster-admin-password";
const BATON: &str = env!("CARGO_BIN_EXE_baton");

pub struct NodeProcess {
    pub port: u16,
    child: Child,
    paused: bool,
    options: NodeOptions,
}

pub struct TestCluster {
    pub backend: Backend,
    pub database_url: String,
    folder: tempfile::TempDir,
    pub nodes: BTreeMap<String, NodeProcess>,
    client: reqwest::Client,
}

/// Options of one node.
#[derive(Default, Clone)]
pub struct NodeOptions {
    pub priority: i32,
    pub failback: bool,
    /// Connect through this database URL instead of the cluster's (a proxy).
    pub database_url: Option<String>,
    /// `cluster.probe_hold`: the probe keeps each fenced transaction open this long.
    pub probe_hold: Option<Duration>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestCluster {
    pub fn new(backend: Backend) -> TestCluster {
        let folder = tempfile::tempdir().unwrap();
        let database_url = backend.fresh_database_url(folder.path());
        TestCluster { backend, database_url, folder, nodes: BTreeMap::new(), client: reqwest::Client::new() }
    }

    /// Settings every node started from now on reads (its `baton.toml`).
    pub fn write_settings(&self, toml: &str) {
        std::fs::write(self.folder.path().join("baton.toml"), toml).unwrap();
    }

    pub async fn start(&mut self, name: &str) {
        self.start_with(name, NodeOptions::default()).await
    }

    pub async fn start_with(&mut self, name: &str, options: NodeOptions) {
        let port = free_port();
        let log = std::fs::File::create(self.folder.path().join(format!("{name}.log"))).unwrap();
        let mut command = Command::new(BATON);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--node-name", name])
            .env("BATON_DATABASE_URL", options.database_url.as_deref().unwrap_or(&self.database_url))
            .env("BATON_DATA_DIR", self.folder.path().join("data"))
            .env("BATON_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("BATON_LOG", "warn")
            .env("BATON_CLUSTER__HEARTBEAT_INTERVAL", format!("{}ms", HEARTBEAT.as_millis()))
            .env("BATON_CLUSTER__NODE_TIMEOUT", format!("{}ms", NODE_TIMEOUT.as_millis()))
            .env("BATON_CLUSTER__PROBE_DUTY", "true")
            .env("BATON_CLUSTER__PRIORITY", options.priority.to_string())
            .env("BATON_CLUSTER__FAILBACK", options.failback.to_string())
            .current_dir(self.folder.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(hold) = options.probe_hold {
            command.env("BATON_CLUSTER__PROBE_HOLD", format!("{}ms", hold.as_millis()));
        }
        let child = command.spawn().unwrap();
        self.nodes.insert(name.to_string(), NodeProcess { port, child, paused: false, options });
        wait_until(&format!("node {name} starting"), Duration::from_secs(30), async || {
            done_when(self.ping(name).await.is_some(), self.log_on_failure(name))
        })
        .await;
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.folder.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// A node's log as part of what `wait_until` observed: read only when a test fails.
    pub fn log_on_failure(&self, name: &str) -> FileText {
        FileText(self.folder.path().join(format!("{name}.log")))
    }

    pub fn address(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.nodes[name].port)
    }

    /// The node's ping body (200 or 503), or None when it does not answer.
    pub async fn ping(&self, name: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}/api/v1/system/ping", self.address(name)))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// The nodes acting as master among the running, unpaused nodes, each as its ping says at
    /// its own moment (the nodes are asked at once), with the epoch it acts with.
    async fn masters_with_epochs(&self) -> Vec<(String, Value)> {
        let running: Vec<&String> = self.nodes.iter().filter(|(_, node)| !node.paused).map(|(name, _)| name).collect();
        let pings = futures_util::future::join_all(running.iter().map(|name| self.ping(name))).await;
        running
            .into_iter()
            .zip(pings)
            .filter_map(|(name, ping)| {
                let ping = ping?;
                (ping["master"] == Value::Bool(true)).then(|| (name.clone(), ping["epoch"].clone()))
            })
            .collect()
    }

    /// The nodes acting as master now among the running, unpaused nodes.
    pub async fn acting_masters(&self) -> Vec<String> {
        self.masters_with_epochs().await.into_iter().map(|(name, _)| name).collect()
    }

    /// Waits until one of the running nodes acts as master; returns it and how long it took.
    /// Each ping tells the role as of its own moment, so two masters of different epochs are a
    /// takeover that fell between two answers (whether two masters ever acted at once is the
    /// probes' test, `assert_masters_never_overlapped`); two nodes with one epoch never are.
    pub async fn wait_for_master(&self, within: Duration) -> (String, Duration) {
        let started = Instant::now();
        loop {
            let masters = self.masters_with_epochs().await;
            if let [(master, _)] = masters.as_slice() {
                return (master.clone(), started.elapsed());
            }
            let epochs: std::collections::BTreeSet<String> =
                masters.iter().map(|(_, epoch)| epoch.to_string()).collect();
            assert_eq!(epochs.len(), masters.len(), "two nodes act as master with one epoch: {masters:?}");
            assert!(started.elapsed() < within, "no single master within {within:?}: {masters:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a node other than `old` acts as master; returns it and how long it took.
    /// `old` is not asked: a cut-off node's ping waits for its database.
    pub async fn wait_for_another_master(&self, old: &str, within: Duration) -> (String, Duration) {
        let started = Instant::now();
        loop {
            let mut masters = Vec::new();
            for name in self.nodes.keys().filter(|name| *name != old && !self.nodes[*name].paused) {
                if self.ping(name).await.is_some_and(|ping| ping["master"] == Value::Bool(true)) {
                    masters.push(name.clone());
                }
            }
            if let [master] = masters.as_slice() {
                return (master.clone(), started.elapsed());
            }
            assert!(masters.len() <= 1, "two nodes act as master at once: {masters:?}");
            assert!(started.elapsed() < within, "no new master within {within:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn admin(&self, name: &str) -> Api {
        Api::sign_in_with_token(&self.address(name), "admin", ADMIN_PASSWORD).await
    }

    /// Kills the node (SIGKILL) and returns the options it was started with.
    pub fn kill(&mut self, name: &str) -> NodeOptions {
        let mut node = self.nodes.remove(name).expect("running node");
        let _ = node.child.kill();
        let _ = node.child.wait();
        node.options
    }

    fn signal(&mut self, name: &str, signal: i32, paused: bool) {
        let node = self.nodes.get_mut(name).expect("running node");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(node.child.id() as i32, signal) };
        node.paused = paused;
    }

    pub fn pause(&mut self, name: &str) {
        self.signal(name, libc::SIGSTOP, true);
    }

    /// Pauses the node where it holds no write lock. On SQLite a process stopped inside a write
    /// transaction keeps the file's write lock, and no other node writes (not even a heartbeat)
    /// until it goes on: a known limit of SQLite clusters (README). For a test that waits for
    /// a failover before it resumes the node, this holds the write lock itself while it sends
    /// the signal, so the node stops between its writes. On PostgreSQL a stalled session holds
    /// only its rows and is rolled back, so any moment will do.
    pub fn pause_between_writes(&mut self, name: &str) {
        if self.backend != Backend::Sqlite {
            return self.pause(name);
        }
        let mut connection = self.connection();
        diesel::sql_query("BEGIN IMMEDIATE").execute(&mut **connection).unwrap();
        self.pause(name);
        diesel::sql_query("COMMIT").execute(&mut **connection).unwrap();
    }

    pub fn resume(&mut self, name: &str) {
        self.signal(name, libc::SIGCONT, false);
    }

    pub fn connection(&self) -> baton::db::PooledConnection {
        let settings =
            baton::config::Settings { database_url: self.database_url.clone(), pool_size: 1, ..Default::default() };
        baton::db::Database::connect(&settings).unwrap().get().unwrap()
    }

    /// The probe rows in write order.
    pub fn probe_log(&self) -> Vec<ProbeRow> {
        use baton::db::schema::cluster_probe;
        cluster_probe::table
            .order(cluster_probe::id.asc())
            .select((cluster_probe::node, cluster_probe::epoch, cluster_probe::at))
            .load::<(String, i64, chrono::NaiveDateTime)>(&mut **self.connection())
            .unwrap()
            .into_iter()
            .map(|(node, epoch, at)| ProbeRow { node, epoch, at })
            .collect()
    }

    /// The lease events (acquired, released, lost) in log order.
    pub fn lease_events(&self) -> Vec<LeaseEvent> {
        use baton::db::schema::cluster_events;
        cluster_events::table
            .filter(cluster_events::kind.eq_any(["acquired", "released", "lost"]))
            .order(cluster_events::id.asc())
            .select((cluster_events::kind, cluster_events::node, cluster_events::epoch, cluster_events::at))
            .load::<(String, String, Option<i64>, chrono::NaiveDateTime)>(&mut **self.connection())
            .unwrap()
            .into_iter()
            .map(|(kind, node, epoch, at)| LeaseEvent {
                kind,
                node,
                epoch: epoch.expect("lease events name their epoch"),
                at,
            })
            .collect()
    }

    pub fn count_items(&self) -> i64 {
        use baton::db::schema::items;
        items::table.count().get_result(&mut **self.connection()).unwrap()
    }

    /// (holder, epoch) of the lease.
    pub fn lease(&self) -> (Option<String>, i64) {
        use baton::db::schema::cluster_lease;
        cluster_lease::table
            .select((cluster_lease::holder, cluster_lease::epoch))
            .first(&mut **self.connection())
            .unwrap()
    }

    /// When (database clock, UTC) the lease was acquired with `epoch`.
    pub fn acquired_at(&self, epoch: i64) -> std::time::SystemTime {
        use baton::db::schema::cluster_events;
        let at: chrono::NaiveDateTime = cluster_events::table
            .filter(cluster_events::kind.eq("acquired"))
            .filter(cluster_events::epoch.eq(epoch))
            .select(cluster_events::at)
            .first(&mut **self.connection())
            .unwrap();
        at.and_utc().into()
    }

    /// The lease log is the lease's history in order: each acquisition takes the next epoch,
    /// a release gives up the current one, and a node notices a loss only after the lease
    /// moved on. (Each event is written in the transaction of the change it records.)
    pub fn assert_lease_events_in_order(&self) {
        let events = self.lease_events();
        let mut current: Option<i64> = None;
        for event in &events {
            match event.kind.as_str() {
                "acquired" => assert!(
                    current.is_none_or(|epoch| event.epoch == epoch + 1),
                    "acquired epoch {} after epoch {current:?}: {events:#?}",
                    event.epoch
                ),
                "released" => {
                    assert_eq!(Some(event.epoch), current, "released a lease that was not current: {events:#?}")
                }
                _ => assert!(
                    current.is_some_and(|epoch| event.epoch < epoch),
                    "lost epoch {} while it was current: {events:#?}",
                    event.epoch
                ),
            }
            if event.kind == "acquired" {
                current = Some(event.epoch);
            }
        }
    }

    /// The fencing guarantee, checked on what masters actually wrote: the probe's rows, each
    /// stamped with the database clock when the database wrote it. Each epoch belongs to one
    /// node, and every row of an epoch lies within its lease: not before its acquisition, not
    /// after its release or the next acquisition. A paused or cut-off master believes itself
    /// master for a while, but it does not act; a row the database wrote for it while it was
    /// frozen (a statement sent just before) counts, and lies before the next acquisition too,
    /// because the takeover waits for the transaction that wrote it.
    pub fn assert_masters_never_overlapped(&self) {
        let log = self.probe_log();
        assert!(!log.is_empty(), "no master ever wrote");
        for window in log.windows(2) {
            assert!(window[0].epoch <= window[1].epoch, "epoch went down: {:?} then {:?}", window[0], window[1]);
        }
        let events = self.lease_events();
        for row in &log {
            let acquired = events
                .iter()
                .find(|event| event.kind == "acquired" && event.epoch == row.epoch)
                .unwrap_or_else(|| panic!("{row:?} has no acquisition: {events:#?}"));
            assert_eq!(acquired.node, row.node, "epoch {} written by a node that did not take it", row.epoch);
            assert!(acquired.at <= row.at, "{row:?} before its acquisition {acquired:?}");
            let ended = events.iter().find(|event| {
                (event.kind == "acquired" && event.epoch > row.epoch)
                    || (event.kind == "released" && event.epoch == row.epoch)
            });
            if let Some(ended) = ended {
                assert!(row.at <= ended.at, "{row:?} written after its lease ended: {ended:?}");
            }
        }
    }

    /// The fenced transaction `node` has open now, if any: a master-duty session of the node
    /// idle inside a transaction that holds a row lock on the lease (as the probe's does
    /// during `probe_hold`). PostgreSQL only.
    pub fn open_fenced_transaction(&self, node: &str) -> Option<OpenTransaction> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
            #[diesel(sql_type = diesel::sql_types::Timestamp)]
            started: chrono::NaiveDateTime,
        }
        let found: Option<Found> = diesel::sql_query(
            "SELECT activity.pid, (activity.xact_start AT TIME ZONE 'UTC') AS started FROM pg_stat_activity activity \
             WHERE activity.application_name = $1 AND activity.state = 'idle in transaction' \
               AND EXISTS (SELECT 1 FROM pg_locks lock WHERE lock.pid = activity.pid AND lock.granted \
                   AND lock.relation = 'cluster_lease'::regclass AND lock.mode = 'RowShareLock')",
        )
        .bind::<diesel::sql_types::Text, _>(format!("baton {node} duties"))
        .get_result(&mut **self.connection())
        .optional()
        .unwrap();
        found.map(|found| OpenTransaction { pid: found.pid, started: found.started })
    }

    /// Waits until `node` is inside a fenced transaction (see `open_fenced_transaction`).
    pub async fn wait_for_fenced_transaction(&self, node: &str) -> OpenTransaction {
        wait_until(&format!("{node} holding a fenced transaction open"), Duration::from_secs(10), async || {
            match self.open_fenced_transaction(node) {
                Some(open) => ControlFlow::Break(open),
                None => ControlFlow::Continue(self.log_on_failure(node)),
            }
        })
        .await
    }

    /// Whether the PostgreSQL backend `pid` still exists.
    pub fn backend_exists(&self, pid: i32) -> bool {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let found: Count = diesel::sql_query("SELECT count(*) AS count FROM pg_stat_activity WHERE pid = $1")
            .bind::<diesel::sql_types::Integer, _>(pid)
            .get_result(&mut **self.connection())
            .unwrap();
        found.count > 0
    }

    /// How many probe rows of `epoch` the database wrote from `since` on (database clock).
    pub fn probe_rows_since(&self, epoch: i64, since: chrono::NaiveDateTime) -> usize {
        self.probe_log().iter().filter(|row| row.epoch == epoch && row.at >= since).count()
    }

    /// A database URL that reaches PostgreSQL through a proxy the test can cut.
    pub async fn proxied_database_url(&self) -> (String, Proxy) {
        assert_eq!(self.backend, Backend::Postgres);
        let target = self.database_url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_string();
        let proxy = Proxy::start(&target).await;
        let url = self.database_url.replacen(&target, &format!("127.0.0.1:{}", proxy.port), 1);
        (url, proxy)
    }

    /// A database URL that reaches the cluster's PostgreSQL through its Unix socket (the
    /// directory and port the server itself reports), as a node on the database's host would.
    pub fn socket_database_url(&self) -> String {
        use diesel::prelude::*;
        assert_eq!(self.backend, Backend::Postgres);
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            setting: String,
        }
        let mut connection = diesel::PgConnection::establish(&self.database_url).unwrap();
        let mut read = |name: &str| -> String {
            diesel::sql_query(format!("SELECT setting FROM pg_settings WHERE name = '{name}'"))
                .get_result::<Setting>(&mut connection)
                .unwrap()
                .setting
        };
        let directory = read("unix_socket_directories").split(',').next().unwrap().trim().to_string();
        let port = read("port");
        let database = self.database_url.rsplit('/').next().unwrap();
        format!("postgres://postgres@/{database}?host={directory}&port={port}")
    }
}

#[derive(Debug, Clone)]
pub struct ProbeRow {
    pub node: String,
    pub epoch: i64,
    pub at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct LeaseEvent {
    pub kind: String,
    pub node: String,
    pub epoch: i64,
    pub at: chrono::NaiveDateTime,
}

/// A transaction seen open in `pg_stat_activity`: its backend and its start (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenTransaction {
    pub pid: i32,
    pub started: chrono::NaiveDateTime,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for name in names {
            self.kill(&name);
        }
    }
}

/// Whether PostgreSQL tests can run (used by the PostgreSQL-only cluster test).
pub fn postgres_available() -> bool {
    PostgresServer::get().is_some()
}
