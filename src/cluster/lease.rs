//! The master lease: one row, taken and renewed by single conditional UPDATEs on database
//! time (never read-then-write). Every acquisition increments the epoch, the fencing token
//! that master-duty writes carry.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::cluster::registry::{self, Identity};
use crate::cluster::sql::Dialect;
use crate::db::DbConnection;
use crate::db::schema::cluster_lease;
use crate::error::{Error, Result};

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
struct Epoch {
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

pub fn read(connection: &mut DbConnection) -> Result<LeaseRow> {
    Ok(cluster_lease::table.find(1).select(LeaseRow::as_select()).first(connection)?)
}

/// Takes the lease when it is free (released, or not renewed for `node_timeout`), no
/// live handover names another node, this node is registered and not in maintenance, and
/// no live node of higher priority could take it instead. Returns the new epoch.
pub fn try_acquire(connection: &mut DbConnection, me: &Identity, node_timeout: Duration) -> Result<Option<i64>> {
    let dialect = Dialect::of(connection);
    let expired = dialect.ago(node_timeout);
    let acquired: Option<Epoch> = dialect
        .query(&format!(
            "UPDATE cluster_lease SET holder = ?, holder_instance = ?, epoch = epoch + 1, renewed_at = {now}, \
                 handover_to = NULL, handover_at = NULL \
             WHERE id = 1 \
               AND (holder IS NULL OR renewed_at < {expired}) \
               AND (handover_to IS NULL OR handover_to = ? OR handover_at < {expired}) \
               AND EXISTS (SELECT 1 FROM cluster_nodes WHERE name = ? AND instance = ? AND maintenance = FALSE) \
               AND (handover_to = ? OR NOT EXISTS (SELECT 1 FROM cluster_nodes \
                    WHERE priority > ? AND maintenance = FALSE AND heartbeat_at >= {expired})) \
             RETURNING epoch",
            now = dialect.now()
        ))
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .bind::<Text, _>(&me.name)
        .bind::<Integer, _>(me.priority)
        .get_result(connection)
        .optional()?;
    let Some(Epoch { epoch }) = acquired else { return Ok(None) };
    registry::record_event(connection, &me.name, "acquired", Some(epoch), "master lease taken")?;
    Ok(Some(epoch))
}

/// Renews the lease this node holds with `epoch`; false means it is no longer the holder.
pub fn renew(connection: &mut DbConnection, me: &Identity, epoch: i64) -> Result<bool> {
    let dialect = Dialect::of(connection);
    let renewed = dialect
        .query(&format!(
            "UPDATE cluster_lease SET renewed_at = {} WHERE id = 1 AND holder = ? AND holder_instance = ? AND epoch = ?",
            dialect.now()
        ))
        .bind::<Text, _>(&me.name)
        .bind::<Text, _>(&me.instance)
        .bind::<BigInt, _>(epoch)
        .execute(connection)?;
    Ok(renewed == 1)
}

/// Gives the lease up, optionally naming the node that alone may take it next (failback).
/// A pending handover request stays in place.
pub fn release(
    connection: &mut DbConnection,
    me: &Identity,
    epoch: i64,
    hand_to: Option<&str>,
    reason: &str,
) -> Result<bool> {
    let dialect = Dialect::of(connection);
    let now = dialect.now();
    let handover = match hand_to {
        Some(_) => format!(", handover_to = ?, handover_at = {now}"),
        None => String::new(),
    };
    let query = dialect
        .query(&format!(
            "UPDATE cluster_lease SET holder = NULL, holder_instance = NULL, renewed_at = {now}{handover} \
             WHERE id = 1 AND holder = ? AND holder_instance = ? AND epoch = ?"
        ))
        .into_boxed();
    let query = match hand_to {
        Some(target) => query.bind::<Text, _>(target.to_string()),
        None => query,
    };
    let released = query
        .bind::<Text, _>(me.name.clone())
        .bind::<Text, _>(me.instance.clone())
        .bind::<BigInt, _>(epoch)
        .execute(connection)?
        == 1;
    if released {
        registry::record_event(connection, &me.name, "released", Some(epoch), reason)?;
    }
    Ok(released)
}

/// Asks the master to hand the lease to `target`. Refused when the node is unknown, silent
/// or in maintenance.
pub fn request_handover(connection: &mut DbConnection, target: &str, node_timeout: Duration, by: &str) -> Result<()> {
    let nodes = registry::list(connection)?;
    let now = registry::now(connection)?;
    let Some(node) = nodes.iter().find(|node| node.name == target) else {
        let known: Vec<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
        return Err(Error::not_found(format!("node {target:?} (live nodes: {})", known.join(", "))));
    };
    if node.maintenance {
        return Err(Error::Conflict(format!("node {target:?} is in maintenance: take it out of maintenance first")));
    }
    let silent_for = now - node.heartbeat_at;
    if silent_for > chrono::Duration::from_std(node_timeout).unwrap_or(chrono::Duration::MAX) {
        return Err(Error::Conflict(format!("node {target:?} is not live (no heartbeat for {silent_for})")));
    }
    let dialect = Dialect::of(connection);
    dialect
        .query(&format!("UPDATE cluster_lease SET handover_to = ?, handover_at = {} WHERE id = 1", dialect.now()))
        .bind::<Text, _>(target)
        .execute(connection)?;
    registry::record_event(connection, target, "handover_requested", None, &format!("by {by}"))
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
