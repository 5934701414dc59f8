//! Deletion by use: the master removes a replaced segment file, or a whole generation, as
//! soon as no commit in use names it — the approved commit, every commit a registered
//! node's reader has open, and, as a backstop only, the commits of a node that stopped
//! heartbeating while it read them (kept `grace` after it was last seen so: it may only be
//! paused, and on NFS a file deleted under it would fail its searches). Tantivy's own
//! deletions are only noted by `WriterDirectory`; nothing is removed by age.
//!
//! Why a deposed master's collector cannot remove what anyone needs:
//! - It reads the approved commit first and the readers' open commits after. A reader
//!   records a commit before it opens it and opens it only if it is still the newest
//!   approved one afterwards. If the collector missed that record, the record came after
//!   its read of the readers, hence after its read of the approved commit; a commit that
//!   was not approved then is never the newest one later (approvals only add newer rows),
//!   so the reader did not open it. What the collector saw unused stays unused.
//! - In its own generation it removes only files tantivy released, which no later commit
//!   of its own names; in other generations only whole directories of its own or earlier
//!   epochs: a later master's directory — being filled right now, perhaps — is never
//!   touched. A new master fills its directory from the approved commit, which is in use
//!   until the new master approves a commit of its own, after the filling.
//! - Its database writes (pins, forgetting commits) are fenced by its epoch.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::cluster::duty::DutyContext;
use crate::config::Settings;
use crate::db::DbConnection;
use crate::db::dialect::Dialect;
use crate::db::schema::index_commits;
use crate::error::Result;
use crate::search::commits::{self, CommitFiles};
use crate::search::directory::WriterDirectory;
use crate::search::generation::{IndexLocation, epoch_of};

/// How long the commits of a node that stopped heartbeating are kept after it was last seen
/// reading them: the previous design kept every replaced file this long, which readers on
/// other hosts never needed once they heartbeat.
pub const READER_GRACE: Duration = Duration::from_secs(600);

/// When a node counts as having stopped heartbeating, and how long its open commits are kept.
#[derive(Debug, Clone, Copy)]
pub struct ReaderRules {
    pub stale_after: Duration,
    pub grace: Duration,
}

impl ReaderRules {
    /// Silent for half the node timeout: well past a late heartbeat, and seen by the master
    /// (which collects twice a second) before the node is removed at the full timeout.
    pub fn from_settings(settings: &Settings) -> ReaderRules {
        ReaderRules { stale_after: settings.cluster.node_timeout / 2, grace: READER_GRACE }
    }
}

/// The commits in use, with their generation and files.
#[derive(Debug, Default)]
pub struct InUse {
    commits: Vec<(i64, String, CommitFiles)>,
}

impl InUse {
    /// Whether a commit in use lies in `generation`.
    pub fn holds(&self, generation: &str) -> bool {
        self.commits.iter().any(|(_, held, _)| held == generation)
    }

    /// Whether a commit in use names `file` of `generation`.
    pub fn uses(&self, generation: &str, file: &str) -> bool {
        self.commits.iter().any(|(_, held, files)| held == generation && files.uses(file))
    }
}

/// A commit's generation and files, parsed once: commits never change.
type CommitCache = HashMap<i64, (String, CommitFiles)>;

#[derive(QueryableByName)]
struct Reader {
    #[diesel(sql_type = Text)]
    open_commits: String,
    #[diesel(sql_type = Nullable<Bool>)]
    stale: Option<bool>,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

/// The commits registered nodes' readers have open, and those of nodes that stopped
/// heartbeating.
fn readers(connection: &mut DbConnection, rules: ReaderRules) -> Result<(BTreeSet<i64>, BTreeSet<i64>)> {
    let dialect = Dialect::of(connection);
    let readers: Vec<Reader> = dialect
        .query(&format!(
            "SELECT r.open_commits, (n.heartbeat_at < {}) AS stale FROM index_readers r \
             JOIN cluster_nodes n ON n.name = r.node AND n.instance = r.instance",
            dialect.ago(rules.stale_after)
        ))
        .load(connection)?;
    let (mut open, mut stale) = (BTreeSet::new(), BTreeSet::new());
    for reader in &readers {
        let ids = commits::parse_open(&reader.open_commits);
        if reader.stale == Some(true) {
            stale.extend(&ids);
        }
        open.extend(ids);
    }
    Ok((open, stale))
}

fn pin(connection: &mut DbConnection, ids: &BTreeSet<i64>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let dialect = Dialect::of(connection);
    let ids: Vec<i64> = ids.iter().copied().collect();
    dialect
        .query(&format!("UPDATE index_commits SET pinned_at = {} WHERE id IN ({})", dialect.now(), id_list(&ids)))
        .execute(connection)?;
    Ok(())
}

/// At a master's start, when the master before it (`previous`) stopped heartbeating: no
/// collector saw it fall silent, and its row — with the commits its own reader had open —
/// may be gone already. Every commit still recorded is pinned: those were in use at its last
/// collection or approved since, which covers what its reader had open. Returns whether it
/// pinned.
fn pin_after_lost_master(
    connection: &mut DbConnection,
    context: &DutyContext,
    rules: ReaderRules,
    previous: &str,
) -> Result<bool> {
    #[derive(QueryableByName)]
    struct Fresh {
        #[diesel(sql_type = Nullable<Bool>)]
        fresh: Option<bool>,
    }
    context.fenced(connection, |connection| {
        let dialect = Dialect::of(connection);
        let previous: Option<Fresh> = dialect
            .query(&format!(
                "SELECT (heartbeat_at >= {}) AS fresh FROM cluster_nodes WHERE name = ?",
                dialect.ago(rules.stale_after)
            ))
            .bind::<Text, _>(previous)
            .get_result(connection)
            .optional()?;
        if previous.and_then(|previous| previous.fresh) == Some(true) {
            return Ok(false);
        }
        dialect.query(&format!("UPDATE index_commits SET pinned_at = {}", dialect.now())).execute(connection)?;
        Ok(true)
    })
}

/// Reads which commits are in use (the approved one first, see the module comment), pins
/// the open commits of nodes that stopped heartbeating, and forgets the commits nobody
/// uses — in one transaction fenced by the epoch.
fn in_use(
    connection: &mut DbConnection,
    context: &DutyContext,
    rules: ReaderRules,
    cache: &mut CommitCache,
) -> Result<InUse> {
    context.fenced(connection, |connection| {
        let dialect = Dialect::of(connection);
        let approved: Id = dialect.query("SELECT MAX(id) AS id FROM index_commits").get_result(connection)?;
        let Some(approved) = approved.id else { return Ok(InUse::default()) };
        let (open, stale) = readers(connection, rules)?;
        pin(connection, &stale)?;
        let mut keep: BTreeSet<i64> = BTreeSet::from([approved]);
        keep.extend(open);
        let pinned: Vec<Id> = dialect
            .query(&format!("SELECT id FROM index_commits WHERE pinned_at >= {}", dialect.ago(rules.grace)))
            .load(connection)?;
        keep.extend(pinned.into_iter().filter_map(|pinned| pinned.id));
        let keep: Vec<i64> = keep.into_iter().collect();
        diesel::delete(index_commits::table.filter(index_commits::id.ne_all(&keep))).execute(connection)?;
        cache.retain(|id, _| keep.contains(id));
        let missing: Vec<i64> = keep.iter().copied().filter(|id| !cache.contains_key(id)).collect();
        let rows: Vec<(i64, String, String)> = index_commits::table
            .filter(index_commits::id.eq_any(&missing))
            .select((index_commits::id, index_commits::generation, index_commits::meta))
            .load(connection)?;
        for (id, generation, meta) in rows {
            cache.insert(id, (generation, CommitFiles::of(&meta)?));
        }
        Ok(InUse {
            commits: keep
                .iter()
                .filter_map(|id| cache.get(id).map(|(generation, files)| (*id, generation.clone(), files.clone())))
                .collect(),
        })
    })
}

/// Ids are numbers, written into the statement.
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// What one round removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub files: usize,
    pub generations: Vec<String>,
}

/// The master's collector: what it remembers between rounds.
pub struct Collector {
    rules: ReaderRules,
    cache: CommitCache,
    /// Generations whose removal failed (said once, tried again every round).
    failing: BTreeSet<String>,
}

impl Collector {
    pub fn new(rules: ReaderRules) -> Collector {
        Collector { rules, cache: CommitCache::new(), failing: BTreeSet::new() }
    }

    /// One round: removes the released files of the writer's generation that no commit in
    /// use names, and every generation of this or an earlier epoch that holds no commit in
    /// use (and is not the writer's). A file-system error waits for the next round; a
    /// database error (or a lost lease) ends the round.
    pub fn collect(
        &mut self,
        location: &IndexLocation,
        writer: (&str, &WriterDirectory),
        connection: &mut DbConnection,
        context: &DutyContext,
    ) -> Result<Collected> {
        let (writing, directory) = writer;
        // Listed before what is in use is read: a file released later waits for the next round.
        let released = directory.released();
        let in_use = in_use(connection, context, self.rules, &mut self.cache)?;
        let files = directory.remove_released(&released, |file| in_use.uses(writing, file));
        let mut generations = Vec::new();
        let present = match location.generations() {
            Ok(present) => present,
            Err(error) => {
                tracing::warn!(%error, "could not list the search index generations");
                return Ok(Collected { files, generations });
            }
        };
        for generation in present {
            let later_master = epoch_of(&generation).unwrap_or(0) > context.epoch;
            if generation == writing || later_master || in_use.holds(&generation) {
                continue;
            }
            match location.remove(&generation) {
                Ok(()) => {
                    self.failing.remove(&generation);
                    tracing::info!(%generation, "removed a search index generation no reader uses");
                    generations.push(generation);
                }
                // A deposed master may still be writing into its directory: next round.
                Err(error) => {
                    if self.failing.insert(generation.clone()) {
                        tracing::warn!(%error, %generation, "could not remove a search index generation yet");
                    }
                }
            }
        }
        Ok(Collected { files, generations })
    }

    /// Pins the open commits of nodes that stopped heartbeating, while a build keeps the
    /// rounds from running (such a node is removed, with its record, at the node timeout).
    pub fn pin_stale_readers(&self, connection: &mut DbConnection, context: &DutyContext) -> Result<()> {
        context.fenced(connection, |connection| {
            let (_, stale) = readers(connection, self.rules)?;
            pin(connection, &stale)
        })
    }

    /// At a master's start: see `pin_after_lost_master`.
    pub fn pin_after_lost_master(
        &self,
        connection: &mut DbConnection,
        context: &DutyContext,
        previous: &str,
    ) -> Result<bool> {
        pin_after_lost_master(connection, context, self.rules, previous)
    }
}
