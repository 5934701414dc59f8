use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, Reply, TestApp, done_when, wait_until};

pub(crate) async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.cluster.heartbeat_interval = Duration::from_millis(200);
        settings.cluster.node_timeout = Duration::from_millis(1500);
    })
    .await
}

pub(crate) fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn search(api: &Api, query: &str) -> Reply {
    api.get(&format!("/api/v1/search?q={}", url_encode(query))).await
}

/// Indexes what is queued, then searches until `expected` hits come back: the node's reader
/// switches to the new commit within about 250 ms.
pub(crate) async fn search_until(app: &TestApp, api: &Api, query: &str, expected: usize) -> Value {
    app.index_now().await;
    wait_until(&format!("{query:?} giving {expected} hits"), Duration::from_secs(10), async || {
        let reply = search(api, query).await;
        if reply.status == StatusCode::OK && reply.body["total"] == expected {
            return ControlFlow::Break(reply.body);
        }
        // What the index holds and which commit each node reads (for administrators).
        let status = api.get("/api/v1/cluster").await.body["search"].clone();
        ControlFlow::Continue(format!("{} {}; search status: {status}", reply.status, reply.body))
    })
    .await
}

on_both_backends!(
    items_are_found_by_title_description_comments_and_file_names_with_highlights,
    search_never_shows_anything_of_projects_the_caller_cannot_see,
    field_filters_narrow_the_results,
    malformed_queries_are_searched_literally_or_refused_never_a_server_error,
    a_bare_item_number_opens_that_item,
    the_cluster_status_shows_the_index_queue_and_the_last_commit,
    text_attachments_and_dates_are_searchable,
    a_rebuild_switches_to_a_new_generation_while_search_answers_and_loses_no_change,
    the_command_line_rebuilds_the_index_showing_the_result,
    a_replaced_file_goes_as_soon_as_no_node_reads_it_and_stays_while_one_does,
    a_reader_that_stops_heartbeating_keeps_its_commit_for_the_grace_period,
    an_index_of_the_earlier_layout_is_adopted_and_stays_searchable,
);

async fn cluster_search(api: &Api) -> Value {
    let reply = api.get("/api/v1/cluster").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["search"].clone()
}

/// Builds the first index and applies every queued change, then waits until this node's
/// reader has the approved commit open; returns the search status. A reader records a commit
/// before it opens it, so the approved commit alone in its record (an older one is dropped only
/// after the switch) and search answering (not 503 before the first one is open) mean it is open.
pub(crate) async fn index_everything(app: &TestApp) -> Value {
    app.index_now().await;
    wait_until("the node reading the approved commit", Duration::from_secs(10), async || {
        let search = cluster_search(&app.admin).await;
        let approved = &search["last_commit"]["id"];
        let read = search["readers"].as_array().into_iter().flatten().any(|reader| {
            reader["node"] == "test-node"
                && reader["commits"].as_array().is_some_and(|ids| ids.as_slice() == std::slice::from_ref(approved))
        });
        let answering =
            read && app.admin.get("/api/v1/search?q=indexed").await.status != StatusCode::SERVICE_UNAVAILABLE;
        if search["generation"].is_string() && search["queue_depth"] == 0 && answering {
            ControlFlow::Break(search)
        } else {
            ControlFlow::Continue(search)
        }
    })
    .await
}

async fn a_rebuild_switches_to_a_new_generation_while_search_answers_and_loses_no_change(backend: Backend) {
    let _alone = crate::support::HEAVY.lock().await;
    let app = spawn(backend).await;
    // Enough items that the build takes a while, so that changes land while it runs.
    baton::demo::generate(&app.database(), 20_000, Some(7)).unwrap();
    let before = index_everything(&app).await;
    let member = app.create_user("mona").await;
    assert_eq!(member.post("/api/v1/search/rebuilds", json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(member.get("/api/v1/search/rebuilds").await.status, StatusCode::FORBIDDEN);

    let requested = app.admin.post("/api/v1/search/rebuilds", json!({})).await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.body);
    let id = requested.body["id"].as_i64().unwrap();
    // Asking again while it waits or runs gives the same request.
    let again = app.admin.post("/api/v1/search/rebuilds", json!({})).await;
    if again.status == StatusCode::OK {
        assert_eq!(again.body["id"], id);
    } else {
        assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    }
    // While it runs: items change (an old one edited, new ones created) and search answers.
    let first = app.admin.get("/api/v1/items?sort=id&limit=1").await.body["items"][0].clone();
    let mut narwhals = 0;
    let mut created_while_running = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let reply = app.admin.get(&format!("/api/v1/search/rebuilds/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["state"] == "running" {
            created_while_running += 1;
        }
        if narwhals == 0 {
            let edited = app
                .admin
                .patch(
                    &format!("/api/v1/items/{}", first["id"]),
                    json!({"title": "Narwhal in the first item", "version": first["version"]}),
                )
                .await;
            assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
        }
        app.admin.create_item("OPS", &format!("Narwhal number {narwhals}")).await;
        narwhals += 1;
        let answer = search(&app.admin, "login").await;
        assert_eq!(answer.status, StatusCode::OK, "search stopped answering during the rebuild: {}", answer.body);
        if reply.body["state"] == "finished" {
            break reply.body;
        }
        assert!(Instant::now() < deadline, "the rebuild did not finish: {}", reply.body);
    };
    assert!(created_while_running > 0, "no change landed while the rebuild ran: {finished}");
    assert!(finished["items_done"].as_i64().unwrap() >= 20_000, "{finished}");
    assert!(finished["duration_ms"].is_i64() && finished["error"].is_null(), "{finished}");
    let after = index_everything(&app).await;
    assert_ne!(after["generation"], before["generation"], "no switch to a new generation");
    assert_eq!(after["generation"], finished["generation"]);
    assert_eq!(after["rebuild"]["id"], id);
    // Every change is in the new generation: the edited item and each created one, once.
    let found = search_until(&app, &app.admin, "narwhal", narwhals + 1).await;
    assert_eq!(found["total"], narwhals + 1);
    let listed = app.admin.get("/api/v1/search/rebuilds").await;
    assert_eq!(listed.body[0]["id"], id, "{}", listed.body);
}

async fn the_command_line_rebuilds_the_index_showing_the_result(backend: Backend) {
    let app = spawn(backend).await;
    app.admin.post("/api/v1/projects", json!({"key": "OPS", "name": "Operations"})).await;
    for number in 0..5 {
        app.admin.create_item("OPS", &format!("Okapi report {number}")).await;
    }
    let before = index_everything(&app).await;
    let database_url = app.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("reindex")
            .env("BATON_DATABASE_URL", database_url)
            .env("BATON_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("requested") && stdout.contains("rebuilt the search index: 5 items"), "{stdout}");
    let after = index_everything(&app).await;
    assert_ne!(after["generation"], before["generation"]);
    assert_eq!(search_until(&app, &app.admin, "okapi", 5).await["total"], 5);
}

async fn text_attachments_and_dates_are_searchable(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "With files").await;
    let id = item["id"].as_i64().unwrap();
    for (name, mime, content) in [
        ("notes.txt", "text/plain", "the platypus escaped"),
        ("page.html", "text/html", "<p>an echidna</p><script>koala()</script>"),
        ("blob.bin", "application/octet-stream", "wallaby"),
    ] {
        let form =
            Form::new().part("file", Part::bytes(content.as_bytes().to_vec()).file_name(name).mime_str(mime).unwrap());
        let reply = app
            .admin
            .send(app.admin.client.post(app.url(&format!("/api/v1/items/{id}/attachments"))).multipart(form))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    assert_eq!(search_until(&app, &app.admin, "platypus", 1).await["hits"][0]["item"]["id"], id);
    search_until(&app, &app.admin, "echidna", 1).await;
    search_until(&app, &app.admin, "koala", 0).await;
    search_until(&app, &app.admin, "wallaby", 0).await;
    let today = item["created_at"].as_str().unwrap()[..10].to_string();
    search_until(&app, &app.admin, "files created:>2000-01-01", 1).await;
    search_until(&app, &app.admin, "files created:<2000-01-01", 0).await;
    search_until(&app, &app.admin, &format!("files created:{today}"), 1).await;
    search_until(&app, &app.admin, &format!("files updated:>={today}"), 1).await;
    let bad = search(&app.admin, "created:31.12.2026").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["error"]["message"].as_str().unwrap().contains("2026-01-31"), "{}", bad.body);
}

async fn the_cluster_status_shows_the_index_queue_and_the_last_commit(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("OPS", false).await;
    app.admin.create_item("OPS", "Counted").await;
    search_until(&app, &app.admin, "counted", 1).await;
    let status = app.admin.get("/api/v1/cluster").await.body;
    assert_eq!(status["search"]["queue_depth"], 0, "the queue was not drained: {status}");
    assert_eq!(status["search"]["oldest_unindexed_age_ms"], Value::Null);
    assert_eq!(status["search"]["last_commit"]["epoch"], status["epoch"], "{status}");
    assert!(status["search"]["last_commit"]["committed_at"].is_string(), "{status}");
    assert!(status["search"]["generation"].is_string());
}

async fn items_are_found_by_title_description_comments_and_file_names_with_highlights(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app
        .admin
        .post("/api/v1/items", json!({"project": "OPS", "title": "Disk full on database servers", "description": "Die **Berichte** fehlen seit [Montag](https://example.com/montag)."}))
        .await
        .body;
    let id = item["id"].as_i64().unwrap();
    app.admin.post(&format!("/api/v1/items/{id}/comments"), json!({"body": "The nightly <backup> failed again"})).await;
    let form = Form::new().part("file", Part::bytes(b"trace".to_vec()).file_name("kernel-panic.log"));
    app.admin.send(app.admin.client.post(app.url(&format!("/api/v1/items/{id}/attachments"))).multipart(form)).await;
    app.admin.create_item("OPS", "Unrelated printer jam").await;

    let found = search_until(&app, &app.admin, "backup", 1).await;
    let hit = &found["hits"][0];
    assert_eq!(hit["item"]["id"], id);
    let snippet = hit["snippet_html"].as_str().unwrap();
    assert!(snippet.contains("<b>backup</b>"), "{snippet}");
    assert!(snippet.contains("&lt;"), "text is escaped: {snippet}");
    assert_eq!(search_until(&app, &app.admin, "kernel", 1).await["hits"][0]["item"]["id"], id);
    let stemmed = search_until(&app, &app.admin, "server", 1).await;
    assert!(stemmed["hits"][0]["title_html"].as_str().unwrap().contains("<b>"), "{stemmed}");
    let german = search_until(&app, &app.admin, "Bericht", 1).await;
    assert_eq!(german["hits"][0]["item"]["id"], id);
    let snippet = german["hits"][0]["snippet_html"].as_str().unwrap();
    assert!(snippet.starts_with("Die <b>Berichte</b> fehlen seit Montag."), "plain text, not Markdown: {snippet}");
    assert_eq!(search_until(&app, &app.admin, "\"disk full\"", 1).await["hits"][0]["item"]["id"], id);
    search_until(&app, &app.admin, "disk -servers", 0).await;
    search_until(&app, &app.admin, "printer OR backup", 2).await;
}

async fn search_never_shows_anything_of_projects_the_caller_cannot_see(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("SEC", false).await;
    app.create_project("PUB", true).await;
    app.admin.create_item("SEC", "Zebra secret plan").await;
    app.admin.create_item("PUB", "Zebra public notice").await;
    search_until(&app, &app.admin, "zebra", 2).await;
    let outsider = app.create_user("outsider").await;
    let seen = search_until(&app, &outsider, "zebra", 1).await;
    assert!(!seen.to_string().contains("secret"), "{seen}");
    search_until(&app, &outsider, "secret", 0).await;
    // Refused as for a project that does not exist: nothing tells that SEC does.
    let hidden = search(&outsider, "project:SEC").await;
    let missing = search(&outsider, "project:NOPE").await;
    assert_eq!(hidden.status, StatusCode::BAD_REQUEST, "{}", hidden.body);
    assert_eq!(hidden.body.to_string().replace("SEC", "NOPE"), missing.body.to_string());
    app.add_member("SEC", &outsider, "viewer").await;
    search_until(&app, &outsider, "project:SEC", 1).await;
    search_until(&app, &outsider, "zebra", 2).await;
}

async fn field_filters_narrow_the_results(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let dev = app.create_user("dev").await;
    app.add_member("OPS", &dev, "developer").await;
    let assigned = app
        .admin
        .post("/api/v1/items", json!({"project": "OPS", "title": "Widget one", "assignee_id": dev.user_id, "priority_id": 4, "type_id": 2}))
        .await
        .body;
    let closed = app.admin.create_item("OPS", "Widget two").await;
    app.admin.patch(&format!("/api/v1/items/{}", closed["id"]), json!({"version": 1, "status_id": 5})).await;
    app.admin.create_item("WEB", "Widget three").await;
    search_until(&app, &app.admin, "widget", 3).await;
    search_until(&app, &app.admin, "widget project:ops", 2).await;
    search_until(&app, &app.admin, "widget status:closed", 1).await;
    search_until(&app, &app.admin, "widget status:open", 2).await;
    search_until(&app, &app.admin, "widget status:rejected", 1).await;
    assert_eq!(search_until(&app, &dev, "assignee:me", 1).await["hits"][0]["item"]["id"], assigned["id"]);
    search_until(&app, &app.admin, "assignee:dev widget", 1).await;
    search_until(&app, &app.admin, "assignee:none widget", 2).await;
    search_until(&app, &app.admin, "type:feature", 1).await;
    search_until(&app, &app.admin, "priority:urgent", 1).await;
    // A value that names nothing the caller can see is refused, naming it and what would do;
    // a project the caller cannot read is named like one that does not exist.
    for (who, query, message) in [
        (&app.admin, "priority:nonsense", "priority:nonsense names no priority: use one of Low, Normal, High, Urgent"),
        (&app.admin, "widget -status:bogus", "status:bogus names no status: use one of open, closed, New,"),
        (&app.admin, "project:NOPE", "project:NOPE names no project you can read"),
        (&dev, "project:WEB", "project:WEB names no project you can read"),
        (&dev, "project:NOPE", "project:NOPE names no project you can read"),
        (&app.admin, "assignee:nobody", "assignee:nobody names no user: use me, none or a login"),
    ] {
        let refused = search(who, query).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}: {}", refused.body);
        assert_eq!(refused.body["error"]["field"], "q");
        let said = refused.body["error"]["message"].as_str().unwrap();
        assert!(said.contains(message), "{query}: {said}");
    }
    let page = app.admin.get(&format!("/api/v1/search?q={}&limit=1&offset=1", url_encode("widget"))).await;
    assert_eq!(page.body["total"], 3);
    assert_eq!(page.body["hits"].as_array().unwrap().len(), 1);
}

async fn malformed_queries_are_searched_literally_or_refused_never_a_server_error(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("OPS", false).await;
    app.admin.create_item("OPS", "colour red").await;
    search_until(&app, &app.admin, "colour", 1).await;
    for query in ["\"unbalanced", "-", "+", "colour:red", "AND OR NOT", "(((", "title:", ":", "field:\"x"] {
        let reply = search(&app.admin, query).await;
        assert_eq!(reply.status, StatusCode::OK, "{query:?}: {}", reply.body);
    }
    // An unknown word:value is text, and the answer says so.
    let literal = search_until(&app, &app.admin, "colour:red", 1).await;
    assert_eq!(
        literal["notes"][0].as_str().unwrap().split(". Filters:").next(),
        Some("colour: is not a filter, so colour:red was searched as text")
    );
    assert_eq!(
        search(&app.admin, "see https://example.com at 10:30").await.body["notes"],
        json!([]),
        "a URL and a time are text"
    );
    let long = search(&app.admin, &"a".repeat(10_000)).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert_eq!(long.body["error"]["field"], "q");
    // Text with a NUL is refused on every route (PostgreSQL cannot look it up).
    let nul = search(&app.admin, "\u{0}").await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST);
    assert_eq!(nul.body["error"]["field"], "q");
    assert_eq!(app.admin.get("/api/v1/search?q=x&limit=0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.admin.get("/api/v1/search").await.status, StatusCode::BAD_REQUEST);
}

async fn a_bare_item_number_opens_that_item(backend: Backend) {
    let app = spawn(backend).await;
    app.create_project("OPS", false).await;
    let item = app.admin.create_item("OPS", "Numbered").await;
    let reply = search(&app.admin, &format!("#{}", item["id"])).await;
    assert_eq!(reply.body["item"]["title"], "Numbered");
    let outsider = app.create_user("outsider").await;
    let hidden = search(&outsider, &item["id"].to_string()).await;
    assert_eq!(hidden.body["item"], Value::Null);
    assert_eq!(hidden.body["total"], 0);
    // Said alike of an item the caller may not see and of one that does not exist.
    assert_eq!(hidden.body["notes"], json!([format!("No item {} you can see.", item["id"])]));
    assert_eq!(search(&outsider, "#99999").await.body["notes"], json!(["No item #99999 you can see."]));
    assert_eq!(
        search_until(&app, &outsider, "OPS-1", 0).await["notes"],
        json!(["No item OPS-1 you can see; searched for it as text."])
    );
    assert_eq!(reply.body["notes"], json!([]));
    // The page shows the notes and the refusals.
    let browser = WebClient::sign_in(&app.address, "outsider", USER_PASSWORD).await;
    let page = browser.get("/search?q=%2399999").await;
    assert!(
        page.body.contains(r#"<p class="alert warn" role="status">No item #99999 you can see.</p>"#),
        "{}",
        page.body
    );
    let page = browser.get("/search?q=status%3Abogus").await;
    assert_eq!(page.status, StatusCode::OK);
    let refusal = r#"<p class="alert warn" role="alert">status:bogus names no status: use one of open, closed, New,"#;
    assert!(page.body.contains(refusal), "beside the box, without the field's name: {}", page.body);
}

/// Another node's reader, as the database sees it: registered, heartbeating (until told to
/// stop), with the commits it has open recorded.
struct OtherReader {
    identity: baton::cluster::registry::Identity,
    database: baton::db::Database,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl OtherReader {
    fn register(app: &TestApp) -> OtherReader {
        let identity = baton::cluster::registry::Identity {
            name: "reader-2".into(),
            instance: "instance-2".into(),
            hostname: "elsewhere".into(),
            base_url: "http://elsewhere".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_hash: "hash".into(),
            priority: -1,
        };
        let database = app.database();
        baton::cluster::registry::register(&mut database.get().unwrap(), &identity, Duration::from_secs(10)).unwrap();
        let (beat_identity, beat_database) = (identity.clone(), database.clone());
        let heartbeat = tokio::spawn(async move {
            loop {
                let (identity, database) = (beat_identity.clone(), beat_database.clone());
                database
                    .write(move |connection| baton::cluster::registry::heartbeat(connection, &identity))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        OtherReader { identity, database, heartbeat }
    }

    fn reads(&self, commit: i64) {
        let recorded = baton::search::commits::record_open(
            &mut self.database.get().unwrap(),
            &self.identity.name,
            &self.identity.instance,
            &commit.to_string(),
        );
        assert!(recorded.unwrap(), "the other reader is registered");
    }
}

impl Drop for OtherReader {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

fn approved(app: &TestApp) -> baton::search::commits::ApprovedCommit {
    baton::search::commits::latest(&mut app.database().get().unwrap()).unwrap().expect("an approved commit")
}

/// The files of `commit` in its generation on disk.
fn files_of(app: &TestApp, commit: &baton::search::commits::ApprovedCommit) -> Vec<std::path::PathBuf> {
    let uses = baton::search::commits::CommitFiles::of(&commit.meta).unwrap();
    let path = app.data_dir.join("index").join(&commit.generation);
    std::fs::read_dir(&path)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| uses.uses(name))
        .map(|name| path.join(name))
        .collect()
}

/// Several items one by one (several segments), a reader elsewhere holding the commit that
/// has them, and a merge that replaces those segments.
async fn merged_while_another_reader_holds_a_commit(app: &TestApp) -> (OtherReader, Vec<std::path::PathBuf>) {
    app.create_project("OPS", false).await;
    for number in 0..4 {
        app.admin.create_item("OPS", &format!("Kiwi number {number}")).await;
        search_until(app, &app.admin, "kiwi", number + 1).await;
    }
    index_everything(app).await;
    let held = approved(app);
    let other = OtherReader::register(app);
    other.reads(held.id);
    let held_files = files_of(app, &held);
    assert!(held_files.len() >= 4 * 6, "four segments' files: {held_files:?}");
    let run = crate::jobs::run_job(app, "index_merge").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    // Readers get the merged segment, so that the replaced files are no longer needed here.
    let held_segments = baton::search::commits::CommitFiles::of(&held.meta).unwrap();
    wait_until("the merge approved", Duration::from_secs(10), async || {
        let approved = approved(app);
        done_when(baton::search::commits::CommitFiles::of(&approved.meta).unwrap() != held_segments, approved.id)
    })
    .await;
    (other, held_files)
}

async fn a_replaced_file_goes_as_soon_as_no_node_reads_it_and_stays_while_one_does(backend: Backend) {
    // A node timeout long enough that the other reader's heartbeat, late on a loaded machine,
    // never makes it count as silent (its commits would then be kept for the grace period).
    let app = TestApp::spawn_with(backend, |settings| {
        settings.cluster.heartbeat_interval = Duration::from_millis(500);
        settings.cluster.node_timeout = Duration::from_secs(10);
    })
    .await;
    let (other, held_files) = merged_while_another_reader_holds_a_commit(&app).await;
    // Many collector rounds later, every file of the commit the other node reads is there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let missing: Vec<_> = held_files.iter().filter(|file| !file.exists()).collect();
    assert!(missing.is_empty(), "files a live reader uses were removed: {missing:?}");
    search_until(&app, &app.admin, "kiwi", 4).await;

    // Once it reads the newest commit, the replaced files go (not minutes later).
    let newest = approved(&app);
    other.reads(newest.id);
    let still_used = files_of(&app, &newest);
    let replaced: Vec<_> = held_files.iter().filter(|file| !still_used.contains(file)).collect();
    assert!(!replaced.is_empty());
    wait_until("replaced files gone after their last reader", Duration::from_secs(5), async || {
        let left: Vec<_> = replaced.iter().filter(|file| file.exists()).collect();
        done_when(left.is_empty(), left)
    })
    .await;
    assert!(still_used.iter().all(|file| file.exists()));
    search_until(&app, &app.admin, "kiwi", 4).await;
}

async fn a_reader_that_stops_heartbeating_keeps_its_commit_for_the_grace_period(backend: Backend) {
    let app = spawn(backend).await;
    let (other, held_files) = merged_while_another_reader_holds_a_commit(&app).await;
    let held = held_files.clone();
    // It falls silent (paused, cut off or dead: nobody can tell), and is removed at the
    // node timeout (1.5 s here) with its record.
    other.heartbeat.abort();
    wait_until("the silent reader removed", Duration::from_secs(10), async || {
        let rows = app.count_rows("cluster_nodes WHERE name = 'reader-2'");
        done_when(rows == 0, rows)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let missing: Vec<_> = held.iter().filter(|file| !file.exists()).collect();
    assert!(missing.is_empty(), "the commit of a reader that fell silent was not kept: {missing:?}");
    assert!(app.count_rows("index_commits WHERE pinned_at IS NOT NULL") >= 1);
}

async fn an_index_of_the_earlier_layout_is_adopted_and_stays_searchable(backend: Backend) {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let sqlite_url = format!("sqlite://{}", folder.path().join("baton.db").display());
    let earlier = TestApp::spawn_with(backend, |settings| {
        settings.data_dir = data_dir.clone();
        if backend == Backend::Sqlite {
            settings.database_url = sqlite_url.clone();
        }
    })
    .await;
    earlier.create_project("OPS", false).await;
    for number in 0..3 {
        earlier.admin.create_item("OPS", &format!("Tapir number {number}")).await;
    }
    search_until(&earlier, &earlier.admin, "tapir", 3).await;
    index_everything(&earlier).await;
    let commit = approved(&earlier);
    let database_url = earlier.database_url.clone();
    let database = earlier.database();
    drop(earlier);

    // What an earlier version left: one directory, named by the pointer file `current`,
    // with its meta.json on disk, and no approved commits in the database.
    let index = data_dir.join("index");
    std::fs::rename(index.join(&commit.generation), index.join("g1-e1-20261124101500")).unwrap();
    for entry in std::fs::read_dir(&index).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "g1-e1-20261124101500" {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
    std::fs::write(index.join("g1-e1-20261124101500/meta.json"), &commit.meta).unwrap();
    std::fs::write(index.join("current"), "g1-e1-20261124101500").unwrap();
    diesel::RunQueryDsl::execute(
        diesel::delete(baton::db::schema::index_commits::table),
        &mut **database.get().unwrap(),
    )
    .unwrap();
    let rebuilds_before = {
        use diesel::prelude::*;
        baton::db::schema::search_rebuilds::table.count().get_result::<i64>(&mut **database.get().unwrap()).unwrap()
    };

    let upgraded = TestApp::spawn_with(backend, |settings| {
        settings.data_dir = data_dir.clone();
        settings.database_url = database_url.clone();
        settings.cluster.heartbeat_interval = Duration::from_millis(200);
        settings.cluster.node_timeout = Duration::from_millis(1500);
    })
    .await;
    search_until(&upgraded, &upgraded.admin, "tapir", 3).await;
    upgraded.admin.create_item("OPS", "Tapir number 3").await;
    search_until(&upgraded, &upgraded.admin, "tapir", 4).await;
    let rebuilds_after = {
        use diesel::prelude::*;
        baton::db::schema::search_rebuilds::table.count().get_result::<i64>(&mut **database.get().unwrap()).unwrap()
    };
    assert_eq!(rebuilds_after, rebuilds_before, "the earlier index was adopted, not rebuilt");
    assert!(!index.join("current").exists(), "the pointer file is gone");
    let earlier_directory = index.join("g1-e1-20261124101500");
    wait_until("the earlier directory removed after every reader left it", Duration::from_secs(10), async || {
        done_when(!earlier_directory.exists(), earlier_directory.display().to_string())
    })
    .await;
}
