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
