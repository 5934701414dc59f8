//! What admins see of the cluster: every node with its role and colour, the lease, the
//! recent events, and a loud flag when no node holds a valid lease.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::cluster::lease;
use crate::cluster::registry;
use crate::db::DbConnection;
use crate::db::schema::cluster_events;
use crate::error::Result;
use crate::timestamp;

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    /// `master`, `backup` or `maintenance`.
    pub role: &'static str,
    /// `green`; `red` when its heartbeat is stale or its version or settings differ from
    /// the master's; `orange` in maintenance.
    pub status: &'static str,
    pub problems: Vec<String>,
    pub hostname: String,
    pub base_url: String,
    pub version: String,
    pub config_hash: String,
    pub priority: i32,
    pub heartbeat_age_ms: i64,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub started_at: NaiveDateTime,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeaseStatus {
    pub holder: Option<String>,
    pub epoch: i64,
    #[serde(serialize_with = "timestamp::serialize_optional_utc")]
    pub renewed_at: Option<NaiveDateTime>,
    pub handover_to: Option<String>,
    /// Whether the holder renewed it within the node timeout.
    pub valid: bool,
}

#[derive(Debug, Clone, Serialize, Queryable)]
pub struct Event {
    pub id: i64,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub at: NaiveDateTime,
    pub node: String,
    pub kind: String,
    pub epoch: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub master: Option<String>,
    pub epoch: i64,
    /// True when no node has held a valid lease for longer than the node timeout.
    pub no_master_alarm: bool,
    pub lease: LeaseStatus,
    pub nodes: Vec<NodeStatus>,
    pub events: Vec<Event>,
}

pub fn load(
    connection: &mut DbConnection,
    heartbeat_interval: Duration,
    node_timeout: Duration,
    event_count: i64,
) -> Result<ClusterStatus> {
    let now = registry::now(connection)?;
    let lease_row = lease::read(connection)?;
    let nodes = registry::list(connection)?;
    let events: Vec<Event> = cluster_events::table
        .order(cluster_events::id.desc())
        .limit(event_count)
        .select((
            cluster_events::id,
            cluster_events::at,
            cluster_events::node,
            cluster_events::kind,
            cluster_events::epoch,
            cluster_events::reason,
        ))
        .load(connection)?;

    let timeout = chrono::Duration::from_std(node_timeout).unwrap_or(chrono::Duration::MAX);
    let stale_after = chrono::Duration::from_std(heartbeat_interval * 2).unwrap_or(chrono::Duration::MAX);
    let valid = lease_row.holder.is_some() && lease_row.renewed_at.is_some_and(|renewed| now - renewed <= timeout);
    // Without a valid lease since: the release (holder gone) or the expiry of the last renewal.
    let masterless_since = match (&lease_row.holder, lease_row.renewed_at) {
        (_, None) => None,
        (None, Some(released)) => Some(released),
        (Some(_), Some(renewed)) => Some(renewed + timeout),
    };
    let no_master_alarm = !valid && masterless_since.is_none_or(|since| now - since > timeout);
    let master = lease_row.holder.clone().filter(|_| valid);
    let master_row = nodes.iter().find(|node| Some(&node.name) == master.as_ref()).cloned();

    let nodes = nodes
        .into_iter()
        .map(|node| {
            let age = now - node.heartbeat_at;
            let mut problems = Vec::new();
            if age > stale_after {
                problems.push(format!("no heartbeat for {:.1} s", age.num_milliseconds() as f64 / 1000.0));
            }
            if let Some(master_row) = &master_row {
                if node.version != master_row.version {
                    problems.push(format!("version {} differs from the master's {}", node.version, master_row.version));
                }
                if node.config_hash != master_row.config_hash {
                    problems.push("cluster settings differ from the master's".to_string());
                }
            }
            let is_master = master.as_deref() == Some(node.name.as_str());
            NodeStatus {
                role: if is_master {
                    "master"
                } else if node.maintenance {
                    "maintenance"
                } else {
                    "backup"
                },
                status: if !problems.is_empty() {
                    "red"
                } else if node.maintenance {
                    "orange"
                } else {
                    "green"
                },
                problems,
                heartbeat_age_ms: age.num_milliseconds().max(0),
                name: node.name,
                hostname: node.hostname,
                base_url: node.base_url,
                version: node.version,
                config_hash: node.config_hash,
                priority: node.priority,
                started_at: node.started_at,
                message: node.message,
            }
        })
        .collect();
    Ok(ClusterStatus {
        master,
        epoch: lease_row.epoch,
        no_master_alarm,
        lease: LeaseStatus {
            holder: lease_row.holder,
            epoch: lease_row.epoch,
            renewed_at: lease_row.renewed_at,
            handover_to: lease_row.handover_to,
            valid,
        },
        nodes,
        events,
    })
}
