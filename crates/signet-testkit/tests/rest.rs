//! The REST/JSON gateway driven with `curl`, for the flows of Yandex's REST documentation:
//! create a key, poll its operation, sign, sign a hash, fetch the public key, verify with
//! openssl; then updates, listing with query parameters, cancel over GET and POST, deletion, the
//! operational endpoints, and every class of error with its HTTP status and JSON body.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use serde_json::{Value, json};
use signet_crypto::Algorithm;
use signet_testkit::{TestServer, openssl_verify};
use std::process::Command;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Reply {
    status: u16,
    headers: String,
    body: Value,
    raw: String,
}

/// One `curl` call. The token travels in a header file, never on the command line.
fn curl(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    curl_with(server, method, path, token, body, &[])
}

fn curl_with(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    extra: &[&str],
) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let headers_out = dir.path().join("headers");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-X", method, "-D"])
        .arg(&headers_out)
        .args(["-w", "\n%{http_code}", "--max-time", "30"])
        .args(extra);
    if let Some(token) = token {
        let file = dir.path().join("auth");
        std::fs::write(&file, format!("Authorization: Bearer {token}\n")).unwrap();
        cmd.arg("-H").arg(format!("@{}", file.display()));
    }
    if let Some(body) = body {
        let file = dir.path().join("body");
        std::fs::write(&file, body).unwrap();
        cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(format!("@{}", file.display()));
    }
    cmd.arg(format!("http://{}{}", server.addr(), path));
    let out = cmd.output().expect("curl runs");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (raw, code) = text.rsplit_once('\n').unwrap();
    Reply {
        status: code.parse().unwrap(),
        headers: std::fs::read_to_string(&headers_out)
            .unwrap()
            .to_ascii_lowercase(),
        body: serde_json::from_str(raw).unwrap_or(Value::Null),
        raw: raw.to_owned(),
    }
}

fn wait_done(server: &TestServer, token: &str, op: &Value) -> Value {
    let id = op["id"].as_str().unwrap();
    for _ in 0..600 {
        let r = curl(
            server,
            "GET",
            &format!("/operations/{id}"),
            Some(token),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.raw);
        if r.body["done"] == true {
            return r.body;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("operation {id} did not finish");
}

fn create_key(server: &TestServer, token: &str, name: &str, alg: &str) -> String {
    let body = json!({
        "folderId": "default",
        "name": name,
        "description": "made over REST",
        "labels": {"env": "test"},
        "signatureAlgorithm": alg,
    });
    let r = curl(
        server,
        "POST",
        "/kms/v1/asymmetricSignatureKeys",
        Some(token),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let done = wait_done(server, token, &r.body);
    done["response"]["id"].as_str().unwrap().to_owned()
}

fn assert_error(r: &Reply, http: u16, code: i32) {
    assert_eq!(r.status, http, "{}", r.raw);
    assert_eq!(r.body["code"], code, "{}", r.raw);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.raw
    );
    let details = r.body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {}", r.raw));
    assert!(
        details.iter().any(
            |d| d["@type"] == "type.googleapis.com/google.rpc.RequestInfo"
                && d["requestId"].as_str().is_some_and(|id| !id.is_empty())
        ),
        "no RequestInfo: {}",
        r.raw
    );
    assert!(
        r.headers.contains("content-type: application/json"),
        "{}",
        r.headers
    );
}

fn bad_request_fields(r: &Reply) -> Vec<String> {
    r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .flat_map(|d| d["fieldViolations"].as_array().unwrap().clone())
        .map(|v| v["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yandex_rest_flow_with_curl_and_openssl() {
    let server = TestServer::builder().start().await;
    let token = server.token.clone();
    let s = &server;
    let t = token.as_str();

    // 1–2. Create a key and poll its operation.
    let body = json!({
        "folderId": "default",
        "name": "rest-key",
        "signatureAlgorithm": "ECDSA_NIST_P256_SHA_256",
        "deletionProtection": true,
    });
    let r = curl(
        s,
        "POST",
        "/kms/v1/asymmetricSignatureKeys",
        Some(t),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.headers.contains("x-request-id: "), "{}", r.headers);
    assert!(r.headers.contains("x-server-trace-id: "), "{}", r.headers);
    assert_eq!(
        r.body["metadata"]["@type"],
        "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.CreateAsymmetricSignatureKeyMetadata"
    );
    let key_id = r.body["metadata"]["keyId"].as_str().unwrap().to_owned();
    let created_at = r.body["createdAt"].as_str().unwrap();
    assert!(created_at.ends_with('Z'), "RFC 3339 in UTC: {created_at}");
    let done = wait_done(s, t, &r.body);
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKey"
    );
    assert_eq!(done["response"]["id"], key_id.as_str());
    assert_eq!(done["response"]["status"], "ACTIVE");
    assert_eq!(
        done["response"]["signatureAlgorithm"],
        "ECDSA_NIST_P256_SHA_256"
    );
    assert_eq!(done["response"]["deletionProtection"], true);

    // 3. Sign a message.
    let message = b"signed over REST with curl";
    let r = curl(
        s,
        "POST",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}:sign"),
        Some(t),
        Some(&json!({"message": B64.encode(message)}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["keyId"], key_id.as_str());
    let signature = B64.decode(r.body["signature"].as_str().unwrap()).unwrap();

    // 4. Sign a hash.
    let digest = signet_crypto::sha256(b"a prehashed document");
    let r = curl(
        s,
        "POST",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}:signHash"),
        Some(t),
        Some(&json!({"hash": B64.encode(digest)}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let hash_signature = B64.decode(r.body["signature"].as_str().unwrap()).unwrap();

    // 5. Fetch the public key.
    let r = curl(
        s,
        "GET",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}/publicKey"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let pem = r.body["publicKey"].as_str().unwrap().to_owned();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");

    // 6. openssl verifies both, and rejects a signature over another message.
    let alg = Algorithm::EcdsaP256Sha256;
    assert!(openssl_verify(alg, &pem, message, false, &signature));
    assert!(openssl_verify(alg, &pem, &digest, true, &hash_signature));
    assert!(!openssl_verify(
        alg,
        &pem,
        b"another message",
        false,
        &signature
    ));

    // Get, and List with query parameters (int64 page size as a string, paging by token).
    let r = curl(
        s,
        "GET",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["name"], "rest-key");
    let second = create_key(s, t, "second", "RSA_2048_SIGN_PSS_SHA_256");
    let r = curl(
        s,
        "GET",
        "/kms/v1/asymmetricSignatureKeys?folderId=default&pageSize=1",
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["keys"].as_array().unwrap().len(), 1);
    let next = r.body["nextPageToken"].as_str().unwrap().to_owned();
    let r = curl(
        s,
        "GET",
        &format!("/kms/v1/asymmetricSignatureKeys?folder_id=default&page_size=1&pageToken={next}"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let ids: Vec<&str> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);

    // PATCH with a mask changes only the masked field.
    let r = curl(
        s,
        "PATCH",
        &format!("/kms/v1/asymmetricSignatureKeys/{second}"),
        Some(t),
        Some(
            &json!({"updateMask": "description", "description": "patched", "name": "ignored"})
                .to_string(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let done = wait_done(s, t, &r.body);
    assert_eq!(done["response"]["description"], "patched");
    assert_eq!(done["response"]["name"], "second");
    assert_eq!(done["response"]["labels"]["env"], "test");
    // Without a mask every field is overwritten: absent ones (labels here) are reset.
    let r = curl(
        s,
        "PATCH",
        &format!("/kms/v1/asymmetricSignatureKeys/{second}"),
        Some(t),
        Some(&json!({"name": "renamed", "status": "INACTIVE"}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let done = wait_done(s, t, &r.body);
    assert_eq!(done["response"]["name"], "renamed");
    assert_eq!(done["response"]["status"], "INACTIVE");
    assert!(done["response"].get("labels").is_none(), "{}", done);
    assert!(done["response"].get("description").is_none(), "{}", done);

    // An inactive key does not sign: FAILED_PRECONDITION is HTTP 400.
    let r = curl(
        s,
        "POST",
        &format!("/kms/v1/asymmetricSignatureKeys/{second}:sign"),
        Some(t),
        Some(&json!({"message": "AA=="}).to_string()),
    );
    assert_error(&r, 400, 9);

    // Cancel is served over GET (the proto) and POST (the design guide); cancelling a finished
    // operation changes nothing and answers the operation.
    let op_id = done["id"].as_str().unwrap();
    for verb in ["GET", "POST"] {
        let r = curl(
            s,
            verb,
            &format!("/operations/{op_id}:cancel"),
            Some(t),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["id"], op_id);
        assert_eq!(r.body["response"]["status"], "INACTIVE");
    }

    // Access bindings over REST.
    let r = curl(
        s,
        "GET",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}:listAccessBindings"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);

    // Deletion protection, then deletion.
    let r = curl(
        s,
        "DELETE",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
        Some(t),
        None,
    );
    assert_error(&r, 400, 9);
    let r = curl(
        s,
        "DELETE",
        &format!("/kms/v1/asymmetricSignatureKeys/{second}"),
        Some(t),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let done = wait_done(s, t, &r.body);
    assert_eq!(done["response"]["id"], second.as_str());
    let r = curl(
        s,
        "GET",
        &format!("/kms/v1/asymmetricSignatureKeys/{second}"),
        Some(t),
        None,
    );
    assert_error(&r, 404, 5);

    // HTTP/2 without TLS (prior knowledge) reaches the same gateway.
    let r = curl_with(
        s,
        "GET",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
        Some(t),
        None,
        &["--http2-prior-knowledge"],
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.headers.starts_with("http/2 200"), "{}", r.headers);

    // Endpoint discovery needs no token.
    let r = curl(s, "GET", "/endpoints", None, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        r.body["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == "kms")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_class_has_its_status_and_json_body() {
    let server = TestServer::builder().start().await;
    let token = server.token.clone();
    let s = &server;
    let t = token.as_str();
    let key_id = create_key(s, t, "errors", "ECDSA_NIST_P256_SHA_256");
    let sign_path = format!("/kms/v1/asymmetricSignatureKeys/{key_id}:sign");

    // UNAUTHENTICATED: no token, a wrong token.
    assert_error(
        &curl(
            s,
            "GET",
            &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
            None,
            None,
        ),
        401,
        16,
    );
    assert_error(
        &curl(
            s,
            "GET",
            &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
            Some("wrong"),
            None,
        ),
        401,
        16,
    );

    // PERMISSION_DENIED: a signer may sign but not read the key's metadata or update it; with no
    // role at all the key is NOT_FOUND (its existence is hidden).
    let account = s.create_service_account("default", "rest-signer").await;
    let other = s.create_service_account("default", "rest-stranger").await;
    let bind = json!({"accessBindingDeltas": [{"action": "ADD", "accessBinding": {
        "roleId": "kms.asymmetricSignatureKeys.signer",
        "subject": {"id": account, "type": "serviceAccount"}}}]});
    let r = curl(
        s,
        "POST",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}:updateAccessBindings"),
        Some(t),
        Some(&bind.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    wait_done(s, t, &r.body);
    let signer = s.token_for(&account).await;
    let stranger = s.token_for(&other).await;
    let r = curl(
        s,
        "POST",
        &sign_path,
        Some(&signer),
        Some(&json!({"message": "aGk="}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = curl(
        s,
        "PATCH",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
        Some(&signer),
        Some(&json!({"updateMask": "name", "name": "x"}).to_string()),
    );
    assert_error(&r, 403, 7);
    assert_error(
        &curl(
            s,
            "POST",
            &sign_path,
            Some(&stranger),
            Some(&json!({"message": "aGk="}).to_string()),
        ),
        404,
        5,
    );

    // NOT_FOUND: unknown key, unknown operation, unknown REST path.
    assert_error(
        &curl(
            s,
            "GET",
            "/kms/v1/asymmetricSignatureKeys/abj00000000000000000",
            Some(t),
            None,
        ),
        404,
        5,
    );
    assert_error(
        &curl(s, "GET", "/operations/abj00000000000000000", Some(t), None),
        404,
        5,
    );
    assert_error(&curl(s, "GET", "/no/such/resource", Some(t), None), 404, 5);

    // Wrong HTTP method on a known path: 405 with Allow.
    let r = curl(
        s,
        "PUT",
        &format!("/kms/v1/asymmetricSignatureKeys/{key_id}"),
        Some(t),
        Some("{}"),
    );
    assert_error(&r, 405, 12);
    assert!(r.headers.contains("allow: "), "{}", r.headers);

    // INVALID_ARGUMENT with the field named in a BadRequest detail.
    let r = curl(s, "POST", "/kms/v1/asymmetricSignatureKeys", Some(t), Some(&json!({"folderId": "default", "signatureAlgorithm": "ECDSA_NIST_P256_SHA_256", "labels": {"1bad": "x"}}).to_string()));
    assert_error(&r, 400, 3);
    assert_eq!(bad_request_fields(&r), vec!["labels"], "{}", r.raw);
    let r = curl(
        s,
        "POST",
        &sign_path,
        Some(t),
        Some(&json!({"message": B64.encode(vec![0u8; 32769])}).to_string()),
    );
    assert_error(&r, 400, 3);
    assert_eq!(bad_request_fields(&r), vec!["message"], "{}", r.raw);
    let r = curl(
        s,
        "GET",
        "/kms/v1/asymmetricSignatureKeys?folderId=default&pageSize=1001",
        Some(t),
        None,
    );
    assert_error(&r, 400, 3);
    assert_eq!(bad_request_fields(&r), vec!["page_size"], "{}", r.raw);

    // Bodies the gateway cannot read: not JSON, not an object, unknown fields, bad base64,
    // unknown enum names, int64 that is not a number, unknown query parameters.
    for body in [
        "not json",
        "[1,2]",
        r#"{"message": "aGk=", "mesage": "aGk="}"#,
        r#"{"message": "***not base64***"}"#,
        r#"{"message": 12}"#,
    ] {
        assert_error(&curl(s, "POST", &sign_path, Some(t), Some(body)), 400, 3);
    }
    let r = curl(
        s,
        "POST",
        "/kms/v1/asymmetricSignatureKeys",
        Some(t),
        Some(r#"{"folderId": "default", "signatureAlgorithm": "NO_SUCH_ALGORITHM"}"#),
    );
    assert_error(&r, 400, 3);
    assert_error(
        &curl(
            s,
            "GET",
            "/kms/v1/asymmetricSignatureKeys?folderId=default&pageSize=ten",
            Some(t),
            None,
        ),
        400,
        3,
    );
    assert_error(
        &curl(
            s,
            "GET",
            "/kms/v1/asymmetricSignatureKeys?folderId=default&color=red",
            Some(t),
            None,
        ),
        400,
        3,
    );
    assert_error(
        &curl(
            s,
            "GET",
            &format!("/kms/v1/asymmetricSignatureKeys/{key_id}/publicKey"),
            Some(t),
            Some(r#"{"keyId": "x"}"#),
        ),
        400,
        3,
    );

    // A gigantic body: OUT_OF_RANGE, before any parsing.
    let huge = format!(r#"{{"message": "{}"}}"#, "A".repeat(2 << 20));
    assert_error(&curl(s, "POST", &sign_path, Some(t), Some(&huge)), 400, 11);

    // UNIMPLEMENTED RPCs answer 501.
    let account_path = format!("/iam/v1/serviceAccounts/{account}");
    let r = curl(
        s,
        "PATCH",
        &account_path,
        Some(t),
        Some(&json!({"updateMask": "description", "description": "x"}).to_string()),
    );
    assert_error(&r, 501, 12);

    // The server lives on and the key still signs.
    let r = curl(
        s,
        "POST",
        &sign_path,
        Some(t),
        Some(&json!({"message": "aGk="}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let server = TestServer::builder().start().await;
    let token = server.token.clone();
    let s = &server;
    let raw = |path: &str| {
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}"])
            .arg(format!("http://{}{}", s.addr(), path))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.parse::<u16>().unwrap(), body.to_owned())
    };
    assert_eq!(raw("/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(raw("/readyz"), (200, "ready\n".to_owned()));

    let key_id = create_key(s, &token, "metrics", "ECDSA_NIST_P256_SHA_256");
    for _ in 0..3 {
        let r = curl(
            s,
            "POST",
            &format!("/kms/v1/asymmetricSignatureKeys/{key_id}:sign"),
            Some(&token),
            Some(r#"{"message": "aGk="}"#),
        );
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    curl(
        s,
        "GET",
        "/kms/v1/asymmetricSignatureKeys/abj00000000000000000",
        Some(&token),
        None,
    );
    let (code, text) = raw("/metrics");
    assert_eq!(code, 200);
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        value(r#"signet_requests_total{rpc="AsymmetricSignatureCryptoService/Sign",code="OK"}"#),
        3.0
    );
    assert_eq!(
        value(r#"signet_requests_total{rpc="AsymmetricSignatureKeyService/Get",code="NOT_FOUND"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"signet_request_duration_seconds_count{rpc="AsymmetricSignatureCryptoService/Sign",algorithm="ECDSA_NIST_P256_SHA_256"}"#
        ),
        3.0
    );
    assert!(value("signet_key_cache_hits_total") >= 2.0, "{text}");
    assert!(value("signet_key_cache_misses_total") >= 1.0, "{text}");
    assert!(value("signet_key_cache_entries") >= 1.0, "{text}");
    assert!(value("signet_binding_cache_entries") >= 0.0, "{text}");
    assert!(value("signet_token_cache_entries") >= 0.0, "{text}");
    assert!(value("signet_audit_records_total") >= 5.0, "{text}");
    assert!(value("signet_audit_commits_total") >= 1.0, "{text}");
    value("signet_audit_queue_depth");
    value("signet_operations_in_flight");
    value("signet_db_pool_connections");
    // Nothing secret in the metrics: no token, no key id.
    assert!(!text.contains(&token) && !text.contains(&key_id), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_is_read_with_curl() {
    let server = TestServer::builder().start().await;
    let token = server.token.clone();
    let key = create_key(&server, &token, "audited", "ECDSA_NIST_P256_SHA_256");
    let r = curl(
        &server,
        "GET",
        "/signet/audit/v1/records?pageSize=1000",
        Some(&token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    let records = r.body["records"].as_array().unwrap();
    assert_eq!(records[0]["seq"], "1", "int64 as a string: {}", r.raw);
    assert_eq!(records[0]["version"], 1);
    let stored = server.kms().store().audit_records(1, 1000).await.unwrap();
    assert_eq!(
        records.len() + 1,
        stored.len(),
        "then the listing's own record"
    );
    for (json, stored) in records.iter().zip(&stored) {
        assert_eq!(json["hash"], B64.encode(stored.hash), "{json}");
        assert_eq!(json["prevHash"], B64.encode(stored.prev_hash), "{json}");
        assert_eq!(json["rpc"], stored.event.rpc);
        let time = signet_core::domain::Timestamp::parse_rfc3339(json["time"].as_str().unwrap());
        assert_eq!(time, Some(stored.event.time), "{json}");
    }
    assert!(
        records
            .iter()
            .any(|r| r["resourceId"] == key.as_str() && r["algorithm"] == "ECDSA_NIST_P256_SHA_256"),
        "{}",
        r.raw
    );
    assert!(
        r.body.get("nextPageToken").is_none_or(|t| t == ""),
        "{}",
        r.raw
    );

    // `since` as an RFC 3339 query parameter: nothing is that late.
    let r = curl(
        &server,
        "GET",
        "/signet/audit/v1/records?since=2999-01-01T00:00:00Z&folderId=default",
        Some(&token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        r.body.get("records").is_none_or(|r| r == &json!([])),
        "{}",
        r.raw
    );

    let r = curl(&server, "GET", "/signet/audit/v1/head", Some(&token), None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        r.body["seq"].as_str().unwrap().parse::<i64>().unwrap() > 1,
        "{}",
        r.raw
    );

    // Refusals with their HTTP statuses.
    let r = curl(
        &server,
        "GET",
        "/signet/audit/v1/records?pageSize=1001",
        Some(&token),
        None,
    );
    assert_error(&r, 400, 3);
    let r = curl(
        &server,
        "GET",
        "/signet/audit/v1/records?pageToken=forged",
        Some(&token),
        None,
    );
    assert_error(&r, 400, 3);
    let sa = server.create_service_account("default", "no-role").await;
    let sa_token = server.token_for(&sa).await;
    let r = curl(
        &server,
        "GET",
        "/signet/audit/v1/records?folderId=default",
        Some(&sa_token),
        None,
    );
    assert_error(&r, 403, 7);
    let r = curl(&server, "GET", "/signet/audit/v1/records", None, None);
    assert_error(&r, 401, 16);
}
