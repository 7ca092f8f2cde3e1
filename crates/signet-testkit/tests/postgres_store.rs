//! The server on the PostgreSQL store, end to end: create, sign (verified by openssl), restart
//! on the same database, sign again; two and three nodes on one database, each enforcing a
//! change made on another within the 1 s consistency bound. Each test runs in a schema of its
//! own, dropped afterwards. Needs the PostgreSQL server at 127.0.0.1:5432 (or
//! `SIGNET_TEST_POSTGRES_URL`); fails, never skips, without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_core::domain::{Clock, KeyId, KeyStatus, ManualClock, OperationResult, SystemClock};
use signet_core::store::{AUDIT_CHECKPOINT_JOB, DESTRUCTION_JOB, Store, operation_claim};
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_store::PostgresStore;
use signet_testkit::fixtures::interrupted_creation;
use signet_testkit::pg::{Schema, psql};
use signet_testkit::{TestServer, TestServerBuilder, openssl_verify};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sign_and_restart_on_postgres() {
    let schema = Schema::fresh("e2e");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder()
        .data_dir(&dir.path().join("data"))
        .store(&url)
        .start()
        .await;
    let key = create_key(&server).await;
    let pem = server
        .crypto()
        .get_public_key(AsymmetricGetPublicKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .public_key;
    let sig = server
        .crypto()
        .sign(AsymmetricSignRequest {
            key_id: key.clone(),
            message: b"pg".to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .signature;
    assert!(openssl_verify(
        Algorithm::EcdsaP256Sha256,
        &pem,
        b"pg",
        false,
        &sig
    ));

    // The tables are in the test's schema, not elsewhere.
    assert_eq!(
        psql(&format!("SELECT count(*) FROM {}.keys", schema.name())),
        "1"
    );

    let token = server.token.clone();
    let stopped = server.stop().await;
    let restarted = TestServer::builder()
        .data_dir(&stopped.dir)
        .store(&url)
        .start()
        .await;
    assert_eq!(restarted.token, token);
    let sig = restarted
        .crypto()
        .sign(AsymmetricSignRequest {
            key_id: key.clone(),
            message: b"again".to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .signature;
    assert!(openssl_verify(
        Algorithm::EcdsaP256Sha256,
        &pem,
        b"again",
        false,
        &sig
    ));
    drop(restarted);
}

/// Polls `check` every 50 ms until it returns true or `deadline` passes; returns how long it
/// took. The consistency bound is a correctness property (a deactivated key must stop signing
/// everywhere), so the test fails if it is exceeded.
async fn within(
    deadline: std::time::Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() <= deadline {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// The documented cluster consistency bound.
const ONE_SECOND: std::time::Duration = std::time::Duration::from_secs(1);

/// `n` nodes on the store at `url`, each with its own data directory under `dir`; the first
/// bootstraps the store, the others share its root key and admin token.
async fn cluster(dir: &std::path::Path, url: &str, n: usize) -> Vec<TestServer> {
    cluster_with(dir, url, n, |b| b).await
}

/// Like [`cluster`], each node's builder passed through `configure` first.
async fn cluster_with(
    dir: &std::path::Path,
    url: &str,
    n: usize,
    configure: impl Fn(TestServerBuilder) -> TestServerBuilder,
) -> Vec<TestServer> {
    let first = configure(TestServer::builder())
        .data_dir(&dir.join("n1"))
        .store(url)
        .start()
        .await;
    let mut nodes = Vec::with_capacity(n);
    for i in 2..=n {
        let node = configure(TestServer::builder())
            .data_dir(&dir.join(format!("n{i}")))
            .root_key_file(&first.dir.join("root.key"))
            .admin_token(&first.token)
            .store(url)
            .start()
            .await;
        nodes.push(node);
    }
    nodes.insert(0, first);
    nodes
}

/// Creates a P-256 key through `node` and returns its id.
async fn create_key(node: &TestServer) -> String {
    let op = node
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let Some(signet_proto::yandex::cloud::operation::operation::Result::Response(any)) =
        node.wait(op).await.result
    else {
        panic!("create failed");
    };
    AsymmetricSignatureKey::decode(any.value.as_ref())
        .unwrap()
        .id
}

/// Signs through `node` (as admin, or with `token`); the status code on failure.
async fn sign_on(node: &TestServer, key: &str, token: Option<&str>) -> Result<(), tonic::Code> {
    let mut c = match token {
        Some(t) => node.crypto_as(Some(t)),
        None => node.crypto(),
    };
    c.sign(AsymmetricSignRequest {
        key_id: key.to_owned(),
        message: b"m".to_vec(),
    })
    .await
    .map(drop)
    .map_err(|s| s.code())
}

async fn set_status(node: &TestServer, key: &str, status: asymmetric_signature_key::Status) {
    node.keys()
        .update(UpdateAsymmetricSignatureKeyRequest {
            key_id: key.to_owned(),
            update_mask: Some(signet_proto::wkt::FieldMask {
                paths: vec!["status".into()],
            }),
            status: status as i32,
            ..Default::default()
        })
        .await
        .unwrap();
}

fn signer_binding(service_account: &str) -> access::AccessBinding {
    access::AccessBinding {
        role_id: "kms.asymmetricSignatureKeys.signer".into(),
        subject: Some(access::Subject {
            id: service_account.to_owned(),
            r#type: "serviceAccount".into(),
        }),
    }
}

async fn set_bindings(node: &TestServer, key: &str, bindings: Vec<access::AccessBinding>) {
    node.keys()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: key.to_owned(),
            access_bindings: bindings,
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_one_node_are_enforced_by_another_within_one_second() {
    changes_are_enforced_across_two_nodes_within_one_second(|b| b).await;
}

/// With caches trusted for 30 s, only the change feed (LISTEN/NOTIFY) can make the other node
/// enforce a change within the bound: this fails if notifications are not sent or not heard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_30s_caches_notifications_enforce_changes_within_one_second() {
    changes_are_enforced_across_two_nodes_within_one_second(|b| b.cache_max_age("30s")).await;
}

/// A deactivation, a binding added then removed, and a token revocation, each made through one
/// node, are enforced by the other within 1 s.
async fn changes_are_enforced_across_two_nodes_within_one_second(
    configure: impl Fn(TestServerBuilder) -> TestServerBuilder,
) {
    let schema = Schema::fresh("e2e");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let [node1, node2] =
        <[TestServer; 2]>::try_from(cluster_with(dir.path(), &url, 2, configure).await).unwrap();
    let key = create_key(&node1).await;
    // Node 2 signs (and caches the key).
    assert_eq!(sign_on(&node2, &key, None).await, Ok(()));

    // Deactivate through node 1: node 2 refuses within 1 s.
    set_status(&node1, &key, asymmetric_signature_key::Status::Inactive).await;
    let took = within(ONE_SECOND, async || {
        sign_on(&node2, &key, None).await == Err(tonic::Code::FailedPrecondition)
    })
    .await;
    assert!(
        took.is_some(),
        "node 2 still signed with a deactivated key after 1 s"
    );

    // Reactivate; bind a signer through node 2, use it on node 1, remove it through node 2:
    // node 1 denies within 1 s.
    set_status(&node1, &key, asymmetric_signature_key::Status::Active).await;
    let sa = node2
        .create_service_account("default", "cluster-signer")
        .await;
    let token = node2.token_for(&sa).await;
    set_bindings(&node2, &key, vec![signer_binding(&sa)]).await;
    let allowed = within(ONE_SECOND, async || {
        sign_on(&node1, &key, Some(&token)).await.is_ok()
    })
    .await;
    assert!(
        allowed.is_some(),
        "node 1 did not honour the new binding within 1 s"
    );
    set_bindings(&node2, &key, vec![]).await;
    let denied = within(ONE_SECOND, async || {
        sign_on(&node1, &key, Some(&token)).await == Err(tonic::Code::NotFound)
    })
    .await;
    assert!(
        denied.is_some(),
        "node 1 still allowed a removed binding after 1 s"
    );

    // Revocation through node 2 is enforced by node 1 within 1 s.
    let fresh = node2.token_for(&sa).await;
    set_bindings(&node2, &key, vec![signer_binding(&sa)]).await;
    assert!(
        within(ONE_SECOND, async || sign_on(&node1, &key, Some(&fresh))
            .await
            .is_ok())
        .await
        .is_some()
    );
    node2
        .iam_tokens()
        .revoke(
            signet_proto::yandex::cloud::iam::v1::RevokeIamTokenRequest {
                iam_token: fresh.clone(),
            },
        )
        .await
        .unwrap();
    let revoked = within(ONE_SECOND, async || {
        sign_on(&node1, &key, Some(&fresh)).await == Err(tonic::Code::Unauthenticated)
    })
    .await;
    assert!(
        revoked.is_some(),
        "node 1 accepted a revoked token after 1 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_enforce_deactivation_and_binding_removal_within_one_second() {
    let schema = Schema::fresh("e2e");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let [node1, node2, node3] =
        <[TestServer; 3]>::try_from(cluster(dir.path(), &url, 3).await).unwrap();
    let key = create_key(&node1).await;

    // Nodes 2 and 3 sign, and so cache the key.
    for node in [&node2, &node3] {
        assert_eq!(sign_on(node, &key, None).await, Ok(()));
    }
    set_status(&node1, &key, asymmetric_signature_key::Status::Inactive).await;
    let refused = within(ONE_SECOND, async || {
        sign_on(&node2, &key, None).await == Err(tonic::Code::FailedPrecondition)
            && sign_on(&node3, &key, None).await == Err(tonic::Code::FailedPrecondition)
    })
    .await;
    assert!(
        refused.is_some(),
        "nodes 2 and 3 still signed with a key deactivated on node 1 after 1 s"
    );

    // A signer bound through node 2 signs on node 3 (which caches the bindings); once node 2
    // removes the binding, node 3 denies within 1 s.
    set_status(&node1, &key, asymmetric_signature_key::Status::Active).await;
    let sa = node2.create_service_account("default", "three-nodes").await;
    let token = node2.token_for(&sa).await;
    set_bindings(&node2, &key, vec![signer_binding(&sa)]).await;
    let allowed = within(ONE_SECOND, async || {
        sign_on(&node3, &key, Some(&token)).await.is_ok()
    })
    .await;
    assert!(
        allowed.is_some(),
        "node 3 did not honour the binding within 1 s"
    );
    // Still allowed a moment later: node 3 now holds the binding in its cache.
    assert_eq!(sign_on(&node3, &key, Some(&token)).await, Ok(()));
    set_bindings(&node2, &key, vec![]).await;
    let denied = within(ONE_SECOND, async || {
        sign_on(&node3, &key, Some(&token)).await == Err(tonic::Code::NotFound)
    })
    .await;
    assert!(
        denied.is_some(),
        "node 3 still allowed a binding removed on node 2 after 1 s"
    );
}

// ---------------------------------------------------------------------------------------------
// Background jobs: one node at a time, through claims (`Store::try_claim`).

/// Another process on the cluster's store, whose claims stand for the work of a node.
async fn other_process(url: &str) -> Arc<dyn Store> {
    Arc::new(PostgresStore::connect(url).await.unwrap())
}

/// Interrupted operations are taken over by exactly one node each, also when all nodes look at
/// once, and not while another process is still working on them (holds their claim).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_operations_are_finished_by_exactly_one_node() {
    let schema = Schema::fresh("e2e");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), &url, 3).await;
    let other = other_process(&url).await;
    let clock = nodes[0].clock.clone();
    let mut ops = Vec::new();
    for _ in 0..12 {
        ops.push(
            interrupted_creation(other.as_ref(), clock.now(), Algorithm::EcdsaP256Sha256).await,
        );
    }
    // The other process is still working on the first half.
    let mut busy = Vec::new();
    for op in &ops[..6] {
        busy.push(
            other
                .try_claim(&operation_claim(&op.id))
                .await
                .unwrap()
                .unwrap(),
        );
    }

    let recover_everywhere = async || {
        let (a, b, c) = tokio::join!(
            nodes[0].kms().recover_pending_operations(),
            nodes[1].kms().recover_pending_operations(),
            nodes[2].kms().recover_pending_operations(),
        );
        a.unwrap() + b.unwrap() + c.unwrap()
    };
    assert_eq!(
        recover_everywhere().await,
        6,
        "each free operation is taken over once, the claimed ones by nobody"
    );
    // That process dies: its work is taken over, once.
    drop(busy);
    let mut taken = 0;
    for _ in 0..100 {
        taken += recover_everywhere().await;
        if taken >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(taken, 6, "the released operations are taken over once each");
    assert_eq!(recover_everywhere().await, 0, "nothing is left to take");

    for node in &nodes {
        node.kms().wait_idle().await;
    }
    for op in &ops {
        let done = other.get_operation(&op.id).await.unwrap().unwrap();
        assert!(matches!(done.result, OperationResult::Key(_)), "{done:?}");
        let key = other
            .get_key(&KeyId::from_trusted(op.resource_id.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(key.status, KeyStatus::Active);
        assert_eq!(key.version, 2, "the key was stored once");
    }
}

/// Destruction runs on one node at a time: not while another process holds the job, and at
/// once when that process dies in the middle of it (its connection, and claim, gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_destruction_job_runs_on_one_node_at_a_time() {
    let schema = Schema::fresh("e2e");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let nodes = cluster_with(dir.path(), &url, 3, |b| {
        b.clock(clock.clone()).deletion_window("1h")
    })
    .await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        let key = create_key(&nodes[0]).await;
        nodes[0]
            .keys()
            .delete(DeleteAsymmetricSignatureKeyRequest {
                key_id: key.clone(),
            })
            .await
            .unwrap();
        keys.push(KeyId::from_trusted(key));
    }
    clock.advance(std::time::Duration::from_secs(2 * 3600));

    let other = other_process(&url).await;
    let job = other.try_claim(DESTRUCTION_JOB).await.unwrap().unwrap();
    for node in &nodes {
        assert!(node.kms().destroy_expired_keys().await.unwrap().is_empty());
    }
    for key in &keys {
        assert!(other.get_key(key).await.unwrap().unwrap().sealed.is_some());
    }

    // The holder dies mid-job: PostgreSQL ends its session, and the job is free.
    let holder = psql(&format!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
         AND ((classid::bigint << 32) | objid::bigint) = \
             hashtextextended('{}/{DESTRUCTION_JOB}', {})",
        schema.name(),
        0x5349_474e_4554_434c_i64
    ));
    assert_eq!(psql(&format!("SELECT pg_terminate_backend({holder})")), "t");
    let destroyed = within(ONE_SECOND * 5, async || {
        let (a, b, c) = tokio::join!(
            nodes[0].kms().destroy_expired_keys(),
            nodes[1].kms().destroy_expired_keys(),
            nodes[2].kms().destroy_expired_keys(),
        );
        !(a.unwrap().is_empty() && b.unwrap().is_empty() && c.unwrap().is_empty())
    })
    .await;
    assert!(destroyed.is_some(), "nobody took over the job");
    for key in &keys {
        let record = other.get_key(key).await.unwrap().unwrap();
        assert!(record.sealed.is_none() && record.destroyed_at.is_some());
    }
    drop(job);
}

/// Audit checkpoints are signed by one node at a time: none while another process holds the
/// job; once it is free, the next checkpoint covers the head of the chain, whichever node
/// appended it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_checkpoints_are_signed_by_one_node_at_a_time() {
    let schema = Schema::fresh("e2e");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster_with(dir.path(), &url, 2, |b| b.audit_checkpoint_records(1)).await;
    let other = other_process(&url).await;
    let before = other.audit_checkpoints(0, 10_000).await.unwrap().len();

    let job = other
        .try_claim(AUDIT_CHECKPOINT_JOB)
        .await
        .unwrap()
        .unwrap();
    for node in &nodes {
        for _ in 0..3 {
            let _ = node
                .keys()
                .get(GetAsymmetricSignatureKeyRequest {
                    key_id: "abjnone0000000000000".into(),
                })
                .await;
        }
    }
    assert_eq!(
        other.audit_checkpoints(0, 10_000).await.unwrap().len(),
        before,
        "a checkpoint was signed while another process held the job"
    );
    drop(job);
    let signed = within(ONE_SECOND * 5, async || {
        let _ = nodes[1]
            .keys()
            .get(GetAsymmetricSignatureKeyRequest {
                key_id: "abjnone0000000000000".into(),
            })
            .await;
        let head = other.audit_head().await.unwrap();
        let last = other.audit_checkpoints(0, 10_000).await.unwrap();
        // A record appended after the checkpoint (the next call's) may already be there.
        last.last().is_some_and(|c| c.seq >= head.seq - 1)
    })
    .await;
    assert!(signed.is_some(), "no checkpoint once the job was free");
}
