//! The conformance suite against PostgreSQL (each test in a fresh schema with a random name,
//! dropped afterwards), and the PostgreSQL adapter's own behaviour: schemas and migrations,
//! several stores on one schema, locks held elsewhere, error mapping.
//!
//! The server is `postgres://postgres@127.0.0.1:5432/test`, or `SIGNET_TEST_POSTGRES_URL`. When
//! it cannot be reached these tests FAIL, saying so: a skipped database test would read as a
//! pass. A run that is killed may leave `signet_test_*` schemas behind; they are safe to drop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_core::domain::{
    AuthorizedKey, AuthorizedKeyAlgorithm, AuthorizedKeyId, FolderId, KeyId, KeyRecord, Labels,
    OperationId, ServiceAccount, ServiceAccountId, Timestamp,
};
use signet_core::store::{KeyWrite, Store, StoreError, Write};
use signet_store::conformance::{StoreFactory, T0, sample_key, sample_operation};
use signet_store::{PostgresOptions, PostgresStore};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn test_url() -> String {
    std::env::var("SIGNET_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// Where `url` points, without its credentials.
fn describe(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "{}:{}/{}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        Err(_) => "an unparsable SIGNET_TEST_POSTGRES_URL".to_owned(),
    }
}

#[track_caller]
fn unreachable(url: &str, e: &StoreError) -> ! {
    panic!(
        "cannot use the test PostgreSQL database at {}: {e} ({e:?}).\n\
         The PostgreSQL store tests need a server and never skip. Start the local one with \
         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or point \
         SIGNET_TEST_POSTGRES_URL at another (default {DEFAULT_URL}).",
        describe(url)
    )
}

/// A fresh schema name: `signet_test_` and 16 random hex digits.
fn random_schema() -> String {
    let mut bytes = [0u8; 8];
    signet_crypto::fill_random(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("signet_test_{hex}")
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn in_schema(schema: &str) -> PostgresOptions {
    PostgresOptions {
        schema: Some(schema.to_owned()),
        ..PostgresOptions::default()
    }
}

/// Fresh schemas in the test database, dropped when the factory is.
struct PgFactory {
    url: String,
    schemas: Mutex<Vec<String>>,
}

impl PgFactory {
    fn new() -> PgFactory {
        PgFactory {
            url: test_url(),
            schemas: Mutex::new(Vec::new()),
        }
    }

    /// A new schema name, dropped with the factory (the store creates the schema).
    fn new_schema(&self) -> String {
        self.new_schema_named(random_schema())
    }

    fn new_schema_named(&self, schema: String) -> String {
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(schema.clone());
        schema
    }

    async fn open(&self, schema: &str) -> PostgresStore {
        self.open_with(&self.url, in_schema(schema)).await
    }

    async fn open_with(&self, url: &str, options: PostgresOptions) -> PostgresStore {
        PostgresStore::connect_with(url, &options)
            .await
            .unwrap_or_else(|e| unreachable(url, &e))
    }

    /// A plain connection whose search path is `schema`.
    async fn raw(&self, schema: &str) -> PgConnection {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        sqlx::query("SELECT set_config('search_path', $1, false)")
            .bind(quote(schema))
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }
}

impl StoreFactory for PgFactory {
    type Store = PostgresStore;

    async fn fresh(&self) -> PostgresStore {
        let schema = self.new_schema();
        self.open(&schema).await
    }

    async fn reopen(&self, store: PostgresStore) -> PostgresStore {
        let schema = store.schema().unwrap().to_owned();
        store.close().await;
        drop(store);
        self.open(&schema).await
    }
}

impl Drop for PgFactory {
    fn drop(&mut self) {
        let schemas = std::mem::take(
            self.schemas
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if schemas.is_empty() {
            return;
        }
        let url = self.url.clone();
        // Drop runs on the test's runtime, which must not block on a future; a thread with a
        // runtime of its own does the work. Best effort, and never a panic (this may run while a
        // failed test unwinds).
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(mut conn) = PgConnection::connect(&url).await else {
                    return;
                };
                // A task of a failed test may still hold a lock; do not wait for it forever.
                let _ = sqlx::raw_sql("SET lock_timeout = '5s'")
                    .execute(&mut conn)
                    .await;
                for schema in schemas {
                    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(&schema));
                    let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                }
                let _ = conn.close().await;
            });
        });
        let _ = cleanup.join();
    }
}

signet_store::conformance_tests!(PgFactory::new());
signet_store::identity_conformance_tests!(PgFactory::new());
signet_store::audit_conformance_tests!(PgFactory::new());
signet_store::copy_conformance_tests!(PgFactory::new());

// ---------------------------------------------------------------------------------------------
// PostgreSQL specifics.

fn insert(record: &KeyRecord) -> Write<'_> {
    Write {
        key: Some(KeyWrite::Insert(record)),
        ..Write::default()
    }
}

async fn applied_migrations(raw: &mut PgConnection) -> Vec<(i64, String)> {
    sqlx::query("SELECT version, installed_on::text FROM _sqlx_migrations ORDER BY version")
        .fetch_all(raw)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_creates_the_schema_and_reconnecting_does_not_migrate_again() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    // Several stores connecting to a schema that does not exist yet, at once: one creates it,
    // one migrates it, and all of them work.
    let (s0, s1, s2, s3) = tokio::join!(
        factory.open(&schema),
        factory.open(&schema),
        factory.open(&schema),
        factory.open(&schema)
    );
    let stores = [s0, s1, s2, s3];
    let store = &stores[0];
    assert_eq!(store.schema(), Some(schema.as_str()));
    let key = sample_key("abjkey", "f");
    store.write(insert(&key)).await.unwrap();
    assert_eq!(stores[3].get_key(&key.id).await.unwrap(), Some(key.clone()));

    let mut raw = factory.raw(&schema).await;
    let applied = applied_migrations(&mut raw).await;
    assert_eq!(
        applied.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        [1, 2, 3],
        "{applied:?}"
    );
    // Everything was created in the schema.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         ORDER BY table_name",
    )
    .bind(&schema)
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "access_bindings",
            "audit_checkpoints",
            "audit_head",
            "audit_records",
            "authorized_keys",
            "iam_tokens",
            "keys",
            "meta",
            "operations",
            "service_accounts"
        ]
    );
    // The column types the adapter relies on: bytes, JSONB, 64-bit micros, bytewise ids.
    let columns: Vec<(String, String, Option<String>)> = sqlx::query(
        "SELECT column_name::text, data_type::text, collation_name::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'keys' \
         AND column_name IN ('id', 'labels', 'sealed', 'created_at', 'status') \
         ORDER BY column_name",
    )
    .bind(&schema)
    .fetch_all(&mut raw)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    let expect = |c: &str, t: &str, coll: Option<&str>| (c.into(), t.into(), coll.map(Into::into));
    assert_eq!(
        columns,
        vec![
            expect("created_at", "bigint", None),
            expect("id", "text", Some("C")),
            expect("labels", "jsonb", None),
            expect("sealed", "bytea", None),
            expect("status", "bigint", None),
        ]
    );

    // Reconnecting applies nothing again, and the data is there.
    for store in stores {
        store.close().await;
    }
    let store = factory.open(&schema).await;
    assert_eq!(applied_migrations(&mut raw).await, applied);
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(key));
    raw.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_in_two_schemas_do_not_see_each_other() {
    let factory = PgFactory::new();
    let plain = factory.new_schema();
    // A name that needs quoting everywhere it is used.
    let awkward = factory.new_schema_named(format!("Signet \"Test\"; {}", random_schema()));
    let a = factory.open(&plain).await;
    let b = factory.open(&awkward).await;
    assert_eq!(b.schema(), Some(awkward.as_str()));

    let in_a = sample_key("abjsame", "f");
    let in_b = KeyRecord {
        name: "the other one".to_owned(),
        ..sample_key("abjsame", "f")
    };
    a.write(insert(&in_a)).await.unwrap();
    b.write(insert(&in_b)).await.unwrap();
    b.write(insert(&sample_key("abjonlyb", "f"))).await.unwrap();
    assert!(a.put_meta_if_absent("root_key_check", "a").await.unwrap());
    assert!(b.put_meta_if_absent("root_key_check", "b").await.unwrap());

    assert_eq!(a.get_key(&in_a.id).await.unwrap(), Some(in_a.clone()));
    assert_eq!(b.get_key(&in_b.id).await.unwrap(), Some(in_b.clone()));
    let folder = FolderId::from_trusted("f".into());
    assert_eq!(
        a.list_keys(&folder, None, 10).await.unwrap(),
        vec![in_a.clone()]
    );
    assert_eq!(b.list_keys(&folder, None, 10).await.unwrap().len(), 2);
    assert_eq!(
        a.get_meta("root_key_check").await.unwrap().as_deref(),
        Some("a")
    );
    assert_eq!(
        b.get_meta("root_key_check").await.unwrap().as_deref(),
        Some("b")
    );
    // And the rows are where they should be.
    let mut raw = factory.raw(&awkward).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM keys")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(count, 2);
    raw.close().await.unwrap();
}

/// Without the schema option, the store works wherever the connection's search path points,
/// here one set in the URL (the schema must exist then: nothing creates it).
#[tokio::test]
async fn without_a_schema_option_the_search_path_of_the_url_is_kept() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let mut raw = PgConnection::connect(&factory.url).await.unwrap();
    sqlx::raw_sql(&format!("CREATE SCHEMA {}", quote(&schema)))
        .execute(&mut raw)
        .await
        .unwrap();
    let separator = if factory.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options[search_path]={schema}", factory.url);
    let store = factory.open_with(&url, PostgresOptions::default()).await;
    assert_eq!(store.schema(), None);
    store
        .write(insert(&sample_key("abjurl", "f")))
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}.keys", quote(&schema)))
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(count, 1);
    raw.close().await.unwrap();
    store.close().await;
}

/// Two stores on one schema (as two server processes would be) writing at once: every write
/// succeeds or conflicts by the version rule, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_schema_follow_the_version_rule() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let a = Arc::new(factory.open(&schema).await);
    let b = Arc::new(factory.open(&schema).await);
    let key = sample_key("abjshared", "f");
    a.write(insert(&key)).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let mut tasks = Vec::new();
    for i in 0..40usize {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let barrier = Arc::clone(&barrier);
        let id = key.id.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // Distinct inserts all succeed; one id inserted by everyone has one winner...
            let own = sample_key(&format!("abjown{i:02}"), "g");
            store.write(insert(&own)).await.unwrap();
            let once = KeyRecord {
                name: format!("inserter {i}"),
                ..sample_key("abjonce", "h")
            };
            let won_insert = match store.write(insert(&once)).await {
                Ok(()) => true,
                Err(StoreError::Conflict(_)) => false,
                Err(e) => panic!("insert {i}: {e:?}"),
            };
            // ...and read-modify-write on the shared key only ever conflicts.
            let mut conflicts = 0;
            loop {
                let current = store.get_key(&id).await.unwrap().unwrap();
                let mut labels = current.labels.as_map().clone();
                labels.insert(format!("w{i:02}"), "1".to_owned());
                let next = KeyRecord {
                    labels: Labels::from_trusted(labels),
                    version: current.version + 1,
                    ..current.clone()
                };
                match store
                    .write(Write {
                        key: Some(KeyWrite::Update {
                            record: &next,
                            expected_version: current.version,
                        }),
                        ..Write::default()
                    })
                    .await
                {
                    Ok(()) => break,
                    Err(StoreError::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("writer {i}: {e:?}"),
                }
                assert!(conflicts < 10_000);
            }
            won_insert
        }));
    }
    let mut insert_winners = 0;
    for t in tasks {
        insert_winners += usize::from(t.await.unwrap());
    }
    assert_eq!(insert_winners, 1);
    let last = b.get_key(&key.id).await.unwrap().unwrap();
    assert_eq!(last.version, 41);
    assert_eq!(
        last.labels.as_map().len(),
        41,
        "an update was lost: {:?}",
        last.labels
    );
    let listed = a
        .list_keys(&FolderId::from_trusted("g".into()), None, 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_account_while_keys_are_added_leaves_no_orphan() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let store = Arc::new(factory.open(&schema).await);
    for round in 0..3 {
        let account = ServiceAccount {
            id: ServiceAccountId::from_trusted(format!("ajeacc{round}")),
            folder_id: FolderId::from_trusted("f".into()),
            created_at: Timestamp::from_micros(T0),
            name: format!("robot{round}"),
            description: String::new(),
            labels: Labels::default(),
        };
        let created = sample_operation(&format!("ajeopc{round}"), account.id.as_str(), T0);
        store
            .insert_service_account(&account, &created, None)
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(11));
        let mut adders = Vec::new();
        for i in 0..10 {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            let key = AuthorizedKey {
                id: AuthorizedKeyId::from_trusted(format!("ajekey{round}{i:02}")),
                service_account_id: account.id.clone(),
                created_at: Timestamp::from_micros(T0),
                description: String::new(),
                algorithm: AuthorizedKeyAlgorithm::Rsa2048,
                public_key_pem: "-----BEGIN PUBLIC KEY-----\n".to_owned(),
            };
            adders.push(tokio::spawn(async move {
                barrier.wait().await;
                match store.insert_authorized_key(&key).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("adding a key: {e:?}"),
                }
            }));
        }
        let deleted = sample_operation(&format!("ajeopd{round}"), account.id.as_str(), T0);
        barrier.wait().await;
        let existed = store
            .delete_service_account(&account.id, Timestamp::from_micros(T0 + 1), &deleted, None)
            .await
            .unwrap();
        assert!(existed);
        for t in adders {
            t.await.unwrap();
        }
        assert_eq!(store.get_service_account(&account.id).await.unwrap(), None);
        assert!(
            store
                .list_authorized_keys(&account.id, None, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_row_lock_held_elsewhere_is_unavailable_after_the_lock_timeout() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let options = PostgresOptions {
        lock_timeout: Duration::from_millis(200),
        ..in_schema(&schema)
    };
    let store = factory.open_with(&factory.url, options).await;
    let key = sample_key("abjlocked", "f");
    store.write(insert(&key)).await.unwrap();
    let next = KeyRecord {
        version: 2,
        ..key.clone()
    };
    let op = sample_operation("abjop", "abjlocked", T0);
    let update = Write {
        key: Some(KeyWrite::Update {
            record: &next,
            expected_version: 1,
        }),
        operation: Some(&op),
        ..Write::default()
    };

    // Another process holds the key's row lock.
    let mut other = factory.raw(&schema).await;
    sqlx::raw_sql("BEGIN; SELECT * FROM keys WHERE id = 'abjlocked' FOR UPDATE")
        .execute(&mut other)
        .await
        .unwrap();
    let started = Instant::now();
    let err = store.write(update).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Neither readers nor writers of other rows are blocked.
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(key.clone()));
    store
        .write(insert(&sample_key("abjother", "f")))
        .await
        .unwrap();
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    // Nothing of the failed write was kept, and the store recovers.
    assert_eq!(store.get_operation(&op.id).await.unwrap(), None);
    store.write(update).await.unwrap();
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(next));
}

/// A session ended by the server (an administrator, a failover) in the middle of a write is
/// `Unavailable`, and the pool replaces the connection.
#[tokio::test]
async fn a_terminated_session_is_unavailable_and_the_store_recovers() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let app = format!("signet-{schema}");
    let separator = if factory.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={app}", factory.url);
    let store = Arc::new(factory.open_with(&url, in_schema(&schema)).await);
    let key = sample_key("abjkill", "f");
    store.write(insert(&key)).await.unwrap();
    let next = KeyRecord {
        version: 2,
        ..key.clone()
    };

    let mut other = factory.raw(&schema).await;
    sqlx::raw_sql("BEGIN; SELECT * FROM keys WHERE id = 'abjkill' FOR UPDATE")
        .execute(&mut other)
        .await
        .unwrap();
    let writer = {
        let store = Arc::clone(&store);
        let next = next.clone();
        tokio::spawn(async move {
            store
                .write(Write {
                    key: Some(KeyWrite::Update {
                        record: &next,
                        expected_version: 1,
                    }),
                    ..Write::default()
                })
                .await
        })
    };
    // Wait until the write waits for the lock, then end its session.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid: i32 = loop {
        let waiting: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
             AND wait_event_type = 'Lock'",
        )
        .bind(&app)
        .fetch_optional(&mut other)
        .await
        .unwrap();
        if let Some(pid) = waiting {
            break pid;
        }
        assert!(Instant::now() < deadline, "the write never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(terminated);
    let err = writer.await.unwrap().unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    store
        .write(Write {
            key: Some(KeyWrite::Update {
                record: &next,
                expected_version: 1,
            }),
            ..Write::default()
        })
        .await
        .unwrap();
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(next));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on the loopback: refused at once.
    let err = PostgresStore::connect("postgres://postgres:pw@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// `url` with a password: its own if it has one, else `fallback` put into it. With trust
/// authentication (the local test server) the server never asks for it.
fn with_password(url: &str, fallback: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            let password = userinfo.split_once(':').unwrap().1.to_owned();
            (url.to_owned(), password)
        }
        Some((user, host)) => (
            format!("{scheme}://{user}:{fallback}@{host}{tail}"),
            fallback.to_owned(),
        ),
        None => {
            let user = PgConnectOptions::from_str(url)
                .unwrap()
                .get_username()
                .to_owned();
            (
                format!("{scheme}://{user}:{fallback}@{authority}{tail}"),
                fallback.to_owned(),
            )
        }
    }
}

#[tokio::test]
async fn debug_output_and_errors_show_no_password_or_key_material() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let (url, password) = with_password(&factory.url, "pw-SECRET-4711");
    let store = factory.open_with(&url, in_schema(&schema)).await;
    let text = format!("{store:?}");
    assert!(text.starts_with("PostgresStore"), "{text}");
    assert!(text.contains(&schema), "{text}");
    assert!(!text.contains(&password), "{text}");

    // A conflict names the key, not its sealed bytes.
    let key = sample_key("abjdebug", "f");
    let sealed = key.sealed.as_ref().unwrap().as_bytes().to_vec();
    store.write(insert(&key)).await.unwrap();
    let err = store.write(insert(&key)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&format!("{sealed:?}")), "{text}");
    assert!(!text.contains(&format!("{:?}", &sealed[..8])), "{text}");

    // Nor do connection errors: unreachable, or a URL that does not parse.
    for (bad, unavailable) in [
        ("postgres://u:pw-SECRET-4711@127.0.0.1:1/test", true),
        ("postgres://u:pw-SECRET-4711@127.0.0.1:port/test", false),
        (
            "postgres://u:pw-SECRET-4711@127.0.0.1/test?sslmode=sideways",
            false,
        ),
    ] {
        let err = PostgresStore::connect(bad).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert_eq!(
            matches!(err, StoreError::Unavailable(_)),
            unavailable,
            "{bad}: {text}"
        );
        assert!(!text.contains("pw-SECRET"), "{text}");
    }
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_and_never_echo_their_contents() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let store = factory.open(&schema).await;
    let mut raw = factory.raw(&schema).await;
    let alg = i64::from(signet_crypto::Algorithm::ALL[0].wire_number());
    for (id, labels, status, algorithm, column) in [
        ("abjbadalg", "{}", 2, 999, "algorithm"),
        ("abjbadstatus", "{}", 0, alg, "status"),
        ("abjhugestatus", "{}", 1_i64 << 40, alg, "status"),
        (
            "abjlabeltype",
            r#"{"TOP-SECRET-SEALED": 1}"#,
            2,
            alg,
            "labels",
        ),
    ] {
        sqlx::query(
            "INSERT INTO keys (id, folder_id, created_at, name, description, labels, status, \
             algorithm, deletion_protection, public_key_pem, sealed, deleted_at, destroyed_at, \
             version) VALUES ($1, 'f', 0, 'n', 'd', $2::jsonb, $3, $4, false, NULL, \
             convert_to('TOP-SECRET-SEALED', 'UTF8'), 0, NULL, 1)",
        )
        .bind(id)
        .bind(labels)
        .bind(status)
        .bind(algorithm)
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
    // The database itself refuses labels that are not an object.
    let err = sqlx::query(
        "INSERT INTO keys (id, folder_id, created_at, name, description, labels, status, \
         algorithm, deletion_protection, version) \
         VALUES ('abjarray', 'f', 0, 'n', 'd', '[1]', 2, 1, false, 1)",
    )
    .execute(&mut raw)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("check constraint"), "{err}");
    // A corrupt row also fails the lists it appears in, rather than being skipped silently.
    let err = store
        .keys_due_for_destruction(Timestamp::from_micros(0), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    for (id, kind, done, result, column) in [
        ("abjbadkind", "rotate_key", false, "\"Pending\"", "kind"),
        (
            "abjbadjson",
            "create_key",
            false,
            "{\"TOP-SECRET-SEALED\"",
            "result",
        ),
        ("abjbaddone", "create_key", true, "\"Pending\"", "done"),
    ] {
        sqlx::query(
            "INSERT INTO operations (id, kind, resource_id, description, created_at, created_by, \
             modified_at, done, result) VALUES ($1, $2, 'r', 'd', 0, 'u', 0, $3, $4)",
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

/// The adapter's queries (repeated here in their shape) can be served by their indexes in
/// order, without a sort. (Sequential scans are switched off: the tables are empty, and the
/// question is whether an ordered index path exists at all.)
#[tokio::test]
async fn queries_use_their_indexes() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let store = factory.open(&schema).await;
    let mut raw = factory.raw(&schema).await;
    sqlx::raw_sql("SET enable_seqscan = off; SET enable_bitmapscan = off")
        .execute(&mut raw)
        .await
        .unwrap();
    for (sql, index) in [
        (
            "SELECT id FROM keys WHERE folder_id = 'f' AND deleted_at IS NULL AND id > 'a' \
             ORDER BY id LIMIT 5",
            "keys_by_folder",
        ),
        (
            "SELECT id FROM operations WHERE resource_id = 'r' AND (created_at, id) > (1, 'a') \
             ORDER BY created_at, id LIMIT 5",
            "operations_by_resource",
        ),
        (
            "SELECT id FROM operations WHERE NOT done ORDER BY created_at, id",
            "operations_pending",
        ),
        (
            "SELECT id FROM keys WHERE deleted_at IS NOT NULL AND sealed IS NOT NULL \
             AND deleted_at <= 5 ORDER BY deleted_at, id LIMIT 5",
            "keys_by_deletion",
        ),
        (
            "SELECT id FROM service_accounts WHERE folder_id = 'f' AND id > 'a' \
             ORDER BY id LIMIT 5",
            "service_accounts_by_folder",
        ),
        (
            "SELECT id FROM authorized_keys WHERE service_account_id = 's' AND id > 'a' \
             ORDER BY id LIMIT 5",
            "authorized_keys_by_account",
        ),
        (
            "SELECT seq FROM audit_records WHERE seq >= 5 ORDER BY seq LIMIT 5",
            "audit_records_pkey",
        ),
        (
            "SELECT seq FROM audit_checkpoints WHERE seq > 5 ORDER BY seq LIMIT 5",
            "audit_checkpoints_pkey",
        ),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
            .fetch_all(&mut raw)
            .await
            .unwrap();
        let text = plan.join(" | ");
        assert!(text.contains(index), "{sql}: {text}");
        assert!(!text.contains("Sort"), "{sql} sorts: {text}");
    }
    raw.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    factory.open(&schema).await.close().await;
    let mut raw = factory.raw(&schema).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', true, '\\x00', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    let err = PostgresStore::connect_with(&factory.url, &in_schema(&schema))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

/// Several servers (stores) sharing one database append to one chain: the head row's lock
/// orders their transactions, so numbering has no gap or duplicate and every link holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_sharing_a_schema_append_to_one_audit_chain() {
    use signet_store::conformance_audit::sample_event;
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let stores: Vec<Arc<PostgresStore>> = vec![
        Arc::new(factory.open(&schema).await),
        Arc::new(factory.open(&schema).await),
        Arc::new(factory.open(&schema).await),
    ];
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        for t in 0..4i64 {
            let store = Arc::clone(store);
            let base = (n as i64) * 10_000 + t * 1000;
            tasks.push(tokio::spawn(async move {
                for b in 0..10 {
                    let events: Vec<_> = (0..3).map(|i| sample_event(base + b * 10 + i)).collect();
                    store.append_audit(&events).await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = signet_core::audit::verify(stores[1].as_ref(), None)
        .await
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records, 3 * 4 * 10 * 3);
    assert_eq!(report.head.seq, report.records);
}

/// Editing a stored record behind the store's back is found at that record.
#[tokio::test]
async fn an_edited_audit_record_is_found_by_verify() {
    use signet_store::conformance_audit::sample_event;
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let store = factory.open(&schema).await;
    let events: Vec<_> = (0..10).map(sample_event).collect();
    store.append_audit(&events).await.unwrap();
    assert!(
        signet_core::audit::verify(&store, None)
            .await
            .unwrap()
            .is_intact()
    );
    let mut raw = factory.raw(&schema).await;
    sqlx::query("UPDATE audit_records SET outcome = 'PERMISSION_DENIED' WHERE seq = 7")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    let report = signet_core::audit::verify(&store, None).await.unwrap();
    assert_eq!(report.broken.map(|b| b.seq), Some(7));
    store.close().await;
}

/// Waits (at most 5 s) until `store` can claim `name`, and returns the claim.
async fn claim_soon(store: &PostgresStore, name: &str) -> signet_core::store::Claim {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(claim) = store.try_claim(name).await.unwrap() {
            return claim;
        }
        assert!(Instant::now() < deadline, "{name} was never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Claims are shared by every store on a schema (the servers of a cluster), and by no store on
/// another schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_exclusive_across_stores_of_a_schema_only() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let a = factory.open(&schema).await;
    let b = factory.open(&schema).await;
    let elsewhere = factory.fresh().await;

    let held = a.try_claim("job:x").await.unwrap().expect("free");
    assert!(b.try_claim("job:x").await.unwrap().is_none());
    assert!(
        a.try_claim("job:x").await.unwrap().is_none(),
        "not reentrant"
    );
    let other = elsewhere.try_claim("job:x").await.unwrap();
    assert!(other.is_some(), "another schema's claims are its own");
    drop(held);
    let _b = claim_soon(&b, "job:x").await;
    assert!(a.try_claim("job:x").await.unwrap().is_none());
}

/// When the holder's connection ends (its process died, or an administrator ended it), its
/// claims go to others at once; the holder reconnects for its next claim, and the release of
/// a claim it lost does not release the new holder's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claims_of_a_dead_connection_are_released() {
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let a = factory.open(&schema).await;
    let b = factory.open(&schema).await;
    let lost = a.try_claim("job:y").await.unwrap().expect("free");

    let mut raw = factory.raw(&schema).await;
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
         AND ((classid::bigint << 32) | objid::bigint) = \
             hashtextextended($1 || '/' || $2, $3)",
    )
    .bind(&schema)
    .bind("job:y")
    .bind(0x5349_474e_4554_434c_i64)
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(pids.len(), 1, "one session holds the claim: {pids:?}");
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pids[0])
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert!(ended);
    raw.close().await.unwrap();

    let taken = claim_soon(&b, "job:y").await;
    // `a` reconnects for its next claim...
    let fresh = a.try_claim("job:z").await.unwrap();
    assert!(fresh.is_some());
    // ...and releasing what it lost leaves `b`'s claim alone.
    drop(lost);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(a.try_claim("job:y").await.unwrap().is_none());
    drop(taken);
    claim_soon(&a, "job:y").await;
}

/// The next change on `feed`, within 5 s.
async fn next_change(
    feed: &mut tokio::sync::mpsc::Receiver<signet_core::store::Change>,
) -> signet_core::store::Change {
    tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("no change within 5 s")
        .expect("the feed ended")
}

/// The change feed carries every committed change that caches elsewhere must hear of, made
/// through any store on the schema, and nothing from a failed write or another schema. When
/// its connection ends it says changes may have been missed, and goes on; it ends with its
/// store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_carries_committed_changes_of_the_schema() {
    use signet_core::domain::{AccessBinding, Role, Subject, SubjectType, TokenRecord};
    use signet_core::store::{BindingsWrite, Change};
    let factory = PgFactory::new();
    let schema = factory.new_schema();
    let writer = factory.open(&schema).await;
    let reader = factory.open(&schema).await;
    let elsewhere = factory.fresh().await;
    let mut feed = reader.watch_changes().await.unwrap().expect("a feed");

    // A key update is heard; its insert needs no notification (nobody has it cached).
    let key = sample_key("abjfeed", "default");
    writer.write(insert(&key)).await.unwrap();
    let v2 = KeyRecord {
        version: 2,
        ..key.clone()
    };
    let update = |expected_version| Write {
        key: Some(KeyWrite::Update {
            record: &v2,
            expected_version,
        }),
        ..Write::default()
    };
    writer.write(update(1)).await.unwrap();
    assert_eq!(next_change(&mut feed).await, Change::Key(key.id.clone()));

    // A write that fails (a stale version) and another schema's writes are not heard: the next
    // change is the bindings replacement that follows them.
    assert!(writer.write(update(1)).await.is_err());
    elsewhere.write(insert(&key)).await.unwrap();
    elsewhere.write(update(1)).await.unwrap();
    let target = "key:abjfeed";
    let bindings = [AccessBinding {
        role: Role::KmsSigner,
        subject: Subject {
            kind: SubjectType::System,
            id: "allAuthenticatedUsers".into(),
        },
    }];
    writer
        .write(Write {
            bindings: Some(BindingsWrite {
                target,
                bindings: &bindings,
            }),
            ..Write::default()
        })
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut feed).await,
        Change::Bindings(target.into())
    );

    // A revocation names the account, not the token; so does an account's deletion.
    let account = ServiceAccount {
        id: ServiceAccountId::from_trusted("ajefeed".into()),
        folder_id: FolderId::from_trusted("default".into()),
        created_at: Timestamp::from_micros(T0),
        name: "feed".into(),
        description: String::new(),
        labels: Labels::default(),
    };
    writer
        .insert_service_account(
            &account,
            &sample_operation("abjopfeed", "ajefeed", T0),
            None,
        )
        .await
        .unwrap();
    let hash = "ab".repeat(32);
    writer
        .insert_token(&TokenRecord {
            sha256_hex: hash.clone(),
            service_account_id: account.id.clone(),
            created_at: Timestamp::from_micros(T0),
            expires_at: Timestamp::from_micros(T0 + 1_000_000),
            revoked_at: None,
        })
        .await
        .unwrap();
    assert!(
        writer
            .revoke_token(&hash, Timestamp::from_micros(T0))
            .await
            .unwrap()
    );
    assert_eq!(
        next_change(&mut feed).await,
        Change::TokensOf(account.id.clone())
    );
    assert!(
        writer
            .delete_service_account(
                &account.id,
                Timestamp::from_micros(T0),
                &sample_operation("abjopfeed2", "ajefeed", T0),
                None
            )
            .await
            .unwrap()
    );
    assert_eq!(
        next_change(&mut feed).await,
        Change::TokensOf(account.id.clone())
    );

    // Its connection ends: changes may have been missed; later ones are heard again.
    let mut raw = factory.raw(&schema).await;
    let channel: String = sqlx::query_scalar(
        "SELECT 'signet_changes_' || left(md5(coalesce(current_schema(), '')), 16)",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
    )
    .bind(format!("LISTEN \"{channel}\""))
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(ended, vec![true], "one session listens");
    raw.close().await.unwrap();
    assert_eq!(next_change(&mut feed).await, Change::Missed);
    let mut heard = false;
    for version in 3..50 {
        let next = KeyRecord {
            version,
            ..key.clone()
        };
        writer
            .write(Write {
                key: Some(KeyWrite::Update {
                    record: &next,
                    expected_version: version - 1,
                }),
                ..Write::default()
            })
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_millis(200), feed.recv()).await {
            Ok(Some(Change::Key(id))) if id == key.id => {
                heard = true;
                break;
            }
            Ok(Some(Change::Missed)) | Err(_) => {} // still reconnecting
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(heard, "no change was heard after the reconnection");

    // The feed ends with its store.
    drop(reader);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while feed.recv().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the feed outlived its store");
}
