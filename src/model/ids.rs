//! Newtype ids, so that an item id cannot be passed where a user id is expected. Each is a
//! `BigInt` to diesel on every backend, so queries compare and rows load them as they are.

use std::fmt;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($name:ident),+ $(,)?) => {$(
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, AsExpression, FromSqlRow,
        )]
        #[diesel(sql_type = BigInt)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl From<i64> for $name {
            fn from(value: i64) -> Self {
                $name(value)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl<DB: Backend> ToSql<BigInt, DB> for $name
        where
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<BigInt, DB> for $name
        where
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map($name)
            }
        }
    )+};
}

id_type!(
    UserId,
    ProjectId,
    ItemId,
    CommentId,
    AttachmentId,
    TokenId,
    TypeId,
    StatusId,
    PriorityId,
    FieldId,
    ChoiceId,
    LinkId,
    VersionId,
    LabelId,
    ComponentId
);

/// The traits that make `$name<C>`, a test of an id column `C`, a boolean expression of diesel
/// on whatever `C` appears on, written per backend by its `QueryFragment`s for SQLite and
/// PostgreSQL (and through them for the multi-backend connection).
macro_rules! id_test_expression {
    ($name:ident) => {
        impl<C> diesel::query_builder::QueryId for $name<C> {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl<C: diesel::Expression<SqlType = BigInt>> diesel::Expression for $name<C> {
            type SqlType = diesel::sql_types::Bool;
        }

        impl<C: diesel::AppearsOnTable<Source>, Source> diesel::AppearsOnTable<Source> for $name<C> where
            $name<C>: diesel::Expression
        {
        }

        impl<C: diesel::SelectableExpression<Source>, Source> diesel::SelectableExpression<Source> for $name<C> where
            $name<C>: diesel::AppearsOnTable<Source>
        {
        }

        impl<C: diesel::expression::ValidGrouping<()>> diesel::expression::ValidGrouping<()> for $name<C> {
            type IsAggregate = C::IsAggregate;
        }

        impl<C> QueryFragment<crate::db::MultiBackend> for $name<C>
        where
            Self: QueryFragment<diesel::sqlite::Sqlite> + QueryFragment<diesel::pg::Pg>,
        {
            fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, crate::db::MultiBackend>) -> QueryResult<()> {
                crate::db::MultiBackend::walk_variant_ast(self, pass)
            }
        }
    };
}

/// `column IN (ids)` written as one statement text whatever the number of ids, so that the
/// connection keeps it prepared: `column = ANY(?)` with an array on PostgreSQL (as diesel's
/// `eq_any` writes it there) and `column IN (SELECT value FROM json_each(?))` with a JSON array
/// on SQLite, where `eq_any` writes one parameter per id and the statement is prepared anew on
/// every use (60 of the 150 µs that reading a page's 25 items by id took). No limit on the
/// number of ids either (SQLite takes at most 32,766 parameters).
pub fn any_id<C, I: Copy + Into<i64>>(column: C, ids: &[I]) -> AnyId<C> {
    let ids: Vec<i64> = ids.iter().map(|&id| id.into()).collect();
    let json = format!("[{}]", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    AnyId { column, ids, json }
}

/// The test `any_id` builds.
#[derive(Debug, Clone)]
pub struct AnyId<C> {
    column: C,
    ids: Vec<i64>,
    json: String,
}

id_test_expression!(AnyId);

impl<C: QueryFragment<diesel::sqlite::Sqlite>> QueryFragment<diesel::sqlite::Sqlite> for AnyId<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<diesel::sql_types::Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryFragment<diesel::pg::Pg>> QueryFragment<diesel::pg::Pg> for AnyId<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<diesel::sql_types::Array<BigInt>, _>(&self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

/// `column IN (1, 2, 3)` with the ids written into the statement's text: for ids the node
/// took from definitions it caches (the statuses of a state), which change only with them.
/// The text stays the same from request to request, so the statement stays prepared, and the
/// planner sees the values (a PostgreSQL generic plan tests them on the index it walks before
/// any correlated lookup, which a subquery or an array parameter would follow). No ids: false.
pub fn known_ids<C, I: Copy + Into<i64>>(column: C, ids: &[I]) -> KnownIds<C> {
    KnownIds { column, ids: ids.iter().map(|&id| id.into()).collect() }
}

/// The test `known_ids` builds.
#[derive(Debug, Clone)]
pub struct KnownIds<C> {
    column: C,
    ids: Vec<i64>,
}

id_test_expression!(KnownIds);

impl<C> KnownIds<C> {
    fn walk<'b, DB: Backend>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        C: QueryFragment<DB>,
    {
        if self.ids.is_empty() {
            out.push_sql("1 = 0");
            return Ok(());
        }
        self.column.walk_ast(out.reborrow())?;
        let listed = self.ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        out.push_sql(&format!(" IN ({listed})"));
        Ok(())
    }
}

impl<C: QueryFragment<diesel::sqlite::Sqlite>> QueryFragment<diesel::sqlite::Sqlite> for KnownIds<C> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()> {
        self.walk(out)
    }
}

impl<C: QueryFragment<diesel::pg::Pg>> QueryFragment<diesel::pg::Pg> for KnownIds<C> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        self.walk(out)
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::items;

    /// The statement's text on SQLite, without its binds.
    fn sqlite(query: &impl QueryFragment<diesel::sqlite::Sqlite>) -> String {
        let written = diesel::debug_query::<diesel::sqlite::Sqlite, _>(query).to_string();
        written.split(" -- binds:").next().unwrap_or_default().to_string()
    }

    /// The statement's text on PostgreSQL, without its binds.
    fn pg(query: &impl QueryFragment<diesel::pg::Pg>) -> String {
        let written = diesel::debug_query::<diesel::pg::Pg, _>(query).to_string();
        written.split(" -- binds:").next().unwrap_or_default().to_string()
    }

    #[test]
    fn known_ids_are_written_into_the_text_and_none_match_nothing() {
        let listed = items::table.select(items::id).filter(known_ids(items::status_id, &[StatusId(1), StatusId(3)]));
        assert!(sqlite(&listed).ends_with("WHERE `items`.`status_id` IN (1, 3)"));
        assert!(pg(&listed).ends_with("WHERE \"items\".\"status_id\" IN (1, 3)"));
        let none = items::table.select(items::id).filter(known_ids::<_, StatusId>(items::status_id, &[]));
        assert!(pg(&none).ends_with("WHERE 1 = 0"));
    }

    #[test]
    fn any_id_is_one_text_whatever_the_number_of_ids() {
        let one = items::table.select(items::id).filter(any_id(items::id, &[ItemId(1)]));
        let three = items::table.select(items::id).filter(any_id(items::id, &[ItemId(1), ItemId(2), ItemId(3)]));
        assert_eq!(sqlite(&one), sqlite(&three));
        assert_eq!(pg(&one), pg(&three));
        assert!(pg(&three).ends_with("WHERE \"items\".\"id\" = ANY($1)"));
    }
}
