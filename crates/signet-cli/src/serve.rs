//! `signet serve` and the offline `signet admin` commands.

use clap::Args;
use signet_core::domain::{KeyId, SystemClock};
use signet_server::{LogFormat, Overrides, Settings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `signet serve` (and the data-directory flags of `signet admin`). Each overrides the
/// config file and the matching `SIGNET_*` variable.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// TOML config file (see config/signet.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./signet-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Root key file (32 raw bytes or base64, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// Allow plaintext gRPC on a non-loopback address.
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// How long deleted keys stay restorable, e.g. 72h.
    #[arg(long, value_name = "DURATION")]
    pub deletion_window: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or signet_server=debug.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Store: "sqlite" (the default, in the data directory) or a postgres:// URL.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// HOST:PORT announced by endpoint discovery [default: the listen address].
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// Quota: asymmetric signature keys per folder [default: 100].
    #[arg(long, value_name = "N")]
    pub max_keys_per_folder: Option<u32>,
    /// Requests in flight at once; more are refused with RESOURCE_EXHAUSTED [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_concurrent_requests: Option<u32>,
    /// Requests in flight at once from one client IP address; 0 is no limit [default: 256].
    #[arg(long, value_name = "N")]
    pub max_requests_per_client: Option<u32>,
    /// Calls per second per authenticated subject; 0 is no limit [default: 0].
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// Calls a subject may save up for a burst [default: the rate limit].
    #[arg(long, value_name = "N")]
    pub rate_limit_burst: Option<u32>,
    /// IAM token exchanges (JWT for token) per second per client IP address; 0 is no limit
    /// [default: 20].
    #[arg(long, value_name = "N")]
    pub token_exchange_rate: Option<u32>,
    /// Token exchanges a client address may save up for a burst [default: twice the rate].
    #[arg(long, value_name = "N")]
    pub token_exchange_burst: Option<u32>,
    /// How long a call may take, e.g. 60s [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub request_timeout: Option<String>,
}

impl ServeArgs {
    pub(crate) fn settings(&self) -> Result<Settings, signet_server::config::ConfigError> {
        let flags = Overrides {
            data_dir: self.data_dir.clone(),
            listen: self.listen.clone(),
            root_key_file: self.root_key_file.clone(),
            insecure_plaintext: self.insecure_plaintext.then_some(true),
            deletion_window: self.deletion_window.clone(),
            log_format: self.log_format.clone(),
            log_level: self.log_level.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_client_ca: self.tls_client_ca.clone(),
            advertise: self.advertise.clone(),
            store: self.store.clone(),
            max_keys_per_folder: self.max_keys_per_folder,
            max_concurrent_requests: self.max_concurrent_requests,
            max_requests_per_client: self.max_requests_per_client,
            rate_limit: self.rate_limit,
            rate_limit_burst: self.rate_limit_burst,
            token_exchange_rate: self.token_exchange_rate,
            token_exchange_burst: self.token_exchange_burst,
            request_timeout: self.request_timeout.clone(),
            ..Overrides::default()
        };
        Settings::resolve(self.config.as_deref(), |k| std::env::var(k).ok(), flags)
    }
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Prints an error and its causes.
pub fn report(error: &dyn std::error::Error) {
    eprintln!("ERROR: {error}");
    let mut source = error.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
}

pub async fn serve(args: ServeArgs) -> ExitCode {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            report(&e);
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    for problem in signet_server::hardening::disable_core_dumps() {
        tracing::warn!(%problem, "could not disable core dumps");
    }
    // Handlers first: a SIGTERM that comes as soon as the server says it is listening (or
    // during start) must shut it down cleanly, not kill it with the default action.
    let shutdown = ShutdownSignal::install();
    let running = match signet_server::start(settings, Arc::new(SystemClock)).await {
        Ok(r) => r,
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };
    if let Some(token) = &running.new_admin_token {
        // Shown once, on the start that created it; the file keeps it for later.
        println!(
            "Initialized {}. Admin token (saved to {}):\n{}",
            running.data_dir.display(),
            running
                .data_dir
                .join(signet_server::app::ADMIN_TOKEN_FILE)
                .display(),
            token.expose()
        );
    }
    println!("signet listening on {}", running.local_addr);
    shutdown.received().await;
    tracing::info!("shutting down");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM or SIGINT (Ctrl-C), listened for from [`ShutdownSignal::install`] on.
struct ShutdownSignal {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignal {
    /// Replaces the default actions of SIGTERM and SIGINT (ending the process at once) now.
    fn install() -> ShutdownSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(error = %e, "could not listen for SIGTERM/SIGINT; waiting for Ctrl-C only");
                    None
                }
            };
            ShutdownSignal { streams }
        }
        #[cfg(not(unix))]
        {
            ShutdownSignal {}
        }
    }

    async fn received(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `signet admin restore-key ID`: undo a deletion within the deletion window. Runs against the
/// data directory directly and needs the root key, like the server.
pub async fn restore_key(args: ServeArgs, key_id: String) -> ExitCode {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            report(&e);
            return ExitCode::from(2);
        }
    };
    let id = match KeyId::parse("KEY_ID", &key_id) {
        Ok(id) => id,
        Err(e) => {
            report(&e);
            return ExitCode::from(2);
        }
    };
    let kms =
        match signet_server::open_kms(&settings, Arc::new(SystemClock), false, Vec::new()).await {
            Ok((kms, _)) => kms,
            Err(e) => {
                report(&e);
                return ExitCode::FAILURE;
            }
        };
    let admin = kms.local_admin();
    match kms.restore_key(&admin, &id).await {
        Ok(view) => {
            println!("restored key {} (status {:?})", view.id, view.status);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ERROR: {}", e.client_message());
            ExitCode::FAILURE
        }
    }
}
