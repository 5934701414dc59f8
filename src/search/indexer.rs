//! The indexer, a master duty. Each master writes into a generation of its own, started from
//! the last approved commit (`generation`), and keeps it up to date from `index_queue`:
//! applies a batch (delete + add per item), commits it to its directory, and approves the
//! commit — the row readers open, written together with the deletion of exactly the applied
//! queue rows, in one transaction fenced by the epoch. A crash before the approval
//! re-applies idempotent upserts; a deposed master can still write files, but its approval
//! fails, so no reader ever opens them, and it touches no directory of a later master. The
//! new master needs nothing the old process holds: no file lock, no directory.
//!
//! Full rebuilds (requested through `rebuild`) are in `build`.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use tantivy::{Index, IndexWriter, Term};

use crate::cluster::duty::{DutyContext, MasterDuty, RetryPause};
use crate::db::schema::index_queue;
use crate::db::{DbConnection, PooledConnection};
use crate::error::{Error, Result};
use crate::model::attachment::FileStore;
use crate::search::collect::{Collector, ReaderRules};
use crate::search::commits::{self, ApprovedCommit};
use crate::search::directory::{ApprovedDirectory, WriterDirectory};
use crate::search::document;
use crate::search::fields::Fields;
use crate::search::generation::IndexLocation;
use crate::search::rebuild;

mod build;

/// Queue rows applied per commit, and items read per query during a build.
const BATCH: i64 = 1000;
/// Memory for the index writer that follows the queue (one thread).
const WRITER_MEMORY: usize = 30_000_000;
/// Memory for the index writer that builds a whole generation (one thread: reading the items
/// is the build's bottleneck, and each writer thread's term table is sized from its budget up
/// front). 100,000 items build at the same rate with one thread of 20 MB as with two of 60 MB,
/// and the node's peak during the build is 151-162 MB instead of 214-221 (docs/benchmarks.md).
const BUILD_MEMORY: usize = 20_000_000;
/// How long the indexer waits after a round that found the queue empty.
const IDLE: Duration = Duration::from_millis(100);
/// How long it lets changes gather after a round that applied some: under a stream of writes
/// one commit then carries tens of items instead of a few, each commit costing a new segment
/// (its memory zeroed), its files synced and an approval (creates +15-25 %, see
/// docs/benchmarks.md). A backlog still drains at 20 batches a second.
const GATHER: Duration = Duration::from_millis(50);
/// How often at most the indexer gives freed memory back when the queue empties (each time
/// costs a pass over the allocator's memory).
const RELEASE_EVERY: Duration = Duration::from_secs(10);
/// How often the indexer looks for rebuild requests.
const REQUEST_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often it removes what no reader uses any more: readers switch within 250 ms of an
/// approval, so a replaced file goes within about a second.
const COLLECT_EVERY: Duration = Duration::from_millis(500);
/// How often a build records its progress and lets the old generation catch up.
const BUILD_STEP: Duration = Duration::from_millis(500);

pub struct IndexerDuty {
    location: IndexLocation,
    /// Where attachment contents are, for indexing the text of text-like ones.
    files: FileStore,
    merges: MergeRequests,
    /// When a reader counts as gone, and how long its commits are kept (see `collect`).
    readers: ReaderRules,
    /// Diagnostic (`search.pause_before_commit`): waits this long between the epoch check and
    /// each commit, and says so in the log, so that a test can pause the process there.
    pause_before_commit: Duration,
    /// What this master term's indexer holds; locked through a round, so a round run by hand
    /// and the duty's own take turns on the one writer.
    term: Mutex<Option<IndexerTerm>>,
}

/// The indexer's state through one master term.
struct IndexerTerm {
    epoch: i64,
    /// Held through the term, as one writer works on one connection.
    connection: PooledConnection,
    /// This master's generation; none while a rebuild is needed and not done yet.
    current: Option<Writer>,
    collector: Collector,
    last_request_check: Option<Instant>,
    last_collect: Option<Instant>,
}

/// Requests to merge the current generation's segments into one (the scheduled
/// `index_merge` job), taken by the indexer, which holds the only writer.
#[derive(Clone)]
pub struct MergeRequests {
    sender: std::sync::mpsc::Sender<MergeReply>,
    receiver: Arc<Mutex<std::sync::mpsc::Receiver<MergeReply>>>,
}

type MergeReply = tokio::sync::oneshot::Sender<Result<String>>;

impl Default for MergeRequests {
    fn default() -> Self {
        let (sender, receiver) = std::sync::mpsc::channel();
        MergeRequests { sender, receiver: Arc::new(Mutex::new(receiver)) }
    }
}

impl MergeRequests {
    /// Asks this node's indexer to merge; returns what it did once the merge is done.
    pub async fn merge(&self) -> Result<String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender.send(reply).map_err(|error| Error::internal("asking the search indexer to merge", error))?;
        answer.await.map_err(|_| Error::Unavailable("the search indexer stopped before it merged".into()))?
    }

    fn next(&self) -> Option<MergeReply> {
        self.receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).try_recv().ok()
    }
}

impl MasterDuty for IndexerDuty {
    fn name(&self) -> &'static str {
        "indexer"
    }

    /// Repeats the round, pausing when there was no work, and after an error (database or
    /// disk trouble) with a `RetryPause` from one second to 30, until the node stops being
    /// master.
    fn run(self: Arc<Self>, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let _end = EndTerm(self.clone());
            let mut pause = RetryPause::new(Duration::from_secs(1), Duration::from_secs(30));
            // Whether rounds applied work since freed memory was last given back, and when.
            let mut worked = false;
            let mut released: Option<Instant> = None;
            while !context.must_stop() {
                let (duty, round_context) = (self.clone(), context.clone());
                let outcome = tokio::task::spawn_blocking(move || duty.index_round(&round_context)).await;
                if let Ok(Ok(applied)) = outcome {
                    pause.succeeded();
                    worked |= applied;
                    // The queue has just been emptied, after a build or a stream of changes:
                    // what the work freed goes back to the system.
                    if !applied && worked && released.is_none_or(|at| at.elapsed() >= RELEASE_EVERY) {
                        let _ = tokio::task::spawn_blocking(crate::memory::release_freed).await;
                        (worked, released) = (false, Some(Instant::now()));
                    }
                }
                let wait = match outcome {
                    Ok(Ok(true)) => GATHER,
                    Ok(Ok(false)) => IDLE,
                    Ok(Err(_)) if context.must_stop() => return,
                    Ok(Err(error)) => {
                        let retry_in = pause.failed();
                        tracing::error!(%error, ?retry_in, "search indexer failed");
                        retry_in
                    }
                    Err(error) => {
                        let retry_in = pause.failed();
                        tracing::error!(%error, ?retry_in, "search indexer task failed");
                        retry_in
                    }
                };
                tokio::select! {
                    () = context.stopped() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    }
}

/// Ends the term when the duty's task ends, also when it is aborted: dropping the writer
/// releases tantivy's lock on this master's directory. A round still running ends the term
/// itself (it sees `must_stop`).
struct EndTerm(Arc<IndexerDuty>);

impl Drop for EndTerm {
    fn drop(&mut self) {
        if let Ok(mut term) = self.0.term.try_lock() {
            *term = None;
        }
    }
}

/// This master's generation, open for writing.
struct Writer {
    writer: IndexWriter,
    fields: Fields,
    directory: WriterDirectory,
    generation: String,
    /// The `meta.json` of its last approved commit.
    approved_meta: String,
}

/// Opens the writer of a generation of this master. The directory is new and its own, so
/// tantivy's lock is free at once, whatever a deposed master still holds elsewhere.
/// `Err(reason)` when the index was written by another version of Baton (its schema differs).
fn open_writer(
    index: Index,
    directory: WriterDirectory,
    generation: &str,
    memory: usize,
) -> Result<std::result::Result<Writer, String>> {
    let fields = match Fields::of(&index) {
        Ok(fields) => fields,
        Err(error) => return Ok(Err(format!("index of another version of Baton: {error}"))),
    };
    let writer = index
        .writer_with_num_threads(1, memory)
        .map_err(|error| Error::internal("opening the search index writer", error))?;
    Ok(Ok(Writer { writer, fields, directory, generation: generation.to_string(), approved_meta: String::new() }))
}

impl IndexerDuty {
    pub fn new(
        location: IndexLocation,
        files: FileStore,
        merges: MergeRequests,
        readers: ReaderRules,
        pause_before_commit: Duration,
    ) -> IndexerDuty {
        IndexerDuty { location, files, merges, readers, pause_before_commit, term: Mutex::new(None) }
    }

    /// One round, blocking: the first of a master term opens its generation; then a rebuild
    /// when one is requested (checked once a second), a requested merge, one batch of the
    /// queue, and every half second the approval of merged segments and the removal of what
    /// no reader uses. Returns whether it applied queue rows or built a generation (false:
    /// the queue is empty). After an error the next round starts the term again from the
    /// approved commit.
    pub fn index_round(&self, context: &DutyContext) -> Result<bool> {
        let mut term = self.term.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = match &mut *term {
            Some(current) if current.epoch == context.epoch => self.step(current, context),
            _ => {
                *term = None;
                self.open_term(context).and_then(|opened| {
                    let opened = term.insert(opened);
                    self.step(opened, context)
                })
            }
        };
        if outcome.is_err() || context.must_stop() {
            *term = None;
        }
        outcome
    }

    fn open_term(&self, context: &DutyContext) -> Result<IndexerTerm> {
        let mut connection = context.connection()?;
        let collector = Collector::new(self.readers);
        let current = self.start(&mut connection, context, &collector)?;
        Ok(IndexerTerm {
            epoch: context.epoch,
            connection,
            current,
            collector,
            last_request_check: None,
            last_collect: None,
        })
    }

    fn step(&self, term: &mut IndexerTerm, context: &DutyContext) -> Result<bool> {
        let connection: &mut DbConnection = &mut term.connection;
        if term.last_request_check.is_none_or(|at| at.elapsed() >= REQUEST_CHECK_EVERY) {
            term.last_request_check = Some(Instant::now());
            if let Some(request) = rebuild::next_unfinished(connection)? {
                let built = self.build(context, connection, term.current.as_mut(), &term.collector, &request)?;
                // None: told to stop.
                let Some(built) = built else { return Ok(false) };
                term.current = Some(built);
                return Ok(true);
            }
        }
        let Some(writer) = term.current.as_mut() else { return Ok(false) };
        if let Some(reply) = self.merges.next() {
            start_merge(writer, reply);
        }
        let applied = self.apply_batch(writer, connection, context)?;
        if term.last_collect.is_none_or(|at| at.elapsed() >= COLLECT_EVERY) {
            term.last_collect = Some(Instant::now());
            if applied.is_empty() {
                self.approve_merged(writer, connection, context)?;
            }
            let collected =
                term.collector.collect(&self.location, (&writer.generation, &writer.directory), connection, context)?;
            if collected.files > 0 {
                tracing::debug!(files = collected.files, "removed replaced search index files");
            }
        }
        Ok(!applied.is_empty())
    }

    /// Opens this master's generation, started from the approved commit; `None` when there
    /// is none to start from (a rebuild is requested instead).
    fn start(
        &self,
        connection: &mut DbConnection,
        context: &DutyContext,
        collector: &Collector,
    ) -> Result<Option<Writer>> {
        let base = match commits::latest(connection)? {
            Some(latest) => {
                if self.location.legacy_generation()?.is_some() {
                    // An earlier version of Baton was master since and wrote its own index:
                    // what it applied is missing here.
                    self.location.remove_legacy_pointer()?;
                    rebuild::request(connection, "an earlier version of Baton wrote the index meanwhile")?;
                }
                latest
            }
            None => match self.adopt_legacy(connection, context)? {
                Ok(adopted) => adopted,
                Err(reason) => {
                    rebuild::request(connection, &reason)?;
                    return Ok(None);
                }
            },
        };
        if collector.pin_after_lost_master(connection, context, &base.node)? {
            tracing::info!(previous = %base.node, "the previous master stopped heartbeating: the commits it may still read are kept");
        }
        match self.continue_from(connection, context, &base)? {
            Ok(writer) => Ok(Some(writer)),
            Err(reason) => {
                tracing::warn!(%reason, commit = base.id, generation = %base.generation, "the search index must be rebuilt");
                rebuild::request(connection, &reason)?;
                Ok(None)
            }
        }
    }

    /// A new generation with the files of `base`, approved at once so that readers move to
    /// this master's directory. `Err(reason)` when `base` cannot be continued.
    fn continue_from(
        &self,
        connection: &mut DbConnection,
        context: &DutyContext,
        base: &ApprovedCommit,
    ) -> Result<std::result::Result<Writer, String>> {
        if !context.still_master(connection)? {
            return Err(Error::Conflict(format!(
                "no longer master with epoch {}: no generation started",
                context.epoch
            )));
        }
        let generation = self.location.create(context.epoch)?;
        let filled = match self.location.fill_from(&generation, base) {
            Ok(filled) => filled,
            Err(error) => {
                return Ok(Err(format!("index commit {} in {}: {}", base.id, base.generation, error.message())));
            }
        };
        if filled.copied > 0 {
            tracing::warn!(copied = filled.copied, %generation, "the shared file system refused hard links: index files copied");
        }
        let path = self.location.path(&generation);
        let directory = WriterDirectory::open(&path)
            .map_err(|error| Error::internal(format!("opening {}", path.display()), error))?;
        let index = match Index::open(directory.clone()) {
            Ok(index) => index,
            Err(error) => return Ok(Err(format!("index commit {} in {}: {error}", base.id, base.generation))),
        };
        let mut writer = match open_writer(index, directory, &generation, WRITER_MEMORY)? {
            Ok(writer) => writer,
            Err(reason) => return Ok(Err(reason)),
        };
        let applied = format!("continues commit {} of epoch {}", base.id, base.epoch);
        self.approve(&mut writer, connection, context, &applied, &[])?;
        tracing::info!(%generation, base = base.id, linked = filled.linked, "search index generation started");
        Ok(Ok(writer))
    }

    /// Before the first approved commit: the index an earlier version of Baton named by its
    /// pointer file is approved as it is, and the pointer file goes. `Err(reason)` when there
    /// is none, or it was written with another schema (then it is rebuilt).
    fn adopt_legacy(
        &self,
        connection: &mut DbConnection,
        context: &DutyContext,
    ) -> Result<std::result::Result<ApprovedCommit, String>> {
        let Some(generation) = self.location.legacy_generation()? else { return Ok(Err("first index".into())) };
        let adoptable = self.location.meta_on_disk(&generation).and_then(|meta| {
            let path = self.location.path(&generation);
            let view = ApprovedDirectory::open(&path, &meta)
                .map_err(|error| Error::internal(format!("opening {}", path.display()), error))?;
            let index = Index::open(view).map_err(|error| Error::internal("opening the earlier index", error))?;
            Fields::of(&index).map_err(|error| Error::Conflict(error.to_string()))?;
            Ok(meta)
        });
        let meta = match adoptable {
            Ok(meta) => meta,
            Err(error) => return Ok(Err(format!("index {generation} of an earlier version: {}", error.message()))),
        };
        commits::approve(
            connection,
            context,
            &generation,
            &meta,
            "adopted the index of an earlier version of Baton",
            &[],
        )?;
        self.location.remove_legacy_pointer()?;
        tracing::info!(%generation, "adopted the search index of an earlier version of Baton");
        commits::latest(connection)?
            .map(Ok)
            .ok_or_else(|| Error::internal("adopting the search index", "the approved commit vanished"))
    }

    /// Makes the writer's last commit the one readers open (fenced), deleting `queue_rows`.
    fn approve(
        &self,
        writer: &mut Writer,
        connection: &mut DbConnection,
        context: &DutyContext,
        applied: &str,
        queue_rows: &[i64],
    ) -> Result<()> {
        let meta =
            writer.directory.meta().map_err(|error| Error::internal("reading the search index commit", error))?;
        commits::approve(connection, context, &writer.generation, &meta, applied, queue_rows)?;
        writer.approved_meta = meta;
        Ok(())
    }

    /// A merge that ended since the last approval changed the segments on disk: readers get
    /// them, and the replaced files can go, without waiting for the next change.
    fn approve_merged(&self, writer: &mut Writer, connection: &mut DbConnection, context: &DutyContext) -> Result<()> {
        let meta =
            writer.directory.meta().map_err(|error| Error::internal("reading the search index commit", error))?;
        if meta != writer.approved_meta {
            commits::approve(connection, context, &writer.generation, &meta, "merged segments", &[])?;
            writer.approved_meta = meta;
        }
        Ok(())
    }

    /// Commits what the writer was given to its directory and approves it, deleting
    /// `queue_rows` with the approval.
    fn commit(
        &self,
        writer: &mut Writer,
        connection: &mut DbConnection,
        context: &DutyContext,
        applied: &str,
        queue_rows: &[i64],
    ) -> Result<()> {
        // Saves a deposed master that knows it a useless commit; what keeps its commit from
        // readers when it does not know yet is the fenced approval.
        if !context.still_master(connection)? {
            writer.writer.rollback().map_err(|error| Error::internal("rolling back the search index", error))?;
            return Err(Error::Conflict(format!("no longer master with epoch {}: nothing committed", context.epoch)));
        }
        if !self.pause_before_commit.is_zero() {
            tracing::warn!(
                pause = ?self.pause_before_commit,
                epoch = context.epoch,
                "waiting before the index commit (diagnostic setting search.pause_before_commit)"
            );
            std::thread::sleep(self.pause_before_commit);
        }
        let payload = serde_json::json!({
            "epoch": context.epoch,
            "node": context.node,
            "applied": applied,
            "committed_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
        .to_string();
        let mut prepared =
            writer.writer.prepare_commit().map_err(|error| Error::internal("preparing a search commit", error))?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(|error| Error::internal("committing the search index", error))?;
        self.approve(writer, connection, context, applied, queue_rows)
    }

    /// Applies one batch of the queue; returns the items it re-indexed (none: the queue is empty).
    fn apply_batch(
        &self,
        writer: &mut Writer,
        connection: &mut DbConnection,
        context: &DutyContext,
    ) -> Result<Vec<i64>> {
        let rows: Vec<(i64, i64)> = index_queue::table
            .order(index_queue::id.asc())
            .limit(BATCH)
            .select((index_queue::id, index_queue::item_id))
            .load(connection)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let item_ids: Vec<i64> =
            rows.iter().map(|(_, item_id)| *item_id).collect::<BTreeSet<_>>().into_iter().collect();
        upsert(writer, &self.files, connection, &item_ids)?;
        let queue_ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let applied = format!("{} queue rows, {} items", rows.len(), item_ids.len());
        self.commit(writer, connection, context, &applied, &queue_ids)?;
        Ok(item_ids)
    }
}

/// Replaces the documents of `item_ids` by their current state (deleted items vanish).
fn upsert(writer: &Writer, files: &FileStore, connection: &mut DbConnection, item_ids: &[i64]) -> Result<()> {
    for item_id in item_ids {
        writer.writer.delete_term(Term::from_field_u64(writer.fields.item_id, u64::try_from(*item_id).unwrap_or(0)));
    }
    for item in document::load(connection, files, item_ids)? {
        writer
            .writer
            .add_document(item.to_tantivy(&writer.fields))
            .map_err(|error| Error::internal("indexing", error))?;
    }
    Ok(())
}

/// Starts merging every searchable segment into one; the reply is sent when the merge is
/// done, from a thread of its own, so the indexer keeps applying the queue meanwhile.
fn start_merge(writer: &mut Writer, reply: MergeReply) {
    let segments = match writer.writer.index().searchable_segment_ids() {
        Ok(segments) => segments,
        Err(error) => {
            let _ = reply.send(Err(Error::internal("listing the search index segments", error)));
            return;
        }
    };
    if segments.len() < 2 {
        let _ = reply.send(Ok(format!("{} segment, nothing to merge", segments.len())));
        return;
    }
    let merging = writer.writer.merge(&segments);
    std::thread::spawn(move || {
        let outcome = merging
            .wait()
            .map(|_| format!("merged {} segments into one", segments.len()))
            .map_err(|error| Error::internal("merging the search index segments", error));
        let _ = reply.send(outcome);
    });
}
