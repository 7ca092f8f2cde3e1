//! Mapping sqlx errors to [`StoreError`]. Causes are kept as sources; error text never includes
//! row values (the databases' own messages name constraints and columns, not values).

use signet_core::store::StoreError;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;

/// How a database error is classified beyond sqlx's [`ErrorKind`]. Adapter-specific: SQLite and
/// PostgreSQL report busy, I/O and corruption with different codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbClass {
    /// Busy, locked, out of disk, cannot open: the store is unavailable for now.
    Transient,
    /// The database file itself is damaged.
    Corrupt,
    /// Anything else.
    Other,
}

pub(crate) type Classify = fn(&dyn DatabaseError) -> DbClass;

/// Maps a sqlx error. A unique or primary-key violation becomes `Conflict(conflict())`.
pub(crate) fn map_sqlx(
    e: sqlx::Error,
    classify: Classify,
    conflict: impl FnOnce() -> String,
) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.kind() == ErrorKind::UniqueViolation {
            return StoreError::Conflict(conflict());
        }
        if classify(db.as_ref()) == DbClass::Corrupt {
            return StoreError::Corrupt(format!("the database reports corruption: {db}"));
        }
    }
    match e {
        // Decode errors are normally caught per column by the adapters; these are the rest. The
        // sqlx message is dropped on purpose: it may quote the value that failed to decode.
        sqlx::Error::ColumnDecode { index, .. } => {
            StoreError::Corrupt(format!("column {index} does not decode"))
        }
        sqlx::Error::Decode(_) => StoreError::Corrupt("a stored value does not decode".into()),
        e if is_transient(&e, classify) => StoreError::Unavailable(Box::new(e)),
        e => StoreError::Other(Box::new(e)),
    }
}

fn is_transient(e: &sqlx::Error, classify: Classify) -> bool {
    match e {
        sqlx::Error::Database(db) => classify(db.as_ref()) == DbClass::Transient,
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// Maps a migration error: `Unavailable` if the database was busy or unreachable, else `Other`
/// (a failed, unknown or modified migration needs an operator, not a retry).
pub(crate) fn map_migrate(e: MigrateError, classify: Classify) -> StoreError {
    let transient = match &e {
        MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => {
            is_transient(inner, classify)
        }
        _ => false,
    };
    if transient {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Other(Box::new(e))
    }
}
