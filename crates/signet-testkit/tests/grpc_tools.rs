//! gRPC health and server reflection, driven by grpcio's own health and reflection clients
//! (`compat/grpc_tools_smoke.py`), the way grpcurl-style tools use them: list every service,
//! rebuild the descriptors from reflection alone, and call an RPC with them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::CreateAsymmetricSignatureKeyRequest;
use signet_testkit::{TestServer, python, workspace_root};
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_work_with_grpcio_clients() {
    let server = TestServer::builder().start().await;
    let op = server
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            name: "reflected".into(),
            signature_algorithm: signet_crypto::Algorithm::EcdsaP256Sha256.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    server.wait(op).await;

    let script = workspace_root().join("compat/grpc_tools_smoke.py");
    let out = tokio::process::Command::new(python())
        .arg(&script)
        .arg(server.addr().to_string())
        .arg(&server.token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "compat/grpc_tools_smoke.py failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}
