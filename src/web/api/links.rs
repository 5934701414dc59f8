//! Links between items: listed, added (or an item closed as a duplicate), removed.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::model::ids::LinkId;
use crate::model::item::key::ItemReference;
use crate::model::link;
use crate::web::AppState;
use crate::web::api::{read_item, write_item};
use crate::web::auth::{Caller, Credentials};
use crate::web::error::ApiError;
use crate::web::input::Json;

pub async fn list_links(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let links = read_item(&state, credentials, reference, link::list).await?;
    Ok(HttpResponse::Ok().json(json!({"links": links})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLinkBody {
    /// As this item says it: `blocks`, or `blocked_by` for the other way round.
    kind: String,
    /// The other item, by id or key.
    target: ItemReference,
    /// With `duplicates`: close this item as a duplicate of the target, in the same step.
    #[serde(default)]
    close: bool,
}

pub async fn add_link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    body: Json<NewLinkBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let NewLinkBody { kind, target, close } = body.into_inner();
    if close && kind != link::Kind::Duplicates.as_str() {
        return Err(Error::invalid("close", "only an item that duplicates another can be closed with its link").into());
    }
    let created = write_item(&state, caller.user, reference, move |connection, user, id| {
        let target = target.resolve(connection, user)?;
        if close {
            link::close_as_duplicate(connection, user, id, target)
        } else {
            link::add(connection, user, id, &kind, target)
        }
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn remove_link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ItemReference, LinkId)>,
) -> Result<HttpResponse, ApiError> {
    let (reference, link_id) = path.into_inner();
    write_item(&state, caller.user, reference, move |connection, user, id| link::remove(connection, user, id, link_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
