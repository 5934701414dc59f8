//! Custom fields on pages: administrators define, change and delete them on the admin page;
//! the new-item and edit forms show an input per field that applies and go through the
//! API's rules, keeping what was typed when they refuse it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::app_with_project;

async fn every_type(app: &crate::support::TestApp) {
    for (key, field_type, choices) in [
        ("customer", "text", json!([])),
        ("notes", "long_text", json!([])),
        ("estimate", "integer", json!([])),
        ("cost", "decimal", json!([])),
        ("found_on", "date", json!([])),
        ("regression", "boolean", json!([])),
        ("severity", "choice", json!(["minor", "major"])),
        ("platforms", "multi_choice", json!(["linux", "mac", "windows"])),
        ("reviewer", "user", json!([])),
        ("ticket", "url", json!([])),
    ] {
        let reply = app
            .admin
            .post(
                "/api/v1/fields",
                json!({"key": key, "name": format!("The {key}"), "type": field_type, "choices": choices}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_item_forms_take_every_field_type_and_keep_refused_input() {
    let (app, admin) = app_with_project().await;
    app.add_member("WEB", &app.admin, "developer").await;
    every_type(&app).await;
    let form = admin.get("/items/new?project=WEB").await;
    assert_eq!(form.status, StatusCode::OK);
    for key in [
        "customer",
        "notes",
        "estimate",
        "cost",
        "found_on",
        "regression",
        "severity",
        "platforms",
        "reviewer",
        "ticket",
    ] {
        assert!(form.body.contains(&format!("name=\"field.{key}\"")), "{key} has an input: {}", form.body);
    }
    assert!(
        form.body.contains("id=\"field-found_on\" name=\"field.found_on\" value=\"\" type=\"date\""),
        "{}",
        form.body
    );
    let fields_for = form.hidden_field("fields_for").unwrap();

    let admin_id = app.admin.user_id.to_string();
    let mut fields: Vec<(&str, &str)> = vec![
        ("project", "WEB"),
        ("title", "From the form"),
        ("fields_for", &fields_for),
        ("field.customer", "ACME"),
        ("field.notes", "Some *notes*"),
        ("field.estimate", "5"),
        ("field.cost", "12,5"),
        ("field.found_on", "2026-11-30"),
        ("field.regression", "yes"),
        ("field.severity", "major"),
        ("field.platforms", ""),
        ("field.platforms", "linux"),
        ("field.platforms", "windows"),
        ("field.reviewer", &admin_id),
        ("field.ticket", "https://example.com/T-1"),
    ];
    let bad = {
        let mut bad = fields.clone();
        bad.retain(|(name, _)| *name != "field.estimate");
        bad.push(("field.estimate", "five"));
        bad
    };
    let refused = admin.submit("/items/new", &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"field-estimate-error\" class=\"field-error\">&#34;five&#34; is not a whole number"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"ACME\""), "what was typed is kept");
    assert_eq!(app.count_rows("items"), 0);

    let created = admin.submit("/items/new", &fields).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let items = app.admin.get("/api/v1/items?project=WEB").await.body;
    let item = &items["items"][0];
    assert_eq!(
        item["fields"],
        json!({
            "customer": "ACME", "notes": "Some *notes*", "estimate": 5, "cost": 12.5, "found_on": "2026-11-30",
            "regression": true, "severity": "major", "platforms": ["linux", "windows"],
            "reviewer": {"id": app.admin.user_id, "login": "admin", "name": item["fields"]["reviewer"]["name"]},
            "ticket": "https://example.com/T-1"
        })
    );
    let id = item["id"].as_i64().unwrap();
    let page = admin.get(&format!("/items/{id}")).await;
    let in_place = page.body.split("id=\"set-severity\"").nth(1).and_then(|rest| rest.split("</select>").next());
    assert!(in_place.is_some_and(|list| list.contains("<option value=\"major\" selected>")), "{}", page.body);
    assert!(page.body.contains("<em>notes</em>"), "long text is Markdown");
    assert!(page.body.contains("href=\"https://example.com/T-1\" rel=\"noopener noreferrer nofollow\""));
    assert!(page.body.contains("value=\"linux\" checked"), "the edit form holds the values");

    fields.retain(|(name, _)| !matches!(*name, "project" | "fields_for" | "field.platforms" | "field.customer"));
    fields.extend([("version", "1"), ("description", ""), ("field.platforms", ""), ("field.customer", "")]);
    let saved = admin.submit(&format!("/items/{id}/edit"), &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let after = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(after["fields"]["platforms"], Value::Null, "unticking every box clears a multiple choice");
    assert_eq!(after["fields"]["customer"], Value::Null);
    assert_eq!(after["fields"]["estimate"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_item_form_for_another_project_shows_that_projects_fields_before_creating() {
    let (app, admin) = app_with_project().await;
    app.create_project("OPS", false).await;
    let reply = app
        .admin
        .post(
            "/api/v1/fields",
            json!({"key": "customer", "name": "Customer", "type": "text", "required": true, "projects": ["OPS"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let form = admin.get("/items/new?project=WEB").await;
    assert!(!form.body.contains("field.customer"), "the field does not apply to WEB");
    let fields_for = form.hidden_field("fields_for").unwrap();
    let moved =
        admin.submit("/items/new", &[("project", "OPS"), ("title", "Moved"), ("fields_for", &fields_for)]).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert!(moved.body.contains("this project and type have other fields"), "{}", moved.body);
    assert!(moved.body.contains("name=\"field.customer\""));
    assert_eq!(app.count_rows("items"), 0);
    let fields_for = moved.hidden_field("fields_for").unwrap();
    let created = admin
        .submit(
            "/items/new",
            &[("project", "OPS"), ("title", "Moved"), ("fields_for", &fields_for), ("field.customer", "ACME")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_define_change_and_delete_fields_on_the_admin_page() {
    let (app, admin) = app_with_project().await;
    let empty = admin.get("/admin/fields").await;
    assert!(empty.body.contains("id=\"no-fields\""), "{}", empty.body);
    let refused = admin
        .submit(
            "/admin/fields",
            &[("name", "Severity"), ("key", "Bad Key"), ("type", "choice"), ("choices", "minor\nmajor")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"field-key-error\""), "{}", refused.body);
    assert!(refused.body.contains("minor\nmajor</textarea>"), "the choices typed are kept");
    let created = admin
        .submit(
            "/admin/fields",
            &[
                ("name", "Severity"),
                ("key", "severity"),
                ("type", "choice"),
                ("choices", "minor\nmajor\n"),
                ("default", "minor"),
                ("projects", "WEB"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let field = app.admin.get("/api/v1/fields/severity").await.body;
    assert_eq!(field["projects"], json!(["WEB"]));
    assert_eq!(field["default"], "minor");
    let list = admin.get("/admin/fields?done=created").await;
    assert!(list.body.contains("The field was created."));
    assert!(list.body.contains("data-field=\"severity\""));

    let item = app.admin.create_item("WEB", "Holds minor").await;
    assert_eq!(item["fields"]["severity"], "minor", "the default");
    let minor = field["choices"][0]["id"].to_string();
    let major = field["choices"][1]["id"].to_string();
    let renamed = admin
        .submit(
            "/admin/fields/severity",
            &[
                ("name", "Severity"),
                ("default", ""),
                (&format!("choice.{minor}"), "Minor"),
                (&format!("choice.{major}"), "major"),
                (&format!("retired.{major}"), "on"),
                ("new_choices", "critical"),
                ("projects", "WEB"),
            ],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    let field = app.admin.get("/api/v1/fields/severity").await.body;
    let choices: Vec<(Value, Value)> = field["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|choice| (choice["value"].clone(), choice["retired"].clone()))
        .collect();
    assert_eq!(
        choices,
        vec![(json!("Minor"), json!(false)), (json!("major"), json!(true)), (json!("critical"), json!(false))]
    );
    let id = item["id"].as_i64().unwrap();
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["fields"]["severity"], "Minor");

    let asked = admin.submit("/admin/fields/severity/delete", &[]).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.body.contains("1 item loses its value."), "{}", asked.body);
    assert_eq!(app.count_rows("fields"), 1, "nothing happens before the confirmation");
    let deleted = admin.submit("/admin/fields/severity/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(app.count_rows("fields"), 0);
    assert_eq!(app.count_rows("item_values"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_item_list_filters_by_fields_and_shows_them_as_sortable_columns() {
    let (app, admin) = app_with_project().await;
    every_type(&app).await;
    for (title, customer, estimate) in [("Alpha", "ACME", 8), ("Beta", "Initech", 3), ("Gamma", "ACME", 5)] {
        let reply = app
            .admin
            .post(
                "/api/v1/items",
                json!({"project": "WEB", "title": title, "fields": {"customer": customer, "estimate": estimate}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let plain = admin.get("/projects/WEB").await;
    assert!(plain.body.contains("<details class=\"field-filters\">"), "closed while unused");
    assert!(plain.body.contains("name=\"field.customer\" value=\"\""));

    let filtered =
        admin.get("/projects/WEB?field.customer=ACME&column=estimate&column=customer&sort=-field.estimate").await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.body);
    assert!(filtered.body.contains("<details class=\"field-filters\" open>"));
    assert!(filtered.body.contains("2 items."), "{}", filtered.body);
    let alpha = filtered.body.find(">Alpha</a>").expect("Alpha listed");
    let gamma = filtered.body.find(">Gamma</a>").expect("Gamma listed");
    assert!(alpha < gamma, "sorted by estimate, largest first");
    assert!(!filtered.body.contains(">Beta</a>"));
    // The columns in form order, with their values; each header sorts by its field.
    assert!(
        filtered
            .body
            .contains("data-label=\"The customer\">ACME</td><td class=\"field\" data-label=\"The estimate\">8</td>"),
        "{}",
        filtered.body
    );
    assert!(filtered.body.contains("aria-sort=\"descending\"><a href=\"/projects/WEB?sort=field.estimate&#38;field.customer=ACME&#38;column=estimate&#38;column=customer\">The estimate"), "{}", filtered.body);
    assert!(filtered.body.contains("value=\"customer\" checked"));

    let ranged = admin.get("/items?field.estimate=%3E4&state=all").await;
    assert!(ranged.body.contains("2 items."), "{}", ranged.body);
    let refused = admin.get("/items?field.estimate=lots").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("estimate"), "the page names the field: {}", refused.body);
    let unknown = admin.get("/items?column=nope").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body.contains("there is no field"), "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_new_item_form_takes_a_value_of_every_field_type() {
    use crate::support::app::ADMIN_PASSWORD;
    use crate::support::browser::Browser;
    let Some(browser) = Browser::start("every field type").await else { return };
    let (app, _admin) = app_with_project().await;
    app.add_member("WEB", &app.admin, "developer").await;
    every_type(&app).await;
    browser.sign_in(&app.address, "/items/new?project=WEB", "admin", ADMIN_PASSWORD).await;
    browser.type_into("#title", "Every field type").await;
    browser.type_into("#field-customer", "ACME").await;
    browser.type_into("#field-notes", "First line\nSecond line").await;
    browser.type_into("#field-estimate", "8").await;
    browser.type_into("#field-cost", "12.5").await;
    // The browser's own date picker takes the date as its locale writes it (en-US here).
    browser.type_into("#field-found_on", "12312026").await;
    browser.click("#field-regression option[value=yes]").await;
    browser.click("#field-severity option:nth-child(3)").await;
    browser.click("#field-platforms label:nth-of-type(1) input").await;
    browser.click("#field-platforms label:nth-of-type(3) input").await;
    browser.click("#field-reviewer option:nth-child(2)").await;
    browser.type_into("#field-ticket", "https://tickets.example/42").await;
    browser.click("form[action='/items/new'] button[type=submit]").await;
    browser
        .wait_for("the new item's page", false, async |browser| {
            let path = browser.path().await;
            path.starts_with("/items/") && path != "/items/new"
        })
        .await;
    let id = browser.path().await["/items/".len()..].to_string();
    browser.quit().await;
    let item = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(
        item["fields"],
        json!({
            "customer": "ACME",
            "notes": "First line\nSecond line",
            "estimate": 8,
            "cost": 12.5,
            "found_on": "2026-12-31",
            "regression": true,
            "severity": "major",
            "platforms": ["linux", "windows"],
            "reviewer": {"id": app.admin.user_id, "login": "admin", "name": item["fields"]["reviewer"]["name"]},
            "ticket": "https://tickets.example/42",
        }),
        "{item}"
    );
}
