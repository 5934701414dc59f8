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

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
