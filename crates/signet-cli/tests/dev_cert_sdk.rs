//! `signet dev-cert` certificates must work with the gRPC stack the official SDKs use
//! (gRPC core with BoringSSL, stricter than rustls: it once rejected the CA's name
//! constraints). Runs `signet dev-cert`, `signet serve` with TLS, and the Python `yandexcloud`
//! SDK with `root_certificates` and the admin token: discovery over TLS, then a call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

fn python() -> PathBuf {
    let p = std::env::var_os("SIGNET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    assert!(
        p.exists(),
        "Python venv missing at {}; run scripts/dev-deps",
        p.display()
    );
    p
}

const SCRIPT: &str = r#"
import os, sys, grpc, yandexcloud
from yandex.cloud.kms.v1.asymmetricsignature.asymmetric_signature_crypto_service_pb2_grpc import AsymmetricSignatureCryptoServiceStub
from yandex.cloud.kms.v1.asymmetricsignature.asymmetric_signature_crypto_service_pb2 import AsymmetricGetPublicKeyRequest
sdk = yandexcloud.SDK(endpoint=sys.argv[1], root_certificates=open(sys.argv[2], "rb").read(), iam_token=os.environ["SIGNET_TEST_TOKEN"])
try:
    sdk.client(AsymmetricSignatureCryptoServiceStub).GetPublicKey(AsymmetricGetPublicKeyRequest(key_id="abj00000000000000000"), timeout=20)
    print("unexpected success")
except grpc.RpcError as e:
    print("code", e.code().name)
"#;

#[test]
fn dev_cert_chain_is_accepted_by_grpc_core() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = Command::new(SIGNET)
        .args(["dev-cert", "--out-dir"])
        .arg(&certs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let data = dir.path().join("data");
    let mut child = Command::new(SIGNET)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--advertise",
            "localhost:{port}",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--tls-cert")
        .arg(certs.join("server.pem"))
        .arg("--tls-key")
        .arg(certs.join("server.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut addr = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(a) = line.unwrap().strip_prefix("signet listening on ") {
            addr = Some(a.trim().to_owned());
            break;
        }
    }
    let port = addr.unwrap().rsplit(':').next().unwrap().to_owned();
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let out = Command::new(python())
        .args(["-c", SCRIPT, &format!("localhost:{port}")])
        .arg(certs.join("ca.pem"))
        .env("SIGNET_TEST_TOKEN", token.trim())
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("code NOT_FOUND"),
        "the SDK could not talk TLS to a dev-cert server: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
