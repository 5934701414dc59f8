//! Requests to rebuild the search index, and their progress (table `search_rebuilds`). An
//! administrator asks (API or `baton reindex`), and the indexer asks by itself when there is
//! no index yet or the index was built by another version of Baton. The master's indexer
//! takes the oldest unfinished request; one whose master died is taken up by the next.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::cluster::duty::DutyContext;
use crate::db::DbConnection;
use crate::db::schema::search_rebuilds;
use crate::error::{Error, Result};
use crate::timestamp::{serialize_optional_utc, serialize_utc};

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = search_rebuilds)]
pub struct Rebuild {
    pub id: i64,
    /// Who or what asked for it.
    pub reason: String,
    #[serde(serialize_with = "serialize_utc")]
    pub requested_at: NaiveDateTime,
    /// When the current (last) attempt started.
    #[serde(serialize_with = "serialize_optional_utc")]
    pub started_at: Option<NaiveDateTime>,
    /// The master building it, and its epoch.
    pub node: Option<String>,
    pub epoch: Option<i64>,
    /// The index generation being built.
    pub generation: Option<String>,
    pub items_total: i64,
    pub items_done: i64,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub finished_at: Option<NaiveDateTime>,
    /// How long the successful attempt took.
    pub duration_ms: Option<i64>,
    /// Why the last attempt failed; the indexer tries again.
    pub error: Option<String>,
}

impl Rebuild {
    pub fn state(&self) -> &'static str {
        match (self.finished_at, self.started_at) {
            (Some(_), _) => "finished",
            (None, Some(_)) => "running",
            (None, None) => "waiting",
        }
    }
}

/// Asks for a rebuild; when one is already waiting or running, that one is returned
/// (`false`: nothing new was recorded).
pub fn request(connection: &mut DbConnection, reason: &str) -> Result<(Rebuild, bool)> {
    crate::db::write_transaction(connection, |connection| {
        if let Some(unfinished) = next_unfinished(connection)? {
            return Ok((unfinished, false));
        }
        let id: i64 = diesel::insert_into(search_rebuilds::table)
            .values(search_rebuilds::reason.eq(reason))
            .returning(search_rebuilds::id)
            .get_result(connection)?;
        Ok((get(connection, id)?, true))
    })
}

pub fn get(connection: &mut DbConnection, id: i64) -> Result<Rebuild> {
    search_rebuilds::table
        .find(id)
        .select(Rebuild::as_select())
        .first(connection)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("search rebuild {id}")))
}

/// The oldest request not finished yet.
pub fn next_unfinished(connection: &mut DbConnection) -> Result<Option<Rebuild>> {
    Ok(search_rebuilds::table
        .filter(search_rebuilds::finished_at.is_null())
        .order(search_rebuilds::id.asc())
        .select(Rebuild::as_select())
        .first(connection)
        .optional()?)
}

/// The latest requests, newest first.
pub fn recent(connection: &mut DbConnection, limit: i64) -> Result<Vec<Rebuild>> {
    Ok(search_rebuilds::table
        .order(search_rebuilds::id.desc())
        .limit(limit)
        .select(Rebuild::as_select())
        .load(connection)?)
}

/// The master starts (or restarts) building `generation`.
pub fn started(
    connection: &mut DbConnection,
    context: &DutyContext,
    id: i64,
    generation: &str,
    items_total: i64,
) -> Result<()> {
    context.fenced(connection, |connection| {
        diesel::update(search_rebuilds::table.find(id))
            .set((
                search_rebuilds::started_at.eq(diesel::dsl::now),
                search_rebuilds::node.eq(&context.node),
                search_rebuilds::epoch.eq(context.epoch),
                search_rebuilds::generation.eq(generation),
                search_rebuilds::items_total.eq(items_total),
                search_rebuilds::items_done.eq(0),
            ))
            .execute(connection)?;
        Ok(())
    })
}

pub fn progress(connection: &mut DbConnection, context: &DutyContext, id: i64, items_done: i64) -> Result<()> {
    context.fenced(connection, |connection| {
        diesel::update(search_rebuilds::table.find(id))
            .set(search_rebuilds::items_done.eq(items_done))
            .execute(connection)?;
        Ok(())
    })
}

pub fn failed(connection: &mut DbConnection, context: &DutyContext, id: i64, error: &str) -> Result<()> {
    context.fenced(connection, |connection| {
        diesel::update(search_rebuilds::table.find(id)).set(search_rebuilds::error.eq(error)).execute(connection)?;
        Ok(())
    })
}

pub fn finished(
    connection: &mut DbConnection,
    context: &DutyContext,
    id: i64,
    items_done: i64,
    duration: std::time::Duration,
) -> Result<()> {
    context.fenced(connection, |connection| {
        diesel::update(search_rebuilds::table.find(id))
            .set((
                search_rebuilds::items_done.eq(items_done),
                search_rebuilds::duration_ms.eq(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)),
                search_rebuilds::finished_at.eq(diesel::dsl::now),
                search_rebuilds::error.eq(None::<String>),
            ))
            .execute(connection)?;
        Ok(())
    })
}
