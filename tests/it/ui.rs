//! The browser pages, driven without a browser (`support::web::WebClient`: sign-in,
//! security headers, CSRF on every form, escaping, permissions, conflicts, validation
//! messages, each page's behaviour) and in headless Chromium (`browser`, and the browser tests
//! of `confirm`, `layout` and `tasks`).

mod account;
mod admin;
mod browser;
mod confirm;
mod fields;
mod in_place;
mod items;
mod layout;
mod links;
mod lists;
mod planning;
mod security;
mod sub_items;
mod tasks;
mod workflow;

use crate::support::app::ADMIN_PASSWORD;
use crate::support::web::WebClient;
use crate::support::{Backend, TestApp};

async fn app_with_project() -> (TestApp, WebClient) {
    app_with_project_on(Backend::Sqlite).await
}

async fn app_with_project_on(backend: Backend) -> (TestApp, WebClient) {
    let app = TestApp::spawn(backend).await;
    app.create_project("WEB", false).await;
    let admin = WebClient::sign_in(&app.address, "admin", ADMIN_PASSWORD).await;
    (app, admin)
}
