//! End-to-end over real gRPC: create a key of every algorithm, sign and sign-hash with it, and
//! verify every signature with the `openssl` CLI against the public key the server returns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::operation;
use signet_testkit::{TestServer, openssl_verify};

fn create_request(alg: Algorithm) -> CreateAsymmetricSignatureKeyRequest {
    CreateAsymmetricSignatureKeyRequest {
        folder_id: "default".into(),
        name: format!("key-{}", alg.cli_name()),
        description: "e2e".into(),
        labels: [("env".to_owned(), "test".to_owned())].into(),
        signature_algorithm: alg.wire_number(),
        deletion_protection: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_creates_signs_and_verifies_with_openssl() {
    let server = TestServer::builder().start().await;
    let mut keys = server.keys();
    let mut crypto = server.crypto();

    // Start all creations first: they run concurrently in the background.
    let mut pending = Vec::new();
    for alg in Algorithm::ALL {
        let op = keys.create(create_request(alg)).await.unwrap().into_inner();
        let meta = CreateAsymmetricSignatureKeyMetadata::decode(
            op.metadata.as_ref().unwrap().value.as_ref(),
        )
        .unwrap();
        assert_eq!(
            op.metadata.as_ref().unwrap().type_url,
            "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.CreateAsymmetricSignatureKeyMetadata"
        );
        assert!(!op.id.is_empty());
        pending.push((alg, meta.key_id, op));
    }

    for (alg, key_id, op) in pending {
        let done = server.wait(op).await;
        let Some(operation::Result::Response(any)) = done.result else {
            panic!("{alg}: operation finished without a response: {done:?}");
        };
        assert_eq!(
            any.type_url,
            "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKey"
        );
        let key = AsymmetricSignatureKey::decode(any.value.as_ref()).unwrap();
        assert_eq!(key.id, key_id);
        assert_eq!(key.status, asymmetric_signature_key::Status::Active as i32);
        assert_eq!(key.signature_algorithm, alg.wire_number());
        assert_eq!(key.labels.get("env").map(String::as_str), Some("test"));
        assert_eq!(key_id.len(), 20);
        assert!(key_id.starts_with("abj"));

        let got = keys
            .get(GetAsymmetricSignatureKeyRequest {
                key_id: key_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, key);

        let pem = crypto
            .get_public_key(AsymmetricGetPublicKeyRequest {
                key_id: key_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(pem.key_id, key_id);
        assert!(pem.public_key.starts_with("-----BEGIN PUBLIC KEY-----"));

        for message in [b"a".to_vec(), vec![0x42; 32768]] {
            let signed = crypto
                .sign(AsymmetricSignRequest {
                    key_id: key_id.clone(),
                    message: message.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(signed.key_id, key_id);
            assert!(
                openssl_verify(alg, &pem.public_key, &message, false, &signed.signature),
                "{alg}: openssl rejected a Sign signature"
            );
            let mut other = message.clone();
            other[0] ^= 1;
            assert!(!openssl_verify(
                alg,
                &pem.public_key,
                &other,
                false,
                &signed.signature
            ));

            let digest = alg.hash().digest(&message);
            let hashed = crypto
                .sign_hash(AsymmetricSignHashRequest {
                    key_id: key_id.clone(),
                    hash: digest.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(hashed.key_id, key_id);
            assert!(
                openssl_verify(alg, &pem.public_key, &digest, true, &hashed.signature),
                "{alg}: openssl rejected a SignHash signature"
            );
            assert!(openssl_verify(
                alg,
                &pem.public_key,
                &message,
                false,
                &hashed.signature
            ));
        }
    }
}

/// The caches keep what is in use and drop the rest: after the sweep, a key, its bindings and
/// a token unused for their idle time are gone from memory, and the next call reloads them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_cache_entries_are_swept_and_reloaded_on_next_use() {
    let server = TestServer::builder().start().await;
    let key = server
        .create_key("default", Algorithm::EcdsaP256Sha256)
        .await;
    let sa = server.create_service_account("default", "sweeper").await;
    let token = server.token_for(&sa).await;
    server
        .set_key_role(&key, "kms.asymmetricSignatureKeys.signer", &sa)
        .await;
    let sign = |token: String| {
        let mut crypto = server.crypto_as(Some(&token));
        let key = key.clone();
        async move {
            crypto
                .sign(AsymmetricSignRequest {
                    key_id: key,
                    message: b"swept".to_vec(),
                })
                .await
                .map(|r| r.into_inner().signature)
        }
    };
    sign(token.clone()).await.unwrap();
    let kms = server.kms();
    let (keys, bindings, tokens) = kms.cached_entries();
    assert_eq!((keys, tokens), (1, 1));
    // The key's bindings and its folder's.
    assert!(bindings >= 2, "{bindings} bindings cached");

    // Swept as of now: everything was just used, nothing goes.
    assert_eq!(kms.sweep_caches(std::time::Instant::now()), 0);
    assert_eq!(kms.cached_entries(), (keys, bindings, tokens));
    // Bindings and tokens go after a minute unused; keys after ten.
    let later = std::time::Instant::now() + std::time::Duration::from_secs(61);
    assert_eq!(kms.sweep_caches(later), bindings + tokens);
    assert_eq!(kms.cached_entries(), (1, 0, 0));
    let much_later = std::time::Instant::now() + std::time::Duration::from_secs(601);
    assert_eq!(kms.sweep_caches(much_later), 1);
    assert_eq!(kms.cached_entries(), (0, 0, 0));

    // The next call reloads all three, and its signature verifies.
    let signature = sign(token).await.unwrap();
    assert_eq!(kms.cached_entries(), (keys, bindings, tokens));
    let pem = server
        .crypto()
        .get_public_key(AsymmetricGetPublicKeyRequest { key_id: key })
        .await
        .unwrap()
        .into_inner()
        .public_key;
    assert!(openssl_verify(
        Algorithm::EcdsaP256Sha256,
        &pem,
        b"swept",
        false,
        &signature
    ));
}
