//! The workflow vocabulary: item types, statuses (some of them closed), priorities, and
//! which status may follow which. Seeded by the first migration with
//! New → In progress → Resolved → Closed, Rejected, and reopening; administrators change it
//! through `edit`. The moves are one global matrix, unless an item type has its own
//! (`own_transitions`): an item moves by the matrix of its own type.

pub mod edit;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::db::schema::{item_types, priorities, statuses, transitions, type_transitions};
use crate::error::{Error, Result};
use crate::model::definitions::{Version, Versioned};
use crate::model::ids::{PriorityId, StatusId, TypeId};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = item_types)]
pub struct ItemType {
    pub id: TypeId,
    pub name: String,
    pub position: i32,
    /// Moves by its own matrix (`Workflow::type_transitions`) instead of the global one.
    pub own_transitions: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = statuses)]
pub struct Status {
    pub id: StatusId,
    pub name: String,
    pub is_closed: bool,
    pub position: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = priorities)]
pub struct Priority {
    pub id: PriorityId,
    pub name: String,
    pub position: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, PartialEq, Eq)]
#[diesel(table_name = transitions)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    #[serde(rename = "from")]
    pub from_status_id: StatusId,
    #[serde(rename = "to")]
    pub to_status_id: StatusId,
}

/// A move of an item type that has its own matrix.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = type_transitions)]
pub struct TypeTransition {
    #[serde(rename = "type")]
    pub type_id: TypeId,
    #[serde(rename = "from")]
    pub from_status_id: StatusId,
    #[serde(rename = "to")]
    pub to_status_id: StatusId,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub types: Vec<ItemType>,
    pub statuses: Vec<Status>,
    pub priorities: Vec<Priority>,
    /// The global matrix, for every type without its own.
    pub transitions: Vec<Transition>,
    /// The matrices of the types with `own_transitions`.
    pub type_transitions: Vec<TypeTransition>,
}

static WORKFLOW: Versioned<Workflow> = Versioned::empty();

impl Workflow {
    /// The workflow as the database holds it now: one small query while it has not changed
    /// since this process last read it (see `model::definitions`).
    pub fn load(connection: &mut DbConnection) -> Result<Workflow> {
        Ok(Workflow::clone(&*WORKFLOW.current(connection, Workflow::read)?))
    }

    /// The workflow at a version the caller read, shared (not copied).
    pub fn at(connection: &mut DbConnection, version: &Version) -> Result<std::sync::Arc<Workflow>> {
        WORKFLOW.at(connection, version, Workflow::read)
    }

    /// The statuses that are closed (`true`) or open (`false`).
    pub fn statuses_closed(&self, closed: bool) -> Vec<StatusId> {
        self.statuses.iter().filter(|status| status.is_closed == closed).map(|status| status.id).collect()
    }

    fn read(connection: &mut DbConnection) -> Result<Workflow> {
        Ok(Workflow {
            types: item_types::table
                .order(item_types::position.asc())
                .select(ItemType::as_select())
                .load(connection)?,
            statuses: statuses::table.order(statuses::position.asc()).select(Status::as_select()).load(connection)?,
            priorities: priorities::table
                .order(priorities::position.asc())
                .select(Priority::as_select())
                .load(connection)?,
            transitions: transitions::table.select(Transition::as_select()).load(connection)?,
            type_transitions: type_transitions::table.select(TypeTransition::as_select()).load(connection)?,
        })
    }

    /// The moves an item of this type may make: its type's own, or the global matrix.
    pub fn moves_of(&self, item_type: TypeId) -> Vec<Transition> {
        match self.types.iter().find(|candidate| candidate.id == item_type) {
            Some(found) if found.own_transitions => self
                .type_transitions
                .iter()
                .filter(|transition| transition.type_id == item_type)
                .map(|transition| Transition {
                    from_status_id: transition.from_status_id,
                    to_status_id: transition.to_status_id,
                })
                .collect(),
            _ => self.transitions.clone(),
        }
    }

    pub fn item_type(&self, id: TypeId) -> Result<&ItemType> {
        self.types
            .iter()
            .find(|item_type| item_type.id == id)
            .ok_or_else(|| Error::invalid("type_id", format!("there is no item type {id}")))
    }

    pub fn status(&self, id: StatusId) -> Result<&Status> {
        self.statuses
            .iter()
            .find(|status| status.id == id)
            .ok_or_else(|| Error::invalid("status_id", format!("there is no status {id}")))
    }

    pub fn priority(&self, id: PriorityId) -> Result<&Priority> {
        self.priorities
            .iter()
            .find(|priority| priority.id == id)
            .ok_or_else(|| Error::invalid("priority_id", format!("there is no priority {id}")))
    }

    /// New items start in the first status.
    pub fn initial_status(&self) -> Result<&Status> {
        self.statuses.first().ok_or_else(|| Error::Unavailable("the workflow has no statuses".into()))
    }

    pub fn default_type(&self) -> Result<&ItemType> {
        self.types.first().ok_or_else(|| Error::Unavailable("the workflow has no item types".into()))
    }

    /// "Normal" when it exists, else the middle priority.
    pub fn default_priority(&self) -> Result<&Priority> {
        self.priorities
            .iter()
            .find(|priority| priority.name.eq_ignore_ascii_case("normal"))
            .or_else(|| self.priorities.get(self.priorities.len() / 2))
            .ok_or_else(|| Error::Unavailable("the workflow has no priorities".into()))
    }

    /// The statuses an item of this type in `from` may move to, in the statuses' order.
    pub fn next_statuses(&self, item_type: TypeId, from: StatusId) -> Vec<&Status> {
        let moves = self.moves_of(item_type);
        self.statuses
            .iter()
            .filter(|status| {
                moves.iter().any(|transition| transition.from_status_id == from && transition.to_status_id == status.id)
            })
            .collect()
    }

    /// Ok when the workflow of this item type allows `from → to`; otherwise says which moves
    /// are allowed.
    pub fn check_transition(&self, item_type: TypeId, from: StatusId, to: StatusId) -> Result<()> {
        let target = self.status(to)?;
        let allowed = self.next_statuses(item_type, from);
        if allowed.iter().any(|status| status.id == to) {
            return Ok(());
        }
        let from_name = self.status(from).map(|status| status.name.clone()).unwrap_or_default();
        let allowed_names: Vec<&str> = allowed.iter().map(|status| status.name.as_str()).collect();
        Err(Error::invalid(
            "status_id",
            format!(
                "the workflow does not allow {from_name} → {} for {} items; allowed: {}",
                target.name,
                self.item_type(item_type).map(|found| found.name.as_str()).unwrap_or("these"),
                if allowed_names.is_empty() { "none".to_string() } else { allowed_names.join(", ") }
            ),
        ))
    }
}
