//! The probe duty: while master, writes one fenced row per heartbeat to `cluster_probe`.
//! The rows show who acted as master when; the cluster tests check that epochs only grow
//! and never interleave. Enabled by `cluster.probe_duty`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::cluster::sql::Dialect;

pub struct ProbeDuty {
    pub interval: Duration,
}

impl MasterDuty for ProbeDuty {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn run(&self, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let interval = self.interval;
        Box::pin(async move {
            loop {
                let write_context = context.clone();
                let written = context
                    .database
                    .write(move |connection| {
                        let dialect = Dialect::of(connection);
                        Ok(dialect
                            .query(&format!(
                                "INSERT INTO cluster_probe (node, epoch, at) SELECT ?, ?, {} \
                                 WHERE EXISTS (SELECT 1 FROM cluster_lease \
                                     WHERE id = 1 AND holder = ? AND holder_instance = ? AND epoch = ?{})",
                                dialect.now(),
                                dialect.lock_for_share()
                            ))
                            .bind::<Text, _>(&write_context.node)
                            .bind::<BigInt, _>(write_context.epoch)
                            .bind::<Text, _>(&write_context.node)
                            .bind::<Text, _>(&write_context.instance)
                            .bind::<BigInt, _>(write_context.epoch)
                            .execute(connection)?)
                    })
                    .await;
                match written {
                    Ok(1) => {}
                    Ok(_) => {
                        tracing::warn!(epoch = context.epoch, "probe write refused: the lease has moved on");
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "probe write failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = context.stopped() => return,
                }
            }
        })
    }
}
