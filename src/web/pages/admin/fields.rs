//! Custom fields, for administrators: the list (with how many items hold values of each),
//! a form to define one, a page per field to change it (name, description, required,
//! default, where it applies, choices renamed, retired or added) and to move or delete it.
//! The model (`field`) applies the rules; a change that takes values from items asks first,
//! naming how many items lose a value.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::Error;
use crate::model::field::{self, ChoiceInput, Field, FieldChanges, FieldDraft, FieldType};
use crate::model::ids::{ChoiceId, TypeId};
use crate::model::project::{self, Project};
use crate::model::workflow::Workflow;
use crate::web::AppState;
use crate::web::error::status_of;
use crate::web::input::form_pairs;
use crate::web::pages::confirm::{self, Confirmation, is_confirmed};
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{AdminViewer, CSRF_FIELD, Viewer, check_csrf, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, render, see_other, url_with_query};

/// A field on the list.
pub struct FieldRow {
    pub field: Field,
    /// Items that hold a value of it.
    pub items: i64,
    pub applies: String,
    pub is_first: bool,
    pub is_last: bool,
}

/// What a form sent, by name (repeated names for check boxes).
#[derive(Debug, Clone, Default)]
pub struct Sent(Vec<(String, String)>);

impl Sent {
    pub fn text(&self, name: &str) -> &str {
        self.0.iter().find(|(sent, _)| sent == name).map(|(_, text)| text.as_str()).unwrap_or("")
    }

    pub fn has(&self, name: &str, text: &str) -> bool {
        self.0.iter().any(|(sent, value)| sent == name && value == text)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(sent, _)| sent == name).map(|(_, text)| text.clone()).collect()
    }
}

#[derive(Template)]
#[template(path = "admin/fields.html")]
struct FieldsPage {
    chrome: Chrome,
    rows: Vec<FieldRow>,
    types: Vec<FieldType>,
    projects: Vec<Project>,
    workflow: Workflow,
    /// What the new-field form holds (after a refusal).
    sent: Sent,
    errors: FieldErrors,
    notice: Option<Notice>,
}

#[derive(Template)]
#[template(path = "admin/field.html")]
struct FieldPage {
    chrome: Chrome,
    field: Field,
    items: i64,
    projects: Vec<Project>,
    workflow: Workflow,
    /// What the form holds: the field as stored, or what was sent when it was refused.
    sent: Sent,
    errors: FieldErrors,
    notice: Option<Notice>,
}

/// "all projects", or the keys; likewise for types.
fn applies_text(field: &Field, workflow: &Workflow) -> String {
    let projects = field.projects.as_ref().map_or_else(|| "all projects".to_string(), |keys| keys.join(", "));
    let types = field.types.as_ref().map_or_else(
        || "all types".to_string(),
        |ids| {
            ids.iter()
                .filter_map(|id| workflow.item_type(*id).ok().map(|item_type| item_type.name.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    format!("{projects} · {types}")
}

async fn fields_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    sent: Sent,
    errors: FieldErrors,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let (fields, usage, projects, workflow) = state
        .database
        .run(move |connection| {
            let fields = field::list(connection)?;
            let usage = fields
                .iter()
                .map(|field| field::items_with_values(connection, field.id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((fields, usage, project::list_readable(connection, &user)?, Workflow::load(connection)?))
        })
        .await?;
    let count = fields.len();
    let rows = fields
        .into_iter()
        .zip(usage)
        .enumerate()
        .map(|(index, (field, items))| FieldRow {
            applies: applies_text(&field, &workflow),
            field,
            items,
            is_first: index == 0,
            is_last: index + 1 == count,
        })
        .collect();
    let page = FieldsPage {
        chrome: viewer.chrome(),
        rows,
        types: FieldType::ALL.to_vec(),
        projects,
        workflow,
        sent,
        errors,
        notice,
    };
    render(status, &page)
}

/// `?done=created&key=customer` after a change: only fixed texts and the key's field name.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn done_notice(query: &DoneQuery) -> Option<Notice> {
    let text = match query.done.as_deref()? {
        "created" => "The field was created.",
        "saved" => "The field was saved.",
        "moved" => "The field was moved.",
        "deleted" => "The field was deleted.",
        _ => return None,
    };
    Some(Notice { kind: "ok", text: text.into() })
}

pub async fn show_fields(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    fields_page(&state, &viewer, StatusCode::OK, Sent::default(), FieldErrors::default(), done_notice(&query)).await
}

/// The status and notice for a refusal by the model; other errors are the page's error.
fn refusal(error: Error) -> Result<(StatusCode, FieldErrors, Notice), PageError> {
    let status = match &error {
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) => status_of(&error),
        _ => return Err(error.into()),
    };
    let (errors, message) = match error {
        Error::Invalid(field_error) => {
            let message = field_error.message.clone();
            (FieldErrors::from(field_error), message)
        }
        other => (FieldErrors::default(), other.message()),
    };
    Ok((status, errors, Notice { kind: "error", text: format!("Not saved: {message}") }))
}

/// The choices typed one per line.
fn lines(text: &str) -> Vec<ChoiceInput> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| ChoiceInput { id: None, value: Some(line.to_string()), retired: None })
        .collect()
}

/// Where a field applies: project keys and type ids, `None` for all.
type Scope = (Option<Vec<String>>, Option<Vec<TypeId>>);

/// Ticked projects (none: all) and types (none: all).
fn scope(sent: &Sent) -> Result<Scope, Error> {
    let projects = sent.all("projects");
    let types = sent
        .all("types")
        .iter()
        .map(|id| id.parse().map(TypeId).map_err(|_| Error::invalid("types", format!("{id:?} is not an item type"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(((!projects.is_empty()).then_some(projects), (!types.is_empty()).then_some(types)))
}

/// A default typed on the form, as the field's value in the item JSON.
fn default_of(field_type: FieldType, text: &str) -> Result<Option<serde_json::Value>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let texts: Vec<String> = match field_type {
        FieldType::MultiChoice => text.split(',').map(|part| part.trim().to_string()).collect(),
        _ => vec![text.to_string()],
    };
    let json = field::value::from_form(field_type, "default", &texts)?;
    Ok(Some(json))
}

pub async fn create_field(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let sent = Sent(form_pairs(&body)?);
    check_csrf(&viewer, Some(sent.text(CSRF_FIELD)))?;
    let draft = (|| -> Result<FieldDraft, Error> {
        let field_type = FieldType::parse(sent.text("type"))?;
        let (projects, types) = scope(&sent)?;
        Ok(FieldDraft {
            key: sent.text("key").to_string(),
            name: sent.text("name").to_string(),
            description: sent.text("description").to_string(),
            field_type: field_type.as_str().to_string(),
            required: sent.has("required", "on"),
            default: default_of(field_type, sent.text("default"))?,
            choices: lines(sent.text("choices")),
            projects,
            types,
            position: None,
        })
    })();
    let user = viewer.user.clone();
    let outcome = match draft {
        Ok(draft) => state.database.write(move |connection| field::create(connection, &user, draft)).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => Ok(see_other(&url_with_query("/admin/fields", &[("done", "created".to_string())]))),
        Err(error) => {
            let (status, errors, notice) = refusal(error)?;
            fields_page(&state, &viewer, status, sent, errors, Some(notice)).await
        }
    }
}

/// The form's view of a stored field.
fn sent_of(field: &Field) -> Sent {
    let mut pairs = vec![
        ("name".to_string(), field.name.clone()),
        ("description".to_string(), field.description.clone()),
        ("default".to_string(), default_text(field)),
    ];
    if field.required {
        pairs.push(("required".into(), "on".into()));
    }
    for key in field.projects.iter().flatten() {
        pairs.push(("projects".into(), key.clone()));
    }
    for id in field.types.iter().flatten() {
        pairs.push(("types".into(), id.to_string()));
    }
    for choice in &field.choices {
        pairs.push((format!("choice.{}", choice.id), choice.value.clone()));
        if choice.retired {
            pairs.push((format!("retired.{}", choice.id), "on".into()));
        }
    }
    Sent(pairs)
}

/// A default as the form writes it: the value, choices separated by commas.
fn default_text(field: &Field) -> String {
    match &field.default {
        None => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(values)) => {
            values.iter().filter_map(|value| value.as_str()).collect::<Vec<_>>().join(", ")
        }
        Some(serde_json::Value::Bool(flag)) => if *flag { "yes" } else { "no" }.to_string(),
        Some(other) => other.to_string(),
    }
}

async fn field_page(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    status: StatusCode,
    sent: Option<Sent>,
    errors: FieldErrors,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let (field, items, projects, workflow) = state
        .database
        .run(move |connection| {
            let field = field::get(connection, &key)?;
            let items = field::items_with_values(connection, field.id)?;
            Ok((field, items, project::list_readable(connection, &user)?, Workflow::load(connection)?))
        })
        .await?;
    let sent = sent.unwrap_or_else(|| sent_of(&field));
    render(status, &FieldPage { chrome: viewer.chrome(), field, items, projects, workflow, sent, errors, notice })
}

pub async fn show_field(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = done_notice(&query);
    field_page(&state, &viewer, path.into_inner(), StatusCode::OK, None, FieldErrors::default(), notice).await
}

/// The changes the field's form asks for: every part of it, choices renamed or retired in
/// place and new ones added at the end.
fn changes_of(field: &Field, sent: &Sent) -> Result<FieldChanges, Error> {
    let (projects, types) = scope(sent)?;
    let mut choices: Vec<ChoiceInput> = field
        .choices
        .iter()
        .map(|choice| ChoiceInput {
            id: Some(choice.id),
            value: Some(sent.text(&format!("choice.{}", choice.id)).to_string()),
            retired: Some(sent.has(&format!("retired.{}", choice.id), "on")),
        })
        .collect();
    choices.extend(lines(sent.text("new_choices")));
    Ok(FieldChanges {
        name: Some(sent.text("name").to_string()),
        description: Some(sent.text("description").to_string()),
        required: Some(sent.has("required", "on")),
        default: Some(default_of(field.field_type, sent.text("default"))?),
        choices: field.field_type.has_choices().then_some(choices),
        projects: Some(projects),
        types: Some(types),
        position: None,
        confirm: is_confirmed(Some(sent.text("confirm"))),
    })
}

/// The fields a confirmation page posts again: everything sent but the CSRF token and the
/// confirmation itself.
fn resend(sent: &Sent) -> Vec<(&str, String)> {
    sent.0
        .iter()
        .filter(|(name, _)| name != CSRF_FIELD && name != "confirm")
        .map(|(name, text)| (name.as_str(), text.clone()))
        .collect()
}

pub async fn update_field(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let sent = Sent(form_pairs(&body)?);
    check_csrf(&viewer, Some(sent.text(CSRF_FIELD)))?;
    let user = viewer.user.clone();
    let (form_key, form_sent) = (key.clone(), sent.clone());
    let outcome = state
        .database
        .write(move |connection| {
            let field = field::get(connection, &form_key)?;
            let changes = changes_of(&field, &form_sent)?;
            field::update(connection, &user, &form_key, changes)
        })
        .await;
    let here = format!("/admin/fields/{key}");
    match outcome {
        Ok(_) => Ok(see_other(&url_with_query(&here, &[("done", "saved".to_string())]))),
        Err(Error::Conflict(message)) if message.contains("confirm=true") => {
            let confirmation = Confirmation {
                title: "Take values away from items?".into(),
                message: message.replace("; send confirm=true to go ahead", "."),
                button: "Save and remove those values".into(),
            };
            confirm::ask(&viewer, &confirmation, &here, &resend(&sent), &here)
        }
        Err(error) => {
            let (status, errors, notice) = refusal(error)?;
            field_page(&state, &viewer, key, status, Some(sent), errors, Some(notice)).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MoveForm {
    position: String,
}

pub async fn move_field(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: MoveForm = read_form(&viewer, &body)?;
    let key = path.into_inner();
    let position = form.position.trim().parse().map_err(|_| Error::invalid("position", "is not a place"))?;
    let user = viewer.user.clone();
    let changes = FieldChanges { position: Some(position), ..FieldChanges::default() };
    let outcome = state.database.write(move |connection| field::update(connection, &user, &key, changes)).await;
    match outcome {
        Ok(_) => Ok(see_other(&url_with_query("/admin/fields", &[("done", "moved".to_string())]))),
        Err(error) => {
            let (status, errors, notice) = refusal(error)?;
            fields_page(&state, &viewer, status, Sent::default(), errors, Some(notice)).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    confirm: Option<String>,
}

pub async fn delete_field(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: DeleteForm = read_form(&viewer, &body)?;
    let key = path.into_inner();
    let confirmed = is_confirmed(form.confirm.as_deref());
    let (lookup, user) = (key.clone(), viewer.user.clone());
    let (field, items) = state
        .database
        .run(move |connection| {
            let field = field::get(connection, &lookup)?;
            let items = field::items_with_values(connection, field.id)?;
            Ok((field, items))
        })
        .await?;
    if !confirmed {
        let loses = match items {
            0 => "No item holds a value of it.".to_string(),
            1 => "1 item loses its value.".to_string(),
            many => format!("{many} items lose their value."),
        };
        let confirmation = Confirmation {
            title: format!("Delete the field {}?", field.name),
            message: format!("The field and every value of it are deleted. {loses}"),
            button: "Delete the field".into(),
        };
        let here = format!("/admin/fields/{key}/delete");
        return confirm::ask(&viewer, &confirmation, &here, &[], "/admin/fields");
    }
    state.database.write(move |connection| field::delete(connection, &user, &key, true)).await?;
    Ok(see_other(&url_with_query("/admin/fields", &[("done", "deleted".to_string())])))
}

/// Field ids of choices, for the template.
pub fn choice_name(id: &ChoiceId) -> String {
    format!("choice.{id}")
}

/// The retired box of a choice, for the template.
pub fn retired_name(id: &ChoiceId) -> String {
    format!("retired.{id}")
}
