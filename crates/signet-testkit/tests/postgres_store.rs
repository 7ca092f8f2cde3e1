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
