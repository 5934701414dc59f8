//! Real `baton serve` processes on loopback ports against one database and one data
//! directory, with short timings; kill -9, SIGSTOP/SIGCONT, and a TCP proxy that can cut
//! a node's database connection.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::Value;

use super::app::{Api, Backend};
use super::postgres::PostgresServer;
use super::proxy::Proxy;

pub const HEARTBEAT: Duration = Duration::from_millis(200);
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1500);
pub const ADMIN_PASSWORD: &str = "cluster-admin-password";
const BATON: &str = env!("CARGO_BIN_EXE_baton");

pub struct NodeProcess {
    pub port: u16,
    child: Child,
    paused: bool,
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
        let child = command.spawn().unwrap();
        self.nodes.insert(name.to_string(), NodeProcess { port, child, paused: false });
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ping(name).await.is_none() {
            assert!(Instant::now() < deadline, "node {name} did not start:\n{}", self.log(name));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.folder.path().join(format!("{name}.log"))).unwrap_or_default()
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

    /// The node acting as master now among the running, unpaused nodes, if exactly one.
    pub async fn acting_masters(&self) -> Vec<String> {
        let mut masters = Vec::new();
        for (name, node) in &self.nodes {
            if node.paused {
                continue;
            }
            if let Some(ping) = self.ping(name).await
                && ping["master"] == Value::Bool(true)
            {
                masters.push(name.clone());
            }
        }
        masters
    }

    /// Waits until one of the running nodes acts as master; returns it and how long it took.
    pub async fn wait_for_master(&self, within: Duration) -> (String, Duration) {
        let started = Instant::now();
        loop {
            let masters = self.acting_masters().await;
            if let [master] = masters.as_slice() {
                return (master.clone(), started.elapsed());
            }
            assert!(masters.len() <= 1, "two nodes act as master at once: {masters:?}");
            assert!(started.elapsed() < within, "no master within {within:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn admin(&self, name: &str) -> Api {
        Api::sign_in_with_token(&self.address(name), "admin", ADMIN_PASSWORD).await
    }

    pub fn kill(&mut self, name: &str) {
        if let Some(mut node) = self.nodes.remove(name) {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
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

    pub fn resume(&mut self, name: &str) {
        self.signal(name, libc::SIGCONT, false);
    }

    pub fn connection(&self) -> baton::db::PooledConnection {
        let settings =
            baton::config::Settings { database_url: self.database_url.clone(), pool_size: 1, ..Default::default() };
        baton::db::Database::connect(&settings).unwrap().get().unwrap()
    }

    /// The probe rows in write order: (node, epoch).
    pub fn probe_log(&self) -> Vec<(String, i64)> {
        use baton::db::schema::cluster_probe;
        cluster_probe::table
            .order(cluster_probe::id.asc())
            .select((cluster_probe::node, cluster_probe::epoch))
            .load(&mut *self.connection())
            .unwrap()
    }

    pub fn count_items(&self) -> i64 {
        use baton::db::schema::items;
        items::table.count().get_result(&mut *self.connection()).unwrap()
    }

    /// (holder, epoch) of the lease.
    pub fn lease(&self) -> (Option<String>, i64) {
        use baton::db::schema::cluster_lease;
        cluster_lease::table
            .select((cluster_lease::holder, cluster_lease::epoch))
            .first(&mut *self.connection())
            .unwrap()
    }

    /// When (database clock, UTC) the lease was acquired with `epoch`.
    pub fn acquired_at(&self, epoch: i64) -> std::time::SystemTime {
        use baton::db::schema::cluster_events;
        let at: chrono::NaiveDateTime = cluster_events::table
            .filter(cluster_events::kind.eq("acquired"))
            .filter(cluster_events::epoch.eq(epoch))
            .select(cluster_events::at)
            .first(&mut *self.connection())
            .unwrap();
        at.and_utc().into()
    }

    /// The fencing guarantee, checked on what masters actually wrote: epochs never go down,
    /// each epoch belongs to one node, and an epoch's writes form one unbroken run (no two
    /// masters interleaved).
    pub fn assert_masters_never_overlapped(&self) {
        let log = self.probe_log();
        assert!(!log.is_empty(), "no master ever wrote");
        let mut seen: BTreeMap<i64, String> = BTreeMap::new();
        for window in log.windows(2) {
            assert!(window[0].1 <= window[1].1, "epoch went down: {:?} then {:?}", window[0], window[1]);
        }
        for (node, epoch) in &log {
            let owner = seen.entry(*epoch).or_insert_with(|| node.clone());
            assert_eq!(owner, node, "epoch {epoch} written by two nodes");
        }
    }

    /// A database URL that reaches PostgreSQL through a proxy the test can cut.
    pub async fn proxied_database_url(&self) -> (String, Proxy) {
        assert_eq!(self.backend, Backend::Postgres);
        let target = self.database_url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_string();
        let proxy = Proxy::start(&target).await;
        let url = self.database_url.replacen(&target, &format!("127.0.0.1:{}", proxy.port), 1);
        (url, proxy)
    }
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
