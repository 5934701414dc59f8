//! The HTTP edge: the JSON API under `/api/v1` and the HTML pages for browsers. Handlers
//! are thin: extract, call one `model` function, render. `routes` holds the whole URL map.

pub mod api;
pub mod auth;
pub mod error;
pub mod pages;
pub mod routes;

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::config::Settings;
use crate::db::Database;
use crate::model::attachment::FileStore;
use crate::search::SearchIndex;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub database: Database,
    pub settings: Arc<Settings>,
    pub files: FileStore,
    pub node_name: String,
    pub cluster: Cluster,
    pub search: Arc<SearchIndex>,
}
