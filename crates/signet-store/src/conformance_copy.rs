//! The conformance suite for bulk copies between stores ([`Store::count_rows`],
//! [`Store::export_rows`], [`Store::import_rows`], and the core's
//! [`copy_store`](signet_core::copy::copy_store) over them). Every adapter must pass it.
//!
//! ```ignore
//! signet_store::copy_conformance_tests!(MyFactory::new());
//! ```
//!
//! What it settles for every adapter:
//! - an export returns every row exactly as stored (sealed bytes, deleted keys, revoked tokens,
//!   audit hashes), in primary key order, each row once across pages of any size;
//! - an import inserts rows as given, all or nothing, and a taken primary key is `Conflict`;
//! - imported audit records keep their numbers and hashes, move the chain head, and the chain
//!   continues after them;
//! - a copied store verifies, opens with the same root key and admin token, and refuses another.

// Test-support code: failing loudly (expect/panic) is the point here.
#![allow(clippy::expect_used, clippy::panic)]

use crate::conformance::{StoreFactory, T0, sample_key, sample_operation};
use crate::conformance_audit::sample_event;
use crate::conformance_identity::{
    binding, sample_authorized_key, sample_service_account, sample_token, token_hash,
};
use signet_core::ErrorKind;
use signet_core::audit::{AuditHead, CheckpointKey, checkpoint_public_key, verify};
use signet_core::bootstrap::{BootstrapError, META_ROOT_KEY_CHECK, bootstrap};
use signet_core::copy::{CopyError, copy_store, export_all};
use signet_core::domain::{
    BindingTarget, FolderId, KeyId, KeyStatus, Labels, OperationResult, Role, SubjectType,
    Timestamp,
};
use signet_core::store::{BindingsWrite, KeyWrite, RowKey, Rows, Store, StoreError, Table, Write};
use signet_crypto::RootKey;

/// Expands to one `#[tokio::test]` per copy conformance test, each calling it with a factory
/// built by `$factory` (evaluated afresh in every test).
#[macro_export]
macro_rules! copy_conformance_tests {
    ($factory:expr) => {
        $crate::copy_conformance_tests!(@each $factory;
            a_fresh_store_has_no_rows,
            a_copy_moves_every_row_as_stored,
            pages_of_any_size_cover_every_row_once,
            an_import_with_a_taken_key_conflicts_and_inserts_nothing,
            a_copy_refuses_a_target_that_is_not_empty,
            a_copy_refuses_a_source_that_was_never_initialized,
            a_store_filled_but_never_initialized_is_not_bootstrapped,
            an_export_after_a_row_of_another_table_is_refused,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let factory = $factory;
                $crate::conformance_copy::$name(&factory).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

const SEC: i64 = 1_000_000;

/// Fills `store` with a small deployment through the ordinary port methods: the bootstrap's
/// meta rows and the checkpoint key; `n` keys in every state (inactive, deleted, destroyed,
/// with odd labels and text), each with its operation and bindings; folder bindings; `n`
/// service accounts with an authorized key and two tokens (one revoked); an audit chain of
/// `3n` records appended in batches, with signed checkpoints. Returns the root key and the
/// checkpoint public key.
async fn fill<S: Store>(store: &S, n: usize) -> (RootKey, Vec<u8>) {
    let root = RootKey::generate().expect("root key");
    bootstrap(store, &root).await.expect("bootstrap");
    let checkpoints = CheckpointKey::load_or_create(store, &root)
        .await
        .expect("checkpoint key");
    for i in 0..n {
        let id = format!("abjkey{i:03}");
        let mut key = sample_key(&id, if i % 2 == 0 { "default" } else { "b1gother" });
        let at = Timestamp::from_micros(T0 + i64::try_from(i).expect("small") * SEC);
        match i % 4 {
            1 => key.status = KeyStatus::Inactive,
            2 => key.deleted_at = Some(at),
            3 => {
                key.deleted_at = Some(at);
                key.destroyed_at = Some(at);
                key.sealed = None;
                key.public_key_pem = None;
            }
            _ => {
                key.description = "ünïcode ✓ 'quoted' \"x\" ; DROP TABLE keys; --".to_owned();
                key.labels = Labels::from_trusted(
                    [("empty", ""), ("k", "ünï ✓")]
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                );
            }
        }
        let mut op = sample_operation(
            &format!("abjop{i:03}"),
            &id,
            T0 + i64::try_from(i).expect("small"),
        );
        op.result = match i % 3 {
            0 => OperationResult::Key(key.view()),
            1 => OperationResult::Failed {
                kind: ErrorKind::Internal,
                message: "failed ✓".to_owned(),
            },
            _ => OperationResult::Pending,
        };
        let target = BindingTarget::Key(KeyId::from_trusted(id.clone())).storage_key();
        let bindings = [
            binding(
                Role::KmsSigner,
                SubjectType::ServiceAccount,
                &format!("ajeacc{i:03}"),
            ),
            binding(
                Role::KmsViewer,
                SubjectType::System,
                "allAuthenticatedUsers",
            ),
        ];
        store
            .write(Write {
                key: Some(KeyWrite::Insert(&key)),
                bindings: Some(BindingsWrite {
                    target: &target,
                    bindings: &bindings[..i % 3],
                }),
                operation: Some(&op),
                audit: None,
            })
            .await
            .expect("write a key");

        let account = format!("ajeacc{i:03}");
        store
            .insert_service_account(
                &sample_service_account(&account, "default", &format!("account-{i}")),
                &sample_operation(&format!("abjsaop{i:03}"), &account, T0),
                None,
            )
            .await
            .expect("insert a service account");
        store
            .insert_authorized_key(&sample_authorized_key(&format!("ajekey{i:03}"), &account))
            .await
            .expect("insert an authorized key");
        for t in 0..2 {
            let hash = token_hash(u64::try_from(i * 2 + t).expect("small"));
            store
                .insert_token(&sample_token(&hash, &account))
                .await
                .expect("insert a token");
            if t == 1 {
                store.revoke_token(&hash, at).await.expect("revoke");
            }
        }
    }
    let folder = BindingTarget::Folder(FolderId::from_trusted("default".to_owned())).storage_key();
    let folder_bindings = [
        binding(Role::KmsAdmin, SubjectType::UserAccount, "ajeadmin"),
        binding(
            Role::KmsSigner,
            SubjectType::System,
            "allAuthenticatedUsers",
        ),
    ];
    store
        .write(Write {
            key: None,
            bindings: Some(BindingsWrite {
                target: &folder,
                bindings: &folder_bindings,
            }),
            operation: None,
            audit: None,
        })
        .await
        .expect("folder bindings");

    let events: Vec<_> = (0..3 * n)
        .map(|i| sample_event(i64::try_from(i).expect("small")))
        .collect();
    for batch in events.chunks(7) {
        let head = store.append_audit(batch).await.expect("append");
        let checkpoint = checkpoints
            .sign(head.seq, head.hash, Timestamp::from_micros(T0))
            .expect("sign");
        store
            .put_audit_checkpoint(&checkpoint)
            .await
            .expect("checkpoint");
    }
    let public = checkpoint_public_key(store)
        .await
        .expect("read the public key")
        .expect("recorded");
    (root, public)
}

async fn export<S: Store>(store: &S, table: Table, page: usize) -> Rows {
    export_all(store, table, page).await.expect("export")
}

async fn count<S: Store>(store: &S, table: Table) -> u64 {
    store.count_rows(table).await.expect("count")
}

// ---------------------------------------------------------------------------------------------
// Tests.

pub async fn a_fresh_store_has_no_rows<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    for table in Table::COPY_ORDER {
        assert_eq!(count(&store, table).await, 0, "{}", table.name());
        assert_eq!(export(&store, table, 10).await, Rows::empty(table));
    }
    assert_eq!(store.audit_head().await.expect("head"), AuditHead::GENESIS);
}

pub async fn a_copy_moves_every_row_as_stored<F: StoreFactory>(factory: &F) {
    let source = factory.fresh().await;
    let (root, public) = fill(&source, 8).await;
    let target = factory.fresh().await;
    let mut reported = 0;
    let report = copy_store(&source, &target, |_, rows| reported += rows)
        .await
        .expect("copy");

    let mut total = 0;
    for (table, rows) in &report.tables {
        let copied = export(&target, *table, 1000).await;
        assert_eq!(
            copied,
            export(&source, *table, 1000).await,
            "{}",
            table.name()
        );
        assert_eq!(u64::try_from(copied.len()).expect("small"), *rows);
        assert!(*rows > 0, "the fixture has no {}", table.name());
        total += copied.len();
    }
    assert_eq!(reported, total, "the progress reports every row once");
    let head = source.audit_head().await.expect("head");
    assert_eq!(report.audit_head, head);
    assert_eq!(target.audit_head().await.expect("head"), head);

    // The copy verifies, checkpoints included.
    let verified = verify(&target, Some(&public)).await.expect("verify");
    assert!(verified.is_intact(), "{verified:?}");
    assert_eq!(verified.records, head.seq);
    assert_eq!(verified.last_checkpoint, Some(head.seq));

    // It opens with the same root key and admin token, and with no other root key.
    let other = RootKey::generate().expect("root key");
    assert!(matches!(
        bootstrap(&target, &other).await,
        Err(BootstrapError::RootKeyMismatch { .. })
    ));
    let opened = bootstrap(&target, &root).await.expect("bootstrap the copy");
    assert!(
        opened.new_admin_token.is_none(),
        "the admin token was copied"
    );
    let key = CheckpointKey::load_or_create(&target, &root)
        .await
        .expect("the copied checkpoint key opens");
    assert_eq!(key.public_key_der(), public.as_slice());

    // Its chain continues after the copied records.
    let next = target
        .append_audit(&[sample_event(1000)])
        .await
        .expect("append");
    assert_eq!(next.seq, head.seq + 1);
    let verified = verify(&target, Some(&public)).await.expect("verify");
    assert!(verified.is_intact(), "{verified:?}");
}

pub async fn pages_of_any_size_cover_every_row_once<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    fill(&store, 7).await;
    for table in Table::COPY_ORDER {
        let all = export(&store, table, 10_000).await;
        assert_eq!(
            u64::try_from(all.len()).expect("small"),
            count(&store, table).await
        );
        for page in [1, 2, 3, 7] {
            assert_eq!(
                export(&store, table, page).await,
                all,
                "{} in pages of {page}",
                table.name()
            );
        }
    }
}

pub async fn an_import_with_a_taken_key_conflicts_and_inserts_nothing<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let (a, b, c) = (
        sample_key("abja", "default"),
        sample_key("abjb", "default"),
        sample_key("abjc", "default"),
    );
    store
        .import_rows(&Rows::Keys(vec![a.clone(), b]))
        .await
        .expect("import");
    let taken = store.import_rows(&Rows::Keys(vec![c.clone(), a])).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert_eq!(store.get_key(&c.id).await.expect("get"), None);
    assert_eq!(count(&store, Table::Keys).await, 2);

    // Audit records keep their numbers and hashes and move the head; a batch with a taken
    // number moves nothing.
    let source = factory.fresh().await;
    let events: Vec<_> = (1..=4).map(sample_event).collect();
    source.append_audit(&events).await.expect("append");
    let Rows::AuditRecords(records) = export(&source, Table::AuditRecords, 10).await else {
        panic!("not audit records");
    };
    store
        .import_rows(&Rows::AuditRecords(records[..3].to_vec()))
        .await
        .expect("import records");
    let head = AuditHead {
        seq: records[2].seq,
        hash: records[2].hash,
    };
    assert_eq!(store.audit_head().await.expect("head"), head);
    let taken = store
        .import_rows(&Rows::AuditRecords(vec![
            records[3].clone(),
            records[2].clone(),
        ]))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert_eq!(store.audit_head().await.expect("head"), head);
    assert_eq!(count(&store, Table::AuditRecords).await, 3);
    store
        .import_rows(&Rows::AuditRecords(vec![records[3].clone()]))
        .await
        .expect("import the last");
    assert_eq!(
        store.audit_head().await.expect("head"),
        source.audit_head().await.expect("head")
    );
    let verified = verify(&store, None).await.expect("verify");
    assert!(verified.is_intact(), "{verified:?}");
}

pub async fn a_copy_refuses_a_target_that_is_not_empty<F: StoreFactory>(factory: &F) {
    let source = factory.fresh().await;
    fill(&source, 2).await;

    let target = factory.fresh().await;
    target
        .insert_service_account(
            &sample_service_account("ajetaken", "default", "taken"),
            &sample_operation("abjtaken", "ajetaken", T0),
            None,
        )
        .await
        .expect("insert");
    let refused = copy_store(&source, &target, |_, _| {}).await;
    assert!(
        matches!(
            refused,
            Err(CopyError::TargetNotEmpty {
                table: Table::ServiceAccounts,
                rows: 1
            })
        ),
        "{refused:?}"
    );
    assert_eq!(count(&target, Table::Keys).await, 0);

    // A target that was only initialized (by a server start) is not empty either.
    let started = factory.fresh().await;
    bootstrap(&started, &RootKey::generate().expect("root key"))
        .await
        .expect("bootstrap");
    let refused = copy_store(&source, &started, |_, _| {}).await;
    assert!(
        matches!(
            refused,
            Err(CopyError::TargetNotEmpty {
                table: Table::Meta,
                ..
            })
        ),
        "{refused:?}"
    );
}

pub async fn a_copy_refuses_a_source_that_was_never_initialized<F: StoreFactory>(factory: &F) {
    let source = factory.fresh().await;
    source
        .import_rows(&Rows::Keys(vec![sample_key("abjlost", "default")]))
        .await
        .expect("import");
    let target = factory.fresh().await;
    let refused = copy_store(&source, &target, |_, _| {}).await;
    assert!(
        matches!(refused, Err(CopyError::SourceNotInitialized)),
        "{refused:?}"
    );
    for table in Table::COPY_ORDER {
        assert_eq!(count(&target, table).await, 0, "{}", table.name());
    }
}

/// A copy cut short leaves rows without the deployment facts, which come last: such a store
/// must not be tied to a (new) root key, which could never open its keys.
pub async fn a_store_filled_but_never_initialized_is_not_bootstrapped<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    store
        .import_rows(&Rows::Keys(vec![sample_key("abjhalf", "default")]))
        .await
        .expect("import");
    let refused = bootstrap(&store, &RootKey::generate().expect("root key")).await;
    assert!(
        matches!(
            refused,
            Err(BootstrapError::Uninitialized {
                table: Table::Keys,
                rows: 1
            })
        ),
        "{refused:?}"
    );
    assert_eq!(
        store.get_meta(META_ROOT_KEY_CHECK).await.expect("meta"),
        None
    );
    assert_eq!(count(&store, Table::Meta).await, 0);
}

pub async fn an_export_after_a_row_of_another_table_is_refused<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    for (table, after) in [
        (Table::Keys, RowKey::Seq(1)),
        (Table::AuditRecords, RowKey::Text("abjkey".to_owned())),
        (Table::AccessBindings, RowKey::Text("key:abjkey".to_owned())),
        (
            Table::Meta,
            RowKey::Binding(
                "key:abjkey".to_owned(),
                binding(Role::KmsSigner, SubjectType::System, "allUsers"),
            ),
        ),
    ] {
        let refused = store.export_rows(table, Some(&after), 10).await;
        assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");
    }
}
