//! The two views of a generation directory.
//!
//! `WriterDirectory` is the master's: tantivy's `MmapDirectory`, except that a segment file
//! tantivy deletes (replaced by a merge, or left by a rollback) is only noted. The collector
//! (`search::collect`) removes it once no node's reader uses a commit that names it: a reader
//! on this host would keep a deleted file through its mapping, but NFS has no "delete on last
//! close", so a reader on another host would lose the file under a search.
//!
//! `ApprovedDirectory` is every reader's: it reads the segment files from the generation,
//! but `meta.json` — which segments make up the index — comes from the approved commit's
//! database row, never from the file, which a deposed master may still rewrite. It writes
//! nothing and takes no lock: readers need neither write access nor file locks that work
//! across hosts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tantivy::directory::error::{DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};

const META_FILE: &str = "meta.json";
const MANAGED_FILE: &str = ".managed.json";

/// `<32 hex digits of the segment id>.<rest>`: a file of a segment.
pub fn segment_file(name: &str) -> Option<(&str, &str)> {
    let id = name.get(..32)?;
    let rest = name.get(32..)?.strip_prefix('.')?;
    (id.bytes().all(|byte| byte.is_ascii_hexdigit()) && !rest.is_empty()).then_some((id, rest))
}

fn name_of(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()
}

#[derive(Clone, Debug)]
pub struct WriterDirectory {
    inner: MmapDirectory,
    root: PathBuf,
    /// Segment files tantivy deleted, waiting for no reader to use them.
    released: Arc<Mutex<BTreeSet<String>>>,
}

impl WriterDirectory {
    pub fn open(root: &Path) -> Result<WriterDirectory, OpenDirectoryError> {
        Ok(WriterDirectory {
            inner: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
            released: Arc::new(Mutex::new(BTreeSet::new())),
        })
    }

    fn released_files(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.released.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The segment files tantivy no longer uses (neither committed nor in the making).
    pub fn released(&self) -> BTreeSet<String> {
        self.released_files().clone()
    }

    /// Removes those of `candidates` that `in_use` does not keep and that are still released
    /// (not written again since); returns how many.
    pub fn remove_released(&self, candidates: &BTreeSet<String>, in_use: impl Fn(&str) -> bool) -> usize {
        let mut removed = 0;
        for name in candidates.iter().filter(|name| !in_use(name)) {
            // Held while the file goes, so that tantivy cannot write the name again meanwhile.
            let mut released = self.released_files();
            if !released.contains(name) {
                continue;
            }
            match std::fs::remove_file(self.root.join(name)) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(%error, file = %name, "could not remove a replaced search index file");
                    continue;
                }
            }
            released.remove(name);
        }
        removed
    }

    /// A name tantivy writes again is in use again (after a rollback, a delete file may get
    /// the name of one it dropped).
    fn written_again(&self, path: &Path) {
        if let Some(name) = name_of(path) {
            self.released_files().remove(name);
        }
    }

    /// The generation's `meta.json` as tantivy last wrote it.
    pub fn meta(&self) -> Result<String, OpenReadError> {
        let bytes = self.inner.atomic_read(Path::new(META_FILE))?;
        String::from_utf8(bytes).map_err(|error| OpenReadError::IoError {
            io_error: Arc::new(std::io::Error::new(std::io::ErrorKind::InvalidData, error)),
            filepath: PathBuf::from(META_FILE),
        })
    }
}

impl Directory for WriterDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        let Some(name) = name_of(path).filter(|name| segment_file(name).is_some()) else {
            return self.inner.delete(path);
        };
        if !self.inner.exists(path).unwrap_or(false) {
            return Err(DeleteError::FileDoesNotExist(path.to_path_buf()));
        }
        self.released_files().insert(name.to_string());
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.written_again(path);
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.written_again(path);
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// A reader's view of a generation, showing the commit whose `meta.json` it is given.
#[derive(Clone, Debug)]
pub struct ApprovedDirectory {
    inner: MmapDirectory,
    meta: Arc<RwLock<Vec<u8>>>,
}

impl ApprovedDirectory {
    pub fn open(root: &Path, meta: &str) -> Result<ApprovedDirectory, OpenDirectoryError> {
        Ok(ApprovedDirectory {
            inner: MmapDirectory::open(root)?,
            meta: Arc::new(RwLock::new(meta.as_bytes().to_vec())),
        })
    }

    /// Shows another commit of the same generation (the reader reloads afterwards).
    pub fn show(&self, meta: &str) {
        *self.meta.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = meta.as_bytes().to_vec();
    }

    fn read_only(path: &Path) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} is in a search reader's view, which writes nothing", path.display()),
        )
    }
}

impl Directory for ApprovedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        Err(DeleteError::IoError { io_error: Arc::new(Self::read_only(path)), filepath: path.to_path_buf() })
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        match name_of(path) {
            Some(META_FILE) => Ok(true),
            Some(MANAGED_FILE) => Ok(false),
            _ => self.inner.exists(path),
        }
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::IoError { io_error: Arc::new(Self::read_only(path)), filepath: path.to_path_buf() })
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        match name_of(path) {
            Some(META_FILE) => Ok(self.meta.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()),
            // Which files tantivy created matters only to a writer's garbage collection.
            Some(MANAGED_FILE) => Err(OpenReadError::FileDoesNotExist(path.to_path_buf())),
            _ => self.inner.atomic_read(path),
        }
    }

    fn atomic_write(&self, path: &Path, _data: &[u8]) -> std::io::Result<()> {
        Err(Self::read_only(path))
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        Ok(())
    }

    /// Tantivy's readers lock `meta.json` while they open segments, against its own garbage
    /// collection; here no writer shares the view, and the collector knows what readers use.
    fn acquire_lock(&self, _lock: &Lock) -> Result<DirectoryLock, LockError> {
        Ok(DirectoryLock::from(Box::new(())))
    }

    fn watch(&self, _watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        Ok(WatchHandle::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fields::Fields;
    use tantivy::doc;
    use tantivy::{Index, IndexSettings, ReloadPolicy};

    fn segment_files(root: &Path) -> BTreeSet<String> {
        std::fs::read_dir(root)
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                segment_file(&name).is_some().then_some(name)
            })
            .collect()
    }

    #[test]
    fn files_a_merge_replaced_stay_until_the_collector_removes_them() {
        let folder = tempfile::tempdir().unwrap();
        let directory = WriterDirectory::open(folder.path()).unwrap();
        let index = Index::create(directory.clone(), Fields::schema(), IndexSettings::default()).unwrap();
        let fields = Fields::of(&index).unwrap();
        let mut writer: tantivy::IndexWriter<tantivy::TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        for id in 1..=3u64 {
            writer.add_document(doc!(fields.item_id => id, fields.title => "disk full")).unwrap();
            writer.commit().unwrap();
        }
        let before = segment_files(folder.path());
        let ids: Vec<_> = index.searchable_segment_ids().unwrap();
        writer.merge(&ids).wait().unwrap();
        writer.wait_merging_threads().unwrap();
        let after_merge = segment_files(folder.path());
        assert!(before.is_subset(&after_merge), "a replaced file vanished at once");
        let released = directory.released();
        assert_eq!(released, before, "every file of the three merged segments is released");
        let kept = released.iter().next().unwrap().clone();
        assert_eq!(directory.remove_released(&released, |name| name == kept), released.len() - 1);
        assert_eq!(segment_files(folder.path()).intersection(&before).cloned().collect::<Vec<_>>(), vec![kept]);
        assert_eq!(directory.released().len(), 1, "a kept file stays released for the next round");
        assert_eq!(index.reader().unwrap().searcher().num_docs(), 3);
    }

    #[test]
    fn a_reader_sees_the_commit_it_is_shown_not_the_meta_file_on_disk() {
        let folder = tempfile::tempdir().unwrap();
        let directory = WriterDirectory::open(folder.path()).unwrap();
        let index = Index::create(directory.clone(), Fields::schema(), IndexSettings::default()).unwrap();
        let fields = Fields::of(&index).unwrap();
        let mut writer: tantivy::IndexWriter<tantivy::TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.add_document(doc!(fields.item_id => 1u64, fields.title => "approved")).unwrap();
        writer.commit().unwrap();
        let approved = directory.meta().unwrap();
        // A later commit lands on disk but is never shown to the reader.
        writer.add_document(doc!(fields.item_id => 2u64, fields.title => "late")).unwrap();
        writer.commit().unwrap();

        let view = ApprovedDirectory::open(folder.path(), &approved).unwrap();
        let reader =
            Index::open(view.clone()).unwrap().reader_builder().reload_policy(ReloadPolicy::Manual).try_into().unwrap();
        assert_eq!(reader.searcher().num_docs(), 1);
        view.show(&directory.meta().unwrap());
        reader.reload().unwrap();
        assert_eq!(reader.searcher().num_docs(), 2);
        assert!(view.atomic_write(Path::new("meta.json"), b"{}").is_err(), "a reader's view writes nothing");
    }
}
