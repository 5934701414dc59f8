//! One field of an item changed where the item page shows it (status, assignee, priority,
//! type, due date, target version, component, a custom field): a small form of its own that
//! posts the field, the new value and the value the page showed. It changes that field only,
//! so someone else's change of another field meanwhile is kept; a change of the same field
//! meanwhile is a conflict that the page explains (who, what, when) with "keep theirs" and
//! "apply mine". After a change the page says what changed and offers to undo it (the same
//! form, with the earlier value).
//! Fields of one short value (choices, people, dates, numbers, lines of text) are a control
//! with its Set button; a long text, a multiple choice or a URL shows its value first and
//! opens to a form of its own ("Change").

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::Error;
use crate::model::field::{Catalog, FieldType};
use crate::model::ids::{ComponentId, ItemId, PriorityId, StatusId, TypeId, UserId, VersionId};
use crate::model::item::{self, Guard, ItemUpdate, ItemView, StatusRef};
use crate::model::workflow::Workflow;
use crate::model::{component, user, version};
use crate::web::AppState;
use crate::web::input::form_pairs;
use crate::web::pages::error::PageError;
use crate::web::pages::field_inputs::{FieldTexts, PREFIX};
use crate::web::pages::item::{Done, FormState, UndoForm, item_page, parse_number};
use crate::web::pages::items::parse_date;
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{FieldErrors, Notice, see_other};

/// The built-in fields that change in place, by the names history gives them.
const BUILT_IN: [&str; 7] = ["status", "assignee", "priority", "type", "due_date", "target_version", "component"];

/// The form of one field changed in place. A built-in field's value is `value`; a custom
/// field's is its own input (`field.<key>`, as on the edit form).
#[derive(Deserialize)]
pub struct FieldForm {
    #[serde(default)]
    field: String,
    /// The value the page showed, in history's words (`ItemView::field_words`); empty for none.
    #[serde(default)]
    seen: String,
    #[serde(default)]
    value: String,
}

/// A form that sets one field: what the undo button and "apply mine" post.
pub struct SetForm {
    pub field: String,
    /// The value there now, in history's words.
    pub seen: String,
    /// The value's inputs (name, text).
    pub inputs: Vec<(String, String)>,
}

/// Someone else changed the field since the page was shown.
pub struct Collision {
    pub label: String,
    /// A long text: the page shows both texts whole instead of quoting them in a sentence.
    pub long: bool,
    /// The value there now, in words ("none" for empty).
    pub theirs: String,
    /// The value the viewer chose, in words.
    pub mine: String,
    /// Posts the viewer's value again, over theirs.
    pub apply_mine: SetForm,
}

/// How the page names a field.
fn label(field: &str, item: &ItemView) -> String {
    match field {
        "status" => "Status".into(),
        "assignee" => "Assignee".into(),
        "priority" => "Priority".into(),
        "type" => "Type".into(),
        "due_date" => "Due date".into(),
        "target_version" => "Version".into(),
        "component" => "Component".into(),
        key => item
            .fields
            .0
            .iter()
            .find(|shown| shown.key == key)
            .map_or_else(|| key.to_string(), |shown| shown.name.clone()),
    }
}

/// Whether the field is a long text: it is told about without quoting it, and its earlier
/// text for undo comes from the history, not from the page's address.
fn is_long_text(item: &ItemView, field: &str) -> bool {
    item.fields.0.iter().any(|shown| shown.key == field && shown.field_type == FieldType::LongText)
}

/// The name of the input that carries a field's value.
fn input_name(field: &str) -> String {
    if BUILT_IN.contains(&field) { "value".into() } else { format!("{PREFIX}{field}") }
}

/// The field's value as its form sends it (ids for built-in choices; one empty text for
/// none), for the undo form.
fn form_texts(item: &ItemView, field: &str) -> Vec<String> {
    match field {
        "status" => vec![item.status.id.to_string()],
        "priority" => vec![item.priority.id.to_string()],
        "type" => vec![item.item_type.id.to_string()],
        "assignee" => vec![item.assignee.as_ref().map(|assignee| assignee.id.to_string()).unwrap_or_default()],
        "due_date" => vec![item.due_date.map(|date| date.to_string()).unwrap_or_default()],
        "target_version" => {
            vec![item.target_version.as_ref().map(|version| version.id.to_string()).unwrap_or_default()]
        }
        "component" => vec![item.component.as_ref().map(|component| component.id.to_string()).unwrap_or_default()],
        key => match FieldTexts::of_item(&item.fields).texts(key) {
            [] => vec![String::new()],
            texts => texts.to_vec(),
        },
    }
}

/// The change one form asks for, guarded by the value the page showed.
fn changes(
    form: &FieldForm,
    inputs: &[(String, String)],
    catalog: &Catalog,
    item: &ItemView,
) -> Result<ItemUpdate, Error> {
    let seen = Some(form.seen.clone()).filter(|seen| !seen.is_empty());
    let mut changes = ItemUpdate { guard: Guard::Seen(vec![(form.field.clone(), seen)]), ..ItemUpdate::default() };
    let chosen = |what: &str| {
        parse_number("value", &form.value)?.ok_or_else(|| Error::invalid("value", format!("choose a {what}")))
    };
    match form.field.as_str() {
        "status" => changes.status_id = Some(StatusId(chosen("status")?)),
        "priority" => changes.priority_id = Some(PriorityId(chosen("priority")?)),
        "type" => changes.type_id = Some(TypeId(chosen("type")?)),
        "assignee" => changes.assignee_id = Some(parse_number("value", &form.value)?.map(UserId)),
        "due_date" => changes.due_date = Some(parse_date("value", &form.value)?),
        "target_version" => changes.target_version = Some(parse_number("value", &form.value)?.map(VersionId)),
        "component" => changes.component = Some(parse_number("value", &form.value)?.map(ComponentId)),
        key => {
            if !item.fields.0.iter().any(|shown| shown.key == key) {
                return Err(Error::invalid("field", format!("{} has no field {key:?}", item.key)));
            }
            changes.fields = FieldTexts::from_pairs(inputs).to_values(catalog)?;
        }
    }
    Ok(changes)
}

/// A value as a person reads it: the name of a chosen status, priority or type, the login of a
/// chosen person (assignee or a user field), the text of anything else, "none" for empty.
fn words(connection: &mut crate::db::DbConnection, field: &str, texts: &[String]) -> Result<String, Error> {
    let text = texts.iter().filter(|text| !text.is_empty()).cloned().collect::<Vec<_>>().join(", ");
    let id = text.parse::<i64>().ok();
    let named = match (field, id) {
        ("status" | "priority" | "type", Some(id)) => {
            let workflow = Workflow::load(connection)?;
            match field {
                "status" => workflow.status(StatusId(id)).ok().map(|status| status.name.clone()),
                "priority" => workflow.priority(PriorityId(id)).ok().map(|priority| priority.name.clone()),
                _ => workflow.item_type(TypeId(id)).ok().map(|item_type| item_type.name.clone()),
            }
        }
        ("assignee", Some(id)) => user::get(connection, UserId(id)).ok().map(|user| user.login),
        ("target_version", Some(id)) => version::names(connection, &[VersionId(id)])?.pop().map(|(_, name)| name),
        ("component", Some(id)) => component::names(connection, &[ComponentId(id)])?.pop().map(|(_, name)| name),
        (key, Some(id))
            if Catalog::load(connection)?.by_key(key).is_some_and(|field| field.field_type == FieldType::User) =>
        {
            user::get(connection, UserId(id)).ok().map(|user| user.login)
        }
        _ => None,
    };
    Ok(named.unwrap_or(if text.is_empty() { "none".into() } else { text }))
}

pub async fn set_field(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<ItemId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let mut form: FieldForm = read_form(&viewer, &body)?;
    // Browsers send a hidden value's line breaks as CRLF; stored texts end lines with LF.
    form.seen = form.seen.replace("\r\n", "\n");
    let name = input_name(&form.field);
    let inputs: Vec<(String, String)> = form_pairs(&body)?.into_iter().filter(|(input, _)| *input == name).collect();
    let user = viewer.user.clone();
    let (catalog, before) = state
        .database
        .run(move |connection| Ok((Catalog::load(connection)?, item::get(connection, &user, id)?)))
        .await?;
    let user = viewer.user.clone();
    let outcome = match changes(&form, &inputs, &catalog, &before) {
        Ok(changes) => state.database.write(move |connection| item::update(connection, &user, id, changes)).await,
        Err(error) => Err(error),
    };
    let error = match outcome {
        Ok(after) => {
            let mut query = vec![("changed", form.field.clone())];
            if after.version != before.version {
                if is_long_text(&before, &form.field) {
                    // An address holds no long text: `changed` takes the earlier one from the
                    // history; an empty `undo` only says that the field did change.
                    query.push(("undo", String::new()));
                } else {
                    query.extend(form_texts(&before, &form.field).into_iter().map(|text| ("undo", text)));
                }
            }
            let query = serde_urlencoded::to_string(query).unwrap_or_default();
            return Ok(see_other(&format!("/items/{id}?{query}")));
        }
        Err(error) => error,
    };
    let field_label = label(&form.field, &before);
    match error {
        Error::Conflict(message) => {
            let user = viewer.user.clone();
            let (field, texts) = (form.field.clone(), inputs.iter().map(|(_, text)| text.clone()).collect::<Vec<_>>());
            let (now, mine) = state
                .database
                .run(move |connection| Ok((item::get(connection, &user, id)?, words(connection, &field, &texts)?)))
                .await?;
            let theirs = now.field_words(&form.field);
            let shown = Some(form.seen.clone()).filter(|seen| !seen.is_empty());
            // Refused for another reason (a workflow rule, an open blocker): said as it is.
            if theirs == shown {
                let notice = Notice { kind: "error", text: format!("{field_label} not changed: {message}") };
                return item_page(&state, &viewer, id, StatusCode::CONFLICT, FormState::told(notice)).await;
            }
            let collision = Collision {
                label: field_label,
                long: is_long_text(&before, &form.field),
                theirs: theirs.clone().unwrap_or_else(|| "none".into()),
                mine,
                apply_mine: SetForm { field: form.field.clone(), seen: theirs.unwrap_or_default(), inputs },
            };
            item_page(&state, &viewer, id, StatusCode::CONFLICT, FormState::collided(collision)).await
        }
        Error::Invalid(refusal) => {
            let notice = Notice { kind: "error", text: format!("{field_label} not changed: {}", refusal.message) };
            let errors = FieldErrors::one(&format!("set.{}", form.field), refusal.message);
            let forms = FormState::refused(notice, errors, &inputs);
            item_page(&state, &viewer, id, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        other => Err(other.into()),
    }
}

/// What the page says after `?changed=<field>` (and the earlier value, `undo`, when the field
/// did change): the viewer's own latest change of that field, with a form that undoes it while
/// the field still holds what the viewer set — for a status, only when the workflow allows the
/// move back (`moves`: where the item may go now).
pub(crate) fn changed(
    pairs: &[(String, String)],
    item: &ItemView,
    viewer: UserId,
    history: &[crate::model::history::HistoryEntry],
    moves: &[StatusRef],
) -> Option<Done> {
    let field = pairs.iter().find(|(name, _)| name == "changed").map(|(_, field)| field.as_str())?;
    let field_label = label(field, item);
    let now = item.field_words(field);
    let long = is_long_text(item, field);
    let mut undo: Vec<String> = pairs.iter().filter(|(name, _)| name == "undo").map(|(_, text)| text.clone()).collect();
    if undo.is_empty() {
        let text = match now {
            _ if long => format!("{field_label} already had that text: nothing changed."),
            Some(shown) => format!("{field_label} is {shown} already: nothing changed."),
            None => format!("{field_label} is none already: nothing changed."),
        };
        return Some(Done { text, undo: None });
    }
    let last = history.iter().rev().find(|entry| entry.field == field)?;
    if last.user.id != viewer || last.new_value != now {
        return None;
    }
    if long {
        undo = vec![last.old_value.clone().unwrap_or_default()];
    }
    let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "none".into());
    let text = if long {
        format!("{field_label} changed.")
    } else {
        format!("{field_label} changed from {} to {}.", shown(&last.old_value), shown(&last.new_value))
    };
    let back_allowed = field != "status"
        || undo
            .first()
            .and_then(|text| text.parse().ok())
            .is_some_and(|back: i64| moves.iter().any(|to| to.id.0 == back));
    if !back_allowed {
        return Some(Done { text, undo: None });
    }
    let mut inputs = vec![("field".to_string(), field.to_string()), ("seen".to_string(), now.unwrap_or_default())];
    inputs.extend(undo.into_iter().map(|text| (input_name(field), text)));
    Some(Done { text, undo: Some(UndoForm { action: format!("/items/{}/field", item.id), inputs }) })
}
