//! Operational figures of search, for the cluster status: how much is waiting to be
//! indexed, how old the oldest waiting change is, and what the last commit was.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::cluster::registry;
use crate::db::DbConnection;
use crate::db::schema::index_queue;
use crate::error::Result;
use crate::search::IndexLocation;
use crate::search::rebuild::{self, Rebuild};

#[derive(Debug, Clone, Serialize)]
pub struct SearchStatus {
    /// Changes waiting in `index_queue`.
    pub queue_depth: i64,
    /// Age of the oldest waiting change, when there is one.
    pub oldest_unindexed_age_ms: Option<i64>,
    /// The index generation in use (none before the first build).
    pub generation: Option<String>,
    /// The payload of the last commit: epoch, node, what was applied, when.
    pub last_commit: Option<serde_json::Value>,
    /// The latest rebuild: waiting, running (with progress) or finished.
    pub rebuild: Option<RebuildStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RebuildStatus {
    pub state: &'static str,
    #[serde(flatten)]
    pub rebuild: Rebuild,
}

impl From<Rebuild> for RebuildStatus {
    fn from(rebuild: Rebuild) -> RebuildStatus {
        RebuildStatus { state: rebuild.state(), rebuild }
    }
}

/// Changes waiting in `index_queue`, and the age of the oldest one.
pub fn queue(connection: &mut DbConnection) -> Result<(i64, Option<i64>)> {
    let queue_depth: i64 = index_queue::table.count().get_result(connection)?;
    let oldest: Option<NaiveDateTime> =
        index_queue::table.select(diesel::dsl::min(index_queue::enqueued_at)).get_result(connection)?;
    // Queue times are written by CURRENT_TIMESTAMP (second precision on SQLite).
    let now = registry::now(connection)?;
    Ok((queue_depth, oldest.map(|oldest| (now - oldest).num_milliseconds().max(0))))
}

pub fn load(connection: &mut DbConnection, location: &IndexLocation) -> Result<SearchStatus> {
    let (queue_depth, oldest_unindexed_age_ms) = queue(connection)?;
    let generation = location.current_generation()?;
    let last_commit = match &generation {
        Some(generation) => location
            .open(generation)
            .ok()
            .and_then(|index| index.load_metas().ok())
            .and_then(|metas| metas.payload)
            .and_then(|payload| serde_json::from_str(&payload).ok()),
        None => None,
    };
    let rebuild = rebuild::recent(connection, 1)?.pop().map(RebuildStatus::from);
    Ok(SearchStatus { rebuild, queue_depth, oldest_unindexed_age_ms, generation, last_commit })
}
