//! The approved index commits (table `index_commits`), and which ones each node's reader has
//! open (`index_readers`).
//!
//! The master approves a commit with a write fenced by its epoch; readers open the newest
//! approved one, with its `meta.json` from the row. Approvals come one at a time from the
//! lease holder, so ids grow with time and the newest is never older than one a reader saw.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::{Deserialize, Serialize};

use crate::cluster::duty::DutyContext;
use crate::db::DbConnection;
use crate::db::dialect::Dialect;
use crate::db::schema::{index_commits, index_queue};
use crate::error::{Error, Result};
use crate::search::directory::segment_file;

/// Queue rows deleted per statement.
const DELETE_CHUNK: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = index_commits)]
pub struct ApprovedCommit {
    pub id: i64,
    /// The directory under `data_dir/index` that holds the commit's files.
    pub generation: String,
    pub epoch: i64,
    pub node: String,
    /// tantivy's `meta.json` of the commit.
    #[serde(skip)]
    pub meta: String,
    pub applied: String,
    #[serde(serialize_with = "crate::timestamp::serialize_utc")]
    pub committed_at: NaiveDateTime,
}

pub fn latest(connection: &mut DbConnection) -> Result<Option<ApprovedCommit>> {
    Ok(index_commits::table
        .order(index_commits::id.desc())
        .select(ApprovedCommit::as_select())
        .first(connection)
        .optional()?)
}

pub fn get(connection: &mut DbConnection, id: i64) -> Result<Option<ApprovedCommit>> {
    Ok(index_commits::table.find(id).select(ApprovedCommit::as_select()).first(connection).optional()?)
}

/// Makes a commit the one readers open, and deletes the queue rows it applied, in one
/// transaction fenced by the epoch: a deposed master approves nothing. Returns its id.
pub fn approve(
    connection: &mut DbConnection,
    context: &DutyContext,
    generation: &str,
    meta: &str,
    applied: &str,
    queue_rows: &[i64],
) -> Result<i64> {
    context.fenced(connection, |connection| {
        #[derive(QueryableByName)]
        struct Inserted {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let dialect = Dialect::of(connection);
        let inserted: Inserted = dialect
            .query(&format!(
                "INSERT INTO index_commits (generation, epoch, node, meta, applied, committed_at) \
                 VALUES (?, ?, ?, ?, ?, {}) RETURNING id",
                dialect.now()
            ))
            .bind::<Text, _>(generation)
            .bind::<BigInt, _>(context.epoch)
            .bind::<Text, _>(&context.node)
            .bind::<Text, _>(meta)
            .bind::<Text, _>(applied)
            .get_result(connection)?;
        for chunk in queue_rows.chunks(DELETE_CHUNK) {
            diesel::delete(index_queue::table.filter(index_queue::id.eq_any(chunk))).execute(connection)?;
        }
        Ok(inserted.id)
    })
}

/// What a reader learns in one cheap round trip: the newest approved commit, and what the
/// database holds as this node's open commits (empty after the node was removed as silent
/// and registered again).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Poll {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub latest: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recorded: Option<String>,
}

pub fn poll(connection: &mut DbConnection, node: &str, instance: &str) -> Result<Poll> {
    Ok(Dialect::of(connection)
        .query(
            "SELECT (SELECT MAX(id) FROM index_commits) AS latest, \
             (SELECT open_commits FROM index_readers WHERE node = ? AND instance = ?) AS recorded",
        )
        .bind::<Text, _>(node)
        .bind::<Text, _>(instance)
        .get_result(connection)?)
}

/// Writes the commits this node's reader has open; false when the node is not registered.
pub fn record_open(connection: &mut DbConnection, node: &str, instance: &str, open: &str) -> Result<bool> {
    let updated = Dialect::of(connection)
        .query(
            "INSERT INTO index_readers (node, instance, open_commits) \
             SELECT name, instance, ? FROM cluster_nodes WHERE name = ? AND instance = ? \
             ON CONFLICT (node) DO UPDATE SET instance = excluded.instance, open_commits = excluded.open_commits",
        )
        .bind::<Text, _>(open)
        .bind::<Text, _>(node)
        .bind::<Text, _>(instance)
        .execute(connection)?;
    Ok(updated == 1)
}

/// `index_readers.open_commits` as written: ids, newest first.
pub fn format_open(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// `index_readers.open_commits` as read; anything unreadable counts as nothing.
pub fn parse_open(text: &str) -> Vec<i64> {
    text.split(',').filter_map(|id| id.trim().parse().ok()).collect()
}

/// The files a commit uses, read from its `meta.json`: every file of its segments, except
/// the delete files of other commits and temporary files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitFiles {
    segments: HashSet<String>,
    deletes: HashSet<(String, u64)>,
}

#[derive(Deserialize)]
struct MetaSegments {
    segments: Vec<MetaSegment>,
}

#[derive(Deserialize)]
struct MetaSegment {
    segment_id: String,
    deletes: Option<MetaDeletes>,
}

#[derive(Deserialize)]
struct MetaDeletes {
    opstamp: u64,
}

impl CommitFiles {
    pub fn of(meta: &str) -> Result<CommitFiles> {
        let parsed: MetaSegments = serde_json::from_str(meta)
            .map_err(|error| Error::internal("reading the segments of an index commit", error))?;
        let mut files = CommitFiles::default();
        for segment in parsed.segments {
            let id: String = segment.segment_id.chars().filter(|character| *character != '-').collect();
            let id = id.to_ascii_lowercase();
            if let Some(deletes) = segment.deletes {
                files.deletes.insert((id.clone(), deletes.opstamp));
            }
            files.segments.insert(id);
        }
        Ok(files)
    }

    /// Whether `file` (a name in the commit's generation) is one of the commit's files.
    pub fn uses(&self, file: &str) -> bool {
        let Some((id, rest)) = segment_file(file) else { return false };
        if let Some(opstamp) = rest.strip_suffix(".del") {
            return opstamp.parse().is_ok_and(|opstamp| self.deletes.contains(&(id.to_string(), opstamp)));
        }
        // Temporary files of a segment in the making are never part of a commit.
        rest != "temp" && !rest.ends_with(".temp") && self.segments.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fields::Fields;
    use tantivy::schema::Term;
    use tantivy::{Index, doc};

    #[test]
    fn a_commit_uses_the_files_of_its_segments_and_only_its_own_delete_files() {
        let folder = tempfile::tempdir().unwrap();
        let index = Index::create_in_dir(folder.path(), Fields::schema()).unwrap();
        let fields = Fields::of(&index).unwrap();
        let mut writer: tantivy::IndexWriter<tantivy::TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        for id in 1..=3u64 {
            writer.add_document(doc!(fields.item_id => id, fields.title => "kept")).unwrap();
        }
        writer.commit().unwrap();
        writer.delete_term(Term::from_field_u64(fields.item_id, 2));
        writer.commit().unwrap();
        let first_deletes: Vec<String> =
            file_names(folder.path()).into_iter().filter(|n| n.ends_with(".del")).collect();
        writer.delete_term(Term::from_field_u64(fields.item_id, 3));
        writer.commit().unwrap();
        let meta = std::fs::read_to_string(folder.path().join("meta.json")).unwrap();
        let files = CommitFiles::of(&meta).unwrap();
        let segment = index.searchable_segment_ids().unwrap()[0].uuid_string();
        let used: Vec<String> = file_names(folder.path()).into_iter().filter(|name| files.uses(name)).collect();
        assert!(used.iter().all(|name| name.starts_with(&segment)), "{used:?}");
        assert!(used.iter().any(|name| name.ends_with(".idx")) && used.iter().any(|name| name.ends_with(".store")));
        let deletes: Vec<&String> = used.iter().filter(|name| name.ends_with(".del")).collect();
        assert_eq!(deletes.len(), 1, "only the commit's own delete file: {used:?}");
        assert!(first_deletes.iter().all(|name| !files.uses(name) || name == deletes[0]), "{first_deletes:?}");
        assert!(!files.uses(&format!("{segment}.store.temp")));
        assert!(!files.uses("meta.json") && !files.uses(".managed.json"));
    }

    fn file_names(root: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(root)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn open_commits_are_written_newest_first_and_read_back() {
        assert_eq!(format_open(&[12, 9]), "12,9");
        assert_eq!(parse_open("12,9"), vec![12, 9]);
        assert_eq!(parse_open(""), Vec::<i64>::new());
        assert_eq!(parse_open("7,x"), vec![7]);
    }
}
