//! Items: creation, the item view, optimistic-locking updates with history; the filtered,
//! sorted, paginated list is in `listing`. Every write that search will need enqueues the
//! item in `index_queue` inside the same transaction.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::dialect::{Dialect, RowLock};
use crate::db::schema::{api_tokens, index_queue, items, users, watchers};
use crate::db::stored_time::StoredTime;
use crate::db::{DbConnection, first_by_type, read_together, write_transaction};
use crate::error::{Error, Result};
use crate::model::definitions::Version;
use crate::model::field::Catalog;
use crate::model::field::value::{self, FieldValues, Placement, Value};
use crate::model::history::{self, FieldChange};
use crate::model::ids::{
    ComponentId, FieldId, ItemId, LabelId, PriorityId, ProjectId, StatusId, TypeId, UserId, VersionId, any_id,
};
use crate::model::label::{self, LabelRef};
use crate::model::notification::{self, About, Event, Place};
use crate::model::permission::{Access, Permission, ReadableItem};
use crate::model::project::setup::Setups;
use crate::model::project::{self, Project, ProjectKeyOrId, types};
use crate::model::reference::{self, UnknownLogins};
use crate::model::user::{self, User, UserSummary};
use crate::model::workflow::Workflow;
use crate::model::{attachment, auth, comment, component, link, membership, text, version, watcher};
use crate::timestamp;
use names::Names;

pub mod copying;
pub mod deletion;
pub mod export;
pub mod key;
pub mod listing;
pub mod moving;
mod names;
pub mod tree;

/// The stored row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = items)]
pub struct ItemRow {
    pub id: ItemId,
    pub project_id: ProjectId,
    pub type_id: TypeId,
    pub status_id: StatusId,
    pub priority_id: PriorityId,
    pub title: String,
    pub description: String,
    pub reporter_id: UserId,
    pub assignee_id: Option<UserId>,
    pub due_date: Option<NaiveDate>,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = StoredTime)]
    pub updated_at: NaiveDateTime,
    pub version: i32,
    pub parent_id: Option<ItemId>,
    pub children_count: i64,
    pub target_version_id: Option<VersionId>,
    pub component_id: Option<ComponentId>,
    /// Its number in its project (`key`).
    pub number: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectRef {
    pub id: ProjectId,
    pub key: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NamedRef<Id> {
    pub id: Id,
    pub name: String,
}

/// Another item, by id, key and title (an item's parent).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ItemRef {
    pub id: ItemId,
    pub key: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusRef {
    pub id: StatusId,
    pub name: String,
    pub is_closed: bool,
}

/// An item as the API and pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub id: ItemId,
    /// `OPS-42`: the project's key and the item's number in it.
    pub key: String,
    pub project: ProjectRef,
    #[serde(rename = "type")]
    pub item_type: NamedRef<TypeId>,
    pub status: StatusRef,
    pub priority: NamedRef<PriorityId>,
    pub title: String,
    pub description: String,
    pub reporter: UserSummary,
    pub assignee: Option<UserSummary>,
    pub due_date: Option<NaiveDate>,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "timestamp::serialize_utc")]
    pub updated_at: NaiveDateTime,
    pub version: i32,
    /// The item this one is a sub-item of (in the same project).
    pub parent: Option<ItemRef>,
    pub children_count: i64,
    /// The version the item is planned for (`version` is the optimistic-lock number).
    pub target_version: Option<NamedRef<VersionId>>,
    /// By name.
    pub labels: Vec<LabelRef>,
    pub component: Option<NamedRef<ComponentId>>,
    /// The custom fields that apply to the item's project and type.
    pub fields: FieldValues,
}

impl ItemView {
    /// A field's value in history's words (see `Guard::Seen`): status, priority and type by
    /// name, assignee by login, the due date as `YYYY-MM-DD`, a custom field as its text;
    /// `None` when empty or when the item has no such field.
    pub fn field_words(&self, field: &str) -> Option<String> {
        match field {
            "status" => Some(self.status.name.clone()),
            "priority" => Some(self.priority.name.clone()),
            "type" => Some(self.item_type.name.clone()),
            "assignee" => self.assignee.as_ref().map(|assignee| assignee.login.clone()),
            "due_date" => self.due_date.map(|date| date.to_string()),
            version::HISTORY_FIELD => self.target_version.as_ref().map(|version| version.name.clone()),
            component::HISTORY_FIELD => self.component.as_ref().map(|component| component.name.clone()),
            key => self.fields.0.iter().find(|shown| shown.key == key)?.value.as_ref().map(value::Shown::text),
        }
    }
}

/// A new item as requested; `create` validates it.
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub project: ProjectKeyOrId,
    pub title: String,
    pub description: String,
    pub type_id: Option<TypeId>,
    pub priority_id: Option<PriorityId>,
    pub assignee_id: Option<UserId>,
    pub due_date: Option<NaiveDate>,
    /// The item to create it as a sub-item of.
    pub parent: Option<ItemId>,
    /// An open version of the project or a shared one (developers only).
    pub target_version: Option<VersionId>,
    pub labels: Vec<LabelId>,
    /// Its default assignee is the item's when no assignee is given.
    pub component: Option<ComponentId>,
    /// Custom field values by key.
    pub fields: Vec<(String, serde_json::Value)>,
    /// Whether an `@login` nobody has refuses the description (as typed) or stays text (mail).
    pub unknown_logins: UnknownLogins,
}

/// What a change was made against, so that no one's edit is silently undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The version of the whole item the writer read: any change since is a conflict.
    Version(i32),
    /// The fields the writer changes, each with the value it saw, in history's words (status,
    /// priority and type by name, assignee by login, dates as `YYYY-MM-DD`, custom fields as
    /// their text; `None` for empty): only a change of one of these since is a conflict, and
    /// only when the writer's value differs from the one there now. Changes to other fields
    /// meanwhile are kept.
    Seen(Vec<(String, Option<String>)>),
}

impl Default for Guard {
    /// No version is 0: an update that names no guard is refused as stale.
    fn default() -> Guard {
        Guard::Version(0)
    }
}

/// Changes to an item, made against `guard`. For `assignee_id` and `due_date`, `Some(None)`
/// clears the field.
#[derive(Debug, Clone, Default)]
pub struct ItemUpdate {
    pub guard: Guard,
    /// The project to move the item to.
    pub project: Option<ProjectKeyOrId>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub type_id: Option<TypeId>,
    pub status_id: Option<StatusId>,
    pub priority_id: Option<PriorityId>,
    pub assignee_id: Option<Option<UserId>>,
    pub due_date: Option<Option<NaiveDate>>,
    /// `Some(None)` makes it a top-level item.
    pub parent: Option<Option<ItemId>>,
    /// `Some(None)` plans it for no version.
    pub target_version: Option<Option<VersionId>>,
    /// The whole new set.
    pub labels: Option<Vec<LabelId>>,
    pub component: Option<Option<ComponentId>>,
    /// Custom field values by key; `null` clears one.
    pub fields: Vec<(String, serde_json::Value)>,
}

/// The type of a row `select_row!` reads, with the types of the columns selected after its
/// own.
macro_rules! fetched_row {
    ($($more:ty),*) => {
        (ItemRow, Option<String>, $($more,)*)
    };
}

/// An item row, the version of the definitions read in the same statement, at which `Names`
/// names its ids, and its own parts (`OWN_PARTS`).
type FetchedRow = fetched_row!(OwnParts);

/// Selects an item row as `FetchedRow`.
macro_rules! select_row {
    // The row and the version of the definitions, with more after them.
    (columns $(, $more:expr)*) => {
        (
            ItemRow::as_select(),
            $crate::model::definitions::CurrentVersion,
            $($more,)*
        )
    };
    ($query:expr) => {
        $query.select(select_row!(columns, $crate::model::item::OWN_PARTS))
    };
}
use select_row;

/// What an item's view shows of the item's own besides its row.
struct Parts {
    labels: Vec<LabelId>,
    values: Vec<(FieldId, Value)>,
    /// The parent's number and title.
    parent: Option<(i64, String)>,
}

/// A row ready to be shown: the row, the version of the definitions it was read at, its parts.
type ReadRow = (ItemRow, Version, Parts);

/// The entry of `id` among looked-up names.
fn named_ref<Id: Copy + PartialEq>(names: &[(Id, String)], id: Id) -> Option<NamedRef<Id>> {
    names.iter().find(|(found, _)| *found == id).map(|(_, name)| NamedRef { id, name: name.clone() })
}

/// Turns fetched rows into views.
fn into_views(connection: &mut DbConnection, rows: Vec<FetchedRow>) -> Result<Vec<ItemView>> {
    // The rows of one statement were read at one version.
    let Some((_, version, _)) = rows.first() else { return Ok(Vec::new()) };
    let catalog = Catalog::at(connection, &Version::of_row(version.clone())?)?;
    views_with(connection, &catalog, rows)
}

/// `into_views` with the field definitions already loaded. Each row carries its values and
/// labels (`OWN_PARTS`): a page needs no statement of its own for them.
fn views_with(connection: &mut DbConnection, catalog: &Catalog, rows: Vec<FetchedRow>) -> Result<Vec<ItemView>> {
    let read =
        rows.into_iter().map(|fetched| OneRow::read(fetched)?.shown(catalog)).collect::<Result<Vec<ReadRow>>>()?;
    named_views(connection, catalog, read)
}

/// The views of rows read with their parts.
fn named_views(connection: &mut DbConnection, catalog: &Catalog, rows: Vec<ReadRow>) -> Result<Vec<ItemView>> {
    // The names at each version the rows were read at: one, but for a list read by several
    // statements across a change.
    let mut names: Vec<(&Version, Arc<Names>)> = Vec::new();
    let mut named_at = Vec::with_capacity(rows.len());
    for (_, version, _) in &rows {
        let index = match names.iter().position(|(at, _)| *at == version) {
            Some(index) => index,
            None => {
                names.push((version, Names::at(connection, version)?));
                names.len() - 1
            }
        };
        named_at.push(index);
    }
    // The people the names do not know yet (accounts made since), in one query.
    let mut unnamed: Vec<UserId> = rows
        .iter()
        .flat_map(|(row, _, parts)| {
            std::iter::once(row.reporter_id)
                .chain(row.assignee_id)
                .chain(value::people(parts.values.iter().map(|(_, value)| value)))
        })
        .filter(|person| names.iter().any(|(_, named)| named.user(*person).is_none()))
        .collect();
    unnamed.sort();
    unnamed.dedup();
    let read = user::summaries(connection, &unnamed)?;
    let names: Vec<Arc<Names>> = names.into_iter().map(|(_, named)| named).collect();
    let mut views = Vec::with_capacity(rows.len());
    for ((row, _, parts), index) in rows.into_iter().zip(named_at) {
        let named = &names[index];
        let person = |id: UserId| -> Result<UserSummary> {
            named
                .user(id)
                .or_else(|| read.iter().find(|summary| summary.id == id))
                .cloned()
                .ok_or_else(|| Error::internal("item view", format!("user {id} vanished")))
        };
        let valued: Vec<UserSummary> =
            value::people(parts.values.iter().map(|(_, value)| value)).map(person).collect::<Result<_>>()?;
        let (project_key, _) = named.project(row.project_id)?;
        let item_type = named.workflow.item_type(row.type_id)?;
        let status = named.workflow.status(row.status_id)?;
        let priority = named.workflow.priority(row.priority_id)?;
        let fields = value::shown_fields(catalog, row.project_id, row.type_id, &parts.values, &valued)?;
        views.push(ItemView {
            id: row.id,
            key: key::format(project_key, row.number),
            parent: row.parent_id.map(|parent| {
                let (number, title) = parts.parent.unwrap_or_default();
                ItemRef { id: parent, key: key::format(project_key, number), title }
            }),
            project: ProjectRef { id: row.project_id, key: project_key.to_string() },
            item_type: NamedRef { id: item_type.id, name: item_type.name.clone() },
            status: StatusRef { id: status.id, name: status.name.clone(), is_closed: status.is_closed },
            priority: NamedRef { id: priority.id, name: priority.name.clone() },
            reporter: person(row.reporter_id)?,
            assignee: row.assignee_id.map(person).transpose()?,
            target_version: row
                .target_version_id
                .and_then(|id| Some(NamedRef { id, name: named.version(id)?.to_string() })),
            component: row.component_id.and_then(|id| Some(NamedRef { id, name: named.component(id)?.to_string() })),
            labels: named.labels(&parts.labels),
            title: row.title,
            description: row.description,
            due_date: row.due_date,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
            children_count: row.children_count,
            fields,
        });
    }
    Ok(views)
}

/// One item as `load_versioned` read it; its values are read by the catalog at its version.
struct OneRow {
    row: ItemRow,
    version: Version,
    labels: Vec<LabelId>,
    /// As the item's row keeps them (`items.field_values`).
    values: Option<String>,
    parent: Option<(i64, String)>,
}

/// What an item's view reads besides its row and the version: its labels' ids and its values,
/// which its row keeps (triggers refresh them, see the migration `item_parts_on_row`), and its
/// parent's number and title (a lookup by key for the items that have a parent: cheaper than a
/// statement of its own for a list page's parents).
const OWN_PARTS: (items::label_ids, items::field_values, tree::Parent) =
    (items::label_ids, items::field_values, tree::Parent);

/// `OWN_PARTS` as read.
type OwnParts = (Option<String>, Option<String>, Option<String>);

impl OneRow {
    fn read((row, version, (labels, values, parent)): fetched_row!(OwnParts)) -> Result<OneRow> {
        Ok(OneRow {
            version: Version::of_row(version)?,
            labels: label::decode_ids(labels.as_deref())?,
            values,
            parent: tree::parent(parent)?,
            row,
        })
    }

    /// The row ready to be shown, its values read by the catalog at its version.
    fn shown(self, catalog: &Catalog) -> Result<ReadRow> {
        let parts =
            Parts { values: value::decode(catalog, self.values.as_deref())?, labels: self.labels, parent: self.parent };
        Ok((self.row, self.version, parts))
    }
}

/// An item's row and, read in the same statement, everything its view shows but the names
/// (`Names`): the version of the definitions and `OWN_PARTS`. On PostgreSQL each statement is
/// a round trip, which costs more than the subqueries' work: a GET of an item answers a
/// quarter more requests a second with one statement than with four (docs/benchmarks.md). A
/// static query, so its prepared statement is cached.
fn load_versioned(connection: &mut DbConnection, id: ItemId) -> Result<OneRow> {
    let found =
        first_by_type!(connection, items::table.filter(items::id.eq(id)).select(select_row!(columns, OWN_PARTS)))
            .optional()?;
    OneRow::read(found.ok_or_else(|| not_found(id))?)
}

/// An item that is not there (or that the actor may not see).
fn not_found(id: ItemId) -> Error {
    Error::not_found(format!("item {id}"))
}

/// The view of one item, however the actor may see it (the caller checked).
fn load_view(connection: &mut DbConnection, id: ItemId) -> Result<ItemView> {
    let one = load_versioned(connection, id)?;
    one_view(connection, one)
}

fn one_view(connection: &mut DbConnection, one: OneRow) -> Result<ItemView> {
    let id = one.row.id;
    let catalog = Catalog::at(connection, &one.version)?;
    named_views(connection, &catalog, vec![one.shown(&catalog)?])?.pop().ok_or_else(|| not_found(id))
}

fn load_row(connection: &mut DbConnection, id: ItemId) -> Result<ItemRow> {
    items::table.find(id).select(ItemRow::as_select()).first(connection).optional()?.ok_or_else(|| not_found(id))
}

/// What the actor may do with an item. Pages show only the controls these allow, and
/// `update` applies the same rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemPermissions {
    /// Edit the title, description, type, priority and due date.
    pub edit: bool,
    /// Change the status and the assignee, and edit every field.
    pub work: bool,
    /// Comment and attach files.
    pub contribute: bool,
    /// Edit and delete anyone's comments, and read their earlier versions.
    pub manage: bool,
}

impl ItemPermissions {
    /// Developers work on any item; reporters edit the text of the items they reported.
    pub fn of(access: &Access, reporter: UserId, actor: &User) -> ItemPermissions {
        let work = access.allows(Permission::Work);
        let contribute = access.allows(Permission::Report);
        ItemPermissions {
            edit: work || (contribute && reporter == actor.id),
            work,
            contribute,
            manage: access.allows(Permission::Manage),
        }
    }
}

/// The item's row, project and the actor's access, if the actor may see it.
fn require_readable(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<(ItemRow, Project, Access)> {
    let row = load_row(connection, id)?;
    let project = project::load(connection, row.project_id)?;
    let access = Access::for_project(connection, actor, project.id, project.is_public)?;
    access.require(Permission::View, &format!("item {id}"))?;
    Ok((row, project, access))
}

/// Records that search must (re)index the item; called inside the writing transaction.
pub fn enqueue_for_index(connection: &mut DbConnection, id: ItemId) -> Result<()> {
    diesel::insert_into(index_queue::table).values(index_queue::item_id.eq(id)).execute(connection)?;
    Ok(())
}

/// Queues items for search in batches (a version's items can be many).
pub fn enqueue_all(connection: &mut DbConnection, ids: &[ItemId]) -> Result<()> {
    for batch in ids.chunks(BATCH) {
        let rows: Vec<_> = batch.iter().map(|id| index_queue::item_id.eq(id)).collect();
        crate::with_backend!(connection, |inner| diesel::insert_into(index_queue::table).values(rows).execute(inner))?;
    }
    Ok(())
}

/// Items per statement where a change reaches many (below SQLite's limit of bound values).
const BATCH: usize = 5000;

/// Records a change that reached items from elsewhere (their version closed and moved them, a
/// label or component was deleted), the column already written: a new version of each item,
/// its history entry, its followers' notifications (one per item, as for any change) and the
/// search queue. Called inside the change's transaction.
pub fn record_side_change(
    connection: &mut DbConnection,
    actor: &User,
    ids: &[ItemId],
    change: &FieldChange,
) -> Result<()> {
    for batch in ids.chunks(BATCH) {
        diesel::update(items::table.filter(items::id.eq_any(batch)))
            .set((items::version.eq(items::version + 1), items::updated_at.eq(diesel::dsl::now)))
            .execute(connection)?;
    }
    let notable = notification::notable(std::slice::from_ref(change), &*Catalog::load(connection)?);
    for id in ids {
        history::record(connection, *id, actor.id, std::slice::from_ref(change))?;
        notification::queue(connection, About::Item(*id), actor.id, Event::Changed, &notable, &[])?;
    }
    enqueue_all(connection, ids)
}

/// Only active members can be assigned. One refusal for every other id, naming only the id
/// sent, so that assigning cannot tell which ids exist or whose logins they are.
fn check_assignee(connection: &mut DbConnection, project: &Project, assignee: UserId) -> Result<()> {
    if !membership::is_active_member(connection, project.id, assignee)? {
        return Err(Error::invalid(
            "assignee_id",
            format!("user {assignee} cannot be assigned: only active members of project {} can", project.key),
        ));
    }
    Ok(())
}

/// A due date within years 1-9999, which both backends store and every client can show.
fn check_due_date(due_date: Option<NaiveDate>) -> Result<()> {
    match due_date {
        Some(date) if !(1..=9999).contains(&date.year()) => {
            Err(Error::invalid("due_date", format!("{date} is out of range: use a date in the years 1 to 9999")))
        }
        _ => Ok(()),
    }
}

/// Creates an item with its field values, watchers, search queue row and notifications in one
/// write transaction. Returns its id: a caller that shows it reads it afterwards, on a reading
/// connection where the backend has one.
pub fn create(connection: &mut DbConnection, actor: &User, new_item: NewItem) -> Result<ItemId> {
    let title = text::single_line("title", &new_item.title, 1, text::MAX_TITLE_CHARS)?;
    let description = text::body("description", &new_item.description, false)?;
    check_due_date(new_item.due_date)?;
    write_transaction(connection, |connection| {
        // The project, its types, the workflow and the fields at one version: one read of it.
        let version = Version::read(connection)?;
        let setups = Setups::at(connection, &version)?;
        let (project, access) = project::get_in(connection, actor, &setups, &new_item.project, Permission::Report)?;
        let workflow = Workflow::at(connection, &version)?;
        let project_types = setups.of(connection, project.id)?.types(&workflow);
        let type_id = match new_item.type_id {
            Some(id) => {
                project_types.check(&project.key, id, &workflow)?;
                id
            }
            None => project_types.default_type()?.id,
        };
        let priority_id = match new_item.priority_id {
            Some(id) => workflow.priority(id)?.id,
            None => workflow.default_priority()?.id,
        };
        if let Some(assignee) = new_item.assignee_id {
            access.require(Permission::Work, "project")?;
            check_assignee(connection, &project, assignee)?;
        }
        if let Some(parent) = new_item.parent {
            tree::check_parent(connection, &project, None, parent)?;
        }
        if let Some(target) = new_item.target_version {
            if !access.allows(Permission::Work) {
                return Err(Error::forbidden("planning an item for a version needs the developer role in its project"));
            }
            version::check_target(connection, &project, target, None)?;
        }
        let labels = label::check_set(connection, &project, &new_item.labels)?;
        let mut assignee_id = new_item.assignee_id;
        if let Some(part) = new_item.component {
            let (_, default_assignee) = component::check(connection, &project, part)?;
            // Only while they are still an active member.
            if assignee_id.is_none()
                && let Some(default_assignee) = default_assignee
                && membership::is_active_member(connection, project.id, default_assignee)?
            {
                assignee_id = Some(default_assignee);
            }
        }
        let status_id = workflow.initial_status()?.id;
        let id: ItemId = diesel::insert_into(items::table)
            .values((
                items::project_id.eq(project.id),
                items::type_id.eq(type_id),
                items::status_id.eq(status_id),
                items::priority_id.eq(priority_id),
                items::title.eq(&title),
                items::description.eq(&description),
                items::reporter_id.eq(actor.id),
                items::assignee_id.eq(assignee_id),
                items::due_date.eq(new_item.due_date),
                items::parent_id.eq(new_item.parent),
                items::target_version_id.eq(new_item.target_version),
                items::component_id.eq(new_item.component),
            ))
            .returning(items::id)
            .get_result(connection)?;
        if !labels.is_empty() {
            label::replace(connection, id, &labels)?;
        }
        let catalog = Catalog::at(connection, &version)?;
        value::apply(
            connection,
            &catalog,
            id,
            Placement { project: &project, item_type: type_id, status: status_id },
            None,
            &new_item.fields,
        )?;
        watcher::add_quietly(connection, id, actor.id)?;
        if let Some(assignee) = assignee_id {
            watcher::add_quietly(connection, id, assignee)?;
        }
        enqueue_for_index(connection, id)?;
        let mentions = reference::new_mentions(
            connection,
            "description",
            project.id,
            actor,
            (&description, ""),
            new_item.unknown_logins,
        )?;
        // Whom the new item concerns is known: no need to read it back.
        let place = Place {
            item: id,
            reporter: actor.id,
            assignee: assignee_id,
            project: project.id,
            project_is_public: project.is_public,
        };
        notification::queue(connection, About::Created(place), actor.id, Event::Created, &[], &mentions.readers)?;
        Ok(id)
    })
}

pub fn get(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<ItemView> {
    let one = load_versioned(connection, id)?;
    Ok(checked_view(connection, actor, one)?.0)
}

/// `get` for the owner of a bearer token, who is read in the item's statement: a GET of an
/// item by id with a token, the API's most frequent request, costs one statement (on
/// PostgreSQL a second one would cost it nearly as much again). Refused (401) as
/// `auth::find_token_user` refuses, before an item that is not there is a 404.
pub fn get_with_token(connection: &mut DbConnection, secret: &str, id: ItemId) -> Result<ItemView> {
    let hash = auth::token_hash(secret).ok_or_else(auth::token_refused)?;
    let found: Option<fetched_row!(OwnParts, Option<User>)> = first_by_type!(
        connection,
        items::table
            .left_join(api_tokens::table.on(api_tokens::token_hash.eq(hash)))
            .left_join(users::table.on(users::id.eq(api_tokens::user_id).and(users::active.eq(true))))
            .filter(items::id.eq(id))
            .select(select_row!(columns, OWN_PARTS, Option::<User>::as_select()))
    )
    .optional()?;
    match found {
        Some((row, version, own, Some(actor))) => {
            Ok(checked_view(connection, &actor, OneRow::read((row, version, own))?)?.0)
        }
        Some((.., None)) => Err(auth::token_refused()),
        None => match auth::find_token_user(connection, secret)? {
            Some(_) => Err(not_found(id)),
            None => Err(auth::token_refused()),
        },
    }
}

/// An item as its page shows it: one access check for everything the page shows, and what
/// only the page needs read with the item's row.
pub struct PageItem {
    pub view: ItemView,
    pub permissions: ItemPermissions,
    /// The proof that the actor may see it.
    pub readable: ReadableItem,
    /// Of the definitions the item was read at.
    pub version: Version,
    /// Whether the actor watches it.
    pub watching: bool,
    /// Whether it has links, attachments, comments and recorded changes: the page reads none
    /// of what an item lacks (most items have no links or attachments, a new one nothing).
    pub linked: bool,
    pub attached: bool,
    pub commented: bool,
    pub changed: bool,
}

/// The item, what the actor may do with it and what its page shows of its own, in one
/// statement.
pub fn get_for_page(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<PageItem> {
    // Whether the actor watches it, whether it has links, attachments, comments, history.
    type PageRow = fetched_row!(OwnParts, bool, bool, bool, bool, bool);
    let found: PageRow = first_by_type!(
        connection,
        items::table.filter(items::id.eq(id)).select(select_row!(
            columns,
            OWN_PARTS,
            diesel::dsl::exists(
                watchers::table.filter(watchers::item_id.eq(items::id)).filter(watchers::user_id.eq(actor.id))
            ),
            link::AnyOfItem,
            attachment::AnyOfItem,
            comment::AnyOfItem,
            history::AnyOfItem
        ))
    )
    .optional()?
    .ok_or_else(|| not_found(id))?;
    let (row, version, own, watching, linked, attached, commented, changed) = found;
    let one = OneRow::read((row, version, own))?;
    let (view, permissions, readable, version) = checked_view(connection, actor, one)?;
    Ok(PageItem { view, permissions, readable, version, watching, linked, attached, commented, changed })
}

/// The view of an item read, once the actor may see it, with what the actor may do with it.
fn checked_view(
    connection: &mut DbConnection,
    actor: &User,
    one: OneRow,
) -> Result<(ItemView, ItemPermissions, ReadableItem, Version)> {
    let (id, project_id, version) = (one.row.id, one.row.project_id, one.version.clone());
    let (_, project_is_public) = Names::at(connection, &version)?.project(project_id)?;
    let access = Access::for_project(connection, actor, project_id, project_is_public)?;
    let readable = access.readable_item(id, project_id)?;
    let permissions = ItemPermissions::of(&access, one.row.reporter_id, actor);
    let view = one_view(connection, one)?;
    Ok((view, permissions, readable, version))
}

/// The views of those of the given items that exist and lie in the readable projects
/// (`None`: all, see `permission::readable_project_ids`), in no particular order.
pub fn readable_views(
    connection: &mut DbConnection,
    ids: &[ItemId],
    readable: Option<&[ProjectId]>,
) -> Result<Vec<ItemView>> {
    // One statement, prepared once for any number of ids (`any_id`); on SQLite one read
    // transaction takes the read lock once for it and the reads of the views.
    read_together(connection, |connection| {
        let rows: Vec<FetchedRow> = select_row!(items::table.filter(any_id(items::id, ids))).load(connection)?;
        let rows = rows
            .into_iter()
            .filter(|row| readable.is_none_or(|readable| readable.contains(&row.0.project_id)))
            .collect();
        into_views(connection, rows)
    })
}

fn user_label(connection: &mut DbConnection, id: Option<UserId>) -> Result<Option<String>> {
    id.map(|id| user::get(connection, id).map(|user| user.login)).transpose()
}

pub fn update(connection: &mut DbConnection, actor: &User, id: ItemId, changes: ItemUpdate) -> Result<ItemView> {
    let title = changes
        .title
        .as_deref()
        .map(|title| text::single_line("title", title, 1, text::MAX_TITLE_CHARS))
        .transpose()?;
    let description =
        changes.description.as_deref().map(|description| text::body("description", description, false)).transpose()?;
    check_due_date(changes.due_date.flatten())?;
    write_transaction(connection, |connection| {
        if matches!(changes.guard, Guard::Seen(_)) {
            // Compared field by field below, then written over the version read here.
            lock_row(connection, id)?;
        }
        let (current, project, access) = require_readable(connection, actor, id)?;
        let changes_workflow_or_people = changes.status_id.is_some()
            || changes.assignee_id.is_some()
            || changes.project.is_some()
            || changes.target_version.is_some();
        let permissions = ItemPermissions::of(&access, current.reporter_id, actor);
        let may_edit = permissions.work || (permissions.edit && !changes_workflow_or_people);
        if !may_edit {
            return Err(Error::forbidden(if permissions.contribute {
                "reporters may edit only the text, type, priority, due date, labels and component of items they reported"
            } else {
                "your role in this project does not allow editing items"
            }));
        }
        let expected_version = match &changes.guard {
            Guard::Version(sent) if *sent != current.version => {
                return Err(stale_version(id, current.version, *sent));
            }
            Guard::Version(sent) => *sent,
            Guard::Seen(_) => current.version,
        };
        let version = Version::read(connection)?;
        let workflow = Workflow::at(connection, &version)?;
        let mut field_changes: Vec<FieldChange> = Vec::new();
        let mut note = |field: &str, old_value: Option<String>, new_value: Option<String>| {
            if old_value != new_value {
                field_changes.push(FieldChange { field: field.to_string(), old_value, new_value });
            }
        };

        let new_title = title.clone().unwrap_or_else(|| current.title.clone());
        note("title", Some(current.title.clone()), Some(new_title.clone()));
        let new_description = description.clone().unwrap_or_else(|| current.description.clone());
        note("description", Some(current.description.clone()), Some(new_description.clone()));
        let moved_to = match &changes.project {
            Some(reference) => {
                Some(move_target(connection, actor, reference)?).filter(|target| target.id != project.id)
            }
            None => None,
        };
        let new_project = moved_to.as_ref().unwrap_or(&project);
        note("project", Some(project.key.clone()), Some(new_project.key.clone()));
        let new_type = changes.type_id.unwrap_or(current.type_id);
        if new_type != current.type_id || moved_to.is_some() {
            types::of_project(connection, new_project.id, &workflow)?.check(&new_project.key, new_type, &workflow)?;
        }
        note(
            "type",
            Some(workflow.item_type(current.type_id)?.name.clone()),
            Some(workflow.item_type(new_type)?.name.clone()),
        );
        let new_status = changes.status_id.unwrap_or(current.status_id);
        if new_status != current.status_id {
            workflow.check_transition(new_type, current.status_id, new_status)?;
            if workflow.status(new_status)?.is_closed && !workflow.status(current.status_id)?.is_closed {
                link::check_closable(connection, actor, id)?;
                tree::check_closable(connection, id)?;
            }
        }
        note(
            "status",
            Some(workflow.status(current.status_id)?.name.clone()),
            Some(workflow.status(new_status)?.name.clone()),
        );
        let new_priority = changes.priority_id.unwrap_or(current.priority_id);
        note(
            "priority",
            Some(workflow.priority(current.priority_id)?.name.clone()),
            Some(workflow.priority(new_priority)?.name.clone()),
        );
        let current_assignee = current.assignee_id;
        let new_assignee = changes.assignee_id.unwrap_or(current_assignee);
        if let Some(assignee) = new_assignee
            && (new_assignee != current_assignee || moved_to.is_some())
        {
            check_assignee(connection, new_project, assignee)?;
        }
        if new_assignee != current_assignee {
            let old_label = user_label(connection, current_assignee)?;
            let new_label = user_label(connection, new_assignee)?;
            note("assignee", old_label, new_label);
        }
        let new_due = changes.due_date.unwrap_or(current.due_date);
        note("due_date", current.due_date.map(|date| date.to_string()), new_due.map(|date| date.to_string()));
        // Sub-items stay in their parent's project: an item with children moves only without
        // them (counted under the structure lock, which a new child's parent check takes too),
        // and one that moves leaves its parent behind.
        if moved_to.is_some() {
            link::lock(connection)?;
            let children: i64 = items::table.filter(items::parent_id.eq(id)).count().get_result(connection)?;
            if children > 0 {
                return Err(Error::Conflict(format!(
                    "item {id} has {children} sub-item(s) in project {}: give them another parent or none first, then move it",
                    project.key
                )));
            }
        }
        let new_parent = match changes.parent {
            Some(parent) => parent,
            None if moved_to.is_some() => None,
            None => current.parent_id,
        };
        if let Some(parent) = new_parent
            && (new_parent != current.parent_id || moved_to.is_some())
        {
            tree::check_parent(connection, new_project, Some(id), parent)?;
        }
        note(
            "parent",
            current.parent_id.map(|parent| format!("#{parent}")),
            new_parent.map(|parent| format!("#{parent}")),
        );
        // A move keeps the target version only where the new project may use it, and drops
        // the labels and component, which belong to the old project.
        let new_version = match (changes.target_version, &moved_to) {
            (Some(target), _) => target,
            (None, Some(_)) => match current.target_version_id {
                Some(kept) => match version::check_target(connection, new_project, kept, Some(kept)) {
                    Ok(_) => Some(kept),
                    Err(Error::Invalid(_)) => None,
                    Err(error) => return Err(error),
                },
                None => None,
            },
            (None, None) => current.target_version_id,
        };
        if new_version != current.target_version_id {
            if let Some(target) = new_version {
                version::check_target(connection, new_project, target, current.target_version_id)?;
            }
            let named = version::names(
                connection,
                &[current.target_version_id, new_version].into_iter().flatten().collect::<Vec<_>>(),
            )?;
            let name_of = |id: Option<VersionId>| id.and_then(|id| named_ref(&named, id)).map(|found| found.name);
            note(version::HISTORY_FIELD, name_of(current.target_version_id), name_of(new_version));
        }
        let current_labels: Vec<LabelRef> =
            label::of_items(connection, &[id])?.into_iter().map(|(_, held)| held).collect();
        let new_labels = match &changes.labels {
            Some(ids) => label::check_set(connection, new_project, ids)?,
            None if moved_to.is_some() => Vec::new(),
            None => current_labels.clone(),
        };
        let labels_changed = new_labels != current_labels;
        if labels_changed {
            let change = label::change(&current_labels, &new_labels);
            note(&change.field, change.old_value, change.new_value);
        }
        let new_component = match changes.component {
            Some(part) => part,
            None if moved_to.is_some() => None,
            None => current.component_id,
        };
        if let Some(part) = new_component
            && (new_component != current.component_id || moved_to.is_some())
        {
            component::check(connection, new_project, part)?;
        }
        if new_component != current.component_id {
            let named = component::names(
                connection,
                &[current.component_id, new_component].into_iter().flatten().collect::<Vec<_>>(),
            )?;
            let name_of = |id: Option<ComponentId>| id.and_then(|id| named_ref(&named, id)).map(|found| found.name);
            note(component::HISTORY_FIELD, name_of(current.component_id), name_of(new_component));
        }
        let catalog = Catalog::at(connection, &version)?;
        field_changes.extend(value::apply(
            connection,
            &catalog,
            id,
            Placement { project: new_project, item_type: new_type, status: new_status },
            Some(Placement { project: &project, item_type: current.type_id, status: current.status_id }),
            &changes.fields,
        )?);

        if let Guard::Seen(seen) = &changes.guard {
            check_seen(connection, id, seen, &field_changes)?;
        }
        if field_changes.is_empty() {
            return load_view(connection, id);
        }
        let updated = diesel::update(items::table.filter(items::id.eq(id)).filter(items::version.eq(expected_version)))
            .set((
                items::project_id.eq(new_project.id),
                items::title.eq(&new_title),
                items::description.eq(&new_description),
                items::type_id.eq(new_type),
                items::status_id.eq(new_status),
                items::priority_id.eq(new_priority),
                items::assignee_id.eq(new_assignee),
                items::due_date.eq(new_due),
                items::parent_id.eq(new_parent),
                items::target_version_id.eq(new_version),
                items::component_id.eq(new_component),
                items::version.eq(items::version + 1),
                items::updated_at.eq(diesel::dsl::now),
            ))
            .execute(connection)?;
        if updated == 0 {
            let now_version = load_row(connection, id)?.version;
            return Err(stale_version(id, now_version, expected_version));
        }
        if labels_changed {
            label::replace(connection, id, &new_labels)?;
        }
        history::record(connection, id, actor.id, &field_changes)?;
        if let Some(assignee) = new_assignee.filter(|assignee| Some(*assignee) != current_assignee) {
            watcher::add_quietly(connection, id, assignee)?;
        }
        let notable = notification::notable(&field_changes, &catalog);
        let mentions = reference::new_mentions(
            connection,
            "description",
            new_project.id,
            actor,
            (&new_description, &current.description),
            UnknownLogins::Refuse,
        )?;
        notification::queue(connection, About::Item(id), actor.id, Event::Changed, &notable, &mentions.readers)?;
        enqueue_for_index(connection, id)?;
        load_view(connection, id)
    })
}

/// The project an item moves to: one where the actor may work on items. A project they
/// cannot see is refused as unknown, naming the field.
fn move_target(connection: &mut DbConnection, actor: &User, reference: &ProjectKeyOrId) -> Result<Project> {
    match project::get_with(connection, actor, reference, Permission::Work) {
        Ok((target, _)) => Ok(target),
        Err(Error::NotFound(_)) => {
            Err(Error::invalid("project", format!("there is no project {reference} you can see to move the item to")))
        }
        Err(Error::Forbidden(_)) => Err(Error::forbidden(format!(
            "your role in project {reference} does not allow moving items into it (needs developer)"
        ))),
        Err(error) => Err(error),
    }
}

fn stale_version(id: ItemId, current: i32, sent: i32) -> Error {
    Error::Conflict(format!(
        "item {id} was changed by someone else (it is at version {current}, you sent {sent}): reload it and apply your change again"
    ))
}

/// Locks the item's row until the transaction ends (PostgreSQL; SQLite's writer holds the
/// whole file already).
fn lock_row(connection: &mut DbConnection, id: ItemId) -> Result<()> {
    lock_rows(connection, &[id])
}

/// Locks the rows of these items until the transaction ends, in the order of their ids
/// (PostgreSQL; SQLite's writer holds the whole file already). A change to the values or
/// labels of many items takes these first: the triggers that refresh what each item's row
/// keeps of them lock the rows too, and an edit of one of the items locks its row before its
/// values, so the other order could deadlock with it.
pub fn lock_rows<I: Copy + Into<i64>>(connection: &mut DbConnection, ids: &[I]) -> Result<()> {
    let dialect = Dialect::of(connection);
    let lock = dialect.row_lock(RowLock::NoKeyUpdate);
    if !lock.is_empty() && !ids.is_empty() {
        // The ids as an array's text: the statement is PostgreSQL's alone, but the connection
        // binds for both backends.
        let array = format!("{{{}}}", ids.iter().map(|&id| id.into().to_string()).collect::<Vec<_>>().join(","));
        dialect
            .query(&format!("SELECT 1 FROM items WHERE id = ANY(CAST(? AS BIGINT[])) ORDER BY id{lock}"))
            .bind::<diesel::sql_types::Text, _>(array)
            .execute(connection)?;
    }
    Ok(())
}

/// Refuses a change of a field whose value someone else changed since the writer saw it,
/// naming who changed it, when, and to what. A field set to the value already there is no
/// conflict, whatever was seen.
fn check_seen(
    connection: &mut DbConnection,
    id: ItemId,
    seen: &[(String, Option<String>)],
    changes: &[FieldChange],
) -> Result<()> {
    for (field, saw) in seen {
        let Some(change) = changes.iter().find(|change| &change.field == field) else { continue };
        if change.old_value == *saw {
            continue;
        }
        let words = |value: &Option<String>| value.as_deref().map_or("none".to_string(), |text| format!("{text:?}"));
        let by = match history::last_change(connection, id, field)? {
            Some((login, at)) => format!(" by {login} at {} UTC", at.format("%Y-%m-%d %H:%M:%S")),
            None => String::new(),
        };
        return Err(Error::Conflict(format!(
            "{field} of item {id} was changed to {}{by} since you saw {}: nothing was saved; to apply yours, send it again with {field} seen as {}",
            words(&change.old_value),
            words(saw),
            words(&change.old_value),
        )));
    }
    Ok(())
}

/// Marks the item as changed (a comment or attachment was added) without a new version.
pub fn touch(connection: &mut DbConnection, id: ItemId) -> Result<()> {
    diesel::update(items::table.find(id)).set(items::updated_at.eq(diesel::dsl::now)).execute(connection)?;
    enqueue_for_index(connection, id)
}

/// Statuses the actor may move the item to now.
pub fn allowed_statuses(connection: &mut DbConnection, actor: &User, id: ItemId) -> Result<Vec<StatusRef>> {
    let (row, _, access) = require_readable(connection, actor, id)?;
    let workflow = Workflow::load(connection)?;
    Ok(moves_from(&workflow, ItemPermissions::of(&access, row.reporter_id, actor), row.type_id, row.status_id))
}

/// The statuses an item of this type in `from` may move to, for someone with these
/// permissions.
pub fn moves_from(
    workflow: &Workflow,
    permissions: ItemPermissions,
    item_type: TypeId,
    from: StatusId,
) -> Vec<StatusRef> {
    if !permissions.work {
        return Vec::new();
    }
    workflow
        .next_statuses(item_type, from)
        .into_iter()
        .map(|status| StatusRef { id: status.id, name: status.name.clone(), is_closed: status.is_closed })
        .collect()
}
