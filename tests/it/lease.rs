//! The lease's row locks on a real PostgreSQL, statement by statement, with sessions opened
//! here: what a fenced transaction keeps out, and what it does not.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton::cluster::lease;
use baton::cluster::registry::{self, Identity};
use baton::config::Settings;
use baton::db::{Database, SessionLimits, write_transaction};

use crate::support::Backend;

const LOCK_TIMEOUT: Duration = Duration::from_millis(200);

fn identity(name: &str) -> Identity {
    Identity {
        name: name.into(),
        instance: format!("{name}-instance"),
        hostname: "test".into(),
        base_url: "http://127.0.0.1:1".into(),
        version: "test".into(),
        config_hash: "test".into(),
        priority: 0,
    }
}

/// A session like a node's agent: lease statements give up on a row lock after LOCK_TIMEOUT.
fn lease_session(settings: &Settings) -> Database {
    let limits = SessionLimits { lock_timeout: Some(LOCK_TIMEOUT), ..SessionLimits::default() };
    Database::connect_with(settings, 1, limits).unwrap()
}

/// The old master's fenced transaction is open (its lock on the lease row held) while the
/// old master renews — which must not wait for it — and while another node finds the lease
/// expired and tries to take it — which must wait, and give up at its lock timeout. Once the
/// transaction commits, the takeover succeeds, stamped after the commit, and a fenced
/// transaction of the old epoch that starts after it finds the claim gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_transaction_keeps_a_takeover_out_but_not_its_own_masters_renewal() {
    let Some(backend) = Backend::postgres() else { return };
    let folder = tempfile::tempdir().unwrap();
    let settings = Settings {
        database_url: backend.fresh_database_url(folder.path()),
        data_dir: folder.path().join("data"),
        pool_size: 2,
        ..Settings::default()
    };
    tokio::task::spawn_blocking(move || {
        Database::connect(&settings).unwrap().migrate().unwrap();
        let (old, new) = (identity("old"), identity("new"));
        let master = lease_session(&settings);
        let other = lease_session(&settings);
        registry::register(&mut master.get().unwrap(), &old, Duration::from_secs(10)).unwrap();
        registry::register(&mut other.get().unwrap(), &new, Duration::from_secs(10)).unwrap();
        let claim = lease::try_acquire(&mut master.get().unwrap(), &old, Duration::from_secs(10)).unwrap().unwrap();

        // The fenced transaction, on a duty connection of its own, open until told to commit.
        let (opened, wait_opened) = mpsc::channel();
        let (commit, wait_commit) = mpsc::channel::<()>();
        let duty = Database::connect(&settings).unwrap();
        let fenced_claim = claim.clone();
        let fenced = std::thread::spawn(move || {
            write_transaction(&mut duty.get().unwrap(), |connection| {
                let holds = fenced_claim.holds(connection)?;
                opened.send(holds).unwrap();
                wait_commit.recv().unwrap();
                registry::record_event(connection, "old", "fenced_write", Some(fenced_claim.epoch.get()), "test")?;
                registry::now(connection)
            })
        });
        assert!(wait_opened.recv().unwrap(), "the fenced transaction found its claim");

        let renewing = Instant::now();
        assert!(claim.renew(&mut master.get().unwrap()).unwrap(), "the master renews");
        assert!(renewing.elapsed() < LOCK_TIMEOUT, "the renewal waited for its own fenced write");

        // Counted as expired at once: only the lock keeps the other node out.
        std::thread::sleep(Duration::from_millis(20));
        let expired = Duration::from_millis(1);
        let refused = lease::try_acquire(&mut other.get().unwrap(), &new, expired);
        let error = refused.expect_err("the takeover gives up at its lock timeout").to_string();
        assert!(error.contains("lock timeout"), "{error}");
        assert_eq!(lease::held_by(&mut other.get().unwrap(), "old").unwrap(), Some(claim.epoch.get()));

        commit.send(()).unwrap();
        let committed_at = fenced.join().unwrap().unwrap();
        let taken = lease::try_acquire(&mut other.get().unwrap(), &new, expired).unwrap().expect("taken");
        assert_eq!(taken.epoch.get(), claim.epoch.get() + 1);
        let renewed_at = lease::read(&mut other.get().unwrap()).unwrap().renewed_at.unwrap();
        assert!(renewed_at >= committed_at, "renewed_at {renewed_at} is older than the fenced commit {committed_at}");

        let late = write_transaction(&mut Database::connect(&settings).unwrap().get().unwrap(), |connection| {
            claim.holds(connection)
        });
        assert!(!late.unwrap(), "a fenced transaction of the old epoch after the takeover");
        assert!(!claim.renew(&mut master.get().unwrap()).unwrap(), "the old master's renewal after the takeover");
        assert!(!claim.release(&mut master.get().unwrap(), None, "test").unwrap());
        assert!(taken.renew(&mut other.get().unwrap()).unwrap(), "the new master renews");
    })
    .await
    .unwrap();
}
