//! kill -9: a real `signet serve` process takes a stream of creates, updates, deletes, binding
//! changes and signatures from several concurrent clients and is killed with SIGKILL at a
//! random moment, many times, on SQLite and on PostgreSQL. After every kill:
//! - `signet audit verify` (offline) passes on the store the process left;
//! - once restarted, no key is stuck in CREATING (interrupted creations are finished);
//! - every operation the clients were handed exists and is done, and every change whose
//!   operation the clients saw done is in effect (a change in flight at the kill may or may not
//!   be, but nothing else);
//! - signing agrees with the model (ACTIVE keys sign, INACTIVE ones answer FAILED_PRECONDITION);
//! - every key that exists has the record of the Create call that made it, also a key whose
//!   Create was cut off before it answered (a change and its record commit together).
//!
//! The random choices come from a seed printed at the start; `SIGNET_CRASH_SEED=N` replays one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use signet_proto::yandex::cloud::operation::{GetOperationRequest, Operation, operation};
use signet_testkit::process::{ServeProcess, run};
use signet_testkit::{Authed, Bearer};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tonic::transport::Channel;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");
/// Kills per store.
const CYCLES: usize = 8;
/// Concurrent clients, each with keys of its own (so that each knows its keys' state exactly).
const WORKERS: usize = 3;
/// Roles the binding changes choose from (bound to `system:allAuthenticatedUsers`).
const ROLES: [&str; 3] = [
    "kms.asymmetricSignatureKeys.signer",
    "kms.viewer",
    "kms.editor",
];
/// How long a restarted server may take to finish the creations a kill interrupted.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    crash_loop(&dir.path().join("data"), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_kill_9() {
    let schema = signet_testkit::pg::Schema::fresh("crash");
    let dir = tempfile::tempdir().unwrap();
    crash_loop(&dir.path().join("data"), &["--store", &schema.url()]).await;
}

/// A small deterministic generator (xorshift64*), so that a failing run can be replayed.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = match std::env::var("SIGNET_CRASH_SEED") {
            Ok(s) => s.parse().unwrap(),
            Err(_) => {
                let mut b = [0u8; 8];
                signet_crypto::fill_random(&mut b).unwrap();
                u64::from_le_bytes(b)
            }
        };
        eprintln!("crash test seed: {seed} (SIGNET_CRASH_SEED={seed} replays it)");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn fork(&mut self) -> Rng {
        Rng(self.next() | 1)
    }
}

/// What a client knows of one of its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyState {
    Live {
        name: String,
        active: bool,
        roles: BTreeSet<String>,
    },
    Deleted,
}

#[derive(Debug)]
struct Tracked {
    id: String,
    /// The state after the last change whose operation was seen done.
    acked: KeyState,
    /// A change sent but not answered when the server died: it may or may not have happened.
    attempted: Option<KeyState>,
}

/// One client's keys and every operation it was handed.
#[derive(Debug, Default)]
struct Worker {
    keys: Vec<Tracked>,
    /// (operation id, seen done).
    operations: Vec<(String, bool)>,
    /// Changes acknowledged, over the whole run.
    acked_changes: usize,
    /// Operations found unfinished after a kill (creations the restart had to finish).
    interrupted: usize,
    /// Changes in flight at a kill.
    in_flight: usize,
    names: u64,
}

#[derive(Clone)]
struct Clients {
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
            operations: OperationServiceClient::with_interceptor(channel, bearer),
        }
    }

    /// Polls an operation until it is done.
    async fn wait(&mut self, mut op: Operation) -> Result<Operation, tonic::Status> {
        while !op.done {
            tokio::time::sleep(Duration::from_millis(10)).await;
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

    /// The key's state as the server reports it; `None` while it is CREATING.
    async fn observe(&mut self, id: &str) -> Option<KeyState> {
        let key = match self
            .keys
            .get(GetAsymmetricSignatureKeyRequest { key_id: id.into() })
            .await
        {
            Ok(k) => k.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return Some(KeyState::Deleted),
            Err(s) => panic!("get {id}: {s:?}"),
        };
        let status = asymmetric_signature_key::Status::try_from(key.status).unwrap();
        if status == asymmetric_signature_key::Status::Creating {
            return None;
        }
        let bindings = self
            .keys
            .list_access_bindings(access::ListAccessBindingsRequest {
                resource_id: id.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(bindings.next_page_token.is_empty());
        Some(KeyState::Live {
            name: key.name,
            active: status == asymmetric_signature_key::Status::Active,
            roles: bindings
                .access_bindings
                .into_iter()
                .map(|b| b.role_id)
                .collect(),
        })
    }
}

fn all_authenticated(role: &str) -> access::AccessBinding {
    access::AccessBinding {
        role_id: role.into(),
        subject: Some(access::Subject {
            id: "allAuthenticatedUsers".into(),
            r#type: "system".into(),
        }),
    }
}

impl Worker {
    fn live(&self) -> Vec<usize> {
        (0..self.keys.len())
            .filter(|&i| matches!(self.keys[i].acked, KeyState::Live { .. }))
            .collect()
    }

    fn fresh_name(&mut self, worker: usize) -> String {
        self.names += 1;
        format!("w{worker}-key-{}", self.names)
    }

    /// Runs random steps until a call fails, which must be because the server was killed
    /// (`killed` is set first).
    async fn run(
        mut self,
        index: usize,
        mut c: Clients,
        mut rng: Rng,
        killed: Arc<AtomicBool>,
        created: Option<Arc<Notify>>,
    ) -> Worker {
        if let Some(created) = created {
            // Start an RSA-4096 creation, whose key generation takes long enough that the kill
            // this triggers lands while it runs: the restart must finish it.
            let result = self
                .create(
                    index,
                    &mut c,
                    signet_crypto::Algorithm::Rsa4096PssSha256,
                    Some(created),
                )
                .await;
            if let Err(status) = result {
                assert!(killed.load(Ordering::SeqCst), "{status:?}");
                return self;
            }
        }
        loop {
            match self.step(index, &mut c, &mut rng).await {
                Ok(()) => {}
                Err(status) => {
                    assert!(
                        killed.load(Ordering::SeqCst),
                        "worker {index}: a call failed while the server was up: {status:?}"
                    );
                    return self;
                }
            }
        }
    }

    async fn step(
        &mut self,
        index: usize,
        c: &mut Clients,
        rng: &mut Rng,
    ) -> Result<(), tonic::Status> {
        let live = self.live();
        if live.len() < 2 || (live.len() < 4 && rng.below(4) == 0) {
            // Mostly P-256 (fast); now and then RSA, whose generation takes longer.
            let algorithm = if rng.below(4) == 0 {
                signet_crypto::Algorithm::Rsa2048PssSha256
            } else {
                signet_crypto::Algorithm::EcdsaP256Sha256
            };
            return self.create(index, c, algorithm, None).await;
        }
        let k = live[usize::try_from(rng.below(live.len() as u64)).unwrap()];
        let KeyState::Live {
            name,
            active,
            roles,
        } = self.keys[k].acked.clone()
        else {
            unreachable!()
        };
        let id = self.keys[k].id.clone();
        match rng.below(10) {
            // Rename and/or flip the status.
            0..=2 => {
                let new_name = self.fresh_name(index);
                let new_active = if rng.below(2) == 0 { !active } else { active };
                self.keys[k].attempted = Some(KeyState::Live {
                    name: new_name.clone(),
                    active: new_active,
                    roles: roles.clone(),
                });
                let status = if new_active {
                    asymmetric_signature_key::Status::Active
                } else {
                    asymmetric_signature_key::Status::Inactive
                };
                let op = c
                    .keys
                    .update(UpdateAsymmetricSignatureKeyRequest {
                        key_id: id,
                        update_mask: Some(signet_proto::wkt::FieldMask {
                            paths: vec!["name".into(), "status".into()],
                        }),
                        name: new_name,
                        status: status as i32,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                self.acknowledge(k, op);
            }
            // Replace the bindings with a random subset of the roles.
            3..=4 => {
                let chosen: BTreeSet<String> = ROLES
                    .iter()
                    .filter(|_| rng.below(2) == 0)
                    .map(|r| (*r).to_owned())
                    .collect();
                self.keys[k].attempted = Some(KeyState::Live {
                    name,
                    active,
                    roles: chosen.clone(),
                });
                let op = c
                    .keys
                    .set_access_bindings(access::SetAccessBindingsRequest {
                        resource_id: id,
                        access_bindings: chosen.iter().map(|r| all_authenticated(r)).collect(),
                    })
                    .await?
                    .into_inner();
                self.acknowledge(k, op);
            }
            5 => {
                self.keys[k].attempted = Some(KeyState::Deleted);
                let op = c
                    .keys
                    .delete(DeleteAsymmetricSignatureKeyRequest { key_id: id })
                    .await?
                    .into_inner();
                self.acknowledge(k, op);
            }
            // Sign: the answer must agree with the status the client knows.
            _ => {
                let mut message = [0u8; 16];
                signet_crypto::fill_random(&mut message).unwrap();
                let signed = c
                    .crypto
                    .sign(AsymmetricSignRequest {
                        key_id: id.clone(),
                        message: message.to_vec(),
                    })
                    .await;
                match signed {
                    Ok(_) => assert!(active, "the inactive key {id} signed"),
                    Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                        assert!(!active, "the active key {id} refused to sign: {s:?}");
                    }
                    Err(s) => return Err(s),
                }
            }
        }
        Ok(())
    }

    /// Creates a key and waits for its operation; `created` is notified as soon as Create has
    /// answered (the key and its pending operation are committed then).
    async fn create(
        &mut self,
        index: usize,
        c: &mut Clients,
        algorithm: signet_crypto::Algorithm,
        created: Option<Arc<Notify>>,
    ) -> Result<(), tonic::Status> {
        let name = self.fresh_name(index);
        let op = c
            .keys
            .create(CreateAsymmetricSignatureKeyRequest {
                folder_id: "default".into(),
                name: name.clone(),
                signature_algorithm: algorithm.wire_number(),
                ..Default::default()
            })
            .await?
            .into_inner();
        let metadata = op.metadata.as_ref().expect("create has metadata");
        let id = CreateAsymmetricSignatureKeyMetadata::decode(metadata.value.as_ref())
            .unwrap()
            .key_id;
        // The key is committed (CREATING) with its pending operation before Create answers, so
        // from here on it must come out ACTIVE, kill or no kill.
        self.keys.push(Tracked {
            id,
            acked: KeyState::Live {
                name,
                active: true,
                roles: BTreeSet::new(),
            },
            attempted: None,
        });
        self.operations.push((op.id.clone(), false));
        if let Some(created) = created {
            created.notify_one();
        }
        let done = c.wait(op).await?;
        assert!(
            matches!(done.result, Some(operation::Result::Response(_))),
            "creation failed: {done:?}"
        );
        self.operations.last_mut().unwrap().1 = true;
        self.acked_changes += 1;
        Ok(())
    }

    /// A change's operation came back: it must be done and successful; its state is now known.
    fn acknowledge(&mut self, k: usize, op: Operation) {
        assert!(
            op.done && matches!(op.result, Some(operation::Result::Response(_))),
            "a change did not succeed at once: {op:?}"
        );
        let tracked = &mut self.keys[k];
        tracked.acked = tracked.attempted.take().unwrap();
        self.operations.push((op.id, true));
        self.acked_changes += 1;
    }

    /// After a restart: each key is in its acknowledged state, or in the state of the change
    /// that was in flight; every operation handed out exists and finishes.
    async fn check(&mut self, c: &mut Clients) {
        for (id, seen_done) in &mut self.operations {
            let op = c
                .operations
                .get(GetOperationRequest {
                    operation_id: id.clone(),
                })
                .await
                .unwrap_or_else(|s| panic!("operation {id} lost: {s:?}"))
                .into_inner();
            assert!(
                op.done || !*seen_done,
                "operation {id} was done, now is not"
            );
            if !op.done {
                self.interrupted += 1;
            }
            let op = tokio::time::timeout(RECOVERY_LIMIT, c.wait(op))
                .await
                .unwrap_or_else(|_| panic!("operation {id} never finished after restart"))
                .unwrap();
            assert!(
                matches!(op.result, Some(operation::Result::Response(_))),
                "operation {id}: {op:?}"
            );
            *seen_done = true;
        }
        for tracked in &mut self.keys {
            let observed = tokio::time::timeout(RECOVERY_LIMIT, async {
                loop {
                    if let Some(state) = c.observe(&tracked.id).await {
                        return state;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("key {} stuck in CREATING after restart", tracked.id));
            assert!(
                observed == tracked.acked || Some(&observed) == tracked.attempted.as_ref(),
                "key {}: found {observed:?}, expected {:?} (or the change in flight, {:?})",
                tracked.id,
                tracked.acked,
                tracked.attempted
            );
            if tracked.attempted.take().is_some() {
                self.in_flight += 1;
            }
            tracked.acked = observed;
        }
    }
}

/// Every key of the folder that is not deleted.
async fn all_keys(c: &mut Clients) -> Vec<AsymmetricSignatureKey> {
    let mut keys = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = c
            .keys
            .list(ListAsymmetricSignatureKeysRequest {
                folder_id: "default".into(),
                page_size: 1000,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        keys.extend(page.keys);
        if page.next_page_token.is_empty() {
            return keys;
        }
        page_token = page.next_page_token;
    }
}

/// The keys the trail (exported offline from what the process left) records a successful
/// Create of.
fn keys_created_in_trail(data: &Path, store: &[&str]) -> BTreeSet<String> {
    let mut args = vec![
        "audit",
        "export",
        "--since",
        "1970-01-01T00:00:00Z",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(store);
    let out = run(Path::new(SIGNET), &args);
    assert!(
        out.status.success(),
        "audit export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|r| {
            r["rpc"]
                .as_str()
                .is_some_and(|rpc| rpc.ends_with("AsymmetricSignatureKeyService/Create"))
                && r["outcome"] == "OK"
        })
        .filter_map(|r| r["resource_id"].as_str().map(str::to_owned))
        .collect()
}

/// No key of the folder is CREATING (also keys whose Create was cut off before it answered).
async fn assert_nothing_creating(c: &mut Clients) {
    let stuck = tokio::time::timeout(RECOVERY_LIMIT, async {
        loop {
            let creating = all_keys(c)
                .await
                .into_iter()
                .any(|k| k.status == asymmetric_signature_key::Status::Creating as i32);
            if !creating {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(stuck.is_ok(), "keys stuck in CREATING after restart");
}

/// `signet audit verify` on what the process left.
fn audit_verifies(data: &Path, store: &[&str]) {
    let mut args = vec!["audit", "verify", "--data-dir", data.to_str().unwrap()];
    args.extend_from_slice(store);
    let out = run(Path::new(SIGNET), &args);
    assert!(
        out.status.success(),
        "audit verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn crash_loop(data: &Path, store: &[&str]) {
    let mut rng = Rng::seeded();
    let mut server = ServeProcess::start(Path::new(SIGNET), data, store);
    let token = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let mut workers: Vec<Worker> = (0..WORKERS).map(|_| Worker::default()).collect();
    for cycle in 0..CYCLES {
        let channel = server.channel().await;
        let killed = Arc::new(AtomicBool::new(false));
        // Every other cycle the kill comes right after an RSA-4096 Create has answered, while
        // its key is being generated; otherwise at a random moment.
        let created = (cycle % 2 == 1).then(|| Arc::new(Notify::new()));
        let tasks: Vec<_> = workers
            .drain(..)
            .enumerate()
            .map(|(i, w)| {
                tokio::spawn(w.run(
                    i,
                    Clients::new(channel.clone(), &token),
                    rng.fork(),
                    Arc::clone(&killed),
                    created.clone().filter(|_| i == 0),
                ))
            })
            .collect();
        match &created {
            Some(created) => tokio::time::timeout(RECOVERY_LIMIT, created.notified())
                .await
                .expect("the RSA-4096 Create never answered"),
            None => tokio::time::sleep(Duration::from_millis(150 + rng.below(850))).await,
        }
        killed.store(true, Ordering::SeqCst);
        server.kill_hard();
        for task in tasks {
            workers.push(task.await.unwrap());
        }
        audit_verifies(data, store);
        let recorded = keys_created_in_trail(data, store);

        server = ServeProcess::start(Path::new(SIGNET), data, store);
        let mut c = Clients::new(server.channel().await, &token);
        for key in all_keys(&mut c).await {
            assert!(
                recorded.contains(&key.id),
                "key {} exists without the record of its Create",
                key.id
            );
        }
        for w in &mut workers {
            w.check(&mut c).await;
        }
        assert_nothing_creating(&mut c).await;
        eprintln!(
            "cycle {cycle}: so far {} changes acknowledged, {} in flight at a kill, {} operations \
             unfinished at a restart",
            workers.iter().map(|w| w.acked_changes).sum::<usize>(),
            workers.iter().map(|w| w.in_flight).sum::<usize>(),
            workers.iter().map(|w| w.interrupted).sum::<usize>(),
        );
    }
    // The test must have exercised something: a few changes per cycle at the least.
    let acked: usize = workers.iter().map(|w| w.acked_changes).sum();
    assert!(
        acked >= CYCLES * 3,
        "only {acked} changes were acknowledged"
    );
    server.stop();
    audit_verifies(data, store);
}
