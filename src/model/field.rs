//! Custom fields: what administrators define (key, name, type, choices, where a field
//! applies, whether it is required, its default). The values items hold are in `value`.
//!
//! Rules: the key is stable (`[a-z][a-z0-9_]*`, not a name the query language or the item
//! JSON already uses) and never changes, nor does the type; a choice is renamed or retired
//! in place, so items keep what they hold and nothing but the choice row is written (its
//! items are re-queued for search, which shows the value). Whatever takes values away from
//! items — deleting a field, narrowing where it applies, removing a choice items hold — says
//! how many items lose a value and needs `confirm`.

pub mod filter;
pub mod value;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{
    field_choices, field_projects, field_types, fields, index_queue, item_values, items, projects,
};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::definitions::{Version, Versioned};
use crate::model::ids::{ChoiceId, FieldId, ProjectId, TypeId};
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::text;
use crate::model::user::User;
use crate::model::workflow::Workflow;
use crate::timestamp;

pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_CHOICES: usize = 500;
pub const MAX_CHOICE_CHARS: usize = 100;

/// Names that the item JSON, the list filters or the query language use for what every item
/// has; a field key must not shadow them.
const RESERVED_KEYS: &[&str] = &[
    "id",
    "project",
    "type",
    "status",
    "priority",
    "title",
    "description",
    "assignee",
    "reporter",
    "due",
    "due_date",
    "created",
    "updated",
    "state",
    "text",
    "sort",
    "limit",
    "offset",
    "fields",
    "label",
    "labels",
    "target_version",
    "blocks",
    "version",
    "component",
    "parent",
    "link",
    "watcher",
    "comment",
    "attachment",
    "private_attachment",
    "sub_item",
    "deleted_link",
    "is",
    "has",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Integer,
    Decimal,
    Date,
    Boolean,
    Choice,
    MultiChoice,
    User,
    Url,
}

impl FieldType {
    pub const ALL: [FieldType; 10] = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::Date,
        FieldType::Boolean,
        FieldType::Choice,
        FieldType::MultiChoice,
        FieldType::User,
        FieldType::Url,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Date => "date",
            FieldType::Boolean => "boolean",
            FieldType::Choice => "choice",
            FieldType::MultiChoice => "multi_choice",
            FieldType::User => "user",
            FieldType::Url => "url",
        }
    }

    /// How pages name the type.
    pub fn label(self) -> &'static str {
        match self {
            FieldType::Text => "Text",
            FieldType::LongText => "Long text (Markdown)",
            FieldType::Integer => "Integer",
            FieldType::Decimal => "Decimal",
            FieldType::Date => "Date",
            FieldType::Boolean => "Yes / no",
            FieldType::Choice => "Choice",
            FieldType::MultiChoice => "Multiple choice",
            FieldType::User => "User",
            FieldType::Url => "URL",
        }
    }

    pub fn parse(text: &str) -> Result<FieldType> {
        FieldType::ALL.into_iter().find(|field_type| field_type.as_str() == text).ok_or_else(|| {
            let known: Vec<&str> = FieldType::ALL.iter().map(|field_type| field_type.as_str()).collect();
            Error::invalid("type", format!("{text:?} is not a field type: use one of {}", known.join(", ")))
        })
    }

    pub fn has_choices(self) -> bool {
        matches!(self, FieldType::Choice | FieldType::MultiChoice)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub id: ChoiceId,
    pub value: String,
    /// Still shown on the items that hold it, but no longer offered.
    pub retired: bool,
}

/// A field definition as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    #[serde(skip)]
    pub id: FieldId,
    pub key: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub required: bool,
    /// The value a new item gets when none is given, as the item JSON writes it.
    pub default: Option<serde_json::Value>,
    pub choices: Vec<Choice>,
    /// The keys of the projects it applies to; `None`: all projects.
    pub projects: Option<Vec<String>>,
    #[serde(skip)]
    pub project_ids: Option<Vec<ProjectId>>,
    /// The item types it applies to; `None`: all types.
    pub types: Option<Vec<TypeId>>,
    pub position: i32,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub updated_at: NaiveDateTime,
}

impl Field {
    pub fn applies_to(&self, project: ProjectId, item_type: TypeId) -> bool {
        self.project_ids.as_ref().is_none_or(|ids| ids.contains(&project))
            && self.types.as_ref().is_none_or(|types| types.contains(&item_type))
    }

    pub fn choice(&self, id: ChoiceId) -> Option<&Choice> {
        self.choices.iter().find(|choice| choice.id == id)
    }

    /// The name errors give this field's value: `fields.<key>`.
    pub fn input_name(&self) -> String {
        format!("fields.{}", self.key)
    }
}

#[derive(Queryable)]
struct FieldRow {
    id: i64,
    key: String,
    name: String,
    description: String,
    field_type: String,
    required: bool,
    default_value: Option<String>,
    all_projects: bool,
    all_types: bool,
    position: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Every field definition, in form order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub fields: Vec<Field>,
}

static CATALOG: Versioned<Catalog> = Versioned::empty();

impl Catalog {
    /// The definitions as the database holds them now: one small query while they have not
    /// changed since this process last read them (see `model::definitions`).
    pub fn load(connection: &mut DbConnection) -> Result<std::sync::Arc<Catalog>> {
        CATALOG.current(connection, Catalog::read)
    }

    /// The definitions at a version the caller read.
    pub fn at(connection: &mut DbConnection, version: &Version) -> Result<std::sync::Arc<Catalog>> {
        CATALOG.at(connection, version, Catalog::read)
    }

    /// Reads the definitions: one query when no field is defined, four otherwise.
    fn read(connection: &mut DbConnection) -> Result<Catalog> {
        let rows: Vec<FieldRow> = fields::table
            .order((fields::position.asc(), fields::id.asc()))
            .select((
                fields::id,
                fields::key,
                fields::name,
                fields::description,
                fields::field_type,
                fields::required,
                fields::default_value,
                fields::all_projects,
                fields::all_types,
                fields::position,
                fields::created_at,
                fields::updated_at,
            ))
            .load(connection)?;
        if rows.is_empty() {
            return Ok(Catalog::default());
        }
        let choices: Vec<(i64, i64, String, bool)> = field_choices::table
            .order((field_choices::field_id.asc(), field_choices::position.asc()))
            .select((field_choices::field_id, field_choices::id, field_choices::value, field_choices::retired))
            .load(connection)?;
        let scoped_projects: Vec<(i64, i64, String)> = field_projects::table
            .inner_join(projects::table.on(projects::id.eq(field_projects::project_id)))
            .order(projects::key.asc())
            .select((field_projects::field_id, projects::id, projects::key))
            .load(connection)?;
        let scoped_types: Vec<(i64, i64)> = field_types::table
            .order(field_types::type_id.asc())
            .select((field_types::field_id, field_types::type_id))
            .load(connection)?;
        let fields = rows
            .into_iter()
            .map(|row| {
                let field_type = FieldType::parse(&row.field_type).map_err(|_| {
                    Error::internal("field definitions", format!("unknown stored type {:?}", row.field_type))
                })?;
                let default = row
                    .default_value
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|error| Error::internal(format!("default of field {}", row.key), error))?;
                let (project_ids, project_keys) = if row.all_projects {
                    (None, None)
                } else {
                    let mine = scoped_projects.iter().filter(|(field, ..)| *field == row.id);
                    (
                        Some(mine.clone().map(|(_, id, _)| ProjectId(*id)).collect()),
                        Some(mine.map(|(_, _, key)| key.clone()).collect()),
                    )
                };
                let types = (!row.all_types).then(|| {
                    scoped_types.iter().filter(|(field, _)| *field == row.id).map(|(_, id)| TypeId(*id)).collect()
                });
                Ok(Field {
                    id: FieldId(row.id),
                    key: row.key,
                    name: row.name,
                    description: row.description,
                    field_type,
                    required: row.required,
                    default,
                    choices: choices
                        .iter()
                        .filter(|(field, ..)| *field == row.id)
                        .map(|(_, id, value, retired)| Choice {
                            id: ChoiceId(*id),
                            value: value.clone(),
                            retired: *retired,
                        })
                        .collect(),
                    projects: project_keys,
                    project_ids,
                    types,
                    position: row.position,
                    created_at: row.created_at,
                    updated_at: row.updated_at,
                })
            })
            .collect::<Result<Vec<Field>>>()?;
        Ok(Catalog { fields })
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn by_key(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.key == key)
    }

    pub fn by_id(&self, id: FieldId) -> Option<&Field> {
        self.fields.iter().find(|field| field.id == id)
    }

    /// The fields an item of this project and type has, in form order.
    pub fn applying(&self, project: ProjectId, item_type: TypeId) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |field| field.applies_to(project, item_type))
    }

    /// The field named by a key from outside, or a refusal naming it.
    pub fn require(&self, key: &str) -> Result<&Field> {
        self.by_key(key).ok_or_else(|| Error::not_found(format!("field {key:?}")))
    }
}

/// A choice as sent to create or change a field: a new value (no id), or an existing choice
/// (by id) renamed or retired. Its place in the list is its position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChoiceInput {
    pub id: Option<ChoiceId>,
    pub value: Option<String>,
    pub retired: Option<bool>,
}

/// Where a field applies: `None` for all projects (types), or the listed ones.
#[derive(Debug, Clone, Default)]
pub struct FieldDraft {
    pub key: String,
    pub name: String,
    pub description: String,
    pub field_type: String,
    pub required: bool,
    pub default: Option<serde_json::Value>,
    pub choices: Vec<ChoiceInput>,
    /// Project keys or ids.
    pub projects: Option<Vec<String>>,
    pub types: Option<Vec<TypeId>>,
    pub position: Option<i32>,
}

/// Changes to a field; `None` leaves a part as it is. `Some(None)` for `default`, `projects`
/// and `types` means: no default, all projects, all types.
#[derive(Debug, Clone, Default)]
pub struct FieldChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub required: Option<bool>,
    pub default: Option<Option<serde_json::Value>>,
    pub choices: Option<Vec<ChoiceInput>>,
    pub projects: Option<Option<Vec<String>>>,
    pub types: Option<Option<Vec<TypeId>>>,
    pub position: Option<i32>,
    /// Go ahead although items lose values.
    pub confirm: bool,
}

fn require_admin(actor: &User) -> Result<()> {
    if actor.is_admin { Ok(()) } else { Err(Error::forbidden("only administrators define fields")) }
}

/// A field key: `[a-z][a-z0-9_]*`, at most `MAX_KEY_CHARS`, not a reserved name.
pub fn parse_key(key: &str) -> Result<String> {
    let key = key.trim();
    let shaped = !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !shaped {
        return Err(Error::invalid(
            "key",
            format!(
                "{key:?} is not a field key: use 1-{MAX_KEY_CHARS} lower-case letters, digits and _, starting with a letter, e.g. customer"
            ),
        ));
    }
    if RESERVED_KEYS.contains(&key) {
        return Err(Error::invalid("key", format!("{key:?} is a built-in name of every item: choose another key")));
    }
    Ok(key.to_string())
}

/// Checks a list of choices against the current ones: values unique (ignoring case), ids
/// existing, new ones with a value. Returns them trimmed, in order.
fn parse_choices(field_type: FieldType, current: &[Choice], input: &[ChoiceInput]) -> Result<Vec<ChoiceInput>> {
    if !field_type.has_choices() {
        if input.is_empty() {
            return Ok(Vec::new());
        }
        return Err(Error::invalid(
            "choices",
            format!("only choice fields have choices, not {} fields", field_type.as_str()),
        ));
    }
    if input.len() > MAX_CHOICES {
        return Err(Error::invalid("choices", format!("at most {MAX_CHOICES} choices (got {})", input.len())));
    }
    let mut parsed: Vec<ChoiceInput> = Vec::with_capacity(input.len());
    for (index, choice) in input.iter().enumerate() {
        let name = format!("choices[{index}]");
        let existing = match choice.id {
            Some(id) => Some(current.iter().find(|known| known.id == id).ok_or_else(|| {
                Error::invalid(&name, format!("this field has no choice {id}: leave out the id to add a new choice"))
            })?),
            None => None,
        };
        let value = match (&choice.value, existing) {
            (Some(value), _) => text::single_line(&name, value, 1, MAX_CHOICE_CHARS)?,
            (None, Some(existing)) => existing.value.clone(),
            (None, None) => return Err(Error::invalid(&name, "a new choice needs a value")),
        };
        if parsed
            .iter()
            .any(|earlier| earlier.value.as_deref().is_some_and(|earlier| earlier.eq_ignore_ascii_case(&value)))
        {
            return Err(Error::invalid(&name, format!("{value:?} is listed twice")));
        }
        if choice.id.is_some() && parsed.iter().any(|earlier| earlier.id == choice.id) {
            return Err(Error::invalid(
                &name,
                format!("choice {} is listed twice", existing.map_or(0, |known| known.id.0)),
            ));
        }
        parsed.push(ChoiceInput {
            id: choice.id,
            value: Some(value),
            retired: Some(choice.retired.unwrap_or(existing.is_some_and(|known| known.retired))),
        });
    }
    if !parsed.iter().any(|choice| choice.retired != Some(true)) {
        return Err(Error::invalid("choices", "a choice field needs at least one choice that is not retired"));
    }
    Ok(parsed)
}

fn parse_projects(connection: &mut DbConnection, references: &Option<Vec<String>>) -> Result<Option<Vec<ProjectId>>> {
    let Some(references) = references else { return Ok(None) };
    if references.is_empty() {
        return Err(Error::invalid("projects", "list at least one project, or send null for all projects"));
    }
    let mut ids = Vec::with_capacity(references.len());
    for reference in references {
        let project = project::find(connection, &ProjectKeyOrId::parse(reference))
            .map_err(|_| Error::invalid("projects", format!("there is no project {:?}", reference.trim())))?;
        if !ids.contains(&project.id) {
            ids.push(project.id);
        }
    }
    Ok(Some(ids))
}

fn parse_types(workflow: &Workflow, types: &Option<Vec<TypeId>>) -> Result<Option<Vec<TypeId>>> {
    let Some(types) = types else { return Ok(None) };
    if types.is_empty() {
        return Err(Error::invalid("types", "list at least one item type, or send null for all types"));
    }
    let mut ids = Vec::with_capacity(types.len());
    for id in types {
        if !workflow.types.iter().any(|item_type| item_type.id == *id) {
            return Err(Error::invalid("types", format!("there is no item type {id}")));
        }
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    Ok(Some(ids))
}

fn write_scope(
    connection: &mut DbConnection,
    field: FieldId,
    projects: &Option<Vec<ProjectId>>,
    types: &Option<Vec<TypeId>>,
) -> Result<()> {
    diesel::delete(field_projects::table.filter(field_projects::field_id.eq(field))).execute(connection)?;
    diesel::delete(field_types::table.filter(field_types::field_id.eq(field))).execute(connection)?;
    for project in projects.iter().flatten() {
        diesel::insert_into(field_projects::table)
            .values((field_projects::field_id.eq(field), field_projects::project_id.eq(project)))
            .execute(connection)?;
    }
    for item_type in types.iter().flatten() {
        diesel::insert_into(field_types::table)
            .values((field_types::field_id.eq(field), field_types::type_id.eq(item_type)))
            .execute(connection)?;
    }
    diesel::update(fields::table.find(field))
        .set((fields::all_projects.eq(projects.is_none()), fields::all_types.eq(types.is_none())))
        .execute(connection)?;
    Ok(())
}

/// Writes the choices in this order; new ones get ids. Returns the ids of choices renamed.
fn write_choices(connection: &mut DbConnection, field: &Field, choices: &[ChoiceInput]) -> Result<Vec<ChoiceId>> {
    let mut renamed = Vec::new();
    for (index, choice) in choices.iter().enumerate() {
        let position = i32::try_from(index + 1).map_err(|error| Error::internal("numbering choices", error))?;
        let value = choice.value.clone().unwrap_or_default();
        let retired = choice.retired.unwrap_or(false);
        match choice.id {
            Some(id) => {
                if field.choice(id).is_some_and(|known| known.value != value) {
                    renamed.push(id);
                }
                diesel::update(field_choices::table.find(id))
                    .set((
                        field_choices::value.eq(&value),
                        field_choices::position.eq(position),
                        field_choices::retired.eq(retired),
                    ))
                    .execute(connection)?;
            }
            None => {
                diesel::insert_into(field_choices::table)
                    .values((
                        field_choices::field_id.eq(field.id),
                        field_choices::value.eq(&value),
                        field_choices::position.eq(position),
                        field_choices::retired.eq(retired),
                    ))
                    .execute(connection)?;
            }
        }
    }
    Ok(renamed)
}

/// Checks the default against the field's own rules (choices from `choices`, as they will be).
fn check_default(field: &Field, default: &Option<serde_json::Value>) -> Result<Option<String>> {
    let Some(default) = default.as_ref().filter(|default| !default.is_null()) else { return Ok(None) };
    if field.field_type == FieldType::User {
        return Err(Error::invalid("default", "user fields have no default: who it would be differs per project"));
    }
    value::parse(field, default, None).map_err(|error| match error {
        Error::Invalid(field_error) => Error::invalid("default", field_error.message),
        other => other,
    })?;
    Ok(Some(default.to_string()))
}

/// The field as it will be after the change, for checking a default against new choices.
fn with_choices(field: &Field, choices: &[ChoiceInput]) -> Field {
    let mut future = field.clone();
    future.choices = choices
        .iter()
        .map(|choice| Choice {
            id: choice.id.unwrap_or(ChoiceId(0)),
            value: choice.value.clone().unwrap_or_default(),
            retired: choice.retired.unwrap_or(false),
        })
        .collect();
    future
}

/// Queues for search every item that holds one of these choices.
fn requeue_holders(connection: &mut DbConnection, choices: &[ChoiceId]) -> Result<()> {
    if choices.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = choices.iter().map(|id| id.0).collect();
    diesel::insert_into(index_queue::table)
        .values(item_values::table.filter(item_values::choice_id.eq_any(ids)).select(item_values::item_id).distinct())
        .into_columns(index_queue::item_id)
        .execute(connection)?;
    Ok(())
}

/// Gives the fields positions 1..n with `moved` at `place` (1-based) when given.
fn renumber(connection: &mut DbConnection, catalog: &Catalog, moved: Option<(FieldId, i32)>) -> Result<()> {
    let mut order: Vec<FieldId> = catalog.fields.iter().map(|field| field.id).collect();
    if let Some((id, place)) = moved {
        let count = order.len();
        let index = usize::try_from(place).ok().filter(|place| (1..=count).contains(place)).ok_or_else(|| {
            Error::invalid("position", format!("must be between 1 and {count}, the number of fields"))
        })?;
        order.retain(|field| *field != id);
        order.insert(index - 1, id);
    }
    for (index, id) in order.iter().enumerate() {
        let wanted = i32::try_from(index + 1).map_err(|error| Error::internal("numbering fields", error))?;
        if catalog.by_id(*id).is_none_or(|field| field.position != wanted) {
            diesel::update(fields::table.find(id)).set(fields::position.eq(wanted)).execute(connection)?;
        }
    }
    Ok(())
}

pub fn list(connection: &mut DbConnection) -> Result<Vec<Field>> {
    Ok(Catalog::load(connection)?.fields.clone())
}

pub fn get(connection: &mut DbConnection, key: &str) -> Result<Field> {
    Catalog::load(connection)?.require(key).cloned()
}

pub fn create(connection: &mut DbConnection, actor: &User, draft: FieldDraft) -> Result<Field> {
    require_admin(actor)?;
    define(connection, draft, &actor.login)
}

/// Defines a field for `by` (an administrator's login, or the command that runs with the
/// operator's authority, such as `demo-data`): every rule of `create` but the permission.
pub fn define(connection: &mut DbConnection, draft: FieldDraft, by: &str) -> Result<Field> {
    let key = parse_key(&draft.key)?;
    let name = text::single_line("name", &draft.name, 1, MAX_NAME_CHARS)?;
    let description = text::single_line("description", &draft.description, 0, MAX_DESCRIPTION_CHARS)?;
    let field_type = FieldType::parse(draft.field_type.trim())?;
    let choices = parse_choices(field_type, &[], &draft.choices)?;
    if field_type.has_choices() && choices.is_empty() {
        return Err(Error::invalid("choices", "a choice field needs at least one choice"));
    }
    let created = write_transaction(connection, |connection| {
        let catalog = Catalog::load(connection)?;
        if catalog.by_key(&key).is_some() {
            return Err(Error::Conflict(format!("there is already a field with the key {key:?}")));
        }
        let projects = parse_projects(connection, &draft.projects)?;
        let types = parse_types(&Workflow::load(connection)?, &draft.types)?;
        let last =
            i32::try_from(catalog.fields.len() + 1).map_err(|error| Error::internal("numbering fields", error))?;
        let id: i64 = diesel::insert_into(fields::table)
            .values((
                fields::key.eq(&key),
                fields::name.eq(&name),
                fields::description.eq(&description),
                fields::field_type.eq(field_type.as_str()),
                fields::required.eq(draft.required),
                fields::position.eq(last),
            ))
            .returning(fields::id)
            .get_result(connection)?;
        let id = FieldId(id);
        write_scope(connection, id, &projects, &types)?;
        let stored = Catalog::load(connection)?;
        let field = stored.require(&key)?.clone();
        write_choices(connection, &field, &choices)?;
        let field = Catalog::load(connection)?.require(&key)?.clone();
        let default = check_default(&field, &draft.default)?;
        diesel::update(fields::table.find(id)).set(fields::default_value.eq(default)).execute(connection)?;
        if let Some(position) = draft.position {
            let catalog = Catalog::load(connection)?;
            renumber(connection, &catalog, Some((id, position)))?;
        }
        Catalog::load(connection)?.require(&key).cloned()
    })?;
    tracing::info!(actor = %by, field = %created.key, field_type = created.field_type.as_str(), "field created");
    Ok(created)
}

/// How many items hold a value of the field.
pub fn items_with_values(connection: &mut DbConnection, field: FieldId) -> Result<i64> {
    Ok(item_values::table
        .filter(item_values::field_id.eq(field))
        .select(diesel::dsl::count(item_values::item_id).aggregate_distinct())
        .get_result(connection)?)
}

/// The refusal when a change would take values from items without `confirm`.
fn needs_confirmation(count: i64, what: &str) -> Error {
    let items =
        if count == 1 { "1 item loses its value".to_string() } else { format!("{count} items lose their value") };
    Error::Conflict(format!("{what}: {items}; send confirm=true to go ahead"))
}

/// Items holding a value of `field` that would no longer apply with this scope.
fn values_outside(
    connection: &mut DbConnection,
    field: FieldId,
    projects: &Option<Vec<ProjectId>>,
    types: &Option<Vec<TypeId>>,
) -> Result<Vec<i64>> {
    let mut query = item_values::table
        .inner_join(items::table)
        .filter(item_values::field_id.eq(field))
        .select(item_values::item_id)
        .distinct()
        .into_boxed();
    match (projects, types) {
        (None, None) => return Ok(Vec::new()),
        (Some(projects), None) => {
            query = query.filter(items::project_id.ne_all(projects.clone()));
        }
        (None, Some(types)) => {
            query = query.filter(items::type_id.ne_all(types.clone()));
        }
        (Some(projects), Some(types)) => {
            query = query.filter(items::project_id.ne_all(projects.clone()).or(items::type_id.ne_all(types.clone())));
        }
    }
    Ok(query.load(connection)?)
}

pub fn update(connection: &mut DbConnection, actor: &User, key: &str, changes: FieldChanges) -> Result<Field> {
    require_admin(actor)?;
    let name = changes.name.as_deref().map(|name| text::single_line("name", name, 1, MAX_NAME_CHARS)).transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(|description| text::single_line("description", description, 0, MAX_DESCRIPTION_CHARS))
        .transpose()?;
    let updated = write_transaction(connection, |connection| {
        let catalog = Catalog::load(connection)?;
        let field = catalog.require(key)?.clone();
        let choices = changes
            .choices
            .as_deref()
            .map(|choices| parse_choices(field.field_type, &field.choices, choices))
            .transpose()?;
        if let Some(choices) = &choices {
            let removed: Vec<i64> = field
                .choices
                .iter()
                .filter(|known| !choices.iter().any(|kept| kept.id == Some(known.id)))
                .map(|known| known.id.0)
                .collect();
            if !removed.is_empty() {
                let holders: Vec<i64> = item_values::table
                    .filter(item_values::choice_id.eq_any(&removed))
                    .select(item_values::item_id)
                    .distinct()
                    .load(connection)?;
                if !holders.is_empty() && !changes.confirm {
                    return Err(needs_confirmation(
                        i64::try_from(holders.len()).unwrap_or(i64::MAX),
                        "removing choices that items hold (retire them instead to keep the values)",
                    ));
                }
                take_values(connection, &holders, |connection| {
                    diesel::delete(item_values::table.filter(item_values::choice_id.eq_any(&removed)))
                        .execute(connection)
                })?;
                diesel::delete(field_choices::table.filter(field_choices::id.eq_any(&removed))).execute(connection)?;
            }
            let renamed = write_choices(connection, &field, choices)?;
            requeue_holders(connection, &renamed)?;
        }
        let projects = match &changes.projects {
            Some(projects) => parse_projects(connection, projects)?,
            None => field.project_ids.clone(),
        };
        let types = match &changes.types {
            Some(types) => parse_types(&Workflow::load(connection)?, types)?,
            None => field.types.clone(),
        };
        if changes.projects.is_some() || changes.types.is_some() {
            let outside = values_outside(connection, field.id, &projects, &types)?;
            if !outside.is_empty() {
                if !changes.confirm {
                    return Err(needs_confirmation(
                        i64::try_from(outside.len()).unwrap_or(i64::MAX),
                        "items of other projects or types hold values of this field",
                    ));
                }
                take_values(connection, &outside, |connection| {
                    diesel::delete(
                        item_values::table
                            .filter(item_values::field_id.eq(field.id))
                            .filter(item_values::item_id.eq_any(&outside)),
                    )
                    .execute(connection)
                })?;
            }
            write_scope(connection, field.id, &projects, &types)?;
        }
        let future = choices.as_deref().map_or_else(|| field.clone(), |choices| with_choices(&field, choices));
        let default = match &changes.default {
            Some(default) => check_default(&future, default)?,
            // A default that named a choice now retired or removed is refused with the change.
            None => check_default(&future, &field.default)?,
        };
        diesel::update(fields::table.find(field.id))
            .set((
                fields::name.eq(name.as_deref().unwrap_or(&field.name)),
                fields::description.eq(description.as_deref().unwrap_or(&field.description)),
                fields::required.eq(changes.required.unwrap_or(field.required)),
                fields::default_value.eq(default),
                fields::updated_at.eq(diesel::dsl::now),
            ))
            .execute(connection)?;
        if let Some(position) = changes.position {
            renumber(connection, &catalog, Some((field.id, position)))?;
        }
        Catalog::load(connection)?.require(key).cloned()
    })?;
    tracing::info!(actor = %actor.login, field = %updated.key, "field changed");
    Ok(updated)
}

/// Takes values away from these items with `delete`, their rows locked first (see
/// `item::lock_rows`), and queues them to be indexed again.
fn take_values(
    connection: &mut DbConnection,
    holders: &[i64],
    delete: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<usize>,
) -> Result<()> {
    crate::model::item::lock_rows(connection, holders)?;
    delete(connection)?;
    for item in holders {
        diesel::insert_into(index_queue::table).values(index_queue::item_id.eq(*item)).execute(connection)?;
    }
    Ok(())
}

/// Deletes the field and every value of it; when items hold values, only with `confirm`.
/// Returns how many items lost a value.
pub fn delete(connection: &mut DbConnection, actor: &User, key: &str, confirm: bool) -> Result<i64> {
    require_admin(actor)?;
    let lost = write_transaction(connection, |connection| {
        let catalog = Catalog::load(connection)?;
        let field = catalog.require(key)?.clone();
        let holders: Vec<i64> = item_values::table
            .filter(item_values::field_id.eq(field.id))
            .select(item_values::item_id)
            .distinct()
            .load(connection)?;
        let count = i64::try_from(holders.len()).map_err(|error| Error::internal("counting values", error))?;
        if count > 0 && !confirm {
            return Err(needs_confirmation(count, &format!("deleting the field {:?}", field.name)));
        }
        take_values(connection, &holders, |connection| {
            diesel::delete(item_values::table.filter(item_values::field_id.eq(field.id))).execute(connection)
        })?;
        diesel::delete(fields::table.find(field.id)).execute(connection)?;
        let remaining = Catalog::load(connection)?;
        renumber(connection, &remaining, None)?;
        Ok(count)
    })?;
    tracing::info!(actor = %actor.login, field = %key, items_lost_values = lost, "field deleted");
    Ok(lost)
}
