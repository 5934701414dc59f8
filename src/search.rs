//! Full-text search. The master's indexer duty keeps a Tantivy index on the shared path up
//! to date from `index_queue`; every node reads it and re-checks results against the database.
//!
//! What readers see is decided by a database write, not by files. Each master writes into a
//! directory of its own (`data_dir/index/e<epoch>-<n>/`, a *generation* started from the last
//! approved commit by hard links), and a commit becomes visible only once the master records
//! it in `index_commits` with a write fenced by its epoch. Every node follows the newest row
//! and reads that commit's segment files with the commit's `meta.json` taken from the row, so
//! a deposed master's late files and `meta.json` are never read. Each node records which
//! commits its reader has open; the master deletes a file as soon as no commit in use names
//! it.
//!
//! - `commits`: the approved commits and the readers' records (database);
//! - `generation`: the directories on the shared path;
//! - `directory`: tantivy's view of a directory, for the writer and for readers;
//! - `indexer`: the master duty; `collect`: deletion by use; `rebuild`: full rebuilds;
//! - `reader`: a node's reader; `query`: searching, `coverage`: which stems of a word to search;
//!   `fields`, `document`: what is indexed;
//! - `status`: figures for operators.

pub mod collect;
pub mod commits;
pub mod coverage;
pub mod directory;
pub mod document;
pub mod fields;
pub mod generation;
pub mod indexer;
pub mod query;
pub mod reader;
pub mod rebuild;
pub mod snippet;
pub mod status;
