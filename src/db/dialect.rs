//! The few statements whose SQL differs between the backends, in one place: the database
//! clock with millisecond precision, "that long ago", parameter placeholders, row locks, and
//! the subqueries of an item's row written as SQL text (`item_subquery!`).
//! Cluster and index-commit statements are written as SQL text, which keeps every conditional
//! UPDATE readable as the single statement it is.

use std::time::Duration;

use diesel::query_builder::SqlQuery;

use crate::db::DbConnection;

/// The PostgreSQL row-lock modes the lease uses, each for one purpose (lease.rs); how they
/// conflict among themselves:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// Conflicts only with `Update`.
    KeyShare,
    /// Conflicts with itself and `Update`.
    NoKeyUpdate,
    /// Conflicts with every lock.
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    postgres: bool,
}

impl Dialect {
    pub fn of(connection: &DbConnection) -> Dialect {
        Dialect { postgres: matches!(connection, DbConnection::Postgresql(_)) }
    }

    /// The database's current UTC time as a `TIMESTAMP`, with milliseconds.
    pub fn now(self) -> String {
        if self.postgres {
            // The session time zone is UTC (see db.rs); clock_timestamp() is the time of the
            // statement, not of the transaction.
            "(clock_timestamp() AT TIME ZONE 'UTC')".into()
        } else {
            "strftime('%Y-%m-%d %H:%M:%f', 'now')".into()
        }
    }

    /// The database time `duration` ago.
    pub fn ago(self, duration: Duration) -> String {
        let millis = duration.as_millis();
        if self.postgres {
            format!("((clock_timestamp() AT TIME ZONE 'UTC') - interval '{millis} milliseconds')")
        } else {
            format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '-{}.{:03} seconds')", millis / 1000, millis % 1000)
        }
    }

    /// The row-lock clause appended to a SELECT on PostgreSQL. SQLite runs one writer at a
    /// time (`BEGIN IMMEDIATE`) and has no row locks.
    pub fn row_lock(self, lock: RowLock) -> &'static str {
        match (self.postgres, lock) {
            (false, _) => "",
            (true, RowLock::KeyShare) => " FOR KEY SHARE",
            (true, RowLock::NoKeyUpdate) => " FOR NO KEY UPDATE",
            (true, RowLock::Update) => " FOR UPDATE",
        }
    }

    /// Turns `?` placeholders into `$1, $2, …` for PostgreSQL.
    pub fn query(self, text: &str) -> SqlQuery {
        if !self.postgres {
            return diesel::sql_query(text.to_string());
        }
        let mut numbered = String::with_capacity(text.len() + 8);
        let mut index = 0;
        for character in text.chars() {
            if character == '?' {
                index += 1;
                numbered.push('$');
                numbered.push_str(&index.to_string());
            } else {
                numbered.push(character);
            }
        }
        diesel::sql_query(numbered)
    }
}

/// A subquery in the select list of a statement that reads item rows, written as SQL text for
/// each backend (`sql` for both when they agree): a unit struct, an expression of `$sql_type`
/// wherever `items` can be selected, with a static query id, so that the statements it is in
/// stay prepared by their type. For what diesel's query builder cannot write on both backends
/// alike (aggregates into one value, an item's own table again for its parent). With
/// `anywhere`, a subquery that names no outer column, selectable in any statement.
macro_rules! item_subquery {
    ($(#[$doc:meta])* $name:ident: $sql_type:ty, sql: $sql:expr) => {
        $crate::db::dialect::item_subquery!($(#[$doc])* $name: $sql_type, postgres: $sql, sqlite: $sql);
    };
    ($(#[$doc:meta])* $name:ident: $sql_type:ty, postgres: $postgres:expr, sqlite: $sqlite:expr) => {
        $crate::db::dialect::item_subquery!(@define $(#[$doc])* $name: $sql_type, $postgres, $sqlite);

        impl<Source> diesel::AppearsOnTable<Source> for $name where
            $crate::db::schema::items::id: diesel::AppearsOnTable<Source>
        {
        }

        impl<Source> diesel::SelectableExpression<Source> for $name where
            $crate::db::schema::items::id: diesel::SelectableExpression<Source>
        {
        }
    };
    ($(#[$doc:meta])* $name:ident: $sql_type:ty, anywhere, sql: $sql:expr) => {
        $crate::db::dialect::item_subquery!(@define $(#[$doc])* $name: $sql_type, $sql, $sql);

        impl<Source> diesel::AppearsOnTable<Source> for $name {}

        impl<Source> diesel::SelectableExpression<Source> for $name {}
    };
    (@define $(#[$doc:meta])* $name:ident: $sql_type:ty, $postgres:expr, $sqlite:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        pub struct $name;

        impl diesel::Expression for $name {
            type SqlType = $sql_type;
        }

        impl diesel::expression::ValidGrouping<()> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($postgres);
                Ok(())
            }
        }

        impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($sqlite);
                Ok(())
            }
        }

        impl diesel::query_builder::QueryFragment<$crate::db::MultiBackend> for $name {
            fn walk_ast<'b>(
                &'b self,
                pass: diesel::query_builder::AstPass<'_, 'b, $crate::db::MultiBackend>,
            ) -> diesel::QueryResult<()> {
                $crate::db::MultiBackend::walk_variant_ast(self, pass)
            }
        }
    };
}
pub(crate) use item_subquery;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_durations_keep_milliseconds() {
        let dialect = Dialect { postgres: false };
        assert_eq!(dialect.ago(Duration::from_millis(1500)), "strftime('%Y-%m-%d %H:%M:%f', 'now', '-1.500 seconds')");
    }
}
