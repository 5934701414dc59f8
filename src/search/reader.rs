//! A node's search reader. A thread of its own follows the approved commit: every 250 ms one
//! cheap statement (the newest commit's id by primary key, and this node's own record) —
//! searches themselves touch neither the database nor a file to find the index. When a newer
//! commit is approved it records it as open *before* opening it, and opens it only if it is
//! still the newest afterwards (`search::collect` explains why that keeps its files safe).
//! While searches still run on an older commit, that one stays recorded too.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use tantivy::{Index, IndexReader, ReloadPolicy, Searcher};

use crate::db::{Database, DbConnection};
use crate::error::{Error, Result};
use crate::search::commits::{self, ApprovedCommit};
use crate::search::coverage::StemCoverage;
use crate::search::directory::ApprovedDirectory;
use crate::search::fields::Fields;
use crate::search::generation::IndexLocation;

/// How often the reader looks for a newer approved commit: commits reach every node within
/// about this (the previous design polled `meta.json` every 500 ms; p95 freshness 506 ms).
const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// A commit that could not be opened is tried again after this.
const RETRY_OPEN_AFTER: Duration = Duration::from_secs(2);
/// Tries per round when newer commits keep being approved while one is recorded.
const SWITCH_TRIES: usize = 3;

/// The commit one search runs on; its files stay while it is held.
pub struct OpenCommit {
    pub searcher: Searcher,
    pub fields: Fields,
    /// The approved commit (`None`: an earlier version's index, read through its pointer file).
    pub id: Option<i64>,
}

enum Shown {
    Nothing,
    Unreadable(String),
    Open(Arc<OpenCommit>),
}

/// This node's read access to the index.
pub struct SearchIndex {
    location: IndexLocation,
    shown: RwLock<Shown>,
    pub(super) coverage: StemCoverage,
}

/// A generation open for reading: one tantivy reader, reloaded for each commit shown.
struct OpenGeneration {
    name: String,
    view: ApprovedDirectory,
    reader: IndexReader,
    fields: Fields,
}

/// What the following thread keeps between rounds.
#[derive(Default)]
pub struct Follower {
    generation: Option<OpenGeneration>,
    /// Commits shown before, while searches still hold them.
    older: Vec<(i64, Weak<OpenCommit>)>,
    /// An earlier version's index being shown: (generation, meta).
    legacy: Option<(String, String)>,
    /// The last commit that could not be opened, and when.
    failed: Option<(i64, Instant)>,
}

impl SearchIndex {
    pub fn new(location: IndexLocation) -> SearchIndex {
        SearchIndex { location, shown: RwLock::new(Shown::Nothing), coverage: StemCoverage::default() }
    }

    /// The commit to search; 503 before the first index exists, or while it is being
    /// rebuilt for this version.
    pub fn searcher(&self) -> Result<Arc<OpenCommit>> {
        match &*self.shown.read().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            Shown::Open(commit) => Ok(commit.clone()),
            Shown::Nothing => Err(Error::Unavailable("search is being built; try again in a moment".into())),
            Shown::Unreadable(message) => Err(Error::Unavailable(message.clone())),
        }
    }

    fn shown_id(&self) -> Option<i64> {
        match &*self.shown.read().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            Shown::Open(commit) => commit.id,
            _ => None,
        }
    }

    fn show(&self, shown: Shown) {
        *self.shown.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = shown;
    }

    /// Follows the approved commit on a thread of its own until this index is dropped. The
    /// first round runs before it returns, so that a node starts searchable.
    pub fn follow(self: &Arc<SearchIndex>, database: Database, node: String, instance: String) -> Result<()> {
        let mut follower = Follower::default();
        let mut connection = database.get()?;
        if let Err(error) = self.step(&mut follower, &mut connection, &node, &instance) {
            tracing::warn!(%error, "the search reader could not look for the index yet");
        }
        let index = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("search-reader".into())
            .spawn(move || {
                let mut connection = Some(connection);
                let mut failing = false;
                loop {
                    std::thread::sleep(FOLLOW_EVERY);
                    let Some(index) = index.upgrade() else { return };
                    // A panic inside tantivy (a damaged file) must not end the following for
                    // good: the round counts as failed and the next one tries again.
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match connection.as_mut() {
                            Some(connection) => index.step(&mut follower, connection, &node, &instance),
                            None => database.get().map(|fresh| {
                                connection = Some(fresh);
                            }),
                        }))
                        .unwrap_or_else(|_| Err(Error::internal("following the search index", "a round panicked")));
                    match outcome {
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("the search reader reaches the database again");
                        }
                        Ok(()) => {}
                        Err(error) => {
                            // A broken connection is replaced; the index shown stays meanwhile.
                            connection = None;
                            if !failing {
                                failing = true;
                                tracing::warn!(%error, "the search reader cannot follow the index");
                            }
                        }
                    }
                }
            })
            .map_err(|error| Error::internal("starting the search reader", error))?;
        Ok(())
    }

    /// One round: switches to a newer approved commit, and keeps this node's record of the
    /// commits it has open up to date.
    pub fn step(
        &self,
        follower: &mut Follower,
        connection: &mut DbConnection,
        node: &str,
        instance: &str,
    ) -> Result<()> {
        let poll = commits::poll(connection, node, instance)?;
        let mut recorded = poll.recorded;
        match poll.latest {
            None => self.follow_legacy(follower)?,
            Some(latest) if Some(latest) != self.shown_id() => {
                if let Some(written) = self.switch(follower, connection, node, instance, latest)? {
                    recorded = Some(written);
                }
            }
            Some(_) => {}
        }
        follower.older.retain(|(_, commit)| commit.strong_count() > 0);
        let open = commits::format_open(&self.open_ids(follower, None));
        if recorded.as_deref() != Some(open.as_str()) {
            commits::record_open(connection, node, instance, &open)?;
        }
        Ok(())
    }

    /// The commits this node has open, newest first, with `adding` in front.
    fn open_ids(&self, follower: &Follower, adding: Option<i64>) -> Vec<i64> {
        let mut ids: Vec<i64> = adding.into_iter().chain(self.shown_id()).collect();
        for (id, commit) in &follower.older {
            if commit.strong_count() > 0 && !ids.contains(id) {
                ids.push(*id);
            }
        }
        ids
    }

    /// Records `latest` as open, then opens it if it is still the newest; returns what was
    /// recorded.
    fn switch(
        &self,
        follower: &mut Follower,
        connection: &mut DbConnection,
        node: &str,
        instance: &str,
        mut latest: i64,
    ) -> Result<Option<String>> {
        if follower.failed.is_some_and(|(id, at)| id == latest && at.elapsed() < RETRY_OPEN_AFTER) {
            return Ok(None);
        }
        let mut recorded = None;
        for _ in 0..SWITCH_TRIES {
            // Gone already: a newer one was approved and nobody used this one.
            let Some(commit) = commits::get(connection, latest)? else { return Ok(recorded) };
            let open = commits::format_open(&self.open_ids(follower, Some(latest)));
            if !commits::record_open(connection, node, instance, &open)? {
                // Not registered (yet, or again after a pause): nothing protects a new
                // commit's files for this node, so it keeps what it has.
                return Ok(recorded);
            }
            recorded = Some(open);
            match commits::poll(connection, node, instance)?.latest {
                Some(newest) if newest == latest => {
                    self.open(follower, &commit);
                    return Ok(recorded);
                }
                Some(newest) => latest = newest,
                None => return Ok(recorded),
            }
        }
        Ok(recorded)
    }

    fn open(&self, follower: &mut Follower, commit: &ApprovedCommit) {
        let opened = match self.open_commit(follower, commit) {
            Ok(opened) => opened,
            Err(error) => {
                if follower.failed.is_none_or(|(id, _)| id != commit.id) {
                    tracing::warn!(%error, commit = commit.id, generation = %commit.generation,
                        "could not open a search index commit; keeping the one open");
                }
                follower.failed = Some((commit.id, Instant::now()));
                return;
            }
        };
        follower.failed = matches!(opened, Shown::Unreadable(_)).then(|| (commit.id, Instant::now()));
        follower.legacy = None;
        let previous =
            std::mem::replace(&mut *self.shown.write().unwrap_or_else(|poisoned| poisoned.into_inner()), opened);
        if let Shown::Open(previous) = previous
            && let Some(id) = previous.id
        {
            follower.older.push((id, Arc::downgrade(&previous)));
        }
    }

    fn open_commit(&self, follower: &mut Follower, commit: &ApprovedCommit) -> Result<Shown> {
        let reusable = follower.generation.as_ref().is_some_and(|open| open.name == commit.generation);
        if !reusable {
            follower.generation = None;
            match self.open_generation(&commit.generation, &commit.meta)? {
                Ok(generation) => follower.generation = Some(generation),
                Err(message) => return Ok(Shown::Unreadable(message)),
            }
        }
        let Some(generation) = follower.generation.as_ref() else {
            return Err(Error::internal("search reader", "no generation open"));
        };
        if reusable {
            generation.view.show(&commit.meta);
            generation.reader.reload().map_err(|error| Error::internal("reloading the search index", error))?;
        }
        Ok(Shown::Open(Arc::new(OpenCommit {
            searcher: generation.reader.searcher(),
            fields: generation.fields,
            id: Some(commit.id),
        })))
    }

    /// Opens a generation showing `meta`; `Err(message)` when it was written by another
    /// version of Baton (its schema differs).
    fn open_generation(&self, name: &str, meta: &str) -> Result<std::result::Result<OpenGeneration, String>> {
        let path = self.location.path(name);
        let view = ApprovedDirectory::open(&path, meta)
            .map_err(|error| Error::internal(format!("opening {}", path.display()), error))?;
        let index = Index::open(view.clone())
            .map_err(|error| Error::internal(format!("opening the search index in {}", path.display()), error))?;
        let Ok(fields) = Fields::of(&index) else {
            return Ok(Err("search is being rebuilt for this version of Baton; try again in a moment".into()));
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|error| Error::internal("opening a search index reader", error))?;
        Ok(Ok(OpenGeneration { name: name.to_string(), view, reader, fields }))
    }

    /// Before the first approved commit: an index left by an earlier version of Baton, named
    /// by its pointer file, is read as it is on disk (a rolling upgrade keeps searching until
    /// the master runs this version and adopts it).
    fn follow_legacy(&self, follower: &mut Follower) -> Result<()> {
        let Some(name) = self.location.legacy_generation()? else { return Ok(()) };
        let meta = self.location.meta_on_disk(&name)?;
        if follower.legacy.as_ref().is_some_and(|(open_name, open_meta)| *open_name == name && *open_meta == meta) {
            return Ok(());
        }
        let shown = match self.open_generation(&name, &meta)? {
            Ok(generation) => {
                let commit = OpenCommit { searcher: generation.reader.searcher(), fields: generation.fields, id: None };
                follower.generation = Some(generation);
                Shown::Open(Arc::new(commit))
            }
            Err(message) => Shown::Unreadable(message),
        };
        self.show(shown);
        follower.legacy = Some((name, meta));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::registry::{self, Identity};
    use crate::config::Settings;
    use crate::db::schema::{index_commits, index_readers};
    use crate::search::directory::WriterDirectory;
    use diesel::prelude::*;
    use tantivy::{IndexSettings, IndexWriter, TantivyDocument, doc};

    struct Fixture {
        _folder: tempfile::TempDir,
        database: Database,
        location: IndexLocation,
    }

    fn fixture() -> Fixture {
        let folder = tempfile::tempdir().unwrap();
        let settings = Settings {
            database_url: format!("sqlite://{}", folder.path().join("baton.db").display()),
            pool_size: 1,
            ..Settings::default()
        };
        let database = Database::connect(&settings).unwrap();
        database.migrate().unwrap();
        let me = Identity {
            name: "n1".into(),
            instance: "i1".into(),
            hostname: "host".into(),
            base_url: "http://n1".into(),
            version: "test".into(),
            config_hash: "hash".into(),
            priority: 0,
        };
        registry::register(&mut database.get().unwrap(), &me, Duration::from_secs(10)).unwrap();
        let location = IndexLocation::new(folder.path().join("index"));
        Fixture { _folder: folder, database, location }
    }

    /// A generation with a writer, committing titles one by one.
    fn generation_writer(
        location: &IndexLocation,
        generation: &str,
    ) -> (IndexWriter<TantivyDocument>, WriterDirectory, Fields) {
        std::fs::create_dir_all(location.path(generation)).unwrap();
        let directory = WriterDirectory::open(&location.path(generation)).unwrap();
        let index = Index::create(directory.clone(), Fields::schema(), IndexSettings::default()).unwrap();
        let fields = Fields::of(&index).unwrap();
        (index.writer_with_num_threads(1, 15_000_000).unwrap(), directory, fields)
    }

    fn approve(fixture: &Fixture, generation: &str, meta: &str) -> i64 {
        diesel::insert_into(index_commits::table)
            .values((
                index_commits::generation.eq(generation),
                index_commits::epoch.eq(1),
                index_commits::node.eq("n1"),
                index_commits::meta.eq(meta),
                index_commits::applied.eq("a test"),
                index_commits::committed_at.eq(diesel::dsl::now),
            ))
            .returning(index_commits::id)
            .get_result(&mut **fixture.database.get().unwrap())
            .unwrap()
    }

    fn recorded(fixture: &Fixture) -> String {
        index_readers::table
            .find("n1")
            .select(index_readers::open_commits)
            .first(&mut **fixture.database.get().unwrap())
            .optional()
            .unwrap()
            .unwrap_or_default()
    }

    fn step(fixture: &Fixture, search: &SearchIndex, follower: &mut Follower) {
        search.step(follower, &mut fixture.database.get().unwrap(), "n1", "i1").unwrap();
    }

    fn unavailable(search: &SearchIndex) -> String {
        match search.searcher() {
            Err(Error::Unavailable(message)) => message,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("an index was shown"),
        }
    }

    #[test]
    fn a_node_without_an_index_says_search_is_being_built() {
        let fixture = fixture();
        let search = SearchIndex::new(fixture.location.clone());
        step(&fixture, &search, &mut Follower::default());
        assert!(unavailable(&search).contains("search is being built"));
        assert_eq!(recorded(&fixture), "");
    }

    #[test]
    fn the_reader_follows_the_newest_approved_commit_and_records_what_searches_still_hold() {
        let fixture = fixture();
        let (mut writer, directory, fields) = generation_writer(&fixture.location, "e1-1");
        writer.add_document(doc!(fields.item_id => 1u64, fields.title => "first")).unwrap();
        writer.commit().unwrap();
        let first = approve(&fixture, "e1-1", &directory.meta().unwrap());
        let search = SearchIndex::new(fixture.location.clone());
        let mut follower = Follower::default();
        step(&fixture, &search, &mut follower);
        let held = search.searcher().unwrap();
        assert_eq!((held.id, held.searcher.num_docs()), (Some(first), 1));
        assert_eq!(recorded(&fixture), first.to_string());

        // A later commit on disk is not read until it is approved.
        writer.add_document(doc!(fields.item_id => 2u64, fields.title => "second")).unwrap();
        writer.commit().unwrap();
        step(&fixture, &search, &mut follower);
        assert_eq!(search.searcher().unwrap().searcher.num_docs(), 1);
        let second = approve(&fixture, "e1-1", &directory.meta().unwrap());
        step(&fixture, &search, &mut follower);
        assert_eq!(search.searcher().unwrap().searcher.num_docs(), 2);
        // The search that still holds the first commit keeps it recorded, until it ends.
        assert_eq!(recorded(&fixture), format!("{second},{first}"));
        assert_eq!(held.searcher.num_docs(), 1);
        drop(held);
        step(&fixture, &search, &mut follower);
        assert_eq!(recorded(&fixture), second.to_string());

        // A rebuild's generation is opened as it is approved.
        let (mut rebuilt, rebuilt_directory, fields) = generation_writer(&fixture.location, "e1-2");
        for id in 1..=3u64 {
            rebuilt.add_document(doc!(fields.item_id => id, fields.title => "rebuilt")).unwrap();
        }
        rebuilt.commit().unwrap();
        let third = approve(&fixture, "e1-2", &rebuilt_directory.meta().unwrap());
        step(&fixture, &search, &mut follower);
        let open = search.searcher().unwrap();
        assert_eq!((open.id, open.searcher.num_docs()), (Some(third), 3));
        // A node removed as silent and registered again records its commit again.
        diesel::delete(index_readers::table).execute(&mut **fixture.database.get().unwrap()).unwrap();
        step(&fixture, &search, &mut follower);
        assert_eq!(recorded(&fixture), third.to_string());
    }

    #[test]
    fn an_earlier_versions_index_is_read_through_its_pointer_until_the_first_approval() {
        let fixture = fixture();
        let (mut writer, directory, fields) = generation_writer(&fixture.location, "g1-e1-20261124000000");
        writer.add_document(doc!(fields.item_id => 1u64, fields.title => "legacy")).unwrap();
        writer.commit().unwrap();
        std::fs::write(fixture.location.path("current"), "g1-e1-20261124000000").unwrap();
        let search = SearchIndex::new(fixture.location.clone());
        let mut follower = Follower::default();
        step(&fixture, &search, &mut follower);
        assert_eq!(search.searcher().unwrap().id, None);
        assert_eq!(search.searcher().unwrap().searcher.num_docs(), 1);
        writer.add_document(doc!(fields.item_id => 2u64, fields.title => "legacy")).unwrap();
        writer.commit().unwrap();
        step(&fixture, &search, &mut follower);
        assert_eq!(search.searcher().unwrap().searcher.num_docs(), 2, "an earlier version's master is followed");
        let adopted = approve(&fixture, "g1-e1-20261124000000", &directory.meta().unwrap());
        step(&fixture, &search, &mut follower);
        assert_eq!(search.searcher().unwrap().id, Some(adopted));
    }

    #[test]
    fn an_index_of_another_version_reads_as_being_rebuilt() {
        let fixture = fixture();
        let path = fixture.location.path("e1-1");
        std::fs::create_dir_all(&path).unwrap();
        let mut schema = tantivy::schema::Schema::builder();
        schema.add_text_field("title", tantivy::schema::TEXT);
        Index::create_in_dir(&path, schema.build()).unwrap();
        approve(&fixture, "e1-1", &std::fs::read_to_string(path.join("meta.json")).unwrap());
        let search = SearchIndex::new(fixture.location.clone());
        step(&fixture, &search, &mut Follower::default());
        assert!(unavailable(&search).contains("rebuilt"));
    }
}
