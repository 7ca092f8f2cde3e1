//! `signet admin copy-store` end to end: a deployment made by a real `signet serve` on SQLite
//! (keys, a deleted key, a service account with a token and a binding, an audit trail) is
//! copied into a fresh PostgreSQL schema; the copy verifies with `signet audit verify`, a
//! second copy into it is refused, and `signet serve` on it opens with the old root key (and
//! with no other), accepts the old admin and service account tokens, signs with the copied keys
//! (openssl checks the signatures against the public keys read before the copy), and still
//! enforces the copied binding and deletion.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::operation;
use signet_testkit::pg::Schema;
use signet_testkit::process::{ServeProcess, run};
use signet_testkit::{Authed, Bearer, openssl_verify};
use std::path::Path;
use tonic::transport::Channel;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

fn keys(channel: &Channel, token: &str) -> AsymmetricSignatureKeyServiceClient<Authed> {
    AsymmetricSignatureKeyServiceClient::with_interceptor(channel.clone(), Bearer::new(Some(token)))
}

fn crypto(channel: &Channel, token: &str) -> AsymmetricSignatureCryptoServiceClient<Authed> {
    AsymmetricSignatureCryptoServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(Some(token)),
    )
}

/// Creates a key and returns its id; the server answers Create only once it is committed, and
/// the test waits until it is ACTIVE.
async fn create_key(channel: &Channel, token: &str, algorithm: Algorithm) -> String {
    let op = keys(channel, token)
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            signature_algorithm: algorithm.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let id = CreateAsymmetricSignatureKeyMetadata::decode(op.metadata.unwrap().value.as_ref())
        .unwrap()
        .key_id;
    for _ in 0..600 {
        let key = keys(channel, token)
            .get(GetAsymmetricSignatureKeyRequest { key_id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        if key.status == asymmetric_signature_key::Status::Active as i32 {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("key {id} never became active");
}

async fn public_key(channel: &Channel, token: &str, key: &str) -> String {
    crypto(channel, token)
        .get_public_key(AsymmetricGetPublicKeyRequest {
            key_id: key.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .public_key
}

async fn sign(
    channel: &Channel,
    token: &str,
    key: &str,
    message: &[u8],
) -> Result<Vec<u8>, tonic::Code> {
    crypto(channel, token)
        .sign(AsymmetricSignRequest {
            key_id: key.to_owned(),
            message: message.to_vec(),
        })
        .await
        .map(|r| r.into_inner().signature)
        .map_err(|s| s.code())
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_a_sqlite_deployment_to_postgres_and_serve_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    let signet = Path::new(SIGNET);

    // A deployment on SQLite.
    let server = ServeProcess::start(signet, &old, &[]);
    let token = std::fs::read_to_string(old.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let channel = server.channel().await;
    let p256 = create_key(&channel, &token, Algorithm::EcdsaP256Sha256).await;
    let rsa = create_key(&channel, &token, Algorithm::Rsa2048PssSha256).await;
    let deleted = create_key(&channel, &token, Algorithm::EcdsaP384Sha384).await;
    keys(&channel, &token)
        .delete(DeleteAsymmetricSignatureKeyRequest {
            key_id: deleted.clone(),
        })
        .await
        .unwrap();
    let pems = [
        public_key(&channel, &token, &p256).await,
        public_key(&channel, &token, &rsa).await,
    ];
    let op = iam::service_account_service_client::ServiceAccountServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(Some(&token)),
    )
    .create(iam::CreateServiceAccountRequest {
        folder_id: "default".into(),
        name: "copied-signer".into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    let Some(operation::Result::Response(any)) = op.result else {
        panic!("service account creation failed");
    };
    let account = iam::ServiceAccount::decode(any.value.as_ref()).unwrap().id;
    let sa_token = iam::iam_token_service_client::IamTokenServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(Some(&token)),
    )
    .create_for_service_account(iam::CreateIamTokenForServiceAccountRequest {
        service_account_id: account.clone(),
    })
    .await
    .unwrap()
    .into_inner()
    .iam_token;
    keys(&channel, &token)
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: p256.clone(),
            access_bindings: vec![access::AccessBinding {
                role_id: "kms.asymmetricSignatureKeys.signer".into(),
                subject: Some(access::Subject {
                    id: account.clone(),
                    r#type: "serviceAccount".into(),
                }),
            }],
        })
        .await
        .unwrap();
    assert!(sign(&channel, &sa_token, &p256, b"before").await.is_ok());
    // A clean stop signs a last audit checkpoint.
    server.stop();
    let before = ok(run(
        signet,
        &["audit", "verify", "--data-dir", old.to_str().unwrap()],
    ));

    // Copy it.
    let schema = Schema::fresh("copy");
    let from = format!("sqlite://{}", old.display());
    let copy = || {
        run(
            signet,
            &[
                "admin",
                "copy-store",
                "--from",
                &from,
                "--to",
                &schema.url(),
            ],
        )
    };
    let copied = ok(copy());
    assert!(copied.contains("keys"), "{copied}");
    assert!(copied.contains("audit records"), "{copied}");
    // Not twice: the target is no longer empty.
    let again = copy();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The copied trail verifies, with the same records and checkpoints.
    let new = dir.path().join("new");
    let verify_copy = || {
        ok(run(
            signet,
            &[
                "audit",
                "verify",
                "--data-dir",
                new.to_str().unwrap(),
                "--store",
                &schema.url(),
            ],
        ))
    };
    let after = verify_copy();
    assert_eq!(after, before, "the copy's trail reads as the original's");

    // Another root key is refused.
    let wrong = dir.path().join("wrong.key");
    let mut bytes = [0u8; 32];
    signet_crypto::fill_random(&mut bytes).unwrap();
    std::fs::write(&wrong, bytes).unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let refused = run(
        signet,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().join("wrong").to_str().unwrap(),
            "--store",
            &schema.url(),
            "--root-key-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("root key does not match"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // The old root key opens it, and everything is there.
    let root = old.join("root.key");
    let server = ServeProcess::start(
        signet,
        &new,
        &[
            "--store",
            &schema.url(),
            "--root-key-file",
            root.to_str().unwrap(),
        ],
    );
    assert!(!new.join("admin-token").exists(), "no new admin token");
    let channel = server.channel().await;
    for (key, pem, algorithm) in [
        (&p256, &pems[0], Algorithm::EcdsaP256Sha256),
        (&rsa, &pems[1], Algorithm::Rsa2048PssSha256),
    ] {
        let signature = sign(&channel, &token, key, b"after the copy")
            .await
            .unwrap();
        assert!(openssl_verify(
            algorithm,
            pem,
            b"after the copy",
            false,
            &signature
        ));
    }
    // The service account's token and binding came along: it signs with its key, not another.
    let signature = sign(&channel, &sa_token, &p256, b"as the account")
        .await
        .unwrap();
    assert!(openssl_verify(
        Algorithm::EcdsaP256Sha256,
        &pems[0],
        b"as the account",
        false,
        &signature
    ));
    assert_eq!(
        sign(&channel, &sa_token, &rsa, b"x").await,
        Err(tonic::Code::NotFound)
    );
    assert_eq!(
        sign(&channel, &token, &deleted, b"x").await,
        Err(tonic::Code::NotFound)
    );
    server.stop();
    verify_copy();
}
