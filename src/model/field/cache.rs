//! The field definitions, parsed once per version: every change to them gives the row of
//! `field_catalog_version` a new random version (database triggers, so no write path can
//! forget it), and a use reads that one row instead of the four tables of definitions.
//!
//! Kept per database (its random `database_key`), since one process may open several (tests).
//! A version read inside a transaction that changed the definitions is that transaction's
//! own; if it rolls back, that random version never comes back, so its entry is never used.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use diesel::prelude::*;

use super::Catalog;
use crate::db::DbConnection;
use crate::db::schema::field_catalog_version;
use crate::error::Result;

/// A version and the definitions read at it (or later, which only a use that read the
/// version before a concurrent change can get).
type Parsed = (i64, Arc<Catalog>);

/// Per database key.
static PARSED: LazyLock<Mutex<HashMap<String, Parsed>>> = LazyLock::new(Default::default);

pub(super) fn current(connection: &mut DbConnection) -> Result<Arc<Catalog>> {
    let (database, version): (String, i64) = field_catalog_version::table
        .select((field_catalog_version::database_key, field_catalog_version::version))
        .first(connection)?;
    let known = PARSED.lock().unwrap_or_else(PoisonError::into_inner).get(&database).cloned();
    if let Some((known_version, catalog)) = known
        && known_version == version
    {
        return Ok(catalog);
    }
    let catalog = Arc::new(Catalog::read(connection)?);
    PARSED.lock().unwrap_or_else(PoisonError::into_inner).insert(database, (version, catalog.clone()));
    Ok(catalog)
}
