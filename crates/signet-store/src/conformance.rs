//! The conformance suite: the behaviour every [`Store`] adapter must have, as async test
//! functions over a [`StoreFactory`].
//!
//! An adapter's integration test implements [`StoreFactory`] and expands
//! [`conformance_tests!`](crate::conformance_tests), which emits one `#[tokio::test]` per
//! function here, so that a new adapter cannot skip a check:
//!
//! ```ignore
//! signet_store::conformance_tests!(MyFactory::new());
//! ```
//!
//! This is test-support code compiled into the library so that every adapter's tests (in this
//! crate or elsewhere) share it. A failed expectation panics, which is how a test fails.

// Test-support code: failing loudly (expect/panic) is the point here.
#![allow(clippy::expect_used, clippy::panic)]

use signet_core::ErrorKind;
use signet_core::domain::{
    FolderId, KeyId, KeyRecord, KeyStatus, KeyView, Labels, OperationId, OperationKind,
    OperationRecord, OperationResult, Timestamp,
};
use signet_core::store::{KeyWrite, OperationCursor, Store, StoreError, Write};
use signet_crypto::{Algorithm, SealedKey};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

/// Makes stores for the suite.
pub trait StoreFactory: Send + Sync {
    type Store: Store;

    /// A store over a new, empty database.
    fn fresh(&self) -> impl Future<Output = Self::Store> + Send;

    /// Closes `store` and opens the same database again (as after a restart).
    fn reopen(&self, store: Self::Store) -> impl Future<Output = Self::Store> + Send;
}

/// Expands to one `#[tokio::test]` per conformance test, each calling it with a factory built
/// by `$factory` (evaluated afresh in every test). The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@each $factory;
            meta_is_put_only_if_absent,
            missing_records_are_none,
            keys_round_trip_every_field,
            insert_of_an_existing_id_conflicts,
            update_at_the_expected_version_replaces_the_key,
            update_with_a_stale_version_conflicts_and_changes_nothing,
            update_of_a_missing_key_conflicts,
            a_failed_write_commits_nothing,
            operations_round_trip_every_result,
            operation_upsert_replaces,
            an_empty_write_is_a_no_op,
            list_keys_pages_in_id_order,
            deleted_keys_are_hidden_from_lists_but_readable,
            list_operations_pages_by_creation_then_id,
            pending_operations_are_unfinished_oldest_first,
            keys_due_for_destruction_respects_the_boundaries,
            concurrent_updates_at_one_version_have_one_winner,
            concurrent_retrying_updates_all_land,
            concurrent_inserts_of_one_id_have_one_winner,
            concurrent_inserts_and_reads_all_succeed,
            quota_counts_the_folders_keys_that_are_not_deleted,
            concurrent_inserts_never_exceed_the_quota,
            data_survives_reopening,
            a_claim_is_exclusive_until_dropped,
            concurrent_claims_have_one_winner,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let factory = $factory;
                $crate::conformance::$name(&factory).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// A fixed point in time (2023-11-14T22:13:20Z) that fixtures count from.
pub const T0: i64 = 1_700_000_000_000_000;

/// Microseconds in a second.
const SEC: i64 = 1_000_000;

fn key_id(s: &str) -> KeyId {
    KeyId::from_trusted(s.to_owned())
}

fn folder(s: &str) -> FolderId {
    FolderId::from_trusted(s.to_owned())
}

fn op_id(s: &str) -> OperationId {
    OperationId::from_trusted(s.to_owned())
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_trusted(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// Sealed-looking bytes unique to `id`: every byte value appears, so that a store that treats
/// the blob as text or truncates at NUL is caught.
pub fn sealed_for(id: &str) -> SealedKey {
    let mut bytes: Vec<u8> = id.bytes().collect();
    bytes.extend(0..=255u8);
    bytes.extend(id.bytes().rev());
    SealedKey::from_bytes(bytes)
}

/// A live, active key at version 1 with sealed material.
pub fn sample_key(id: &str, folder_id: &str) -> KeyRecord {
    KeyRecord {
        id: key_id(id),
        folder_id: folder(folder_id),
        created_at: Timestamp::from_micros(T0),
        name: format!("key {id}"),
        description: "a test key".to_owned(),
        labels: labels(&[("env", "test")]),
        status: KeyStatus::Active,
        algorithm: Algorithm::ALL[0],
        deletion_protection: false,
        public_key_pem: Some(
            "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".to_owned(),
        ),
        sealed: Some(sealed_for(id)),
        deleted_at: None,
        destroyed_at: None,
        version: 1,
    }
}

/// A pending create-key operation on `resource_id`.
pub fn sample_operation(id: &str, resource_id: &str, created_at: i64) -> OperationRecord {
    OperationRecord {
        id: op_id(id),
        kind: OperationKind::CreateKey,
        resource_id: resource_id.to_owned(),
        description: OperationKind::CreateKey.description().to_owned(),
        created_at: Timestamp::from_micros(created_at),
        created_by: "user-1".to_owned(),
        modified_at: Timestamp::from_micros(created_at),
        result: OperationResult::Pending,
    }
}

/// `record` as its next version.
fn next_version(record: &KeyRecord) -> KeyRecord {
    KeyRecord {
        version: record.version + 1,
        ..record.clone()
    }
}

async fn insert<S: Store + ?Sized>(store: &S, record: &KeyRecord) {
    store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Insert(record)),
            operation: None,
            audit: None,
        })
        .await
        .expect("insert key");
}

async fn update<S: Store + ?Sized>(
    store: &S,
    record: &KeyRecord,
    expected_version: i64,
) -> Result<(), StoreError> {
    store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Update {
                record,
                expected_version,
            }),
            operation: None,
            audit: None,
        })
        .await
}

async fn put_operation<S: Store + ?Sized>(store: &S, op: &OperationRecord) {
    store
        .write(Write {
            bindings: None,
            key: None,
            operation: Some(op),
            audit: None,
        })
        .await
        .expect("write operation");
}

async fn get_key<S: Store + ?Sized>(store: &S, id: &KeyId) -> Option<KeyRecord> {
    store.get_key(id).await.expect("get_key")
}

async fn get_operation<S: Store + ?Sized>(store: &S, id: &OperationId) -> Option<OperationRecord> {
    store.get_operation(id).await.expect("get_operation")
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

fn ids(keys: &[KeyRecord]) -> Vec<String> {
    keys.iter().map(|k| k.id.as_str().to_owned()).collect()
}

/// Reads a folder's keys page by page, checking that no page exceeds `limit`.
async fn all_key_pages<S: Store + ?Sized>(
    store: &S,
    folder_id: &FolderId,
    limit: usize,
) -> Vec<Vec<KeyRecord>> {
    let mut pages = Vec::new();
    let mut after: Option<KeyId> = None;
    loop {
        let page = store
            .list_keys(folder_id, after.as_ref(), limit)
            .await
            .expect("list_keys");
        assert!(
            page.len() <= limit,
            "a page of {} exceeds limit {limit}",
            page.len()
        );
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        pages.push(page);
        assert!(pages.len() < 1000, "list_keys does not advance");
    }
    pages
}

// ---------------------------------------------------------------------------------------------
// Meta and point reads.

/// `put_meta_if_absent` sets a value once; later puts neither overwrite nor fail.
pub async fn meta_is_put_only_if_absent<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    assert_eq!(
        store.get_meta("root_key_check").await.expect("get_meta"),
        None
    );
    assert!(
        store
            .put_meta_if_absent("root_key_check", "v1")
            .await
            .expect("put")
    );
    assert_eq!(
        store
            .get_meta("root_key_check")
            .await
            .expect("get_meta")
            .as_deref(),
        Some("v1")
    );
    assert!(
        !store
            .put_meta_if_absent("root_key_check", "v2")
            .await
            .expect("put again")
    );
    assert_eq!(
        store
            .get_meta("root_key_check")
            .await
            .expect("get_meta")
            .as_deref(),
        Some("v1"),
        "a second put must not overwrite"
    );
    // Names are independent, and empty or unusual values are kept verbatim.
    assert!(
        store
            .put_meta_if_absent("admin_token_hash", "")
            .await
            .expect("put")
    );
    assert_eq!(
        store
            .get_meta("admin_token_hash")
            .await
            .expect("get_meta")
            .as_deref(),
        Some("")
    );
    let odd = "quote ' \" ; -- ünïcødé 🔑\nline";
    assert!(store.put_meta_if_absent("odd", odd).await.expect("put"));
    assert_eq!(
        store.get_meta("odd").await.expect("get_meta").as_deref(),
        Some(odd)
    );
    assert_eq!(
        store.get_meta("ROOT_KEY_CHECK").await.expect("get_meta"),
        None
    );
}

/// Reading what was never written is `Ok(None)` or empty, not an error.
pub async fn missing_records_are_none<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    assert_eq!(get_key(&store, &key_id("abjmissing")).await, None);
    assert_eq!(get_operation(&store, &op_id("abjmissing")).await, None);
    let none = store
        .list_keys(&folder("f"), None, 10)
        .await
        .expect("list_keys");
    assert!(none.is_empty());
    let none = store
        .list_operations("abjmissing", None, 10)
        .await
        .expect("list_operations");
    assert!(none.is_empty());
    assert!(
        store
            .pending_operations()
            .await
            .expect("pending")
            .is_empty()
    );
    let none = store
        .keys_due_for_destruction(Timestamp::from_micros(i64::MAX), 10)
        .await
        .expect("due");
    assert!(none.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Keys.

/// Every field survives a write and a read: all algorithms, all statuses, `None` and `Some` for
/// every optional field, extreme timestamps, many labels, awkward text, binary sealed bytes.
pub async fn keys_round_trip_every_field<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let statuses = [KeyStatus::Creating, KeyStatus::Active, KeyStatus::Inactive];
    let many_labels: BTreeMap<String, String> = (0..64)
        .map(|i| (format!("k{i:02}-{}", "x".repeat(50)), "v_-0".repeat(15)))
        .collect();
    let timestamps = [T0, 0, -1, i64::MIN, i64::MAX, 1, -T0];
    let mut written = Vec::new();
    for (i, algorithm) in Algorithm::ALL.into_iter().enumerate() {
        let id = format!("abjround{i:02}");
        let ts = |k: usize| Timestamp::from_micros(timestamps[(i + k) % timestamps.len()]);
        let record = KeyRecord {
            id: key_id(&id),
            folder_id: folder(&format!("folder-{}_x", i % 2)),
            created_at: ts(0),
            name: format!("name {i} 'quoted' \"double\" ; DROP TABLE keys; --"),
            description: if i % 3 == 0 {
                String::new()
            } else {
                format!("ключ {i} 🔑 {}", "d".repeat(1000))
            },
            labels: match i % 3 {
                0 => Labels::default(),
                1 => labels(&[("env", "prod"), ("empty", ""), ("a-b_c", "0-_9")]),
                _ => Labels::from_trusted(many_labels.clone()),
            },
            status: statuses[i % statuses.len()],
            algorithm,
            deletion_protection: i % 2 == 1,
            public_key_pem: (i % 2 == 0).then(|| format!("-----BEGIN PUBLIC KEY-----\n{id}\n")),
            sealed: (i % 2 == 1).then(|| sealed_for(&id)),
            deleted_at: (i % 3 == 2).then(|| ts(1)),
            destroyed_at: (i % 4 == 3).then(|| ts(2)),
            version: 1,
        };
        insert(&store, &record).await;
        written.push(record);
    }
    for record in &written {
        assert_eq!(get_key(&store, &record.id).await.as_ref(), Some(record));
    }
    // And through an update, with every optional field flipped and a large version.
    for record in &written {
        let changed = KeyRecord {
            sealed: match &record.sealed {
                Some(_) => None,
                None => Some(SealedKey::from_bytes(vec![0])),
            },
            public_key_pem: match &record.public_key_pem {
                Some(_) => None,
                None => Some(String::new()),
            },
            deleted_at: record.deleted_at.xor(Some(Timestamp::from_micros(T0))),
            destroyed_at: record.destroyed_at.xor(Some(Timestamp::from_micros(-5))),
            deletion_protection: !record.deletion_protection,
            version: i64::MAX,
            ..record.clone()
        };
        update(&store, &changed, record.version)
            .await
            .expect("update");
        assert_eq!(get_key(&store, &record.id).await, Some(changed));
    }
}

/// Inserting an id that exists is `Conflict`, whatever the rest of the record says.
pub async fn insert_of_an_existing_id_conflicts<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let original = sample_key("abjdup", "f");
    insert(&store, &original).await;
    let mut clash = sample_key("abjdup", "other-folder");
    clash.name = "clash".to_owned();
    let result = store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Insert(&clash)),
            operation: None,
            audit: None,
        })
        .await;
    assert_conflict(result, "insert of an existing id");
    assert_eq!(get_key(&store, &original.id).await, Some(original));
}

/// An update whose expected version matches replaces the record, version included.
pub async fn update_at_the_expected_version_replaces_the_key<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let v1 = sample_key("abjupd", "f");
    insert(&store, &v1).await;
    let mut v2 = next_version(&v1);
    v2.name = "renamed".to_owned();
    v2.labels = labels(&[("team", "a")]);
    v2.status = KeyStatus::Inactive;
    update(&store, &v2, 1).await.expect("update to v2");
    assert_eq!(get_key(&store, &v1.id).await.as_ref(), Some(&v2));
    let mut v3 = next_version(&v2);
    v3.deleted_at = Some(Timestamp::from_micros(T0 + SEC));
    update(&store, &v3, 2).await.expect("update to v3");
    assert_eq!(get_key(&store, &v1.id).await, Some(v3));
}

/// An update at a version that is no longer current is `Conflict` and leaves the row alone.
pub async fn update_with_a_stale_version_conflicts_and_changes_nothing<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let v1 = sample_key("abjstale", "f");
    insert(&store, &v1).await;
    let v2 = KeyRecord {
        name: "second".to_owned(),
        ..next_version(&v1)
    };
    update(&store, &v2, 1).await.expect("first update");
    let lost = KeyRecord {
        name: "lost update".to_owned(),
        sealed: None,
        ..next_version(&v1)
    };
    assert_conflict(update(&store, &lost, 1).await, "update at a stale version");
    // A version from the future does not match either.
    let future = KeyRecord {
        version: 10,
        ..lost.clone()
    };
    assert_conflict(
        update(&store, &future, 9).await,
        "update at a future version",
    );
    assert_eq!(get_key(&store, &v1.id).await, Some(v2));
}

/// Updating a key that does not exist is `Conflict` (and does not create it).
pub async fn update_of_a_missing_key_conflicts<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let ghost = next_version(&sample_key("abjghost", "f"));
    assert_conflict(update(&store, &ghost, 1).await, "update of a missing key");
    assert_eq!(get_key(&store, &ghost.id).await, None);
    assert!(
        store
            .list_keys(&folder("f"), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

/// A write is all or nothing: when its key part conflicts, its operation is not stored, and an
/// existing operation with the same id is not replaced.
pub async fn a_failed_write_commits_nothing<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let key = sample_key("abjatomic", "f");
    insert(&store, &key).await;

    // Insert conflict + new operation.
    let op = sample_operation("abjopinsert", "abjatomic", T0);
    let result = store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Insert(&key)),
            operation: Some(&op),
            audit: None,
        })
        .await;
    assert_conflict(result, "insert conflict with an operation");
    assert_eq!(get_operation(&store, &op.id).await, None);

    // Stale update + new operation.
    let stale = KeyRecord {
        name: "stale".to_owned(),
        ..next_version(&key)
    };
    let op = sample_operation("abjopupdate", "abjatomic", T0);
    let result = store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Update {
                record: &stale,
                expected_version: 7,
            }),
            operation: Some(&op),
            audit: None,
        })
        .await;
    assert_conflict(result, "stale update with an operation");
    assert_eq!(get_operation(&store, &op.id).await, None);
    assert_eq!(get_key(&store, &key.id).await.as_ref(), Some(&key));

    // Missing key + replacement of an existing operation.
    let existing = sample_operation("abjopexisting", "abjatomic", T0);
    put_operation(&store, &existing).await;
    let replacement = OperationRecord {
        modified_at: Timestamp::from_micros(T0 + SEC),
        result: OperationResult::Key(key.view()),
        ..existing.clone()
    };
    let ghost = next_version(&sample_key("abjghost", "f"));
    let result = store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Update {
                record: &ghost,
                expected_version: 1,
            }),
            operation: Some(&replacement),
            audit: None,
        })
        .await;
    assert_conflict(result, "update of a missing key with an operation");
    assert_eq!(
        get_operation(&store, &existing.id).await,
        Some(existing.clone())
    );
    let pending = store.pending_operations().await.expect("pending");
    assert_eq!(pending, vec![existing]);

    // A successful write commits both parts.
    let v2 = next_version(&key);
    let op = sample_operation("abjopboth", "abjatomic", T0 + SEC);
    store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Update {
                record: &v2,
                expected_version: 1,
            }),
            operation: Some(&op),
            audit: None,
        })
        .await
        .expect("key and operation together");
    assert_eq!(get_key(&store, &key.id).await, Some(v2));
    assert_eq!(get_operation(&store, &op.id).await, Some(op));
}

// ---------------------------------------------------------------------------------------------
// Operations.

/// Every kind and every result (pending, failed with each error kind, a key snapshot) survives.
pub async fn operations_round_trip_every_result<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let key = KeyRecord {
        labels: labels(&[("env", "prod"), ("empty", "")]),
        description: "snapshot ✓".to_owned(),
        ..sample_key("abjsnap", "f")
    };
    let error_kinds = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::FailedPrecondition,
        ErrorKind::Aborted,
        ErrorKind::ResourceExhausted,
        ErrorKind::Cancelled,
        ErrorKind::DeadlineExceeded,
        ErrorKind::Unimplemented,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];
    let mut results = vec![OperationResult::Pending];
    results.extend(error_kinds.iter().map(|kind| OperationResult::Failed {
        kind: *kind,
        message: format!("failed: {kind:?} 'quoted' \"x\" ünï"),
    }));
    for algorithm in Algorithm::ALL {
        results.push(OperationResult::Key(KeyView {
            algorithm_wire: algorithm.wire_number(),
            ..key.view()
        }));
    }
    let kinds = [
        OperationKind::CreateKey,
        OperationKind::UpdateKey,
        OperationKind::DeleteKey,
    ];
    let mut written = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        let kind = kinds[i % kinds.len()];
        let op = OperationRecord {
            id: op_id(&format!("abjop{i:03}")),
            kind,
            resource_id: format!("abjres{}", i % 4),
            description: kind.description().to_owned(),
            created_at: Timestamp::from_micros([T0, -1, 0, i64::MAX, i64::MIN][i % 5]),
            created_by: if i % 2 == 0 {
                String::new()
            } else {
                format!("sa-{i}@example")
            },
            modified_at: Timestamp::from_micros(T0 + i64::try_from(i).expect("small") * SEC),
            result,
        };
        put_operation(&store, &op).await;
        written.push(op);
    }
    for op in &written {
        assert_eq!(get_operation(&store, &op.id).await.as_ref(), Some(op));
    }
}

/// Writing an operation whose id exists replaces every field of it.
pub async fn operation_upsert_replaces<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let key = sample_key("abjupsert", "f");
    let pending = sample_operation("abjopupsert", "abjupsert", T0);
    put_operation(&store, &pending).await;
    assert_eq!(
        store.pending_operations().await.expect("pending"),
        vec![pending.clone()]
    );

    let done = OperationRecord {
        modified_at: Timestamp::from_micros(T0 + 5 * SEC),
        result: OperationResult::Key(key.view()),
        ..pending.clone()
    };
    put_operation(&store, &done).await;
    assert_eq!(
        get_operation(&store, &pending.id).await.as_ref(),
        Some(&done)
    );
    assert!(
        store
            .pending_operations()
            .await
            .expect("pending")
            .is_empty()
    );
    let listed = store
        .list_operations("abjupsert", None, 10)
        .await
        .expect("list");
    assert_eq!(listed, vec![done.clone()], "an upsert must not duplicate");

    // Every column is replaced, including the ones an operation normally keeps.
    let rewritten = OperationRecord {
        id: pending.id.clone(),
        kind: OperationKind::DeleteKey,
        resource_id: "abjother".to_owned(),
        description: "rewritten".to_owned(),
        created_at: Timestamp::from_micros(T0 - SEC),
        created_by: "someone-else".to_owned(),
        modified_at: Timestamp::from_micros(T0 + 9 * SEC),
        result: OperationResult::Failed {
            kind: ErrorKind::Internal,
            message: "boom".to_owned(),
        },
    };
    put_operation(&store, &rewritten).await;
    assert_eq!(
        get_operation(&store, &pending.id).await.as_ref(),
        Some(&rewritten)
    );
    assert!(
        store
            .list_operations("abjupsert", None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .list_operations("abjother", None, 10)
            .await
            .expect("list"),
        vec![rewritten]
    );
}

/// A write with neither a key nor an operation succeeds and changes nothing.
pub async fn an_empty_write_is_a_no_op<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    store.write(Write::default()).await.expect("empty write");
    assert!(
        store
            .list_keys(&folder("f"), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .pending_operations()
            .await
            .expect("pending")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Listing.

/// `list_keys` returns a folder's live keys in id order, page after page, with no duplicate and
/// no gap; `after` need not name an existing (or live) key.
pub async fn list_keys_pages_in_id_order<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let target = folder("paged");
    // 23 live keys inserted out of order, some deleted ones among them, and other folders'.
    let mut expected = BTreeSet::new();
    for i in 0..23u32 {
        let n = (i * 7) % 23; // a permutation of 0..23
        let id = format!("abjk{n:02}");
        insert(&store, &sample_key(&id, "paged")).await;
        expected.insert(id);
    }
    for id in ["abjk00a", "abjk10a", "abjk99"] {
        let mut deleted = sample_key(id, "paged");
        deleted.deleted_at = Some(Timestamp::from_micros(T0));
        insert(&store, &deleted).await;
    }
    for id in ["abjk05b", "abja", "abjz"] {
        insert(&store, &sample_key(id, "paged-other")).await;
        insert(&store, &sample_key(&format!("{id}x"), "page")).await;
    }
    let expected: Vec<String> = expected.into_iter().collect();

    for limit in [1, 5, 7, 23, 100] {
        let pages = all_key_pages(&store, &target, limit).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        let mut want_sizes = vec![limit; 23 / limit];
        if 23 % limit != 0 {
            want_sizes.push(23 % limit);
        }
        assert_eq!(sizes, want_sizes, "page sizes for limit {limit}");
        let flat: Vec<String> = pages.iter().flat_map(|p| ids(p)).collect();
        assert_eq!(flat, expected, "keys for limit {limit}");
        assert!(pages.iter().flatten().all(|k| k.folder_id == target));
    }

    // Full records come back, not just ids.
    let first = store.list_keys(&target, None, 1).await.expect("list");
    assert_eq!(first, vec![sample_key("abjk00", "paged")]);
    // `after` between ids, after a deleted key, and after the last key.
    let page = store
        .list_keys(&target, Some(&key_id("abjk10a")), 2)
        .await
        .expect("list");
    assert_eq!(ids(&page), ["abjk11", "abjk12"]);
    let page = store
        .list_keys(&target, Some(&key_id("abjk0")), 1)
        .await
        .expect("list");
    assert_eq!(ids(&page), ["abjk00"]);
    let page = store
        .list_keys(&target, Some(&key_id("abjk22")), 5)
        .await
        .expect("list");
    assert!(page.is_empty());
    assert!(
        store
            .list_keys(&target, None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

/// A deleted key disappears from `list_keys` but `get_key` still returns it.
pub async fn deleted_keys_are_hidden_from_lists_but_readable<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let a = sample_key("abja", "f");
    let b = sample_key("abjb", "f");
    let c = sample_key("abjc", "f");
    for k in [&a, &b, &c] {
        insert(&store, k).await;
    }
    let deleted = KeyRecord {
        deleted_at: Some(Timestamp::from_micros(T0 + SEC)),
        status: KeyStatus::Inactive,
        ..next_version(&b)
    };
    update(&store, &deleted, 1).await.expect("delete");
    let listed = store.list_keys(&folder("f"), None, 10).await.expect("list");
    assert_eq!(listed, vec![a.clone(), c.clone()]);
    assert_eq!(get_key(&store, &b.id).await, Some(deleted.clone()));
    // Once destroyed, still readable and still hidden.
    let destroyed = KeyRecord {
        sealed: None,
        destroyed_at: Some(Timestamp::from_micros(T0 + 100 * SEC)),
        ..next_version(&deleted)
    };
    update(&store, &destroyed, 2).await.expect("destroy");
    assert_eq!(get_key(&store, &b.id).await, Some(destroyed));
    let listed = store.list_keys(&folder("f"), None, 10).await.expect("list");
    assert_eq!(listed, vec![a, c]);
}

/// `list_operations` orders a resource's operations by `(created_at, id)`, and a cursor starts
/// strictly after its position, also between equal timestamps.
pub async fn list_operations_pages_by_creation_then_id<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    // 17 operations with repeated timestamps, written in an order unrelated to either key.
    let mut expected = Vec::new();
    for i in 0..17i64 {
        let n = (i * 5) % 17;
        let created_at = T0 + (n / 3) * SEC; // groups of three share a timestamp
        let id = format!("abjop{:02}", (n * 11) % 17); // ids not in timestamp order
        let op = sample_operation(&id, "abjres", created_at);
        put_operation(&store, &op).await;
        expected.push(op);
    }
    // Other resources' operations are interleaved and must not show up.
    put_operation(&store, &sample_operation("abjop99", "abjres2", T0)).await;
    put_operation(&store, &sample_operation("abjop98", "abjre", T0 + SEC)).await;
    expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));

    for limit in [1, 3, 4, 17, 50] {
        let mut seen = Vec::new();
        let mut cursor: Option<OperationCursor> = None;
        loop {
            let page = store
                .list_operations("abjres", cursor.as_ref(), limit)
                .await
                .expect("list_operations");
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            cursor = Some(OperationCursor {
                created_at: last.created_at,
                id: last.id.clone(),
            });
            seen.extend(page);
            assert!(
                seen.len() <= expected.len(),
                "list_operations does not advance"
            );
        }
        assert_eq!(seen, expected, "operations for limit {limit}");
    }

    // A cursor that names no stored operation still positions by (created_at, id).
    let cursor = OperationCursor {
        created_at: Timestamp::from_micros(T0 + SEC),
        id: op_id("abjop"),
    };
    let page = store
        .list_operations("abjres", Some(&cursor), 100)
        .await
        .expect("list");
    let want: Vec<_> = expected
        .iter()
        .filter(|op| op.created_at.as_micros() >= T0 + SEC)
        .cloned()
        .collect();
    assert_eq!(page, want);
    assert!(
        store
            .list_operations("abjres", None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

/// `pending_operations` returns exactly the operations that are not done, oldest first.
pub async fn pending_operations_are_unfinished_oldest_first<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let key = sample_key("abjpend", "f");
    let mut expected = Vec::new();
    for i in 0..12i64 {
        let mut op = sample_operation(
            &format!("abjop{:02}", 11 - i),
            &format!("abjres{}", i % 3),
            T0 - (i / 2) * SEC,
        );
        match i % 3 {
            0 => expected.push(op.clone()),
            1 => op.result = OperationResult::Key(key.view()),
            _ => {
                op.result = OperationResult::Failed {
                    kind: ErrorKind::Internal,
                    message: "x".to_owned(),
                }
            }
        }
        put_operation(&store, &op).await;
    }
    expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    assert_eq!(store.pending_operations().await.expect("pending"), expected);
}

/// `keys_due_for_destruction` returns deleted keys with `deleted_at <= t` whose sealed material
/// still exists, oldest deletion first, at most `limit`.
pub async fn keys_due_for_destruction_respects_the_boundaries<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let t = T0 + 72 * 3600 * SEC;
    let deleted = |id: &str, at: i64| KeyRecord {
        deleted_at: Some(Timestamp::from_micros(at)),
        ..sample_key(id, "f")
    };
    let keys = [
        deleted("abjjust", t),            // due: exactly at the boundary
        deleted("abjearly", t - SEC),     // due
        deleted("abjeq", t - SEC),        // due, same time as abjearly: ordered by id after it
        deleted("abjold", t - 100 * SEC), // due, oldest
        deleted("abjlate", t + 1),        // not due: one microsecond late
        KeyRecord {
            sealed: None,
            destroyed_at: Some(Timestamp::from_micros(t - 50 * SEC)),
            ..deleted("abjgone", t - 200 * SEC) // not due: already destroyed
        },
        KeyRecord {
            sealed: None,
            ..deleted("abjempty", t - 300 * SEC) // not due: never had material
        },
        sample_key("abjlive", "f"), // not deleted
    ];
    for k in &keys {
        insert(&store, k).await;
    }
    let due = store
        .keys_due_for_destruction(Timestamp::from_micros(t), 100)
        .await
        .expect("due");
    assert_eq!(ids(&due), ["abjold", "abjearly", "abjeq", "abjjust"]);
    assert_eq!(due[0], keys[3], "full records come back");
    let due = store
        .keys_due_for_destruction(Timestamp::from_micros(t), 2)
        .await
        .expect("due");
    assert_eq!(ids(&due), ["abjold", "abjearly"]);
    let due = store
        .keys_due_for_destruction(Timestamp::from_micros(t - 100 * SEC - 1), 100)
        .await
        .expect("due");
    assert!(due.is_empty());
    let due = store
        .keys_due_for_destruction(Timestamp::from_micros(t + 1), 100)
        .await
        .expect("due");
    assert_eq!(
        ids(&due),
        ["abjold", "abjearly", "abjeq", "abjjust", "abjlate"]
    );
    assert!(
        store
            .keys_due_for_destruction(Timestamp::from_micros(t), 0)
            .await
            .expect("due")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency.

/// What a concurrent write ended in. Anything but success or `Conflict` fails the test.
fn outcome(result: Result<(), StoreError>, what: &str) -> bool {
    match result {
        Ok(()) => true,
        Err(StoreError::Conflict(_)) => false,
        Err(e) => panic!("{what}: a concurrent write failed with {e:?} instead of Conflict"),
    }
}

/// 50 tasks update the same key at the same expected version at once: exactly one wins, the
/// others get `Conflict`, and only the winner's operation is stored.
pub async fn concurrent_updates_at_one_version_have_one_winner<F: StoreFactory>(factory: &F) {
    const WRITERS: usize = 50;
    let store = Arc::new(factory.fresh().await);
    let v1 = sample_key("abjhot", "f");
    insert(&*store, &v1).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        let record = KeyRecord {
            name: format!("writer {i}"),
            ..next_version(&v1)
        };
        tasks.push(tokio::spawn(async move {
            let op = sample_operation(&format!("abjop{i:02}"), "abjhot", T0);
            barrier.wait().await;
            let result = store
                .write(Write {
                    bindings: None,
                    key: Some(KeyWrite::Update {
                        record: &record,
                        expected_version: 1,
                    }),
                    operation: Some(&op),
                    audit: None,
                })
                .await;
            (i, outcome(result, "conditional update"))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.expect("writer task");
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = winners[0];
    let stored = get_key(&*store, &v1.id).await.expect("key exists");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.name, format!("writer {winner}"));
    for i in 0..WRITERS {
        let op = get_operation(&*store, &op_id(&format!("abjop{i:02}"))).await;
        assert_eq!(op.is_some(), i == winner, "operation of writer {i}");
    }
}

/// 25 tasks each add their own label by read-modify-write, retrying on `Conflict`: every task
/// lands exactly once, no update is lost, and the version counts them all.
pub async fn concurrent_retrying_updates_all_land<F: StoreFactory>(factory: &F) {
    const WRITERS: usize = 25;
    let store = Arc::new(factory.fresh().await);
    let v1 = KeyRecord {
        labels: Labels::default(),
        ..sample_key("abjcounter", "f")
    };
    insert(&*store, &v1).await;
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        let id = v1.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0usize;
            loop {
                let current = get_key(&*store, &id).await.expect("key exists");
                let mut map = current.labels.as_map().clone();
                map.insert(format!("w{i:02}"), "1".to_owned());
                let next = KeyRecord {
                    labels: Labels::from_trusted(map),
                    ..next_version(&current)
                };
                if outcome(
                    update(&*store, &next, current.version).await,
                    "retrying update",
                ) {
                    return conflicts;
                }
                conflicts += 1;
                assert!(conflicts < 10_000, "writer {i} never got through");
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let last = get_key(&*store, &v1.id).await.expect("key exists");
    assert_eq!(last.version, 1 + i64::try_from(WRITERS).expect("small"));
    let want: BTreeSet<String> = (0..WRITERS).map(|i| format!("w{i:02}")).collect();
    let got: BTreeSet<String> = last.labels.as_map().keys().cloned().collect();
    assert_eq!(got, want, "a lost update");
}

/// 20 tasks insert the same id at once: exactly one succeeds.
pub async fn concurrent_inserts_of_one_id_have_one_winner<F: StoreFactory>(factory: &F) {
    const WRITERS: usize = 20;
    let store = Arc::new(factory.fresh().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let record = KeyRecord {
                name: format!("inserter {i}"),
                ..sample_key("abjonce", "f")
            };
            barrier.wait().await;
            let result = store
                .write(Write {
                    bindings: None,
                    key: Some(KeyWrite::Insert(&record)),
                    operation: None,
                    audit: None,
                })
                .await;
            (i, outcome(result, "insert"))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.expect("inserter task");
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = get_key(&*store, &key_id("abjonce"))
        .await
        .expect("key exists");
    assert_eq!(stored.name, format!("inserter {}", winners[0]));
}

/// 50 tasks insert distinct keys with operations while others read: every write succeeds and
/// every read sees a consistent state.
pub async fn concurrent_inserts_and_reads_all_succeed<F: StoreFactory>(factory: &F) {
    const WRITERS: usize = 50;
    let store = Arc::new(factory.fresh().await);
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let id = format!("abjmany{i:02}");
            let key = sample_key(&id, "busy");
            let op = sample_operation(&format!("abjop{i:02}"), &id, T0);
            store
                .write(Write {
                    bindings: None,
                    key: Some(KeyWrite::Insert(&key)),
                    operation: Some(&op),
                    audit: None,
                })
                .await
                .expect("a distinct insert must succeed");
            // A write is visible to reads once it returns.
            assert_eq!(get_key(&*store, &key.id).await, Some(key));
            let listed = store
                .list_keys(&folder("busy"), None, 1000)
                .await
                .expect("list");
            assert!(listed.iter().any(|k| k.id.as_str() == id));
            assert!(listed.windows(2).all(|w| w[0].id < w[1].id));
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let listed = store
        .list_keys(&folder("busy"), None, 1000)
        .await
        .expect("list");
    assert_eq!(listed.len(), WRITERS);
    assert_eq!(
        store.pending_operations().await.expect("pending").len(),
        WRITERS
    );
}

// ---------------------------------------------------------------------------------------------
// The per-folder key quota.

async fn insert_within<S: Store + ?Sized>(
    store: &S,
    record: &KeyRecord,
    operation: Option<&OperationRecord>,
    limit: u32,
) -> Result<(), StoreError> {
    store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::InsertWithinQuota { record, limit }),
            operation,
            audit: None,
        })
        .await
}

#[track_caller]
fn assert_quota_exceeded(result: Result<(), StoreError>, folder_id: &str, limit: u32) {
    match result {
        Err(StoreError::QuotaExceeded { folder, limit: l }) => {
            assert_eq!((folder.as_str(), l), (folder_id, limit));
        }
        other => panic!("expected QuotaExceeded for {folder_id}, got {other:?}"),
    }
}

/// `InsertWithinQuota` counts the folder's keys that are not deleted (CREATING ones included,
/// other folders' and deleted ones not); a refused insert writes nothing, not even its
/// operation; a deletion frees a place; the unlimited `Insert` is unaffected.
pub async fn quota_counts_the_folders_keys_that_are_not_deleted<F: StoreFactory>(factory: &F) {
    const LIMIT: u32 = 3;
    let store = factory.fresh().await;
    // Keys elsewhere and deleted keys in the folder do not count.
    insert(&store, &sample_key("abjother1", "elsewhere")).await;
    insert(&store, &sample_key("abjother2", "elsewhere")).await;
    insert(&store, &sample_key("abjother3", "elsewhere")).await;
    insert(
        &store,
        &KeyRecord {
            deleted_at: Some(Timestamp::from_micros(T0)),
            ..sample_key("abjgone", "q")
        },
    )
    .await;
    insert_within(&store, &sample_key("abjq1", "q"), None, LIMIT)
        .await
        .expect("first key");
    let creating = KeyRecord {
        status: KeyStatus::Creating,
        sealed: None,
        public_key_pem: None,
        ..sample_key("abjq2", "q")
    };
    insert_within(&store, &creating, None, LIMIT)
        .await
        .expect("second key");
    insert_within(&store, &sample_key("abjq3", "q"), None, LIMIT)
        .await
        .expect("third key");

    let op = sample_operation("abjopquota", "abjq4", T0);
    let over = insert_within(&store, &sample_key("abjq4", "q"), Some(&op), LIMIT).await;
    assert_quota_exceeded(over, "q", LIMIT);
    assert_eq!(get_key(&store, &key_id("abjq4")).await, None);
    assert_eq!(get_operation(&store, &op.id).await, None);
    // A limit of zero admits nothing, even into an empty folder.
    assert_quota_exceeded(
        insert_within(&store, &sample_key("abjnew", "empty"), None, 0).await,
        "empty",
        0,
    );

    // Deleting one (CREATING counts until it is deleted) frees a place.
    let deleted = KeyRecord {
        deleted_at: Some(Timestamp::from_micros(T0 + SEC)),
        ..next_version(&creating)
    };
    update(&store, &deleted, 1).await.expect("delete");
    insert_within(&store, &sample_key("abjq4", "q"), Some(&op), LIMIT)
        .await
        .expect("a place was freed");
    assert_eq!(get_operation(&store, &op.id).await, Some(op));
    assert_quota_exceeded(
        insert_within(&store, &sample_key("abjq5", "q"), None, LIMIT).await,
        "q",
        LIMIT,
    );
    insert_within(&store, &sample_key("abjq5", "q"), None, LIMIT + 1)
        .await
        .expect("a higher limit");
    // An id that exists is still a Conflict when there is room.
    assert_conflict(
        insert_within(&store, &sample_key("abjq1", "q"), None, 100).await,
        "duplicate id within quota",
    );
    let listed = store
        .list_keys(&folder("q"), None, 100)
        .await
        .expect("list");
    assert_eq!(ids(&listed), ["abjq1", "abjq3", "abjq4", "abjq5"]);
}

/// 30 tasks insert distinct keys into one folder at once with a limit of 7: exactly 7 land,
/// the others get `QuotaExceeded`, and the folder holds exactly 7 keys.
pub async fn concurrent_inserts_never_exceed_the_quota<F: StoreFactory>(factory: &F) {
    const WRITERS: usize = 30;
    const LIMIT: u32 = 7;
    let store = Arc::new(factory.fresh().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let key = sample_key(&format!("abjrace{i:02}"), "crowded");
            let op = sample_operation(&format!("abjoprace{i:02}"), key.id.as_str(), T0);
            barrier.wait().await;
            match insert_within(&*store, &key, Some(&op), LIMIT).await {
                Ok(()) => true,
                Err(StoreError::QuotaExceeded { .. }) => false,
                Err(e) => panic!("a concurrent insert failed with {e:?}"),
            }
        }));
    }
    let mut landed = 0;
    for task in tasks {
        if task.await.expect("inserter task") {
            landed += 1;
        }
    }
    assert_eq!(landed, LIMIT as usize);
    let listed = store
        .list_keys(&folder("crowded"), None, 1000)
        .await
        .expect("list");
    assert_eq!(listed.len(), LIMIT as usize);
    assert_eq!(
        store.pending_operations().await.expect("pending").len(),
        LIMIT as usize,
        "only the landed inserts' operations are stored"
    );
}

// ---------------------------------------------------------------------------------------------
// Durability.

/// Everything written is there after the store is closed and opened again, and writing goes on
/// from where it was.
pub async fn data_survives_reopening<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    assert!(
        store
            .put_meta_if_absent("root_key_check", "abc")
            .await
            .expect("put")
    );
    let live = sample_key("abjlive", "f");
    let deleted = KeyRecord {
        deleted_at: Some(Timestamp::from_micros(T0)),
        labels: labels(&[("a", "b"), ("c", "")]),
        algorithm: Algorithm::ALL[Algorithm::ALL.len() - 1],
        ..sample_key("abjdeleted", "f")
    };
    insert(&store, &live).await;
    insert(&store, &deleted).await;
    let v2 = KeyRecord {
        name: "v2".to_owned(),
        ..next_version(&live)
    };
    update(&store, &v2, 1).await.expect("update");
    let pending = sample_operation("abjop1", "abjlive", T0);
    let done = OperationRecord {
        result: OperationResult::Key(v2.view()),
        ..sample_operation("abjop2", "abjlive", T0 + SEC)
    };
    put_operation(&store, &pending).await;
    put_operation(&store, &done).await;

    let store = factory.reopen(store).await;
    assert_eq!(
        store
            .get_meta("root_key_check")
            .await
            .expect("get_meta")
            .as_deref(),
        Some("abc")
    );
    assert_eq!(get_key(&store, &live.id).await.as_ref(), Some(&v2));
    assert_eq!(get_key(&store, &deleted.id).await.as_ref(), Some(&deleted));
    assert_eq!(
        store.list_keys(&folder("f"), None, 10).await.expect("list"),
        vec![v2.clone()]
    );
    assert_eq!(get_operation(&store, &done.id).await.as_ref(), Some(&done));
    assert_eq!(
        store.pending_operations().await.expect("pending"),
        vec![pending.clone()]
    );
    assert_eq!(
        store
            .list_operations("abjlive", None, 10)
            .await
            .expect("list"),
        vec![pending, done]
    );
    let due = store
        .keys_due_for_destruction(Timestamp::from_micros(T0), 10)
        .await
        .expect("due");
    assert_eq!(due, vec![deleted]);

    // The version rule holds across the restart.
    assert_conflict(
        update(&store, &next_version(&live), 1).await,
        "stale after reopen",
    );
    update(&store, &next_version(&v2), 2)
        .await
        .expect("update after reopen");
    assert!(
        !store
            .put_meta_if_absent("root_key_check", "xyz")
            .await
            .expect("put")
    );

    // And a second restart keeps the later writes.
    let store = factory.reopen(store).await;
    assert_eq!(get_key(&store, &live.id).await.expect("key").version, 3);
}

// ---------------------------------------------------------------------------------------------
// Claims.

/// A claimed name cannot be claimed again until its claim is dropped; other names are free.
pub async fn a_claim_is_exclusive_until_dropped<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let claim = store
        .try_claim("job:a")
        .await
        .expect("claim")
        .expect("free");
    assert!(store.try_claim("job:a").await.expect("claim").is_none());
    let other = store.try_claim("job:b").await.expect("claim");
    assert!(other.is_some(), "another name is free");
    drop(claim);
    // Releasing may be asynchronous (PostgreSQL's goes through the claims connection's task).
    let mut again = None;
    for _ in 0..100 {
        again = store.try_claim("job:a").await.expect("claim");
        if again.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(again.is_some(), "a dropped claim is released");
    assert!(store.try_claim("job:b").await.expect("claim").is_none());
}

/// Of many concurrent claims of one name, exactly one wins.
pub async fn concurrent_claims_have_one_winner<F: StoreFactory>(factory: &F) {
    let store = Arc::new(factory.fresh().await);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.try_claim("job:contended").await.expect("claim") })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        if let Some(claim) = task.await.expect("join") {
            won.push(claim);
        }
    }
    assert_eq!(won.len(), 1, "exactly one winner");
}
