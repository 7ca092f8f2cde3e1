//! Every algorithm's `sign` and `sign_digest` output is verified by two independent verifiers:
//! the `openssl` CLI and Python `cryptography` (compat/verify_signatures.py). Signatures over a
//! different message must fail in all three verifiers (ours included).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use signet_crypto::{Algorithm, CryptoError, SigningKey, spki_pem_to_der, verify, verify_digest};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let candidate = std::env::var_os("SIGNET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        candidate.exists(),
        "Python with `cryptography` not found at {}; run scripts/dev-deps (or scripts/test)",
        candidate.display()
    );
    candidate
}

fn messages() -> Vec<Vec<u8>> {
    let big: Vec<u8> = (0..32768u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    vec![Vec::new(), vec![0x61], big]
}

fn keys_per_algorithm(alg: Algorithm) -> usize {
    if alg.is_rsa() { 2 } else { 3 }
}

struct Case {
    algorithm: Algorithm,
    pem: String,
    data: Vec<u8>,
    prehashed: bool,
    signature: Vec<u8>,
    expect_valid: bool,
}

fn openssl_verify(dir: &Path, n: usize, case: &Case) -> bool {
    let pub_path = dir.join(format!("{n}.pub.pem"));
    let data_path = dir.join(format!("{n}.data"));
    let sig_path = dir.join(format!("{n}.sig"));
    std::fs::write(&pub_path, &case.pem).unwrap();
    std::fs::write(&data_path, &case.data).unwrap();
    std::fs::write(&sig_path, &case.signature).unwrap();
    let md = case.algorithm.hash().name();
    let mut cmd = Command::new("openssl");
    if case.prehashed {
        cmd.args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&pub_path)
            .arg("-in")
            .arg(&data_path)
            .arg("-sigfile")
            .arg(&sig_path);
        if case.algorithm.is_rsa() {
            for opt in [
                format!("digest:{md}"),
                "rsa_padding_mode:pss".to_owned(),
                "rsa_pss_saltlen:digest".to_owned(),
                format!("rsa_mgf1_md:{md}"),
            ] {
                cmd.arg("-pkeyopt").arg(opt);
            }
        }
    } else {
        cmd.arg("dgst")
            .arg(format!("-{md}"))
            .arg("-verify")
            .arg(&pub_path)
            .arg("-signature")
            .arg(&sig_path);
        if case.algorithm.is_rsa() {
            for opt in [
                "rsa_padding_mode:pss".to_owned(),
                "rsa_pss_saltlen:digest".to_owned(),
                format!("rsa_mgf1_md:{md}"),
            ] {
                cmd.arg("-sigopt").arg(opt);
            }
        }
        cmd.arg(&data_path);
    }
    let out = cmd
        .output()
        .expect("the openssl CLI must be installed (scripts/dev-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok = out.status.success()
        && (stdout.contains("Verified OK") || stdout.contains("Signature Verified Successfully"));
    if ok != case.expect_valid {
        eprintln!(
            "openssl disagreed on case {n} ({}, prehashed={}): {stdout} {}",
            case.algorithm,
            case.prehashed,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ok
}

fn build_cases(alg: Algorithm) -> Vec<Case> {
    let mut cases = Vec::new();
    for _ in 0..keys_per_algorithm(alg) {
        let key = SigningKey::generate(alg).unwrap();
        let pem = key.public_key_pem().unwrap();
        let der = spki_pem_to_der(&pem).unwrap();
        for msg in messages() {
            let digest = alg.hash().digest(&msg);

            let sig = key.sign(&msg).unwrap();
            verify(alg, &der, &msg, &sig).unwrap();
            let sig_d = key.sign_digest(&digest).unwrap();
            verify_digest(alg, &der, &digest, &sig_d).unwrap();
            // A digest signature is an ordinary signature of the message.
            verify(alg, &der, &msg, &sig_d).unwrap();
            if alg.is_rsa() {
                let bits = match alg.key_spec() {
                    signet_crypto::KeySpec::Rsa { bits } => bits as usize,
                    _ => unreachable!(),
                };
                assert_eq!(sig.len() * 8, bits, "RSA signature must be modulus-sized");
            } else {
                assert_eq!(sig[0], 0x30, "ECDSA signature must be a DER SEQUENCE");
            }

            // The same signature over a different message must not verify.
            let mut other = msg.clone();
            other.push(0x01);
            assert!(matches!(
                verify(alg, &der, &other, &sig),
                Err(CryptoError::BadSignature)
            ));

            cases.push(Case {
                algorithm: alg,
                pem: pem.clone(),
                data: msg.clone(),
                prehashed: false,
                signature: sig.clone(),
                expect_valid: true,
            });
            cases.push(Case {
                algorithm: alg,
                pem: pem.clone(),
                data: digest.clone(),
                prehashed: true,
                signature: sig_d,
                expect_valid: true,
            });
            cases.push(Case {
                algorithm: alg,
                pem: pem.clone(),
                data: other,
                prehashed: false,
                signature: sig,
                expect_valid: false,
            });
        }
    }
    cases
}

#[test]
fn every_algorithm_cross_verifies_with_openssl_and_python_cryptography() {
    let dir = tempfile::tempdir().unwrap();
    // Key generation (RSA-4096 especially) dominates; spread it over threads.
    let handles: Vec<_> = Algorithm::ALL
        .into_iter()
        .map(|alg| std::thread::spawn(move || build_cases(alg)))
        .collect();
    let cases: Vec<Case> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let expected_cases: usize = Algorithm::ALL
        .into_iter()
        .map(|a| keys_per_algorithm(a) * messages().len() * 3)
        .sum();
    assert_eq!(cases.len(), expected_cases);

    let mut openssl_failures = 0;
    for (n, case) in cases.iter().enumerate() {
        if openssl_verify(dir.path(), n, case) != case.expect_valid {
            openssl_failures += 1;
        }
    }
    assert_eq!(
        openssl_failures, 0,
        "openssl disagreed on {openssl_failures} cases (see stderr)"
    );

    let manifest: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "algorithm": c.algorithm.wire_name(),
                "public_key_pem": c.pem,
                "data_hex": hex::encode(&c.data),
                "prehashed": c.prehashed,
                "signature_hex": hex::encode(&c.signature),
                "expect_valid": c.expect_valid,
            })
        })
        .collect();
    let manifest_path = dir.path().join("cases.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(workspace_root().join("compat/verify_signatures.py"))
        .arg(&manifest_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python cryptography: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("verified {} cases, 0 failures", cases.len())));
}

#[test]
fn wrong_digest_lengths_are_typed_errors() {
    for alg in Algorithm::ALL
        .into_iter()
        .filter(|a| !a.is_rsa() || *a == Algorithm::Rsa2048PssSha384)
    {
        let key = SigningKey::generate(alg).unwrap();
        let n = alg.digest_len();
        for len in [0, 1, n - 1, n + 1, 20, 4096] {
            if len == n {
                continue;
            }
            match key.sign_digest(&vec![7u8; len]) {
                Err(CryptoError::DigestLength {
                    expected,
                    actual,
                    algorithm,
                }) => {
                    assert_eq!((expected, actual, algorithm), (n, len, alg));
                }
                other => panic!("{alg}: digest of {len} bytes gave {other:?}"),
            }
        }
    }
}

#[test]
fn pkcs8_round_trip_keeps_the_key() {
    for alg in [
        Algorithm::Rsa2048PssSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::EcdsaP521Sha512,
        Algorithm::EcdsaSecp256k1Sha256,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let pkcs8 = key.to_pkcs8().unwrap();
        let again = SigningKey::from_pkcs8(alg, &pkcs8).unwrap();
        assert_eq!(
            key.public_key_der().unwrap(),
            again.public_key_der().unwrap()
        );
        let der = key.public_key_der().unwrap();
        verify(alg, &der, b"hello", &again.sign(b"hello").unwrap()).unwrap();
    }
    // A key of the wrong type or size is refused.
    let p256 = SigningKey::generate(Algorithm::EcdsaP256Sha256)
        .unwrap()
        .to_pkcs8()
        .unwrap();
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::EcdsaP384Sha384, &p256),
        Err(CryptoError::MalformedPrivateKey(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::Rsa2048PssSha256, &p256),
        Err(CryptoError::MalformedPrivateKey(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::EcdsaSecp256k1Sha256, &p256),
        Err(CryptoError::MalformedPrivateKey(_))
    ));
    let rsa2048 = SigningKey::generate(Algorithm::Rsa2048PssSha256)
        .unwrap()
        .to_pkcs8()
        .unwrap();
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::Rsa3072PssSha256, &rsa2048),
        Err(CryptoError::MalformedPrivateKey(_))
    ));
}

#[test]
fn debug_of_a_signing_key_has_no_key_material() {
    let key = SigningKey::generate(Algorithm::EcdsaSecp256k1Sha256).unwrap();
    let printed = format!("{key:?}");
    let pkcs8 = key.to_pkcs8().unwrap();
    assert!(printed.contains("REDACTED"));
    assert!(!printed.contains(&hex::encode(pkcs8.expose())));
    assert!(!printed.contains(&hex::encode(&pkcs8.expose()[pkcs8.len() - 32..])));
}
