//! A project's roadmap: each open or locked version with its progress, due date and first
//! items; closed versions folded away below.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::model::permission::Permission;
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::version::VersionStatus;
use crate::model::version::roadmap::{self, ITEMS_SHOWN, Roadmap, VersionProgress};
use crate::model::workflow::Workflow;
use crate::web::AppState;
use crate::web::pages::badges::Badges;
use crate::web::pages::error::PageError;
use crate::web::pages::markdown::{self, TaskBoxes};
use crate::web::pages::viewer::Viewer;
use crate::web::pages::{Chrome, render};

#[derive(Template)]
#[template(path = "roadmap.html")]
struct RoadmapPage {
    chrome: Chrome,
    roadmap: Roadmap,
    /// Each current version's description as HTML, in the same order.
    descriptions: Vec<String>,
    badges: Badges,
    may_manage: bool,
    shown: i64,
}

impl RoadmapPage {
    fn is_locked(&self, entry: &VersionProgress) -> bool {
        entry.version.status == VersionStatus::Locked
    }
}

pub async fn show_roadmap(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let reference = ProjectKeyOrId::parse(&path.into_inner());
    let (roadmap, workflow, may_manage, described) = state
        .database
        .run(move |connection| {
            let (project, access) = project::get_with(connection, &user, &reference, Permission::View)?;
            let place = project.id;
            let roadmap = roadmap::of_readable(connection, project)?;
            // The references in the versions' descriptions, as the viewer may follow them.
            let descriptions = roadmap.current.iter().map(|entry| entry.version.description.as_str());
            let described = markdown::targets(connection, &user, Some(place), descriptions)?;
            Ok((roadmap, Workflow::load(connection)?, access.allows(Permission::Manage), described))
        })
        .await?;
    let descriptions = roadmap
        .current
        .iter()
        .map(|entry| markdown::render(&entry.version.description, TaskBoxes::Disabled, &described))
        .collect();
    render(
        StatusCode::OK,
        &RoadmapPage {
            chrome: viewer.chrome(),
            roadmap,
            descriptions,
            badges: Badges::of(&workflow),
            may_manage,
            shown: ITEMS_SHOWN,
        },
    )
}
