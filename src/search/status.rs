//! Operational figures of search, for the cluster status: how much is waiting to be
//! indexed, how old the oldest waiting change is, the approved commit, which commits each
//! node reads, and the latest rebuild. All from the database: no node's files are needed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::cluster::registry;
use crate::db::DbConnection;
use crate::db::schema::{cluster_nodes, index_queue, index_readers};
use crate::error::Result;
use crate::search::commits::{self, ApprovedCommit};
use crate::search::rebuild::{self, Rebuild};

#[derive(Debug, Clone, Serialize)]
pub struct SearchStatus {
    /// Changes waiting in `index_queue`.
    pub queue_depth: i64,
    /// Age of the oldest waiting change, when there is one.
    pub oldest_unindexed_age_ms: Option<i64>,
    /// The generation (directory) of the approved commit (none before the first build).
    pub generation: Option<String>,
    /// The approved commit: id, epoch, node, what it applied, when.
    pub last_commit: Option<ApprovedCommit>,
    /// The commits each node's reader has open, newest first.
    pub readers: Vec<ReaderStatus>,
    /// The latest rebuild: waiting, running (with progress) or finished.
    pub rebuild: Option<RebuildStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReaderStatus {
    pub node: String,
    pub commits: Vec<i64>,
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

pub fn load(connection: &mut DbConnection) -> Result<SearchStatus> {
    let (queue_depth, oldest_unindexed_age_ms) = queue(connection)?;
    let last_commit = commits::latest(connection)?;
    let readers =
        index_readers::table
            .inner_join(cluster_nodes::table.on(
                cluster_nodes::name.eq(index_readers::node).and(cluster_nodes::instance.eq(index_readers::instance)),
            ))
            .order(index_readers::node.asc())
            .select((index_readers::node, index_readers::open_commits))
            .load::<(String, String)>(connection)?
            .into_iter()
            .map(|(node, open)| ReaderStatus { node, commits: commits::parse_open(&open) })
            .collect();
    let rebuild = rebuild::recent(connection, 1)?.pop().map(RebuildStatus::from);
    Ok(SearchStatus {
        queue_depth,
        oldest_unindexed_age_ms,
        generation: last_commit.as_ref().map(|commit| commit.generation.clone()),
        last_commit,
        readers,
        rebuild,
    })
}
