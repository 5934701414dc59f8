//! Definitions parsed once per version: the custom fields (`Catalog`) and the workflow (types,
//! statuses, priorities, transitions). Every change to them gives the one row of
//! `field_catalog_version` a new random version (database triggers, so no write path can
//! forget it), and a use reads that one row instead of the tables of definitions.
//!
//! Kept per database (its random `database_key`), since one process may open several (tests).
//! A version read inside a transaction that changed the definitions is that transaction's
//! own; if it rolls back, that random version never comes back, so its entry is never used.

use std::sync::{Arc, Mutex, PoisonError};

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::field_catalog_version;
use crate::error::Result;

/// Per database key, a version and the definitions read at it (or later, which only a use
/// that read the version before a concurrent change can get).
pub struct Versioned<T>(Mutex<Vec<(String, i64, Arc<T>)>>);

impl<T> Versioned<T> {
    pub const fn empty() -> Self {
        Versioned(Mutex::new(Vec::new()))
    }

    /// The definitions as the database holds them now, read with `read` when they changed
    /// since this process last read them.
    pub fn current(
        &self,
        connection: &mut DbConnection,
        read: impl FnOnce(&mut DbConnection) -> Result<T>,
    ) -> Result<Arc<T>> {
        let version = Version::read(connection)?;
        self.at(connection, &version, read)
    }

    /// The definitions at `version` (read just before by the caller, who needs several kinds
    /// of definitions at one version), read with `read` when this process has not yet.
    pub fn at(
        &self,
        connection: &mut DbConnection,
        version: &Version,
        read: impl FnOnce(&mut DbConnection) -> Result<T>,
    ) -> Result<Arc<T>> {
        let known = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(key, known, _)| *key == version.database && *known == version.version)
            .map(|(.., parsed)| parsed.clone());
        if let Some(parsed) = known {
            return Ok(parsed);
        }
        let parsed = Arc::new(read(connection)?);
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|(key, ..)| *key != version.database);
        entries.push((version.database.clone(), version.version, parsed.clone()));
        Ok(parsed)
    }
}

/// The version of the definitions in one database: read once by a use that needs several
/// kinds of definitions (a list: the fields and the workflow), so that it sees them at one
/// version with one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    database: String,
    version: i64,
}

impl Version {
    /// The one row of `field_catalog_version`.
    pub fn read(connection: &mut DbConnection) -> Result<Version> {
        let (database, version): (String, i64) = field_catalog_version::table
            .select((field_catalog_version::database_key, field_catalog_version::version))
            .first(connection)?;
        Ok(Version { database, version })
    }

    /// The row as `CurrentVersion` read it in another statement (`None` only if the row were
    /// missing, which the migrations rule out).
    pub fn of_row(read: Option<String>) -> Result<Version> {
        read.as_deref()
            .and_then(|read| read.rsplit_once(' '))
            .and_then(|(database, version)| {
                Some(Version { database: database.to_string(), version: version.parse().ok()? })
            })
            .ok_or_else(|| {
                crate::error::Error::internal(
                    "reading the definitions' version",
                    format!("unexpected version {read:?}"),
                )
            })
    }
}

crate::db::dialect::item_subquery!(
    /// The version of the definitions, read in another statement (`Version::of_row`): an item
    /// row's, or the caller's lookup. Its key and number as one text, one subquery where two
    /// would cost PostgreSQL about a fifth more for a GET of an item.
    CurrentVersion: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    anywhere,
    sql: "(SELECT database_key || ' ' || version FROM field_catalog_version LIMIT 1)"
);
