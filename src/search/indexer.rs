//! The indexer, a master duty. It keeps the current index generation up to date from
//! `index_queue`: applies a batch (delete + add per item), commits with a payload naming the
//! epoch and what was applied, and only then deletes exactly the applied rows. A crash
//! between commit and delete re-applies idempotent upserts; a deposed master's commit is
//! refused before it happens and its database writes are fenced by the epoch.
//!
//! Rebuilds (see `rebuild`) go into a new generation while search answers from the old one,
//! which the indexer keeps updating in between. Before the switch, the new generation
//! re-indexes every item the old one was given meanwhile; the queue rows present when the
//! build started are covered by the build and deleted by id after its commit. Rows that
//! came later and were not applied stay queued for the new generation.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use tantivy::{Index, IndexWriter, Term};

use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::db::DbConnection;
use crate::db::schema::{index_queue, items};
use crate::error::{Error, Result};
use crate::model::attachment::FileStore;
use crate::search::IndexLocation;
use crate::search::directory::DeferredDeleteDirectory;
use crate::search::document;
use crate::search::fields::Fields;
use crate::search::rebuild::{self, Rebuild};

/// Queue rows applied per commit, and items read per query during a build.
const BATCH: i64 = 1000;
/// Memory for the index writer that follows the queue (one thread).
const WRITER_MEMORY: usize = 30_000_000;
/// Threads and memory for building a whole generation.
const BUILD_THREADS: usize = 2;
const BUILD_MEMORY: usize = 120_000_000;
/// Replaced segment files and retired generations are removed this long after, so that
/// readers on other hosts (NFS) never lose a file under a search.
pub const REMOVAL_GRACE: Duration = Duration::from_secs(600);
/// How often the indexer looks for rebuild requests, and removes what the grace freed.
const REQUEST_CHECK_EVERY: Duration = Duration::from_secs(1);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);
/// How often a build records its progress and lets the old generation catch up.
const BUILD_STEP: Duration = Duration::from_millis(500);

pub struct IndexerDuty {
    pub location: IndexLocation,
    /// Where attachment contents are, for indexing the text of text-like ones.
    pub files: FileStore,
    pub merges: MergeRequests,
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

    /// Restarts the work after an error (database or disk trouble) with a growing pause,
    /// until the node stops being master.
    fn run(&self, mut context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let location = self.location.clone();
        let files = self.files.clone();
        let merges = self.merges.clone();
        Box::pin(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                let (location, files, merges, task_context) =
                    (location.clone(), files.clone(), merges.clone(), context.clone());
                let outcome =
                    tokio::task::spawn_blocking(move || run_blocking(&location, &files, &merges, &task_context)).await;
                match outcome {
                    Ok(Ok(())) => return,
                    Ok(Err(_)) if context.must_stop() => return,
                    Ok(Err(error)) => tracing::error!(%error, retry_in = ?pause, "search indexer failed"),
                    Err(error) => tracing::error!(%error, retry_in = ?pause, "search indexer task failed"),
                }
                tokio::select! {
                    () = context.stopped() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        })
    }
}

/// An index generation open for writing.
struct Writer {
    writer: IndexWriter,
    fields: Fields,
    directory: DeferredDeleteDirectory,
}

fn open_writer(
    (index, directory): (Index, DeferredDeleteDirectory),
    threads: usize,
    memory: usize,
    context: &DutyContext,
) -> Result<Option<Writer>> {
    // An index of another schema (another version of Baton) is rebuilt, not written.
    let fields = Fields::of(&index).map_err(|error| Error::Conflict(error.to_string()))?;
    // A deposed master on this host may still hold the writer lock for a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    let writer = loop {
        match index.writer_with_num_threads(threads, memory) {
            Ok(writer) => break writer,
            Err(tantivy::TantivyError::LockFailure(..)) if Instant::now() < deadline && !context.must_stop() => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => return Err(Error::internal("opening the search index writer", error)),
        }
    };
    if context.must_stop() {
        return Ok(None);
    }
    directory.schedule_orphans(&index).map_err(|error| Error::internal("listing the search index files", error))?;
    Ok(Some(Writer { writer, fields, directory }))
}

/// The current generation, if there is one this version can write; otherwise why not.
fn open_current(location: &IndexLocation, context: &DutyContext) -> Result<std::result::Result<Writer, String>> {
    let Some(generation) = location.current_generation()? else {
        return Ok(Err("first index".into()));
    };
    let opened = location.open_for_writing(&generation).and_then(|index| open_writer(index, 1, WRITER_MEMORY, context));
    match opened {
        Ok(Some(writer)) => Ok(Ok(writer)),
        Ok(None) => Err(Error::Unavailable("stopped while opening the search index".into())),
        Err(error) => {
            tracing::warn!(%error, %generation, "the search index must be rebuilt");
            Ok(Err(format!("index {generation}: {}", error.message())))
        }
    }
}

fn commit(writer: &mut IndexWriter, connection: &mut DbConnection, context: &DutyContext, applied: &str) -> Result<()> {
    // The lease decides who writes (checked right before); tantivy's file lock is the
    // second guard against a deposed master on this host.
    if !context.still_master(connection)? {
        writer.rollback().map_err(|error| Error::internal("rolling back the search index", error))?;
        return Err(Error::Conflict(format!("no longer master with epoch {}: nothing committed", context.epoch)));
    }
    let payload = serde_json::json!({
        "epoch": context.epoch,
        "node": context.node,
        "applied": applied,
        "committed_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
    .to_string();
    let mut prepared = writer.prepare_commit().map_err(|error| Error::internal("preparing a search commit", error))?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(|error| Error::internal("committing the search index", error))?;
    Ok(())
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

/// Deletes exactly these queue rows, only while still master with this epoch.
fn delete_queue_rows(connection: &mut DbConnection, context: &DutyContext, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(BATCH as usize) {
        context.fenced(connection, |connection| {
            diesel::delete(index_queue::table.filter(index_queue::id.eq_any(chunk))).execute(connection)?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Applies one batch of the queue; returns the items it re-indexed (none: the queue is empty).
fn apply_batch(
    writer: &mut Writer,
    files: &FileStore,
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
    let item_ids: Vec<i64> = rows.iter().map(|(_, item_id)| *item_id).collect::<BTreeSet<_>>().into_iter().collect();
    upsert(writer, files, connection, &item_ids)?;
    commit(&mut writer.writer, connection, context, &format!("{} queue rows, {} items", rows.len(), item_ids.len()))?;
    let queue_ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    delete_queue_rows(connection, context, &queue_ids)?;
    Ok(item_ids)
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

fn run_blocking(
    location: &IndexLocation,
    files: &FileStore,
    merges: &MergeRequests,
    context: &DutyContext,
) -> Result<()> {
    let mut connection = context.database.get()?;
    let mut current = match open_current(location, context)? {
        Ok(writer) => Some(writer),
        Err(reason) => {
            rebuild::request(&mut connection, &reason)?;
            None
        }
    };
    let mut last_request_check: Option<Instant> = None;
    let mut last_housekeeping: Option<Instant> = None;
    while !context.must_stop() {
        if last_request_check.is_none_or(|at| at.elapsed() >= REQUEST_CHECK_EVERY) {
            last_request_check = Some(Instant::now());
            if let Some(request) = rebuild::next_unfinished(&mut connection)? {
                let Some(built) = build(location, files, context, &mut connection, current.as_mut(), &request)? else {
                    break;
                };
                current = Some(built);
                continue;
            }
        }
        let Some(writer) = current.as_mut() else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
            last_housekeeping = Some(Instant::now());
            writer.directory.remove_expired(REMOVAL_GRACE);
            for generation in location.remove_retired(REMOVAL_GRACE, None)? {
                tracing::info!(%generation, "removed a retired search index generation");
            }
        }
        if let Some(reply) = merges.next() {
            start_merge(writer, reply);
        }
        if apply_batch(writer, files, &mut connection, context)?.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Dropping the writers releases tantivy's locks for the next master.
    Ok(())
}

/// Builds a new generation for `request` and makes it current; `None` when told to stop.
/// Errors are recorded on the request, which is tried again.
fn build(
    location: &IndexLocation,
    files: &FileStore,
    context: &DutyContext,
    connection: &mut DbConnection,
    old: Option<&mut Writer>,
    request: &Rebuild,
) -> Result<Option<Writer>> {
    let outcome = build_generation(location, files, context, connection, old, request);
    if let Err(error) = &outcome
        && !matches!(error, Error::Conflict(_) | Error::Unavailable(_))
    {
        rebuild::failed(connection, context, request.id, &error.to_string())?;
    }
    outcome
}

fn build_generation(
    location: &IndexLocation,
    files: &FileStore,
    context: &DutyContext,
    connection: &mut DbConnection,
    mut old: Option<&mut Writer>,
    request: &Rebuild,
) -> Result<Option<Writer>> {
    let started = Instant::now();
    let generation = format!("g{}-e{}-{}", request.id, context.epoch, chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let Some(mut new) = open_writer(location.create_generation(&generation)?, BUILD_THREADS, BUILD_MEMORY, context)?
    else {
        return Ok(None);
    };
    // Changes queued before the build reads the items are covered by it.
    let covered: Vec<i64> = index_queue::table.select(index_queue::id).order(index_queue::id.asc()).load(connection)?;
    let total: i64 = items::table.count().get_result(connection)?;
    rebuild::started(connection, context, request.id, &generation, total)?;
    tracing::info!(%generation, items = total, reason = %request.reason, "building a search index generation");
    let mut touched: BTreeSet<i64> = BTreeSet::new();
    let mut done = 0i64;
    let mut after = 0i64;
    let mut last_step = Instant::now();
    loop {
        let ids: Vec<i64> = items::table
            .filter(items::id.gt(after))
            .order(items::id.asc())
            .limit(BATCH)
            .select(items::id)
            .load(connection)?;
        let Some(last) = ids.last().copied() else { break };
        for item in document::load(connection, files, &ids)? {
            new.writer
                .add_document(item.to_tantivy(&new.fields))
                .map_err(|error| Error::internal("indexing", error))?;
        }
        done += i64::try_from(ids.len()).unwrap_or(0);
        after = last;
        if context.must_stop() {
            return Ok(None);
        }
        if last_step.elapsed() >= BUILD_STEP {
            last_step = Instant::now();
            rebuild::progress(connection, context, request.id, done)?;
            // Search keeps answering, and fresh, from the old generation.
            if let Some(old) = old.as_deref_mut() {
                touched.extend(apply_batch(old, files, connection, context)?);
            }
        }
    }
    // What the old generation was given meanwhile may have been read before it changed.
    let touched: Vec<i64> = touched.into_iter().collect();
    for chunk in touched.chunks(BATCH as usize) {
        upsert(&new, files, connection, chunk)?;
    }
    commit(&mut new.writer, connection, context, &format!("full build of {done} items"))?;
    delete_queue_rows(connection, context, &covered)?;
    location.switch_to(&generation)?;
    rebuild::finished(connection, context, request.id, done, started.elapsed())?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        %generation,
        items = done,
        seconds = format!("{seconds:.1}"),
        items_per_second = format!("{:.0}", done as f64 / seconds.max(0.001)),
        "search index generation built and switched to"
    );
    Ok(Some(new))
}
