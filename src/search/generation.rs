//! Generation directories on the shared path: `data_dir/index/e<epoch>-<n>/`, each written by
//! one master (the epoch in the name) and by nobody else. A master starts its own from the
//! last approved commit: segment files never change once written, so the new directory
//! takes them as hard links (a copy where the file system refuses links), which makes the
//! start cheap and leaves the old directory to whoever may still write there.
//!
//! Earlier versions kept one directory at a time, named by the file `data_dir/index/current`;
//! such an index is adopted once (see `indexer`), then the pointer file goes.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use tantivy::Index;

use crate::search::commits::{ApprovedCommit, CommitFiles};
use crate::search::directory::ApprovedDirectory;

const LEGACY_POINTER: &str = "current";
const LEGACY_POINTER_TEMPORARY: &str = "current.tmp";

/// Where the index generations live.
#[derive(Debug, Clone)]
pub struct IndexLocation {
    root: PathBuf,
}

/// How a new generation got its files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filled {
    pub linked: usize,
    pub copied: usize,
}

/// The epoch that wrote a generation, from its name; `None` for a directory of an earlier
/// version of Baton.
pub fn epoch_of(generation: &str) -> Option<i64> {
    let (epoch, number) = generation.strip_prefix('e')?.split_once('-')?;
    number.parse::<u32>().ok()?;
    epoch.parse().ok()
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |error| Error::internal(what, error)
}

impl IndexLocation {
    pub fn new(root: PathBuf) -> IndexLocation {
        IndexLocation { root }
    }

    pub fn path(&self, generation: &str) -> PathBuf {
        self.root.join(generation)
    }

    /// Creates an empty directory for a new generation of `epoch`, with the first free number.
    pub fn create(&self, epoch: i64) -> Result<String> {
        std::fs::create_dir_all(&self.root).map_err(io_error(format!("creating {}", self.root.display())))?;
        let mut number = 1u64;
        loop {
            let generation = format!("e{epoch}-{number}");
            match std::fs::create_dir(self.path(&generation)) {
                Ok(()) => return Ok(generation),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => number += 1,
                Err(error) => {
                    return Err(Error::internal(format!("creating {}", self.path(&generation).display()), error));
                }
            }
        }
    }

    /// Fills the new, empty `generation` with the files of `base` and its `meta.json`, and
    /// tells tantivy that it manages those files (so that it releases them when a merge
    /// replaces them). The names come from the commit, not from listing the directory: a
    /// network file system may show another host's recent files in a listing only later.
    pub fn fill_from(&self, generation: &str, base: &ApprovedCommit) -> Result<Filled> {
        let from = self.path(&base.generation);
        let to = self.path(generation);
        let view = ApprovedDirectory::open(&from, &base.meta)
            .map_err(|error| Error::internal(format!("opening {}", from.display()), error))?;
        let metas = Index::open(view).and_then(|index| index.load_metas()).map_err(|error| {
            Error::internal(format!("reading index commit {} in {}", base.id, from.display()), error)
        })?;
        let files = CommitFiles::of(&base.meta)?;
        let mut filled = Filled::default();
        let mut managed = vec!["meta.json".to_string()];
        for candidate in metas.list_segment_files() {
            let Some(name) = candidate.to_str() else { continue };
            match link_or_copy(&from.join(name), &to.join(name)) {
                Ok(Placed::Linked) => filled.linked += 1,
                Ok(Placed::Copied) => filled.copied += 1,
                // Tantivy names candidates (a delete file of a segment without deletes) that
                // need not exist; a file the commit uses must.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && !files.uses(name) => continue,
                Err(error) => return Err(Error::internal(format!("placing {name} into {}", to.display()), error)),
            }
            managed.push(name.to_string());
        }
        let managed = serde_json::to_vec(&managed).map_err(|error| Error::internal("listing index files", error))?;
        write_synced(&to.join(".managed.json"), &managed)?;
        write_synced(&to.join("meta.json"), base.meta.as_bytes())?;
        Ok(filled)
    }

    /// The generation directories present.
    pub fn generations(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::internal(format!("listing {}", self.root.display()), error)),
        };
        let mut generations = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(format!("listing {}", self.root.display())))?;
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                generations.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        generations.sort();
        Ok(generations)
    }

    pub fn remove(&self, generation: &str) -> Result<()> {
        let path = self.path(generation);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(Error::internal(format!("removing {}", path.display()), error)),
        }
    }

    /// The generation named by an earlier version's pointer file, if there is one.
    pub fn legacy_generation(&self) -> Result<Option<String>> {
        let pointer = self.root.join(LEGACY_POINTER);
        match std::fs::read_to_string(&pointer) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|name| !name.is_empty())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::internal(format!("reading {}", pointer.display()), error)),
        }
    }

    pub fn remove_legacy_pointer(&self) -> Result<()> {
        for name in [LEGACY_POINTER, LEGACY_POINTER_TEMPORARY] {
            let path = self.root.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(Error::internal(format!("removing {}", path.display()), error)),
            }
        }
        Ok(())
    }

    /// A generation's `meta.json` as it is on disk (only an earlier version's index is read
    /// this way: every other commit's metadata comes from the database).
    pub fn meta_on_disk(&self, generation: &str) -> Result<String> {
        let path = self.path(generation).join("meta.json");
        std::fs::read_to_string(&path).map_err(io_error(format!("reading {}", path.display())))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(io_error(format!("creating {}", path.display())))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io_error(format!("writing {}", path.display())))
}

enum Placed {
    Linked,
    Copied,
}

/// A hard link, or a copy where the file system refuses links (some FUSE and SMB mounts).
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<Placed> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(Placed::Linked),
        Err(error) if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::AlreadyExists) => {
            Err(error)
        }
        Err(_) => {
            std::fs::copy(from, to)?;
            std::fs::File::open(to)?.sync_all()?;
            Ok(Placed::Copied)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_names_carry_the_epoch_of_their_master() {
        assert_eq!(epoch_of("e12-1"), Some(12));
        assert_eq!(epoch_of("e12-17"), Some(12));
        assert_eq!(epoch_of("g3-e5-20261124101500"), None);
        assert_eq!(epoch_of("e12"), None);
        assert_eq!(epoch_of("current"), None);
    }

    /// An index in `generation` with three items, one deleted; returns the approved commit.
    fn committed(location: &IndexLocation, generation: &str) -> ApprovedCommit {
        use crate::search::fields::Fields;
        use tantivy::{Term, doc};
        std::fs::create_dir_all(location.path(generation)).unwrap();
        let index = Index::create_in_dir(location.path(generation), Fields::schema()).unwrap();
        let fields = Fields::of(&index).unwrap();
        let mut writer: tantivy::IndexWriter<tantivy::TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        for id in 1..=3u64 {
            writer.add_document(doc!(fields.item_id => id, fields.title => "linked")).unwrap();
        }
        writer.commit().unwrap();
        writer.delete_term(Term::from_field_u64(fields.item_id, 2));
        writer.commit().unwrap();
        ApprovedCommit {
            id: 7,
            generation: generation.into(),
            epoch: 3,
            node: "n1".into(),
            meta: std::fs::read_to_string(location.path(generation).join("meta.json")).unwrap(),
            applied: "a test".into(),
            committed_at: chrono::Utc::now().naive_utc(),
        }
    }

    fn documents(location: &IndexLocation, generation: &str) -> u64 {
        let index = Index::open_in_dir(location.path(generation)).unwrap();
        let count = index.reader().unwrap().searcher().num_docs();
        // The new generation is tantivy's to manage: a writer opens on it.
        index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 15_000_000).unwrap();
        count
    }

    #[test]
    fn a_new_generation_takes_the_files_of_the_approved_commit_as_hard_links() {
        use std::os::unix::fs::MetadataExt;
        let folder = tempfile::tempdir().unwrap();
        let location = IndexLocation::new(folder.path().join("index"));
        let base = committed(&location, "e3-1");
        let generation = location.create(4).unwrap();
        let filled = location.fill_from(&generation, &base).unwrap();
        assert_eq!(filled.copied, 0);
        assert!(filled.linked >= 6, "{filled:?}");
        assert_eq!(documents(&location, &generation), 2);
        let files = CommitFiles::of(&base.meta).unwrap();
        for entry in std::fs::read_dir(location.path(&generation)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if files.uses(&name) {
                let original = std::fs::metadata(location.path("e3-1").join(&name)).unwrap();
                assert_eq!(entry.metadata().unwrap().ino(), original.ino(), "{name} is the same file");
            }
        }
    }

    #[test]
    fn where_hard_links_are_refused_the_files_are_copied() {
        let folder = tempfile::tempdir().unwrap();
        let location = IndexLocation::new(folder.path().join("index"));
        let base = committed(&location, "e3-1");
        // The new generation on another file system (tmpfs): links across devices fail.
        let elsewhere = tempfile::tempdir_in("/dev/shm").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), location.path("e4-1")).unwrap();
        let filled = location.fill_from("e4-1", &base).unwrap();
        assert_eq!(filled.linked, 0);
        assert!(filled.copied >= 6, "{filled:?}");
        assert_eq!(documents(&location, "e4-1"), 2);
    }

    #[test]
    fn a_new_generation_of_an_epoch_takes_the_next_free_number() {
        let folder = tempfile::tempdir().unwrap();
        let location = IndexLocation::new(folder.path().join("index"));
        assert_eq!(location.create(4).unwrap(), "e4-1");
        assert_eq!(location.create(4).unwrap(), "e4-2");
        assert_eq!(location.create(5).unwrap(), "e5-1");
        assert_eq!(location.generations().unwrap(), ["e4-1", "e4-2", "e5-1"]);
        location.remove("e4-1").unwrap();
        location.remove("e4-1").unwrap();
        assert_eq!(location.generations().unwrap(), ["e4-2", "e5-1"]);
    }
}
