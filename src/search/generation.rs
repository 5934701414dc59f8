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
use crate::search::commits::{ApprovedCommit, CommitFiles};

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
    /// replaces them).
    pub fn fill_from(&self, generation: &str, base: &ApprovedCommit) -> Result<Filled> {
        let from = self.path(&base.generation);
        let to = self.path(generation);
        let files = CommitFiles::of(&base.meta)?;
        let mut filled = Filled::default();
        let mut managed = vec!["meta.json".to_string()];
        for entry in std::fs::read_dir(&from).map_err(io_error(format!("listing {}", from.display())))? {
            let name = entry.map_err(io_error(format!("listing {}", from.display())))?.file_name();
            let Some(name) = name.to_str().filter(|name| files.uses(name)) else { continue };
            match std::fs::hard_link(from.join(name), to.join(name)) {
                Ok(()) => filled.linked += 1,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::internal(format!("filling {}", to.display()), error));
                }
                // No hard links here (some FUSE and SMB mounts): the same bytes, copied.
                Err(_) => {
                    copy_file(&from.join(name), &to.join(name))?;
                    filled.copied += 1;
                }
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

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .and_then(|_| std::fs::File::open(to))
        .and_then(|file| file.sync_all())
        .map_err(io_error(format!("copying {} to {}", from.display(), to.display())))
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
