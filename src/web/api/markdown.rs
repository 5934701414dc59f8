//! `POST /api/v1/markdown`: a text rendered as the pages render descriptions and comments —
//! the same Markdown, sanitiser and references — for a preview before it is saved.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::model::item::key::ItemReference;
use crate::model::permission::Permission;
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::text;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::input::Json;
use crate::web::pages::markdown::{self, Place};

/// The text, and where it is to be saved: an item (a comment, its description) or a project
/// (a new item's description), which decides who a mention names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    text: String,
    item: Option<ItemReference>,
    project: Option<ProjectKeyOrId>,
}

pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<PreviewBody>,
) -> Result<HttpResponse, ApiError> {
    let PreviewBody { text, item, project } = body.into_inner();
    let text = text::body("text", &text, false)?;
    let html = state
        .database
        .run(move |connection| {
            let place = match (&item, &project) {
                (Some(item), _) => Place::Item(item.resolve(connection, &caller.user)?),
                (None, Some(project)) => {
                    Place::Project(project::get_with(connection, &caller.user, project, Permission::View)?.0.id)
                }
                (None, None) => Place::Nowhere,
            };
            markdown::preview(connection, &caller.user, place, &text)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"html": html})))
}
