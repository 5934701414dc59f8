//! The values items hold for custom fields: parsing them from the item JSON (and from form
//! text), checking them against the field's rules, storing them typed in `item_values`, and
//! showing them.
//!
//! An item holds values only for fields that apply to its project and type: a type change
//! removes the others (recorded in history), and so does narrowing where a field applies.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use serde::ser::SerializeMap;

use super::{Catalog, Field, FieldType};
use crate::db::DbConnection;
use crate::db::schema::{item_values, items};
use crate::error::{Error, Result};
use crate::model::history::FieldChange;
use crate::model::ids::{ChoiceId, FieldId, ItemId, ProjectId, StatusId, TypeId, UserId};
use crate::model::text;
use crate::model::user::{self, UserSummary};
use crate::model::{membership, project::Project};

mod encoded;

/// Longest text of a one-line text or URL field, in characters.
pub const MAX_TEXT_CHARS: usize = 255;
/// Longest URL, in characters.
pub const MAX_URL_CHARS: usize = 2048;

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    LongText(String),
    Integer(i64),
    Decimal(f64),
    Date(NaiveDate),
    Boolean(bool),
    /// One choice, or several for multiple choice, in the field's order.
    Choices(Vec<ChoiceId>),
    User(UserId),
    Url(String),
}

fn wrong(field: &Field, expected: &str, got: &serde_json::Value) -> Error {
    let got = match got {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    };
    Error::invalid(
        field.input_name(),
        format!("{} is a {} field: send {expected}, not {got}", field.name, field.field_type.as_str()),
    )
}

/// A date both backends store and every client shows: years 1 to 9999.
pub fn check_date(name: &str, date: NaiveDate) -> Result<NaiveDate> {
    if (1..=9999).contains(&date.year()) {
        Ok(date)
    } else {
        Err(Error::invalid(name, format!("{date} is out of range: use a date in the years 1 to 9999")))
    }
}

/// The choice a value names; a retired one only if the item holds it already (keeping a
/// value is not choosing it).
fn choice_named(field: &Field, value: &serde_json::Value, held: &[ChoiceId]) -> Result<ChoiceId> {
    let serde_json::Value::String(text) = value else {
        return Err(wrong(field, "the value of a choice as a string", value));
    };
    let text = text.trim();
    let choice = field
        .choices
        .iter()
        .find(|choice| choice.value == text)
        .or_else(|| field.choices.iter().find(|choice| choice.value.eq_ignore_ascii_case(text)));
    match choice {
        Some(choice) if !choice.retired || held.contains(&choice.id) => Ok(choice.id),
        Some(choice) => Err(Error::invalid(
            field.input_name(),
            format!("{:?} is retired: items that hold it keep it, but it cannot be chosen", choice.value),
        )),
        None => {
            let offered: Vec<String> = field
                .choices
                .iter()
                .filter(|choice| !choice.retired)
                .map(|choice| format!("{:?}", choice.value))
                .collect();
            Err(Error::invalid(
                field.input_name(),
                format!("{text:?} is not a choice: use one of {}", offered.join(", ")),
            ))
        }
    }
}

/// Parses a value of the item JSON for `field`; `null` (and an empty text, list or string)
/// is no value. `held` is what the item holds now (its retired choices may stay). A user is
/// checked to be a member by `apply`.
pub fn parse(field: &Field, json: &serde_json::Value, held: Option<&Value>) -> Result<Option<Value>> {
    use serde_json::Value as Json;
    if json.is_null() {
        return Ok(None);
    }
    let held: &[ChoiceId] = match held {
        Some(Value::Choices(chosen)) => chosen,
        _ => &[],
    };
    let name = field.input_name();
    let value = match field.field_type {
        FieldType::Text => {
            let Json::String(text) = json else { return Err(wrong(field, "a string", json)) };
            let text = text::single_line(&name, text, 0, MAX_TEXT_CHARS)?;
            if text.is_empty() {
                return Ok(None);
            }
            Value::Text(text)
        }
        FieldType::LongText => {
            let Json::String(text) = json else { return Err(wrong(field, "a string", json)) };
            let text = text::body(&name, text, false)?;
            if text.trim().is_empty() {
                return Ok(None);
            }
            Value::LongText(text)
        }
        FieldType::Url => {
            let Json::String(text) = json else { return Err(wrong(field, "a string", json)) };
            let text = text::single_line(&name, text, 0, MAX_URL_CHARS)?;
            if text.is_empty() {
                return Ok(None);
            }
            let lower = text.to_ascii_lowercase();
            let shaped =
                (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:"))
                    && !text.contains(char::is_whitespace)
                    && !text.ends_with("//");
            if !shaped {
                return Err(Error::invalid(
                    name,
                    format!("{text:?} is not a link: use an http://, https:// or mailto: address"),
                ));
            }
            Value::Url(text)
        }
        FieldType::Integer => match json.as_i64() {
            Some(number) => Value::Integer(number),
            None if json.is_number() => {
                return Err(Error::invalid(name, format!("{json} is not a whole number between -2^63 and 2^63-1")));
            }
            None => return Err(wrong(field, "a whole number", json)),
        },
        FieldType::Decimal => match json.as_f64() {
            Some(number) if number.is_finite() => Value::Decimal(number),
            Some(_) => return Err(Error::invalid(name, format!("{json} is not a finite number"))),
            None => return Err(wrong(field, "a number", json)),
        },
        FieldType::Date => {
            let Json::String(text) = json else { return Err(wrong(field, "a date as \"YYYY-MM-DD\"", json)) };
            if text.trim().is_empty() {
                return Ok(None);
            }
            let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                Error::invalid(&name, format!("{text:?} is not a date: use YYYY-MM-DD, e.g. 2026-12-31"))
            })?;
            Value::Date(check_date(&name, date)?)
        }
        FieldType::Boolean => match json {
            Json::Bool(flag) => Value::Boolean(*flag),
            other => return Err(wrong(field, "true or false", other)),
        },
        FieldType::Choice => {
            if json.as_str().is_some_and(|text| text.trim().is_empty()) {
                return Ok(None);
            }
            Value::Choices(vec![choice_named(field, json, held)?])
        }
        FieldType::MultiChoice => {
            let Json::Array(list) = json else { return Err(wrong(field, "a list of choices", json)) };
            let mut chosen: Vec<ChoiceId> = Vec::with_capacity(list.len());
            for entry in list {
                let id = choice_named(field, entry, held)?;
                if !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
            if chosen.is_empty() {
                return Ok(None);
            }
            // The field's order, whatever order they were sent in.
            chosen.sort_by_key(|id| field.choices.iter().position(|choice| choice.id == *id));
            Value::Choices(chosen)
        }
        FieldType::User => {
            let id = match json {
                Json::Object(object) => object.get("id").and_then(Json::as_i64),
                other => other.as_i64(),
            };
            match id {
                Some(id) => Value::User(UserId(id)),
                None => return Err(wrong(field, "a user id (or {\"id\": …})", json)),
            }
        }
    };
    Ok(Some(value))
}

/// The JSON a form's text stands for, for a field of this type (`name` is the input, for
/// refusals), so that forms go through `parse` like the API: an empty text is no value;
/// numbers are parsed here.
pub fn from_form(field_type: FieldType, name: &str, texts: &[String]) -> Result<serde_json::Value> {
    use serde_json::Value as Json;
    let first = texts.first().map(|text| text.trim()).unwrap_or("");
    Ok(match field_type {
        FieldType::MultiChoice => Json::Array(
            texts.iter().filter(|text| !text.trim().is_empty()).map(|text| Json::String(text.clone())).collect(),
        ),
        FieldType::Boolean => match first {
            "" => Json::Null,
            "true" | "on" | "yes" => Json::Bool(true),
            "false" | "off" | "no" => Json::Bool(false),
            other => return Err(Error::invalid(name, format!("{other:?} is not yes or no"))),
        },
        _ if first.is_empty() => Json::Null,
        FieldType::Integer => match first.parse::<i64>() {
            Ok(number) => Json::from(number),
            Err(_) => return Err(Error::invalid(name, format!("{first:?} is not a whole number"))),
        },
        FieldType::Decimal => match first.replace(',', ".").parse::<f64>() {
            Ok(number) if number.is_finite() => Json::from(number),
            _ => return Err(Error::invalid(name, format!("{first:?} is not a number"))),
        },
        FieldType::User => match first.parse::<i64>() {
            Ok(number) => Json::from(number),
            Err(_) => return Err(Error::invalid(name, format!("{first:?} is not a user"))),
        },
        FieldType::LongText => Json::String(texts.first().cloned().unwrap_or_default()),
        _ => Json::String(first.to_string()),
    })
}

/// One stored row of `item_values` as the item's row keeps it (`items.field_values`, a JSON
/// array of these, written by the triggers of the migration `item_parts_on_row`): field,
/// text, long text, integer, decimal as text that gives back the same number (SQLite's JSON
/// writes 15 digits), date, flag as 0 or 1, choice, user.
type EncodedRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<NaiveDate>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// An item's values from what its row keeps; the choices of a field in the field's order.
/// Rows of fields the catalog no longer has are skipped.
pub fn decode(catalog: &Catalog, encoded: Option<&str>) -> Result<Vec<(FieldId, Value)>> {
    let Some(encoded) = encoded else { return Ok(Vec::new()) };
    let corrupt = |error: &dyn std::fmt::Display| Error::internal("reading an item's values", format!("{error}"));
    let rows: Vec<EncodedRow> = match encoded::plain_rows(encoded) {
        Some(rows) => rows,
        None => serde_json::from_str(encoded).map_err(|error| corrupt(&error))?,
    };
    let mut held: Vec<(FieldId, Value)> = Vec::with_capacity(rows.len());
    for (field_id, text_value, long_value, int_value, decimal, date_value, flag, choice_id, user_id) in rows {
        let Some(field) = catalog.by_id(FieldId(field_id)) else { continue };
        let value = match field.field_type {
            FieldType::Text => text_value.map(Value::Text),
            FieldType::Url => text_value.map(Value::Url),
            FieldType::LongText => long_value.map(Value::LongText),
            FieldType::Integer => int_value.map(Value::Integer),
            FieldType::Decimal => decimal
                .map(|text| text.parse::<f64>())
                .transpose()
                .map_err(|error| corrupt(&error))?
                .map(Value::Decimal),
            FieldType::Date => date_value.map(Value::Date),
            FieldType::Boolean => flag.map(|flag| Value::Boolean(flag != 0)),
            FieldType::User => user_id.map(|id| Value::User(UserId(id))),
            FieldType::Choice | FieldType::MultiChoice => choice_id.map(|id| Value::Choices(vec![ChoiceId(id)])),
        };
        let Some(value) = value else { continue };
        match (held.iter_mut().find(|(known, _)| *known == field.id), value) {
            (Some((_, Value::Choices(chosen))), Value::Choices(more)) => chosen.extend(more),
            (_, value) => held.push((field.id, value)),
        }
    }
    for (field_id, value) in held.iter_mut() {
        if let (Some(field), Value::Choices(chosen)) = (catalog.by_id(*field_id), value) {
            chosen.sort_by_key(|id| field.choices.iter().position(|choice| choice.id == *id));
        }
    }
    Ok(held)
}

/// The users these values name, to load their summaries with the item's people.
pub fn people<'a>(values: impl Iterator<Item = &'a Value>) -> impl Iterator<Item = UserId> {
    values.filter_map(|value| match value {
        Value::User(id) => Some(*id),
        _ => None,
    })
}

/// The words search finds the item by: text, long text, URLs and the names of choices;
/// numbers, dates, flags and people are found with `key:value` instead.
pub fn searchable_text(field: &Field, value: &Value) -> Option<String> {
    match value {
        Value::Text(text) | Value::LongText(text) | Value::Url(text) => Some(text.clone()),
        Value::Choices(chosen) => Some(
            chosen
                .iter()
                .filter_map(|id| field.choice(*id))
                .map(|choice| choice.value.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// A value ready to show: choices by their (current) names, users as summaries.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Text(String),
    LongText(String),
    Integer(i64),
    Decimal(f64),
    Date(NaiveDate),
    Boolean(bool),
    Choice(String),
    Choices(Vec<String>),
    User(UserSummary),
    Url(String),
}

impl Shown {
    /// The value as one line of text (history, mail, CSV, page cells).
    pub fn text(&self) -> String {
        match self {
            Shown::Text(text) | Shown::LongText(text) | Shown::Choice(text) | Shown::Url(text) => text.clone(),
            Shown::Integer(number) => number.to_string(),
            Shown::Decimal(number) => number.to_string(),
            Shown::Date(date) => date.to_string(),
            Shown::Boolean(flag) => if *flag { "yes" } else { "no" }.to_string(),
            Shown::Choices(names) => names.join(", "),
            Shown::User(user) => user.login.clone(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Shown::Text(text) | Shown::LongText(text) | Shown::Choice(text) | Shown::Url(text) => {
                Json::String(text.clone())
            }
            Shown::Integer(number) => Json::from(*number),
            Shown::Decimal(number) => Json::from(*number),
            Shown::Date(date) => Json::String(date.to_string()),
            Shown::Boolean(flag) => Json::Bool(*flag),
            Shown::Choices(names) => Json::Array(names.iter().cloned().map(Json::String).collect()),
            Shown::User(user) => serde_json::json!({"id": user.id, "login": user.login, "name": user.name}),
        }
    }
}

fn shown(field: &Field, value: &Value, users: &[UserSummary]) -> Result<Shown> {
    let choice_name = |id: &ChoiceId| {
        field
            .choice(*id)
            .map(|choice| choice.value.clone())
            .ok_or_else(|| Error::internal("field value", format!("choice {id} of field {} vanished", field.key)))
    };
    Ok(match value {
        Value::Text(text) => Shown::Text(text.clone()),
        Value::LongText(text) => Shown::LongText(text.clone()),
        Value::Url(text) => Shown::Url(text.clone()),
        Value::Integer(number) => Shown::Integer(*number),
        Value::Decimal(number) => Shown::Decimal(*number),
        Value::Date(date) => Shown::Date(*date),
        Value::Boolean(flag) => Shown::Boolean(*flag),
        Value::Choices(chosen) if field.field_type == FieldType::MultiChoice => {
            Shown::Choices(chosen.iter().map(choice_name).collect::<Result<_>>()?)
        }
        Value::Choices(chosen) => Shown::Choice(chosen.first().map(choice_name).transpose()?.unwrap_or_default()),
        Value::User(id) => Shown::User(
            users
                .iter()
                .find(|user| user.id == *id)
                .cloned()
                .ok_or_else(|| Error::internal("field value", format!("user {id} vanished")))?,
        ),
    })
}

/// One field of an item as pages and the API show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownField {
    pub key: String,
    pub name: String,
    pub field_type: FieldType,
    pub value: Option<Shown>,
}

/// The fields of one item: every field that applies, in form order, with its value if any.
/// Serializes as the JSON object `{"<key>": value or null}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldValues(pub Vec<ShownField>);

impl Serialize for FieldValues {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for field in &self.0 {
            map.serialize_entry(&field.key, &field.value.as_ref().map(Shown::to_json))?;
        }
        map.end()
    }
}

/// What an item shows for each field that applies to its project and type.
pub fn shown_fields(
    catalog: &Catalog,
    project: ProjectId,
    item_type: TypeId,
    values: &[(FieldId, Value)],
    users: &[UserSummary],
) -> Result<FieldValues> {
    catalog
        .applying(project, item_type)
        .map(|field| {
            let value = values
                .iter()
                .find(|(id, _)| *id == field.id)
                .map(|(_, value)| shown(field, value, users))
                .transpose()?;
            Ok(ShownField { key: field.key.clone(), name: field.name.clone(), field_type: field.field_type, value })
        })
        .collect::<Result<Vec<_>>>()
        .map(FieldValues)
}

/// One stored value: a row of `item_values`, placed in its item's project and status.
#[derive(Insertable)]
#[diesel(table_name = item_values, treat_none_as_default_value = false)]
struct NewValue {
    item_id: ItemId,
    field_id: FieldId,
    project_id: ProjectId,
    status_id: StatusId,
    text_value: Option<String>,
    long_value: Option<String>,
    int_value: Option<i64>,
    decimal_value: Option<f64>,
    date_value: Option<NaiveDate>,
    bool_value: Option<bool>,
    choice_id: Option<ChoiceId>,
    user_id: Option<UserId>,
}

impl NewValue {
    /// The rows that hold `value`: one, or one per chosen value of a multiple choice.
    fn rows(item: ItemId, field: FieldId, at: &Placement<'_>, value: &Value) -> Vec<NewValue> {
        let empty = || NewValue {
            item_id: item,
            field_id: field,
            project_id: at.project.id,
            status_id: at.status,
            text_value: None,
            long_value: None,
            int_value: None,
            decimal_value: None,
            date_value: None,
            bool_value: None,
            choice_id: None,
            user_id: None,
        };
        let one = match value {
            Value::Text(text) | Value::Url(text) => NewValue { text_value: Some(text.clone()), ..empty() },
            Value::LongText(text) => NewValue { long_value: Some(text.clone()), ..empty() },
            Value::Integer(number) => NewValue { int_value: Some(*number), ..empty() },
            Value::Decimal(number) => NewValue { decimal_value: Some(*number), ..empty() },
            Value::Date(date) => NewValue { date_value: Some(*date), ..empty() },
            Value::Boolean(flag) => NewValue { bool_value: Some(*flag), ..empty() },
            Value::User(user) => NewValue { user_id: Some(*user), ..empty() },
            Value::Choices(chosen) => {
                return chosen.iter().map(|choice| NewValue { choice_id: Some(*choice), ..empty() }).collect();
            }
        };
        vec![one]
    }
}

/// The value as history records it.
fn history_text(connection: &mut DbConnection, field: &Field, value: Option<&Value>) -> Result<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let users = match value {
        Value::User(id) => user::summaries(connection, &[*id])?,
        _ => Vec::new(),
    };
    Ok(Some(shown(field, value, &users)?.text()))
}

/// Where an item is and what it is: its project and type decide which fields apply; its
/// values are stored with its project and status.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub project: &'a Project,
    pub item_type: TypeId,
    pub status: StatusId,
}

/// Sets an item's field values in its write transaction: the values sent (by key; `null`
/// clears), defaults on a new item, and — when its type or project changed (`before` is where
/// it was; `None` for a new item) — the removal of values that no longer apply and the
/// defaults of fields that now do.
/// Required fields must have a value on a new item, when sent, and when they newly apply.
/// Returns the changes for history.
pub fn apply(
    connection: &mut DbConnection,
    catalog: &Catalog,
    item: ItemId,
    now: Placement<'_>,
    before: Option<Placement<'_>>,
    sent: &[(String, serde_json::Value)],
) -> Result<Vec<FieldChange>> {
    if catalog.is_empty() {
        if let Some((key, _)) = sent.first() {
            return Err(Error::invalid(format!("fields.{key}"), format!("there is no field {key:?}")));
        }
        return Ok(Vec::new());
    }
    let project = now.project;
    let current = match before {
        Some(_) => {
            let kept: Option<String> = items::table.find(item).select(items::field_values).first(connection)?;
            decode(catalog, kept.as_deref())?
        }
        None => Vec::new(),
    };
    let held = |field: &Field| current.iter().find(|(id, _)| *id == field.id).map(|(_, value)| value);
    let mut parsed: Vec<(&Field, Option<Value>)> = Vec::with_capacity(sent.len());
    for (key, json) in sent {
        let field = catalog
            .by_key(key)
            .ok_or_else(|| Error::invalid(format!("fields.{key}"), format!("there is no field {key:?}")))?;
        if !field.applies_to(project.id, now.item_type) {
            return Err(Error::invalid(
                field.input_name(),
                format!("{} does not apply to this item type in project {}", field.name, project.key),
            ));
        }
        parsed.push((field, parse(field, json, held(field))?));
    }
    let mut changes: Vec<FieldChange> = Vec::new();
    // Written once every value is checked.
    let mut replaced: Vec<FieldId> = Vec::new();
    let mut rows: Vec<NewValue> = Vec::new();
    let mut note =
        |connection: &mut DbConnection, field: &Field, old: Option<&Value>, new: Option<&Value>| -> Result<()> {
            if old != new {
                if old.is_some() {
                    replaced.push(field.id);
                }
                if let Some(value) = new {
                    rows.extend(NewValue::rows(item, field.id, &now, value));
                }
                changes.push(FieldChange {
                    field: field.key.clone(),
                    old_value: history_text(connection, field, old)?,
                    new_value: history_text(connection, field, new)?,
                });
            }
            Ok(())
        };
    let moved = before.is_some_and(|old| old.project.id != project.id);
    for field in &catalog.fields {
        let applies = field.applies_to(project.id, now.item_type);
        let applied_before = before.is_some_and(|old| field.applies_to(old.project.id, old.item_type));
        let old = held(field);
        if !applies {
            if old.is_some() {
                note(connection, field, old, None)?;
            }
            continue;
        }
        let newly = before.is_none() || !applied_before;
        let new = match parsed.iter().find(|(sent_field, _)| sent_field.id == field.id) {
            Some((_, value)) => value.clone(),
            None if newly => field.default.as_ref().map(|default| parse(field, default, None)).transpose()?.flatten(),
            None => old.cloned(),
        };
        let checked = newly || parsed.iter().any(|(sent_field, _)| sent_field.id == field.id);
        if field.required && checked && new.is_none() {
            return Err(Error::invalid(field.input_name(), format!("{} is required", field.name)));
        }
        // A person is one of the project's members when chosen and when the item moves with
        // them, as its assignee is.
        if let Some(Value::User(user_id)) = &new
            && (new.as_ref() != old || moved)
            && !membership::is_active_member(connection, project.id, *user_id)?
        {
            return Err(Error::invalid(
                field.input_name(),
                format!("user {user_id} cannot be chosen: only active members of project {} can", project.key),
            ));
        }
        note(connection, field, old, new.as_ref())?;
    }
    if !replaced.is_empty() {
        diesel::delete(
            item_values::table.filter(item_values::item_id.eq(item)).filter(item_values::field_id.eq_any(replaced)),
        )
        .execute(connection)?;
    }
    insert_rows(connection, &rows)?;
    Ok(changes)
}

/// Stores value rows with one statement whatever their number, so that it stays prepared:
/// on PostgreSQL one round trip, the columns as arrays (`unnest`); on SQLite, in the process,
/// row by row (a statement of many rows differs in shape with their number, and SQLite
/// compiles an insert into this table, with its indexes and triggers, slowly).
fn insert_rows(connection: &mut DbConnection, rows: &[NewValue]) -> Result<()> {
    use diesel::sql_types::{Array, BigInt, Bool, Date, Double, Nullable, Text};
    match connection {
        DbConnection::Postgresql(postgres) if rows.len() > 1 => {
            fn column<T, F: Fn(&NewValue) -> T>(rows: &[NewValue], get: F) -> Vec<T> {
                rows.iter().map(get).collect()
            }
            diesel::sql_query(
                "INSERT INTO item_values (item_id, field_id, project_id, status_id, text_value, long_value, \
                 int_value, decimal_value, date_value, bool_value, choice_id, user_id) \
                 SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind::<Array<BigInt>, _>(column(rows, |row| i64::from(row.item_id)))
            .bind::<Array<BigInt>, _>(column(rows, |row| i64::from(row.field_id)))
            .bind::<Array<BigInt>, _>(column(rows, |row| i64::from(row.project_id)))
            .bind::<Array<BigInt>, _>(column(rows, |row| i64::from(row.status_id)))
            .bind::<Array<Nullable<Text>>, _>(column(rows, |row| row.text_value.clone()))
            .bind::<Array<Nullable<Text>>, _>(column(rows, |row| row.long_value.clone()))
            .bind::<Array<Nullable<BigInt>>, _>(column(rows, |row| row.int_value))
            .bind::<Array<Nullable<Double>>, _>(column(rows, |row| row.decimal_value))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |row| row.date_value))
            .bind::<Array<Nullable<Bool>>, _>(column(rows, |row| row.bool_value))
            .bind::<Array<Nullable<BigInt>>, _>(column(rows, |row| row.choice_id.map(i64::from)))
            .bind::<Array<Nullable<BigInt>>, _>(column(rows, |row| row.user_id.map(i64::from)))
            .execute(postgres)?;
        }
        _ => {
            for row in rows {
                diesel::insert_into(item_values::table).values(row).execute(connection)?;
            }
        }
    }
    Ok(())
}
