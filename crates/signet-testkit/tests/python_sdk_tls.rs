#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The official `yandexcloud` Python SDK, unmodified, against a Signet server over TLS with a
//! throw-away CA: `compat/sdk_tls.py` gives the SDK only the discovery endpoint, the CA and a
//! service account's `key.json`, so the SDK itself discovers the endpoints (TLS), exchanges its
//! JWT for an IAM token and sends that token. It creates a P-256 key (waiting for the operation
//! with the SDK's helper), signs, sign-hashes, fetches the public key (verifying with Python
//! `cryptography`), grants `kms.asymmetricSignatureKeys.signer` on the key to a second service
//! account, and checks that this account's own SDK can sign but gets PERMISSION_DENIED on
//! Update and GetPublicKey.
//!
//! This test sets up what an administrator would: the TLS certificate, two service accounts
//! with authorized keys (written as Yandex `key.json` files, mode 0600), and `kms.admin` on the
//! folder for the first account. No token reaches the script; private keys stay in the files.

use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_testkit::{TestServer, python, workspace_root};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
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
        .push(DnType::CommonName, "Signet test CA (python_sdk_tls)");
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
    write_private(&key_path, server_key.serialize_pem().as_bytes());
    (ca.pem(), cert_path, key_path)
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(contents).unwrap();
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

/// Creates an authorized key for `service_account_id` and writes Yandex's `key.json` for it.
async fn write_key_json(server: &TestServer, service_account_id: &str, path: &Path) {
    let created = server
        .authorized_keys()
        .create(iam::CreateKeyRequest {
            service_account_id: service_account_id.into(),
            description: "python_sdk_tls".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let key = created.key.expect("KeyService.Create returned no key");
    assert!(
        created.private_key.contains("-----BEGIN PRIVATE KEY-----"),
        "KeyService.Create returned no PKCS#8 PEM private key"
    );
    let json = serde_json::json!({
        "id": key.id,
        "service_account_id": service_account_id,
        "private_key": created.private_key,
    });
    write_private(path, serde_json::to_vec_pretty(&json).unwrap().as_slice());
}

fn binding(role: &str, service_account_id: &str) -> access::AccessBinding {
    access::AccessBinding {
        role_id: role.into(),
        subject: Some(access::Subject {
            id: service_account_id.into(),
            r#type: "serviceAccount".into(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_tls_with_service_account_keys() {
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

    let sdk_user = server.create_service_account(FOLDER, "sdk-user").await;
    let signer_only = server.create_service_account(FOLDER, "signer-only").await;
    let sdk_user_json = dir.path().join("sdk-user.key.json");
    let signer_only_json = dir.path().join("signer-only.key.json");
    write_key_json(&server, &sdk_user, &sdk_user_json).await;
    write_key_json(&server, &signer_only, &signer_only_json).await;

    // A fresh service account may do nothing. The script creates a key (kms.editor) and grants a
    // role on it (kms.admin, which includes editor); "signer-only" gets its role from the script.
    server
        .folders()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: FOLDER.into(),
            access_bindings: vec![
                binding("kms.editor", &sdk_user),
                binding("kms.admin", &sdk_user),
            ],
        })
        .await
        .unwrap();

    let script = workspace_root().join("compat/sdk_tls.py");
    let endpoint = format!("localhost:{}", server.addr().port());
    let child = tokio::process::Command::new(python())
        .arg(&script)
        .arg(&endpoint)
        .arg(&ca_path)
        .arg(&sdk_user_json)
        .arg(&signer_only_json)
        // The CA reaches the SDK only through `root_certificates`, not the environment.
        .env_remove("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("compat/sdk_tls.py did not finish within 300 s")
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"),
        "compat/sdk_tls.py printed a private key"
    );
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "compat/sdk_tls.py failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}
