//! The item list (filters, sortable columns, pages; all of it in the URL so a view can be
//! bookmarked and shared), the project page built on it, and the new-item form. The list
//! shows open items unless the URL asks for `state=closed` or `state=all`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::Error;
use crate::model::ids::{PriorityId, StatusId, TypeId, UserId};
use crate::model::item::listing::{AssigneeFilter, ItemFilter, ItemPage, OpenState, SortField};
use crate::model::item::{self, NewItem};
use crate::model::membership::{self, Member};
use crate::model::permission::Permission;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::user::User;
use crate::model::workflow::Workflow;
use crate::web::AppState;
use crate::web::pages::badges::Badges;
use crate::web::pages::error::PageError;
use crate::web::pages::markdown::to_safe_html;
use crate::web::pages::viewer::{Viewer, read_form};
use crate::web::pages::{Chrome, FieldErrors, page, render, see_other, url_with_query};

const PAGE_SIZE: i64 = 25;

/// The list's URL parameters, kept as typed so the form shows them back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub project: String,
    pub status: String,
    /// `open` (also when empty), `closed` or `all`.
    pub state: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub priority: String,
    /// A user id, `me` or `none`.
    pub assignee: String,
    /// A user id or `me`.
    pub reporter: String,
    pub text: String,
    /// A column, `-column` for descending.
    pub sort: String,
    pub page: String,
}

impl ListQuery {
    fn parameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("project", self.project.clone()),
            ("status", self.status.clone()),
            ("state", self.state.clone()),
            ("type", self.item_type.clone()),
            ("priority", self.priority.clone()),
            ("assignee", self.assignee.clone()),
            ("reporter", self.reporter.clone()),
            ("text", self.text.clone()),
            ("sort", self.sort.clone()),
            ("page", self.page.clone()),
        ]
    }

    fn url(&self, path: &str) -> String {
        url_with_query(path, &self.parameters())
    }

    /// Whether anything narrows the list besides open/closed.
    fn is_filtered(&self) -> bool {
        [&self.status, &self.item_type, &self.priority, &self.assignee, &self.reporter, &self.project]
            .iter()
            .any(|value| !value.is_empty())
            || !self.text.trim().is_empty()
    }

    fn page_number(&self) -> Result<i64, Error> {
        if self.page.is_empty() {
            return Ok(1);
        }
        self.page
            .parse::<i64>()
            .ok()
            .filter(|page| *page >= 1 && *page <= i64::MAX / PAGE_SIZE)
            .ok_or_else(|| Error::invalid("page", "must be a page number from 1"))
    }
}

fn parse_id(field: &str, value: &str) -> Result<Option<i64>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| Error::invalid(field, format!("{value:?} is not a number")))
}

fn parse_person(field: &str, value: &str, viewer: &User) -> Result<Option<UserId>, Error> {
    match value {
        "" => Ok(None),
        "me" => Ok(Some(viewer.id)),
        other => parse_id(field, other).map(|id| id.map(UserId)),
    }
}

fn parse_sort(text: &str) -> Result<(SortField, bool), Error> {
    let (name, descending) = match text.strip_prefix('-') {
        Some(name) => (name, true),
        None => (text, false),
    };
    let field = match name {
        "" => return Ok((SortField::Updated, true)),
        "id" => SortField::Id,
        "created" => SortField::Created,
        "updated" => SortField::Updated,
        "title" => SortField::Title,
        "priority" => SortField::Priority,
        "status" => SortField::Status,
        "due" => SortField::Due,
        other => return Err(Error::invalid("sort", format!("cannot sort by {other:?}"))),
    };
    Ok((field, descending))
}

fn build_filter(query: &ListQuery, project: Option<&str>, viewer: &User) -> Result<ItemFilter, Error> {
    let assignee = match query.assignee.as_str() {
        "" => None,
        "none" => Some(AssigneeFilter::Nobody),
        other => parse_person("assignee", other, viewer)?.map(AssigneeFilter::User),
    };
    let state = match query.state.as_str() {
        "" | "open" => OpenState::Open,
        "all" => OpenState::All,
        "closed" => OpenState::Closed,
        other => return Err(Error::invalid("state", format!("{other:?} is not all, open or closed"))),
    };
    let (sort, descending) = parse_sort(&query.sort)?;
    let page = query.page_number()?;
    let text = query.text.trim();
    Ok(ItemFilter {
        project: project
            .map(str::to_string)
            .or_else(|| Some(query.project.clone()).filter(|key| !key.is_empty()))
            .map(|key| ProjectKeyOrId::parse(&key)),
        status: parse_id("status", &query.status)?.map(StatusId),
        item_type: parse_id("type", &query.item_type)?.map(TypeId),
        priority: parse_id("priority", &query.priority)?.map(PriorityId),
        assignee,
        reporter: parse_person("reporter", &query.reporter, viewer)?,
        text: (!text.is_empty()).then(|| text.to_string()),
        state,
        sort,
        descending,
        limit: Some(PAGE_SIZE),
        offset: Some((page - 1) * PAGE_SIZE),
    })
}

/// A sortable column header: clicking sorts by it, clicking again reverses.
pub struct SortColumn {
    pub label: &'static str,
    /// The sort key, also the header's class.
    pub key: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub order: &'static str,
}

/// The columns in page order, and whether the first click sorts descending: the newest
/// items, the most urgent priority and the latest change first; titles A to Z, statuses in
/// workflow order and the soonest due date first.
const COLUMNS: [(&str, &str, bool); 6] = [
    ("#", "id", true),
    ("Title", "title", false),
    ("Status", "status", false),
    ("Priority", "priority", true),
    ("Due", "due", false),
    ("Updated", "updated", true),
];

fn sort_columns(query: &ListQuery, path: &str) -> Vec<SortColumn> {
    let current = if query.sort.is_empty() { "-updated" } else { query.sort.as_str() };
    COLUMNS
        .into_iter()
        .map(|(label, key, descending_first)| {
            let descending_key = format!("-{key}");
            let (order, next) = if current == key {
                ("ascending", descending_key)
            } else if current == descending_key {
                ("descending", key.to_string())
            } else if descending_first {
                ("none", descending_key)
            } else {
                ("none", key.to_string())
            };
            let href = ListQuery { sort: next, page: String::new(), ..query.clone() }.url(path);
            SortColumn { label, key, href, order }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "items.html")]
struct ItemListPage {
    chrome: Chrome,
    /// The project of a project page.
    project: Option<Project>,
    project_description_html: String,
    members: Vec<Member>,
    path: String,
    query: ListQuery,
    projects: Vec<Project>,
    workflow: Workflow,
    badges: Badges,
    results: ItemPage,
    columns: Vec<SortColumn>,
    /// "open ", "closed " or "" (all), to say which items are counted.
    state_label: &'static str,
    /// Narrowed by more than open/closed (the empty list then offers to clear the filters).
    filtered: bool,
    /// The same list with open and closed items.
    all_states_href: String,
    first_page_href: String,
    page_number: i64,
    page_count: i64,
    previous_href: Option<String>,
    next_href: Option<String>,
}

async fn show_list(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: ListQuery,
    project_key: Option<String>,
) -> Result<HttpResponse, PageError> {
    let filter = build_filter(&query, project_key.as_deref(), &viewer.user)?;
    let open_state = filter.state;
    let user = viewer.user.clone();
    let (project, members, projects, workflow, results) = state
        .database
        .run(move |connection| {
            let project = match &filter.project {
                Some(key) => Some(project::get_with(connection, &user, key, Permission::View)?.0),
                None => None,
            };
            let members = match &project {
                Some(project) => membership::list(connection, &user, &ProjectKeyOrId::parse(&project.key))?,
                None => Vec::new(),
            };
            let projects = project::list_readable(connection, &user)?;
            let workflow = Workflow::load(connection)?;
            let results = item::listing::list(connection, &user, &filter)?;
            Ok((project, members, projects, workflow, results))
        })
        .await?;
    let path = match &project_key {
        Some(key) => format!("/projects/{key}"),
        None => "/items".to_string(),
    };
    let page_number = query.page_number()?;
    let page_count = ((results.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page_href = |number: i64| ListQuery { page: number.to_string(), ..query.clone() }.url(&path);
    let is_project_page = project_key.is_some();
    let state_label = match open_state {
        OpenState::Open => "open ",
        OpenState::Closed => "closed ",
        OpenState::All => "",
    };
    page(&ItemListPage {
        chrome: viewer.chrome(),
        project_description_html: project
            .as_ref()
            .filter(|_| is_project_page)
            .map(|project| to_safe_html(&project.description))
            .unwrap_or_default(),
        project: project.filter(|_| is_project_page),
        members,
        columns: sort_columns(&query, &path),
        state_label,
        filtered: query.is_filtered(),
        all_states_href: ListQuery { state: "all".into(), page: String::new(), ..query.clone() }.url(&path),
        first_page_href: page_href(1),
        previous_href: (page_number > 1).then(|| page_href(page_number - 1)),
        next_href: (page_number < page_count).then(|| page_href(page_number + 1)),
        page_number,
        page_count,
        path,
        query,
        projects,
        badges: Badges::of(&workflow),
        workflow,
        results,
    })
}

pub async fn list_items(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    show_list(state, viewer, query.into_inner(), None).await
}

pub async fn show_project(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner().to_ascii_uppercase();
    show_list(state, viewer, ListQuery { project: String::new(), ..query.into_inner() }, Some(key)).await
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewItemForm {
    pub project: String,
    pub title: String,
    pub description: String,
    pub type_id: String,
    pub priority_id: String,
    pub due_date: String,
}

#[derive(Template)]
#[template(path = "new_item.html")]
struct NewItemPage {
    chrome: Chrome,
    form: NewItemForm,
    errors: FieldErrors,
    projects: Vec<Project>,
    workflow: Workflow,
}

async fn new_item_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    form: NewItemForm,
    errors: FieldErrors,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let (projects, workflow) = state
        .database
        .run(move |connection| Ok((project::list_readable(connection, &user)?, Workflow::load(connection)?)))
        .await?;
    render(status, &NewItemPage { chrome: viewer.chrome(), form, errors, projects, workflow })
}

#[derive(Deserialize)]
pub struct NewItemQuery {
    project: Option<String>,
}

pub async fn show_new_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<NewItemQuery>,
) -> Result<HttpResponse, PageError> {
    let form = NewItemForm { project: query.into_inner().project.unwrap_or_default(), ..NewItemForm::default() };
    new_item_page(&state, &viewer, StatusCode::OK, form, FieldErrors::default()).await
}

/// A date from `<input type=date>`: empty is none.
pub fn parse_date(field: &str, value: &str) -> Result<Option<NaiveDate>, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| Error::invalid(field, "must be a date like 2026-12-31"))
}

fn parse_new_item(form: &NewItemForm) -> Result<NewItem, Error> {
    if form.project.is_empty() {
        return Err(Error::invalid("project", "choose a project"));
    }
    Ok(NewItem {
        project: ProjectKeyOrId::parse(&form.project),
        title: form.title.clone(),
        description: form.description.clone(),
        type_id: parse_id("type_id", &form.type_id)?.map(TypeId),
        priority_id: parse_id("priority_id", &form.priority_id)?.map(PriorityId),
        assignee_id: None,
        due_date: parse_date("due_date", &form.due_date)?,
    })
}

pub async fn create_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: NewItemForm = read_form(&viewer, &body)?;
    let parsed = parse_new_item(&form);
    let user = viewer.user.clone();
    let outcome = match parsed {
        Ok(new_item) => state.database.write(move |connection| item::create(connection, &user, new_item)).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(created) => Ok(see_other(&format!("/items/{}", created.id))),
        Err(Error::Invalid(field_error)) => {
            let errors = FieldErrors::from(field_error);
            new_item_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
        Err(Error::NotFound(_) | Error::Forbidden(_)) => {
            let errors = FieldErrors::one("project", "you cannot create items in this project");
            new_item_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
        Err(other) => Err(other.into()),
    }
}
