//! Resource limits end to end: the per-folder quota of asymmetric signature keys answers
//! RESOURCE_EXHAUSTED with a QuotaFailure, counts only keys that are not deleted, holds under
//! concurrent creations, and leaves the rest of the server working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::operation;
use signet_testkit::TestServer;
use tonic::Code;
use tonic_types::StatusExt;

fn create(folder: &str) -> CreateAsymmetricSignatureKeyRequest {
    CreateAsymmetricSignatureKeyRequest {
        folder_id: folder.into(),
        name: "q".into(),
        signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
        ..Default::default()
    }
}

async fn new_key(server: &TestServer, folder: &str) -> Result<String, tonic::Status> {
    let op = server.keys().create(create(folder)).await?.into_inner();
    match server.wait(op).await.result {
        Some(operation::Result::Response(any)) => {
            Ok(AsymmetricSignatureKey::decode(any.value.as_ref())
                .unwrap()
                .id)
        }
        other => panic!("create failed: {other:?}"),
    }
}

#[track_caller]
fn assert_quota_exceeded(result: Result<String, tonic::Status>, folder: &str, limit: u32) {
    let status = result.expect_err("the quota should have refused the key");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("kms.asymmetricSignatureKeys.count"),
        "{status:?}"
    );
    let details = status.get_error_details();
    let violation = &details
        .quota_failure()
        .expect("a QuotaFailure detail")
        .violations[0];
    assert_eq!(violation.subject, format!("folder:{folder}"));
    assert!(
        violation.description.contains(&limit.to_string()),
        "{violation:?}"
    );
    assert!(details.request_info().is_some());
}

async fn live_keys(server: &TestServer, folder: &str) -> usize {
    server
        .keys()
        .list(ListAsymmetricSignatureKeysRequest {
            folder_id: folder.into(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .keys
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_quota_is_100_keys_per_folder() {
    let server = TestServer::builder().start().await;
    for _ in 0..100 {
        new_key(&server, "full").await.unwrap();
    }
    assert_quota_exceeded(new_key(&server, "full").await, "full", 100);
    assert_eq!(live_keys(&server, "full").await, 100);
    // Another folder has its own quota.
    new_key(&server, "roomy").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_quota_counts_keys_that_are_not_deleted() {
    let server = TestServer::builder().max_keys_per_folder(3).start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_key(&server, "small").await.unwrap());
    }
    assert_quota_exceeded(new_key(&server, "small").await, "small", 3);
    // Deactivated keys still count; deleted ones do not.
    let r = UpdateAsymmetricSignatureKeyRequest {
        key_id: ids[0].clone(),
        status: asymmetric_signature_key::Status::Inactive as i32,
        update_mask: Some(signet_proto::wkt::FieldMask {
            paths: vec!["status".into()],
        }),
        ..Default::default()
    };
    server.keys().update(r).await.unwrap();
    assert_quota_exceeded(new_key(&server, "small").await, "small", 3);
    server
        .keys()
        .delete(DeleteAsymmetricSignatureKeyRequest {
            key_id: ids[1].clone(),
        })
        .await
        .unwrap();
    let replacement = new_key(&server, "small").await.unwrap();
    assert_quota_exceeded(new_key(&server, "small").await, "small", 3);
    assert_eq!(live_keys(&server, "small").await, 3);

    // The server is otherwise unaffected: the keys sign, other folders take keys.
    for id in [&ids[2], &replacement] {
        server
            .crypto()
            .sign(AsymmetricSignRequest {
                key_id: id.clone(),
                message: b"still signing".to_vec(),
            })
            .await
            .unwrap();
    }
    new_key(&server, "elsewhere").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_cannot_overshoot_the_quota() {
    const CALLERS: usize = 24;
    const LIMIT: u32 = 5;
    let server = TestServer::builder()
        .max_keys_per_folder(LIMIT)
        .start()
        .await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CALLERS));
    let mut calls = Vec::new();
    for _ in 0..CALLERS {
        let mut keys = server.keys();
        let barrier = std::sync::Arc::clone(&barrier);
        calls.push(tokio::spawn(async move {
            barrier.wait().await;
            keys.create(create("race")).await.map(|r| r.into_inner())
        }));
    }
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(op) => accepted.push(op),
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(accepted.len(), LIMIT as usize);
    assert_eq!(refused, CALLERS - LIMIT as usize);
    for op in accepted {
        let done = server.wait(op).await;
        assert!(
            matches!(done.result, Some(operation::Result::Response(_))),
            "{done:?}"
        );
    }
    assert_eq!(live_keys(&server, "race").await, LIMIT as usize);
}
