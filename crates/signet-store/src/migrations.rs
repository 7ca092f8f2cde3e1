//! Versioned schema migrations, embedded in the binary at compile time.
//!
//! Each adapter has its own directory (`migrations/sqlite/`, `migrations/postgres/`) of
//! files named `NNNN_description.sql`. They are listed here with `include_str!`, so neither a
//! database nor the migration directory is needed at build or run time. sqlx's migrator applies
//! the ones a database lacks, records them in `_sqlx_migrations` with a checksum, and refuses a
//! database that has an applied migration this binary does not know (a downgrade) or whose file
//! has changed since it was applied.

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// One embedded migration file: its name without `.sql`, and its text.
#[derive(Debug)]
pub(crate) struct Embedded {
    pub(crate) stem: &'static str,
    pub(crate) sql: &'static str,
}

macro_rules! embed {
    ($dir:literal, $stem:literal) => {
        Embedded {
            stem: $stem,
            sql: include_str!(concat!("../migrations/", $dir, "/", $stem, ".sql")),
        }
    };
}

/// The SQLite migrations, in order. A unit test checks this list against the directory.
pub(crate) const SQLITE: &[Embedded] = &[
    embed!("sqlite", "0001_init"),
    embed!("sqlite", "0002_identities"),
    embed!("sqlite", "0003_audit"),
];

/// The PostgreSQL migrations, in order. A unit test checks this list against the directory.
pub(crate) const POSTGRES: &[Embedded] = &[
    embed!("postgres", "0001_init"),
    embed!("postgres", "0002_identities"),
    embed!("postgres", "0003_audit"),
];

impl Embedded {
    /// `(version, description)` from `NNNN_description`.
    fn parse_stem(&self) -> Option<(i64, &'static str)> {
        let (version, description) = self.stem.split_once('_')?;
        let version: i64 = version.parse().ok()?;
        (version > 0 && !description.is_empty()).then_some((version, description))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("embedded migration {0:?} is not named NNNN_description")]
struct BadName(&'static str);

/// A [`MigrationSource`] over an embedded list.
#[derive(Debug)]
struct EmbeddedSource(&'static [Embedded]);

impl MigrationSource<'static> for EmbeddedSource {
    // sqlx's `BoxFuture`, spelled out to avoid a dependency on `futures-core` for one alias.
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            self.0
                .iter()
                .map(|m| {
                    let (version, description) = m.parse_stem().ok_or(BadName(m.stem))?;
                    Ok(Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(m.sql),
                        false,
                    ))
                })
                .collect()
        })
    }
}

/// A migrator over an embedded list.
pub(crate) async fn migrator(list: &'static [Embedded]) -> Result<Migrator, MigrateError> {
    Migrator::new(EmbeddedSource(list)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn stems_in(dir: &str) -> BTreeSet<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter_map(|n| n.strip_suffix(".sql").map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_sqlite_migration_file_is_embedded_in_order() {
        let listed: BTreeSet<String> = SQLITE.iter().map(|m| m.stem.to_owned()).collect();
        assert_eq!(listed, stems_in("sqlite"));
        let versions: Vec<i64> = SQLITE.iter().map(|m| m.parse_stem().unwrap().0).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }

    #[test]
    fn every_postgres_migration_file_is_embedded_in_order() {
        let listed: BTreeSet<String> = POSTGRES.iter().map(|m| m.stem.to_owned()).collect();
        assert_eq!(listed, stems_in("postgres"));
        let versions: Vec<i64> = POSTGRES.iter().map(|m| m.parse_stem().unwrap().0).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }

    #[tokio::test]
    async fn the_migrator_resolves_every_embedded_file() {
        for list in [SQLITE, POSTGRES] {
            let m = migrator(list).await.unwrap();
            assert_eq!(m.iter().count(), list.len());
            assert_eq!(m.iter().next().unwrap().version, 1);
        }
    }
}
