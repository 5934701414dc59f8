//! Nodes on a network file system: each in a network namespace of its own, the data
//! directory mounted over sshfs, PostgreSQL. What readers see is decided by the database, a
//! deposed master's late commit is never read, and no file a commit in use names is deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::search::commits::CommitFiles;
use baton::search::directory::ApprovedDirectory;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::shared_storage::{HEARTBEAT, Lab, NODE_TIMEOUT};
use crate::support::{Api, done_when, wait_until};

const FAILOVER: Duration = Duration::from_secs(20);

/// Approved commits as the database holds them: (id, epoch, generation, meta).
fn approved_commits(lab: &Lab) -> Vec<(i64, i64, String, String)> {
    use baton::db::schema::index_commits;
    index_commits::table
        .order(index_commits::id.asc())
        .select((index_commits::id, index_commits::epoch, index_commits::generation, index_commits::meta))
        .load(&mut **lab.connection())
        .unwrap()
}

/// What each node's reader records as open, newest first.
fn open_commits(lab: &Lab) -> BTreeMap<String, Vec<i64>> {
    use baton::db::schema::{cluster_nodes, index_readers};
    index_readers::table
        .inner_join(
            cluster_nodes::table.on(cluster_nodes::name
                .eq(index_readers::node)
                .and(cluster_nodes::instance.eq(index_readers::instance))),
        )
        .select((index_readers::node, index_readers::open_commits))
        .load::<(String, String)>(&mut **lab.connection())
        .unwrap()
        .into_iter()
        .map(|(node, open)| (node, baton::search::commits::parse_open(&open)))
        .collect()
}

/// Every approved row, as seen by polling the table: an approval of an older epoch after
/// one of a newer epoch would be a deposed master's commit made visible.
/// An approved commit's epoch, generation and meta, by id.
type Seen = BTreeMap<i64, (i64, String, String)>;

struct Approvals {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Approvals {
    fn watch(lab: &Lab) -> Approvals {
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let settings =
            baton::config::Settings { database_url: lab.database_url.clone(), pool_size: 1, ..Default::default() };
        let (thread_seen, thread_stop) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            use baton::db::schema::index_commits;
            let database = baton::db::Database::connect(&settings).unwrap();
            let mut connection = database.get().unwrap();
            while !thread_stop.load(Ordering::SeqCst) {
                let after = thread_seen.lock().unwrap().keys().next_back().copied().unwrap_or(0);
                let rows: Vec<(i64, i64, String, String)> = index_commits::table
                    .filter(index_commits::id.gt(after))
                    .order(index_commits::id.asc())
                    .select((index_commits::id, index_commits::epoch, index_commits::generation, index_commits::meta))
                    .load(&mut **connection)
                    .unwrap();
                let rows = rows.into_iter().map(|(id, epoch, generation, meta)| (id, (epoch, generation, meta)));
                thread_seen.lock().unwrap().extend(rows);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Approvals { seen, stop, thread: Some(thread) }
    }

    fn assert_epochs_never_went_back(&self) {
        let seen = self.seen.lock().unwrap();
        let epochs: Vec<(i64, i64)> = seen.iter().map(|(id, (epoch, ..))| (*id, *epoch)).collect();
        assert!(epochs.windows(2).all(|pair| pair[0].1 <= pair[1].1), "an older epoch was approved later: {epochs:?}");
    }

    fn metas(&self) -> BTreeSet<String> {
        self.seen.lock().unwrap().values().map(|(.., meta)| meta.clone()).collect()
    }

    /// The generation of the last commit `epoch` had approved.
    fn generation_of(&self, epoch: i64) -> String {
        let seen = self.seen.lock().unwrap();
        let last = seen.values().rfind(|(approved_by, ..)| *approved_by == epoch);
        last.map(|(_, generation, _)| generation.clone()).unwrap_or_else(|| panic!("epoch {epoch} approved nothing"))
    }
}

impl Drop for Approvals {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The files a commit names (from its meta.json), each of which must exist.
fn files_of(lab: &Lab, generation: &str, meta: &str) -> Vec<String> {
    let path = lab.data_dir().join("index").join(generation);
    let used = CommitFiles::of(meta).unwrap();
    let metas = tantivy::Index::open(ApprovedDirectory::open(&path, meta).unwrap()).unwrap().load_metas().unwrap();
    metas
        .list_segment_files()
        .into_iter()
        .map(|file| file.to_string_lossy().into_owned())
        .filter(|name| used.uses(name))
        .collect()
}

/// Every file of the approved commit and of every commit a node's reader has open exists
/// (read on the file server). Retried while commits change under the check: a file may go
/// once its commit is no longer in use.
fn assert_no_file_in_use_is_missing(lab: &Lab, step: &str) {
    for _ in 0..50 {
        let commits = approved_commits(lab);
        let open = open_commits(lab);
        let Some(approved) = commits.last().map(|commit| commit.0) else { panic!("{step}: nothing approved") };
        let in_use: BTreeSet<i64> = open.values().flatten().copied().chain([approved]).collect();
        let mut missing = Vec::new();
        for (id, _, generation, meta) in commits.iter().filter(|commit| in_use.contains(&commit.0)) {
            let path = lab.data_dir().join("index").join(generation);
            for name in files_of(lab, generation, meta) {
                if !path.join(&name).exists() {
                    missing.push(format!("commit {id}: {generation}/{name}"));
                }
            }
        }
        let stable = approved_commits(lab).last().map(|commit| commit.0) == Some(approved) && open_commits(lab) == open;
        if stable {
            assert!(missing.is_empty(), "{step}: files of commits in use are gone: {missing:?} (open: {open:?})");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{step}: the commits in use never held still for a check");
}

/// Creates `Wombat n` items through whichever node answers; returns the acknowledged titles.
fn start_creating(apis: Vec<Api>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        let mut number = 0;
        while !stop.load(Ordering::SeqCst) {
            let api = &apis[number % apis.len()];
            let title = format!("Wombat {number}");
            number += 1;
            let sent = api
                .client
                .post(format!("{}/api/v1/items", api.address))
                .bearer_auth(&api.token)
                .json(&json!({"project": "OPS", "title": title}))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if sent.is_ok_and(|response| response.status() == StatusCode::CREATED) {
                acknowledged.push(title);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        acknowledged
    })
}

/// Polls every node's count of `Wombat` items; a count that goes down means a reader went
/// back to an older commit. Returns the counts seen per node.
fn start_watching_totals(apis: Vec<(String, Api)>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        let mut went_back = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            for (node, api) in &apis {
                let answer = api
                    .client
                    .get(format!("{}/api/v1/search?q=wombat&limit=1", api.address))
                    .bearer_auth(&api.token)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                let Ok(response) = answer else { continue };
                let Ok(body) = response.json::<Value>().await else { continue };
                let Some(total) = body["total"].as_i64() else { continue };
                let before = last.insert(node.clone(), total).unwrap_or(0);
                if total < before {
                    went_back.push(format!("{node}: {before} → {total}"));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        went_back
    })
}

/// Every node finds each of the items exactly once.
async fn assert_every_node_finds_every_item_once(lab: &Lab, nodes: &[&str], word: &str, expected: &BTreeSet<i64>) {
    for node in nodes {
        let api = lab.admin(node).await;
        let what = format!("{node} finding all {} {word} items", expected.len());
        wait_until(&what, Duration::from_secs(30), async || {
            let reply = api.get(&format!("/api/v1/search?q={word}&limit=1")).await;
            done_when(
                reply.status == StatusCode::OK && reply.body["total"] == expected.len(),
                reply.body["total"].clone(),
            )
        })
        .await;
        let mut found = BTreeSet::new();
        for offset in (0..expected.len()).step_by(100) {
            let page = api.get(&format!("/api/v1/search?q={word}&limit=100&offset={offset}")).await;
            for hit in page.body["hits"].as_array().unwrap() {
                assert!(found.insert(hit["item"]["id"].as_i64().unwrap()), "{node} found an item twice: {hit}");
            }
        }
        assert_eq!(&found, expected, "{node} finds every item exactly once");
    }
}

fn item_ids(lab: &Lab, word: &str) -> BTreeSet<i64> {
    use baton::db::schema::items;
    items::table
        .filter(items::title.like(format!("{word}%")))
        .select(items::id)
        .load::<i64>(&mut **lab.connection())
        .unwrap()
        .into_iter()
        .collect()
}

async fn wait_until_searchable(api: &Api) {
    wait_until("search becoming available", Duration::from_secs(60), async || {
        let status = api.get("/api/v1/search?q=anything").await.status;
        done_when(status == StatusCode::OK, status)
    })
    .await;
}

fn lease_epoch(lab: &Lab) -> i64 {
    use baton::db::schema::cluster_lease;
    cluster_lease::table.select(cluster_lease::epoch).first(&mut **lab.connection()).unwrap()
}

/// The master is paused after its epoch check, before its commit, with a batch in hand. The
/// next master indexes everything while it is still paused (no stall behind its lock or
/// directory); resumed, the old master commits to its own directory, and no node ever reads
/// that commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_paused_between_its_epoch_check_and_its_commit_is_never_read_and_the_index_is_complete() {
    // n1 stays master until it reaches its commit, where the test freezes it: a pause
    // shorter than the node timeout is window enough, and the test does not run beside the
    // heaviest ones.
    let _alone = crate::support::HEAVY.lock().await;
    let Some(mut lab) = Lab::open().await else { return };
    lab.start("n1", &[("BATON_SEARCH__PAUSE_BEFORE_COMMIT", "1s")]).await;
    assert_eq!(lab.wait_for_master(FAILOVER).await, "n1");
    lab.start("n2", &[]).await;
    lab.start("n3", &[]).await;
    let on_n2 = lab.admin("n2").await;
    on_n2.post("/api/v1/projects", json!({"key": "OPS", "name": "Ops"})).await;
    wait_until_searchable(&on_n2).await;
    let approvals = Approvals::watch(&lab);
    let old_epoch = lease_epoch(&lab);

    let waits_before = lab.log("n1").matches("waiting before the index commit").count();
    for number in 0..5 {
        on_n2.create_item("OPS", &format!("Okapi before {number}")).await;
    }
    wait_until("the master reaching its commit", Duration::from_secs(20), async || {
        let log = lab.log("n1");
        done_when(log.matches("waiting before the index commit").count() > waits_before, (waits_before, log))
    })
    .await;
    lab.pause("n1");

    let new_master = lab.wait_for_master(FAILOVER).await;
    assert_ne!(new_master, "n1");
    let on_n3 = lab.admin("n3").await;
    for number in 0..5 {
        on_n3.create_item("OPS", &format!("Okapi after {number}")).await;
    }
    // All indexed and read on the other nodes while the old master is still paused.
    let okapis = item_ids(&lab, "Okapi");
    assert_eq!(okapis.len(), 10);
    assert_every_node_finds_every_item_once(&lab, &["n2", "n3"], "okapi", &okapis).await;
    let new_epoch = lease_epoch(&lab);
    assert!(new_epoch > old_epoch);

    let approved_before = approvals.metas();
    lab.resume("n1");
    // Its late commit lands in its own directory (the pause ends, the commit is made) ...
    let old_generation = approvals.generation_of(old_epoch);
    let old_directory = lab.data_dir().join("index").join(&old_generation);
    let what = format!("the paused master's late commit reaching {old_generation}");
    let late = wait_until(&what, Duration::from_secs(20), async || {
        let on_disk = std::fs::read_to_string(old_directory.join("meta.json")).unwrap_or_default();
        let payload: Value = serde_json::from_str::<Value>(&on_disk)
            .ok()
            .and_then(|meta| meta["payload"].as_str().and_then(|payload| serde_json::from_str(payload).ok()))
            .unwrap_or(Value::Null);
        if payload["epoch"] == old_epoch && !approved_before.contains(&on_disk) {
            ControlFlow::Break(on_disk)
        } else {
            ControlFlow::Continue((payload, lab.log_on_failure("n1")))
        }
    })
    .await;
    // ... and is never approved, so no reader opens it: the commits they open are approved
    // rows, and no row of the old epoch came after the new epoch's.
    wait_until(&format!("readers all moving to epoch {new_epoch}"), Duration::from_secs(10), async || {
        let commits = approved_commits(&lab);
        let open = open_commits(&lab);
        let epoch_of = |id: &i64| commits.iter().find(|commit| commit.0 == *id).map(|commit| commit.1);
        let all_new = open.len() == 3
            && open.values().all(|ids| {
                !ids.is_empty() && ids.iter().all(|id| epoch_of(id).is_some_and(|epoch| epoch >= new_epoch))
            });
        done_when(all_new, open)
    })
    .await;
    assert!(!approvals.metas().contains(&late), "the late commit was approved");
    approvals.assert_epochs_never_went_back();
    let ping = lab.ping("n1").await.expect("the resumed node answers");
    assert_eq!(ping["master"], false, "{ping}");
    // Everything once on every node, the resumed one included.
    assert_every_node_finds_every_item_once(&lab, &["n1", "n2", "n3"], "okapi", &okapis).await;
    assert_no_file_in_use_is_missing(&lab, "after the resume");
}

/// Three nodes on sshfs while items are created: the master killed, paused, handed over and
/// put into maintenance. After each step no file of a commit in use is missing; a node's
/// search never shows fewer items than before; at the end every node finds every item once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_on_a_network_file_system_never_go_back_nor_lose_a_file_through_kill_pause_handover_and_maintenance() {
    let _alone = crate::support::HEAVY.lock().await;
    let Some(mut lab) = Lab::open().await else { return };
    let names = ["n1", "n2", "n3"];
    for name in names {
        lab.start(name, &[]).await;
    }
    lab.wait_for_master(FAILOVER).await;
    let first = lab.admin("n1").await;
    first.post("/api/v1/projects", json!({"key": "OPS", "name": "Ops"})).await;
    wait_until_searchable(&first).await;
    let mut apis = Vec::new();
    for name in names {
        apis.push((name.to_string(), lab.admin(name).await));
    }
    let approvals = Approvals::watch(&lab);
    let stop = Arc::new(AtomicBool::new(false));
    let creator = start_creating(apis.iter().map(|(_, api)| api.clone()).collect(), stop.clone());
    let totals = start_watching_totals(apis.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_no_file_in_use_is_missing(&lab, "items being created");

    let master = lab.wait_for_master(FAILOVER).await;
    lab.kill(&master);
    lab.wait_for_master(FAILOVER).await;
    lab.start(&master, &[]).await;
    assert_no_file_in_use_is_missing(&lab, "master killed and restarted");

    let master = lab.wait_for_master(FAILOVER).await;
    lab.pause(&master);
    tokio::time::sleep(NODE_TIMEOUT + Duration::from_secs(1)).await;
    lab.resume(&master);
    lab.wait_for_master(FAILOVER).await;
    tokio::time::sleep(HEARTBEAT * 4).await;
    assert_no_file_in_use_is_missing(&lab, "master paused beyond the timeout");

    let master = lab.wait_for_master(FAILOVER).await;
    let target = names.into_iter().find(|name| *name != master).unwrap();
    let moved = lab.admin(target).await.post("/api/v1/cluster/master", json!({"node": target})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_no_file_in_use_is_missing(&lab, "handover");

    let master = lab.wait_for_master(FAILOVER).await;
    let admin = lab.admin(&master).await;
    let path = format!("/api/v1/cluster/nodes/{master}/maintenance");
    assert_eq!(admin.post(&path, json!({"on": true})).await.status, StatusCode::OK);
    wait_until("the master in maintenance handing over", FAILOVER, async || {
        let now_master = lab.wait_for_master(FAILOVER).await;
        done_when(now_master != master, now_master)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_no_file_in_use_is_missing(&lab, "master put into maintenance");
    assert_eq!(admin.post(&path, json!({"on": false})).await.status, StatusCode::OK);

    stop.store(true, Ordering::SeqCst);
    let acknowledged = creator.await.unwrap();
    let went_back = totals.await.unwrap();
    assert!(went_back.is_empty(), "a node's search went back to an older commit: {went_back:?}");
    approvals.assert_epochs_never_went_back();
    let wombats = item_ids(&lab, "Wombat");
    assert!(acknowledged.len() as u64 >= 50, "too few items were created: {}", acknowledged.len());
    assert!(acknowledged.len() <= wombats.len(), "an acknowledged item is missing");
    assert_every_node_finds_every_item_once(&lab, &names, "wombat", &wombats).await;
    assert_no_file_in_use_is_missing(&lab, "at rest");
}
