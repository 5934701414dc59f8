//! The workflow, for administrators: add, rename, move and delete item types, statuses and
//! priorities, mark statuses closed, and tick the allowed status moves in a matrix: the global
//! one, or an item type's own (`?type=<id>`; saving a type's matrix gives it its own moves). The
//! model (`workflow::edit`) applies the rules; the page shows its refusals. A successful
//! change redirects back to the page, which names what was done. Deleting an entry that no
//! item uses asks first (one in use is refused by the model, with the reason).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbConnection;
use crate::error::Error;
use crate::model::ids::{StatusId, TypeId};
use crate::model::user::User;
use crate::model::workflow::edit::{self, EntryRef, EntryUpdate, Kind, Matrix, NewEntry};
use crate::model::workflow::{ItemType, Transition, Workflow};
use crate::web::AppState;
use crate::web::error::status_of;
use crate::web::pages::confirm::{self, Confirmation};
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{AdminViewer, Viewer, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, render, see_other, url_with_query};

/// One row of a list on the page.
pub struct EntryRow {
    pub id: i64,
    pub name: String,
    /// The id of its name field.
    pub field: String,
    pub position: i32,
    pub is_first: bool,
    pub is_last: bool,
    /// Statuses only.
    pub is_closed: bool,
    /// How many items use it (such an entry cannot be deleted).
    pub items: i64,
}

/// One of the three lists, as the page shows it.
pub struct ListSection {
    pub segment: &'static str,
    pub title: &'static str,
    pub noun: &'static str,
    pub is_statuses: bool,
    pub rows: Vec<EntryRow>,
    /// The id of the add form's name field.
    pub new_field: String,
}

/// The add form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewEntryForm {
    name: String,
    is_closed: Option<String>,
}

/// A refused change shown again: a name in the field it was typed into (add form or row), with
/// the refusal next to it, or the moves of the matrix that was being saved.
#[derive(Debug, Default)]
struct Attempt {
    field: String,
    name: String,
    /// The item type whose own matrix was being saved (the page shows that matrix again).
    matrix: Option<i64>,
}

fn new_field(kind: Kind) -> String {
    format!("{}-new-name", kind.segment())
}

fn row_field(kind: Kind, id: i64) -> String {
    format!("{}-{id}-name", kind.segment())
}

#[derive(Template)]
#[template(path = "admin/workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    sections: Vec<ListSection>,
    workflow: Workflow,
    /// The matrix shown: the global one, or a type's.
    matrix: Matrix,
    /// Its moves (a type without its own shows the global ones).
    moves: Vec<Transition>,
    initial_status: String,
    attempt: Attempt,
    errors: FieldErrors,
    notice: Option<Notice>,
}

impl WorkflowPage {
    fn allows(&self, from: &StatusId, to: &StatusId) -> bool {
        self.moves.iter().any(|move_| move_.from_status_id == *from && move_.to_status_id == *to)
    }

    fn shows_type(&self, id: &TypeId) -> bool {
        self.matrix == Matrix::Type(*id)
    }

    /// The type whose matrix is shown, if any.
    fn shown_type(&self) -> Option<&ItemType> {
        match self.matrix {
            Matrix::Global => None,
            Matrix::Type(id) => self.workflow.item_type(id).ok(),
        }
    }

    /// The name a field shows: what was typed into it, when that was refused.
    fn typed<'a>(&'a self, field: &str, current: &'a str) -> &'a str {
        if self.attempt.field == field { &self.attempt.name } else { current }
    }
}

const KINDS: [Kind; 3] = [Kind::ItemType, Kind::Status, Kind::Priority];

fn section(workflow: &Workflow, kind: Kind, usage: &[(i64, i64)]) -> ListSection {
    let entries = edit::listing(workflow, kind);
    let count = entries.len();
    let rows = entries
        .into_iter()
        .enumerate()
        .map(|(index, (id, name, position))| EntryRow {
            id,
            name: name.to_string(),
            field: row_field(kind, id),
            position,
            is_first: index == 0,
            is_last: index + 1 == count,
            is_closed: kind == Kind::Status && workflow.status(StatusId(id)).is_ok_and(|status| status.is_closed),
            items: usage.iter().find(|(used, _)| *used == id).map_or(0, |(_, items)| *items),
        })
        .collect();
    let title = match kind {
        Kind::ItemType => "Item types",
        Kind::Status => "Statuses",
        Kind::Priority => "Priorities",
    };
    ListSection {
        segment: kind.segment(),
        title,
        noun: kind.noun(),
        is_statuses: kind == Kind::Status,
        rows,
        new_field: new_field(kind),
    }
}

/// What the page shows besides the workflow.
#[derive(Default)]
struct Shown {
    /// The name that was refused.
    attempt: Attempt,
    errors: FieldErrors,
    notice: Option<Notice>,
    /// The change made just before (the redirect after it).
    done: DoneQuery,
}

async fn workflow_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let (workflow, usages) = state
        .database
        .run(|connection| {
            let workflow = Workflow::load(connection)?;
            let usages =
                KINDS.iter().map(|kind| edit::items_per_entry(connection, *kind)).collect::<Result<Vec<_>, _>>()?;
            Ok((workflow, usages))
        })
        .await?;
    let matrix = match shown.done.matrix {
        Some(id) => {
            workflow.item_type(TypeId(id)).map_err(|_| Error::not_found(format!("item type {id}")))?;
            Matrix::Type(TypeId(id))
        }
        None => Matrix::Global,
    };
    let moves = match matrix {
        Matrix::Global => workflow.transitions.clone(),
        Matrix::Type(id) => workflow.moves_of(id),
    };
    let sections = KINDS.iter().zip(&usages).map(|(kind, usage)| section(&workflow, *kind, usage)).collect();
    let initial_status = workflow.initial_status().map(|status| status.name.clone()).unwrap_or_default();
    let notice = shown.notice.or_else(|| done_notice(&workflow, &shown.done));
    let (attempt, errors) = (shown.attempt, shown.errors);
    let page = WorkflowPage {
        chrome: viewer.chrome(),
        sections,
        workflow,
        matrix,
        moves,
        initial_status,
        attempt,
        errors,
        notice,
    };
    render(status, &page)
}

/// What the redirect after a change names: `?done=created&list=statuses&id=7`.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    list: Option<String>,
    id: Option<i64>,
    /// The item type whose matrix the page shows.
    #[serde(rename = "type")]
    matrix: Option<i64>,
}

/// The message for a change that was made; only fixed texts and names from the database,
/// so a crafted link cannot put words on the page.
fn done_notice(workflow: &Workflow, query: &DoneQuery) -> Option<Notice> {
    let done = query.done.as_deref()?;
    let type_name = || query.matrix.and_then(|id| workflow.item_type(TypeId(id)).ok()).map(|found| found.name.clone());
    match done {
        "moves" => {
            let text = match type_name() {
                Some(name) => format!("The allowed moves of {name} items were saved."),
                None => "The allowed moves were saved.".into(),
            };
            return Some(Notice { kind: "ok", text });
        }
        "global" => {
            let text = format!("{} items follow the global moves again.", type_name()?);
            return Some(Notice { kind: "ok", text });
        }
        _ => {}
    }
    let kind = Kind::from_segment(query.list.as_deref()?)?;
    let verb = match done {
        "created" => "added",
        "saved" => "saved",
        "moved" => "moved",
        "deleted" => return Some(Notice { kind: "ok", text: format!("The {} was deleted.", kind.noun()) }),
        _ => return None,
    };
    let entry = edit::entry_of(workflow, EntryRef::new(kind, query.id?))?;
    Some(Notice { kind: "ok", text: format!("The {} {} was {verb}.", kind.noun(), entry.name()) })
}

pub async fn show_workflow(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    workflow_page(&state, &viewer, StatusCode::OK, Shown { done: query.into_inner(), ..Shown::default() }).await
}

fn done_url(done: &str, kind: Kind, id: Option<i64>) -> String {
    let mut parameters = vec![("done", done.to_string()), ("list", kind.segment().to_string())];
    if let Some(id) = id {
        parameters.push(("id", id.to_string()));
    }
    url_with_query("/admin/workflow", &parameters)
}

/// Shows the page again with the model's refusal: the message on top, and next to the name
/// field when a name was sent.
async fn refused(state: &AppState, viewer: &Viewer, error: Error, attempt: Attempt) -> Result<HttpResponse, PageError> {
    let status = match &error {
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) | Error::NotFound(_) => status_of(&error),
        _ => return Err(error.into()),
    };
    let message = match &error {
        Error::Invalid(field_error) => field_error.message.clone(),
        other => other.message(),
    };
    let errors = if attempt.field.is_empty() {
        FieldErrors::default()
    } else {
        FieldErrors::one(&attempt.field, message.clone())
    };
    let notice = Notice { kind: "error", text: format!("Not changed: {message}") };
    let done = DoneQuery { matrix: attempt.matrix, ..DoneQuery::default() };
    workflow_page(state, viewer, status, Shown { attempt, errors, notice: Some(notice), done }).await
}

/// Makes a change as the viewer: on success, redirects to the page naming what was done; on
/// a refusal, shows the page with it (and the `attempt`ed name in its field).
async fn change<T: Send + 'static>(
    state: &AppState,
    viewer: &Viewer,
    attempt: Attempt,
    work: impl FnOnce(&mut DbConnection, &User) -> Result<T, Error> + Send + 'static,
    done: impl FnOnce(&T) -> String,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    match state.database.write(move |connection| work(connection, &user)).await {
        Ok(value) => Ok(see_other(&done(&value))),
        Err(error) => refused(state, viewer, error, attempt).await,
    }
}

pub async fn create_entry(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: NewEntryForm = read_form(&viewer, &body)?;
    let kind = Kind::parse(&path.into_inner())?;
    let attempt = Attempt { field: new_field(kind), name: form.name.clone(), matrix: None };
    let new_entry = NewEntry { name: form.name, is_closed: (kind == Kind::Status).then_some(form.is_closed.is_some()) };
    let work = move |connection: &mut DbConnection, user: &User| edit::create(connection, user, kind, new_entry);
    change(&state, &viewer, attempt, work, |created| done_url("created", kind, Some(created.id()))).await
}

/// A row's form sends `name` (and, for statuses, the `is_closed` checkbox, absent when not
/// ticked); a move button sends only `position`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EntryForm {
    name: Option<String>,
    position: Option<String>,
    is_closed: Option<String>,
}

pub async fn update_entry(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: EntryForm = read_form(&viewer, &body)?;
    let (segment, id) = path.into_inner();
    let kind = Kind::parse(&segment)?;
    let position = match form.position.as_deref().map(str::parse::<i32>).transpose() {
        Ok(position) => position,
        Err(_) => {
            let error = Error::invalid("position", "must be a whole number");
            return refused(&state, &viewer, error, Attempt::default()).await;
        }
    };
    let is_row_form = form.name.is_some();
    let attempt = Attempt { field: row_field(kind, id), name: form.name.clone().unwrap_or_default(), matrix: None };
    let changes = EntryUpdate {
        name: form.name,
        position,
        is_closed: (is_row_form && kind == Kind::Status).then_some(form.is_closed.is_some()),
    };
    let done = if is_row_form { "saved" } else { "moved" };
    let entry = EntryRef::new(kind, id);
    let work = move |connection: &mut DbConnection, user: &User| edit::update(connection, user, entry, changes);
    change(&state, &viewer, attempt, work, |updated| done_url(done, kind, Some(updated.id()))).await
}

/// Asked before an entry is deleted.
pub fn deletion(noun: &str, name: &str) -> Confirmation {
    let moves = if noun == "status" { ", with the moves to and from it" } else { "" };
    Confirmation {
        title: format!("Delete the {noun} {name}?"),
        message: format!(
            "No item uses it. It is removed from the workflow of every project{moves}; adding one with the same \
             name later makes a new entry."
        ),
        button: format!("Delete {name}"),
    }
}

/// The delete buttons send their CSRF token, and `confirm=yes` once the user agreed.
#[derive(Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
}

pub async fn delete_entry(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: DeleteForm = read_form(&viewer, &body)?;
    let (segment, id) = path.into_inner();
    let kind = Kind::parse(&segment)?;
    let entry = EntryRef::new(kind, id);
    if !confirm::is_confirmed(form.confirm.as_deref()) {
        let (workflow, usage) = state
            .database
            .run(move |connection| Ok((Workflow::load(connection)?, edit::items_per_entry(connection, kind)?)))
            .await?;
        let in_use = usage.iter().any(|(used, items)| *used == id && *items > 0);
        // An unknown entry or one in use goes on to the model, which refuses it with the reason.
        if let Some(found) = edit::entry_of(&workflow, entry).filter(|_| !in_use) {
            let action = format!("/admin/workflow/{}/{id}/delete", kind.segment());
            let cancel = format!("/admin/workflow#{}", kind.segment());
            return confirm::ask(&viewer, &deletion(kind.noun(), found.name()), &action, &[], &cancel);
        }
    }
    let work = move |connection: &mut DbConnection, user: &User| edit::delete(connection, user, entry);
    change(&state, &viewer, Attempt::default(), work, |()| done_url("deleted", kind, None)).await
}

fn status_id(field: &str, text: &str) -> Result<StatusId, Error> {
    text.parse::<i64>().map(StatusId).map_err(|_| Error::invalid(field, format!("{text:?} is not a status id")))
}

/// The matrix: a hidden `status` field per status shown, and a `move` checkbox `from-to`
/// for every allowed move.
fn parse_matrix(pairs: &[(String, String)]) -> Result<(Vec<StatusId>, Vec<Transition>), Error> {
    let mut shown = Vec::new();
    let mut allowed = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "status" => shown.push(status_id("status", value)?),
            "move" => {
                let (from, to) = value
                    .split_once('-')
                    .ok_or_else(|| Error::invalid("move", format!("{value:?} is not a move like 1-2")))?;
                allowed.push(Transition {
                    from_status_id: status_id("move", from)?,
                    to_status_id: status_id("move", to)?,
                });
            }
            _ => {}
        }
    }
    Ok((shown, allowed))
}

/// The matrix form names whose moves it shows (`matrix`: empty for the global ones, else a
/// type id); its second button (`follow_global`) returns that type to the global moves.
pub async fn save_transitions(
    state: web::Data<AppState>,
    viewer: AdminViewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let pairs: Vec<(String, String)> = read_form(&viewer, &body)?;
    let parsed = parse_matrix(&pairs).and_then(|(shown, allowed)| Ok((matrix_of(&pairs)?, shown, allowed)));
    let (matrix, shown, allowed) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return refused(&state, &viewer, error, Attempt::default()).await,
    };
    let done_url = |done: &str| match matrix {
        Matrix::Global => format!("/admin/workflow?done={done}#moves"),
        Matrix::Type(id) => format!("/admin/workflow?done={done}&type={id}#moves"),
    };
    let attempt = Attempt {
        matrix: match matrix {
            Matrix::Global => None,
            Matrix::Type(id) => Some(id.0),
        },
        ..Attempt::default()
    };
    match (matrix, pairs.iter().any(|(name, _)| name == "follow_global")) {
        (Matrix::Type(type_id), true) => {
            let work =
                move |connection: &mut DbConnection, user: &User| edit::follow_global_moves(connection, user, type_id);
            change(&state, &viewer, attempt, work, |_| done_url("global")).await
        }
        _ => {
            let work = move |connection: &mut DbConnection, user: &User| {
                edit::set_moves_among(connection, user, matrix, &shown, &allowed)
            };
            change(&state, &viewer, attempt, work, |_| done_url("moves")).await
        }
    }
}

fn matrix_of(pairs: &[(String, String)]) -> Result<Matrix, Error> {
    match pairs.iter().find(|(name, _)| name == "matrix").map(|(_, value)| value.trim()) {
        None | Some("") => Ok(Matrix::Global),
        Some(text) => text
            .parse::<i64>()
            .map(|id| Matrix::Type(TypeId(id)))
            .map_err(|_| Error::invalid("matrix", format!("{text:?} is not an item type id"))),
    }
}
