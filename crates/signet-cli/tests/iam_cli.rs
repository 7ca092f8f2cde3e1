//! The IAM and access-binding commands against a real `signet serve` child process: a service
//! account gets a key file and a token, signs with a key only while it holds the signer role on
//! it, and loses access when its token is revoked. And TLS with a `signet dev-cert` CA.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

use common::{SIGNET, Server};
const KEY: &str = "asymmetric-signature-key";
const CRYPTO: &str = "asymmetric-signature-crypto";
const SIGNER: &str = "kms.asymmetricSignatureKeys.signer";

/// `signet --endpoint ADDR --insecure <args>` with `SIGNET_TOKEN=token`, `input` on stdin.
fn signet_with_input(server: &Server, token: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(SIGNET)
        .args(["--endpoint", &server.addr, "--insecure"])
        .args(args)
        .env("SIGNET_TOKEN", token)
        .env_remove("SIGNET_FOLDER_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn signet(server: &Server, token: &str, args: &[&str]) -> Output {
    signet_with_input(server, token, args, b"")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The command failed with exit code 1 and `ERROR: <code>: ...` on stderr; stdout is empty.
fn fails_with(out: Output, code: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("ERROR: {code}: ")),
        "expected {code}, got: {stderr}"
    );
    assert!(out.stdout.is_empty());
    stderr
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_service_account_signs_only_while_bound_and_until_its_token_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("signet-data");
    let server = Server::start(&data, &[]);
    let admin = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();

    // A service account.
    let created = ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "iam",
            "service-account",
            "create",
            "--name",
            "release-robot",
            "--description",
            "signs releases",
        ],
    ));
    let account = json(&created);
    let account_id = account["id"].as_str().unwrap().to_owned();
    assert_eq!(account["name"], "release-robot");
    let listed = ok(signet(&server, &admin, &["iam", "service-account", "list"]));
    assert!(listed.contains(&account_id), "{listed}");
    let got = ok(signet(
        &server,
        &admin,
        &["iam", "service-account", "get", "--name", "release-robot"],
    ));
    assert!(got.contains(&format!("id: {account_id}\n")), "{got}");

    // An authorized key, written to a 0600 file in Yandex's format; never printed.
    let key_file = dir.path().join("key.json");
    let out = signet(
        &server,
        &admin,
        &[
            "iam",
            "key",
            "create",
            "--service-account-id",
            &account_id,
            "-o",
            key_file.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = ok(out);
    assert!(!stdout.contains("PRIVATE KEY"), "{stdout}");
    assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    let key_json = json(&std::fs::read_to_string(&key_file).unwrap());
    assert_eq!(key_json["service_account_id"], account_id.as_str());
    assert_eq!(key_json["key_algorithm"], "RSA_2048");
    assert!(
        key_json["private_key"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(
        key_json["public_key"]
            .as_str()
            .unwrap()
            .contains("PUBLIC KEY")
    );
    let authorized_key_id = key_json["id"].as_str().unwrap().to_owned();
    assert!(
        stdout.contains(&format!("id: {authorized_key_id}\n")),
        "{stdout}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwritten: refused before any key is made.
    let before = std::fs::read(&key_file).unwrap();
    let out = signet(
        &server,
        &admin,
        &[
            "iam",
            "key",
            "create",
            "--service-account-id",
            &account_id,
            "-o",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    let keys = ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "iam",
            "key",
            "list",
            "--service-account-id",
            &account_id,
        ],
    ));
    assert_eq!(json(&keys).as_array().unwrap().len(), 1, "{keys}");

    // A signing key, and the signer role on it for the account.
    let created = ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "kms",
            KEY,
            "create",
            "--name",
            "release-signing",
            "--signature-algorithm",
            "ecdsa-nist-p256-sha-256",
        ],
    ));
    let key_id = json(&created)["id"].as_str().unwrap().to_owned();
    let out = ok(signet(
        &server,
        &admin,
        &[
            "kms",
            KEY,
            "add-access-binding",
            "--name",
            "release-signing",
            "--role",
            SIGNER,
            "--service-account-id",
            &account_id,
        ],
    ));
    assert!(out.is_empty(), "{out}");
    let bindings = ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "kms",
            KEY,
            "list-access-bindings",
            &key_id,
        ],
    ));
    let bindings = json(&bindings);
    let bindings = bindings.as_array().unwrap();
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    assert_eq!(bindings[0]["roleId"], SIGNER);
    assert_eq!(bindings[0]["subject"]["type"], "serviceAccount");
    assert_eq!(bindings[0]["subject"]["id"], account_id.as_str());
    let table = ok(signet(
        &server,
        &admin,
        &["kms", KEY, "list-access-bindings", "--id", &key_id],
    ));
    assert!(
        table.contains(SIGNER) && table.contains(&account_id),
        "{table}"
    );

    // A token for the account: on stdout, alone.
    let token = ok(signet(
        &server,
        &admin,
        &["iam", "create-token", "--service-account-id", &account_id],
    ));
    assert!(
        token.ends_with('\n') && token.lines().count() == 1,
        "{token:?}"
    );
    let token = token.trim().to_owned();
    assert!(!token.is_empty());

    // It signs...
    let message = dir.path().join("artifact");
    std::fs::write(&message, b"release contents").unwrap();
    let sign = |token: &str| {
        signet(
            &server,
            token,
            &[
                "kms",
                CRYPTO,
                "sign",
                &key_id,
                "--message-file",
                message.to_str().unwrap(),
            ],
        )
    };
    let signature = ok(sign(&token));
    assert!(!signature.trim().is_empty());
    // ...but may not read the public key (signer does not include publicKeyViewer).
    fails_with(
        signet(&server, &token, &["kms", CRYPTO, "get-public-key", &key_id]),
        "PERMISSION_DENIED",
    );

    // Without the binding, the key is invisible to the account.
    ok(signet(
        &server,
        &admin,
        &[
            "kms",
            KEY,
            "remove-access-binding",
            &key_id,
            "--role",
            SIGNER,
            "--subject",
            &format!("serviceAccount:{account_id}"),
        ],
    ));
    let bindings = ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "kms",
            KEY,
            "list-access-bindings",
            &key_id,
        ],
    ));
    assert!(json(&bindings).as_array().unwrap().is_empty(), "{bindings}");
    fails_with(sign(&token), "NOT_FOUND");

    // Revoked: the token no longer authenticates.
    let revoked = ok(signet_with_input(
        &server,
        &admin,
        &["iam", "revoke-token"],
        format!("{token}\n").as_bytes(),
    ));
    assert!(revoked.contains(&account_id), "{revoked}");
    fails_with(sign(&token), "UNAUTHENTICATED");

    // Clean-up through the CLI: the key, then the account.
    ok(signet(
        &server,
        &admin,
        &["iam", "key", "delete", &authorized_key_id],
    ));
    ok(signet(
        &server,
        &admin,
        &["iam", "service-account", "delete", &account_id],
    ));
    fails_with(
        signet(
            &server,
            &admin,
            &["iam", "service-account", "get", &account_id],
        ),
        "NOT_FOUND",
    );
}

#[test]
fn folder_bindings_grant_on_every_key_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("signet-data");
    let server = Server::start(&data, &[]);
    let admin = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let account = json(&ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "iam",
            "service-account",
            "create",
            "--name",
            "viewer-robot",
        ],
    )));
    let account_id = account["id"].as_str().unwrap().to_owned();
    let key_id = json(&ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "kms",
            KEY,
            "create",
            "--signature-algorithm",
            "ecdsa-nist-p256-sha-256",
        ],
    )))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = ok(signet(
        &server,
        &admin,
        &["iam", "create-token", "--service-account-id", &account_id],
    ))
    .trim()
    .to_owned();
    let public_key = || signet(&server, &token, &["kms", CRYPTO, "get-public-key", &key_id]);
    fails_with(public_key(), "NOT_FOUND");

    // set-access-bindings replaces: publicKeyViewer on the folder lets the account read it.
    ok(signet(
        &server,
        &admin,
        &[
            "resource-manager",
            "folder",
            "set-access-bindings",
            "default",
            "--access-binding",
            &format!(
                "role=kms.asymmetricSignatureKeys.publicKeyViewer,service-account-id={account_id}"
            ),
        ],
    ));
    let listed = json(&ok(signet(
        &server,
        &admin,
        &[
            "--format",
            "json",
            "resource-manager",
            "folder",
            "list-access-bindings",
            "--id",
            "default",
        ],
    )));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(ok(public_key()).contains("BEGIN PUBLIC KEY"));

    // add, then remove all-authenticated-users; then remove the account's binding.
    ok(signet(
        &server,
        &admin,
        &[
            "resource-manager",
            "folder",
            "add-access-binding",
            "default",
            "--role",
            "kms.auditor",
            "--all-authenticated-users",
        ],
    ));
    let table = ok(signet(
        &server,
        &admin,
        &[
            "resource-manager",
            "folder",
            "list-access-bindings",
            "default",
        ],
    ));
    assert!(table.contains("allAuthenticatedUsers"), "{table}");
    ok(signet(
        &server,
        &admin,
        &[
            "resource-manager",
            "folder",
            "remove-access-binding",
            "default",
            "--role",
            "kms.auditor",
            "--subject",
            "system:allAuthenticatedUsers",
        ],
    ));
    ok(signet(
        &server,
        &admin,
        &[
            "resource-manager",
            "folder",
            "remove-access-binding",
            "default",
            "--role",
            "kms.asymmetricSignatureKeys.publicKeyViewer",
            "--service-account-id",
            &account_id,
        ],
    ));
    fails_with(public_key(), "NOT_FOUND");

    // The server validates roles: an unknown one is refused, with exit code 1.
    fails_with(
        signet(
            &server,
            &admin,
            &[
                "resource-manager",
                "folder",
                "add-access-binding",
                "default",
                "--role",
                "no.such.role",
                "--service-account-id",
                &account_id,
            ],
        ),
        "INVALID_ARGUMENT",
    );
    // Service accounts are administration: the account's own token may not list them.
    fails_with(
        signet(&server, &token, &["iam", "service-account", "list"]),
        "PERMISSION_DENIED",
    );
}

#[test]
fn tls_with_a_dev_cert_ca_and_not_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = Command::new(SIGNET)
        .args(["dev-cert", "--out-dir"])
        .arg(&certs)
        .output()
        .unwrap();
    let text = ok(out);
    assert!(text.contains("signet serve --tls-cert"), "{text}");
    assert!(!text.contains("PRIVATE KEY"));
    for name in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        assert!(certs.join(name).is_file(), "{name}");
    }
    // A second run refuses to overwrite.
    let again = Command::new(SIGNET)
        .args(["dev-cert", "--out-dir"])
        .arg(&certs)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).starts_with("ERROR: refusing to overwrite"));

    let data = dir.path().join("signet-data");
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            certs.join("server.pem").to_str().unwrap(),
            "--tls-key",
            certs.join("server.key").to_str().unwrap(),
        ],
    );
    let admin = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let ca = certs.join("ca.pem");
    let client = |endpoint: &str, ca: Option<&Path>| {
        let mut command = Command::new(SIGNET);
        command.args(["--endpoint", endpoint]);
        if let Some(ca) = ca {
            command.arg("--ca").arg(ca);
        }
        command
            .args(["kms", KEY, "list"])
            .env("SIGNET_TOKEN", &admin)
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    for endpoint in [
        format!("localhost:{}", server.port()),
        format!("127.0.0.1:{}", server.port()),
    ] {
        let listed = ok(client(&endpoint, Some(&ca)));
        assert!(listed.contains("| ID |"), "{listed}");
    }
    // The system's roots do not know this CA.
    let out = client(&format!("localhost:{}", server.port()), None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("ERROR: cannot connect"), "{stderr}");
    // Nor does plaintext get through to the TLS port.
    let out = Command::new(SIGNET)
        .args(["--endpoint", &server.addr, "--insecure", "kms", KEY, "list"])
        .env("SIGNET_TOKEN", &admin)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
