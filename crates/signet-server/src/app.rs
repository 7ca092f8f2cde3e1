//! The composition root: opens the data directory, the root key and the store, bootstraps the
//! deployment, wires the services and runs the server and its background jobs.

use crate::config::{Settings, StoreLocation};
use signet_core::store::Store;
use crate::context::CallLayer;
use crate::grpc::{
    ApiEndpointService, AuditTrailService, AuthorizedKeyService, CryptoService, FolderService, IamTokenService,
    KeyService, OperationService, ServiceAccountService,
};
use signet_proto::signet::audit::v1::audit_trail_service_server::AuditTrailServiceServer;
use signet_proto::yandex::cloud::endpoint::api_endpoint_service_server::ApiEndpointServiceServer;
use signet_proto::yandex::cloud::iam::v1::iam_token_service_server::IamTokenServiceServer;
use signet_proto::yandex::cloud::iam::v1::key_service_server::KeyServiceServer as IamKeyServiceServer;
use signet_proto::yandex::cloud::iam::v1::service_account_service_server::ServiceAccountServiceServer;
use signet_proto::yandex::cloud::resourcemanager::v1::folder_service_server::FolderServiceServer;
use signet_core::audit::{AuditMode, AuditTrail, AuditWriter, CheckpointKey};
use signet_core::auth::NewToken;
use signet_core::bootstrap::{BootstrapError, bootstrap};
use signet_core::domain::Clock;
use signet_core::{Kms, KmsSettings};
use signet_crypto::{EnvRootKey, FileRootKey, RootKey, RootKeySource};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_server::AsymmetricSignatureCryptoServiceServer;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_server::AsymmetricSignatureKeyServiceServer;
use signet_proto::yandex::cloud::operation::operation_service_server::OperationServiceServer;
use signet_store::SqliteStore;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest request message accepted, in bytes (a Sign message is at most 32 KiB; a
/// SetAccessBindings of 1000 bindings stays well under this). Larger requests are refused with
/// OUT_OF_RANGE before they are decoded.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// Name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "signet.db";
/// Name of the generated root key file inside the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";
/// Name of the file the first admin token is written to.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{data_dir} already holds a Signet store but no root key was found (looked for {root_key}, \
         SIGNET_ROOT_KEY and --root-key-file). Refusing to create a new root key, which could never \
         open the existing keys"
    )]
    MissingRootKey {
        data_dir: PathBuf,
        root_key: PathBuf,
    },
    #[error("{0} holds no Signet store; start `signet serve --data-dir` on it first")]
    NoStore(PathBuf),
    #[error("root key")]
    RootKey(#[from] signet_crypto::RootKeyError),
    #[error("cannot open the store")]
    Store(#[source] signet_core::store::StoreError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("cannot write the admin token file {path}")]
    AdminToken {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to serve plaintext gRPC on the non-loopback address {0}: tokens would cross the \
         network in clear. Listen on a loopback address, or pass --insecure-plaintext"
    )]
    PlaintextNotLoopback(SocketAddr),
    #[error("cannot read TLS file {path}")]
    Tls {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error")]
    Core(#[from] signet_core::CoreError),
    #[error("the server stopped with an error")]
    Transport(#[from] tonic::transport::Error),
    #[error("the REST gateway cannot be built")]
    Gateway(#[from] crate::rest::GatewayError),
    #[error("gRPC reflection cannot be built")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("the server task failed")]
    Join(#[from] tokio::task::JoinError),
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub local_addr: SocketAddr,
    pub kms: Arc<Kms>,
    pub data_dir: PathBuf,
    /// Set on the very first start only.
    pub new_admin_token: Option<NewToken>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    jobs: Vec<JoinHandle<()>>,
    audit_writer: AuditWriter,
}

/// How long a stopping server waits for the audit writer to commit what is queued.
const AUDIT_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Running {
    /// Stops accepting calls, lets in-flight calls finish, and stops the background jobs.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for job in &self.jobs {
            job.abort();
        }
        for job in self.jobs.drain(..) {
            // Aborted: the error only says so. Awaited so that no job still uses the store.
            let _ = job.await;
        }
        let result = (&mut self.server).await;
        self.kms.wait_idle().await;
        // The server and its calls are gone, and with them every handle on the trail: the
        // writer commits what is left, signs a last checkpoint and stops.
        self.audit_writer.finish(AUDIT_DRAIN_LIMIT).await;
        // Last, the store: nothing of this server uses it any more.
        self.kms.store().close().await;
        result??;
        Ok(())
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) -> Result<(), ServeError> {
        (&mut self.server).await??;
        Ok(())
    }
}

fn data_dir_error(path: &Path) -> impl FnOnce(std::io::Error) -> ServeError + '_ {
    move |source| ServeError::DataDir {
        path: path.to_owned(),
        source,
    }
}

/// Creates the data directory (0700) if it is missing.
fn prepare_data_dir(dir: &Path) -> Result<(), ServeError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(data_dir_error(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(data_dir_error(dir))?;
        }
    }
    Ok(())
}

/// Loads the root key from the configured source; on a fresh data directory with no source,
/// generates `<data_dir>/root.key` (0600).
fn load_root_key(settings: &Settings, fresh: bool) -> Result<RootKey, ServeError> {
    if let Some(path) = &settings.root_key_file {
        return Ok(FileRootKey::new(path).load()?);
    }
    let env = EnvRootKey::new(EnvRootKey::DEFAULT_VAR);
    if env.is_set() {
        return Ok(env.load()?);
    }
    let default = settings.data_dir.join(ROOT_KEY_FILE);
    if default.exists() {
        return Ok(FileRootKey::new(&default).load()?);
    }
    if !fresh {
        return Err(ServeError::MissingRootKey {
            data_dir: settings.data_dir.clone(),
            root_key: default,
        });
    }
    let key = RootKey::generate().map_err(signet_core::CoreError::from)?;
    key.write_new_file(&default)?;
    tracing::info!(path = %default.display(), "generated a new root key; back it up");
    Ok(key)
}

fn write_admin_token(dir: &Path, token: &NewToken) -> Result<PathBuf, ServeError> {
    use std::io::Write;
    let path = dir.join(ADMIN_TOKEN_FILE);
    let err = |source| ServeError::AdminToken {
        path: path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(err)?;
    file.write_all(token.expose().as_bytes()).map_err(err)?;
    file.write_all(b"\n").map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(path)
}

/// Opens the store and the root key and checks that they belong together. Used by `serve` and
/// by offline admin commands.
pub async fn open_kms(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    create_if_missing: bool,
    jwt_audiences: Vec<String>,
) -> Result<(Arc<Kms>, Option<NewToken>), ServeError> {
    let opened = open(settings, clock, create_if_missing, jwt_audiences).await?;
    Ok((opened.kms, opened.new_admin_token))
}

/// Opens the store only, without the root key, for offline readers (`signet audit`). Refuses
/// a data directory or database that holds no Signet store.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, ServeError> {
    let store: Arc<dyn Store> = match &settings.store {
        StoreLocation::Sqlite => {
            let db_path = settings.data_dir.join(DB_FILE);
            if !db_path.exists() {
                return Err(ServeError::NoStore(settings.data_dir.clone()));
            }
            Arc::new(
                SqliteStore::open(&db_path)
                    .await
                    .map_err(ServeError::Store)?,
            )
        }
        StoreLocation::Postgres(url) => Arc::new(
            crate::store_url::connect_postgres(url, settings.store_timeout)
                .await
                .map_err(ServeError::Store)?,
        ),
    };
    let bootstrapped = store
        .get_meta(signet_core::bootstrap::META_ROOT_KEY_CHECK)
        .await
        .map_err(ServeError::Store)?
        .is_some();
    if !bootstrapped {
        return Err(ServeError::NoStore(settings.data_dir.clone()));
    }
    Ok(store)
}

/// What opening a deployment yields.
struct Opened {
    kms: Arc<Kms>,
    new_admin_token: Option<NewToken>,
    root: Arc<RootKey>,
}

async fn open(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    create_if_missing: bool,
    jwt_audiences: Vec<String>,
) -> Result<Opened, ServeError> {
    let db_path = settings.data_dir.join(DB_FILE);
    let store: Arc<dyn Store> = match &settings.store {
        StoreLocation::Sqlite => {
            let fresh = !db_path.exists();
            if fresh && !create_if_missing {
                return Err(ServeError::NoStore(settings.data_dir.clone()));
            }
            prepare_data_dir(&settings.data_dir)?;
            let root = load_root_key(settings, fresh)?;
            let store = SqliteStore::open(&db_path)
                .await
                .map_err(ServeError::Store)?;
            return finish_open(settings, clock, Arc::new(store), root, jwt_audiences).await;
        }
        StoreLocation::Postgres(url) => Arc::new(
            crate::store_url::connect_postgres(url, settings.store_timeout)
                .await
                .map_err(ServeError::Store)?,
        ),
    };
    // With PostgreSQL the data directory holds only the root key (when it is not given by
    // file or environment); a store that was never bootstrapped counts as fresh.
    let fresh = store
        .get_meta(signet_core::bootstrap::META_ROOT_KEY_CHECK)
        .await
        .map_err(ServeError::Store)?
        .is_none();
    if fresh && !create_if_missing {
        return Err(ServeError::NoStore(settings.data_dir.clone()));
    }
    prepare_data_dir(&settings.data_dir)?;
    let root = load_root_key(settings, fresh)?;
    finish_open(settings, clock, store, root, jwt_audiences).await
}

async fn finish_open(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    root: RootKey,
    jwt_audiences: Vec<String>,
) -> Result<Opened, ServeError> {
    let boot = bootstrap(store.as_ref(), &root).await?;
    if let Some(token) = &boot.new_admin_token {
        write_admin_token(&settings.data_dir, token)?;
    }
    let root = Arc::new(root);
    let kms = Kms::new(
        store,
        clock,
        Arc::clone(&root),
        boot.authenticator,
        KmsSettings {
            deletion_window: settings.deletion_window,
            key_cache_capacity: settings.key_cache_capacity,
            token_lifetime: settings.token_lifetime,
            jwt_audiences,
            cache_max_age: settings.cache_max_age,
            cache_outage_grace: settings.cache_outage_grace,
            max_keys_per_folder: settings.max_keys_per_folder,
            ..KmsSettings::default()
        },
    );
    Ok(Opened {
        kms,
        new_admin_token: boot.new_admin_token,
        root,
    })
}

/// The JWT audiences accepted: Yandex's canonical one, and the one the Python SDK derives from
/// the endpoint it was given, for the advertised address and, on loopback, for `localhost` and
/// `127.0.0.1` with the same port.
fn jwt_audiences(advertised: &str, local: SocketAddr) -> Vec<String> {
    let mut out = vec![
        signet_core::CANONICAL_JWT_AUDIENCE.to_owned(),
        signet_core::endpoint_jwt_audience(advertised),
    ];
    if local.ip().is_loopback() {
        for host in ["localhost", "127.0.0.1"] {
            out.push(signet_core::endpoint_jwt_audience(&format!(
                "{host}:{}",
                local.port()
            )));
        }
    }
    out.dedup();
    out
}

fn read_pem(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::Tls {
        path: path.to_owned(),
        source,
    })
}

/// The gRPC services the health service reports as serving.
const SERVED: &[&str] = &[
    "",
    "yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureKeyService",
    "yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService",
    "yandex.cloud.operation.OperationService",
    "yandex.cloud.endpoint.ApiEndpointService",
    "yandex.cloud.iam.v1.IamTokenService",
    "yandex.cloud.iam.v1.ServiceAccountService",
    "yandex.cloud.iam.v1.KeyService",
    "yandex.cloud.resourcemanager.v1.FolderService",
    "signet.audit.v1.AuditTrailService",
];

/// Starts the server and its background jobs; returns once it is listening.
pub async fn start(settings: Settings, clock: Arc<dyn Clock>) -> Result<Running, ServeError> {
    if settings.tls.is_none() && !settings.listen.ip().is_loopback() {
        if settings.insecure_plaintext {
            tracing::warn!(addr = %settings.listen, "serving plaintext gRPC on a non-loopback address");
        } else {
            return Err(ServeError::PlaintextNotLoopback(settings.listen));
        }
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: settings.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: settings.listen,
        source,
    })?;
    // `{port}` in the advertised address stands for the bound port (useful with port 0).
    let advertised = settings
        .advertise
        .as_ref()
        .map(|a| a.replace("{port}", &local_addr.port().to_string()))
        .unwrap_or_else(|| local_addr.to_string());

    let Opened {
        kms,
        new_admin_token,
        root,
    } = open(
        &settings,
        Arc::clone(&clock),
        true,
        jwt_audiences(&advertised, local_addr),
    )
    .await?;
    let limits = crate::limits::LimitsLayer::new(&settings.limits, Arc::clone(&clock));
    let (trail, audit_writer) = if settings.audit.mode == AuditMode::Off {
        tracing::warn!("the audit trail is off: calls are not recorded");
        (AuditTrail::off(clock), AuditWriter::none())
    } else {
        let key = CheckpointKey::load_or_create(kms.store().as_ref(), &root).await?;
        AuditTrail::start(Arc::clone(kms.store()), clock, key, settings.audit.clone())
    };
    drop(root);
    let resumed = kms.recover_pending_operations().await?;
    if resumed > 0 {
        tracing::info!(resumed, "resuming operations interrupted by the last stop");
    }

    let mut jobs = crate::jobs::spawn(&kms, settings.destroy_interval);
    jobs.extend(kms.follow_store_changes().await?);

    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &settings.tls {
        let identity =
            tonic::transport::Identity::from_pem(read_pem(&tls.cert)?, read_pem(&tls.key)?);
        let mut config = tonic::transport::ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &tls.client_ca {
            config = config
                .client_ca_root(tonic::transport::Certificate::from_pem(read_pem(ca)?))
                .client_auth_optional(false);
        }
        builder = builder.tls_config(config)?;
    }
    let metrics = Arc::new(crate::metrics::Metrics::new());
    metrics.watch_audit(trail.clone());
    let rest = crate::rest::RestLayer::new(Arc::clone(&kms), trail.clone(), Arc::clone(&metrics))?;
    let (health, health_service) = tonic_health::server::health_reporter();
    for service in SERVED {
        health
            .set_service_status(*service, tonic_health::ServingStatus::Serving)
            .await;
    }
    // Reflection describes every served service, the health and reflection ones included.
    let reflected = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(signet_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflected().build_v1()?;
    let reflection_alpha = reflected().build_v1alpha()?;
    let (tx, rx) = oneshot::channel::<()>();
    // REST requests arrive over HTTP/1.1 too; gRPC ones are HTTP/2 by their nature.
    // Outermost first: the REST gateway (which forwards into the layers below), the call layer
    // (ids, audit, metrics), then the limits, so that a shed call is still recorded.
    let router = builder
        .accept_http1(true)
        .timeout(settings.request_timeout)
        .layer(rest)
        .layer(CallLayer::new(trail).with_metrics(metrics))
        .layer(limits)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(
            AsymmetricSignatureKeyServiceServer::new(KeyService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            AsymmetricSignatureCryptoServiceServer::new(CryptoService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            OperationServiceServer::new(OperationService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            ApiEndpointServiceServer::new(ApiEndpointService::new(advertised.clone()))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            IamTokenServiceServer::new(IamTokenService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            ServiceAccountServiceServer::new(ServiceAccountService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            IamKeyServiceServer::new(AuthorizedKeyService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            FolderServiceServer::new(FolderService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            AuditTrailServiceServer::new(AuditTrailService::new(Arc::clone(&kms)))
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        );
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = rx.await;
            })
            .await
    });
    let transport = if settings.tls.is_some() {
        "TLS"
    } else {
        "plaintext"
    };
    tracing::info!(addr = %local_addr, advertised = %advertised, transport, data_dir = %settings.data_dir.display(), "signet is listening");
    Ok(Running {
        local_addr,
        kms,
        data_dir: settings.data_dir,
        new_admin_token,
        shutdown: Some(tx),
        server,
        jobs,
        audit_writer,
    })
}
