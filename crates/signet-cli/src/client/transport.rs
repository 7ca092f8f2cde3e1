//! The connection: endpoint parsing, TLS or (loopback-only) plaintext, and the bearer token.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_crypto_service_client::AsymmetricSignatureCryptoServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
use signet_proto::yandex::cloud::iam::v1::iam_token_service_client::IamTokenServiceClient;
use signet_proto::yandex::cloud::iam::v1::key_service_client::KeyServiceClient;
use signet_proto::yandex::cloud::iam::v1::service_account_service_client::ServiceAccountServiceClient;
use signet_proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use signet_proto::yandex::cloud::resourcemanager::v1::folder_service_client::FolderServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::args::{DEFAULT_TOKEN_FILE, GlobalArgs, Token};
use super::error::ClientError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `--endpoint`, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    /// `host:port` as given (IPv6 in brackets), for the URI.
    pub authority: String,
}

/// Parses `HOST:PORT`, `IPV4:PORT` or `[IPV6]:PORT`.
pub fn parse_endpoint(endpoint: &str) -> Result<Target, ClientError> {
    let invalid = |reason| ClientError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    if endpoint.contains("://") {
        return Err(invalid("give HOST:PORT, without a scheme"));
    }
    let (host, port) = if let Some(rest) = endpoint.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("an IPv6 address must be closed by ']'"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| invalid("expected HOST:PORT"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid("not an IPv6 address inside [...]"));
        }
        (host, port)
    } else {
        let (host, port) = endpoint
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected HOST:PORT"))?;
        if host.contains(':') {
            return Err(invalid("write an IPv6 address in brackets: [ADDR]:PORT"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    if host.contains(['/', '@', '?', '#', ' ']) {
        return Err(invalid(
            "the host contains a character not allowed in a host name",
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => {}
        _ => return Err(invalid("the port must be a number from 1 to 65535")),
    }
    Ok(Target {
        host: host.to_owned(),
        authority: endpoint.to_owned(),
    })
}

/// Whether plaintext to `host` stays on this machine: `localhost` or a loopback IP address
/// (127.0.0.0/8, ::1, or ::ffff:127.x.y.z). No name is resolved.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Opens a channel to `--endpoint`: TLS by default (system roots, or only `--ca`), plaintext
/// with `--insecure` to a loopback host. The connection is made eagerly so that an unreachable
/// server is reported here.
pub async fn connect(global: &GlobalArgs) -> Result<Channel, ClientError> {
    let target = parse_endpoint(&global.endpoint)?;
    let scheme = if global.insecure {
        if !is_loopback_host(&target.host) {
            return Err(ClientError::InsecureNotLoopback { host: target.host });
        }
        "http"
    } else {
        "https"
    };
    let connect_error = |source| ClientError::Connect {
        endpoint: global.endpoint.clone(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", target.authority))
        .map_err(connect_error)?
        .connect_timeout(CONNECT_TIMEOUT);
    if !global.insecure {
        let tls = match &global.ca {
            Some(path) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
                std::fs::read(path).map_err(|source| ClientError::ReadFile {
                    path: path.clone(),
                    source,
                })?,
            )),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        endpoint = endpoint.tls_config(tls).map_err(connect_error)?;
    }
    endpoint.connect().await.map_err(connect_error)
}

/// The token to send: `--token`/`SIGNET_TOKEN`, else the default token file if it exists,
/// else none.
pub fn resolve_token(global: &GlobalArgs) -> Result<Option<Token>, ClientError> {
    if let Some(token) = &global.token {
        return Ok(Some(token.clone()));
    }
    read_token_file(Path::new(DEFAULT_TOKEN_FILE))
}

pub(crate) fn read_token_file(path: &Path) -> Result<Option<Token>, ClientError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            if text.is_empty() {
                Err(ClientError::InvalidToken("empty"))
            } else {
                Ok(Some(Token::new(text)))
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::ReadFile {
            path: PathBuf::from(path),
            source,
        }),
    }
}

/// Adds `authorization: Bearer <token>` to every call. The header value is marked sensitive so
/// that it is never printed by tonic or hyper.
#[derive(Clone)]
pub struct Auth {
    header: Option<MetadataValue<Ascii>>,
}

impl Auth {
    pub fn new(token: Option<&Token>) -> Result<Auth, ClientError> {
        let header = match token {
            None => None,
            Some(token) => {
                let mut value =
                    MetadataValue::try_from(format!("Bearer {}", token.expose()).as_str())
                        .map_err(|_| {
                            ClientError::InvalidToken(
                                "not valid in an HTTP header (visible ASCII only)",
                            )
                        })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(Auth { header })
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.header.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Auth>;

/// The service clients the commands use, sharing one channel and one token.
#[derive(Debug, Clone)]
pub struct Clients {
    pub keys: AsymmetricSignatureKeyServiceClient<Authed>,
    pub crypto: AsymmetricSignatureCryptoServiceClient<Authed>,
    pub operations: OperationServiceClient<Authed>,
    /// `yandex.cloud.iam.v1.ServiceAccountService`.
    pub service_accounts: ServiceAccountServiceClient<Authed>,
    /// `yandex.cloud.iam.v1.KeyService`: service accounts' authorized keys.
    pub authorized_keys: KeyServiceClient<Authed>,
    /// `yandex.cloud.iam.v1.IamTokenService`.
    pub iam_tokens: IamTokenServiceClient<Authed>,
    /// `yandex.cloud.resourcemanager.v1.FolderService` (its access-binding RPCs).
    pub folders: FolderServiceClient<Authed>,
}

impl Clients {
    pub fn new(channel: Channel, auth: Auth) -> Clients {
        Clients {
            keys: AsymmetricSignatureKeyServiceClient::with_interceptor(
                channel.clone(),
                auth.clone(),
            ),
            crypto: AsymmetricSignatureCryptoServiceClient::with_interceptor(
                channel.clone(),
                auth.clone(),
            ),
            operations: OperationServiceClient::with_interceptor(channel.clone(), auth.clone()),
            service_accounts: ServiceAccountServiceClient::with_interceptor(
                channel.clone(),
                auth.clone(),
            ),
            authorized_keys: KeyServiceClient::with_interceptor(channel.clone(), auth.clone()),
            iam_tokens: IamTokenServiceClient::with_interceptor(channel.clone(), auth.clone()),
            folders: FolderServiceClient::with_interceptor(channel, auth),
        }
    }
}
