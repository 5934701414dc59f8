//! Full builds: a new generation from the database, while search answers — and stays fresh
//! — from the current one, which the indexer keeps updating in between. Before the approval,
//! the new generation re-indexes every item the old one was given meanwhile; the queue rows
//! present when the build started are covered by it and deleted with its approval. Rows that
//! came later and were not applied stay queued for the new generation.

use std::collections::BTreeSet;
use std::time::Instant;

use diesel::prelude::*;
use tantivy::{Index, IndexSettings};

use super::{BATCH, BUILD_MEMORY, BUILD_STEP, IndexerDuty, WRITER_MEMORY, Writer, open_writer, upsert};
use crate::cluster::duty::DutyContext;
use crate::db::DbConnection;
use crate::db::schema::{index_queue, items};
use crate::error::{Error, Result};
use crate::search::collect::Collector;
use crate::search::directory::WriterDirectory;
use crate::search::document;
use crate::search::fields::Fields;
use crate::search::rebuild::{self, Rebuild};

impl IndexerDuty {
    /// Builds a new generation for `request` and approves it; `None` when told to stop.
    /// Errors are recorded on the request, which is tried again.
    pub(super) fn build(
        &self,
        context: &DutyContext,
        connection: &mut DbConnection,
        old: Option<&mut Writer>,
        collector: &Collector,
        request: &Rebuild,
    ) -> Result<Option<Writer>> {
        let outcome = self.build_generation(context, connection, old, collector, request);
        if let Err(error) = &outcome
            && !matches!(error, Error::Conflict(_) | Error::Unavailable(_))
        {
            rebuild::failed(connection, context, request.id, &error.to_string())?;
        }
        outcome
    }

    fn build_generation(
        &self,
        context: &DutyContext,
        connection: &mut DbConnection,
        mut old: Option<&mut Writer>,
        collector: &Collector,
        request: &Rebuild,
    ) -> Result<Option<Writer>> {
        let started = Instant::now();
        let generation = self.location.create(context.epoch)?;
        let path = self.location.path(&generation);
        let directory = WriterDirectory::open(&path)
            .map_err(|error| Error::internal(format!("opening {}", path.display()), error))?;
        let index = Index::create(directory.clone(), Fields::schema(), IndexSettings::default())
            .map_err(|error| Error::internal(format!("creating the search index in {}", path.display()), error))?;
        let mut new = open_writer(index, directory, &generation, BUILD_MEMORY)?
            .map_err(|reason| Error::internal("building the search index", reason))?;
        // Changes queued before the build reads the items are covered by it.
        let covered: Vec<i64> =
            index_queue::table.select(index_queue::id).order(index_queue::id.asc()).load(connection)?;
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
            for item in document::load(connection, &self.files, &ids)? {
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
                // The collector waits for the build; a node falling silent meanwhile is noted.
                collector.pin_stale_readers(connection, context)?;
                // Search keeps answering, and fresh, from the old generation.
                if let Some(old) = old.as_deref_mut() {
                    touched.extend(self.apply_batch(old, connection, context)?);
                }
            }
        }
        // What the old generation was given meanwhile may have been read before it changed.
        let touched: Vec<i64> = touched.into_iter().collect();
        for chunk in touched.chunks(BATCH as usize) {
            upsert(&new, &self.files, connection, chunk)?;
        }
        self.commit(&mut new, connection, context, &format!("full build of {done} items"), &covered)?;
        // An earlier version's pointer file is not needed once this version's index is read.
        self.location.remove_legacy_pointer()?;
        rebuild::finished(connection, context, request.id, done, started.elapsed())?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            %generation,
            items = done,
            seconds = format!("{seconds:.1}"),
            items_per_second = format!("{:.0}", done as f64 / seconds.max(0.001)),
            "search index generation built and approved"
        );
        // The build's writer gives way to one with the follower's budget: its thread ends, so
        // the memory it built with can go back to the system (`memory::release_freed`).
        let Writer { writer, directory, generation, approved_meta, .. } = new;
        let index = writer.index().clone();
        drop(writer);
        let mut follower = open_writer(index, directory, &generation, WRITER_MEMORY)?
            .map_err(|reason| Error::internal("reopening the search index writer", reason))?;
        follower.approved_meta = approved_meta;
        Ok(Some(follower))
    }
}
