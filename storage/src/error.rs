//! The storage crate's one error type, with the category `http` maps to a status code.

use engine::Category;
use tokio_postgres::error::SqlState;

/// Everything that can go wrong below the REST layer and above PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable PostgreSQL server binaries (initdb, postgres, pg_ctl) were found.
    #[error(
        "PostgreSQL server binaries not found (looked in: {searched}). Install them \
         (Debian/Ubuntu: `apt-get install postgresql`), put their directory on PATH, \
         or run Ember against an existing server with --database-url"
    )]
    PostgresBinariesNotFound { searched: String },

    /// Creating, starting or stopping the embedded cluster failed.
    #[error("embedded PostgreSQL: {context}: {detail}")]
    EmbeddedCluster { context: String, detail: String },

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The database answered with an error or the connection broke.
    #[error("{}", describe_database_error(.0))]
    Database(#[from] tokio_postgres::Error),

    /// No connection could be taken from the pool.
    #[error("database connection pool: {0}")]
    Pool(String),

    /// An `If-Match` (or similar) precondition did not hold when the write was applied.
    #[error("{id} is at version {}, not at {expected} as the request requires", current.map_or_else(|| "none (it does not exist or is deleted)".to_string(), |v| v.to_string()))]
    PreconditionFailed {
        id: engine::Id,
        expected: crate::model::Precondition,
        current: Option<engine::VersionId>,
    },

    /// A conditional write waited too long for another with the same criteria.
    #[error("another conditional write with the same criteria is taking too long; retry")]
    LockTimeout,

    /// A search ran past its time limit and was cancelled in the database.
    #[error("the search ran longer than the server's limit of {} ms and was stopped; narrow it (more selective criteria, a smaller _count, no _total=accurate)", .0.as_millis())]
    SearchTimeLimit(std::time::Duration),

    /// A search's paging cursor was not one Ember wrote for this search.
    #[error("the paging cursor is not valid for this search; start again from the first page")]
    InvalidCursor,

    /// The database schema is newer than this binary knows.
    #[error("database schema version {found} is newer than this Ember supports ({supported}); upgrade Ember")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// What a database error says to the client: PostgreSQL's own message for a value over one
/// of its limits, which the client can act on; otherwise no more than that it happened.
fn describe_database_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) if db.code() == &SqlState::PROGRAM_LIMIT_EXCEEDED => format!(
            "a value is too long for PostgreSQL to index or search (about 2,700 bytes per \
             indexed string, token or URI, 1 MB of words per full-text document); shorten it \
             ({})",
            db.message()
        ),
        _ => format!("database error: {error}"),
    }
}

impl Error {
    /// The category `http` turns into a status code and an OperationOutcome issue code.
    pub fn category(&self) -> Category {
        match self {
            Error::Pool(_) => Category::Unavailable,
            Error::LockTimeout => Category::Busy,
            Error::PreconditionFailed { .. } => Category::PreconditionFailed,
            Error::InvalidCursor => Category::Invalid,
            Error::SearchTimeLimit(_) => Category::TooCostly,
            Error::Database(error) if error.is_closed() => Category::Unavailable,
            // A value longer than an index entry can hold: the client's to shorten.
            Error::Database(error) if error.code() == Some(&SqlState::PROGRAM_LIMIT_EXCEEDED) => {
                Category::Invalid
            }
            // Two writers raced for the same resource (a deadlock PostgreSQL broke, or two
            // first versions of one new id): the loser may retry.
            Error::Database(error)
                if matches!(
                    error.code(),
                    Some(&SqlState::T_R_DEADLOCK_DETECTED)
                        | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                        | Some(&SqlState::UNIQUE_VIOLATION)
                ) =>
            {
                Category::Conflict
            }
            _ => Category::Fault,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
