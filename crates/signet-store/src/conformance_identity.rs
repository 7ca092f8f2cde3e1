//! The conformance suite for identities and access control: access bindings (alone and inside a
//! [`Write`]), service accounts, their authorized keys and IAM tokens. Every [`Store`] adapter
//! must pass it, as it must pass [`conformance`](crate::conformance).
//!
//! An adapter's integration test expands
//! [`identity_conformance_tests!`](crate::identity_conformance_tests) with the same
//! [`StoreFactory`] it gives [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! signet_store::conformance_tests!(MyFactory::new());
//! signet_store::identity_conformance_tests!(MyFactory::new());
//! ```
//!
//! What the port's doc comments leave open, this suite settles for every adapter:
//! - a resource's bindings are a set: duplicates in a replacement collapse, and
//!   `get_access_bindings` returns them sorted by [`AccessBinding`]'s `Ord` (not the database's
//!   collation), whatever order they were written in;
//! - `delete_service_account` of a missing account changes nothing, the operation included;
//! - `revoke_token` of an already revoked token returns true and keeps the first time.

// Test-support code: failing loudly (expect/panic) is the point here.
#![allow(clippy::expect_used, clippy::panic)]

use crate::conformance::{StoreFactory, T0, sample_key};
use signet_core::domain::{
    AccessBinding, AuthorizedKey, AuthorizedKeyAlgorithm, AuthorizedKeyId, FolderId, KeyRecord,
    Labels, OperationId, OperationKind, OperationRecord, OperationResult, Role, ServiceAccount,
    ServiceAccountId, Subject, SubjectType, Timestamp, TokenRecord,
};
use signet_core::store::{BindingsWrite, KeyWrite, Store, StoreError, Write};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Expands to one `#[tokio::test]` per identity conformance test, each calling it with a
/// factory built by `$factory` (evaluated afresh in every test). The calling crate needs `tokio`
/// with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! identity_conformance_tests {
    ($factory:expr) => {
        $crate::identity_conformance_tests!(@each $factory;
            identity_records_that_were_never_written_are_absent,
            bindings_round_trip_every_role_and_subject_type,
            a_bindings_write_replaces_all_bindings_of_its_target_only,
            bindings_come_back_in_one_order_whatever_the_write_order,
            bindings_commit_together_with_the_key_and_the_operation,
            service_accounts_round_trip_with_their_operation,
            service_account_ids_and_names_within_a_folder_are_unique,
            list_service_accounts_pages_in_id_order,
            deleting_a_service_account_removes_its_keys_and_revokes_its_tokens,
            authorized_keys_round_trip_and_delete,
            authorized_key_inserts_conflict_on_a_taken_id_or_a_missing_account,
            list_authorized_keys_pages_in_id_order,
            tokens_round_trip_and_a_duplicate_hash_conflicts,
            revoking_a_token_is_idempotent_and_keeps_the_first_time,
            conflicts_echo_no_token_hash_nor_account_name,
            concurrent_binding_replacements_never_mix,
            concurrent_service_accounts_with_one_name_have_one_winner,
            identities_and_bindings_survive_reopening,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let factory = $factory;
                $crate::conformance_identity::$name(&factory).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// Microseconds in a second.
const SEC: i64 = 1_000_000;

/// Every subject type (the domain has no list of them).
const SUBJECT_TYPES: [SubjectType; 3] = [
    SubjectType::ServiceAccount,
    SubjectType::UserAccount,
    SubjectType::System,
];

fn folder(s: &str) -> FolderId {
    FolderId::from_trusted(s.to_owned())
}

fn account_id(s: &str) -> ServiceAccountId {
    ServiceAccountId::from_trusted(s.to_owned())
}

fn authorized_key_id(s: &str) -> AuthorizedKeyId {
    AuthorizedKeyId::from_trusted(s.to_owned())
}

fn op_id(s: &str) -> OperationId {
    OperationId::from_trusted(s.to_owned())
}

fn at(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros)
}

/// One binding of `role` to the subject `kind:id`.
pub fn binding(role: Role, kind: SubjectType, id: &str) -> AccessBinding {
    AccessBinding {
        role,
        subject: Subject {
            kind,
            id: id.to_owned(),
        },
    }
}

/// A service account created at [`T0`], with a label.
pub fn sample_service_account(id: &str, folder_id: &str, name: &str) -> ServiceAccount {
    ServiceAccount {
        id: account_id(id),
        folder_id: folder(folder_id),
        created_at: at(T0),
        name: name.to_owned(),
        description: format!("service account {id}"),
        labels: Labels::from_trusted(BTreeMap::from([("team".to_owned(), "kms".to_owned())])),
    }
}

/// An RSA-2048 authorized key of `account`, created at [`T0`].
pub fn sample_authorized_key(id: &str, account: &str) -> AuthorizedKey {
    AuthorizedKey {
        id: authorized_key_id(id),
        service_account_id: account_id(account),
        created_at: at(T0),
        description: format!("key {id}"),
        algorithm: AuthorizedKeyAlgorithm::Rsa2048,
        public_key_pem: format!("-----BEGIN PUBLIC KEY-----\nMIIB{id}\n-----END PUBLIC KEY-----\n"),
    }
}

/// A live token of `account`, issued at [`T0`] for twelve hours.
pub fn sample_token(sha256_hex: &str, account: &str) -> TokenRecord {
    TokenRecord {
        sha256_hex: sha256_hex.to_owned(),
        service_account_id: account_id(account),
        created_at: at(T0),
        expires_at: at(T0 + 12 * 3600 * SEC),
        revoked_at: None,
    }
}

/// A 64-character lowercase hex string, distinct for every `n` (a stand-in for a token hash).
pub fn token_hash(n: u64) -> String {
    format!("{n:016x}").repeat(4)
}

/// A finished operation of `kind` on `resource_id`.
fn done_operation(
    id: &str,
    kind: OperationKind,
    resource_id: &str,
    result: OperationResult,
) -> OperationRecord {
    OperationRecord {
        id: op_id(id),
        kind,
        resource_id: resource_id.to_owned(),
        description: kind.description().to_owned(),
        created_at: at(T0),
        created_by: "ajeadmin".to_owned(),
        modified_at: at(T0 + SEC),
        result,
    }
}

fn create_operation(id: &str, account: &ServiceAccount) -> OperationRecord {
    done_operation(
        id,
        OperationKind::CreateServiceAccount,
        account.id.as_str(),
        OperationResult::ServiceAccount(account.clone()),
    )
}

fn delete_operation(id: &str, account: &str) -> OperationRecord {
    done_operation(
        id,
        OperationKind::DeleteServiceAccount,
        account,
        OperationResult::Empty,
    )
}

/// `bindings` as a set, in the order `get_access_bindings` returns.
fn as_set(bindings: &[AccessBinding]) -> Vec<AccessBinding> {
    let mut set = bindings.to_vec();
    set.sort();
    set.dedup();
    set
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

/// Whether a concurrent write won. Anything but success or `Conflict` fails the test.
fn won(result: Result<(), StoreError>, what: &str) -> bool {
    match result {
        Ok(()) => true,
        Err(StoreError::Conflict(_)) => false,
        Err(e) => panic!("{what}: a concurrent write failed with {e:?} instead of Conflict"),
    }
}

fn bindings_write<'a>(target: &'a str, bindings: &'a [AccessBinding]) -> Write<'a> {
    Write {
        key: None,
        bindings: Some(BindingsWrite { target, bindings }),
        operation: None,
        audit: None,
    }
}

async fn set_bindings<S: Store + ?Sized>(store: &S, target: &str, bindings: &[AccessBinding]) {
    store
        .write(bindings_write(target, bindings))
        .await
        .expect("replace bindings");
}

async fn bindings_of<S: Store + ?Sized>(store: &S, target: &str) -> Vec<AccessBinding> {
    store
        .get_access_bindings(target)
        .await
        .expect("get_access_bindings")
}

async fn insert_account<S: Store + ?Sized>(store: &S, account: &ServiceAccount) {
    let op = create_operation(&format!("abjop{}", account.id), account);
    store
        .insert_service_account(account, &op, None)
        .await
        .expect("insert_service_account");
}

async fn get_account<S: Store + ?Sized>(store: &S, id: &str) -> Option<ServiceAccount> {
    store
        .get_service_account(&account_id(id))
        .await
        .expect("get_service_account")
}

async fn get_authorized_key<S: Store + ?Sized>(store: &S, id: &str) -> Option<AuthorizedKey> {
    store
        .get_authorized_key(&authorized_key_id(id))
        .await
        .expect("get_authorized_key")
}

async fn get_token<S: Store + ?Sized>(store: &S, sha256_hex: &str) -> Option<TokenRecord> {
    store.get_token(sha256_hex).await.expect("get_token")
}

async fn get_operation<S: Store + ?Sized>(store: &S, id: &str) -> Option<OperationRecord> {
    store
        .get_operation(&op_id(id))
        .await
        .expect("get_operation")
}

/// Reads every service account of a folder, `limit` at a time.
async fn all_accounts<S: Store + ?Sized>(
    store: &S,
    folder_id: &str,
    limit: usize,
) -> Vec<ServiceAccount> {
    let mut seen: Vec<ServiceAccount> = Vec::new();
    loop {
        let after = seen.last().map(|a| a.id.clone());
        let page = store
            .list_service_accounts(&folder(folder_id), after.as_ref(), limit)
            .await
            .expect("list_service_accounts");
        assert!(page.len() <= limit, "a page of {} > {limit}", page.len());
        if page.is_empty() {
            return seen;
        }
        seen.extend(page);
        assert!(
            seen.len() < 10_000,
            "list_service_accounts does not advance"
        );
    }
}

/// Reads every authorized key of an account, `limit` at a time.
async fn all_authorized_keys<S: Store + ?Sized>(
    store: &S,
    account: &str,
    limit: usize,
) -> Vec<AuthorizedKey> {
    let mut seen: Vec<AuthorizedKey> = Vec::new();
    loop {
        let after = seen.last().map(|k| k.id.clone());
        let page = store
            .list_authorized_keys(&account_id(account), after.as_ref(), limit)
            .await
            .expect("list_authorized_keys");
        assert!(page.len() <= limit, "a page of {} > {limit}", page.len());
        if page.is_empty() {
            return seen;
        }
        seen.extend(page);
        assert!(seen.len() < 10_000, "list_authorized_keys does not advance");
    }
}

// ---------------------------------------------------------------------------------------------
// Absent records.

/// Reading, listing, deleting or revoking what was never written is `Ok(None)`, empty or
/// `false`, never an error; and deleting a missing account records no operation.
pub async fn identity_records_that_were_never_written_are_absent<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    assert!(bindings_of(&store, "key:abjmissing").await.is_empty());
    assert!(bindings_of(&store, "folder:default").await.is_empty());
    assert!(bindings_of(&store, "").await.is_empty());
    assert_eq!(get_account(&store, "ajemissing").await, None);
    let none = store
        .list_service_accounts(&folder("f"), None, 10)
        .await
        .expect("list_service_accounts");
    assert!(none.is_empty());
    assert_eq!(get_authorized_key(&store, "ajemissing").await, None);
    let none = store
        .list_authorized_keys(&account_id("ajemissing"), None, 10)
        .await
        .expect("list_authorized_keys");
    assert!(none.is_empty());
    assert!(
        !store
            .delete_authorized_key(&authorized_key_id("ajemissing"))
            .await
            .expect("delete_authorized_key")
    );
    assert_eq!(get_token(&store, &token_hash(1)).await, None);
    assert!(
        !store
            .revoke_token(&token_hash(1), at(T0))
            .await
            .expect("revoke_token")
    );
    assert_eq!(
        get_token(&store, &token_hash(1)).await,
        None,
        "revoking must not create a token"
    );
    let op = delete_operation("abjopdel", "ajemissing");
    assert!(
        !store
            .delete_service_account(&account_id("ajemissing"), at(T0), &op, None)
            .await
            .expect("delete_service_account")
    );
    assert_eq!(
        get_operation(&store, "abjopdel").await,
        None,
        "a delete that found nothing must record no operation"
    );
}

// ---------------------------------------------------------------------------------------------
// Access bindings.

/// Every role with every subject type survives a write and a read.
pub async fn bindings_round_trip_every_role_and_subject_type<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let mut all = Vec::new();
    for (i, role) in Role::ALL.into_iter().enumerate() {
        for kind in SUBJECT_TYPES {
            let id = match kind {
                SubjectType::System if i % 2 == 0 => "allAuthenticatedUsers".to_owned(),
                SubjectType::System => "allUsers".to_owned(),
                _ => format!("aje{i}x{}", kind.wire_name().len()),
            };
            all.push(binding(role, kind, &id));
        }
    }
    set_bindings(&store, "key:abjall", &all).await;
    assert_eq!(bindings_of(&store, "key:abjall").await, as_set(&all));
    // One binding alone, on a folder target.
    let one = [binding(
        Role::KmsSigner,
        SubjectType::UserAccount,
        "ajeuser",
    )];
    set_bindings(&store, "folder:default", &one).await;
    assert_eq!(bindings_of(&store, "folder:default").await, one);
}

/// A bindings write replaces everything its target had, and only its target: overlapping
/// bindings are kept, missing ones removed, new ones added; an empty list removes all; a write
/// without bindings leaves them alone; targets match exactly.
pub async fn a_bindings_write_replaces_all_bindings_of_its_target_only<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let sa = SubjectType::ServiceAccount;
    let first = [
        binding(Role::KmsSigner, sa, "ajeone"),
        binding(Role::KmsViewer, sa, "ajeone"),
        binding(Role::KmsAdmin, SubjectType::UserAccount, "ajeboss"),
    ];
    let other_key = [binding(Role::KmsSigner, sa, "ajeone")];
    let on_folder = [binding(Role::Editor, sa, "ajeone")];
    set_bindings(&store, "key:abja", &first).await;
    set_bindings(&store, "key:abjab", &other_key).await;
    set_bindings(&store, "folder:abja", &on_folder).await;
    assert_eq!(bindings_of(&store, "key:abja").await, as_set(&first));

    // Keep the signer, drop the viewer and the admin, add two.
    let second = [
        binding(Role::KmsSigner, sa, "ajeone"),
        binding(Role::KmsPublicKeyViewer, sa, "ajetwo"),
        binding(
            Role::KmsSigner,
            SubjectType::System,
            "allAuthenticatedUsers",
        ),
    ];
    set_bindings(&store, "key:abja", &second).await;
    assert_eq!(bindings_of(&store, "key:abja").await, as_set(&second));
    assert_eq!(bindings_of(&store, "key:abjab").await, other_key);
    assert_eq!(bindings_of(&store, "folder:abja").await, on_folder);

    // Writes without bindings leave every target's bindings alone.
    let key = sample_key("abja", "f");
    store
        .write(Write {
            key: Some(KeyWrite::Insert(&key)),
            bindings: None,
            operation: None,
            audit: None,
        })
        .await
        .expect("key-only write");
    let op = done_operation(
        "abjopnone",
        OperationKind::UpdateKey,
        "abja",
        OperationResult::Empty,
    );
    store
        .write(Write {
            key: None,
            bindings: None,
            operation: Some(&op),
            audit: None,
        })
        .await
        .expect("operation-only write");
    assert_eq!(bindings_of(&store, "key:abja").await, as_set(&second));

    // Targets are matched exactly, not by prefix or case.
    assert!(bindings_of(&store, "key:abj").await.is_empty());
    assert!(bindings_of(&store, "KEY:abja").await.is_empty());
    assert!(bindings_of(&store, "key:abja ").await.is_empty());

    // An empty list removes all of them, and only them.
    set_bindings(&store, "key:abja", &[]).await;
    assert!(bindings_of(&store, "key:abja").await.is_empty());
    assert_eq!(bindings_of(&store, "key:abjab").await, other_key);
    assert_eq!(bindings_of(&store, "folder:abja").await, on_folder);
    // Clearing an empty target is fine too.
    set_bindings(&store, "key:abja", &[]).await;
    assert!(bindings_of(&store, "key:abja").await.is_empty());
    // And a target can be filled again.
    set_bindings(&store, "key:abja", &first).await;
    assert_eq!(bindings_of(&store, "key:abja").await, as_set(&first));
}

/// However the same set is written (any order, with duplicates), it reads back identically,
/// sorted by `AccessBinding`'s `Ord`, on every read.
pub async fn bindings_come_back_in_one_order_whatever_the_write_order<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let mut set = Vec::new();
    for (i, role) in [Role::Admin, Role::KmsSigner, Role::Viewer, Role::KmsAuditor]
        .into_iter()
        .enumerate()
    {
        // Ids whose byte order and natural order differ, and mixed case.
        for id in ["aje10", "aje9", "ajeZ", "ajea", "aje_"] {
            set.push(binding(role, SUBJECT_TYPES[i % 3], id));
        }
    }
    set.push(binding(Role::Viewer, SubjectType::System, "allUsers"));
    let forward = set.clone();
    let mut backward = set.clone();
    backward.reverse();
    let mut rotated_with_duplicates = set.clone();
    rotated_with_duplicates.rotate_left(7);
    rotated_with_duplicates.extend(set.iter().step_by(3).cloned());

    set_bindings(&store, "key:abjfwd", &forward).await;
    set_bindings(&store, "key:abjbwd", &backward).await;
    set_bindings(&store, "key:abjdup", &rotated_with_duplicates).await;
    let want = as_set(&set);
    assert_eq!(want.len(), set.len(), "the fixture has no duplicates");
    for target in ["key:abjfwd", "key:abjbwd", "key:abjdup"] {
        for _ in 0..2 {
            assert_eq!(bindings_of(&store, target).await, want, "{target}");
        }
    }
    // Rewriting in another order changes nothing visible.
    set_bindings(&store, "key:abjfwd", &backward).await;
    assert_eq!(bindings_of(&store, "key:abjfwd").await, want);
}

/// Bindings, the key and the operation of one write commit together: a write whose key part
/// conflicts changes no binding (not even with an empty list) and stores no operation.
pub async fn bindings_commit_together_with_the_key_and_the_operation<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let sa = SubjectType::ServiceAccount;
    let target = "key:abjatom";
    let v1 = sample_key("abjatom", "f");
    let owner = [binding(
        Role::KmsAdmin,
        SubjectType::UserAccount,
        "ajeowner",
    )];
    let create = done_operation(
        "abjop1",
        OperationKind::CreateKey,
        "abjatom",
        OperationResult::Key(v1.view()),
    );
    store
        .write(Write {
            key: Some(KeyWrite::Insert(&v1)),
            bindings: Some(BindingsWrite {
                target,
                bindings: &owner,
            }),
            operation: Some(&create),
            audit: None,
        })
        .await
        .expect("insert with bindings");
    assert_eq!(
        store.get_key(&v1.id).await.expect("get_key"),
        Some(v1.clone())
    );
    assert_eq!(bindings_of(&store, target).await, owner);
    assert_eq!(get_operation(&store, "abjop1").await, Some(create));

    let replacement = [
        binding(Role::KmsSigner, sa, "ajeintruder"),
        binding(Role::KmsAdmin, sa, "ajeintruder"),
    ];
    let v2 = KeyRecord {
        name: "v2".to_owned(),
        version: 2,
        ..v1.clone()
    };
    let clash = KeyRecord {
        name: "clash".to_owned(),
        ..sample_key("abjatom", "other")
    };
    let set_op = |id: &str| {
        done_operation(
            id,
            OperationKind::SetKeyAccessBindings,
            "abjatom",
            OperationResult::Empty,
        )
    };
    for (what, key_write, bindings, op_name) in [
        (
            "stale update",
            KeyWrite::Update {
                record: &v2,
                expected_version: 7,
            },
            &replacement[..],
            "abjop2",
        ),
        (
            "stale update clearing bindings",
            KeyWrite::Update {
                record: &v2,
                expected_version: 7,
            },
            &[][..],
            "abjop3",
        ),
        (
            "insert of an existing id",
            KeyWrite::Insert(&clash),
            &replacement[..],
            "abjop4",
        ),
    ] {
        let op = set_op(op_name);
        let result = store
            .write(Write {
                key: Some(key_write),
                bindings: Some(BindingsWrite { target, bindings }),
                operation: Some(&op),
                audit: None,
            })
            .await;
        assert_conflict(result, what);
        assert_eq!(bindings_of(&store, target).await, owner, "{what}");
        assert_eq!(get_operation(&store, op_name).await, None, "{what}");
        assert_eq!(
            store.get_key(&v1.id).await.expect("get_key"),
            Some(v1.clone()),
            "{what}"
        );
    }

    // The same write at the right version lands whole.
    let op = set_op("abjop5");
    store
        .write(Write {
            key: Some(KeyWrite::Update {
                record: &v2,
                expected_version: 1,
            }),
            bindings: Some(BindingsWrite {
                target,
                bindings: &replacement,
            }),
            operation: Some(&op),
            audit: None,
        })
        .await
        .expect("update with bindings");
    assert_eq!(store.get_key(&v1.id).await.expect("get_key"), Some(v2));
    assert_eq!(bindings_of(&store, target).await, as_set(&replacement));
    assert_eq!(get_operation(&store, "abjop5").await, Some(op));

    // Bindings and an operation without a key (a folder's bindings).
    let folder_bindings = [binding(Role::KmsViewer, sa, "ajeauditor")];
    let op = done_operation(
        "abjop6",
        OperationKind::SetFolderAccessBindings,
        "default",
        OperationResult::Empty,
    );
    store
        .write(Write {
            key: None,
            bindings: Some(BindingsWrite {
                target: "folder:default",
                bindings: &folder_bindings,
            }),
            operation: Some(&op),
            audit: None,
        })
        .await
        .expect("folder bindings with operation");
    assert_eq!(bindings_of(&store, "folder:default").await, folder_bindings);
    assert_eq!(get_operation(&store, "abjop6").await, Some(op));
    assert_eq!(bindings_of(&store, target).await, as_set(&replacement));
}

// ---------------------------------------------------------------------------------------------
// Service accounts.

/// Every field of a service account survives, and its operation (with the account as result)
/// is stored with it.
pub async fn service_accounts_round_trip_with_their_operation<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let many: BTreeMap<String, String> = (0..64)
        .map(|i| (format!("k{i:02}"), "v".repeat(63)))
        .collect();
    let accounts = [
        sample_service_account("ajeplain", "f", "robot"),
        ServiceAccount {
            description: String::new(),
            labels: Labels::default(),
            created_at: at(i64::MIN),
            ..sample_service_account("ajeempty", "f", "r")
        },
        ServiceAccount {
            description: format!("робот 'quoted' \"double\" ; -- 🔑 {}", "d".repeat(256)),
            labels: Labels::from_trusted(many),
            created_at: at(i64::MAX),
            ..sample_service_account("ajefull", "folder-2_x", &"n".repeat(63))
        },
    ];
    for account in &accounts {
        let op = create_operation(&format!("abjop{}", account.id), account);
        store
            .insert_service_account(account, &op, None)
            .await
            .expect("insert_service_account");
        assert_eq!(
            get_account(&store, account.id.as_str()).await.as_ref(),
            Some(account)
        );
        assert_eq!(
            get_operation(&store, op.id.as_str()).await,
            Some(op.clone())
        );
        assert_eq!(
            store
                .list_operations(account.id.as_str(), None, 10)
                .await
                .expect("list_operations"),
            vec![op]
        );
    }
}

/// `Conflict` for a taken id (whatever the rest says) or a name taken within the folder; the
/// failed insert stores neither the account nor its operation. The same name in another folder
/// is fine.
pub async fn service_account_ids_and_names_within_a_folder_are_unique<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let original = sample_service_account("ajeone", "f", "robot");
    insert_account(&store, &original).await;

    let same_id = ServiceAccount {
        description: "clash".to_owned(),
        ..sample_service_account("ajeone", "g", "other")
    };
    let op = create_operation("abjopsameid", &same_id);
    assert_conflict(
        store.insert_service_account(&same_id, &op, None).await,
        "a taken id",
    );
    assert_eq!(get_account(&store, "ajeone").await, Some(original.clone()));
    assert_eq!(get_operation(&store, "abjopsameid").await, None);

    let same_name = sample_service_account("ajetwo", "f", "robot");
    let op = create_operation("abjopsamename", &same_name);
    assert_conflict(
        store.insert_service_account(&same_name, &op, None).await,
        "a name taken in the folder",
    );
    assert_eq!(get_account(&store, "ajetwo").await, None);
    assert_eq!(get_operation(&store, "abjopsamename").await, None);

    // The same name in another folder, and another name in the same folder.
    let elsewhere = sample_service_account("ajethree", "g", "robot");
    insert_account(&store, &elsewhere).await;
    let renamed = sample_service_account("ajefour", "f", "robot-2");
    insert_account(&store, &renamed).await;
    assert_eq!(
        store
            .list_service_accounts(&folder("f"), None, 10)
            .await
            .expect("list"),
        vec![renamed, original]
    );
    assert_eq!(
        store
            .list_service_accounts(&folder("g"), None, 10)
            .await
            .expect("list"),
        vec![elsewhere]
    );
}

/// A folder's service accounts come page by page in id order, from that folder only.
pub async fn list_service_accounts_pages_in_id_order<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let mut expected = Vec::new();
    // Inserted out of id order.
    for i in [
        7, 3, 22, 0, 15, 1, 9, 18, 4, 12, 20, 6, 2, 11, 16, 8, 21, 5, 14, 10, 19, 13, 17,
    ] {
        let account = sample_service_account(&format!("aje{i:02}"), "f", &format!("sa-{i}"));
        insert_account(&store, &account).await;
        expected.push(account);
    }
    for i in 0..5 {
        let other = sample_service_account(&format!("aje{i:02}g"), "g", &format!("sa-{i}"));
        insert_account(&store, &other).await;
    }
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    for limit in [1, 2, 5, 22, 23, 100] {
        assert_eq!(
            all_accounts(&store, "f", limit).await,
            expected,
            "limit {limit}"
        );
    }
    assert_eq!(all_accounts(&store, "g", 2).await.len(), 5);
    assert!(all_accounts(&store, "h", 3).await.is_empty());

    // `after` need not name a stored account; it positions by id.
    let page = store
        .list_service_accounts(&folder("f"), Some(&account_id("aje05x")), 3)
        .await
        .expect("list");
    assert_eq!(page, expected[6..9]);
    let page = store
        .list_service_accounts(&folder("f"), Some(&account_id("aje99")), 3)
        .await
        .expect("list");
    assert!(page.is_empty());
    assert!(
        store
            .list_service_accounts(&folder("f"), None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

/// Deleting an account removes its authorized keys, revokes its unrevoked tokens at the given
/// time (an earlier revocation is kept), stores the operation, and touches no other account.
pub async fn deleting_a_service_account_removes_its_keys_and_revokes_its_tokens<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    let doomed = sample_service_account("ajedoomed", "f", "robot");
    let kept = sample_service_account("ajekept", "f", "keeper");
    insert_account(&store, &doomed).await;
    insert_account(&store, &kept).await;
    for id in ["ajekd1", "ajekd2", "ajekd3"] {
        store
            .insert_authorized_key(&sample_authorized_key(id, "ajedoomed"))
            .await
            .expect("insert_authorized_key");
    }
    let kept_key = sample_authorized_key("ajekk1", "ajekept");
    store
        .insert_authorized_key(&kept_key)
        .await
        .expect("insert_authorized_key");
    let live = sample_token(&token_hash(1), "ajedoomed");
    let expired = TokenRecord {
        expires_at: at(T0 - SEC),
        created_at: at(T0 - 20 * SEC),
        ..sample_token(&token_hash(2), "ajedoomed")
    };
    let revoked_before = TokenRecord {
        revoked_at: Some(at(T0 + 5 * SEC)),
        ..sample_token(&token_hash(3), "ajedoomed")
    };
    let other = sample_token(&token_hash(4), "ajekept");
    for t in [&live, &expired, &revoked_before, &other] {
        store.insert_token(t).await.expect("insert_token");
    }

    let when = at(T0 + 100 * SEC);
    let op = delete_operation("abjopdelete", "ajedoomed");
    assert!(
        store
            .delete_service_account(&doomed.id, when, &op, None)
            .await
            .expect("delete_service_account")
    );

    assert_eq!(get_account(&store, "ajedoomed").await, None);
    assert_eq!(get_account(&store, "ajekept").await, Some(kept.clone()));
    assert_eq!(all_accounts(&store, "f", 10).await, vec![kept]);
    for id in ["ajekd1", "ajekd2", "ajekd3"] {
        assert_eq!(get_authorized_key(&store, id).await, None, "{id}");
    }
    assert!(
        all_authorized_keys(&store, "ajedoomed", 10)
            .await
            .is_empty()
    );
    assert_eq!(
        all_authorized_keys(&store, "ajekept", 10).await,
        vec![kept_key]
    );
    let revoked = |t: &TokenRecord, time: Timestamp| TokenRecord {
        revoked_at: Some(time),
        ..t.clone()
    };
    assert_eq!(
        get_token(&store, &live.sha256_hex).await,
        Some(revoked(&live, when))
    );
    assert_eq!(
        get_token(&store, &expired.sha256_hex).await,
        Some(revoked(&expired, when))
    );
    assert_eq!(
        get_token(&store, &revoked_before.sha256_hex).await,
        Some(revoked_before.clone()),
        "an earlier revocation time is kept"
    );
    assert_eq!(get_token(&store, &other.sha256_hex).await, Some(other));
    assert_eq!(get_operation(&store, "abjopdelete").await, Some(op));

    // Gone for good: a second delete finds nothing and records nothing.
    let again = delete_operation("abjopagain", "ajedoomed");
    assert!(
        !store
            .delete_service_account(&doomed.id, when, &again, None)
            .await
            .expect("delete again")
    );
    assert_eq!(get_operation(&store, "abjopagain").await, None);
    // No key can be added to it, and its name is free again.
    assert_conflict(
        store
            .insert_authorized_key(&sample_authorized_key("ajekd4", "ajedoomed"))
            .await,
        "key for a deleted account",
    );
    insert_account(&store, &sample_service_account("ajereborn", "f", "robot")).await;
}

// ---------------------------------------------------------------------------------------------
// Authorized keys.

/// Every field of an authorized key survives; deleting one removes only it, once.
pub async fn authorized_keys_round_trip_and_delete<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    insert_account(&store, &sample_service_account("ajeacc", "f", "robot")).await;
    let keys = [
        sample_authorized_key("ajek1", "ajeacc"),
        AuthorizedKey {
            algorithm: AuthorizedKeyAlgorithm::Rsa4096,
            description: String::new(),
            created_at: at(i64::MIN),
            public_key_pem: format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                "A".repeat(800)
            ),
            ..sample_authorized_key("ajek2", "ajeacc")
        },
        AuthorizedKey {
            description: "ключ 'q' \"d\" ; -- 🔑".to_owned(),
            created_at: at(i64::MAX),
            ..sample_authorized_key("ajek3", "ajeacc")
        },
    ];
    for key in &keys {
        store.insert_authorized_key(key).await.expect("insert");
    }
    for key in &keys {
        assert_eq!(
            get_authorized_key(&store, key.id.as_str()).await.as_ref(),
            Some(key)
        );
    }
    assert!(
        store
            .delete_authorized_key(&keys[1].id)
            .await
            .expect("delete")
    );
    assert_eq!(get_authorized_key(&store, "ajek2").await, None);
    assert!(
        !store
            .delete_authorized_key(&keys[1].id)
            .await
            .expect("delete again")
    );
    assert_eq!(
        all_authorized_keys(&store, "ajeacc", 10).await,
        vec![keys[0].clone(), keys[2].clone()]
    );
    assert!(get_account(&store, "ajeacc").await.is_some());
}

/// `Conflict` for a taken id (even under another account) and for an account that does not
/// exist; neither stores anything.
pub async fn authorized_key_inserts_conflict_on_a_taken_id_or_a_missing_account<F: StoreFactory>(
    factory: &F,
) {
    let store = factory.fresh().await;
    insert_account(&store, &sample_service_account("ajea", "f", "a")).await;
    insert_account(&store, &sample_service_account("ajeb", "f", "b")).await;
    let original = sample_authorized_key("ajekey", "ajea");
    store
        .insert_authorized_key(&original)
        .await
        .expect("insert");
    let clash = AuthorizedKey {
        description: "clash".to_owned(),
        ..sample_authorized_key("ajekey", "ajeb")
    };
    assert_conflict(store.insert_authorized_key(&clash).await, "a taken id");
    assert_eq!(get_authorized_key(&store, "ajekey").await, Some(original));
    assert!(all_authorized_keys(&store, "ajeb", 10).await.is_empty());

    let orphan = sample_authorized_key("ajeorphan", "ajenobody");
    assert_conflict(
        store.insert_authorized_key(&orphan).await,
        "a missing account",
    );
    assert_eq!(get_authorized_key(&store, "ajeorphan").await, None);
    assert!(
        all_authorized_keys(&store, "ajenobody", 10)
            .await
            .is_empty()
    );
}

/// An account's authorized keys come page by page in id order, from that account only.
pub async fn list_authorized_keys_pages_in_id_order<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    insert_account(&store, &sample_service_account("ajea", "f", "a")).await;
    insert_account(&store, &sample_service_account("ajeb", "f", "b")).await;
    let mut expected = Vec::new();
    for i in [5, 12, 0, 8, 3, 10, 1, 7, 11, 2, 9, 4, 6] {
        let key = sample_authorized_key(&format!("ajek{i:02}"), "ajea");
        store.insert_authorized_key(&key).await.expect("insert");
        expected.push(key);
    }
    for i in 0..4 {
        let key = sample_authorized_key(&format!("ajek{i:02}b"), "ajeb");
        store.insert_authorized_key(&key).await.expect("insert");
    }
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    for limit in [1, 2, 4, 12, 13, 50] {
        assert_eq!(
            all_authorized_keys(&store, "ajea", limit).await,
            expected,
            "limit {limit}"
        );
    }
    assert_eq!(all_authorized_keys(&store, "ajeb", 3).await.len(), 4);
    let page = store
        .list_authorized_keys(&account_id("ajea"), Some(&authorized_key_id("ajek03x")), 2)
        .await
        .expect("list");
    assert_eq!(page, expected[4..6]);
    assert!(
        store
            .list_authorized_keys(&account_id("ajea"), None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// Every field of a token survives; a second token with the same hash is `Conflict` and
/// changes nothing.
pub async fn tokens_round_trip_and_a_duplicate_hash_conflicts<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    insert_account(&store, &sample_service_account("ajea", "f", "a")).await;
    insert_account(&store, &sample_service_account("ajeb", "f", "b")).await;
    let tokens = [
        sample_token(&token_hash(0xfeed), "ajea"),
        TokenRecord {
            created_at: at(i64::MIN),
            expires_at: at(i64::MAX),
            revoked_at: Some(at(-1)),
            ..sample_token(&token_hash(2), "ajea")
        },
        TokenRecord {
            revoked_at: Some(at(T0)),
            ..sample_token(&token_hash(3), "ajeb")
        },
    ];
    for t in &tokens {
        store.insert_token(t).await.expect("insert_token");
    }
    for t in &tokens {
        assert_eq!(get_token(&store, &t.sha256_hex).await.as_ref(), Some(t));
    }
    let clash = TokenRecord {
        expires_at: at(T0 + 999 * SEC),
        ..sample_token(&token_hash(0xfeed), "ajeb")
    };
    assert_conflict(store.insert_token(&clash).await, "a duplicate hash");
    assert_eq!(
        get_token(&store, &token_hash(0xfeed)).await.as_ref(),
        Some(&tokens[0])
    );
    // Hashes are matched exactly.
    assert_eq!(
        get_token(&store, &token_hash(0xfeed).to_uppercase()).await,
        None
    );
    assert_eq!(get_token(&store, &token_hash(0xfeed)[..63]).await, None);
}

/// Revoking sets `revoked_at` once: later (or earlier) revocations report true but keep the
/// first time, and change nothing else.
pub async fn revoking_a_token_is_idempotent_and_keeps_the_first_time<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    insert_account(&store, &sample_service_account("ajea", "f", "a")).await;
    let live = sample_token(&token_hash(1), "ajea");
    let bystander = sample_token(&token_hash(2), "ajea");
    let pre_revoked = TokenRecord {
        revoked_at: Some(at(T0 + 5 * SEC)),
        ..sample_token(&token_hash(3), "ajea")
    };
    for t in [&live, &bystander, &pre_revoked] {
        store.insert_token(t).await.expect("insert_token");
    }
    let first = at(T0 + 10 * SEC);
    let want = TokenRecord {
        revoked_at: Some(first),
        ..live.clone()
    };
    for time in [first, at(T0 + 20 * SEC), at(T0), first] {
        assert!(
            store
                .revoke_token(&live.sha256_hex, time)
                .await
                .expect("revoke_token")
        );
        assert_eq!(
            get_token(&store, &live.sha256_hex).await.as_ref(),
            Some(&want)
        );
    }
    assert!(
        store
            .revoke_token(&pre_revoked.sha256_hex, at(T0 + 30 * SEC))
            .await
            .expect("revoke_token")
    );
    assert_eq!(
        get_token(&store, &pre_revoked.sha256_hex).await,
        Some(pre_revoked)
    );
    assert_eq!(
        get_token(&store, &bystander.sha256_hex).await,
        Some(bystander)
    );
    assert!(
        !store
            .revoke_token(&token_hash(9), first)
            .await
            .expect("revoke_token")
    );
}

// ---------------------------------------------------------------------------------------------
// Error text.

/// Conflict errors end up in logs: they name ids, never a token's hash (its lookup key) nor the
/// caller's text.
pub async fn conflicts_echo_no_token_hash_nor_account_name<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let name = "name-that-must-not-leak";
    insert_account(&store, &sample_service_account("ajeone", "f", name)).await;
    let twin = sample_service_account("ajetwo", "f", name);
    let err = store
        .insert_service_account(&twin, &create_operation("abjoptwin", &twin), None)
        .await
        .expect_err("a taken name");
    let text = format!("{err} {err:?}");
    assert!(matches!(err, StoreError::Conflict(_)), "{text}");
    assert!(!text.contains(name), "{text}");

    let hash = token_hash(0xfeed_beef);
    let token = sample_token(&hash, "ajeone");
    store.insert_token(&token).await.expect("insert_token");
    let err = store
        .insert_token(&token)
        .await
        .expect_err("a duplicate hash");
    let text = format!("{err} {err:?}");
    assert!(matches!(err, StoreError::Conflict(_)), "{text}");
    assert!(!text.contains(&hash[..16]), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Concurrency.

/// 20 tasks replace one target's bindings at once, each with its own set, while readers watch:
/// every read, and the end state, is exactly one writer's whole set (or the empty start).
pub async fn concurrent_binding_replacements_never_mix<F: StoreFactory>(factory: &F) {
    const WRITERS: usize = 20;
    const PER_WRITER: usize = 5;
    const TARGET: &str = "folder:contended";
    let store = Arc::new(factory.fresh().await);
    let set_of = |writer: usize| -> Vec<AccessBinding> {
        (0..PER_WRITER)
            .map(|j| {
                binding(
                    Role::ALL[j % Role::ALL.len()],
                    SubjectType::ServiceAccount,
                    &format!("ajew{writer:02}s{j}"),
                )
            })
            .collect()
    };
    let sets: Vec<Vec<AccessBinding>> = (0..WRITERS).map(|w| as_set(&set_of(w))).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS + 2));

    let mut readers = Vec::new();
    for _ in 0..2 {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        let sets = sets.clone();
        readers.push(tokio::spawn(async move {
            barrier.wait().await;
            for _ in 0..50 {
                let seen = bindings_of(&*store, TARGET).await;
                assert!(
                    seen.is_empty() || sets.contains(&seen),
                    "a read saw a mixture: {seen:?}"
                );
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        let bindings = set_of(w);
        writers.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .write(bindings_write(TARGET, &bindings))
                .await
                .expect("a bindings replacement cannot conflict");
        }));
    }
    for task in writers.into_iter().chain(readers) {
        task.await.expect("task");
    }
    let end = bindings_of(&*store, TARGET).await;
    assert!(sets.contains(&end), "the end state is a mixture: {end:?}");
}

/// 20 tasks create accounts with distinct ids and one name in one folder at once: exactly one
/// succeeds, and only its operation is stored.
pub async fn concurrent_service_accounts_with_one_name_have_one_winner<F: StoreFactory>(
    factory: &F,
) {
    const WRITERS: usize = 20;
    let store = Arc::new(factory.fresh().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let account = sample_service_account(&format!("ajerace{i:02}"), "f", "robot");
            let op = create_operation(&format!("abjop{i:02}"), &account);
            barrier.wait().await;
            let result = store.insert_service_account(&account, &op, None).await;
            (i, won(result, "insert_service_account"))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, ok) = task.await.expect("task");
        if ok {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let listed = all_accounts(&*store, "f", 100).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id.as_str(), format!("ajerace{:02}", winners[0]));
    for i in 0..WRITERS {
        let op = get_operation(&*store, &format!("abjop{i:02}")).await;
        assert_eq!(op.is_some(), i == winners[0], "operation of writer {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// Durability.

/// Bindings, accounts, keys and tokens are all there after a restart, and the identity rules
/// (uniqueness, cascade) still hold on the reopened store.
pub async fn identities_and_bindings_survive_reopening<F: StoreFactory>(factory: &F) {
    let store = factory.fresh().await;
    let on_key = [
        binding(Role::KmsSigner, SubjectType::ServiceAccount, "ajeacc"),
        binding(Role::KmsAdmin, SubjectType::UserAccount, "ajeboss"),
    ];
    let on_folder = [binding(Role::Viewer, SubjectType::System, "allUsers")];
    set_bindings(&store, "key:abjk", &on_key).await;
    set_bindings(&store, "folder:f", &on_folder).await;
    let account = sample_service_account("ajeacc", "f", "robot");
    insert_account(&store, &account).await;
    let key = sample_authorized_key("ajekey", "ajeacc");
    store.insert_authorized_key(&key).await.expect("insert key");
    let live = sample_token(&token_hash(1), "ajeacc");
    let revoked = sample_token(&token_hash(2), "ajeacc");
    store.insert_token(&live).await.expect("insert token");
    store.insert_token(&revoked).await.expect("insert token");
    let first = at(T0 + SEC);
    assert!(
        store
            .revoke_token(&revoked.sha256_hex, first)
            .await
            .expect("revoke")
    );

    let store = factory.reopen(store).await;
    assert_eq!(bindings_of(&store, "key:abjk").await, as_set(&on_key));
    assert_eq!(bindings_of(&store, "folder:f").await, on_folder);
    assert_eq!(get_account(&store, "ajeacc").await, Some(account.clone()));
    assert_eq!(
        get_operation(&store, "abjopajeacc").await,
        Some(create_operation("abjopajeacc", &account))
    );
    assert_eq!(
        get_authorized_key(&store, "ajekey").await,
        Some(key.clone())
    );
    assert_eq!(
        get_token(&store, &live.sha256_hex).await,
        Some(live.clone())
    );
    let revoked = TokenRecord {
        revoked_at: Some(first),
        ..revoked
    };
    assert_eq!(
        get_token(&store, &revoked.sha256_hex).await,
        Some(revoked.clone())
    );

    // The rules hold after the restart.
    let twin = sample_service_account("ajetwin", "f", "robot");
    assert_conflict(
        store
            .insert_service_account(&twin, &create_operation("abjoptwin", &twin), None)
            .await,
        "a taken name after reopening",
    );
    assert_conflict(store.insert_authorized_key(&key).await, "a taken key id");
    assert_conflict(store.insert_token(&live).await, "a taken hash");
    let when = at(T0 + 50 * SEC);
    assert!(
        store
            .delete_service_account(
                &account.id,
                when,
                &delete_operation("abjopdel", "ajeacc"),
                None
            )
            .await
            .expect("delete")
    );

    // And a second restart keeps the cascade.
    let store = factory.reopen(store).await;
    assert_eq!(get_account(&store, "ajeacc").await, None);
    assert_eq!(get_authorized_key(&store, "ajekey").await, None);
    assert_eq!(
        get_token(&store, &live.sha256_hex)
            .await
            .and_then(|t| t.revoked_at),
        Some(when)
    );
    assert_eq!(get_token(&store, &revoked.sha256_hex).await, Some(revoked));
    // Bindings naming the account are the use case's business, not the store's: they stay.
    assert_eq!(bindings_of(&store, "key:abjk").await, as_set(&on_key));
}
