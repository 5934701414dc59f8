//! The item list: the filter, the sort and the page, with an exact total that agrees with
//! the page; and the items a user watches.

use std::collections::{HashMap, HashSet};

use diesel::dsl::IntoBoxed;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{FetchedRow, ItemRow, ItemView, readable_views, select_row, views_with};
use crate::db::schema::{
    components, item_labels, item_totals, item_values, items, labels, value_totals, versions, watchers,
};
use crate::db::{DbConnection, MultiBackend};
use crate::error::{Error, Result};
use crate::model::definitions::Version;
use crate::model::field::Catalog;
use crate::model::field::filter::{
    self, FieldCondition, FieldSort, Operands, Operation, SortColumn, restrict_by_field,
};
use crate::model::ids::{
    ComponentId, ItemId, LabelId, PriorityId, ProjectId, StatusId, TypeId, UserId, VersionId, any_id, known_ids,
};
use crate::model::permission::{Permission, readable_project_ids};
use crate::model::project::setup::Setups;
use crate::model::project::{self, ProjectKeyOrId};
use crate::model::text::{self, like_pattern, lower, name_key};
use crate::model::user::User;
use crate::model::workflow::Workflow;

pub const DEFAULT_PAGE_SIZE: i64 = 25;
pub const MAX_PAGE_SIZE: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpenState {
    #[default]
    All,
    Open,
    Closed,
}

impl OpenState {
    /// `Some(is_closed)` of the statuses the state admits; `None` for all.
    fn closed(self) -> Option<bool> {
        match self {
            OpenState::All => None,
            OpenState::Open => Some(false),
            OpenState::Closed => Some(true),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    User(UserId),
    Nobody,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortField {
    Id,
    Created,
    #[default]
    Updated,
    Title,
    Priority,
    Status,
    Due,
    /// A custom field, by key.
    Field(String),
}

impl SortField {
    /// `id`, `created`, `updated`, `title`, `priority`, `status`, `due` or `field.<key>`.
    pub fn parse(name: &str) -> Result<SortField> {
        Ok(match name {
            "id" => SortField::Id,
            "created" => SortField::Created,
            "updated" => SortField::Updated,
            "title" => SortField::Title,
            "priority" => SortField::Priority,
            "status" => SortField::Status,
            "due" => SortField::Due,
            other => match other.strip_prefix("field.") {
                Some(key) => SortField::Field(key.to_string()),
                None => {
                    return Err(Error::invalid(
                        "sort",
                        format!(
                            "{other:?} is not sortable: use id, created, updated, title, priority, status, due or field.<key>, with - for descending"
                        ),
                    ));
                }
            },
        })
    }

    /// `-updated` style text: the name, with `-` first for descending.
    pub fn parse_signed(text: &str) -> Result<(SortField, bool)> {
        match text.strip_prefix('-') {
            Some(name) => Ok((SortField::parse(name)?, true)),
            None => Ok((SortField::parse(text)?, false)),
        }
    }
}

/// The sort after custom field keys are resolved.
enum Order {
    Column(SortField),
    Field(FieldSort),
}

#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub project: Option<ProjectKeyOrId>,
    pub status: Option<StatusId>,
    pub item_type: Option<TypeId>,
    pub priority: Option<PriorityId>,
    pub assignee: Option<AssigneeFilter>,
    pub reporter: Option<UserId>,
    /// Words the title must contain, case-insensitively (a quick filter; search is separate).
    pub text: Option<String>,
    pub state: OpenState,
    /// Only the sub-items of this item.
    pub parent: Option<ItemId>,
    /// A version by id or name (shared versions included), or `none`.
    pub target_version: Option<String>,
    /// A label by id or name: the items that carry it.
    pub label: Option<String>,
    /// A component by id or name, or `none`.
    pub component: Option<String>,
    /// Conditions on custom fields: (key, condition), as in `field.<key>=<condition>`.
    pub fields: Vec<(String, String)>,
    /// The list as a tree: the page holds the top-level matches (items whose parent the
    /// filter does not match, or that have none), each followed by its matching sub-items,
    /// depth first; `total`, `limit` and `offset` count top-level items.
    pub tree: bool,
    pub sort: SortField,
    pub descending: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl ItemFilter {
    /// The `view` parameter of a list: `flat` (also when empty) or `tree`; whether it is a tree.
    pub fn parse_view(text: &str) -> Result<bool> {
        match text.trim() {
            "" | "flat" => Ok(false),
            "tree" => Ok(true),
            other => Err(Error::invalid("view", format!("{other:?} is not flat or tree"))),
        }
    }

    /// Whether the items' own columns are filtered by project, status and state at most.
    fn only_status(&self) -> bool {
        !self.tree
            && self.item_type.is_none()
            && self.text.is_none()
            && self.priority.is_none()
            && self.assignee.is_none()
            && self.reporter.is_none()
            && self.parent.is_none()
            && self.target_version.is_none()
            && self.label.is_none()
            && self.component.is_none()
    }
}

/// The list's filters on definitions, resolved to ids: versions, labels and components by
/// name, and the statuses of its state (open or closed) from the node's workflow.
#[derive(Debug, Default)]
struct Planning {
    /// `Some(None)`: items planned for no version.
    version: Option<Option<Vec<VersionId>>>,
    label: Option<Vec<LabelId>>,
    component: Option<Option<Vec<ComponentId>>>,
    /// The statuses of the state; `None` for every state.
    state: Option<Vec<StatusId>>,
}

impl Planning {
    /// Looks the names up among what the list may show: the filtered project's (or the
    /// readable projects') versions, labels and components, and shared versions. A name
    /// nothing has matches no item.
    fn resolve(
        connection: &mut DbConnection,
        filter: &ItemFilter,
        workflow: &Workflow,
        project: Option<ProjectId>,
        readable: Option<&[ProjectId]>,
    ) -> Result<Planning> {
        let scope: Option<Vec<ProjectId>> = match project {
            Some(project) => Some(vec![project]),
            None => readable.map(<[ProjectId]>::to_vec),
        };
        let number = |text: &str| text.trim().parse::<i64>().unwrap_or(0);
        // The ids of what is named by `$text` (name or id) in the scope; one project is compared
        // with `=`, which keeps the statement prepared (a project's list names its project).
        macro_rules! named {
            ($table:ident, $text:expr $(, $shared:expr)?) => {{
                let text: &str = $text;
                let mut query = $table::table
                    .filter($table::name_key.eq(name_key(text.trim())).or($table::id.eq(number(text))))
                    .select($table::id)
                    .into_boxed();
                query = match scope.as_deref() {
                    Some([one]) => query.filter($table::project_id.eq(*one)$(.or($shared))?),
                    Some(many) => query.filter(any_id($table::project_id, many)$(.or($shared))?),
                    None => query,
                };
                query.load(connection)?
            }};
        }
        let none = |text: &str| text.trim().eq_ignore_ascii_case("none");
        let mut planning = Planning {
            state: filter.state.closed().map(|closed| workflow.statuses_closed(closed)),
            ..Planning::default()
        };
        if let Some(text) = &filter.target_version {
            planning.version =
                if none(text) { Some(None) } else { Some(Some(named!(versions, text, versions::shared.eq(true)))) };
        }
        if let Some(text) = &filter.label {
            planning.label = Some(named!(labels, text));
        }
        if let Some(text) = &filter.component {
            planning.component = if none(text) { Some(None) } else { Some(Some(named!(components, text))) };
        }
        Ok(planning)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemPage {
    pub items: Vec<ItemView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// A tree page whose sub-items were cut at `MAX_PAGE_SIZE` rows: the rest are on their
    /// items' pages.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sub_items_cut: bool,
}

/// The query of a page's item ids: `items` alone, so that PostgreSQL, which plans a statement
/// built per request every time, plans one table (0.1 ms) instead of the seven of the rows'
/// join (0.9 ms); the rows are then read by one prepared statement (`rows_of`).
type BoxedItemQuery<'a> = IntoBoxed<'a, items::table, MultiBackend>;

/// Narrows a boxed query to the filter's status and its state (open or closed), tested on
/// `$status`: the status column of the items, of a value (its item's copy), or of a kept total;
/// the state on `$state` when given (the items' status column kept from index lookups). The
/// state's statuses are written into the statement (`known_ids`).
macro_rules! in_status {
    ($query:expr, $filter:expr, $planning:expr, $status:expr) => {
        in_status!($query, $filter, $planning, $status, $status)
    };
    ($query:expr, $filter:expr, $planning:expr, $status:expr, $state:expr) => {{
        let filter: &ItemFilter = $filter;
        let planning: &Planning = $planning;
        let mut query = $query;
        if let Some(status) = filter.status {
            query = query.filter($status.eq(status));
        }
        if let Some(statuses) = &planning.state {
            query = query.filter(known_ids($state, statuses));
        }
        query
    }};
}

/// Expands `$body` with `$test` bound to `$column = id` when `$ids` holds one id, and to
/// `$column IN (...)` otherwise. SQLite prepares a statement holding `IN` with binds anew on
/// every request (diesel cannot keep it: its text varies with the count), a quarter of the
/// query of a list filtered by label and version; a name or an id finds one version, label or
/// component unless a shared version or another project's label bears the same name.
macro_rules! with_any_of {
    ($column:expr, $ids:expr, |$test:ident| $body:expr) => {
        match $ids.as_slice() {
            [one] => {
                let $test = $column.eq(*one);
                $body
            }
            many => {
                let $test = $column.eq_any(many.to_vec());
                $body
            }
        }
    };
}

/// Applies the list filter to a boxed query over `items` (alone, or joined to the values a
/// page is sorted by), so that the count and the page always agree.
macro_rules! filter_items {
    ($query:expr, $filter:expr, $project:expr, $readable:expr, $conditions:expr, $planning:expr) => {{
        let filter: &ItemFilter = $filter;
        let conditions: &[FieldCondition] = $conditions;
        let planning: &Planning = $planning;
        let mut query = $query;
        match &planning.version {
            Some(Some(ids)) => query = with_any_of!(items::target_version_id, ids, |test| query.filter(test)),
            Some(None) => query = query.filter(items::target_version_id.is_null()),
            None => {}
        }
        // With a version the items' version index (which holds project and status) finds
        // the few candidates and the label is probed per item; alone, the label's own index
        // lists its items. SQLite takes the label's list either way unless told (654 against
        // the figure in docs/benchmarks.md, 100,000 items).
        match (&planning.label, &planning.version) {
            (Some(ids), Some(Some(_))) => {
                query = with_any_of!(item_labels::label_id, ids, |test| query.filter(diesel::dsl::exists(
                    item_labels::table.filter(item_labels::item_id.eq(items::id)).filter(test)
                )));
            }
            (Some(ids), _) => {
                query = with_any_of!(item_labels::label_id, ids, |test| query
                    .filter(items::id.eq_any(item_labels::table.filter(test).select(item_labels::item_id))));
            }
            (None, _) => {}
        }
        match &planning.component {
            Some(Some(ids)) => query = with_any_of!(items::component_id, ids, |test| query.filter(test)),
            Some(None) => query = query.filter(items::component_id.is_null()),
            None => {}
        }
        for condition in conditions {
            query = restrict_by_field!(query, condition);
        }
        // The readable projects and the state are broad (most items pass): tested on the
        // rows a walk reads, never looked up through an index on SQLite, so that a list
        // across projects walks the items in its order and stops after the page. SQLite 3.51
        // otherwise reads every open item of the readable projects and sorts them
        // (40 ms for the Items page of 100,000 items, 0.5 ms walking).
        if let Some(ids) = $readable {
            query = query.filter(any_id(Unindexed(items::project_id), &ids));
        }
        if let Some(project) = $project {
            query = query.filter(items::project_id.eq(project));
        }
        if let Some(item_type) = filter.item_type {
            query = query.filter(items::type_id.eq(item_type));
        }
        if let Some(priority) = filter.priority {
            query = query.filter(items::priority_id.eq(priority));
        }
        match filter.assignee {
            Some(AssigneeFilter::User(user)) => query = query.filter(items::assignee_id.eq(user)),
            Some(AssigneeFilter::Nobody) => query = query.filter(items::assignee_id.is_null()),
            None => {}
        }
        if let Some(reporter) = filter.reporter {
            query = query.filter(items::reporter_id.eq(reporter));
        }
        if let Some(parent) = filter.parent {
            query = query.filter(items::parent_id.eq(parent));
        }
        if let Some(text) = &filter.text {
            query = query.filter(lower(items::title).like(like_pattern(text)).escape('\\'));
        }
        in_status!(query, filter, planning, items::status_id, Unindexed(items::status_id))
    }};
}

/// A column SQLite's query planner is not to look up through an index: `+column` there,
/// which keeps its value and type; the column itself on PostgreSQL, whose planner weighs a
/// walk in the order asked against the rows it would sort.
#[derive(Debug, Clone, Copy)]
struct Unindexed<C>(C);

impl<C> diesel::query_builder::QueryId for Unindexed<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: diesel::Expression> diesel::Expression for Unindexed<C> {
    type SqlType = C::SqlType;
}

impl<C: diesel::AppearsOnTable<Source>, Source> diesel::AppearsOnTable<Source> for Unindexed<C> {}

impl<C: diesel::SelectableExpression<Source>, Source> diesel::SelectableExpression<Source> for Unindexed<C> {}

impl<C: diesel::expression::ValidGrouping<()>> diesel::expression::ValidGrouping<()> for Unindexed<C> {
    type IsAggregate = C::IsAggregate;
}

impl<C: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>>
    diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for Unindexed<C>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql("+");
        self.0.walk_ast(out.reborrow())
    }
}

impl<C: diesel::query_builder::QueryFragment<diesel::pg::Pg>> diesel::query_builder::QueryFragment<diesel::pg::Pg>
    for Unindexed<C>
{
    fn walk_ast<'b>(&'b self, out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

/// The test of an item's parent against the filter, for a tree list: `ParentTest` over a query
/// of the filter's items correlated to `parents.id` (built here), to be applied with `filter`.
macro_rules! parent_test {
    ($filter:expr, $project:expr, $readable:expr, $conditions:expr, $planning:expr, $top_level:expr) => {
        ParentTest {
            parent_matches: filter_items!(
                items::table.into_boxed::<MultiBackend>(),
                $filter,
                $project,
                $readable,
                $conditions,
                $planning
            )
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("items.id = parents.id"))
            .select(items::id),
            top_level: $top_level,
        }
    };
}

/// With `top_level`: `parent_id IS NULL OR NOT EXISTS (its parent, among parent_matches)`;
/// without: `EXISTS (its parent, among parent_matches)`, where `parent_matches` selects the
/// matching items' ids correlated to `parents.id`. Written out because the subquery is boxed,
/// and diesel's EXISTS and IN of a boxed query do not build for both backends.
struct ParentTest<Q> {
    parent_matches: Q,
    top_level: bool,
}

impl<Q> diesel::query_builder::QueryId for ParentTest<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> diesel::Expression for ParentTest<Q> {
    type SqlType = diesel::sql_types::Bool;
}

impl<Q, Source> diesel::AppearsOnTable<Source> for ParentTest<Q> {}

impl<Q> diesel::expression::ValidGrouping<()> for ParentTest<Q> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<Q: diesel::query_builder::QueryFragment<MultiBackend>> diesel::query_builder::QueryFragment<MultiBackend>
    for ParentTest<Q>
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql(if self.top_level { "(items.parent_id IS NULL OR NOT EXISTS (" } else { "(EXISTS (" });
        out.push_sql("SELECT 1 FROM items AS parents WHERE parents.id = items.parent_id AND parents.id IN (");
        self.parent_matches.walk_ast(out.reborrow())?;
        out.push_sql(")))");
        Ok(())
    }
}

/// `CASE column WHEN id THEN position … END`: the order of the statuses or priorities written
/// into the statement from the node's workflow (numbers only), which leaves `items` alone in
/// the id query; PostgreSQL orders a project's open items by it in 11.8 ms, by a join of
/// `priorities` in 13.4 and by a subquery per item in 25 (100,000 items).
fn by_position(column: &str, positions: impl Iterator<Item = (i64, i32)>) -> String {
    let cases: String = positions.map(|(id, position)| format!(" WHEN {id} THEN {position}")).collect();
    format!("(CASE {column}{cases} END)")
}

fn sorted<'a>(query: BoxedItemQuery<'a>, order: &Order, descending: bool, workflow: &Workflow) -> BoxedItemQuery<'a> {
    macro_rules! by {
        ($column:expr) => {
            if descending {
                query.order_by($column.desc()).then_order_by(items::id.desc())
            } else {
                query.order_by($column.asc()).then_order_by(items::id.asc())
            }
        };
    }
    let sort = match order {
        Order::Column(sort) => sort,
        // Items without a value come last either way, on both backends.
        Order::Field(field) => {
            use diesel::dsl::sql;
            use diesel::sql_types::{Bool, Text};
            let value = field.expression();
            let query = query.order_by(sql::<Bool>(&format!("{value} IS NULL")).asc());
            return if descending {
                query.then_order_by(sql::<Text>(&value).desc()).then_order_by(items::id.desc())
            } else {
                query.then_order_by(sql::<Text>(&value).asc()).then_order_by(items::id.asc())
            };
        }
    };
    match sort {
        SortField::Id => by!(items::id),
        SortField::Created => by!(items::created_at),
        SortField::Updated | SortField::Field(_) => by!(items::updated_at),
        SortField::Title => by!(items::title),
        SortField::Priority => by!(diesel::dsl::sql::<diesel::sql_types::Integer>(&by_position(
            "items.priority_id",
            workflow.priorities.iter().map(|priority| (priority.id.0, priority.position))
        ))),
        SortField::Status => by!(diesel::dsl::sql::<diesel::sql_types::Integer>(&by_position(
            "items.status_id",
            workflow.statuses.iter().map(|status| (status.id.0, status.position))
        ))),
        // Items without a due date come last either way, on both backends.
        SortField::Due => {
            let query = query.order_by(items::due_date.is_null().asc());
            if descending {
                query.then_order_by(items::due_date.desc()).then_order_by(items::id.desc())
            } else {
                query.then_order_by(items::due_date.asc()).then_order_by(items::id.asc())
            }
        }
    }
}

/// How many items the filter matches. A filter on project, status and open/closed only — the
/// usual list — sums the trigger-maintained `item_totals` (a few rows per project); one
/// project's items with one value condition count that project's values from their index
/// (values carry their item's project and status); other filters count the matching rows.
fn count_matching(
    connection: &mut DbConnection,
    filter: &ItemFilter,
    project: Option<ProjectId>,
    readable: Option<Vec<ProjectId>>,
    conditions: &[FieldCondition],
    planning: &Planning,
) -> Result<i64> {
    let only_status = filter.only_status();
    if only_status
        && let (Some(project), [condition]) = (project, conditions)
        && condition.one_value_per_item()
    {
        return count_values(connection, filter, planning, project, condition);
    }
    if filter.tree {
        // All matches less the sub-items whose parent matches too: those are found among the
        // (few) sub-items, where testing every match would read them all.
        let flat = ItemFilter { tree: false, ..filter.clone() };
        let all = count_matching(connection, &flat, project, readable.clone(), conditions, planning)?;
        let nested: i64 =
            filter_items!(items::table.into_boxed(), filter, project, readable.clone(), conditions, planning)
                .filter(items::parent_id.is_not_null())
                .filter(parent_test!(filter, project, readable, conditions, planning, false))
                .count()
                .get_result(connection)?;
        return Ok(all - nested);
    }
    if !(only_status && conditions.is_empty()) {
        return Ok(filter_items!(items::table.into_boxed(), filter, project, readable, conditions, planning)
            .count()
            .get_result(connection)?);
    }
    let mut query = item_totals::table.into_boxed();
    if let Some(ids) = readable {
        query = query.filter(any_id(item_totals::project_id, &ids));
    }
    if let Some(project) = project {
        query = query.filter(item_totals::project_id.eq(project));
    }
    let query = in_status!(query, filter, planning, item_totals::status_id);
    // Summed here: the rows are few, and a query without SQL text of its own stays prepared.
    Ok(query.select(item_totals::items).load::<i64>(connection)?.iter().sum())
}

/// How many items of one project, in the filter's status or state, have a value that passes
/// the condition (which `one_value_per_item`). One of some choices, users or yes/no sums the
/// trigger-maintained `value_totals`; other conditions count the project's values from their
/// index.
fn count_values(
    connection: &mut DbConnection,
    filter: &ItemFilter,
    planning: &Planning,
    project: ProjectId,
    condition: &FieldCondition,
) -> Result<i64> {
    let keys: Option<Vec<i64>> = match &condition.operation {
        Operation::AnyOf(Operands::Choice(ids) | Operands::User(ids)) => Some(ids.clone()),
        Operation::AnyOf(Operands::Boolean(flags)) => Some(flags.iter().map(|flag| i64::from(*flag)).collect()),
        _ => None,
    };
    if let Some(keys) = keys {
        let mut query = value_totals::table
            .filter(value_totals::field_id.eq(condition.field_id))
            .filter(value_totals::project_id.eq(project))
            .into_boxed();
        // One value with `=`, as the page's lookups (filter::one_of).
        query = match keys.as_slice() {
            [one] => query.filter(value_totals::value_key.eq(*one)),
            keys => query.filter(value_totals::value_key.eq_any(keys.to_vec())),
        };
        let query = in_status!(query, filter, planning, value_totals::status_id);
        return Ok(query.select(value_totals::items).load::<i64>(connection)?.iter().sum());
    }
    let query = in_status!(
        item_values::table
            .filter(item_values::field_id.eq(condition.field_id))
            .filter(item_values::project_id.eq(project))
            .into_boxed(),
        filter,
        planning,
        item_values::status_id.assume_not_null()
    );
    macro_rules! counted {
        ($test:expr) => {
            query.filter($test).count().get_result(connection)?
        };
    }
    // Without a value test (the condition asks for some value): every value counts.
    Ok(filter::value_test!(&condition.operation, counted, query.count().get_result(connection)?))
}

/// One page of the items the filter matches that the actor may see, and how many it matches,
/// with the definitions (fields, workflow) at `version`: the one read with the actor
/// (`auth::SignedIn`), or once for several pages.
pub fn list(connection: &mut DbConnection, actor: &User, filter: &ItemFilter, version: &Version) -> Result<ItemPage> {
    // Text no title can hold (a NUL, which PostgreSQL also refuses in a query, or more than
    // a title's length) is refused rather than searched for.
    if let Some(text) = &filter.text {
        text::single_line("text", text, 1, text::MAX_TITLE_CHARS)?;
    }
    let limit = filter.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE_SIZE}")));
    }
    let offset = filter.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::invalid("offset", "must not be negative"));
    }
    // The project, the fields and the workflow at one version.
    let project = match &filter.project {
        Some(reference) => {
            let setups = Setups::at(connection, version)?;
            Some(project::get_in(connection, actor, &setups, reference, Permission::View)?.0.id)
        }
        None => None,
    };
    // Viewing the project was checked: its list needs no list of readable projects.
    let readable = match project {
        Some(_) => None,
        None => readable_project_ids(connection, actor)?,
    };
    let catalog = Catalog::at(connection, version)?;
    let workflow = Workflow::at(connection, version)?;
    let conditions = filter
        .fields
        .iter()
        .map(|(key, condition)| filter::parse(&catalog, key, condition, actor.id))
        .collect::<Result<Vec<_>>>()?;
    let order = match &filter.sort {
        SortField::Field(key) => Order::Field(filter::parse_sort(&catalog, key)?),
        column => Order::Column(column.clone()),
    };
    let planning = Planning::resolve(connection, filter, &workflow, project, readable.as_deref())?;
    let page = Page {
        filter,
        project,
        readable: readable.clone(),
        conditions: &conditions,
        planning: &planning,
        workflow: &workflow,
        limit,
        offset,
    };
    let rows = match &order {
        Order::Field(sort)
            if !filter.tree
                && let Some(column) = sort.column()
                && let Some(rows) = page.by_value(connection, sort.field_id(), column)? =>
        {
            rows
        }
        order => {
            let mut matching = filter_items!(
                items::table.into_boxed(),
                filter,
                project,
                page.readable.clone(),
                &conditions,
                &planning
            );
            // A tree pages over the top-level matches: items without a parent or whose parent
            // the filter does not match (a sub-item of a match comes under it instead).
            if filter.tree {
                matching =
                    matching.filter(parent_test!(filter, project, page.readable.clone(), &conditions, &planning, true));
            }
            let ids: Vec<ItemId> = sorted(matching, order, filter.descending, &workflow)
                .select(items::id)
                .limit(limit)
                .offset(offset)
                .load(connection)?;
            rows_of(connection, &ids)?
        }
    };
    // A page that is not full ends the list: what precedes it and its rows are all there is
    // (a narrow filter's list then costs one query, not two).
    let shown = rows.len() as i64;
    let total = if shown < limit && (shown > 0 || offset == 0) {
        offset + shown
    } else {
        count_matching(connection, filter, project, readable, &conditions, &planning)?
    };
    let (rows, sub_items_cut) =
        if filter.tree { page.with_sub_items(connection, &order, rows)? } else { (rows, false) };
    Ok(ItemPage { items: views_with(connection, &catalog, rows)?, total, limit, offset, sub_items_cut })
}

/// Gives `$then!(column)` the column of `item_values` that holds the values of a `SortColumn`.
macro_rules! sort_column {
    ($column:expr, $then:ident) => {
        match $column {
            SortColumn::Text => $then!(item_values::text_value),
            SortColumn::Integer => $then!(item_values::int_value),
            SortColumn::Decimal => $then!(item_values::decimal_value),
            SortColumn::Date => $then!(item_values::date_value),
            SortColumn::Boolean => $then!(item_values::bool_value),
        }
    };
}

/// One page of a list, its filter resolved.
struct Page<'a> {
    filter: &'a ItemFilter,
    project: Option<ProjectId>,
    readable: Option<Vec<ProjectId>>,
    conditions: &'a [FieldCondition],
    planning: &'a Planning,
    workflow: &'a Workflow,
    limit: i64,
    offset: i64,
}

impl Page<'_> {
    /// The page sorted by a field whose value is its own sort key: the walk down that
    /// field's value index stops after the page, instead of ordering every matching item.
    /// Items without a value follow, by id, as in every field sort. `None` on PostgreSQL when
    /// the filter needs the items' own columns: its planner hash-joins every value of the
    /// joined walk (87 ms against 44 ms for the correlated sort, 100,000 items).
    fn by_value(
        &self,
        connection: &mut DbConnection,
        field_id: i64,
        column: SortColumn,
    ) -> Result<Option<Vec<FetchedRow>>> {
        let Page { filter, project, conditions, planning, limit, offset, .. } = *self;
        // An alias: the field conditions read `item_values` in subqueries of their own.
        let sorting = diesel::alias!(item_values as sorting);
        let valued = || {
            let mut query = filter_items!(
                items::table
                    .inner_join(sorting.on(sorting.field(item_values::item_id).eq(items::id)))
                    .filter(sorting.field(item_values::field_id).eq(field_id))
                    .into_boxed(),
                filter,
                project,
                self.readable.clone(),
                conditions,
                planning
            );
            // The same on the value's copy of its item's project and status: one project's
            // walk then reads that project's value index only.
            if let Some(project) = project {
                query = query.filter(sorting.field(item_values::project_id).eq(project));
                query = in_status!(query, filter, planning, sorting.field(item_values::status_id).assume_not_null());
            }
            query
        };
        macro_rules! by {
            ($column:expr) => {{
                // Ties by the index's own item id (the item's id), so the index gives the order.
                let (value, item) = (sorting.field($column), sorting.field(item_values::item_id));
                let query = valued().filter(value.is_not_null());
                if filter.descending {
                    query.order_by((value.desc(), item.desc()))
                } else {
                    query.order_by((value.asc(), item.asc()))
                }
            }};
        }
        let mut rows = match self.walk_values(connection, field_id, column)? {
            Some(rows) => rows,
            None if matches!(connection, DbConnection::Postgresql(_)) => return Ok(None),
            None => select_row!(sort_column!(column, by)).limit(limit).offset(offset).load(connection)?,
        };
        if rows.len() as i64 == limit {
            return Ok(Some(rows));
        }
        // The page reaches past the items with a value: how many come before the rest.
        let with_value = if rows.is_empty() {
            macro_rules! count {
                ($column:expr) => {
                    valued().filter(sorting.field($column).is_not_null()).count().get_result::<i64>(connection)?
                };
            }
            sort_column!(column, count)
        } else {
            offset + rows.len() as i64
        };
        let without =
            filter_items!(items::table.into_boxed(), filter, project, self.readable.clone(), conditions, planning)
                .filter(items::id.ne_all(
                    item_values::table.filter(item_values::field_id.eq(field_id)).select(item_values::item_id),
                ));
        let without =
            if filter.descending { without.order_by(items::id.desc()) } else { without.order_by(items::id.asc()) };
        let rest: Vec<FetchedRow> = select_row!(without)
            .limit(limit - rows.len() as i64)
            .offset((offset - with_value).max(0))
            .load(connection)?;
        rows.extend(rest);
        Ok(Some(rows))
    }
}

impl Page<'_> {
    /// The page's items with a value, as `by_value` orders them, found from the values alone
    /// when the filter allows: one project, its status or state, and field conditions. The
    /// walk then reads the project's index of the sort field and the lookups of the
    /// conditions, never an item row, and only the page's items are read afterwards.
    /// `None` when the filter needs the items' own columns.
    fn walk_values(
        &self,
        connection: &mut DbConnection,
        field_id: i64,
        column: SortColumn,
    ) -> Result<Option<Vec<FetchedRow>>> {
        let Page { filter, conditions, planning, limit, offset, .. } = *self;
        let Some(project) = self.project.filter(|_| filter.only_status()) else { return Ok(None) };
        let needs_type = |condition: &FieldCondition| {
            matches!(condition.operation, Operation::Empty | Operation::NoneOf(_)) && condition.types.is_some()
        };
        if conditions.iter().any(needs_type) {
            return Ok(None);
        }
        // "Not" and "none" match only where the field applies.
        let outside = |condition: &FieldCondition| {
            matches!(condition.operation, Operation::Empty | Operation::NoneOf(_))
                && condition.projects.as_ref().is_some_and(|projects| !projects.contains(&project.0))
        };
        if conditions.iter().any(outside) {
            return Ok(Some(Vec::new()));
        }
        let sorting = diesel::alias!(item_values as sorting);
        let mut query = in_status!(
            sorting
                .filter(sorting.field(item_values::field_id).eq(field_id))
                .filter(sorting.field(item_values::project_id).eq(project))
                .into_boxed(),
            filter,
            planning,
            sorting.field(item_values::status_id).assume_not_null()
        );
        for condition in conditions {
            query = restrict_by_field!(
                @probe query,
                condition,
                sorting.field(item_values::item_id),
                sorting.field(item_values::project_id)
            );
        }
        macro_rules! by {
            ($column:expr) => {{
                let (value, item) = (sorting.field($column), sorting.field(item_values::item_id));
                let query = query.filter(value.is_not_null());
                if filter.descending {
                    query.order_by((value.desc(), item.desc()))
                } else {
                    query.order_by((value.asc(), item.asc()))
                }
            }};
        }
        let ordered = sort_column!(column, by);
        let ids: Vec<ItemId> =
            ordered.select(sorting.field(item_values::item_id)).limit(limit).offset(offset).load(connection)?;
        if ids.is_empty() {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(rows_of(connection, &ids)?))
    }
}

impl Page<'_> {
    /// A tree page: each top-level row followed, depth first, by its sub-items that match the
    /// filter (a level at a time; siblings in the list's order), at most `MAX_PAGE_SIZE` of
    /// them; and whether some were cut.
    fn with_sub_items(
        &self,
        connection: &mut DbConnection,
        order: &Order,
        top: Vec<FetchedRow>,
    ) -> Result<(Vec<FetchedRow>, bool)> {
        let Page { filter, project, conditions, planning, .. } = *self;
        let mut below: HashMap<ItemId, Vec<FetchedRow>> = HashMap::new();
        let mut frontier: Vec<ItemId> = top.iter().map(|(row, ..)| row.id).collect();
        let (mut nested, mut cut) = (0, false);
        while !frontier.is_empty() && !cut {
            let ids: Vec<ItemId> = sorted(
                filter_items!(items::table.into_boxed(), filter, project, self.readable.clone(), conditions, planning)
                    .filter(items::parent_id.eq_any(frontier.clone())),
                order,
                filter.descending,
                self.workflow,
            )
            .select(items::id)
            .limit(MAX_PAGE_SIZE - nested + 1)
            .load(connection)?;
            let level = rows_of(connection, &ids)?;
            cut = level.len() as i64 > MAX_PAGE_SIZE - nested;
            frontier.clear();
            for row in level.into_iter().take((MAX_PAGE_SIZE - nested) as usize) {
                let Some(parent) = row.0.parent_id else { continue };
                frontier.push(row.0.id);
                below.entry(parent).or_default().push(row);
                nested += 1;
            }
        }
        let mut rows = Vec::with_capacity(top.len() + nested as usize);
        let mut stack: Vec<FetchedRow> = top.into_iter().rev().collect();
        while let Some(row) = stack.pop() {
            if let Some(children) = below.remove(&row.0.id) {
                stack.extend(children.into_iter().rev());
            }
            rows.push(row);
        }
        Ok((rows, cut))
    }
}

/// The rows of the given items in the order of `ids`: one statement prepared once for any
/// number of ids.
fn rows_of(connection: &mut DbConnection, ids: &[ItemId]) -> Result<Vec<FetchedRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<FetchedRow> = select_row!(items::table.filter(any_id(items::id, ids))).load(connection)?;
    rows.sort_by_cached_key(|(row, ..)| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}

/// How many of the latest updates `watched_by` looks among, for whoever watches more items.
const RECENT_UPDATES: i64 = 2_000;

/// The latest `limit` items the actor watches and may still see, most recently updated first.
/// People watch what they report and are assigned: thousands of items for some, none for
/// others, and one statement joining the watches to the items is planned one way for all of
/// them. Each way failed someone: joining every watch and sorting them made SQLite's home page
/// take 25 ms for a person who watches 13,000 of 100,000 items; walking the latest updates until
/// enough are watched made PostgreSQL's take 120 ms for a person who watches none (the walk
/// never stops). So whoever watches at most `RECENT_UPDATES` items has them read by id, and
/// whoever watches more looks among that many latest updates first, where they usually find
/// theirs, and reads all their watches by id only when fewer are there.
pub fn watched_by(connection: &mut DbConnection, actor: &User, limit: i64) -> Result<Vec<ItemView>> {
    let watches = || watchers::table.filter(watchers::user_id.eq(actor.id)).select(watchers::item_id);
    let mut watched: Vec<ItemId> = watches().limit(RECENT_UPDATES + 1).load(connection)?;
    if watched.len() as i64 > RECENT_UPDATES {
        let recent: Vec<ItemId> = items::table
            .order((items::updated_at.desc(), items::id.desc()))
            .select(items::id)
            .limit(RECENT_UPDATES)
            .load(connection)?;
        let among: HashSet<ItemId> =
            watches().filter(any_id(watchers::item_id, &recent)).load::<ItemId>(connection)?.into_iter().collect();
        let latest: Vec<ItemId> = recent.into_iter().filter(|id| among.contains(id)).take(limit as usize).collect();
        // Every item left out of the latest updates is older than all of them.
        if latest.len() as i64 == limit {
            return views_by_update(connection, actor, &latest);
        }
        watched = watches().load(connection)?;
    }
    let ids: Vec<ItemId> = items::table
        .filter(any_id(items::id, &watched))
        .order((items::updated_at.desc(), items::id.desc()))
        .select(items::id)
        .limit(limit)
        .load(connection)?;
    views_by_update(connection, actor, &ids)
}

/// The views of the items the actor may still see among `ids`, most recently updated first.
fn views_by_update(connection: &mut DbConnection, actor: &User, ids: &[ItemId]) -> Result<Vec<ItemView>> {
    let readable = readable_project_ids(connection, actor)?;
    let mut views = readable_views(connection, ids, readable.as_deref())?;
    views.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    Ok(views)
}
