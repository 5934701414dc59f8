//! Fast wake-ups on PostgreSQL: a node that releases the lease, requests a handover or
//! changes maintenance sends `NOTIFY baton_cluster`; every node LISTENs on a dedicated
//! connection and runs its tick at once. Only a wake-up: polling at the heartbeat interval
//! still guarantees progress, and SQLite simply polls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tokio::sync::Notify;

use crate::db::DbConnection;

pub const CHANNEL: &str = "baton_cluster";

/// Sends the wake-up (PostgreSQL only; a no-op on SQLite).
pub fn notify_all(connection: &mut DbConnection) {
    if let DbConnection::Postgresql(inner) = connection
        && let Err(error) = inner.batch_execute(&format!("NOTIFY {CHANNEL}"))
    {
        tracing::warn!(%error, "cluster wake-up not sent; other nodes notice at their next heartbeat");
    }
}

/// Listens on its own thread until `stop` is set, waking `wake` for each notification.
pub fn listen(url: String, wake: Arc<Notify>, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("cluster-listen".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut connection = match PgConnection::establish(&url).and_then(|mut connection| {
                    connection
                        .batch_execute(&format!("LISTEN {CHANNEL}"))
                        .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
                    Ok(connection)
                }) {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for cluster wake-ups; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                };
                // The listen may have missed wake-ups while connecting: tick once now.
                wake.notify_one();
                while !stop.load(Ordering::Relaxed) {
                    // Reads what the socket already holds: no statement, no round trip.
                    let mut received = false;
                    let mut lost = false;
                    for notification in connection.notifications_iter() {
                        match notification {
                            Ok(_) => received = true,
                            Err(error) => {
                                tracing::warn!(%error, "cluster wake-up connection lost; reconnecting");
                                lost = true;
                                break;
                            }
                        }
                    }
                    if received {
                        wake.notify_one();
                    }
                    if lost {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|error| tracing::error!(%error, "cannot start the cluster listener thread"));
}
