//! The conformance suite for the audit trail (ADR 0006): appending hash-chained records in
//! atomic batches under the chain head's lock, reading them back by sequence and by time, and
//! checkpoints. Every [`Store`] adapter must pass it, as it must pass
//! [`conformance`](crate::conformance).
//!
//! An adapter's integration test expands [`audit_conformance_tests!`](crate::audit_conformance_tests)
//! with the same [`StoreFactory`] it gives the other suites:
//!
//! ```ignore
//! signet_store::audit_conformance_tests!(MyFactory::new());
//! ```
//!
//! What the port's doc comments leave open, this suite settles for every adapter:
//! - records are numbered from 1 without gaps, also across concurrent appends and reopening;
//! - an empty field (`""`) and an absent one (`None`) stay distinct;
//! - a second checkpoint for one `seq` is ignored, and the first one kept.

// Test-support code: failing loudly (expect/panic) is the point here.
#![allow(clippy::expect_used, clippy::panic)]

use crate::conformance::{StoreFactory, T0, sample_key, sample_operation};
use crate::conformance_identity::sample_service_account;
use signet_core::audit::{
    AuditCheckpoint, AuditEvent, AuditHead, AuditRecord, CheckpointKey, RECORD_VERSION,
    checkpoint_public_key, record_hash, verify,
};
use signet_core::domain::Timestamp;
use signet_core::domain::{KeyId, OperationId, ServiceAccountId};
use signet_core::store::{KeyWrite, Store, StoreError, Write};
use std::sync::Arc;

/// Expands to one `#[tokio::test]` per audit conformance test, each calling it with a factory
/// built by `$factory` (evaluated afresh in every test). The calling crate needs `tokio` with
/// the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! audit_conformance_tests {
    ($factory:expr) => {
        $crate::audit_conformance_tests!(@each $factory;
            an_empty_trail_has_the_genesis_head_and_no_records,
            audit_records_round_trip_every_field,
            appends_number_and_chain_records_across_batches,
            an_empty_audit_batch_changes_nothing,
            a_large_batch_commits_whole,
            audit_records_page_by_sequence,
            audit_records_since_filter_by_time_and_page_by_sequence,
            checkpoints_round_trip_and_the_first_for_a_sequence_is_kept,
            concurrent_appends_form_one_chain,
            a_write_appends_its_audit_record_in_its_own_transaction,
            a_failed_write_appends_no_audit_record,
            concurrent_writes_and_appends_form_one_chain,
            service_account_changes_append_their_record_only_when_they_commit,
            the_checkpoint_key_is_made_once_and_signs_verifiable_checkpoints,
            the_audit_chain_continues_after_reopening,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let factory = $factory;
                $crate::conformance_audit::$name(&factory).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// A Sign event at `T0 + n` seconds, every optional field set.
pub fn sample_event(n: i64) -> AuditEvent {
    AuditEvent {
        time: Timestamp::from_micros(T0 + n * 1_000_000),
        request_id: format!("request-{n}"),
        subject: "ajeaccount".to_owned(),
        rpc: "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign"
            .to_owned(),
        resource_id: Some(format!("abjkey{n}")),
        algorithm: Some("ECDSA_NIST_P256_SHA_256".to_owned()),
        outcome: "OK".to_owned(),
        client_addr: "127.0.0.1:40000".to_owned(),
        message_sha256: Some(signet_crypto::sha256(&n.to_be_bytes())),
    }
}

/// An unauthenticated call with nothing optional.
fn bare_event(n: i64) -> AuditEvent {
    AuditEvent {
        subject: String::new(),
        resource_id: None,
        algorithm: None,
        outcome: "UNAUTHENTICATED".to_owned(),
        client_addr: String::new(),
        message_sha256: None,
        ..sample_event(n)
    }
}

async fn append<S: Store + ?Sized>(store: &S, events: &[AuditEvent]) -> AuditHead {
    store.append_audit(events).await.expect("append audit")
}

async fn all_records<S: Store + ?Sized>(store: &S) -> Vec<AuditRecord> {
    store
        .audit_records(i64::MIN, usize::MAX / 2)
        .await
        .expect("audit records")
}

/// Asserts that `records` are 1..=n, each linked to the previous and hashed as the core does.
#[track_caller]
fn assert_chain(records: &[AuditRecord]) {
    let mut prev = AuditHead::GENESIS;
    for r in records {
        assert_eq!(r.seq, prev.seq + 1, "numbering");
        assert_eq!(r.version, RECORD_VERSION);
        assert_eq!(r.prev_hash, prev.hash, "link of record {}", r.seq);
        assert_eq!(
            r.hash,
            record_hash(r.version, r.seq, &r.event, &r.prev_hash),
            "hash of record {}",
            r.seq
        );
        prev = AuditHead {
            seq: r.seq,
            hash: r.hash,
        };
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

pub async fn an_empty_trail_has_the_genesis_head_and_no_records<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    assert_eq!(store.audit_head().await.expect("head"), AuditHead::GENESIS);
    assert!(all_records(&store).await.is_empty());
    assert!(
        store
            .audit_records_since(Timestamp::from_micros(0), 0, 10)
            .await
            .expect("since")
            .is_empty()
    );
    assert!(
        store
            .audit_checkpoints(i64::MIN, 10)
            .await
            .expect("checkpoints")
            .is_empty()
    );
}

pub async fn audit_records_round_trip_every_field<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let unusual = AuditEvent {
        request_id: "ünïcødé ✓ 'quoted' \"double\" ; DROP TABLE audit_records; --".to_owned(),
        resource_id: Some(String::new()),
        algorithm: Some(String::new()),
        message_sha256: Some([0; 32]),
        client_addr: "[::1]:65535".to_owned(),
        ..sample_event(3)
    };
    let events = [sample_event(1), bare_event(2), unusual];
    let head = append(&store, &events).await;
    let records = all_records(&store).await;
    assert_eq!(records.len(), 3);
    for (record, event) in records.iter().zip(&events) {
        assert_eq!(&record.event, event);
    }
    assert_chain(&records);
    assert_eq!(
        head,
        AuditHead {
            seq: 3,
            hash: records[2].hash
        }
    );
    assert_eq!(store.audit_head().await.expect("head"), head);
}

pub async fn appends_number_and_chain_records_across_batches<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let mut expected = Vec::new();
    for batch in 0..5 {
        let events: Vec<AuditEvent> = (0..=batch).map(|i| sample_event(batch * 10 + i)).collect();
        let before = store.audit_head().await.expect("head");
        let head = append(&store, &events).await;
        assert_eq!(head.seq, before.seq + events.len() as i64);
        expected.extend(events);
    }
    let records = all_records(&store).await;
    assert_eq!(records.len(), expected.len());
    assert_chain(&records);
    let got: Vec<&AuditEvent> = records.iter().map(|r| &r.event).collect();
    let want: Vec<&AuditEvent> = expected.iter().collect();
    assert_eq!(got, want, "records keep the order of their batches");
    let last = records.last().expect("records");
    assert_eq!(
        store.audit_head().await.expect("head"),
        AuditHead {
            seq: last.seq,
            hash: last.hash
        }
    );
}

pub async fn an_empty_audit_batch_changes_nothing<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    assert_eq!(append(&store, &[]).await, AuditHead::GENESIS);
    let head = append(&store, &[sample_event(1)]).await;
    assert_eq!(append(&store, &[]).await, head);
    assert_eq!(all_records(&store).await.len(), 1);
}

pub async fn a_large_batch_commits_whole<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let events: Vec<AuditEvent> = (0..1000).map(sample_event).collect();
    let head = append(&store, &events).await;
    assert_eq!(head.seq, 1000);
    let records = all_records(&store).await;
    assert_eq!(records.len(), 1000);
    assert_chain(&records);
    assert_eq!(records[999].event, events[999]);
}

pub async fn audit_records_page_by_sequence<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let events: Vec<AuditEvent> = (0..25).map(sample_event).collect();
    append(&store, &events).await;
    for limit in [1, 2, 7, 25, 100] {
        let mut seen = Vec::new();
        let mut from = 1;
        loop {
            let page = store.audit_records(from, limit).await.expect("page");
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            from = last.seq + 1;
            seen.extend(page.iter().map(|r| r.seq));
        }
        assert_eq!(seen, (1..=25).collect::<Vec<i64>>(), "limit {limit}");
    }
    let tail = store.audit_records(21, 100).await.expect("tail");
    assert_eq!(
        tail.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [21, 22, 23, 24, 25]
    );
    assert!(store.audit_records(26, 10).await.expect("past").is_empty());
}

pub async fn audit_records_since_filter_by_time_and_page_by_sequence<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    // Times are not monotonic in the chain (servers' clocks differ): 0, 5, 1, 6, 2, 7, …
    let events: Vec<AuditEvent> = (0..10)
        .map(|i| {
            let t = if i % 2 == 0 { i / 2 } else { 5 + i / 2 };
            AuditEvent {
                time: Timestamp::from_micros(T0 + t * 1_000_000),
                ..sample_event(i)
            }
        })
        .collect();
    append(&store, &events).await;
    let since = Timestamp::from_micros(T0 + 3 * 1_000_000);
    let expected: Vec<i64> = (1..=10)
        .filter(|seq| events[(*seq - 1) as usize].time >= since)
        .collect();
    assert_eq!(expected, [2, 4, 6, 7, 8, 9, 10]);
    for limit in [1, 3, 100] {
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = store
                .audit_records_since(since, after, limit)
                .await
                .expect("since");
            let Some(last) = page.last() else { break };
            after = last.seq;
            assert!(page.iter().all(|r| r.event.time >= since));
            seen.extend(page.iter().map(|r| r.seq));
        }
        assert_eq!(seen, expected, "limit {limit}");
    }
}

pub async fn checkpoints_round_trip_and_the_first_for_a_sequence_is_kept<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let head = append(&store, &[sample_event(1), sample_event(2)]).await;
    let first = AuditCheckpoint {
        seq: head.seq,
        hash: head.hash,
        time: Timestamp::from_micros(T0),
        signature: (0..=255u8).collect(),
    };
    store.put_audit_checkpoint(&first).await.expect("put");
    let second = AuditCheckpoint {
        signature: vec![1, 2, 3],
        time: Timestamp::from_micros(T0 + 1),
        ..first.clone()
    };
    store
        .put_audit_checkpoint(&second)
        .await
        .expect("put again");
    let one = AuditCheckpoint {
        seq: 1,
        hash: [7; 32],
        time: Timestamp::from_micros(T0 + 2),
        signature: vec![9],
    };
    store.put_audit_checkpoint(&one).await.expect("put one");
    assert_eq!(
        store.audit_checkpoints(i64::MIN, 10).await.expect("list"),
        [one.clone(), first.clone()]
    );
    assert_eq!(
        store.audit_checkpoints(1, 10).await.expect("after 1"),
        [first]
    );
    assert_eq!(
        store.audit_checkpoints(i64::MIN, 1).await.expect("limit"),
        [one]
    );
}

pub async fn concurrent_appends_form_one_chain<F: StoreFactory>(factory: &F) {
    const TASKS: i64 = 16;
    const BATCHES: i64 = 8;
    const PER_BATCH: i64 = 5;
    let store = Arc::new(factory.fresh().await);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                let events: Vec<AuditEvent> = (0..PER_BATCH)
                    .map(|i| sample_event(t * 1000 + b * 10 + i))
                    .collect();
                store.append_audit(&events).await.expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let records = all_records(store.as_ref()).await;
    assert_eq!(records.len() as i64, TASKS * BATCHES * PER_BATCH);
    assert_chain(&records);
    // Each batch is contiguous: a batch's records are never interleaved with another's.
    for chunk in records.chunks(PER_BATCH as usize) {
        let first = chunk[0].event.request_id.clone();
        let base: i64 = first
            .strip_prefix("request-")
            .and_then(|n| n.parse().ok())
            .expect("request id");
        for (i, r) in chunk.iter().enumerate() {
            assert_eq!(r.event.request_id, format!("request-{}", base + i as i64));
        }
    }
}

/// The record of a call that changed `key_id`, as a use case puts it in its write.
fn change_event(n: i64, key_id: &str) -> AuditEvent {
    AuditEvent {
        rpc: "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKeyService/Create"
            .to_owned(),
        resource_id: Some(key_id.to_owned()),
        message_sha256: None,
        ..sample_event(n)
    }
}

/// A key insert with its operation and its call's audit record.
async fn create_recorded<S: Store + ?Sized>(
    store: &S,
    key_id: &str,
    folder_id: &str,
    n: i64,
) -> Result<AuditEvent, StoreError> {
    let key = sample_key(key_id, folder_id);
    let op = sample_operation(&format!("op{key_id}"), key_id, T0 + n);
    let event = change_event(n, key_id);
    store
        .write(Write {
            key: Some(KeyWrite::Insert(&key)),
            bindings: None,
            operation: Some(&op),
            audit: Some(&event),
        })
        .await?;
    Ok(event)
}

pub async fn a_write_appends_its_audit_record_in_its_own_transaction<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    append(&store, &[sample_event(1), sample_event(2)]).await;
    let event = create_recorded(&store, "abjaudited01", "b1folder", 3)
        .await
        .expect("write");
    // An append after the write continues from the write's record.
    let head = append(&store, &[sample_event(4)]).await;
    assert_eq!(head.seq, 4);
    let records = all_records(&store).await;
    assert_eq!(records.len(), 4);
    assert_chain(&records);
    assert_eq!(records[2].event, event);
    assert_eq!(store.audit_head().await.expect("head"), head);
    // The change and its operation are there with it.
    let key = store
        .get_key(&KeyId::from_trusted("abjaudited01".into()))
        .await
        .expect("get key");
    assert!(key.is_some());
    let op = store
        .get_operation(&OperationId::from_trusted("opabjaudited01".into()))
        .await
        .expect("get op");
    assert!(op.is_some());
    // And survive reopening, chain and all.
    let store = factory.reopen(store).await;
    let again = all_records(&store).await;
    assert_eq!(again, records);
    let head = append(&store, &[sample_event(5)]).await;
    assert_eq!(head.seq, 5);
    assert_chain(&all_records(&store).await);
}

pub async fn a_failed_write_appends_no_audit_record<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    create_recorded(&store, "abjaudited02", "b1folder", 1)
        .await
        .expect("write");
    let before = all_records(&store).await;
    let head = store.audit_head().await.expect("head");

    // A second insert of the same id conflicts: no record.
    let err = create_recorded(&store, "abjaudited02", "b1folder", 2)
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // An update at a stale version conflicts: no record.
    let stale = sample_key("abjaudited02", "b1folder");
    let event = change_event(3, "abjaudited02");
    let err = store
        .write(Write {
            key: Some(KeyWrite::Update {
                record: &stale,
                expected_version: 7,
            }),
            bindings: None,
            operation: None,
            audit: Some(&event),
        })
        .await
        .expect_err("stale version");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // An insert over the folder's quota is refused: no record, no operation.
    let key = sample_key("abjaudited03", "b1folder");
    let op = sample_operation("opabjaudited03", "abjaudited03", T0 + 4);
    let event = change_event(4, "abjaudited03");
    let err = store
        .write(Write {
            key: Some(KeyWrite::InsertWithinQuota {
                record: &key,
                limit: 1,
            }),
            bindings: None,
            operation: Some(&op),
            audit: Some(&event),
        })
        .await
        .expect_err("over quota");
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err:?}");
    assert_eq!(
        store
            .get_operation(&OperationId::from_trusted("opabjaudited03".into()))
            .await
            .expect("get op"),
        None
    );

    assert_eq!(all_records(&store).await, before);
    assert_eq!(store.audit_head().await.expect("head"), head);
    // The chain goes on from where it was.
    let next = append(&store, &[sample_event(5)]).await;
    assert_eq!(next.seq, head.seq + 1);
    assert_chain(&all_records(&store).await);
}

pub async fn concurrent_writes_and_appends_form_one_chain<F: StoreFactory>(factory: &F) {
    const WRITERS: i64 = 6;
    const WRITES: i64 = 5;
    const APPENDERS: i64 = 6;
    const BATCHES: i64 = 5;
    const PER_BATCH: i64 = 4;
    let store = Arc::new(factory.fresh().await);
    let mut tasks = Vec::new();
    for t in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            for w in 0..WRITES {
                let id = format!("abjconc{t:02}{w:02}");
                let event = create_recorded(store.as_ref(), &id, "b1folder", 10_000 + t * 100 + w)
                    .await
                    .expect("write");
                made.push(event);
            }
            made
        }));
    }
    for t in 0..APPENDERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            for b in 0..BATCHES {
                let events: Vec<AuditEvent> = (0..PER_BATCH)
                    .map(|i| sample_event(t * 1000 + b * 10 + i))
                    .collect();
                store.append_audit(&events).await.expect("append");
                made.extend(events);
            }
            made
        }));
    }
    let mut expected = Vec::new();
    for task in tasks {
        expected.extend(task.await.expect("task"));
    }
    let records = all_records(store.as_ref()).await;
    assert_eq!(
        records.len() as i64,
        WRITERS * WRITES + APPENDERS * BATCHES * PER_BATCH
    );
    assert_chain(&records);
    // Every event is there exactly once.
    let mut stored: Vec<String> = records.iter().map(|r| r.event.request_id.clone()).collect();
    let mut wanted: Vec<String> = expected.iter().map(|e| e.request_id.clone()).collect();
    stored.sort();
    wanted.sort();
    assert_eq!(stored, wanted);
    assert_eq!(
        store.audit_head().await.expect("head").seq,
        records.len() as i64
    );
}

pub async fn service_account_changes_append_their_record_only_when_they_commit<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let account = sample_service_account("ajerecorded", "default", "recorded");
    let created = change_event(1, "ajerecorded");
    store
        .insert_service_account(
            &account,
            &sample_operation("opsacreate", "ajerecorded", T0),
            Some(&created),
        )
        .await
        .expect("insert");
    // The name is taken: nothing is inserted, nothing recorded.
    let clash = sample_service_account("ajeclash", "default", "recorded");
    let refused = change_event(2, "ajeclash");
    let err = store
        .insert_service_account(
            &clash,
            &sample_operation("opsaclash", "ajeclash", T0),
            Some(&refused),
        )
        .await
        .expect_err("name taken");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // No such account: nothing deleted, nothing recorded.
    let missing = change_event(3, "ajemissing");
    let deleted = store
        .delete_service_account(
            &ServiceAccountId::from_trusted("ajemissing".into()),
            Timestamp::from_micros(T0),
            &sample_operation("opsamissing", "ajemissing", T0),
            Some(&missing),
        )
        .await
        .expect("delete missing");
    assert!(!deleted);
    let gone = change_event(4, "ajerecorded");
    let deleted = store
        .delete_service_account(
            &account.id,
            Timestamp::from_micros(T0),
            &sample_operation("opsadelete", "ajerecorded", T0),
            Some(&gone),
        )
        .await
        .expect("delete");
    assert!(deleted);
    let records = all_records(&store).await;
    assert_chain(&records);
    let events: Vec<&AuditEvent> = records.iter().map(|r| &r.event).collect();
    assert_eq!(events, [&created, &gone]);
}

pub async fn the_checkpoint_key_is_made_once_and_signs_verifiable_checkpoints<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let root = signet_crypto::RootKey::generate().expect("root key");
    assert_eq!(checkpoint_public_key(&store).await.expect("none"), None);
    let key = CheckpointKey::load_or_create(&store, &root)
        .await
        .expect("create");
    let again = CheckpointKey::load_or_create(&store, &root)
        .await
        .expect("load");
    assert_eq!(key.public_key_der(), again.public_key_der());
    let public = checkpoint_public_key(&store)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(public, key.public_key_der());

    append(&store, &[sample_event(1), bare_event(2)]).await;
    let head = append(&store, &[sample_event(3)]).await;
    let cp = key
        .sign(head.seq, head.hash, Timestamp::from_micros(T0))
        .expect("sign");
    store.put_audit_checkpoint(&cp).await.expect("put");
    let report = verify(&store, Some(&public)).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records, 3);
    assert_eq!(report.checkpoints, 1);
    assert_eq!(report.last_checkpoint, Some(3));

    // Another root key cannot open the recorded key: the store is refused, not re-keyed.
    let other = signet_crypto::RootKey::generate().expect("root key");
    assert!(CheckpointKey::load_or_create(&store, &other).await.is_err());
    assert_eq!(
        checkpoint_public_key(&store).await.expect("read"),
        Some(public)
    );
}

pub async fn the_audit_chain_continues_after_reopening<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    append(&store, &[sample_event(1), sample_event(2)]).await;
    let store = factory.reopen(store).await;
    let head = append(&store, &[sample_event(3)]).await;
    assert_eq!(head.seq, 3);
    let records = all_records(&store).await;
    assert_eq!(records.len(), 3);
    assert_chain(&records);
    let report = verify(&store, None).await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
}
