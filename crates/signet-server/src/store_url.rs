//! Stores named by URL, for offline admin commands that work on two stores at once
//! (`signet admin copy-store`): `sqlite://PATH` (a database file, or a data directory holding
//! `signet.db`) and `postgres://…` (the schema from the URL's `options[search_path]`, as for
//! `--store`).

use crate::app::DB_FILE;
use signet_core::store::{Store, StoreError};
use signet_store::{PostgresOptions, PostgresStore, SqliteStore};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Connects to the PostgreSQL store at `url`; a call waits at most `timeout` for a database
/// connection (a free one, or a new one while the database is unreachable) before it fails
/// with UNAVAILABLE.
pub async fn connect_postgres(url: &str, timeout: Duration) -> Result<PostgresStore, StoreError> {
    PostgresStore::connect_with(
        url,
        &PostgresOptions {
            acquire_timeout: timeout,
            ..PostgresOptions::default()
        },
    )
    .await
}

/// Where a store is.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    /// May carry a password: never printed.
    Postgres(String),
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreUrl::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreUrl::Postgres(_) => f.write_str("postgres://…"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreUrlError {
    #[error("{0:?} is not a store URL: use sqlite://PATH or postgres://…")]
    Unknown(String),
    #[error("no SQLite database at {0}")]
    Missing(PathBuf),
    #[error("cannot open the store {url}")]
    Open {
        url: String,
        #[source]
        source: StoreError,
    },
}

impl StoreUrl {
    /// Parses `sqlite://PATH` or `postgres://…` / `postgresql://…`.
    pub fn parse(text: &str) -> Result<StoreUrl, StoreUrlError> {
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreUrlError::Unknown(text.to_owned()));
            }
            let path = PathBuf::from(path);
            return Ok(StoreUrl::Sqlite(if path.is_dir() {
                path.join(DB_FILE)
            } else {
                path
            }));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(text.to_owned()));
        }
        // The rest of a URL that is not ours may be a password: echo only the scheme.
        let scheme = text.split_once("://").map_or("", |(scheme, _)| scheme);
        Err(StoreUrlError::Unknown(format!("{scheme}://…")))
    }

    /// Opens the store, applying pending migrations. With `must_exist`, a SQLite database that
    /// is not there is an error rather than a new, empty one.
    pub async fn open(&self, must_exist: bool) -> Result<Arc<dyn Store>, StoreUrlError> {
        let failed = |source| StoreUrlError::Open {
            url: self.to_string(),
            source,
        };
        Ok(match self {
            StoreUrl::Sqlite(path) => {
                if must_exist && !path.exists() {
                    return Err(StoreUrlError::Missing(path.clone()));
                }
                Arc::new(SqliteStore::open(path).await.map_err(failed)?)
            }
            StoreUrl::Postgres(url) => Arc::new(PostgresStore::connect(url).await.map_err(failed)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_echo_a_password() {
        assert_eq!(
            StoreUrl::parse("sqlite:///tmp/x.db").unwrap(),
            StoreUrl::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            StoreUrl::parse(&format!("sqlite://{}", dir.path().display())).unwrap(),
            StoreUrl::Sqlite(dir.path().join(DB_FILE))
        );
        let pg = StoreUrl::parse("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{pg:?} {pg}").contains("secret"));
        for bad in ["sqlite://", "mysql://u:secret@h/db", "x.db", ""] {
            let err = StoreUrl::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }
}
