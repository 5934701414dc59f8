//! The demo's versions, labels and components: twenty open versions a few weeks apart, thirty
//! labels and six components in every project, and each item's share of them, drawn from a
//! random stream of their own (a seed gives the items it gave before).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, index};

use crate::db::schema::{components, labels, versions};
use crate::db::{DbConnection, write_transaction};
use crate::error::Result;
use crate::model::ids::{ComponentId, LabelId, ProjectId, VersionId};
use crate::model::text::name_key;

pub const VERSIONS_PER_PROJECT: usize = 20;
/// Days between two versions' due dates; the first two are overdue.
const DAYS_APART: i64 = 21;
const LABELS: [(&str, &str); 30] = [
    ("ui", "#3b82f6"),
    ("backend", "#8b5cf6"),
    ("later", "#9ca3af"),
    ("regression", "#dc2626"),
    ("security", "#b91c1c"),
    ("performance", "#f59e0b"),
    ("docs", "#10b981"),
    ("good first issue", "#22c55e"),
    ("needs info", "#eab308"),
    ("customer", "#0ea5e9"),
    ("tech debt", "#78716c"),
    ("accessibility", "#6366f1"),
    ("mobile", "#14b8a6"),
    ("design", "#ec4899"),
    ("i18n", "#84cc16"),
    ("billing", "#f97316"),
    ("search", "#06b6d4"),
    ("mail", "#a855f7"),
    ("api", "#0284c7"),
    ("flaky", "#e11d48"),
    ("blocked upstream", "#64748b"),
    ("quick win", "#16a34a"),
    ("spike", "#d97706"),
    ("data", "#4f46e5"),
    ("infra", "#475569"),
    ("privacy", "#be123c"),
    ("onboarding", "#0d9488"),
    ("export", "#7c3aed"),
    ("reporting", "#2563eb"),
    ("legacy", "#57534e"),
];
const COMPONENTS: [&str; 6] = ["Frontend", "Backend", "Database", "Mail", "Search", "Infrastructure"];

/// One project's versions, labels and components.
struct ProjectPlan {
    project: ProjectId,
    versions: Vec<VersionId>,
    labels: Vec<LabelId>,
    components: Vec<ComponentId>,
}

pub struct DemoPlans(Vec<ProjectPlan>);

/// What one item gets.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub version: Option<VersionId>,
    pub labels: Vec<LabelId>,
    pub component: Option<ComponentId>,
}

impl DemoPlans {
    /// Creates what a project lacks (by name), keeping what an earlier run made.
    pub fn ensure(connection: &mut DbConnection, projects: &[ProjectId], now: NaiveDateTime) -> Result<DemoPlans> {
        write_transaction(connection, |connection| {
            let mut plans = Vec::new();
            for &project in projects {
                let mut plan =
                    ProjectPlan { project, versions: Vec::new(), labels: Vec::new(), components: Vec::new() };
                for place in 0..VERSIONS_PER_PROJECT {
                    let name = format!("{}.{}", 1 + place / 5, place % 5);
                    let due = (now + chrono::Duration::days(DAYS_APART * (place as i64 - 2))).date();
                    let found: Option<VersionId> = versions::table
                        .filter(versions::project_id.eq(project))
                        .filter(versions::name_key.eq(name_key(&name)))
                        .select(versions::id)
                        .first(connection)
                        .optional()?;
                    plan.versions.push(match found {
                        Some(id) => id,
                        None => diesel::insert_into(versions::table)
                            .values((
                                versions::project_id.eq(project),
                                versions::name_key.eq(name_key(&name)),
                                versions::name.eq(&name),
                                versions::description.eq(format!("Release {name}.")),
                                versions::due_date.eq(due),
                            ))
                            .returning(versions::id)
                            .get_result(connection)?,
                    });
                }
                for (name, color) in LABELS {
                    let found: Option<LabelId> = labels::table
                        .filter(labels::project_id.eq(project))
                        .filter(labels::name_key.eq(name_key(name)))
                        .select(labels::id)
                        .first(connection)
                        .optional()?;
                    plan.labels.push(match found {
                        Some(id) => id,
                        None => diesel::insert_into(labels::table)
                            .values((
                                labels::project_id.eq(project),
                                labels::name.eq(name),
                                labels::name_key.eq(name_key(name)),
                                labels::color.eq(color),
                            ))
                            .returning(labels::id)
                            .get_result(connection)?,
                    });
                }
                for name in COMPONENTS {
                    let found: Option<ComponentId> = components::table
                        .filter(components::project_id.eq(project))
                        .filter(components::name_key.eq(name_key(name)))
                        .select(components::id)
                        .first(connection)
                        .optional()?;
                    plan.components.push(match found {
                        Some(id) => id,
                        None => diesel::insert_into(components::table)
                            .values((
                                components::project_id.eq(project),
                                components::name.eq(name),
                                components::name_key.eq(name_key(name)),
                            ))
                            .returning(components::id)
                            .get_result(connection)?,
                    });
                }
                plans.push(plan);
            }
            Ok(DemoPlans(plans))
        })
    }

    /// An item's version (seven in ten), labels (none to three) and component (six in ten).
    pub fn draw(&self, rng: &mut StdRng, project: ProjectId) -> Planned {
        let Some(plan) = self.0.iter().find(|plan| plan.project == project) else { return Planned::default() };
        let version = if rng.random_ratio(7, 10) { plan.versions.choose(rng).copied() } else { None };
        let count = [0, 0, 1, 1, 1, 2, 2, 3].choose(rng).copied().unwrap_or(0);
        let labels = index::sample(rng, plan.labels.len(), count).into_iter().map(|at| plan.labels[at]).collect();
        let component = if rng.random_ratio(6, 10) { plan.components.choose(rng).copied() } else { None };
        Planned { version, labels, component }
    }
}
