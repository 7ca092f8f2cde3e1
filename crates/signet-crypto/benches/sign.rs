//! Raw in-process signing speed per algorithm, on one thread: the ceiling that the server's
//! throughput is compared with (docs/benchmarks.md).
//!
//! `cargo bench -p signet-crypto --bench sign`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use signet_crypto::{Algorithm, SigningKey};
use std::hint::black_box;

fn sign(c: &mut Criterion) {
    let message = [0x5au8; 64];
    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    for alg in Algorithm::ALL {
        let key = match SigningKey::generate(alg) {
            Ok(key) => key,
            Err(e) => {
                eprintln!("skipping {alg}: {e}");
                continue;
            }
        };
        group.bench_with_input(BenchmarkId::from_parameter(alg), &key, |b, key| {
            b.iter(|| key.sign(black_box(&message)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("sign_digest");
    group.throughput(Throughput::Elements(1));
    for alg in [
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaSecp256k1Sha256,
        Algorithm::Rsa2048PssSha256,
    ] {
        let Ok(key) = SigningKey::generate(alg) else {
            continue;
        };
        let digest = alg.hash().digest(&message);
        group.bench_with_input(BenchmarkId::from_parameter(alg), &key, |b, key| {
            b.iter(|| key.sign_digest(black_box(&digest)))
        });
    }
    group.finish();
}

/// The measurement behind ADR 0001's secp256k1 choice: AWS-LC's secp256k1 against `k256`, in the
/// same run.
fn secp256k1_backends(c: &mut Criterion) {
    use aws_lc_rs::signature::{ECDSA_P256K1_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    let message = [0x5au8; 64];
    let mut group = c.benchmark_group("secp256k1_backend");
    group.throughput(Throughput::Elements(1));
    if let Ok(aws) = EcdsaKeyPair::generate(&ECDSA_P256K1_SHA256_ASN1_SIGNING) {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        group.bench_function("aws-lc-rs", |b| {
            b.iter(|| aws.sign(&rng, black_box(&message)))
        });
    }
    if let Ok(key) = SigningKey::generate(Algorithm::EcdsaSecp256k1Sha256) {
        group.bench_function("k256 (signet)", |b| {
            b.iter(|| key.sign(black_box(&message)))
        });
    }
    group.finish();
}

criterion_group!(benches, sign, secp256k1_backends);
criterion_main!(benches);
