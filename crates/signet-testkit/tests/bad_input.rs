//! The table-driven bad-input suite (issue 8): well over 60 malformed, hostile or boundary
//! requests, each stating the exact code it must get and the field its `google.rpc.BadRequest`
//! detail must name. Afterwards the server is alive, every key still signs (verified), every
//! case left exactly one audit record with its outcome, and the audit chain verifies.
//!
//! The table is data: a [`Case`] is a [`Call`] (which RPC, with which request message) and an
//! [`Expect`]ation, independent of the transport. [`Grpc`] is the one [`Transport`] today; a
//! REST transport can run the same table by mapping each `Call` to its HTTP method, path and
//! JSON body (the requests are proto messages, so pbjson gives the body) and answering `None`
//! for the calls that only exist on gRPC ([`Call::RawGrpc`]: undecodable or oversized bytes).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use prost::Message;
use signet_core::audit::{checkpoint_public_key, verify};
use signet_core::domain::Clock as _;
use signet_crypto::Algorithm;
use signet_proto::wkt::FieldMask;
use signet_proto::yandex::cloud::access::{
    AccessBinding, AccessBindingAction, AccessBindingDelta, ListAccessBindingsRequest,
    SetAccessBindingsRequest, Subject, UpdateAccessBindingsRequest,
};
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key::Status as KeyStatus;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::{CancelOperationRequest, GetOperationRequest};
use signet_testkit::TestServer;
use signet_testkit::jwt::{self, b64url, jws};
use std::collections::HashMap;
use tonic::Code;
use tonic_types::StatusExt;

const CRYPTO: &str = "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService";
const KEYS: &str = "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKeyService";
const NO_SUCH_KEY: &str = "abj00000000000000000";
const NO_SUCH_OPERATION: &str = "abj11111111111111111";
const SQL: &str = "abj'; DROP TABLE keys;--";
const PATH: &str = "../../etc/passwd";
const AUDIENCE: &str = signet_core::CANONICAL_JWT_AUDIENCE;

// ---------------------------------------------------------------------------------------------
// The table's vocabulary.

/// One call, as data. Every variant but `RawGrpc` is a proto request, so any transport can send
/// it.
#[derive(Clone, Debug)]
enum Call {
    CreateKey(CreateAsymmetricSignatureKeyRequest),
    GetKey(GetAsymmetricSignatureKeyRequest),
    ListKeys(ListAsymmetricSignatureKeysRequest),
    UpdateKey(UpdateAsymmetricSignatureKeyRequest),
    DeleteKey(DeleteAsymmetricSignatureKeyRequest),
    ListKeyOperations(ListAsymmetricSignatureKeyOperationsRequest),
    ListKeyAccessBindings(ListAccessBindingsRequest),
    SetKeyAccessBindings(SetAccessBindingsRequest),
    UpdateKeyAccessBindings(UpdateAccessBindingsRequest),
    UpdateFolderAccessBindings(UpdateAccessBindingsRequest),
    Sign(AsymmetricSignRequest),
    SignHash(AsymmetricSignHashRequest),
    GetPublicKey(AsymmetricGetPublicKeyRequest),
    GetOperation(GetOperationRequest),
    CancelOperation(CancelOperationRequest),
    /// `IamTokenService.Create`: the JWT exchange (its credential is in the request).
    CreateIamToken(iam::CreateIamTokenRequest),
    /// gRPC only: these bytes as the request message of `path` (a message that does not decode,
    /// or is over the size limit).
    RawGrpc {
        path: String,
        body: Vec<u8>,
    },
}

/// What a case must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Success (the boundary cases just inside a limit).
    Ok,
    /// This code; with `Some(field)`, a BadRequest detail naming exactly that field, with `None`
    /// no BadRequest detail at all.
    Fails(Code, Option<&'static str>),
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    call: Call,
    expect: Expect,
}

fn invalid(name: impl Into<String>, call: Call, field: &'static str) -> Case {
    Case {
        name: name.into(),
        call,
        expect: Expect::Fails(Code::InvalidArgument, Some(field)),
    }
}

fn fails(name: impl Into<String>, call: Call, code: Code) -> Case {
    Case {
        name: name.into(),
        call,
        expect: Expect::Fails(code, None),
    }
}

fn ok(name: impl Into<String>, call: Call) -> Case {
    Case {
        name: name.into(),
        call,
        expect: Expect::Ok,
    }
}

/// What a transport observed for one call.
#[derive(Debug)]
struct Observed {
    code: Code,
    /// The fields named in the BadRequest detail, if there was one.
    bad_request: Option<Vec<String>>,
    /// The request id in the RequestInfo detail, if there was one.
    request_id: Option<String>,
}

trait Transport {
    /// Sends `call` with this request id; `None` when the call does not exist on this
    /// transport.
    async fn send(&mut self, call: &Call, request_id: &str) -> Option<Observed>;
}

// ---------------------------------------------------------------------------------------------
// The gRPC transport.

struct Grpc<'a> {
    server: &'a TestServer,
}

fn with_id<T>(message: T, request_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    request
}

fn observe<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Observed {
    match result {
        Ok(_) => Observed {
            code: Code::Ok,
            bad_request: None,
            request_id: None,
        },
        Err(status) => {
            let details = status.get_error_details();
            Observed {
                code: status.code(),
                bad_request: details
                    .bad_request()
                    .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()),
                request_id: details.request_info().map(|r| r.request_id.clone()),
            }
        }
    }
}

/// A request or response message carried as raw bytes: encoded verbatim, decoded by skipping.
#[derive(Clone, Debug, Default, PartialEq)]
struct RawBody(Vec<u8>);

impl Message for RawBody {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl prost::bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

impl Transport for Grpc<'_> {
    async fn send(&mut self, call: &Call, id: &str) -> Option<Observed> {
        let s = self.server;
        Some(match call.clone() {
            Call::CreateKey(r) => observe(s.keys().create(with_id(r, id)).await),
            Call::GetKey(r) => observe(s.keys().get(with_id(r, id)).await),
            Call::ListKeys(r) => observe(s.keys().list(with_id(r, id)).await),
            Call::UpdateKey(r) => observe(s.keys().update(with_id(r, id)).await),
            Call::DeleteKey(r) => observe(s.keys().delete(with_id(r, id)).await),
            Call::ListKeyOperations(r) => observe(s.keys().list_operations(with_id(r, id)).await),
            Call::ListKeyAccessBindings(r) => {
                observe(s.keys().list_access_bindings(with_id(r, id)).await)
            }
            Call::SetKeyAccessBindings(r) => {
                observe(s.keys().set_access_bindings(with_id(r, id)).await)
            }
            Call::UpdateKeyAccessBindings(r) => {
                observe(s.keys().update_access_bindings(with_id(r, id)).await)
            }
            Call::UpdateFolderAccessBindings(r) => {
                observe(s.folders().update_access_bindings(with_id(r, id)).await)
            }
            Call::Sign(r) => observe(s.crypto().sign(with_id(r, id)).await),
            Call::SignHash(r) => observe(s.crypto().sign_hash(with_id(r, id)).await),
            Call::GetPublicKey(r) => observe(s.crypto().get_public_key(with_id(r, id)).await),
            Call::GetOperation(r) => observe(s.operations().get(with_id(r, id)).await),
            Call::CancelOperation(r) => observe(s.operations().cancel(with_id(r, id)).await),
            Call::CreateIamToken(r) => observe(s.iam_tokens().create(with_id(r, id)).await),
            Call::RawGrpc { path, body } => {
                let mut grpc = tonic::client::Grpc::new(s.channel.clone());
                grpc.ready().await.unwrap();
                let mut request = with_id(RawBody(body), id);
                request.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {}", s.token).parse().unwrap(),
                );
                let codec = tonic_prost::ProstCodec::<RawBody, RawBody>::default();
                let path = http::uri::PathAndQuery::try_from(path).unwrap();
                observe(grpc.unary(request, path, codec).await)
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The REST transport: the same calls as HTTP requests through the gateway, sent with `curl`.

struct Rest<'a> {
    server: &'a TestServer,
}

/// The HTTP method, path and JSON body (or query) of `call`, by the `google.api.http` rules;
/// `None` for calls REST cannot express as the case means them: raw gRPC bytes, a request that
/// has no proto3 JSON form (an enum number the schema does not name), an empty path variable (no
/// such URL), or an Update without a mask (over REST that means "overwrite everything").
fn rest_request(call: &Call) -> Option<(&'static str, String, serde_json::Value)> {
    fn json<T: serde::Serialize>(m: &T) -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::to_value(m).ok()? {
            serde_json::Value::Object(o) => Some(o),
            _ => None,
        }
    }
    /// Takes the path variable out of the fields, percent-encoded; `None` if it is empty.
    fn var(fields: &mut serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
        let value = fields.remove(name)?;
        let value = value.as_str().filter(|v| !v.is_empty())?.to_owned();
        Some(
            percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        )
    }
    const K: &str = "/kms/v1/asymmetricSignatureKeys";
    let (method, path, fields) = match call {
        Call::CreateKey(r) => ("POST", K.to_owned(), json(r)?),
        Call::GetKey(r) => {
            let mut f = json(r)?;
            ("GET", format!("{K}/{}", var(&mut f, "keyId")?), f)
        }
        Call::ListKeys(r) => ("GET", K.to_owned(), json(r)?),
        Call::UpdateKey(r) => {
            if r.update_mask.as_ref().is_none_or(|m| m.paths.is_empty()) {
                return None;
            }
            let mut f = json(r)?;
            ("PATCH", format!("{K}/{}", var(&mut f, "keyId")?), f)
        }
        Call::DeleteKey(r) => {
            let mut f = json(r)?;
            ("DELETE", format!("{K}/{}", var(&mut f, "keyId")?), f)
        }
        Call::ListKeyOperations(r) => {
            let mut f = json(r)?;
            (
                "GET",
                format!("{K}/{}/operations", var(&mut f, "keyId")?),
                f,
            )
        }
        Call::ListKeyAccessBindings(r) => {
            let mut f = json(r)?;
            let id = var(&mut f, "resourceId")?;
            ("GET", format!("{K}/{id}:listAccessBindings"), f)
        }
        Call::SetKeyAccessBindings(r) => {
            let mut f = json(r)?;
            let id = var(&mut f, "resourceId")?;
            ("POST", format!("{K}/{id}:setAccessBindings"), f)
        }
        Call::UpdateKeyAccessBindings(r) => {
            let mut f = json(r)?;
            let id = var(&mut f, "resourceId")?;
            ("POST", format!("{K}/{id}:updateAccessBindings"), f)
        }
        Call::UpdateFolderAccessBindings(r) => {
            let mut f = json(r)?;
            let id = var(&mut f, "resourceId")?;
            (
                "POST",
                format!("/resource-manager/v1/folders/{id}:updateAccessBindings"),
                f,
            )
        }
        Call::Sign(r) => {
            let mut f = json(r)?;
            ("POST", format!("{K}/{}:sign", var(&mut f, "keyId")?), f)
        }
        Call::SignHash(r) => {
            let mut f = json(r)?;
            ("POST", format!("{K}/{}:signHash", var(&mut f, "keyId")?), f)
        }
        Call::GetPublicKey(r) => {
            let mut f = json(r)?;
            ("GET", format!("{K}/{}/publicKey", var(&mut f, "keyId")?), f)
        }
        Call::GetOperation(r) => {
            let mut f = json(r)?;
            (
                "GET",
                format!("/operations/{}", var(&mut f, "operationId")?),
                f,
            )
        }
        Call::CancelOperation(r) => {
            let mut f = json(r)?;
            (
                "POST",
                format!("/operations/{}:cancel", var(&mut f, "operationId")?),
                f,
            )
        }
        Call::CreateIamToken(r) => ("POST", "/iam/v1/tokens".to_owned(), json(r)?),
        Call::RawGrpc { .. } => return None,
    };
    if method == "GET" || method == "DELETE" {
        // The remaining fields travel as query parameters.
        let mut query = Vec::new();
        for (name, value) in fields {
            let value = match value {
                serde_json::Value::String(v) => v,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            let value =
                percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC);
            query.push(format!("{name}={value}"));
        }
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        };
        Some((method, path, serde_json::Value::Null))
    } else {
        Some((method, path, serde_json::Value::Object(fields)))
    }
}

impl Transport for Rest<'_> {
    async fn send(&mut self, call: &Call, id: &str) -> Option<Observed> {
        let (method, path, body) = rest_request(call)?;
        let dir = tempfile::tempdir().unwrap();
        let headers = dir.path().join("headers");
        std::fs::write(
            &headers,
            format!(
                "Authorization: Bearer {}\nx-request-id: {id}\nContent-Type: application/json\n",
                self.server.token
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new("curl");
        cmd.args([
            "-sS",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
            "--max-time",
            "30",
            "-H",
        ])
        .arg(format!("@{}", headers.display()));
        if !body.is_null() {
            let file = dir.path().join("body");
            std::fs::write(&file, body.to_string()).unwrap();
            cmd.arg("--data-binary").arg(format!("@{}", file.display()));
        }
        cmd.arg(format!("http://{}{path}", self.server.addr()));
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let (raw, status) = text.rsplit_once('\n').unwrap();
        let status: u16 = status.parse().unwrap();
        if status == 200 {
            return Some(Observed {
                code: Code::Ok,
                bad_request: None,
                request_id: None,
            });
        }
        let body: serde_json::Value = serde_json::from_str(raw)
            .unwrap_or_else(|e| panic!("{method} {path}: {status} {raw:?}: {e}"));
        let code = Code::from_i32(body["code"].as_i64().unwrap_or(-1) as i32);
        // The HTTP status is the error table's for that code.
        if status != signet_server::error::http_status(code as i32).as_u16() && status != 405 {
            return Some(Observed {
                code: Code::Unknown,
                bad_request: None,
                request_id: Some(format!("HTTP {status} does not match {code:?}: {raw}")),
            });
        }
        let details = body["details"].as_array().cloned().unwrap_or_default();
        let of_type = |t: &str| {
            details
                .iter()
                .find(|d| d["@type"] == format!("type.googleapis.com/google.rpc.{t}"))
                .cloned()
        };
        Some(Observed {
            code,
            bad_request: of_type("BadRequest").map(|b| {
                b["fieldViolations"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            }),
            request_id: of_type("RequestInfo")
                .and_then(|r| r["requestId"].as_str().map(str::to_owned)),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// What the cases refer to: live keys (one per hash, and an RSA one), page tokens of other
/// listings, and a service account with an authorized key for the JWT cases.
struct Fixtures {
    /// `(key id, algorithm)`, in the folder `bad-input`.
    keys: Vec<(String, Algorithm)>,
    /// A ListKeys token of the folder `other`.
    other_folder_token: String,
    /// A ListOperations token of the first key.
    operations_token: String,
    account: String,
    other_account: String,
    /// The authorized key's id and its private half (PKCS#8 DER).
    jwt_kid: String,
    jwt_key: Vec<u8>,
    /// Its public half (PEM), which an HS256 confusion attack uses as the HMAC secret.
    jwt_public_pem: String,
    /// The server's clock, in seconds.
    now: i64,
}

async fn fixtures(server: &TestServer) -> Fixtures {
    let mut keys = Vec::new();
    for algorithm in [
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::EcdsaP521Sha512,
        Algorithm::Rsa2048PssSha512,
    ] {
        keys.push((server.create_key("bad-input", algorithm).await, algorithm));
    }
    for _ in 0..2 {
        server.create_key("other", Algorithm::EcdsaP256Sha256).await;
    }
    let other_folder_token = server
        .keys()
        .list(ListAsymmetricSignatureKeysRequest {
            folder_id: "other".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!other_folder_token.is_empty());
    server
        .keys()
        .update(UpdateAsymmetricSignatureKeyRequest {
            key_id: keys[0].0.clone(),
            update_mask: Some(FieldMask {
                paths: vec!["description".into()],
            }),
            description: "a second operation".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let operations_token = server
        .keys()
        .list_operations(ListAsymmetricSignatureKeyOperationsRequest {
            key_id: keys[0].0.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!operations_token.is_empty());

    let account = server.create_service_account("default", "jwt-signer").await;
    let other_account = server.create_service_account("default", "bystander").await;
    let created = server
        .authorized_keys()
        .create(iam::CreateKeyRequest {
            service_account_id: account.clone(),
            key_algorithm: iam::key::Algorithm::Rsa2048 as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let key = created.key.unwrap();
    Fixtures {
        keys,
        other_folder_token,
        operations_token,
        account,
        other_account,
        jwt_kid: key.id,
        jwt_key: jwt::pem_body(&created.private_key),
        jwt_public_pem: key.public_key,
        now: server.clock.now().as_micros() / 1_000_000,
    }
}

// ---------------------------------------------------------------------------------------------
// Request builders.

fn create(folder: &str) -> CreateAsymmetricSignatureKeyRequest {
    CreateAsymmetricSignatureKeyRequest {
        folder_id: folder.into(),
        name: "k".into(),
        signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
        ..Default::default()
    }
}

fn create_with(edit: impl FnOnce(&mut CreateAsymmetricSignatureKeyRequest)) -> Call {
    let mut r = create("bad-input");
    edit(&mut r);
    Call::CreateKey(r)
}

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn get(id: &str) -> Call {
    Call::GetKey(GetAsymmetricSignatureKeyRequest { key_id: id.into() })
}

fn sign(id: &str, message: Vec<u8>) -> Call {
    Call::Sign(AsymmetricSignRequest {
        key_id: id.into(),
        message,
    })
}

fn sign_hash(id: &str, len: usize) -> Call {
    Call::SignHash(AsymmetricSignHashRequest {
        key_id: id.into(),
        hash: vec![7u8; len],
    })
}

fn update(
    id: &str,
    paths: &[&str],
    edit: impl FnOnce(&mut UpdateAsymmetricSignatureKeyRequest),
) -> Call {
    let mut r = UpdateAsymmetricSignatureKeyRequest {
        key_id: id.into(),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        ..Default::default()
    };
    edit(&mut r);
    Call::UpdateKey(r)
}

fn list_keys(folder: &str, page_size: i64, page_token: &str) -> Call {
    Call::ListKeys(ListAsymmetricSignatureKeysRequest {
        folder_id: folder.into(),
        page_size,
        page_token: page_token.into(),
    })
}

fn list_operations(id: &str, page_size: i64, page_token: &str) -> Call {
    Call::ListKeyOperations(ListAsymmetricSignatureKeyOperationsRequest {
        key_id: id.into(),
        page_size,
        page_token: page_token.into(),
    })
}

fn list_bindings(resource: &str, page_size: i64, page_token: &str) -> Call {
    Call::ListKeyAccessBindings(ListAccessBindingsRequest {
        resource_id: resource.into(),
        page_size,
        page_token: page_token.into(),
    })
}

fn binding(role: &str, kind: &str, id: &str) -> AccessBinding {
    AccessBinding {
        role_id: role.into(),
        subject: Some(Subject {
            id: id.into(),
            r#type: kind.into(),
        }),
    }
}

fn delta(action: AccessBindingAction, b: AccessBinding) -> AccessBindingDelta {
    AccessBindingDelta {
        action: action as i32,
        access_binding: Some(b),
    }
}

fn set_bindings(resource: &str, bindings: Vec<AccessBinding>) -> Call {
    Call::SetKeyAccessBindings(SetAccessBindingsRequest {
        resource_id: resource.into(),
        access_bindings: bindings,
    })
}

fn update_bindings(resource: &str, deltas: Vec<AccessBindingDelta>) -> Call {
    Call::UpdateKeyAccessBindings(UpdateAccessBindingsRequest {
        resource_id: resource.into(),
        access_binding_deltas: deltas,
    })
}

fn get_operation(id: &str) -> Call {
    Call::GetOperation(GetOperationRequest {
        operation_id: id.into(),
    })
}

fn exchange(jwt: String) -> Call {
    Call::CreateIamToken(iam::CreateIamTokenRequest {
        identity: Some(iam::create_iam_token_request::Identity::Jwt(jwt)),
    })
}

/// `message` encoded, with the first byte of `marker` (which must occur in it) replaced by
/// 0xff, so that the string holding it is no longer UTF-8.
fn not_utf8(message: &impl Message, marker: &str) -> Vec<u8> {
    let mut bytes = message.encode_to_vec();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .expect("the marker is in the encoding");
    bytes[at] = 0xff;
    bytes
}

fn raw(service: &str, method: &str, body: Vec<u8>) -> Call {
    Call::RawGrpc {
        path: format!("{service}/{method}"),
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// JWTs.

impl Fixtures {
    fn ps256(&self) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
        jwt::ps256(&self.jwt_key)
    }

    fn header(&self, alg: &str) -> serde_json::Value {
        serde_json::json!({"typ": "JWT", "alg": alg, "kid": self.jwt_kid})
    }

    fn claims(&self, iat: i64, exp: i64, aud: &str) -> serde_json::Value {
        serde_json::json!({"iss": self.account, "aud": aud, "iat": iat, "exp": exp})
    }

    /// A JWT the exchange accepts.
    fn good_jwt(&self) -> String {
        jws(
            self.header("PS256"),
            self.claims(self.now, self.now + 3600, AUDIENCE),
            self.ps256(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The table.

fn cases(fx: &Fixtures) -> Vec<Case> {
    let key = fx.keys[0].0.as_str();
    let long_id = "a".repeat(51);
    let mut c = Vec::new();

    // Key ids: empty, 51 characters, metacharacters, upper case, well-formed but unknown.
    for (what, id) in [
        ("empty", ""),
        ("51 characters", long_id.as_str()),
        ("SQL metacharacters", SQL),
        ("a path", PATH),
        ("upper case", "ABJ0000"),
        ("a NUL", "abj\0"),
    ] {
        c.push(invalid(format!("Get: key id {what}"), get(id), "key_id"));
    }
    c.push(invalid(
        "Sign: empty key id",
        sign("", b"m".to_vec()),
        "key_id",
    ));
    c.push(invalid(
        "Sign: 51-character key id",
        sign(&long_id, b"m".to_vec()),
        "key_id",
    ));
    c.push(invalid(
        "Sign: SQL in the key id",
        sign("abj' OR '1'='1", b"m".to_vec()),
        "key_id",
    ));
    c.push(invalid(
        "Sign: a path as key id",
        sign(PATH, b"m".to_vec()),
        "key_id",
    ));
    c.push(invalid(
        "SignHash: empty key id",
        sign_hash("", 32),
        "key_id",
    ));
    c.push(invalid(
        "GetPublicKey: 51-character key id",
        Call::GetPublicKey(AsymmetricGetPublicKeyRequest {
            key_id: long_id.clone(),
        }),
        "key_id",
    ));
    c.push(invalid(
        "GetPublicKey: percent-encoded NUL",
        Call::GetPublicKey(AsymmetricGetPublicKeyRequest {
            key_id: "abj%00".into(),
        }),
        "key_id",
    ));
    c.push(invalid(
        "Delete: SQL in the key id",
        Call::DeleteKey(DeleteAsymmetricSignatureKeyRequest { key_id: SQL.into() }),
        "key_id",
    ));
    c.push(invalid(
        "Update: empty key id",
        update("", &["name"], |_| {}),
        "key_id",
    ));
    c.push(invalid(
        "ListOperations: a path as key id",
        list_operations(PATH, 0, ""),
        "key_id",
    ));
    c.push(fails("Get: unknown key", get(NO_SUCH_KEY), Code::NotFound));
    c.push(fails(
        "Get: unknown 50-character key id",
        get(&"a".repeat(50)),
        Code::NotFound,
    ));
    c.push(fails(
        "Sign: unknown key",
        sign(NO_SUCH_KEY, b"m".to_vec()),
        Code::NotFound,
    ));
    c.push(fails(
        "SignHash: unknown key",
        sign_hash(NO_SUCH_KEY, 32),
        Code::NotFound,
    ));
    c.push(fails(
        "GetPublicKey: unknown key",
        Call::GetPublicKey(AsymmetricGetPublicKeyRequest {
            key_id: NO_SUCH_KEY.into(),
        }),
        Code::NotFound,
    ));
    c.push(fails(
        "Delete: unknown key",
        Call::DeleteKey(DeleteAsymmetricSignatureKeyRequest {
            key_id: NO_SUCH_KEY.into(),
        }),
        Code::NotFound,
    ));
    c.push(fails(
        "Update: unknown key",
        update(NO_SUCH_KEY, &["name"], |_| {}),
        Code::NotFound,
    ));
    c.push(fails(
        "ListOperations: unknown key",
        list_operations(NO_SUCH_KEY, 0, ""),
        Code::NotFound,
    ));

    // Folder ids.
    for (what, folder) in [
        ("empty", ""),
        ("51 characters", long_id.as_str()),
        ("SQL metacharacters", "f'; DELETE FROM keys;--"),
        ("a path", "../other"),
        ("upper case", "Default"),
    ] {
        c.push(invalid(
            format!("Create: folder id {what}"),
            Call::CreateKey(create(folder)),
            "folder_id",
        ));
    }
    c.push(invalid(
        "List: empty folder id",
        list_keys("", 0, ""),
        "folder_id",
    ));

    // Messages and digests.
    c.push(ok(
        "Sign: a 32768-byte message",
        sign(key, vec![1u8; 32768]),
    ));
    c.push(invalid(
        "Sign: a 32769-byte message",
        sign(key, vec![1u8; 32769]),
        "message",
    ));
    c.push(invalid(
        "Sign: an empty message",
        sign(key, Vec::new()),
        "message",
    ));
    for (id, algorithm) in &fx.keys {
        let n = algorithm.hash().digest(b"").len();
        let name = format!("{algorithm:?}");
        c.push(ok(
            format!("SignHash {name}: a {n}-byte digest"),
            sign_hash(id, n),
        ));
        for len in [0, 1, n - 1, n + 1] {
            c.push(invalid(
                format!("SignHash {name}: a {len}-byte digest"),
                sign_hash(id, len),
                "hash",
            ));
        }
        let other = if n == 32 { 64 } else { 32 };
        c.push(invalid(
            format!("SignHash {name}: another hash's {other}-byte digest"),
            sign_hash(id, other),
            "hash",
        ));
    }
    c.push(invalid(
        "SignHash: a 4097-byte digest",
        sign_hash(key, 4097),
        "hash",
    ));

    // Algorithms.
    for value in [0, 14, 9999, -1] {
        c.push(invalid(
            format!("Create: algorithm {value}"),
            create_with(|r| r.signature_algorithm = value),
            "signature_algorithm",
        ));
    }

    // Labels, names, descriptions.
    let l63 = "a".repeat(63);
    let l64 = "a".repeat(64);
    for (what, pairs) in [
        ("a key starting with a digit", vec![("1abc", "v")]),
        ("a key starting with '-'", vec![("-abc", "v")]),
        ("an upper-case key", vec![("Env", "v")]),
        ("an empty key", vec![("", "v")]),
        ("a key with a dot", vec![("a.b", "v")]),
        ("a 64-character key", vec![(l64.as_str(), "v")]),
        ("an upper-case value", vec![("env", "Prod")]),
        ("a value with a space", vec![("env", "a b")]),
        ("a 64-character value", vec![("env", l64.as_str())]),
    ] {
        let map = labels(&pairs);
        c.push(invalid(
            format!("Create: labels with {what}"),
            create_with(|r| r.labels = map),
            "labels",
        ));
    }
    let too_many: HashMap<String, String> =
        (0..65).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    c.push(invalid(
        "Create: 65 labels",
        create_with(|r| r.labels = too_many.clone()),
        "labels",
    ));
    c.push(invalid(
        "Update: 65 labels",
        update(key, &["labels"], |r| r.labels = too_many),
        "labels",
    ));
    let edge = labels(&[(l63.as_str(), l63.as_str())]);
    c.push(ok(
        "Update: a 63-character label key and value",
        update(key, &["labels"], |r| r.labels = edge),
    ));
    c.push(invalid(
        "Create: a 101-character name",
        create_with(|r| r.name = "n".repeat(101)),
        "name",
    ));
    c.push(invalid(
        "Create: a name with a NUL",
        create_with(|r| r.name = "a\0b".into()),
        "name",
    ));
    c.push(invalid(
        "Update: a name with an escape character",
        update(key, &["name"], |r| r.name = "\u{1b}[31mred".into()),
        "name",
    ));
    c.push(invalid(
        "Create: a 1025-character description",
        create_with(|r| r.description = "d".repeat(1025)),
        "description",
    ));

    // Page sizes and tokens.
    for size in [-1, 1001, i64::MIN, i64::MAX] {
        c.push(invalid(
            format!("List: page size {size}"),
            list_keys("bad-input", size, ""),
            "page_size",
        ));
    }
    c.push(ok(
        "List: page size 0 (the default)",
        list_keys("bad-input", 0, ""),
    ));
    c.push(ok("List: page size 1000", list_keys("bad-input", 1000, "")));
    for size in [-1, 1001] {
        c.push(invalid(
            format!("ListOperations: page size {size}"),
            list_operations(key, size, ""),
            "page_size",
        ));
        c.push(invalid(
            format!("ListAccessBindings: page size {size}"),
            list_bindings(key, size, ""),
            "page_size",
        ));
    }
    for (what, token) in [
        ("forged", "forged".to_owned()),
        ("base64 garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned()),
        ("of another folder", fx.other_folder_token.clone()),
        ("of an operations listing", fx.operations_token.clone()),
        ("of 257 characters", "A".repeat(257)),
    ] {
        c.push(invalid(
            format!("List: a page token {what}"),
            list_keys("bad-input", 0, &token),
            "page_token",
        ));
    }
    for (what, token) in [
        ("forged", "forged".to_owned()),
        ("of a keys listing", fx.other_folder_token.clone()),
        ("of 101 characters", "A".repeat(101)),
    ] {
        c.push(invalid(
            format!("ListOperations: a page token {what}"),
            list_operations(key, 0, &token),
            "page_token",
        ));
    }
    c.push(invalid(
        "ListOperations: another key's page token",
        list_operations(&fx.keys[1].0, 0, &fx.operations_token),
        "page_token",
    ));
    c.push(invalid(
        "ListAccessBindings: a forged page token",
        list_bindings(key, 0, "forged"),
        "page_token",
    ));

    // Update masks and statuses.
    let mut no_mask = UpdateAsymmetricSignatureKeyRequest {
        key_id: key.into(),
        ..Default::default()
    };
    no_mask.update_mask = None;
    c.push(invalid(
        "Update: no mask",
        Call::UpdateKey(no_mask),
        "update_mask",
    ));
    for paths in [
        &[][..],
        &["id"][..],
        &["folder_id"][..],
        &["signature_algorithm"][..],
        &["created_at"][..],
        &["nme"][..],
        &["name", "bogus"][..],
        &["labels.env"][..],
    ] {
        c.push(invalid(
            format!("Update: mask {paths:?}"),
            update(key, paths, |_| {}),
            "update_mask",
        ));
    }
    for (what, status) in [
        ("CREATING", KeyStatus::Creating as i32),
        ("UNSPECIFIED", KeyStatus::Unspecified as i32),
        ("99", 99),
    ] {
        c.push(invalid(
            format!("Update: status {what}"),
            update(key, &["status"], |r| r.status = status),
            "status",
        ));
    }

    // Access bindings: resource ids, bad bindings, bad deltas.
    c.push(invalid(
        "ListAccessBindings: empty resource id",
        list_bindings("", 0, ""),
        "resource_id",
    ));
    c.push(invalid(
        "ListAccessBindings: 65-character resource id",
        list_bindings(&"a".repeat(65), 0, ""),
        "resource_id",
    ));
    c.push(invalid(
        "ListAccessBindings: SQL in the resource id",
        list_bindings(SQL, 0, ""),
        "resource_id",
    ));
    c.push(fails(
        "ListAccessBindings: unknown key",
        list_bindings(NO_SUCH_KEY, 0, ""),
        Code::NotFound,
    ));
    let sa = fx.account.as_str();
    let viewer = binding("kms.viewer", "serviceAccount", sa);
    for (what, b, field) in [
        (
            "an unknown role",
            binding("kms.superuser", "serviceAccount", sa),
            "access_bindings[0].role_id",
        ),
        (
            "an empty role",
            binding("", "serviceAccount", sa),
            "access_bindings[0].role_id",
        ),
        (
            "an unknown subject type",
            binding("kms.viewer", "robot", sa),
            "access_bindings[0].subject.type",
        ),
        (
            "an empty subject type",
            binding("kms.viewer", "", sa),
            "access_bindings[0].subject.type",
        ),
        (
            "an unknown system subject",
            binding("kms.viewer", "system", "everyone"),
            "access_bindings[0].subject.id",
        ),
        (
            "an upper-case subject id",
            binding("kms.viewer", "serviceAccount", "AJE0"),
            "access_bindings[0].subject.id",
        ),
        (
            "no subject",
            AccessBinding {
                role_id: "kms.viewer".into(),
                subject: None,
            },
            "access_bindings[0].subject",
        ),
    ] {
        c.push(invalid(
            format!("SetAccessBindings: {what}"),
            set_bindings(key, vec![b]),
            field,
        ));
    }
    c.push(invalid(
        "SetAccessBindings: 1001 bindings",
        set_bindings(key, vec![viewer.clone(); 1001]),
        "access_bindings",
    ));
    let add = delta(AccessBindingAction::Add, viewer.clone());
    let remove = delta(AccessBindingAction::Remove, viewer.clone());
    c.push(invalid(
        "UpdateAccessBindings: a duplicated delta",
        update_bindings(key, vec![add.clone(), add.clone()]),
        "access_binding_deltas",
    ));
    c.push(invalid(
        "UpdateAccessBindings: add and remove of one binding",
        update_bindings(key, vec![add.clone(), remove]),
        "access_binding_deltas",
    ));
    c.push(invalid(
        "UpdateAccessBindings: no deltas",
        update_bindings(key, Vec::new()),
        "access_binding_deltas",
    ));
    c.push(invalid(
        "UpdateAccessBindings: no action",
        update_bindings(
            key,
            vec![AccessBindingDelta {
                action: 0,
                access_binding: Some(viewer.clone()),
            }],
        ),
        "access_binding_deltas[0].action",
    ));
    c.push(invalid(
        "UpdateAccessBindings: action 7",
        update_bindings(
            key,
            vec![AccessBindingDelta {
                action: 7,
                access_binding: Some(viewer.clone()),
            }],
        ),
        "access_binding_deltas[0].action",
    ));
    c.push(invalid(
        "UpdateAccessBindings: no binding",
        update_bindings(
            key,
            vec![AccessBindingDelta {
                action: AccessBindingAction::Add as i32,
                access_binding: None,
            }],
        ),
        "access_binding_deltas[0].access_binding",
    ));
    c.push(invalid(
        "UpdateAccessBindings: an unknown role",
        update_bindings(
            key,
            vec![delta(
                AccessBindingAction::Add,
                binding("root", "serviceAccount", sa),
            )],
        ),
        "access_binding_deltas[0].access_binding.role_id",
    ));
    c.push(invalid(
        "UpdateAccessBindings: an unknown subject type",
        update_bindings(
            key,
            vec![delta(
                AccessBindingAction::Add,
                binding("kms.viewer", "group", sa),
            )],
        ),
        "access_binding_deltas[0].access_binding.subject.type",
    ));
    c.push(invalid(
        "Folder UpdateAccessBindings: a bad folder id",
        Call::UpdateFolderAccessBindings(UpdateAccessBindingsRequest {
            resource_id: "Bad Folder".into(),
            access_binding_deltas: vec![add.clone()],
        }),
        "resource_id",
    ));
    c.push(invalid(
        "Folder UpdateAccessBindings: a duplicated delta",
        Call::UpdateFolderAccessBindings(UpdateAccessBindingsRequest {
            resource_id: "bad-input".into(),
            access_binding_deltas: vec![add.clone(), add],
        }),
        "access_binding_deltas",
    ));

    // Operations.
    for (what, id) in [
        ("empty", ""),
        ("51 characters", long_id.as_str()),
        ("SQL metacharacters", SQL),
    ] {
        c.push(invalid(
            format!("GetOperation: id {what}"),
            get_operation(id),
            "operation_id",
        ));
    }
    c.push(fails(
        "GetOperation: unknown",
        get_operation(NO_SUCH_OPERATION),
        Code::NotFound,
    ));
    c.push(invalid(
        "CancelOperation: a path as id",
        Call::CancelOperation(CancelOperationRequest {
            operation_id: PATH.into(),
        }),
        "operation_id",
    ));
    c.push(fails(
        "CancelOperation: unknown",
        Call::CancelOperation(CancelOperationRequest {
            operation_id: NO_SUCH_OPERATION.into(),
        }),
        Code::NotFound,
    ));

    // JWT exchange (IamTokenService.Create). Well-formed JWTs failing a check are
    // UNAUTHENTICATED without a field; malformed ones are INVALID_ARGUMENT on `jwt`.
    let now = fx.now;
    c.push(ok("IamToken: a valid PS256 JWT", exchange(fx.good_jwt())));
    c.push(fails(
        "IamToken: alg none, no signature",
        exchange(jws(
            fx.header("none"),
            fx.claims(now, now + 600, AUDIENCE),
            |_| Vec::new(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: alg none with a valid PS256 signature",
        exchange(jws(
            fx.header("none"),
            fx.claims(now, now + 600, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: HS256 keyed with the public key (algorithm confusion)",
        exchange(jws(
            fx.header("HS256"),
            fx.claims(now, now + 600, AUDIENCE),
            |input| jwt::hmac_sha256(fx.jwt_public_pem.as_bytes(), input).to_vec(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: RS256 instead of PS256",
        exchange(jws(
            fx.header("RS256"),
            fx.claims(now, now + 600, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: expired an hour ago",
        exchange(jws(
            fx.header("PS256"),
            fx.claims(now - 7200, now - 3600, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: iat an hour in the future",
        exchange(jws(
            fx.header("PS256"),
            fx.claims(now + 3600, now + 4000, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: a lifetime over one hour",
        exchange(jws(
            fx.header("PS256"),
            fx.claims(now, now + 7200, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: a wrong aud",
        exchange(jws(
            fx.header("PS256"),
            fx.claims(now, now + 600, "https://iam.evil.example/iam/v1/tokens"),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: an unknown kid",
        exchange(jws(
            serde_json::json!({"typ": "JWT", "alg": "PS256", "kid": "aje00000000000000000"}),
            fx.claims(now, now + 600, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: a path as kid",
        exchange(jws(
            serde_json::json!({"typ": "JWT", "alg": "PS256", "kid": PATH}),
            fx.claims(now, now + 600, AUDIENCE),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: iss another service account",
        exchange(jws(
            fx.header("PS256"),
            serde_json::json!({"iss": fx.other_account, "aud": AUDIENCE, "iat": now, "exp": now + 600}),
            fx.ps256(),
        )),
        Code::Unauthenticated,
    ));
    let good = fx.good_jwt();
    let (signed, signature) = good.rsplit_once('.').unwrap();
    let mut flipped = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    flipped[10] ^= 1;
    c.push(fails(
        "IamToken: a bad signature (one bit flipped)",
        exchange(format!("{signed}.{}", b64url(&flipped))),
        Code::Unauthenticated,
    ));
    c.push(fails(
        "IamToken: claims changed after signing",
        exchange({
            let (header, _) = signed.split_once('.').unwrap();
            let claims = fx.claims(now, now + 3000, AUDIENCE).to_string();
            format!("{header}.{}.{signature}", b64url(claims.as_bytes()))
        }),
        Code::Unauthenticated,
    ));
    for (what, jwt) in [
        ("two parts", "e30.e30".to_owned()),
        ("four parts", "e30.e30.e30.e30".to_owned()),
        (
            "a header that is not JSON",
            format!("bm90IGpzb24.{}", b64url(b"{}")),
        ),
        (
            "no exp",
            jws(
                fx.header("PS256"),
                serde_json::json!({"iss": sa, "aud": AUDIENCE, "iat": now}),
                fx.ps256(),
            ),
        ),
        ("8001 characters", "a".repeat(8001)),
    ] {
        c.push(invalid(
            format!("IamToken: a JWT of {what}"),
            exchange(jwt),
            "jwt",
        ));
    }
    c.push(invalid(
        "IamToken: no identity",
        Call::CreateIamToken(iam::CreateIamTokenRequest { identity: None }),
        "jwt",
    ));
    c.push(fails(
        "IamToken: a Yandex Passport OAuth token",
        Call::CreateIamToken(iam::CreateIamTokenRequest {
            identity: Some(
                iam::create_iam_token_request::Identity::YandexPassportOauthToken(
                    "y0_AgAAAA".into(),
                ),
            ),
        }),
        Code::Unauthenticated,
    ));

    // Messages that do not decode: strings that are not UTF-8, truncation.
    c.push(invalid(
        "Sign: key id not UTF-8",
        raw(
            CRYPTO,
            "Sign",
            not_utf8(
                &AsymmetricSignRequest {
                    key_id: "abjMARK".into(),
                    message: b"m".to_vec(),
                },
                "MARK",
            ),
        ),
        "key_id",
    ));
    c.push(invalid(
        "Create: folder id not UTF-8",
        raw(KEYS, "Create", not_utf8(&create("fMARK"), "MARK")),
        "folder_id",
    ));
    c.push(invalid(
        "Create: name not UTF-8",
        raw(
            KEYS,
            "Create",
            not_utf8(
                &CreateAsymmetricSignatureKeyRequest {
                    name: "nameMARK".into(),
                    ..create("bad-input")
                },
                "MARK",
            ),
        ),
        "name",
    ));
    c.push(invalid(
        "Create: a label value not UTF-8",
        raw(
            KEYS,
            "Create",
            not_utf8(
                &CreateAsymmetricSignatureKeyRequest {
                    labels: labels(&[("env", "MARK")]),
                    ..create("bad-input")
                },
                "MARK",
            ),
        ),
        "labels",
    ));
    c.push(invalid(
        "UpdateAccessBindings: a role id not UTF-8",
        raw(
            KEYS,
            "UpdateAccessBindings",
            not_utf8(
                &UpdateAccessBindingsRequest {
                    resource_id: key.into(),
                    access_binding_deltas: vec![delta(
                        AccessBindingAction::Add,
                        binding("MARK", "serviceAccount", sa),
                    )],
                },
                "MARK",
            ),
        ),
        "access_binding_deltas.access_binding.role_id",
    ));
    c.push(invalid(
        "IamToken: a JWT not UTF-8",
        raw(
            "/yandex.cloud.iam.v1.IamTokenService",
            "Create",
            not_utf8(
                &iam::CreateIamTokenRequest {
                    identity: Some(iam::create_iam_token_request::Identity::Jwt(
                        "MARK.e30.e30".into(),
                    )),
                },
                "MARK",
            ),
        ),
        "identity",
    ));
    c.push(invalid(
        "Sign: a truncated message",
        raw(CRYPTO, "Sign", vec![0x0a, 0x14, b'a', b'b', b'j']),
        "key_id",
    ));

    // Over the 1 MiB request limit: refused before decoding.
    c.push(fails(
        "Sign: a 1 MiB + 1 byte request",
        raw(
            CRYPTO,
            "Sign",
            AsymmetricSignRequest {
                key_id: key.into(),
                message: vec![0u8; (1 << 20) + 1],
            }
            .encode_to_vec(),
        ),
        Code::OutOfRange,
    ));
    c.push(fails(
        "SetAccessBindings: a 2 MiB request",
        raw(
            KEYS,
            "SetAccessBindings",
            SetAccessBindingsRequest {
                resource_id: key.into(),
                access_bindings: vec![binding(&"r".repeat(1000), "serviceAccount", sa); 2100],
            }
            .encode_to_vec(),
        ),
        Code::OutOfRange,
    ));
    c
}

// ---------------------------------------------------------------------------------------------
// The run.

/// Runs every case; returns a description of each mismatch (empty when all hold).
async fn run(transport: &mut impl Transport, prefix: &str, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let request_id = format!("{prefix}-{i}");
        let Some(got) = transport.send(&case.call, &request_id).await else {
            continue;
        };
        let wrong = match case.expect {
            Expect::Ok if got.code == Code::Ok => None,
            Expect::Ok => Some(format!("expected OK, got {got:?}")),
            Expect::Fails(code, _) if got.code != code => {
                Some(format!("expected {code:?}, got {got:?}"))
            }
            Expect::Fails(_, Some(field)) => match &got.bad_request {
                Some(fields) if fields.iter().any(|f| f == field) => None,
                _ => Some(format!(
                    "expected a BadRequest naming {field:?}, got {got:?}"
                )),
            },
            Expect::Fails(_, None) if got.bad_request.is_some() => {
                Some(format!("expected no BadRequest, got {got:?}"))
            }
            Expect::Fails(_, None) => None,
        };
        // Every error the server itself answers carries the request id (tonic's own refusal of
        // an oversized message comes before the server sees the request).
        let wrong = wrong.or_else(|| {
            let own_error = !matches!(got.code, Code::Ok | Code::OutOfRange);
            (own_error && got.request_id.as_deref() != Some(request_id.as_str()))
                .then(|| format!("expected RequestInfo {request_id}, got {got:?}"))
        });
        if let Some(w) = wrong {
            failures.push(format!("#{i} {}: {w}", case.name));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_exact_code_and_field_and_breaks_nothing() {
    // The table sends more IAM token exchanges (gRPC and REST) than the default per-address
    // rate lets through on the test clock, which never advances here; that limit has its own
    // tests (limits.rs).
    let server = TestServer::builder()
        .token_exchange_rate(0, None)
        .start()
        .await;
    let fx = fixtures(&server).await;
    let cases = cases(&fx);
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");

    let failures = run(&mut Grpc { server: &server }, "bad-input", &cases).await;
    eprintln!("{} bad-input cases over gRPC", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The same table over REST, where a case has a REST form.
    let over_rest = cases
        .iter()
        .filter(|c| rest_request(&c.call).is_some())
        .count();
    assert!(over_rest >= 60, "{over_rest} cases have a REST form");
    let failures = run(&mut Rest { server: &server }, "rest-bad-input", &cases).await;
    eprintln!("{over_rest} of them over REST");
    assert!(
        failures.is_empty(),
        "{} of {over_rest} REST cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The server is alive and every key still signs, verifiably.
    for (id, algorithm) in &fx.keys {
        let message = b"still signing after the bad-input run";
        let signature = server
            .crypto()
            .sign(AsymmetricSignRequest {
                key_id: id.clone(),
                message: message.to_vec(),
            })
            .await
            .unwrap()
            .into_inner()
            .signature;
        let pem = server
            .crypto()
            .get_public_key(AsymmetricGetPublicKeyRequest { key_id: id.clone() })
            .await
            .unwrap()
            .into_inner()
            .public_key;
        let spki = signet_crypto::spki_pem_to_der(&pem).unwrap();
        signet_crypto::verify(*algorithm, &spki, message, &signature)
            .unwrap_or_else(|e| panic!("{algorithm:?} key {id} no longer signs: {e}"));
    }
    // No bad case created, deleted or changed a key.
    let listed = server
        .keys()
        .list(ListAsymmetricSignatureKeysRequest {
            folder_id: "bad-input".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(listed.len(), fx.keys.len(), "{listed:?}");
    assert!(listed.iter().all(|k| k.status == KeyStatus::Active as i32));

    // Every case left exactly one audit record, with its outcome; the chain verifies.
    let store = server.kms().store();
    let records = store.audit_records(1, 1_000_000).await.unwrap();
    let over_rest = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| rest_request(&c.call).is_some())
        .map(|(i, c)| (format!("rest-bad-input-{i}"), c));
    let over_grpc = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("bad-input-{i}"), c));
    for (i, (request_id, case)) in over_grpc.chain(over_rest).enumerate() {
        let mine: Vec<_> = records
            .iter()
            .filter(|r| r.event.request_id == request_id)
            .collect();
        let expected = match case.expect {
            Expect::Ok => Code::Ok,
            Expect::Fails(code, _) => code,
        };
        assert_eq!(mine.len(), 1, "#{i} {}: {mine:?}", case.name);
        assert_eq!(
            mine[0].event.outcome,
            signet_server::audit::code_name(expected as i32),
            "#{i} {}",
            case.name
        );
    }
    let public = checkpoint_public_key(store.as_ref()).await.unwrap();
    let report = verify(store.as_ref(), public.as_deref()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records as usize, records.len());
}
