//! The one error type of Baton. Models return it; only `web` maps its kinds to
//! status codes and `cli` to exit messages.

use std::fmt;

/// Which rule a request broke, for `Error::Invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("invalid {0}")]
    Invalid(FieldError),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too large: {0}")]
    TooLarge(String),
    /// Content of a kind this operation does not take (an attachment that is not an image
    /// shown as one).
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("too many attempts: {0}")]
    RateLimited(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("{context}: {source}")]
    Internal {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The message without the kind prefix, for clients that get the kind separately.
    pub fn message(&self) -> String {
        match self {
            Error::NotFound(what) => format!("{what} not found"),
            Error::Invalid(field_error) => field_error.to_string(),
            Error::Unauthenticated(message)
            | Error::Forbidden(message)
            | Error::Conflict(message)
            | Error::TooLarge(message)
            | Error::Unsupported(message)
            | Error::RateLimited(message)
            | Error::Unavailable(message) => message.clone(),
            Error::Internal { context, .. } => context.clone(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(FieldError { field: field.into(), message: message.into() })
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    pub fn forbidden(why: impl Into<String>) -> Self {
        Error::Forbidden(why.into())
    }

    pub fn internal(context: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal { context: context.into(), source: source.into() }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as DieselError};
        match error {
            DieselError::NotFound => Error::NotFound("record".into()),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Error::Conflict(format!("already exists ({})", info.message()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Error::invalid("reference", format!("refers to a record that does not exist ({})", info.message()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Error::Unavailable(format!("database connection closed: {}", info.message()))
            }
            other => Error::internal("database query failed", other),
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(error: r2d2::Error) -> Self {
        Error::Unavailable(format!("no database connection: {error}"))
    }
}
