//! References in descriptions and comments — `#123`, `OPS-42`, `@login` — are links on the
//! item page only for a viewer who may read what they name; for anyone else they stay the
//! text that was written, with no title, key or name of what they point at.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

on_both_backends!(
    references_are_links_for_a_reader_and_plain_text_for_anyone_else,
    a_reference_shows_the_item_as_it_is_now
);

/// The status id of Rejected in the seeded workflow (a closed status New may move to).
const REJECTED: i64 = 5;

async fn references_are_links_for_a_reader_and_plain_text_for_anyone_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("HR", false).await;
    let secret = app.admin.create_item("HR", "Salary review").await;
    let printer = app.admin.create_item("OPS", "Printer jam").await;
    let toner = app.admin.create_item("OPS", "Old toner").await;
    let closed = app
        .admin
        .patch(&format!("/api/v1/items/{}", toner["id"]), json!({"version": toner["version"], "status_id": REJECTED}))
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let dev = app.create_user("dev").await;
    app.add_member("OPS", &dev, "developer").await;
    let olga = app.create_user("olga").await;
    app.add_member("HR", &olga, "developer").await;
    let (secret_id, toner_id) = (secret["id"].as_i64().unwrap(), toner["id"].as_i64().unwrap());
    let text = format!("Blocked by OPS-2 and HR-1 (#{secret_id}, #{toner_id}); ask @dev or @olga, not `OPS-2`.");
    let comment = app.admin.post(&format!("/api/v1/items/{}/comments", printer["id"]), json!({"body": text})).await;
    assert_eq!(comment.status, StatusCode::CREATED, "{}", comment.body);
    // A long-text field's Markdown links alike.
    app.admin.define_field(json!({"key": "notes", "name": "Notes", "type": "long_text"})).await;
    let version = app.admin.get(&format!("/api/v1/items/{}", printer["id"])).await.body["version"].clone();
    let noted = app
        .admin
        .patch(
            &format!("/api/v1/items/{}", printer["id"]),
            json!({"version": version, "fields": {"notes": "Field notes: see OPS-2, not HR-1."}}),
        )
        .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.body);

    let page_for = async |login: &str, password: &str| {
        let browser = WebClient::sign_in(&app.address, login, password).await;
        let page = browser.get(&format!("/items/{}", printer["id"])).await;
        assert_eq!(page.status, StatusCode::OK, "{login}: {}", page.body);
        page.body
    };
    let toner_link = format!(r#"<a href="/items/{toner_id}" class="ref closed" title="OPS-2: Old toner">"#);
    let dev_link = r#"class="mention" title="dev">@dev</a>"#;

    // A developer of OPS: the OPS item (closed, struck through) and dev are links; the HR item
    // and olga, who cannot read OPS, are only the text written.
    let developers = page_for("dev", USER_PASSWORD).await;
    assert!(developers.contains(&format!("{toner_link}OPS-2</a>")), "{developers}");
    assert!(developers.contains(&format!("{toner_link}#{toner_id}</a>")), "the id form too");
    assert!(developers.contains(dev_link), "a mention of a reader");
    assert!(developers.contains("HR-1 (#") && !developers.contains("Salary"), "nothing of the HR item");
    assert!(!developers.contains(&format!("/items/{secret_id}\"")), "no link to the HR item");
    assert!(developers.contains(" or @olga, not "), "olga cannot read OPS: plain text");
    assert!(developers.contains("<code>OPS-2</code>"), "code stays code");
    assert!(developers.contains(&format!("Field notes: see {toner_link}OPS-2</a>, not HR-1.")), "{developers}");

    // The administrator reads both projects: the HR item is a link with its title.
    let admins = page_for("admin", ADMIN_PASSWORD).await;
    let secret_link = format!(r#"<a href="/items/{secret_id}" class="ref" title="HR-1: Salary review">"#);
    assert!(admins.contains(&format!("{secret_link}HR-1</a>")), "{admins}");
    assert!(admins.contains(&format!("{secret_link}#{secret_id}</a>")));
    assert!(admins.contains(&format!("not {secret_link}HR-1</a>.")), "the field's reference to HR");
    assert!(admins.contains(" or @olga, not "), "olga still cannot read OPS: plain text for everyone");

    // The descriptions of a project and of its versions link alike, on its page and roadmap.
    let described = "Tracks OPS-2, not HR-1.";
    let project = app.admin.patch("/api/v1/projects/OPS", json!({"description": described})).await;
    assert_eq!(project.status, StatusCode::OK, "{}", project.body);
    let version =
        app.admin.post("/api/v1/projects/OPS/versions", json!({"name": "1.0", "description": described})).await;
    assert_eq!(version.status, StatusCode::CREATED, "{}", version.body);
    let developer = WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await;
    for path in ["/projects/OPS", "/projects/OPS/roadmap"] {
        let page = developer.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.body.contains(&format!("Tracks {toner_link}OPS-2</a>, not HR-1.")), "{path}: {}", page.body);
    }

    // A reader who is not a member: the public project's page shows the OPS link only.
    let made_public = app.admin.patch("/api/v1/projects/OPS", json!({"is_public": true})).await;
    assert_eq!(made_public.status, StatusCode::OK, "{}", made_public.body);
    app.create_user("otto").await;
    let outsiders = page_for("otto", USER_PASSWORD).await;
    assert!(outsiders.contains(&format!("{toner_link}OPS-2</a>")) && !outsiders.contains("Salary"), "{outsiders}");
    assert!(outsiders.contains(r#"class="mention" title="olga">@olga</a>"#), "olga may read a public project");
}

/// Each node keeps what references show of the items they name; a change to any of it — title,
/// status, project, deletion — is what the next page shows, to each viewer as they may see it.
async fn a_reference_shows_the_item_as_it_is_now(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("HR", false).await;
    let printer = app.admin.create_item("OPS", "Printer jam").await;
    let page = app.admin.create_item("OPS", "Office").await;
    let dev = app.create_user("dev").await;
    app.add_member("OPS", &dev, "developer").await;
    let id = printer["id"].as_i64().unwrap();
    let comment =
        app.admin.post(&format!("/api/v1/items/{}/comments", page["id"]), json!({"body": "See OPS-1."})).await;
    assert_eq!(comment.status, StatusCode::CREATED, "{}", comment.body);
    let developer = WebClient::sign_in(&app.address, "dev", USER_PASSWORD).await;
    let administrator = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    let shown = async |browser: &WebClient| {
        let page = browser.get(&format!("/items/{}", page["id"])).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.body
    };
    let link =
        |class: &str, title: &str| format!(r#"See <a href="/items/{id}" class="{class}" title="{title}">OPS-1</a>."#);
    let change = async |body: serde_json::Value| {
        let path = format!("/api/v1/items/{id}");
        let version = app.admin.get(&path).await.body["version"].clone();
        let mut body = body;
        body["version"] = version;
        let changed = app.admin.patch(&path, body).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    };

    assert!(shown(&developer).await.contains(&link("ref", "OPS-1: Printer jam")));
    // New items, comments and other fields change no fact a node keeps: its facts stay good.
    let facts_version = || {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            version: i64,
        }
        let mut connection = app.database().get().expect("connection");
        diesel::sql_query("SELECT version FROM item_facts_version")
            .get_result::<Row>(&mut **connection)
            .unwrap()
            .version
    };
    let kept = facts_version();
    app.admin.create_item("OPS", "Another").await;
    app.admin.post(&format!("/api/v1/items/{id}/comments"), json!({"body": "Still jammed."})).await;
    change(json!({"due_date": "2027-01-31"})).await;
    assert_eq!(facts_version(), kept, "no fact changed");
    change(json!({"title": "Printer fixed"})).await;
    assert_ne!(facts_version(), kept, "a title is a fact");
    assert!(shown(&developer).await.contains(&link("ref", "OPS-1: Printer fixed")), "the new title");
    change(json!({"status_id": REJECTED})).await;
    assert!(shown(&developer).await.contains(&link("ref closed", "OPS-1: Printer fixed")), "closed now");

    // Moved where dev may not read: the old key is text for dev, the item under its new key
    // for the administrator.
    change(json!({"project": "HR"})).await;
    let developers = shown(&developer).await;
    assert!(developers.contains("See OPS-1.") && !developers.contains("Printer"), "{developers}");
    assert!(shown(&administrator).await.contains(&link("ref closed", "HR-1: Printer fixed")));

    let deleted = app.admin.delete(&format!("/api/v1/items/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let administrators = shown(&administrator).await;
    assert!(administrators.contains("See OPS-1.") && !administrators.contains("Printer"), "{administrators}");
}
