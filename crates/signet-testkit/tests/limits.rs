//! Resource limits end to end: the per-folder quota of asymmetric signature keys answers
//! RESOURCE_EXHAUSTED with a QuotaFailure, counts only keys that are not deleted, holds under
//! concurrent creations, and leaves the rest of the server working; requests beyond the
//! in-flight limit and calls beyond a subject's rate are refused (and audited); a client that
//! never finishes its request is cut off at the request deadline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
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

// ---------------------------------------------------------------------------------------------
// Requests in flight, per-subject rates, request deadlines.

fn list_request() -> ListAsymmetricSignatureKeysRequest {
    ListAsymmetricSignatureKeysRequest {
        folder_id: "default".into(),
        ..Default::default()
    }
}

/// How many audit records are RESOURCE_EXHAUSTED refusals that `matches` picks.
async fn audited_refusals(
    server: &TestServer,
    matches: impl Fn(&signet_core::audit::AuditEvent) -> bool,
) -> usize {
    server
        .kms()
        .store()
        .audit_records(1, 1_000_000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.event.outcome == "RESOURCE_EXHAUSTED" && matches(&r.event))
        .count()
}

#[track_caller]
fn assert_limited(status: &tonic::Status, quota: &str, subject: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains(quota), "{status:?}");
    let details = status.get_error_details();
    assert_eq!(
        details.quota_failure().expect("a QuotaFailure").violations[0].subject,
        subject
    );
    assert!(details.request_info().is_some());
}

/// A gRPC call whose request body never finishes: the server holds it in flight until the
/// stream is reset or the request deadline passes. Returns the stream's answer.
async fn slow_call(
    server: &TestServer,
) -> (h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>) {
    slow_call_from(server, LOOPBACK).await
}

/// The default client address of the tests, and another loopback address to be a second
/// client (Linux routes all of 127.0.0.0/8 to the loopback interface).
const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const OTHER_CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// [`slow_call`] on a connection from the local address `from`.
async fn slow_call_from(
    server: &TestServer,
    from: std::net::IpAddr,
) -> (h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let tcp = socket.connect(server.addr()).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{}/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign",
            server.addr()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", server.token))
        .body(())
        .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    // A gRPC frame header announcing 100 bytes, and then nothing.
    body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 100]), false)
        .unwrap();
    (response, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_beyond_the_in_flight_limit_is_refused_and_audited() {
    let server = TestServer::builder()
        .max_concurrent_requests(1)
        .start()
        .await;
    server.keys().list(list_request()).await.unwrap();
    // Once the slow call holds the only place, other calls are refused. (If it arrives while
    // a probe holds the place, it is the one refused: start another.)
    let mut probes = 0;
    let (refused, slow, mut body) = 'attempt: loop {
        let (response, body) = slow_call(&server).await;
        let slow = tokio::spawn(response);
        loop {
            assert!(
                probes < 100_000,
                "no call was refused while a slow one was in flight"
            );
            probes += 1;
            if slow.is_finished() {
                continue 'attempt;
            }
            let id = format!("probe-{probes}");
            let mut req = tonic::Request::new(list_request());
            req.metadata_mut()
                .insert("x-request-id", id.parse().unwrap());
            match server.keys().list(req).await {
                Ok(_) => tokio::task::yield_now().await,
                Err(status) => {
                    assert_limited(&status, "signet.requests.inFlight", "server");
                    break 'attempt (id, slow, body);
                }
            }
        }
    };
    // The slow call is abandoned; its place frees and calls go through again.
    body.send_reset(h2::Reason::CANCEL);
    slow.abort();
    let mut recovered = false;
    for _ in 0..10_000 {
        if server.keys().list(list_request()).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(recovered, "the place was never freed");
    // The refusal is in the audit trail, under its request id.
    let records = server
        .kms()
        .store()
        .audit_records(1, 1_000_000)
        .await
        .unwrap();
    let record = records
        .iter()
        .find(|r| r.event.request_id == refused)
        .expect("the refused call was audited");
    assert_eq!(record.event.outcome, "RESOURCE_EXHAUSTED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_holds_its_place_only_until_the_request_deadline() {
    let server = TestServer::builder()
        .max_concurrent_requests(1)
        .request_timeout("1s")
        .start()
        .await;
    let (response, _body) = slow_call(&server).await;
    // The server gives up on the unfinished request (it does not wait for the body forever).
    let answer = response.await.unwrap();
    let status =
        tonic::Status::from_header_map(answer.headers()).expect("a trailers-only gRPC error");
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    server.keys().list(list_request()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subject_has_its_own_rate_limit_on_the_test_clock() {
    use signet_proto::yandex::cloud::access;
    let server = TestServer::builder().rate_limit(2, 3).start().await;
    let sa = server.create_service_account("default", "rated").await;
    let token = server.token_for(&sa).await;
    // The admin spent 2 of its 3; the service account has 3 (denied calls count too).
    for _ in 0..3 {
        let status = server
            .keys_as(Some(&token))
            .list(list_request())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    let status = server
        .keys_as(Some(&token))
        .list(list_request())
        .await
        .unwrap_err();
    assert_limited(
        &status,
        "signet.requests.perSecond",
        &format!("subject:{sa}"),
    );
    server.keys().list(list_request()).await.unwrap();
    let admin_refused = server.keys().list(list_request()).await.unwrap_err();
    assert_eq!(admin_refused.code(), Code::ResourceExhausted);
    // Unauthenticated calls are not counted against anyone (and are refused as before).
    let status = server.keys_as(None).list(list_request()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // Half a second of the test clock brings one call back; an hour, the burst of 3.
    server.clock.advance(std::time::Duration::from_millis(500));
    server
        .folders()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: "default".into(),
            access_bindings: vec![access::AccessBinding {
                role_id: "kms.viewer".into(),
                subject: Some(access::Subject {
                    id: sa.clone(),
                    r#type: "serviceAccount".into(),
                }),
            }],
        })
        .await
        .unwrap();
    server.clock.advance(std::time::Duration::from_secs(3600));
    for _ in 0..3 {
        server
            .keys_as(Some(&token))
            .list(list_request())
            .await
            .unwrap();
    }
    assert_eq!(
        server
            .keys_as(Some(&token))
            .list(list_request())
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
    // The refusals are audited with the subject.
    assert!(audited_refusals(&server, |e| e.subject == sa).await >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_and_garbage_connections_does_not_stop_service() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::builder().start().await;
    let key = server
        .create_key("default", Algorithm::EcdsaP256Sha256)
        .await;
    let garbage: [&[u8]; 4] = [
        b"",
        b"GET / HTTP/1.1\r\nHost: signet\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\xff\xff\xff",
        &[0xffu8; 64],
    ];
    let mut flood = Vec::new();
    for i in 0..400 {
        let mut conn = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        // Some write nothing at all; the others garbage or a broken preface. Writes to a
        // connection the server already closed may fail, which is fine.
        let _ = conn.write_all(garbage[i % garbage.len()]).await;
        flood.push(conn);
    }
    // Service goes on for well-behaved clients while the flood is held open.
    for _ in 0..3 {
        server
            .crypto()
            .sign(AsymmetricSignRequest {
                key_id: key.clone(),
                message: b"served during the flood".to_vec(),
            })
            .await
            .unwrap();
    }
    server.keys().list(list_request()).await.unwrap();
    drop(flood);
    server.keys().list(list_request()).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Requests in flight per client address; the IAM token exchange's rate per client address.

/// A channel to the server from the local address `from`.
async fn channel_from(server: &TestServer, from: std::net::IpAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .local_address(Some(from))
        .connect()
        .await
        .unwrap()
}

/// The key service as the admin, over a connection from the local address `from`.
async fn keys_from(
    server: &TestServer,
    from: std::net::IpAddr,
) -> AsymmetricSignatureKeyServiceClient<signet_testkit::Authed> {
    let channel = channel_from(server, from).await;
    AsymmetricSignatureKeyServiceClient::with_interceptor(
        channel,
        signet_testkit::Bearer::new(Some(&server.token)),
    )
}

type Held = Vec<(
    tokio::task::JoinHandle<Result<http::Response<h2::RecvStream>, h2::Error>>,
    h2::SendStream<bytes::Bytes>,
)>;

/// Keeps `n` slow calls from `from` open (replacing any that was answered, i.e. refused) while
/// polling `call` (bounded, no timing) until it is refused; returns the refusal.
async fn hold_until_refused<F, Fut>(
    server: &TestServer,
    from: std::net::IpAddr,
    n: usize,
    held: &mut Held,
    mut call: F,
) -> tonic::Status
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    for _ in 0..100_000 {
        held.retain(|(response, _)| !response.is_finished());
        while held.len() < n {
            let (response, body) = slow_call_from(server, from).await;
            held.push((tokio::spawn(response), body));
        }
        match call().await {
            Ok(()) => tokio::task::yield_now().await,
            Err(status) => return status,
        }
    }
    panic!("the call was never refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holding_slow_requests_cannot_take_every_place() {
    // Three places in all, two per client address.
    let server = TestServer::builder()
        .max_concurrent_requests(3)
        .max_requests_per_client(2)
        .start()
        .await;
    let mut other = keys_from(&server, OTHER_CLIENT).await;
    // Once its two places are taken by slow calls, the client's next call is refused...
    let mut held = Held::new();
    let status = hold_until_refused(&server, OTHER_CLIENT, 2, &mut held, || {
        let mut other = other.clone();
        async move { other.list(list_request()).await.map(|_| ()) }
    })
    .await;
    assert_limited(
        &status,
        "signet.requests.inFlightPerClient",
        "client:127.0.0.2",
    );
    other.list(list_request()).await.unwrap_err();
    // ...while another client is served, again and again (it has the third place).
    for _ in 0..20 {
        server.keys().list(list_request()).await.unwrap();
    }
    // The refusal is audited, with the client's address.
    assert!(audited_refusals(&server, |e| e.client_addr.starts_with("127.0.0.2:")).await >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_per_client_cap_one_client_starves_the_others() {
    // What the cap prevents: with it off, three slow calls from one address take every place.
    let server = TestServer::builder()
        .max_concurrent_requests(3)
        .max_requests_per_client(0)
        .start()
        .await;
    let mut held = Held::new();
    let status = hold_until_refused(&server, OTHER_CLIENT, 3, &mut held, || {
        let mut keys = server.keys();
        async move { keys.list(list_request()).await.map(|_| ()) }
    })
    .await;
    assert_limited(&status, "signet.requests.inFlight", "server");
}

/// A token exchange with a JWT that is not one: refused by the handler (UNAUTHENTICATED or
/// INVALID_ARGUMENT), unless a limit refuses it first.
async fn exchange(server: &TestServer, from: std::net::IpAddr) -> tonic::Status {
    use signet_proto::yandex::cloud::iam::v1 as iam;
    iam::iam_token_service_client::IamTokenServiceClient::new(channel_from(server, from).await)
        .create(iam::CreateIamTokenRequest {
            identity: Some(iam::create_iam_token_request::Identity::Jwt(
                "not.a.jwt".into(),
            )),
        })
        .await
        .unwrap_err()
}

/// The REST status of a token exchange (`POST /iam/v1/tokens`), sent with curl.
fn exchange_over_rest(server: &TestServer) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args([
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"jwt": "not.a.jwt"}"#,
        ])
        .arg(format!("http://{}/iam/v1/tokens", server.addr()))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchanges_are_rate_limited_per_client_address_by_default() {
    // Default: 20 per second, bursts of 40, per address; time is the test clock.
    let server = TestServer::builder().start().await;
    for i in 0..40 {
        let status = exchange(&server, LOOPBACK).await;
        assert_ne!(
            status.code(),
            Code::ResourceExhausted,
            "exchange {i}: {status:?}"
        );
    }
    let status = exchange(&server, LOOPBACK).await;
    assert_limited(
        &status,
        "signet.iamTokens.createPerSecond",
        "client:127.0.0.1",
    );
    assert_eq!(exchange_over_rest(&server), "429");
    // Another address has its own bucket; other calls are not limited.
    assert_ne!(
        exchange(&server, OTHER_CLIENT).await.code(),
        Code::ResourceExhausted
    );
    server.keys().list(list_request()).await.unwrap();
    // A twentieth of a second brings one exchange back.
    server.clock.advance(std::time::Duration::from_millis(50));
    assert_ne!(
        exchange(&server, LOOPBACK).await.code(),
        Code::ResourceExhausted
    );
    assert_eq!(
        exchange(&server, LOOPBACK).await.code(),
        Code::ResourceExhausted
    );
    // The refusals are audited.
    assert!(audited_refusals(&server, |e| e.rpc.ends_with("IamTokenService/Create")).await >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchange_rates_are_configurable_and_can_be_off() {
    let server = TestServer::builder()
        .token_exchange_rate(1, Some(2))
        .start()
        .await;
    for _ in 0..2 {
        assert_ne!(
            exchange(&server, LOOPBACK).await.code(),
            Code::ResourceExhausted
        );
    }
    assert_eq!(
        exchange(&server, LOOPBACK).await.code(),
        Code::ResourceExhausted
    );

    let server = TestServer::builder()
        .token_exchange_rate(0, None)
        .start()
        .await;
    for i in 0..100 {
        let status = exchange(&server, LOOPBACK).await;
        assert_ne!(
            status.code(),
            Code::ResourceExhausted,
            "exchange {i}: {status:?}"
        );
    }
}
