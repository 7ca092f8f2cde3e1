//! A database outage under load. Two servers reach PostgreSQL through a TCP proxy, and the
//! test cuts the proxy for a few seconds: that is the outage simulation (the servers see the
//! database go away, connections reset and refused), while the shared PostgreSQL server that
//! other tests use keeps running. The servers run with `audit = "control-plane"` (the full trail
//! needs the database for every call) and a 60 s `cache_outage_grace`.
//!
//! During the outage: signing with cached keys goes on, as an admin and as a service account
//! (key, token and bindings all cached), for longer than the caches' maximum age; control-plane
//! calls fail with UNAVAILABLE, and so does signing with a key no node has cached; no call fails
//! any other way. Afterwards the servers recover by themselves, and every write the load saw
//! acknowledged, before, during (none) and after the outage, is there.
//!
//! A second test runs the same outage with the default grace: signing stops once the caches
//! are older than the consistency bound.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::operation;
use signet_testkit::pg::{Schema, base_url_via, server_addr};
use signet_testkit::proxy::TcpProxy;
use signet_testkit::{TestServer, TestServerBuilder};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long the database stays unreachable.
const OUTAGE: Duration = Duration::from_secs(3);

async fn nodes(
    dir: &std::path::Path,
    url: &str,
    configure: impl Fn(TestServerBuilder) -> TestServerBuilder,
) -> (TestServer, TestServer) {
    let configure = |b: TestServerBuilder| {
        configure(b)
            .store(url)
            .audit("control-plane")
            .store_timeout("1s")
    };
    let first = configure(TestServer::builder())
        .data_dir(&dir.join("n1"))
        .start()
        .await;
    let second = configure(TestServer::builder())
        .data_dir(&dir.join("n2"))
        .root_key_file(&first.dir.join("root.key"))
        .admin_token(&first.token)
        .start()
        .await;
    (first, second)
}

async fn create_key(node: &TestServer, name: &str) -> Result<String, tonic::Code> {
    let op = node
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            name: name.into(),
            signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
            ..Default::default()
        })
        .await
        .map_err(|s| s.code())?
        .into_inner();
    let mut ops = node.operations();
    let mut op = op;
    while !op.done {
        tokio::time::sleep(Duration::from_millis(20)).await;
        op = ops
            .get(
                signet_proto::yandex::cloud::operation::GetOperationRequest {
                    operation_id: op.id.clone(),
                },
            )
            .await
            .map_err(|s| s.code())?
            .into_inner();
    }
    match op.result {
        Some(operation::Result::Response(any)) => {
            Ok(AsymmetricSignatureKey::decode(any.value.as_ref())
                .unwrap()
                .id)
        }
        other => panic!("creation failed: {other:?}"),
    }
}

async fn sign(node: &TestServer, key: &str, token: Option<&str>) -> Result<(), tonic::Code> {
    let mut crypto = match token {
        Some(t) => node.crypto_as(Some(t)),
        None => node.crypto(),
    };
    crypto
        .sign(AsymmetricSignRequest {
            key_id: key.into(),
            message: b"during the outage".to_vec(),
        })
        .await
        .map(drop)
        .map_err(|s| s.code())
}

async fn get(node: &TestServer, key: &str) -> Result<AsymmetricSignatureKey, tonic::Code> {
    node.keys()
        .get(GetAsymmetricSignatureKeyRequest { key_id: key.into() })
        .await
        .map(|r| r.into_inner())
        .map_err(|s| s.code())
}

async fn rename(node: &TestServer, key: &str, name: &str) -> Result<(), tonic::Code> {
    node.keys()
        .update(UpdateAsymmetricSignatureKeyRequest {
            key_id: key.into(),
            update_mask: Some(signet_proto::wkt::FieldMask {
                paths: vec!["name".into()],
            }),
            name: name.into(),
            ..Default::default()
        })
        .await
        .map(drop)
        .map_err(|s| s.code())
}

/// What the load saw acknowledged, and what it tried without an answer.
#[derive(Debug, Default)]
struct Acknowledged {
    /// Keys whose creation finished.
    created: Vec<String>,
    /// The last name of the renamed key that an Update acknowledged.
    name: Option<String>,
    /// Names sent after it whose Update failed: one of them may have landed.
    unanswered: Vec<String>,
    /// Every error code the load saw.
    errors: Vec<tonic::Code>,
    calls: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_keeps_cached_signing_fails_the_control_plane_and_heals() {
    let schema = Schema::fresh("outage");
    let proxy = TcpProxy::start(server_addr()).await;
    let url = schema.url_at(&base_url_via(proxy.addr()));
    let dir = tempfile::tempdir().unwrap();
    let (node1, node2) = nodes(dir.path(), &url, |b| b.cache_outage_grace("60s")).await;
    let (node1, node2) = (Arc::new(node1), Arc::new(node2));

    let key = create_key(&node1, "cached").await.unwrap();
    let renamed = create_key(&node1, "renamed-0").await.unwrap();
    let uncached = create_key(&node1, "uncached").await.unwrap();
    let sa = node1
        .create_service_account("default", "outage-signer")
        .await;
    let token = node1.token_for(&sa).await;
    node1
        .set_key_role(&key, "kms.asymmetricSignatureKeys.signer", &sa)
        .await;
    // Both nodes sign (and cache the key, the token and the bindings).
    for node in [&node1, &node2] {
        sign(node, &key, None).await.unwrap();
        sign(node, &key, Some(&token)).await.unwrap();
    }

    // The load: signs with the cached key on both nodes, creates keys and renames one, until
    // told to stop; it records what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Acknowledged::default()));
    let load = {
        let (node1, node2, stop, seen) = (
            Arc::clone(&node1),
            Arc::clone(&node2),
            Arc::clone(&stop),
            Arc::clone(&seen),
        );
        let (key, renamed) = (key.clone(), renamed.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let node = if n.is_multiple_of(2) { &node1 } else { &node2 };
                let signed = sign(node, &key, None).await;
                let created = create_key(node, &format!("load-{n}")).await;
                let name = format!("renamed-{n}");
                let renamed_to = rename(node, &renamed, &name).await;
                let mut seen = seen.lock().await;
                seen.calls += 3;
                for e in [
                    signed.err(),
                    created.as_ref().err().copied(),
                    renamed_to.err(),
                ]
                .into_iter()
                .flatten()
                {
                    seen.errors.push(e);
                }
                if let Ok(id) = created {
                    seen.created.push(id);
                }
                match renamed_to {
                    Ok(()) => {
                        seen.name = Some(name);
                        seen.unanswered.clear();
                    }
                    Err(_) => seen.unanswered.push(name),
                }
                drop(seen);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.cut().await;
    let cut_at = Instant::now();
    // Signing with cached keys goes on, on both nodes, as admin and as the service account,
    // well past the caches' maximum age (500 ms); everything else fails UNAVAILABLE.
    let mut signatures = 0;
    while cut_at.elapsed() < OUTAGE {
        for node in [&node1, &node2] {
            assert_eq!(
                sign(node, &key, None).await,
                Ok(()),
                "admin signing stopped"
            );
            assert_eq!(
                sign(node, &key, Some(&token)).await,
                Ok(()),
                "the service account's signing stopped"
            );
            signatures += 2;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        signatures >= 20,
        "only {signatures} signatures in the outage"
    );
    for node in [&node1, &node2] {
        assert_eq!(get(node, &key).await.err(), Some(tonic::Code::Unavailable));
        assert_eq!(
            rename(node, &key, "not-now").await,
            Err(tonic::Code::Unavailable)
        );
        assert_eq!(
            create_key(node, "not-now").await.err(),
            Some(tonic::Code::Unavailable)
        );
        assert_eq!(
            sign(node, &uncached, None).await,
            Err(tonic::Code::Unavailable),
            "a key no node has cached cannot be signed with"
        );
    }

    proxy.restore().await;
    // The nodes recover by themselves: control-plane calls succeed again on both.
    let restored_at = Instant::now();
    for node in [&node1, &node2] {
        loop {
            if get(node, &key).await.is_ok() && create_key(node, "after").await.is_ok() {
                break;
            }
            assert!(
                restored_at.elapsed() < Duration::from_secs(30),
                "a node did not recover"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Let the load run a little after the outage, then stop it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();

    let seen = seen.lock().await;
    assert!(
        seen.errors.iter().all(|c| *c == tonic::Code::Unavailable),
        "the load saw errors other than UNAVAILABLE: {:?}",
        seen.errors
    );
    assert!(!seen.errors.is_empty(), "the load never noticed the outage");
    assert!(seen.created.len() >= 2, "the load did too little: {seen:?}");
    // No acknowledged write is lost.
    for id in &seen.created {
        let found = get(&node2, id).await.unwrap();
        assert_eq!(
            found.status,
            asymmetric_signature_key::Status::Active as i32,
            "{id}"
        );
    }
    let name = get(&node1, &renamed).await.unwrap().name;
    assert!(
        Some(&name) == seen.name.as_ref() || seen.unanswered.contains(&name),
        "the renamed key is called {name}, last acknowledged {:?}",
        seen.name
    );
    // The servers are healthy: signing with fresh loads works again on both.
    for node in [&node1, &node2] {
        assert_eq!(sign(node, &uncached, None).await, Ok(()));
    }
}

/// With the default grace (500 ms), a node signs with cached keys only up to the consistency
/// bound (1 s) into an outage: after that, a change it could not hear of might be in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_grace_signing_stops_at_the_consistency_bound() {
    let schema = Schema::fresh("outage");
    let proxy = TcpProxy::start(server_addr()).await;
    let url = schema.url_at(&base_url_via(proxy.addr()));
    let dir = tempfile::tempdir().unwrap();
    let (node1, _node2) = nodes(dir.path(), &url, |b| b).await;
    let key = create_key(&node1, "cached").await.unwrap();
    sign(&node1, &key, None).await.unwrap();
    proxy.cut().await;
    let cut_at = Instant::now();
    let mut refused = None;
    while cut_at.elapsed() < Duration::from_secs(5) {
        if let Err(code) = sign(&node1, &key, None).await {
            refused = Some((code, cut_at.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _) = refused.expect("signing went on for 5 s with a 1 s bound");
    assert_eq!(code, tonic::Code::Unavailable);
    proxy.restore().await;
}
