//! One integration-test binary. Every test runs the real server on a free port with its
//! own database and data directory; `on_both_backends!` runs a test on SQLite and on
//! PostgreSQL.

mod support;

mod agent;
mod attachments;
mod bad_input;
mod cli;
mod cluster;
mod comment_edits;
mod deployment;
mod export;
mod fields;
mod fuzz;
mod inline_images;
mod item_copies;
mod item_deletion;
mod item_keys;
mod item_moves;
mod item_types;
mod items;
mod jobs;
mod labels;
mod lease;
mod links;
mod mail;
mod metrics;
mod migrations;
mod notification_choices;
mod openapi;
mod previews;
mod privacy;
mod private_notes;
mod projects;
mod references;
mod search;
mod sessions;
mod shared_storage;
mod sub_items;
mod ui;
mod users;
mod versions;
mod workflow;
