//! Custom field definitions: everyone signed in reads them; administrators create, change
//! and delete them (`/fields[/{key}]`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::model::field::{self, ChoiceInput, FieldChanges, FieldDraft};
use crate::model::ids::{ChoiceId, TypeId};
use crate::web::AppState;
use crate::web::api::double_option;
use crate::web::auth::{Admin, Caller};
use crate::web::error::ApiError;
use crate::web::input::Json;

/// A choice: a plain string adds one; an object names an existing one by id to rename or
/// retire it (or adds one without an id).
#[derive(Deserialize)]
#[serde(untagged)]
enum ChoiceBody {
    New(String),
    Choice(ChoiceObject),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceObject {
    id: Option<i64>,
    value: Option<String>,
    retired: Option<bool>,
}

fn choices<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ChoiceInput>, D::Error> {
    let bodies = Vec::<ChoiceBody>::deserialize(deserializer)?;
    Ok(bodies
        .into_iter()
        .map(|body| match body {
            ChoiceBody::New(value) => ChoiceInput { id: None, value: Some(value), retired: None },
            ChoiceBody::Choice(choice) => {
                ChoiceInput { id: choice.id.map(ChoiceId), value: choice.value, retired: choice.retired }
            }
        })
        .collect())
}

fn some_choices<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<ChoiceInput>>, D::Error> {
    choices(deserializer).map(Some)
}

pub async fn list_fields(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let fields = state.database.run(field::list).await?;
    Ok(HttpResponse::Ok().json(json!({"fields": fields})))
}

pub async fn get_field(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let found = state.database.run(move |connection| field::get(connection, &key)).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFieldBody {
    key: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default)]
    required: bool,
    default: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "choices")]
    choices: Vec<ChoiceInput>,
    /// Project keys or ids; absent or null: all projects.
    projects: Option<Vec<ProjectItem>>,
    /// Item type ids; absent or null: all types.
    types: Option<Vec<i64>>,
    position: Option<i32>,
}

/// A project in a field's list, by key or id.
#[derive(Deserialize)]
#[serde(untagged)]
enum ProjectItem {
    Key(String),
    Id(i64),
}

fn project_references(projects: Vec<ProjectItem>) -> Vec<String> {
    projects
        .into_iter()
        .map(|project| match project {
            ProjectItem::Key(key) => key,
            ProjectItem::Id(id) => id.to_string(),
        })
        .collect()
}

fn type_ids(types: Vec<i64>) -> Vec<TypeId> {
    types.into_iter().map(TypeId).collect()
}

pub async fn create_field(
    state: web::Data<AppState>,
    caller: Admin,
    body: Json<NewFieldBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let draft = FieldDraft {
        key: body.key,
        name: body.name,
        description: body.description,
        field_type: body.field_type,
        required: body.required,
        default: body.default,
        choices: body.choices,
        projects: body.projects.map(project_references),
        types: body.types.map(type_ids),
        position: body.position,
    };
    let created = state.database.write(move |connection| field::create(connection, &caller.user, draft)).await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldUpdateBody {
    name: Option<String>,
    description: Option<String>,
    required: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    default: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "some_choices")]
    choices: Option<Vec<ChoiceInput>>,
    #[serde(default, deserialize_with = "double_option")]
    projects: Option<Option<Vec<ProjectItem>>>,
    #[serde(default, deserialize_with = "double_option")]
    types: Option<Option<Vec<i64>>>,
    position: Option<i32>,
    /// Go ahead although items lose values.
    #[serde(default)]
    confirm: bool,
}

pub async fn update_field(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<String>,
    body: Json<FieldUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let body = body.into_inner();
    let changes = FieldChanges {
        name: body.name,
        description: body.description,
        required: body.required,
        default: body.default,
        choices: body.choices,
        projects: body.projects.map(|projects| projects.map(project_references)),
        types: body.types.map(|types| types.map(type_ids)),
        position: body.position,
        confirm: body.confirm,
    };
    let updated =
        state.database.write(move |connection| field::update(connection, &caller.user, &key, changes)).await?;
    Ok(HttpResponse::Ok().json(updated))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default)]
    confirm: bool,
}

pub async fn delete_field(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let confirm = query.confirm;
    let lost = state.database.write(move |connection| field::delete(connection, &caller.user, &key, confirm)).await?;
    Ok(HttpResponse::Ok().json(json!({"deleted": true, "items_that_lost_a_value": lost})))
}
