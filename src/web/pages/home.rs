//! The home page: what is on my plate, what I watch, what moved lately.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::model::item::{self, ItemView};

use crate::model::item::listing::{AssigneeFilter, ItemFilter, OpenState, SortField};
use crate::model::workflow::Workflow;
use crate::web::AppState;
use crate::web::pages::badges::Badges;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::Viewer;
use crate::web::pages::{Chrome, page};

/// How many items each list on the home page shows.
const LISTED: i64 = 10;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    name: String,
    assigned: Vec<ItemView>,
    watched: Vec<ItemView>,
    recent: Vec<ItemView>,
    badges: Badges,
    is_admin: bool,
}

pub async fn show_home(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    let (user, version) = (viewer.user.clone(), viewer.definitions.clone());
    let (assigned, watched, recent, workflow) = state
        .database
        .run(move |connection| {
            let newest_first =
                ItemFilter { sort: SortField::Updated, descending: true, limit: Some(LISTED), ..ItemFilter::default() };
            let assigned = item::listing::list(
                connection,
                &user,
                &ItemFilter {
                    assignee: Some(AssigneeFilter::User(user.id)),
                    state: OpenState::Open,
                    ..newest_first.clone()
                },
                &version,
            )?;
            let watched = item::listing::watched_by(connection, &user, LISTED)?;
            let recent = item::listing::list(connection, &user, &newest_first, &version)?;
            Ok((assigned.items, watched, recent.items, Workflow::clone(&*Workflow::at(connection, &version)?)))
        })
        .await?;
    let badges = Badges::of(&workflow);
    page(&HomePage {
        chrome: viewer.chrome(),
        name: viewer.user.name.clone(),
        assigned,
        watched,
        recent,
        badges,
        is_admin: viewer.user.is_admin,
    })
}
