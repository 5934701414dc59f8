//! The indexer, a master duty: drains `index_queue` in batches into the current index
//! generation (building the first generation from the database when there is none), commits
//! with a payload naming the epoch and the rows applied, and only then deletes exactly those
//! rows. A crash between commit and delete re-applies idempotent upserts; a deposed master's
//! commit is refused before it happens and its deletes are fenced by the epoch.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::cluster::duty::{DutyContext, MasterDuty};
use crate::cluster::sql::Dialect;
use crate::db::DbConnection;
use crate::db::schema::{index_queue, items};
use crate::error::{Error, Result};
use crate::model::attachment::FileStore;
use crate::search::IndexLocation;
use crate::search::document;
use crate::search::fields::Fields;

/// Queue rows applied per commit.
const BATCH: i64 = 1000;
/// Memory for the index writer (one thread).
const WRITER_MEMORY: usize = 30_000_000;

pub struct IndexerDuty {
    pub location: IndexLocation,
    /// Where attachment contents are, for indexing the text of text-like ones.
    pub files: FileStore,
}

impl MasterDuty for IndexerDuty {
    fn name(&self) -> &'static str {
        "indexer"
    }

    fn run(&self, context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let location = self.location.clone();
        let files = self.files.clone();
        Box::pin(async move {
            let outcome = tokio::task::spawn_blocking(move || run_blocking(&location, &files, &context)).await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(%error, "search indexer stopped"),
                Err(error) => tracing::error!(%error, "search indexer task failed"),
            }
        })
    }
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = BigInt)]
    held: i64,
}

/// Whether this node still holds the lease with the duty's epoch.
fn still_master(connection: &mut DbConnection, context: &DutyContext) -> Result<bool> {
    let dialect = Dialect::of(connection);
    let held: Held = dialect
        .query("SELECT COUNT(*) AS held FROM cluster_lease WHERE id = 1 AND holder = ? AND holder_instance = ? AND epoch = ?")
        .bind::<Text, _>(&context.node)
        .bind::<Text, _>(&context.instance)
        .bind::<BigInt, _>(context.epoch)
        .get_result(connection)?;
    Ok(held.held == 1)
}

fn open_writer(
    location: &IndexLocation,
    files: &FileStore,
    context: &DutyContext,
) -> Result<Option<(IndexWriter, Fields, bool)>> {
    let (index, created) = match location.current_generation()? {
        Some(generation) => (location.open(&generation)?, None),
        None => {
            let generation = format!("g{}-{}", context.epoch, chrono::Utc::now().format("%Y%m%d%H%M%S"));
            (location.create_generation(&generation)?, Some(generation))
        }
    };
    let fields = Fields::of(&index).map_err(|error| Error::internal("search index schema", error))?;
    // A deposed master on this host may still hold the writer lock for a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    let writer = loop {
        match index.writer_with_num_threads(1, WRITER_MEMORY) {
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
    if let Some(generation) = created {
        let mut writer = writer;
        build_all(&mut writer, &fields, files, context)?;
        location.switch_to(&generation)?;
        tracing::info!(%generation, "built the first search index");
        return Ok(Some((writer, fields, true)));
    }
    Ok(Some((writer, fields, false)))
}

/// Indexes every item (the first generation).
fn build_all(writer: &mut IndexWriter, fields: &Fields, files: &FileStore, context: &DutyContext) -> Result<()> {
    let mut connection = context.database.get()?;
    let mut after = 0i64;
    loop {
        let ids: Vec<i64> = items::table
            .filter(items::id.gt(after))
            .order(items::id.asc())
            .limit(BATCH)
            .select(items::id)
            .load(&mut *connection)?;
        let Some(last) = ids.last().copied() else { break };
        for item in document::load(&mut connection, files, &ids)? {
            writer.add_document(item.to_tantivy(fields)).map_err(|error| Error::internal("indexing", error))?;
        }
        after = last;
        if context.must_stop() {
            return Err(Error::Unavailable("stopped while building the search index".into()));
        }
    }
    commit(writer, &mut connection, context, "full build")
}

fn commit(writer: &mut IndexWriter, connection: &mut DbConnection, context: &DutyContext, applied: &str) -> Result<()> {
    if !still_master(connection, context)? {
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

/// Applies one batch of the queue; returns how many queue rows it applied.
pub fn apply_batch(
    writer: &mut IndexWriter,
    fields: &Fields,
    files: &FileStore,
    connection: &mut DbConnection,
    context: &DutyContext,
) -> Result<usize> {
    let rows: Vec<(i64, i64)> = index_queue::table
        .order(index_queue::id.asc())
        .limit(BATCH)
        .select((index_queue::id, index_queue::item_id))
        .load(connection)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut item_ids: Vec<i64> = rows.iter().map(|(_, item_id)| *item_id).collect();
    item_ids.sort_unstable();
    item_ids.dedup();
    for item_id in &item_ids {
        writer.delete_term(Term::from_field_u64(fields.item_id, u64::try_from(*item_id).unwrap_or(0)));
    }
    for item in document::load(connection, files, &item_ids)? {
        let document: TantivyDocument = item.to_tantivy(fields);
        writer.add_document(document).map_err(|error| Error::internal("indexing", error))?;
    }
    let queue_ids: Vec<String> = rows.iter().map(|(id, _)| id.to_string()).collect();
    commit(writer, connection, context, &format!("{} queue rows, {} items", rows.len(), item_ids.len()))?;
    // Exactly the applied rows, and only while still master with this epoch.
    let dialect = Dialect::of(connection);
    dialect
        .query(&format!(
            "DELETE FROM index_queue WHERE id IN ({}) AND EXISTS (SELECT 1 FROM cluster_lease \
             WHERE id = 1 AND holder = ? AND holder_instance = ? AND epoch = ?{})",
            queue_ids.join(", "),
            dialect.lock_for_share()
        ))
        .bind::<Text, _>(&context.node)
        .bind::<Text, _>(&context.instance)
        .bind::<BigInt, _>(context.epoch)
        .execute(connection)?;
    Ok(rows.len())
}

fn run_blocking(location: &IndexLocation, files: &FileStore, context: &DutyContext) -> Result<()> {
    let Some((mut writer, fields, _)) = open_writer(location, files, context)? else { return Ok(()) };
    let mut connection = context.database.get()?;
    while !context.must_stop() {
        let applied = apply_batch(&mut writer, &fields, files, &mut connection, context)?;
        if applied == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Dropping the writer releases tantivy's lock for the next master.
    drop(writer);
    Ok(())
}
