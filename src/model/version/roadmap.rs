//! A project's roadmap: each version its items may target, with the progress of the
//! project's items planned on it (closed of total, and how many in each status), its due date
//! and whether it is overdue, and its first items; closed versions last. Counts come from one
//! grouped query over the items' version index, so the page costs the same for any number of
//! items.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use super::{Version, VersionStatus, of_project};
use crate::db::DbConnection;
use crate::db::schema::{items, priorities, statuses};
use crate::error::Result;
use crate::model::ids::{ItemId, StatusId, VersionId};
use crate::model::item::{StatusRef, key};
use crate::model::permission::Permission;
use crate::model::project::{self, Project, ProjectKeyOrId};
use crate::model::user::User;
use crate::model::workflow::Workflow;

/// How many items each version of the roadmap lists; the rest are a link to the list away.
pub const ITEMS_SHOWN: i64 = 20;

/// An item of a version, as the roadmap lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedItem {
    pub id: ItemId,
    pub key: String,
    pub title: String,
    pub status: StatusRef,
    pub priority: String,
}

/// How many of the project's items in one status a version holds.
#[derive(Debug, Clone, Serialize)]
pub struct StatusCount {
    pub status: StatusRef,
    pub items: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionProgress {
    pub version: Version,
    pub total: i64,
    pub closed: i64,
    /// Per status that has items, in the workflow's order.
    pub by_status: Vec<StatusCount>,
    /// The first `ITEMS_SHOWN` items, open ones first, most urgent first (not for closed
    /// versions).
    pub items: Vec<PlannedItem>,
}

impl VersionProgress {
    /// Closed of total, in whole percent (0 without items).
    pub fn percent(&self) -> i64 {
        if self.total == 0 { 0 } else { self.closed * 100 / self.total }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Roadmap {
    pub project: Project,
    /// Open and locked versions, by due date (none last).
    pub current: Vec<VersionProgress>,
    /// Closed versions, by due date.
    pub closed: Vec<VersionProgress>,
}

pub fn roadmap(connection: &mut DbConnection, actor: &User, reference: &ProjectKeyOrId) -> Result<Roadmap> {
    let (project, _) = project::get_with(connection, actor, reference, Permission::View)?;
    of_readable(connection, project)
}

/// The roadmap of a project the caller has checked the actor may read.
pub fn of_readable(connection: &mut DbConnection, project: Project) -> Result<Roadmap> {
    connection.transaction(|connection| {
        let versions = of_project(connection, project.id)?;
        let ids: Vec<VersionId> = versions.iter().map(|version| version.id).collect();
        let counts: Vec<(Option<VersionId>, StatusId, i64)> = items::table
            .filter(items::target_version_id.eq_any(&ids))
            .filter(items::project_id.eq(project.id))
            .group_by((items::target_version_id, items::status_id))
            .select((items::target_version_id, items::status_id, diesel::dsl::count_star()))
            .load(connection)?;
        let workflow = Workflow::load(connection)?;
        let listed: Vec<VersionId> = versions
            .iter()
            .filter(|version| version.status != VersionStatus::Closed)
            .map(|version| version.id)
            .collect();
        let mut planned = planned_items(connection, &project, &listed)?;
        let (mut current, mut closed) = (Vec::new(), Vec::new());
        for version in versions {
            let by_status: Vec<StatusCount> = workflow
                .statuses
                .iter()
                .filter_map(|status| {
                    let items = counts
                        .iter()
                        .find(|(counted, status_id, _)| *counted == Some(version.id) && *status_id == status.id)
                        .map(|(.., items)| *items)?;
                    Some(StatusCount {
                        status: StatusRef { id: status.id, name: status.name.clone(), is_closed: status.is_closed },
                        items,
                    })
                })
                .collect();
            let total = by_status.iter().map(|count| count.items).sum();
            let done = by_status.iter().filter(|count| count.status.is_closed).map(|count| count.items).sum();
            let is_closed = version.status == VersionStatus::Closed;
            let items = planned.remove(&version.id).unwrap_or_default();
            let progress = VersionProgress { version, total, closed: done, by_status, items };
            if is_closed { closed.push(progress) } else { current.push(progress) }
        }
        Ok(Roadmap { project, current, closed })
    })
}

/// The first `ITEMS_SHOWN` items of the project planned on each version, open ones first,
/// most urgent first. Each version's order is read from the items' version index alone (it
/// holds status and priority); only the items shown are read.
fn planned_items(
    connection: &mut DbConnection,
    project: &Project,
    versions: &[VersionId],
) -> Result<HashMap<VersionId, Vec<PlannedItem>>> {
    let mut chosen: Vec<(VersionId, Vec<ItemId>)> = Vec::with_capacity(versions.len());
    for version in versions {
        let ids: Vec<ItemId> = items::table
            .inner_join(statuses::table)
            .inner_join(priorities::table)
            .filter(items::target_version_id.eq(version))
            .filter(items::project_id.eq(project.id))
            .order((statuses::is_closed.asc(), priorities::position.desc(), items::id.asc()))
            .limit(ITEMS_SHOWN)
            .select(items::id)
            .load(connection)?;
        chosen.push((*version, ids));
    }
    let shown: Vec<ItemId> = chosen.iter().flat_map(|(_, ids)| ids.iter().copied()).collect();
    let mut rows: HashMap<ItemId, PlannedItem> = HashMap::with_capacity(shown.len());
    for batch in shown.chunks(1000) {
        let loaded: Vec<(ItemId, i64, String, StatusId, String, bool, String)> = items::table
            .inner_join(statuses::table)
            .inner_join(priorities::table)
            .filter(items::id.eq_any(batch))
            .select((
                items::id,
                items::number,
                items::title,
                statuses::id,
                statuses::name,
                statuses::is_closed,
                priorities::name,
            ))
            .load(connection)?;
        for (id, number, title, status_id, status, is_closed, priority) in loaded {
            let status = StatusRef { id: status_id, name: status, is_closed };
            rows.insert(id, PlannedItem { id, key: key::format(&project.key, number), title, status, priority });
        }
    }
    Ok(chosen
        .into_iter()
        .map(|(version, ids)| (version, ids.iter().filter_map(|id| rows.remove(id)).collect()))
        .collect())
}
