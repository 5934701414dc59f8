//! Links between items: each kind read from both sides, refused to itself, twice or in a
//! cycle, the blocked-close rule, closing as a duplicate in one step, history and mail on both
//! items — and a link to an item the viewer cannot read is nowhere to be seen.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::USER_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    each_kind_reads_from_both_sides_and_is_refused_to_itself_or_twice,
    a_cycle_of_blocks_or_of_precedes_is_refused_along_a_chain_of_50,
    an_item_closes_only_when_its_blockers_are_closed_and_closes_as_a_duplicate_in_one_step,
    a_link_to_an_item_the_viewer_cannot_read_is_invisible_everywhere,
    concurrent_writes_cannot_close_a_cycle_nor_close_a_blocked_item,
);

const REJECTED: i64 = 5;

async fn links(api: &Api, item: i64) -> Vec<(String, i64)> {
    let reply = api.get(&format!("/api/v1/items/{item}/links")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|link| (link["kind"].as_str().unwrap().to_string(), link["item"]["id"].as_i64().unwrap()))
        .collect()
}

async fn link(api: &Api, item: i64, kind: &str, target: i64) -> Value {
    let reply = api.post(&format!("/api/v1/items/{item}/links"), json!({"kind": kind, "target": target})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{kind} {target}: {}", reply.body);
    reply.body
}

/// The ids a search finds once the index holds `expected` hits.
async fn search_ids(app: &TestApp, api: &Api, query: &str, expected: usize) -> Vec<i64> {
    let found = crate::search::search_until(app, api, query, expected).await;
    found["hits"].as_array().unwrap().iter().map(|hit| hit["item"]["id"].as_i64().unwrap()).collect()
}

async fn new_item(api: &Api, project: &str, title: &str) -> i64 {
    api.create_item(project, title).await["id"].as_i64().unwrap()
}

async fn each_kind_reads_from_both_sides_and_is_refused_to_itself_or_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    let a = new_item(&developer, "OPS", "Login page").await;
    let b = new_item(&developer, "OPS", "Session store").await;

    for (kind, reverse) in [
        ("relates", "relates"),
        ("duplicates", "duplicated_by"),
        ("blocks", "blocked_by"),
        ("precedes", "follows"),
        ("copied_to", "copied_from"),
    ] {
        let created = link(&developer, a, kind, b).await;
        assert_eq!(created["kind"], kind);
        assert_eq!(created["item"]["id"], b);
        assert_eq!(created["item"]["title"], "Session store");
        assert_eq!(created["item"]["status"]["name"], "New");
        assert!(links(&developer, b).await.contains(&(reverse.to_string(), a)), "{reverse} from the other side");
        // The same link again, from either side and in either wording, is refused.
        for (from, said, to) in [(a, kind, b), (b, reverse, a), (b, kind, a)] {
            let again =
                developer.post(&format!("/api/v1/items/{from}/links"), json!({"kind": said, "target": to})).await;
            assert_eq!(again.status, StatusCode::CONFLICT, "{from} {said} {to}: {}", again.body);
        }
    }
    assert_eq!(
        links(&developer, a).await,
        vec![
            ("relates".into(), b),
            ("duplicates".into(), b),
            ("blocks".into(), b),
            ("precedes".into(), b),
            ("copied_to".into(), b),
        ]
    );
    // Said from the other side, a kind is stored the same way round.
    let c = new_item(&developer, "OPS", "Cookie banner").await;
    link(&developer, c, "blocked_by", a).await;
    assert!(links(&developer, a).await.contains(&("blocks".into(), c)));

    let to_itself = developer.post(&format!("/api/v1/items/{a}/links"), json!({"kind": "relates", "target": a})).await;
    assert_eq!((to_itself.status, to_itself.error_code()), (StatusCode::BAD_REQUEST, "invalid"));
    assert_eq!(to_itself.body["error"]["field"], "target", "{}", to_itself.body);
    let bad_kind = developer.post(&format!("/api/v1/items/{a}/links"), json!({"kind": "fixes", "target": b})).await;
    assert_eq!((bad_kind.status, bad_kind.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("kind")));
    let close_related = developer
        .post(&format!("/api/v1/items/{a}/links"), json!({"kind": "relates", "target": b, "close": true}))
        .await;
    assert_eq!(
        (close_related.status, close_related.body["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("close"))
    );
    let nowhere = developer.post(&format!("/api/v1/items/{a}/links"), json!({"kind": "relates", "target": 999})).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND, "{}", nowhere.body);

    // A reporter may read links but not change them.
    let reporter = app.create_user("rep").await;
    app.add_member("OPS", &reporter, "reporter").await;
    assert_eq!(links(&reporter, b).await.len(), 5);
    let refused = reporter.post(&format!("/api/v1/items/{a}/links"), json!({"kind": "relates", "target": c})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // Removed from the other side; both histories tell of it, and both items were touched.
    let listed = developer.get(&format!("/api/v1/items/{b}/links")).await.body;
    let blocked_by = listed["links"].as_array().unwrap().iter().find(|link| link["kind"] == "blocked_by").unwrap();
    let path = format!("/api/v1/items/{b}/links/{}", blocked_by["id"]);
    assert_eq!(reporter.delete(&path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        developer.delete(&format!("/api/v1/items/{c}/links/{}", blocked_by["id"])).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(developer.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(developer.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert!(!links(&developer, a).await.contains(&("blocks".into(), b)));
    // The history names the other item by its key.
    let key =
        async |id: i64| developer.get(&format!("/api/v1/items/{id}")).await.body["key"].as_str().unwrap().to_string();
    let (key_a, key_b) = (key(a).await, key(b).await);
    let history_a = developer.history(&format!("/api/v1/items/{a}")).await;
    assert!(history_a.contains(&("links".into(), Value::Null, json!(format!("blocks {key_b}")))), "{history_a:?}");
    assert!(history_a.contains(&("links".into(), json!(format!("blocks {key_b}")), Value::Null)), "{history_a:?}");
    let history_b = developer.history(&format!("/api/v1/items/{b}")).await;
    assert!(history_b.contains(&("links".into(), Value::Null, json!(format!("blocked_by {key_a}")))), "{history_b:?}");
    assert!(history_b.contains(&("links".into(), json!(format!("blocked_by {key_a}")), Value::Null)), "{history_b:?}");
}

async fn a_cycle_of_blocks_or_of_precedes_is_refused_along_a_chain_of_50(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let mut chain = Vec::new();
    for n in 0..50 {
        chain.push(new_item(&app.admin, "OPS", &format!("Step {n}")).await);
    }
    for pair in chain.windows(2) {
        link(&app.admin, pair[0], "blocks", pair[1]).await;
    }
    let (first, last) = (chain[0], chain[49]);
    let cycle =
        app.admin.post(&format!("/api/v1/items/{last}/links"), json!({"kind": "blocks", "target": first})).await;
    assert_eq!(cycle.status, StatusCode::CONFLICT, "{}", cycle.body);
    let message = cycle.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("cycle") && message.contains(&format!("#{} Step 25", chain[25])), "{message}");
    let said_backwards =
        app.admin.post(&format!("/api/v1/items/{first}/links"), json!({"kind": "blocked_by", "target": last})).await;
    assert_eq!(said_backwards.status, StatusCode::CONFLICT, "{}", said_backwards.body);
    // Another kind is another graph; a shortcut along the chain is no cycle.
    link(&app.admin, last, "precedes", first).await;
    link(&app.admin, chain[10], "blocks", chain[40]).await;
    let precedes_back =
        app.admin.post(&format!("/api/v1/items/{first}/links"), json!({"kind": "precedes", "target": last})).await;
    assert_eq!(precedes_back.status, StatusCode::CONFLICT, "{}", precedes_back.body);
    assert_eq!(app.count_rows("item_links"), 51);
}

async fn an_item_closes_only_when_its_blockers_are_closed_and_closes_as_a_duplicate_in_one_step(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let blocker = new_item(&app.admin, "OPS", "Upgrade the database").await;
    let blocked = new_item(&app.admin, "OPS", "Use the new index").await;
    link(&app.admin, blocker, "blocks", blocked).await;

    let close = |id: i64, version: i64| {
        let admin = &app.admin;
        async move { admin.patch(&format!("/api/v1/items/{id}"), json!({"version": version, "status_id": REJECTED})).await }
    };
    let refused = close(blocked, 1).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains(&format!("#{blocker} Upgrade the database")));
    assert_eq!(app.admin.get(&format!("/api/v1/items/{blocked}")).await.body["status"]["name"], "New");
    assert_eq!(close(blocker, 1).await.status, StatusCode::OK);
    assert_eq!(close(blocked, 1).await.status, StatusCode::OK, "closable once its blocker is closed");

    let original = new_item(&app.admin, "OPS", "Search is slow").await;
    let duplicate = new_item(&app.admin, "OPS", "Searching takes ages").await;
    let closed = app
        .admin
        .post(
            &format!("/api/v1/items/{duplicate}/links"),
            json!({"kind": "duplicates", "target": original, "close": true}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.body);
    assert_eq!(closed.body["kind"], "duplicates");
    let item = app.admin.get(&format!("/api/v1/items/{duplicate}")).await.body;
    assert_eq!(item["status"]["is_closed"], true, "{item}");
    assert!(links(&app.admin, original).await.contains(&("duplicated_by".into(), duplicate)));
    let history = app.admin.history(&format!("/api/v1/items/{duplicate}")).await;
    assert!(history.contains(&("status".into(), json!("New"), json!("Rejected"))), "{history:?}");

    // A duplicate that an open item blocks stays open, and its link is not stored either.
    let blocked_duplicate = new_item(&app.admin, "OPS", "Slow search again").await;
    link(&app.admin, original, "blocks", blocked_duplicate).await;
    let refused = app
        .admin
        .post(
            &format!("/api/v1/items/{blocked_duplicate}/links"),
            json!({"kind": "duplicates", "target": original, "close": true}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(links(&app.admin, blocked_duplicate).await, vec![("blocked_by".to_string(), original)]);
}

async fn a_link_to_an_item_the_viewer_cannot_read_is_invisible_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("SEC", false).await;
    let insider = app.create_user("insider").await;
    app.add_member("OPS", &insider, "developer").await;
    app.add_member("SEC", &insider, "developer").await;
    let outsider = app.create_user("outsider").await;
    app.add_member("OPS", &outsider, "developer").await;
    let watcher = app.create_user("watcher").await;
    app.add_member("OPS", &watcher, "viewer").await;
    app.add_member("SEC", &watcher, "viewer").await;
    let visible = new_item(&insider, "OPS", "Harden the login").await;
    let secret = new_item(&insider, "SEC", "Embargoed vulnerability").await;
    for api in [&outsider, &watcher] {
        assert_eq!(
            api.post(&format!("/api/v1/items/{visible}/watchers"), json!({})).await.status,
            StatusCode::NO_CONTENT
        );
    }
    let created = link(&insider, visible, "blocked_by", secret).await;
    assert_eq!(links(&insider, visible).await, vec![("blocked_by".to_string(), secret)]);

    // The outsider sees no link, no history of it, nothing on the page.
    assert!(links(&outsider, visible).await.is_empty());
    let history = outsider.history(&format!("/api/v1/items/{visible}")).await;
    assert!(!history.iter().any(|(field, ..)| field == "links"), "{history:?}");
    let browser = WebClient::sign_in(&app.address, "outsider", USER_PASSWORD).await;
    let page = browser.get(&format!("/items/{visible}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("Embargoed") && !page.body.contains(&format!("#{secret}")) && !page.body.contains("SEC-1"),
        "the page hints at the link"
    );
    let insider_browser = WebClient::sign_in(&app.address, "insider", USER_PASSWORD).await;
    let insiders_page = insider_browser.get(&format!("/items/{visible}")).await;
    assert!(insiders_page.body.contains("Embargoed vulnerability"), "the insider's page shows the link");
    // The page of the item at the link's other end shows it too (its statement finds a link
    // that starts or ends at the item).
    let other_end = insider_browser.get(&format!("/items/{secret}")).await;
    assert!(other_end.body.contains("Harden the login"), "the other end's page shows the link");
    // Linking to it or removing the link answers as for an item that does not exist.
    let probe =
        outsider.post(&format!("/api/v1/items/{visible}/links"), json!({"kind": "relates", "target": secret})).await;
    let nothing =
        outsider.post(&format!("/api/v1/items/{visible}/links"), json!({"kind": "relates", "target": 999})).await;
    assert_eq!(
        (probe.status, probe.body["error"]["message"].clone().as_str().map(|m| m.replace(&secret.to_string(), "N"))),
        (nothing.status, nothing.body["error"]["message"].clone().as_str().map(|m| m.replace("999", "N")))
    );
    assert_eq!(probe.status, StatusCode::NOT_FOUND);
    let removal = outsider.delete(&format!("/api/v1/items/{visible}/links/{}", created["id"])).await;
    assert_eq!(removal.status, StatusCode::NOT_FOUND);
    // Closing is refused without naming the blocker.
    let close = outsider.patch(&format!("/api/v1/items/{visible}"), json!({"version": 1, "status_id": REJECTED})).await;
    assert_eq!(close.status, StatusCode::CONFLICT, "{}", close.body);
    assert!(!close.body["error"]["message"].as_str().unwrap().contains(&secret.to_string()), "{}", close.body);
    // A developer who can only read the other project cannot link into it.
    let reader =
        watcher.post(&format!("/api/v1/items/{visible}/links"), json!({"kind": "relates", "target": secret})).await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN, "{}", reader.body);

    // Search: the structure filters tell the outsider nothing of the other item.
    assert_eq!(search_ids(&app, &insider, "is:blocked", 1).await, vec![visible]);
    assert_eq!(search_ids(&app, &insider, &format!("blocks:#{visible}"), 1).await, vec![secret]);
    assert!(search_ids(&app, &outsider, "is:blocked", 0).await.is_empty(), "a blocker the outsider cannot read");
    assert!(search_ids(&app, &outsider, &format!("blocks:#{visible}"), 0).await.is_empty());
    assert!(search_ids(&app, &outsider, &format!("blocks:#{secret}"), 0).await.is_empty());
    let bad = insider.get("/api/v1/search?q=is%3Afinished").await;
    assert_eq!((bad.status, bad.body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("q")));

    // Only the watcher who can read both items hears of the link.
    let queued = |login: &str| {
        app.count_rows(&format!(
            "mail_outbox WHERE event = 'linked' AND recipient_id = (SELECT id FROM users WHERE login = '{login}')"
        ))
    };
    assert_eq!((queued("watcher"), queued("outsider")), (1, 0));
    app.send_mail_now().await;
    let mails: Vec<String> = std::fs::read_dir(app.data_dir.join("mail-outbox"))
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    let to_watcher: Vec<&String> = mails.iter().filter(|mail| mail.contains("To: watcher")).collect();
    assert!(
        to_watcher.iter().any(|mail| mail.contains("Linked: blocked by SEC-1 Embargoed vulnerability")),
        "{to_watcher:?}"
    );
    assert!(!mails.iter().any(|mail| mail.contains("To: outsider") && mail.contains("Embargoed")));
}

/// Many rounds of two requests at once that would break a rule together: opposite `blocks`
/// links between two items, and a link that blocks an item racing that item's closing. The
/// rules hold every time (on PostgreSQL through the links' lock; SQLite writes one at a time).
async fn concurrent_writes_cannot_close_a_cycle_nor_close_a_blocked_item(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    for round in 0..15 {
        let a = new_item(&app.admin, "OPS", &format!("A{round}")).await;
        let b = new_item(&app.admin, "OPS", &format!("B{round}")).await;
        let (ab_path, ba_path) = (format!("/api/v1/items/{a}/links"), format!("/api/v1/items/{b}/links"));
        let (ab, ba) = tokio::join!(
            app.admin.post(&ab_path, json!({"kind": "blocks", "target": b})),
            app.admin.post(&ba_path, json!({"kind": "blocks", "target": a}))
        );
        let created = [&ab, &ba].iter().filter(|reply| reply.status == StatusCode::CREATED).count();
        assert_eq!(created, 1, "round {round}: {} {} / {} {}", ab.status, ab.body, ba.status, ba.body);

        let blocker = new_item(&app.admin, "OPS", &format!("Blocker {round}")).await;
        let (link_path, item_path) = (format!("/api/v1/items/{blocker}/links"), format!("/api/v1/items/{a}"));
        let (link, close) = tokio::join!(
            app.admin.post(&link_path, json!({"kind": "blocks", "target": a})),
            app.admin.patch(&item_path, json!({"version": 1, "status_id": REJECTED}))
        );
        let (linked, closed) = (link.status == StatusCode::CREATED, close.status == StatusCode::OK);
        assert!(linked || closed, "round {round}: one of them succeeds: {} / {}", link.body, close.body);
        if linked && closed {
            // Both: the link came second (history ids follow the commits, which the rules'
            // lock orders), to an item already closed, which breaks no rule.
            let after_the_close = app.count_rows(&format!(
                "history WHERE item_id = {a} AND field = 'links' AND new_value = 'blocked_by #{blocker}' \
                 AND id > (SELECT MAX(id) FROM history WHERE item_id = {a} AND field = 'status')"
            ));
            assert_eq!(after_the_close, 1, "round {round}: the item closed while an open item blocked it");
        }
    }
}
