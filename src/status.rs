//! What operators see of the whole system — the cluster, the search index and mail —
//! loaded together for the API (`GET /api/v1/cluster`), the admin cluster page and
//! `baton cluster status`.

use serde::Serialize;

use crate::cluster::Timing;
use crate::cluster::status::{self as cluster_status, ClusterStatus};
use crate::db::DbConnection;
use crate::error::Result;
use crate::mail::status::{self as mail_status, MailStatus};
use crate::search::status::{self as search_status, SearchStatus};

#[derive(Debug, Clone, Serialize)]
pub struct SystemStatus {
    /// The cluster's fields are the top level of the API's answer.
    #[serde(flatten)]
    pub cluster: ClusterStatus,
    pub search: SearchStatus,
    pub mail: MailStatus,
}

impl SystemStatus {
    /// The status with the `recent_events` newest cluster events.
    pub fn load(connection: &mut DbConnection, timing: Timing, recent_events: i64) -> Result<SystemStatus> {
        Ok(SystemStatus {
            cluster: cluster_status::load(connection, timing.heartbeat_interval, timing.node_timeout, recent_events)?,
            search: search_status::load(connection)?,
            mail: mail_status::load(connection)?,
        })
    }
}
