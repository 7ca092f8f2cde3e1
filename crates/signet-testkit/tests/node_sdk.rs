#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The official Yandex Cloud Node.js SDK (`@yandex-cloud/nodejs-sdk`, pinned in
//! `compat/node/package.json`, installed by `scripts/dev-deps`), unmodified, against a Signet
//! server over TLS with a throw-away CA. The Node SDK has no endpoint discovery and cannot mint
//! tokens against a self-hosted IAM endpoint, so it gets a static IAM token and the endpoint:
//! `compat/node/sign.mjs` uses `new Session({ iamToken, ssl: { rootCerts } })` and
//! `session.client(AsymmetricSignatureCryptoServiceClient, "localhost:PORT")` to call
//! GetPublicKey, Sign and SignHash, verifying with Node's `crypto.verify`, and checks NOT_FOUND,
//! UNAUTHENTICATED and that the TLS handshake fails without the CA.
//!
//! The token belongs to a service account holding only the signer and publicKeyViewer roles on
//! the one key; it reaches the script through `SIGNET_IAM_TOKEN` and is never printed.

use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricSignatureKey, CreateAsymmetricSignatureKeyRequest,
};
use signet_proto::yandex::cloud::operation::operation;
use signet_testkit::{TestServer, workspace_root};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const FOLDER: &str = "default";

/// A throw-away CA and a server certificate it issued for `localhost` and `127.0.0.1`, as PEM
/// files in `dir`. Returns (CA certificate PEM, server certificate path, server key path).
fn throwaway_pki(dir: &Path) -> (String, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Signet test CA (node_sdk)");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = server_params.signed_by(&server_key, &*ca).unwrap();

    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    std::fs::write(&cert_path, server_cert.pem()).unwrap();
    std::fs::write(&key_path, server_key.serialize_pem()).unwrap();
    (ca.pem(), cert_path, key_path)
}

/// A gRPC channel to the server that trusts only the throw-away CA and checks the name
/// `localhost` (connecting to 127.0.0.1, which the server listens on).
async fn tls_channel(server: &TestServer, ca_pem: &str) -> Channel {
    Channel::from_shared(format!("https://127.0.0.1:{}", server.addr().port()))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `node` from PATH; fails the test (never skips) when it is missing.
fn node() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`node` is not on PATH; install Node.js and npm (scripts/dev-deps does, as root)"
            )
        })
}

async fn create_p256_key(server: &TestServer) -> String {
    use prost::Message as _;
    let op = server
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: FOLDER.into(),
            name: "node-sdk".into(),
            signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    match server.wait(op).await.result {
        Some(operation::Result::Response(any)) => {
            AsymmetricSignatureKey::decode(any.value.as_ref())
                .unwrap()
                .id
        }
        other => panic!("key creation failed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_signs_over_tls_with_an_iam_token() {
    let node = node();
    let compat = workspace_root().join("compat/node");
    assert!(
        compat
            .join("node_modules/@yandex-cloud/nodejs-sdk")
            .is_dir(),
        "the Node SDK is not installed in {}; run scripts/dev-deps (or scripts/test)",
        compat.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, cert, key) = throwaway_pki(dir.path());
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca_pem).unwrap();

    let mut server = TestServer::builder()
        .tls(&cert, &key)
        .advertise("localhost:{port}")
        .start()
        .await;
    // The testkit's clients (admin token) now go over TLS, trusting the throw-away CA.
    server.channel = tls_channel(&server, &ca_pem).await;

    let key_id = create_p256_key(&server).await;
    let sa = server.create_service_account(FOLDER, "node-signer").await;
    let subject = || {
        Some(access::Subject {
            id: sa.clone(),
            r#type: "serviceAccount".into(),
        })
    };
    let op = server
        .keys()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: key_id.clone(),
            access_bindings: [
                "kms.asymmetricSignatureKeys.signer",
                "kms.asymmetricSignatureKeys.publicKeyViewer",
            ]
            .into_iter()
            .map(|role| access::AccessBinding {
                role_id: role.into(),
                subject: subject(),
            })
            .collect(),
        })
        .await
        .unwrap()
        .into_inner();
    let done = server.wait(op).await;
    assert!(
        matches!(done.result, Some(operation::Result::Response(_))),
        "SetAccessBindings failed: {:?}",
        done.result
    );
    let token = server.token_for(&sa).await;

    let script = compat.join("sign.mjs");
    let child = tokio::process::Command::new(&node)
        .arg(&script)
        .arg(format!("localhost:{}", server.addr().port()))
        .arg(&ca_path)
        .arg(&key_id)
        .current_dir(&compat)
        .env("SIGNET_IAM_TOKEN", &token)
        // The CA reaches the SDK only through `ssl.rootCerts`, not the environment.
        .env_remove("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
        .env_remove("NODE_EXTRA_CA_CERTS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", node.display(), script.display()));
    let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("compat/node/sign.mjs did not finish within 300 s")
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(&token) && !stderr.contains(&token),
        "compat/node/sign.mjs printed the IAM token"
    );
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "compat/node/sign.mjs failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}
