//! Configuration: a TOML file (raw, `deny_unknown_fields`), overridden by `SIGNET_*`
//! environment variables, overridden by command-line flags, turned once into validated
//! [`Settings`]. `config/signet.example.toml` documents every key.

use crate::limits::{LimitSettings, RateLimit};
use serde::Deserialize;
use signet_core::audit::{AuditMode, AuditSettings};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration file as written. Every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub root_key_file: Option<PathBuf>,
    pub insecure_plaintext: Option<bool>,
    pub deletion_window: Option<String>,
    pub destroy_interval: Option<String>,
    pub key_cache_capacity: Option<usize>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub advertise: Option<String>,
    pub token_lifetime: Option<String>,
    pub store: Option<String>,
    pub cache_max_age: Option<String>,
    pub cache_outage_grace: Option<String>,
    pub store_timeout: Option<String>,
    pub audit: Option<String>,
    pub audit_checkpoint_records: Option<u64>,
    pub audit_checkpoint_interval: Option<String>,
    pub max_keys_per_folder: Option<u32>,
    pub max_concurrent_requests: Option<u32>,
    pub max_requests_per_client: Option<u32>,
    pub rate_limit: Option<u32>,
    pub rate_limit_burst: Option<u32>,
    pub token_exchange_rate: Option<u32>,
    pub token_exchange_burst: Option<u32>,
    pub request_timeout: Option<String>,
}

/// Values given on the command line; they win over everything else.
pub type Overrides = FileConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated settings for one server process.
#[derive(Clone, Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Root key file; `None` means `SIGNET_ROOT_KEY` if set, else `<data_dir>/root.key`.
    pub root_key_file: Option<PathBuf>,
    /// Serve plaintext on a non-loopback address (with a warning). Without it Signet refuses.
    pub insecure_plaintext: bool,
    pub deletion_window: Duration,
    pub destroy_interval: Duration,
    pub key_cache_capacity: usize,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Certificate chain and private key (PEM) to serve TLS; both or neither.
    pub tls: Option<TlsFiles>,
    /// `host:port` announced by endpoint discovery; defaults to the bound listen address.
    pub advertise: Option<String>,
    /// Lifetime of IAM tokens (at most 12 h).
    pub token_lifetime: Duration,
    /// Where state lives: the embedded SQLite database in the data directory, or PostgreSQL.
    pub store: StoreLocation,
    /// How long cached keys, bindings and tokens are trusted (see `KmsSettings`). Default: no
    /// limit with SQLite (one node), 500 ms with PostgreSQL (the cluster consistency bound).
    pub cache_max_age: Option<Duration>,
    /// How much longer than `cache_max_age` cached entries may be used while the store cannot be
    /// reached. Default: 500 ms with PostgreSQL (so that, with the default `cache_max_age`,
    /// nothing is used longer than the 1 s consistency bound), zero with SQLite.
    pub cache_outage_grace: Duration,
    /// How long a call waits for a PostgreSQL connection (a free one from the pool, or a new
    /// one while the database is unreachable) before it fails with UNAVAILABLE. Default 5 s.
    pub store_timeout: Duration,
    /// The audit trail: which calls are recorded, and how often checkpoints are signed.
    pub audit: AuditSettings,
    /// Quota: asymmetric signature keys (not deleted) per folder. Default 100, as in Yandex.
    pub max_keys_per_folder: u32,
    /// Requests in flight and per-subject call rate (see `limits`).
    pub limits: LimitSettings,
    /// How long a call may take, from its first byte to its answer (default 60 s); a client's
    /// shorter `grpc-timeout` wins.
    pub request_timeout: Duration,
}

/// The store a server uses.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `<data_dir>/signet.db` (the default).
    Sqlite,
    /// A `postgres://` URL (it may carry a password; never printed).
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite => f.write_str("Sqlite"),
            StoreLocation::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

/// TLS material, by path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// If set, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{setting}: {message}")]
    Invalid { setting: String, message: String },
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_DATA_DIR: &str = "./signet-data";

impl Settings {
    /// Defaults < file < environment < flags.
    pub fn resolve(
        config_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: Overrides,
    ) -> Result<Settings, ConfigError> {
        let file = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };
        let from_env = FileConfig {
            data_dir: env("SIGNET_DATA_DIR").map(PathBuf::from),
            listen: env("SIGNET_LISTEN"),
            root_key_file: env("SIGNET_ROOT_KEY_FILE").map(PathBuf::from),
            insecure_plaintext: env("SIGNET_INSECURE_PLAINTEXT")
                .map(|v| parse_bool("SIGNET_INSECURE_PLAINTEXT", &v))
                .transpose()?,
            deletion_window: env("SIGNET_DELETION_WINDOW"),
            destroy_interval: env("SIGNET_DESTROY_INTERVAL"),
            key_cache_capacity: env("SIGNET_KEY_CACHE_CAPACITY")
                .map(|v| {
                    v.parse()
                        .map_err(|_| invalid("SIGNET_KEY_CACHE_CAPACITY", "not a number"))
                })
                .transpose()?,
            log_format: env("SIGNET_LOG_FORMAT"),
            log_level: env("SIGNET_LOG_LEVEL"),
            tls_cert: env("SIGNET_TLS_CERT").map(PathBuf::from),
            tls_key: env("SIGNET_TLS_KEY").map(PathBuf::from),
            tls_client_ca: env("SIGNET_TLS_CLIENT_CA").map(PathBuf::from),
            advertise: env("SIGNET_ADVERTISE"),
            token_lifetime: env("SIGNET_TOKEN_LIFETIME"),
            store: env("SIGNET_STORE"),
            cache_max_age: env("SIGNET_CACHE_MAX_AGE"),
            cache_outage_grace: env("SIGNET_CACHE_OUTAGE_GRACE"),
            store_timeout: env("SIGNET_STORE_TIMEOUT"),
            audit: env("SIGNET_AUDIT"),
            audit_checkpoint_records: env("SIGNET_AUDIT_CHECKPOINT_RECORDS")
                .map(|v| {
                    v.parse()
                        .map_err(|_| invalid("SIGNET_AUDIT_CHECKPOINT_RECORDS", "not a number"))
                })
                .transpose()?,
            audit_checkpoint_interval: env("SIGNET_AUDIT_CHECKPOINT_INTERVAL"),
            max_keys_per_folder: number(&env, "SIGNET_MAX_KEYS_PER_FOLDER")?,
            max_concurrent_requests: number(&env, "SIGNET_MAX_CONCURRENT_REQUESTS")?,
            max_requests_per_client: number(&env, "SIGNET_MAX_REQUESTS_PER_CLIENT")?,
            rate_limit: number(&env, "SIGNET_RATE_LIMIT")?,
            rate_limit_burst: number(&env, "SIGNET_RATE_LIMIT_BURST")?,
            token_exchange_rate: number(&env, "SIGNET_TOKEN_EXCHANGE_RATE")?,
            token_exchange_burst: number(&env, "SIGNET_TOKEN_EXCHANGE_BURST")?,
            request_timeout: env("SIGNET_REQUEST_TIMEOUT"),
        };
        let merged = merge(merge(file, from_env), flags);
        let limits = limit_settings(&merged)?;
        let request_timeout = duration("request_timeout", merged.request_timeout.clone(), "60s")?;
        if request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be longer than zero"));
        }

        let listen_text = merged.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .to_socket_addrs()
            .map_err(|e| invalid("listen", &format!("{listen_text:?} is not HOST:PORT ({e})")))?
            .next()
            .ok_or_else(|| invalid("listen", &format!("{listen_text:?} resolves to nothing")))?;
        let tls = match (merged.tls_cert, merged.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                client_ca: merged.tls_client_ca,
            }),
            (None, None) if merged.tls_client_ca.is_some() => {
                return Err(invalid("tls_client_ca", "needs tls_cert and tls_key"));
            }
            (None, None) => None,
            _ => return Err(invalid("tls_cert", "tls_cert and tls_key go together")),
        };
        let token_lifetime = duration("token_lifetime", merged.token_lifetime, "12h")?;
        if token_lifetime > Duration::from_secs(12 * 3600) || token_lifetime.is_zero() {
            return Err(invalid("token_lifetime", "must be between 1s and 12h"));
        }
        let store = match merged.store.as_deref() {
            None | Some("") | Some("sqlite") => StoreLocation::Sqlite,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreLocation::Postgres(url.to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "store",
                    "must be \"sqlite\" (the default) or a postgres:// URL",
                ));
            }
        };
        let cache_max_age = match merged.cache_max_age.as_deref() {
            Some("none") => None,
            Some(text) => Some(duration("cache_max_age", Some(text.to_owned()), "500ms")?),
            None => match store {
                StoreLocation::Sqlite => None,
                StoreLocation::Postgres(_) => Some(Duration::from_millis(500)),
            },
        };
        let cache_outage_grace = duration(
            "cache_outage_grace",
            merged.cache_outage_grace,
            match store {
                StoreLocation::Sqlite => "0s",
                StoreLocation::Postgres(_) => "500ms",
            },
        )?;
        let store_timeout = duration("store_timeout", merged.store_timeout, "5s")?;
        if store_timeout.is_zero() {
            return Err(invalid("store_timeout", "must be longer than zero"));
        }
        let audit = AuditSettings {
            mode: match merged.audit.as_deref() {
                None | Some("") => AuditMode::All,
                Some(text) => AuditMode::parse(text).ok_or_else(|| {
                    invalid(
                        "audit",
                        "must be \"all\" (the default), \"control-plane\" or \"off\"",
                    )
                })?,
            },
            checkpoint_every: merged.audit_checkpoint_records.unwrap_or(1000),
            checkpoint_interval: duration(
                "audit_checkpoint_interval",
                merged.audit_checkpoint_interval,
                "1m",
            )?,
            ..AuditSettings::default()
        };
        if audit.checkpoint_every == 0 {
            return Err(invalid("audit_checkpoint_records", "must be at least 1"));
        }
        if audit.checkpoint_interval.is_zero() {
            return Err(invalid(
                "audit_checkpoint_interval",
                "must be longer than zero",
            ));
        }
        let key_cache_capacity = merged.key_cache_capacity.unwrap_or(100_000);
        if key_cache_capacity == 0 {
            return Err(invalid("key_cache_capacity", "must be at least 1"));
        }
        let max_keys_per_folder = merged
            .max_keys_per_folder
            .unwrap_or(signet_core::DEFAULT_MAX_KEYS_PER_FOLDER);
        if max_keys_per_folder == 0 {
            return Err(invalid("max_keys_per_folder", "must be at least 1"));
        }

        Ok(Settings {
            data_dir: merged
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            root_key_file: merged.root_key_file,
            insecure_plaintext: merged.insecure_plaintext.unwrap_or(false),
            deletion_window: duration("deletion_window", merged.deletion_window, "72h")?,
            destroy_interval: duration("destroy_interval", merged.destroy_interval, "1m")?,
            key_cache_capacity,
            log_format: match merged.log_format.as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(invalid(
                        "log_format",
                        &format!("{other:?} is not text or json"),
                    ));
                }
            },
            log_level: merged.log_level.unwrap_or_else(|| "info".into()),
            tls,
            advertise: merged.advertise,
            token_lifetime,
            store,
            cache_max_age,
            cache_outage_grace,
            store_timeout,
            audit,
            max_keys_per_folder,
            limits,
            request_timeout,
        })
    }
}

fn merge(low: FileConfig, high: FileConfig) -> FileConfig {
    FileConfig {
        data_dir: high.data_dir.or(low.data_dir),
        listen: high.listen.or(low.listen),
        root_key_file: high.root_key_file.or(low.root_key_file),
        insecure_plaintext: high.insecure_plaintext.or(low.insecure_plaintext),
        deletion_window: high.deletion_window.or(low.deletion_window),
        destroy_interval: high.destroy_interval.or(low.destroy_interval),
        key_cache_capacity: high.key_cache_capacity.or(low.key_cache_capacity),
        log_format: high.log_format.or(low.log_format),
        log_level: high.log_level.or(low.log_level),
        tls_cert: high.tls_cert.or(low.tls_cert),
        tls_key: high.tls_key.or(low.tls_key),
        tls_client_ca: high.tls_client_ca.or(low.tls_client_ca),
        advertise: high.advertise.or(low.advertise),
        token_lifetime: high.token_lifetime.or(low.token_lifetime),
        store: high.store.or(low.store),
        cache_max_age: high.cache_max_age.or(low.cache_max_age),
        cache_outage_grace: high.cache_outage_grace.or(low.cache_outage_grace),
        store_timeout: high.store_timeout.or(low.store_timeout),
        audit: high.audit.or(low.audit),
        audit_checkpoint_records: high
            .audit_checkpoint_records
            .or(low.audit_checkpoint_records),
        audit_checkpoint_interval: high
            .audit_checkpoint_interval
            .or(low.audit_checkpoint_interval),
        max_keys_per_folder: high.max_keys_per_folder.or(low.max_keys_per_folder),
        max_concurrent_requests: high.max_concurrent_requests.or(low.max_concurrent_requests),
        max_requests_per_client: high.max_requests_per_client.or(low.max_requests_per_client),
        rate_limit: high.rate_limit.or(low.rate_limit),
        rate_limit_burst: high.rate_limit_burst.or(low.rate_limit_burst),
        token_exchange_rate: high.token_exchange_rate.or(low.token_exchange_rate),
        token_exchange_burst: high.token_exchange_burst.or(low.token_exchange_burst),
        request_timeout: high.request_timeout.or(low.request_timeout),
    }
}

/// A numeric environment variable, if set.
fn number<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, ConfigError> {
    env(name)
        .map(|v| v.parse().map_err(|_| invalid(name, "not a number")))
        .transpose()
}

fn limit_settings(merged: &FileConfig) -> Result<LimitSettings, ConfigError> {
    let max_concurrent_requests = merged
        .max_concurrent_requests
        .unwrap_or(crate::limits::DEFAULT_MAX_CONCURRENT_REQUESTS);
    if max_concurrent_requests == 0 {
        return Err(invalid("max_concurrent_requests", "must be at least 1"));
    }
    let rate_limit = match (merged.rate_limit.unwrap_or(0), merged.rate_limit_burst) {
        (0, None) => None,
        (0, Some(_)) => {
            return Err(invalid(
                "rate_limit_burst",
                "needs rate_limit (calls per second per subject)",
            ));
        }
        (_, Some(0)) => return Err(invalid("rate_limit_burst", "must be at least 1")),
        (per_second, burst) => Some(RateLimit {
            per_second,
            burst: burst.unwrap_or(per_second),
        }),
    };
    let max_requests_per_client = match merged
        .max_requests_per_client
        .unwrap_or(crate::limits::DEFAULT_MAX_REQUESTS_PER_CLIENT)
    {
        0 => None,
        n => Some(n),
    };
    let default_exchange = crate::limits::DEFAULT_TOKEN_EXCHANGE_RATE;
    let token_exchange_rate = match (merged.token_exchange_rate, merged.token_exchange_burst) {
        (Some(0), None) => None,
        (Some(0), Some(_)) => {
            return Err(invalid(
                "token_exchange_burst",
                "needs token_exchange_rate (exchanges per second per client address)",
            ));
        }
        (_, Some(0)) => return Err(invalid("token_exchange_burst", "must be at least 1")),
        (None, burst) => Some(RateLimit {
            per_second: default_exchange.per_second,
            burst: burst.unwrap_or(default_exchange.burst),
        }),
        (Some(per_second), burst) => Some(RateLimit {
            per_second,
            burst: burst.unwrap_or(per_second.saturating_mul(2)),
        }),
    };
    Ok(LimitSettings {
        max_concurrent_requests,
        max_requests_per_client,
        rate_limit,
        token_exchange_rate,
    })
}

fn invalid(setting: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.into(),
        message: message.into(),
    }
}

fn parse_bool(setting: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(setting, "must be true or false")),
    }
}

fn duration(setting: &str, value: Option<String>, default: &str) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or_else(|| default.to_owned());
    humantime::parse_duration(&text).map_err(|e| {
        invalid(
            setting,
            &format!("{text:?} is not a duration like 72h or 30s ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn precedence_defaults_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signet.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\nlisten = \"127.0.0.1:1000\"\ndeletion_window = \"1h\"\nkey_cache_capacity = 5\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = HashMap::from([
            ("SIGNET_LISTEN", "127.0.0.1:2000"),
            ("SIGNET_DELETION_WINDOW", "2h"),
        ]);
        let flags = Overrides {
            deletion_window: Some("3h".into()),
            ..Default::default()
        };
        let s =
            Settings::resolve(Some(&path), |k| env.get(k).map(|v| v.to_string()), flags).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from/file"));
        assert_eq!(s.listen.port(), 2000);
        assert_eq!(s.deletion_window, Duration::from_secs(3 * 3600));
        assert_eq!(s.key_cache_capacity, 5);

        let d = Settings::resolve(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(d.deletion_window, Duration::from_secs(72 * 3600));
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(matches!(
            Settings::resolve(Some(&path), |_| None, Overrides::default()),
            Err(ConfigError::Parse { .. })
        ));
        let flags = Overrides {
            deletion_window: Some("soon".into()),
            ..Default::default()
        };
        assert!(Settings::resolve(None, |_| None, flags).is_err());
    }

    #[test]
    fn audit_modes_and_checkpoints() {
        let d = Settings::resolve(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(d.audit.mode, AuditMode::All);
        assert_eq!(d.audit.checkpoint_every, 1000);
        assert_eq!(d.audit.checkpoint_interval, Duration::from_secs(60));
        for (text, mode) in [
            ("all", AuditMode::All),
            ("control-plane", AuditMode::ControlPlane),
            ("off", AuditMode::Off),
        ] {
            let env = |k: &str| (k == "SIGNET_AUDIT").then(|| text.to_owned());
            let s = Settings::resolve(None, env, Overrides::default()).unwrap();
            assert_eq!(s.audit.mode, mode);
        }
        // Flags win over the environment.
        let flags = Overrides {
            audit: Some("off".into()),
            ..Default::default()
        };
        let env = |k: &str| (k == "SIGNET_AUDIT").then(|| "all".to_owned());
        assert_eq!(
            Settings::resolve(None, env, flags).unwrap().audit.mode,
            AuditMode::Off
        );
        for bad in [
            ("SIGNET_AUDIT", "none"),
            ("SIGNET_AUDIT", "ALL"),
            ("SIGNET_AUDIT_CHECKPOINT_RECORDS", "0"),
            ("SIGNET_AUDIT_CHECKPOINT_RECORDS", "many"),
            ("SIGNET_AUDIT_CHECKPOINT_INTERVAL", "0s"),
        ] {
            let env = |k: &str| (k == bad.0).then(|| bad.1.to_owned());
            assert!(
                Settings::resolve(None, env, Overrides::default()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cache_ages_and_the_store_timeout_default_and_can_be_set() {
        let sqlite = Settings::resolve(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(sqlite.cache_max_age, None);
        assert_eq!(sqlite.cache_outage_grace, Duration::ZERO);
        let pg = |env: &'static [(&'static str, &'static str)]| {
            Settings::resolve(
                None,
                |k| {
                    env.iter()
                        .find(|(name, _)| *name == k)
                        .map(|(_, v)| (*v).to_owned())
                },
                Overrides {
                    store: Some("postgres://db/signet".into()),
                    ..Overrides::default()
                },
            )
        };
        let d = pg(&[]).unwrap();
        assert_eq!(d.cache_max_age, Some(Duration::from_millis(500)));
        assert_eq!(d.cache_outage_grace, Duration::from_millis(500));
        let set = pg(&[
            ("SIGNET_CACHE_MAX_AGE", "30s"),
            ("SIGNET_CACHE_OUTAGE_GRACE", "1m"),
        ])
        .unwrap();
        assert_eq!(set.cache_max_age, Some(Duration::from_secs(30)));
        assert_eq!(set.cache_outage_grace, Duration::from_secs(60));
        assert!(pg(&[("SIGNET_CACHE_OUTAGE_GRACE", "soon")]).is_err());
        assert_eq!(d.store_timeout, Duration::from_secs(5));
        assert_eq!(
            pg(&[("SIGNET_STORE_TIMEOUT", "1s")]).unwrap().store_timeout,
            Duration::from_secs(1)
        );
        assert!(pg(&[("SIGNET_STORE_TIMEOUT", "0s")]).is_err());
    }

    #[test]
    fn max_keys_per_folder_from_file_env_and_flags() {
        let d = Settings::resolve(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(d.max_keys_per_folder, 100, "Yandex's default quota");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signet.toml");
        std::fs::write(&path, "max_keys_per_folder = 5\n").unwrap();
        let s = Settings::resolve(Some(&path), |_| None, Overrides::default()).unwrap();
        assert_eq!(s.max_keys_per_folder, 5);
        let env = |k: &str| (k == "SIGNET_MAX_KEYS_PER_FOLDER").then(|| "7".to_owned());
        let s = Settings::resolve(Some(&path), env, Overrides::default()).unwrap();
        assert_eq!(s.max_keys_per_folder, 7);
        let flags = Overrides {
            max_keys_per_folder: Some(9),
            ..Default::default()
        };
        assert_eq!(
            Settings::resolve(Some(&path), env, flags)
                .unwrap()
                .max_keys_per_folder,
            9
        );
        for bad in ["0", "-1", "many", "4294967296"] {
            let env = |k: &str| (k == "SIGNET_MAX_KEYS_PER_FOLDER").then(|| bad.to_owned());
            assert!(
                Settings::resolve(None, env, Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits_from_file_env_and_flags() {
        let d = Settings::resolve(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(d.limits, LimitSettings::default());
        assert_eq!(d.limits.max_concurrent_requests, 1024);
        assert_eq!(d.limits.rate_limit, None, "no rate limit unless asked for");
        assert_eq!(d.request_timeout, Duration::from_secs(60));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signet.toml");
        std::fs::write(
            &path,
            "max_concurrent_requests = 8\nrate_limit = 50\nrequest_timeout = \"5s\"\n",
        )
        .unwrap();
        let s = Settings::resolve(Some(&path), |_| None, Overrides::default()).unwrap();
        assert_eq!(s.limits.max_concurrent_requests, 8);
        assert_eq!(
            s.limits.rate_limit,
            Some(RateLimit {
                per_second: 50,
                burst: 50
            }),
            "the burst defaults to one second's worth"
        );
        assert_eq!(s.request_timeout, Duration::from_secs(5));
        let env = |k: &str| match k {
            "SIGNET_RATE_LIMIT_BURST" => Some("200".to_owned()),
            "SIGNET_MAX_CONCURRENT_REQUESTS" => Some("16".to_owned()),
            _ => None,
        };
        let flags = Overrides {
            rate_limit: Some(70),
            ..Default::default()
        };
        let s = Settings::resolve(Some(&path), env, flags).unwrap();
        assert_eq!(s.limits.max_concurrent_requests, 16);
        assert_eq!(
            s.limits.rate_limit,
            Some(RateLimit {
                per_second: 70,
                burst: 200
            })
        );
        for bad in [
            ("SIGNET_MAX_CONCURRENT_REQUESTS", "0"),
            ("SIGNET_MAX_CONCURRENT_REQUESTS", "lots"),
            ("SIGNET_RATE_LIMIT", "-5"),
            ("SIGNET_RATE_LIMIT_BURST", "10"),
            ("SIGNET_REQUEST_TIMEOUT", "0s"),
            ("SIGNET_REQUEST_TIMEOUT", "soon"),
        ] {
            let env = |k: &str| (k == bad.0).then(|| bad.1.to_owned());
            assert!(
                Settings::resolve(None, env, Overrides::default()).is_err(),
                "{bad:?}"
            );
        }
        let env = |k: &str| match k {
            "SIGNET_RATE_LIMIT" => Some("5".to_owned()),
            "SIGNET_RATE_LIMIT_BURST" => Some("0".to_owned()),
            _ => None,
        };
        assert!(Settings::resolve(None, env, Overrides::default()).is_err());
    }

    #[test]
    fn per_client_limits_from_file_env_and_flags() {
        let d = Settings::resolve(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(d.limits.max_requests_per_client, Some(256));
        assert_eq!(
            d.limits.token_exchange_rate,
            Some(RateLimit {
                per_second: 20,
                burst: 40
            })
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signet.toml");
        std::fs::write(
            &path,
            "max_requests_per_client = 4\ntoken_exchange_rate = 5\n",
        )
        .unwrap();
        let s = Settings::resolve(Some(&path), |_| None, Overrides::default()).unwrap();
        assert_eq!(s.limits.max_requests_per_client, Some(4));
        assert_eq!(
            s.limits.token_exchange_rate,
            Some(RateLimit {
                per_second: 5,
                burst: 10
            }),
            "the burst defaults to two seconds' worth"
        );
        let env = |k: &str| match k {
            "SIGNET_MAX_REQUESTS_PER_CLIENT" => Some("0".to_owned()),
            "SIGNET_TOKEN_EXCHANGE_BURST" => Some("7".to_owned()),
            _ => None,
        };
        let s = Settings::resolve(Some(&path), env, Overrides::default()).unwrap();
        assert_eq!(s.limits.max_requests_per_client, None, "0 is off");
        assert_eq!(
            s.limits.token_exchange_rate,
            Some(RateLimit {
                per_second: 5,
                burst: 7
            })
        );
        let flags = Overrides {
            token_exchange_rate: Some(0),
            ..Default::default()
        };
        let s = Settings::resolve(None, |_| None, flags).unwrap();
        assert_eq!(s.limits.token_exchange_rate, None, "0 is off");
        for bad in [
            ("SIGNET_MAX_REQUESTS_PER_CLIENT", "-1"),
            ("SIGNET_TOKEN_EXCHANGE_RATE", "fast"),
            ("SIGNET_TOKEN_EXCHANGE_BURST", "0"),
        ] {
            let env = |k: &str| (k == bad.0).then(|| bad.1.to_owned());
            assert!(
                Settings::resolve(None, env, Overrides::default()).is_err(),
                "{bad:?}"
            );
        }
        let flags = Overrides {
            token_exchange_rate: Some(0),
            token_exchange_burst: Some(3),
            ..Default::default()
        };
        assert!(Settings::resolve(None, |_| None, flags).is_err());
    }

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/signet.example.toml");
        Settings::resolve(Some(&path), |_| None, Overrides::default()).unwrap();
    }
}
