use baton::config::Settings;
use baton::db::Database;
use diesel::connection::SimpleConnection;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    migrations_go_up_down_and_up_again,
    a_schema_newer_than_the_binary_is_refused,
    two_nodes_starting_at_once_on_an_empty_database_both_come_up,
);

fn database_for(url: &str) -> Database {
    let settings = Settings { database_url: url.to_string(), pool_size: 2, ..Settings::default() };
    Database::connect(&settings).expect("database")
}

fn migration_names(backend: &str) -> Vec<String> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migration_names_each_with_up_and_down() {
    let sqlite = migration_names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_names("postgres"));
    for backend in ["sqlite", "postgres"] {
        for name in &sqlite {
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend).join(name);
            assert!(folder.join("up.sql").is_file() && folder.join("down.sql").is_file(), "{}", folder.display());
        }
    }
}

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let folder = tempfile::tempdir().unwrap();
    let url = backend.fresh_database_url(folder.path());
    tokio::task::spawn_blocking(move || {
        let database = database_for(&url);
        assert!(!database.migrate().unwrap().is_empty());
        assert!(database.migrate().unwrap().is_empty(), "a second run has nothing to do");
        database.revert_all_migrations().unwrap();
        let again = database.migrate().unwrap();
        assert_eq!(again.len(), migration_names("sqlite").len());
    })
    .await
    .unwrap();
}

async fn a_schema_newer_than_the_binary_is_refused(backend: Backend) {
    let folder = tempfile::tempdir().unwrap();
    let url = backend.fresh_database_url(folder.path());
    tokio::task::spawn_blocking(move || {
        let database = database_for(&url);
        database.migrate().unwrap();
        database
            .get()
            .unwrap()
            .batch_execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')")
            .unwrap();
        let error = database.migrate().unwrap_err().to_string();
        assert!(error.contains("29991231000000") && error.contains("newer baton"), "{error}");
    })
    .await
    .unwrap();
}

async fn two_nodes_starting_at_once_on_an_empty_database_both_come_up(backend: Backend) {
    let shared = tempfile::tempdir().unwrap();
    let url = backend.fresh_database_url(shared.path());
    let data_dir = shared.path().join("data");
    let configure = |name: &'static str| {
        let url = url.clone();
        let data_dir = data_dir.clone();
        move |settings: &mut Settings| {
            settings.database_url = url;
            settings.data_dir = data_dir;
            settings.node.name = Some(name.into());
        }
    };
    let (first, second) =
        tokio::join!(TestApp::spawn_with(backend, configure("one")), TestApp::spawn_with(backend, configure("two")),);
    first.create_project("BOTH", false).await;
    let item = first.admin.create_item("BOTH", "Seen by both").await;
    let seen = second.admin.get(&format!("/api/v1/items/{}", item["id"])).await;
    assert_eq!(seen.body["title"], "Seen by both");
    assert_eq!(first.count_rows("users"), 1, "exactly one first admin");
}
