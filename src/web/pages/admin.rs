//! Administrator pages: the cluster, refused mail, users, projects and the workflow. Every
//! handler starts with `require_admin`; the model functions check again where they must.

pub mod cluster;
pub mod mail;
pub mod users;
pub mod workflow;

use actix_web::HttpResponse;
use askama::Template;

use crate::web::pages::{Chrome, page};

use crate::web::pages::error::PageError;

use crate::web::pages::viewer::AdminViewer;

#[derive(Template)]
#[template(path = "admin/index.html")]
struct AdminIndexPage {
    chrome: Chrome,
}

pub async fn show_index(viewer: AdminViewer) -> Result<HttpResponse, PageError> {
    page(&AdminIndexPage { chrome: viewer.chrome() })
}
