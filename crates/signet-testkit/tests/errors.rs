//! End-to-end over real gRPC: every error path of the key, crypto and operation services
//! answers with the right code (and, for bad input, a BadRequest naming the field), and the
//! state-changing paths behave as documented.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::wkt::FieldMask;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key::Status as KeyStatus;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, operation,
};
use signet_testkit::TestServer;
use tonic::Code;
use tonic_types::StatusExt;

fn assert_code<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code) -> tonic::Status {
    let status = result.expect_err("the call should have failed");
    assert_eq!(status.code(), code, "{status:?}");
    status
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = assert_code(result, Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<String> = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation of {field}, got {fields:?} ({status:?})"
    );
    assert!(
        details.request_info().is_some(),
        "error details carry the request id"
    );
}

fn create(folder: &str, alg: Algorithm) -> CreateAsymmetricSignatureKeyRequest {
    CreateAsymmetricSignatureKeyRequest {
        folder_id: folder.into(),
        name: "k".into(),
        signature_algorithm: alg.wire_number(),
        ..Default::default()
    }
}

async fn new_key(server: &TestServer, folder: &str, alg: Algorithm) -> String {
    let op = server
        .keys()
        .create(create(folder, alg))
        .await
        .unwrap()
        .into_inner();
    let done = server.wait(op).await;
    match done.result {
        Some(operation::Result::Response(any)) => {
            AsymmetricSignatureKey::decode(any.value.as_ref())
                .unwrap()
                .id
        }
        other => panic!("create failed: {other:?}"),
    }
}

fn sign_req(key_id: &str, message: &[u8]) -> AsymmetricSignRequest {
    AsymmetricSignRequest {
        key_id: key_id.into(),
        message: message.to_vec(),
    }
}

fn update(key_id: &str, paths: &[&str]) -> UpdateAsymmetricSignatureKeyRequest {
    UpdateAsymmetricSignatureKeyRequest {
        key_id: key_id.into(),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_needs_a_valid_bearer_token() {
    let server = TestServer::builder().start().await;
    let key = new_key(&server, "default", Algorithm::EcdsaP256Sha256).await;
    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some("sgt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let status = assert_code(
            server.crypto_as(token).sign(sign_req(&key, b"x")).await,
            Code::Unauthenticated,
        );
        assert!(!status.message().contains(&server.token));
        assert_code(
            server
                .keys_as(token)
                .list(ListAsymmetricSignatureKeysRequest {
                    folder_id: "default".into(),
                    ..Default::default()
                })
                .await,
            Code::Unauthenticated,
        );
    }
    // A token sent without the Bearer scheme is refused too.
    let mut raw = signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient::new(server.channel.clone());
    let mut req = tonic::Request::new(sign_req(&key, b"x"));
    req.metadata_mut()
        .insert("authorization", server.token.parse().unwrap());
    assert_code(raw.sign(req).await, Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field() {
    let server = TestServer::builder().start().await;
    let mut keys = server.keys();
    let mut crypto = server.crypto();
    let key = new_key(&server, "default", Algorithm::EcdsaP384Sha384).await;

    for alg in [0, 14, 9999] {
        let mut r = create("default", Algorithm::EcdsaP256Sha256);
        r.signature_algorithm = alg;
        assert_invalid(keys.create(r).await, "signature_algorithm");
    }
    assert_invalid(
        keys.create(create("", Algorithm::EcdsaP256Sha256)).await,
        "folder_id",
    );
    let mut r = create("default", Algorithm::EcdsaP256Sha256);
    r.labels.insert("1starts-with-digit".into(), "v".into());
    assert_invalid(keys.create(r).await, "labels");
    let mut r = create("default", Algorithm::EcdsaP256Sha256);
    r.labels = (0..65).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    assert_invalid(keys.create(r).await, "labels");
    let mut r = create("default", Algorithm::EcdsaP256Sha256);
    r.name = "n".repeat(101);
    assert_invalid(keys.create(r).await, "name");

    for bad_id in [
        "",
        &"a".repeat(51),
        "abj'; DROP TABLE keys;--",
        "../../etc/passwd",
    ] {
        assert_invalid(
            keys.get(GetAsymmetricSignatureKeyRequest {
                key_id: bad_id.into(),
            })
            .await,
            "key_id",
        );
        assert_invalid(crypto.sign(sign_req(bad_id, b"m")).await, "key_id");
    }
    assert_code(
        keys.get(GetAsymmetricSignatureKeyRequest {
            key_id: "abj00000000000000000".into(),
        })
        .await,
        Code::NotFound,
    );
    assert_code(
        crypto.sign(sign_req("abj00000000000000000", b"m")).await,
        Code::NotFound,
    );

    // Message and digest sizes.
    assert!(crypto.sign(sign_req(&key, &vec![1u8; 32768])).await.is_ok());
    assert_invalid(
        crypto.sign(sign_req(&key, &vec![1u8; 32769])).await,
        "message",
    );
    assert_invalid(crypto.sign(sign_req(&key, b"")).await, "message");
    for len in [1usize, 32, 47, 49, 64, 4096] {
        assert_invalid(
            crypto
                .sign_hash(AsymmetricSignHashRequest {
                    key_id: key.clone(),
                    hash: vec![0u8; len],
                })
                .await,
            "hash",
        );
    }
    assert_invalid(
        crypto
            .sign_hash(AsymmetricSignHashRequest {
                key_id: key.clone(),
                hash: vec![0u8; 4097],
            })
            .await,
        "hash",
    );
    assert_invalid(
        crypto
            .sign_hash(AsymmetricSignHashRequest {
                key_id: key.clone(),
                hash: vec![],
            })
            .await,
        "hash",
    );

    // Update masks.
    let mut no_mask = update(&key, &[]);
    no_mask.update_mask = None;
    assert_invalid(keys.update(no_mask).await, "update_mask");
    assert_invalid(keys.update(update(&key, &[])).await, "update_mask");
    for path in ["id", "signature_algorithm", "folder_id", "created_at"] {
        assert_invalid(keys.update(update(&key, &[path])).await, "update_mask");
    }
    for status in [KeyStatus::Creating, KeyStatus::Unspecified] {
        let mut r = update(&key, &["status"]);
        r.status = status as i32;
        assert_invalid(keys.update(r).await, "status");
    }

    // Page sizes and tokens.
    for size in [-1, 1001] {
        assert_invalid(
            keys.list(ListAsymmetricSignatureKeysRequest {
                folder_id: "default".into(),
                page_size: size,
                page_token: String::new(),
            })
            .await,
            "page_size",
        );
    }
    assert_invalid(
        keys.list(ListAsymmetricSignatureKeysRequest {
            folder_id: "default".into(),
            page_size: 0,
            page_token: "forged".into(),
        })
        .await,
        "page_token",
    );
    assert_invalid(
        server
            .operations()
            .get(GetOperationRequest {
                operation_id: String::new(),
            })
            .await,
        "operation_id",
    );
    assert_code(
        server
            .operations()
            .get(GetOperationRequest {
                operation_id: "abj11111111111111111".into(),
            })
            .await,
        Code::NotFound,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_deactivate_and_reactivate() {
    let server = TestServer::builder().start().await;
    let mut keys = server.keys();
    let mut crypto = server.crypto();
    let key = new_key(&server, "default", Algorithm::EcdsaP256Sha256).await;

    let mut r = update(&key, &["name", "description", "labels"]);
    r.name = "renamed".into();
    r.description = "new description".into();
    r.labels = [("team".to_owned(), "sec".to_owned())].into();
    r.status = KeyStatus::Inactive as i32; // not in the mask: ignored
    let op = keys.update(r).await.unwrap().into_inner();
    assert!(op.done, "updates complete in the same commit");
    let got = keys
        .get(GetAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (got.name.as_str(), got.description.as_str()),
        ("renamed", "new description")
    );
    assert_eq!(got.labels.len(), 1);
    assert_eq!(got.status, KeyStatus::Active as i32);

    // Sign once so the key is in the cache; deactivation must still take effect at once.
    crypto.sign(sign_req(&key, b"m")).await.unwrap();
    let mut r = update(&key, &["status"]);
    r.status = KeyStatus::Inactive as i32;
    keys.update(r).await.unwrap();
    assert_code(
        crypto.sign(sign_req(&key, b"m")).await,
        Code::FailedPrecondition,
    );
    assert_code(
        crypto
            .sign_hash(AsymmetricSignHashRequest {
                key_id: key.clone(),
                hash: vec![0u8; 32],
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_code(
        crypto
            .get_public_key(AsymmetricGetPublicKeyRequest {
                key_id: key.clone(),
            })
            .await,
        Code::FailedPrecondition,
    );
    let mut r = update(&key, &["status"]);
    r.status = KeyStatus::Active as i32;
    keys.update(r).await.unwrap();
    crypto.sign(sign_req(&key, b"m")).await.unwrap();

    // Clearing a label set through the mask with an empty map removes them.
    keys.update(update(&key, &["labels"])).await.unwrap();
    let got = keys
        .get(GetAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(got.labels.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_protection_and_deleted_keys_are_gone() {
    let server = TestServer::builder().start().await;
    let mut keys = server.keys();
    let mut crypto = server.crypto();
    let mut r = create("default", Algorithm::EcdsaSecp256k1Sha256);
    r.deletion_protection = true;
    let op = server
        .wait(keys.create(r).await.unwrap().into_inner())
        .await;
    let Some(operation::Result::Response(any)) = op.result else {
        panic!()
    };
    let key = AsymmetricSignatureKey::decode(any.value.as_ref())
        .unwrap()
        .id;
    crypto.sign(sign_req(&key, b"cache me")).await.unwrap();

    assert_code(
        keys.delete(DeleteAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
        })
        .await,
        Code::FailedPrecondition,
    );
    keys.update(update(&key, &["deletion_protection"]))
        .await
        .unwrap();
    let op = keys
        .delete(DeleteAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(op.done);
    let Some(operation::Result::Response(any)) = &op.result else {
        panic!("{op:?}")
    };
    assert_eq!(
        any.type_url,
        "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKey"
    );
    assert_eq!(
        AsymmetricSignatureKey::decode(any.value.as_ref())
            .unwrap()
            .id,
        key
    );
    let meta =
        DeleteAsymmetricSignatureKeyMetadata::decode(op.metadata.as_ref().unwrap().value.as_ref())
            .unwrap();
    assert_eq!(meta.key_id, key);

    assert_code(
        keys.get(GetAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
        })
        .await,
        Code::NotFound,
    );
    assert_code(crypto.sign(sign_req(&key, b"m")).await, Code::NotFound);
    assert_code(
        crypto
            .get_public_key(AsymmetricGetPublicKeyRequest {
                key_id: key.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        keys.delete(DeleteAsymmetricSignatureKeyRequest {
            key_id: key.clone(),
        })
        .await,
        Code::NotFound,
    );
    assert_code(
        keys.list_operations(ListAsymmetricSignatureKeyOperationsRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );
    let listed = keys
        .list(ListAsymmetricSignatureKeysRequest {
            folder_id: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.keys.iter().all(|k| k.id != key));
    // The delete operation itself stays readable.
    let again = server
        .operations()
        .get(GetOperationRequest {
            operation_id: op.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, op.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_list_operations_paginate() {
    let server = TestServer::builder().start().await;
    let mut keys = server.keys();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(new_key(&server, "pages", Algorithm::EcdsaP256Sha256).await);
    }
    new_key(&server, "other-folder", Algorithm::EcdsaP256Sha256).await;
    ids.sort();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = keys
            .list(ListAsymmetricSignatureKeysRequest {
                folder_id: "pages".into(),
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.keys.len() <= 2);
        seen.extend(page.keys.into_iter().map(|k| k.id));
        if page.next_page_token.is_empty() {
            break;
        }
        // A token is bound to its listing: another folder's listing refuses it.
        assert_invalid(
            keys.list(ListAsymmetricSignatureKeysRequest {
                folder_id: "other-folder".into(),
                page_size: 2,
                page_token: page.next_page_token.clone(),
            })
            .await,
            "page_token",
        );
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "stable order (by id), no gaps, no duplicates");

    let all = keys
        .list(ListAsymmetricSignatureKeysRequest {
            folder_id: "pages".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.keys.len(), 5);
    assert!(all.next_page_token.is_empty());

    // Operations of one key: its create plus three updates.
    let key = ids[0].clone();
    for i in 0..3 {
        // The test clock only moves when told; operations are listed by (created_at, id).
        server.clock.advance(std::time::Duration::from_millis(1));
        let mut r = update(&key, &["description"]);
        r.description = format!("v{i}");
        keys.update(r).await.unwrap();
    }
    let mut ops = Vec::new();
    let mut token = String::new();
    loop {
        let page = keys
            .list_operations(ListAsymmetricSignatureKeyOperationsRequest {
                key_id: key.clone(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        ops.extend(page.operations);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(ops.len(), 4);
    assert!(ops.iter().all(|o| o.done));
    let mut unique: Vec<_> = ops.iter().map(|o| o.id.clone()).collect();
    unique.dedup();
    assert_eq!(unique.len(), 4);
    assert_eq!(ops[0].description, "Create asymmetric signature key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_finished_operation_returns_it_unchanged() {
    let server = TestServer::builder().start().await;
    let op = server
        .keys()
        .create(create("default", Algorithm::EcdsaP256Sha256))
        .await
        .unwrap()
        .into_inner();
    let done = server.wait(op).await;
    let cancelled = server
        .operations()
        .cancel(CancelOperationRequest {
            operation_id: done.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled, done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_request_and_trace_ids() {
    let server = TestServer::builder().start().await;
    let mut keys = server.keys();
    let mut req = tonic::Request::new(ListAsymmetricSignatureKeysRequest {
        folder_id: "default".into(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("x-request-id", "client-chosen-id-1".parse().unwrap());
    let resp = keys.list(req).await.unwrap();
    assert_eq!(
        resp.metadata().get("x-request-id").unwrap(),
        "client-chosen-id-1"
    );
    assert!(resp.metadata().get("x-server-trace-id").is_some());

    let resp = keys
        .list(ListAsymmetricSignatureKeysRequest {
            folder_id: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let generated = resp
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        generated.len(),
        36,
        "a UUID is generated when the client sends none"
    );

    // Errors carry the request id too, in a header and in the RequestInfo detail.
    let mut req = tonic::Request::new(GetAsymmetricSignatureKeyRequest {
        key_id: String::new(),
    });
    req.metadata_mut()
        .insert("x-request-id", "err-id-7".parse().unwrap());
    let status = keys.get(req).await.unwrap_err();
    assert_eq!(
        status
            .get_error_details()
            .request_info()
            .unwrap()
            .request_id,
        "err-id-7"
    );
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "err-id-7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_path_is_served_from_the_key_cache_and_updates_invalidate_it() {
    use std::sync::atomic::Ordering;
    let server = TestServer::builder().start().await;
    let key = new_key(&server, "default", Algorithm::EcdsaP256Sha256).await;
    let stats = &server.kms().vault().stats;
    let mut crypto = server.crypto();

    crypto.sign(sign_req(&key, b"first")).await.unwrap();
    let (h0, m0) = (
        stats.hits.load(Ordering::SeqCst),
        stats.misses.load(Ordering::SeqCst),
    );
    for _ in 0..20 {
        crypto.sign(sign_req(&key, b"again")).await.unwrap();
    }
    assert_eq!(
        stats.misses.load(Ordering::SeqCst),
        m0,
        "no further misses: the key stays cached"
    );
    assert_eq!(stats.hits.load(Ordering::SeqCst), h0 + 20);

    let mut r = update(&key, &["description"]);
    r.description = "changed".into();
    server.keys().update(r).await.unwrap();
    crypto.sign(sign_req(&key, b"after update")).await.unwrap();
    assert_eq!(
        stats.misses.load(Ordering::SeqCst),
        m0 + 1,
        "the update evicted the cached key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused_and_the_server_lives_on() {
    let server = TestServer::builder().start().await;
    let key = new_key(&server, "default", Algorithm::EcdsaP256Sha256).await;
    let huge = vec![0u8; (1 << 20) + 1];
    let status = server
        .crypto()
        .sign(sign_req(&key, &huge))
        .await
        .unwrap_err();
    // tonic refuses an over-limit message before decoding it, with OUT_OF_RANGE.
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    server
        .crypto()
        .sign(sign_req(&key, b"still here"))
        .await
        .unwrap();
}

/// A Sign request whose `key_id` (field 1) carries bytes that are not UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawSignRequest {
    #[prost(bytes = "vec", tag = "1")]
    key_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    message: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_string_field_is_invalid_argument() {
    let server = TestServer::builder().start().await;
    let key = new_key(&server, "default", Algorithm::EcdsaP256Sha256).await;
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    grpc.ready().await.unwrap();
    let mut req = tonic::Request::new(RawSignRequest {
        key_id: vec![0x61, 0xff, 0xfe, 0x62],
        message: b"m".to_vec(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let path = http::uri::PathAndQuery::from_static(
        "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign",
    );
    let codec = tonic_prost::ProstCodec::<RawSignRequest, AsymmetricSignResponse>::default();
    let status = grpc.unary(req, path, codec).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // The server is fine afterwards.
    server.crypto().sign(sign_req(&key, b"ok")).await.unwrap();
}
