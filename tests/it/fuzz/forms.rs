//! Every form the pages show, found by reading the pages as the actor sees them and sent
//! with the session's CSRF token and one part broken (a field, a path segment of its action,
//! the uploaded file's name or type); the pages themselves with a broken path segment; and
//! the sign-in form, which has no session yet.

use std::collections::HashSet;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use reqwest::Method;

use super::values::{hostile_bytes, percent_encoded};
use super::{Actor, Fixture, Run};
use crate::support::TestApp;

/// The pages that hold forms, besides the fixture's item pages.
const PAGES: &[&str] = &[
    "/",
    "/items",
    "/items/new",
    "/projects",
    "/projects/FUZ",
    "/projects/FUZ/settings",
    "/profile",
    "/search?q=fuzz",
    "/admin",
    "/admin/users",
    "/admin/cluster",
    "/admin/mail",
    "/admin/workflow",
];

/// Submissions per form, and requests per page with a broken path (times `BATON_FUZZ_ROUNDS`).
const ROUNDS_PER_FORM: usize = 8;
const ROUNDS_PER_PAGE: usize = 3;

/// The hidden fields that prove where a form came from: sent as the page gave them.
const TOKEN_FIELDS: &[&str] = &["csrf_token", "form_token"];

pub async fn fuzz(run: &mut Run, app: &TestApp, fixture: &Fixture, actor: &mut Actor) {
    let item_pages = fixture.items.iter().map(|id| format!("/items/{id}"));
    let pages: Vec<String> = PAGES.iter().map(|page| page.to_string()).chain(item_pages).collect();
    // The search box and the sign-out button are on every page: each form is sent from the
    // first page that shows it.
    let mut seen: HashSet<(String, String, Vec<String>)> = HashSet::new();
    for page in &pages {
        let mut shown = actor.web.get(page).await;
        if actor.lost_access(shown.status, shown.location().unwrap_or("")) {
            actor.restore(app, fixture).await;
            shown = actor.web.get(page).await;
        }
        // Signing out takes nothing but the token, and would only end the run's session.
        let forms: Vec<Form> = parse_forms(&shown.body)
            .into_iter()
            .filter(|form| form.action != "/signout")
            .filter(|form| {
                let names = form.fields.iter().map(|(name, ..)| name.clone()).collect();
                seen.insert((form.method.to_string(), form.action.clone(), names))
            })
            .collect();
        for form in &forms {
            for _ in 0..ROUNDS_PER_FORM * run.rounds {
                let (request, shown) = submission(&mut run.rng, app, actor, form);
                let answer = run.send(request, format!("{} (page {page}): {shown}", actor.login)).await;
                if answer.is_some_and(|(status, location)| actor.lost_access(status, &location)) {
                    actor.restore(app, fixture).await;
                }
            }
        }
        for _ in 0..ROUNDS_PER_PAGE * run.rounds {
            let url = app.url(&with_broken_segment(&mut run.rng, page));
            run.send(actor.web.client.get(&url), format!("{}: GET {url}", actor.login)).await;
        }
    }
}

/// The sign-in form without a session: its fields broken one at a time, the form token as
/// the page gave it (so the input gets past the login-CSRF check), and its `next` parameter.
pub async fn fuzz_sign_in(run: &mut Run, app: &TestApp) {
    let browser = crate::support::web::WebClient::new(&app.address);
    let page = browser.get("/signin?next=%2Fitems").await;
    let forms = parse_forms(&page.body);
    let form = forms.iter().find(|form| form.action == "/signin").expect("the sign-in form");
    let fuzzer = Actor {
        login: "nobody",
        user_id: None,
        api: None,
        api_client: reqwest::Client::new(),
        web: browser,
        csrf: String::new(),
    };
    for _ in 0..4 * ROUNDS_PER_FORM * run.rounds {
        let (request, shown) = submission(&mut run.rng, app, &fuzzer, form);
        run.send(request, format!("sign-in form: {shown}")).await;
        let next = percent_encoded(&hostile_bytes(&mut run.rng));
        let url = app.url(&format!("/signin?next={next}"));
        run.send(fuzzer.web.client.get(&url), format!("GET {url}")).await;
    }
}

/// A form as the page shows it.
#[derive(Debug)]
struct Form {
    method: Method,
    action: String,
    multipart: bool,
    /// Name, value, and whether a browser sends it as it stands (an unticked box it does not).
    fields: Vec<(String, String, bool)>,
}

fn submission(rng: &mut StdRng, app: &TestApp, actor: &Actor, form: &Form) -> (reqwest::RequestBuilder, String) {
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, value, sent) in &form.fields {
        let value = if name == "csrf_token" { actor.csrf.clone() } else { value.clone() };
        if *sent || TOKEN_FIELDS.contains(&name.as_str()) {
            fields.push((name.clone().into_bytes(), value.into_bytes()));
        }
    }
    let breakable: Vec<&String> =
        form.fields.iter().map(|(name, ..)| name).filter(|name| !TOKEN_FIELDS.contains(&name.as_str())).collect();
    let mut action = form.action.clone();
    match (rng.random_range(0..5), breakable.choose(rng)) {
        (0..=2, Some(name)) => {
            fields.retain(|(field, _)| field != name.as_bytes());
            fields.push((name.as_bytes().to_vec(), hostile_bytes(rng)));
        }
        // The fields go as they are to an address that names no record.
        (3, _) => action = with_broken_segment(rng, &form.action),
        // A form of nothing but its token is broken by a field it does not expect; a form
        // with fields never goes out whole to its own address, as that would act on the
        // fixture (deactivate a user, take the master role away).
        (_, None) => fields.push((hostile_bytes(rng), hostile_bytes(rng))),
        (_, Some(name)) => {
            fields.retain(|(field, _)| field != name.as_bytes());
            fields.push((name.as_bytes().to_vec(), hostile_bytes(rng)));
            fields.push((hostile_bytes(rng), hostile_bytes(rng)));
        }
    }
    let encoded: Vec<String> =
        fields.iter().map(|(name, value)| format!("{}={}", percent_encoded(name), percent_encoded(value))).collect();
    let url = app.url(&action);
    if form.method == Method::GET {
        let url = format!("{url}?{}", encoded.join("&"));
        return (actor.web.client.get(&url), format!("GET {url}"));
    }
    if form.multipart {
        let (body, content_type) = upload(rng, &fields);
        let shown =
            format!("POST {url} (upload) {}", String::from_utf8_lossy(&body).chars().take(200).collect::<String>());
        return (actor.web.client.post(&url).header("Content-Type", content_type).body(body), shown);
    }
    let body = encoded.join("&");
    let shown = format!("POST {url} {}", body.chars().take(200).collect::<String>());
    (actor.web.client.post(&url).header("Content-Type", "application/x-www-form-urlencoded").body(body), shown)
}

/// The upload form as multipart: the fields first (the token must come before the file),
/// then a file whose name, type or content may be anything.
fn upload(rng: &mut StdRng, fields: &[(Vec<u8>, Vec<u8>)]) -> (Vec<u8>, String) {
    let boundary = format!("fuzz{}", rng.random_range(100_000..999_999));
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"").into_bytes());
        body.extend(name);
        body.extend(b"\"\r\n\r\n");
        body.extend(value);
        body.extend(b"\r\n");
    }
    let (file_name, file_type) = match rng.random_range(0..3) {
        0 => (hostile_bytes(rng), b"text/plain".to_vec()),
        1 => (b"notes.txt".to_vec(), hostile_bytes(rng)),
        _ => (b"notes.txt".to_vec(), b"text/plain".to_vec()),
    };
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"").into_bytes());
    body.extend(file_name);
    body.extend(b"\"\r\nContent-Type: ");
    body.extend(file_type);
    body.extend(b"\r\n\r\n");
    body.extend((0..rng.random_range(0..256)).map(|_| rng.random::<u8>()));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// The path with one of its segments replaced by hostile bytes (the query stays).
fn with_broken_segment(rng: &mut StdRng, path_and_query: &str) -> String {
    let (path, query) =
        path_and_query.split_once('?').map_or((path_and_query, None), |(path, query)| (path, Some(query)));
    let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
    let index = rng.random_range(1..segments.len().max(2));
    let broken = percent_encoded(&hostile_bytes(rng));
    match segments.get_mut(index) {
        Some(segment) => *segment = broken,
        None => segments.push(broken),
    }
    let path = segments.join("/");
    query.map_or(path.clone(), |query| format!("{path}?{query}"))
}

/// The forms of a page, read the way a browser reads the markup Baton writes.
fn parse_forms(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let form_html = &rest[start..];
        let end = form_html.find("</form>").unwrap_or(form_html.len());
        let inner = &form_html[..end];
        rest = &form_html[end..];
        let Some(tag_end) = inner.find('>') else { continue };
        let attributes = attributes(&inner[1..tag_end]);
        let attribute = |name: &str| attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let method = if attribute("method").is_some_and(|method| method.eq_ignore_ascii_case("post")) {
            Method::POST
        } else {
            Method::GET
        };
        forms.push(Form {
            method,
            action: attribute("action").unwrap_or("/").to_string(),
            multipart: attribute("enctype") == Some("multipart/form-data"),
            fields: fields(&inner[tag_end..]),
        });
    }
    forms
}

fn fields(html: &str) -> Vec<(String, String, bool)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let tag_name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag_attributes = attributes(&rest[..tag_end]);
        let attribute = |name: &str| tag_attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
        let Some(name) = attribute("name") else { continue };
        match tag_name.as_str() {
            "input" => {
                let kind = attribute("type").unwrap_or_else(|| "text".into());
                let is_box = matches!(kind.as_str(), "checkbox" | "radio");
                // The file of an upload form is added by `upload`.
                if kind != "file" {
                    let value = attribute("value").unwrap_or_else(|| if is_box { "on".into() } else { String::new() });
                    found.push((name, value, !is_box || attribute("checked").is_some()));
                }
            }
            "textarea" => {
                let text_end = rest.find("</textarea>").unwrap_or(rest.len());
                let text = rest.get(tag_end + 1..text_end).unwrap_or("");
                found.push((name, unescaped(text), true));
            }
            "select" => {
                let options_html = &rest[..rest.find("</select>").unwrap_or(rest.len())];
                let options: Vec<Vec<(String, String)>> = options_html
                    .split("<option")
                    .skip(1)
                    .map(|option| attributes(&option[..option.find('>').unwrap_or(0)]))
                    .collect();
                let chosen = options
                    .iter()
                    .find(|option| option.iter().any(|(key, _)| key == "selected"))
                    .or(options.first())
                    .and_then(|option| option.iter().find(|(key, _)| key == "value").map(|(_, value)| value.clone()));
                found.push((name, chosen.unwrap_or_default(), true));
            }
            _ => {}
        }
    }
    found
}

/// The attributes of a tag's text (after `<`), values unescaped; bare ones get an empty value.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = tag.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    loop {
        rest = rest.trim_start();
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        if let Some(quoted) = rest.strip_prefix("=\"") {
            let end = quoted.find('"').unwrap_or(quoted.len());
            found.push((name, unescaped(&quoted[..end])));
            rest = quoted.get(end + 1..).unwrap_or("");
        } else {
            found.push((name, String::new()));
        }
    }
    found
}

fn unescaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            numeric => numeric.strip_prefix('#').and_then(|number| number.parse().ok()).and_then(char::from_u32),
        };
        match decoded {
            Some(character) => {
                out.push(character);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn forms_are_read_with_their_fields_as_a_browser_sends_them() {
    let html = r#"<form method="post" action="/items/3/edit" class="stacked" novalidate>
        <input type="hidden" name="csrf_token" value="abc">
        <input id="t" name="title" value="a &#34;b&#34; &amp; c" required>
        <select name="type_id"><option value="1">Bug</option><option value="2" selected>Task</option></select>
        <textarea name="description" rows="3">x &#60;y&#62;</textarea>
        <label><input type="checkbox" name="is_closed"> closed</label>
        <button type="submit">Save</button></form>
        <form method="get" action="/search"><input name="q" value=""></form>"#;
    let forms = parse_forms(html);
    assert_eq!(forms.len(), 2);
    assert_eq!(forms[0].method, Method::POST);
    assert_eq!(forms[0].action, "/items/3/edit");
    let fields: Vec<(&str, &str, bool)> =
        forms[0].fields.iter().map(|(name, value, sent)| (name.as_str(), value.as_str(), *sent)).collect();
    assert_eq!(
        fields,
        [
            ("csrf_token", "abc", true),
            ("title", "a \"b\" & c", true),
            ("type_id", "2", true),
            ("description", "x <y>", true),
            ("is_closed", "on", false),
        ]
    );
    assert_eq!(forms[1].method, Method::GET);
}
