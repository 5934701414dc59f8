//! The cluster: nodes coordinate only through the database. Each node registers and
//! heartbeats; one holds the master lease (with an epoch that fences its writes) and runs
//! the master duties; admins can force a handover and put nodes into maintenance.
//!
//! Every `heartbeat_interval` the agent runs one tick: heartbeat, removal of silent nodes,
//! then renew (if master) or try to acquire (if not). A master that cannot renew stops its
//! duties before `node_timeout` has passed since its last successful renewal, measured on its
//! own monotonic clock by a watchdog that does not wait for the database, so that it has
//! stopped before any other node can take the lease.
//!
//! On PostgreSQL the agent and the duties have connections of their own whose sessions the
//! server bounds (`Timing::lease_session`, `Timing::duty_session`): a node that stalls inside
//! a transaction (paused, cut off) has it rolled back by the server, so no stuck node blocks
//! a failover for longer than `node_timeout` (docs/cluster.md, "Locks and timeouts").

pub mod duty;
pub mod lease;
pub mod probe;
pub mod registry;
pub mod status;
pub mod wake;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::cluster::duty::{ActDeadline, DutyContext, MasterDuty, Supervisor};
use crate::cluster::lease::LeaseClaim;
use crate::cluster::registry::Identity;
use crate::config::{DatabaseLocation, Settings, local_hostname};
use crate::db::{Database, SessionLimits};
use crate::error::{Error, Result};

/// Longest statement of a master duty. Legitimate duty statements stay far below it (the
/// longest measured, docs/cluster.md: a prune or a rebuild batch at 100,000 items, under a
/// second); it ends a runaway statement, which would otherwise hold its lock on the lease
/// row, and with it any takeover, for as long as it runs.
const DUTY_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub heartbeat_interval: Duration,
    pub node_timeout: Duration,
}

impl Timing {
    pub fn from_settings(settings: &Settings) -> Timing {
        Timing { heartbeat_interval: settings.cluster.heartbeat_interval, node_timeout: settings.cluster.node_timeout }
    }

    /// How long after sending its last successful renewal a master may still act.
    fn fence_after(self) -> Duration {
        self.node_timeout.saturating_sub(self.heartbeat_interval)
    }

    /// The agent's sessions. A lease statement waits for a row lock at most a quarter
    /// heartbeat: a takeover never waits behind a stuck holder, a refused attempt is just not
    /// this tick. A node that stalls inside a tick's transaction (holding the lease row) loses
    /// it after one heartbeat, well before a master waiting for it must fence itself.
    fn lease_session(self, node: &str) -> SessionLimits {
        SessionLimits {
            application_name: Some(format!("baton {node} lease")),
            lock_timeout: Some(self.heartbeat_interval / 4),
            statement_timeout: None,
            idle_in_transaction_timeout: Some(self.heartbeat_interval),
            silent_client_timeout: Some(self.fence_after()),
        }
    }

    /// The master duties' sessions. A fenced transaction whose node stalls inside it is
    /// rolled back by the server `node_timeout − heartbeat_interval` after its last statement,
    /// which is no later than the lease it holds expires (the master renewed at most a
    /// heartbeat before it stalled): the takeover then finds the lease row unlocked.
    fn duty_session(self, node: &str) -> SessionLimits {
        SessionLimits {
            application_name: Some(format!("baton {node} duties")),
            lock_timeout: None,
            statement_timeout: Some(DUTY_STATEMENT_TIMEOUT),
            idle_in_transaction_timeout: Some(self.fence_after()),
            silent_client_timeout: Some(self.fence_after()),
        }
    }
}

/// This node's role as the rest of the node sees it (ping, status).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Role {
    /// Whether this node runs the master duties now.
    pub master: bool,
    pub epoch: Option<i64>,
}

struct Held {
    claim: LeaseClaim,
    /// The fencing time after the send of the last successful renewal (or the acquisition).
    deadline: ActDeadline,
}

/// A lease this node stopped acting on but has not handed back yet.
#[derive(Clone)]
struct Unreleased {
    claim: LeaseClaim,
    hand_to: Option<String>,
    reason: String,
}

struct AgentState {
    held: Option<Held>,
    supervisor: Supervisor,
    /// Given up by the watchdog, or a release that failed: released at the next tick if the
    /// lease is still this node's.
    unreleased: Option<Unreleased>,
}

/// The running cluster agent of this node.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<ClusterInner>,
}

struct ClusterInner {
    identity: Identity,
    timing: Timing,
    failback: bool,
    /// The agent's connection (heartbeats, the lease).
    database: Database,
    /// The master duties' connections.
    duty_database: Database,
    state: Mutex<AgentState>,
    role: watch::Sender<Role>,
    wake: Arc<Notify>,
    shutdown: Notify,
    stopped: AtomicBool,
    /// Held through a heartbeat tick and through shutdown: shutdown waits for a tick in
    /// flight (which may just have taken the lease and started the duties) and then releases
    /// what it holds, and no tick runs after shutdown.
    turn: tokio::sync::Mutex<()>,
    listener_stop: Arc<AtomicBool>,
}

impl Cluster {
    /// Registers this node (refusing a name held by another live process) and starts the
    /// agent and its watchdog on the current runtime.
    pub async fn start(settings: &Settings, duties: Vec<Arc<dyn MasterDuty>>) -> Result<Cluster> {
        let timing = Timing::from_settings(settings);
        let name = settings.node_name();
        // The agent has a connection of its own (one tick at a time), so neither request load
        // nor the duties' work delays a heartbeat; the duties have about one each.
        let database = Database::connect_with(settings, 1, timing.lease_session(&name))?;
        let duty_connections = u32::try_from(duties.len()).unwrap_or(u32::MAX).max(1);
        let duty_database = Database::connect_with(settings, duty_connections, timing.duty_session(&name))?;
        let identity = Identity {
            name,
            instance: random_instance(),
            hostname: local_hostname(),
            base_url: settings.node_url(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_hash: settings.cluster_config_hash(),
            priority: settings.cluster.priority,
        };
        // A node restarted right after a crash finds its old row still fresh: it waits for
        // that to time out, and refuses only when the other process keeps heartbeating.
        let give_up_at = Instant::now() + timing.node_timeout + timing.heartbeat_interval * 2;
        loop {
            let register_identity = identity.clone();
            match database
                .write(move |connection| registry::register(connection, &register_identity, timing.node_timeout))
                .await
            {
                Ok(()) => break,
                Err(Error::Conflict(message)) if Instant::now() < give_up_at => {
                    tracing::warn!(node = %identity.name, "{message}; waiting for it to time out");
                    tokio::time::sleep(timing.heartbeat_interval).await;
                }
                Err(error) => return Err(error),
            }
        }

        let wake = Arc::new(Notify::new());
        let listener_stop = Arc::new(AtomicBool::new(false));
        if let Ok(DatabaseLocation::Postgres(url)) = settings.database_location() {
            wake::listen(url, wake.clone(), listener_stop.clone());
        }
        let cluster = Cluster {
            inner: Arc::new(ClusterInner {
                identity,
                timing,
                failback: settings.cluster.failback,
                database,
                duty_database,
                state: Mutex::new(AgentState { held: None, supervisor: Supervisor::new(duties), unreleased: None }),
                role: watch::Sender::new(Role::default()),
                wake,
                shutdown: Notify::new(),
                stopped: AtomicBool::new(false),
                turn: tokio::sync::Mutex::new(()),
                listener_stop,
            }),
        };
        tokio::spawn(cluster.clone().run_agent());
        tokio::spawn(cluster.clone().run_watchdog());
        tracing::info!(node = %cluster.inner.identity.name, "joined the cluster");
        Ok(cluster)
    }

    pub fn node_name(&self) -> &str {
        &self.inner.identity.name
    }

    /// Random per process start: tells this process's rows from an earlier one's.
    pub fn instance(&self) -> &str {
        &self.inner.identity.instance
    }

    /// This node's role now. A master whose lease is overdue is not master, even before its
    /// watchdog has run (it may run last when the process goes on after a freeze).
    pub fn role(&self) -> Role {
        let role = *self.inner.role.borrow();
        if role.master && self.lock_state().held.as_ref().is_none_or(|held| held.deadline.passed()) {
            return Role::default();
        }
        role
    }

    pub fn timing(&self) -> Timing {
        self.inner.timing
    }

    /// The context this node's master duties run with, while it is master: a round of a duty
    /// run with it is fenced like the duty's own (tests step the duties this way).
    pub fn duty_context(&self) -> Option<DutyContext> {
        let state = self.lock_state();
        state.held.as_ref().filter(|held| !held.deadline.passed())?;
        state.supervisor.context()
    }

    /// Wakes this node's agent now (after a local change of maintenance or handover).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    async fn run_agent(self) {
        loop {
            if self.inner.stopped.load(Ordering::SeqCst) {
                return;
            }
            self.tick().await;
            tokio::select! {
                _ = tokio::time::sleep(self.inner.timing.heartbeat_interval) => {}
                _ = self.inner.wake.notified() => {}
                _ = self.inner.shutdown.notified() => return,
            }
        }
    }

    /// Stops the duties of a master that has not renewed within the fencing time.
    async fn run_watchdog(self) {
        let period = (self.inner.timing.heartbeat_interval / 4).max(Duration::from_millis(10));
        while !self.inner.stopped.load(Ordering::SeqCst) {
            tokio::time::sleep(period).await;
            let mut state = self.lock_state();
            let overdue = state.held.as_ref().is_some_and(|held| held.deadline.passed());
            if let Some(Held { claim, .. }) = state.held.take_if(|_| overdue) {
                state.supervisor.abort();
                let epoch = claim.epoch.get();
                state.unreleased =
                    Some(Unreleased { claim, hand_to: None, reason: "renewal was overdue (self-fenced)".into() });
                drop(state);
                self.inner.role.send_replace(Role::default());
                tracing::error!(epoch, "could not renew the master lease in time: master duties stopped (self-fenced)");
            }
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, AgentState> {
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One tick, the cluster decision (see the module comment); returns whether this
    /// node's role changed (it became master, lost the lease or gave it up).
    pub async fn tick(&self) -> bool {
        let _turn = self.inner.turn.lock().await;
        if self.inner.stopped.load(Ordering::SeqCst) {
            return false;
        }
        let (held, unreleased) = {
            let mut state = self.lock_state();
            (state.held.as_ref().map(|held| held.claim.clone()), state.unreleased.take())
        };
        let sent_at = Instant::now();
        let identity = self.inner.identity.clone();
        let timing = self.inner.timing;
        let failback = self.inner.failback;
        // Tried again at the next tick when this one fails (released or not: a second release
        // of a lease that moved on changes nothing).
        let retry = unreleased.clone();
        let outcome = self
            .inner
            .database
            .write(move |connection| {
                registry::heartbeat(connection, &identity)?;
                registry::remove_silent(connection, &identity, timing.node_timeout)?;
                if let Some(Unreleased { claim, hand_to, reason }) = &unreleased
                    && claim.release(connection, hand_to.as_deref(), reason)?
                {
                    wake::notify_all(connection);
                }
                match held {
                    Some(claim) => {
                        if !claim.renew(connection)? {
                            let epoch = Some(claim.epoch.get());
                            registry::record_event(connection, &identity.name, "lost", epoch, "the lease moved on")?;
                            return Ok(TickOutcome::Lost(claim));
                        }
                        Ok(match release_reason(connection, &identity, timing, failback)? {
                            Some((hand_to, reason)) => TickOutcome::MustRelease { claim, hand_to, reason },
                            None => TickOutcome::Renewed,
                        })
                    }
                    None => Ok(match lease::try_acquire(connection, &identity, timing.node_timeout)? {
                        Some(claim) => TickOutcome::Acquired(claim),
                        None => TickOutcome::Backup,
                    }),
                }
            })
            .await;
        match outcome {
            Err(error) => {
                tracing::warn!(%error, "cluster heartbeat failed");
                let mut state = self.lock_state();
                if state.unreleased.is_none() {
                    state.unreleased = retry;
                }
                false
            }
            Ok(TickOutcome::Backup) => false,
            Ok(TickOutcome::Renewed) => {
                if let Some(held) = self.lock_state().held.as_ref() {
                    held.deadline.extend(sent_at + timing.fence_after());
                }
                false
            }
            Ok(TickOutcome::Acquired(claim)) => {
                let epoch = claim.epoch.get();
                let deadline = ActDeadline::new(sent_at + timing.fence_after());
                let mut state = self.lock_state();
                state.supervisor.start(&claim, &deadline, &self.inner.duty_database);
                state.held = Some(Held { claim, deadline });
                drop(state);
                self.inner.role.send_replace(Role { master: true, epoch: Some(epoch) });
                tracing::info!(epoch, "became master");
                true
            }
            Ok(TickOutcome::Lost(claim)) => {
                let mut state = self.lock_state();
                state.supervisor.abort();
                state.held = None;
                drop(state);
                self.inner.role.send_replace(Role::default());
                tracing::warn!(epoch = claim.epoch.get(), "lost the master lease: master duties stopped");
                true
            }
            Ok(TickOutcome::MustRelease { claim, hand_to, reason }) => {
                self.release(claim, hand_to, reason).await;
                true
            }
        }
    }

    /// Finishes the duties' work in hand, then gives the lease up. A release that fails (the
    /// database unreachable, or this epoch's fenced writes still holding the lease row past
    /// the lock timeout) is tried again at the next tick; meanwhile no duty runs.
    async fn release(&self, claim: LeaseClaim, hand_to: Option<String>, reason: String) {
        let stopping = {
            let mut state = self.lock_state();
            state.held = None;
            state.supervisor.take()
        };
        self.inner.role.send_replace(Role::default());
        if let Some(stopping) = stopping {
            stopping.finish(self.inner.timing.fence_after() / 2).await;
        }
        let epoch = claim.epoch.get();
        let unreleased = Unreleased { claim, hand_to, reason };
        let attempt = unreleased.clone();
        let released = self
            .inner
            .database
            .write(move |connection| {
                let released = attempt.claim.release(connection, attempt.hand_to.as_deref(), &attempt.reason)?;
                wake::notify_all(connection);
                Ok(released)
            })
            .await;
        match released {
            Ok(true) => tracing::info!(epoch, "released the master lease"),
            Ok(false) => tracing::info!(epoch, "the master lease had already moved on"),
            Err(error) => {
                tracing::warn!(%error, epoch, "releasing the master lease failed; retried at the next heartbeat");
                self.lock_state().unreleased = Some(unreleased);
            }
        }
    }

    /// On a clean shutdown: stop the duties, give the lease up, leave the node table.
    pub async fn shutdown(&self) {
        if self.inner.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.shutdown.notify_one();
        self.inner.listener_stop.store(true, Ordering::SeqCst);
        let _turn = self.inner.turn.lock().await;
        let held = self.lock_state().held.as_ref().map(|held| held.claim.clone());
        if let Some(claim) = held {
            self.release(claim, None, "node shutting down".into()).await;
        }
        // A lease given up by the watchdog, or whose release just failed: one more try.
        let unreleased = self.lock_state().unreleased.take();
        let identity = self.inner.identity.clone();
        let left = self
            .inner
            .database
            .write(move |connection| {
                if let Some(Unreleased { claim, hand_to, reason }) = &unreleased
                    && claim.release(connection, hand_to.as_deref(), reason)?
                {
                    wake::notify_all(connection);
                }
                registry::deregister(connection, &identity)
            })
            .await;
        if let Err(error) = left {
            tracing::warn!(%error, "could not leave the cluster cleanly; the node and its lease time out instead");
        }
    }
}

enum TickOutcome {
    Backup,
    Acquired(LeaseClaim),
    Renewed,
    Lost(LeaseClaim),
    MustRelease { claim: LeaseClaim, hand_to: Option<String>, reason: String },
}

/// Why a master must hand over now: a handover names another node, it is in maintenance,
/// or (with failback) a live node of higher priority exists.
fn release_reason(
    connection: &mut crate::db::DbConnection,
    me: &Identity,
    timing: Timing,
    failback: bool,
) -> Result<Option<(Option<String>, String)>> {
    let lease_row = lease::read(connection)?;
    if let Some(target) = lease_row.handover_to.filter(|target| *target != me.name) {
        return Ok(Some((None, format!("handover to {target} requested"))));
    }
    if registry::is_in_maintenance(connection, &me.name)? {
        return Ok(Some((None, "node put into maintenance".into())));
    }
    if failback && let Some(target) = lease::higher_priority_node(connection, me, timing.node_timeout)? {
        return Ok(Some((Some(target.clone()), format!("failback to higher-priority node {target}"))));
    }
    Ok(None)
}

/// Asks for a handover to `target` and waits until it holds the lease (or `wait` passes).
/// Works from any node and from the command line: only the database is needed.
pub async fn hand_over(database: &Database, timing: Timing, target: String, by: String) -> Result<HandoverResult> {
    let started = Instant::now();
    let request_target = target.clone();
    let already = database
        .write(move |connection| {
            if let Some(epoch) = lease::held_by(connection, &request_target)? {
                return Ok(Some(epoch));
            }
            lease::request_handover(connection, &request_target, timing.node_timeout, &by)?;
            wake::notify_all(connection);
            Ok(None)
        })
        .await?;
    if let Some(epoch) = already {
        return Ok(HandoverResult { master: target, epoch, elapsed_ms: 0 });
    }
    let deadline = started + timing.node_timeout * 2;
    loop {
        let check_target = target.clone();
        if let Some(epoch) = database.run(move |connection| lease::held_by(connection, &check_target)).await? {
            return Ok(HandoverResult {
                master: target,
                epoch,
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
        if Instant::now() >= deadline {
            return Err(Error::Unavailable(format!(
                "timed out after {} waiting for {target} to take the master lease; the request stays open until \
                 node_timeout passes, see the cluster status",
                humantime::format_duration(timing.node_timeout * 2)
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HandoverResult {
    pub master: String,
    pub epoch: i64,
    pub elapsed_ms: u64,
}

/// Puts a node into maintenance or takes it out, and wakes the cluster.
pub async fn set_maintenance(database: &Database, node: String, on: bool, by: String) -> Result<()> {
    database
        .write(move |connection| {
            registry::set_maintenance(connection, &node, on, &by)?;
            wake::notify_all(connection);
            Ok(())
        })
        .await
}

fn random_instance() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    hex::encode(bytes)
}
