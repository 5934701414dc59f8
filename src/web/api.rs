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

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;
use serde::{Deserialize, Deserializer, Serialize};

use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::model::ids::ItemId;
use crate::model::item::key::ItemReference;
use crate::model::user::User;
use crate::web::AppState;
use crate::web::auth::Credentials;

/// A JSON answer written on the thread that built its value. Views are built in a database
/// task; written and dropped on the HTTP worker, every one of their small strings would be
/// freed by a thread other than the one that allocated it, which the allocator takes on its
/// slow path. Written in the task, they are freed there and the worker gets one buffer.
pub struct JsonBody(Vec<u8>);

impl JsonBody {
    pub fn of(value: &impl Serialize) -> Result<JsonBody> {
        serde_json::to_vec(value).map(JsonBody).map_err(|error| Error::internal("writing a JSON answer", error))
    }

    /// The body as a 200 response.
    pub fn ok(self) -> HttpResponse {
        HttpResponse::Ok().content_type(ContentType::json()).body(self.0)
    }
}

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
