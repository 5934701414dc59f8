//! Items, their history, watchers and workflow moves.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::model::ids::{ComponentId, ItemId, LabelId, PriorityId, ProjectId, StatusId, TypeId, UserId, VersionId};
use crate::model::item::key::ItemReference;
use crate::model::item::listing::{AssigneeFilter, ItemFilter, OpenState, SortField};
use crate::model::item::{self, Guard, ItemUpdate, NewItem};
use crate::model::project::ProjectKeyOrId;
use crate::model::reference::UnknownLogins;
use crate::model::user::User;
use crate::model::{component, history, label, version, watcher};
use crate::web::AppState;
use crate::web::api::double_option;
use crate::web::api::{JsonBody, read_item, write_item};
use crate::web::auth::{Caller, Credentials};
use crate::web::error::ApiError;
use crate::web::input::{Json, form_pairs, parse_json, parse_pairs};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    project: Option<String>,
    status: Option<i64>,
    #[serde(rename = "type")]
    item_type: Option<i64>,
    priority: Option<i64>,
    /// A user id, `me` or `none`.
    assignee: Option<String>,
    /// A user id or `me`.
    reporter: Option<String>,
    state: Option<OpenState>,
    /// The sub-items of this item.
    parent: Option<i64>,
    /// A version's id or name, or `none`.
    target_version: Option<String>,
    /// A label's id or name.
    label: Option<String>,
    /// A component's id or name, or `none`.
    component: Option<String>,
    /// `flat` (the default) or `tree`: top-level matches, each followed by its sub-items.
    view: Option<String>,
    /// A field, `-field` for descending: id, created, updated, title, priority, status, due.
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn parse_person(field: &str, value: &str, caller: &User) -> Result<UserId, Error> {
    match value {
        "me" => Ok(caller.id),
        other => other
            .parse()
            .map(UserId)
            .map_err(|_| Error::invalid(field, format!("{other:?} is not a user id or \"me\""))),
    }
}

fn build_filter(query: ListQuery, fields: Vec<(String, String)>, caller: &User) -> Result<ItemFilter, Error> {
    let assignee = match query.assignee.as_deref() {
        None => None,
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(value) => Some(AssigneeFilter::User(parse_person("assignee", value, caller)?)),
    };
    let reporter = query.reporter.as_deref().map(|value| parse_person("reporter", value, caller)).transpose()?;
    let (sort, descending) = match query.sort.as_deref() {
        Some(text) => SortField::parse_signed(text)?,
        None => (SortField::Updated, true),
    };
    Ok(ItemFilter {
        project: query.project.as_deref().map(ProjectKeyOrId::parse),
        status: query.status.map(StatusId),
        item_type: query.item_type.map(TypeId),
        priority: query.priority.map(PriorityId),
        assignee,
        reporter,
        text: None,
        state: query.state.unwrap_or_default(),
        parent: query.parent.map(ItemId),
        target_version: query.target_version,
        label: query.label,
        component: query.component,
        fields,
        tree: ItemFilter::parse_view(query.view.as_deref().unwrap_or_default())?,
        sort,
        descending,
        limit: query.limit,
        offset: query.offset,
    })
}

/// Name and value pairs of a query string.
type Pairs = Vec<(String, String)>;

/// The list's query string: `field.<key>=<condition>` names are open-ended; the rest is the
/// fixed query.
fn list_filter(query_string: &str, caller: &User) -> Result<ItemFilter, Error> {
    let (fields, fixed): (Pairs, Pairs) =
        form_pairs(query_string.as_bytes())?.into_iter().partition(|(name, _)| name.starts_with("field."));
    let fields = fields.into_iter().map(|(name, condition)| (name["field.".len()..].to_string(), condition)).collect();
    let query: ListQuery = parse_pairs(&fixed)?;
    build_filter(query, fields, caller)
}

pub async fn list_items(
    state: web::Data<AppState>,
    credentials: Credentials,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query_string = request.query_string().to_string();
    let page = state
        .database
        .run(move |connection| {
            let caller = credentials.caller(connection)?;
            JsonBody::of(&item::listing::list(
                connection,
                &caller.user,
                &list_filter(&query_string, &caller.user)?,
                &caller.definitions,
            )?)
        })
        .await?;
    Ok(page.ok())
}

/// The list as a CSV download: the same query as the list, without `limit` and `offset`.
pub async fn export_items(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = list_filter(request.query_string(), &caller.user)?;
    for (name, given) in [("limit", filter.limit.is_some()), ("offset", filter.offset.is_some())] {
        if given {
            return Err(Error::invalid(name, "an export takes the whole list: leave limit and offset out").into());
        }
    }
    let csv = state.database.run(move |connection| item::export::csv(connection, &caller.user, &filter)).await?;
    Ok(crate::web::csv_download(csv))
}

/// A project given by key (`"OPS"`) or id (`7`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum ProjectReference {
    Key(String),
    Id(i64),
}

impl ProjectReference {
    fn resolve(self) -> ProjectKeyOrId {
        match self {
            ProjectReference::Key(key) => ProjectKeyOrId::parse(&key),
            ProjectReference::Id(id) => ProjectKeyOrId::id(ProjectId(id)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItemBody {
    project: ProjectReference,
    title: String,
    #[serde(default)]
    description: String,
    type_id: Option<i64>,
    priority_id: Option<i64>,
    assignee_id: Option<i64>,
    due_date: Option<NaiveDate>,
    /// Creates it as a sub-item of this item (of the same project).
    parent: Option<i64>,
    /// An open version of the project, or a shared one.
    target_version: Option<VersionId>,
    #[serde(default)]
    labels: Vec<LabelId>,
    component: Option<ComponentId>,
    /// Custom field values by key.
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
}

pub async fn create_item(
    state: web::Data<AppState>,
    credentials: Credentials,
    body: Json<NewItemBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new_item = NewItem {
        project: body.project.resolve(),
        title: body.title,
        description: body.description,
        type_id: body.type_id.map(TypeId),
        priority_id: body.priority_id.map(PriorityId),
        assignee_id: body.assignee_id.map(UserId),
        due_date: body.due_date,
        parent: body.parent.map(ItemId),
        target_version: body.target_version,
        labels: body.labels,
        component: body.component,
        fields: body.fields.into_iter().collect(),
        unknown_logins: UnknownLogins::Refuse,
    };
    let (user, id) = state
        .database
        .write(move |connection| {
            let user = credentials.caller(connection)?.user;
            let id = item::create(connection, &user, new_item)?;
            Ok((user, id))
        })
        .await?;
    // Read on a reading connection: on SQLite the one writing connection is every writer's turn.
    let created = state.database.run(move |connection| item::get(connection, &user, id)).await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn get_item(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let found = match (credentials, path.into_inner()) {
        // The most frequent request: its caller read in the item's statement.
        (Credentials::Token(token), ItemReference::Id(id)) => {
            state.database.run(move |connection| item::get_with_token(connection, &token, id)).await?
        }
        (credentials, reference) => read_item(&state, credentials, reference, item::get).await?,
    };
    Ok(HttpResponse::Ok().json(found))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemUpdateBody {
    version: Option<i32>,
    /// Instead of `version`: each field changed, with the value read, in history's words.
    seen: Option<serde_json::Map<String, serde_json::Value>>,
    /// Moves the item to this project (key or id).
    project: Option<ProjectReference>,
    title: Option<String>,
    description: Option<String>,
    type_id: Option<i64>,
    status_id: Option<i64>,
    priority_id: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    assignee_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    due_date: Option<Option<NaiveDate>>,
    /// The item's parent; `null` makes it a top-level item.
    #[serde(default, deserialize_with = "double_option")]
    parent: Option<Option<i64>>,
    /// `null` plans it for no version.
    #[serde(default, deserialize_with = "double_option")]
    target_version: Option<Option<VersionId>>,
    /// The whole new set of label ids.
    labels: Option<Vec<LabelId>>,
    #[serde(default, deserialize_with = "double_option")]
    component: Option<Option<ComponentId>>,
    /// Custom field values by key; `null` clears one.
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
}

/// The fields a body changes, by the names history gives them.
fn changed_fields(body: &ItemUpdateBody) -> Vec<&str> {
    let built_in = [
        ("project", body.project.is_some()),
        ("title", body.title.is_some()),
        ("description", body.description.is_some()),
        ("type", body.type_id.is_some()),
        ("status", body.status_id.is_some()),
        ("priority", body.priority_id.is_some()),
        ("assignee", body.assignee_id.is_some()),
        ("due_date", body.due_date.is_some()),
        ("parent", body.parent.is_some()),
        (version::HISTORY_FIELD, body.target_version.is_some()),
        (label::HISTORY_FIELD, body.labels.is_some()),
        (component::HISTORY_FIELD, body.component.is_some()),
    ];
    built_in
        .into_iter()
        .filter(|(_, sent)| *sent)
        .map(|(field, _)| field)
        .chain(body.fields.keys().map(String::as_str))
        .collect()
}

/// What the update is made against: the version read, or the value read of each field it
/// changes (`seen`), one of the two.
fn guard(body: &ItemUpdateBody) -> Result<Guard, Error> {
    match (body.version, &body.seen) {
        (Some(_), Some(_)) => Err(Error::invalid("seen", "send either version or seen, not both")),
        (Some(version), None) => Ok(Guard::Version(version)),
        (None, None) => Err(Error::invalid(
            "version",
            "is required (or seen): send the version of the item you read, so that no edit is lost",
        )),
        (None, Some(seen)) => {
            let mut fields = Vec::with_capacity(seen.len());
            for (field, value) in seen {
                let value = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(text) => Some(text.clone()),
                    _ => {
                        return Err(Error::invalid(
                            "seen",
                            format!("{field}: give the value read as text (as the history shows it) or null"),
                        ));
                    }
                };
                fields.push((field.clone(), value));
            }
            if let Some(missing) = changed_fields(body).into_iter().find(|field| !seen.contains_key(*field)) {
                return Err(Error::invalid(
                    "seen",
                    format!("name every field you change with the value you read: {missing} is missing"),
                ));
            }
            Ok(Guard::Seen(fields))
        }
    }
}

pub async fn update_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    body: Json<ItemUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let body = body.into_inner();
    let guard = guard(&body)?;
    let changes = ItemUpdate {
        guard,
        project: body.project.map(ProjectReference::resolve),
        title: body.title,
        description: body.description,
        type_id: body.type_id.map(TypeId),
        status_id: body.status_id.map(StatusId),
        priority_id: body.priority_id.map(PriorityId),
        assignee_id: body.assignee_id.map(|assignee| assignee.map(UserId)),
        due_date: body.due_date,
        parent: body.parent.map(|parent| parent.map(ItemId)),
        target_version: body.target_version,
        labels: body.labels,
        component: body.component,
        fields: body.fields.into_iter().collect(),
    };
    let updated = write_item(&state, caller.user, reference, move |connection, user, id| {
        item::update(connection, user, id, changes)
    })
    .await?;
    Ok(HttpResponse::Ok().json(updated))
}

pub async fn list_transitions(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let statuses = read_item(&state, credentials, reference, item::allowed_statuses).await?;
    Ok(HttpResponse::Ok().json(json!({"statuses": statuses})))
}

pub async fn list_children(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let children = read_item(&state, credentials, reference, item::tree::children).await?;
    Ok(HttpResponse::Ok().json(json!({"children": children})))
}

/// Where to move an item (`item::moving`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    project: ProjectKeyOrId,
    type_id: Option<TypeId>,
    #[serde(default)]
    drop: bool,
}

pub async fn move_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    body: Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let MoveBody { project, type_id, drop } = body.into_inner();
    let moved = write_item(&state, caller.user, reference, move |connection, user, id| {
        let request = item::moving::Move { project, type_id, drop_unmapped: drop };
        item::moving::move_item(connection, user, id, request)
    })
    .await?;
    Ok(HttpResponse::Ok().json(moved))
}

/// What to copy, and where (`item::copying`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    project: Option<ProjectKeyOrId>,
    type_id: Option<TypeId>,
    #[serde(default)]
    comments: bool,
    #[serde(default)]
    attachments: bool,
    #[serde(default)]
    links: bool,
    #[serde(default)]
    drop: bool,
}

pub async fn copy_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    body: Json<CopyBody>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let CopyBody { project, type_id, comments, attachments, links, drop } = body.into_inner();
    let request = item::copying::Copy { project, type_id, comments, attachments, links, drop_unmapped: drop };
    let copy = write_item(&state, caller.user, reference, move |connection, user, id| {
        item::copying::copy_item(connection, user, id, request)
    })
    .await?;
    Ok(HttpResponse::Created().json(copy))
}

/// Deletes an item with its sub-items (the project's managers); answers what went.
pub async fn delete_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let deleted = write_item(&state, caller.user, reference, item::deletion::delete).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

pub async fn list_history(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let entries = read_item(&state, credentials, reference, history::list).await?;
    Ok(HttpResponse::Ok().json(json!({"history": entries})))
}

pub async fn list_watchers(
    state: web::Data<AppState>,
    credentials: Credentials,
    path: web::Path<ItemReference>,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let watchers = read_item(&state, credentials, reference, watcher::list).await?;
    Ok(HttpResponse::Ok().json(json!({"watchers": watchers})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WatchBody {
    /// Someone else to add; omitted means the caller.
    user_id: Option<i64>,
}

/// The body is optional (empty: the caller watches), but when present it must be valid.
pub async fn add_watcher(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemReference>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let reference = path.into_inner();
    let body: WatchBody =
        if body.iter().all(u8::is_ascii_whitespace) { WatchBody::default() } else { parse_json(&body)? };
    let user_id = body.user_id.map(UserId).unwrap_or(caller.user.id);
    write_item(&state, caller.user, reference, move |connection, user, id| watcher::add(connection, user, id, user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn remove_watcher(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ItemReference, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (reference, user_id) = path.into_inner();
    write_item(&state, caller.user, reference, move |connection, user, id| {
        watcher::remove(connection, user, id, UserId(user_id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
