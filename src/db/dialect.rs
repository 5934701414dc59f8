//! The few statements whose SQL differs between the backends, in one place: the database
//! clock with millisecond precision, "that long ago", parameter placeholders and row locks.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_durations_keep_milliseconds() {
        let dialect = Dialect { postgres: false };
        assert_eq!(dialect.ago(Duration::from_millis(1500)), "strftime('%Y-%m-%d %H:%M:%f', 'now', '-1.500 seconds')");
    }
}
