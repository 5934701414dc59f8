//! The node table and the event log: registration, heartbeats, removal of silent nodes,
//! maintenance flags.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::db::dialect::Dialect;
use crate::db::schema::cluster_nodes;
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};

/// Who this node is, as written to `cluster_nodes`.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    /// Random per process start.
    pub instance: String,
    pub hostname: String,
    pub base_url: String,
    pub version: String,
    pub config_hash: String,
    pub priority: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = cluster_nodes)]
pub struct NodeRow {
    pub name: String,
    pub instance: String,
    pub hostname: String,
    pub base_url: String,
    pub version: String,
    pub config_hash: String,
    pub started_at: NaiveDateTime,
    pub heartbeat_at: NaiveDateTime,
    pub maintenance: bool,
    pub priority: i32,
    pub message: String,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Age {
    #[diesel(sql_type = Nullable<Bool>)]
    fresh: Option<bool>,
}

/// Appends to the cluster event log; callers write it in the transaction of the change it
/// records, so the log's order is the order of the changes.
pub fn record_event(
    connection: &mut DbConnection,
    node: &str,
    kind: &str,
    epoch: Option<i64>,
    reason: &str,
) -> Result<()> {
    let dialect = Dialect::of(connection);
    dialect
        .query(&format!(
            "INSERT INTO cluster_events (at, node, kind, epoch, reason) VALUES ({}, ?, ?, ?, ?)",
            dialect.now()
        ))
        .bind::<Text, _>(node)
        .bind::<Text, _>(kind)
        .bind::<Nullable<BigInt>, _>(epoch)
        .bind::<Text, _>(reason)
        .execute(connection)?;
    Ok(())
}

/// Registers the node at start. Refuses when another live process uses the same name.
pub fn register(connection: &mut DbConnection, me: &Identity, node_timeout: Duration) -> Result<()> {
    write_transaction(connection, |connection| register_in_transaction(connection, me, node_timeout))
}

fn register_in_transaction(connection: &mut DbConnection, me: &Identity, node_timeout: Duration) -> Result<()> {
    let dialect = Dialect::of(connection);
    let existing: Option<Age> = dialect
        .query(&format!(
            "SELECT (heartbeat_at >= {}) AS fresh FROM cluster_nodes WHERE name = ? AND instance <> ?",
            dialect.ago(node_timeout)
        ))
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .get_result(connection)
        .optional()?;
    if existing.as_ref().and_then(|age| age.fresh) == Some(true) {
        return Err(Error::Conflict(format!(
            "another live process is already node {:?} (its heartbeat is fresh): give this node another name \
             with --node-name or the node.name setting",
            me.name
        )));
    }
    if existing.is_some() {
        dialect.query("DELETE FROM cluster_nodes WHERE name = ?").bind::<Text, _>(&me.name).execute(connection)?;
    }
    insert(connection, me)?;
    record_event(connection, &me.name, "joined", None, &format!("version {} at {}", me.version, me.base_url))
}

fn insert(connection: &mut DbConnection, me: &Identity) -> Result<()> {
    let dialect = Dialect::of(connection);
    let now = dialect.now();
    dialect
        .query(&format!(
            "INSERT INTO cluster_nodes (name, instance, hostname, base_url, version, config_hash, started_at, heartbeat_at, \
             maintenance, priority, message) VALUES (?, ?, ?, ?, ?, ?, {now}, {now}, FALSE, ?, '')"
        ))
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .bind::<Text, _>(&me.hostname)
        .bind::<Text, _>(&me.base_url)
        .bind::<Text, _>(&me.version)
        .bind::<Text, _>(&me.config_hash)
        .bind::<Integer, _>(me.priority)
        .execute(connection)
        .map_err(|error| match error {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                Error::Conflict(format!(
                    "another process registered node {:?} at the same moment: give this node another name",
                    me.name
                ))
            }
            other => other.into(),
        })?;
    Ok(())
}

/// Refreshes this node's heartbeat; re-registers when its row was removed (it was silent
/// for longer than the timeout, e.g. paused). Returns whether it had to re-register.
pub fn heartbeat(connection: &mut DbConnection, me: &Identity) -> Result<bool> {
    let dialect = Dialect::of(connection);
    let updated = dialect
        .query(&format!("UPDATE cluster_nodes SET heartbeat_at = {} WHERE name = ? AND instance = ?", dialect.now()))
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .execute(connection)?;
    if updated == 1 {
        return Ok(false);
    }
    write_transaction(connection, |connection| {
        insert(connection, me)?;
        record_event(connection, &me.name, "joined", None, "registered again after being removed as silent")
    })?;
    Ok(true)
}

/// Removes nodes silent for longer than `node_timeout` and logs each as left. Several nodes
/// may run this at once; `RETURNING` tells each exactly which rows it removed.
pub fn remove_silent(connection: &mut DbConnection, me: &Identity, node_timeout: Duration) -> Result<Vec<String>> {
    write_transaction(connection, |connection| {
        let dialect = Dialect::of(connection);
        let removed: Vec<Name> = dialect
            .query(&format!(
                "DELETE FROM cluster_nodes WHERE heartbeat_at < {} RETURNING name",
                dialect.ago(node_timeout)
            ))
            .load(connection)?;
        for node in &removed {
            record_event(
                connection,
                &node.name,
                "left",
                None,
                &format!("no heartbeat for {} (removed by {})", humantime::format_duration(node_timeout), me.name),
            )?;
        }
        Ok(removed.into_iter().map(|node| node.name).collect())
    })
}

/// Removes this node's row on a clean shutdown.
pub fn deregister(connection: &mut DbConnection, me: &Identity) -> Result<()> {
    write_transaction(connection, |connection| {
        let removed = Dialect::of(connection)
            .query("DELETE FROM cluster_nodes WHERE name = ? AND instance = ?")
            .bind::<Text, _>(&me.name)
            .bind::<Text, _>(&me.instance)
            .execute(connection)?;
        if removed > 0 {
            record_event(connection, &me.name, "left", None, "shut down")?;
        }
        Ok(())
    })
}

pub fn list(connection: &mut DbConnection) -> Result<Vec<NodeRow>> {
    Ok(cluster_nodes::table.order(cluster_nodes::name.asc()).select(NodeRow::as_select()).load(connection)?)
}

/// Whether the node is in maintenance (false when it is not registered).
pub fn is_in_maintenance(connection: &mut DbConnection, name: &str) -> Result<bool> {
    Ok(cluster_nodes::table
        .filter(cluster_nodes::name.eq(name))
        .select(cluster_nodes::maintenance)
        .first::<bool>(connection)
        .optional()?
        .unwrap_or(false))
}

/// Puts a node into maintenance or takes it out.
pub fn set_maintenance(connection: &mut DbConnection, name: &str, on: bool, by: &str) -> Result<()> {
    write_transaction(connection, |connection| {
        let updated = diesel::update(cluster_nodes::table.filter(cluster_nodes::name.eq(name)))
            .set(cluster_nodes::maintenance.eq(on))
            .execute(connection)?;
        if updated == 0 {
            return Err(Error::not_found(format!("node {name:?}")));
        }
        let kind = if on { "maintenance_on" } else { "maintenance_off" };
        record_event(connection, name, kind, None, &format!("by {by}"))
    })
}

/// The database clock with milliseconds.
pub fn now(connection: &mut DbConnection) -> Result<NaiveDateTime> {
    #[derive(QueryableByName)]
    struct Now {
        #[diesel(sql_type = Timestamp)]
        now: NaiveDateTime,
    }
    let dialect = Dialect::of(connection);
    Ok(dialect.query(&format!("SELECT {} AS now", dialect.now())).get_result::<Now>(connection)?.now)
}

/// Drops events and probe rows older than `keep`; returns how many.
pub fn prune(connection: &mut DbConnection, keep: Duration) -> Result<usize> {
    let dialect = Dialect::of(connection);
    let cutoff = dialect.ago(keep);
    let events = dialect.query(&format!("DELETE FROM cluster_events WHERE at < {cutoff}")).execute(connection)?;
    let probes = dialect.query(&format!("DELETE FROM cluster_probe WHERE at < {cutoff}")).execute(connection)?;
    Ok(events + probes)
}
