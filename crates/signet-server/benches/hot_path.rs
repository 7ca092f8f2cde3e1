//! The pieces of one Sign call, each on its own, in process, on one thread: decoding the
//! request, authentication, the core's Sign (authorization, the key cache, the signature),
//! the raw signature alone (the ceiling), building and hashing the audit record, appending a
//! batch of records to the SQLite store (one transaction, one fsync) and encoding the response.
//! What the parts do not add up to is what the transport (HTTP/2, tonic, the tower layers)
//! costs; docs/benchmarks.md compares them with `signet bench`.
//!
//! `cargo bench -p signet-server --bench hot_path`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use signet_core::audit::{AuditEvent, AuditHead};
use signet_core::domain::{
    AccessBinding, BindingTarget, FolderId, KeyId, Labels, OperationResult, Role, Subject,
    SystemClock,
};
use signet_core::store::Store;
use signet_core::{CreateKey, CreateServiceAccount};
use signet_core::{Kms, KmsSettings};
use signet_crypto::{Algorithm, RootKey, SigningKey};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricSignRequest, AsymmetricSignResponse,
};
use signet_store::SqliteStore;
use std::hint::black_box;
use std::sync::Arc;

struct Setup {
    rt: tokio::runtime::Runtime,
    kms: Arc<Kms>,
    store: Arc<SqliteStore>,
    admin_header: String,
    signer_header: String,
    key_id: KeyId,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (kms, store, admin_header, signer_header, key_id) = rt.block_on(async {
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("signet.db"))
                .await
                .unwrap(),
        );
        let root = RootKey::generate().unwrap();
        let boot = signet_core::bootstrap::bootstrap(store.as_ref(), &root)
            .await
            .unwrap();
        let admin_header = format!("Bearer {}", boot.new_admin_token.unwrap().expose());
        let kms = Kms::new(
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::new(SystemClock),
            Arc::new(root),
            boot.authenticator,
            KmsSettings::default(),
        );
        let admin = kms.authenticate(Some(&admin_header)).await.unwrap();
        let folder = FolderId::parse("folder_id", "bench").unwrap();
        let op = kms
            .create_key(
                &admin,
                CreateKey {
                    folder_id: folder.clone(),
                    name: "bench".into(),
                    description: String::new(),
                    labels: Labels::default(),
                    algorithm: Algorithm::EcdsaP256Sha256,
                    deletion_protection: false,
                },
            )
            .await
            .unwrap();
        kms.wait_idle().await;
        let key_id = KeyId::from_trusted(op.resource_id.clone());
        // A service account that holds the signer role on the folder, with an IAM token: the
        // path every non-admin call takes (token cache, binding cache, the decision).
        let account = kms
            .create_service_account(
                &admin,
                CreateServiceAccount {
                    folder_id: folder.clone(),
                    name: "bench-signer".into(),
                    description: String::new(),
                    labels: Labels::default(),
                },
            )
            .await
            .unwrap();
        let OperationResult::ServiceAccount(account) = account.result else {
            panic!("no service account");
        };
        kms.set_access_bindings(
            &admin,
            &BindingTarget::Folder(folder),
            vec![AccessBinding {
                role: Role::parse("role_id", "kms.asymmetricSignatureKeys.signer").unwrap(),
                subject: Subject::service_account(account.id.as_str()),
            }],
        )
        .await
        .unwrap();
        let issued = kms
            .create_token_for_service_account(&admin, &account.id)
            .await
            .unwrap();
        let signer_header = format!("Bearer {}", issued.token.expose());
        (kms, store, admin_header, signer_header, key_id)
    });
    Setup {
        rt,
        kms,
        store,
        admin_header,
        signer_header,
        key_id,
        _dir: dir,
    }
}

fn sample_event(n: u64) -> AuditEvent {
    AuditEvent {
        time: signet_core::domain::Timestamp::from_micros(1_700_000_000_000_000),
        request_id: format!("0f6b1c2e-4d5a-4b6c-8d7e-{n:012x}"),
        subject: "ajebenchsigner0000000".into(),
        rpc: "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign"
            .into(),
        resource_id: Some("abjbenchkey000000000".into()),
        algorithm: Some("ECDSA_NIST_P256_SHA_256".into()),
        outcome: "OK".into(),
        client_addr: "127.0.0.1:50000".into(),
        message_sha256: Some(signet_crypto::sha256(&n.to_be_bytes())),
    }
}

fn hot_path(c: &mut Criterion) {
    let s = setup();
    let message = [0x5au8; 64];
    let request = AsymmetricSignRequest {
        key_id: s.key_id.to_string(),
        message: message.to_vec(),
    }
    .encode_to_vec();

    let mut group = c.benchmark_group("hot_path");
    group.throughput(Throughput::Elements(1));

    group.bench_function("decode_request", |b| {
        b.iter(|| AsymmetricSignRequest::decode(black_box(request.as_slice())).unwrap())
    });
    group.bench_function("authenticate_admin", |b| {
        b.iter(|| {
            s.rt.block_on(s.kms.authenticate(Some(black_box(&s.admin_header))))
                .unwrap()
        })
    });
    group.bench_function("authenticate_iam_token", |b| {
        b.iter(|| {
            s.rt.block_on(s.kms.authenticate(Some(black_box(&s.signer_header))))
                .unwrap()
        })
    });
    let admin =
        s.rt.block_on(s.kms.authenticate(Some(&s.admin_header)))
            .unwrap();
    let signer =
        s.rt.block_on(s.kms.authenticate(Some(&s.signer_header)))
            .unwrap();
    group.bench_function("core_sign_admin", |b| {
        b.iter(|| {
            s.rt.block_on(s.kms.sign(&admin, &s.key_id, black_box(&message)))
                .unwrap()
        })
    });
    group.bench_function("core_sign_service_account", |b| {
        b.iter(|| {
            s.rt.block_on(s.kms.sign(&signer, &s.key_id, black_box(&message)))
                .unwrap()
        })
    });
    let raw = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    group.bench_function("raw_sign_ceiling", |b| {
        b.iter(|| raw.sign(black_box(&message)).unwrap())
    });
    group.bench_function("audit_record_build_and_hash", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let event = sample_event(n);
            AuditHead::GENESIS.link(black_box(&event))
        })
    });
    let signature =
        s.rt.block_on(s.kms.sign(&admin, &s.key_id, &message))
            .unwrap();
    let response = AsymmetricSignResponse {
        key_id: s.key_id.to_string(),
        signature: signature.signature.clone(),
    };
    group.bench_function("encode_response", |b| {
        b.iter(|| black_box(&response).encode_to_vec())
    });
    group.finish();

    // One transaction per batch (one fsync): the cost per record falls with the batch.
    let mut group = c.benchmark_group("audit_append_sqlite");
    for batch in [1usize, 16, 64] {
        group.throughput(Throughput::Elements(batch as u64));
        let mut n = 0u64;
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter(|| {
                let events: Vec<AuditEvent> = (0..batch)
                    .map(|_| {
                        n += 1;
                        sample_event(n)
                    })
                    .collect();
                s.rt.block_on(s.store.append_audit(&events)).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
