//! Secret hygiene (issue 8), against the real `signet serve` binary with `--log-level trace`:
//!
//! 1. A full workload (keys of every family created, signing, hashing, reading, updating,
//!    deleting; access bindings; a service account, its authorized key, a JWT exchanged for an
//!    IAM token, a token issued and revoked; failing calls) runs while every log line goes to
//!    a file. Then every log line, the database files (the WAL and shared-memory files
//!    included, while running and after the stop), the exported audit trail and every response
//!    are searched for each created key's private key (PKCS#8 DER, PEM, base64, each private
//!    number raw / hex / base64, and any 16-byte run of a private number), the root key (raw,
//!    base64, base64url, hex, any 16-byte run) and the tokens and credentials used (admin token,
//!    IAM tokens, the JWT, the authorized key's private key), and the signed messages. None may
//!    be found. (Responses legitimately carry the IAM tokens and the authorized key they issue,
//!    so those are not searched for there.) The private keys are unsealed for the search with
//!    the root key file, as only a test may.
//! 2. The database copied without the root key gives nothing: the server refuses to start on it
//!    (with no root key, and with another one), and no sealed blob opens under another root
//!    key (while each opens under the right one).
//! 3. A sealed blob moved onto another key's row (same algorithm, and another algorithm) does
//!    not open: Sign with that key answers INTERNAL, never a signature, and the key the blob
//!    came from still signs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use prost::Message;
use signet_core::domain::{Clock as _, KeyId};
use signet_core::store::{KeyWrite, Write};
use signet_crypto::{Algorithm, RootKey};
use signet_proto::yandex::cloud::access as acc;
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature as kms;
use signet_proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use signet_proto::yandex::cloud::operation::{GetOperationRequest, Operation, operation};
use signet_testkit::jwt::{self, jws};
use signet_testkit::{Authed, Bearer};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tonic::transport::Channel;

mod common;

use common::{SIGNET, Server};

// ---------------------------------------------------------------------------------------------
// The server process.

/// Starts `signet serve --log-level trace`, its standard error appended to `log`. `Err` holds
/// the log if the server exits instead of listening.
fn start(data_dir: &Path, log: &Path, extra: &[&str]) -> Result<Server, String> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut args = vec!["--log-level", "trace"];
    args.extend_from_slice(extra);
    Server::try_start(data_dir, &args, Stdio::from(log_file)).map_err(|status| {
        assert!(!status.success(), "the server exited 0 without listening");
        std::fs::read_to_string(log).unwrap()
    })
}

async fn channel(server: &Server) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// What must never be found.

/// Secrets, as exact byte strings and as 16-byte runs of raw secret numbers.
#[derive(Default)]
struct Secrets {
    exact: Vec<(String, Vec<u8>)>,
    runs: HashMap<[u8; RUN], String>,
}

const RUN: usize = 16;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Each byte as the char of the same number, so that a byte string search can use `str`'s
/// (optimised) substring search: the mapping keeps substrings and adds none.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl Secrets {
    fn exact(&mut self, what: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        assert!(
            bytes.len() >= 8,
            "a needle this short could match by chance"
        );
        self.exact.push((what.into(), bytes));
    }

    /// A secret number: itself, its hex and base64 forms, and every 16-byte run of it.
    fn number(&mut self, what: &str, raw: &[u8]) {
        self.exact(format!("{what} (raw)"), raw);
        self.exact(format!("{what} (hex)"), hex(raw));
        self.exact(format!("{what} (HEX)"), hex(raw).to_uppercase());
        self.exact(format!("{what} (base64)"), b64(raw));
        self.exact(format!("{what} (base64url)"), b64url(raw));
        for (i, run) in raw.windows(RUN).enumerate() {
            self.runs
                .insert(run.try_into().unwrap(), format!("{what} (bytes {i}..)"));
        }
    }

    /// A private key: its PKCS#8 DER and PEM, and its private numbers (the DER's integers and
    /// octet strings of 16 bytes or more that are not in the public key).
    fn private_key(&mut self, what: &str, pkcs8: &[u8], public_der: &[u8]) {
        self.exact(format!("{what} PKCS#8 DER"), pkcs8);
        self.exact(format!("{what} PKCS#8 base64"), b64(pkcs8));
        let pem = pem_of(pkcs8);
        self.exact(format!("{what} PKCS#8 PEM"), pem.clone());
        // Every full line of the PEM body that is not public (the header, the RSA modulus).
        let public = latin1(public_der);
        for (i, line) in pem.lines().filter(|l| l.len() == 64).enumerate() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(line)
                .unwrap();
            if !public.contains(&latin1(&bytes)) {
                self.exact(format!("{what} PEM line {i}"), line);
            }
        }
        let mut numbers = Vec::new();
        der_numbers(pkcs8, &mut numbers);
        let mut private = 0;
        for n in numbers {
            if n.len() >= RUN && !public.contains(&latin1(&n)) {
                private += 1;
                self.number(&format!("{what} private number {private}"), &n);
            }
        }
        assert!(
            private >= 1,
            "{what}: no private number found in its PKCS#8"
        );
    }

    /// What of these secrets `haystack` contains.
    fn found_in(&self, haystack: &[u8]) -> Vec<String> {
        let text = latin1(haystack);
        let mut found: Vec<String> = self
            .exact
            .iter()
            .filter(|(_, needle)| text.contains(&latin1(needle)))
            .map(|(what, _)| what.clone())
            .collect();
        for run in haystack.windows(RUN) {
            if let Some(what) = self.runs.get(run) {
                found.push(what.clone());
            }
        }
        found.sort();
        found.dedup();
        found
    }
}

fn pem_of(der: &[u8]) -> String {
    let body = b64(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// The contents of every INTEGER and OCTET STRING in `der`, descending into SEQUENCEs, context
/// tags and octet strings that hold DER.
fn der_numbers(der: &[u8], out: &mut Vec<Vec<u8>>) {
    let mut i = 0;
    while i + 2 <= der.len() {
        let tag = der[i];
        let mut len = usize::from(der[i + 1]);
        i += 2;
        if len & 0x80 != 0 {
            let n = len & 0x7f;
            if n == 0 || n > 3 || i + n > der.len() {
                return;
            }
            len = der[i..i + n]
                .iter()
                .fold(0, |acc, b| (acc << 8) | usize::from(*b));
            i += n;
        }
        if i + len > der.len() {
            return;
        }
        let content = &der[i..i + len];
        match tag {
            0x30 | 0xa0 | 0xa1 => der_numbers(content, out),
            0x02 => out.push(content.to_vec()),
            0x04 => {
                out.push(content.to_vec());
                if content.first() == Some(&0x30) {
                    der_numbers(content, out);
                }
            }
            _ => {}
        }
        i += len;
    }
}

/// The root key's 32 bytes, from its file (raw or base64).
fn root_key_bytes(path: &Path) -> Vec<u8> {
    let file = std::fs::read(path).unwrap();
    if file.len() == 32 {
        return file;
    }
    let text = String::from_utf8(file).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    assert_eq!(raw.len(), 32);
    raw
}

// ---------------------------------------------------------------------------------------------
// The workload.

/// Every response (message bytes and metadata, or status message and details).
#[derive(Default)]
struct Responses(Vec<Vec<u8>>);

impl Responses {
    fn keep<T: Message>(
        &mut self,
        result: Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, tonic::Status> {
        match result {
            Ok(response) => {
                self.0
                    .push(format!("{:?}", response.metadata()).into_bytes());
                let message = response.into_inner();
                self.0.push(message.encode_to_vec());
                Ok(message)
            }
            Err(status) => {
                self.0.push(status.message().as_bytes().to_vec());
                self.0.push(status.details().to_vec());
                self.0.push(format!("{:?}", status.metadata()).into_bytes());
                Err(status)
            }
        }
    }
}

use kms::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient as Crypto;
use kms::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient as Keys;

struct Clients {
    keys: Keys<Authed>,
    crypto: Crypto<Authed>,
    operations: OperationServiceClient<Authed>,
    accounts: iam::service_account_service_client::ServiceAccountServiceClient<Authed>,
    authorized_keys: iam::key_service_client::KeyServiceClient<Authed>,
    tokens: iam::iam_token_service_client::IamTokenServiceClient<Authed>,
}

impl Clients {
    fn new(channel: &Channel, token: Option<&str>) -> Clients {
        let b = || Bearer::new(token);
        Clients {
            keys: Keys::with_interceptor(channel.clone(), b()),
            crypto: Crypto::with_interceptor(channel.clone(), b()),
            operations: OperationServiceClient::with_interceptor(channel.clone(), b()),
            accounts:
                iam::service_account_service_client::ServiceAccountServiceClient::with_interceptor(
                    channel.clone(),
                    b(),
                ),
            authorized_keys: iam::key_service_client::KeyServiceClient::with_interceptor(
                channel.clone(),
                b(),
            ),
            tokens: iam::iam_token_service_client::IamTokenServiceClient::with_interceptor(
                channel.clone(),
                b(),
            ),
        }
    }

    async fn wait(&mut self, r: &mut Responses, mut op: Operation) -> Operation {
        for _ in 0..6000 {
            if op.done {
                return op;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            op = r
                .keep(
                    self.operations
                        .get(GetOperationRequest {
                            operation_id: op.id.clone(),
                        })
                        .await,
                )
                .unwrap();
        }
        panic!("operation {} did not finish", op.id);
    }

    async fn create_key(&mut self, r: &mut Responses, algorithm: Algorithm) -> String {
        let op = r
            .keep(
                self.keys
                    .create(kms::CreateAsymmetricSignatureKeyRequest {
                        folder_id: "hygiene".into(),
                        name: format!("{algorithm:?}"),
                        signature_algorithm: algorithm.wire_number(),
                        ..Default::default()
                    })
                    .await,
            )
            .unwrap();
        match self.wait(r, op).await.result {
            Some(operation::Result::Response(any)) => {
                kms::AsymmetricSignatureKey::decode(any.value.as_ref())
                    .unwrap()
                    .id
            }
            other => panic!("create failed: {other:?}"),
        }
    }

    async fn sign(
        &mut self,
        r: &mut Responses,
        key: &str,
        message: &[u8],
    ) -> Result<Vec<u8>, tonic::Status> {
        r.keep(
            self.crypto
                .sign(kms::AsymmetricSignRequest {
                    key_id: key.into(),
                    message: message.to_vec(),
                })
                .await,
        )
        .map(|s| s.signature)
    }

    async fn public_key(&mut self, r: &mut Responses, key: &str) -> String {
        r.keep(
            self.crypto
                .get_public_key(kms::AsymmetricGetPublicKeyRequest { key_id: key.into() })
                .await,
        )
        .unwrap()
        .public_key
    }
}

/// What the workload made and used.
struct Workload {
    /// `(key id, algorithm)` of every key created.
    keys: Vec<(String, Algorithm)>,
    /// Tokens and credentials: `(what, value)`.
    credentials: Vec<(String, Vec<u8>)>,
    /// The IAM tokens issued (legitimately in responses).
    issued: Vec<String>,
    /// The authorized key's private key, PKCS#8 DER, and its public key, DER.
    authorized_private: Vec<u8>,
    authorized_public: Vec<u8>,
    messages: Vec<Vec<u8>>,
}

const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::Rsa2048PssSha256,
    Algorithm::Rsa3072PssSha384,
    Algorithm::EcdsaP256Sha256,
    Algorithm::EcdsaP256Sha256,
    Algorithm::EcdsaP384Sha384,
    Algorithm::EcdsaP521Sha512,
    Algorithm::EcdsaSecp256k1Sha256,
];

async fn workload(server: &Server, admin_token: &str, r: &mut Responses) -> Workload {
    let channel = channel(server).await;
    let mut admin = Clients::new(&channel, Some(admin_token));
    let mut keys = Vec::new();
    let mut messages = Vec::new();
    for algorithm in ALGORITHMS {
        let id = admin.create_key(r, algorithm).await;
        let mut marker = [0u8; 12];
        signet_crypto::fill_random(&mut marker).unwrap();
        let message = format!("hygiene message {}", hex(&marker)).into_bytes();
        let signature = admin.sign(r, &id, &message).await.unwrap();
        let pem = admin.public_key(r, &id).await;
        let spki = signet_crypto::spki_pem_to_der(&pem).unwrap();
        signet_crypto::verify(algorithm, &spki, &message, &signature).unwrap();
        let digest = algorithm.hash().digest(&message);
        r.keep(
            admin
                .crypto
                .sign_hash(kms::AsymmetricSignHashRequest {
                    key_id: id.clone(),
                    hash: digest,
                })
                .await,
        )
        .unwrap();
        messages.push(message);
        keys.push((id, algorithm));
    }
    let first = keys[0].0.clone();
    r.keep(
        admin
            .keys
            .get(kms::GetAsymmetricSignatureKeyRequest {
                key_id: first.clone(),
            })
            .await,
    )
    .unwrap();
    r.keep(
        admin
            .keys
            .list(kms::ListAsymmetricSignatureKeysRequest {
                folder_id: "hygiene".into(),
                page_size: 2,
                page_token: String::new(),
            })
            .await,
    )
    .unwrap();
    r.keep(
        admin
            .keys
            .update(kms::UpdateAsymmetricSignatureKeyRequest {
                key_id: first.clone(),
                update_mask: Some(signet_proto::wkt::FieldMask {
                    paths: vec!["labels".into(), "description".into()],
                }),
                labels: [("env".to_owned(), "test".to_owned())].into(),
                description: "touched".into(),
                ..Default::default()
            })
            .await,
    )
    .unwrap();
    r.keep(
        admin
            .keys
            .list_operations(kms::ListAsymmetricSignatureKeyOperationsRequest {
                key_id: first.clone(),
                ..Default::default()
            })
            .await,
    )
    .unwrap();

    // A service account, its authorized key, a JWT exchanged for a token, signing with it.
    let op = r
        .keep(
            admin
                .accounts
                .create(iam::CreateServiceAccountRequest {
                    folder_id: "hygiene".into(),
                    name: "hygiene-signer".into(),
                    ..Default::default()
                })
                .await,
        )
        .unwrap();
    let account = match op.result {
        Some(operation::Result::Response(any)) => {
            iam::ServiceAccount::decode(any.value.as_ref()).unwrap().id
        }
        other => panic!("{other:?}"),
    };
    let created = r
        .keep(
            admin
                .authorized_keys
                .create(iam::CreateKeyRequest {
                    service_account_id: account.clone(),
                    key_algorithm: iam::key::Algorithm::Rsa2048 as i32,
                    ..Default::default()
                })
                .await,
        )
        .unwrap();
    let authorized = created.key.unwrap();
    let authorized_private = jwt::pem_body(&created.private_key);
    let authorized_public = signet_crypto::spki_pem_to_der(&authorized.public_key).unwrap();
    r.keep(
        admin
            .keys
            .set_access_bindings(acc::SetAccessBindingsRequest {
                resource_id: first.clone(),
                access_bindings: vec![acc::AccessBinding {
                    role_id: "kms.asymmetricSignatureKeys.signer".into(),
                    subject: Some(acc::Subject {
                        id: account.clone(),
                        r#type: "serviceAccount".into(),
                    }),
                }],
            })
            .await,
    )
    .unwrap();
    let now = signet_core::domain::SystemClock.now().as_micros() / 1_000_000;
    let jwt = jws(
        serde_json::json!({"typ": "JWT", "alg": "PS256", "kid": authorized.id}),
        serde_json::json!({"iss": account, "aud": signet_core::CANONICAL_JWT_AUDIENCE,
                           "iat": now, "exp": now + 600}),
        jwt::ps256(&authorized_private),
    );
    let exchanged = r
        .keep(
            admin
                .tokens
                .create(iam::CreateIamTokenRequest {
                    identity: Some(iam::create_iam_token_request::Identity::Jwt(jwt.clone())),
                })
                .await,
        )
        .unwrap()
        .iam_token;
    let mut as_account = Clients::new(&channel, Some(&exchanged));
    let message = b"signed by the service account 5d1e".to_vec();
    as_account.sign(r, &first, &message).await.unwrap();
    messages.push(message);
    // Over REST too: a signature, and a body the gateway cannot read, which quotes its value.
    // (The REST answers go back to the caller who sent them and are not searched.)
    let rest_message = b"signed over REST 9c4e".to_vec();
    let body = format!("{{\"message\": \"{}\"}}", b64(&rest_message));
    assert_eq!(
        rest(server, admin_token, &format!("{first}:sign"), &body),
        "200"
    );
    messages.push(rest_message);
    let unreadable = "not base64, a REST marker 41f7".to_owned();
    let body = format!("{{\"message\": \"{unreadable}\"}}");
    assert_eq!(
        rest(server, admin_token, &format!("{first}:sign"), &body),
        "400"
    );
    messages.push(unreadable.into_bytes());
    // It holds no role on the others.
    assert!(
        as_account
            .sign(r, &keys[1].0, b"denied 77ab")
            .await
            .is_err()
    );

    let issued = r
        .keep(
            admin
                .tokens
                .create_for_service_account(iam::CreateIamTokenForServiceAccountRequest {
                    service_account_id: account.clone(),
                })
                .await,
        )
        .unwrap()
        .iam_token;
    r.keep(
        admin
            .tokens
            .revoke(iam::RevokeIamTokenRequest {
                iam_token: issued.clone(),
            })
            .await,
    )
    .unwrap();
    let mut revoked = Clients::new(&channel, Some(&issued));
    assert!(
        revoked
            .sign(r, &first, b"after revocation 0c3f")
            .await
            .is_err()
    );
    let mut stranger = Clients::new(&channel, Some("t1.not-a-real-token-0000000000000000"));
    assert!(
        stranger
            .sign(r, &first, b"unauthenticated 9e21")
            .await
            .is_err()
    );
    assert!(
        admin
            .sign(r, "abj00000000000000000", b"nowhere")
            .await
            .is_err()
    );

    // Delete one key (its sealed material stays until the deletion window ends).
    let last = keys.last().unwrap().0.clone();
    r.keep(
        admin
            .keys
            .delete(kms::DeleteAsymmetricSignatureKeyRequest { key_id: last })
            .await,
    )
    .unwrap();

    Workload {
        keys,
        credentials: vec![
            (
                "the exchanged IAM token".into(),
                exchanged.clone().into_bytes(),
            ),
            ("the issued IAM token".into(), issued.clone().into_bytes()),
            ("the JWT".into(), jwt.clone().into_bytes()),
            (
                "the JWT's signature".into(),
                jwt.rsplit('.').next().unwrap().as_bytes().to_vec(),
            ),
        ],
        issued: vec![exchanged, issued],
        authorized_private,
        authorized_public,
        messages,
    }
}

/// The database files of a data directory, by name.
/// POSTs `body` to `/kms/v1/asymmetricSignatureKeys/{path}` with `curl` (the token in a
/// header file, not on the command line); returns the HTTP status.
fn rest(server: &Server, token: &str, path: &str, body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    std::fs::write(&headers, format!("Authorization: Bearer {token}\n")).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("@{}", headers.display()))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ])
        .arg(format!(
            "http://{}/kms/v1/asymmetricSignatureKeys/{path}",
            server.addr
        ))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn db_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("signet.db") {
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    assert!(out.iter().any(|(n, _)| n == "signet.db"), "no database");
    out
}

fn settings(dir: &Path) -> signet_server::Settings {
    signet_server::Settings::resolve(
        None,
        |_| None,
        signet_server::Overrides {
            data_dir: Some(dir.to_owned()),
            ..Default::default()
        },
    )
    .unwrap()
}

fn signet(args: &[&str]) -> std::process::Output {
    Command::new(SIGNET).args(args).output().unwrap()
}

#[track_caller]
fn assert_clean(secrets: &Secrets, place: &str, haystack: &[u8]) {
    let found = secrets.found_in(haystack);
    assert!(found.is_empty(), "{place} holds secrets: {found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_database_audit_or_responses_and_sealed_material_needs_its_root_key() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let log = temp.path().join("server.log");

    // 1. The workload, at trace level.
    let server = start(&dir, &log, &[]).unwrap();
    let admin_token = std::fs::read_to_string(dir.join(signet_server::app::ADMIN_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_owned();
    let mut responses = Responses::default();
    let work = workload(&server, &admin_token, &mut responses).await;
    let while_running = db_files(&dir);
    let stdout = server.stdout.join("\n");
    server.stop();
    let after_stop = db_files(&dir);

    // The secrets, the private keys unsealed with the root key file.
    let root_path = dir.join("root.key");
    let root_raw = root_key_bytes(&root_path);
    let root = RootKey::parse(&std::fs::read(&root_path).unwrap(), "test").unwrap();
    let store = signet_server::open_store(&settings(&dir)).await.unwrap();
    let mut secrets = Secrets::default();
    let mut sealed = Vec::new();
    for (id, algorithm) in &work.keys {
        let record = store
            .get_key(&KeyId::parse("id", id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let blob = record.sealed.clone().expect("sealed material kept");
        let key = signet_crypto::open_key(&root, id, *algorithm, &blob).unwrap();
        let pkcs8 = key.to_pkcs8().unwrap();
        secrets.private_key(
            &format!("{algorithm:?} key {id}"),
            pkcs8.expose(),
            &key.public_key_der().unwrap(),
        );
        sealed.push((record, blob));
    }
    secrets.number("the root key", &root_raw);
    secrets.exact("the root key file", std::fs::read(&root_path).unwrap());
    secrets.exact("the admin token", admin_token.clone());
    for (i, message) in work.messages.iter().enumerate() {
        secrets.exact(format!("signed message {i}"), message.clone());
    }

    // Responses may carry what the server issues (IAM tokens, the authorized key); nothing else.
    for (i, response) in responses.0.iter().enumerate() {
        assert_clean(&secrets, &format!("response {i}"), response);
    }
    assert!(
        responses
            .0
            .iter()
            .any(|r| latin1(r).contains(&work.issued[0])),
        "the search sees what responses carry"
    );
    for (what, value) in &work.credentials {
        secrets.exact(what.clone(), value.clone());
    }
    secrets.private_key(
        "the authorized key",
        &work.authorized_private,
        &work.authorized_public,
    );

    // Every log line. The first start prints the admin token once on standard output, by
    // design (the operator's only look at it); nothing else is there.
    let logs = std::fs::read(&log).unwrap();
    assert!(
        logs.len() > 100_000,
        "trace logging is on ({} bytes)",
        logs.len()
    );
    eprintln!("searching {} bytes of trace logs", logs.len());
    assert!(
        String::from_utf8_lossy(&logs).contains("TRACE"),
        "trace-level lines were written"
    );
    assert_clean(&secrets, "the server log", &logs);
    assert_eq!(
        stdout.matches(admin_token.as_str()).count(),
        1,
        "the admin token is shown once"
    );
    assert_clean(
        &secrets,
        "standard output (but the admin token)",
        stdout.replace(&admin_token, "").as_bytes(),
    );

    // The database files, while running and after the stop.
    for (name, bytes) in while_running.iter().chain(&after_stop) {
        assert_clean(&secrets, name, bytes);
    }
    // The audit trail, as exported, and it verifies.
    let data_dir = dir.to_str().unwrap();
    let export = signet(&[
        "audit",
        "export",
        "--since",
        "1970-01-01T00:00:00Z",
        "--data-dir",
        data_dir,
    ]);
    assert!(export.status.success());
    assert!(
        export.stdout.len() > 1000,
        "the trail holds the workload's calls"
    );
    assert_clean(&secrets, "the audit export", &export.stdout);
    assert!(
        signet(&["audit", "verify", "--data-dir", data_dir])
            .status
            .success()
    );

    // The search finds what it looks for: plant each kind of secret in a copy of the log.
    for (what, planted) in [
        (
            "a private number",
            secrets.runs.keys().next().unwrap().to_vec(),
        ),
        ("the admin token", admin_token.as_bytes().to_vec()),
        ("the root key in base64", b64(&root_raw).into_bytes()),
        ("a PKCS#8 DER", secrets.exact[0].1.clone()),
    ] {
        let mut tampered = logs[logs.len().saturating_sub(65536)..].to_vec();
        tampered.extend_from_slice(b"\nplanted: ");
        tampered.extend_from_slice(&planted);
        assert!(
            !secrets.found_in(&tampered).is_empty(),
            "the search misses {what}"
        );
    }

    // 2. The database without its root key gives nothing.
    let copy = temp.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    for (name, bytes) in &after_stop {
        std::fs::write(copy.join(name), bytes).unwrap();
    }
    let copy_log = temp.path().join("copy.log");
    let refused = start(&copy, &copy_log, &[])
        .err()
        .expect("no root key: refused");
    assert!(refused.contains("no root key was found"), "{refused}");
    assert!(!copy.join("root.key").exists(), "no root key was made up");
    assert!(!copy.join(signet_server::app::ADMIN_TOKEN_FILE).exists());
    assert_clean(&secrets, "the refusal's log", refused.as_bytes());
    let wrong = temp.path().join("wrong.key");
    RootKey::generate().unwrap().write_new_file(&wrong).unwrap();
    let wrong_arg = wrong.to_str().unwrap();
    let refused = start(
        &copy,
        &temp.path().join("wrong.log"),
        &["--root-key-file", wrong_arg],
    )
    .err()
    .expect("another root key: refused");
    assert!(refused.contains("does not match"), "{refused}");
    for (record, blob) in &sealed {
        for _ in 0..3 {
            let other = RootKey::generate().unwrap();
            assert!(
                signet_crypto::open_key(&other, record.id.as_str(), record.algorithm, blob)
                    .is_err(),
                "{} opened under another root key",
                record.id
            );
        }
        assert!(signet_crypto::open_key(&root, record.id.as_str(), record.algorithm, blob).is_ok());
    }

    // 3. A sealed blob moved onto another key's row does not open.
    let (a, a_blob) = &sealed[2]; // ECDSA P-256
    let (b, _) = &sealed[3]; // ECDSA P-256 too: same algorithm, same blob size
    let (rsa, _) = &sealed[0];
    for (victim, blob) in [(b, a_blob), (rsa, a_blob)] {
        let moved = signet_core::domain::KeyRecord {
            sealed: Some(blob.clone()),
            version: victim.version + 1,
            ..victim.clone()
        };
        store
            .write(Write {
                key: Some(KeyWrite::Update {
                    record: &moved,
                    expected_version: victim.version,
                }),
                ..Write::default()
            })
            .await
            .unwrap();
    }
    drop(store);
    let logged_before = std::fs::metadata(&log).unwrap().len() as usize;
    let server = start(&dir, &log, &[]).unwrap();
    let mut r = Responses::default();
    let mut admin = Clients::new(&channel(&server).await, Some(&admin_token));
    let a_public =
        signet_crypto::spki_pem_to_der(&admin.public_key(&mut r, a.id.as_str()).await).unwrap();
    for victim in [b, rsa] {
        let message = b"which key signs this?";
        let status = admin
            .sign(&mut r, victim.id.as_str(), message)
            .await
            .expect_err("a moved blob must not sign");
        assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
        assert!(!status.message().contains("seal"), "{status:?}");
    }
    let signature = admin
        .sign(&mut r, a.id.as_str(), b"the blob's own key")
        .await
        .unwrap();
    signet_crypto::verify(
        Algorithm::EcdsaP256Sha256,
        &a_public,
        b"the blob's own key",
        &signature,
    )
    .unwrap();
    server.stop();
    assert_clean(
        &secrets,
        "the server log after the swap",
        &std::fs::read(&log).unwrap()[logged_before..],
    );
}

/// The running server can write no core: its core size limit is 0, soft and hard (and it is
/// non-dumpable, which `signet-server`'s `hardening` unit test reads back in-process; from
/// outside, as root, a non-dumpable process looks the same).
#[test]
fn the_running_server_writes_no_core_dump() {
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start(&temp.path().join("data"), &[]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let values: Vec<&str> = core.split_whitespace().skip(4).take(2).collect();
    assert_eq!(values, ["0", "0"], "{core}");
    server.stop();
}
