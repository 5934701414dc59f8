//! Custom fields through the API: administrators define them; items carry typed values of the
//! fields that apply to their project and type, with history; bad definitions and bad values
//! are refused naming the field, storing nothing; whatever takes values from items needs a
//! confirmation that says how many.

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(
    every_field_type_round_trips_with_history,
    a_decimal_reads_back_exactly_whatever_the_servers_float_output,
    bad_values_are_refused_naming_the_field_and_nothing_is_stored,
    bad_definitions_are_refused,
    fields_apply_per_project_and_type_and_a_type_change_removes_the_others,
    required_fields_and_defaults_apply_to_new_items_but_not_retroactively,
    renaming_a_choice_keeps_items_and_requeues_them_and_retired_choices_stay_readable,
    taking_values_away_needs_a_confirmation_that_counts_the_items,
    only_administrators_define_fields,
    item_views_follow_every_change_to_the_definitions_at_once,
    filters_and_sorts_on_fields_give_exactly_the_expected_items,
    search_finds_field_text_and_takes_key_value_conditions,
);

const BUG: i64 = 1;
const FEATURE: i64 = 2;

async fn define(app: &TestApp, body: Value) -> Value {
    app.admin.define_field(body).await
}

/// One field of every type, applying everywhere.
async fn define_every_type(app: &TestApp) {
    for (key, field_type) in [
        ("customer", "text"),
        ("notes", "long_text"),
        ("estimate", "integer"),
        ("cost", "decimal"),
        ("found_on", "date"),
        ("regression", "boolean"),
        ("severity", "choice"),
        ("platforms", "multi_choice"),
        ("reviewer", "user"),
        ("ticket", "url"),
    ] {
        let choices = match field_type {
            "choice" => json!(["minor", "major", "critical"]),
            "multi_choice" => json!(["linux", "mac", "windows"]),
            _ => json!([]),
        };
        define(app, json!({"key": key, "name": key.replace('_', " "), "type": field_type, "choices": choices})).await;
    }
}

async fn item_with(api: &Api, fields: Value) -> crate::support::Reply {
    api.post("/api/v1/items", json!({"project": "OPS", "title": "With fields", "fields": fields})).await
}

async fn every_field_type_round_trips_with_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let reviewer = app.create_user("rita").await;
    app.add_member("OPS", &reviewer, "developer").await;
    define_every_type(&app).await;
    let listed = app.admin.get("/api/v1/fields").await;
    let keys: Vec<&str> =
        listed.body["fields"].as_array().unwrap().iter().map(|field| field["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "customer",
            "notes",
            "estimate",
            "cost",
            "found_on",
            "regression",
            "severity",
            "platforms",
            "reviewer",
            "ticket"
        ]
    );
    let positions: Vec<i64> =
        listed.body["fields"].as_array().unwrap().iter().map(|field| field["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>());

    let values = json!({
        "customer": "ACME",
        "notes": "Line one\n\n**bold**",
        "estimate": 5,
        "cost": 12.5,
        "found_on": "2026-11-30",
        "regression": true,
        "severity": "major",
        "platforms": ["windows", "linux"],
        "reviewer": reviewer.user_id,
        "ticket": "https://example.com/T-1",
    });
    let created = item_with(&app.admin, values).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let fields = &created.body["fields"];
    assert_eq!(fields["customer"], "ACME");
    assert_eq!(fields["notes"], "Line one\n\n**bold**");
    assert_eq!(fields["estimate"], 5);
    assert_eq!(fields["cost"], 12.5);
    assert_eq!(fields["found_on"], "2026-11-30");
    assert_eq!(fields["regression"], true);
    assert_eq!(fields["severity"], "major");
    assert_eq!(fields["platforms"], json!(["linux", "windows"]), "in the field's order");
    assert_eq!(fields["reviewer"], json!({"id": reviewer.user_id, "login": "rita", "name": "rita"}));
    assert_eq!(fields["ticket"], "https://example.com/T-1");
    let id = created.body["id"].as_i64().unwrap();
    let fetched = app.admin.get(&format!("/api/v1/items/{id}")).await;
    assert_eq!(fetched.body["fields"], created.body["fields"]);
    let listed = app.admin.get("/api/v1/items?project=OPS").await;
    assert_eq!(listed.body["items"][0]["fields"], created.body["fields"]);

    let changed = app
        .admin
        .patch(
            &format!("/api/v1/items/{id}"),
            json!({"version": 1, "fields": {"estimate": 8, "customer": null, "platforms": ["mac"], "regression": false}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["version"], 2);
    assert_eq!(changed.body["fields"]["estimate"], 8);
    assert_eq!(changed.body["fields"]["customer"], Value::Null, "cleared, but still listed: it applies");
    assert_eq!(changed.body["fields"]["platforms"], json!(["mac"]));
    assert_eq!(changed.body["fields"]["regression"], false);
    assert_eq!(changed.body["fields"]["severity"], "major", "untouched");

    let entries = app.admin.history(&format!("/api/v1/items/{id}")).await;
    assert_eq!(
        entries,
        vec![
            ("customer".to_string(), json!("ACME"), Value::Null),
            ("estimate".to_string(), json!("5"), json!("8")),
            ("regression".to_string(), json!("yes"), json!("no")),
            ("platforms".to_string(), json!("linux, windows"), json!("mac")),
        ]
    );

    let unchanged =
        app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 2, "fields": {"estimate": 8}})).await;
    assert_eq!(unchanged.body["version"], 2, "the same value is no change: {}", unchanged.body);

    // Read back exactly: a decimal that needs all 17 digits, the least whole number, text
    // with what JSON and lists escape or split on.
    let exact = json!({
        "cost": 0.1 + 0.2,
        "estimate": i64::MIN,
        "customer": "Quote \" back\\slash, comma; \u{1F41D} []{}",
        "notes": "Tab\there,\nline \\u0041 \"[1,2]\"",
    });
    let written = app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 2, "fields": exact})).await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.body);
    for shown in [written.body.clone(), app.admin.get(&format!("/api/v1/items/{id}")).await.body] {
        assert_eq!(shown["fields"]["cost"].as_f64(), Some(0.1 + 0.2), "{shown}");
        assert_eq!(shown["fields"]["estimate"], i64::MIN, "{shown}");
        assert_eq!(shown["fields"]["customer"], exact["customer"], "{shown}");
        assert_eq!(shown["fields"]["notes"], exact["notes"], "{shown}");
    }
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());

    // A value changed in place (a manual fix, not how Baton writes) shows at once.
    app.database()
        .get()
        .unwrap()
        .batch_execute(&format!(
            "UPDATE item_values SET int_value = 42 WHERE item_id = {id} \
             AND field_id = (SELECT id FROM fields WHERE key = 'estimate')"
        ))
        .unwrap();
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["fields"]["estimate"], 42);
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());
}

/// An item's values are read with its row as text (JSON): a PostgreSQL server (or role, or
/// database) that writes floats with 15 digits by default must not cut a decimal short.
async fn a_decimal_reads_back_exactly_whatever_the_servers_float_output(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        if backend == Backend::Postgres {
            settings.database_url.push_str("?options=-c%20extra_float_digits%3D0");
        }
    })
    .await;
    app.create_project("OPS", false).await;
    define(&app, json!({"key": "cost", "name": "Cost", "type": "decimal"})).await;
    let created = item_with(&app.admin, json!({"cost": 0.1 + 0.2})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let read = app.admin.get(&format!("/api/v1/items/{}", created.body["id"])).await;
    assert_eq!(read.body["fields"]["cost"].as_f64(), Some(0.1 + 0.2), "{}", read.body);
}

async fn bad_values_are_refused_naming_the_field_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let outsider = app.create_user("olga").await;
    define_every_type(&app).await;
    let severity = app.admin.get("/api/v1/fields/severity").await.body;
    let minor = severity["choices"][0]["id"].clone();
    let retired = app
        .admin
        .patch(
            "/api/v1/fields/severity",
            json!({"choices": [{"id": minor, "retired": true}, {"id": severity["choices"][1]["id"]}, {"id": severity["choices"][2]["id"]}]}),
        )
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.body);
    let items_before = app.count_rows("items");
    let values_before = app.count_rows("item_values");
    let cases = [
        (json!({"nonsense": 1}), "fields.nonsense", "no field"),
        (json!({"estimate": "5"}), "fields.estimate", "whole number"),
        (json!({"estimate": 1.5}), "fields.estimate", "whole number"),
        (json!({"cost": "NaN"}), "fields.cost", "a number"),
        (json!({"cost": 1e308, "estimate": 18446744073709551615u64}), "fields.estimate", "2^63"),
        (json!({"severity": "blocker"}), "fields.severity", "not a choice"),
        (json!({"severity": "minor"}), "fields.severity", "retired"),
        (json!({"platforms": "linux"}), "fields.platforms", "list"),
        (json!({"reviewer": outsider.user_id}), "fields.reviewer", "members"),
        (json!({"reviewer": 999_999}), "fields.reviewer", "members"),
        (json!({"customer": "x".repeat(256)}), "fields.customer", "at most 255"),
        (json!({"customer": "two\nlines"}), "fields.customer", "line breaks"),
        (json!({"found_on": "2026-02-30"}), "fields.found_on", "not a date"),
        (json!({"found_on": "0000-12-31"}), "fields.found_on", "out of range"),
        (json!({"regression": "yes"}), "fields.regression", "true or false"),
        (json!({"ticket": "javascript:alert(1)"}), "fields.ticket", "not a link"),
        (json!({"customer": "ok", "estimate": []}), "fields.estimate", "whole number"),
    ];
    for (fields, name, words) in cases {
        let reply = item_with(&app.admin, fields.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{fields}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], name, "{fields}: {}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{fields}: {message}");
    }
    assert_eq!(app.count_rows("items"), items_before, "no item was half-created");
    assert_eq!(app.count_rows("item_values"), values_before);

    let item = item_with(&app.admin, json!({"estimate": 3})).await.body;
    let id = item["id"].as_i64().unwrap();
    let refused = app
        .admin
        .patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "title": "New title", "fields": {"estimate": "x"}}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let after = app.admin.get(&format!("/api/v1/items/{id}")).await.body;
    assert_eq!(after["title"], "With fields", "nothing of a refused edit is stored");
    assert_eq!(after["fields"]["estimate"], 3);
    assert_eq!(after["version"], 1);
}

async fn bad_definitions_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    let cases = [
        (json!({"key": "customer", "name": "Again", "type": "text"}), StatusCode::CONFLICT, ""),
        (json!({"key": "Customer2", "name": "x", "type": "text"}), StatusCode::BAD_REQUEST, "key"),
        (json!({"key": "2fast", "name": "x", "type": "text"}), StatusCode::BAD_REQUEST, "key"),
        (json!({"key": "status", "name": "x", "type": "text"}), StatusCode::BAD_REQUEST, "key"),
        (json!({"key": "k", "name": "", "type": "text"}), StatusCode::BAD_REQUEST, "name"),
        (json!({"key": "k", "name": "x", "type": "float"}), StatusCode::BAD_REQUEST, "type"),
        (json!({"key": "k", "name": "x", "type": "choice"}), StatusCode::BAD_REQUEST, "choices"),
        (
            json!({"key": "k", "name": "x", "type": "choice", "choices": ["a", "A"]}),
            StatusCode::BAD_REQUEST,
            "choices[1]",
        ),
        (json!({"key": "k", "name": "x", "type": "text", "choices": ["a"]}), StatusCode::BAD_REQUEST, "choices"),
        (
            json!({"key": "k", "name": "x", "type": "choice", "choices": ["a"], "default": "b"}),
            StatusCode::BAD_REQUEST,
            "default",
        ),
        (json!({"key": "k", "name": "x", "type": "integer", "default": "five"}), StatusCode::BAD_REQUEST, "default"),
        (json!({"key": "k", "name": "x", "type": "user", "default": 1}), StatusCode::BAD_REQUEST, "default"),
        (json!({"key": "k", "name": "x", "type": "text", "projects": ["NOPE"]}), StatusCode::BAD_REQUEST, "projects"),
        (json!({"key": "k", "name": "x", "type": "text", "projects": []}), StatusCode::BAD_REQUEST, "projects"),
        (json!({"key": "k", "name": "x", "type": "text", "types": [99]}), StatusCode::BAD_REQUEST, "types"),
        (json!({"key": "k", "name": "x", "type": "text", "position": 5}), StatusCode::BAD_REQUEST, "position"),
    ];
    for (body, status, field) in cases {
        let reply = app.admin.post("/api/v1/fields", body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        if !field.is_empty() {
            assert_eq!(reply.body["error"]["field"], field, "{body}: {}", reply.body);
        }
    }
    assert_eq!(app.count_rows("fields"), 1, "nothing half-defined");
    let no_type_change = app.admin.patch("/api/v1/fields/customer", json!({"type": "integer"})).await;
    assert_eq!(no_type_change.status, StatusCode::BAD_REQUEST, "{}", no_type_change.body);
    let unknown = app.admin.get("/api/v1/fields/nobody").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
}

async fn fields_apply_per_project_and_type_and_a_type_change_removes_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text", "projects": ["OPS"]})).await;
    let build = define(&app, json!({"key": "build", "name": "Found in build", "type": "text", "types": [BUG]})).await;
    assert_eq!(build["types"], json!([BUG]));
    assert_eq!(build["projects"], Value::Null);

    let web = app.admin.post("/api/v1/items", json!({"project": "WEB", "title": "Web", "type_id": FEATURE})).await;
    assert_eq!(web.body["fields"], json!({}), "no field applies to a feature in WEB: {}", web.body);
    let refused = app
        .admin
        .post("/api/v1/items", json!({"project": "WEB", "title": "Web", "fields": {"customer": "ACME"}}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("does not apply"), "{}", refused.body);

    let bug = app
        .admin
        .post(
            "/api/v1/items",
            json!({"project": "OPS", "title": "Bug", "type_id": BUG, "fields": {"customer": "ACME", "build": "1.2.3"}}),
        )
        .await;
    assert_eq!(bug.status, StatusCode::CREATED, "{}", bug.body);
    assert_eq!(bug.body["fields"], json!({"customer": "ACME", "build": "1.2.3"}));
    let id = bug.body["id"].as_i64().unwrap();
    let retyped = app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "type_id": FEATURE})).await;
    assert_eq!(retyped.status, StatusCode::OK, "{}", retyped.body);
    assert_eq!(retyped.body["fields"], json!({"customer": "ACME"}), "the build no longer applies");
    let history = app.admin.get(&format!("/api/v1/items/{id}/history")).await.body;
    let removed = history["history"].as_array().unwrap().iter().find(|entry| entry["field"] == "build").cloned();
    assert_eq!(
        removed.map(|entry| (entry["old_value"].clone(), entry["new_value"].clone())),
        Some((json!("1.2.3"), Value::Null))
    );
    let back = app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 2, "type_id": BUG})).await;
    assert_eq!(back.body["fields"], json!({"customer": "ACME", "build": null}), "the removed value does not come back");
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());
}

async fn required_fields_and_defaults_apply_to_new_items_but_not_retroactively(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let old = app.admin.create_item("OPS", "Before the fields").await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text", "required": true})).await;
    define(
        &app,
        json!({"key": "severity", "name": "Severity", "type": "choice", "required": true, "choices": ["low", "high"], "default": "low"}),
    )
    .await;
    let missing = app.admin.post("/api/v1/items", json!({"project": "OPS", "title": "No customer"})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert_eq!(missing.body["error"]["field"], "fields.customer");
    assert!(missing.body["error"]["message"].as_str().unwrap().contains("required"));
    let created = item_with(&app.admin, json!({"customer": "ACME"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["fields"]["severity"], "low", "the default");

    let id = old["id"].as_i64().unwrap();
    let edited =
        app.admin.patch(&format!("/api/v1/items/{id}"), json!({"version": 1, "title": "Still editable"})).await;
    assert_eq!(edited.status, StatusCode::OK, "an item from before the field is not blocked: {}", edited.body);
    assert_eq!(edited.body["fields"], json!({"customer": null, "severity": null}));
    let cleared = app
        .admin
        .patch(&format!("/api/v1/items/{}", created.body["id"]), json!({"version": 1, "fields": {"customer": null}}))
        .await;
    assert_eq!(cleared.status, StatusCode::BAD_REQUEST, "{}", cleared.body);
    assert_eq!(cleared.body["error"]["field"], "fields.customer");
}

async fn renaming_a_choice_keeps_items_and_requeues_them_and_retired_choices_stay_readable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let field =
        define(&app, json!({"key": "customer", "name": "Customer", "type": "choice", "choices": ["ACME", "Initech"]}))
            .await;
    let acme = field["choices"][0]["id"].clone();
    let initech = field["choices"][1]["id"].clone();
    let held = item_with(&app.admin, json!({"customer": "acme"})).await;
    assert_eq!(held.body["fields"]["customer"], "ACME", "matched without regard to case: {}", held.body);
    item_with(&app.admin, json!({"customer": "Initech"})).await;
    app.without_master().await;
    let queued = app.count_rows("index_queue");
    let values = app.count_rows("item_values");

    let renamed = app
        .admin
        .patch("/api/v1/fields/customer", json!({"choices": [{"id": acme, "value": "ACME Corp"}, {"id": initech}]}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(app.count_rows("index_queue"), queued + 1, "the one item holding the renamed choice is re-queued");
    assert_eq!(app.count_rows("item_values"), values, "no value row is touched");
    let id = held.body["id"].as_i64().unwrap();
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["fields"]["customer"], "ACME Corp");

    let retired = app
        .admin
        .patch(
            "/api/v1/fields/customer",
            json!({"choices": [{"id": acme, "retired": true}, {"id": initech}, "Umbrella"]}),
        )
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.body);
    assert_eq!(retired.body["choices"][0]["retired"], true);
    assert_eq!(retired.body["choices"][2]["value"], "Umbrella");
    assert_eq!(app.admin.get(&format!("/api/v1/items/{id}")).await.body["fields"]["customer"], "ACME Corp");
    let refused = item_with(&app.admin, json!({"customer": "ACME Corp"})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // Removing a choice an item holds takes the value away, once confirmed.
    let umbrella = retired.body["choices"][2]["id"].clone();
    let kept = json!([{"id": acme, "retired": true}, {"id": umbrella}]);
    let unconfirmed = app.admin.patch("/api/v1/fields/customer", json!({"choices": kept})).await;
    assert_eq!(unconfirmed.status, StatusCode::CONFLICT, "{}", unconfirmed.body);
    let removed = app.admin.patch("/api/v1/fields/customer", json!({"choices": kept, "confirm": true})).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(app.count_rows(&format!("item_values WHERE choice_id = {initech}")), 0);
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());
}

async fn taking_values_away_needs_a_confirmation_that_counts_the_items(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    for project in ["OPS", "WEB", "WEB"] {
        let reply = app
            .admin
            .post("/api/v1/items", json!({"project": project, "title": "x", "fields": {"customer": "ACME"}}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let narrowed = app.admin.patch("/api/v1/fields/customer", json!({"projects": ["OPS"]})).await;
    assert_eq!(narrowed.status, StatusCode::CONFLICT, "{}", narrowed.body);
    assert!(
        narrowed.body["error"]["message"].as_str().unwrap().contains("2 items lose their value"),
        "{}",
        narrowed.body
    );
    assert_eq!(app.count_rows("item_values"), 3, "nothing changed without confirmation");
    let confirmed = app.admin.patch("/api/v1/fields/customer", json!({"projects": ["OPS"], "confirm": true})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(confirmed.body["projects"], json!(["OPS"]));
    assert_eq!(app.count_rows("item_values"), 1);

    let deleted = app.admin.delete("/api/v1/fields/customer").await;
    assert_eq!(deleted.status, StatusCode::CONFLICT, "{}", deleted.body);
    assert!(deleted.body["error"]["message"].as_str().unwrap().contains("1 item loses its value"), "{}", deleted.body);
    let deleted = app.admin.delete("/api/v1/fields/customer?confirm=true").await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["items_that_lost_a_value"], 1);
    assert_eq!(app.count_rows("item_values"), 0);
    assert_eq!(app.count_rows("fields"), 0);
    let unused = define(&app, json!({"key": "spare", "name": "Spare", "type": "integer"})).await;
    assert_eq!(unused["position"], 1);
    assert_eq!(app.admin.delete("/api/v1/fields/spare").await.status, StatusCode::OK, "an unused field goes at once");
    assert_eq!(crate::support::app::kept_parts_disagreements(&app), Vec::<String>::new());
}

async fn only_administrators_define_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    let developer = app.create_user("dev").await;
    app.add_member("OPS", &developer, "developer").await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    let created = developer.post("/api/v1/fields", json!({"key": "mine", "name": "Mine", "type": "text"})).await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.body);
    let changed = developer.patch("/api/v1/fields/customer", json!({"name": "Client"})).await;
    assert_eq!(changed.status, StatusCode::FORBIDDEN, "{}", changed.body);
    let deleted = developer.delete("/api/v1/fields/customer").await;
    assert_eq!(deleted.status, StatusCode::FORBIDDEN, "{}", deleted.body);
    let read = developer.get("/api/v1/fields").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["fields"][0]["key"], "customer");
    let item = developer
        .post("/api/v1/items", json!({"project": "OPS", "title": "Mine", "fields": {"customer": "ACME"}}))
        .await;
    assert_eq!(item.status, StatusCode::CREATED, "members set values: {}", item.body);
}

/// Views read the definitions from memory while their version row stays the same: each kind
/// of change (new field, new scope, deletion) gives the row a new version, so the next view
/// shows it.
async fn item_views_follow_every_change_to_the_definitions_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let item = app.admin.create_item("OPS", "Watched").await;
    let path = format!("/api/v1/items/{}", item["id"]);
    let fields = async || app.admin.get(&path).await.body["fields"].clone();
    assert_eq!(fields().await, json!({}));
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text"})).await;
    assert_eq!(fields().await, json!({"customer": null}));
    let scoped = app.admin.patch("/api/v1/fields/customer", json!({"projects": ["WEB"]})).await;
    assert_eq!(scoped.status, StatusCode::OK, "{}", scoped.body);
    assert_eq!(fields().await, json!({}));
    let everywhere = app.admin.patch("/api/v1/fields/customer", json!({"projects": null})).await;
    assert_eq!(everywhere.status, StatusCode::OK, "{}", everywhere.body);
    assert_eq!(fields().await, json!({"customer": null}));
    assert_eq!(app.admin.delete("/api/v1/fields/customer").await.status, StatusCode::OK);
    assert_eq!(fields().await, json!({}));
}

/// The values one test item gets (`None`: not sent), drawn from a fixed sequence.
#[derive(Clone, Debug)]
struct Drawn {
    id: i64,
    project: &'static str,
    estimate: Option<i64>,
    cost: Option<f64>,
    found_on: Option<String>,
    regression: Option<bool>,
    severity: Option<&'static str>,
    platforms: Vec<&'static str>,
    customer: Option<&'static str>,
    reviewed_by_admin: bool,
    /// 1 (New) as created.
    status: i64,
}

const SEVERITIES: [&str; 3] = ["minor", "major", "critical"];
const PLATFORMS: [&str; 3] = ["linux", "mac", "windows"];
const CUSTOMERS: [&str; 3] = ["ACME", "Initech", "Acme Labs"];

async fn list_ids(app: &TestApp, query: &str) -> Vec<i64> {
    ids_of(app, &format!("state=all&{query}")).await
}

/// The ids of the list (at most 500), checked against its total.
async fn ids_of(app: &TestApp, query: &str) -> Vec<i64> {
    let reply = app.admin.get(&format!("/api/v1/items?limit=500&{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    let ids: Vec<i64> =
        reply.body["items"].as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()).collect();
    assert_eq!(reply.body["total"], ids.len() as i64, "{query}: the total agrees with the rows");
    ids
}

fn drawn_in(drawn: &[Drawn], id: i64, project: &str) -> bool {
    drawn.iter().any(|item| item.id == id && item.project == project)
}

fn expect(drawn: &[Drawn], keep: impl Fn(&Drawn) -> bool) -> Vec<i64> {
    // The API's default order: most recently updated first; the items were created in order.
    let mut ids: Vec<i64> = drawn.iter().filter(|item| keep(item)).map(|item| item.id).collect();
    ids.reverse();
    ids
}

/// Ascending by `key` with items without a value last, ties by id (the API's sort).
fn sorted_by<K: PartialOrd>(drawn: &[Drawn], key: impl Fn(&Drawn) -> Option<K>, descending: bool) -> Vec<i64> {
    let mut rows: Vec<(Option<K>, i64)> = drawn.iter().map(|item| (key(item), item.id)).collect();
    rows.sort_by(|(a, a_id), (b, b_id)| {
        let by_value = match (a, b) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(a), Some(b)) => {
                let order = a.partial_cmp(b).unwrap();
                if descending { order.reverse() } else { order }
            }
        };
        by_value.then(if descending { b_id.cmp(a_id) } else { a_id.cmp(b_id) })
    });
    rows.into_iter().map(|(_, id)| id).collect()
}

async fn filters_and_sorts_on_fields_give_exactly_the_expected_items(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    let admin_id = app.admin.user_id;
    app.add_member("OPS", &app.admin, "developer").await;
    define(&app, json!({"key": "estimate", "name": "Estimate", "type": "integer"})).await;
    define(&app, json!({"key": "cost", "name": "Cost", "type": "decimal"})).await;
    define(&app, json!({"key": "found_on", "name": "Found on", "type": "date"})).await;
    define(&app, json!({"key": "regression", "name": "Regression", "type": "boolean"})).await;
    define(&app, json!({"key": "severity", "name": "Severity", "type": "choice", "choices": SEVERITIES})).await;
    define(&app, json!({"key": "platforms", "name": "Platforms", "type": "multi_choice", "choices": PLATFORMS})).await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text", "projects": ["OPS"]})).await;
    define(&app, json!({"key": "reviewer", "name": "Reviewer", "type": "user", "projects": ["OPS"]})).await;

    let mut seed: u64 = 7;
    let mut draw = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut drawn: Vec<Drawn> = Vec::new();
    for index in 0..160 {
        let project = if index % 5 == 4 { "WEB" } else { "OPS" };
        let mut item = Drawn {
            id: 0,
            project,
            estimate: (draw(4) > 0).then(|| draw(12) as i64 - 2),
            cost: (draw(3) > 0).then(|| draw(100) as f64 / 8.0),
            found_on: (draw(3) > 0).then(|| format!("2026-{:02}-{:02}", 1 + draw(12), 1 + draw(28))),
            regression: match draw(3) {
                0 => None,
                1 => Some(true),
                _ => Some(false),
            },
            severity: (draw(4) > 0).then(|| SEVERITIES[draw(3) as usize]),
            platforms: PLATFORMS.iter().copied().filter(|_| draw(2) == 0).collect(),
            customer: (project == "OPS" && draw(4) > 0).then(|| CUSTOMERS[draw(3) as usize]),
            reviewed_by_admin: project == "OPS" && draw(3) == 0,
            status: 1,
        };
        let mut fields = serde_json::Map::new();
        let mut put = |key: &str, value: Value| {
            fields.insert(key.to_string(), value);
        };
        for (key, value) in [
            ("estimate", item.estimate.map(|value| json!(value))),
            ("cost", item.cost.map(|value| json!(value))),
            ("found_on", item.found_on.clone().map(|value| json!(value))),
            ("regression", item.regression.map(|value| json!(value))),
            ("severity", item.severity.map(|value| json!(value))),
            ("platforms", (!item.platforms.is_empty()).then(|| json!(item.platforms))),
            ("customer", item.customer.map(|value| json!(value))),
        ] {
            if let Some(value) = value {
                put(key, value);
            }
        }
        if item.reviewed_by_admin {
            put("reviewer", json!(admin_id));
        }
        let reply = app
            .admin
            .post("/api/v1/items", json!({"project": project, "title": format!("Item {index}"), "fields": fields}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        item.id = reply.body["id"].as_i64().unwrap();
        drawn.push(item);
    }

    let checks: Vec<(&str, Vec<i64>)> = vec![
        ("field.estimate=5", expect(&drawn, |item| item.estimate == Some(5))),
        ("field.estimate=3,7", expect(&drawn, |item| matches!(item.estimate, Some(3 | 7)))),
        ("field.estimate=%3E5", expect(&drawn, |item| item.estimate.is_some_and(|value| value > 5))),
        ("field.estimate=%3E%3D5", expect(&drawn, |item| item.estimate.is_some_and(|value| value >= 5))),
        ("field.estimate=%3C0", expect(&drawn, |item| item.estimate.is_some_and(|value| value < 0))),
        ("field.estimate=%3C%3D-1", expect(&drawn, |item| item.estimate.is_some_and(|value| value <= -1))),
        (
            "field.estimate=%3E%3D2&field.estimate=%3C%3D4",
            expect(&drawn, |item| item.estimate.is_some_and(|value| (2..=4).contains(&value))),
        ),
        ("field.estimate=none", expect(&drawn, |item| item.estimate.is_none())),
        ("field.estimate=any", expect(&drawn, |item| item.estimate.is_some())),
        ("field.estimate=!5", expect(&drawn, |item| item.estimate != Some(5))),
        ("field.cost=%3E6.5", expect(&drawn, |item| item.cost.is_some_and(|value| value > 6.5))),
        (
            "field.found_on=%3C2026-06-01",
            expect(&drawn, |item| item.found_on.as_deref().is_some_and(|date| date < "2026-06-01")),
        ),
        (
            "field.found_on=%3E%3D2026-06-01",
            expect(&drawn, |item| item.found_on.as_deref().is_some_and(|date| date >= "2026-06-01")),
        ),
        ("field.regression=true", expect(&drawn, |item| item.regression == Some(true))),
        ("field.regression=false", expect(&drawn, |item| item.regression == Some(false))),
        ("field.regression=none", expect(&drawn, |item| item.regression.is_none())),
        ("field.severity=major", expect(&drawn, |item| item.severity == Some("major"))),
        ("field.severity=Major,critical", expect(&drawn, |item| matches!(item.severity, Some("major" | "critical")))),
        ("field.severity=!major", expect(&drawn, |item| item.severity != Some("major"))),
        ("field.platforms=linux", expect(&drawn, |item| item.platforms.contains(&"linux"))),
        (
            "field.platforms=linux,mac",
            expect(&drawn, |item| item.platforms.iter().any(|p| ["linux", "mac"].contains(p))),
        ),
        ("field.platforms=none", expect(&drawn, |item| item.platforms.is_empty())),
        ("field.customer=ACME", expect(&drawn, |item| item.customer == Some("ACME"))),
        (
            "field.customer=~acm",
            expect(&drawn, |item| item.customer.is_some_and(|name| name.to_lowercase().contains("acm"))),
        ),
        // Not and none only where the field applies: WEB items have no customer at all.
        ("field.customer=none", expect(&drawn, |item| item.project == "OPS" && item.customer.is_none())),
        ("field.customer=!ACME", expect(&drawn, |item| item.project == "OPS" && item.customer != Some("ACME"))),
        ("field.reviewer=me", expect(&drawn, |item| item.reviewed_by_admin)),
        ("field.reviewer=none", expect(&drawn, |item| item.project == "OPS" && !item.reviewed_by_admin)),
        (
            "field.severity=major&field.estimate=%3E3&project=OPS",
            expect(&drawn, |item| {
                item.project == "OPS" && item.severity == Some("major") && item.estimate.is_some_and(|value| value > 3)
            }),
        ),
    ];
    for (query, expected) in checks {
        assert!(!expected.is_empty(), "{query}: the drawn values should make this check meaningful");
        assert_eq!(list_ids(&app, query).await, expected, "{query}");
    }

    let severity_rank =
        |item: &Drawn| item.severity.map(|name| SEVERITIES.iter().position(|known| *known == name).unwrap());
    let sorts: Vec<(&str, Vec<i64>)> = vec![
        ("sort=field.estimate", sorted_by(&drawn, |item| item.estimate, false)),
        ("sort=-field.estimate", sorted_by(&drawn, |item| item.estimate, true)),
        ("sort=field.cost", sorted_by(&drawn, |item| item.cost, false)),
        ("sort=field.found_on", sorted_by(&drawn, |item| item.found_on.clone(), false)),
        ("sort=-field.severity", sorted_by(&drawn, severity_rank, true)),
        ("sort=field.customer", sorted_by(&drawn, |item| item.customer, false)),
        ("sort=field.regression", sorted_by(&drawn, |item| item.regression, false)),
    ];
    for (query, expected) in sorts {
        assert_eq!(list_ids(&app, query).await, expected, "{query}");
        // Page by page, across the end of the items with a value and with a filter.
        let mut paged = Vec::new();
        for offset in (0..expected.len()).step_by(7) {
            let page = app.admin.get(&format!("/api/v1/items?limit=7&offset={offset}&state=all&{query}")).await;
            assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
            paged.extend(page.body["items"].as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()));
        }
        assert_eq!(paged, expected, "{query}, 7 a page");
        let filtered: Vec<i64> = expected.iter().copied().filter(|id| drawn_in(&drawn, *id, "OPS")).collect();
        assert_eq!(list_ids(&app, &format!("{query}&project=OPS")).await, filtered, "{query}&project=OPS");
    }

    // Values carry their item's project and status: after items change status and move,
    // one project's lists by state and status count and walk exactly the right items.
    for (index, item) in drawn.iter_mut().enumerate() {
        let change = match index % 6 {
            1 => json!({"version": 1, "status_id": 5}),
            3 => json!({"version": 1, "status_id": 2}),
            4 if item.project == "WEB" && index % 12 == 4 => json!({"version": 1, "project": "OPS"}),
            _ => continue,
        };
        let reply = app.admin.patch(&format!("/api/v1/items/{}", item.id), change.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{change}: {}", reply.body);
        match change["status_id"].as_i64() {
            Some(status) => item.status = status,
            None => item.project = "OPS",
        }
    }
    let in_ops = |keep: &dyn Fn(&Drawn) -> bool| -> Vec<i64> {
        drawn.iter().filter(|item| item.project == "OPS" && keep(item)).map(|item| item.id).collect()
    };
    let open = |item: &Drawn| item.status != 5;
    let placed: Vec<(&str, Vec<i64>)> = vec![
        ("state=open&field.severity=major", in_ops(&|item| open(item) && item.severity == Some("major"))),
        ("state=closed&field.platforms=linux", in_ops(&|item| !open(item) && item.platforms.contains(&"linux"))),
        (
            "state=closed&field.platforms=linux,mac",
            in_ops(&|item| !open(item) && item.platforms.iter().any(|p| ["linux", "mac"].contains(p))),
        ),
        ("status=2&field.estimate=%3E5", in_ops(&|item| item.status == 2 && item.estimate.is_some_and(|v| v > 5))),
        ("state=all&field.regression=any", in_ops(&|item| item.regression.is_some())),
        ("state=open&field.platforms=any", in_ops(&|item| open(item) && !item.platforms.is_empty())),
        (
            "state=open&field.customer=~acm",
            in_ops(&|item| open(item) && item.customer.is_some_and(|name| name.to_lowercase().contains("acm"))),
        ),
        ("state=open&field.severity=!major", in_ops(&|item| open(item) && item.severity != Some("major"))),
        (
            "status=2&field.severity=minor,critical",
            in_ops(&|item| item.status == 2 && item.severity.is_some_and(|s| s != "major")),
        ),
        ("state=closed&field.regression=true", in_ops(&|item| !open(item) && item.regression == Some(true))),
        ("state=open&field.reviewer=me", in_ops(&|item| open(item) && item.reviewed_by_admin)),
    ];
    for (query, expected) in placed {
        assert!(!expected.is_empty(), "{query}: the drawn values should make this check meaningful");
        assert_eq!(ids_of(&app, &format!("project=OPS&sort=id&{query}")).await, expected, "{query}");
    }
    for (query, key, status) in [
        ("state=open&sort=-field.found_on", "found_on", None),
        ("state=closed&sort=field.estimate", "estimate", None),
        ("status=2&sort=field.customer", "customer", Some(2)),
    ] {
        let keep = |item: &Drawn| {
            item.project == "OPS"
                && match (status, query.starts_with("state=open")) {
                    (Some(status), _) => item.status == status,
                    (None, true) => open(item),
                    (None, false) => !open(item),
                }
        };
        let kept: Vec<Drawn> = drawn.iter().filter(|item| keep(item)).cloned().collect();
        let expected = match key {
            "found_on" => sorted_by(&kept, |item| item.found_on.clone(), true),
            "estimate" => sorted_by(&kept, |item| item.estimate, false),
            _ => sorted_by(&kept, |item| item.customer, false),
        };
        let mut paged = Vec::new();
        for offset in (0..expected.len()).step_by(7) {
            let page = app.admin.get(&format!("/api/v1/items?limit=7&offset={offset}&project=OPS&{query}")).await;
            assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
            assert_eq!(page.body["total"], expected.len() as i64, "{query}");
            paged.extend(page.body["items"].as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()));
        }
        assert_eq!(paged, expected, "{query}, 7 a page");
    }
    // A walk of one project's values with conditions: "not" includes items without a value;
    // "none" of a field that does not apply in the project matches nothing.
    let kept: Vec<Drawn> = drawn
        .iter()
        .filter(|item| item.project == "OPS" && open(item) && item.severity != Some("major"))
        .cloned()
        .collect();
    assert_eq!(
        ids_of(&app, "project=OPS&state=open&field.severity=!major&sort=-field.found_on").await,
        sorted_by(&kept, |item| item.found_on.clone(), true),
    );
    let kept: Vec<Drawn> = drawn
        .iter()
        .filter(|item| item.project == "OPS" && item.platforms.contains(&"mac") && item.estimate.is_some_and(|v| v > 2))
        .cloned()
        .collect();
    assert_eq!(
        ids_of(&app, "project=OPS&state=all&field.platforms=mac&field.estimate=%3E2&sort=field.cost").await,
        sorted_by(&kept, |item| item.cost, false),
    );
    assert_eq!(ids_of(&app, "project=WEB&state=all&field.customer=none&sort=field.estimate").await, Vec::<i64>::new());
    assert_eq!(
        app.count_rows(
            "item_values v JOIN items i ON i.id = v.item_id \
             WHERE v.project_id <> i.project_id OR v.status_id <> i.status_id OR v.project_id IS NULL OR v.status_id IS NULL"
        ),
        0,
        "every value is placed in its item's project and status"
    );
    // A node of the previous release writes values without their placement: it is filled in.
    let item = &drawn[1];
    app.database()
        .get()
        .unwrap()
        .batch_execute(&format!(
            "DELETE FROM item_values WHERE item_id = {id} AND field_id = (SELECT id FROM fields WHERE key = 'estimate'); \
             INSERT INTO item_values (item_id, field_id, int_value) \
             SELECT {id}, id, 99 FROM fields WHERE key = 'estimate'",
            id = item.id
        ))
        .unwrap();
    assert_eq!(
        ids_of(&app, "project=OPS&state=closed&field.estimate=99").await,
        vec![item.id],
        "a value written without its placement is placed"
    );
    assert_eq!(
        app.count_rows(
            "(SELECT field_id, project_id, value_key, status_id, COUNT(*) AS counted \
              FROM (SELECT field_id, project_id, status_id, COALESCE(choice_id, user_id, \
                      CASE WHEN bool_value THEN 1 WHEN NOT bool_value THEN 0 END) AS value_key FROM item_values) v \
              WHERE value_key IS NOT NULL GROUP BY field_id, project_id, value_key, status_id) c \
             FULL OUTER JOIN (SELECT field_id, project_id, value_key, status_id, SUM(items) AS summed \
              FROM value_totals GROUP BY field_id, project_id, value_key, status_id) t \
             USING (field_id, project_id, value_key, status_id) WHERE COALESCE(counted, 0) <> COALESCE(summed, 0)"
        ),
        0,
        "value_totals agree with the values"
    );

    for (query, name) in [
        ("field.nobody=1", "field.nobody"),
        ("field.estimate=many", "field.estimate"),
        ("field.severity=blocker", "field.severity"),
        ("field.severity=%3Emajor", "field.severity"),
        ("field.found_on=%3Cyesterday", "field.found_on"),
        ("field.estimate=~5", "field.estimate"),
        ("field.cost=NaN", "field.cost"),
        ("sort=field.nobody", "sort"),
        ("sort=colour", "sort"),
    ] {
        let reply = app.admin.get(&format!("/api/v1/items?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], name, "{query}: {}", reply.body);
    }
}

async fn search_finds_field_text_and_takes_key_value_conditions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_project("OPS", false).await;
    app.create_project("WEB", false).await;
    define(&app, json!({"key": "customer", "name": "Customer", "type": "text", "projects": ["OPS"]})).await;
    define(&app, json!({"key": "estimate", "name": "Estimate", "type": "integer"})).await;
    define(
        &app,
        json!({"key": "severity", "name": "Severity", "type": "choice", "choices": ["minor", "catastrophic"]}),
    )
    .await;
    let mut ids = Vec::new();
    for (project, fields) in [
        ("OPS", json!({"customer": "Zanzibar Trading", "estimate": 8, "severity": "catastrophic"})),
        ("OPS", json!({"estimate": 2, "severity": "minor"})),
        ("WEB", json!({"estimate": 9})),
    ] {
        let reply =
            app.admin.post("/api/v1/items", json!({"project": project, "title": "Widget", "fields": fields})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(reply.body["id"].as_i64().unwrap());
    }
    crate::search::index_everything(&app).await;
    let found = |query: &'static str| {
        let app = &app;
        async move {
            let reply = app.admin.get(&format!("/api/v1/search?q={}", crate::search::url_encode(query))).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
            let mut hits: Vec<i64> =
                reply.body["hits"].as_array().unwrap().iter().map(|hit| hit["item"]["id"].as_i64().unwrap()).collect();
            hits.sort();
            hits
        }
    };
    assert_eq!(found("zanzibar").await, vec![ids[0]], "text field values are searchable");
    assert_eq!(found("catastrophic").await, vec![ids[0]], "choice values are searchable");
    assert_eq!(found("widget estimate:>5").await, vec![ids[0], ids[2]]);
    assert_eq!(found("widget severity:minor").await, vec![ids[1]]);
    assert_eq!(found("widget customer:none").await, vec![ids[1]], "none only where the field applies");
    let refused = app.admin.get("/api/v1/search?q=estimate%3Amany").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    let renamed = app.admin.get("/api/v1/fields/severity").await.body;
    let changed = app
        .admin
        .patch(
            "/api/v1/fields/severity",
            json!({"choices": [{"id": renamed["choices"][0]["id"]}, {"id": renamed["choices"][1]["id"], "value": "apocalyptic"}]}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    crate::search::index_everything(&app).await;
    assert_eq!(found("apocalyptic").await, vec![ids[0]], "a renamed choice is found by its new name");
    assert_eq!(found("catastrophic").await, Vec::<i64>::new());
}
