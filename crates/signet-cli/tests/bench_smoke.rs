//! `signet bench --spawn`, run for real as a smoke test: it starts its own server, loads it for
//! a moment and prints a JSON report. Only the report's shape and the absence of errors are
//! checked; no figure is compared with a time or a rate (CI machines vary).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

#[test]
fn bench_spawn_sign_reports_json() {
    let out = Command::new(SIGNET)
        .args([
            "bench",
            "--spawn",
            "--op",
            "sign",
            "--algorithm",
            "ecdsa-nist-p256-sha-256",
            "--keys",
            "2",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "signet bench failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    assert_eq!(report["op"], "sign");
    assert_eq!(report["algorithms"][0], "ECDSA_NIST_P256_SHA_256");
    assert_eq!(report["requests"]["errors"], 0, "{stdout}");
    assert!(report["requests"]["ok"].as_u64().unwrap() > 0, "{stdout}");
    assert!(report["ops_per_s"].as_f64().unwrap() > 0.0, "{stdout}");
    assert!(
        report["latency_us"]["p99"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    assert!(
        report["ceiling"]["ops_per_s"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    assert_eq!(report["server"]["spawned"], true);
    assert!(report["server"]["pid"].as_u64().is_some(), "{stdout}");
    assert!(report["client"]["cpu_s"].as_f64().is_some(), "{stdout}");
}

#[test]
fn bench_refuses_bad_flags_with_a_clear_message() {
    let out = Command::new(SIGNET)
        .args(["bench", "--spawn", "--client-cpus", "1023"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CPU 1023 is not available"), "{stderr}");

    let out = Command::new(SIGNET)
        .args(["bench", "--duration", "ten"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--duration"));
}
