//! Full-text search. The master's indexer duty keeps a Tantivy index on the shared path up
//! to date from `index_queue`; every node reads it and re-checks results against the database.
//!
//! Layout: `data_dir/index/<generation>/` holds an index, and the file `data_dir/index/current`
//! names the generation in use (replaced by an atomic rename), so that a rebuild can prepare
//! a new generation while search answers from the old one and then switch every node at once.

pub mod directory;
pub mod document;
pub mod fields;
pub mod indexer;
pub mod query;
pub mod rebuild;
pub mod status;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tantivy::{Index, IndexReader, IndexSettings, ReloadPolicy, Searcher};

use crate::error::{Error, Result};
use crate::search::directory::DeferredDeleteDirectory;
use crate::search::fields::Fields;
use crate::search::query::StemCoverage;

/// The file in a generation that says it was replaced (and by which one).
const RETIRED_MARKER: &str = "retired";

/// Where the index generations and the pointer to the current one live.
#[derive(Debug, Clone)]
pub struct IndexLocation {
    root: PathBuf,
}

impl IndexLocation {
    pub fn new(root: PathBuf) -> IndexLocation {
        IndexLocation { root }
    }

    fn pointer(&self) -> PathBuf {
        self.root.join("current")
    }

    /// The generation in use, if an index was ever built.
    pub fn current_generation(&self) -> Result<Option<String>> {
        match std::fs::read_to_string(self.pointer()) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|name| !name.is_empty())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::internal(format!("reading {}", self.pointer().display()), error)),
        }
    }

    pub fn generation_path(&self, generation: &str) -> PathBuf {
        self.root.join(generation)
    }

    /// Creates an empty index in a new generation folder (not yet current), for writing.
    pub fn create_generation(&self, generation: &str) -> Result<(Index, DeferredDeleteDirectory)> {
        let path = self.generation_path(generation);
        if path.exists() {
            // A build of the same name that did not finish.
            std::fs::remove_dir_all(&path)
                .map_err(|error| Error::internal(format!("removing {}", path.display()), error))?;
        }
        std::fs::create_dir_all(&path)
            .map_err(|error| Error::internal(format!("creating {}", path.display()), error))?;
        let directory = DeferredDeleteDirectory::open(&path)
            .map_err(|error| Error::internal(format!("opening {}", path.display()), error))?;
        let index = Index::create(directory.clone(), Fields::schema(), IndexSettings::default())
            .map_err(|error| Error::internal(format!("creating the search index in {}", path.display()), error))?;
        Ok((index, directory))
    }

    /// Opens a generation for writing.
    pub fn open_for_writing(&self, generation: &str) -> Result<(Index, DeferredDeleteDirectory)> {
        let path = self.generation_path(generation);
        let directory = DeferredDeleteDirectory::open(&path)
            .map_err(|error| Error::internal(format!("opening {}", path.display()), error))?;
        let index = Index::open(directory.clone())
            .map_err(|error| Error::internal(format!("opening the search index in {}", path.display()), error))?;
        Ok((index, directory))
    }

    /// Removes generations other than the current one and `building` once `grace` has
    /// passed since they were replaced (readers have long moved on by then) or, for one left
    /// by a build that never finished, since it was last written.
    pub fn remove_retired(&self, grace: Duration, building: Option<&str>) -> Result<Vec<String>> {
        let current = self.current_generation()?;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::internal(format!("listing {}", self.root.display()), error)),
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() || Some(&name) == current.as_ref() || Some(name.as_str()) == building {
                continue;
            }
            let last_written = std::fs::metadata(entry.path().join(RETIRED_MARKER))
                .or_else(|_| std::fs::metadata(entry.path().join("meta.json")))
                .or_else(|_| entry.metadata())
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok());
            if last_written.is_some_and(|age| age >= grace) {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|error| Error::internal(format!("removing {}", entry.path().display()), error))?;
                removed.push(name);
            }
        }
        Ok(removed)
    }

    /// Makes `generation` the one every node reads (atomic rename of the pointer file). The
    /// one it replaces is marked retired, which starts its grace period.
    pub fn switch_to(&self, generation: &str) -> Result<()> {
        if let Some(previous) = self.current_generation()?.filter(|previous| previous != generation) {
            let marker = self.generation_path(&previous).join(RETIRED_MARKER);
            std::fs::write(&marker, generation)
                .map_err(|error| Error::internal(format!("writing {}", marker.display()), error))?;
        }
        let temporary = self.root.join("current.tmp");
        std::fs::write(&temporary, generation)
            .and_then(|()| std::fs::rename(&temporary, self.pointer()))
            .map_err(|error| Error::internal(format!("switching the search index to {generation}"), error))
    }

    pub fn open(&self, generation: &str) -> Result<Index> {
        let path = self.generation_path(generation);
        Index::open_in_dir(&path)
            .map_err(|error| Error::internal(format!("opening the search index in {}", path.display()), error))
    }
}

struct OpenIndex {
    generation: String,
    reader: IndexReader,
    fields: Fields,
}

/// A node's read access to the current index generation, reopened when it changes.
pub struct SearchIndex {
    location: IndexLocation,
    open: Mutex<Option<OpenIndex>>,
    coverage: StemCoverage,
}

impl SearchIndex {
    pub fn new(location: IndexLocation) -> SearchIndex {
        SearchIndex { location, open: Mutex::new(None), coverage: StemCoverage::default() }
    }

    /// A searcher on the current generation; 503 "search is being built" before the first
    /// index exists.
    pub fn searcher(&self) -> Result<(Searcher, Fields)> {
        let Some(generation) = self.location.current_generation()? else {
            return Err(Error::Unavailable("search is being built; try again in a moment".into()));
        };
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.as_ref().is_none_or(|current| current.generation != generation) {
            let index = self.location.open(&generation)?;
            let fields = Fields::of(&index).map_err(|_| {
                Error::Unavailable("search is being rebuilt for this version of Baton; try again in a moment".into())
            })?;
            // Commits by the master's process show up within about half a second.
            let reader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::OnCommitWithDelay)
                .try_into()
                .map_err(|error| Error::internal("opening a search index reader", error))?;
            *open = Some(OpenIndex { generation, reader, fields });
        }
        let current = open.as_ref().ok_or_else(|| Error::internal("search index", "not open"))?;
        Ok((current.reader.searcher(), current.fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_without_an_index_says_search_is_being_built() {
        let folder = tempfile::tempdir().unwrap();
        let search = SearchIndex::new(IndexLocation::new(folder.path().to_path_buf()));
        match search.searcher() {
            Err(Error::Unavailable(message)) => assert!(message.contains("search is being built")),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("an index where none was built"),
        }
    }

    #[test]
    fn switching_generations_is_seen_by_readers() {
        let folder = tempfile::tempdir().unwrap();
        let location = IndexLocation::new(folder.path().to_path_buf());
        location.create_generation("g1").unwrap();
        location.switch_to("g1").unwrap();
        let search = SearchIndex::new(location.clone());
        assert!(search.searcher().is_ok());
        location.create_generation("g2").unwrap();
        location.switch_to("g2").unwrap();
        assert_eq!(location.current_generation().unwrap().as_deref(), Some("g2"));
        assert!(search.searcher().is_ok());
        // The old generation goes only after the grace period, the current one never.
        assert!(location.remove_retired(Duration::from_secs(3600), None).unwrap().is_empty());
        assert_eq!(location.remove_retired(Duration::ZERO, None).unwrap(), vec!["g1".to_string()]);
        assert!(location.generation_path("g2").exists());
    }

    #[test]
    fn an_index_of_another_version_reads_as_being_rebuilt() {
        let folder = tempfile::tempdir().unwrap();
        let location = IndexLocation::new(folder.path().to_path_buf());
        let path = location.generation_path("old");
        std::fs::create_dir_all(&path).unwrap();
        let mut schema = tantivy::schema::Schema::builder();
        schema.add_text_field("title", tantivy::schema::TEXT);
        Index::create_in_dir(&path, schema.build()).unwrap();
        location.switch_to("old").unwrap();
        match SearchIndex::new(location).searcher() {
            Err(Error::Unavailable(message)) => assert!(message.contains("rebuilt"), "{message}"),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("an index of another schema was used"),
        }
    }
}
