//! The writer's view of an index generation: tantivy's `MmapDirectory`, except that segment
//! files tantivy deletes (replaced by a merge, or left by a rollback) are removed only after
//! a grace period. A reader on this host keeps a deleted file through its mapping, but NFS
//! has no "delete on last close": a reader on another host would lose the file under a
//! search. Segment files are never rewritten (their names are fresh UUIDs), so deferring
//! the removal cannot hand anyone stale data.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tantivy::Index;
use tantivy::directory::error::{DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};

#[derive(Clone, Debug)]
pub struct DeferredDeleteDirectory {
    inner: MmapDirectory,
    root: PathBuf,
    /// Files tantivy deleted, and since when.
    pending: Arc<Mutex<HashMap<PathBuf, Instant>>>,
}

/// `<32 hex digits of the segment id>.<extension>`: the files of a segment.
fn segment_id(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let id = name.get(..32)?;
    (id.bytes().all(|byte| byte.is_ascii_hexdigit()) && name[32..].starts_with('.')).then_some(id)
}

impl DeferredDeleteDirectory {
    pub fn open(root: &Path) -> Result<DeferredDeleteDirectory, OpenDirectoryError> {
        Ok(DeferredDeleteDirectory {
            inner: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
            pending: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Instant>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Schedules the segment files on disk that no committed segment of `index` uses: left
    /// by a master that died before their grace period ended. Call with the writer lock held
    /// and before adding documents (no segment is in the making then).
    pub fn schedule_orphans(&self, index: &Index) -> std::io::Result<usize> {
        let used: HashSet<String> = index
            .searchable_segment_metas()
            .map_err(std::io::Error::other)?
            .iter()
            .map(|meta| meta.id().uuid_string())
            .collect();
        let now = Instant::now();
        let mut pending = self.pending();
        let mut scheduled = 0;
        for entry in std::fs::read_dir(&self.root)? {
            let name = PathBuf::from(entry?.file_name());
            if segment_id(&name).is_some_and(|id| !used.contains(id)) {
                pending.entry(name).or_insert(now);
                scheduled += 1;
            }
        }
        Ok(scheduled)
    }

    /// Removes the files deleted longer than `grace` ago; returns how many.
    pub fn remove_expired(&self, grace: Duration) -> usize {
        let mut pending = self.pending();
        let expired: Vec<PathBuf> =
            pending.iter().filter(|(_, since)| since.elapsed() >= grace).map(|(path, _)| path.clone()).collect();
        for path in &expired {
            pending.remove(path);
            match self.inner.delete(path) {
                Ok(()) | Err(DeleteError::FileDoesNotExist(_)) => {}
                Err(error) => tracing::warn!(%error, file = %path.display(), "could not remove a replaced index file"),
            }
        }
        expired.len()
    }
}

impl Directory for DeferredDeleteDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        if segment_id(path).is_none() {
            return self.inner.delete(path);
        }
        if !self.inner.exists(path).unwrap_or(false) {
            return Err(DeleteError::FileDoesNotExist(path.to_path_buf()));
        }
        self.pending().entry(path.to_path_buf()).or_insert_with(Instant::now);
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fields::Fields;
    use tantivy::IndexSettings;
    use tantivy::doc;

    fn segment_files(root: &Path) -> HashSet<String> {
        std::fs::read_dir(root)
            .unwrap()
            .filter_map(|entry| {
                let name = PathBuf::from(entry.unwrap().file_name());
                segment_id(&name).map(|_| name.to_string_lossy().into_owned())
            })
            .collect()
    }

    #[test]
    fn files_replaced_by_a_merge_stay_until_the_grace_period_ends() {
        let folder = tempfile::tempdir().unwrap();
        let directory = DeferredDeleteDirectory::open(folder.path()).unwrap();
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
        assert_eq!(ids.len(), 3);
        writer.merge(&ids).wait().unwrap();
        writer.wait_merging_threads().unwrap();
        // The merged-away files are still there; new ones were added.
        let after_merge = segment_files(folder.path());
        assert!(before.is_subset(&after_merge), "a replaced file vanished at once");
        assert!(directory.remove_expired(Duration::from_secs(3600)) == 0);
        assert!(directory.remove_expired(Duration::ZERO) > 0);
        let after_grace = segment_files(folder.path());
        assert!(before.is_disjoint(&after_grace), "replaced files outlived the grace period");
        // A new writer on the same files finds nothing orphaned; the index still reads.
        let reader = index.reader().unwrap();
        assert_eq!(reader.searcher().num_docs(), 3);
    }

    #[test]
    fn files_no_segment_uses_are_adopted_after_a_crash() {
        let folder = tempfile::tempdir().unwrap();
        let directory = DeferredDeleteDirectory::open(folder.path()).unwrap();
        let index = Index::create(directory.clone(), Fields::schema(), IndexSettings::default()).unwrap();
        let orphan = folder.path().join("0123456789abcdef0123456789abcdef.idx");
        std::fs::write(&orphan, b"left by a dead master").unwrap();
        std::fs::write(folder.path().join("notes.txt"), b"not ours").unwrap();
        assert_eq!(directory.schedule_orphans(&index).unwrap(), 1);
        assert_eq!(directory.remove_expired(Duration::ZERO), 1);
        assert!(!orphan.exists());
        assert!(folder.path().join("notes.txt").exists());
    }
}
