//! The conformance suite against SQLite (a fresh temp-file database per test), and the
//! SQLite adapter's own behaviour: file handling, locking across processes, error mapping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_core::domain::{
    AuthorizedKeyId, FolderId, KeyId, OperationId, ServiceAccountId, Timestamp,
};
use signet_core::store::{KeyWrite, Store, StoreError, Write};
use signet_store::conformance::{StoreFactory, sample_key, sample_operation};
use signet_store::{SqliteOptions, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tempfile::TempDir;

/// Fresh databases in a temporary directory that lives as long as the factory.
struct SqliteFactory {
    dir: TempDir,
    next: AtomicUsize,
}

impl SqliteFactory {
    fn new() -> SqliteFactory {
        SqliteFactory {
            dir: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }

    fn new_path(&self) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("store-{n}.db"))
    }
}

impl StoreFactory for SqliteFactory {
    type Store = SqliteStore;

    async fn fresh(&self) -> SqliteStore {
        SqliteStore::open(&self.new_path()).await.unwrap()
    }

    async fn reopen(&self, store: SqliteStore) -> SqliteStore {
        let path = store.path().to_owned();
        store.close().await;
        drop(store);
        SqliteStore::open(&path).await.unwrap()
    }
}

signet_store::conformance_tests!(SqliteFactory::new());
signet_store::identity_conformance_tests!(SqliteFactory::new());
signet_store::audit_conformance_tests!(SqliteFactory::new());
signet_store::copy_conformance_tests!(SqliteFactory::new());

// ---------------------------------------------------------------------------------------------
// SQLite specifics.

async fn raw_connection(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn open_creates_the_file_in_wal_mode_and_reopens_without_remigrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.exists());
    assert_eq!(store.path(), path);
    store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Insert(&sample_key("abjkey", "f"))),
            operation: None,
            audit: None,
        })
        .await
        .unwrap();

    let mut raw = raw_connection(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    assert_eq!(applied, [1, 2, 3]);
    // The indexes the queries rely on exist.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "audit_records_by_time",
            "authorized_keys_by_account",
            "iam_tokens_unrevoked_by_account",
            "keys_by_deletion",
            "keys_by_folder",
            "operations_by_resource",
            "operations_pending",
            "service_accounts_by_folder",
        ]
    );
    raw.close().await.unwrap();

    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(
        store
            .get_key(&KeyId::from_trusted("abjkey".into()))
            .await
            .unwrap()
            .is_some()
    );
}

/// The adapter's queries (repeated here in their shape) are served by an index, without a sort.
#[tokio::test]
async fn queries_use_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut raw = raw_connection(&path).await;
    for (sql, index) in [
        (
            "SELECT id FROM keys WHERE folder_id = 'f' AND deleted_at IS NULL AND id > 'a' ORDER BY id LIMIT 5",
            "keys_by_folder",
        ),
        (
            "SELECT id FROM operations WHERE resource_id = 'r' AND (created_at, id) > (1, 'a') ORDER BY created_at, id LIMIT 5",
            "operations_by_resource",
        ),
        (
            "SELECT id FROM operations WHERE done = 0 ORDER BY created_at, id",
            "operations_pending",
        ),
        (
            "SELECT id FROM keys WHERE deleted_at IS NOT NULL AND sealed IS NOT NULL AND deleted_at <= 5 ORDER BY deleted_at, id LIMIT 5",
            "keys_by_deletion",
        ),
        (
            "SELECT id FROM service_accounts WHERE folder_id = 'f' AND id > 'a' ORDER BY id LIMIT 5",
            "service_accounts_by_folder",
        ),
        (
            "SELECT id FROM authorized_keys WHERE service_account_id = 's' AND id > 'a' ORDER BY id LIMIT 5",
            "authorized_keys_by_account",
        ),
        (
            "DELETE FROM authorized_keys WHERE service_account_id = 's'",
            "authorized_keys_by_account",
        ),
        (
            "UPDATE iam_tokens SET revoked_at = 1 WHERE service_account_id = 's' AND revoked_at IS NULL",
            "iam_tokens_unrevoked_by_account",
        ),
        (
            "SELECT role FROM access_bindings WHERE target = 'key:a'",
            "PRIMARY KEY",
        ),
        (
            "DELETE FROM access_bindings WHERE target = 'key:a'",
            "PRIMARY KEY",
        ),
        (
            "SELECT seq FROM audit_records WHERE seq >= 5 ORDER BY seq LIMIT 5",
            "INTEGER PRIMARY KEY",
        ),
        (
            "SELECT seq FROM audit_checkpoints WHERE seq > 5 ORDER BY seq LIMIT 5",
            "INTEGER PRIMARY KEY",
        ),
    ] {
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(&mut raw)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect();
        let text = plan.join(" | ");
        assert!(text.contains(index), "{sql}: {text}");
        assert!(!text.contains("TEMP B-TREE"), "{sql} sorts: {text}");
    }
    raw.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn opening_in_a_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(&dir.path().join("no/such/dir/x.db"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let mut raw = raw_connection(&path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

#[tokio::test]
async fn a_write_lock_held_elsewhere_is_unavailable_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(200),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, &options).await.unwrap();
    let key = sample_key("abjlocked", "f");
    let op = sample_operation("abjop", "abjlocked", 1);
    let write = Write {
        bindings: None,
        key: Some(KeyWrite::Insert(&key)),
        operation: Some(&op),
        audit: None,
    };

    // Another "process" holds the write lock.
    let mut other = raw_connection(&path).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let err = store.write(write).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.put_meta_if_absent("m", "v").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // Readers are not blocked by a writer.
    assert_eq!(store.get_key(&key.id).await.unwrap(), None);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    // Nothing of the failed write was kept, and the store recovers.
    assert_eq!(store.get_operation(&op.id).await.unwrap(), None);
    store.write(write).await.unwrap();
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(key));
}

/// Two stores on one file (as two processes would be) writing at once: `BEGIN IMMEDIATE` plus
/// the busy timeout serialize them, so every write succeeds or conflicts by the version rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_never_report_busy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = Arc::new(SqliteStore::open(&path).await.unwrap());
    let b = Arc::new(SqliteStore::open(&path).await.unwrap());
    let key = sample_key("abjshared", "f");
    a.write(Write {
        bindings: None,
        key: Some(KeyWrite::Insert(&key)),
        operation: None,
        audit: None,
    })
    .await
    .unwrap();

    let mut tasks = Vec::new();
    for i in 0..40usize {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let id = key.id.clone();
        tasks.push(tokio::spawn(async move {
            // Distinct inserts must all succeed...
            let own = sample_key(&format!("abjown{i:02}"), "g");
            store
                .write(Write {
                    bindings: None,
                    key: Some(KeyWrite::Insert(&own)),
                    operation: None,
                    audit: None,
                })
                .await
                .unwrap();
            // ...and read-modify-write on the shared key must only ever conflict.
            loop {
                let current = store.get_key(&id).await.unwrap().unwrap();
                let next = signet_core::domain::KeyRecord {
                    version: current.version + 1,
                    ..current.clone()
                };
                match store
                    .write(Write {
                        bindings: None,
                        key: Some(KeyWrite::Update {
                            record: &next,
                            expected_version: current.version,
                        }),
                        operation: None,
                        audit: None,
                    })
                    .await
                {
                    Ok(()) => break,
                    Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                    Err(e) => panic!("writer {i}: {e:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(b.get_key(&key.id).await.unwrap().unwrap().version, 41);
    let listed = a
        .list_keys(
            &signet_core::domain::FolderId::from_trusted("g".into()),
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 40);
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_and_never_echo_their_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut raw = raw_connection(&path).await;
    let insert_key = |id: &'static str, labels: &'static str, status: i64, algorithm: i64| {
        sqlx::query(
            "INSERT INTO keys (id, folder_id, created_at, name, description, labels, status, \
             algorithm, deletion_protection, public_key_pem, sealed, deleted_at, destroyed_at, \
             version) VALUES (?1, 'f', 0, 'n', 'd', ?2, ?3, ?4, 0, NULL, \
             CAST('TOP-SECRET-SEALED' AS BLOB), 0, NULL, 1)",
        )
        .bind(id)
        .bind(labels)
        .bind(status)
        .bind(algorithm)
    };
    let alg = i64::from(signet_crypto::Algorithm::ALL[0].wire_number());
    for (id, labels, status, algorithm, column) in [
        ("abjbadalg", "{}", 2, 999, "algorithm"),
        ("abjbadstatus", "{}", 0, alg, "status"),
        ("abjbadlabels", "{\"TOP-SECRET-SEALED\":", 2, alg, "labels"),
        ("abjlabeltype", "[\"TOP-SECRET-SEALED\"]", 2, alg, "labels"),
    ] {
        insert_key(id, labels, status, algorithm)
            .execute(&mut raw)
            .await
            .unwrap();
        let err = store
            .get_key(&KeyId::from_trusted(id.into()))
            .await
            .unwrap_err();
        let text = format!("{err} / {err:?}");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains(column) && m.contains(id)),
            "{text}"
        );
        assert!(!text.contains("TOP-SECRET"), "{text}");
    }
    // A corrupt row also fails the lists it appears in, rather than being skipped silently.
    let err = store
        .keys_due_for_destruction(Timestamp::from_micros(0), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    for (id, kind, done, result, column) in [
        ("abjbadkind", "rotate_key", 0, "\"Pending\"", "kind"),
        (
            "abjbadjson",
            "create_key",
            0,
            "{\"TOP-SECRET-SEALED\"",
            "result",
        ),
        ("abjbaddone", "create_key", 1, "\"Pending\"", "done"),
    ] {
        sqlx::query(
            "INSERT INTO operations (id, kind, resource_id, description, created_at, created_by, \
             modified_at, done, result) VALUES (?1, ?2, 'r', 'd', 0, 'u', 0, ?3, ?4)",
        )
        .bind(id)
        .bind(kind)
        .bind(done)
        .bind(result)
        .execute(&mut raw)
        .await
        .unwrap();
        let err = store
            .get_operation(&OperationId::from_trusted(id.into()))
            .await
            .unwrap_err();
        let text = format!("{err} / {err:?}");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains(column)),
            "{text}"
        );
        assert!(!text.contains("TOP-SECRET"), "{text}");
    }
    raw.close().await.unwrap();
}

#[tokio::test]
async fn debug_output_and_conflicts_show_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("debug.db"))
        .await
        .unwrap();
    let key = sample_key("abjdebug", "f");
    let sealed = key.sealed.as_ref().unwrap().as_bytes().to_vec();
    let write = Write {
        bindings: None,
        key: Some(KeyWrite::Insert(&key)),
        operation: None,
        audit: None,
    };
    store.write(write).await.unwrap();
    let err = store.write(write).await.unwrap_err();
    let text = format!("{store:?} {err} {err:?}");
    assert!(text.contains("SqliteStore"), "{text}");
    assert!(matches!(err, StoreError::Conflict(_)));
    // Neither the raw bytes nor a Debug rendering of them appear.
    assert!(!text.contains(&format!("{sealed:?}")), "{text}");
    assert!(!text.contains(&format!("{:?}", &sealed[..8])), "{text}");
}

#[tokio::test]
async fn undecodable_identity_rows_are_corrupt_and_never_echo_their_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt-identity.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut raw = raw_connection(&path).await;
    for sql in [
        "INSERT INTO service_accounts (id, folder_id, created_at, name, description, labels) \
         VALUES ('ajebadlabels', 'f', 0, 'TOP-SECRET-NAME', 'd', '{\"TOP-SECRET\":')",
        "INSERT INTO service_accounts (id, folder_id, created_at, name, description, labels) \
         VALUES ('ajegood', 'f', 0, 'n', 'd', '{}')",
        "INSERT INTO authorized_keys (id, service_account_id, created_at, description, \
         algorithm, public_key_pem) VALUES ('ajebadalg', 'ajegood', 0, 'd', 7, 'TOP-SECRET-PEM')",
        "INSERT INTO access_bindings (target, role, subject_type, subject_id) \
         VALUES ('key:abjrole', 'kms.TOP-SECRET', 'system', 'allUsers')",
        "INSERT INTO access_bindings (target, role, subject_type, subject_id) \
         VALUES ('key:abjtype', 'viewer', 'TOP-SECRET-group', 'ajex')",
    ] {
        sqlx::query(sql).execute(&mut raw).await.unwrap();
    }
    raw.close().await.unwrap();

    let check = |err: StoreError, column: &str, row: &str| {
        let text = format!("{err} / {err:?}");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains(column) && m.contains(row)),
            "{text}"
        );
        assert!(!text.contains("TOP-SECRET"), "{text}");
    };
    let account = |id: &str| ServiceAccountId::from_trusted(id.into());
    check(
        store
            .get_service_account(&account("ajebadlabels"))
            .await
            .unwrap_err(),
        "labels",
        "ajebadlabels",
    );
    // A corrupt row fails the list it is in rather than being skipped.
    check(
        store
            .list_service_accounts(&FolderId::from_trusted("f".into()), None, 10)
            .await
            .unwrap_err(),
        "labels",
        "ajebadlabels",
    );
    check(
        store
            .get_authorized_key(&AuthorizedKeyId::from_trusted("ajebadalg".into()))
            .await
            .unwrap_err(),
        "algorithm",
        "ajebadalg",
    );
    check(
        store
            .list_authorized_keys(&account("ajegood"), None, 10)
            .await
            .unwrap_err(),
        "algorithm",
        "ajebadalg",
    );
    check(
        store.get_access_bindings("key:abjrole").await.unwrap_err(),
        "role",
        "key:abjrole",
    );
    check(
        store.get_access_bindings("key:abjtype").await.unwrap_err(),
        "subject_type",
        "key:abjtype",
    );
}

/// The schema itself refuses what the adapter never writes: an authorized key of a missing
/// account, and a second account of the same name in a folder.
#[tokio::test]
async fn the_identity_schema_enforces_its_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("constraints.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut raw = raw_connection(&path).await;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut raw)
        .await
        .unwrap();
    let orphan = sqlx::query(
        "INSERT INTO authorized_keys (id, service_account_id, created_at, description, \
         algorithm, public_key_pem) VALUES ('ajek', 'ajenobody', 0, 'd', 1, 'p')",
    )
    .execute(&mut raw)
    .await;
    assert!(orphan.is_err());
    let insert = |id: &'static str| {
        sqlx::query(
            "INSERT INTO service_accounts (id, folder_id, created_at, name, description, labels) \
             VALUES (?1, 'f', 0, 'same', 'd', '{}')",
        )
        .bind(id)
    };
    insert("ajeone").execute(&mut raw).await.unwrap();
    assert!(insert("ajetwo").execute(&mut raw).await.is_err());
    // STRICT: a value of the wrong type is refused on write.
    let wrong_type = sqlx::query(
        "INSERT INTO iam_tokens (sha256, service_account_id, created_at, expires_at) \
         VALUES ('h', 'ajeone', 'yesterday', 0)",
    )
    .execute(&mut raw)
    .await;
    assert!(wrong_type.is_err());
    raw.close().await.unwrap();
    store.close().await;
}

/// Two stores on one file (two server processes, in effect) append to one chain: SQLite's
/// write lock, taken first by every append, orders them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_sharing_a_file_append_to_one_audit_chain() {
    use signet_store::conformance_audit::sample_event;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = Arc::new(SqliteStore::open(&path).await.unwrap());
    let b = Arc::new(SqliteStore::open(&path).await.unwrap());
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let events: Vec<_> = (0..3)
                    .map(|j| sample_event(n as i64 * 1000 + i * 10 + j))
                    .collect();
                store.append_audit(&events).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = signet_core::audit::verify(a.as_ref(), None).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records, 4 * 20 * 3);
}
