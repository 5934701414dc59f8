//! The HTTP edge: the JSON API under `/api/v1` and the HTML pages for browsers. Handlers
//! are thin: extract, call one `model` function, render. `routes` holds the whole URL map.

pub mod api;
pub mod auth;
pub mod client;
pub mod error;
pub mod input;
pub mod metrics;
pub mod observe;
pub mod pages;
pub mod routes;

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::config::Settings;
use crate::db::Database;
use crate::model::attachment::FileStore;
use crate::search::reader::SearchIndex;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub database: Database,
    pub settings: Arc<Settings>,
    pub files: FileStore,
    pub node_name: String,
    pub cluster: Cluster,
    pub search: Arc<SearchIndex>,
    pub access: Arc<NetworkAccess>,
}

/// Address ranges and the metrics token, read once at start (a token file is not read again
/// on every scrape, nor the ranges parsed on every request).
pub struct NetworkAccess {
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub metrics_allow: Vec<ipnet::IpNet>,
    pub metrics_token: Option<String>,
}

impl NetworkAccess {
    pub fn from_settings(settings: &Settings) -> Result<NetworkAccess, crate::config::SettingsError> {
        Ok(NetworkAccess {
            trusted_proxies: settings.trusted_proxy_networks()?,
            metrics_allow: settings.metrics.allowed_networks()?,
            metrics_token: settings.metrics.token()?,
        })
    }
}

impl AppState {
    /// The client's address: the peer, or what a trusted proxy says (see `client`).
    pub fn client_address(&self, request: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        client::client_address(request, &self.access.trusted_proxies)
    }
}

/// A CSV export as a download (`baton-items.csv`), never shown inline.
pub fn csv_download(csv: Vec<u8>) -> actix_web::HttpResponse {
    use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
    actix_web::HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename("baton-items.csv".into())],
        })
        .insert_header(("Cache-Control", "private, no-store"))
        .body(csv)
}
