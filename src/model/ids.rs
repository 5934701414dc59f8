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

impl<C> diesel::query_builder::QueryId for AnyId<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: diesel::Expression<SqlType = BigInt>> diesel::Expression for AnyId<C> {
    type SqlType = diesel::sql_types::Bool;
}

impl<C: diesel::AppearsOnTable<Source>, Source> diesel::AppearsOnTable<Source> for AnyId<C> where
    AnyId<C>: diesel::Expression
{
}

impl<C: diesel::SelectableExpression<Source>, Source> diesel::SelectableExpression<Source> for AnyId<C> where
    AnyId<C>: diesel::AppearsOnTable<Source>
{
}

impl<C: diesel::expression::ValidGrouping<()>> diesel::expression::ValidGrouping<()> for AnyId<C> {
    type IsAggregate = C::IsAggregate;
}

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

impl<C> QueryFragment<crate::db::MultiBackend> for AnyId<C>
where
    Self: QueryFragment<diesel::sqlite::Sqlite> + QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, crate::db::MultiBackend>) -> QueryResult<()> {
        crate::db::MultiBackend::walk_variant_ast(self, pass)
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

impl<C> diesel::query_builder::QueryId for KnownIds<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: diesel::Expression<SqlType = BigInt>> diesel::Expression for KnownIds<C> {
    type SqlType = diesel::sql_types::Bool;
}

impl<C: diesel::AppearsOnTable<Source>, Source> diesel::AppearsOnTable<Source> for KnownIds<C> where
    KnownIds<C>: diesel::Expression
{
}

impl<C: diesel::SelectableExpression<Source>, Source> diesel::SelectableExpression<Source> for KnownIds<C> where
    KnownIds<C>: diesel::AppearsOnTable<Source>
{
}

impl<C: diesel::expression::ValidGrouping<()>> diesel::expression::ValidGrouping<()> for KnownIds<C> {
    type IsAggregate = C::IsAggregate;
}

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

impl<C> QueryFragment<crate::db::MultiBackend> for KnownIds<C>
where
    Self: QueryFragment<diesel::sqlite::Sqlite> + QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, crate::db::MultiBackend>) -> QueryResult<()> {
        crate::db::MultiBackend::walk_variant_ast(self, pass)
    }
}
