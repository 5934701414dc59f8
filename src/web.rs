//! The HTTP edge: the JSON API under `/api/v1` and the HTML pages for browsers. Handlers
//! are thin: extract, call one `model` function, render. `routes` holds the whole URL map.

pub mod api;
pub mod auth;
pub mod client;
pub mod error;
pub mod metrics;
pub mod observe;
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

impl AppState {
    /// The client's address: the peer, or what a trusted proxy says (see `client`).
    pub fn client_address(&self, request: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        // Validated at start, so the ranges parse.
        client::client_address(request, &self.settings.trusted_proxy_networks().unwrap_or_default())
    }
}
