//! List filters and sorts on custom fields: `field.<key>=<condition>` and `sort=field.<key>`.
//!
//! Conditions: a value (`ACME`; for choices, users and whole numbers a comma-separated list
//! means any of them), `!value` (not, including items without a value), `none` (no value),
//! `any` (some value), `>5`, `>=5`, `<5`, `<=5` (numbers and dates), `~text` (text, long text
//! and URLs that contain it, without regard to case). Each runs on the typed value column
//! through its index: numbers compare as numbers, dates as dates.
//!
//! "Not" and "none" match only items the field applies to: an item of a project or type
//! without the field does not have it, empty or otherwise.

use chrono::NaiveDate;

use super::{Catalog, Field, FieldType};
use crate::error::{Error, Result};
use crate::model::ids::UserId;
use crate::model::text::like_pattern;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// One value from the query, before it is typed for its field's column.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Text(String),
    Integer(i64),
    Decimal(f64),
    Date(NaiveDate),
    Boolean(bool),
    Id(i64),
}

/// Values to compare with, typed as the field's column.
#[derive(Debug, Clone, PartialEq)]
pub enum Operands {
    Text(Vec<String>),
    Integer(Vec<i64>),
    Decimal(Vec<f64>),
    Date(Vec<NaiveDate>),
    Boolean(Vec<bool>),
    Choice(Vec<i64>),
    User(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Some value.
    Set,
    /// No value (where the field applies).
    Empty,
    AnyOf(Operands),
    /// None of them, no value included (where the field applies).
    NoneOf(Operands),
    /// With one operand, a number or a date.
    Compare(Comparison, Operands),
    /// Text within text, without regard to case, as a `like_pattern`.
    Contains {
        pattern: String,
        long: bool,
    },
}

/// One parsed condition on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCondition {
    pub field_id: i64,
    pub operation: Operation,
    /// Where the field applies (`None`: everywhere), for "not" and "none".
    pub projects: Option<Vec<i64>>,
    pub types: Option<Vec<i64>>,
    /// The field holds several values per item (multiple choice).
    pub multiple: bool,
}

impl FieldCondition {
    /// Whether a matching item has exactly one value that passes the condition's value test,
    /// so that counting passing values counts items.
    pub fn one_value_per_item(&self) -> bool {
        match &self.operation {
            Operation::AnyOf(Operands::Choice(list)) if self.multiple => list.len() == 1,
            Operation::Set | Operation::AnyOf(_) | Operation::Compare(..) | Operation::Contains { .. } => {
                !self.multiple
            }
            Operation::Empty | Operation::NoneOf(_) => false,
        }
    }
}

/// The operands of these texts, typed for the field.
fn gather(field: &Field, name: &str, texts: &[&str], actor: UserId) -> Result<Operands> {
    let parsed = texts.iter().map(|text| operand(field, name, text, actor)).collect::<Result<Vec<Operand>>>()?;
    macro_rules! all {
        ($variant:ident, $typed:ident) => {
            Operands::$typed(
                parsed
                    .into_iter()
                    .filter_map(|operand| match operand {
                        Operand::$variant(value) => Some(value),
                        _ => None,
                    })
                    .collect(),
            )
        };
    }
    Ok(match field.field_type {
        FieldType::Text | FieldType::Url | FieldType::LongText => all!(Text, Text),
        FieldType::Integer => all!(Integer, Integer),
        FieldType::Decimal => all!(Decimal, Decimal),
        FieldType::Date => all!(Date, Date),
        FieldType::Boolean => all!(Boolean, Boolean),
        FieldType::Choice | FieldType::MultiChoice => all!(Id, Choice),
        FieldType::User => all!(Id, User),
    })
}

fn operand(field: &Field, name: &str, text: &str, actor: UserId) -> Result<Operand> {
    let text = text.trim();
    let refuse = |what: &str| Error::invalid(name, format!("{text:?} is not {what}"));
    Ok(match field.field_type {
        FieldType::Text | FieldType::Url | FieldType::LongText => Operand::Text(text.to_string()),
        FieldType::Integer => Operand::Integer(text.parse().map_err(|_| refuse("a whole number"))?),
        FieldType::Decimal => match text.parse::<f64>() {
            Ok(number) if number.is_finite() => Operand::Decimal(number),
            _ => return Err(refuse("a number")),
        },
        FieldType::Date => {
            Operand::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| refuse("a date (YYYY-MM-DD)"))?)
        }
        FieldType::Boolean => match text {
            "true" | "yes" => Operand::Boolean(true),
            "false" | "no" => Operand::Boolean(false),
            _ => return Err(refuse("true or false")),
        },
        FieldType::Choice | FieldType::MultiChoice => {
            let choice = field
                .choices
                .iter()
                .find(|choice| choice.value == text)
                .or_else(|| field.choices.iter().find(|choice| choice.value.eq_ignore_ascii_case(text)))
                .ok_or_else(|| refuse(&format!("a choice of {}", field.name)))?;
            Operand::Id(choice.id.0)
        }
        FieldType::User => match text {
            "me" => Operand::Id(actor.0),
            _ => Operand::Id(text.parse().map_err(|_| refuse("a user id or \"me\""))?),
        },
    })
}

/// Parses `field.<key>=<condition>`; `key` is what follows `field.`.
pub fn parse(catalog: &Catalog, key: &str, condition: &str, actor: UserId) -> Result<FieldCondition> {
    let name = format!("field.{key}");
    let field = catalog.by_key(key).ok_or_else(|| Error::invalid(&name, format!("there is no field {key:?}")))?;
    let condition = condition.trim();
    let list = |text: &str| -> Result<Operands> {
        let listable = matches!(
            field.field_type,
            FieldType::Choice | FieldType::MultiChoice | FieldType::User | FieldType::Integer
        );
        let parts: Vec<&str> = if listable { text.split(',').collect() } else { vec![text] };
        gather(field, &name, &parts, actor)
    };
    let comparison = [
        (">=", Comparison::GreaterOrEqual),
        ("<=", Comparison::LessOrEqual),
        (">", Comparison::Greater),
        ("<", Comparison::Less),
    ]
    .into_iter()
    .find_map(|(prefix, comparison)| condition.strip_prefix(prefix).map(|rest| (comparison, rest)));
    let operation = if condition.is_empty() {
        return Err(Error::invalid(&name, "give a value, none, any, !value, >value, <value or ~text"));
    } else if condition == "none" {
        Operation::Empty
    } else if condition == "any" {
        Operation::Set
    } else if let Some((comparison, rest)) = comparison {
        if !matches!(field.field_type, FieldType::Integer | FieldType::Decimal | FieldType::Date) {
            return Err(Error::invalid(
                &name,
                format!("{} is a {} field: only numbers and dates compare", field.name, field.field_type.as_str()),
            ));
        }
        Operation::Compare(comparison, gather(field, &name, &[rest], actor)?)
    } else if let Some(rest) = condition.strip_prefix('~') {
        if !matches!(field.field_type, FieldType::Text | FieldType::LongText | FieldType::Url) {
            return Err(Error::invalid(
                &name,
                format!("{} is a {} field: ~ finds text in text fields", field.name, field.field_type.as_str()),
            ));
        }
        Operation::Contains { pattern: like_pattern(rest), long: field.field_type == FieldType::LongText }
    } else if field.field_type == FieldType::LongText {
        return Err(Error::invalid(&name, format!("{} is a long text: filter it with ~text, none or any", field.name)));
    } else if let Some(rest) = condition.strip_prefix('!') {
        Operation::NoneOf(list(rest)?)
    } else {
        Operation::AnyOf(list(condition)?)
    };
    Ok(FieldCondition {
        field_id: field.id.0,
        operation,
        projects: field.project_ids.as_ref().map(|ids| ids.iter().map(|id| id.0).collect()),
        types: field.types.as_ref().map(|ids| ids.iter().map(|id| id.0).collect()),
        multiple: field.field_type == FieldType::MultiChoice,
    })
}

/// Gives `$then!(test)` the test on `item_values` that a value passes when it is one of
/// `$operands`.
macro_rules! one_of {
    ($operands:expr, $then:ident) => {{
        use $crate::db::schema::item_values as values;
        use $crate::model::field::filter::Operands;
        // One value (the usual filter) is compared with `=`: a statement diesel keeps
        // prepared on SQLite too (where `IN` binds each value and is compiled anew), and one
        // that PostgreSQL's single plan per statement fits to the project's index of values
        // (an array parameter of unknown length made it look up each item's values instead).
        macro_rules! equal_or_any {
            ($column:expr, $list:expr) => {
                match $list.as_slice() {
                    [one] => $then!($column.eq(one.to_owned())),
                    list => $then!($column.eq_any(list.to_vec())),
                }
            };
        }
        match $operands {
            Operands::Text(list) => equal_or_any!(values::text_value, list),
            Operands::Integer(list) => equal_or_any!(values::int_value, list),
            Operands::Decimal(list) => equal_or_any!(values::decimal_value, list),
            Operands::Date(list) => equal_or_any!(values::date_value, list),
            Operands::Boolean(list) => equal_or_any!(values::bool_value, list),
            Operands::Choice(list) => equal_or_any!(values::choice_id, list),
            Operands::User(list) => equal_or_any!(values::user_id, list),
        }
    }};
}
pub(crate) use one_of;

/// Gives `$then!(test)` the test on `item_values` that a value passes for a condition that
/// asks for a value (one of, a comparison, text within): the item matches when one of its
/// values passes. The other conditions (some value, none, not) give `$otherwise`.
macro_rules! value_test {
    ($operation:expr, $then:ident, $otherwise:expr) => {{
        use $crate::db::schema::item_values as values;
        use $crate::model::field::filter::{Comparison, Operands, Operation};
        match $operation {
            Operation::AnyOf(operands) => $crate::model::field::filter::one_of!(operands, $then),
            Operation::Contains { pattern, long: true } => $then!(
                $crate::model::text::lower(values::long_value.assume_not_null()).like(pattern.clone()).escape('\\')
            ),
            Operation::Contains { pattern, long: false } => $then!(
                $crate::model::text::lower(values::text_value.assume_not_null()).like(pattern.clone()).escape('\\')
            ),
            Operation::Compare(comparison, operands) => match (comparison, operands) {
                (Comparison::Greater, Operands::Integer(n)) => $then!(values::int_value.gt(n[0])),
                (Comparison::GreaterOrEqual, Operands::Integer(n)) => $then!(values::int_value.ge(n[0])),
                (Comparison::Less, Operands::Integer(n)) => $then!(values::int_value.lt(n[0])),
                (Comparison::LessOrEqual, Operands::Integer(n)) => $then!(values::int_value.le(n[0])),
                (Comparison::Greater, Operands::Decimal(n)) => $then!(values::decimal_value.gt(n[0])),
                (Comparison::GreaterOrEqual, Operands::Decimal(n)) => $then!(values::decimal_value.ge(n[0])),
                (Comparison::Less, Operands::Decimal(n)) => $then!(values::decimal_value.lt(n[0])),
                (Comparison::LessOrEqual, Operands::Decimal(n)) => $then!(values::decimal_value.le(n[0])),
                (Comparison::Greater, Operands::Date(d)) => $then!(values::date_value.gt(d[0])),
                (Comparison::GreaterOrEqual, Operands::Date(d)) => $then!(values::date_value.ge(d[0])),
                (Comparison::Less, Operands::Date(d)) => $then!(values::date_value.lt(d[0])),
                (Comparison::LessOrEqual, Operands::Date(d)) => $then!(values::date_value.le(d[0])),
                // `parse` compares only numbers and dates: no value passes another comparison.
                _ => $then!(values::id.ne(values::id)),
            },
            Operation::Set | Operation::Empty | Operation::NoneOf(_) => $otherwise,
        }
    }};
}
pub(crate) use value_test;

/// Narrows a boxed item query (over `items`, alone or joined) to the items that satisfy a
/// `FieldCondition`: `EXISTS (SELECT … FROM item_values WHERE item_id = items.id AND
/// field_id = ? AND …)`, or `NOT EXISTS` within the projects and types where the field applies,
/// for "not" and "none". A lookup per candidate item rather than a list of every item with
/// that value: the planner can then walk another index (the project's, or a sort field's)
/// and stop after the page.
///
/// `@exists query, condition, item, project` is the lookup alone, for a query over something
/// else that has the item's id and project; the caller then decides where the field applies.
/// `@probe` is the same lookup for a walk of a field's values that stops after a page: its
/// `OFFSET 0` keeps PostgreSQL from turning the lookup into a join of every value that passes
/// (which then has to be sorted whole), so each value walked is looked up in the index.
macro_rules! restrict_by_field {
    ($query:expr, $condition:expr) => {{
        use $crate::model::field::filter::Operation;
        let condition: &$crate::model::field::filter::FieldCondition = $condition;
        let mut query = $crate::model::field::filter::restrict_by_field!(
            @exists $query,
            condition,
            items::id,
            items::project_id.nullable()
        );
        if matches!(condition.operation, Operation::Empty | Operation::NoneOf(_)) {
            if let Some(projects) = &condition.projects {
                query = query.filter(items::project_id.eq_any(projects.clone()));
            }
            if let Some(types) = &condition.types {
                query = query.filter(items::type_id.eq_any(types.clone()));
            }
        }
        query
    }};
    (@exists $query:expr, $condition:expr, $item:expr, $project:expr) => {
        $crate::model::field::filter::restrict_by_field!(@lookup $query, $condition, $item, $project, )
    };
    (@probe $query:expr, $condition:expr, $item:expr, $project:expr) => {
        $crate::model::field::filter::restrict_by_field!(@lookup $query, $condition, $item, $project, .offset(0))
    };
    (@lookup $query:expr, $condition:expr, $item:expr, $project:expr, $($offset:tt)*) => {{
        use $crate::db::schema::item_values as values;
        use $crate::model::field::filter::Operation;
        let condition: &$crate::model::field::filter::FieldCondition = $condition;
        let query = $query;
        // With the item's project too (a value carries it): the lookup seeks that project's
        // index of the field's values. It selects the item id, which every value index holds:
        // PostgreSQL keeps the target list of a lookup with an OFFSET, and a column outside
        // the index would cost a read of the value's row.
        let of_item = values::table
            .select(values::item_id)
            .filter(values::item_id.eq($item))
            .filter(values::field_id.eq(condition.field_id))
            .filter(values::project_id.eq($project))
            $($offset)*;
        macro_rules! within {
            ($test:expr) => {
                query.filter(diesel::dsl::exists(of_item.filter($test)))
            };
        }
        macro_rules! outside {
            ($test:expr) => {
                query.filter(diesel::dsl::not(diesel::dsl::exists(of_item.filter($test))))
            };
        }
        match &condition.operation {
            Operation::Set => query.filter(diesel::dsl::exists(of_item)),
            Operation::Empty => query.filter(diesel::dsl::not(diesel::dsl::exists(of_item))),
            Operation::NoneOf(operands) => $crate::model::field::filter::one_of!(operands, outside),
            // Set, Empty and NoneOf are matched above.
            operation => $crate::model::field::filter::value_test!(operation, within, query),
        }
    }};
}
pub(crate) use restrict_by_field;

/// A sort by a custom field: `sort=field.<key>` (items without a value last either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSort {
    field_id: i64,
    field_type: FieldType,
}

pub fn parse_sort(catalog: &Catalog, key: &str) -> Result<FieldSort> {
    let field =
        catalog.by_key(key).ok_or_else(|| Error::invalid("sort", format!("there is no field {key:?} to sort by")))?;
    if field.field_type == FieldType::LongText {
        return Err(Error::invalid("sort", format!("{} is a long text, which does not sort", field.name)));
    }
    Ok(FieldSort { field_id: field.id.0, field_type: field.field_type })
}

/// The column of `item_values` that holds a field's value when that value is its own sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Text,
    Integer,
    Decimal,
    Date,
    Boolean,
}

impl FieldSort {
    pub fn field_id(&self) -> i64 {
        self.field_id
    }

    /// The value column, when the field has one value per item that sorts as stored (not a
    /// choice, which sorts by position, nor a user, by login): its index gives the order.
    pub fn column(&self) -> Option<SortColumn> {
        match self.field_type {
            FieldType::Text | FieldType::Url => Some(SortColumn::Text),
            FieldType::Integer => Some(SortColumn::Integer),
            FieldType::Decimal => Some(SortColumn::Decimal),
            FieldType::Date => Some(SortColumn::Date),
            FieldType::Boolean => Some(SortColumn::Boolean),
            FieldType::LongText | FieldType::Choice | FieldType::MultiChoice | FieldType::User => None,
        }
    }

    /// The item's value of the field as an SQL expression over `items`: choices by their
    /// position, users by login, yes after no. The field id comes from the catalog, never from
    /// the request, and is a number.
    pub fn expression(&self) -> String {
        let id = self.field_id;
        let (value, join) = match self.field_type {
            FieldType::Text | FieldType::Url | FieldType::LongText => ("MIN(v.text_value)", ""),
            FieldType::Integer => ("MIN(v.int_value)", ""),
            FieldType::Decimal => ("MIN(v.decimal_value)", ""),
            FieldType::Date => ("MIN(v.date_value)", ""),
            FieldType::Boolean => ("MAX(CASE WHEN v.bool_value THEN 1 ELSE 0 END)", ""),
            FieldType::Choice | FieldType::MultiChoice => {
                ("MIN(c.position)", " JOIN field_choices c ON c.id = v.choice_id")
            }
            FieldType::User => ("MIN(u.login)", " JOIN users u ON u.id = v.user_id"),
        };
        format!("(SELECT {value} FROM item_values v{join} WHERE v.item_id = items.id AND v.field_id = {id})")
    }
}
