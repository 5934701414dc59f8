//! The probe duty: while master, writes one fenced row per heartbeat to `cluster_probe`.
//! The rows show who acted as master when; the cluster tests check that epochs only grow
//! and never interleave. Enabled by `cluster.probe_duty`.
//!
//! With `cluster.probe_hold` it keeps each of its fenced transactions open that long after
//! its row is written (and says so in the log at info level), so that a master can be caught
//! — paused, cut off — inside a fenced transaction: the lease row stays locked for the
//! transaction's life, which is what a takeover must wait for and what the server must end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::db::DbConnection;
use crate::db::dialect::Dialect;
use crate::error::{Error, Result};

pub struct ProbeDuty {
    pub interval: Duration,
    /// How long each fenced transaction stays open after its row is written.
    pub hold: Duration,
}

impl MasterDuty for ProbeDuty {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn run(self: Arc<Self>, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (interval, hold) = (self.interval, self.hold);
        Box::pin(async move {
            loop {
                let write_context = context.clone();
                // Reported from the blocking task itself: a write that ends after the duty
                // was aborted (its node self-fenced meanwhile) still says how it ended.
                let written = context
                    .database
                    .write(move |connection| {
                        let written = write_context.fenced(connection, |connection| {
                            write_row(connection, &write_context)?;
                            hold_open(&write_context, hold);
                            Ok(())
                        });
                        match &written {
                            Ok(()) => {}
                            Err(Error::Conflict(_)) => {
                                tracing::warn!(
                                    epoch = write_context.epoch,
                                    "probe write refused: the lease has moved on"
                                )
                            }
                            Err(error) => tracing::warn!(%error, epoch = write_context.epoch, "probe write failed"),
                        }
                        written
                    })
                    .await;
                if let Err(Error::Conflict(_)) = written {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = context.stopped() => return,
                }
            }
        })
    }
}

fn write_row(connection: &mut DbConnection, context: &DutyContext) -> Result<()> {
    let dialect = Dialect::of(connection);
    dialect
        .query(&format!("INSERT INTO cluster_probe (node, epoch, at) VALUES (?, ?, {})", dialect.now()))
        .bind::<Text, _>(&context.node)
        .bind::<BigInt, _>(context.epoch)
        .execute(connection)?;
    Ok(())
}

/// Waits `hold` inside the open transaction, or less when the duty must stop (a handover
/// lets the probe finish its transaction at once).
fn hold_open(context: &DutyContext, hold: Duration) {
    if hold.is_zero() {
        return;
    }
    tracing::info!(epoch = context.epoch, hold_ms = hold.as_millis() as u64, "probe holds its fenced transaction open");
    let until = Instant::now() + hold;
    while Instant::now() < until && !context.must_stop() {
        std::thread::sleep(Duration::from_millis(5).min(until.saturating_duration_since(Instant::now())));
    }
}
