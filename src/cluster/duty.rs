//! Master duties (search indexer, mail poller, scheduler, the probe) plug in through one
//! small trait; the supervisor starts them when the node becomes master and stops them
//! when it stops being master. Each duty's work is one public round that says whether there
//! was work; its `run` only repeats the round and waits when there was none, so a test can
//! run the round itself (with `Cluster::duty_context`) instead of waiting for the loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::lease::LeaseClaim;
use crate::db::{Database, DbConnection, PooledConnection, write_transaction};
use crate::error::{Error, Result};

/// Work that only the master does.
pub trait MasterDuty: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Runs while this node is master. Must return soon after `context.stopped()` resolves,
    /// having finished (and committed) the batch in hand; every database write it makes
    /// must be fenced by `context.epoch` (see `DutyContext::fenced`).
    fn run(self: Arc<Self>, context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Until when this node may act on its lease, on its own monotonic clock: the fencing time
/// (`node_timeout − heartbeat_interval`) after the send of its last successful renewal. The
/// watchdog, the node's role and the duties' `must_stop` each read it themselves: after a
/// freeze (SIGSTOP, a stalled VM) the watchdog task may well run after the others.
#[derive(Clone)]
pub struct ActDeadline(Arc<Mutex<Instant>>);

impl ActDeadline {
    pub fn new(at: Instant) -> ActDeadline {
        ActDeadline(Arc::new(Mutex::new(at)))
    }

    /// Moves the deadline to `at` (a renewal), never back.
    pub fn extend(&self, at: Instant) {
        let mut deadline = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *deadline = (*deadline).max(at);
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The pause before a duty tries again after its work failed: it doubles while the failures go
/// on, up to `longest`, and starts again from `first` once the work succeeds, so one failure
/// after a long good run waits `first`, not what earlier failures had grown it to.
pub struct RetryPause {
    first: Duration,
    longest: Duration,
    next: Duration,
}

impl RetryPause {
    pub fn new(first: Duration, longest: Duration) -> RetryPause {
        RetryPause { first, longest, next: first }
    }

    /// The pause after a failure; the next one doubles it.
    pub fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = (pause * 2).min(self.longest);
        pause
    }

    pub fn succeeded(&mut self) {
        self.next = self.first;
    }
}

/// What a duty gets: the lease claim that fences its writes (`node`, `instance`, `epoch`),
/// its own connections (whose PostgreSQL sessions the server ends when the node stalls
/// inside a transaction, see `Cluster::start`), and the stop signal. The connections are
/// not public: a duty writes through `write` or `fenced`, so no write of a deposed master
/// lands. (The probe, which reports from inside its transaction how it ended, is the
/// cluster's own.)
#[derive(Clone)]
pub struct DutyContext {
    pub node: String,
    pub instance: String,
    pub epoch: i64,
    pub(super) database: Database,
    stop: watch::Receiver<bool>,
    deadline: ActDeadline,
}

impl DutyContext {
    /// Resolves when the duty must stop.
    pub async fn stopped(&mut self) {
        // An error means the supervisor is gone: stop as well.
        let _ = self.stop.wait_for(|stop| *stop).await;
    }

    /// Whether the duty must stop: it was told to, or the lease it acts on is overdue (the
    /// node was frozen and has just gone on, before its watchdog could tell it).
    pub fn must_stop(&self) -> bool {
        *self.stop.borrow() || self.deadline.passed()
    }

    /// The lease as this duty's node took it.
    pub fn claim(&self) -> LeaseClaim {
        LeaseClaim { node: self.node.clone(), instance: self.instance.clone(), epoch: self.epoch.into() }
    }

    /// Whether this node still holds the lease with the duty's epoch; inside a transaction
    /// the lease stays locked against a takeover until the commit (see `LeaseClaim::holds`).
    pub fn still_master(&self, connection: &mut DbConnection) -> Result<bool> {
        self.claim().holds(connection)
    }

    /// Runs database work that only reads, off the async executor.
    pub async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        self.database.run(work).await
    }

    /// Runs `work` off the async executor in a fenced write transaction (see `fenced`).
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        let fence = self.clone();
        self.database.write(move |connection| fence.fenced(connection, work)).await
    }

    /// A connection for a duty that works on a thread of its own (the indexer); its writes
    /// go through `fenced` like every other duty's.
    pub fn connection(&self) -> Result<PooledConnection> {
        self.database.get()
    }

    /// Runs `work` in a write transaction that first checks that this node still holds the
    /// lease with the duty's epoch, with the lease row locked against a takeover until the
    /// commit (FOR KEY SHARE on PostgreSQL; SQLite's write lock). A deposed master writes
    /// nothing. On PostgreSQL the server ends the transaction (and the node's session) when
    /// the node stalls inside it for `node_timeout − heartbeat_interval`.
    pub fn fenced<T>(
        &self,
        connection: &mut DbConnection,
        work: impl FnOnce(&mut DbConnection) -> Result<T>,
    ) -> Result<T> {
        write_transaction(connection, |connection| {
            if !self.still_master(connection)? {
                return Err(Error::Conflict(format!("no longer master with epoch {}: nothing written", self.epoch)));
            }
            work(connection)
        })
    }
}

struct Running {
    epoch: i64,
    /// What every duty of this term was given, for a round run by hand.
    context: DutyContext,
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

/// Starts and stops the duties.
pub struct Supervisor {
    duties: Vec<Arc<dyn MasterDuty>>,
    running: Option<Running>,
}

impl Supervisor {
    pub fn new(duties: Vec<Arc<dyn MasterDuty>>) -> Supervisor {
        Supervisor { duties, running: None }
    }

    pub fn start(&mut self, claim: &LeaseClaim, deadline: &ActDeadline, database: &Database) {
        let epoch = claim.epoch.get();
        self.abort();
        let (stop, receiver) = watch::channel(false);
        let context = DutyContext {
            node: claim.node.clone(),
            instance: claim.instance.clone(),
            epoch,
            database: database.clone(),
            stop: receiver,
            deadline: deadline.clone(),
        };
        let tasks = self
            .duties
            .iter()
            .map(|duty| {
                tracing::info!(duty = duty.name(), epoch, "master duty started");
                (duty.name(), tokio::spawn(duty.clone().run(context.clone())))
            })
            .collect();
        self.running = Some(Running { epoch, context, stop, tasks });
    }

    /// The context of the running duties, while they run.
    pub fn context(&self) -> Option<DutyContext> {
        self.running.as_ref().map(|running| running.context.clone())
    }

    /// Takes the running duties out, to stop them without holding a lock across the wait.
    pub fn take(&mut self) -> Option<StoppingDuties> {
        self.running.take().map(|running| StoppingDuties { running })
    }

    /// Stops every duty at once (lease lost or self-fenced): no batch is finished.
    pub fn abort(&mut self) {
        if let Some(stopping) = self.take() {
            stopping.abort();
        }
    }
}

/// Duties taken out of the supervisor, being stopped.
pub struct StoppingDuties {
    running: Running,
}

impl StoppingDuties {
    pub fn abort(self) {
        let _ = self.running.stop.send(true);
        for (name, task) in &self.running.tasks {
            task.abort();
            tracing::warn!(duty = name, epoch = self.running.epoch, "master duty aborted");
        }
    }

    /// Asks the duties to finish the work in hand and waits up to `grace`, then aborts.
    pub async fn finish(self, grace: Duration) {
        let _ = self.running.stop.send(true);
        let epoch = self.running.epoch;
        for (name, mut task) in self.running.tasks {
            match tokio::time::timeout(grace, &mut task).await {
                Ok(_) => tracing::info!(duty = name, epoch, "master duty stopped"),
                Err(_) => {
                    task.abort();
                    tracing::warn!(duty = name, epoch, "master duty did not stop in time and was aborted");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_pause_doubles_up_to_its_longest_and_starts_again_after_a_success() {
        let mut pause = RetryPause::new(Duration::from_secs(1), Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| pause.failed().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        pause.succeeded();
        assert_eq!(pause.failed(), Duration::from_secs(1));
    }
}
