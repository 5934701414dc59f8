//! The projects the user may see (administrators create them here), and a project's
//! settings and members for those who may manage it (managers and administrators; the
//! model decides, the page only asks).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbConnection;
use crate::error::{Error, FieldError};
use crate::model::ids::{ProjectId, TypeId};
use crate::model::membership::{self, Member};
use crate::model::permission::{Permission, Role};
use crate::model::project::types::{self, ProjectTypes};
use crate::model::project::{self, NewProject, Project, ProjectKeyOrId, ProjectUpdate};
use crate::model::user::{self, UserSummary};
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
    /// The projects whose settings the viewer may change.
    managed: Vec<ProjectId>,
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
    let (projects, managed) = state
        .database
        .run(move |connection| {
            let readable = project::list_readable(connection, &user)?;
            let managed = project::allowing(connection, &user, &readable, Permission::Manage)?;
            Ok((readable, managed))
        })
        .await?;
    let page =
        ProjectsPage { chrome: viewer.chrome(), is_admin: viewer.user.is_admin, projects, managed, form, errors };
    render(status, &page)
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
        Ok(created) => Ok(see_other(&format!("/projects/{}?created=project", created.key))),
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
    adding: Adding,
}

/// The add-a-member form as sent, when it is shown again: refused, or naming several people.
#[derive(Default)]
struct Adding {
    person: String,
    role: String,
    /// The people the text matches, when more than one does (at most `CANDIDATES`).
    candidates: Vec<UserSummary>,
    /// More than `CANDIDATES` match.
    more: bool,
}

/// How many of the people a text matches are offered to choose from.
const CANDIDATES: usize = 10;

impl ProjectsPage {
    fn manages(&self, project: &ProjectId) -> bool {
        self.managed.contains(project)
    }
}

impl SettingsPage {
    /// The role the add form offers first: the one sent, else developer (most members work
    /// on items).
    fn offered_role(&self) -> &str {
        if self.adding.role.is_empty() { Role::Developer.as_str() } else { &self.adding.role }
    }

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
    adding: Adding,
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
            adding,
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
    let key = path.into_inner();
    settings_page(&state, &viewer, key, StatusCode::OK, FieldErrors::default(), notice, Adding::default()).await
}

/// Re-renders the settings page with an invalid field marked, or passes other errors on.
async fn settings_failure(
    state: &AppState,
    viewer: &Viewer,
    key: String,
    error: Error,
    adding: Adding,
) -> Result<HttpResponse, PageError> {
    match error {
        Error::Invalid(field_error) => {
            let notice = Notice { kind: "error", text: format!("Not saved: {}", field_error.message) };
            let errors = FieldErrors::from(field_error);
            settings_page(state, viewer, key, StatusCode::UNPROCESSABLE_ENTITY, errors, Some(notice), adding).await
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
        Err(error) => settings_failure(&state, &viewer, key, error, Adding::default()).await,
    }
}

/// A member's role changed (`login`, exact), or someone added (`person`: a login, an e-mail
/// address, or part of a name, login or address).
#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    role: String,
}

/// One refusal for an unknown and a deactivated login, naming only what was typed.
fn no_active_user(login: &str) -> Error {
    Error::invalid("login", format!("there is no active user {login:?}"))
}

/// The active people a text names: the account with that login or e-mail address, else those
/// whose login, name or address holds it (one more than `CANDIDATES`, to tell there are more).
fn people_named(connection: &mut DbConnection, text: &str) -> Result<Vec<UserSummary>, Error> {
    if text.is_empty() {
        return Err(Error::invalid("person", "type a login, an e-mail address or a name"));
    }
    let exact = match user::find_by_login(connection, text)? {
        Some(found) => Some(found),
        None => user::find_by_email(connection, text)?,
    };
    if let Some(found) = exact.filter(|found| found.active) {
        return Ok(vec![UserSummary { id: found.id, login: found.login, name: found.name }]);
    }
    let matching = user::matching(connection, text, CANDIDATES as i64 + 1)?;
    if matching.is_empty() {
        return Err(Error::invalid(
            "person",
            format!("no active user matches {text:?}: type a login, an e-mail address or part of a name"),
        ));
    }
    Ok(matching)
}

/// Adds a member or changes a member's role. Someone looked for by part of a name who is
/// one of several is chosen from a list of them.
pub async fn set_member(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let form: MemberForm = read_form(&viewer, &body)?;
    let (user, reference) = (viewer.user.clone(), ProjectKeyOrId::parse(&key));
    let (login, person, role) = (form.login.trim().to_string(), form.person.trim().to_string(), form.role.clone());
    let typed = login.clone();
    let looked_for = person.clone();
    let outcome = state
        .database
        .write(move |connection| {
            let role = Role::parse(&role)?;
            // Only those who may manage members learn whether someone exists.
            project::get_with(connection, &user, &reference, Permission::Manage)?;
            let found = if login.is_empty() {
                people_named(connection, &person)?
            } else {
                let member = user::find_by_login(connection, &login)?.ok_or_else(|| no_active_user(&login))?;
                vec![UserSummary { id: member.id, login: member.login, name: member.name }]
            };
            match found.as_slice() {
                [one] => membership::set_role(connection, &user, &reference, one.id, role).map(|_| Vec::new()),
                _ => Ok(found),
            }
        })
        .await;
    let adding = |candidates: Vec<UserSummary>| Adding {
        person: looked_for.clone(),
        role: form.role.clone(),
        more: candidates.len() > CANDIDATES,
        candidates: candidates.into_iter().take(CANDIDATES).collect(),
    };
    match outcome {
        Ok(candidates) if candidates.is_empty() => {
            Ok(see_other(&format!("/projects/{key}/settings?saved=members#members")))
        }
        Ok(candidates) => {
            let count = if candidates.len() > CANDIDATES {
                format!("More than {CANDIDATES}")
            } else {
                candidates.len().to_string()
            };
            let notice =
                Notice { kind: "warn", text: format!("{count} people match {looked_for:?}: choose one below.") };
            let page = adding(candidates);
            settings_page(&state, &viewer, key, StatusCode::OK, FieldErrors::default(), Some(notice), page).await
        }
        Err(Error::Invalid(FieldError { field, .. })) if field == "user_id" => {
            settings_failure(&state, &viewer, key, no_active_user(&typed), adding(Vec::new())).await
        }
        Err(error) => settings_failure(&state, &viewer, key, error, adding(Vec::new())).await,
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
        Err(error) => settings_failure(&state, &viewer, key, error, Adding::default()).await,
    }
}
