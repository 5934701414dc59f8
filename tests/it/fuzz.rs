//! Random and hostile input — NUL, invalid UTF-8, random bytes, numbers past i64, over-long
//! text, garbage bodies — through every operation of the OpenAPI document (`api`) and every
//! form the pages show (`forms`, with a valid CSRF token so the input reaches the handler),
//! as an administrator, as a plain developer and without signing in: no answer is a 5xx, and
//! every request gets an answer.
//!
//! Each request starts from a valid-looking one and breaks one part of it (a path segment, a
//! query parameter, a body field, the whole body), so that the broken part gets past
//! everything else to the code that reads it. The run is deterministic for a seed: it prints
//! the seed, `BATON_FUZZ_SEED=<seed>` replays it, and `BATON_FUZZ_ROUNDS` (default 1) scales
//! how many requests it sends.

mod api;
mod forms;
mod values;

use std::time::Instant;

use baton::model::ids::UserId;
use baton::model::permission::Role;
use baton::model::user::{self, UserUpdate};
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::app::{ADMIN_PASSWORD, USER_PASSWORD};
use crate::support::web::WebClient;
use crate::support::{Api, Backend, TestApp};

on_both_backends!(no_input_through_any_route_or_form_gets_a_server_error);

async fn no_input_through_any_route_or_form_gets_a_server_error(backend: Backend) {
    let seed = std::env::var("BATON_FUZZ_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(rand::random);
    let rounds = std::env::var("BATON_FUZZ_ROUNDS").ok().and_then(|rounds| rounds.parse().ok()).unwrap_or(1);
    eprintln!("fuzzing {backend:?} with seed {seed} (replay: BATON_FUZZ_SEED={seed})");
    // Random sign-ins fail by the hundred; the address limit must not lock the actors out.
    let app = TestApp::spawn_with(backend, |settings| settings.sessions.max_failed_logins = 1_000_000).await;
    let fixture = Fixture::create(&app).await;
    // Until the first index is built, search answers 503 whatever it is asked.
    crate::search::index_everything(&app).await;
    let document: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let mut run =
        Run { rng: StdRng::seed_from_u64(seed), rounds, sent: 0, statuses: Default::default(), failures: Vec::new() };
    let started = Instant::now();

    let mut anonymous = Actor::anonymous(&app);
    api::fuzz(&mut run, &app, &fixture, &document, &mut anonymous).await;
    forms::fuzz_sign_in(&mut run, &app).await;
    for login in ["admin", "plain"] {
        let mut actor = Actor::signed_in(&app, &fixture, login).await;
        api::fuzz(&mut run, &app, &fixture, &document, &mut actor).await;
        forms::fuzz(&mut run, &app, &fixture, &mut actor).await;
    }

    eprintln!(
        "{backend:?}: {} requests in {:.1} s; answers by status: {:?}",
        run.sent,
        started.elapsed().as_secs_f64(),
        run.statuses
    );
    let ping = reqwest::get(app.url("/api/v1/system/ping")).await.expect("the node still answers");
    assert_eq!(ping.status(), StatusCode::OK, "the node is still healthy");
    assert!(
        run.failures.is_empty(),
        "seed {seed}: {} of {} requests got a server error or no answer (replay: BATON_FUZZ_SEED={seed}):\n{}",
        run.failures.len(),
        run.sent,
        run.failures.join("\n")
    );
}

/// The state of one run: its random source and what it found.
pub struct Run {
    pub rng: StdRng,
    /// How many times the default number of requests to send.
    pub rounds: usize,
    pub sent: usize,
    /// How many answers had each status, to show what the run reached.
    pub statuses: std::collections::BTreeMap<u16, usize>,
    pub failures: Vec<String>,
}

impl Run {
    /// Sends a request and records a 5xx or a missing answer; returns the status and the
    /// `Location` header.
    pub async fn send(&mut self, request: reqwest::RequestBuilder, shown: String) -> Option<(StatusCode, String)> {
        self.sent += 1;
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                *self.statuses.entry(status.as_u16()).or_default() += 1;
                let location =
                    response.headers().get("location").and_then(|value| value.to_str().ok()).unwrap_or("").to_string();
                let body = response.bytes().await.unwrap_or_default();
                if status.is_server_error() {
                    let excerpt: String = String::from_utf8_lossy(&body).chars().take(300).collect();
                    self.failures.push(format!("{status} for {shown}: {excerpt}"));
                }
                Some((status, location))
            }
            Err(error) => {
                self.failures.push(format!("no answer for {shown}: {error}"));
                None
            }
        }
    }
}

/// What the run works on: two projects, items with a comment and an attachment, and users
/// that administrators' requests may change at will.
pub struct Fixture {
    pub project_key: &'static str,
    pub items: Vec<i64>,
    pub comments: Vec<i64>,
    pub attachments: Vec<i64>,
    /// Users that no actor acts as.
    pub victims: Vec<i64>,
    pub admin_id: i64,
    pub plain_id: i64,
}

impl Fixture {
    async fn create(app: &TestApp) -> Fixture {
        app.create_project("FUZ", false).await;
        app.create_project("PUB", true).await;
        let plain = app.create_user("plain").await;
        app.add_member("FUZ", &plain, "developer").await;
        let victim = app.create_user("victim").await;
        app.add_member("FUZ", &victim, "reporter").await;
        let bystander = app.create_user("bystander").await;
        let items = vec![
            id_of(&app.admin.create_item("FUZ", "First fuzz target").await),
            id_of(&plain.create_item("FUZ", "Reported by plain").await),
            id_of(&app.admin.create_item("PUB", "Public fuzz target").await),
        ];
        let comment =
            app.admin.post(&format!("/api/v1/items/{}/comments", items[0]), json!({"body": "A comment"})).await;
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(b"notes".to_vec()).file_name("notes.txt"));
        let attachment = app
            .admin
            .send(app.admin.client.post(app.url(&format!("/api/v1/items/{}/attachments", items[0]))).multipart(form))
            .await;
        assert_eq!(attachment.status, StatusCode::CREATED, "{}", attachment.body);
        Fixture {
            project_key: "FUZ",
            items,
            comments: vec![id_of(&comment.body)],
            attachments: vec![id_of(&attachment.body)],
            victims: vec![victim.user_id, bystander.user_id],
            admin_id: app.admin.user_id,
            plain_id: plain.user_id,
        }
    }
}

fn id_of(value: &Value) -> i64 {
    value["id"].as_i64().unwrap_or_else(|| panic!("no id in {value}"))
}

/// Who sends the requests: an API client with a bearer token and a browser with a session,
/// or neither.
pub struct Actor {
    pub login: &'static str,
    pub user_id: Option<i64>,
    pub api: Option<Api>,
    /// Sends the API requests: without cookies, so only the token (or nothing) identifies.
    pub api_client: reqwest::Client,
    pub web: WebClient,
    /// The session's CSRF token, as the pages embed it.
    pub csrf: String,
}

impl Actor {
    fn anonymous(app: &TestApp) -> Actor {
        Actor {
            login: "nobody",
            user_id: None,
            api: None,
            api_client: reqwest::Client::new(),
            web: WebClient::new(&app.address),
            csrf: String::new(),
        }
    }

    async fn signed_in(app: &TestApp, fixture: &Fixture, login: &'static str) -> Actor {
        let mut actor = Actor::anonymous(app);
        actor.login = login;
        actor.user_id = Some(if login == "admin" { fixture.admin_id } else { fixture.plain_id });
        actor.restore(app, fixture).await;
        actor
    }

    pub fn is_admin(&self) -> bool {
        self.login == "admin"
    }

    fn password(&self) -> &'static str {
        if self.is_admin() { ADMIN_PASSWORD } else { USER_PASSWORD }
    }

    /// Undoes what earlier requests may have done to the actor — a new password, a
    /// deactivation, a lost administrator flag or membership, a revoked token, a signed-out
    /// session — and signs in again.
    pub async fn restore(&mut self, app: &TestApp, fixture: &Fixture) {
        let Some(user_id) = self.user_id else { return };
        let (password, is_admin, project_key) = (self.password(), self.is_admin(), fixture.project_key);
        let database = app.database();
        tokio::task::spawn_blocking(move || {
            let mut connection = database.get().expect("connection");
            let changes = UserUpdate {
                password: Some(password.into()),
                active: Some(true),
                is_admin: Some(is_admin),
                ..UserUpdate::default()
            };
            user::update(&mut connection, UserId(user_id), changes).expect("restoring the actor");
            if !is_admin {
                let reference = baton::model::project::ProjectKeyOrId::parse(project_key);
                let project = baton::model::project::find(&mut connection, &reference).expect("the fuzz project");
                baton::model::membership::put_role(&mut connection, project.id, UserId(user_id), Role::Developer)
                    .expect("restoring the membership");
            }
        })
        .await
        .expect("restoring");
        self.api = Some(Api::sign_in_with_token(&app.address, self.login, password).await);
        self.web = WebClient::sign_in(&app.address, self.login, password).await;
        self.csrf = self.web.csrf_token().await;
    }

    /// Whether an answer says the actor lost what it needs (its session, token or rights).
    pub fn lost_access(&self, status: StatusCode, location: &str) -> bool {
        self.user_id.is_some()
            && (status == StatusCode::UNAUTHORIZED
                || location.starts_with("/signin")
                || (self.is_admin() && status == StatusCode::FORBIDDEN))
    }
}
