//! Full-text search. The master's indexer duty keeps a Tantivy index on the shared path up
//! to date from `index_queue`; every node reads it and re-checks results against the database.
//!
//! Layout: `data_dir/index/<generation>/` holds an index, and the file `data_dir/index/current`
//! names the generation in use (replaced by an atomic rename), so that a rebuild can prepare
//! a new generation while search answers from the old one and then switch every node at once.

pub mod document;
pub mod fields;
pub mod indexer;
pub mod query;
pub mod status;

use std::path::PathBuf;
use std::sync::Mutex;

use tantivy::{Index, IndexReader, ReloadPolicy, Searcher};

use crate::error::{Error, Result};
use crate::search::fields::Fields;

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

    /// Creates an empty index in a new generation folder (not yet current).
    pub fn create_generation(&self, generation: &str) -> Result<Index> {
        let path = self.generation_path(generation);
        std::fs::create_dir_all(&path)
            .map_err(|error| Error::internal(format!("creating {}", path.display()), error))?;
        Index::create_in_dir(&path, Fields::schema())
            .map_err(|error| Error::internal(format!("creating the search index in {}", path.display()), error))
    }

    /// Makes `generation` the one every node reads (atomic rename of the pointer file).
    pub fn switch_to(&self, generation: &str) -> Result<()> {
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
}

impl SearchIndex {
    pub fn new(location: IndexLocation) -> SearchIndex {
        SearchIndex { location, open: Mutex::new(None) }
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
            let fields = Fields::of(&index).map_err(|error| Error::internal("search index schema", error))?;
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
    }
}
