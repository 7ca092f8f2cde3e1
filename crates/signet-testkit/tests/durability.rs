//! State across restarts: keys survive, interrupted operations are finished, a wrong or missing
//! root key is refused, the deletion window is enforced with an injected clock, and key
//! material is stored only sealed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_core::domain::{KeyId, OperationId};
use signet_crypto::{Algorithm, RootKey};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::{CancelOperationRequest, operation};
use signet_server::ServeError;
use signet_testkit::{TestServer, openssl_verify};
use std::time::Duration;
use tonic::Code;

async fn new_key(server: &TestServer, alg: Algorithm) -> String {
    let op = server
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            signature_algorithm: alg.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    match server.wait(op).await.result {
        Some(operation::Result::Response(any)) => {
            AsymmetricSignatureKey::decode(any.value.as_ref())
                .unwrap()
                .id
        }
        other => panic!("create failed: {other:?}"),
    }
}

async fn sign(server: &TestServer, key: &str, msg: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    server
        .crypto()
        .sign(AsymmetricSignRequest {
            key_id: key.into(),
            message: msg.to_vec(),
        })
        .await
        .map(|r| r.into_inner().signature)
}

async fn public_key(server: &TestServer, key: &str) -> String {
    server
        .crypto()
        .get_public_key(AsymmetricGetPublicKeyRequest { key_id: key.into() })
        .await
        .unwrap()
        .into_inner()
        .public_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_survive_a_restart() {
    let server = TestServer::builder().start().await;
    let algs = [
        Algorithm::Rsa2048PssSha256,
        Algorithm::EcdsaP521Sha512,
        Algorithm::EcdsaSecp256k1Sha256,
    ];
    let mut keys = Vec::new();
    for alg in algs {
        let id = new_key(&server, alg).await;
        keys.push((alg, id.clone(), public_key(&server, &id).await));
    }
    let token = server.token.clone();
    let restarted = server.stop().await.restart().await;
    assert_eq!(
        restarted.token, token,
        "the admin token is kept, not re-minted"
    );
    for (alg, id, pem) in keys {
        assert_eq!(public_key(&restarted, &id).await, pem);
        let sig = sign(&restarted, &id, b"after restart").await.unwrap();
        assert!(openssl_verify(alg, &pem, b"after restart", false, &sig));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_root_key_is_refused_and_nothing_changes() {
    let server = TestServer::builder().start().await;
    let key = new_key(&server, Algorithm::EcdsaP256Sha256).await;
    let key_id = KeyId::parse("key_id", &key).unwrap();
    let record_before = server
        .kms()
        .store()
        .get_key(&key_id)
        .await
        .unwrap()
        .unwrap();
    let check_before = server
        .kms()
        .store()
        .get_meta(signet_core::bootstrap::META_ROOT_KEY_CHECK)
        .await
        .unwrap();
    let stopped = server.stop().await;

    let other = tempfile::tempdir().unwrap();
    let other_key = other.path().join("other.key");
    RootKey::generate()
        .unwrap()
        .write_new_file(&other_key)
        .unwrap();
    let refused = TestServer::builder()
        .data_dir(&stopped.dir)
        .root_key_file(&other_key)
        .try_start()
        .await;
    match refused {
        Err(ServeError::Bootstrap(e)) => {
            let msg = e.to_string();
            assert!(msg.contains("root key does not match"), "{msg}");
        }
        other => panic!("expected a root key mismatch, got {:?}", other.map(|_| ())),
    }

    // Nothing changed: same root key check value, same key record; and the data dir still
    // works with its own key.
    let again = stopped.restart().await;
    assert_eq!(
        again
            .kms()
            .store()
            .get_meta(signet_core::bootstrap::META_ROOT_KEY_CHECK)
            .await
            .unwrap(),
        check_before
    );
    let record_after = again.kms().store().get_key(&key_id).await.unwrap().unwrap();
    assert!(
        record_after == record_before,
        "the refused start changed the key record"
    );
    sign(&again, &key, b"m").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_store_without_its_root_key_is_refused() {
    let server = TestServer::builder().start().await;
    let stopped = server.stop().await;
    std::fs::rename(
        stopped.dir.join("root.key"),
        stopped.dir.join("root.key.moved"),
    )
    .unwrap();
    let refused = TestServer::builder()
        .data_dir(&stopped.dir)
        .try_start()
        .await;
    assert!(
        matches!(refused, Err(ServeError::MissingRootKey { .. })),
        "{:?}",
        refused.map(|_| ())
    );
    assert!(
        !stopped.dir.join("root.key").exists(),
        "no new root key may be created"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_writes_secrets_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::builder().start().await;
    for file in ["root.key", "admin-token"] {
        let mode = std::fs::metadata(server.dir.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    let mode = std::fs::metadata(&server.dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// Writes a CREATING key and its pending operation straight into the store, as a crash in the
/// middle of key generation would leave them.
async fn plant_interrupted_create(server: &TestServer, alg: Algorithm) -> (KeyId, OperationId) {
    let op = signet_testkit::fixtures::interrupted_creation(
        server.kms().store().as_ref(),
        server.clock.now_for_tests(),
        alg,
    )
    .await;
    (KeyId::from_trusted(op.resource_id), op.id)
}

trait NowForTests {
    fn now_for_tests(&self) -> signet_core::domain::Timestamp;
}
impl NowForTests for signet_core::domain::ManualClock {
    fn now_for_tests(&self) -> signet_core::domain::Timestamp {
        use signet_core::domain::Clock;
        self.now()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creations_are_finished_at_the_next_start() {
    let server = TestServer::builder().start().await;
    let (key, op) = plant_interrupted_create(&server, Algorithm::EcdsaP384Sha384).await;
    let restarted = server.stop().await.restart().await;
    restarted.kms().wait_idle().await;
    let got = restarted
        .keys()
        .get(GetAsymmetricSignatureKeyRequest {
            key_id: key.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.status,
        asymmetric_signature_key::Status::Active as i32,
        "no key stays CREATING"
    );
    let op = restarted
        .operations()
        .get(
            signet_proto::yandex::cloud::operation::GetOperationRequest {
                operation_id: op.to_string(),
            },
        )
        .await
        .unwrap()
        .into_inner();
    assert!(op.done);
    let pem = public_key(&restarted, key.as_str()).await;
    let sig = sign(&restarted, key.as_str(), b"m").await.unwrap();
    assert!(openssl_verify(
        Algorithm::EcdsaP384Sha384,
        &pem,
        b"m",
        false,
        &sig
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_pending_creation_removes_the_key() {
    let server = TestServer::builder().start().await;
    let (key, op) = plant_interrupted_create(&server, Algorithm::Rsa2048PssSha256).await;
    // Planted without a generator task: the operation stays pending until cancelled.
    let cancelled = server
        .operations()
        .cancel(CancelOperationRequest {
            operation_id: op.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(cancelled.done);
    match cancelled.result {
        Some(operation::Result::Error(status)) => assert_eq!(status.code, Code::Cancelled as i32),
        other => panic!("expected a cancelled operation, got {other:?}"),
    }
    let status = server
        .keys()
        .get(GetAsymmetricSignatureKeyRequest {
            key_id: key.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // A restart does not resurrect it.
    let restarted = server.stop().await.restart().await;
    restarted.kms().wait_idle().await;
    assert_eq!(
        restarted
            .keys()
            .get(GetAsymmetricSignatureKeyRequest {
                key_id: key.to_string()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_keys_are_restorable_until_the_window_ends_then_destroyed() {
    let server = TestServer::builder().start().await;
    let kms = server.kms().clone();
    let admin = kms.local_admin();
    let key = new_key(&server, Algorithm::EcdsaP256Sha256).await;
    let id = KeyId::parse("key_id", &key).unwrap();
    let delete = |k: String| {
        let mut keys = server.keys();
        async move {
            keys.delete(DeleteAsymmetricSignatureKeyRequest { key_id: k })
                .await
                .unwrap()
        }
    };

    delete(key.clone()).await;
    server.clock.advance(Duration::from_secs(71 * 3600));
    assert!(
        kms.destroy_expired_keys().await.unwrap().is_empty(),
        "inside the window nothing is destroyed"
    );
    kms.restore_key(&admin, &id).await.unwrap();
    sign(&server, &key, b"back").await.unwrap();

    delete(key.clone()).await;
    server.clock.advance(Duration::from_secs(72 * 3600 - 1));
    assert!(kms.destroy_expired_keys().await.unwrap().is_empty());
    server.clock.advance(Duration::from_secs(2));
    assert_eq!(kms.destroy_expired_keys().await.unwrap(), vec![id.clone()]);
    let record = kms.store().get_key(&id).await.unwrap().unwrap();
    assert!(record.sealed.is_none() && record.destroyed_at.is_some());
    let err = kms.restore_key(&admin, &id).await.unwrap_err();
    assert_eq!(err.kind(), signet_core::ErrorKind::FailedPrecondition);
    assert_eq!(
        sign(&server, &key, b"m").await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_private_key_bytes() {
    let server = TestServer::builder().start().await;
    let mut ids = Vec::new();
    for alg in [
        Algorithm::Rsa2048PssSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaSecp256k1Sha256,
    ] {
        let id = new_key(&server, alg).await;
        sign(&server, &id, b"warm the cache").await.unwrap();
        ids.push((alg, id));
    }
    let root = signet_crypto::FileRootKey::new(server.dir.join("root.key"));
    let root = signet_crypto::RootKeySource::load(&root).unwrap();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for (alg, id) in &ids {
        let record = server
            .kms()
            .store()
            .get_key(&KeyId::parse("key_id", id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let pkcs8 =
            signet_crypto::open_bytes(&root, id, *alg, record.sealed.as_ref().unwrap()).unwrap();
        let der = pkcs8.expose().to_vec();
        // The whole document, and windows of its secret tail (private scalar / exponent parts).
        secrets.push(der.clone());
        for start in (der.len().saturating_sub(96)..der.len().saturating_sub(24)).step_by(8) {
            secrets.push(der[start..start + 24].to_vec());
        }
    }
    // Scan while running (the WAL holds the recent writes) and again after a clean stop (after
    // the checkpoint). SQLite may remove the -wal/-shm files at any moment, so a vanished file
    // is skipped; the main database file must always be there.
    let scan = |dir: &std::path::Path| {
        let mut main_db_seen = false;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("signet.db") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            main_db_seen |= name == "signet.db" && !bytes.is_empty();
            for s in &secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_slice()),
                    "private key bytes found in {name}"
                );
            }
        }
        assert!(main_db_seen, "the database file was scanned");
    };
    scan(&server.dir);
    let stopped = server.stop().await;
    scan(&stopped.dir);
}
