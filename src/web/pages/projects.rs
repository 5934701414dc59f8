//! The projects the user may see (administrators create them here), and a project's
//! settings and members for those who may manage it (managers and administrators; the
//! model decides, the page only asks).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::{Error, FieldError};
use crate::model::ids::TypeId;
use crate::model::membership::{self, Member};
use crate::model::permission::{Permission, Role};
use crate::model::project::types::{self, ProjectTypes};
use crate::model::project::{self, NewProject, Project, ProjectKeyOrId, ProjectUpdate};
use crate::model::user;
use crate::model::workflow::{ItemType, Workflow};
use crate::web::AppState;
use crate::web::pages::error::PageError;
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, render, see_other};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewProjectForm {
    key: String,
    name: String,
    description: String,
    is_public: Option<String>,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    chrome: Chrome,
    is_admin: bool,
    projects: Vec<Project>,
    form: NewProjectForm,
    errors: FieldErrors,
}

async fn projects_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    form: NewProjectForm,
    errors: FieldErrors,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let projects = state.database.run(move |connection| project::list_readable(connection, &user)).await?;
    render(status, &ProjectsPage { chrome: viewer.chrome(), is_admin: viewer.user.is_admin, projects, form, errors })
}

pub async fn list_projects(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    projects_page(&state, &viewer, StatusCode::OK, NewProjectForm::default(), FieldErrors::default()).await
}

pub async fn create_project(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: NewProjectForm = read_form(&viewer, &body)?;
    let new_project = NewProject {
        key: form.key.clone(),
        name: form.name.clone(),
        description: form.description.clone(),
        is_public: form.is_public.is_some(),
    };
    let user = viewer.user.clone();
    match state.database.write(move |connection| project::create(connection, &user, new_project)).await {
        Ok(created) => Ok(see_other(&format!("/projects/{}", created.key))),
        Err(Error::Invalid(field_error)) => {
            projects_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, form, FieldErrors::from(field_error)).await
        }
        Err(Error::Conflict(message)) => {
            let errors = FieldErrors::one("key", message);
            projects_page(&state, &viewer, StatusCode::CONFLICT, form, errors).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "project_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    project: Project,
    members: Vec<Member>,
    roles: [Role; 4],
    /// Every item type, and those the project uses.
    all_types: Vec<ItemType>,
    types: ProjectTypes,
    errors: FieldErrors,
    notice: Option<Notice>,
}

impl SettingsPage {
    fn uses(&self, id: &TypeId) -> bool {
        !self.types.all && self.types.uses(*id)
    }
}

async fn settings_page(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    status: StatusCode,
    errors: FieldErrors,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let (project, members, workflow, types) = state
        .database
        .run(move |connection| {
            let (project, _) = project::get_with(connection, &user, &ProjectKeyOrId::parse(&key), Permission::Manage)?;
            let members = membership::list(connection, &user, &ProjectKeyOrId::parse(&project.key))?;
            let workflow = Workflow::load(connection)?;
            let types = types::of_project(connection, project.id, &workflow)?;
            Ok((project, members, workflow, types))
        })
        .await?;
    render(
        status,
        &SettingsPage {
            chrome: viewer.chrome(),
            project,
            members,
            roles: [Role::Viewer, Role::Reporter, Role::Developer, Role::Manager],
            all_types: workflow.types,
            types,
            errors,
            notice,
        },
    )
}

/// The redirect after a change names what was saved: `?saved=settings|types|members`.
#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn show_settings(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, PageError> {
    let saved = match query.into_inner().saved.as_deref() {
        Some("settings") => Some("The settings were saved."),
        Some("types") => Some("The item types were saved."),
        Some("members") => Some("The members were saved."),
        _ => None,
    };
    let notice = saved.map(|text| Notice { kind: "ok", text: text.into() });
    settings_page(&state, &viewer, path.into_inner(), StatusCode::OK, FieldErrors::default(), notice).await
}

/// Re-renders the settings page with an invalid field marked, or passes other errors on.
async fn settings_failure(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    error: Error,
) -> Result<HttpResponse, PageError> {
    match error {
        Error::Invalid(field_error) => {
            let notice = Notice { kind: "error", text: format!("Not saved: {}", field_error.message) };
            let errors = FieldErrors::from(field_error);
            settings_page(state, viewer, key, StatusCode::UNPROCESSABLE_ENTITY, errors, Some(notice)).await
        }
        other => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    is_public: Option<String>,
}

pub async fn update_settings(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: SettingsForm = read_form(&viewer, &body)?;
    let changes = ProjectUpdate {
        name: Some(form.name),
        description: Some(form.description),
        is_public: Some(form.is_public.is_some()),
    };
    let (user, reference) = (viewer.user.clone(), ProjectKeyOrId::parse(&key));
    match state.database.write(move |connection| project::update(connection, &user, &reference, changes)).await {
        Ok(_) => Ok(see_other(&format!("/projects/{key}/settings?saved=settings"))),
        Err(error) => settings_failure(&state, &viewer, key, error).await,
    }
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    role: String,
}

/// One refusal for an unknown and a deactivated login, naming only what was typed.
fn no_active_user(login: &str) -> Error {
    Error::invalid("login", format!("there is no active user {login:?}"))
}

/// Adds a member or changes a member's role.
pub async fn set_member(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: MemberForm = read_form(&viewer, &body)?;
    let (user, reference) = (viewer.user.clone(), ProjectKeyOrId::parse(&key));
    let login = form.login.trim().to_string();
    let typed = login.clone();
    let outcome = state
        .database
        .write(move |connection| {
            let role = Role::parse(&form.role)?;
            // Only those who may manage members learn whether a login exists.
            project::get_with(connection, &user, &reference, Permission::Manage)?;
            let member = user::find_by_login(connection, &login)?.ok_or_else(|| no_active_user(&login))?;
            membership::set_role(connection, &user, &reference, member.id, role)
        })
        .await;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/projects/{key}/settings?saved=members#members"))),
        Err(Error::Invalid(FieldError { field, .. })) if field == "user_id" => {
            settings_failure(&state, &viewer, key, no_active_user(&typed)).await
        }
        Err(error) => settings_failure(&state, &viewer, key, error).await,
    }
}

#[derive(Deserialize)]
pub struct RemoveMemberForm {
    #[serde(default)]
    user_id: String,
}

pub async fn remove_member(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: RemoveMemberForm = read_form(&viewer, &body)?;
    let member = form.user_id.parse::<i64>().map_err(|_| Error::invalid("user_id", "is not a user id"))?;
    let (user, reference) = (viewer.user.clone(), ProjectKeyOrId::parse(&key));
    state.database.write(move |connection| membership::remove(connection, &user, &reference, member.into())).await?;
    Ok(see_other(&format!("/projects/{key}/settings?saved=members#members")))
}

/// The item types form: `all` (every type, including ones added later) or a `type` checkbox
/// per type used.
pub async fn set_types(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let pairs: Vec<(String, String)> = read_form(&viewer, &body)?;
    let chosen = if pairs.iter().any(|(name, _)| name == "all") {
        Ok(None)
    } else {
        pairs
            .iter()
            .filter(|(name, _)| name == "type")
            .map(|(_, value)| {
                value
                    .parse::<i64>()
                    .map(TypeId)
                    .map_err(|_| Error::invalid("types", format!("{value:?} is not an item type id")))
            })
            .collect::<Result<Vec<TypeId>, Error>>()
            .map(Some)
    };
    let (user, reference) = (viewer.user.clone(), ProjectKeyOrId::parse(&key));
    let outcome = match chosen {
        Ok(chosen) => {
            state.database.write(move |connection| types::set(connection, &user, &reference, chosen.as_deref())).await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/projects/{key}/settings?saved=types#types"))),
        Err(error) => settings_failure(&state, &viewer, key, error).await,
    }
}
