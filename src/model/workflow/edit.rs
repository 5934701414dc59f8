//! Administrators edit the workflow: create, rename, reorder and delete item types, statuses
//! and priorities; mark statuses closed or open; set which status may follow which, in the
//! global matrix or in an item type's own.
//!
//! Rules: names are trimmed, 1-60 characters and unique within their list without regard to
//! case (a duplicate is a conflict). A type, status or priority that items use cannot be
//! deleted, nor can the last one of its list. Positions stay 1..n in each list, and the first
//! status is where new items start. Marking a status closed or open re-queues every item in
//! it for the search index (which stores a closed flag per item) in the same transaction.
//! Every change is logged.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{
    index_queue, item_totals, item_types, items, project_types, projects, statuses, transitions, type_transitions,
};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{PriorityId, ProjectId, StatusId, TypeId};
use crate::model::text;
use crate::model::user::User;
use crate::model::workflow::{ItemType, Priority, Status, Transition, Workflow};

/// Longest name of a type, status or priority, in characters.
pub const MAX_NAME_CHARS: usize = 60;

/// How long an edit waits for its list's lock on PostgreSQL.
const LOCK_WAIT_SECONDS: u32 = 5;

/// The three lists administrators edit alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ItemType,
    Status,
    Priority,
}

impl Kind {
    /// The name of one entry, for messages: "item type", "status", "priority".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::ItemType => "item type",
            Kind::Status => "status",
            Kind::Priority => "priority",
        }
    }

    /// The name of the list in URLs: `types`, `statuses`, `priorities`.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::ItemType => "types",
            Kind::Status => "statuses",
            Kind::Priority => "priorities",
        }
    }

    /// The name of the list, for messages: "item types", "statuses", "priorities".
    pub fn plural(self) -> &'static str {
        match self {
            Kind::ItemType => "item types",
            Kind::Status => "statuses",
            Kind::Priority => "priorities",
        }
    }

    /// With its article, for messages: "an item type", "a status", "a priority".
    pub fn a_noun(self) -> &'static str {
        match self {
            Kind::ItemType => "an item type",
            Kind::Status => "a status",
            Kind::Priority => "a priority",
        }
    }

    fn table_name(self) -> &'static str {
        match self {
            Kind::ItemType => "item_types",
            Kind::Status => "statuses",
            Kind::Priority => "priorities",
        }
    }

    pub fn from_segment(segment: &str) -> Option<Kind> {
        [Kind::ItemType, Kind::Status, Kind::Priority].into_iter().find(|kind| kind.segment() == segment)
    }

    /// The list a URL names; 404 naming the lists otherwise.
    pub fn parse(segment: &str) -> Result<Kind> {
        Kind::from_segment(segment).ok_or_else(|| {
            Error::not_found(format!("workflow list {segment:?} (the lists are types, statuses and priorities)"))
        })
    }
}

/// One entry of one list, by its typed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRef {
    ItemType(TypeId),
    Status(StatusId),
    Priority(PriorityId),
}

impl EntryRef {
    pub fn new(kind: Kind, id: i64) -> EntryRef {
        match kind {
            Kind::ItemType => EntryRef::ItemType(TypeId(id)),
            Kind::Status => EntryRef::Status(StatusId(id)),
            Kind::Priority => EntryRef::Priority(PriorityId(id)),
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            EntryRef::ItemType(_) => Kind::ItemType,
            EntryRef::Status(_) => Kind::Status,
            EntryRef::Priority(_) => Kind::Priority,
        }
    }

    fn raw_id(self) -> i64 {
        match self {
            EntryRef::ItemType(id) => id.0,
            EntryRef::Status(id) => id.0,
            EntryRef::Priority(id) => id.0,
        }
    }
}

/// An entry as `GET /api/v1/workflow` shows it in its list.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Entry {
    ItemType(ItemType),
    Status(Status),
    Priority(Priority),
}

impl Entry {
    pub fn id(&self) -> i64 {
        match self {
            Entry::ItemType(item_type) => item_type.id.0,
            Entry::Status(status) => status.id.0,
            Entry::Priority(priority) => priority.id.0,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Entry::ItemType(item_type) => &item_type.name,
            Entry::Status(status) => &status.name,
            Entry::Priority(priority) => &priority.name,
        }
    }
}

/// A new entry; it is added at the end of its list.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub name: String,
    /// Statuses only.
    pub is_closed: Option<bool>,
}

/// Changes to an entry; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EntryUpdate {
    pub name: Option<String>,
    /// 1 is the first place; the others move up or down to make room.
    pub position: Option<i32>,
    /// Statuses only.
    pub is_closed: Option<bool>,
}

/// The statuses an item in `from` may move to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MovesFrom {
    pub from: StatusId,
    pub to: Vec<StatusId>,
}

/// Runs `$body` with `$table` naming the schema module of the kind's table.
macro_rules! with_table {
    ($kind:expr, |$table:ident| $body:expr) => {
        match $kind {
            Kind::ItemType => {
                use crate::db::schema::item_types as $table;
                $body
            }
            Kind::Status => {
                use crate::db::schema::statuses as $table;
                $body
            }
            Kind::Priority => {
                use crate::db::schema::priorities as $table;
                $body
            }
        }
    };
}

/// Runs `$body` with `$used_by` the column of `items` that refers to the kind's entries.
macro_rules! with_items_column {
    ($kind:expr, |$used_by:ident| $body:expr) => {
        match $kind {
            Kind::ItemType => {
                let $used_by = items::type_id;
                $body
            }
            Kind::Status => {
                let $used_by = items::status_id;
                $body
            }
            Kind::Priority => {
                let $used_by = items::priority_id;
                $body
            }
        }
    };
}

fn require_admin(actor: &User) -> Result<()> {
    if actor.is_admin { Ok(()) } else { Err(Error::forbidden("only administrators change the workflow")) }
}

/// Serializes the edits of one list on PostgreSQL, so that what an edit checked (no other
/// entry has the name, no item uses the entry, the positions) still holds when it commits.
/// EXCLUSIVE lets everyone read the list; creating or moving an item, which takes a key-share
/// lock on the entry it refers to, waits the milliseconds the edit takes. SQLite's write
/// transactions (`BEGIN IMMEDIATE`) are serialized already. The wait is bounded, so an edit
/// behind a stuck transaction fails instead of holding its connection.
fn lock_list(connection: &mut DbConnection, kind: Kind) -> Result<()> {
    if let DbConnection::Postgresql(inner) = connection {
        let table = kind.table_name();
        inner
            .batch_execute(&format!(
                "SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'; LOCK TABLE {table} IN EXCLUSIVE MODE"
            ))
            .map_err(|error| {
                Error::Unavailable(format!(
                    "the {} could not be locked for the change within {LOCK_WAIT_SECONDS} s ({error}); try again",
                    kind.plural()
                ))
            })?;
    }
    Ok(())
}

fn parse_name(name: &str) -> Result<String> {
    text::single_line("name", name, 1, MAX_NAME_CHARS)
}

fn check_closed_flag(kind: Kind, is_closed: Option<bool>) -> Result<()> {
    if is_closed.is_some() && kind != Kind::Status {
        return Err(Error::invalid("is_closed", format!("only statuses are open or closed, not {}", kind.a_noun())));
    }
    Ok(())
}

/// (id, name, position) of a list, in order.
pub fn listing(workflow: &Workflow, kind: Kind) -> Vec<(i64, &str, i32)> {
    match kind {
        Kind::ItemType => {
            workflow.types.iter().map(|entry| (entry.id.0, entry.name.as_str(), entry.position)).collect()
        }
        Kind::Status => {
            workflow.statuses.iter().map(|entry| (entry.id.0, entry.name.as_str(), entry.position)).collect()
        }
        Kind::Priority => {
            workflow.priorities.iter().map(|entry| (entry.id.0, entry.name.as_str(), entry.position)).collect()
        }
    }
}

pub fn entry_of(workflow: &Workflow, entry: EntryRef) -> Option<Entry> {
    match entry {
        EntryRef::ItemType(id) => workflow.types.iter().find(|found| found.id == id).cloned().map(Entry::ItemType),
        EntryRef::Status(id) => workflow.statuses.iter().find(|found| found.id == id).cloned().map(Entry::Status),
        EntryRef::Priority(id) => workflow.priorities.iter().find(|found| found.id == id).cloned().map(Entry::Priority),
    }
}

fn not_found(entry: EntryRef) -> Error {
    Error::not_found(format!("{} {}", entry.kind().noun(), entry.raw_id()))
}

fn load_entry(connection: &mut DbConnection, entry: EntryRef) -> Result<Entry> {
    entry_of(&Workflow::load(connection)?, entry).ok_or_else(|| not_found(entry))
}

/// A conflict when another entry of the list (not `except`) has the name, in any case.
fn check_unique(kind: Kind, listed: &[(i64, &str, i32)], name: &str, except: Option<i64>) -> Result<()> {
    let wanted = name.to_lowercase();
    match listed.iter().find(|(id, existing, _)| Some(*id) != except && existing.to_lowercase() == wanted) {
        Some((_, existing, _)) => {
            Err(Error::Conflict(format!("there is already {} named {existing:?}", kind.a_noun())))
        }
        None => Ok(()),
    }
}

/// Gives the ids positions 1..n in this order, writing only those that change.
fn renumber(connection: &mut DbConnection, kind: Kind, ordered: &[(i64, i32)]) -> Result<()> {
    for (index, (id, position)) in ordered.iter().enumerate() {
        let wanted = i32::try_from(index + 1).map_err(|error| Error::internal("renumbering the workflow", error))?;
        if *position != wanted {
            with_table!(kind, |table| diesel::update(table::table.find(*id))
                .set(table::position.eq(wanted))
                .execute(connection))?;
        }
    }
    Ok(())
}

fn log_change(actor: &User, kind: Kind, id: i64, name: &str, change: &str) {
    tracing::info!(actor = %actor.login, kind = kind.noun(), id, name, change, "workflow changed");
}

/// Adds an entry at the end of its list.
pub fn create(connection: &mut DbConnection, actor: &User, kind: Kind, new_entry: NewEntry) -> Result<Entry> {
    require_admin(actor)?;
    let name = parse_name(&new_entry.name)?;
    check_closed_flag(kind, new_entry.is_closed)?;
    let is_closed = new_entry.is_closed.unwrap_or(false);
    let created = write_transaction(connection, |connection| {
        lock_list(connection, kind)?;
        let workflow = Workflow::load(connection)?;
        let listed = listing(&workflow, kind);
        check_unique(kind, &listed, &name, None)?;
        let position = listed.iter().map(|(_, _, position)| *position).max().unwrap_or(0) + 1;
        let id: i64 = with_table!(kind, |table| diesel::insert_into(table::table)
            .values((table::name.eq(&name), table::position.eq(position)))
            .returning(table::id)
            .get_result(connection))?;
        if is_closed {
            diesel::update(statuses::table.find(id)).set(statuses::is_closed.eq(true)).execute(connection)?;
        }
        load_entry(connection, EntryRef::new(kind, id))
    })?;
    let change = if is_closed { "created (closed)" } else { "created" };
    log_change(actor, kind, created.id(), created.name(), change);
    Ok(created)
}

/// Renames, moves, or (statuses) opens or closes an entry.
pub fn update(connection: &mut DbConnection, actor: &User, entry: EntryRef, changes: EntryUpdate) -> Result<Entry> {
    require_admin(actor)?;
    let kind = entry.kind();
    let id = entry.raw_id();
    let name = changes.name.as_deref().map(parse_name).transpose()?;
    check_closed_flag(kind, changes.is_closed)?;
    let (updated, changed) = write_transaction(connection, |connection| {
        lock_list(connection, kind)?;
        let workflow = Workflow::load(connection)?;
        let current = entry_of(&workflow, entry).ok_or_else(|| not_found(entry))?;
        let listed = listing(&workflow, kind);
        let mut changed: Vec<String> = Vec::new();
        if let Some(name) = name.as_deref().filter(|name| *name != current.name()) {
            check_unique(kind, &listed, name, Some(id))?;
            with_table!(kind, |table| diesel::update(table::table.find(id))
                .set(table::name.eq(name))
                .execute(connection))?;
            changed.push(format!("renamed from {:?} to {name:?}", current.name()));
        }
        if let Some(position) = changes.position {
            let index = place_index(kind, position, listed.len())?;
            let mut ordered: Vec<(i64, i32)> = listed.iter().map(|(id, _, position)| (*id, *position)).collect();
            let from = ordered.iter().position(|(listed_id, _)| *listed_id == id).ok_or_else(|| not_found(entry))?;
            if from != index {
                let moving = ordered.remove(from);
                ordered.insert(index, moving);
                changed.push(format!("moved from place {} to place {position}", from + 1));
            }
            renumber(connection, kind, &ordered)?;
        }
        if let (Some(is_closed), Entry::Status(status)) = (changes.is_closed, &current)
            && status.is_closed != is_closed
        {
            diesel::update(statuses::table.find(id)).set(statuses::is_closed.eq(is_closed)).execute(connection)?;
            let requeued = requeue_items_in_status(connection, status.id)?;
            changed.push(format!(
                "now {}; {requeued} items queued for the search index",
                if is_closed { "closed" } else { "open" }
            ));
        }
        Ok((load_entry(connection, entry)?, changed))
    })?;
    for change in &changed {
        log_change(actor, kind, id, updated.name(), change);
    }
    Ok(updated)
}

/// (id, number of items) of every entry of the list that items use.
pub fn items_per_entry(connection: &mut DbConnection, kind: Kind) -> Result<Vec<(i64, i64)>> {
    Ok(with_items_column!(kind, |used_by| items::table
        .group_by(used_by)
        .select((used_by, diesel::dsl::count_star()))
        .load(connection))?)
}

/// The index in a list of `count` entries of the place `position` (1 is the first).
fn place_index(kind: Kind, position: i32, count: usize) -> Result<usize> {
    match usize::try_from(position) {
        Ok(place) if (1..=count).contains(&place) => Ok(place - 1),
        _ => Err(Error::invalid("position", format!("must be between 1 and {count}, the number of {}", kind.plural()))),
    }
}

/// Queues every item in the status for the search index, in one statement.
fn requeue_items_in_status(connection: &mut DbConnection, status: StatusId) -> Result<usize> {
    Ok(diesel::insert_into(index_queue::table)
        .values(items::table.filter(items::status_id.eq(status)).select(items::id))
        .into_columns(index_queue::item_id)
        .execute(connection)?)
}

/// Deletes an entry that no item uses and that is not the last of its list.
pub fn delete(connection: &mut DbConnection, actor: &User, entry: EntryRef) -> Result<()> {
    require_admin(actor)?;
    let kind = entry.kind();
    let id = entry.raw_id();
    let deleted = write_transaction(connection, |connection| {
        lock_list(connection, kind)?;
        let workflow = Workflow::load(connection)?;
        let current = entry_of(&workflow, entry).ok_or_else(|| not_found(entry))?;
        let listed = listing(&workflow, kind);
        if listed.len() == 1 {
            return Err(Error::Conflict(format!(
                "{:?} is the only {}; the workflow needs at least one, so add another before deleting it",
                current.name(),
                kind.noun()
            )));
        }
        let in_use: i64 =
            with_items_column!(kind, |used_by| items::table.filter(used_by.eq(id)).count().get_result(connection))?;
        if in_use > 0 {
            let (items_have, them) = if in_use == 1 { ("item has", "it") } else { ("items have", "them") };
            let noun = kind.noun();
            return Err(Error::Conflict(format!(
                "{in_use} {items_have} the {noun} {:?}; move {them} to another {noun} first, then delete the {noun}",
                current.name()
            )));
        }
        if kind == Kind::ItemType {
            refuse_last_type_of_a_project(connection, TypeId(id), current.name())?;
        }
        with_table!(kind, |table| diesel::delete(table::table.find(id)).execute(connection))?;
        if kind == Kind::Status {
            // The moves from and to it go with it (ON DELETE CASCADE); its item totals are all zero.
            diesel::delete(item_totals::table.filter(item_totals::status_id.eq(id))).execute(connection)?;
        }
        let remaining: Vec<(i64, i32)> = listed
            .iter()
            .filter(|(listed_id, _, _)| *listed_id != id)
            .map(|(listed_id, _, position)| (*listed_id, *position))
            .collect();
        renumber(connection, kind, &remaining)?;
        Ok(current)
    })?;
    log_change(actor, kind, id, deleted.name(), "deleted");
    Ok(())
}

/// A project that chose its item types keeps at least one: the type cannot go while it is
/// the only one a project uses.
fn refuse_last_type_of_a_project(connection: &mut DbConnection, type_id: TypeId, name: &str) -> Result<()> {
    let chosen_by: Vec<ProjectId> = project_types::table
        .filter(project_types::type_id.eq(type_id))
        .select(project_types::project_id)
        .load(connection)?;
    for project in chosen_by {
        let types: i64 =
            project_types::table.filter(project_types::project_id.eq(project)).count().get_result(connection)?;
        if types == 1 {
            let key: String = projects::table.find(project).select(projects::key).get_result(connection)?;
            return Err(Error::Conflict(format!(
                "{name:?} is the only item type of project {key}; give the project another type first"
            )));
        }
    }
    Ok(())
}

/// Checks that a move exists in the workflow's statuses and is not a status to itself.
fn check_move(workflow: &Workflow, field: &str, from: StatusId, to: StatusId) -> Result<()> {
    for id in [from, to] {
        if !workflow.statuses.iter().any(|status| status.id == id) {
            return Err(Error::invalid(field, format!("there is no status {id}")));
        }
    }
    if from == to {
        let name = workflow.status(from).map(|status| status.name.clone())?;
        return Err(Error::invalid(field, format!("a status cannot move to itself ({name} → {name})")));
    }
    Ok(())
}

/// Adds moves to the global matrix or to a type's own.
fn insert_moves(connection: &mut DbConnection, matrix: Matrix, moves: &[(StatusId, StatusId)]) -> Result<()> {
    for (from, to) in moves {
        match matrix {
            Matrix::Global => diesel::insert_into(transitions::table)
                .values((transitions::from_status_id.eq(from), transitions::to_status_id.eq(to)))
                .execute(connection)?,
            Matrix::Type(type_id) => diesel::insert_into(type_transitions::table)
                .values((
                    type_transitions::type_id.eq(type_id),
                    type_transitions::from_status_id.eq(from),
                    type_transitions::to_status_id.eq(to),
                ))
                .execute(connection)?,
        };
    }
    Ok(())
}

fn describe_moves(workflow: &Workflow, moves: &[(StatusId, StatusId)]) -> String {
    let named: Vec<String> = moves
        .iter()
        .map(|(from, to)| {
            let name = |id: StatusId| workflow.status(id).map(|status| status.name.clone()).unwrap_or_default();
            format!("{} → {}", name(*from), name(*to))
        })
        .collect();
    if named.is_empty() { "none".to_string() } else { named.join(", ") }
}

/// Replaces the statuses an item in `from` may move to.
pub fn set_moves_from(
    connection: &mut DbConnection,
    actor: &User,
    from: StatusId,
    to: &[StatusId],
) -> Result<MovesFrom> {
    require_admin(actor)?;
    let (moves_from, from_name, description) = write_transaction(connection, |connection| {
        // The moves refer to statuses: no status may be deleted meanwhile, and the statuses'
        // lock serializes the edits of the moves too.
        lock_list(connection, Kind::Status)?;
        let workflow = Workflow::load(connection)?;
        let from_name = workflow.status(from).map_err(|_| not_found(EntryRef::Status(from)))?.name.clone();
        let mut moves: Vec<(StatusId, StatusId)> = Vec::with_capacity(to.len());
        for target in to {
            check_move(&workflow, "to", from, *target)?;
            if !moves.iter().any(|(_, listed)| listed == target) {
                moves.push((from, *target));
            }
        }
        diesel::delete(transitions::table.filter(transitions::from_status_id.eq(from))).execute(connection)?;
        insert_moves(connection, Matrix::Global, &moves)?;
        let updated = Workflow::load(connection)?;
        let to = updated
            .statuses
            .iter()
            .filter(|status| {
                updated.transitions.contains(&Transition { from_status_id: from, to_status_id: status.id })
            })
            .map(|status| status.id)
            .collect();
        Ok((MovesFrom { from, to }, from_name, describe_moves(&workflow, &moves)))
    })?;
    log_change(actor, Kind::Status, from.0, &from_name, &format!("allowed moves set to: {description}"));
    Ok(moves_from)
}

/// Which matrix of moves an edit changes: the global one, or an item type's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Global,
    Type(TypeId),
}

/// Replaces every allowed move between the given statuses (the ones an administrator saw in
/// the page's matrix), keeping moves to and from any status added meanwhile. Editing the
/// matrix of a type that follows the global one gives the type its own, starting from a copy
/// of the global moves. Returns the moves of the matrix now.
pub fn set_moves_among(
    connection: &mut DbConnection,
    actor: &User,
    matrix: Matrix,
    shown: &[StatusId],
    allowed: &[Transition],
) -> Result<Vec<Transition>> {
    require_admin(actor)?;
    let (transitions, whose, description) = write_transaction(connection, |connection| {
        // The moves refer to statuses (and types): the statuses' lock serializes the edits.
        lock_list(connection, Kind::Status)?;
        let workflow = Workflow::load(connection)?;
        let whose = match matrix {
            Matrix::Global => "every item type".to_string(),
            Matrix::Type(type_id) => {
                workflow.item_type(type_id).map_err(|_| not_found(EntryRef::ItemType(type_id)))?.name.clone()
            }
        };
        let shown: Vec<StatusId> =
            shown.iter().copied().filter(|id| workflow.statuses.iter().any(|status| status.id == *id)).collect();
        let mut moves: Vec<(StatusId, StatusId)> = Vec::with_capacity(allowed.len());
        for transition in allowed {
            let (from, to) = (transition.from_status_id, transition.to_status_id);
            check_move(&workflow, "moves", from, to)?;
            if !shown.contains(&from) || !shown.contains(&to) {
                return Err(Error::invalid("moves", format!("status {from} or {to} was not part of the matrix")));
            }
            if !moves.contains(&(from, to)) {
                moves.push((from, to));
            }
        }
        match matrix {
            Matrix::Global => {
                diesel::delete(
                    transitions::table
                        .filter(transitions::from_status_id.eq_any(&shown))
                        .filter(transitions::to_status_id.eq_any(&shown)),
                )
                .execute(connection)?;
                insert_moves(connection, matrix, &moves)?;
            }
            Matrix::Type(type_id) => {
                if !workflow.item_type(type_id)?.own_transitions {
                    let global: Vec<(StatusId, StatusId)> = workflow
                        .transitions
                        .iter()
                        .map(|transition| (transition.from_status_id, transition.to_status_id))
                        .collect();
                    insert_moves(connection, matrix, &global)?;
                    diesel::update(item_types::table.find(type_id))
                        .set(item_types::own_transitions.eq(true))
                        .execute(connection)?;
                }
                diesel::delete(
                    type_transitions::table
                        .filter(type_transitions::type_id.eq(type_id))
                        .filter(type_transitions::from_status_id.eq_any(&shown))
                        .filter(type_transitions::to_status_id.eq_any(&shown)),
                )
                .execute(connection)?;
                insert_moves(connection, matrix, &moves)?;
            }
        }
        let updated = Workflow::load(connection)?;
        let now = match matrix {
            Matrix::Global => updated.transitions,
            Matrix::Type(type_id) => updated.moves_of(type_id),
        };
        Ok((now, whose, describe_moves(&workflow, &moves)))
    })?;
    tracing::info!(actor = %actor.login, of = %whose, moves = %description, "workflow changed: allowed moves replaced");
    Ok(transitions)
}

/// Returns an item type to the global matrix, dropping its own moves.
pub fn follow_global_moves(connection: &mut DbConnection, actor: &User, type_id: TypeId) -> Result<ItemType> {
    require_admin(actor)?;
    let item_type = write_transaction(connection, |connection| {
        lock_list(connection, Kind::Status)?;
        let workflow = Workflow::load(connection)?;
        let mut item_type = workflow.item_type(type_id).map_err(|_| not_found(EntryRef::ItemType(type_id)))?.clone();
        diesel::delete(type_transitions::table.filter(type_transitions::type_id.eq(type_id))).execute(connection)?;
        diesel::update(item_types::table.find(type_id))
            .set(item_types::own_transitions.eq(false))
            .execute(connection)?;
        item_type.own_transitions = false;
        Ok(item_type)
    })?;
    log_change(actor, Kind::ItemType, type_id.0, &item_type.name, "follows the global moves again");
    Ok(item_type)
}
