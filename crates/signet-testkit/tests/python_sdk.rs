#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The official `yandexcloud` Python SDK against a real Signet server over plaintext gRPC:
//! `compat/sdk_smoke.py` creates keys, waits for the operations, gets, lists, signs, sign-hashes
//! (verifying with Python `cryptography`), updates and deletes them, and checks the error codes.
//! The admin token reaches the script only through the `SIGNET_TEST_TOKEN` environment variable.

use signet_testkit::{TestServer, python, workspace_root};
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_drives_the_full_key_lifecycle() {
    let server = TestServer::builder().start().await;
    let script = workspace_root().join("compat/sdk_smoke.py");

    let child = tokio::process::Command::new(python())
        .arg(&script)
        .arg(server.addr().to_string())
        .env("SIGNET_TEST_TOKEN", &server.token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let out = tokio::time::timeout(Duration::from_secs(600), child.wait_with_output())
        .await
        .expect("compat/sdk_smoke.py did not finish within 600 s")
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "compat/sdk_smoke.py failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}
