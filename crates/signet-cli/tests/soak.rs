//! Soak: a real `signet serve` process (SQLite, audit trail on) takes a mixed workload from a
//! few concurrent clients for `SIGNET_SOAK_SECS` seconds (30 by default, which is what
//! `scripts/test` and CI run; `SIGNET_SOAK_SECS=600` is the 10-minute run recorded in
//! TESTS.md): signatures (Sign and SignHash, as the admin and as a service account) across many
//! keys of several algorithms, creations, updates (renames, labels, deactivation and
//! reactivation), deletions, IAM token exchanges (a PS256 JWT from an authorized key, through
//! `IamTokenService/Create`) and access-binding changes.
//!
//! Expectations:
//! - **memory**: the server's resident set (VmRSS from /proc/PID/status, sampled about 100
//!   times) stays flat after the warm-up (the first 20% of the run): every later sample lies
//!   within ±10% of the first sample after the warm-up (the baseline);
//! - **errors**: none but the ones the workload provokes on purpose, each checked to be the
//!   exact code: deleting an already deleted key (NOT_FOUND), signing with a deactivated key
//!   (FAILED_PRECONDITION), and the service account signing with a key it has no binding on
//!   (NOT_FOUND, so the binding changes are seen to take effect);
//! - **at the end**: every key still alive signs (deactivated ones once reactivated), each
//!   signature verified by `openssl`; after a clean stop, `signet audit verify` passes offline.
//!
//! Every signature the workload receives is verified too (by `signet-crypto`, against the
//! public key read when the key was made). A summary (operations by kind, errors by code, RSS
//! samples, throughput) is printed; run with `--nocapture` to see it. `SIGNET_SOAK_SERVER`
//! names another server binary to soak (a release build, or a heap profiler's wrapper).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_core::domain::Clock as _;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use signet_proto::yandex::cloud::operation::{GetOperationRequest, Operation, operation};
use signet_testkit::jwt::{self, jws};
use signet_testkit::process::{ServeProcess, run};
use signet_testkit::{Authed, Bearer};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");
/// Concurrent clients, each with keys of its own (so that each knows its keys' state exactly
/// and can tell an expected error from an unexpected one).
const WORKERS: usize = 4;
/// Keys each client keeps alive: it creates below the floor and deletes only above it.
const MIN_KEYS: usize = 3;
const MAX_KEYS: usize = 10;
/// The folder the workload uses (its quota of 100 keys is far from reached).
const FOLDER: &str = "soak";
/// The share of the run that is warm-up, not held to the RSS bound.
const WARM_UP: f64 = 0.2;
/// How far RSS may stray from its post-warm-up baseline.
const RSS_TOLERANCE: f64 = 0.10;
/// Algorithms of the keys made during the run. RSA-3072/4096 generation would dominate the
/// run's time; the 2048-bit keys exercise the same code.
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::EcdsaP256Sha256,
    Algorithm::EcdsaP384Sha384,
    Algorithm::EcdsaP521Sha512,
    Algorithm::EcdsaSecp256k1Sha256,
    Algorithm::Rsa2048PssSha256,
    Algorithm::Rsa2048PssSha384,
    Algorithm::Rsa2048PssSha512,
];
const SIGNER_ROLE: &str = "kms.asymmetricSignatureKeys.signer";

/// The server binary: this build's `signet`, or `SIGNET_SOAK_SERVER` (a release build, or a
/// wrapper that `exec`s one under a heap profiler, keeping its pid; see TESTS.md).
fn server_binary() -> String {
    std::env::var("SIGNET_SOAK_SERVER").unwrap_or_else(|_| SIGNET.to_owned())
}

fn soak_duration() -> Duration {
    let secs = std::env::var("SIGNET_SOAK_SECS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("SIGNET_SOAK_SECS is a number of seconds")
        })
        .unwrap_or(30);
    Duration::from_secs(secs.max(5))
}

/// xorshift64*: the workload's choices (seeded from the OS; the seed is printed).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
}

/// What one client counts.
#[derive(Debug, Default)]
struct Tally {
    /// Successful operations, by kind.
    ops: BTreeMap<&'static str, u64>,
    /// Errors the workload provoked on purpose, by kind and code.
    expected: BTreeMap<(&'static str, String), u64>,
    /// Anything else: the test fails if this is not empty.
    unexpected: BTreeMap<(&'static str, String), Vec<String>>,
}

impl Tally {
    fn ok(&mut self, kind: &'static str) {
        *self.ops.entry(kind).or_default() += 1;
    }

    /// Counts the outcome of a call that should have answered `expect` (`None`: success).
    fn outcome<T>(
        &mut self,
        kind: &'static str,
        result: Result<T, tonic::Status>,
        expect: Option<Code>,
    ) -> Option<T> {
        match (result, expect) {
            (Ok(v), None) => {
                self.ok(kind);
                Some(v)
            }
            (Err(s), Some(code)) if s.code() == code => {
                *self
                    .expected
                    .entry((kind, format!("{:?}", s.code())))
                    .or_default() += 1;
                None
            }
            (Ok(_), Some(code)) => {
                self.unexpected(kind, "OK".into(), format!("expected {code:?}"));
                None
            }
            (Err(s), _) => {
                self.unexpected(kind, format!("{:?}", s.code()), format!("{s:?}"));
                None
            }
        }
    }

    fn unexpected(&mut self, kind: &'static str, code: String, what: String) {
        let samples = self.unexpected.entry((kind, code)).or_default();
        if samples.len() < 3 {
            samples.push(what);
        }
    }

    fn merge(&mut self, other: Tally) {
        for (k, v) in other.ops {
            *self.ops.entry(k).or_default() += v;
        }
        for (k, v) in other.expected {
            *self.expected.entry(k).or_default() += v;
        }
        for (k, v) in other.unexpected {
            self.unexpected.entry(k).or_default().extend(v);
        }
    }
}

/// One of a client's keys.
#[derive(Clone, Debug)]
struct OwnedKey {
    id: String,
    algorithm: Algorithm,
    public_pem: String,
    public_der: Vec<u8>,
    active: bool,
    /// Whether the service account holds the signer role on it.
    bound: bool,
}

#[derive(Clone)]
struct Clients {
    channel: Channel,
    keys: AsymmetricSignatureKeyServiceClient<Authed>,
    crypto: AsymmetricSignatureCryptoServiceClient<Authed>,
    operations: OperationServiceClient<Authed>,
}

impl Clients {
    fn new(channel: Channel, token: &str) -> Clients {
        let bearer = Bearer::new(Some(token));
        Clients {
            keys: AsymmetricSignatureKeyServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            crypto: AsymmetricSignatureCryptoServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            operations: OperationServiceClient::with_interceptor(channel.clone(), bearer),
            channel,
        }
    }

    fn crypto_as(&self, token: &str) -> AsymmetricSignatureCryptoServiceClient<Authed> {
        AsymmetricSignatureCryptoServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(Some(token)),
        )
    }

    fn tokens(&self) -> iam::iam_token_service_client::IamTokenServiceClient<Authed> {
        // The exchange carries its own credential (the JWT), no bearer token.
        iam::iam_token_service_client::IamTokenServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(None),
        )
    }

    async fn wait(&mut self, mut op: Operation) -> Result<Operation, tonic::Status> {
        while !op.done {
            tokio::time::sleep(Duration::from_millis(5)).await;
            op = self
                .operations
                .get(GetOperationRequest {
                    operation_id: op.id.clone(),
                })
                .await?
                .into_inner();
        }
        Ok(op)
    }

    /// Creates a key, waits for it and reads its public key.
    async fn create(&mut self, name: String, algorithm: Algorithm) -> Result<OwnedKey, String> {
        let op = self
            .keys
            .create(CreateAsymmetricSignatureKeyRequest {
                folder_id: FOLDER.into(),
                name,
                signature_algorithm: algorithm.wire_number(),
                ..Default::default()
            })
            .await
            .map_err(|s| format!("create: {s:?}"))?
            .into_inner();
        let op = self.wait(op).await.map_err(|s| format!("wait: {s:?}"))?;
        let id = match op.result {
            Some(operation::Result::Response(any)) => {
                AsymmetricSignatureKey::decode(any.value.as_ref())
                    .unwrap()
                    .id
            }
            other => return Err(format!("creation failed: {other:?}")),
        };
        let public_pem = self
            .crypto
            .get_public_key(AsymmetricGetPublicKeyRequest { key_id: id.clone() })
            .await
            .map_err(|s| format!("get public key: {s:?}"))?
            .into_inner()
            .public_key;
        Ok(OwnedKey {
            public_der: signet_crypto::spki_pem_to_der(&public_pem).unwrap(),
            public_pem,
            id,
            algorithm,
            active: true,
            bound: false,
        })
    }
}

/// The service account the workload signs as, and its authorized key.
#[derive(Clone)]
struct Account {
    id: String,
    key_id: String,
    private_pkcs8: Arc<Vec<u8>>,
}

impl Account {
    /// A fresh PS256 JWT, as Yandex's SDKs make them.
    fn jwt(&self) -> String {
        let now = signet_core::domain::SystemClock.now().as_micros() / 1_000_000;
        jws(
            serde_json::json!({"typ": "JWT", "alg": "PS256", "kid": self.key_id}),
            serde_json::json!({"iss": self.id, "aud": signet_core::CANONICAL_JWT_AUDIENCE,
                               "iat": now, "exp": now + 600}),
            jwt::ps256(&self.private_pkcs8),
        )
    }
}

struct Worker {
    index: usize,
    c: Clients,
    account: Account,
    rng: Rng,
    keys: Vec<OwnedKey>,
    deleted: Vec<String>,
    /// The service account's current IAM token (exchanged during the run).
    token: Option<String>,
    names: u64,
    tally: Tally,
}

impl Worker {
    fn name(&mut self) -> String {
        self.names += 1;
        format!("w{}-k{}", self.index, self.names)
    }

    async fn create(&mut self) {
        let algorithm = ALGORITHMS[self.rng.below(ALGORITHMS.len())];
        let name = self.name();
        match self.c.create(name, algorithm).await {
            Ok(key) => {
                self.tally.ok("create");
                self.keys.push(key);
            }
            Err(e) => self.tally.unexpected("create", "error".into(), e),
        }
    }

    async fn run(mut self, until: Instant) -> Worker {
        while self.keys.len() < MIN_KEYS + 2 {
            self.create().await;
        }
        while Instant::now() < until {
            self.step().await;
        }
        self
    }

    async fn step(&mut self) {
        let roll = self.rng.below(100);
        if self.keys.len() < MIN_KEYS || (roll < 8 && self.keys.len() < MAX_KEYS) {
            return self.create().await;
        }
        let k = self.rng.below(self.keys.len());
        let key = self.keys[k].clone();
        match roll {
            // Sign or SignHash as the admin, checking the signature.
            0..=47 => self.sign_as_admin(&key).await,
            // Rename, relabel, and now and then flip the status.
            48..=56 => {
                let mut paths = vec!["name".to_owned(), "labels".to_owned()];
                let flip = self.rng.below(3) == 0;
                if flip {
                    paths.push("status".into());
                }
                let status = if key.active == flip {
                    asymmetric_signature_key::Status::Inactive
                } else {
                    asymmetric_signature_key::Status::Active
                };
                let labels = [("round".to_owned(), self.names.to_string())].into();
                let name = self.name();
                let result = self
                    .c
                    .keys
                    .update(UpdateAsymmetricSignatureKeyRequest {
                        key_id: key.id.clone(),
                        update_mask: Some(signet_proto::wkt::FieldMask { paths }),
                        name,
                        labels,
                        status: status as i32,
                        ..Default::default()
                    })
                    .await;
                if self.done("update", result) && flip {
                    self.keys[k].active = !key.active;
                }
            }
            // Delete (above the floor), or delete an already deleted key again.
            57..=62 if self.keys.len() > MIN_KEYS => {
                let result = self
                    .c
                    .keys
                    .delete(DeleteAsymmetricSignatureKeyRequest {
                        key_id: key.id.clone(),
                    })
                    .await;
                if self.done("delete", result) {
                    self.keys.remove(k);
                    self.deleted.push(key.id);
                    if self.deleted.len() > 50 {
                        self.deleted.remove(0);
                    }
                }
            }
            63..=64 if !self.deleted.is_empty() => {
                let id = self.deleted[self.rng.below(self.deleted.len())].clone();
                let result = self
                    .c
                    .keys
                    .delete(DeleteAsymmetricSignatureKeyRequest { key_id: id })
                    .await;
                self.tally
                    .outcome("delete again", result, Some(Code::NotFound));
            }
            // Exchange a JWT for an IAM token.
            65..=71 => {
                let result = self
                    .c
                    .tokens()
                    .create(iam::CreateIamTokenRequest {
                        identity: Some(iam::create_iam_token_request::Identity::Jwt(
                            self.account.jwt(),
                        )),
                    })
                    .await;
                if let Some(r) = self.tally.outcome("token exchange", result, None) {
                    self.token = Some(r.into_inner().iam_token);
                }
            }
            // Grant or withdraw the service account's signer role on the key.
            72..=79 => {
                let action = if key.bound {
                    access::AccessBindingAction::Remove
                } else {
                    access::AccessBindingAction::Add
                };
                let result = self
                    .c
                    .keys
                    .update_access_bindings(access::UpdateAccessBindingsRequest {
                        resource_id: key.id.clone(),
                        access_binding_deltas: vec![access::AccessBindingDelta {
                            action: action as i32,
                            access_binding: Some(access::AccessBinding {
                                role_id: SIGNER_ROLE.into(),
                                subject: Some(access::Subject {
                                    id: self.account.id.clone(),
                                    r#type: "serviceAccount".into(),
                                }),
                            }),
                        }],
                    })
                    .await;
                if self.done("binding change", result) {
                    self.keys[k].bound = !key.bound;
                }
            }
            // Sign as the service account: allowed only where it is bound.
            80..=91 => {
                let Some(token) = self.token.clone() else {
                    return;
                };
                let message = self.message();
                let result = self
                    .c
                    .crypto_as(&token)
                    .sign(AsymmetricSignRequest {
                        key_id: key.id.clone(),
                        message: message.clone(),
                    })
                    .await;
                let expect = match (key.bound, key.active) {
                    (false, _) => Some(Code::NotFound),
                    (true, false) => Some(Code::FailedPrecondition),
                    (true, true) => None,
                };
                if let Some(r) = self.tally.outcome("sign as account", result, expect) {
                    self.check_signature(&key, &message, false, &r.into_inner().signature);
                }
            }
            // Reads.
            _ => {
                let get = self
                    .c
                    .keys
                    .get(GetAsymmetricSignatureKeyRequest {
                        key_id: key.id.clone(),
                    })
                    .await;
                self.tally.outcome("get", get, None);
                let list = self
                    .c
                    .keys
                    .list(ListAsymmetricSignatureKeysRequest {
                        folder_id: FOLDER.into(),
                        page_size: 20,
                        page_token: String::new(),
                    })
                    .await;
                self.tally.outcome("list", list, None);
            }
        }
    }

    fn message(&mut self) -> Vec<u8> {
        let mut message = vec![0u8; 1 + self.rng.below(512)];
        signet_crypto::fill_random(&mut message).unwrap();
        message
    }

    async fn sign_as_admin(&mut self, key: &OwnedKey) {
        let expect = (!key.active).then_some(Code::FailedPrecondition);
        let message = self.message();
        if self.rng.below(3) == 0 {
            let digest = key.algorithm.hash().digest(&message);
            let result = self
                .c
                .crypto
                .sign_hash(AsymmetricSignHashRequest {
                    key_id: key.id.clone(),
                    hash: digest.clone(),
                })
                .await;
            if let Some(r) = self.tally.outcome("sign hash", result, expect) {
                self.check_signature(key, &digest, true, &r.into_inner().signature);
            }
        } else {
            let result = self
                .c
                .crypto
                .sign(AsymmetricSignRequest {
                    key_id: key.id.clone(),
                    message: message.clone(),
                })
                .await;
            if let Some(r) = self.tally.outcome("sign", result, expect) {
                self.check_signature(key, &message, false, &r.into_inner().signature);
            }
        }
    }

    fn check_signature(&mut self, key: &OwnedKey, data: &[u8], digest: bool, signature: &[u8]) {
        let verified = if digest {
            signet_crypto::verify_digest(key.algorithm, &key.public_der, data, signature)
        } else {
            signet_crypto::verify(key.algorithm, &key.public_der, data, signature)
        };
        if let Err(e) = verified {
            self.tally.unexpected(
                "signature check",
                "bad signature".into(),
                format!("{}: {e}", key.id),
            );
        }
    }

    /// A change whose operation must come back done and successful.
    fn done(
        &mut self,
        kind: &'static str,
        result: Result<tonic::Response<Operation>, tonic::Status>,
    ) -> bool {
        match self.tally.outcome(kind, result, None) {
            Some(op) => {
                let op = op.into_inner();
                if op.done && matches!(op.result, Some(operation::Result::Response(_))) {
                    true
                } else {
                    self.tally
                        .unexpected(kind, "operation".into(), format!("{op:?}"));
                    false
                }
            }
            None => false,
        }
    }
}

/// The server's resident set, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_workload_keeps_memory_flat_and_the_trail_intact() {
    let duration = soak_duration();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Defaults, but for the per-address rate of token exchanges (20/s): every client of the
    // test shares 127.0.0.1, and the run is about memory and errors, not that limit.
    let server = ServeProcess::start(
        Path::new(&server_binary()),
        &data,
        &["--token-exchange-rate", "100000"],
    );
    let pid = server.pid();
    let admin = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let channel = server.channel().await;

    // The service account and its authorized key.
    let mut accounts =
        iam::service_account_service_client::ServiceAccountServiceClient::with_interceptor(
            channel.clone(),
            Bearer::new(Some(&admin)),
        );
    let op = accounts
        .create(iam::CreateServiceAccountRequest {
            folder_id: FOLDER.into(),
            name: "soak-signer".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let account_id = match op.result {
        Some(operation::Result::Response(any)) => {
            iam::ServiceAccount::decode(any.value.as_ref()).unwrap().id
        }
        other => panic!("{other:?}"),
    };
    let created = iam::key_service_client::KeyServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(Some(&admin)),
    )
    .create(iam::CreateKeyRequest {
        service_account_id: account_id.clone(),
        key_algorithm: iam::key::Algorithm::Rsa2048 as i32,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    let account = Account {
        id: account_id,
        key_id: created.key.unwrap().id,
        private_pkcs8: Arc::new(jwt::pem_body(&created.private_key)),
    };

    let mut seed = [0u8; 8];
    signet_crypto::fill_random(&mut seed).unwrap();
    let seed = u64::from_le_bytes(seed) | 1;
    eprintln!(
        "soak: {} s, {WORKERS} clients, seed {seed}, server pid {pid}",
        duration.as_secs()
    );

    // Sample RSS about 100 times over the run (at most every 5 s, at least every 250 ms).
    let started = Instant::now();
    let until = started + duration;
    let interval = (duration / 100).clamp(Duration::from_millis(250), Duration::from_secs(5));
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < until {
            if let Some(kib) = rss_kib(pid) {
                samples.push((started.elapsed(), kib));
            }
            tokio::time::sleep(interval).await;
        }
        samples
    });

    let mut rng = Rng(seed);
    let tasks: Vec<_> = (0..WORKERS)
        .map(|index| {
            let channel = channel.clone();
            let worker = Worker {
                index,
                c: Clients::new(channel, &admin),
                account: account.clone(),
                rng: Rng(rng.next() | 1),
                keys: Vec::new(),
                deleted: Vec::new(),
                token: None,
                names: 0,
                tally: Tally::default(),
            };
            tokio::spawn(worker.run(until))
        })
        .collect();
    let mut workers = Vec::new();
    for task in tasks {
        workers.push(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    let samples = sampler.await.unwrap();

    // Every key still alive signs (reactivated if need be), verified by openssl.
    let mut tally = Tally::default();
    let mut c = Clients::new(channel.clone(), &admin);
    let mut surviving = 0;
    for worker in &workers {
        for key in &worker.keys {
            if !key.active {
                let result = c
                    .keys
                    .update(UpdateAsymmetricSignatureKeyRequest {
                        key_id: key.id.clone(),
                        update_mask: Some(signet_proto::wkt::FieldMask {
                            paths: vec!["status".into()],
                        }),
                        status: asymmetric_signature_key::Status::Active as i32,
                        ..Default::default()
                    })
                    .await;
                tally.outcome("final reactivation", result, None);
            }
            let message = format!("final signature by {}", key.id).into_bytes();
            let signature = c
                .crypto
                .sign(AsymmetricSignRequest {
                    key_id: key.id.clone(),
                    message: message.clone(),
                })
                .await
                .unwrap_or_else(|s| panic!("surviving key {} does not sign: {s:?}", key.id))
                .into_inner()
                .signature;
            assert!(
                signet_testkit::openssl_verify(
                    key.algorithm,
                    &key.public_pem,
                    &message,
                    false,
                    &signature
                ),
                "openssl rejects the final signature of {} ({:?})",
                key.id,
                key.algorithm
            );
            surviving += 1;
        }
    }
    drop(c);
    drop(channel);
    for worker in workers {
        tally.merge(worker.tally);
    }

    // A clean stop, then the trail verifies offline.
    server.stop();
    let verify = run(
        Path::new(SIGNET),
        &["audit", "verify", "--data-dir", data.to_str().unwrap()],
    );
    let verify_report = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    // RSS: the baseline is the first sample after the warm-up.
    let warm_up = duration.mul_f64(WARM_UP);
    let after: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= warm_up)
        .map(|(_, kib)| *kib)
        .collect();
    assert!(after.len() >= 2, "too few RSS samples: {samples:?}");
    let baseline = after[0];
    let (min, max) = (*after.iter().min().unwrap(), *after.iter().max().unwrap());
    let drift = |v: u64| (v as f64 - baseline as f64) / baseline as f64;
    let total: u64 = tally.ops.values().sum();

    eprintln!("== soak summary ({:.1} s)", elapsed.as_secs_f64());
    eprintln!(
        "operations: {total} ({:.1}/s); {surviving} keys alive at the end",
        total as f64 / elapsed.as_secs_f64()
    );
    for (kind, n) in &tally.ops {
        eprintln!("  {kind:<20} {n}");
    }
    eprintln!("expected errors:");
    for ((kind, code), n) in &tally.expected {
        eprintln!("  {kind:<20} {code:<20} {n}");
    }
    eprintln!("unexpected errors: {:?}", tally.unexpected);
    eprintln!(
        "RSS (KiB): first {} at start, baseline {baseline} at {:.1} s, after warm-up min {min} \
         ({:+.1}%) max {max} ({:+.1}%), last {}; {} samples every {:.2} s",
        samples.first().map_or(0, |s| s.1),
        warm_up.as_secs_f64(),
        drift(min) * 100.0,
        drift(max) * 100.0,
        after.last().copied().unwrap_or(0),
        samples.len(),
        interval.as_secs_f64()
    );
    eprintln!(
        "RSS samples (s:KiB): {}",
        samples
            .iter()
            .map(|(at, kib)| format!("{:.0}:{kib}", at.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("audit verify: {}", verify_report.trim());

    assert!(
        tally.unexpected.is_empty(),
        "unexpected errors: {:#?}",
        tally.unexpected
    );
    assert!(
        verify.status.success(),
        "audit verify failed: {verify_report}"
    );
    for kind in [
        "sign",
        "sign hash",
        "create",
        "update",
        "delete",
        "token exchange",
        "binding change",
        "sign as account",
    ] {
        assert!(
            tally.ops.get(kind).copied().unwrap_or(0) > 0,
            "the workload never did {kind:?}: {:?}",
            tally.ops
        );
    }
    assert!(
        drift(min).abs() <= RSS_TOLERANCE && drift(max).abs() <= RSS_TOLERANCE,
        "RSS not flat after the warm-up: baseline {baseline} KiB, min {min}, max {max}: {samples:?}"
    );
}
