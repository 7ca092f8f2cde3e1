//! `signet audit tail|export` online (through a running `signet serve`) and offline (from its
//! data directory) print identical lines for the same records; the online mode is refused
//! what only the offline one does, and the other way round.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_testkit::process::ServeProcess as Server;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");
const SINCE: &str = "2000-01-01T00:00:00Z";

/// `signet <args>` with the admin token in `SIGNET_TOKEN` and no `SIGNET_ENDPOINT`.
fn signet(token: &str, args: &[&str]) -> Output {
    Command::new(SIGNET)
        .args(args)
        .env("SIGNET_TOKEN", token)
        .env_remove("SIGNET_ENDPOINT")
        .env_remove("SIGNET_FOLDER_ID")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn seq(line: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
        .as_i64()
        .unwrap()
}

#[test]
fn online_and_offline_print_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(Path::new(SIGNET), &data, &[]);
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let token = token.trim();
    let online = ["--endpoint", server.addr.as_str(), "--insecure"];
    let data_dir = data.to_str().unwrap();

    // Some calls to record: a key, a signature (a record with message_sha256 and algorithm),
    // a refused call (no token: an empty subject).
    let created = ok(signet(
        token,
        &[
            &online[..],
            &[
                "--format",
                "json",
                "kms",
                "asymmetric-signature-key",
                "create",
                "--name",
                "audited",
                "--signature-algorithm",
                "ecdsa-nist-p256-sha-256",
            ],
        ]
        .concat(),
    ));
    let key: serde_json::Value = serde_json::from_str(&created).unwrap();
    let key = key["id"].as_str().unwrap();
    let message = dir.path().join("m.txt");
    std::fs::write(&message, b"hello").unwrap();
    ok(signet(
        token,
        &[
            &online[..],
            &[
                "kms",
                "asymmetric-signature-crypto",
                "sign",
                "--id",
                key,
                "--message-file",
                message.to_str().unwrap(),
                "--signature-output-file",
                dir.path().join("sig").to_str().unwrap(),
            ],
        ]
        .concat(),
    ));

    let refused = signet(
        "t1.not-a-token",
        &[&online[..], &["kms", "asymmetric-signature-key", "list"]].concat(),
    );
    assert!(!refused.status.success());

    // Export online first; offline then sees the same records, and the online call's own.
    let on = ok(signet(
        token,
        &[&online[..], &["audit", "export", "--since", SINCE]].concat(),
    ));
    let off = ok(signet(
        token,
        &["audit", "export", "--since", SINCE, "--data-dir", data_dir],
    ));
    let on: Vec<&str> = on.lines().collect();
    let off: Vec<&str> = off.lines().collect();
    assert!(on.len() >= 4, "{on:?}");
    assert!(
        on.iter()
            .any(|l| l.contains("\"subject\":\"\"") && l.contains("UNAUTHENTICATED")),
        "{on:#?}"
    );
    assert_eq!(off.len(), on.len() + 1, "{off:#?}");
    assert_eq!(on[..], off[..on.len()]);
    assert!(
        off.last()
            .unwrap()
            .contains("/signet.audit.v1.AuditTrailService/ListRecords")
    );
    assert!(
        on.iter()
            .any(|l| l.contains("\"message_sha256\":\"") && l.contains(key)),
        "{on:#?}"
    );

    // Tail, text and JSON: every line online is the offline line of the same record.
    for format in ["json", "text"] {
        let on = ok(signet(
            token,
            &[
                &online[..],
                &["audit", "tail", "--limit", "3", "--format", format],
            ]
            .concat(),
        ));
        let off = ok(signet(
            token,
            &[
                "audit",
                "tail",
                "--limit",
                "100",
                "--format",
                format,
                "--data-dir",
                data_dir,
            ],
        ));
        let number = |line: &str| -> i64 {
            if format == "json" {
                seq(line)
            } else {
                line.split_whitespace().next().unwrap().parse().unwrap()
            }
        };
        let by_seq: HashMap<i64, &str> = off.lines().map(|l| (number(l), l)).collect();
        let on: Vec<&str> = on.lines().collect();
        assert_eq!(on.len(), 3, "{on:?}");
        for line in on {
            assert_eq!(Some(&line), by_seq.get(&number(line)), "{format}");
        }
    }

    // A folder's records online, as the admin: the key's, and the folder's own listing.
    let folder = ok(signet(
        token,
        &[
            &online[..],
            &[
                "audit",
                "export",
                "--since",
                SINCE,
                "--folder-id",
                "default",
            ],
        ]
        .concat(),
    ));
    assert!(folder.lines().count() >= 3, "{folder}");
    // (The key, the folder, or the creation's operation: every record names its resource.)
    assert!(folder.lines().all(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["resource_id"].is_string()
    }));
    assert!(folder.lines().any(|l| l.contains(key)));

    // `tail --follow` prints the last records, then new ones as they come.
    let mut follow = Command::new(SIGNET)
        .args(online)
        .args([
            "audit", "tail", "--limit", "1", "--follow", "--format", "json",
        ])
        .env("SIGNET_TOKEN", token)
        .env_remove("SIGNET_ENDPOINT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines, got) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait = Duration::from_secs(30);
    let first = got.recv_timeout(wait).unwrap();
    ok(signet(
        token,
        &[
            &online[..],
            &["kms", "asymmetric-signature-key", "get", "--id", key],
        ]
        .concat(),
    ));
    let mut later = Vec::new();
    while !later
        .iter()
        .any(|l: &String| l.contains("AsymmetricSignatureKeyService/Get\""))
    {
        later.push(got.recv_timeout(wait).unwrap());
    }
    follow.kill().unwrap();
    follow.wait().unwrap();
    let seqs: Vec<i64> = later.iter().map(|l| seq(l)).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{later:#?}");
    assert!(
        seq(&first) < seqs[0],
        "nothing printed twice: {first} {later:#?}"
    );

    // What each mode cannot do is refused with exit code 2.
    for args in [
        vec![
            "audit",
            "tail",
            "--folder-id",
            "default",
            "--data-dir",
            data_dir,
        ],
        vec!["audit", "tail", "--follow", "--data-dir", data_dir],
    ] {
        let out = signet(token, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint"));
    }
    let both = signet(
        token,
        &[&online[..], &["audit", "tail", "--data-dir", data_dir]].concat(),
    );
    assert_eq!(both.status.code(), Some(2));
    // A caller the server refuses: the server's code, exit 2.
    let refused = signet(
        "t1.not-a-token",
        &[&online[..], &["audit", "export", "--since", SINCE]].concat(),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("UNAUTHENTICATED"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    server.stop();
}
