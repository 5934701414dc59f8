//! Every operation of the OpenAPI document: path and query parameters and a JSON (or
//! multipart) body built from its schemas with values that fit, then one part broken — a
//! path segment, a query parameter, a body field, the whole body or the credentials.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use reqwest::Method;
use serde_json::Value;

use super::values::{garbage_body, hostile_bytes, hostile_json, json_string, percent_encoded};
use super::{Actor, Fixture, Run};
use crate::support::TestApp;

/// Requests per operation and actor (times `BATON_FUZZ_ROUNDS`); fewer without credentials,
/// where almost every route stops at the sign-in check.
const ROUNDS_SIGNED_IN: usize = 24;
const ROUNDS_ANONYMOUS: usize = 6;

pub async fn fuzz(run: &mut Run, app: &TestApp, fixture: &Fixture, document: &Value, actor: &mut Actor) {
    let operations = operations(document);
    assert!(operations.len() >= 60, "only {} operations found in the OpenAPI document", operations.len());
    let rounds = run.rounds * if actor.user_id.is_some() { ROUNDS_SIGNED_IN } else { ROUNDS_ANONYMOUS };
    for operation in &operations {
        for _ in 0..rounds {
            let (request, target, shown) = build(&mut run.rng, app, fixture, document, operation, actor);
            let answer = run.send(request, format!("{} (API): {shown}", actor.login)).await;
            let refused_for_the_broken_credentials = target == Target::Credentials;
            if !refused_for_the_broken_credentials
                && answer.is_some_and(|(status, location)| actor.lost_access(status, &location))
            {
                actor.restore(app, fixture).await;
            }
        }
    }
}

struct Operation {
    method: Method,
    path: String,
    parameters: Vec<Parameter>,
    body: Body,
}

struct Parameter {
    name: String,
    location: String,
    schema: Value,
    /// The name of the shared parameter it refers to (`ItemId`, `UserId`, …), which says
    /// what its ids are.
    reference: Option<String>,
}

enum Body {
    None,
    Json(Value),
    Multipart,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else { continue };
            let listed = item["parameters"].as_array().into_iter().chain(operation["parameters"].as_array()).flatten();
            let parameters = listed
                .map(|parameter| {
                    let reference =
                        parameter["$ref"].as_str().map(|text| text.rsplit('/').next().unwrap_or("").to_string());
                    let resolved = match &reference {
                        Some(name) => &document["components"]["parameters"][name],
                        None => parameter,
                    };
                    Parameter {
                        name: resolved["name"].as_str().unwrap_or_default().to_string(),
                        location: resolved["in"].as_str().unwrap_or_default().to_string(),
                        schema: resolved["schema"].clone(),
                        reference,
                    }
                })
                .collect();
            let content = &operation["requestBody"]["content"];
            let body = if let Some(json) = content.get("application/json") {
                Body::Json(json["schema"].clone())
            } else if content.get("multipart/form-data").is_some() {
                Body::Multipart
            } else {
                Body::None
            };
            found.push(Operation {
                method: method.to_uppercase().parse().expect("method"),
                path: path.clone(),
                parameters,
                body,
            });
        }
    }
    found
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Path,
    Query,
    Body,
    WholeBody,
    Credentials,
}

fn build(
    rng: &mut StdRng,
    app: &TestApp,
    fixture: &Fixture,
    document: &Value,
    operation: &Operation,
    actor: &Actor,
) -> (reqwest::RequestBuilder, Target, String) {
    let path_parameters: Vec<&Parameter> =
        operation.parameters.iter().filter(|parameter| parameter.location == "path").collect();
    let query_parameters: Vec<&Parameter> =
        operation.parameters.iter().filter(|parameter| parameter.location == "query").collect();
    let mut targets = vec![Target::Query, Target::WholeBody, Target::Credentials];
    if !path_parameters.is_empty() {
        targets.extend([Target::Path, Target::Path]);
    }
    if !matches!(operation.body, Body::None) {
        targets.extend([Target::Body, Target::Body, Target::Body]);
    }
    let target = *targets.choose(rng).expect("a target");

    let broken_path_parameter = rng.random_range(0..path_parameters.len().max(1));
    let mut path = operation.path.clone();
    for (index, parameter) in path_parameters.iter().enumerate() {
        let value = if target == Target::Path && index == broken_path_parameter {
            percent_encoded(&hostile_bytes(rng))
        } else {
            path_value(rng, fixture, parameter)
        };
        path = path.replace(&format!("{{{}}}", parameter.name), &value);
    }

    let mut query: Vec<String> = Vec::new();
    let broken_query_parameter = rng.random_range(0..query_parameters.len() + 1);
    for (index, parameter) in query_parameters.iter().enumerate() {
        let broken = target == Target::Query && index == broken_query_parameter;
        if broken {
            query.push(format!("{}={}", parameter.name, percent_encoded(&hostile_bytes(rng))));
        } else if rng.random_bool(0.5) {
            let value = match parameter.schema["type"].as_str() {
                Some("integer") => id_value(rng, fixture, &parameter.name, None).to_string(),
                _ => text_value(rng, &parameter.name, &parameter.schema),
            };
            query.push(format!("{}={}", parameter.name, percent_encoded(value.as_bytes())));
        }
    }
    if target == Target::Query && broken_query_parameter == query_parameters.len() {
        query.push(format!("{}={}", percent_encoded(&hostile_bytes(rng)), percent_encoded(&hostile_bytes(rng))));
    }
    let url = if query.is_empty() { app.url(&path) } else { app.url(&format!("{path}?{}", query.join("&"))) };

    let mut request = actor.api_client.request(operation.method.clone(), &url);
    let (body, content_type) = match (&operation.body, target) {
        (_, Target::WholeBody) => garbage_body(rng),
        (Body::Json(schema), target) => {
            (json_object(rng, fixture, document, schema, target == Target::Body), Some("application/json"))
        }
        (Body::Multipart, target) => {
            let (body, content_type) = multipart(rng, fixture, target == Target::Body);
            request = request.header("Content-Type", content_type);
            (body, None)
        }
        (Body::None, _) => (Vec::new(), None),
    };
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let shown_body: String = String::from_utf8_lossy(&body).chars().take(200).collect();
    request = request.body(body);
    match (&actor.api, target) {
        (_, Target::Credentials) => request = broken_credentials(rng, request),
        (Some(api), _) => request = request.bearer_auth(&api.token),
        (None, _) => {}
    }
    (request, target, format!("{} {url} {shown_body}", operation.method))
}

/// A value that fits a path parameter: an id of the fixture's, a project key, a job name.
fn path_value(rng: &mut StdRng, fixture: &Fixture, parameter: &Parameter) -> String {
    match (parameter.schema["type"].as_str(), parameter.name.as_str()) {
        (Some("integer"), name) => id_value(rng, fixture, name, parameter.reference.as_deref()).to_string(),
        (_, "project") => fixture.project_key.to_string(),
        (_, "name") => ["prune", "session_cleanup", "index_merge"].choose(rng).unwrap_or(&"prune").to_string(),
        // A cluster node name: never this node's, so that no request takes it out of service.
        (_, _) => "no-such-node".to_string(),
    }
}

/// An id that exists, or nearly: users an actor is not (so that administrators' changes hit
/// bystanders), the fixture's items, comments and attachments, workflow entries.
fn id_value(rng: &mut StdRng, fixture: &Fixture, name: &str, reference: Option<&str>) -> i64 {
    let people = [fixture.plain_id, fixture.victims[0], fixture.admin_id];
    let pool: Vec<i64> = match (reference, name) {
        (Some("ItemId"), _) | (None, "id") => fixture.items.clone(),
        (Some("UserId"), _) => fixture.victims.clone(),
        (Some("AttachmentId"), _) => fixture.attachments.clone(),
        // Not the actors' own tokens: revoking those only costs a new sign-in.
        (Some("TokenId"), _) => vec![1_000, 1_001],
        (_, "user_id" | "assignee_id" | "reporter" | "assignee") => people.to_vec(),
        (_, "comment_id") => fixture.comments.clone(),
        (_, "version") => vec![1, 2, 3],
        _ => (1..=6).collect(),
    };
    *pool.choose(rng).unwrap_or(&1)
}

/// Text that fits a field: the fixture's project, a role from the schema's list, a date, an
/// address, or plain words.
fn text_value(rng: &mut StdRng, name: &str, schema: &Value) -> String {
    if let Some(choices) = schema["enum"].as_array() {
        return choices.choose(rng).and_then(Value::as_str).unwrap_or_default().to_string();
    }
    match (name, schema["format"].as_str()) {
        (_, Some("date")) => "2026-12-31".into(),
        (_, Some("email")) | ("email", _) => "fuzz@example.com".into(),
        ("project", _) => "FUZ".into(),
        ("key", _) => format!("FZ{}", rng.random_range(100..999)),
        ("login", _) => "plain".into(),
        ("password" | "new_password" | "current_password", _) => "a long enough password".into(),
        ("node", _) => "no-such-node".into(),
        ("q", _) => "fuzz project:FUZ".into(),
        ("state", _) => "open".into(),
        ("sort", _) => "-id".into(),
        ("assignee" | "reporter", _) => "me".into(),
        (_, _) => "fuzz text".into(),
    }
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|reference| reference.rsplit('/').next()) {
        Some(name) => &document["components"]["schemas"][name],
        None => schema,
    }
}

/// A JSON object for the schema, as raw text (so that it can hold duplicate keys, numbers past
/// i64 and invalid UTF-8), with one part broken when `broken` is set.
fn json_object(rng: &mut StdRng, fixture: &Fixture, document: &Value, schema: &Value, broken: bool) -> Vec<u8> {
    let schema = resolve(document, schema);
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        if required.contains(&name.as_str()) || rng.random_bool(0.6) {
            fields.push((json_string(name.as_bytes()), json_value(rng, fixture, document, name, property)));
        }
    }
    if broken {
        let chosen = rng.random_range(0..fields.len().max(1));
        match (rng.random_range(0..6), fields.get_mut(chosen)) {
            // A value that does not fit.
            (0..=2, Some((_, value))) => *value = hostile_json(rng),
            // The same field twice, the second time with a value that does not fit.
            (3, Some((name, _))) => {
                let name = name.clone();
                fields.push((name, hostile_json(rng)));
            }
            // A field missing (a required one, as often as not).
            (4, Some(_)) => {
                fields.remove(chosen);
            }
            // A field nobody asked for.
            _ => fields.push((json_string(&hostile_bytes(rng)), hostile_json(rng))),
        }
    }
    let mut text = b"{".to_vec();
    for (index, (name, value)) in fields.into_iter().enumerate() {
        if index > 0 {
            text.push(b',');
        }
        text.extend(name);
        text.push(b':');
        text.extend(value);
    }
    text.push(b'}');
    text
}

fn json_value(rng: &mut StdRng, fixture: &Fixture, document: &Value, name: &str, schema: &Value) -> Vec<u8> {
    let schema = resolve(document, schema);
    if let Some(choice) = schema["oneOf"].as_array().and_then(|choices| choices.choose(rng)) {
        return json_value(rng, fixture, document, name, choice);
    }
    match schema["type"].as_str() {
        Some("string") => json_string(text_value(rng, name, schema).as_bytes()),
        Some("integer") => id_value(rng, fixture, name, None).to_string().into_bytes(),
        Some("boolean") => {
            if rng.random_bool(0.5) {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            }
        }
        Some("array") => {
            let values: Vec<Vec<u8>> = (0..rng.random_range(0..3))
                .map(|_| json_value(rng, fixture, document, name, &schema["items"]))
                .collect();
            [b"[".to_vec(), values.join(&b","[..]), b"]".to_vec()].concat()
        }
        Some("object") => json_object(rng, fixture, document, schema, false),
        _ => b"null".to_vec(),
    }
}

/// An upload: a `file` part and maybe a `comment_id` part, with one of them (or the form's
/// structure) broken when `broken` is set.
fn multipart(rng: &mut StdRng, fixture: &Fixture, broken: bool) -> (Vec<u8>, String) {
    let boundary = format!("fuzz{}", rng.random_range(100_000..999_999));
    let mut file_name = b"notes.txt".to_vec();
    let mut file_type = b"text/plain".to_vec();
    let mut comment_id = fixture.comments[0].to_string().into_bytes();
    let mut field_name = b"file".to_vec();
    let mut closed = true;
    if broken {
        match rng.random_range(0..5) {
            0 => file_name = hostile_bytes(rng),
            1 => file_type = hostile_bytes(rng),
            2 => comment_id = hostile_bytes(rng),
            3 => field_name = hostile_bytes(rng),
            _ => closed = false,
        }
    }
    let mut body = Vec::new();
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"").into_bytes());
    body.extend(field_name);
    body.extend(b"\"; filename=\"");
    body.extend(file_name);
    body.extend(b"\"\r\nContent-Type: ");
    body.extend(file_type);
    body.extend(b"\r\n\r\n");
    body.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
    if rng.random_bool(0.5) || broken {
        body.extend(
            format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"comment_id\"\r\n\r\n").into_bytes(),
        );
        body.extend(comment_id);
    }
    if closed {
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    }
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// A request without the actor's token but with a session cookie or `Authorization`
/// header that no one was given.
fn broken_credentials(rng: &mut StdRng, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let secret = percent_encoded(&hostile_bytes(rng));
    match rng.random_range(0..4) {
        0 => request.header("Cookie", format!("baton_session={secret}")),
        1 => request.header("Authorization", format!("Bearer baton_{secret}")),
        2 => {
            // Bytes past ASCII are legal in a header value, and not text.
            let mut value = b"Bearer baton_".to_vec();
            value.extend((0..rng.random_range(1..40)).map(|_| rng.random_range(0x80..=0xff_u8)));
            let value = reqwest::header::HeaderValue::from_bytes(&value).expect("obs-text is a valid header value");
            request.header("Authorization", value)
        }
        _ => request
            .header("Authorization", format!("Basic {secret}"))
            .header("Cookie", format!("baton_session=;{secret}")),
    }
}
