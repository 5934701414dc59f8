//! Baton: an issue tracker whose identical nodes coordinate only through their shared
//! database.
//!
//! Where things are, and the one dependency rule: modules lower in this list never use
//! modules higher in it.
//! - `web` (HTTP pages and the JSON API) and `cli` (commands) are the edges;
//! - `app` assembles a running node from settings;
//! - `status`: what operators see of the cluster, search and mail, loaded together;
//! - `demo` fills a database with realistic sample data;
//! - `jobs`: the scheduled jobs and their scheduler duty, each occurrence claimed once;
//! - `search` (the index, its indexer duty, queries) and `mail` (inbound mail stored as items and
//!   comments, notifications sent) build on `model` and `cluster`;
//! - `cluster`: node registry, master lease, master duties — knows nothing of items;
//! - `model`: users, projects, items, comments, attachments, workflow, permissions —
//!   knows nothing of HTTP;
//! - `db`: pool, backends, migrations, schema;
//! - `config`, `error`, `timestamp`, `telemetry`: settings, the one error type, the timestamp
//!   format, logging and metrics.

// A panic in a node drops the request or the duty it was serving: production code returns
// errors instead. Tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod jobs;
pub mod mail;
pub mod memory;
pub mod model;
pub mod search;
pub mod status;
pub mod telemetry;
pub mod timestamp;
pub mod web;
