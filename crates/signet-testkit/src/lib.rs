//! Test support for Signet (a dev-dependency only): [`TestServer::builder`] starts a real
//! server in-process on a loopback port with a temporary data directory and a controllable
//! clock, and hands out authenticated gRPC clients. Also helpers to find the test-only tools
//! (Python venv, `openssl`) and verify signatures with them; a fresh PostgreSQL schema per test
//! ([`pg`]); `signet serve` as a child process that tests can kill ([`process`]); a TCP proxy
//! that tests cut to make the database unreachable ([`proxy`]).
//!
//! The end-to-end suite lives in this crate's `tests/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: fail loudly

pub mod fixtures;
pub mod pg;
pub mod process;
pub mod proxy;

use signet_core::domain::{Clock, ManualClock, SystemClock};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
use signet_proto::yandex::cloud::operation::Operation;
use signet_proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use signet_server::{Overrides, Running, Settings};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A client of the audit trail reader.
pub type AuditTrailClient =
    signet_proto::signet::audit::v1::audit_trail_service_client::AuditTrailServiceClient<Authed>;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone, Debug)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    pub fn new(token: Option<&str>) -> Bearer {
        Bearer(token.map(|t| format!("Bearer {t}").parse().unwrap()))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

#[derive(Debug)]
pub struct TestServerBuilder {
    data_dir: Option<PathBuf>,
    deletion_window: Option<String>,
    root_key_file: Option<PathBuf>,
    clock: Option<ManualClock>,
    tls: Option<(PathBuf, PathBuf)>,
    advertise: Option<String>,
    store: Option<String>,
    admin_token: Option<String>,
    audit: Option<String>,
    audit_checkpoint_records: Option<u64>,
    cache_max_age: Option<String>,
    cache_outage_grace: Option<String>,
    store_timeout: Option<String>,
    max_keys_per_folder: Option<u32>,
    limits: Overrides,
}

impl TestServerBuilder {
    /// Requests in flight at once (default 1024).
    pub fn max_concurrent_requests(mut self, n: u32) -> Self {
        self.limits.max_concurrent_requests = Some(n);
        self
    }

    /// Calls per second per subject, and the burst (default: no limit). Time is the test's
    /// clock.
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.limits.rate_limit = Some(per_second);
        self.limits.rate_limit_burst = Some(burst);
        self
    }

    /// Requests in flight at once from one client IP address (default 256; 0 is no limit).
    pub fn max_requests_per_client(mut self, n: u32) -> Self {
        self.limits.max_requests_per_client = Some(n);
        self
    }

    /// IAM token exchanges per second per client IP address, and the burst (default 20 and
    /// 40; a rate of 0 is no limit). Time is the test's clock.
    pub fn token_exchange_rate(mut self, per_second: u32, burst: Option<u32>) -> Self {
        self.limits.token_exchange_rate = Some(per_second);
        self.limits.token_exchange_burst = burst;
        self
    }

    /// How long a call may take (default 60 s).
    pub fn request_timeout(mut self, timeout: &str) -> Self {
        self.limits.request_timeout = Some(timeout.to_owned());
        self
    }

    /// The quota of asymmetric signature keys per folder (default 100).
    pub fn max_keys_per_folder(mut self, n: u32) -> Self {
        self.max_keys_per_folder = Some(n);
        self
    }

    /// The audit trail mode: `all` (the default), `control-plane` or `off`.
    pub fn audit(mut self, mode: &str) -> Self {
        self.audit = Some(mode.to_owned());
        self
    }

    /// Sign an audit checkpoint every `n` records (default 1000).
    pub fn audit_checkpoint_records(mut self, n: u64) -> Self {
        self.audit_checkpoint_records = Some(n);
        self
    }

    /// How long cached keys, bindings and tokens are trusted (`cache_max_age`, e.g. `30s`).
    pub fn cache_max_age(mut self, age: &str) -> Self {
        self.cache_max_age = Some(age.to_owned());
        self
    }

    /// How much longer cached entries may be used while the store is unreachable
    /// (`cache_outage_grace`).
    pub fn cache_outage_grace(mut self, grace: &str) -> Self {
        self.cache_outage_grace = Some(grace.to_owned());
        self
    }

    /// How long a call waits for a PostgreSQL connection (`store_timeout`).
    pub fn store_timeout(mut self, timeout: &str) -> Self {
        self.store_timeout = Some(timeout.to_owned());
        self
    }

    /// Reuse a data directory (for restart tests).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    pub fn deletion_window(mut self, w: &str) -> Self {
        self.deletion_window = Some(w.to_owned());
        self
    }

    pub fn root_key_file(mut self, path: &Path) -> Self {
        self.root_key_file = Some(path.to_owned());
        self
    }

    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Serve TLS with this certificate chain and key (PEM files). The test's own gRPC channel
    /// then trusts `ca` and connects by the name `localhost`.
    pub fn tls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.to_owned(), key.to_owned()));
        self
    }

    /// The admin token to use when this node's data directory has none (a second node on a
    /// shared store).
    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin_token = Some(token.to_owned());
        self
    }

    /// Use this store (`postgres://…`) instead of the embedded SQLite database.
    pub fn store(mut self, url: &str) -> Self {
        self.store = Some(url.to_owned());
        self
    }

    /// The `host:port` endpoint discovery announces (default: the bound address). A `{port}`
    /// in it is replaced by the bound port.
    pub fn advertise(mut self, advertise: &str) -> Self {
        self.advertise = Some(advertise.to_owned());
        self
    }

    fn settings(&self, dir: &Path) -> Settings {
        Settings::resolve(
            None,
            |_| None,
            Overrides {
                data_dir: Some(dir.to_owned()),
                listen: Some("127.0.0.1:0".into()),
                root_key_file: self.root_key_file.clone(),
                deletion_window: self.deletion_window.clone(),
                tls_cert: self.tls.as_ref().map(|t| t.0.clone()),
                tls_key: self.tls.as_ref().map(|t| t.1.clone()),
                advertise: self.advertise.clone(),
                store: self.store.clone(),
                audit: self.audit.clone(),
                audit_checkpoint_records: self.audit_checkpoint_records,
                cache_max_age: self.cache_max_age.clone(),
                cache_outage_grace: self.cache_outage_grace.clone(),
                store_timeout: self.store_timeout.clone(),
                max_keys_per_folder: self.max_keys_per_folder,
                max_concurrent_requests: self.limits.max_concurrent_requests,
                max_requests_per_client: self.limits.max_requests_per_client,
                rate_limit: self.limits.rate_limit,
                rate_limit_burst: self.limits.rate_limit_burst,
                token_exchange_rate: self.limits.token_exchange_rate,
                token_exchange_burst: self.limits.token_exchange_burst,
                request_timeout: self.limits.request_timeout.clone(),
                ..Overrides::default()
            },
        )
        .unwrap()
    }

    /// Starts the server; panics with the error on failure.
    pub async fn start(self) -> TestServer {
        self.try_start().await.unwrap()
    }

    /// Starts the server, returning the start error (for tests of refusals).
    pub async fn try_start(self) -> Result<TestServer, signet_server::ServeError> {
        let (dir, temp) = match &self.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::tempdir().unwrap();
                (t.path().join("data"), Some(t))
            }
        };
        let clock = self
            .clock
            .clone()
            .unwrap_or_else(|| ManualClock::new(SystemClock.now()));
        let running = signet_server::start(
            self.settings(&dir),
            Arc::new(clock.clone()) as Arc<dyn Clock>,
        )
        .await?;
        let token = match &self.admin_token {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(dir.join(signet_server::app::ADMIN_TOKEN_FILE))
                .unwrap()
                .trim()
                .to_owned(),
        };
        let channel = if self.tls.is_some() {
            // With TLS the test talks to the server by name; the caller's CA must be trusted via
            // `TestServer::tls_channel`. The default channel is left lazy so it is never used
            // by accident in plaintext.
            Channel::from_shared(format!("https://localhost:{}", running.local_addr.port()))
                .unwrap()
                .connect_lazy()
        } else {
            Channel::from_shared(format!("http://{}", running.local_addr))
                .unwrap()
                .connect()
                .await
                .unwrap()
        };
        Ok(TestServer {
            running: Some(running),
            token,
            dir,
            _temp: temp,
            clock,
            channel,
        })
    }
}

/// A server running in this process.
pub struct TestServer {
    running: Option<Running>,
    pub token: String,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub clock: ManualClock,
    pub channel: Channel,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("dir", &self.dir)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            data_dir: None,
            deletion_window: None,
            root_key_file: None,
            clock: None,
            tls: None,
            advertise: None,
            store: None,
            admin_token: None,
            audit: None,
            audit_checkpoint_records: None,
            cache_max_age: None,
            cache_outage_grace: None,
            store_timeout: None,
            max_keys_per_folder: None,
            limits: Overrides::default(),
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().unwrap().local_addr
    }

    pub fn kms(&self) -> &Arc<signet_core::Kms> {
        &self.running.as_ref().unwrap().kms
    }

    fn bearer(&self) -> Bearer {
        Bearer::new(Some(&self.token))
    }

    pub fn keys(&self) -> AsymmetricSignatureKeyServiceClient<Authed> {
        AsymmetricSignatureKeyServiceClient::with_interceptor(self.channel.clone(), self.bearer())
    }

    pub fn crypto(&self) -> AsymmetricSignatureCryptoServiceClient<Authed> {
        AsymmetricSignatureCryptoServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer(),
        )
    }

    pub fn operations(&self) -> OperationServiceClient<Authed> {
        OperationServiceClient::with_interceptor(self.channel.clone(), self.bearer())
    }

    pub fn service_accounts(&self) -> signet_proto::yandex::cloud::iam::v1::service_account_service_client::ServiceAccountServiceClient<Authed>{
        signet_proto::yandex::cloud::iam::v1::service_account_service_client::ServiceAccountServiceClient::with_interceptor(self.channel.clone(), self.bearer())
    }

    pub fn iam_tokens(
        &self,
    ) -> signet_proto::yandex::cloud::iam::v1::iam_token_service_client::IamTokenServiceClient<Authed>
    {
        signet_proto::yandex::cloud::iam::v1::iam_token_service_client::IamTokenServiceClient::with_interceptor(self.channel.clone(), self.bearer())
    }

    pub fn authorized_keys(
        &self,
    ) -> signet_proto::yandex::cloud::iam::v1::key_service_client::KeyServiceClient<Authed> {
        signet_proto::yandex::cloud::iam::v1::key_service_client::KeyServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer(),
        )
    }

    pub fn folders(&self) -> signet_proto::yandex::cloud::resourcemanager::v1::folder_service_client::FolderServiceClient<Authed>{
        signet_proto::yandex::cloud::resourcemanager::v1::folder_service_client::FolderServiceClient::with_interceptor(self.channel.clone(), self.bearer())
    }

    /// `signet.audit.v1.AuditTrailService`, as the admin or (`audit_trail_as`) another caller.
    pub fn audit_trail(&self) -> AuditTrailClient {
        self.audit_trail_as(Some(&self.token))
    }

    pub fn audit_trail_as(&self, token: Option<&str>) -> AuditTrailClient {
        signet_proto::signet::audit::v1::audit_trail_service_client::AuditTrailServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(token),
        )
    }

    pub fn operations_as(&self, token: Option<&str>) -> OperationServiceClient<Authed> {
        OperationServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// Creates a key (as admin), waits for it to be ready and returns its id; panics if the
    /// creation fails.
    pub async fn create_key(&self, folder: &str, algorithm: signet_crypto::Algorithm) -> String {
        use prost::Message as _;
        use signet_proto::yandex::cloud::kms::v1::asymmetricsignature as kms;
        let op = self
            .keys()
            .create(kms::CreateAsymmetricSignatureKeyRequest {
                folder_id: folder.into(),
                name: "test-key".into(),
                signature_algorithm: algorithm.wire_number(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        match self.wait(op).await.result {
            Some(signet_proto::yandex::cloud::operation::operation::Result::Response(any)) => {
                kms::AsymmetricSignatureKey::decode(any.value.as_ref())
                    .unwrap()
                    .id
            }
            other => panic!("key creation failed: {other:?}"),
        }
    }

    /// Creates a service account (as admin) and returns its id.
    pub async fn create_service_account(&self, folder: &str, name: &str) -> String {
        use prost::Message as _;
        use signet_proto::yandex::cloud::iam::v1 as iam;
        let op = self
            .service_accounts()
            .create(iam::CreateServiceAccountRequest {
                folder_id: folder.into(),
                name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        match op.result {
            Some(signet_proto::yandex::cloud::operation::operation::Result::Response(any)) => {
                iam::ServiceAccount::decode(any.value.as_ref()).unwrap().id
            }
            other => panic!("service account creation failed: {other:?}"),
        }
    }

    /// Gives a key's access bindings as exactly one: `role` for the service account (as admin,
    /// through SetAccessBindings; in force when it returns).
    pub async fn set_key_role(&self, key_id: &str, role: &str, service_account_id: &str) {
        use signet_proto::yandex::cloud::access;
        self.keys()
            .set_access_bindings(access::SetAccessBindingsRequest {
                resource_id: key_id.into(),
                access_bindings: vec![access::AccessBinding {
                    role_id: role.into(),
                    subject: Some(access::Subject {
                        id: service_account_id.into(),
                        r#type: "serviceAccount".into(),
                    }),
                }],
            })
            .await
            .unwrap();
    }

    /// An IAM token for a service account (as admin, through CreateForServiceAccount).
    pub async fn token_for(&self, service_account_id: &str) -> String {
        self.iam_tokens()
            .create_for_service_account(
                signet_proto::yandex::cloud::iam::v1::CreateIamTokenForServiceAccountRequest {
                    service_account_id: service_account_id.into(),
                },
            )
            .await
            .unwrap()
            .into_inner()
            .iam_token
    }

    /// Clients sending the given token (or none).
    pub fn crypto_as(&self, token: Option<&str>) -> AsymmetricSignatureCryptoServiceClient<Authed> {
        AsymmetricSignatureCryptoServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(token),
        )
    }

    pub fn keys_as(&self, token: Option<&str>) -> AsymmetricSignatureKeyServiceClient<Authed> {
        AsymmetricSignatureKeyServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(token),
        )
    }

    /// Polls an operation until it is done (at most 60 s).
    pub async fn wait(&self, op: Operation) -> Operation {
        let mut op = op;
        let mut ops = self.operations();
        for _ in 0..6000 {
            if op.done {
                return op;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            op = ops
                .get(
                    signet_proto::yandex::cloud::operation::GetOperationRequest {
                        operation_id: op.id.clone(),
                    },
                )
                .await
                .unwrap()
                .into_inner();
        }
        panic!("operation {} did not finish", op.id);
    }

    /// Stops the server (gracefully), keeping its data directory for a restart.
    pub async fn stop(mut self) -> StoppedServer {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
        StoppedServer {
            dir: self.dir.clone(),
            _temp: self._temp.take(),
            clock: self.clock.clone(),
        }
    }
}

/// A stopped server's data directory.
#[derive(Debug)]
pub struct StoppedServer {
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub clock: ManualClock,
}

impl StoppedServer {
    pub async fn restart(mut self) -> TestServer {
        let mut server = TestServer::builder()
            .data_dir(&self.dir)
            .clock(self.clock.clone())
            .start()
            .await;
        server._temp = self._temp.take();
        server
    }
}

/// Building the JWTs service accounts exchange for IAM tokens, well-formed or not.
pub mod jwt {
    use base64::Engine as _;

    pub fn b64url(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A compact JWS of `header` and `claims`, its signature made by `signer` over the signing
    /// input.
    pub fn jws(
        header: serde_json::Value,
        claims: serde_json::Value,
        signer: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = signer(input.as_bytes());
        format!("{input}.{}", b64url(&signature))
    }

    /// A PS256 signer with an RSA private key (PKCS#8 DER), as Yandex's SDKs sign.
    pub fn ps256(pkcs8_der: &[u8]) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
        move |input| {
            signet_crypto::SigningKey::from_pkcs8(
                signet_crypto::Algorithm::Rsa2048PssSha256,
                &signet_crypto::SecretBytes::new(pkcs8_der.to_vec()),
            )
            .unwrap()
            .sign(input)
            .unwrap()
        }
    }

    /// The DER inside a PEM document.
    pub fn pem_body(pem: &str) -> Vec<u8> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    /// HMAC-SHA-256 (RFC 2104) over signet-crypto's SHA-256: what an HS256 forger computes.
    pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&signet_crypto::sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let inner: Vec<u8> = block
            .iter()
            .map(|b| b ^ 0x36)
            .chain(message.iter().copied())
            .collect();
        let outer: Vec<u8> = block
            .iter()
            .map(|b| b ^ 0x5c)
            .chain(signet_crypto::sha256(&inner))
            .collect();
        signet_crypto::sha256(&outer)
    }
}

/// The workspace root (for compat/ scripts).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter of the test venv (with `yandexcloud` and `cryptography`). Fails the
/// test, never skips, when it is missing.
pub fn python() -> PathBuf {
    let candidate = std::env::var_os("SIGNET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        candidate.exists(),
        "Python test venv not found at {}; run scripts/dev-deps (or scripts/test)",
        candidate.display()
    );
    candidate
}

/// Verifies `signature` over `data` with the `openssl` CLI. `prehashed` means `data` is the
/// digest. Returns whether openssl accepted it.
pub fn openssl_verify(
    algorithm: signet_crypto::Algorithm,
    public_key_pem: &str,
    data: &[u8],
    prehashed: bool,
    signature: &[u8],
) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let pub_path = dir.path().join("pub.pem");
    let data_path = dir.path().join("data");
    let sig_path = dir.path().join("sig");
    std::fs::write(&pub_path, public_key_pem).unwrap();
    std::fs::write(&data_path, data).unwrap();
    std::fs::write(&sig_path, signature).unwrap();
    let md = algorithm.hash().name();
    let mut cmd = std::process::Command::new("openssl");
    let rsa_opts = [
        "rsa_padding_mode:pss".to_owned(),
        "rsa_pss_saltlen:digest".to_owned(),
        format!("rsa_mgf1_md:{md}"),
    ];
    if prehashed {
        cmd.args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&pub_path)
            .arg("-in")
            .arg(&data_path)
            .arg("-sigfile")
            .arg(&sig_path);
        if algorithm.is_rsa() {
            cmd.arg("-pkeyopt").arg(format!("digest:{md}"));
            for o in &rsa_opts {
                cmd.arg("-pkeyopt").arg(o);
            }
        }
    } else {
        cmd.arg("dgst")
            .arg(format!("-{md}"))
            .arg("-verify")
            .arg(&pub_path)
            .arg("-signature")
            .arg(&sig_path);
        if algorithm.is_rsa() {
            for o in &rsa_opts {
                cmd.arg("-sigopt").arg(o);
            }
        }
        cmd.arg(&data_path);
    }
    let out = cmd
        .output()
        .expect("the openssl CLI is needed (scripts/dev-deps)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    out.status.success()
        && (stdout.contains("Verified OK") || stdout.contains("Signature Verified Successfully"))
}
