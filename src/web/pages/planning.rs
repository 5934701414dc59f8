//! A project's planning settings — its versions, labels and components — for its managers
//! (the model decides; the page only asks). Closing a version with open items asks what
//! becomes of them before anything is stored; deleting one asks first (the page script's
//! dialog, or the confirmation page without it).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbConnection;
use crate::error::Error;
use crate::model::component::{self, Component, ComponentChanges, NewComponent};
use crate::model::ids::{ComponentId, LabelId, UserId, VersionId};
use crate::model::label::{self, LabelChanges, LabelRef};
use crate::model::membership::{self, Member};
use crate::model::permission::Permission;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::version::{self, NewVersion, OpenItems, Version, VersionChanges, VersionStatus};
use crate::web::AppState;
use crate::web::pages::confirm::{self, Confirmation, is_confirmed};
use crate::web::pages::error::PageError;
use crate::web::pages::items::parse_date;
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, render, see_other};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VersionForm {
    name: String,
    description: String,
    due_date: String,
    status: String,
    shared: Option<String>,
    /// When it closes with open items: `keep`, or the id of the version they move to.
    open_items: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LabelForm {
    name: String,
    color: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ComponentForm {
    name: String,
    description: String,
    /// A member's user id, or empty for none.
    default_assignee: String,
}

/// The question asked before a version with open items closes.
struct Closing {
    version: Version,
    /// What the manager sent, to send again with the answer.
    form: VersionForm,
    /// How many of its items are open.
    open: i64,
    /// Open versions the items may move to.
    targets: Vec<Version>,
}

#[derive(Template)]
#[template(path = "planning.html")]
struct PlanningPage {
    chrome: Chrome,
    project: Project,
    /// The project's own versions (shared ones of other projects are theirs to manage).
    versions: Vec<Version>,
    labels: Vec<LabelRef>,
    components: Vec<Component>,
    members: Vec<Member>,
    statuses: [VersionStatus; 3],
    /// Which create form the errors belong to: `version`, `label` or `component`.
    errors_for: &'static str,
    errors: FieldErrors,
    /// What the failed create form held, shown back.
    version_form: VersionForm,
    label_form: LabelForm,
    component_form: ComponentForm,
    notice: Option<Notice>,
    closing: Option<Closing>,
}

impl PlanningPage {
    fn error(&self, form: &str, field: &str) -> Option<&str> {
        if self.errors_for == form { self.errors.get(field) } else { None }
    }

    fn is_default_assignee(&self, component: &Component, member: &Member) -> bool {
        component.default_assignee.as_ref().is_some_and(|person| person.id == member.user.id)
    }

    fn deletion(&self, kind: Kind, name: &str) -> Confirmation {
        deletion(kind, name)
    }
}

/// What the planning page keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Version,
    Label,
    Component,
}

/// What is asked before one is deleted, in the page's dialog and on the confirmation page.
fn deletion(kind: Kind, name: &str) -> Confirmation {
    let (noun, what_happens) = match kind {
        Kind::Version => ("version", "Only a version that no item targets can be deleted."),
        Kind::Label => ("label", "It is taken off every item that carries it."),
        Kind::Component => ("component", "Its items keep no component."),
    };
    Confirmation { title: format!("Delete {noun} {name}?"), message: what_happens.into(), button: "Delete".into() }
}

/// How the page is shown after a refusal or a question; the default is a plain view.
#[derive(Default)]
struct Shown {
    status: Option<StatusCode>,
    errors_for: &'static str,
    errors: FieldErrors,
    version_form: VersionForm,
    label_form: LabelForm,
    component_form: ComponentForm,
    notice: Option<Notice>,
    closing: Option<(VersionId, VersionForm, i64)>,
}

async fn planning_page(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let closing_asked = shown.closing.as_ref().map(|(id, ..)| *id);
    let (project, versions, labels, components, members) = state
        .database
        .run(move |connection| {
            let reference = ProjectKeyOrId::parse(&key);
            let (project, _) = project::get_with(connection, &user, &reference, Permission::Manage)?;
            let versions: Vec<Version> = version::of_project(connection, project.id)?
                .into_iter()
                .filter(|version| version.project.id == project.id || Some(version.id) == closing_asked)
                .collect();
            let labels = label::of_project(connection, project.id)?;
            let components = component::of_project(connection, project.id)?;
            let members = membership::of_project(connection, project.id)?;
            Ok((project, versions, labels, components, members))
        })
        .await?;
    let closing = match shown.closing {
        Some((id, form, open)) => versions.iter().find(|version| version.id == id).map(|closing| Closing {
            version: closing.clone(),
            form,
            open,
            targets: versions
                .iter()
                .filter(|version| version.id != id && version.status == VersionStatus::Open)
                .cloned()
                .collect(),
        }),
        None => None,
    };
    render(
        shown.status.unwrap_or(StatusCode::OK),
        &PlanningPage {
            chrome: viewer.chrome(),
            project,
            versions,
            labels,
            components,
            members,
            statuses: VersionStatus::ALL,
            errors_for: shown.errors_for,
            errors: shown.errors,
            version_form: shown.version_form,
            label_form: shown.label_form,
            component_form: shown.component_form,
            notice: shown.notice,
            closing,
        },
    )
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn show_planning(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, PageError> {
    let text = match query.into_inner().saved.as_deref() {
        Some("version") => Some("The version was saved."),
        Some("version-deleted") => Some("The version was deleted."),
        Some("label") => Some("The label was saved."),
        Some("label-deleted") => Some("The label was deleted and taken off its items."),
        Some("component") => Some("The component was saved."),
        Some("component-deleted") => Some("The component was deleted; its items have none now."),
        _ => None,
    };
    let notice = text.map(|text| Notice { kind: "ok", text: text.into() });
    planning_page(&state, &viewer, path.into_inner(), Shown { notice, ..Shown::default() }).await
}

/// After a change: back to the page, saying what was saved.
fn saved(key: &str, what: &str, anchor: &str) -> HttpResponse {
    see_other(&format!("/projects/{key}/planning?saved={what}#{anchor}"))
}

/// A refused change re-renders the page with the reason; other errors pass on.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    error: Error,
    mut shown: Shown,
) -> Result<HttpResponse, PageError> {
    let (status, message) = match error {
        Error::Invalid(field_error) => {
            let message = field_error.message.clone();
            shown.errors = FieldErrors::from(field_error);
            (StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        Error::Conflict(message) => (StatusCode::CONFLICT, message),
        other => return Err(other.into()),
    };
    shown.status = Some(status);
    shown.notice = Some(Notice { kind: "error", text: format!("Not saved: {message}") });
    planning_page(state, viewer, key, shown).await
}

/// The answer to a change: the page again saying what was saved (at `anchor`), or showing
/// the refusal (with what `shown` keeps of the form).
async fn answer<T>(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    outcome: Result<T, Error>,
    (what, anchor): (&str, &str),
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(_) => Ok(saved(&key, what, anchor)),
        Err(error) => refused(state, viewer, key, error, shown).await,
    }
}

/// A delete button's form: besides its CSRF token only the confirmation (`confirm=yes`).
#[derive(Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
}

/// Deleting without the confirmation (a form sent without the page script's dialog) answers
/// with the confirmation page, naming what goes (`name` reads it, as the actor may see it).
async fn ask_first(
    state: &AppState,
    viewer: &Viewer,
    body: &[u8],
    (key, kind, action): (&str, Kind, String),
    name: impl FnMut(&mut DbConnection) -> crate::error::Result<String> + Send + 'static,
) -> Result<Option<HttpResponse>, PageError> {
    let form: DeleteForm = read_form(viewer, body)?;
    if is_confirmed(form.confirm.as_deref()) {
        return Ok(None);
    }
    let name = state.database.run(name).await?;
    let anchor = match kind {
        Kind::Version => "versions",
        Kind::Label => "labels",
        Kind::Component => "components",
    };
    let back = format!("/projects/{key}/planning#{anchor}");
    confirm::ask(viewer, &deletion(kind, &name), &action, &[], &back).map(Some)
}

fn parse_id<T: From<i64>>(field: &str, text: &str) -> Result<Option<T>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>().map(|id| Some(T::from(id))).map_err(|_| Error::invalid(field, format!("{text:?} is not an id")))
}

pub async fn create_version(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: VersionForm = read_form(&viewer, &body)?;
    let (user, reference, sent) = (viewer.user.clone(), ProjectKeyOrId::parse(&key), form.clone());
    let outcome = match parse_date("due_date", &form.due_date) {
        Ok(due_date) => {
            let new_version = NewVersion {
                name: form.name,
                description: form.description,
                due_date,
                status: Some(form.status).filter(|status| !status.is_empty()),
                shared: form.shared.is_some(),
            };
            state.database.write(move |connection| version::create(connection, &user, &reference, new_version)).await
        }
        Err(error) => Err(error),
    };
    let shown = Shown { errors_for: "version", version_form: sent, ..Shown::default() };
    answer(&state, &viewer, key, outcome, ("version", "versions"), shown).await
}

pub async fn update_version(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, VersionId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let form: VersionForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    if form.status == VersionStatus::Closed.as_str() && form.open_items.trim().is_empty() {
        let asker = user.clone();
        let open = state.database.run(move |connection| version::open_items(connection, &asker, id)).await?;
        if open > 0 {
            let shown = Shown { closing: Some((id, form, open)), ..Shown::default() };
            return planning_page(&state, &viewer, key, shown).await;
        }
    }
    let changes = (|| {
        let open_items = match form.open_items.trim() {
            "" => None,
            "keep" => Some(OpenItems::Keep),
            other => parse_id::<VersionId>("open_items", other)?.map(OpenItems::MoveTo),
        };
        Ok::<_, Error>(VersionChanges {
            name: Some(form.name.clone()),
            description: Some(form.description.clone()),
            due_date: Some(parse_date("due_date", &form.due_date)?),
            status: Some(form.status.clone()),
            shared: Some(form.shared.is_some()),
            open_items,
        })
    })();
    let outcome = match changes {
        Ok(changes) => state.database.write(move |connection| version::update(connection, &user, id, changes)).await,
        Err(error) => Err(error),
    };
    answer(&state, &viewer, key, outcome, ("version", &format!("version-{id}")), Shown::default()).await
}

pub async fn delete_version(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, VersionId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let (user, action) = (viewer.user.clone(), format!("/projects/{key}/versions/{id}/delete"));
    let name = move |connection: &mut DbConnection| Ok(version::get(connection, &user, id)?.name);
    if let Some(asked) = ask_first(&state, &viewer, &body, (&key, Kind::Version, action), name).await? {
        return Ok(asked);
    }
    let user = viewer.user.clone();
    let outcome = state.database.write(move |connection| version::delete(connection, &user, id)).await;
    answer(&state, &viewer, key, outcome, ("version-deleted", "versions"), Shown::default()).await
}

pub async fn create_label(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: LabelForm = read_form(&viewer, &body)?;
    let (user, reference, sent) = (viewer.user.clone(), ProjectKeyOrId::parse(&key), form.clone());
    let outcome = state
        .database
        .write(move |connection| label::create(connection, &user, &reference, &form.name, &form.color))
        .await;
    let shown = Shown { errors_for: "label", label_form: sent, ..Shown::default() };
    answer(&state, &viewer, key, outcome, ("label", "labels"), shown).await
}

pub async fn update_label(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, LabelId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let form: LabelForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    let changes = LabelChanges { name: Some(form.name), color: Some(form.color) };
    let outcome = state.database.write(move |connection| label::update(connection, &user, id, changes)).await;
    answer(&state, &viewer, key, outcome, ("label", &format!("label-{id}")), Shown::default()).await
}

pub async fn delete_label(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, LabelId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let (user, action) = (viewer.user.clone(), format!("/projects/{key}/labels/{id}/delete"));
    let name = move |connection: &mut DbConnection| Ok(label::get(connection, &user, id)?.name);
    if let Some(asked) = ask_first(&state, &viewer, &body, (&key, Kind::Label, action), name).await? {
        return Ok(asked);
    }
    let user = viewer.user.clone();
    let outcome = state.database.write(move |connection| label::delete(connection, &user, id)).await;
    answer(&state, &viewer, key, outcome, ("label-deleted", "labels"), Shown::default()).await
}

pub async fn create_component(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: ComponentForm = read_form(&viewer, &body)?;
    let (user, reference, sent) = (viewer.user.clone(), ProjectKeyOrId::parse(&key), form.clone());
    let outcome = match parse_id::<UserId>("default_assignee", &form.default_assignee) {
        Ok(default_assignee) => {
            let new_component = NewComponent { name: form.name, description: form.description, default_assignee };
            state
                .database
                .write(move |connection| component::create(connection, &user, &reference, new_component))
                .await
        }
        Err(error) => Err(error),
    };
    let shown = Shown { errors_for: "component", component_form: sent, ..Shown::default() };
    answer(&state, &viewer, key, outcome, ("component", "components"), shown).await
}

pub async fn update_component(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, ComponentId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let form: ComponentForm = read_form(&viewer, &body)?;
    let user = viewer.user.clone();
    let outcome = match parse_id::<UserId>("default_assignee", &form.default_assignee) {
        Ok(default_assignee) => {
            let changes = ComponentChanges {
                name: Some(form.name),
                description: Some(form.description),
                default_assignee: Some(default_assignee),
            };
            state.database.write(move |connection| component::update(connection, &user, id, changes)).await
        }
        Err(error) => Err(error),
    };
    answer(&state, &viewer, key, outcome, ("component", &format!("component-{id}")), Shown::default()).await
}

pub async fn delete_component(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, ComponentId)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let (user, action) = (viewer.user.clone(), format!("/projects/{key}/components/{id}/delete"));
    let name = move |connection: &mut DbConnection| Ok(component::get(connection, &user, id)?.name);
    if let Some(asked) = ask_first(&state, &viewer, &body, (&key, Kind::Component, action), name).await? {
        return Ok(asked);
    }
    let user = viewer.user.clone();
    let outcome = state.database.write(move |connection| component::delete(connection, &user, id)).await;
    answer(&state, &viewer, key, outcome, ("component-deleted", "components"), Shown::default()).await
}
