//! The cluster agent in this process: what a node does with the master lease when it stops.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use baton::cluster::Cluster;
use baton::cluster::duty::{DutyContext, MasterDuty};
use baton::config::Settings;
use baton::db::Database;

use crate::support::Backend;

crate::on_both_backends!(a_node_stopped_while_taking_the_lease_releases_it_and_runs_no_duty);

/// A duty that counts its runs still going.
struct Counting(Arc<AtomicUsize>);

impl MasterDuty for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn run(self: Arc<Self>, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            context.stopped().await;
            self.0.fetch_sub(1, Ordering::SeqCst);
        })
    }
}

/// The agent's first heartbeat (which takes the free lease) starts as the agent starts, so a
/// shutdown right after the start meets it in flight: shutdown must wait for it and release
/// what it took, or the duties would run on in a node that is gone.
async fn a_node_stopped_while_taking_the_lease_releases_it_and_runs_no_duty(backend: Backend) {
    let folder = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        database_url: backend.fresh_database_url(folder.path()),
        data_dir: folder.path().join("data"),
        pool_size: 2,
        ..Settings::default()
    };
    settings.node.name = Some("brief".into());
    settings.cluster.heartbeat_interval = Duration::from_millis(50);
    settings.cluster.node_timeout = Duration::from_millis(500);
    let migrate_settings = settings.clone();
    let database = tokio::task::spawn_blocking(move || {
        let database = Database::connect(&migrate_settings).unwrap();
        database.migrate().unwrap();
        database
    })
    .await
    .unwrap();
    for round in 0..10 {
        let running = Arc::new(AtomicUsize::new(0));
        let cluster = Cluster::start(&settings, vec![Arc::new(Counting(running.clone()))]).await.unwrap();
        cluster.shutdown().await;
        assert!(!cluster.role().master, "round {round}: still master after shutdown");
        // Long enough for a heartbeat that outlived the shutdown to start the duty.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(running.load(Ordering::SeqCst), 0, "round {round}: a duty runs after shutdown");
        let holder = database.run(|connection| baton::cluster::lease::held_by(connection, "brief")).await.unwrap();
        assert_eq!(holder, None, "round {round}: the stopped node still holds the lease");
    }
}
