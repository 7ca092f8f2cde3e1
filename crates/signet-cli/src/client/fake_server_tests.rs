//! The commands against a tiny in-process fake of the three services, on 127.0.0.1:0: proves
//! the wiring (token header, name resolution, operation polling, masks, output modes, TLS with
//! `--ca`), not server behaviour.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use prost::{Message, Name};
use signet_proto::google::rpc;
use signet_proto::pbjson_types::{Any, Timestamp};
use signet_proto::yandex::cloud::access::{
    ListAccessBindingsRequest, ListAccessBindingsResponse, SetAccessBindingsRequest,
    UpdateAccessBindingsRequest,
};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_server::{
    AsymmetricSignatureCryptoService, AsymmetricSignatureCryptoServiceServer,
};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_server::{
    AsymmetricSignatureKeyService, AsymmetricSignatureKeyServiceServer,
};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricGetPublicKeyRequest, AsymmetricGetPublicKeyResponse, AsymmetricSignHashRequest,
    AsymmetricSignHashResponse, AsymmetricSignRequest, AsymmetricSignResponse,
    AsymmetricSignatureKey, CreateAsymmetricSignatureKeyMetadata,
    CreateAsymmetricSignatureKeyRequest, DeleteAsymmetricSignatureKeyRequest,
    GetAsymmetricSignatureKeyRequest, ListAsymmetricSignatureKeyOperationsRequest,
    ListAsymmetricSignatureKeyOperationsResponse, ListAsymmetricSignatureKeysRequest,
    ListAsymmetricSignatureKeysResponse, UpdateAsymmetricSignatureKeyRequest,
    asymmetric_signature_key::Status as KeyStatus,
};
use signet_proto::yandex::cloud::operation::operation_service_server::{
    OperationService, OperationServiceServer,
};
use signet_proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation, operation,
};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use super::error::ClientError;
use super::tests::parse;
use super::{Console, run_with};

const TOKEN: &str = "test-token-123";
const PEM: &str =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
/// The fake serves at most this many keys per List page, to exercise paging.
const FAKE_PAGE: usize = 2;
/// Polls before a created key's operation is done.
const CREATE_POLLS: u32 = 2;

#[derive(Default)]
struct State {
    keys: Vec<AsymmetricSignatureKey>,
    /// Operation id → (polls left before done, the finished operation).
    pending: HashMap<String, (u32, Operation)>,
    finished: Vec<Operation>,
    authorization: Vec<String>,
    masks: Vec<Vec<String>>,
    polls: u32,
    next_id: u32,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

fn any<M: Message + Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec().into(),
    }
}

impl Fake {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    fn seen<T>(&self, request: &Request<T>) {
        let value = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<none>")
            .to_owned();
        self.state().authorization.push(value);
    }

    fn key(&self, id: &str) -> Result<AsymmetricSignatureKey, Status> {
        self.state()
            .keys
            .iter()
            .find(|k| k.id == id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("key {id} not found")))
    }

    /// Registers an operation that reports done after `polls` Get calls.
    fn operation(
        &self,
        description: &str,
        key_id: &str,
        polls: u32,
        result: operation::Result,
    ) -> Operation {
        let mut state = self.state();
        state.next_id += 1;
        let running = Operation {
            id: format!("op{}", state.next_id),
            description: description.to_owned(),
            created_at: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            created_by: "admin".to_owned(),
            metadata: Some(any(&CreateAsymmetricSignatureKeyMetadata {
                key_id: key_id.to_owned(),
            })),
            ..Default::default()
        };
        let finished = Operation {
            done: true,
            result: Some(result),
            ..running.clone()
        };
        state.finished.push(finished.clone());
        if polls == 0 {
            return finished;
        }
        state.pending.insert(running.id.clone(), (polls, finished));
        running
    }
}

#[tonic::async_trait]
impl AsymmetricSignatureKeyService for Fake {
    async fn create(
        &self,
        request: Request<CreateAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.seen(&request);
        let r = request.into_inner();
        let key = {
            let mut state = self.state();
            state.next_id += 1;
            let key = AsymmetricSignatureKey {
                id: format!("abjkey{:014}", state.next_id),
                folder_id: r.folder_id,
                created_at: Some(Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                name: r.name,
                description: r.description,
                labels: r.labels,
                status: KeyStatus::Active as i32,
                signature_algorithm: r.signature_algorithm,
                deletion_protection: r.deletion_protection,
            };
            state.keys.push(key.clone());
            key
        };
        let op = self.operation(
            "Create key",
            &key.id,
            CREATE_POLLS,
            operation::Result::Response(any(&key)),
        );
        Ok(Response::new(op))
    }

    async fn get(
        &self,
        request: Request<GetAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<AsymmetricSignatureKey>, Status> {
        self.seen(&request);
        Ok(Response::new(self.key(&request.get_ref().key_id)?))
    }

    async fn list(
        &self,
        request: Request<ListAsymmetricSignatureKeysRequest>,
    ) -> Result<Response<ListAsymmetricSignatureKeysResponse>, Status> {
        self.seen(&request);
        let r = request.into_inner();
        let start: usize = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .parse()
                .map_err(|_| Status::invalid_argument("bad page token"))?
        };
        let size = usize::try_from(r.page_size).unwrap().clamp(1, FAKE_PAGE);
        let in_folder: Vec<_> = self
            .state()
            .keys
            .iter()
            .filter(|k| k.folder_id == r.folder_id)
            .cloned()
            .collect();
        let end = (start + size).min(in_folder.len());
        Ok(Response::new(ListAsymmetricSignatureKeysResponse {
            keys: in_folder[start.min(end)..end].to_vec(),
            next_page_token: if end < in_folder.len() {
                end.to_string()
            } else {
                String::new()
            },
        }))
    }

    async fn update(
        &self,
        request: Request<UpdateAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.seen(&request);
        let r = request.into_inner();
        let paths = r.update_mask.unwrap_or_default().paths;
        let key = {
            let mut state = self.state();
            state.masks.push(paths.clone());
            let key = state
                .keys
                .iter_mut()
                .find(|k| k.id == r.key_id)
                .ok_or_else(|| Status::not_found("no such key"))?;
            for path in &paths {
                match path.as_str() {
                    "name" => key.name = r.name.clone(),
                    "description" => key.description = r.description.clone(),
                    "labels" => key.labels = r.labels.clone(),
                    "status" => key.status = r.status,
                    "deletion_protection" => key.deletion_protection = r.deletion_protection,
                    other => return Err(Status::invalid_argument(format!("bad path {other}"))),
                }
            }
            key.clone()
        };
        let op = self.operation(
            "Update key",
            &key.id,
            0,
            operation::Result::Response(any(&key)),
        );
        Ok(Response::new(op))
    }

    async fn delete(
        &self,
        request: Request<DeleteAsymmetricSignatureKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.seen(&request);
        let key = self.key(&request.get_ref().key_id)?;
        let result = if key.deletion_protection {
            operation::Result::Error(rpc::Status {
                code: tonic::Code::FailedPrecondition as i32,
                message: "key is protected from deletion".to_owned(),
                details: vec![],
            })
        } else {
            self.state().keys.retain(|k| k.id != key.id);
            operation::Result::Response(any(&key))
        };
        Ok(Response::new(self.operation(
            "Delete key",
            &key.id,
            1,
            result,
        )))
    }

    async fn list_operations(
        &self,
        request: Request<ListAsymmetricSignatureKeyOperationsRequest>,
    ) -> Result<Response<ListAsymmetricSignatureKeyOperationsResponse>, Status> {
        self.seen(&request);
        Ok(Response::new(
            ListAsymmetricSignatureKeyOperationsResponse {
                operations: self.state().finished.clone(),
                next_page_token: String::new(),
            },
        ))
    }

    async fn list_access_bindings(
        &self,
        _: Request<ListAccessBindingsRequest>,
    ) -> Result<Response<ListAccessBindingsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn set_access_bindings(
        &self,
        _: Request<SetAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn update_access_bindings(
        &self,
        _: Request<UpdateAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

#[tonic::async_trait]
impl AsymmetricSignatureCryptoService for Fake {
    async fn sign(
        &self,
        request: Request<AsymmetricSignRequest>,
    ) -> Result<Response<AsymmetricSignResponse>, Status> {
        self.seen(&request);
        let r = request.into_inner();
        self.key(&r.key_id)?;
        let mut signature = b"sig:".to_vec();
        signature.extend_from_slice(&r.message);
        Ok(Response::new(AsymmetricSignResponse {
            key_id: r.key_id,
            signature,
        }))
    }

    async fn sign_hash(
        &self,
        request: Request<AsymmetricSignHashRequest>,
    ) -> Result<Response<AsymmetricSignHashResponse>, Status> {
        self.seen(&request);
        let r = request.into_inner();
        self.key(&r.key_id)?;
        let mut signature = b"hash:".to_vec();
        signature.extend_from_slice(&r.hash);
        Ok(Response::new(AsymmetricSignHashResponse {
            key_id: r.key_id,
            signature,
        }))
    }

    async fn get_public_key(
        &self,
        request: Request<AsymmetricGetPublicKeyRequest>,
    ) -> Result<Response<AsymmetricGetPublicKeyResponse>, Status> {
        self.seen(&request);
        let key = self.key(&request.get_ref().key_id)?;
        Ok(Response::new(AsymmetricGetPublicKeyResponse {
            key_id: key.id,
            public_key: PEM.to_owned(),
        }))
    }
}

#[tonic::async_trait]
impl OperationService for Fake {
    async fn get(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.seen(&request);
        let id = request.into_inner().operation_id;
        let mut state = self.state();
        state.polls += 1;
        let Some((left, finished)) = state.pending.get_mut(&id) else {
            return Err(Status::not_found(format!("operation {id} not found")));
        };
        *left -= 1;
        if *left == 0 {
            Ok(Response::new(finished.clone()))
        } else {
            Ok(Response::new(Operation {
                done: false,
                result: None,
                ..finished.clone()
            }))
        }
    }

    async fn cancel(
        &self,
        _: Request<CancelOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// Serves the fake on an ephemeral loopback port, with TLS when given an identity.
async fn start(fake: &Fake, tls: Option<Identity>) -> SocketAddr {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    let mut builder = Server::builder();
    if let Some(identity) = tls {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap();
    }
    let router = builder
        .add_service(AsymmetricSignatureKeyServiceServer::new(fake.clone()))
        .add_service(AsymmetricSignatureCryptoServiceServer::new(fake.clone()))
        .add_service(OperationServiceServer::new(fake.clone()));
    tokio::spawn(router.serve_with_incoming(incoming));
    addr
}

/// Runs `signet --insecure --endpoint ADDR --token TOKEN <args>` with `input` on stdin.
async fn cli(addr: SocketAddr, args: &[&str], input: &[u8]) -> Result<Vec<u8>, ClientError> {
    let endpoint = addr.to_string();
    let mut full = vec!["--insecure", "--endpoint", &endpoint, "--token", TOKEN];
    full.extend_from_slice(args);
    run_args(&full, input).await
}

async fn run_args(args: &[&str], mut input: &[u8]) -> Result<Vec<u8>, ClientError> {
    let (global, cmd) = parse(args).unwrap();
    let mut out = Vec::new();
    let console = Console {
        out: &mut out,
        input: &mut input,
        interactive_input: false,
        progress: false,
    };
    run_with(&global, cmd, console).await?;
    Ok(out)
}

async fn text(addr: SocketAddr, args: &[&str]) -> String {
    String::from_utf8(cli(addr, args, b"").await.unwrap()).unwrap()
}

const KEY: &str = "asymmetric-signature-key";
const CRYPTO: &str = "asymmetric-signature-crypto";

#[tokio::test]
async fn create_polls_until_done_and_prints_the_key() {
    let fake = Fake::default();
    let addr = start(&fake, None).await;
    let out = text(
        addr,
        &[
            "kms",
            KEY,
            "create",
            "--name",
            "k1",
            "--labels",
            "env=test",
            "--signature-algorithm",
            "ecdsa-nist-p256-sha-256",
            "--deletion-protection",
        ],
    )
    .await;
    assert!(out.contains("name: k1\n"), "{out}");
    assert!(out.contains("labels:\n  env: test\n"), "{out}");
    assert!(out.contains("status: ACTIVE\n"), "{out}");
    assert!(
        out.contains("signature_algorithm: ECDSA_NIST_P256_SHA_256\n"),
        "{out}"
    );
    assert!(out.contains("deletion_protection: true\n"), "{out}");
    let state = fake.state();
    assert_eq!(state.polls, CREATE_POLLS);
    assert!(!state.authorization.is_empty());
    assert!(
        state
            .authorization
            .iter()
            .all(|h| *h == format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn async_create_prints_the_operation_without_polling() {
    let fake = Fake::default();
    let addr = start(&fake, None).await;
    let out = cli(
        addr,
        &["--format", "json", "kms", KEY, "create", "--async"],
        b"",
    )
    .await
    .unwrap();
    let op: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(op["id"], "op2");
    assert!(op.get("done").is_none());
    assert!(
        op["metadata"]["keyId"]
            .as_str()
            .unwrap()
            .starts_with("abjkey")
    );
    assert_eq!(fake.state().polls, 0);
    assert_eq!(
        fake.state().keys[0].signature_algorithm,
        1,
        "default algorithm"
    );
}

#[tokio::test]
async fn names_resolve_across_pages_and_sign_works() {
    let fake = Fake::default();
    let addr = start(&fake, None).await;
    for name in ["a", "b", "c", "target", "d"] {
        text(addr, &["kms", KEY, "create", "--name", name]).await;
    }
    let target = fake.state().keys[3].id.clone();

    // Message on stdin, signature as hex on stdout; the key found on List page 2 of 3.
    let out = cli(
        addr,
        &[
            "kms",
            CRYPTO,
            "sign",
            "--name",
            "target",
            "--outform",
            "hex",
        ],
        b"hello",
    )
    .await
    .unwrap();
    assert_eq!(out, format!("{}\n", hex::encode(b"sig:hello")).into_bytes());

    // Default on stdout in text format: base64.
    let out = cli(
        addr,
        &["kms", CRYPTO, "sign", &target, "--inform", "hex"],
        b"6869\n",
    )
    .await
    .unwrap();
    assert_eq!(out, b"c2lnOmhp\n");

    // JSON format without --outform: the response message.
    let out = cli(
        addr,
        &[
            "--format",
            "json",
            "kms",
            CRYPTO,
            "sign-hash",
            "--id",
            &target,
        ],
        b"\x01\x02",
    )
    .await
    .unwrap();
    let resp: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(resp["keyId"], target.as_str());
    assert_eq!(resp["signature"], "aGFzaDoBAg==");

    // Files: message in, raw signature out, nothing on stdout.
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("msg.b64");
    let signature = dir.path().join("sig.bin");
    std::fs::write(&message, "aGk=").unwrap();
    let out = cli(
        addr,
        &[
            "kms",
            CRYPTO,
            "sign",
            &target,
            "--message-file",
            message.to_str().unwrap(),
            "--inform",
            "base64",
            "--signature-output-file",
            signature.to_str().unwrap(),
        ],
        b"",
    )
    .await
    .unwrap();
    assert!(out.is_empty());
    assert_eq!(std::fs::read(&signature).unwrap(), b"sig:hi");

    let list = text(addr, &["kms", KEY, "list", "--limit", "3"]).await;
    assert_eq!(list.matches("| abjkey").count(), 3, "{list}");
    let list = text(addr, &["kms", KEY, "list"]).await;
    assert_eq!(list.matches("| abjkey").count(), 5, "{list}");
}

#[tokio::test]
async fn ambiguous_or_unknown_names_are_errors() {
    let fake = Fake::default();
    let addr = start(&fake, None).await;
    for _ in 0..2 {
        text(addr, &["kms", KEY, "create", "--name", "twin"]).await;
    }
    let err = cli(addr, &["kms", KEY, "get", "--name", "twin"], b"")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::KeyNameAmbiguous { count: 2, .. }),
        "{err:?}"
    );
    let err = cli(addr, &["kms", KEY, "get", "--name", "nobody"], b"")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::KeyNameNotFound { .. }),
        "{err:?}"
    );
    let err = cli(addr, &["kms", KEY, "get", "abjmissing"], b"")
        .await
        .unwrap_err();
    assert_eq!(err.report(), "ERROR: NOT_FOUND: key abjmissing not found");
}

#[tokio::test]
async fn get_public_key_prints_or_writes_pem() {
    let fake = Fake::default();
    let addr = start(&fake, None).await;
    text(addr, &["kms", KEY, "create", "--name", "k"]).await;
    let out = text(addr, &["kms", CRYPTO, "get-public-key", "--name", "k"]).await;
    let id = fake.state().keys[0].id.clone();
    assert!(
        out.starts_with(&format!(
            "key_id: {id}\npublic_key: |\n  -----BEGIN PUBLIC KEY-----\n"
        )),
        "{out}"
    );
    let yaml: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
    assert_eq!(yaml["public_key"], PEM);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pub.pem");
    let out = text(
        addr,
        &[
            "kms",
            CRYPTO,
            "get-public-key",
            &id,
            "--output-file",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), PEM);
}

#[tokio::test]
async fn update_sends_the_mask_and_delete_reports_operation_errors() {
    let fake = Fake::default();
    let addr = start(&fake, None).await;
    text(
        addr,
        &[
            "kms",
            KEY,
            "create",
            "--name",
            "old",
            "--deletion-protection",
        ],
    )
    .await;
    let id = fake.state().keys[0].id.clone();

    // Protected: the delete operation fails, and that is an error.
    let err = cli(addr, &["kms", KEY, "delete", &id], b"")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::OperationFailed { code: 9, .. }),
        "{err:?}"
    );
    assert!(
        err.report()
            .starts_with("ERROR: FAILED_PRECONDITION: key is protected from deletion")
    );

    let out = text(
        addr,
        &[
            "kms",
            KEY,
            "update",
            "--name",
            "old",
            "--new-name",
            "new",
            "--no-deletion-protection",
        ],
    )
    .await;
    assert!(out.contains("name: new\n"), "{out}");
    assert!(!out.contains("deletion_protection"), "{out}");
    assert_eq!(
        fake.state().masks.last().unwrap(),
        &["name".to_owned(), "deletion_protection".to_owned()]
    );

    let ops = text(addr, &["kms", KEY, "list-operations", &id]).await;
    assert!(ops.contains("| ERROR "), "{ops}");
    assert!(ops.contains("| DONE "), "{ops}");

    // Unprotected now: deleted after one poll, the deleted key printed.
    let out = text(addr, &["kms", KEY, "delete", "--id", &id]).await;
    assert!(out.contains(&format!("id: {id}\n")), "{out}");
    assert!(fake.state().keys.is_empty());
}

#[tokio::test]
async fn tls_trusts_only_the_given_ca() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &*ca)
        .unwrap();
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = CertifiedIssuer::self_signed(other_params, KeyPair::generate().unwrap()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    let other_file = dir.path().join("other.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&other_file, other.pem()).unwrap();

    let fake = Fake::default();
    let identity = Identity::from_pem(leaf.pem(), leaf_key.serialize_pem());
    let addr = start(&fake, Some(identity)).await;
    let endpoint = addr.to_string();
    let localhost = format!("localhost:{}", addr.port());

    for endpoint in [&endpoint, &localhost] {
        let out = run_args(
            &[
                "--endpoint",
                endpoint,
                "--ca",
                ca_file.to_str().unwrap(),
                "--token",
                TOKEN,
                "kms",
                KEY,
                "list",
            ],
            b"",
        )
        .await
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("| ID |"));
    }

    let err = run_args(
        &[
            "--endpoint",
            &endpoint,
            "--ca",
            other_file.to_str().unwrap(),
            "kms",
            KEY,
            "list",
        ],
        b"",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");

    // Plaintext to a TLS port fails too (no silent downgrade either way).
    let err = run_args(
        &["--endpoint", &endpoint, "--insecure", "kms", KEY, "list"],
        b"",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ClientError::Rpc(_) | ClientError::Connect { .. }),
        "{err:?}"
    );
}
