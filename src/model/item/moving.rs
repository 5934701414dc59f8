//! Moving an item to another project as one request (`POST /api/v1/items/{id}/move`): its
//! labels, component and target version are mapped to their namesakes there, its type must be
//! one the project uses (or be chosen), its assignee a member there. What cannot be mapped is
//! refused as one list, unless the request says to drop it. The move itself is an ordinary
//! update (`item::update`): history, field values that apply there, search and notifications.

use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{ComponentId, ItemId, LabelId, TypeId, UserId, VersionId};
use crate::model::item::{self, Guard, ItemUpdate, ItemView};
use crate::model::project::{Project, ProjectKeyOrId, types};
use crate::model::user::User;
use crate::model::workflow::Workflow;
use crate::model::{component, label, version};

/// Where to move an item, and what to do with what has no namesake there.
#[derive(Debug, Clone)]
pub struct Move {
    pub project: ProjectKeyOrId,
    /// The type the item takes there, when its own is not used there.
    pub type_id: Option<TypeId>,
    /// Move without the labels, component, version and assignee that cannot be mapped,
    /// instead of refusing.
    pub drop_unmapped: bool,
}

pub fn move_item(connection: &mut DbConnection, actor: &User, id: ItemId, request: Move) -> Result<ItemView> {
    write_transaction(connection, |connection| {
        let current = item::get(connection, actor, id)?;
        let target = item::move_target(connection, actor, &request.project)?;
        if target.id == current.project.id {
            return Err(Error::invalid("project", format!("{} is in project {} already", current.key, target.key)));
        }
        let new_type = type_there(connection, &current, &target, request.type_id)?;
        let mapped = map_planning(connection, &current, &target)?;
        mapped
            .refuse_unless(request.drop_unmapped, &format!("{} cannot move to {} as it is", current.key, target.key))?;
        let changes = ItemUpdate {
            guard: Guard::Version(current.version),
            project: Some(request.project.found_as(target.id)),
            type_id: Some(new_type),
            assignee_id: mapped.assignee.is_none().then_some(None),
            target_version: Some(mapped.target_version),
            labels: Some(mapped.labels),
            component: Some(mapped.component),
            ..ItemUpdate::default()
        };
        item::update(connection, actor, id, changes)
    })
}

/// The type the item takes in `target`: the chosen one (checked by the update or create), or
/// its own if the target uses it.
pub(super) fn type_there(
    connection: &mut DbConnection,
    current: &ItemView,
    target: &Project,
    chosen: Option<TypeId>,
) -> Result<TypeId> {
    if let Some(chosen) = chosen {
        return Ok(chosen);
    }
    let workflow = Workflow::load(connection)?;
    if types::of_project(connection, target.id, &workflow)?.uses(current.item_type.id) {
        return Ok(current.item_type.id);
    }
    Err(Error::invalid(
        "type_id",
        format!(
            "project {} does not use the type {}: choose one of its types for {}",
            target.key, current.item_type.name, current.key
        ),
    ))
}

/// An item's labels, component, target version and assignee as they map to another project:
/// namesakes there, and what has none.
pub(super) struct Mapped {
    pub labels: Vec<LabelId>,
    pub component: Option<ComponentId>,
    pub target_version: Option<VersionId>,
    pub assignee: Option<UserId>,
    /// What has no namesake there, one phrase each ("WEB has no label printer").
    pub unmapped: Vec<String>,
}

impl Mapped {
    /// Refuses, as one list, what cannot be mapped, unless it is to be dropped.
    pub fn refuse_unless(&self, drop_unmapped: bool, what: &str) -> Result<()> {
        if self.unmapped.is_empty() || drop_unmapped {
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "{what}: {}. Create what is missing there, or go without it (\"drop\": true)",
            self.unmapped.join("; ")
        )))
    }
}

/// Maps the item's planning and assignee to `target` by name (a shared version the target may
/// plan for stays as it is).
pub(super) fn map_planning(connection: &mut DbConnection, current: &ItemView, target: &Project) -> Result<Mapped> {
    let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    let mut unmapped: Vec<String> = Vec::new();
    let there = label::of_project(connection, target.id)?;
    let mut labels = Vec::new();
    for held in &current.labels {
        match there.iter().find(|label| same(&label.name, &held.name)) {
            Some(namesake) => labels.push(namesake.id),
            None => unmapped.push(format!("{} has no label {}", target.key, held.name)),
        }
    }
    let component = match &current.component {
        Some(part) => {
            let namesake =
                component::choices(connection, target.id)?.into_iter().find(|there| same(&there.name, &part.name));
            if namesake.is_none() {
                unmapped.push(format!("{} has no component {}", target.key, part.name));
            }
            namesake.map(|namesake| namesake.id)
        }
        None => None,
    };
    // The same version when the target may plan for it (a shared one), else a namesake.
    let target_version = match &current.target_version {
        Some(planned) => {
            let usable = |connection: &mut DbConnection, id| match version::check_target(connection, target, id, None) {
                Ok(_) => Ok(true),
                Err(Error::Invalid(_)) => Ok(false),
                Err(error) => Err(error),
            };
            let mut found = None;
            let candidates = version::choices(connection, target.id)?;
            for candidate in std::iter::once(planned.id)
                .chain(candidates.iter().filter(|there| same(&there.name, &planned.name)).map(|there| there.id))
            {
                if usable(connection, candidate)? {
                    found = Some(candidate);
                    break;
                }
            }
            if found.is_none() {
                unmapped.push(format!("{} has no open version {}", target.key, planned.name));
            }
            found
        }
        None => None,
    };
    let assignee = match &current.assignee {
        Some(assignee) if item::check_assignee(connection, target, assignee.id).is_ok() => Some(assignee.id),
        Some(assignee) => {
            unmapped.push(format!("{} is not a member of {}", assignee.login, target.key));
            None
        }
        None => None,
    };
    Ok(Mapped { labels, component, target_version, assignee, unmapped })
}
