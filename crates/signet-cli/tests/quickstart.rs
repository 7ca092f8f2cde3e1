//! The README's quick start, run for real: `signet serve` as a child process on an empty data
//! directory, then the `signet kms` client commands against it, then `openssl` verifying the
//! signature; a graceful stop, a restart, and the offline `signet admin restore-key`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_testkit::process::ServeProcess as Server;
use std::path::Path;
use std::process::Command;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

/// `signet serve` on `data_dir`, as a child process.
fn start(data_dir: &Path) -> Server {
    Server::start(Path::new(SIGNET), data_dir, &[])
}

fn signet(server: &Server, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(SIGNET)
        .args(["--endpoint", &server.addr, "--insecure"])
        .args(args)
        .env("SIGNET_TOKEN", token)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn quick_start_create_sign_verify_restart_restore() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("signet-data");
    let server = start(&data);
    let token = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();

    // Core dumps are off for the server process.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(core.split_whitespace().nth(4) == Some("0"), "{core}");

    let created = ok(signet(
        &server,
        &token,
        &[
            "--format",
            "json",
            "kms",
            "asymmetric-signature-key",
            "create",
            "--name",
            "release-signing",
            "--signature-algorithm",
            "ecdsa-nist-p256-sha-256",
        ],
    ));
    let key: serde_json::Value = serde_json::from_str(&created).unwrap();
    let key_id = key["id"].as_str().unwrap().to_owned();
    assert_eq!(key["status"], "ACTIVE");

    let message = dir.path().join("artifact.tar.gz");
    std::fs::write(&message, b"release contents").unwrap();
    let sig = dir.path().join("artifact.sig");
    let pem = dir.path().join("pub.pem");
    ok(signet(
        &server,
        &token,
        &[
            "kms",
            "asymmetric-signature-crypto",
            "sign",
            "--name",
            "release-signing",
            "--message-file",
            message.to_str().unwrap(),
            "--signature-output-file",
            sig.to_str().unwrap(),
        ],
    ));
    ok(signet(
        &server,
        &token,
        &[
            "kms",
            "asymmetric-signature-crypto",
            "get-public-key",
            &key_id,
            "--output-file",
            pem.to_str().unwrap(),
        ],
    ));
    let verify = || {
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(&sig)
            .arg(&message)
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));

    // A bad token is refused with a clear error and a non-zero exit.
    let out = signet(
        &server,
        "not-a-token",
        &["kms", "asymmetric-signature-key", "get", &key_id],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNAUTHENTICATED"));

    // Restart: the key still signs, with the same public key.
    server.stop();
    let server = start(&data);
    std::fs::remove_file(&sig).unwrap();
    ok(signet(
        &server,
        &token,
        &[
            "kms",
            "asymmetric-signature-crypto",
            "sign",
            &key_id,
            "--message-file",
            message.to_str().unwrap(),
            "--signature-output-file",
            sig.to_str().unwrap(),
        ],
    ));
    assert!(String::from_utf8_lossy(&verify().stdout).contains("Verified OK"));

    // Delete, then restore offline (the server keeps running), then use it again.
    ok(signet(
        &server,
        &token,
        &["kms", "asymmetric-signature-key", "delete", &key_id],
    ));
    let gone = signet(
        &server,
        &token,
        &["kms", "asymmetric-signature-key", "get", &key_id],
    );
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NOT_FOUND"));
    let restored = Command::new(SIGNET)
        .args(["admin", "restore-key", &key_id, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let got = ok(signet(
        &server,
        &token,
        &[
            "--format",
            "json",
            "kms",
            "asymmetric-signature-key",
            "get",
            &key_id,
        ],
    ));
    assert!(got.contains("ACTIVE"));
    server.stop();
}

#[test]
fn admin_commands_refuse_a_directory_without_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(SIGNET)
        .args(["admin", "restore-key", "abj00000000000000000", "--data-dir"])
        .arg(dir.path().join("nothing-here"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no Signet store"));
    assert!(
        !dir.path().join("nothing-here").exists(),
        "nothing is created"
    );
}

/// A supervisor may stop the server the moment it says it is listening: SIGTERM then is a clean
/// shutdown (exit 0), not death by the signal's default action. SIGINT likewise. CI once caught
/// the handlers being installed only after the announcement; that window was microseconds wide,
/// so this test catches such a regression only on a busy machine (it passed 3 runs of 3 against
/// the old order on an idle one). The guarantee itself is structural: `serve` installs the
/// handlers before it starts the server.
#[test]
fn a_signal_right_after_listening_is_a_clean_shutdown() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    for _ in 0..10 {
        // `stop` sends SIGTERM as soon as the line is read and asserts a successful exit.
        start(&data).stop();
    }
    let server = start(&data);
    let pid = server.pid().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    server.wait_for_clean_exit();
}
