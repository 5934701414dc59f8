//! The item list (filters, sortable columns, pages; all of it in the URL so a view can be
//! bookmarked and shared), the project page built on it, and the new-item form. The list
//! shows open items unless the URL asks for `state=closed` or `state=all`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::db::DbConnection;
use crate::error::Error;
use crate::model::definitions::Version;
use crate::model::field::value::Shown;
use crate::model::field::{Catalog, Field};
use crate::model::ids::{ComponentId, ItemId, PriorityId, ProjectId, StatusId, TypeId, UserId, VersionId};
use crate::model::item::key::ItemReference;
use crate::model::item::listing::{AssigneeFilter, ItemFilter, ItemPage, OpenState, SortField};
use crate::model::item::{self, ItemView, NamedRef, NewItem};
use crate::model::label::LabelRef;
use crate::model::membership::Member;
use crate::model::permission::{Permission, Role};
use crate::model::project::setup::Setups;
use crate::model::project::types::ProjectTypes;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::reference::Targets;
use crate::model::user::User;
use crate::model::workflow::{ItemType, Workflow};
use crate::web::AppState;
use crate::web::input::{form_pairs, parse_pairs};
use crate::web::pages::badges::Badges;
use crate::web::pages::error::PageError;
use crate::web::pages::field_inputs::{self, FieldInput, FieldTexts};
use crate::web::pages::markdown::{self, Place, TaskBoxes};
use crate::web::pages::viewer::{Viewer, Visit, read_form};
use crate::web::pages::{Chrome, FieldErrors, Notice, page, render, see_other, url_with_query};

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
    /// An item's id: its sub-items only.
    pub parent: String,
    /// A version's id or name, or `none`.
    pub target_version: String,
    /// A label's id or name.
    pub label: String,
    /// A component's id or name, or `none`.
    pub component: String,
    pub text: String,
    /// `flat` (also when empty) or `tree`: sub-items under their parents.
    pub view: String,
    /// A column, `-column` for descending.
    pub sort: String,
    pub page: String,
    /// The key of an item just deleted, for the notice that says so (not part of the list).
    pub deleted: String,
    /// `project` on a project's page right after it was created, for the notice that says so.
    pub created: String,
    /// Conditions on custom fields as the URL names them (`field.<key>`, condition in the
    /// list API's syntax), read from the query string's pairs.
    #[serde(skip)]
    pub fields: Vec<(String, String)>,
    /// The keys of the custom fields shown as columns (`column=<key>`, repeated).
    #[serde(skip)]
    pub columns: Vec<String>,
}

impl ListQuery {
    /// The query of a list URL: the fixed parameters, then `field.<key>` conditions and
    /// `column` keys, which are open-ended.
    pub fn from_query_string(query_string: &str) -> Result<ListQuery, Error> {
        let mut fixed = Vec::new();
        let (mut fields, mut columns) = (Vec::new(), Vec::new());
        for (name, value) in form_pairs(query_string.as_bytes())? {
            if name.starts_with("field.") {
                fields.push((name, value));
            } else if name == "column" {
                columns.push(value);
            } else {
                fixed.push((name, value));
            }
        }
        let query: ListQuery = parse_pairs(&fixed)?;
        Ok(ListQuery { fields, columns, ..query })
    }

    fn parameters(&self) -> Vec<(&str, String)> {
        let mut parameters = vec![
            ("project", self.project.clone()),
            ("status", self.status.clone()),
            ("state", self.state.clone()),
            ("type", self.item_type.clone()),
            ("priority", self.priority.clone()),
            ("assignee", self.assignee.clone()),
            ("reporter", self.reporter.clone()),
            ("parent", self.parent.clone()),
            ("target_version", self.target_version.clone()),
            ("label", self.label.clone()),
            ("component", self.component.clone()),
            ("text", self.text.clone()),
            ("view", self.view.clone()),
            ("sort", self.sort.clone()),
            ("page", self.page.clone()),
        ];
        parameters.extend(self.fields.iter().map(|(name, condition)| (name.as_str(), condition.clone())));
        parameters.extend(self.columns.iter().map(|key| ("column", key.clone())));
        parameters
    }

    /// The condition typed for a custom field.
    fn field_condition(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(name, _)| name.strip_prefix("field.") == Some(key))
            .map_or("", |(_, condition)| condition.as_str())
    }

    fn shows_column(&self, key: &str) -> bool {
        self.columns.iter().any(|column| column == key)
    }

    fn url(&self, path: &str) -> String {
        url_with_query(path, &self.parameters())
    }

    /// Whether anything narrows the list besides open/closed.
    fn is_filtered(&self) -> bool {
        [&self.status, &self.item_type, &self.priority, &self.assignee, &self.reporter, &self.project, &self.parent]
            .iter()
            .any(|value| !value.is_empty())
            || !self.text.trim().is_empty()
            || self.fields.iter().any(|(_, condition)| !condition.trim().is_empty())
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
    if text.is_empty() { Ok((SortField::Updated, true)) } else { SortField::parse_signed(text) }
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
        parent: parse_id("parent", &query.parent)?.map(ItemId),
        target_version: Some(query.target_version.trim().to_string()).filter(|text| !text.is_empty()),
        label: Some(query.label.trim().to_string()).filter(|text| !text.is_empty()),
        component: Some(query.component.trim().to_string()).filter(|text| !text.is_empty()),
        text: (!text.is_empty()).then(|| text.to_string()),
        state,
        fields: query
            .fields
            .iter()
            .filter(|(_, condition)| !condition.trim().is_empty())
            .map(|(name, condition)| (name["field.".len()..].to_string(), condition.clone()))
            .collect(),
        tree: ItemFilter::parse_view(&query.view)?,
        sort,
        descending,
        limit: Some(PAGE_SIZE),
        offset: Some((page - 1) * PAGE_SIZE),
    })
}

/// A sortable column header: clicking sorts by it, clicking again reverses.
pub struct SortColumn {
    pub label: String,
    /// The sort key (`field.<key>` for a custom field), also the header's class.
    pub key: String,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub order: &'static str,
}

/// The columns in page order, and whether the first click sorts descending: the newest
/// items, the most urgent priority and the latest change first; titles A to Z, statuses in
/// workflow order and the soonest due date first.
const COLUMNS: [(&str, &str, bool); 6] = [
    ("Key", "id", true),
    ("Title", "title", false),
    ("Status", "status", false),
    ("Priority", "priority", true),
    ("Due", "due", false),
    ("Updated", "updated", true),
];

/// The built-in columns, then the custom fields chosen as columns (first click ascending).
fn sort_columns(query: &ListQuery, path: &str, shown_fields: &[Field]) -> Vec<SortColumn> {
    let current = if query.sort.is_empty() { "-updated" } else { query.sort.as_str() };
    let built_in = COLUMNS
        .into_iter()
        .map(|(label, key, descending_first)| (label.to_string(), key.to_string(), descending_first));
    let fields = shown_fields.iter().map(|field| (field.name.clone(), format!("field.{}", field.key), false));
    built_in
        .chain(fields)
        .map(|(label, key, descending_first)| {
            let descending_key = format!("-{key}");
            let (order, next) = if current == key.as_str() {
                ("ascending", descending_key)
            } else if current == descending_key {
                ("descending", key.clone())
            } else if descending_first {
                ("none", descending_key)
            } else {
                ("none", key.clone())
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
    /// The chosen project's versions (its own and shared), labels and components, for the
    /// filters; empty without a project.
    versions: Vec<NamedRef<VersionId>>,
    labels: Vec<LabelRef>,
    components: Vec<NamedRef<ComponentId>>,
    workflow: Workflow,
    badges: Badges,
    results: ItemPage,
    /// Whether the list is a tree, each item's depth in it, and the list in either view.
    tree: bool,
    depths: Vec<usize>,
    flat_href: String,
    tree_href: String,
    columns: Vec<SortColumn>,
    /// The custom fields the filters offer (those of the project, or all), and those shown
    /// as columns.
    offered_fields: Vec<Field>,
    field_columns: Vec<Field>,
    /// "open ", "closed " or "" (all), to say which items are counted.
    state_label: &'static str,
    /// Narrowed by more than open/closed (the empty list then offers to clear the filters).
    filtered: bool,
    /// The same list with open and closed items.
    all_states_href: String,
    first_page_href: String,
    /// The same list as a CSV download.
    export_href: String,
    page_number: i64,
    page_count: i64,
    previous_href: Option<String>,
    next_href: Option<String>,
}

impl ItemListPage {
    /// Whether the viewer runs the project shown (an administrator, or one of its managers):
    /// its page then links the settings and, while empty, says what to set up.
    fn manages(&self) -> bool {
        self.chrome.user.as_ref().is_some_and(|viewer| {
            viewer.is_admin
                || self.members.iter().any(|member| member.user.login == viewer.login && member.role == Role::Manager)
        })
    }

    /// The project just created, on its own page (`?created=project`).
    fn created_project(&self) -> Option<&str> {
        self.project.as_ref().filter(|_| self.query.created == "project").map(|project| project.key.as_str())
    }

    /// The key of the item just deleted, when the URL names one (`?deleted=OPS-7`).
    fn deleted_key(&self) -> Option<String> {
        match ItemReference::parse(&self.query.deleted) {
            Some(reference @ ItemReference::Key { .. }) => Some(reference.to_string()),
            _ => None,
        }
    }

    /// What an item holds in a custom field column (empty when it does not apply).
    fn field_text(&self, item: &ItemView, key: &str) -> String {
        item.fields
            .0
            .iter()
            .find(|field| field.key == key)
            .and_then(|field| field.value.as_ref())
            .map(Shown::text)
            .unwrap_or_default()
    }

    /// How deep the page's item at `index` hangs below an item of the page (a tree list
    /// comes depth first; 0 in a flat one).
    fn depth(&self, index: usize) -> usize {
        self.depths.get(index).copied().unwrap_or(0)
    }

    /// Opens the custom field filters when one is in use.
    fn fields_in_use(&self) -> bool {
        !self.query.columns.is_empty() || self.query.fields.iter().any(|(_, condition)| !condition.is_empty())
    }
}

/// Each item's depth in a tree page (which comes depth first): one more than its parent's when
/// the parent came earlier on the page, else 0.
fn tree_depths(items: &[ItemView]) -> Vec<usize> {
    let mut seen: HashMap<ItemId, usize> = HashMap::with_capacity(items.len());
    items
        .iter()
        .map(|item| {
            let depth = item.parent.as_ref().and_then(|parent| seen.get(&parent.id)).map_or(0, |above| above + 1);
            seen.insert(item.id, depth);
            depth
        })
        .collect()
}

/// What a list page shows, read in one task.
struct Listed {
    viewer: Viewer,
    filter: ItemFilter,
    project: Option<Project>,
    members: Vec<Member>,
    projects: Vec<Project>,
    workflow: Workflow,
    results: ItemPage,
    offered_fields: Vec<Field>,
    field_columns: Vec<Field>,
    /// The project's versions, labels and components, to filter by.
    plan: (Vec<NamedRef<VersionId>>, Vec<LabelRef>, Vec<NamedRef<ComponentId>>),
    described: Targets,
}

async fn show_list(
    state: web::Data<AppState>,
    visit: Visit,
    query: ListQuery,
    project_key: Option<String>,
) -> Result<HttpResponse, PageError> {
    let is_project_page = project_key.is_some();
    let (lookup, asked, key) = (visit.clone(), query.clone(), project_key.clone());
    // Who looks and what the page shows: one database task.
    let listed = state
        .database
        .run(move |connection| {
            let viewer = lookup.viewer(connection)?;
            let user = viewer.user.clone();
            let filter = build_filter(&asked, key.as_deref(), &user)?;
            let columns = &asked.columns;
            // The page's project, its setup, the workflow and the fields at one version: the one
            // read with the viewer.
            let version = viewer.definitions.clone();
            let setups = Setups::at(connection, &version)?;
            let project = match &filter.project {
                Some(key) => Some(project::get_in(connection, &user, &setups, key, Permission::View)?.0),
                None => None,
            };
            // The references in the project's description, as the viewer may follow them.
            let described = match &project {
                Some(project) if is_project_page => {
                    markdown::targets(connection, &user, Some(project.id), [project.description.as_str()])?
                }
                _ => Targets::default(),
            };
            let (members, plan) = match &project {
                Some(project) => {
                    let setup = setups.of(connection, project.id)?;
                    (setup.members.clone(), (setup.version_choices(), setup.labels.clone(), setup.components.clone()))
                }
                None => Default::default(),
            };
            let projects = project::readable_among(connection, &user, setups.projects())?;
            let workflow = Workflow::clone(&*Workflow::at(connection, &version)?);
            let results = item::listing::list(connection, &user, &filter, &version)?;
            let catalog = Catalog::at(connection, &version)?;
            for key in columns {
                if catalog.by_key(key).is_none() {
                    return Err(Error::invalid("column", format!("there is no field {key:?}")));
                }
            }
            let offered_fields: Vec<Field> = catalog
                .fields
                .iter()
                .filter(|field| match (&project, &field.project_ids) {
                    (Some(project), Some(ids)) => ids.contains(&project.id),
                    _ => true,
                })
                .cloned()
                .collect();
            let field_columns: Vec<Field> =
                offered_fields.iter().filter(|field| columns.contains(&field.key)).cloned().collect();
            Ok(Listed {
                viewer,
                filter,
                project,
                members,
                projects,
                workflow,
                results,
                offered_fields,
                field_columns,
                plan,
                described,
            })
        })
        .await
        .map_err(|error| visit.page_error(error))?;
    let (open_state, tree) = (listed.filter.state, listed.filter.tree);
    let path = match &project_key {
        Some(key) => format!("/projects/{key}"),
        None => "/items".to_string(),
    };
    let page_number = query.page_number()?;
    let page_count = ((listed.results.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page_href = |number: i64| ListQuery { page: number.to_string(), ..query.clone() }.url(&path);
    let state_label = match open_state {
        OpenState::Open => "open ",
        OpenState::Closed => "closed ",
        OpenState::All => "",
    };
    page(&ItemListPage {
        chrome: listed.viewer.chrome(),
        depths: if tree { tree_depths(&listed.results.items) } else { Vec::new() },
        flat_href: ListQuery { view: String::new(), page: String::new(), ..query.clone() }.url(&path),
        tree_href: ListQuery { view: "tree".into(), page: String::new(), ..query.clone() }.url(&path),
        tree,
        project_description_html: listed
            .project
            .as_ref()
            .filter(|_| is_project_page)
            .map(|project| markdown::render(&project.description, TaskBoxes::Disabled, &listed.described))
            .unwrap_or_default(),
        project: listed.project.filter(|_| is_project_page),
        members: listed.members,
        columns: sort_columns(&query, &path, &listed.field_columns),
        offered_fields: listed.offered_fields,
        field_columns: listed.field_columns,
        state_label,
        filtered: query.is_filtered(),
        all_states_href: ListQuery { state: "all".into(), page: String::new(), ..query.clone() }.url(&path),
        first_page_href: page_href(1),
        export_href: ListQuery {
            page: String::new(),
            project: project_key.clone().unwrap_or_else(|| query.project.clone()),
            ..query.clone()
        }
        .url("/items.csv"),
        previous_href: (page_number > 1).then(|| page_href(page_number - 1)),
        next_href: (page_number < page_count).then(|| page_href(page_number + 1)),
        page_number,
        page_count,
        path,
        query,
        projects: listed.projects,
        versions: listed.plan.0,
        labels: listed.plan.1,
        components: listed.plan.2,
        badges: Badges::of(&listed.workflow),
        workflow: listed.workflow,
        results: listed.results,
    })
}

pub async fn list_items(
    state: web::Data<AppState>,
    visit: Visit,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let query = ListQuery::from_query_string(request.query_string())?;
    show_list(state, visit, query, None).await
}

/// The list as CSV, for the filters the list page shows (its page and columns aside).
pub async fn export_items(
    state: web::Data<AppState>,
    viewer: Viewer,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let query = ListQuery::from_query_string(request.query_string())?;
    let filter = ItemFilter { limit: None, offset: None, ..build_filter(&query, None, &viewer.user)? };
    let user = viewer.user.clone();
    let csv = state.database.run(move |connection| item::export::csv(connection, &user, &filter)).await?;
    Ok(crate::web::csv_download(csv))
}

pub async fn show_project(
    state: web::Data<AppState>,
    visit: Visit,
    path: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner().to_ascii_uppercase();
    let query = ListQuery::from_query_string(request.query_string())?;
    show_list(state, visit, ListQuery { project: String::new(), ..query }, Some(key)).await
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
    /// A member of the project, for those who may assign there; empty for nobody.
    pub assignee_id: String,
    /// `<project id>:<type id>`: the project and type whose custom fields the form shows.
    pub fields_for: String,
    /// The item to create a sub-item of (its id), from the parent's page.
    pub parent: String,
    /// The custom fields' inputs (`field.<key>`), read from the form's pairs.
    #[serde(skip)]
    pub fields: FieldTexts,
    /// Sent by the Preview button: show the description rendered instead of creating.
    pub preview: Option<String>,
    /// Sent by the form's Update button (by the script when the project or type changes): draw
    /// the form for them — types, people to assign, fields — with what was typed, instead of
    /// creating.
    pub redraw: Option<String>,
    /// The description rendered, after Preview.
    #[serde(skip)]
    pub preview_html: Option<String>,
}

#[derive(Template)]
#[template(path = "new_item.html")]
struct NewItemPage {
    chrome: Chrome,
    form: NewItemForm,
    errors: FieldErrors,
    /// The projects the viewer may file items in.
    projects: Vec<Project>,
    workflow: Workflow,
    /// The item types the chosen project uses.
    types: Vec<ItemType>,
    /// The chosen project's members, if the viewer may assign items there.
    assignees: Vec<Member>,
    field_inputs: Vec<FieldInput>,
    notice: Option<Notice>,
}

/// Where a new item from the form would go: the project if the viewer may see it, the type
/// chosen or the project's first, and the types the form offers (the project's, or every
/// type before a project is chosen); and whether the viewer may assign items there.
struct Placement {
    project: Option<ProjectId>,
    item_type: TypeId,
    types: Vec<ItemType>,
    may_assign: bool,
}

fn placement(
    connection: &mut DbConnection,
    viewer: &User,
    setups: &Setups,
    workflow: &Workflow,
    form: &NewItemForm,
) -> Result<Placement, Error> {
    let found = if form.project.trim().is_empty() {
        None
    } else {
        project::get_in(connection, viewer, setups, &ProjectKeyOrId::parse(&form.project), Permission::View).ok()
    };
    let may_assign = found.as_ref().is_some_and(|(_, access)| access.allows(Permission::Work));
    let project = found.map(|(project, _)| project.id);
    let offered = match project {
        Some(project) => setups.of(connection, project)?.types(workflow),
        None => ProjectTypes { all: true, types: workflow.types.clone() },
    };
    let item_type = match parse_id("type_id", &form.type_id) {
        Ok(Some(id)) => TypeId(id),
        _ => offered.default_type()?.id,
    };
    Ok(Placement { project, item_type, types: offered.types, may_assign })
}

/// The keys of the custom fields shown for a project and type (none before a project is
/// chosen).
fn field_keys(catalog: &Catalog, project: Option<ProjectId>, item_type: TypeId) -> Vec<String> {
    match project {
        Some(project) => catalog.applying(project, item_type).map(|field| field.key.clone()).collect(),
        None => Vec::new(),
    }
}

async fn new_item_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    mut form: NewItemForm,
    errors: FieldErrors,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let user = viewer.user.clone();
    let held = form.fields.clone();
    let shown = form.clone();
    let (projects, workflow, types, assignees, field_inputs, fields_for, texts) = state
        .database
        .run(move |connection| {
            let version = Version::read(connection)?;
            let workflow = Workflow::clone(&*Workflow::at(connection, &version)?);
            let catalog = Catalog::at(connection, &version)?;
            let setups = Setups::at(connection, &version)?;
            let Placement { project, item_type, types, may_assign } =
                placement(connection, &user, &setups, &workflow, &shown)?;
            let (assignees, field_inputs) = match project {
                Some(project) => {
                    let members = setups.of(connection, project)?.members.clone();
                    let inputs = field_inputs::inputs(&catalog, project, item_type, &held, &members);
                    (if may_assign { members } else { Vec::new() }, inputs)
                }
                None => (Vec::new(), Vec::new()),
            };
            // Fields the form has not shown before offer their defaults.
            let texts = held.clone().or(FieldTexts::defaults(&catalog, &field_inputs));
            let fields_for = format!("{}:{item_type}", project.map(|id| id.to_string()).unwrap_or_default());
            let projects = project::allowed_among(connection, &user, setups.projects(), Permission::Report)?;
            Ok((projects, workflow, types, assignees, field_inputs, fields_for, texts))
        })
        .await?;
    form.fields_for = fields_for;
    form.fields = texts;
    let page = NewItemPage {
        chrome: viewer.chrome(),
        form,
        errors,
        projects,
        workflow,
        types,
        assignees,
        field_inputs,
        notice,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub struct NewItemQuery {
    project: Option<String>,
    type_id: Option<String>,
    parent: Option<String>,
}

pub async fn show_new_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<NewItemQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let form = NewItemForm {
        project: query.project.unwrap_or_default(),
        type_id: query.type_id.unwrap_or_default(),
        parent: query.parent.unwrap_or_default(),
        ..NewItemForm::default()
    };
    new_item_page(&state, &viewer, StatusCode::OK, form, FieldErrors::default(), None).await
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

fn parse_new_item(form: &NewItemForm, catalog: &Catalog) -> Result<NewItem, Error> {
    if form.project.is_empty() {
        return Err(Error::invalid("project", "choose a project"));
    }
    Ok(NewItem {
        project: ProjectKeyOrId::parse(&form.project),
        title: form.title.clone(),
        description: form.description.clone(),
        type_id: parse_id("type_id", &form.type_id)?.map(TypeId),
        priority_id: parse_id("priority_id", &form.priority_id)?.map(PriorityId),
        assignee_id: parse_id("assignee_id", &form.assignee_id)?.map(UserId),
        due_date: parse_date("due_date", &form.due_date)?,
        parent: parse_id("parent", &form.parent)?.map(ItemId),
        fields: form.fields.to_values(catalog)?,
        ..NewItem::default()
    })
}

pub async fn create_item(
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let mut form: NewItemForm = read_form(&viewer, &body)?;
    form.fields = FieldTexts::from_pairs(&form_pairs(&body)?);
    let user = viewer.user.clone();
    if form.redraw.is_some() {
        return new_item_page(&state, &viewer, StatusCode::OK, form, FieldErrors::default(), None).await;
    }
    if form.preview.is_some() {
        let (project, text) = (ProjectKeyOrId::parse(&form.project), form.description.clone());
        let html = state
            .database
            .run(move |connection| {
                // Mentions name the readers of the chosen project; without one they stay text.
                let place = project::get_with(connection, &user, &project, Permission::View)
                    .map_or(Place::Nowhere, |found| Place::Project(found.0.id));
                markdown::preview(connection, &user, place, &text)
            })
            .await?;
        let form = NewItemForm { preview_html: Some(html), ..form };
        return new_item_page(&state, &viewer, StatusCode::OK, form, FieldErrors::default(), None).await;
    }
    let sent = form.clone();
    let (catalog, fields_match) = state
        .database
        .run(move |connection| {
            let version = Version::read(connection)?;
            let (workflow, catalog) = (Workflow::at(connection, &version)?, Catalog::at(connection, &version)?);
            let setups = Setups::at(connection, &version)?;
            let chosen = placement(connection, &user, &setups, &workflow, &sent)?;
            let (shown_project, shown_type) = sent.fields_for.split_once(':').unwrap_or_default();
            let shown_type = shown_type.parse().map(TypeId).unwrap_or(chosen.item_type);
            let fields_match = field_keys(&catalog, shown_project.parse().ok().map(ProjectId), shown_type)
                == field_keys(&catalog, chosen.project, chosen.item_type);
            Ok((catalog, fields_match))
        })
        .await?;
    if !fields_match {
        // The project or type changed after the form showed its fields: show the right ones.
        let notice = Notice {
            kind: "warn",
            text: "The item was not created yet: this project and type have other fields. Fill them in below and create the item.".into(),
        };
        return new_item_page(&state, &viewer, StatusCode::OK, form, FieldErrors::default(), Some(notice)).await;
    }
    let parsed = parse_new_item(&form, &catalog);
    let user = viewer.user.clone();
    let outcome = match parsed {
        Ok(new_item) => state.database.write(move |connection| item::create(connection, &user, new_item)).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(created) => Ok(see_other(&format!("/items/{created}?done=created"))),
        Err(Error::Invalid(field_error)) => {
            let errors = FieldErrors::from(field_error);
            new_item_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, form, errors, None).await
        }
        Err(Error::NotFound(_) | Error::Forbidden(_)) => {
            let errors = FieldErrors::one("project", "you cannot create items in this project");
            new_item_page(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, form, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}
