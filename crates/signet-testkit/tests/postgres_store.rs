//! The server on the PostgreSQL store, end to end: create, sign (verified by openssl), restart
//! on the same database, sign again. Runs in a schema of its own, dropped afterwards. Needs the
//! PostgreSQL server at 127.0.0.1:5432 (or `SIGNET_TEST_POSTGRES_URL`); fails, never skips,
//! without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_testkit::{TestServer, openssl_verify};
use std::process::Command;

fn base_url() -> String {
    std::env::var("SIGNET_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .arg(base_url())
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql is needed for this test (PostgreSQL client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(base_url())
            .args([
                "-q",
                "-c",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0),
            ])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sign_and_restart_on_postgres() {
    let mut b = [0u8; 8];
    signet_crypto::fill_random(&mut b).unwrap();
    let name = format!("signet_e2e_{}", hex::encode(b));
    psql(&format!("CREATE SCHEMA {name}"));
    let schema = Schema(name);
    let url = format!("{}?options[search_path]={}", base_url(), schema.0);

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder()
        .data_dir(&dir.path().join("data"))
        .store(&url)
        .start()
        .await;
    let op = server
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let done = server.wait(op).await;
    let Some(signet_proto::yandex::cloud::operation::operation::Result::Response(any)) =
        done.result
    else {
        panic!("create failed: {done:?}");
    };
    let key = AsymmetricSignatureKey::decode(any.value.as_ref())
        .unwrap()
        .id;
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
    let out = Command::new("psql")
        .arg(base_url())
        .args([
            "-At",
            "-c",
            &format!("SELECT count(*) FROM {}.keys", schema.0),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_one_node_are_enforced_by_another_within_one_second() {
    use signet_proto::wkt::FieldMask;
    use signet_proto::yandex::cloud::access;
    let mut b = [0u8; 8];
    signet_crypto::fill_random(&mut b).unwrap();
    let name = format!("signet_e2e_{}", hex::encode(b));
    psql(&format!("CREATE SCHEMA {name}"));
    let schema = Schema(name);
    let url = format!("{}?options[search_path]={}", base_url(), schema.0);
    let dir = tempfile::tempdir().unwrap();
    let node1 = TestServer::builder()
        .data_dir(&dir.path().join("n1"))
        .store(&url)
        .start()
        .await;
    let node2 = TestServer::builder()
        .data_dir(&dir.path().join("n2"))
        .root_key_file(&node1.dir.join("root.key"))
        .admin_token(&node1.token)
        .store(&url)
        .start()
        .await;

    let op = node1
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
        node1.wait(op).await.result
    else {
        panic!("create failed");
    };
    let key = AsymmetricSignatureKey::decode(any.value.as_ref())
        .unwrap()
        .id;
    let sign_on = |node: &TestServer, token: Option<String>| {
        let mut c = match &token {
            Some(t) => node.crypto_as(Some(t)),
            None => node.crypto(),
        };
        let key = key.clone();
        async move {
            c.sign(AsymmetricSignRequest {
                key_id: key,
                message: b"m".to_vec(),
            })
            .await
            .map(drop)
            .map_err(|s| s.code())
        }
    };
    // Node 2 signs (and caches the key).
    assert_eq!(sign_on(&node2, None).await, Ok(()));

    // Deactivate through node 1: node 2 refuses within 1 s.
    node1
        .keys()
        .update(UpdateAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
            update_mask: Some(FieldMask {
                paths: vec!["status".into()],
            }),
            status: asymmetric_signature_key::Status::Inactive as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let took = within(std::time::Duration::from_secs(1), async || {
        sign_on(&node2, None).await == Err(tonic::Code::FailedPrecondition)
    })
    .await;
    assert!(
        took.is_some(),
        "node 2 still signed with a deactivated key after 1 s"
    );

    // Reactivate; bind a signer through node 2, use it on node 1, remove it through node 2:
    // node 1 denies within 1 s.
    node1
        .keys()
        .update(UpdateAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
            update_mask: Some(FieldMask {
                paths: vec!["status".into()],
            }),
            status: asymmetric_signature_key::Status::Active as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let sa = node2
        .create_service_account("default", "cluster-signer")
        .await;
    let token = node2.token_for(&sa).await;
    let signer = access::AccessBinding {
        role_id: "kms.asymmetricSignatureKeys.signer".into(),
        subject: Some(access::Subject {
            id: sa.clone(),
            r#type: "serviceAccount".into(),
        }),
    };
    node2
        .keys()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: key.clone(),
            access_bindings: vec![signer],
        })
        .await
        .unwrap();
    let allowed = within(std::time::Duration::from_secs(1), async || {
        sign_on(&node1, Some(token.clone())).await.is_ok()
    })
    .await;
    assert!(
        allowed.is_some(),
        "node 1 did not honour the new binding within 1 s"
    );
    node2
        .keys()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: key.clone(),
            access_bindings: vec![],
        })
        .await
        .unwrap();
    let denied = within(std::time::Duration::from_secs(1), async || {
        sign_on(&node1, Some(token.clone())).await == Err(tonic::Code::NotFound)
    })
    .await;
    assert!(
        denied.is_some(),
        "node 1 still allowed a removed binding after 1 s"
    );

    // Revocation through node 2 is enforced by node 1 within 1 s.
    let fresh = node2.token_for(&sa).await;
    node2
        .keys()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: key.clone(),
            access_bindings: vec![access::AccessBinding {
                role_id: "kms.asymmetricSignatureKeys.signer".into(),
                subject: Some(access::Subject {
                    id: sa.clone(),
                    r#type: "serviceAccount".into(),
                }),
            }],
        })
        .await
        .unwrap();
    assert!(
        within(std::time::Duration::from_secs(1), async || sign_on(
            &node1,
            Some(fresh.clone())
        )
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
    let revoked = within(std::time::Duration::from_secs(1), async || {
        sign_on(&node1, Some(fresh.clone())).await == Err(tonic::Code::Unauthenticated)
    })
    .await;
    assert!(
        revoked.is_some(),
        "node 1 accepted a revoked token after 1 s"
    );
}
