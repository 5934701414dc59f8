//! The master lease: one row, taken, renewed and released by conditional UPDATEs on database
//! time. Every acquisition increments the epoch; a node holds the lease as a `LeaseClaim`
//! (holder, instance, epoch), which every fenced write and every renewal checks again.
//!
//! On PostgreSQL the row's lock modes put every takeover after every fenced write of the old
//! epoch (docs/cluster.md, "Locks and timeouts"):
//! - a fenced write locks the row `FOR KEY SHARE` until it commits (`LeaseClaim::holds`);
//! - the holder's renewal locks it `FOR NO KEY UPDATE`, which does not wait for those;
//! - a takeover and a release lock it `FOR UPDATE`, which waits for every one of them.
//!
//! Each of these statements writes its times only once it holds the lock: an UPDATE that
//! waits for a row lock keeps the values (and the verdict of its WHERE) it computed before the
//! wait, so a takeover that waited seconds wrote a lease that was already expired. SQLite runs
//! one writer at a time: `BEGIN IMMEDIATE` is the lock there.

use std::fmt;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::cluster::registry::{self, Identity};
use crate::db::dialect::{Dialect, RowLock};
use crate::db::schema::cluster_lease;
use crate::db::{DbConnection, MultiBackend, write_transaction};
use crate::error::{Error, Result};

/// The fencing token: grows by one with every acquisition of the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(i64);

impl Epoch {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for Epoch {
    fn from(value: i64) -> Epoch {
        Epoch(value)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// The lease as one node took it. Writes of the master duties and renewals are conditioned on
/// it still being true; once another node takes the lease (or this one gives it up) it never
/// is again, because the epoch only grows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseClaim {
    pub node: String,
    pub instance: String,
    pub epoch: Epoch,
}

type Statement<'f> = BoxedSqlQuery<'f, MultiBackend, SqlQuery>;

impl LeaseClaim {
    /// The fencing condition on `cluster_lease`; `bind` gives its values, in this place of
    /// the statement.
    const CONDITION: &'static str = "id = 1 AND holder = ? AND holder_instance = ? AND epoch = ?";

    fn bind<'f>(&'f self, statement: Statement<'f>) -> Statement<'f> {
        statement.bind::<Text, _>(&self.node).bind::<Text, _>(&self.instance).bind::<BigInt, _>(self.epoch.0)
    }

    /// Whether the lease is still held with this claim. Inside a transaction the row stays
    /// locked (`FOR KEY SHARE`) until the commit, so no takeover or release commits in between:
    /// a takeover waits for the transaction, and a transaction that comes after a takeover
    /// finds the claim gone.
    pub fn holds(&self, connection: &mut DbConnection) -> Result<bool> {
        Ok(select_lease(connection, Some(RowLock::KeyShare), Self::CONDITION, |statement| self.bind(statement))?
            .is_some())
    }

    /// Renews the lease; false means it has moved on. Its fenced writes in flight do not
    /// delay it (`FOR NO KEY UPDATE` does not conflict with `FOR KEY SHARE`).
    pub fn renew(&self, connection: &mut DbConnection) -> Result<bool> {
        write_transaction(connection, |connection| {
            if select_lease(connection, Some(RowLock::NoKeyUpdate), Self::CONDITION, |statement| self.bind(statement))?
                .is_none()
            {
                return Ok(false);
            }
            let dialect = Dialect::of(connection);
            let statement = dialect
                .query(&format!("UPDATE cluster_lease SET renewed_at = {} WHERE {}", dialect.now(), Self::CONDITION))
                .into_boxed();
            Ok(self.bind(statement).execute(connection)? == 1)
        })
    }

    /// Gives the lease up, optionally naming the node that alone may take it next (failback).
    /// A pending handover request stays in place. Waits (up to the session's `lock_timeout`)
    /// for this epoch's fenced writes still in flight.
    pub fn release(&self, connection: &mut DbConnection, hand_to: Option<&str>, reason: &str) -> Result<bool> {
        write_transaction(connection, |connection| {
            if select_lease(connection, Some(RowLock::Update), Self::CONDITION, |statement| self.bind(statement))?
                .is_none()
            {
                return Ok(false);
            }
            let dialect = Dialect::of(connection);
            let now = dialect.now();
            let handover = match hand_to {
                Some(_) => format!(", handover_to = ?, handover_at = {now}"),
                None => String::new(),
            };
            let statement = dialect
                .query(&format!(
                    "UPDATE cluster_lease SET holder = NULL, holder_instance = NULL, renewed_at = {now}{handover} \
                     WHERE {}",
                    Self::CONDITION
                ))
                .into_boxed();
            let statement = match hand_to {
                Some(target) => statement.bind::<Text, _>(target),
                None => statement,
            };
            let released = self.bind(statement).execute(connection)? == 1;
            if released {
                registry::record_event(connection, &self.node, "released", Some(self.epoch.0), reason)?;
            }
            Ok(released)
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cluster_lease)]
pub struct LeaseRow {
    pub holder: Option<String>,
    pub holder_instance: Option<String>,
    pub epoch: i64,
    pub renewed_at: Option<NaiveDateTime>,
    pub handover_to: Option<String>,
    pub handover_at: Option<NaiveDateTime>,
}

#[derive(QueryableByName)]
struct EpochRow {
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

/// The lease row's epoch if the row matches `condition`, locked with `lock` (a matching row
/// only). Statements after it in the transaction run once the lock is held, so the times they
/// compute are not older than the wait.
fn select_lease<'f>(
    connection: &mut DbConnection,
    lock: Option<RowLock>,
    condition: &str,
    bind: impl FnOnce(Statement<'f>) -> Statement<'f>,
) -> Result<Option<i64>> {
    let dialect = Dialect::of(connection);
    let lock = lock.map_or("", |lock| dialect.row_lock(lock));
    let statement = dialect.query(&format!("SELECT epoch FROM cluster_lease WHERE {condition}{lock}")).into_boxed();
    let row: Option<EpochRow> = bind(statement).get_result(connection).optional()?;
    Ok(row.map(|row| row.epoch))
}

pub fn read(connection: &mut DbConnection) -> Result<LeaseRow> {
    Ok(cluster_lease::table.find(1).select(LeaseRow::as_select()).first(connection)?)
}

/// When `me` may take the lease: it is free (released, or not renewed for `node_timeout`),
/// no live handover names another node, `me` is registered and not in maintenance, and no
/// live node of higher priority could take it instead. Bound by `bind_free`.
fn free_for(dialect: Dialect, node_timeout: Duration) -> String {
    let expired = dialect.ago(node_timeout);
    format!(
        "id = 1 AND (holder IS NULL OR renewed_at < {expired}) \
         AND (handover_to IS NULL OR handover_to = ? OR handover_at < {expired}) \
         AND EXISTS (SELECT 1 FROM cluster_nodes WHERE name = ? AND instance = ? AND maintenance = FALSE) \
         AND (handover_to = ? OR NOT EXISTS (SELECT 1 FROM cluster_nodes \
              WHERE priority > ? AND maintenance = FALSE AND heartbeat_at >= {expired}))"
    )
}

fn bind_free<'f>(statement: Statement<'f>, me: &'f Identity) -> Statement<'f> {
    statement
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .bind::<Text, _>(&me.name)
        .bind::<Integer, _>(me.priority)
}

/// Takes the lease when it is free for this node (see `free_for`); returns the claim.
pub fn try_acquire(connection: &mut DbConnection, me: &Identity, node_timeout: Duration) -> Result<Option<LeaseClaim>> {
    let free = free_for(Dialect::of(connection), node_timeout);
    // A backup's tick mostly ends here: a plain read, without a transaction or a lock.
    if select_lease(connection, None, &free, |statement| bind_free(statement, me))?.is_none() {
        return Ok(None);
    }
    write_transaction(connection, |connection| {
        // FOR UPDATE waits (up to the session's lock_timeout) until no fenced write of the old
        // epoch is in flight. The UPDATE then decides and stamps the time under the lock.
        if select_lease(connection, Some(RowLock::Update), &free, |statement| bind_free(statement, me))?.is_none() {
            return Ok(None);
        }
        let dialect = Dialect::of(connection);
        let statement = dialect
            .query(&format!(
                "UPDATE cluster_lease SET holder = ?, holder_instance = ?, epoch = epoch + 1, renewed_at = {}, \
                     handover_to = NULL, handover_at = NULL \
                 WHERE {free} RETURNING epoch",
                dialect.now()
            ))
            .into_boxed()
            .bind::<Text, _>(&me.name)
            .bind::<Text, _>(&me.instance);
        let taken: Option<EpochRow> = bind_free(statement, me).get_result(connection).optional()?;
        let Some(EpochRow { epoch }) = taken else { return Ok(None) };
        registry::record_event(connection, &me.name, "acquired", Some(epoch), "master lease taken")?;
        Ok(Some(LeaseClaim { node: me.name.clone(), instance: me.instance.clone(), epoch: Epoch(epoch) }))
    })
}

/// Asks the master to hand the lease to `target`. Refused when the node is unknown, silent
/// or in maintenance.
pub fn request_handover(connection: &mut DbConnection, target: &str, node_timeout: Duration, by: &str) -> Result<()> {
    write_transaction(connection, |connection| {
        let nodes = registry::list(connection)?;
        let now = registry::now(connection)?;
        let Some(node) = nodes.iter().find(|node| node.name == target) else {
            let known: Vec<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
            return Err(Error::not_found(format!("node {target:?} (live nodes: {})", known.join(", "))));
        };
        if node.maintenance {
            return Err(Error::Conflict(format!(
                "node {target:?} is in maintenance: take it out of maintenance first"
            )));
        }
        let silent_for = now - node.heartbeat_at;
        if silent_for > chrono::Duration::from_std(node_timeout).unwrap_or(chrono::Duration::MAX) {
            return Err(Error::Conflict(format!("node {target:?} is not live (no heartbeat for {silent_for})")));
        }
        select_lease(connection, Some(RowLock::NoKeyUpdate), "id = 1", |statement| statement)?;
        let dialect = Dialect::of(connection);
        dialect
            .query(&format!("UPDATE cluster_lease SET handover_to = ?, handover_at = {} WHERE id = 1", dialect.now()))
            .bind::<Text, _>(target)
            .execute(connection)?;
        registry::record_event(connection, target, "handover_requested", None, &format!("by {by}"))
    })
}

/// The epoch of the lease if `node` holds it now.
pub fn held_by(connection: &mut DbConnection, node: &str) -> Result<Option<i64>> {
    let lease = read(connection)?;
    Ok((lease.holder.as_deref() == Some(node)).then_some(lease.epoch))
}

/// Whether a node of higher priority than `me` is live and could take the lease (failback).
pub fn higher_priority_node(
    connection: &mut DbConnection,
    me: &Identity,
    node_timeout: Duration,
) -> Result<Option<String>> {
    #[derive(QueryableByName)]
    struct Candidate {
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
    }
    let dialect = Dialect::of(connection);
    let candidate: Option<Candidate> = dialect
        .query(&format!(
            "SELECT name FROM cluster_nodes WHERE priority > ? AND maintenance = FALSE AND heartbeat_at >= {} \
             ORDER BY priority DESC, name LIMIT 1",
            dialect.ago(node_timeout)
        ))
        .bind::<Integer, _>(me.priority)
        .get_result(connection)
        .optional()?;
    Ok(candidate.and_then(|candidate| candidate.name))
}
