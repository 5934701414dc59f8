//! `baton demo-data`: realistic random users, projects, items with custom field values, and
//! comments, inserted in batches (100,000 items in a few seconds), deterministic for a given
//! seed.

mod fields;
mod planning;

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use crate::db::schema::{
    comments, index_queue, item_labels, item_links, item_values, items, memberships, projects, users, watchers,
};
use crate::db::{Database, DbConnection, database_now, write_transaction};
use crate::error::{Error, Result};
use crate::model::ids::{ComponentId, ItemId, LabelId, PriorityId, ProjectId, StatusId, TypeId, UserId, VersionId};
use crate::model::permission::{Role, stored_role};
use crate::model::workflow::Workflow;
use crate::model::{link, user};
use crate::with_backend;
use fields::{DemoFields, Drawn};
use planning::DemoPlans;

/// Mixed into the seed for the custom field values' own random stream.
const FIELD_SEED: u64 = 0x00f1_e1d5;
/// The links' own random stream, for the same reason.
const LINK_SEED: u64 = 0x0011_4c5e;
/// The versions, labels and components drawn for the items, likewise.
const PLAN_SEED: u64 = 0x0091_a115;
/// The error codes some descriptions quote, likewise: the rare words real items carry (a
/// code, a host, a customer's order number) that a search is most often for.
const CODE_SEED: u64 = 0x00c0_de5e;
/// The error codes quoted: `E1000` to `E1499`, each in about one item in a thousand.
const ERROR_CODES: std::ops::Range<u32> = 1000..1500;
/// The share of descriptions that quote one.
const QUOTING_A_CODE: f64 = 0.5;
/// One item in this many links to an earlier item of its project in the same batch.
const LINK_EVERY: u32 = 5;
/// One item in this many is a sub-item of an earlier item of its project in the same batch.
const CHILD_EVERY: u32 = 10;

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-password";
const BATCH_SIZE: usize = 1000;
/// Share of the items in the first, second, … status (5 for any further one).
const STATUS_WEIGHTS: [u32; 5] = [30, 20, 15, 30, 5];
/// The places of the priorities drawn from, evenly: mostly the second ("Normal").
const PRIORITY_PLACES: [usize; 7] = [0, 1, 1, 1, 2, 2, 3];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas", "Mia",
    "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tara", "Uwe", "Vera", "Wim", "Yara", "Zoe",
];
const LAST_NAMES: &[&str] =
    &["Schmidt", "Meyer", "Novak", "Rossi", "Dubois", "Jensen", "Kowalski", "Garcia", "Smith", "Larsen"];
const PROJECTS: &[(&str, &str, &str)] = &[
    ("OPS", "Operations", "Servers, deployments, monitoring and on-call."),
    ("WEB", "Website", "The public website and its content management."),
    ("APP", "Mobile app", "iOS and Android clients."),
    ("API", "Public API", "The REST API used by partners."),
    ("DOC", "Documentation", "Manuals, tutorials and release notes."),
    ("HR", "People", "Hiring, onboarding and internal tooling."),
];
const VERBS: &[&str] =
    &["Fix", "Investigate", "Improve", "Add", "Remove", "Refactor", "Document", "Speed up", "Update", "Review"];
const OBJECTS: &[&str] = &[
    "login page",
    "search results",
    "export to CSV",
    "password reset mail",
    "dashboard chart",
    "invoice PDF",
    "user settings",
    "backup job",
    "API rate limit",
    "image upload",
    "release notes",
    "payment form",
    "notification mails",
    "database migration",
    "session timeout",
    "German translation",
];
const QUALIFIERS: &[&str] = &[
    "on Safari",
    "for large accounts",
    "after the last release",
    "in dark mode",
    "when offline",
    "on slow networks",
    "for admins",
    "in the nightly build",
    "under load",
    "with non-ASCII names",
    "",
    "",
];
const SENTENCES: &[&str] = &[
    "It happens about once a day.",
    "Customers reported this twice this week.",
    "The log shows a timeout after 30 seconds.",
    "Works fine in Firefox and Chrome.",
    "We should add a regression test.",
    "Possibly related to the cache change.",
    "See the attached screenshot.",
    "The old behaviour was better.",
    "Needs a decision from the product owner.",
    "Low risk, small change.",
];
const COMMENTS: &[&str] = &[
    "I can reproduce this on staging.",
    "Fixed in the latest build, please check.",
    "Could you attach the full log?",
    "This is a duplicate of an older item, keeping it open for now.",
    "Deployed to production this morning.",
    "Looks good to me.",
    "I will take this one.",
    "Waiting for feedback from the customer.",
    "Moved to next sprint.",
    "The root cause is a missing index.",
];

#[derive(Insertable)]
#[diesel(table_name = items, treat_none_as_default_value = false)]
struct DemoItem {
    project_id: ProjectId,
    type_id: TypeId,
    status_id: StatusId,
    priority_id: PriorityId,
    title: String,
    description: String,
    reporter_id: UserId,
    assignee_id: Option<UserId>,
    due_date: Option<NaiveDate>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
    target_version_id: Option<VersionId>,
    component_id: Option<ComponentId>,
}

#[derive(Insertable)]
#[diesel(table_name = comments)]
struct DemoComment {
    item_id: ItemId,
    author_id: UserId,
    body: String,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = watchers)]
struct DemoWatcher {
    item_id: ItemId,
    user_id: UserId,
}

#[derive(Insertable)]
#[diesel(table_name = index_queue)]
struct DemoQueueRow {
    item_id: ItemId,
}

#[derive(Insertable)]
#[diesel(table_name = item_labels)]
struct DemoItemLabel {
    item_id: ItemId,
    label_id: LabelId,
}

#[derive(Insertable)]
#[diesel(table_name = item_links)]
struct DemoLink {
    kind: &'static str,
    source_id: ItemId,
    target_id: ItemId,
    created_by: UserId,
    created_at: NaiveDateTime,
}

#[derive(Debug)]
pub struct DemoSummary {
    pub seed: u64,
    pub users: usize,
    pub projects: usize,
    pub items: usize,
    pub comments: usize,
    pub links: usize,
    pub sub_items: usize,
    pub elapsed: Duration,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created {} items ({} of them sub-items) with {} comments and {} links in {} projects ({} demo users, password {DEMO_PASSWORD:?}) in {:.1} s; seed {}",
            self.items,
            self.sub_items,
            self.comments,
            self.links,
            self.projects,
            self.users,
            self.elapsed.as_secs_f64(),
            self.seed
        )
    }
}

struct DemoProject {
    id: ProjectId,
    members: Vec<(UserId, Role)>,
}

fn ensure_users(connection: &mut DbConnection) -> Result<Vec<UserId>> {
    let password_hash = user::hash_password(DEMO_PASSWORD)?;
    write_transaction(connection, |connection| {
        let mut ids = Vec::new();
        for (index, first) in FIRST_NAMES.iter().enumerate() {
            let last = LAST_NAMES[index % LAST_NAMES.len()];
            let login = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
            let existing: Option<UserId> =
                users::table.filter(users::login.eq(&login)).select(users::id).first(connection).optional()?;
            let id = match existing {
                Some(id) => id,
                None => diesel::insert_into(users::table)
                    .values((
                        users::login.eq(&login),
                        users::name.eq(format!("{first} {last}")),
                        users::email.eq(format!("{login}@example.com")),
                        users::password_hash.eq(&password_hash),
                    ))
                    .returning(users::id)
                    .get_result(connection)?,
            };
            ids.push(id);
        }
        Ok(ids)
    })
}

fn ensure_projects(connection: &mut DbConnection, rng: &mut StdRng, user_ids: &[UserId]) -> Result<Vec<DemoProject>> {
    write_transaction(connection, |connection| {
        let mut demo_projects = Vec::new();
        for (index, (key, name, description)) in PROJECTS.iter().enumerate() {
            let existing: Option<ProjectId> =
                projects::table.filter(projects::key.eq(key)).select(projects::id).first(connection).optional()?;
            let id = match existing {
                Some(id) => id,
                None => diesel::insert_into(projects::table)
                    .values((
                        projects::key.eq(key),
                        projects::name.eq(name),
                        projects::description.eq(description),
                        projects::is_public.eq(index == 0),
                    ))
                    .returning(projects::id)
                    .get_result(connection)?,
            };
            let mut candidates = user_ids.to_vec();
            candidates.shuffle(rng);
            let member_count = rng.random_range(6..=12).min(candidates.len());
            let roles = [Role::Manager, Role::Developer, Role::Developer, Role::Reporter, Role::Viewer];
            let mut members = Vec::new();
            for (position, user_id) in candidates.into_iter().take(member_count).enumerate() {
                let role = if position == 0 { Role::Manager } else { *roles.choose(rng).unwrap_or(&Role::Reporter) };
                let existing_role: Option<String> = memberships::table
                    .filter(memberships::project_id.eq(id))
                    .filter(memberships::user_id.eq(user_id))
                    .select(memberships::role)
                    .first(connection)
                    .optional()?;
                match existing_role {
                    Some(existing) => members.push((user_id, stored_role(&existing)?)),
                    None => {
                        diesel::insert_into(memberships::table)
                            .values((
                                memberships::project_id.eq(id),
                                memberships::user_id.eq(user_id),
                                memberships::role.eq(role.as_str()),
                            ))
                            .execute(connection)?;
                        members.push((user_id, role));
                    }
                }
            }
            demo_projects.push(DemoProject { id, members });
        }
        Ok(demo_projects)
    })
}

fn random_description(rng: &mut StdRng) -> String {
    let mut text = String::from("## What happens\n\n");
    for _ in 0..rng.random_range(1..=3) {
        text.push_str(SENTENCES.choose(rng).copied().unwrap_or_default());
        text.push(' ');
    }
    text.push_str("\n\n## Steps\n\n");
    for step in 1..=rng.random_range(2..=4) {
        text.push_str(&format!("{step}. Open the {}\n", OBJECTS.choose(rng).copied().unwrap_or_default()));
    }
    text
}

fn random_time_between(rng: &mut StdRng, earliest: NaiveDateTime, latest: NaiveDateTime) -> NaiveDateTime {
    let span = (latest - earliest).num_seconds().max(1);
    earliest + chrono::Duration::seconds(rng.random_range(0..span))
}

/// Creates `item_count` items (and users, projects and comments around them).
pub fn generate(database: &Database, item_count: u32, seed: Option<u64>) -> Result<DemoSummary> {
    let started = Instant::now();
    let seed = seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut connection = database.get()?;
    let user_ids = ensure_users(&mut connection)?;
    let demo_projects = ensure_projects(&mut connection, &mut rng, &user_ids)?;
    let now = database_now(&mut connection)?.with_nanosecond_zero();
    let period = (now - chrono::Duration::days(365), now);

    let progress = ProgressBar::new(u64::from(item_count)).with_style(
        ProgressStyle::with_template("{spinner} items {bar:40} {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shape = ItemShape::of(&Workflow::load(&mut connection)?)?;
    let demo_fields = DemoFields::ensure(&mut connection)?;
    let mut field_rng = StdRng::seed_from_u64(seed ^ FIELD_SEED);
    let mut link_rng = StdRng::seed_from_u64(seed ^ LINK_SEED);
    let project_ids: Vec<ProjectId> = demo_projects.iter().map(|project| project.id).collect();
    let plans = DemoPlans::ensure(&mut connection, &project_ids, now)?;
    let mut plan_rng = StdRng::seed_from_u64(seed ^ PLAN_SEED);
    let mut code_rng = StdRng::seed_from_u64(seed ^ CODE_SEED);
    let mut created_items = 0usize;
    let mut created_comments = 0usize;
    let mut created_links = 0usize;
    let mut created_sub_items = 0usize;
    let mut remaining = item_count as usize;
    while remaining > 0 {
        let batch = remaining.min(BATCH_SIZE);
        let mut new_items: Vec<DemoItem> =
            (0..batch).map(|_| random_item(&mut rng, &shape, &demo_projects, &user_ids, period)).collect();
        let mut item_labels = Vec::new();
        for (index, item) in new_items.iter_mut().enumerate() {
            let planned = plans.draw(&mut plan_rng, item.project_id);
            item.target_version_id = planned.version;
            item.component_id = planned.component;
            item_labels.extend(planned.labels.into_iter().map(|label| (index, label)));
            if code_rng.random_bool(QUOTING_A_CODE) {
                let code = code_rng.random_range(ERROR_CODES);
                item.description.push_str(&format!("\nThe log names error E{code}.\n"));
            }
        }
        let values: Vec<Vec<Drawn>> = (0..batch).map(|_| demo_fields.draw(&mut field_rng, period)).collect();
        let links = plan_links(&mut link_rng, &new_items, LINK_EVERY);
        let parents = plan_links(&mut link_rng, &new_items, CHILD_EVERY);
        created_links += links.len();
        created_sub_items += parents.len();
        let structure = Structure { links, parents, labels: item_labels };
        created_comments += insert_batch(&mut connection, &mut rng, &new_items, &values, &structure, &demo_projects)?;
        created_items += batch;
        remaining -= batch;
        progress.inc(batch as u64);
    }
    progress.finish_and_clear();
    refresh_statistics(&mut connection)?;
    Ok(DemoSummary {
        seed,
        users: user_ids.len(),
        projects: demo_projects.len(),
        items: created_items,
        comments: created_comments,
        links: created_links,
        sub_items: created_sub_items,
        elapsed: started.elapsed(),
    })
}

/// The workflow as administrators left it: statuses weighted by place (most items new or
/// closed), priorities mostly the second, types evenly.
struct ItemShape {
    /// Status id and weight.
    statuses: Vec<(StatusId, u32)>,
    status_total: u32,
    type_ids: Vec<TypeId>,
    priority_ids: Vec<PriorityId>,
}

impl ItemShape {
    fn of(workflow: &Workflow) -> Result<ItemShape> {
        let statuses: Vec<(StatusId, u32)> = workflow
            .statuses
            .iter()
            .enumerate()
            .map(|(place, status)| (status.id, STATUS_WEIGHTS.get(place).copied().unwrap_or(5)))
            .collect();
        let status_total: u32 = statuses.iter().map(|(_, weight)| weight).sum();
        let type_ids: Vec<TypeId> = workflow.types.iter().map(|item_type| item_type.id).collect();
        let priority_ids: Vec<PriorityId> = PRIORITY_PLACES
            .iter()
            .filter_map(|place| workflow.priorities.get(*place).map(|priority| priority.id))
            .collect();
        if statuses.is_empty() || type_ids.is_empty() || priority_ids.is_empty() {
            return Err(Error::Unavailable("the workflow needs a status, an item type and a priority".into()));
        }
        Ok(ItemShape { statuses, status_total, type_ids, priority_ids })
    }
}

/// One random item of a random project, created within `period` (earliest, latest).
fn random_item(
    rng: &mut StdRng,
    shape: &ItemShape,
    demo_projects: &[DemoProject],
    user_ids: &[UserId],
    (year_ago, now): (NaiveDateTime, NaiveDateTime),
) -> DemoItem {
    let project = demo_projects.choose(rng).unwrap_or(&demo_projects[0]);
    let reporter = project.members.choose(rng).map(|(id, _)| *id).unwrap_or(user_ids[0]);
    let workers: Vec<UserId> =
        project.members.iter().filter(|(_, role)| *role >= Role::Developer).map(|(id, _)| *id).collect();
    let assignee = if rng.random_bool(0.7) { workers.choose(rng).copied() } else { None };
    let mut pick = rng.random_range(0..shape.status_total);
    let status_id = shape
        .statuses
        .iter()
        .find(|(_, weight)| {
            if pick < *weight {
                true
            } else {
                pick -= weight;
                false
            }
        })
        .map(|(id, _)| *id)
        .unwrap_or(shape.statuses[0].0);
    let created_at = random_time_between(rng, year_ago, now);
    let updated_at = random_time_between(rng, created_at, now);
    let qualifier = QUALIFIERS.choose(rng).copied().unwrap_or_default();
    let title = format!(
        "{} {} {}",
        VERBS.choose(rng).copied().unwrap_or_default(),
        OBJECTS.choose(rng).copied().unwrap_or_default(),
        qualifier
    )
    .trim_end()
    .to_string();
    DemoItem {
        project_id: project.id,
        // Drawn as i64, so that a seed gives the items it gave before.
        type_id: shape.type_ids[rng.random_range(0..shape.type_ids.len() as i64) as usize],
        status_id,
        priority_id: *shape.priority_ids.choose(rng).unwrap_or(&shape.priority_ids[0]),
        title,
        description: random_description(rng),
        reporter_id: reporter,
        assignee_id: assignee,
        due_date: rng.random_bool(0.3).then(|| (now + chrono::Duration::days(rng.random_range(-30..90))).date()),
        created_at,
        updated_at,
        version: 1,
        target_version_id: None,
        component_id: None,
    }
}

/// A pair of the batch: (later item's index, earlier item's index, kind). Each runs from a
/// later item to an earlier one, so no chain of blocks, precedes or parents comes back.
type PlannedLink = (usize, usize, link::Kind);

/// The links, parents and labels of a batch (a parent pair's kind is unused; a label is
/// given by its item's index in the batch).
struct Structure {
    links: Vec<PlannedLink>,
    parents: Vec<PlannedLink>,
    labels: Vec<(usize, LabelId)>,
}

/// Pairs one item in `every` with a random earlier item of its project in the batch.
fn plan_links(rng: &mut StdRng, new_items: &[DemoItem], every: u32) -> Vec<PlannedLink> {
    let mut planned = Vec::new();
    for (later, item) in new_items.iter().enumerate() {
        if rng.random_ratio(1, every) {
            let earlier: Vec<usize> =
                (0..later).filter(|index| new_items[*index].project_id == item.project_id).collect();
            if let (Some(earlier), Some(kind)) = (earlier.choose(rng), link::Kind::ALL.choose(rng)) {
                planned.push((later, *earlier, *kind));
            }
        }
    }
    planned
}

/// Inserts a batch of items with their custom field values, up to three comments each, the
/// reporter and the assignee as watchers, the planned links and parents, and their index
/// queue rows, in one transaction; returns how many comments.
fn insert_batch(
    connection: &mut DbConnection,
    rng: &mut StdRng,
    new_items: &[DemoItem],
    values: &[Vec<Drawn>],
    structure: &Structure,
    demo_projects: &[DemoProject],
) -> Result<usize> {
    let comment_plan: Vec<(usize, UserId, NaiveDateTime, NaiveDateTime)> = new_items
        .iter()
        .enumerate()
        .map(|(index, item)| (index, item.reporter_id, item.created_at, item.updated_at))
        .collect();
    let member_lists: Vec<Vec<UserId>> = new_items
        .iter()
        .map(|item| {
            demo_projects
                .iter()
                .find(|project| project.id == item.project_id)
                .map(|project| project.members.iter().map(|(id, _)| *id).collect())
                .unwrap_or_default()
        })
        .collect();
    let watcher_pairs: Vec<(usize, Vec<UserId>)> = new_items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let mut people = vec![item.reporter_id];
            if let Some(assignee) = item.assignee_id.filter(|assignee| *assignee != item.reporter_id) {
                people.push(assignee);
            }
            (index, people)
        })
        .collect();
    write_transaction(connection, |connection| {
        let ids: Vec<ItemId> = with_backend!(connection, |inner| diesel::insert_into(items::table)
            .values(new_items)
            .returning(items::id)
            .get_results(inner))?;
        let mut new_comments = Vec::new();
        for (index, reporter, created_at, updated_at) in &comment_plan {
            let first = new_comments.len();
            for _ in 0..rng.random_range(0..=3) {
                new_comments.push(DemoComment {
                    item_id: ids[*index],
                    author_id: member_lists[*index].choose(&mut *rng).copied().unwrap_or(*reporter),
                    body: COMMENTS.choose(&mut *rng).copied().unwrap_or_default().to_string(),
                    created_at: random_time_between(&mut *rng, *created_at, *updated_at),
                });
            }
            // An item's comments are shown in the order they were made: their ids follow their times.
            new_comments[first..].sort_by_key(|comment| comment.created_at);
        }
        let new_watchers: Vec<DemoWatcher> = watcher_pairs
            .iter()
            .flat_map(|(index, people)| {
                people.iter().map(|user_id| DemoWatcher { item_id: ids[*index], user_id: *user_id })
            })
            .collect();
        let queue_rows: Vec<DemoQueueRow> = ids.iter().map(|id| DemoQueueRow { item_id: *id }).collect();
        let new_values: Vec<fields::DemoValue> = values
            .iter()
            .zip(&ids)
            .zip(new_items)
            .flat_map(|((drawn, id), item)| drawn.iter().map(|value| value.of(*id, item.project_id, item.status_id)))
            .collect();
        with_backend!(connection, |inner| {
            for chunk in new_values.chunks(BATCH_SIZE) {
                diesel::insert_into(item_values::table).values(chunk).execute(inner)?;
            }
            for chunk in new_comments.chunks(BATCH_SIZE) {
                diesel::insert_into(comments::table).values(chunk).execute(inner)?;
            }
            for chunk in new_watchers.chunks(BATCH_SIZE) {
                diesel::insert_into(watchers::table).values(chunk).execute(inner)?;
            }
            diesel::insert_into(index_queue::table).values(&queue_rows).execute(inner)?;
            let new_links: Vec<DemoLink> = structure
                .links
                .iter()
                .map(|(later, earlier, kind)| {
                    let (later_id, earlier_id) = (ids[*later], ids[*earlier]);
                    // `relates` keeps the lower id first, as the model stores it.
                    let (source_id, target_id) =
                        if *kind == link::Kind::Relates { (earlier_id, later_id) } else { (later_id, earlier_id) };
                    DemoLink {
                        kind: kind.as_str(),
                        source_id,
                        target_id,
                        created_by: new_items[*later].reporter_id,
                        created_at: new_items[*later].created_at,
                    }
                })
                .collect();
            if !new_links.is_empty() {
                diesel::insert_into(item_links::table).values(&new_links).execute(inner)?;
            }
            let new_labels: Vec<DemoItemLabel> = structure
                .labels
                .iter()
                .map(|(index, label_id)| DemoItemLabel { item_id: ids[*index], label_id: *label_id })
                .collect();
            for chunk in new_labels.chunks(BATCH_SIZE) {
                diesel::insert_into(item_labels::table).values(chunk).execute(inner)?;
            }
            for (child, parent, _) in &structure.parents {
                diesel::update(items::table.find(ids[*child])).set(items::parent_id.eq(ids[*parent])).execute(inner)?;
            }
            Ok::<(), diesel::result::Error>(())
        })?;
        Ok(new_comments.len())
    })
}

/// After a bulk load the planner needs fresh statistics (and PostgreSQL a visibility map for
/// index-only counts); without them a list of 100k items was ten times slower. On PostgreSQL
/// the few rows that every item's arrival updates (the totals, the definitions' version) are
/// also written compactly again: the load's transactions left each row's last version on a
/// page of its own (`item_totals`' 240 rows on 36 pages), which every list's total and every
/// item's statement read (a list's total 29 → 17 µs). Those tables are small: their rewrite
/// takes milliseconds.
fn refresh_statistics(connection: &mut DbConnection) -> Result<()> {
    use diesel::connection::SimpleConnection;
    match connection {
        DbConnection::Postgresql(inner) => {
            // Two statements: PostgreSQL runs a string of several in one transaction, and
            // VACUUM runs in none.
            inner.batch_execute("VACUUM FULL item_totals, value_totals, field_catalog_version")?;
            inner.batch_execute("VACUUM ANALYZE")?;
        }
        DbConnection::Sqlite(inner) => inner.batch_execute("ANALYZE")?,
    }
    Ok(())
}

trait TruncateNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl TruncateNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}
