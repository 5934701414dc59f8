//! JSON API handlers under `/api/v1`, one module per resource.

pub mod attachments;
pub mod cluster;
pub mod comments;
pub mod components;
pub mod fields;
pub mod items;
pub mod jobs;
pub mod labels;
pub mod links;
pub mod mail;
pub mod markdown;
pub mod projects;
pub mod search;
pub mod session;
pub mod system;
pub mod users;
pub mod versions;
pub mod workflow;

use serde::{Deserialize, Deserializer};

use crate::db::DbConnection;
use crate::error::Result;
use crate::model::ids::ItemId;
use crate::model::item::key::ItemReference;
use crate::model::user::User;
use crate::web::AppState;
use crate::web::auth::Credentials;

/// A read about the item a path names, by id or key, as the caller the credentials name:
/// who it is read first (401 or 403 as `Credentials::caller` says), the reference resolved
/// (`ItemReference::resolve`: an unknown or unreadable key is 404 under its own name), then
/// `read` — in one database task on one reading connection.
pub async fn read_item<T: Send + 'static>(
    state: &AppState,
    credentials: Credentials,
    reference: ItemReference,
    mut read: impl FnMut(&mut DbConnection, &User, ItemId) -> Result<T> + Send + 'static,
) -> Result<T> {
    state
        .database
        .run(move |connection| {
            let user = credentials.caller(connection)?.user;
            let id = reference.resolve(connection, &user)?;
            read(connection, &user, id)
        })
        .await
}

/// A change of the item a path names, as `read_item` reads, in one write.
pub async fn write_item<T: Send + 'static>(
    state: &AppState,
    user: User,
    reference: ItemReference,
    write: impl FnOnce(&mut DbConnection, &User, ItemId) -> Result<T> + Send + 'static,
) -> Result<T> {
    state
        .database
        .write(move |connection| {
            let id = reference.resolve(connection, &user)?;
            write(connection, &user, id)
        })
        .await
}

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
